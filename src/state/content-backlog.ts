// The content stage's durable to-do list (docs/design.md §17): one row per archived batch whose
// versions refer to content (pictures, files) not yet settled, written BEFORE the batch, so a crash
// anywhere after the batch write forgets nothing; and, once a batch's content map is written, one row
// of its per-status counts under the run that wrote the batch, for the run's report.
//
// Pending rows share one partition: the backlog is what is still to fetch (it drains), so listing it
// costs what it holds, not the archive's history. Done rows are partitioned by run id: a report reads
// one partition.
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Entity, EntityKind } from '../model/entity';
import { statusOf } from '../model/errors';
import { bounded, countsIn, defined, ensureTable, instantIn, instantOut, numberIn, stringIn } from './table-values';

/** The backlog's table of a deployment (beside the checkpoints, runs and jobs tables). */
export function contentBacklogTableName(prefix: string): string {
  return `${prefix}Content`;
}

const PENDING = 'pending';

/** One batch whose content is still to fetch. */
export interface ContentObligation {
  /** The batch's blob name; its content map is `contentMapName(batch)`. */
  batch: string;
  /** The run whose job wrote the batch: its report counts the outcome. */
  runId: string;
  entity: { kind: EntityKind; id: string };
  /** Versions of the batch that refer to content (what the report shows as pending). */
  versions: number;
  /** Fetch attempts that ended with references still retryable. */
  attempts: number;
  createdMs: number;
  /** Not to be taken before this instant (a retry's backoff, or the claim of a queued message). */
  dueMs: number;
  /** Why the last attempt did not finish, for `status` and `verify`. */
  lastReason?: string;
  /** The row's ETag when read: claims and retries are conditional on it. */
  etag?: string;
}

/** What one run's batches came to: references by final status, and what is still pending. */
export interface ContentTally {
  /** References by status (`stored`, `missing`, …) from the content maps written so far. */
  statuses: Record<string, number>;
  pendingBatches: number;
  pendingVersions: number;
}

/** The whole backlog, for `status`. */
export interface BacklogSummary {
  batches: number;
  versions: number;
  oldestMs?: number;
  /** Batches whose last attempt left references to retry. */
  retrying: number;
}

/** The row key of a batch: blob names hold characters a row key may not ('/'). */
export function batchKey(batch: string): string {
  return createHash('sha256').update(batch).digest('hex').slice(0, 40);
}

export class ContentBacklog {
  constructor(private readonly table: TableClient) {}

  ensure(): Promise<void> {
    return ensureTable(this.table);
  }

  /**
   * Records a batch before it is written. A row already there is the same batch's (sender mode's
   * per-chat versions are named by the version, so two members' jobs may record one batch): kept.
   */
  async record(o: Omit<ContentObligation, 'attempts' | 'etag' | 'lastReason'>, signal?: AbortSignal): Promise<void> {
    try {
      await this.table.createEntity(
        defined({
          partitionKey: PENDING,
          rowKey: batchKey(o.batch),
          batch: o.batch,
          runId: o.runId,
          entityKind: o.entity.kind,
          entityId: o.entity.id,
          versions: o.versions,
          attempts: 0,
          created: instantOut(o.createdMs),
          due: instantOut(o.dueMs),
        }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  /** The pending row of a batch, or undefined when its content is settled (or it was never recorded). */
  async get(batch: string, signal?: AbortSignal): Promise<ContentObligation | undefined> {
    try {
      const row = await this.table.getEntity<Record<string, unknown>>(PENDING, batchKey(batch), signal ? { abortSignal: signal } : {});
      return obligationOf(row);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Every pending row (the backlog drains, so this is what is left to do, not the archive's history). */
  async *pending(signal?: AbortSignal): AsyncGenerator<ContentObligation> {
    const rows = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${PENDING}'` },
      ...(signal ? { abortSignal: signal } : {}),
    });
    for await (const row of rows) {
      const o = obligationOf(row);
      if (o) yield o;
    }
  }

  /**
   * Moves a row's due time, conditional on the ETag it was read with: false when another worker
   * changed or settled it meanwhile (it is theirs now). Used to claim a row (a message sent for it) and
   * to schedule a retry.
   */
  async reschedule(
    o: ContentObligation,
    change: { dueMs: number; attempts?: number; lastReason?: string },
    signal?: AbortSignal,
  ): Promise<boolean> {
    try {
      await this.table.updateEntity(
        defined({
          partitionKey: PENDING,
          rowKey: batchKey(o.batch),
          due: instantOut(change.dueMs),
          attempts: change.attempts,
          lastReason: change.lastReason === undefined ? undefined : bounded(change.lastReason, 1000),
        }),
        'Merge',
        { etag: o.etag ?? '*', ...(signal ? { abortSignal: signal } : {}) },
      );
      return true;
    } catch (err) {
      const status = statusOf(err);
      if (status === 412 || status === 404) return false;
      throw err;
    }
  }

  /**
   * The batch's content map is written: its counts go on the run's done row (an upsert, so doing this
   * twice after a crash counts it once), then the pending row goes.
   */
  async settle(o: ContentObligation, statuses: Record<string, number>, signal?: AbortSignal): Promise<void> {
    const abort = signal ? { abortSignal: signal } : {};
    await this.table.upsertEntity(
      { partitionKey: o.runId, rowKey: batchKey(o.batch), batch: o.batch, statuses: JSON.stringify(statuses) },
      'Replace',
      abort,
    );
    await this.drop(o, signal);
  }

  /** Removes the pending row without counts (a batch that was never written). */
  async drop(o: ContentObligation, signal?: AbortSignal): Promise<void> {
    try {
      await this.table.deleteEntity(PENDING, batchKey(o.batch), signal ? { abortSignal: signal } : {});
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /** A run's content: the counts of its settled batches and what is still pending. */
  async tally(runId: string, signal?: AbortSignal): Promise<ContentTally> {
    const abort = signal ? { abortSignal: signal } : {};
    const tally: ContentTally = { statuses: {}, pendingBatches: 0, pendingVersions: 0 };
    for await (const row of this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${runId.replace(/'/g, "''")}'` },
      ...abort,
    })) {
      for (const [status, n] of Object.entries(countsIn(row.statuses) ?? {})) tally.statuses[status] = (tally.statuses[status] ?? 0) + n;
    }
    for await (const row of this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${PENDING}' and runId eq '${runId.replace(/'/g, "''")}'` },
      ...abort,
    })) {
      tally.pendingBatches++;
      tally.pendingVersions += numberIn(row.versions) ?? 0;
    }
    return tally;
  }

  async summary(signal?: AbortSignal): Promise<BacklogSummary> {
    const s: BacklogSummary = { batches: 0, versions: 0, retrying: 0 };
    for await (const o of this.pending(signal)) {
      s.batches++;
      s.versions += o.versions;
      if (o.attempts > 0) s.retrying++;
      if (s.oldestMs === undefined || o.createdMs < s.oldestMs) s.oldestMs = o.createdMs;
    }
    return s;
  }
}

function obligationOf(row: Record<string, unknown>): ContentObligation | undefined {
  const batch = stringIn(row.batch);
  const runId = stringIn(row.runId);
  const kind = stringIn(row.entityKind) as EntityKind | undefined;
  const id = stringIn(row.entityId);
  const createdMs = instantIn(row.created);
  if (!batch || !runId || !kind || !id || createdMs === undefined) return undefined;
  const reason = stringIn(row.lastReason);
  const etag = stringIn(row.etag);
  return {
    batch,
    runId,
    entity: { kind, id } satisfies Entity,
    versions: numberIn(row.versions) ?? 0,
    attempts: numberIn(row.attempts) ?? 0,
    createdMs,
    dueMs: instantIn(row.due) ?? createdMs,
    ...(reason ? { lastReason: reason } : {}),
    ...(etag ? { etag } : {}),
  };
}
