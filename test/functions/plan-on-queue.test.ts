// Planning on the queue (docs/functions.md §3), against Azurite and the Graph emulator: POST
// /api/backfills and the timer answer after recording the run and sending ONE planning message,
// whatever the tenant's size; a planning failure on the queue is retried and ends in a failed run; a
// retried request with the same Idempotency-Key gets the same run.
import { HttpRequest, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GetAppContext } from '../../src/app/app-context';
import { dailyRunId } from '../../src/app/start-run';
import { DAY, HOUR, iso, MINUTE } from '../../src/time';
import { createDailyExportHandler } from '../../functions/daily-export';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createStartBackfillHandler } from '../../functions/start-backfill';
import { drainQueues, startFunctionsHarness, type FunctionsHarness } from './functions-harness';
import { principalHeaders } from '../support/principal';

const BASE = 'http://localhost:7071/api/';
const now = Date.now();

function post(body: unknown, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `${BASE}backfills`,
    body: { string: JSON.stringify(body) },
    headers: { 'content-type': 'application/json', ...principalHeaders(), ...headers },
  });
}

type Json = any;

describe('planning on the queue', () => {
  let fh: FunctionsHarness;
  let getCtx: GetAppContext;
  let startBackfill: ReturnType<typeof createStartBackfillHandler>;
  const window = { from: iso(now - 5 * DAY), to: iso(now - HOUR) };

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-plan',
      tenant: { seed: 41, users: 40, teams: 10, historyDays: 2, endMs: now - 2 * HOUR, messagesPerChat: 1, postsPerChannel: 1 },
      env: { GRAPH_MAX_RETRIES: '0' },
      policy: { maxAttempts: 2 },
    });
    getCtx = () => Promise.resolve(fh.ctx);
    startBackfill = createStartBackfillHandler(getCtx);
  });
  afterAll(() => fh?.close());

  async function clearQueue(): Promise<void> {
    await fh.queue.clearMessages();
  }

  it('POST /api/backfills answers before planning: one planning message, no entity job, no Graph request', async () => {
    fh.h.emulator.resetCounters();
    const res = await startBackfill(post(window), fh.invocation('startBackfill'));
    expect(res.status).toBe(202);
    const body = res.jsonBody as Json;
    expect(body).toMatchObject({ status: 'planning', planned: 0 });
    // The answer did not depend on the tenant: nothing was listed, one message was sent.
    expect(fh.h.emulator.counters.graphRequests).toBe(0);
    expect(await fh.queuedMessages()).toEqual([
      { v: 1, type: 'plan', runId: body.runId, mode: { kind: 'backfill', from: window.from, to: window.to }, attempt: 1 },
    ]);
    expect((await fh.ctx.deps.runs.listJobs(body.runId)[Symbol.asyncIterator]().next()).done).toBe(true);

    // The worker plans it: one job per entity of the tenant, and the run is running.
    const worker = createExportWorkerHandler(getCtx);
    const {
      receivedMessageItems: [plan],
    } = await fh.queue.receiveMessages({ numberOfMessages: 1 });
    await worker(JSON.parse(Buffer.from(plan!.messageText, 'base64').toString('utf8')), fh.invocation('exportWorker'));
    await fh.queue.deleteMessage(plan!.messageId, plan!.popReceipt);
    const run = await fh.ctx.deps.runs.getRun(body.runId);
    expect(run).toMatchObject({ status: 'running', planned: fh.h.entities().length });
    expect(await fh.queuedMessages()).toHaveLength(fh.h.entities().length);
    await clearQueue();
  });

  it('the same Idempotency-Key returns the same run; one run row, one planning message', async () => {
    const before = (await fh.ctx.deps.runs.listRuns()).length;
    const key = 'retry-7d0c2f4e-1b5a-4c39-9f0e-2a6b8e1d3c55';
    const first = await startBackfill(post(window, { 'idempotency-key': key }), fh.invocation('startBackfill'));
    const again = await startBackfill(post(window, { 'idempotency-key': key }), fh.invocation('startBackfill'));
    expect(first.status).toBe(202);
    expect([200, 202]).toContain(again.status);
    expect((again.jsonBody as Json).runId).toBe((first.jsonBody as Json).runId);
    expect((await fh.ctx.deps.runs.listRuns()).length).toBe(before + 1);
    // The run was still 'planning' at the retry: its planning message may be sent again, never a second run.
    const plans = (await fh.queuedMessages()) as Json[];
    expect(new Set(plans.map((m) => m.runId))).toEqual(new Set([(first.jsonBody as Json).runId]));
    expect(plans.every((m) => m.type === 'plan')).toBe(true);
    // Once planned, a retry answers 200 with the run and sends nothing.
    await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
    const late = await startBackfill(post(window, { 'idempotency-key': key }), fh.invocation('startBackfill'));
    expect(late.status).toBe(200);
    expect((late.jsonBody as Json).runId).toBe((first.jsonBody as Json).runId);
    expect(await fh.queuedMessages()).toEqual([]);
    expect((await fh.ctx.deps.runs.listRuns()).length).toBe(before + 1);
  });

  it.each([
    ['too long', 'k'.repeat(101)],
    ['with a slash', 'a/b'],
    ['empty', ''],
  ])('an Idempotency-Key %s is a 400 naming the header, and starts no run', async (_what, key) => {
    const before = (await fh.ctx.deps.runs.listRuns()).length;
    const res = await startBackfill(post(window, { 'idempotency-key': key }), fh.invocation('startBackfill'));
    expect(res.status).toBe(400);
    expect((res.jsonBody as Json).error).toMatchObject({ code: 'BadRequest', fields: [{ field: 'Idempotency-Key' }] });
    expect((await fh.ctx.deps.runs.listRuns()).length).toBe(before);
  });

  it('a planning failure on the queue is retried and ends in a failed run, not one running forever', async () => {
    await clearQueue();
    const scheduledMs = now - (now % MINUTE) - 7 * MINUTE;
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: iso(scheduledMs - DAY), next: iso(scheduledMs), lastUpdated: iso(scheduledMs - DAY) },
    };
    fh.h.emulator.setFaults({ errorRate: 1 });
    try {
      await createDailyExportHandler(getCtx)(timer, fh.invocation('dailyExport'));
      const runId = dailyRunId(scheduledMs);
      expect((await fh.ctx.deps.runs.getRun(runId))?.status).toBe('planning');
      const handled: Json[] = [];
      const worker = createExportWorkerHandler(getCtx);
      await drainQueues(fh, {
        worker: async (item, ctx) => {
          handled.push(item);
          await worker(item, ctx);
        },
        poison: createExportPoisonHandler(getCtx),
      });
      // Both attempts the policy allows ran as planning messages of this run; no entity job was sent.
      expect(handled.map((m) => [m.type, m.runId, m.attempt])).toEqual([
        ['plan', runId, 1],
        ['plan', runId, 2],
      ]);
      const run = await fh.ctx.deps.runs.getRun(runId);
      expect(run?.status).toBe('failed');
      expect(run?.error).toMatch(/could not enumerate users and teams/);
      expect(run?.planned).toBe(0);
    } finally {
      fh.h.emulator.setFaults({ errorRate: 0 });
    }
  });
});
