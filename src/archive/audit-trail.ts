// The audit trail (docs/security.md, docs/archive-format.md §11): one JSON line per read of archived
// content, appended to `audit/{yyyy}/{mm}/{dd}/{writer}-{seq}.jsonl` in the archive's own container, so
// the container's immutability policy covers it. Every reader records BEFORE it answers and refuses
// the read when the record cannot be written (AuditWriteError): a read nobody can see never happens.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log';
import { errorText, statusOf } from '../model/errors';
import type { ArchiveContainer } from './archive-container';
import { entityLabel } from '../model/entity';
import { auditBlobName, auditDayPrefix, parseBatchBlobName, PRODUCTIONS_PREFIX } from './blob-layout';

/** Who read: a signed-in Entra user or app, a function-key holder (no identity), or the OS user running the CLI. */
export type AuditPrincipal =
  { kind: 'entra'; id: string; name?: string } | { kind: 'function-key' } | { kind: 'os-user'; name: string; host: string };

export const AUDIT_ACTIONS = [
  'viewer.home',
  'viewer.entity',
  'viewer.search',
  'viewer.day',
  'viewer.raw',
  'viewer.batch',
  'viewer.content',
  'export.list',
  'export.read',
  'production.create',
  'production.download',
  'cli.ls',
  'cli.cat',
  'cli.html',
  'cli.rsmf',
  'audit.read',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What was read: the action and whichever of entity, conversation, day, range, blob and query apply. */
export interface AuditEvent {
  action: AuditAction;
  /** `user:{id}`, `team:{id}` (entityLabel), for a read of one entity's messages. */
  entity?: string;
  conversation?: string;
  day?: string;
  /** A range of UTC days (viewer pages) or instants (productions, `html`, `rsmf`, the trail itself). */
  from?: string;
  to?: string;
  /** The blob read (a batch, stored content, a production file), or the prefix listed. */
  blob?: string;
  prefix?: string;
  /** The line of a batch (the viewer's raw-line view). */
  line?: number;
  /** The words searched for (viewer search), or the filters of a read of the trail. */
  query?: string;
  /** A selection of several entities or conversations (productions, `html`, `rsmf`); `all` for the whole archive. */
  entities?: string[];
  conversations?: string[];
  productionId?: string;
}

/** Where the read came in: an HTTP function (API or hosted viewer), `teams-export serve`, another CLI command. */
export type AuditVia = 'http' | 'serve' | 'cli';

export interface AuditRecord extends AuditEvent {
  v: 1;
  /** Unique per record. */
  id: string;
  /** When the read was answered (ISO-8601 UTC, milliseconds). */
  time: string;
  principal: AuditPrincipal;
  via: AuditVia;
  /** The Functions invocation id (also in Application Insights), or a random id per CLI command or `serve` request. */
  requestId: string;
  /** The caller's address as the Azure front end reports it (`client-ip`, else `x-forwarded-for`). */
  client?: string;
}

/** Thrown when a record could not be appended: the read it describes must be refused. */
export class AuditWriteError extends Error {
  constructor(cause: unknown) {
    super(`the read could not be recorded in the audit trail, so it was refused: ${errorText(cause)}`, { cause });
    this.name = 'AuditWriteError';
  }
}

/** Longest string kept in a record: ids, names and blob names fit many times over; a pasted essay does not. */
const MAX_TEXT = 2048;

function capped<T>(value: T): T {
  if (typeof value === 'string') return (value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}…` : value) as T;
  if (Array.isArray(value)) return value.map(capped) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, capped(v)])) as T;
  return value;
}

/** The event of reading one blob: its entity and day when it is a message batch, its production when it is one's file. */
export function blobReadEvent(action: AuditAction, blob: string): AuditEvent {
  const batch = parseBatchBlobName(blob);
  const productionId = blob.startsWith(PRODUCTIONS_PREFIX) ? blob.split('/')[1] : undefined;
  return {
    action,
    blob,
    ...(batch ? { entity: entityLabel(batch.entity), day: batch.day } : {}),
    ...(productionId ? { productionId } : {}),
  };
}

/** A selection as record entities: `user:{id}`, `team:{id}`, or `all` when none is named (the whole archive). */
export function selectedEntities(users: readonly string[], teams: readonly string[]): string[] {
  const named = [...users.map((id) => `user:${id}`), ...teams.map((id) => `team:${id}`)];
  return named.length > 0 ? named : ['all'];
}

/** A new record: `principal`, `via`, request id and client from the caller, the rest from the event. */
export function auditRecord(
  who: { principal: AuditPrincipal; via: AuditVia; requestId: string; client?: string | undefined },
  event: AuditEvent,
  nowMs: number,
): AuditRecord {
  const record: AuditRecord = {
    v: 1,
    id: randomBytes(12).toString('hex'),
    time: new Date(nowMs).toISOString(),
    principal: who.principal,
    via: who.via,
    requestId: who.requestId,
    ...(who.client ? { client: who.client } : {}),
    ...event,
  };
  return capped(record);
}

/** An append blob holds at most 50,000 blocks (one per record): a writer moves on to its next blob well before. */
export const AUDIT_BLOCKS_PER_BLOB = 40_000;

interface DayBlob {
  day: string;
  seq: number;
  name: string;
  /** Created (or found) once; a failed creation is forgotten so the next record tries again. */
  ready: Promise<void>;
  blocks: number;
}

/** The block-count error of an append blob that is full. */
const isFull = (err: unknown) => (err as { code?: string } | null)?.code === 'BlockCountExceedsLimit';

/**
 * Appends records for one writer (a process): one append blob per UTC day, created on that day's first
 * record, the next sequence number once it nears the block limit. Appends from concurrent reads go to
 * the same blob; each Append Block is atomic, so lines never interleave.
 */
export class AuditTrail {
  readonly writer: string;
  private readonly blobs = new Map<string, DayBlob>();
  private readonly blocksPerBlob: number;

  /** `kind`: `app` for a Functions process, `cli` for one command; a start time and random suffix make the writer unique. */
  constructor(
    private readonly container: ArchiveContainer,
    kind: 'app' | 'cli',
    opts: { nowMs?: number; blocksPerBlob?: number } = {},
  ) {
    const stamp = new Date(opts.nowMs ?? Date.now()).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    this.writer = `${kind}-${stamp}-${randomBytes(4).toString('hex')}`;
    this.blocksPerBlob = opts.blocksPerBlob ?? AUDIT_BLOCKS_PER_BLOB;
  }

  /** Appends the record, then logs it (`audit` line); throws AuditWriteError (and logs why) when it cannot be stored. */
  async record(record: AuditRecord, log?: Logger): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    const day = record.time.slice(0, 10);
    try {
      try {
        await this.append(this.target(day), line);
      } catch (err) {
        if (!isFull(err)) throw err;
        // Another writer cannot share this blob, so only a miscount gets here: move on and try once more.
        await this.append(this.target(day, true), line);
      }
    } catch (err) {
      log?.error('audit record could not be written; the read is refused', { ...logFields(record), error: errorText(err) });
      throw new AuditWriteError(err);
    }
    log?.info('audit', logFields(record));
  }

  private target(day: string, full = false): DayBlob {
    let blob = this.blobs.get(day);
    if (!blob || full || blob.blocks >= this.blocksPerBlob) {
      const seq = blob ? blob.seq + 1 : 0;
      const name = auditBlobName(day, this.writer, seq);
      const client = this.container.getAppendBlobClient(name);
      const created: DayBlob = {
        day,
        seq,
        name,
        blocks: 0,
        ready: client
          .createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson; charset=utf-8' } })
          .then(() => undefined),
      };
      created.ready.catch(() => {
        if (this.blobs.get(day) === created) this.blobs.delete(day);
      });
      blob = created;
      this.blobs.set(day, blob);
      // A process keeps at most the current and the previous day (records straddling midnight).
      for (const d of this.blobs.keys()) if (d < day && d !== previousDay(day)) this.blobs.delete(d);
    }
    return blob;
  }

  private async append(blob: DayBlob, line: Buffer): Promise<void> {
    await blob.ready;
    const res = await this.container.getAppendBlobClient(blob.name).appendBlock(line, line.length);
    blob.blocks = Math.max(blob.blocks + 1, res.blobCommittedBlockCount ?? 0);
  }
}

function previousDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** The record as the fields of one log line (flat, so a KQL `extract` finds each: docs/security.md). */
function logFields(r: AuditRecord): Record<string, unknown> {
  const { principal, v: _v, ...rest } = r;
  return {
    ...rest,
    principalKind: principal.kind,
    ...(principal.kind === 'entra' ? { principalId: principal.id, ...(principal.name ? { principalName: principal.name } : {}) } : {}),
    ...(principal.kind === 'os-user' ? { principalName: principal.name, principalHost: principal.host } : {}),
  };
}

/** One UTC day of the trail: its records in time order, and the lines that are not records (blob:line). */
export interface AuditDay {
  day: string;
  records: AuditRecord[];
  unreadable: string[];
}

function isRecord(value: unknown): value is AuditRecord {
  const r = value as Partial<AuditRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.v === 1 &&
    typeof r.time === 'string' &&
    typeof r.action === 'string' &&
    typeof r.principal === 'object' &&
    r.principal !== null
  );
}

/** Reads the trail one UTC day at a time, from `fromDay` to `toDay` inclusive (yyyy-mm-dd). */
export async function* readAuditDays(
  container: ArchiveContainer,
  fromDay: string,
  toDay: string,
  signal?: AbortSignal,
): AsyncGenerator<AuditDay> {
  const abort = signal ? { abortSignal: signal } : {};
  for (let ms = Date.parse(`${fromDay}T00:00:00Z`); ms <= Date.parse(`${toDay}T00:00:00Z`); ms += 86_400_000) {
    const day = new Date(ms).toISOString().slice(0, 10);
    const records: AuditRecord[] = [];
    const unreadable: string[] = [];
    for await (const item of container.listBlobsFlat({ prefix: auditDayPrefix(day), ...abort })) {
      let text: string;
      try {
        text = (await container.getBlobClient(item.name).downloadToBuffer(0, undefined, abort)).toString('utf8');
      } catch (err) {
        // Listed a moment ago: a 404 means it is gone, which the immutability policy should never allow.
        if (statusOf(err) === 404) {
          unreadable.push(`${item.name}: listed but not found`);
          continue;
        }
        throw err;
      }
      text.split('\n').forEach((line, i) => {
        if (line.trim() === '') return;
        try {
          const value: unknown = JSON.parse(line);
          if (isRecord(value)) records.push(value);
          else unreadable.push(`${item.name}:${i + 1}`);
        } catch {
          unreadable.push(`${item.name}:${i + 1}`);
        }
      });
    }
    records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    yield { day, records, unreadable };
  }
}

/** Which records a reader of the trail wants: a time range [fromMs, toMs) and optional principal and entity. */
export interface AuditFilter {
  fromMs: number;
  toMs: number;
  /** An Entra object id, or a name (UPN, OS user), compared case-insensitively. */
  principal?: string;
  /** `user:{id}`, `team:{id}`, or a bare id matching either. */
  entity?: string;
}

export function matchesAudit(record: AuditRecord, f: AuditFilter): boolean {
  const t = Date.parse(record.time);
  if (!(t >= f.fromMs && t < f.toMs)) return false;
  if (f.principal !== undefined) {
    const want = f.principal.toLowerCase();
    const p = record.principal as { id?: string; name?: string };
    if (p.id?.toLowerCase() !== want && p.name?.toLowerCase() !== want) return false;
  }
  if (f.entity !== undefined) {
    const want = f.entity.toLowerCase();
    const labels = [record.entity, ...(record.entities ?? [])]
      .filter((e): e is string => typeof e === 'string')
      .map((e) => e.toLowerCase());
    if (!labels.some((l) => l === want || l.slice(l.indexOf(':') + 1) === want)) return false;
  }
  return true;
}

/** The records matching `filter`, oldest first, plus every line that is not a record. */
export async function* readAuditTrail(
  container: ArchiveContainer,
  filter: AuditFilter,
  signal?: AbortSignal,
): AsyncGenerator<{ record: AuditRecord } | { unreadable: string }> {
  const fromDay = new Date(filter.fromMs).toISOString().slice(0, 10);
  const toDay = new Date(Math.max(filter.fromMs, filter.toMs - 1)).toISOString().slice(0, 10);
  for await (const day of readAuditDays(container, fromDay, toDay, signal)) {
    for (const u of day.unreadable) yield { unreadable: u };
    for (const record of day.records) if (matchesAudit(record, filter)) yield { record };
  }
}
