// The daily timer, the jobs queue and the worker, end to end against Azurite and the Graph emulator:
// fan-out, idempotent triggers, a drained queue archiving the same versions as the CLI's run,
// harmless duplicates, and jobs that keep failing ending as failed job records.
import type { Timer } from '@azure/functions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entityPrefix } from '../../src/archive/blob-layout';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import { startDailyRun, startBackfillRun, dailyRunId } from '../../src/app/start-run';
import { encodeJobMessage, type JobMessage } from '../../src/app/job-message';
import { buildDeps, type AppDeps } from '../../src/deps';
import { runExport } from '../../src/export/run-in-process';
import { emptyCounts } from '../../src/model/job';
import type { Entity } from '../../src/model/entity';
import { versionKeyFromLine } from '../../src/graph/message-schema';
import { silentLogger } from '../../src/log';
import { loadSettings } from '../../src/settings';
import { DAY, HOUR, iso, MINUTE } from '../../src/time';
import { createDailyExportHandler } from '../../functions/daily-export';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { testStorage } from '../support/storage';
import { decode, drainQueues, runPlanningMessages, startFunctionsHarness, type FunctionsHarness } from './functions-harness';

const now = Date.now();
const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;

function timer(nextMs: number, isPastDue = false): Timer {
  return {
    isPastDue,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: iso(nextMs - DAY), next: iso(nextMs), lastUpdated: iso(nextMs - DAY) },
  };
}

async function archivedKeys(deps: AppDeps, entity: Entity): Promise<string[]> {
  const keys: string[] = [];
  for await (const b of listBatches(deps.container, entityPrefix(entity))) {
    for await (const line of readBatchLines(deps.container, b.name)) keys.push(versionKeyFromLine(line) ?? 'unparseable');
  }
  return keys.sort();
}

describe('daily run over the jobs queue', () => {
  // Every test gets its own emulator, storage and queues and builds the state it needs, so the tests
  // pass in any order and one at a time (vitest --sequence.shuffle, -t).
  let fh: FunctionsHarness;
  let handlers: { worker: ReturnType<typeof createExportWorkerHandler>; poison: ReturnType<typeof createExportPoisonHandler> };
  let dailyExport: ReturnType<typeof createDailyExportHandler>;

  beforeEach(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-daily',
      tenant: { seed: 21, users: 6, teams: 2, historyDays: 12, endMs: now - 2 * HOUR },
      env: { GRAPH_MAX_RETRIES: '0' },
      policy: { maxAttempts: 3 },
    });
    const getCtx = () => Promise.resolve(fh.ctx);
    dailyExport = createDailyExportHandler(getCtx);
    handlers = { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) };
  });
  afterEach(() => fh?.close());

  /** The daily run of `scheduledMs`, fanned out by the timer and drained by the worker. */
  async function finishedDailyRun(): Promise<string> {
    await dailyExport(timer(scheduledMs), fh.invocation('dailyExport'));
    const stats = await drainQueues(fh, handlers);
    expect(stats.failedDeliveries).toBe(0);
    return dailyRunId(scheduledMs);
  }

  it('the timer creates one run for its scheduled time and queues one planning message, which queues one job per entity', async () => {
    await dailyExport(timer(scheduledMs), fh.invocation('dailyExport'));
    // The timer only records the run and sends one planning message: no entity job yet.
    expect(await fh.queuedMessages()).toEqual([
      { v: 1, type: 'plan', runId: dailyRunId(scheduledMs), mode: { kind: 'daily', now: iso(scheduledMs) }, attempt: 1 },
    ]);
    expect((await fh.ctx.deps.runs.getRun(dailyRunId(scheduledMs)))?.status).toBe('planning');
    expect(await runPlanningMessages(fh, handlers.worker)).toBe(1);
    const messages = (await fh.queuedMessages()) as Array<{
      runId: string;
      entity: { kind: string; id: string };
      attempt: number;
      mode: { kind: string; now: string };
    }>;
    const entities = fh.h.entities();
    expect(messages.map((m) => `${m.entity.kind}:${m.entity.id}`).sort()).toEqual(entities.map((e) => `${e.kind}:${e.id}`).sort());
    const runId = dailyRunId(scheduledMs);
    expect(runId).toMatch(/^daily-\d{8}T\d{6}Z$/);
    for (const m of messages) expect(m).toMatchObject({ runId, attempt: 1, mode: { kind: 'daily', now: iso(scheduledMs) } });
    const summary = await fh.ctx.deps.runs.summarize(runId);
    expect(summary?.run.status).toBe('running');
    expect(summary?.counts).toMatchObject({ planned: entities.length, queued: entities.length, done: 0 });
  });

  it('a repeated or past-due trigger for the same scheduled time adds no run and no message', async () => {
    await dailyExport(timer(scheduledMs), fh.invocation('dailyExport'));
    expect(await runPlanningMessages(fh, handlers.worker)).toBe(1);
    await dailyExport(timer(scheduledMs, true), fh.invocation('dailyExport'));
    await dailyExport(timer(scheduledMs), fh.invocation('dailyExport'));
    expect(await fh.queuedMessages()).toHaveLength(fh.h.entities().length);
    const runs = await fh.ctx.deps.runs.listRuns();
    expect(runs.map((r) => r.runId)).toEqual([dailyRunId(scheduledMs)]);
  });

  it('a repeat after a crash mid-enqueue sends the jobs that were not sent yet', async () => {
    // The state a crash leaves: run created (planned still 0), one job row written, nothing sent.
    const crashedAt = scheduledMs - DAY;
    const runId = dailyRunId(crashedAt);
    const [first] = fh.h.entities();
    await fh.ctx.deps.runs.createRun({ runId, kind: 'daily', status: 'running', startedAtMs: crashedAt, planned: 0, nowMs: crashedAt });
    await fh.ctx.deps.runs.putJob({ runId, entity: first!, status: 'queued', counts: emptyCounts(), attempts: 0 });
    const started = await startDailyRun(fh.ctx, crashedAt, silentLogger);
    expect(started).toMatchObject({ runId, created: false, planned: fh.h.entities().length, enqueued: fh.h.entities().length });
    const again = await startDailyRun(fh.ctx, crashedAt, silentLogger);
    expect(again.enqueued).toBe(0);
    const queued = (await fh.queuedMessages()) as Array<{ runId: string; entity: { kind: string; id: string } }>;
    expect(queued.map((m) => `${m.runId} ${m.entity.kind}:${m.entity.id}`).sort()).toEqual(
      fh.h
        .entities()
        .map((e) => `${runId} ${e.kind}:${e.id}`)
        .sort(),
    );
  });

  it('draining the queue through the worker archives the same versions as a single-process run', async () => {
    const runId = await finishedDailyRun();
    const summary = await fh.ctx.deps.runs.summarize(runId);
    const noData = fh.h.emulator.tenant.users.filter((u) => !u.hasTeamsData).length;
    expect(summary?.run.status).toBe('succeeded');
    expect(summary?.counts).toMatchObject({
      planned: fh.h.entities().length,
      queued: 0,
      running: 0,
      failed: 0,
      skipped: noData,
      done: fh.h.entities().length - noData,
    });
    expect(summary?.counts.messages).toBeGreaterThan(0);

    // The CLI's run of the same tenant and time, into its own container and tables.
    const other = testStorage('fn-daily-cli');
    const cliDeps = await buildDeps(
      loadSettings({ ...fh.h.env, EXPORT_CONTAINER: other.container, EXPORT_TABLE_PREFIX: other.tablePrefix }),
      { log: silentLogger },
    );
    const outcome = await runExport({ kind: 'daily', nowMs: scheduledMs }, cliDeps);
    expect(outcome.status).toBe('succeeded');
    let total = 0;
    for (const entity of fh.h.entities()) {
      const viaQueue = await archivedKeys(fh.ctx.deps, entity);
      expect(viaQueue, `${entity.kind}:${entity.id}`).toEqual(await archivedKeys(cliDeps, entity));
      expect(new Set(viaQueue).size).toBe(viaQueue.length);
      total += viaQueue.length;
    }
    expect(total).toBe(summary?.counts.messages);
  });

  it('a duplicate delivery of a finished job changes neither the archive nor the job record', async () => {
    const runId = await finishedDailyRun();
    const entity = fh.h.entities().find((e) => e.kind === 'team')!;
    const before = await fh.ctx.deps.runs.getJob(runId, entity);
    const keysBefore = await archivedKeys(fh.ctx.deps, entity);
    const msg: JobMessage = { runId, entity, mode: { kind: 'daily', nowMs: scheduledMs }, attempt: 1 };
    await fh.queue.sendMessage(encodeJobMessage(msg));
    await fh.queue.sendMessage(encodeJobMessage(msg));
    const stats = await drainQueues(fh, handlers);
    // Delivered in parallel, one of the two may find the entity leased and come back once more.
    expect(stats.failedDeliveries).toBe(0);
    expect(stats.handled).toBeGreaterThanOrEqual(2);
    expect(await fh.ctx.deps.runs.getJob(runId, entity)).toEqual(before);
    expect(await archivedKeys(fh.ctx.deps, entity)).toEqual(keysBefore);
  });

  it('a job that keeps failing is retried with backoff up to the maximum and recorded as failed', async () => {
    const user = fh.h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const started = await startBackfillRun(
      fh.ctx,
      { window: { fromMs: now - 5 * DAY, toMs: now - HOUR }, users: [user.id], teams: [] },
      silentLogger,
    );
    fh.h.emulator.setFaults({ errorRate: 1 });
    try {
      const stats = await drainQueues(fh, handlers);
      // Each attempt completed its delivery normally (re-enqueued itself): the host's dequeue count was never burnt.
      expect(stats).toMatchObject({ handled: 3, failedDeliveries: 0, poisoned: 0 });
    } finally {
      fh.h.emulator.setFaults({ errorRate: 0 });
    }
    const job = await fh.ctx.deps.runs.getJob(started.runId, { kind: 'user', id: user.id });
    expect(job?.status).toBe('failed');
    expect(job?.attempts).toBe(3);
    expect(job?.error?.status).toBeGreaterThanOrEqual(500);
    const run = await fh.ctx.deps.runs.getRun(started.runId);
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(/1 of 1 entities failed/);
  });

  it('a job message on the poison queue marks its job failed with the reason', async () => {
    const team = fh.h.entities().find((e) => e.kind === 'team')!;
    const started = await startBackfillRun(
      fh.ctx,
      { window: { fromMs: now - 2 * DAY, toMs: now - HOUR }, users: [], teams: [team.id] },
      silentLogger,
    );
    // Move the queued job message to the poison queue, as the host does after maxDequeueCount failures.
    const {
      receivedMessageItems: [m],
    } = await fh.queue.receiveMessages({ numberOfMessages: 1 });
    expect((decode(m!.messageText) as { runId: string }).runId).toBe(started.runId);
    await fh.queue.deleteMessage(m!.messageId, m!.popReceipt);
    await fh.poison.sendMessage(m!.messageText);
    const stats = await drainQueues(fh, handlers);
    expect(stats.poisonHandled).toBe(1);
    const job = await fh.ctx.deps.runs.getJob(started.runId, team);
    expect(job?.status).toBe('failed');
    expect(job?.error?.code).toBe('PoisonMessage');
    expect((await fh.ctx.deps.runs.getRun(started.runId))?.status).toBe('failed');
  });

  it('an unreadable message ends on the poison queue and is reported, without stopping the queue', async () => {
    await fh.queue.sendMessage(Buffer.from(JSON.stringify({ v: 1, runId: '../x', attempt: 0 })).toString('base64'));
    const stats = await drainQueues(fh, handlers);
    expect(stats).toMatchObject({ failedDeliveries: 5, poisoned: 1, poisonHandled: 1 });
    expect(fh.logs.some((l) => l.level === 'error' && String(l.args[0]).includes('unreadable message on the poison queue'))).toBe(true);
    expect((await fh.poison.getProperties()).approximateMessagesCount).toBe(0);
  });
});

describe('sender chat mode over the jobs queue', () => {
  it("archives what the single-process sender run archives, guests' messages included", async () => {
    const fh = await startFunctionsHarness({
      label: 'fn-sender',
      tenant: { seed: 23, users: 8, teams: 0, historyDays: 10, endMs: now - 2 * HOUR, externalSenderFraction: 0.3 },
      env: { EXPORT_CHAT_MODE: 'sender', EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false' },
    });
    try {
      const getCtx = () => Promise.resolve(fh.ctx);
      await createDailyExportHandler(getCtx)(timer(scheduledMs), fh.invocation('dailyExport'));
      const stats = await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
      expect(stats.failedDeliveries).toBe(0);
      const other = testStorage('fn-sender-cli');
      const cliDeps = await buildDeps(
        loadSettings({ ...fh.h.env, EXPORT_CONTAINER: other.container, EXPORT_TABLE_PREFIX: other.tablePrefix }),
        { log: silentLogger },
      );
      expect((await runExport({ kind: 'daily', nowMs: scheduledMs }, cliDeps)).status).toBe('succeeded');
      const all = async (deps: AppDeps) => {
        const keys: string[] = [];
        for await (const b of listBatches(deps.container, 'messages/')) {
          for await (const line of readBatchLines(deps.container, b.name)) keys.push(versionKeyFromLine(line) ?? 'unparseable');
        }
        return keys.sort();
      };
      const viaQueue = await all(fh.ctx.deps);
      expect(new Set(viaQueue).size).toBe(viaQueue.length);
      expect(viaQueue).toEqual(await all(cliDeps));
      // Guests have no mailbox of their own: their messages arrive through the per-chat query.
      const guests = new Set(fh.h.emulator.tenant.users.filter((u) => u.userType === 'Guest').map((u) => u.id));
      expect(guests.size).toBeGreaterThan(0);
      let fromGuests = 0;
      for await (const b of listBatches(fh.ctx.deps.container, 'messages/chats/')) {
        for await (const line of readBatchLines(fh.ctx.deps.container, b.name)) {
          const m = JSON.parse(line) as { from?: { user?: { id?: string } } | null };
          if (m.from?.user?.id && guests.has(m.from.user.id)) fromGuests++;
        }
      }
      expect(fromGuests).toBeGreaterThan(0);
    } finally {
      await fh.close();
    }
  });
});
