// Run bookkeeping in O(1) per job (issue 13, defects 4 and 6): finishing a job costs a constant number
// of table operations whatever the run's size, with no query over the jobs table until the last job,
// and a run closes whichever delivery of its last job gets there.
import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobMessage } from '../../src/app/queue-job-handler';
import { startBackfillRun } from '../../src/app/start-run';
import type { EntitySelection } from '../../src/export/plan-entities';
import { recordJobResult } from '../../src/export/run-lifecycle';
import { closeRunIfComplete } from '../../src/export/run-close';
import { silentLogger } from '../../src/log';
import type { Entity } from '../../src/model/entity';
import { emptyCounts } from '../../src/model/job';
import { RunStore, tableNames } from '../../src/state/run-store';
import { CheckpointStore } from '../../src/state/checkpoint-store';
import { DAY, HOUR } from '../../src/time';
import { ensureContainer } from '../../src/archive/archive-container';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';
import { startFunctionsHarness, type FunctionsHarness } from '../functions/functions-harness';

/** The default selection: every user and team, nothing extra (only the run report reads it here). */
const ALL_ENTITIES = {
  users: 'all',
  teams: 'all',
  retained: false,
  deletedTeams: false,
  copilot: false,
  meetings: false,
  includeUsers: [],
  excludeUsers: [],
  includeTeams: [],
  excludeTeams: [],
} as const satisfies EntitySelection;

/** The real table client with a policy that notes every request it sends (nothing is faked). */
function countingTable(connectionString: string, name: string, seen: string[]): TableClient {
  const client = TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
  const counter: Parameters<TableClient['pipeline']['addPolicy']>[0] = {
    name: 'count-requests',
    sendRequest: (req, next) => {
      const url = new URL(req.url);
      seen.push(`${req.method} ${url.pathname}${url.searchParams.has('$filter') ? ' query' : ''}`);
      return next(req);
    },
  };
  client.pipeline.addPolicy(counter);
  return client;
}

describe('run counters', () => {
  it('finishing a job costs the same few table operations in a run of 60 jobs as in a run of 3, and no query until the last', async () => {
    const s = testStorage('run-counters');
    const names = tableNames(s.tablePrefix);
    const seen: string[] = [];
    const runs = new RunStore(countingTable(s.connectionString, names.runs, seen), countingTable(s.connectionString, names.jobs, seen));
    const clients = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString });
    const checkpoints = new CheckpointStore(clients.table(names.checkpoints));
    const container = clients.blobService.getContainerClient(s.container);
    await ensureContainer(container);
    await runs.ensure();
    await checkpoints.ensure();

    const opsPerJob = async (runId: string, n: number) => {
      const entities: Entity[] = Array.from({ length: n }, (_, i) => ({ kind: 'user', id: `u-${i}` }));
      await runs.createRun({ runId, kind: 'backfill', status: 'running', startedAtMs: 1, planned: 0 });
      for (const entity of entities) await runs.putJob({ runId, entity, status: 'queued', counts: emptyCounts(), attempts: 0 });
      await runs.updateRun(runId, { planned: n });
      const perJob: string[][] = [];
      for (const entity of entities) {
        seen.length = 0;
        // What a worker does after its job: record the result, then close the run if it was the last.
        await recordJobResult(
          { runs, checkpoints },
          { kind: 'backfill', window: { fromMs: 0, toMs: DAY } },
          { runId, entity, status: 'done', counts: emptyCounts(), attempts: 1 },
          silentLogger,
        );
        await closeRunIfComplete({ runs, container, selection: ALL_ENTITIES }, runId, () => 2, silentLogger);
        perJob.push([...seen]);
      }
      expect((await runs.getRun(runId))?.status).toBe('succeeded');
      return perJob;
    };

    const small = await opsPerJob('backfill-small', 3);
    const large = await opsPerJob('backfill-large', 60);
    const notLast = (jobs: string[][]) => jobs.slice(0, -1);
    // Every job but the last: no query over the jobs table (a filter on status is a scan; the run's
    // few counter rows are one query of their own partition), and the same number of requests however
    // many jobs the run has.
    for (const ops of [...notLast(small), ...notLast(large)])
      expect(ops.filter((o) => o.endsWith(' query') && o.includes(names.jobs))).toEqual([]);
    const counts = new Set([...notLast(small), ...notLast(large)].map((ops) => ops.length));
    expect([...counts]).toHaveLength(1);
    expect([...counts][0]).toBeLessThanOrEqual(8);
    // The last job closes the run: one pass over the job rows (60 fit one page) gives both the
    // totals and the collection report.
    for (const jobs of [small, large]) expect(jobs.at(-1)!.filter((o) => o.endsWith(' query') && o.includes(names.jobs))).toHaveLength(1);
  });
});

describe('run counters under parallel workers', () => {
  it('48 jobs (and follow-ups) finishing at once are each counted once with few lost ETag races, and the run closes', async () => {
    const s = testStorage('run-counters-par');
    const names = tableNames(s.tablePrefix);
    // The runs table's answers: a 412 is a counter update that lost a race and had to be tried again.
    const statuses: number[] = [];
    const runsTable = TableClient.fromConnectionString(s.connectionString, names.runs, { allowInsecureConnection: true });
    runsTable.pipeline.addPolicy({
      name: 'note-statuses',
      sendRequest: async (req, next) => {
        try {
          const res = await next(req);
          statuses.push(res.status);
          return res;
        } catch (err) {
          statuses.push((err as { statusCode?: number }).statusCode ?? 0);
          throw err;
        }
      },
    });
    const clients = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString });
    const runs = new RunStore(runsTable, clients.table(names.jobs));
    const checkpoints = new CheckpointStore(clients.table(names.checkpoints));
    const container = clients.blobService.getContainerClient(s.container);
    await ensureContainer(container);
    await runs.ensure();
    await checkpoints.ensure();

    const runId = 'backfill-parallel';
    const n = 48;
    const entities: Entity[] = Array.from({ length: n }, (_, i) => ({ kind: 'user', id: `u-${i}` }));
    await runs.createRun({ runId, kind: 'backfill', status: 'running', startedAtMs: 1, planned: 0 });
    for (const entity of entities) await runs.putJob({ runId, entity, status: 'queued', counts: emptyCounts(), attempts: 0 });
    await runs.updateRun(runId, { planned: n });
    statuses.length = 0;
    // Every worker records its job and checks for the close at the same moment.
    await Promise.all(
      entities.map(async (entity, i) => {
        await recordJobResult(
          { runs, checkpoints },
          { kind: 'backfill', window: { fromMs: 0, toMs: DAY } },
          { runId, entity, status: i % 8 === 5 ? 'skipped' : 'done', counts: emptyCounts(), attempts: 1 },
          silentLogger,
        );
        await closeRunIfComplete({ runs, container, selection: ALL_ENTITIES }, runId, () => 2, silentLogger);
      }),
    );
    // All counting on the one run row made nearly every count lose races to the others (hundreds of
    // 412s for 48 workers); spread over counter rows, a count seldom meets another on its row.
    const conflicts = statuses.filter((st) => st === 412).length;
    expect(conflicts).toBeLessThan(n);
    expect(await runs.finishedJobs((await runs.getRun(runId))!)).toEqual({ done: 42, skipped: 6, failed: 0 });
    expect((await runs.getRun(runId))?.status).toBe('succeeded');

    // Sender mode's follow-ups of 48 users end at about the same time too, and are counted the same way.
    const followed = 'backfill-followups';
    await runs.createRun({ runId: followed, kind: 'backfill', status: 'running', startedAtMs: 1, planned: n });
    const rows = entities.map((entity) => ({ runId: followed, entity, status: 'done' as const, counts: emptyCounts(), attempts: 1 }));
    for (const row of rows) await runs.putJob(row);
    expect(await runs.claimCover(followed, n)).toBe(true);
    statuses.length = 0;
    await Promise.all(rows.map((row) => runs.countCover(row)));
    expect(statuses.filter((st) => st === 412).length).toBeLessThan(n);
    expect((await runs.counters((await runs.getRun(followed))!)).coverFinished).toBe(n);
  });
});

describe('planning a run', () => {
  it('writes the job rows of 250 entities in three table transactions, each before its jobs are sent', async () => {
    const now = Date.now();
    const fh = await startFunctionsHarness({ label: 'plan-batches', tenant: { seed: 62, users: 1, teams: 0, historyDays: 1 } });
    try {
      const jobsTable = fh.ctx.deps.storage.table(tableNames(fh.h.env.EXPORT_TABLE_PREFIX as string).jobs);
      const requests: string[] = [];
      jobsTable.pipeline.addPolicy({
        name: 'note-requests',
        sendRequest: (req, next) => {
          requests.push(`${req.method} ${new URL(req.url).pathname}`);
          return next(req);
        },
      });
      const users = Array.from({ length: 250 }, () => randomUUID());
      const started = await startBackfillRun(
        fh.ctx,
        { window: { fromMs: now - 2 * DAY, toMs: now - HOUR }, users, teams: [] },
        silentLogger,
      );
      expect(started).toMatchObject({ planned: 250, enqueued: 250 });
      // One request per 100 rows (a transaction of the run's partition), not one per job.
      expect(requests).toHaveLength(3);
      expect(requests.every((r) => r.startsWith('POST ') && r.endsWith('/$batch'))).toBe(true);
      let queued = 0;
      for await (const job of fh.ctx.deps.runs.listJobs(started.runId)) if (job.status === 'queued' && job.attempts === 0) queued++;
      expect(queued).toBe(250);
      expect(await fh.queuedMessages()).toHaveLength(250);
    } finally {
      await fh.close();
    }
  });
});

describe('a duplicate delivery of the last job', () => {
  let fh: FunctionsHarness;
  const now = Date.now();
  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'dup-last',
      tenant: { seed: 61, users: 2, teams: 0, historyDays: 3, endMs: now - 2 * HOUR },
    });
  });
  afterAll(() => fh?.close());

  it('closes the run when the worker that recorded the result died before closing it', async () => {
    const [a, b] = fh.h.entities();
    const started = await startBackfillRun(
      fh.ctx,
      { window: { fromMs: now - 2 * DAY, toMs: now - HOUR }, users: [a!.id, b!.id], teams: [] },
      silentLogger,
    );
    const { runId } = started;
    const messages = (await fh.queuedMessages()) as Array<{ runId: string; entity: Entity }>;
    expect(messages.filter((m) => m.runId === runId)).toHaveLength(2);
    const [first, last] = messages.filter((m) => m.runId === runId);
    // The first job runs normally: the run is not complete yet.
    expect((await runJobMessage(fh.ctx, first, silentLogger)).outcome).toBe('done');
    expect((await fh.ctx.deps.runs.getRun(runId))?.status).toBe('running');
    // The last job's worker wrote its final row, then died: nothing counted it, nothing closed the run.
    await fh.ctx.deps.runs.putJob({ runId, entity: last!.entity, status: 'done', counts: emptyCounts(), attempts: 1 });
    // The host delivers the message again.
    expect((await runJobMessage(fh.ctx, last, silentLogger)).outcome).toBe('duplicate');
    const summary = await fh.ctx.deps.runs.summarize(runId);
    expect(summary?.run.status).toBe('succeeded');
    expect(await fh.ctx.deps.runs.finishedJobs(summary!.run)).toEqual({ done: 2, skipped: 0, failed: 0 });
    // Yet another delivery counts nothing twice.
    expect((await runJobMessage(fh.ctx, last, silentLogger)).outcome).toBe('duplicate');
    expect(await fh.ctx.deps.runs.finishedJobs((await fh.ctx.deps.runs.getRun(runId))!)).toEqual({ done: 2, skipped: 0, failed: 0 });
  });
});
