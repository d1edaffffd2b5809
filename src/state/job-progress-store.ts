// How far each queued backfill job of a run has got, one row per run and entity: the start of what it
// still has to read and where its unfinished window read stands (docs/functions.md §3). Written after
// every committed window and whenever a long read records progress, so an invocation the host killed
// (and whose message comes back) resumes from what it committed instead of the backfill's `from`.
// Daily jobs keep the same state on their checkpoint row.
import type { TableClient } from '@azure/data-tables';
import { encodeIdSegment } from '../archive/blob-layout';
import type { Entity } from '../model/entity';
import { statusOf } from '../model/errors';
import { defined, instantIn, instantOut, joinProperty, numberIn, splitProperty, ensureTable } from './table-values';

/** The progress table of a deployment (beside the tables of state/run-store.ts). */
export function progressTableName(prefix: string): string {
  return `${prefix}JobProgress`;
}

/** Where a backfill job resumes: the start of what is left, and the state of its unfinished read (opaque here). */
export interface RecordedProgress {
  fromMs?: number;
  readState?: string;
}

/** A job's row; a sender-mode follow-up of the same user keeps its own progress beside it (`cover_…`). */
const rowKey = (entity: Entity, opts: { cover?: boolean } = {}) =>
  `${opts.cover ? 'cover_' : ''}${entity.kind}_${encodeIdSegment(entity.id)}`;

export class JobProgressStore {
  constructor(private readonly table: TableClient) {}

  async ensure(): Promise<void> {
    await ensureTable(this.table);
  }

  async get(runId: string, entity: Entity, opts: { cover?: boolean } = {}): Promise<RecordedProgress | undefined> {
    try {
      const row = await this.table.getEntity<Record<string, unknown>>(runId, rowKey(entity, opts));
      const fromMs = instantIn(row.resumeFrom);
      const readState = joinProperty(row, 'readState');
      return { ...(fromMs !== undefined ? { fromMs } : {}), ...(readState ? { readState } : {}) };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Records progress. Only the worker holding the entity's lease calls this, and it passes a resume
   * point at or after the one it read, so a plain upsert keeps the point forward-only.
   */
  async put(runId: string, entity: Entity, progress: RecordedProgress, opts: { cover?: boolean } = {}): Promise<void> {
    await this.table.upsertEntity(
      defined({
        partitionKey: runId,
        rowKey: rowKey(entity, opts),
        resumeFrom: instantOut(progress.fromMs),
        ...splitProperty('readState', progress.readState ?? ''),
      }) as {
        partitionKey: string;
        rowKey: string;
      },
      'Replace',
    );
  }
}

/** Row keys of the request rows, beside the entity rows (`{kind}_{id}`) of the same run partition. */
const REQUEST_ROW = '~request';
const IDEMPOTENCY_PARTITION = '~idempotency';
/** POST /api/productions keys: their own partition, so a key reused across the two endpoints never clashes. */
const PRODUCTION_KEYS_PARTITION = '~idempotency-productions';

/** What an Idempotency-Key of POST /api/productions was first used for. */
export interface ProductionKeyClaim {
  productionId: string;
  /** SHA-256 of the normalised request body: a retry must send the same. */
  fingerprint: string;
}
/** Ids per table property: a string property holds at most 32K UTF-16 characters. */
const IDS_PER_PROPERTY = 500;

export interface StoredBackfillRequest {
  users: string[];
  teams: string[];
  /** With an Idempotency-Key: the request's fingerprint, which a retry with that key must match. */
  fingerprint?: string;
}

/**
 * What a queued planning message needs beyond the run row (the named users and teams of a backfill,
 * too many for a queue message), and the Idempotency-Key of `POST /api/backfills` → its run id.
 */
export class RunRequestStore {
  constructor(private readonly table: TableClient) {}

  async putRequest(runId: string, req: StoredBackfillRequest): Promise<void> {
    const row: Record<string, unknown> = {
      partitionKey: runId,
      rowKey: REQUEST_ROW,
      ...(req.fingerprint ? { fingerprint: req.fingerprint } : {}),
    };
    for (const kind of ['users', 'teams'] as const) {
      const ids = req[kind];
      row[`${kind}Parts`] = Math.ceil(ids.length / IDS_PER_PROPERTY);
      for (let i = 0; i * IDS_PER_PROPERTY < ids.length; i++)
        row[`${kind}${i}`] = ids.slice(i * IDS_PER_PROPERTY, (i + 1) * IDS_PER_PROPERTY).join(',');
    }
    await this.table.upsertEntity(row as { partitionKey: string; rowKey: string }, 'Replace');
  }

  async getRequest(runId: string): Promise<StoredBackfillRequest | undefined> {
    let row: Record<string, unknown>;
    try {
      row = await this.table.getEntity<Record<string, unknown>>(runId, REQUEST_ROW);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    const read = (kind: 'users' | 'teams'): string[] => {
      const out: string[] = [];
      for (let i = 0; i < (numberIn(row[`${kind}Parts`]) ?? 0); i++) {
        const part = row[`${kind}${i}`];
        if (typeof part === 'string' && part.length > 0) out.push(...part.split(','));
      }
      return out;
    };
    const fingerprint = typeof row.fingerprint === 'string' ? row.fingerprint : undefined;
    return { users: read('users'), teams: read('teams'), ...(fingerprint ? { fingerprint } : {}) };
  }

  /**
   * Claims an idempotency key for a run id: returns undefined when this call claimed it, else the run
   * id an earlier request with the same key claimed (insert-only, so two racing requests agree).
   */
  async claimKey(key: string, runId: string): Promise<string | undefined> {
    try {
      await this.table.createEntity({ partitionKey: IDEMPOTENCY_PARTITION, rowKey: key, runId });
      return undefined;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
    const row = await this.table.getEntity<Record<string, unknown>>(IDEMPOTENCY_PARTITION, key);
    if (typeof row.runId !== 'string') throw new Error(`idempotency key row without a run id`);
    return row.runId;
  }

  /** The production an Idempotency-Key of POST /api/productions was claimed for, if any. */
  async getProductionKey(key: string): Promise<ProductionKeyClaim | undefined> {
    let row: Record<string, unknown>;
    try {
      row = await this.table.getEntity<Record<string, unknown>>(PRODUCTION_KEYS_PARTITION, key);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    if (typeof row.productionId !== 'string' || typeof row.fingerprint !== 'string')
      throw new Error('production idempotency key row without a production id or fingerprint');
    return { productionId: row.productionId, fingerprint: row.fingerprint };
  }

  /**
   * Claims an Idempotency-Key of POST /api/productions: undefined when this call claimed it, else the
   * earlier claim (insert-only, so two racing requests agree on one production).
   */
  async claimProductionKey(key: string, claim: ProductionKeyClaim): Promise<ProductionKeyClaim | undefined> {
    try {
      await this.table.createEntity({ partitionKey: PRODUCTION_KEYS_PARTITION, rowKey: key, ...claim });
      return undefined;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
    return this.getProductionKey(key);
  }
}
