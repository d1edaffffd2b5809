// At-least-once delivery and overlapping work: every queue message delivered twice, two workers on the
// same entity at once, and a backfill racing the daily run (through the Functions queue and in one
// process). The archive must hold every version exactly once and the daily watermarks stay the daily run's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackfillRun, startDailyRun } from '../../src/app/start-run';
import { silentLogger } from '../../src/log';
import { DAY, HOUR, MINUTE } from '../../src/time';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { auditArchive, reportScenario, rowOf } from '../support/archive-audit';
import { startHarness } from '../support/harness';
import { directContainer, expectClean } from './reliability-helpers';
import { drainQueues, startFunctionsHarness, type FunctionsHarness } from '../functions/functions-harness';

const LAG = 5 * MINUTE;

describe('through the Functions queue', () => {
  let fh: FunctionsHarness;
  const now = Date.now();
  const scheduledMs = now - (now % MINUTE) - MINUTE;
  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'rel-fn-dup',
      tenant: { seed: 101, users: 6, teams: 2, historyDays: 30, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '5', EXPORT_CHUNK: 'P10D' },
      faults: { latencyMs: 2 },
    });
  });
  afterAll(() => fh?.close());

  it('every message delivered twice, and a backfill overlapping the daily run, archive each version exactly once', async () => {
    const getCtx = () => Promise.resolve(fh.ctx);
    const handlers = { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) };
    const daily = await startDailyRun(fh.ctx, scheduledMs, silentLogger);
    const backfill = await startBackfillRun(
      fh.ctx,
      { window: { fromMs: now - 20 * DAY, toMs: now - HOUR }, users: [], teams: [] },
      silentLogger,
    );
    // Duplicate every message: take each one and send it back twice.
    const originals: Array<{ messageId: string; popReceipt: string; messageText: string }> = [];
    for (;;) {
      const { receivedMessageItems } = await fh.queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 120 });
      if (receivedMessageItems.length === 0) break;
      originals.push(...receivedMessageItems);
    }
    for (const m of originals) {
      await fh.queue.sendMessage(m.messageText);
      await fh.queue.sendMessage(m.messageText);
      await fh.queue.deleteMessage(m.messageId, m.popReceipt);
    }
    const duplicated = originals.length;
    expect(duplicated).toBe(2 * fh.h.entities().length); // one daily and one backfill job per entity
    const stats = await drainQueues(fh, handlers, { batchSize: 16 });
    expect(stats.poisoned).toBe(0);
    expect(stats.handled).toBeGreaterThanOrEqual(2 * duplicated);

    for (const runId of [daily.runId, backfill.runId]) {
      const summary = await fh.ctx.deps.runs.summarize(runId);
      expect(summary?.run.status, runId).toBe('succeeded');
      expect(summary?.counts).toMatchObject({ planned: fh.h.entities().length, queued: 0, running: 0, failed: 0 });
    }
    // The daily watermarks are the daily run's, whatever order the jobs ran in.
    for (const e of fh.h.entities()) {
      const cp = await fh.ctx.deps.checkpoints.get(e);
      if (cp?.freshWatermarkMs !== undefined) expect(cp.freshWatermarkMs).toBe(scheduledMs - LAG);
    }
    const audit = await auditArchive(directContainer(fh.h.env.EXPORT_CONTAINER as string), fh.h.emulator, {
      entities: fh.h.entities(),
      currentBefore: scheduledMs - LAG,
    });
    reportScenario(
      rowOf('queue: every message twice + overlapping backfill', `${duplicated} messages, each delivered twice; 16 in parallel`, 2, audit),
    );
    expectClean(audit);
  });
});

describe('in one process', () => {
  it('two workers on the same entities at once, and a backfill racing the daily run, add no duplicates', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'rel-race',
      tenant: { seed: 102, users: 4, teams: 1, historyDays: 30, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '4', EXPORT_CHUNK: 'P10D' },
      faults: { latencyMs: 3 },
    });
    // A run waits for an entity's lease for the lease's length plus 5 s, enough for a crashed holder;
    // here the holder is alive and, on a busy machine, may export the entity for longer than that.
    // Waiting as long as it takes keeps the test about serialisation, not about speed.
    h.deps.leaseWaitMs = 10 * 60_000;
    try {
      const [a, b, c] = await Promise.all([h.daily(now), h.daily(now), h.backfill({ fromMs: now - 25 * DAY, toMs: now - HOUR })]);
      for (const o of [a, b, c]) expect(o.status, JSON.stringify(o.results.filter((r) => r.error).map((r) => r.error))).toBe('succeeded');
      // The leases serialised them: the versions were written once, the others found them archived.
      expect(a.progress.messages + b.progress.messages + c.progress.messages).toBeGreaterThan(0);
      for (const e of h.entities()) {
        const cp = await h.deps.checkpoints.get(e);
        if (cp?.freshWatermarkMs !== undefined) expect(cp.freshWatermarkMs).toBe(now - LAG);
      }
      const audit = await auditArchive(directContainer(h.env.EXPORT_CONTAINER as string), h.emulator, {
        entities: h.entities(),
        currentBefore: now - LAG,
      });
      reportScenario(rowOf('two daily runs + a backfill at once (one process)', 'same entities, concurrent jobs', 3, audit));
      expectClean(audit);
    } finally {
      await h.close();
    }
  });
});
