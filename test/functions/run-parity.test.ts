// Both ways of running an export share one run lifecycle: the same tenant run through the single-process
// run (CLI, demo, bench) and through the Functions queue (timer/backfill → jobs queue → worker) must
// leave the same run.json, apart from the run id and the times.
import type { Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveContainer } from '../../src/archive/archive-container';
import { readBlobBytes } from '../../src/archive/batch-reader';
import { runManifestName } from '../../src/archive/blob-layout';
import { startBackfillRun } from '../../src/app/start-run';
import { buildDeps, type AppDeps } from '../../src/deps';
import { runExport } from '../../src/export/run-in-process';
import { silentLogger } from '../../src/log';
import { loadSettings } from '../../src/settings';
import { DAY, HOUR, iso, MINUTE } from '../../src/time';
import { createDailyExportHandler } from '../../functions/daily-export';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { testStorage } from '../support/storage';
import { drainQueues, startFunctionsHarness, type FunctionsHarness } from './functions-harness';

const now = Date.now();
const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;

async function runManifest(container: ArchiveContainer, runId: string): Promise<Record<string, unknown>> {
  const bytes = await readBlobBytes(container, runManifestName(runId));
  expect(bytes, `run.json of ${runId}`).toBeDefined();
  return JSON.parse(bytes!.toString('utf8')) as Record<string, unknown>;
}

/**
 * run.json without what differs between any two runs: the id, the times, and the request ids Graph
 * gives each response (quoted in a skipped job's error).
 */
function comparable(manifest: Record<string, unknown>): Record<string, unknown> {
  const { runId: _id, startedAt: _start, finishedAt: _end, ...rest } = manifest;
  return JSON.parse(
    JSON.stringify(rest)
      .replace(/("requestId":")[^"]*"/g, '$1…"')
      .replace(/request-id [0-9a-f-]+/g, 'request-id …'),
  ) as Record<string, unknown>;
}

describe('run.json from the single-process run and from the queue', () => {
  const members = () => fh.h.emulator.tenant.users.filter((u) => u.userType === 'Member').length;
  let fh: FunctionsHarness;
  let cliDeps: AppDeps;
  let cliEnv: Record<string, string | undefined>;
  let handlers: { worker: ReturnType<typeof createExportWorkerHandler>; poison: ReturnType<typeof createExportPoisonHandler> };

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-parity',
      tenant: { seed: 21, users: 6, teams: 2, historyDays: 8, endMs: now - 2 * HOUR },
      faults: { copilotRps: null },
      // Content maps quote Graph's request ids for content that failed, which would make the byte totals differ.
      // Copilot and meeting jobs too (docs/design.md §18): the same kinds, counts and skips both ways.
      env: {
        EXPORT_HOSTED_CONTENTS: 'false',
        EXPORT_ATTACHMENTS: 'false',
        EXPORT_COPILOT: 'true',
        EXPORT_MEETINGS: 'true',
        GRAPH_COPILOT_RPS: '1000',
        GRAPH_MEETING_RPS: '1000',
      },
    });
    // The single-process run reads the same tenant into its own container and tables.
    const other = testStorage('fn-parity-cli');
    cliEnv = { ...fh.h.env, EXPORT_CONTAINER: other.container, EXPORT_TABLE_PREFIX: other.tablePrefix };
    cliDeps = await buildDeps(loadSettings(cliEnv), { log: silentLogger });
    const getCtx = () => Promise.resolve(fh.ctx);
    handlers = { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) };
  });
  afterAll(() => fh?.close());

  it('a daily run writes the same run.json either way', async () => {
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: iso(scheduledMs - DAY), next: iso(scheduledMs), lastUpdated: iso(scheduledMs - DAY) },
    };
    await createDailyExportHandler(() => Promise.resolve(fh.ctx))(timer, fh.invocation('dailyExport'));
    expect((await drainQueues(fh, handlers)).failedDeliveries).toBe(0);
    const [queued] = await fh.ctx.deps.runs.listRuns();
    const single = await runExport({ kind: 'daily', nowMs: scheduledMs }, cliDeps);
    expect(single.status).toBe('succeeded');

    const viaQueue = await runManifest(fh.ctx.deps.container, queued!.runId);
    const viaProcess = await runManifest(cliDeps.container, single.runId);
    expect(comparable(viaQueue)).toEqual(comparable(viaProcess));
    // Not two empty documents: the run did work, and lists the entities without Teams data as skipped.
    expect(viaQueue).toMatchObject({
      kind: 'daily',
      status: 'succeeded',
      now: iso(scheduledMs),
      // Each member user also has a Copilot job and a meetings job.
      totals: { planned: fh.h.entities().length + 2 * members(), failed: 0 },
    });
    expect((viaQueue.totals as { messages: number }).messages).toBeGreaterThan(0);
    const noData = fh.h.emulator.tenant.users.filter((u) => !u.hasTeamsData).length;
    expect(noData).toBeGreaterThan(0);
    const jobs = viaQueue.jobs as Array<{ status: string; entity: { kind: string } }>;
    expect(jobs.filter((j) => j.entity.kind === 'user')).toHaveLength(noData);
    for (const job of jobs) expect(job.status).toBe('skipped');
    const kinds = (viaQueue.report as { kinds: Record<string, { exported: number }> }).kinds;
    expect(kinds.copilot?.exported).toBeGreaterThan(0);
    expect(kinds.meetings?.exported).toBeGreaterThan(0);
  });

  it('a backfill of named entities writes the same run.json either way', async () => {
    const user = fh.h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const team = fh.h.emulator.tenant.teams[0]!;
    const window = { fromMs: now - 5 * DAY, toMs: now - HOUR };
    const started = await startBackfillRun(fh.ctx, { window, users: [user.id], teams: [team.id] }, silentLogger);
    expect((await drainQueues(fh, handlers)).failedDeliveries).toBe(0);
    const single = await runExport({ kind: 'backfill', window, users: [user.id], teams: [team.id] }, cliDeps);
    expect(single.status).toBe('succeeded');

    const viaQueue = await runManifest(fh.ctx.deps.container, started.runId);
    expect(comparable(viaQueue)).toEqual(comparable(await runManifest(cliDeps.container, single.runId)));
    expect(viaQueue).toMatchObject({
      kind: 'backfill',
      status: 'succeeded',
      from: iso(window.fromMs),
      to: iso(window.toMs),
      totals: { planned: 4, done: 4 },
      jobs: [],
    });
  });

  it('a run Graph refuses the teams for fails the same way either way, with the same report', async () => {
    // A missing ChannelMessage.Read.All (docs/graph-errors.md). One job at a time on both sides, so one
    // team is refused and the other is not run; which one depends on the queue's order, so the jobs are
    // compared by status and reason.
    fh.h.emulator.setFaults({ entityErrors: { 'team:*': 'missingChannelRole' } });
    try {
      const at = scheduledMs + MINUTE;
      const timer: Timer = {
        isPastDue: false,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: iso(scheduledMs), next: iso(at), lastUpdated: iso(scheduledMs) },
      };
      await createDailyExportHandler(() => Promise.resolve(fh.ctx))(timer, fh.invocation('dailyExport'));
      expect((await drainQueues(fh, handlers, { batchSize: 1 })).failedDeliveries).toBe(0);
      const queued = (await fh.ctx.deps.runs.listRuns()).find((r) => r.nowMs === at)!;
      const oneAtATime = await buildDeps(loadSettings({ ...cliEnv, EXPORT_CONCURRENCY: '1' }), { log: silentLogger });
      const single = await runExport({ kind: 'daily', nowMs: at }, oneAtATime);
      expect(single.status).toBe('failed');

      const viaQueue = await runManifest(fh.ctx.deps.container, queued.runId);
      const viaProcess = await runManifest(cliDeps.container, single.runId);
      const outcome = (m: Record<string, unknown>) => ({
        ...comparable(m),
        jobs: (m.jobs as Array<{ status: string; error?: { reason?: string } }>).map((j) => `${j.status} ${j.error?.reason}`).sort(),
      });
      expect(outcome(viaQueue)).toEqual(outcome(viaProcess));
      expect(viaQueue).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/^Graph refused teams: the app lacks the Graph application permission ChannelMessage\.Read\.All/),
      });
      expect((viaQueue.report as { kinds: Record<string, unknown> }).kinds.team).toEqual({
        planned: 2,
        exported: 0,
        skipped: { 'run-failed': 1 },
        failed: 1,
        refused: 1,
        pending: 0,
      });
      // The queued run failed at once, with the line the failed-run alert looks for (infra/app/alerts.bicep).
      const failedLines = fh.logs.filter(
        (l) => String(l.args[0]).startsWith('run failed') && JSON.stringify(l.args).includes(queued.runId),
      );
      expect(failedLines).toHaveLength(1);
      expect((await fh.ctx.deps.runs.getRun(queued.runId))?.status).toBe('failed');
    } finally {
      fh.h.emulator.setFaults({ entityErrors: {} });
    }
  });
});
