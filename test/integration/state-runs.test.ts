import { beforeAll, describe, expect, it } from 'vitest';
import { RunStore, tableNames, type JobRecord, type RunRecord } from '../../src/state/run-store';
import { emptyCounts } from '../../src/model/job';
import type { Entity } from '../../src/model/entity';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';

const T0 = Date.parse('2024-03-01T02:30:00Z');

function job(
  runId: string,
  entity: Entity,
  status: JobRecord['status'],
  counts: Partial<JobRecord['counts']> = {},
  extra: Partial<JobRecord> = {},
): JobRecord {
  return { runId, entity, status, counts: { ...emptyCounts(), ...counts }, ...extra };
}

/** A run store on fresh tables (created). */
async function openStore(label: string): Promise<RunStore> {
  const s = testStorage(label);
  const clients = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString });
  const names = tableNames(s.tablePrefix);
  expect(names).toEqual({ checkpoints: `${s.tablePrefix}Checkpoints`, runs: `${s.tablePrefix}Runs`, jobs: `${s.tablePrefix}Jobs` });
  const store = new RunStore(clients.table(names.runs), clients.table(names.jobs));
  await store.ensure();
  return store;
}

describe('RunStore', () => {
  let store: RunStore;

  beforeAll(async () => {
    store = await openStore('runs');
    // Creating the tables again is harmless.
    await store.ensure();
  });

  it('creates a run once: the same runId again returns the stored run', async () => {
    const run: RunRecord = {
      runId: 'daily-1',
      kind: 'daily',
      status: 'running',
      startedAtMs: T0,
      nowMs: T0,
      planned: 3,
      entities: 'all users',
    };
    // A new run starts with its finished-job counters at zero (they close it: issue 13).
    const stored = { ...run, finished: { done: 0, skipped: 0, failed: 0 } };
    expect(await store.createRun(run)).toEqual({ created: true, run: stored });
    const again = await store.createRun({ ...run, planned: 99, startedAtMs: T0 + 1 });
    // The stored row comes back with its ETag (the run's transitions are conditional on it).
    expect(again).toEqual({ created: false, run: { ...stored, etag: expect.any(String) } });
    expect(await store.getRun('daily-1')).toEqual({ ...stored, etag: expect.any(String) });
  });

  it('merges updates into a run and keeps the other fields', async () => {
    await store.createRun({
      runId: 'upd',
      kind: 'backfill',
      status: 'running',
      startedAtMs: T0,
      fromMs: T0 - 86_400_000,
      toMs: T0,
      planned: 2,
    });
    await store.updateRun('upd', { status: 'failed', finishedAtMs: T0 + 5000, error: 'e'.repeat(70_000) });
    const run = await store.getRun('upd');
    expect(run).toMatchObject({
      runId: 'upd',
      kind: 'backfill',
      status: 'failed',
      startedAtMs: T0,
      finishedAtMs: T0 + 5000,
      fromMs: T0 - 86_400_000,
      toMs: T0,
      planned: 2,
    });
    expect(run?.error?.length).toBeLessThanOrEqual(4000);
    await expect(store.updateRun('missing', { status: 'failed' })).rejects.toThrow();
    expect(await store.getRun('missing')).toBeUndefined();
  });

  it('stores and reads back job rows, replacing earlier state of the same job', async () => {
    const entity: Entity = { kind: 'team', id: 'a/b#?', displayName: 'Team A' };
    await store.putJob(
      job(
        'jobs-1',
        entity,
        'failed',
        { messages: 1 },
        { error: { status: 503, code: 'ServiceUnavailable', requestId: 'req-1', message: 'busy' }, attempts: 1, startedAtMs: T0 },
      ),
    );
    expect(await store.getJob('jobs-1', entity)).toEqual(
      job(
        'jobs-1',
        entity,
        'failed',
        { messages: 1 },
        { error: { status: 503, code: 'ServiceUnavailable', requestId: 'req-1', message: 'busy' }, attempts: 1, startedAtMs: T0 },
      ),
    );
    const done = job(
      'jobs-1',
      entity,
      'done',
      { received: 10, messages: 8, duplicates: 2, blobs: 2, bytes: 1234, pages: 3 },
      { attempts: 2, startedAtMs: T0, finishedAtMs: T0 + 10 },
    );
    await store.putJob(done);
    expect(await store.getJob('jobs-1', entity)).toEqual(done);
    expect(await store.getJob('jobs-1', { kind: 'user', id: 'a/b#?' })).toBeUndefined();
  });

  it('summarizes a run from its job rows, counting jobs without a row as queued', async () => {
    await store.createRun({ runId: 'sum', kind: 'daily', status: 'running', startedAtMs: T0, planned: 6 });
    const u1: Entity = { kind: 'user', id: 'u1' };
    const u2: Entity = { kind: 'user', id: 'u2' };
    const u3: Entity = { kind: 'user', id: 'u3' };
    const t1: Entity = { kind: 'team', id: 't1' };
    await store.putJob(job('sum', u1, 'done', { messages: 10, duplicates: 1, blobs: 2, bytes: 100, quarantined: 1 }));
    await store.putJob(job('sum', u2, 'skipped', {}, { error: { status: 404, code: 'NotFound', message: 'no mailbox' } }));
    await store.putJob(job('sum', u3, 'failed', { messages: 3, blobs: 1, bytes: 30 }, { error: { status: 400, message: 'bad request' } }));
    await store.putJob(job('sum', t1, 'running', { messages: 2, blobs: 1, bytes: 7 }));
    // A job row of another run must not be counted.
    await store.putJob(job('other', u1, 'done', { messages: 1000 }));

    const summary = await store.summarize('sum');
    expect(summary?.run.runId).toBe('sum');
    expect(summary?.counts).toEqual({
      planned: 6,
      queued: 2,
      running: 1,
      done: 1,
      skipped: 1,
      failed: 1,
      messages: 15,
      duplicates: 1,
      quarantined: 1,
      blobs: 4,
      bytes: 137,
    });
    expect(summary?.skipped.map((j) => [j.entity.id, j.error?.code])).toEqual([['u2', 'NotFound']]);
    expect(summary?.failed.map((j) => [j.entity.id, j.error?.status, j.error?.message])).toEqual([['u3', 400, 'bad request']]);
    expect(await store.summarize('nope')).toBeUndefined();

    const listed = [];
    for await (const j of store.listJobs('sum')) listed.push(j.entity.id);
    expect(listed.sort()).toEqual(['t1', 'u1', 'u2', 'u3']);
  });

  it('lists runs newest first and honours the limit', async () => {
    const s = testStorage('runs-list');
    const clients = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString });
    const names = tableNames(s.tablePrefix);
    const own = new RunStore(clients.table(names.runs), clients.table(names.jobs));
    await own.ensure();
    for (const [runId, offset] of [
      ['b', 2],
      ['a', 5],
      ['c', 1],
      ['d', 4],
    ] as const) {
      await own.createRun({ runId, kind: 'daily', status: 'succeeded', startedAtMs: T0 + offset * 86_400_000, planned: 0 });
    }
    expect((await own.listRuns()).map((r) => r.runId)).toEqual(['a', 'd', 'b', 'c']);
    expect((await own.listRuns({ limit: 2 })).map((r) => r.runId)).toEqual(['a', 'd']);
  });

  it('refuses run ids that are not safe as table keys', async () => {
    await expect(store.createRun({ runId: 'a/b', kind: 'daily', status: 'running', startedAtMs: T0, planned: 0 })).rejects.toThrow(
      RangeError,
    );
    expect(await store.getRun("x' or PartitionKey ne '")).toBeUndefined();
  });
});

describe('RunStore: what the collection report needs', () => {
  let store: RunStore;

  beforeAll(async () => {
    store = await openStore('runs-report');
  });

  it('keeps each refused entity kind in its own column: two refusals never overwrite each other', async () => {
    await store.createRun({ runId: 'refused-1', kind: 'daily', status: 'running', startedAtMs: T0, nowMs: T0, planned: 4 });
    await store.updateRun('refused-1', { status: 'failed', refused: { team: 'Graph refused teams: fix A' } });
    await store.updateRun('refused-1', { refused: { user: 'Graph refused users: fix B' } });
    expect((await store.getRun('refused-1'))?.refused).toEqual({ user: 'Graph refused users: fix B', team: 'Graph refused teams: fix A' });
    expect((await store.listRuns()).find((r) => r.runId === 'refused-1')?.refused?.team).toBe('Graph refused teams: fix A');
  });

  it("stores a job error's reason", async () => {
    const user: Entity = { kind: 'user', id: 'u-report' };
    await store.putJob(
      job(
        'refused-1',
        user,
        'skipped',
        {},
        {
          error: { status: 403, code: 'Forbidden', message: 'no licence', reason: 'no-teams-licence' },
        },
      ),
    );
    const row = await store.getJob('refused-1', user);
    expect(row?.error).toEqual({ status: 403, code: 'Forbidden', message: 'no licence', reason: 'no-teams-licence' });
  });
});
