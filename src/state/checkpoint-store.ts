// Per-entity checkpoints in Table Storage: the fresh and settled watermarks, which only ever move
// forward (ETag-checked), and the last job result for status output (docs/design.md §7).
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { encodeIdSegment } from '../archive/blob-layout';
import type { Entity, EntityKind } from '../model/entity';
import { systemClock, type Clock } from '../time';
import { backoff, bounded, defined, instantIn, instantOut, numberIn, stringIn } from './table-values';
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
  }) as Checkpoint;
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

export class CheckpointStore {
  constructor(
    private readonly table: TableClient,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Creates the table if it does not exist. */
  async ensure(): Promise<void> {
    try {
      await this.table.createTable();
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
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
    return hasWatermarks(live) ? live : own;
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
  ): Promise<Checkpoint> {
    for (const v of [to.freshWatermarkMs, to.settledWatermarkMs]) {
      if (v !== undefined && !Number.isFinite(v)) throw new RangeError(`invalid watermark ${v}`);
    }
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.read(entity);
      const nowMs = this.clock.now();
      if (!row) {
        const created: Checkpoint = defined({
          entity: { ...entity },
          freshWatermarkMs: to.freshWatermarkMs,
          settledWatermarkMs: to.settledWatermarkMs,
          totalMessages: addMessages,
          updatedAtMs: nowMs,
        }) as Checkpoint;
        try {
          await this.table.createEntity<CheckpointRow>(
            defined({
              ...keys(entity),
              kind: entity.kind,
              id: entity.id,
              displayName: entity.displayName,
              freshWatermark: instantOut(to.freshWatermarkMs),
              settledWatermark: instantOut(to.settledWatermarkMs),
              totalMessages: addMessages,
              updatedAt: instantOut(nowMs),
            }),
          );
          return created;
        } catch (err) {
          if (statusOf(err) !== 409) throw err;
          continue; // someone created it first: merge into theirs
        }
      }
      const current = fromRow(row);
      const fresh = maxDefined(current.freshWatermarkMs, to.freshWatermarkMs);
      const settled = maxDefined(current.settledWatermarkMs, to.settledWatermarkMs);
      if (fresh === current.freshWatermarkMs && settled === current.settledWatermarkMs && addMessages === 0) return current;
      const next: Checkpoint = defined({
        ...current,
        freshWatermarkMs: fresh,
        settledWatermarkMs: settled,
        totalMessages: current.totalMessages + addMessages,
        updatedAtMs: nowMs,
      }) as Checkpoint;
      try {
        await this.table.updateEntity<CheckpointRow>(
          defined({
            ...keys(entity),
            freshWatermark: instantOut(fresh),
            settledWatermark: instantOut(settled),
            totalMessages: next.totalMessages,
            updatedAt: instantOut(nowMs),
          }),
          'Merge',
          { etag: row.etag },
        );
        return next;
      } catch (err) {
        if (statusOf(err) !== 412) throw err;
        await backoff(attempt);
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
        lastRunId: r.runId,
        lastStatus: bounded(r.status, 100),
        // Empty strings (read back as undefined) clear a previous run's error.
        lastErrorCode: r.errorCode === undefined ? '' : bounded(r.errorCode, 200),
        lastError: r.error === undefined ? '' : bounded(r.error),
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
