// The getAllMessages query: strict `$filter` parsing, a per-query snapshot (stable paging while data
// changes), late visibility, deterministic shuffling, and opaque skiptokens.

import { createRng, hash32, shuffleInPlace, unitHash } from './prng';
import { deletionExpired, retainedVersionsOf, type EntityRef, type Msg, type Tenant, type Version } from './tenant';
import { matchesSenders, parseSenderClauses, splitTopLevel, unwrap, type SenderClause } from './sender-filter';

const INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,7})?Z$/;
const CLAUSE = /^lastModifiedDateTime (gt|lt) (\S+)$/;

/** Parses an instant to (possibly fractional) epoch ms, keeping sub-ms digits so strict bounds stay strict. */
function parseFilterInstant(text: string): number | undefined {
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}Z`);
  if (!Number.isFinite(whole)) return undefined;
  return whole + (m[2] ? Number(`0${m[2]}`) * 1000 : 0);
}

/** Bounds are exclusive: a version qualifies when fromExcl < lastModified < toExcl. */
export interface ExportFilter {
  fromExcl: number;
  toExcl: number;
  /** sender clauses (OR-ed), chat export only */
  senders?: SenderClause[];
}

/** Which versions a query serves: getAllMessages (current) or getAllRetainedMessages (retained). */
export type ExportMode = 'current' | 'retained';

/**
 * Parses the date range, optionally AND-ed with parenthesised sender clauses:
 * `(<senders>) and (lastModifiedDateTime gt A and lastModifiedDateTime lt B)` (either order).
 */
export function parseExportFilterWithSenders(raw: string, allowSenders: boolean): ExportFilter | string {
  const text = unwrap(raw.trim().replace(/\s+/g, ' '));
  const parts = splitTopLevel(text, 'and');
  if (!(parts.length === 2 && parts.every((p) => p.startsWith('(')))) return parseExportFilter(text);
  const [a, b] = parts.map(unwrap) as [string, string];
  const dateFirst = a.startsWith('lastModifiedDateTime');
  const range = parseExportFilter(dateFirst ? a : b);
  if (typeof range === 'string') return range;
  if (!allowSenders)
    return "Invalid $filter query: only a 'lastModifiedDateTime gt <instant> and lastModifiedDateTime lt <instant>' filter is supported on this endpoint";
  const senders = parseSenderClauses(dateFirst ? b : a);
  if (typeof senders === 'string') return senders;
  return { ...range, senders };
}

/** Accepts exactly `lastModifiedDateTime gt A and lastModifiedDateTime lt B` (either order); else an error text. */
export function parseExportFilter(raw: string): ExportFilter | string {
  let text = raw.trim().replace(/\s+/g, ' ');
  if (text.startsWith('(') && text.endsWith(')')) text = text.slice(1, -1).trim();
  const parts = text.split(' and ');
  if (parts.length !== 2)
    return `Invalid $filter query: expected 'lastModifiedDateTime gt <instant> and lastModifiedDateTime lt <instant>'`;
  let fromExcl: number | undefined;
  let toExcl: number | undefined;
  for (const part of parts) {
    const m = CLAUSE.exec(part.trim());
    if (!m) return `Invalid $filter query: unsupported clause '${part.trim()}'`;
    const at = parseFilterInstant(m[2] as string);
    if (at === undefined) return `Invalid $filter query: '${m[2]}' is not an ISO-8601 UTC instant`;
    if (m[1] === 'gt') {
      if (fromExcl !== undefined) return 'Invalid $filter query: duplicate gt clause';
      fromExcl = at;
    } else {
      if (toExcl !== undefined) return 'Invalid $filter query: duplicate lt clause';
      toExcl = at;
    }
  }
  if (fromExcl === undefined || toExcl === undefined) return 'Invalid $filter query: both a gt and an lt bound are required';
  return { fromExcl, toExcl };
}

export interface LateVisibility {
  fraction: number;
  maxDelayMs: number;
}

/** The delay before a version becomes visible (0 for most); deterministic per version. */
export function visibilityDelay(key: string, late: LateVisibility | null): number {
  if (!late || late.fraction <= 0) return 0;
  if (unitHash(key, 0x1234567) >= late.fraction) return 0;
  return Math.floor(unitHash(key, 0x7654321) * (late.maxDelayMs + 1));
}

export interface Snapshot {
  id: number;
  mode: ExportMode;
  entity: EntityRef;
  filter: ExportFilter;
  top: number;
  msgs: Msg[];
  vers: Version[];
}

/** Skiptoken contents: Graph-like `Key=Value#...` text, base64-encoded (opaque to clients). */
export interface SkipState {
  mode: ExportMode;
  offset: number;
  snapshotId: number;
  entity: EntityRef;
  filter: ExportFilter;
  top: number;
}

export function encodeSkipToken(s: SkipState, folder: string): string {
  const senders = s.filter.senders ? `#Senders=${Buffer.from(JSON.stringify(s.filter.senders), 'utf8').toString('base64url')}` : '';
  const mode = s.mode === 'retained' ? '#Retained=1' : '';
  const text = `SkipValue=${s.offset}#Snapshot=${s.snapshotId}#Entity=${s.entity.kind}:${s.entity.id}#From=${s.filter.fromExcl}#To=${s.filter.toExcl}#Top=${s.top}${senders}${mode}#MailboxFolder=${folder}`;
  return Buffer.from(text, 'utf8').toString('base64');
}

export function decodeSkipToken(token: string): SkipState | undefined {
  const text = Buffer.from(token, 'base64').toString('utf8');
  const fields = new Map(
    text.split('#').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1)] as const;
    }),
  );
  const offset = Number(fields.get('SkipValue'));
  const snapshotId = Number(fields.get('Snapshot'));
  const entity = fields.get('Entity') ?? '';
  const sep = entity.indexOf(':');
  const kind = entity.slice(0, sep);
  const fromExcl = Number(fields.get('From'));
  const toExcl = Number(fields.get('To'));
  const top = Number(fields.get('Top'));
  if (![offset, snapshotId, fromExcl, toExcl, top].every(Number.isFinite) || (kind !== 'user' && kind !== 'team' && kind !== 'deletedTeam'))
    return undefined;
  const filter: ExportFilter = { fromExcl, toExcl };
  const senders = fields.get('Senders');
  if (senders !== undefined) {
    try {
      filter.senders = JSON.parse(Buffer.from(senders, 'base64url').toString('utf8')) as SenderClause[];
    } catch {
      return undefined;
    }
  }
  const mode: ExportMode = fields.get('Retained') === '1' ? 'retained' : 'current';
  return { mode, offset, snapshotId, entity: { kind, id: entity.slice(sep + 1) }, filter, top };
}

/** Snapshots of query results, evicted least-recently-used beyond a total entry budget. */
export class SnapshotStore {
  private readonly snapshots = new Map<number, Snapshot>();
  private nextId = 1;
  private entries = 0;

  constructor(
    private readonly maxEntries = 2_000_000,
    private readonly maxSnapshots = 5_000,
  ) {}

  /**
   * Runs the query: for every message of the entity, the newest version visible at `nowMs` (late
   * visibility may hold the newest back), kept if strictly inside the window and not a deletion older
   * than 21 days; then shuffled. In retained mode: every retained version inside the window.
   */
  create(
    tenant: Tenant,
    entity: EntityRef,
    filter: ExportFilter,
    top: number,
    nowMs: number,
    late: LateVisibility | null,
    onHidden: () => void,
    reuseId?: number,
    mode: ExportMode = 'current',
  ): Snapshot {
    const msgs: Msg[] = [];
    const vers: Version[] = [];
    for (const conv of tenant.conversationsOf(entity)) {
      for (const m of conv.messages) {
        if (filter.senders && !matchesSenders(tenant, m, filter.senders)) continue;
        if (mode === 'retained') {
          for (const rv of retainedVersionsOf(m)) {
            if (rv.ms > filter.fromExcl && rv.ms < filter.toExcl) {
              msgs.push(m);
              vers.push(rv);
            }
          }
          continue;
        }
        let v: Version | null = m.v;
        if (late) {
          while (v && v.ms + visibilityDelay(tenant.keyOf(m, v), late) > nowMs) {
            onHidden();
            v = v.prev;
          }
          if (!v) continue;
        }
        if (deletionExpired(v, nowMs)) continue;
        if (v.ms > filter.fromExcl && v.ms < filter.toExcl) {
          msgs.push(m);
          vers.push(v);
        }
      }
    }
    // Graph does not sort export results; a deterministic shuffle keeps tests reproducible
    const order = shuffleInPlace(
      msgs.map((_, i) => i),
      createRng(hash32(`${entity.kind}:${entity.id}|${filter.fromExcl}|${filter.toExcl}`)),
    );
    const snap: Snapshot = {
      id: reuseId ?? this.nextId++,
      mode,
      entity,
      filter,
      top,
      msgs: order.map((i) => msgs[i] as Msg),
      vers: order.map((i) => vers[i] as Version),
    };
    this.put(snap);
    return snap;
  }

  get(id: number): Snapshot | undefined {
    const s = this.snapshots.get(id);
    if (s) {
      // refresh recency: Map iteration order is insertion order
      this.snapshots.delete(id);
      this.snapshots.set(id, s);
    }
    return s;
  }

  private put(s: Snapshot): void {
    const old = this.snapshots.get(s.id);
    if (old) {
      this.entries -= old.msgs.length;
      this.snapshots.delete(s.id);
    }
    this.snapshots.set(s.id, s);
    this.entries += s.msgs.length;
    for (const [id, old] of this.snapshots) {
      if (this.entries <= this.maxEntries && this.snapshots.size <= this.maxSnapshots) break;
      if (id === s.id) continue;
      this.snapshots.delete(id);
      this.entries -= old.msgs.length;
    }
  }
}
