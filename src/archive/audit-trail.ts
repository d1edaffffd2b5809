// The audit trail (docs/security.md, docs/archive-format.md §11): one record per read of archived content,
// each its own write-once blob `audit/{yyyy}/{mm}/{dd}/{hhmmssSSS}-{id}.json` in the archive's container, so
// the container's immutability policy covers the trail as it covers the archive. Every reader records
// BEFORE it answers and refuses the read when the record cannot be written (AuditWriteError): a read
// nobody can see never happens.
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
  'viewer.copilot',
  'viewer.meetings',
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

/** Thrown when a record could not be written: the read it describes must be refused. */
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

/**
 * Metadata carries the record too (percent-encoded) when it fits, so a reader of the trail gets a day's
 * records from its listings; a longer record (a production naming many users) is read from its body.
 */
const MAX_METADATA_RECORD = 4096;
const RECORD_METADATA = 'record';

/**
 * Writes records, each as a new blob created with If-None-Match: * (write-once, like every archive blob).
 * Why not append to one blob per day: appending to a written blob under an immutability policy needs the
 * policy to allow protected append writes, which a version-level policy does not offer, while a new blob
 * is always allowed; and one blob per record needs no coordination between processes or concurrent reads
 * (docs/archive-format.md §11).
 */
export class AuditTrail {
  constructor(private readonly container: ArchiveContainer) {}

  /** Stores the record, then logs it (`audit` line); throws AuditWriteError (and logs why) when it cannot be stored. */
  async record(record: AuditRecord, log?: Logger): Promise<void> {
    const json = JSON.stringify(record);
    const body = Buffer.from(`${json}\n`, 'utf8');
    const encoded = encodeURIComponent(json);
    try {
      await this.container.getBlockBlobClient(auditBlobName(record.time, record.id)).upload(body, body.length, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json; charset=utf-8' },
        ...(encoded.length <= MAX_METADATA_RECORD ? { metadata: { [RECORD_METADATA]: encoded } } : {}),
      });
    } catch (err) {
      log?.error('audit record could not be written; the read is refused', { ...logFields(record), error: errorText(err) });
      throw new AuditWriteError(err);
    }
    log?.info('audit', logFields(record));
  }
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

function isRecord(value: unknown): value is AuditRecord {
  const r = value as Partial<AuditRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.v === 1 &&
    typeof r.id === 'string' &&
    typeof r.time === 'string' &&
    typeof r.action === 'string' &&
    typeof r.principal === 'object' &&
    r.principal !== null
  );
}

/** The record a blob holds, or why it holds none (a record must sit under the name of its own time and id). */
function parseRecord(name: string, json: string): AuditRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return `${name}: not JSON`;
  }
  if (!isRecord(value)) return `${name}: not an audit record`;
  try {
    if (auditBlobName(value.time, value.id) !== name) return `${name}: the record's time and id do not match its name`;
  } catch {
    return `${name}: the record's time or id is invalid`;
  }
  return value;
}

/**
 * Every record from `fromDay` to `toDay` inclusive (yyyy-mm-dd), in time order (names sort by time
 * within a day), plus every blob under audit/ that is not a record (`unreadable`, with the reason).
 */
export async function* readAuditRecords(
  container: ArchiveContainer,
  fromDay: string,
  toDay: string,
  signal?: AbortSignal,
): AsyncGenerator<{ record: AuditRecord } | { unreadable: string }> {
  const abort = signal ? { abortSignal: signal } : {};
  for (let ms = Date.parse(`${fromDay}T00:00:00Z`); ms <= Date.parse(`${toDay}T00:00:00Z`); ms += 86_400_000) {
    const day = new Date(ms).toISOString().slice(0, 10);
    for await (const item of container.listBlobsFlat({ prefix: auditDayPrefix(day), includeMetadata: true, ...abort })) {
      const meta = item.metadata?.[RECORD_METADATA];
      let json: string;
      if (meta !== undefined) {
        try {
          json = decodeURIComponent(meta);
        } catch {
          yield { unreadable: `${item.name}: metadata is not a record` };
          continue;
        }
      } else {
        try {
          json = (await container.getBlobClient(item.name).downloadToBuffer(0, undefined, abort)).toString('utf8');
        } catch (err) {
          // Listed a moment ago: gone now, which the immutability policy should never allow.
          if (statusOf(err) === 404) {
            yield { unreadable: `${item.name}: listed but not found` };
            continue;
          }
          throw err;
        }
      }
      const parsed = parseRecord(item.name, json.trim());
      yield typeof parsed === 'string' ? { unreadable: parsed } : { record: parsed };
    }
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
  for await (const item of readAuditRecords(container, fromDay, toDay, signal)) {
    if ('unreadable' in item) yield item;
    else if (matchesAudit(item.record, filter)) yield item;
  }
}
