// The run-lifecycle defects of issue 20, each reproduced the way it was found: a crash at a chosen
// storage operation, two planners at once, a planning attempt that fails once, more members than a
// follow-up carries, a lost planning message, a production whose worker died. Each fails on the code
// before the fix; the crash-point and interleaving tests then cover every other point.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient } from '@azure/data-tables';
import { blobExists, readBlobBytes } from '../../src/archive/batch-reader';
import { runManifestName } from '../../src/archive/blob-layout';
import { buildDeps } from '../../src/deps';
import { silentLogger } from '../../src/log';
import { loadSettings, type Env } from '../../src/settings';
import { tableNames } from '../../src/state/run-store';
import { HOUR, MINUTE, iso } from '../../src/time';
import { emptyCounts } from '../../src/model/job';
import { finishIfComplete } from '../../src/app/queue-job-handler';
import { requestProduction } from '../../src/app/productions';
import { writeOtherSenders } from '../../src/archive/run-files';
import type { Emulator } from '../../emulator';
import type { StorageOperation } from '../../emulator/storage-proxy';
import { startTestEmulator } from '../support/emulator';
import { freshDeployment, queuedTestEnv, unlicenseOneMember } from '../support/queued-env';
import { deliverTo, drainOn, fireDailyTimer, handleOn, hostQueues, queuedHost, startHostWorker } from '../support/queued-host';
import { runInvariantProblems, snapshotArchive, watermarkMonitor, type ArchiveSnapshot } from '../support/run-invariants';
import { decode } from '../functions/functions-harness';
import { ownAzurite } from '../support/storage';

const now = Date.now();
const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;
const runId = `daily-${iso(scheduledMs)
  .replace(/[-:]/g, '')
  .replace(/\.\d+Z$/, 'Z')}`;

const isCheckpointWrite = (op: StorageOperation) =>
  op.service === 'table' && /Checkpoints/.test(op.resource) && ['POST', 'PATCH', 'PUT', 'MERGE'].includes(op.method);
const isManifestWrite = (op: StorageOperation) => op.service === 'blob' && op.method === 'PUT' && op.resource.includes('/manifests/');

const freshEnv = freshDeployment;

async function depsOf(env: Env) {
  return buildDeps(loadSettings(env), { log: silentLogger });
}

// Its own Azurite: the most storage-hungry files keep the shared one small (support/storage.ts).
ownAzurite();

describe('run lifecycle defects (issue 20)', () => {
  let emulator: Emulator;
  let base: Env;
  let senderBase: Env;
  let custodianRef: ArchiveSnapshot;
  let senderRef: ArchiveSnapshot;

  /** A run's broken promises against a reference run of the same settings. */
  const problems = async (env: Env, reference: ArchiveSnapshot, watermarks: string[] = []) => {
    const deps = await depsOf(env);
    return runInvariantProblems({
      container: deps.container,
      runs: deps.runs,
      checkpoints: deps.checkpoints,
      runId,
      reference,
      watermarkProblems: watermarks,
    });
  };

  /** The operations of an undisturbed run, to pick a kill point from. */
  const probe = async (b: Env): Promise<StorageOperation[]> => {
    const host = queuedHost(freshEnv(b, 'def-probe'));
    try {
      await host.runDaily(scheduledMs);
      return [...host.workers[0]!.proxy.operations];
    } finally {
      await host.close();
    }
  };

  const reference = async (b: Env) => {
    const env = freshEnv(b, 'def-ref');
    const host = queuedHost(env);
    await host.runDaily(scheduledMs);
    await host.close();
    const deps = await depsOf(env);
    return snapshotArchive(deps.container, deps.checkpoints);
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({
      tenant: {
        seed: 77,
        users: 3,
        teams: 1,
        channelsPerTeam: 1,
        oneOnOneChats: 2,
        groupChats: 1,
        meetingChats: 0,
        messagesPerChat: 4,
        postsPerChannel: 2,
        repliesPerPost: 1,
        historyDays: 3,
        endMs: now - 2 * HOUR,
        externalSenderFraction: 0,
      },
    });
    base = queuedTestEnv(emulator, 'def', now, { GRAPH_MAX_RETRIES: '0', GRAPH_PAGE_SIZE: '4' });
    senderBase = { ...base, EXPORT_CHAT_MODE: 'sender', EXPORT_TEAMS: 'none' };
    custodianRef = await reference(base);
  });

  afterAll(async () => {
    await emulator?.close();
  });

  /** Sender mode needs a member without a licence; only the sender-mode tests set it. */
  const withUnlicensed = async <T>(fn: () => Promise<T>): Promise<T> => {
    unlicenseOneMember(emulator);
    try {
      senderRef ??= await reference(senderBase);
      return await fn();
    } finally {
      emulator.setFaults({ entityErrors: {} });
    }
  };

  it('defect 3: a worker killed right after its checkpoint moved still has its window covered by the follow-up', async () =>
    withUnlicensed(async () => {
      // The first checkpoint write of a user job that archived something, then the kill.
      const ops = await probe(senderBase);
      const advance = ops.find((op) => isCheckpointWrite(op) && /settledWatermark/.test(op.body.toString('utf8')));
      expect(advance).toBeDefined();
      const env = freshEnv(senderBase, 'def3');
      const monitor = watermarkMonitor(tableNames(env.EXPORT_TABLE_PREFIX as string).checkpoints);
      const host = queuedHost(env, { observe: (op, status) => monitor.observe(op, status) });
      try {
        const result = await host.runDaily(scheduledMs, { atOperation: advance!.index + 1 });
        expect(result.killedAt).toBeDefined();
      } finally {
        await host.close();
      }
      expect(await problems(env, senderRef, monitor.problems)).toEqual([]);
    }));

  it('defect 12: a worker killed right after its last checkpoint write leaves every blob in a manifest and the counts right', async () => {
    const ops = await probe(base);
    // The last checkpoint write of the first job: the old code wrote the job's manifest only after it.
    const first = ops.findIndex(isCheckpointWrite);
    let last = first;
    while (last + 1 < ops.length && !/Jobs\(/.test(ops[last + 1]!.resource) && !isManifestWrite(ops[last + 1]!)) last++;
    const env = freshEnv(base, 'def12');
    const host = queuedHost(env);
    try {
      await host.runDaily(scheduledMs, { atOperation: ops[last]!.index + 1 });
    } finally {
      await host.close();
    }
    expect(await problems(env, custodianRef)).toEqual([]);
  });

  it('defect 4: a planning attempt that fails once is retried, and the run still ends with its run.json', async () => {
    const env = freshEnv(base, 'def4');
    const { queue } = hostQueues(env);
    const worker = await startHostWorker(env);
    try {
      await fireDailyTimer(worker, scheduledMs);
      // The planning message meets Graph down (the token endpoint): planning fails, a retry is queued.
      emulator.setFaults({ tokenEndpointDown: true });
      const plan = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0]!;
      expect((decode(plan.messageText) as { type?: string }).type).toBe('plan');
      await deliverTo(worker, queue, plan);
      expect((await worker.ctx.deps.runs.getRun(runId))?.status).toBe('planning');
      emulator.setFaults({ tokenEndpointDown: false });
      await drainOn(worker, env);
    } finally {
      emulator.setFaults({ tokenEndpointDown: false });
      await worker.proxy.close();
    }
    const deps = await depsOf(env);
    const run = await deps.runs.getRun(runId);
    expect(run?.status, run?.error).toBe('succeeded');
    expect(run?.error).toBeUndefined();
    expect(await readBlobBytes(deps.container, runManifestName(runId))).toBeDefined();
  });

  it('defect 6: a second planner that listed the jobs before the first wrote them resets nothing and reopens nothing', async () => {
    const env = freshEnv(base, 'def6');
    const { queue } = hostQueues(env);
    const first = await startHostWorker(env);
    const late = await startHostWorker(env);
    try {
      await fireDailyTimer(first, scheduledMs);
      const plan = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0]!;
      // The late planner (a repeated planning message) stops right after it listed the job rows.
      let release: () => void = () => undefined;
      const held = new Promise<void>((r) => (release = r));
      let listed = false;
      late.proxy.setGate(async (op): Promise<'forward'> => {
        if (listed) await held;
        if (op.service === 'table' && op.method === 'GET' && /Jobs\(\)/.test(op.resource)) listed = true;
        return 'forward';
      });
      // The same planning message, delivered a second time (to the late planner).
      const lateDone = handleOn(late, plan.messageText, 2);
      while (!listed) await new Promise((r) => setTimeout(r, 10));
      // Meanwhile the first planner plans, every job runs, and the run closes.
      await deliverTo(first, queue, plan);
      await drainOn(first, env);
      const deps = await depsOf(env);
      const closed = await deps.runs.getRun(runId);
      expect(closed?.status).toBe('succeeded');
      const before = [];
      for await (const j of deps.runs.listJobs(runId)) before.push(j);
      // Now the late planner goes on, then whatever it sent is delivered.
      release();
      await lateDone;
      await drainOn(first, env);
      const after = [];
      for await (const j of deps.runs.listJobs(runId)) after.push(j);
      expect(after.map((j) => [j.entity.id, j.status, j.attempts, j.counted])).toEqual(
        before.map((j) => [j.entity.id, j.status, j.attempts, j.counted]),
      );
      const run = await deps.runs.getRun(runId);
      expect(run?.status).toBe('succeeded');
      expect(run?.finishedAtMs).toBe(closed?.finishedAtMs);
      const { finished } = await deps.runs.counters(run!);
      expect((finished?.done ?? 0) + (finished?.skipped ?? 0) + (finished?.failed ?? 0)).toBe(run!.planned);
    } finally {
      await first.proxy.close();
      await late.proxy.close();
    }
  });

  it('defect 5: more members to cover than a follow-up carries fails the run, and it stays failed', async () => {
    const env = freshEnv({ ...senderBase }, 'def5');
    const worker = await startHostWorker(env);
    try {
      const { runs } = worker.ctx.deps;
      const id = `daily-${iso(now - HOUR)
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z')}`;
      await runs.createRun({ runId: id, kind: 'daily', status: 'running', startedAtMs: now - HOUR, nowMs: now - HOUR, planned: 1002 });
      const skipped = Array.from({ length: 1001 }, (_, i) => ({
        runId: id,
        entity: { kind: 'user' as const, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
        status: 'skipped' as const,
        counts: emptyCounts(),
        error: { status: 403, code: 'Forbidden', message: 'no licence', reason: 'no-teams-licence' },
        attempts: 1,
        counted: true,
      }));
      await runs.putJobs([
        ...skipped,
        {
          runId: id,
          entity: { kind: 'user', id: '00000000-0000-4000-8000-999999999999' },
          status: 'done',
          counts: emptyCounts(),
          attempts: 1,
          counted: true,
          readSpan: { fromMs: now - 2 * HOUR, toMs: now - HOUR },
        },
      ]);
      await writeOtherSenders(worker.ctx.deps.container, id, []);
      // Every job counted on the run's counter rows.
      const counters = TableClient.fromConnectionString(env.EXPORT_STORAGE as string, tableNames(env.EXPORT_TABLE_PREFIX as string).runs, {
        allowInsecureConnection: true,
      });
      await counters.createEntity({ partitionKey: `counts_${id}`, rowKey: '00', finishedDone: 1, finishedSkipped: 1001 });
      await finishIfComplete(worker.ctx, id, silentLogger);
      const run = await runs.getRun(id);
      expect(run?.status).toBe('failed');
      expect(run?.error).toMatch(/1001 members without a successful job/);
      expect(run?.finishedAtMs).toBeDefined();
      const manifest = JSON.parse((await readBlobBytes(worker.ctx.deps.container, runManifestName(id)))!.toString('utf8')) as {
        status: string;
      };
      expect(manifest.status).toBe('failed');
    } finally {
      await worker.proxy.close();
    }
  });

  it('defect 10: a daily run whose planning message was never sent is planned by the sweep', async () => {
    const env = freshEnv(base, 'def10');
    // The timer's send of the planning message fails (and the timer invocation with it).
    const worker = await startHostWorker(env);
    worker.proxy.setGate((op) => (op.service === 'queue' && op.method === 'POST' ? { status: 403 } : 'forward'));
    await expect(fireDailyTimer(worker, scheduledMs)).rejects.toThrow();
    worker.proxy.setGate(undefined);
    expect((await worker.ctx.deps.runs.getRun(runId))?.status).toBe('planning');
    // 20 minutes later the sweep finds it overdue and sends it again.
    const later = await startHostWorker(env, { clock: { now: () => Date.now() + 20 * MINUTE } });
    try {
      const { sweepStuck } = await import('../../src/app/sweep');
      const report = await sweepStuck(later.ctx, silentLogger);
      expect(report.plansResent).toBe(1);
      await drainOn(worker, env);
    } finally {
      await worker.proxy.close();
      await later.proxy.close();
    }
    expect(await problems(env, custodianRef)).toEqual([]);
  });

  it('a CLI run whose process died is failed by the sweep, saying why, with its run.json; one whose process lives is left alone', async () => {
    const env = freshEnv(base, 'cli-dead');
    const worker = await startHostWorker(env);
    try {
      const { openRun } = await import('../../src/export/run-lifecycle');
      const { ABANDONED_RUN_ERROR, holdRunLock } = await import('../../src/export/abandoned-runs');
      const { sweepStuck } = await import('../../src/app/sweep');
      const deps = worker.ctx.deps;
      const { run } = await openRun(deps, { kind: 'daily', nowMs: now }, Date.now(), 'running', true);
      let stop: () => void = () => undefined;
      const stopped = new Promise<void>((r) => (stop = r));
      // The CLI process runs it: its run lock is leased for as long as it does.
      const alive = holdRunLock(deps, run.runId, () => stopped);
      await new Promise((r) => setTimeout(r, 200));
      await sweepStuck(worker.ctx, silentLogger);
      expect((await deps.runs.getRun(run.runId))?.status).toBe('running');
      // The process dies without closing the run (its lock then expires; released here, which looks the same).
      stop();
      await alive;
      const report = await sweepStuck(worker.ctx, silentLogger);
      expect(report.runsFailed).toBe(1);
      expect(await deps.runs.getRun(run.runId)).toMatchObject({ status: 'failed', error: ABANDONED_RUN_ERROR });
      expect(await blobExists(deps.container, runManifestName(run.runId))).toBe(true);
    } finally {
      await worker.proxy.close();
    }
  });

  it('defect 9: a production whose worker died mid-build ends failed, saying why, instead of running forever', async () => {
    const env = freshEnv(base, 'def9');
    const host = queuedHost(env);
    try {
      await host.runDaily(scheduledMs);
      const ctx = host.workers[0]!.ctx;
      const team = emulator.tenant.teams[0]!;
      await requestProduction(
        ctx,
        { fromMs: now - 3 * 24 * HOUR, toMs: now - 25 * HOUR, users: [], teams: [team.id], conversations: [], allowUnsettled: true },
        silentLogger,
      );
      // The worker dies as it writes the first RSMF file; the host delivers the message again.
      const killed = queuedHost(env);
      const result = await killed.runQueues({
        atFirst: (op) => op.service === 'blob' && op.method === 'PUT' && /\/productions\/.*\.rsmf$/.test(op.resource),
      });
      await killed.close();
      expect(result.killedAt).toBeDefined();
    } finally {
      await host.close();
    }
    const deps = await depsOf(env);
    const statuses = [];
    for await (const b of deps.container.listBlobsFlat({ prefix: 'productions/' }))
      if (b.name.endsWith('/status.json'))
        statuses.push(JSON.parse((await readBlobBytes(deps.container, b.name))!.toString('utf8')) as { status: string; error?: string });
    expect(statuses).toHaveLength(1);
    const { PRODUCTION_WORKER_STOPPED } = await import('../../src/app/productions');
    expect(statuses[0]).toMatchObject({ status: 'failed', error: PRODUCTION_WORKER_STOPPED });
  });

  it('defect 11: an Idempotency-Key reused with another backfill body is refused', async () => {
    const env = freshEnv(base, 'def11');
    const worker = await startHostWorker(env);
    try {
      const { requestBackfillRun } = await import('../../src/app/plan-on-queue');
      const window = { fromMs: now - 3 * 24 * HOUR, toMs: now - 2 * 24 * HOUR };
      const user = emulator.tenant.users[0]!.id;
      const firstRun = await requestBackfillRun(worker.ctx, { window, users: [user], teams: [] }, silentLogger, 'key-1');
      const again = await requestBackfillRun(worker.ctx, { window, users: [user], teams: [] }, silentLogger, 'key-1');
      expect(again.runId).toBe(firstRun.runId);
      await expect(requestBackfillRun(worker.ctx, { window, users: [], teams: [] }, silentLogger, 'key-1')).rejects.toMatchObject({
        name: 'IdempotencyKeyReusedError',
      });
    } finally {
      await worker.proxy.close();
    }
  });

  it("defect 13: a worker that lost its lease on the job's last attempt records nothing; the new holder's result stands", async () => {
    const env = freshEnv(base, 'def13');
    const { queue } = hostQueues(env);
    const planner = await startHostWorker(env);
    const policy = { maxAttempts: 1 };
    // A 15 s lease: the stale worker's renewal timer fires every 5 s.
    const stale = await startHostWorker(env, { policy: { ...policy, leaseSeconds: 15 } });
    const holder = await startHostWorker(env, { policy });
    try {
      await fireDailyTimer(planner, scheduledMs);
      const plan = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0]!;
      await deliverTo(planner, queue, plan);
      const job = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0]!;
      const entity = (decode(job.messageText) as { entity: { kind: string; id: string } }).entity;
      const container = (await depsOf(env)).container;
      // The stale worker's first renewal after it started the job finds its lease broken and taken: the
      // host gave the message to another worker, which now holds the entity and waits. Until that
      // renewal, the stale worker's storage calls wait (reads and table writes alike, each already past
      // its fence), as a worker whose calls hang while its lease runs out does.
      let release: () => void = () => undefined;
      const held = new Promise<void>((r) => (release = r));
      let holderStarted: Promise<void> | undefined;
      let running = false;
      let holderAcquired = false;
      holder.proxy.setGate(async (op): Promise<'forward'> => {
        if (holderAcquired) await held;
        if (op.comp === 'lease') holderAcquired = true;
        return 'forward';
      });
      stale.proxy.setGate(async (op): Promise<'forward'> => {
        if (op.service === 'table' && ['PUT', 'PATCH', 'MERGE'].includes(op.method) && /Jobs\(/.test(op.resource)) running = true;
        else if (running && op.comp === 'lease' && op.resource.includes('/locks/') && !holderStarted) {
          await container
            .getBlobClient(op.resource.slice(op.resource.indexOf('/') + 1))
            .getBlobLeaseClient()
            .breakLease(0);
          holderStarted = handleOn(holder, job.messageText, 2);
          while (!holderAcquired) await new Promise((r) => setTimeout(r, 10));
        } else if (running) while (!holderAcquired) await new Promise((r) => setTimeout(r, 10));
        return 'forward';
      });
      await deliverTo(stale, queue, job);
      const afterStale = await (await depsOf(env)).runs.getJob(runId, { kind: entity.kind as 'user', id: entity.id });
      expect(afterStale?.status).toBe('running');
      release();
      await holderStarted;
      await drainOn(planner, env);
      const row = await (await depsOf(env)).runs.getJob(runId, { kind: entity.kind as 'user', id: entity.id });
      expect(row?.status, row?.error?.message).toBe('done');
      const run = await (await depsOf(env)).runs.getRun(runId);
      expect(run?.status, run?.error).toBe('succeeded');
    } finally {
      for (const w of [planner, stale, holder]) await w.proxy.close();
    }
  });

  it('defect 7: a follow-up longer than the job budget continues from its progress instead of running on', async () =>
    withUnlicensed(async () => {
      const env = freshEnv({ ...senderBase, EXPORT_JOB_BUDGET: 'PT1S', GRAPH_PAGE_SIZE: '1' }, 'def7');
      const { queue } = hostQueues(env);
      const covers: string[] = [];
      const worker = await startHostWorker(env);
      try {
        await fireDailyTimer(worker, scheduledMs);
        // The jobs run at full speed; the follow-ups meet a slow Graph, so each needs more than its budget.
        for (;;) {
          const m = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0];
          if (!m) break;
          const text = Buffer.from(m.messageText, 'base64').toString('utf8');
          if (/"type":"cover"/.test(text)) {
            covers.push(text);
            emulator.setFaults({ latencyMs: 900 });
          }
          await deliverTo(worker, queue, m);
        }
      } finally {
        emulator.setFaults({ latencyMs: 0 });
        await worker.proxy.close();
      }
      const sent = covers.map((c) => JSON.parse(c) as { entity: { id: string } });
      const readers = new Set(sent.map((c) => c.entity.id));
      // At least one follow-up sent itself again (its budget ran out), and nothing was lost.
      expect(readers.size).toBeGreaterThan(0);
      expect(sent.length).toBeGreaterThan(readers.size);
      expect(await problems(env, senderRef)).toEqual([]);
    }));
});
