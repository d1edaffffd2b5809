// How far each queued job of a run has got, one row per run and entity: the start of what a backfill
// still has to read and the chunk length it has shrunk to (docs/functions.md §3). Written after every
// committed chunk, so an invocation the host killed (and whose message comes back) resumes from the
// last committed chunk instead of the backfill's `from`. Daily jobs resume from their checkpoints;
// their row only keeps the chunk length.
import type { TableClient } from '@azure/data-tables';
import { encodeIdSegment } from '../archive/blob-layout';
import type { ResumePoint } from '../export/job-budget';
import type { Entity } from '../model/entity';
import { statusOf } from '../model/errors';
import { defined, instantIn, instantOut, numberIn } from './table-values';

/** The progress table of a deployment (beside the tables of state/run-store.ts). */
export function progressTableName(prefix: string): string {
  return `${prefix}JobProgress`;
}

const rowKey = (entity: Entity) => `${entity.kind}_${encodeIdSegment(entity.id)}`;

export class JobProgressStore {
  constructor(private readonly table: TableClient) {}

  async ensure(): Promise<void> {
    try {
      await this.table.createTable();
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  async get(runId: string, entity: Entity): Promise<ResumePoint | undefined> {
    try {
      const row = await this.table.getEntity<Record<string, unknown>>(runId, rowKey(entity));
      const fromMs = instantIn(row.resumeFrom);
      const chunkMs = numberIn(row.chunkMs);
      return { ...(fromMs !== undefined ? { fromMs } : {}), ...(chunkMs !== undefined ? { chunkMs } : {}) };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Records progress. Only the worker holding the entity's lease calls this, and it passes a resume
   * point at or after the one it read, so a plain upsert keeps the point forward-only.
   */
  async put(runId: string, entity: Entity, progress: ResumePoint): Promise<void> {
    await this.table.upsertEntity(
      defined({ partitionKey: runId, rowKey: rowKey(entity), resumeFrom: instantOut(progress.fromMs), chunkMs: progress.chunkMs }) as { partitionKey: string; rowKey: string },
      'Replace',
    );
  }
}
