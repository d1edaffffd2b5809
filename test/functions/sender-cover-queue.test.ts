// Sender mode over the queue (docs/design.md §15): a member whose own job is skipped (no licence) has
// sent messages in chats with licensed members. The queued run must not close when the last user job
// is counted: it sends one follow-up per user whose job succeeded, and closes after the last one, having
// archived the same versions a custodian-mode run of the same tenant archives.
import type { Timer } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { buildDeps } from '../../src/deps';
import { runExport } from '../../src/export/run-in-process';
import { silentLogger } from '../../src/log';
import { loadSettings } from '../../src/settings';
import { DAY, HOUR, iso, MINUTE } from '../../src/time';
import { createDailyExportHandler } from '../../functions/daily-export';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { allArchivedKeys, duplicatesIn } from '../support/harness';
import { testStorage } from '../support/storage';
import { drainQueues, startFunctionsHarness } from './functions-harness';
import { queuedHost } from '../support/queued-host';
import type { StorageOperation } from '../../emulator/storage-proxy';
import { randomBytes } from 'node:crypto';

/** Fresh storage names for another deployment on the same Azurite and emulator. */
function fresh(label: string) {
  const s = testStorage(`fn-cover-${label}`);
  return { EXPORT_CONTAINER: s.container, EXPORT_TABLE_PREFIX: s.tablePrefix, EXPORT_QUEUE: `q-cover-${randomBytes(6).toString('hex')}` };
}

/** The JSON of a queue message as the SDK sends it (base64 inside <MessageText>). */
function decodeQueueBody(body: Buffer): string {
  const m = /<MessageText>([^<]*)<\/MessageText>/.exec(body.toString('utf8'));
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
}

/**
 * A sender-mode tenant of 5 users, the first member without a licence (so the run needs follow-ups),
 * and a timer that starts the daily run of 3 minutes ago.
 */
async function senderModeRun(label: string, seed: number) {
  const now = Date.now();
  const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;
  const fh = await startFunctionsHarness({
    label,
    tenant: { seed, users: 5, teams: 0, historyDays: 4, endMs: now - 2 * HOUR },
    env: { EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false', EXPORT_ATTACHMENTS: 'false', EXPORT_CHAT_MODE: 'sender' },
  });
  const unlicensed = fh.h.emulator.tenant.users.filter((u) => u.hasTeamsData && u.userType === 'Member')[0]!;
  fh.h.emulator.setFaults({ entityErrors: { [unlicensed.id]: 'noLicence' } });
  const getCtx = () => Promise.resolve(fh.ctx);
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: iso(scheduledMs - DAY), next: iso(scheduledMs), lastUpdated: iso(scheduledMs - DAY) },
  };
  return { fh, unlicensed, getCtx, startRun: () => createDailyExportHandler(getCtx)(timer, fh.invocation('dailyExport')) };
}

describe('sender mode over the queue', () => {
  it('covers a member whose own job was skipped with follow-ups, then closes the run', async () => {
    const now = Date.now();
    const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;
    const fh = await startFunctionsHarness({
      label: 'fn-sender-cover',
      tenant: { seed: 54, users: 8, teams: 0, historyDays: 8, endMs: now - 2 * HOUR, externalSenderFraction: 0.2 },
      env: { EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false', EXPORT_ATTACHMENTS: 'false', EXPORT_CHAT_MODE: 'sender' },
    });
    try {
      const t = fh.h.emulator.tenant;
      const unlicensed = t.users.find(
        (u) =>
          u.hasTeamsData &&
          u.userType === 'Member' &&
          t.chats.some((c) => c.memberIds.includes(u.id) && c.conversation.messages.some((m) => m.fromIdx === t.userIndexOf(u.id))),
      )!;
      fh.h.emulator.setFaults({ entityErrors: { [unlicensed.id]: 'noLicence' } });

      // Custodian mode, single process, same tenant, its own container and tables: the reference.
      const other = testStorage('fn-sender-cover-custodian');
      const custodian = await buildDeps(
        loadSettings({
          ...fh.h.env,
          EXPORT_CHAT_MODE: 'custodian',
          EXPORT_CONTAINER: other.container,
          EXPORT_TABLE_PREFIX: other.tablePrefix,
        }),
        { log: silentLogger },
      );
      const reference = await runExport({ kind: 'daily', nowMs: scheduledMs }, custodian);
      expect(reference.status, reference.error).toBe('succeeded');
      const custodianKeys = new Set(await allArchivedKeys(custodian));
      const sent = t.chats.flatMap((c) =>
        c.conversation.messages.filter((m) => m.fromIdx === t.userIndexOf(unlicensed.id)).map((m) => t.keyOf(m, m.v)),
      );
      expect(sent.some((k) => custodianKeys.has(k))).toBe(true);

      // Sender mode through the queue: timer → planning → user jobs → follow-ups.
      const getCtx = () => Promise.resolve(fh.ctx);
      const timer: Timer = {
        isPastDue: false,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: iso(scheduledMs - DAY), next: iso(scheduledMs), lastUpdated: iso(scheduledMs - DAY) },
      };
      await createDailyExportHandler(getCtx)(timer, fh.invocation('dailyExport'));
      const stats = await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
      expect(stats.failedDeliveries).toBe(0);

      const [run] = await fh.ctx.deps.runs.listRuns();
      expect(run!.status, run!.error).toBe('succeeded');
      expect((await fh.ctx.deps.runs.getJob(run!.runId, { kind: 'user', id: unlicensed.id }))?.status).toBe('skipped');
      // One follow-up per user whose job succeeded, each counted before the run closed.
      let readers = 0;
      for await (const j of fh.ctx.deps.runs.listJobs(run!.runId)) {
        if (j.entity.kind !== 'user' || j.status !== 'done') continue;
        readers++;
        expect(j.covered, `${j.entity.id} covered`).toBe(true);
        expect(j.readSpan).toBeDefined();
      }
      expect(readers).toBeGreaterThan(0);
      expect(run!.coverPlanned).toBe(readers);
      expect((await fh.ctx.deps.runs.counters(run!)).coverFinished).toBe(readers);
      expect(run!.finishedAtMs).toBeDefined();

      const senderKeys = await allArchivedKeys(fh.ctx.deps);
      expect(duplicatesIn(senderKeys)).toEqual([]);
      expect([...new Set(senderKeys)].sort()).toEqual([...custodianKeys].sort());
    } finally {
      await fh.close();
    }
  });

  it('fails the run, naming the reader, when a follow-up fails for good', async () => {
    const { fh, unlicensed, getCtx, startRun } = await senderModeRun('fn-sender-cover-fail', 55);
    try {
      const worker = createExportWorkerHandler(getCtx);
      let reader: string | undefined;
      // The first follow-up's user: Graph now refuses its reads for good (its own job has succeeded).
      const failingWorker: typeof worker = async (item, context) => {
        const m = item as { type?: string; entity?: { id: string } };
        if (m.type === 'cover' && reader === undefined) {
          reader = m.entity!.id;
          fh.h.emulator.setFaults({ entityErrors: { [unlicensed.id]: 'noLicence', [reader]: 'badFilter' } });
        }
        await worker(item, context);
      };
      await startRun();
      await drainQueues(fh, { worker: failingWorker, poison: createExportPoisonHandler(getCtx) }, { batchSize: 1 });

      expect(reader).toBeDefined();
      const [run] = await fh.ctx.deps.runs.listRuns();
      expect(run!.status).toBe('failed');
      expect(run!.finishedAtMs).toBeDefined();
      expect((await fh.ctx.deps.runs.counters(run!)).coverFinished).toBe(run!.coverPlanned);
      const job = await fh.ctx.deps.runs.getJob(run!.runId, { kind: 'user', id: reader! });
      expect(job?.status).toBe('failed');
      expect(job?.error?.message).toMatch(/sender-mode follow-up/);
    } finally {
      await fh.close();
    }
  });

  it('the follow-ups are sent again when the worker that claimed them died before sending them all', async () => {
    const { fh } = await senderModeRun('fn-sender-cover-crash', 56);
    const now = Date.now();
    const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;
    // The worker that claims the follow-ups dies as it sends the first one (the send never reaches the
    // queue): its message comes back to a new worker, which must send them all again.
    const coverSend = (op: StorageOperation) =>
      op.service === 'queue' && op.method === 'POST' && /"type":"cover"/.test(decodeQueueBody(op.body));
    const probe = queuedHost({ ...fh.h.env, ...fresh('probe') });
    await probe.runDaily(scheduledMs);
    const killAt = probe.workers[0]!.proxy.operations.find(coverSend)?.index;
    await probe.close();
    expect(killAt, 'the reference run sends follow-ups').toBeDefined();

    const env = { ...fh.h.env, ...fresh('killed') };
    const host = queuedHost(env);
    try {
      const result = await host.runDaily(scheduledMs, { atOperation: killAt! });
      expect(coverSend(result.killedAt!)).toBe(true);
      const deps = host.workers.at(-1)!.ctx.deps;
      const [run] = await deps.runs.listRuns();
      expect(run?.status, run?.error).toBe('succeeded');
      expect(run?.coverPlanned).toBeGreaterThan(0);
      expect((await deps.runs.counters(run!)).coverFinished).toBeGreaterThanOrEqual(run!.coverPlanned!);
      for await (const j of deps.runs.listJobs(run!.runId)) if (j.status === 'done') expect(j.covered, j.entity.id).toBe(true);
    } finally {
      await host.close();
      await fh.close();
    }
  });
});
