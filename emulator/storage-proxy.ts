// One HTTP proxy in front of Azurite's Blob, Queue and Table endpoints, for the tests and the benchmark.
// The product only sees a different connection string; the proxy sees every storage operation it makes
// (one per HTTP request: retries, ETag conflicts and table batches included, whichever SDK client or
// helper made them) and can:
// - count them: by service, by `METHOD service`, by `comp` (lease, list, …), by resource, by entity id in
//   the path, and the failures;
// - delay them (real Blob Storage has a few ms of latency, in-memory Azurite none);
// - hand each one to a gate before forwarding it, which may hold it (a deterministic scheduler), answer
//   it with an error instead (a fault at operation k), or never forward or answer it (a killed worker).
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type StorageService = 'blob' | 'queue' | 'table';

export interface StorageOperation {
  /** 1-based position among the operations this proxy has seen since its last reset. */
  index: number;
  service: StorageService;
  method: string;
  /** The decoded path after the account: `container/blob…`, `Table(PartitionKey='…',RowKey='…')`, `queue/messages`. */
  resource: string;
  /** The `comp` query parameter (`lease`, `list`, `block`, …), if any. */
  comp?: string;
  /** The request's raw URL (path and query). */
  url: string;
  /** The request body (storage requests are small; content uploads are counted all the same). */
  body: Buffer;
}

/** What a gate decides for one operation. */
export type GateVerdict =
  /** Forward it (the default). */
  | 'forward'
  /** Never forward it and never answer it: the worker that sent it is dead (its requests go nowhere). */
  | 'drop'
  /**
   * Answer with this HTTP status (and storage error code, `InjectedFault` by default) without forwarding:
   * a failure the product sees, nothing reaches storage.
   */
  | { status: number; code?: string }
  /** Forward it, then answer the client with this status instead (applied, but the client sees a failure). */
  | { statusAfter: number };

export type StorageGate = (op: StorageOperation) => GateVerdict | Promise<GateVerdict>;

export interface StorageCounts {
  total: number;
  byService: Record<StorageService, number>;
  /** `METHOD service` → count (e.g. `PUT blob`, `POST table` for inserts and batches). */
  byKind: Record<string, number>;
  /** `service comp` → count, for requests with a `comp` query parameter (`blob lease`: lease operations). */
  byComp: Record<string, number>;
  /** `METHOD resource`, keys cut off (see resourceOf): what a request touched. */
  byOp: Record<string, number>;
  /** Requests whose path names an object id (entity ids are GUIDs), per id. */
  byEntity: Record<string, number>;
  /** Answers with status >= 400, by `{status} {METHOD} {resource}` (412: an ETag-conditional write lost a race). */
  failures: Record<string, number>;
}

export interface StorageProxy {
  /** Azurite's connection string with every endpoint pointing at the proxy. */
  connectionString: string;
  /** The operations seen since the last reset, in arrival order (with `keepLog`, the default). */
  readonly operations: readonly StorageOperation[];
  /** The counts since the last reset, of every service or of one (live: copy them to keep them, see copyStorageCounts). */
  counts(service?: StorageService): StorageCounts;
  reset(): void;
  setLatencyMs(ms: number): void;
  /** Hands every operation from now on to `gate` (undefined: forward everything). */
  setGate(gate: StorageGate | undefined): void;
  /** Called with each forwarded operation's answer status, once the answer has been passed on. */
  onAnswer(listener: ((op: StorageOperation, status: number) => void) | undefined): void;
  close(): Promise<void>;
}

export interface StorageProxyOptions {
  latencyMs?: number;
  gate?: StorageGate;
  /** Keep every operation (with its body) in `operations` (default true; the benchmark only counts). */
  keepLog?: boolean;
  /** Count by entity id (default true; off for a run of many thousands of entities whose counts are copied often). */
  byEntity?: boolean;
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ENDPOINT = /^(BlobEndpoint|QueueEndpoint|TableEndpoint)=(.*)$/i;

export function emptyStorageCounts(): StorageCounts {
  return { total: 0, byService: { blob: 0, queue: 0, table: 0 }, byKind: {}, byComp: {}, byOp: {}, byEntity: {}, failures: {} };
}

/** `a + sign × b`, key by key (keys whose count comes to 0 are left out). */
function combineStorageCounts(a: StorageCounts, b: StorageCounts, sign: 1 | -1): StorageCounts {
  const combine = (x: Record<string, number>, y: Record<string, number>) => {
    const out: Record<string, number> = { ...x };
    for (const [k, v] of Object.entries(y)) {
      out[k] = (out[k] ?? 0) + sign * v;
      if (out[k] === 0) delete out[k];
    }
    return out;
  };
  return {
    total: a.total + sign * b.total,
    byService: {
      blob: a.byService.blob + sign * b.byService.blob,
      queue: a.byService.queue + sign * b.byService.queue,
      table: a.byService.table + sign * b.byService.table,
    },
    byKind: combine(a.byKind, b.byKind),
    byComp: combine(a.byComp, b.byComp),
    byOp: combine(a.byOp, b.byOp),
    byEntity: combine(a.byEntity, b.byEntity),
    failures: combine(a.failures, b.failures),
  };
}

/** `after − before`, for counts taken around a piece of work. */
export function diffStorageCounts(after: StorageCounts, before: StorageCounts): StorageCounts {
  return combineStorageCounts(after, before, -1);
}

/** `a + b`, for stretches of work counted apart. */
export function addStorageCounts(a: StorageCounts, b: StorageCounts): StorageCounts {
  return combineStorageCounts(a, b, 1);
}

export function copyStorageCounts(c: StorageCounts): StorageCounts {
  return diffStorageCounts(c, emptyStorageCounts());
}

/**
 * What a request touched, without its keys: `tExportRuns(key)` for a point operation on one row,
 * `tExportJobs` for a query (or an insert), a queue's name with `/messages`, a blob's container.
 */
export function resourceOf(url: string): string {
  const path = safeDecode(url.split('?')[0] ?? '');
  // Azurite paths carry the account name first.
  const [first = '', second] = path.split('/').filter(Boolean).slice(1);
  const name = first.replace(/\(.*$/, '');
  if (/\(PartitionKey=/i.test(first)) return `${name}(key)`;
  return second === 'messages' ? `${name}/messages` : name;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Starts one proxy for the blob, queue and table endpoints of an Azurite connection string. */
export async function startStorageProxy(connectionString: string, opts: StorageProxyOptions = {}): Promise<StorageProxy> {
  let latencyMs = opts.latencyMs ?? 0;
  let gate = opts.gate;
  let answered: ((op: StorageOperation, status: number) => void) | undefined;
  const keepLog = opts.keepLog ?? true;
  const countEntities = opts.byEntity ?? true;
  // Every count goes to the whole proxy's counts and to its service's.
  let counts = emptyStorageCounts();
  let perService: Record<StorageService, StorageCounts> = {
    blob: emptyStorageCounts(),
    queue: emptyStorageCounts(),
    table: emptyStorageCounts(),
  };
  let operations: StorageOperation[] = [];
  let seen = 0;
  // Idle sockets are dropped well before Azurite's own keep-alive timeout (5 s) closes them.
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });
  const servers: Server[] = [];
  /** Requests a gate dropped: answered (destroyed) only when the proxy closes. */
  const dropped = new Set<ServerResponse>();

  const count = (op: StorageOperation) => {
    const kind = `${op.method} ${op.service}`;
    const comp = op.comp === undefined ? undefined : `${op.service} ${op.comp}`;
    const key = `${op.method} ${resourceOf(op.url)}`;
    const ids = countEntities ? new Set(op.resource.toLowerCase().match(GUID) ?? []) : [];
    for (const c of [counts, perService[op.service]]) {
      c.total++;
      c.byService[op.service]++;
      c.byKind[kind] = (c.byKind[kind] ?? 0) + 1;
      if (comp !== undefined) c.byComp[comp] = (c.byComp[comp] ?? 0) + 1;
      c.byOp[key] = (c.byOp[key] ?? 0) + 1;
      for (const id of ids) c.byEntity[id] = (c.byEntity[id] ?? 0) + 1;
    }
  };
  const fail = (op: StorageOperation, status: number) => {
    const key = `${status} ${op.method} ${resourceOf(op.url)}`;
    for (const c of [counts, perService[op.service]]) c.failures[key] = (c.failures[key] ?? 0) + 1;
  };

  const listen = async (service: StorageService, upstream: URL): Promise<number> => {
    // The body is buffered so a request that met a kept-alive socket the upstream had just closed can be
    // sent again once: the product sent it once and sees one answer.
    const forward = (req: IncomingMessage, res: ServerResponse, op: StorageOperation, statusAfter: number | undefined, retry: boolean) => {
      const up = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
        (upRes) => {
          const status = statusAfter ?? upRes.statusCode ?? 502;
          if (status >= 400) fail(op, status);
          if (statusAfter !== undefined) {
            upRes.resume();
            upRes.on('end', () => {
              writeFault(res, op.service, statusAfter);
              answered?.(op, statusAfter);
            });
            return;
          }
          res.writeHead(status, upRes.rawHeaders);
          upRes.pipe(res);
          upRes.on('end', () => answered?.(op, status));
        },
      );
      up.on('error', (err) => {
        if (retry && !res.headersSent) return forward(req, res, op, statusAfter, false);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`storage proxy: ${err.message}`);
        answered?.(op, 502);
      });
      up.end(op.body);
    };
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '/';
        const parsed = new URL(url, 'http://proxy');
        const comp = parsed.searchParams.get('comp');
        const op: StorageOperation = {
          index: ++seen,
          service,
          method: req.method ?? 'GET',
          resource: safeDecode(parsed.pathname).split('/').slice(2).join('/'),
          ...(comp ? { comp } : {}),
          url,
          body: Buffer.concat(chunks),
        };
        count(op);
        if (keepLog) operations.push(op);
        void (async () => {
          const verdict = gate ? await gate(op) : 'forward';
          if (verdict === 'drop') {
            dropped.add(res);
            return;
          }
          if (typeof verdict === 'object' && 'status' in verdict) {
            fail(op, verdict.status);
            writeFault(res, op.service, verdict.status, verdict.code);
            return;
          }
          const after = typeof verdict === 'object' ? verdict.statusAfter : undefined;
          if (latencyMs > 0) setTimeout(() => forward(req, res, op, after, true), latencyMs);
          else forward(req, res, op, after, true);
        })().catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`storage proxy gate failed: ${err instanceof Error ? err.message : String(err)}`);
        });
      });
    });
    server.keepAliveTimeout = 30_000;
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  };

  const parts: string[] = [];
  let proxied = 0;
  for (const part of connectionString.split(';')) {
    const m = ENDPOINT.exec(part.trim());
    if (!m) {
      parts.push(part);
      continue;
    }
    const url = new URL(m[2] as string);
    const service = (m[1] as string).slice(0, -'Endpoint'.length).toLowerCase() as StorageService;
    const port = await listen(service, new URL(url.toString()));
    url.hostname = '127.0.0.1';
    url.port = String(port);
    proxied++;
    parts.push(`${m[1]}=${url.toString().replace(/\/$/, '')}`);
  }
  if (proxied === 0) throw new Error('the connection string names no endpoints to proxy');

  return {
    connectionString: parts.join(';'),
    get operations() {
      return operations;
    },
    counts: (service) => (service ? perService[service] : counts),
    reset: () => {
      counts = emptyStorageCounts();
      perService = { blob: emptyStorageCounts(), queue: emptyStorageCounts(), table: emptyStorageCounts() };
      operations = [];
      seen = 0;
    },
    setLatencyMs: (ms) => {
      latencyMs = ms;
    },
    setGate: (g) => {
      gate = g;
    },
    onAnswer: (listener) => {
      answered = listener;
    },
    close: async () => {
      for (const res of dropped) res.destroy();
      dropped.clear();
      agent.destroy();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}

/** A storage-style error answer (XML for Blob and Queue, JSON for Table), so the SDKs parse it like a real one. */
function writeFault(res: ServerResponse, service: StorageService, status: number, code = 'InjectedFault'): void {
  const message = `injected by the storage proxy (HTTP ${status})`;
  if (service === 'table') {
    res.writeHead(status, { 'content-type': 'application/json;odata=minimalmetadata', 'x-ms-error-code': code });
    res.end(JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: message } } }));
    return;
  }
  res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code });
  res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}
