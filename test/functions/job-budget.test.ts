// Bounded invocations that resume (docs/functions.md §3), against Azurite and the Graph emulator: a
// backfill whose reads take longer than EXPORT_JOB_BUDGET completes through continuations, a
// redelivered message (the host killed its invocation) resumes from the recorded progress, and every
// chunk is read once (the emulator counts the reads of each window). The emulator's latency knob makes
// the reads slow; the test asserts counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackfillRun, startDailyRun } from '../../src/app/start-run';
import { runJobMessage } from '../../src/app/queue-job-handler';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { silentLogger } from '../../src/log';
import { DAY, HOUR } from '../../src/time';
import { auditArchive } from '../support/archive-audit';
import { directContainer, expectClean } from '../reliability/reliability-helpers';
import { drainQueues, startFunctionsHarness, type FunctionsHarness } from './functions-harness';

const endMs = Date.now() - 2 * HOUR;

describe('a job longer than its budget', () => {
  let fh: FunctionsHarness;

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-budget',
      tenant: { seed: 31, users: 2, teams: 0, historyDays: 6, endMs },
      // Every Graph request takes 300 ms, so a one-day chunk alone uses more than a quarter of the 1 s budget,
      // and five days of chunks need at least three invocations however fast storage answers.
      faults: { latencyMs: 300 },
      env: { EXPORT_JOB_BUDGET: 'PT1S', EXPORT_CHUNK: 'P1D', GRAPH_MAX_RETRIES: '0' },
    });
  });
  afterAll(() => fh?.close());

  it('completes through continuations, each chunk read once and every version archived once', async () => {
    const user = fh.h.entities().find((e) => e.kind === 'user');
    if (!user) throw new Error('no user in the tenant');
    const window = { fromMs: endMs - 5 * DAY, toMs: endMs };
    const started = await startBackfillRun(fh.ctx, { window, users: [user.id], teams: [] }, silentLogger);
    const [original] = await fh.queuedMessages();
    expect(original).toMatchObject({ runId: started.runId, attempt: 1 });
    expect(original).not.toHaveProperty('resume');
    fh.h.emulator.resetCounters();

    // The first invocation uses its budget and hands over: the job row stays queued, progress is recorded.
    const first = await runJobMessage(fh.ctx, original, silentLogger);
    expect(first.outcome).toBe('continued');
    const progress = await fh.ctx.progress.get(started.runId, user);
    expect(progress?.fromMs).toBeGreaterThan(window.fromMs);
    expect(progress?.fromMs).toBeLessThan(window.toMs);
    expect((await fh.ctx.deps.runs.getJob(started.runId, user))?.status).toBe('queued');

    // The original message is still on the queue, as after a killed invocation: the drain delivers it
    // again beside the continuation, and both resume from the recorded progress, never from `from`.
    const continuations: unknown[] = [];
    const worker = createExportWorkerHandler(() => Promise.resolve(fh.ctx));
    const stats = await drainQueues(fh, {
      worker: async (item, context) => {
        if ((item as { resume?: unknown }).resume !== undefined) continuations.push(item);
        await worker(item, context);
      },
      poison: createExportPoisonHandler(() => Promise.resolve(fh.ctx)),
    });
    expect(stats.poisoned).toBe(0);
    expect(continuations.length).toBeGreaterThanOrEqual(2);
    for (const c of continuations) expect(c).toMatchObject({ runId: started.runId, entity: { kind: user.kind, id: user.id }, attempt: 1 });

    const summary = await fh.ctx.deps.runs.summarize(started.runId);
    expect(summary?.run.status).toBe('succeeded');
    expect(summary?.counts).toMatchObject({ planned: 1, done: 1, failed: 0, duplicates: 0 });
    const counters = fh.h.emulator.counters;
    // Each chunk read once, window by window: over every invocation (the continuations and the
    // redelivered original), no window of the user's export was asked for twice, and together the
    // windows read cover the backfill's window.
    const prefix = `current ${user.kind}:${user.id} `;
    const reads = Object.entries(counters.windowQueries).filter(([key]) => key.startsWith(prefix));
    expect(reads.filter(([, n]) => n > 1)).toEqual([]);
    expect(reads.length).toBeGreaterThanOrEqual(2);
    const spans = reads.map(([key]) => key.slice(prefix.length).split('..').map(Number) as [number, number]).sort((a, b) => a[0] - b[0]);
    let coveredTo = window.fromMs;
    for (const [fromMs, toMs] of spans) {
      expect(fromMs).toBeLessThanOrEqual(coveredTo);
      coveredTo = Math.max(coveredTo, toMs);
    }
    expect(spans[0]?.[0]).toBe(window.fromMs);
    expect(coveredTo).toBe(window.toMs);
    expect(counters.versionsServed).toBeGreaterThan(0);
    // Each chunk read once: no version was served twice over all the invocations.
    expect(counters.versionsServed).toBe(counters.ledger.size);
    expect(summary?.counts.messages).toBe(counters.ledger.size);
    const audit = await auditArchive(directContainer(fh.h.env.EXPORT_CONTAINER as string), fh.h.emulator);
    expectClean(audit);
    expect(audit.archived).toBe(counters.ledger.size);
  });
});

describe('a first run whose one wide window outlasts the budget (issue 14)', () => {
  let fh: FunctionsHarness;

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-budget-wide',
      tenant: {
        seed: 32,
        users: 2,
        teams: 0,
        oneOnOneChats: 1,
        groupChats: 0,
        meetingChats: 0,
        messagesPerChat: 60,
        historyDays: 20,
        endMs,
      },
      faults: { latencyMs: 300 },
      // EXPORT_CHUNK unset: the settle pass is one window from EXPORT_START, years back.
      env: { EXPORT_JOB_BUDGET: 'PT1S', EXPORT_START: '2018-01-01T00:00:00Z', GRAPH_PAGE_SIZE: '4', GRAPH_MAX_RETRIES: '0' },
    });
  });
  afterAll(() => fh?.close());

  it('stops between pages, records where the read stands on the checkpoint, and goes on from there: no page read twice', async () => {
    const user = fh.h.entities().find((e) => e.kind === 'user');
    if (!user) throw new Error('no user in the tenant');
    const started = await startDailyRun(fh.ctx, Date.now(), silentLogger);
    const messages = (await fh.queuedMessages()) as Array<{ entity: { id: string } }>;
    const mine = messages.find((m) => m.entity.id === user.id);
    if (!mine) throw new Error('no job for the user');
    fh.h.emulator.resetCounters();

    const first = await runJobMessage(fh.ctx, mine as never, silentLogger);
    expect(first.outcome).toBe('continued');
    // Mid-window: the watermark has not moved, the read's state (its next link) is on the checkpoint.
    const row = await fh.ctx.deps.checkpoints.get(user);
    expect(row?.settledWatermarkMs).toBeUndefined();
    expect(JSON.parse(row?.readState ?? '{}')).toMatchObject({ pass: 'settle', parts: [{ nextLink: expect.any(String) }] });

    const worker = createExportWorkerHandler(() => Promise.resolve(fh.ctx));
    const stats = await drainQueues(fh, { worker, poison: createExportPoisonHandler(() => Promise.resolve(fh.ctx)) });
    expect(stats.poisoned).toBe(0);
    const summary = await fh.ctx.deps.runs.summarize(started.runId);
    expect(summary?.run.status).toBe('succeeded');

    const counters = fh.h.emulator.counters;
    const archived = new Set(await fh.h.archivedKeys(user)).size;
    expect(archived).toBeGreaterThan(12);
    // One whole-history read per pass, continued across invocations: every version served once per
    // member of the one chat (custodian mode: both users export it), and each user's pages are what
    // the versions fill plus at most one partial page per pass.
    expect(counters.versionsServed).toBe(2 * counters.ledger.size);
    for (const u of fh.h.entities().filter((e) => e.kind === 'user'))
      expect(counters.exportRequestsByEntity[u.id]).toBeLessThanOrEqual(Math.ceil(archived / 4) + 2);
    const after = await fh.ctx.deps.checkpoints.get(user);
    expect(after?.readState).toBeUndefined();
    expect(after?.settledWatermarkMs).toBeGreaterThan(endMs - DAY * 2);
    expect(after?.lastStatus).toBe('done');
  });
});

describe('a recorded link Graph no longer honours (issue 14)', () => {
  let fh: FunctionsHarness;

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-budget-stale-link',
      tenant: {
        seed: 33,
        users: 2,
        teams: 0,
        oneOnOneChats: 1,
        groupChats: 0,
        meetingChats: 0,
        messagesPerChat: 40,
        historyDays: 20,
        endMs,
      },
      faults: { latencyMs: 300 },
      env: { EXPORT_JOB_BUDGET: 'PT1S', EXPORT_START: '2018-01-01T00:00:00Z', GRAPH_PAGE_SIZE: '4', GRAPH_MAX_RETRIES: '0' },
    });
  });
  afterAll(() => fh?.close());

  it('starts that part over from its first page and still archives every version exactly once', async () => {
    const user = fh.h.entities().find((e) => e.kind === 'user');
    if (!user) throw new Error('no user in the tenant');
    const started = await startDailyRun(fh.ctx, Date.now(), silentLogger);
    const messages = (await fh.queuedMessages()) as Array<{ entity: { id: string } }>;
    const mine = messages.find((m) => m.entity.id === user.id);
    if (!mine) throw new Error('no job for the user');
    expect((await runJobMessage(fh.ctx, mine as never, silentLogger)).outcome).toBe('continued');
    const stored = JSON.parse((await fh.ctx.deps.checkpoints.get(user))?.readState ?? '{}') as { parts?: Array<{ nextLink?: string }> };
    expect(stored.parts?.[0]?.nextLink).toEqual(expect.any(String));

    // The next request for a continuation link (the recorded one) is refused as an expired token.
    fh.h.emulator.setFaults({ invalidContinuationTokens: 1 });
    const worker = createExportWorkerHandler(() => Promise.resolve(fh.ctx));
    const stats = await drainQueues(fh, { worker, poison: createExportPoisonHandler(() => Promise.resolve(fh.ctx)) });
    expect(stats.poisoned).toBe(0);
    expect(fh.h.emulator.faults.invalidContinuationTokens).toBe(0);
    const summary = await fh.ctx.deps.runs.summarize(started.runId);
    expect(summary?.run.status).toBe('succeeded');
    expect(summary?.counts.failed).toBe(0);
    // Re-read versions are skipped, not archived twice; the watermark moved and the read state is gone.
    const keys = await fh.h.archivedKeys(user);
    expect(keys.length).toBeGreaterThan(12);
    expect(new Set(keys).size).toBe(keys.length);
    const after = await fh.ctx.deps.checkpoints.get(user);
    expect(after?.readState).toBeUndefined();
    expect(after?.settledWatermarkMs).toBeGreaterThan(endMs - 2 * DAY);
  });
});
