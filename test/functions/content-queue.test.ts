// The content stage in the Functions app (docs/design.md §17), with the real handlers against Azurite
// and the emulator: a queued run closes without waiting for its content, and contentWorker settles it
// from the content queue; a lost content message is sent again by the sweep (once: the claim); a batch
// whose downloads fail is retried by a delayed message and settled when Graph answers again.
import { HttpRequest, type Timer } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import { listBatches, readBatchLines, readBlobBytes } from '../../src/archive/batch-reader';
import { contentMapName, runManifestName } from '../../src/archive/blob-layout';
import type { AppContext } from '../../src/app/app-context';
import { dailyRunId } from '../../src/app/start-run';
import type { SweepReport } from '../../src/app/sweep';
import { scanHostedContents } from '../../src/graph/hosted-content-refs';
import { contentBacklogTableName } from '../../src/state/content-backlog';
import { DAY, HOUR, iso, MINUTE } from '../../src/time';
import { createContentWorkerHandler } from '../../functions/content-worker';
import { createDailyExportHandler } from '../../functions/daily-export';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createGetRunHandler } from '../../functions/get-run';
import { createSweepHandler } from '../../functions/sweep-stuck';
import { principalHeaders } from '../support/principal';
import { decode, drainContentQueue, drainQueues, startFunctionsHarness, type FunctionsHarness } from './functions-harness';

const now = Date.now();
const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;

function timer(nextMs: number): Timer {
  return {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: iso(nextMs - DAY), next: iso(nextMs), lastUpdated: iso(nextMs - DAY) },
  };
}

interface MapEntry {
  key: string;
  kind: string;
  ref: string;
  status: string;
}

interface ContentReportView {
  fetched: boolean;
  stored: number;
  unfetched: Record<string, number>;
  pending: { batches: number; messages: number };
}

interface PendingRow {
  batch: string;
  runId: string;
  attempts: number;
  due: Date | string;
  lastReason?: string;
}

describe('content stage over the content queue', () => {
  // Each test gets its own emulator, storage and queues.
  let fh: FunctionsHarness;
  afterEach(() => fh?.close());

  async function start(label: string, env: Record<string, string> = {}) {
    fh = await startFunctionsHarness({
      label,
      tenant: { seed: 61, users: 4, teams: 1, historyDays: 6, endMs: now - 2 * HOUR, hostedContentFraction: 0.3 },
      env: { GRAPH_MAX_RETRIES: '0', EXPORT_HOSTED_CONTENTS: 'true', ...env },
    });
    const getCtx = () => Promise.resolve(fh.ctx);
    /** The app context as the host of a later instant would have it (the same stores, another clock). */
    const at = (offsetMs: number) => (): Promise<AppContext> => Promise.resolve({ ...fh.ctx, clock: { now: () => Date.now() + offsetMs } });
    return {
      getCtx,
      at,
      handlers: { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) },
      content: createContentWorkerHandler(getCtx),
      dailyExport: createDailyExportHandler(getCtx),
      getRun: createGetRunHandler(getCtx),
    };
  }

  type Started = Awaited<ReturnType<typeof start>>;

  /** The daily run of `scheduledMs` through the jobs queue only: every entity job ends; no content message is run. */
  async function runJobsOnly(s: Started): Promise<string> {
    await s.dailyExport(timer(scheduledMs), fh.invocation('dailyExport'));
    const stats = await drainQueues(fh, s.handlers);
    expect(stats.failedDeliveries).toBe(0);
    return dailyRunId(scheduledMs);
  }

  /** Every archived batch one of whose versions refers to hosted content. */
  async function batchesWithContent(): Promise<string[]> {
    const origin = new URL(fh.h.emulator.graphBaseUrl).origin;
    const out: string[] = [];
    for await (const b of listBatches(fh.ctx.deps.container, 'messages/')) {
      for await (const line of readBatchLines(fh.ctx.deps.container, b.name)) {
        if (scanHostedContents(JSON.parse(line) as unknown, origin).refs.length > 0) {
          out.push(b.name);
          break;
        }
      }
    }
    return out.sort();
  }

  async function contentMap(batch: string): Promise<MapEntry[] | undefined> {
    const bytes = await readBlobBytes(fh.ctx.deps.container, contentMapName(batch));
    return bytes ? (JSON.parse(bytes.toString('utf8')) as { entries: MapEntry[] }).entries : undefined;
  }

  /** The backlog's pending partition, read from the table itself. */
  async function pendingRows(): Promise<PendingRow[]> {
    const table = fh.ctx.deps.storage.table(contentBacklogTableName(fh.h.env.EXPORT_TABLE_PREFIX as string));
    const rows: PendingRow[] = [];
    for await (const r of table.listEntities<PendingRow>({ queryOptions: { filter: "PartitionKey eq 'pending'" } })) rows.push(r);
    return rows.sort((a, b) => a.batch.localeCompare(b.batch));
  }

  async function runView(
    s: Started,
    runId: string,
  ): Promise<{ status: string; finishedAt?: string; report: { content: ContentReportView } }> {
    const res = await s.getRun(
      new HttpRequest({ method: 'GET', url: `http://localhost:7071/api/runs/${runId}`, headers: principalHeaders(), params: { runId } }),
      fh.invocation('getRun'),
    );
    expect(res.status).toBe(200);
    return res.jsonBody as { status: string; finishedAt?: string; report: { content: ContentReportView } };
  }

  /** Messages in the content queue, visible or hidden (a delayed retry). */
  async function contentQueueCount(): Promise<number> {
    return (await fh.contentQueue.getProperties()).approximateMessagesCount ?? 0;
  }

  /** Every map of `batches` written with all its entries stored; returns how many references that is. */
  async function expectAllStored(batches: readonly string[]): Promise<number> {
    let stored = 0;
    for (const batch of batches) {
      const entries = await contentMap(batch);
      expect(entries, `content map of ${batch}`).toBeDefined();
      expect(entries!.length, batch).toBeGreaterThan(0);
      expect(
        entries!.filter((e) => e.status !== 'stored'),
        batch,
      ).toEqual([]);
      stored += entries!.length;
    }
    return stored;
  }

  /** The report the sweep logged (the handler returns nothing). */
  function lastSweepReport(): SweepReport {
    const line = fh.logs.filter((l) => l.args[0] === 'sweep finished').at(-1);
    expect(line, 'the sweep logged its report').toBeDefined();
    return line!.args[1] as SweepReport;
  }

  it('a queued run closes without waiting for its content; contentWorker then settles every batch and the report fills in', async () => {
    const s = await start('fn-content');
    const runId = await runJobsOnly(s);
    const batches = await batchesWithContent();
    expect(batches.length).toBeGreaterThan(1);

    // The jobs are through and the run is closed, its content not fetched yet: one message per batch.
    const closed = await runView(s, runId);
    expect(closed.status).toBe('succeeded');
    expect(closed.finishedAt).toBeDefined();
    expect(closed.report.content.pending.batches).toBe(batches.length);
    expect(closed.report.content.pending.messages).toBeGreaterThanOrEqual(batches.length);
    expect(closed.report.content.stored).toBe(0);
    expect((await pendingRows()).map((r) => r.batch)).toEqual(batches);
    for (const b of batches) expect(await contentMap(b), b).toBeUndefined();
    expect(await contentQueueCount()).toBe(batches.length);
    // run.json, written at the close, says the same.
    const manifest = JSON.parse((await readBlobBytes(fh.ctx.deps.container, runManifestName(runId)))!.toString('utf8')) as {
      report: { content: ContentReportView };
    };
    expect(manifest.report.content.pending.batches).toBe(batches.length);

    const stats = await drainContentQueue(fh, s.content);
    expect(stats).toMatchObject({ handled: batches.length, failedDeliveries: 0, poisoned: 0 });
    const stored = await expectAllStored(batches);
    expect(await pendingRows()).toEqual([]);
    const settled = await runView(s, runId);
    expect(settled.status).toBe('succeeded');
    expect(settled.finishedAt).toBe(closed.finishedAt);
    expect(settled.report.content).toEqual({ fetched: true, stored, unfetched: {}, pending: { batches: 0, messages: 0 } });
  });

  it('a lost content message is sent again by the sweep once its batch is overdue, once, and then settled', async () => {
    const s = await start('fn-content-lost');
    const runId = await runJobsOnly(s);
    const batches = await batchesWithContent();
    expect(batches.length).toBeGreaterThan(1);
    // Every content message lost (a crash after the batch write, a message the host gave up on).
    await fh.contentQueue.clearMessages();
    expect(await contentQueueCount()).toBe(0);
    expect((await pendingRows()).map((r) => r.batch)).toEqual(batches);

    // Not overdue yet (due 15 min after the row, taken as lost 15 min after that): nothing is sent.
    await createSweepHandler(s.at(0))(timer(now), fh.invocation('sweepStuck'));
    expect(lastSweepReport().contentResent).toBe(0);
    await createSweepHandler(s.at(25 * MINUTE))(timer(now), fh.invocation('sweepStuck'));
    expect(lastSweepReport().contentResent).toBe(0);
    expect(await contentQueueCount()).toBe(0);

    // Past due + 15 min: one message per pending batch.
    const later = s.at(31 * MINUTE);
    await createSweepHandler(later)(timer(now), fh.invocation('sweepStuck'));
    expect(lastSweepReport().contentResent).toBe(batches.length);
    expect(batches.length).toBeLessThanOrEqual(32); // one peek sees them all
    const { peekedMessageItems } = await fh.contentQueue.peekMessages({ numberOfMessages: 32 });
    expect(peekedMessageItems.map((m) => (decode(m.messageText) as { batch: string }).batch).sort()).toEqual(batches);
    for (const m of peekedMessageItems) expect(decode(m.messageText)).toMatchObject({ v: 1, type: 'content' });
    // A second sweep right after finds every row claimed (its due time moved): it sends nothing.
    await createSweepHandler(later)(timer(now), fh.invocation('sweepStuck'));
    expect(lastSweepReport().contentResent).toBe(0);
    expect(await contentQueueCount()).toBe(batches.length);

    // The host runs both functions: the jobs queue is empty, the content queue settles every batch.
    const stats = await drainQueues(fh, { ...s.handlers, content: s.content });
    expect(stats).toMatchObject({ handled: batches.length, failedDeliveries: 0, poisoned: 0 });
    const stored = await expectAllStored(batches);
    expect(await pendingRows()).toEqual([]);
    expect((await runView(s, runId)).report.content).toEqual({
      fetched: true,
      stored,
      unfetched: {},
      pending: { batches: 0, messages: 0 },
    });
  });

  it('downloads that fail are retried by a delayed message; delivered again once Graph answers, the batch is settled', async () => {
    const s = await start('fn-content-retry');
    const runId = await runJobsOnly(s);
    const batches = await batchesWithContent();
    expect(batches.length).toBeGreaterThan(1);

    // Every Graph request answers 5xx while the content messages run (GRAPH_MAX_RETRIES=0: no wait).
    fh.h.emulator.setFaults({ errorRate: 1 });
    try {
      let delivered = 0;
      for (;;) {
        const { receivedMessageItems } = await fh.contentQueue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
        if (receivedMessageItems.length === 0) break;
        for (const m of receivedMessageItems) {
          await s.content(decode(m.messageText), fh.invocation('contentWorker', { dequeueCount: m.dequeueCount, id: m.messageId }));
          await fh.contentQueue.deleteMessage(m.messageId, m.popReceipt);
          delivered++;
        }
      }
      expect(delivered).toBe(batches.length);
    } finally {
      fh.h.emulator.setFaults({ errorRate: 0 });
    }
    expect(fh.h.emulator.counters.faults.error).toBeGreaterThanOrEqual(batches.length);
    const outcomes = fh.logs.filter((l) => l.args[0] === 'content message handled').map((l) => (l.args[1] as { outcome: string }).outcome);
    expect(outcomes).toEqual(batches.map(() => 'retry'));
    // No map; each row is attempt 1, due an hour later (EXPORT_CONTENT_RETRY's default), with why.
    for (const b of batches) expect(await contentMap(b), b).toBeUndefined();
    const rows = await pendingRows();
    expect(rows.map((r) => r.batch)).toEqual(batches);
    for (const r of rows) {
      expect(r.attempts).toBe(1);
      expect(r.lastReason).toMatch(/to retry/);
      expect(new Date(r.due).getTime()).toBeGreaterThan(Date.now() + 50 * MINUTE);
    }
    // The retries wait in the queue, hidden until they are due.
    expect(await contentQueueCount()).toBe(batches.length);
    expect((await fh.contentQueue.receiveMessages({ numberOfMessages: 32 })).receivedMessageItems).toEqual([]);
    const closed = await runView(s, runId);
    expect(closed.report.content).toMatchObject({ stored: 0, pending: { batches: batches.length } });

    // The retries delivered after their due time, Graph answering again: every batch settled.
    const due = createContentWorkerHandler(s.at(2 * HOUR));
    for (const batch of batches) await due({ v: 1, type: 'content', batch }, fh.invocation('contentWorker', { dequeueCount: 1 }));
    const stored = await expectAllStored(batches);
    expect(await pendingRows()).toEqual([]);
    // A duplicate delivery of a settled batch finds nothing to do.
    await due({ v: 1, type: 'content', batch: batches[0] }, fh.invocation('contentWorker', { dequeueCount: 1 }));
    const outcomesAfter = fh.logs
      .filter((l) => l.args[0] === 'content message handled')
      .map((l) => (l.args[1] as { outcome: string }).outcome);
    expect(outcomesAfter.slice(batches.length)).toEqual([...batches.map(() => 'settled'), 'already-settled']);
    expect((await runView(s, runId)).report.content).toEqual({
      fetched: true,
      stored,
      unfetched: {},
      pending: { batches: 0, messages: 0 },
    });
  });
});
