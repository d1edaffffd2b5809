// Interleaving enumeration (docs/design.md §16): two workers run at once — the last two jobs of a
// run, or the same job delivered twice — and a deterministic scheduler over their storage operations
// (test/support/storage-scheduler.ts) runs them in every order of their conflicting operations with at
// most two preemptions. After each, the run is finished by one worker and the archive of record's
// promises must hold, as in the crash-point test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeps } from '../../src/deps';
import { silentLogger } from '../../src/log';
import { loadSettings, type Env } from '../../src/settings';
import { tableNames } from '../../src/state/run-store';
import { HOUR, MINUTE, iso } from '../../src/time';
import type { Emulator } from '../../emulator';
import { startTestEmulator } from '../support/emulator';
import { freshDeployment, queuedTestEnv, unlicenseOneMember } from '../support/queued-env';
import { deliverTo, drainOn, fireDailyTimer, hostQueues, startHostWorker, type HostWorker } from '../support/queued-host';
import { runInvariantProblems, snapshotArchive, watermarkMonitor, type ArchiveSnapshot } from '../support/run-invariants';
import { exploreSchedules, runScheduled } from '../support/storage-scheduler';
import { decode } from '../functions/functions-harness';
import { ownAzurite } from '../support/storage';

const now = Date.now();
const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;
const runId = `daily-${iso(scheduledMs)
  .replace(/[-:]/g, '')
  .replace(/\.\d+Z$/, 'Z')}`;
/** Preemptions per schedule: two are what the close-versus-follow-up race of two workers needs. */
const MAX_PREEMPTIONS = Number(process.env.TEAMS_EXPORT_INTERLEAVING_PREEMPTIONS ?? '2');
const MAX_SCHEDULES = Number(process.env.TEAMS_EXPORT_INTERLEAVING_MAX ?? '400');

interface Case {
  name: string;
  chatMode: 'custodian' | 'sender';
  /** 'last-two': the run's last two job messages, one per worker; 'same-job': one job message to both. */
  shape: 'last-two' | 'same-job';
}

const CASES: Case[] = [
  { name: 'the last two jobs of a sender-mode run', chatMode: 'sender', shape: 'last-two' },
  { name: 'the last two jobs of a custodian-mode run', chatMode: 'custodian', shape: 'last-two' },
  { name: 'one job delivered to two workers', chatMode: 'custodian', shape: 'same-job' },
];

// Its own Azurite: the most storage-hungry files keep the shared one small (support/storage.ts).
ownAzurite();

describe.each(CASES)('two workers at once: $name', (c) => {
  let emulator: Emulator;
  let baseEnv: Env;
  let reference: ArchiveSnapshot;

  const freshEnv = (label: string): Env => freshDeployment(baseEnv, label);

  const problemsOf = async (env: Env, monitor: { problems: string[] }) => {
    const deps = await buildDeps(loadSettings(env), { log: silentLogger });
    return runInvariantProblems({
      container: deps.container,
      runs: deps.runs,
      checkpoints: deps.checkpoints,
      runId,
      reference,
      watermarkProblems: monitor.problems,
    });
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({
      tenant: {
        seed: 4711,
        // Sender mode: one member without a licence and the two readers that race; else the two jobs.
        users: c.chatMode === 'sender' ? 3 : 2,
        teams: 0,
        channelsPerTeam: 1,
        oneOnOneChats: 2,
        groupChats: 1,
        meetingChats: 0,
        messagesPerChat: 4,
        postsPerChannel: 2,
        repliesPerPost: 1,
        historyDays: 2,
        endMs: now - 2 * HOUR,
        externalSenderFraction: 0,
      },
    });
    if (c.chatMode === 'sender') unlicenseOneMember(emulator);
    baseEnv = queuedTestEnv(emulator, 'il', now, { EXPORT_CHAT_MODE: c.chatMode });
    // The reference: one worker, one message at a time.
    const env = freshEnv('il-ref');
    const worker = await startHostWorker(env);
    await fireDailyTimer(worker, scheduledMs);
    await drainOn(worker, env);
    await worker.proxy.close();
    const deps = await buildDeps(loadSettings(env), { log: silentLogger });
    reference = await snapshotArchive(deps.container, deps.checkpoints);
    expect(reference.lines.length).toBeGreaterThan(5);
    expect(await problemsOf(env, { problems: [] })).toEqual([]);
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it('keeps every promise in every order of their conflicting storage operations', async () => {
    const failures: string[] = [];
    const result = await exploreSchedules(
      async (prefix) => {
        const env = freshEnv('il');
        const monitor = watermarkMonitor(tableNames(env.EXPORT_TABLE_PREFIX as string).checkpoints);
        const observe = (op: Parameters<typeof monitor.observe>[0], status: number) => monitor.observe(op, status);
        const { queue } = hostQueues(env);
        const first = await startHostWorker(env, { observe });
        const pair: HostWorker[] = [await startHostWorker(env, { observe }), await startHostWorker(env, { observe })];
        try {
          await fireDailyTimer(first, scheduledMs);
          // One worker runs messages until the two to race are at the front of the queue.
          const contested = await takeContested(first, queue, c.shape);
          const run = await runScheduled(
            pair.map((w) => w.proxy),
            pair.map((w, i) => () => deliverTo(w, queue, contested[i]!)),
            prefix,
          );
          // Whatever the race left (re-enqueued busy jobs, follow-ups) is finished by one worker.
          await drainOn(first, env);
          const problems = await problemsOf(env, monitor);
          if (problems.length > 0) failures.push(`schedule ${run.steps.map((st) => st.worker).join('')}: ${problems.join('; ')}`);
          return run;
        } finally {
          for (const w of [first, ...pair]) await w.proxy.close();
        }
      },
      { maxPreemptions: MAX_PREEMPTIONS, maxSchedules: MAX_SCHEDULES },
    );
    console.log(
      `interleavings (${c.name}): ${result.schedules} schedules (${result.steps} storage operations, ${result.races} races), ${result.exhausted ? 'every schedule' : 'stopped at the cap'} with at most ${MAX_PREEMPTIONS} preemptions; ${failures.length} broke a promise`,
    );
    expect(failures).toEqual([]);
    expect(result.schedules).toBeGreaterThan(1);
  });
});

type Received = { messageId: string; popReceipt: string; messageText: string; dequeueCount: number };

/**
 * Runs messages on `worker` until the contested ones are next: for 'last-two', until exactly two job
 * messages are left (returned, received and hidden from others); for 'same-job', the first job message,
 * handed to both workers (a duplicate delivery).
 */
async function takeContested(worker: HostWorker, queue: ReturnType<typeof hostQueues>['queue'], shape: Case['shape']): Promise<Received[]> {
  for (let round = 0; round < 1000; round++) {
    const peeked = (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems;
    const jobs = peeked.filter((m) => (decode(m.messageText) as { type?: string }).type === undefined);
    if (shape === 'same-job' && jobs.length > 0) {
      const m = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0]!;
      if ((decode(m.messageText) as { type?: string }).type !== undefined) {
        await deliverTo(worker, queue, m);
        continue;
      }
      // The host's duplicate delivery: the same message twice (the second copy sent as a new message).
      const { messageId, popReceipt } = await queue.sendMessage(m.messageText);
      return [m, { messageId, popReceipt, messageText: m.messageText, dequeueCount: 1 }];
    }
    if (shape === 'last-two' && jobs.length === 2 && peeked.length === 2) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 2, visibilityTimeout: 300 });
      if (receivedMessageItems.length === 2) return receivedMessageItems;
      for (const m of receivedMessageItems) await queue.updateMessage(m.messageId, m.popReceipt, undefined, 0);
      continue;
    }
    const m = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0];
    if (!m) throw new Error('the queue ran dry before the contested messages');
    await deliverTo(worker, queue, m);
  }
  throw new Error('the contested messages never came up');
}
