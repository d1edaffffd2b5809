// Per-entity checkpoints in Table Storage: the fresh and settled watermarks, which only ever move
// forward (ETag-checked), and the last job result for status output (docs/design.md §7).
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { encodeIdSegment } from '../archive/blob-layout';
import type { Entity, EntityKind } from '../model/entity';
import { systemClock, type Clock } from '../time';
import {
  backoff,
  bounded,
  defined,
  instantIn,
  instantOut,
  joinProperty,
  numberIn,
  splitProperty,
  stringIn,
  ensureTable,
} from './table-values';
import { statusOf } from '../model/errors';

/** True when the checkpoint records progress (a watermark), not only the outcome of a run. */
export function hasWatermarks(c: Checkpoint | undefined): boolean {
  return c?.freshWatermarkMs !== undefined || c?.settledWatermarkMs !== undefined;
}

export interface Checkpoint {
  entity: Entity;
  freshWatermarkMs?: number;
  settledWatermarkMs?: number;
  lastRunId?: string;
  lastStatus?: string;
  lastErrorCode?: string;
  lastError?: string;
  totalMessages: number;
  updatedAtMs?: number;
  /** An unfinished window read (export/open-read.ts's stored form; opaque here). */
  readState?: string;
  /** The row's ETag when read: a write with it costs one operation instead of a read and a write. */
  etag?: string;
}

/** What advance() changes besides the watermarks. */
export interface AdvanceOptions {
  /** The row as the caller last read or wrote it (with its ETag); on a conflict the row is re-read. */
  known?: Checkpoint | undefined;
  /** The caller read no row (a first export): the first attempt creates it without reading again. */
  knownAbsent?: boolean | undefined;
  /** Records an unfinished read (string) or clears it (null); undefined leaves it. */
  readState?: string | null | undefined;
  /** A job's final write also records its result (as recordResult does), saving a write per job. */
  result?: { runId: string; status: string } | undefined;
}

/** The stored row: PartitionKey = entity kind, RowKey = encoded id, instants as ISO strings. */
interface CheckpointRow {
  partitionKey: string;
  rowKey: string;
  kind?: string | undefined;
  id?: string | undefined;
  displayName?: string | undefined;
  freshWatermark?: string | undefined;
  settledWatermark?: string | undefined;
  lastRunId?: string | undefined;
  lastStatus?: string | undefined;
  lastErrorCode?: string | undefined;
  lastError?: string | undefined;
  totalMessages?: number | undefined;
  updatedAt?: string | undefined;
  readState?: string | undefined;
}

/** Optimistic-concurrency attempts before advance() gives up (each conflict means someone else moved on). */
const MAX_ATTEMPTS = 50;

function keys(entity: Entity): { partitionKey: string; rowKey: string } {
  return { partitionKey: entity.kind, rowKey: encodeIdSegment(entity.id) };
}

function fromRow(row: TableEntityResult<Record<string, unknown>>): Checkpoint {
  const kind = (stringIn(row.kind) ?? row.partitionKey) as EntityKind;
  const id = stringIn(row.id) ?? '';
  const displayName = stringIn(row.displayName);
  return defined({
    entity: { kind, id, ...(displayName ? { displayName } : {}) },
    freshWatermarkMs: instantIn(row.freshWatermark),
    settledWatermarkMs: instantIn(row.settledWatermark),
    lastRunId: stringIn(row.lastRunId),
    lastStatus: stringIn(row.lastStatus),
    lastErrorCode: stringIn(row.lastErrorCode),
    lastError: stringIn(row.lastError),
    totalMessages: numberIn(row.totalMessages) ?? 0,
    updatedAtMs: instantIn(row.updatedAt),
    readState: joinProperty(row, 'readState'),
    etag: stringIn(row.etag),
  }) as Checkpoint;
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

/** The result columns of a row. Empty strings (read back as undefined) clear a previous run's error. */
function resultProperties(r: { runId: string; status: string; errorCode?: string; error?: string }): Partial<CheckpointRow> {
  return {
    lastRunId: r.runId,
    lastStatus: bounded(r.status, 100),
    lastErrorCode: r.errorCode === undefined ? '' : bounded(r.errorCode, 200),
    lastError: r.error === undefined ? '' : bounded(r.error),
  };
}

export class CheckpointStore {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Creates the table if it does not exist. */
  async ensure(): Promise<void> {
    await ensureTable(this.table);
  }

  private async read(entity: Entity): Promise<TableEntityResult<Record<string, unknown>> | undefined> {
    const { partitionKey, rowKey } = keys(entity);
    try {
      return await this.table.getEntity<Record<string, unknown>>(partitionKey, rowKey);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async get(entity: Entity): Promise<Checkpoint | undefined> {
    const row = await this.read(entity);
    return row ? fromRow(row) : undefined;
  }

  /**
   * The checkpoint a daily job plans from. A deleted team continues from where its live team's export
   * stopped until it has watermarks of its own: a row that only records a result (a skipped or failed
   * first attempt writes one) is no progress, and must not send the team back to EXPORT_START.
   */
  async getForPlanning(entity: Entity): Promise<Checkpoint | undefined> {
    const own = await this.get(entity);
    if (entity.kind !== 'deletedTeam' || hasWatermarks(own)) return own;
    const live = await this.get({ ...entity, kind: 'team' });
    if (!hasWatermarks(live)) return own;
    // The live team's watermarks, but not its ETag or unfinished read: those belong to the other row.
    const { etag: _etag, readState: _read, ...rest } = live!;
    return rest;
  }

  /**
   * Moves the watermarks forward to `to` (each becomes max(stored, given); a watermark never moves
   * back) and adds `addMessages` to the total. Concurrent writers are serialised by ETag: on a
   * conflict the row is re-read and the maximum recomputed. Call only after the data is durable.
   */
  async advance(
    entity: Entity,
    to: { freshWatermarkMs?: number | undefined; settledWatermarkMs?: number | undefined },
    addMessages = 0,
    opts: AdvanceOptions = {},
  ): Promise<Checkpoint> {
    for (const v of [to.freshWatermarkMs, to.settledWatermarkMs]) {
      if (v !== undefined && !Number.isFinite(v)) throw new RangeError(`invalid watermark ${v}`);
    }
    // With the caller's ETag and values the first attempt is a single write (an idle entity's job costs
    // one read and one write in all, docs/design.md §4); a conflict falls back to read, merge, write.
    let known = opts.known?.etag !== undefined ? opts.known : undefined;
    let absent = known === undefined && opts.knownAbsent === true;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = known || absent ? undefined : await this.read(entity);
      absent = false;
      const current: Checkpoint | undefined = known ?? (row ? fromRow(row) : undefined);
      known = undefined;
      const nowMs = this.clock.now();
      const readState = opts.readState === null ? '' : opts.readState;
      if (!current) {
        const created: Checkpoint = defined({
          entity: { ...entity },
          freshWatermarkMs: to.freshWatermarkMs,
          settledWatermarkMs: to.settledWatermarkMs,
          totalMessages: addMessages,
          updatedAtMs: nowMs,
          readState: readState || undefined,
        }) as Checkpoint;
        try {
          const res = await this.table.createEntity<CheckpointRow>(
            defined({
              ...keys(entity),
              kind: entity.kind,
              id: entity.id,
              displayName: entity.displayName,
              freshWatermark: instantOut(to.freshWatermarkMs),
              settledWatermark: instantOut(to.settledWatermarkMs),
              totalMessages: addMessages,
              updatedAt: instantOut(nowMs),
              ...(readState ? splitProperty('readState', readState) : {}),
              ...(opts.result ? resultProperties(opts.result) : {}),
            }),
          );
          return defined({ ...created, etag: res.etag }) as Checkpoint;
        } catch (err) {
          if (statusOf(err) !== 409) throw err;
          continue; // someone created it first: merge into theirs
        }
      }
      const fresh = maxDefined(current.freshWatermarkMs, to.freshWatermarkMs);
      const settled = maxDefined(current.settledWatermarkMs, to.settledWatermarkMs);
      const unchanged =
        fresh === current.freshWatermarkMs &&
        settled === current.settledWatermarkMs &&
        addMessages === 0 &&
        opts.result === undefined &&
        (readState === undefined || readState === (current.readState ?? ''));
      if (unchanged) return current;
      try {
        const res = await this.table.updateEntity<CheckpointRow>(
          defined({
            ...keys(entity),
            freshWatermark: instantOut(fresh),
            settledWatermark: instantOut(settled),
            totalMessages: current.totalMessages + addMessages,
            updatedAt: instantOut(nowMs),
            ...(readState !== undefined ? splitProperty('readState', readState) : {}),
            ...(opts.result ? resultProperties(opts.result) : {}),
          }),
          'Merge',
          { etag: current.etag ?? '*' },
        );
        return defined({
          ...current,
          freshWatermarkMs: fresh,
          settledWatermarkMs: settled,
          totalMessages: current.totalMessages + addMessages,
          updatedAtMs: nowMs,
          readState: readState === undefined ? current.readState : readState || undefined,
          etag: res.etag,
        }) as Checkpoint;
      } catch (err) {
        // 412: someone wrote the row since it was read (or the caller's copy was stale); 404: the row the
        // caller knew is gone. Either way: read it again and merge.
        if (statusOf(err) !== 412 && statusOf(err) !== 404) throw err;
        if (statusOf(err) === 412) await backoff(attempt);
      }
    }
    throw new Error(`checkpoint for ${entity.kind} ${entity.id} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
  }

  /** Records the last job result; never touches the watermarks. A result without error clears the old one. */
  async recordResult(entity: Entity, r: { runId: string; status: string; errorCode?: string; error?: string }): Promise<void> {
    // Merge-upsert: only these properties are written, so a concurrent advance() is not undone.
    await this.table.upsertEntity<CheckpointRow>(
      defined({
        ...keys(entity),
        kind: entity.kind,
        id: entity.id,
        displayName: entity.displayName,
        ...resultProperties(r),
        updatedAt: instantOut(this.clock.now()),
      }),
      'Merge',
    );
  }

  /** Every checkpoint row (all users, then all teams). */
  async *list(signal?: AbortSignal): AsyncGenerator<Checkpoint> {
    const rows = this.table.listEntities<Record<string, unknown>>(signal ? { abortSignal: signal } : {});
    for await (const row of rows) yield fromRow(row);
  }
}
