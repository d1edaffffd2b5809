// Runs and their jobs in Table Storage (one row per run, one per job), for the status endpoint and
// `teams-export status`: what was planned, what each entity job did, and the totals.
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { encodeIdSegment, isValidRunId } from '../archive/blob-layout';
import { ENTITY_KINDS, type Entity, type EntityKind } from '../model/entity';
import type { JobCounts, JobError, JobStatus } from '../model/job';
import { emptyCounts } from '../model/job';
import type { Window } from '../model/window';
import { bounded, defined, instantIn, instantOut, numberIn, stringIn, ensureTable } from './table-values';
import { statusOf } from '../model/errors';

export type RunKind = 'daily' | 'backfill';
/** 'planning': recorded, its planning message not yet through (docs/functions.md §3). */
export type RunStatus = 'planning' | 'running' | 'succeeded' | 'failed';

export interface RunRecord {
  runId: string;
  kind: RunKind;
  status: RunStatus;
  startedAtMs: number;
  finishedAtMs?: number;
  nowMs?: number;
  fromMs?: number;
  toMs?: number;
  planned: number;
  /**
   * Jobs whose final result was counted on the run row itself, by status (runs counted before the
   * counter rows existed; RunStore.finishedJobs adds the counter rows, which count them now, so whether
   * a run is complete is one point read and one query of a few rows, not a scan of its job rows).
   * Undefined on rows written before any counters existed.
   */
  finished?: FinishedJobs;
  /** Optional description of the entity selection. */
  entities?: string;
  error?: string;
  /**
   * Entity kinds Graph refused the app for in this run (an app-level refusal, docs/design.md §9), each
   * with the run-level message naming the fix. Stored one column per kind, so two kinds refused at once
   * never overwrite each other; jobs of a refused kind are not run.
   */
  refused?: Partial<Record<EntityKind, string>>;
  /**
   * Sender mode's follow-ups the run waits for (docs/design.md §15), and how many had ended when they
   * were counted on the run row (they are counted on the counter rows now: RunStore.counters).
   */
  coverPlanned?: number;
  coverFinished?: number;
  /** When the follow-ups were claimed, and whether every one of them has been sent since. */
  coverClaimedAtMs?: number;
  coverSent?: boolean;
  /** While planning: when the planning message last sent is due (the sweep re-sends a lost one). */
  planDueAtMs?: number;
  /**
   * Run by one process (the CLI, the demo): it holds the run's lock blob (blob-layout.ts runLockName)
   * while it runs, so a run still open whose lock is not leased was left by a process that died
   * (export/abandoned-runs.ts).
   */
  inProcess?: boolean;
  /** The row's ETag when read: the run's transitions are conditional on it (updateRunIf). */
  etag?: string;
}

export interface FinishedJobs {
  done: number;
  skipped: number;
  failed: number;
}

export type FinalStatus = keyof FinishedJobs;

const FINAL_STATUSES: ReadonlySet<string> = new Set<FinalStatus>(['done', 'skipped', 'failed']);

export function isFinalStatus(status: string): status is FinalStatus {
  return FINAL_STATUSES.has(status);
}

/** Jobs with a final result counted (RunStore.finishedJobs). */
export function finishedTotal(finished: FinishedJobs | undefined): number {
  return finished ? finished.done + finished.skipped + finished.failed : 0;
}

export interface JobRecord {
  runId: string;
  entity: Entity;
  status: JobStatus;
  counts: JobCounts;
  error?: JobError;
  startedAtMs?: number;
  finishedAtMs?: number;
  attempts?: number;
  /** Set once this job's final result is counted on the run row (so a repeat never counts it twice). */
  counted?: boolean;
  /** The windows a done job read (JobResult.readSpan): sender mode's follow-up reads them again (docs/design.md §15). */
  readSpan?: Window;
  /** Set once this user's sender-mode follow-up is over and counted on the run row (coverFinished). */
  covered?: boolean;
}

export interface RunSummary {
  run: RunRecord;
  counts: {
    planned: number;
    queued: number;
    running: number;
    done: number;
    skipped: number;
    failed: number;
    messages: number;
    duplicates: number;
    quarantined: number;
    blobs: number;
    bytes: number;
  };
  skipped: JobRecord[];
  failed: JobRecord[];
  /** Job rows whose sender-mode follow-up is over (confirms the run row's coverFinished). */
  covered: number;
}

/** The three tables of one deployment (EXPORT_TABLE_PREFIX keeps deployments sharing an account apart). */
export function tableNames(prefix: string): { checkpoints: string; runs: string; jobs: string } {
  return { checkpoints: `${prefix}Checkpoints`, runs: `${prefix}Runs`, jobs: `${prefix}Jobs` };
}

/** All runs live in one partition: a few thousand rows over years, listed and sorted client-side. */
const RUN_PARTITION = 'run';
const COUNT_FIELDS = ['received', 'messages', 'duplicates', 'quarantined', 'blobs', 'bytes', 'pages'] as const;
/** The run row's columns of the finished-job counters. */
const FINISHED_COLUMNS: Record<FinalStatus, string> = { done: 'finishedDone', skipped: 'finishedSkipped', failed: 'finishedFailed' };
/** Tries of one counter update before giving up (each 412 means another worker counted meanwhile). */
const COUNTER_TRIES = 100;
/**
 * Finished jobs are counted on this many counter rows per run, one picked at random per count (another
 * after a 412), not on the run row: every worker counting on one row made each count a race that all
 * but one of the workers finishing at that moment lose (2.4 lost races per job with 12 at once in
 * bench/scale-bench.ts), and capped a run at one count per round trip. Reading them all is one query
 * of one partition.
 */
export const COUNTER_SHARDS = 16;
/** The partition of a run's counter rows in the runs table (listRuns reads partition 'run' only). */
const counterPartition = (runId: string) => `counts_${runId}`;
/** The column of ended sender-mode follow-ups (on the run row before the counter rows, on them now). */
const COVER_FINISHED = 'coverFinished';
/** Rows in one table transaction: the service's limit. */
const TRANSACTION_ROWS = 100;

function checkRunId(runId: string): string {
  if (!isValidRunId(runId)) throw new RangeError(`invalid run id ${JSON.stringify(runId)}`);
  return runId;
}

function jobRowKey(entity: Entity): string {
  return `${entity.kind}_${encodeIdSegment(entity.id)}`;
}

/** The run row's column for a refused entity kind: `refused_team`, … */
const refusedColumn = (kind: EntityKind) => `refused_${kind}`;

function runToRow(run: Partial<RunRecord>): Record<string, unknown> {
  const refused: Record<string, string> = {};
  for (const [kind, message] of Object.entries(run.refused ?? {})) refused[refusedColumn(kind as EntityKind)] = bounded(message);
  return defined({
    ...refused,
    kind: run.kind,
    status: run.status,
    startedAt: instantOut(run.startedAtMs),
    finishedAt: instantOut(run.finishedAtMs),
    now: instantOut(run.nowMs),
    from: instantOut(run.fromMs),
    to: instantOut(run.toMs),
    planned: run.planned,
    ...(run.finished
      ? { finishedDone: run.finished.done, finishedSkipped: run.finished.skipped, finishedFailed: run.finished.failed }
      : {}),
    coverPlanned: run.coverPlanned,
    coverFinished: run.coverFinished,
    coverClaimedAt: instantOut(run.coverClaimedAtMs),
    coverSent: run.coverSent,
    planDueAt: instantOut(run.planDueAtMs),
    inProcess: run.inProcess,
    entities: run.entities === undefined ? undefined : bounded(run.entities),
    // An empty string clears an earlier error (a merge cannot remove a property; stringIn reads '' as none).
    error: run.error === undefined ? undefined : bounded(run.error),
  });
}

function runFromRow(row: TableEntityResult<Record<string, unknown>>): RunRecord {
  return defined({
    runId: row.rowKey,
    kind: (stringIn(row.kind) ?? 'daily') as RunKind,
    status: (stringIn(row.status) ?? 'running') as RunStatus,
    startedAtMs: instantIn(row.startedAt) ?? 0,
    finishedAtMs: instantIn(row.finishedAt),
    nowMs: instantIn(row.now),
    fromMs: instantIn(row.from),
    toMs: instantIn(row.to),
    planned: numberIn(row.planned) ?? 0,
    finished:
      numberIn(row.finishedDone) === undefined
        ? undefined
        : { done: numberIn(row.finishedDone) ?? 0, skipped: numberIn(row.finishedSkipped) ?? 0, failed: numberIn(row.finishedFailed) ?? 0 },
    coverPlanned: numberIn(row.coverPlanned),
    coverFinished: numberIn(row.coverFinished),
    coverClaimedAtMs: instantIn(row.coverClaimedAt),
    coverSent: row.coverSent === true ? true : undefined,
    planDueAtMs: instantIn(row.planDueAt),
    inProcess: row.inProcess === true ? true : undefined,
    entities: stringIn(row.entities),
    error: stringIn(row.error),
    refused: refusedFromRow(row),
    etag: stringIn(row.etag),
  }) as RunRecord;
}

function refusedFromRow(row: Record<string, unknown>): RunRecord['refused'] {
  const refused: Partial<Record<EntityKind, string>> = {};
  for (const kind of ENTITY_KINDS) {
    const message = stringIn(row[refusedColumn(kind)]);
    if (message !== undefined) refused[kind] = message;
  }
  return Object.keys(refused).length > 0 ? refused : undefined;
}

function jobToRow(job: JobRecord): Record<string, unknown> {
  const counts: Record<string, number> = {};
  for (const f of COUNT_FIELDS) counts[f] = job.counts[f];
  return defined({
    partitionKey: checkRunId(job.runId),
    rowKey: jobRowKey(job.entity),
    kind: job.entity.kind,
    id: job.entity.id,
    displayName: job.entity.displayName === undefined ? undefined : bounded(job.entity.displayName, 500),
    status: job.status,
    ...counts,
    errorStatus: job.error?.status,
    errorCode: job.error?.code === undefined ? undefined : bounded(job.error.code, 200),
    errorRequestId: job.error?.requestId === undefined ? undefined : bounded(job.error.requestId, 200),
    errorMessage: job.error === undefined ? undefined : bounded(job.error.message),
    errorReason: job.error?.reason === undefined ? undefined : bounded(job.error.reason, 100),
    startedAt: instantOut(job.startedAtMs),
    finishedAt: instantOut(job.finishedAtMs),
    attempts: job.attempts,
    counted: job.counted === true ? true : undefined,
    readFrom: instantOut(job.readSpan?.fromMs),
    readTo: instantOut(job.readSpan?.toMs),
    covered: job.covered === true ? true : undefined,
  });
}

function jobFromRow(row: TableEntityResult<Record<string, unknown>>): JobRecord {
  const counts = emptyCounts();
  for (const f of COUNT_FIELDS) counts[f] = numberIn(row[f]) ?? 0;
  const displayName = stringIn(row.displayName);
  const errorMessage = typeof row.errorMessage === 'string' && row.errorMessage !== '' ? row.errorMessage : undefined;
  const error: JobError | undefined =
    errorMessage === undefined
      ? undefined
      : (defined({
          status: numberIn(row.errorStatus),
          code: stringIn(row.errorCode),
          requestId: stringIn(row.errorRequestId),
          message: errorMessage,
          reason: stringIn(row.errorReason),
        }) as JobError);
  return defined({
    runId: row.partitionKey,
    entity: { kind: (stringIn(row.kind) ?? 'user') as EntityKind, id: stringIn(row.id) ?? '', ...(displayName ? { displayName } : {}) },
    status: (stringIn(row.status) ?? 'queued') as JobStatus,
    counts,
    error,
    startedAtMs: instantIn(row.startedAt),
    finishedAtMs: instantIn(row.finishedAt),
    attempts: numberIn(row.attempts),
    counted: row.counted === true ? true : undefined,
    readSpan: readSpanIn(row.readFrom, row.readTo),
    covered: row.covered === true ? true : undefined,
  }) as JobRecord;
}

function readSpanIn(from: unknown, to: unknown): Window | undefined {
  const fromMs = instantIn(from);
  const toMs = instantIn(to);
  return fromMs !== undefined && toMs !== undefined ? { fromMs, toMs } : undefined;
}

export class RunStore {
  constructor(
    private readonly runs: TableClient,
    private readonly jobs: TableClient,
  ) {}

  /** Creates both tables if they do not exist. */
  async ensure(): Promise<void> {
    for (const table of [this.runs, this.jobs]) await ensureTable(table);
  }

  /** Creates the run row; a second call with the same runId returns the stored run with created=false. */
  async createRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }> {
    try {
      // Counters start at zero with the run, so every run created from now on is closed by them.
      const counted = { ...run, finished: run.finished ?? { done: 0, skipped: 0, failed: 0 } };
      await this.runs.createEntity({ partitionKey: RUN_PARTITION, rowKey: checkRunId(run.runId), ...runToRow(counted) });
      return { created: true, run: counted };
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
    const existing = await this.getRun(run.runId);
    if (!existing) throw new Error(`run ${run.runId} exists but could not be read`);
    return { created: false, run: existing };
  }

  /** Merges the given fields into an existing run (throws if the run does not exist). */
  async updateRun(runId: string, patch: Partial<RunRecord>): Promise<void> {
    const { runId: _ignored, etag: _etag, ...fields } = patch;
    await this.runs.updateEntity({ partitionKey: RUN_PARTITION, rowKey: checkRunId(runId), ...runToRow(fields) }, 'Merge');
  }

  /**
   * Merges the fields only if the run row is still as read (`etag`): false when another worker changed
   * it since. Every transition of a run's state goes through this (docs/design.md §16): two workers
   * deciding at once about one run make one decision.
   */
  async updateRunIf(runId: string, etag: string | undefined, patch: Partial<RunRecord>): Promise<boolean> {
    const { runId: _ignored, etag: _etag, ...fields } = patch;
    try {
      await this.runs.updateEntity({ partitionKey: RUN_PARTITION, rowKey: checkRunId(runId), ...runToRow(fields) }, 'Merge', {
        etag: etag ?? '*',
      });
      return true;
    } catch (err) {
      if (statusOf(err) === 412) return false;
      throw err;
    }
  }

  /**
   * Applies `change` to the run as it is, ETag-conditional, reading it again after each lost race; the
   * change returns undefined to leave the run as it is. Returns the run as written (or as left).
   */
  async changeRun(runId: string, change: (run: RunRecord) => Partial<RunRecord> | undefined): Promise<RunRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      const run = await this.getRun(runId);
      if (!run) return undefined;
      const patch = change(run);
      if (!patch) return run;
      if (await this.updateRunIf(runId, run.etag, patch)) return { ...run, ...patch };
      if (attempt >= COUNTER_TRIES) throw new Error(`run ${runId} kept changing; gave up after ${COUNTER_TRIES} attempts`);
    }
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    if (!isValidRunId(runId)) return undefined;
    try {
      return runFromRow(await this.runs.getEntity<Record<string, unknown>>(RUN_PARTITION, runId));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Runs, newest first (by start time); with `startedSinceMs`, only runs started since then. */
  async listRuns(opts: { limit?: number; startedSinceMs?: number } = {}): Promise<RunRecord[]> {
    const all: RunRecord[] = [];
    // Instants are stored as ISO strings (table-values.ts), which compare as their instants do.
    const since = opts.startedSinceMs === undefined ? '' : ` and startedAt ge '${instantOut(opts.startedSinceMs)}'`;
    const rows = this.runs.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${RUN_PARTITION}'${since}` },
    });
    for await (const row of rows) all.push(runFromRow(row));
    all.sort((a, b) => b.startedAtMs - a.startedAtMs || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
    return opts.limit === undefined ? all : all.slice(0, Math.max(0, opts.limit));
  }

  /** Writes the whole job row (replacing any earlier state of that job). */
  async putJob(job: JobRecord): Promise<void> {
    await this.jobs.upsertEntity(jobToRow(job) as { partitionKey: string; rowKey: string }, 'Replace');
  }

  /**
   * Merges the given fields of a job into its row, keeping every other (what earlier invocations
   * recorded: their read span, the content they could not store). `error: null` clears the error.
   */
  async mergeJob(
    runId: string,
    entity: Entity,
    fields: Partial<Omit<JobRecord, 'runId' | 'entity' | 'error'>> & { error?: JobError | null; displayName?: string },
  ): Promise<void> {
    const { error, displayName, ...rest } = fields;
    const row = jobToRow({
      runId,
      entity: { ...entity, ...(displayName !== undefined ? { displayName } : {}) },
      status: rest.status ?? ('' as JobStatus),
      counts: rest.counts ?? emptyCounts(),
      ...rest,
      ...(error ? { error } : {}),
    });
    const merged: Record<string, unknown> = { partitionKey: row.partitionKey, rowKey: row.rowKey };
    for (const [k, v] of Object.entries(row)) {
      if (k === 'partitionKey' || k === 'rowKey' || k === 'kind' || k === 'id') continue;
      if (k === 'status' && rest.status === undefined) continue;
      if (COUNT_FIELDS.includes(k as (typeof COUNT_FIELDS)[number]) && rest.counts === undefined) continue;
      merged[k] = v;
    }
    // Empty strings read back as no error (jobFromRow): a merge cannot remove a property.
    if (error === null) Object.assign(merged, { errorCode: '', errorRequestId: '', errorMessage: '', errorReason: '' });
    await this.jobs.upsertEntity(merged as { partitionKey: string; rowKey: string }, 'Merge');
  }

  /**
   * Creates the rows of many jobs of one run, never touching a row that exists (a second planner, or a
   * repeated planning message, must not send a job that has run back to 'queued'): one table
   * transaction of inserts per 100 rows; a transaction that meets an existing row is done row by row.
   */
  async createJobs(jobs: readonly JobRecord[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += TRANSACTION_ROWS) {
      const chunk = jobs.slice(i, i + TRANSACTION_ROWS);
      if (chunk.some((j) => j.runId !== chunk[0]?.runId)) throw new RangeError('createJobs: the jobs of one run only');
      try {
        await this.jobs.submitTransaction(chunk.map((j) => ['create', jobToRow(j) as { partitionKey: string; rowKey: string }]));
        continue;
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
      }
      for (const j of chunk) {
        try {
          await this.jobs.createEntity(jobToRow(j) as { partitionKey: string; rowKey: string });
        } catch (err) {
          if (statusOf(err) !== 409) throw err;
        }
      }
    }
  }

  /**
   * Writes the rows of many jobs of one run (replacing any earlier state of those jobs), up to 100 per
   * table transaction: a run's job rows share its partition, so planning N jobs costs N/100 table
   * operations, not N.
   */
  async putJobs(jobs: readonly JobRecord[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += TRANSACTION_ROWS) {
      const chunk = jobs.slice(i, i + TRANSACTION_ROWS);
      if (chunk.some((j) => j.runId !== chunk[0]?.runId)) throw new RangeError('putJobs: the jobs of one run only');
      await this.jobs.submitTransaction(chunk.map((j) => ['upsert', jobToRow(j) as { partitionKey: string; rowKey: string }, 'Replace']));
    }
  }

  async getJob(runId: string, entity: Entity): Promise<JobRecord | undefined> {
    if (!isValidRunId(runId)) return undefined;
    try {
      return jobFromRow(await this.jobs.getEntity<Record<string, unknown>>(runId, jobRowKey(entity)));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async *listJobs(runId: string): AsyncGenerator<JobRecord> {
    if (!isValidRunId(runId)) return;
    // runId is validated to [A-Za-z0-9_-], so it cannot break out of the OData string literal.
    const rows = this.jobs.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${runId}'` } });
    for await (const row of rows) yield jobFromRow(row);
  }

  /**
   * Records a job's final result: its row, then its count on the run, each once. A constant number of
   * table operations whatever the run's size. If the row is final already (a repeat delivery), it is
   * left as it is and only counted if the worker that wrote it stopped before counting it.
   */
  async recordFinalJob(job: JobRecord & { status: FinalStatus }): Promise<void> {
    const prior = await this.getJob(job.runId, job.entity);
    if (prior && isFinalStatus(prior.status)) return this.countFinishedJob(prior);
    const { counted: _ignored, ...uncounted } = job;
    await this.putJob(uncounted);
    return this.countFinishedJob(uncounted);
  }

  /**
   * Counts a job row's final result on one of its run's counter rows (ETag-conditional merge, retried
   * on 412), then marks the row counted. Idempotent per job: a counted row is not counted again. A
   * crash between the two writes leaves the row uncounted and the next delivery counts it again; the
   * run's finish is confirmed from the job rows (summarize), so one count too many can delay nothing
   * but never close a run early.
   */
  async countFinishedJob(job: JobRecord): Promise<void> {
    if (job.counted) return;
    if (!isFinalStatus(job.status)) throw new RangeError(`job of ${job.runId} is ${job.status}, not final`);
    const runId = checkRunId(job.runId);
    await this.bumpCounterShard(runId, FINISHED_COLUMNS[job.status]);
    await this.jobs.updateEntity({ partitionKey: runId, rowKey: jobRowKey(job.entity), counted: true }, 'Merge');
  }

  /**
   * The run's counts so far: finished jobs (the run row's own columns, for runs counted before the
   * counter rows existed, plus its counter rows; undefined for a run without counters, a row written
   * before they existed, whose completion is then read from its job rows alone) and ended sender-mode
   * follow-ups. One query of the run's counter rows.
   */
  async counters(run: RunRecord): Promise<{ finished: FinishedJobs | undefined; coverFinished: number }> {
    const finished = run.finished ? { ...run.finished } : undefined;
    let coverFinished = run.coverFinished ?? 0;
    const rows = this.runs.listEntities<Record<string, unknown>>({
      // runId is validated to [A-Za-z0-9_-], so it cannot break out of the OData string literal.
      queryOptions: { filter: `PartitionKey eq '${counterPartition(checkRunId(run.runId))}'` },
    });
    for await (const row of rows) {
      if (finished)
        for (const status of ['done', 'skipped', 'failed'] as const) finished[status] += numberIn(row[FINISHED_COLUMNS[status]]) ?? 0;
      coverFinished += numberIn(row[COVER_FINISHED]) ?? 0;
    }
    return { finished, coverFinished };
  }

  /** The run's finished jobs as counted so far (counters().finished). */
  async finishedJobs(run: RunRecord): Promise<FinishedJobs | undefined> {
    return (await this.counters(run)).finished;
  }

  /** Adds one to a column of one of the run's counter rows, picked at random (another after each 412). */
  private async bumpCounterShard(runId: string, column: string): Promise<void> {
    const partitionKey = counterPartition(runId);
    for (let attempt = 1; ; attempt++) {
      const rowKey = String(Math.floor(Math.random() * COUNTER_SHARDS)).padStart(2, '0');
      let row: TableEntityResult<Record<string, unknown>> | undefined;
      try {
        row = await this.runs.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
      try {
        if (row) {
          const value = (numberIn(row[column]) ?? 0) + 1;
          await this.runs.updateEntity({ partitionKey, rowKey, [column]: value }, 'Merge', { etag: row.etag });
        } else {
          await this.runs.createEntity({ partitionKey, rowKey, [column]: 1 });
        }
        return;
      } catch (err) {
        // 412: another worker counted on this row in between; 409: it created the row first.
        if ((statusOf(err) !== 412 && statusOf(err) !== 409) || attempt >= COUNTER_TRIES) throw err;
      }
    }
  }

  /**
   * Sender mode's follow-up (docs/design.md §15): records on the run that `n` follow-ups must end before
   * it closes. Only the first caller claims (ETag-conditional): true for it, false when the run had
   * its follow-ups claimed already (or does not exist).
   */
  async claimCover(runId: string, n: number): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      let row: TableEntityResult<Record<string, unknown>>;
      try {
        row = await this.runs.getEntity<Record<string, unknown>>(RUN_PARTITION, checkRunId(runId));
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
      if (numberIn(row.coverPlanned) !== undefined) return false;
      try {
        await this.runs.updateEntity({ partitionKey: RUN_PARTITION, rowKey: runId, coverPlanned: n, coverFinished: 0 }, 'Merge', {
          etag: row.etag,
        });
        return true;
      } catch (err) {
        if (statusOf(err) !== 412 || attempt >= COUNTER_TRIES) throw err;
      }
    }
  }

  /**
   * Counts one user's finished follow-up on the run (coverFinished), then marks its job row covered:
   * the same count-then-mark order as countFinishedJob, confirmed by summarize's `covered`.
   */
  async countCover(job: JobRecord, counts?: JobCounts): Promise<void> {
    if (job.covered) return;
    const runId = checkRunId(job.runId);
    // On the counter rows too: a run's follow-ups all end at about the same time.
    await this.bumpCounterShard(runId, COVER_FINISHED);
    const countColumns: Record<string, number> = {};
    if (counts) for (const f of COUNT_FIELDS) countColumns[f] = counts[f];
    await this.jobs.updateEntity({ partitionKey: runId, rowKey: jobRowKey(job.entity), covered: true, ...countColumns }, 'Merge');
  }

  /**
   * The run with totals over its job rows. Planned jobs that have no row yet count as queued, so
   * queued + running + done + skipped + failed = planned while the run is being set up.
   */
  async summarize(runId: string, onJob?: (job: JobRecord) => void): Promise<RunSummary | undefined> {
    const run = await this.getRun(runId);
    if (!run) return undefined;
    const counts = {
      planned: run.planned,
      queued: 0,
      running: 0,
      done: 0,
      skipped: 0,
      failed: 0,
      messages: 0,
      duplicates: 0,
      quarantined: 0,
      blobs: 0,
      bytes: 0,
    };
    const skipped: JobRecord[] = [];
    const failed: JobRecord[] = [];
    let rows = 0;
    let covered = 0;
    for await (const job of this.listJobs(runId)) {
      onJob?.(job);
      rows++;
      counts[job.status]++;
      counts.messages += job.counts.messages;
      counts.duplicates += job.counts.duplicates;
      counts.quarantined += job.counts.quarantined;
      counts.blobs += job.counts.blobs;
      counts.bytes += job.counts.bytes;
      if (job.status === 'skipped') skipped.push(job);
      if (job.status === 'failed') failed.push(job);
      if (job.covered) covered++;
    }
    counts.queued += Math.max(0, run.planned - rows);
    return { run, counts, skipped, failed, covered };
  }
}
