// Crash-point enumeration (docs/design.md §16): a small tenant's daily run through the Functions
// handlers, once for every storage operation k of the run: the worker is killed at operation k (that
// operation and every later one of its process never reach storage), the host redelivers as Azure
// would and a new worker finishes the run. After each, the archive of record's promises must hold:
// every version once, watermarks forward only, the run final with its run.json, every blob in a
// manifest, counts that match the archive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeps } from '../../src/deps';
import { silentLogger } from '../../src/log';
import { loadSettings, type Env } from '../../src/settings';
import { tableNames } from '../../src/state/run-store';
import { HOUR, MINUTE, iso } from '../../src/time';
import type { Emulator } from '../../emulator';
import { auditArchive } from '../support/archive-audit';
import { startTestEmulator } from '../support/emulator';
import { freshDeployment, queuedTestEnv, unlicenseOneMember } from '../support/queued-env';
import { queuedHost } from '../support/queued-host';
import { runInvariantProblems, snapshotArchive, watermarkMonitor, type ArchiveSnapshot } from '../support/run-invariants';
import { ownAzurite } from '../support/storage';

interface Config {
  name: string;
  chatMode: 'custodian' | 'sender';
  readsPerEntity: number;
  /** A tenant of Copilot interactions and meeting artifacts only, with EXPORT_COPILOT and EXPORT_MEETINGS. */
  artifacts?: boolean;
}

const CONFIGS: Config[] = [
  { name: 'custodian, one read per window', chatMode: 'custodian', readsPerEntity: 1 },
  { name: 'custodian, split reads', chatMode: 'custodian', readsPerEntity: 2 },
  { name: 'sender, one read per window', chatMode: 'sender', readsPerEntity: 1 },
  { name: 'sender, split reads', chatMode: 'sender', readsPerEntity: 2 },
  { name: 'Copilot interactions and meeting artifacts', chatMode: 'custodian', readsPerEntity: 1, artifacts: true },
];

/** Every k, or every `stride`-th with TEAMS_EXPORT_CRASH_STRIDE (a quicker look while developing). */
const STRIDE = Math.max(1, Number(process.env.TEAMS_EXPORT_CRASH_STRIDE ?? '1'));
/** Scenarios run at once (each has its own storage names, proxy and worker processes); 2 was quicker than 4 on a loaded 2-core machine. */
const PARALLEL = Math.max(1, Number(process.env.TEAMS_EXPORT_CRASH_PARALLEL ?? '2'));

/**
 * Two members, one meeting chat with one occurrence (a transcript and a recording), one Copilot session each
 * for the licensed one, the fewest messages: a small number of storage operations to kill at.
 */
function artifactTenant() {
  return {
    tenant: {
      seed: 2023,
      users: 2,
      teams: 0,
      oneOnOneChats: 0,
      groupChats: 0,
      meetingChats: 1,
      messagesPerChat: 1,
      meetingOccurrences: 1,
      copilotSessionsPerUser: 1,
      historyDays: 2,
      endMs: now - 2 * HOUR,
    },
    faults: { copilotRps: null },
  };
}

const now = Date.now();
const scheduledMs = now - (now % MINUTE) - 3 * MINUTE;

// Its own Azurite: the most storage-hungry files keep the shared one small (support/storage.ts).
ownAzurite();

describe.each(CONFIGS)('a queued daily run killed at every storage operation ($name)', (config) => {
  let emulator: Emulator;
  let baseEnv: Env;
  let reference: ArchiveSnapshot;
  let operations = 0;

  const envFor = (label: string): Env => freshDeployment(baseEnv, label);

  /** One run with an optional kill; the invariant problems it left. */
  const scenario = async (label: string, atOperation?: number) => {
    const env = envFor(label);
    const monitor = watermarkMonitor(tableNames(env.EXPORT_TABLE_PREFIX as string).checkpoints);
    const host = queuedHost(env, { observe: (op, status) => monitor.observe(op, status) });
    try {
      const result = await host.runDaily(scheduledMs, atOperation === undefined ? {} : { atOperation });
      const deps = host.workers[host.workers.length - 1]!.ctx.deps;
      const runId = `daily-${iso(scheduledMs)
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z')}`;
      return { result, deps, runId, monitor, env };
    } finally {
      await host.close();
    }
  };

  beforeAll(async () => {
    emulator = await startTestEmulator(
      config.artifacts
        ? artifactTenant()
        : {
            tenant: {
              seed: 2026,
              // Two members (in sender mode one without a licence) and a team: each kind of job (a user's chats,
              // a team's channels, sender mode's follow-up), more than one page and day, few operations.
              users: 2,
              teams: 1,
              channelsPerTeam: 1,
              oneOnOneChats: 1,
              groupChats: 0,
              meetingChats: 0,
              messagesPerChat: 4,
              postsPerChannel: 2,
              repliesPerPost: 1,
              historyDays: 2,
              endMs: now - 2 * HOUR,
              externalSenderFraction: config.chatMode === 'sender' ? 0.3 : 0,
            },
          },
    );
    // A member without a licence: the run needs sender mode's follow-ups to cover their messages.
    if (config.chatMode === 'sender') unlicenseOneMember(emulator);
    baseEnv = queuedTestEnv(emulator, 'crash', now, {
      GRAPH_PAGE_SIZE: config.artifacts ? '2' : '4',
      EXPORT_CHAT_MODE: config.chatMode,
      EXPORT_READS_PER_ENTITY: String(config.readsPerEntity),
      ...(config.artifacts
        ? {
            EXPORT_COPILOT: 'true',
            EXPORT_MEETINGS: 'true',
            EXPORT_TEAMS: 'none',
            EXPORT_USERS: 'none',
            GRAPH_COPILOT_RPS: '1000',
            GRAPH_MEETING_RPS: '1000',
          }
        : {}),
    });
    // The reference: the same run without a kill, checked against the emulator's own ledger.
    const ref = await scenario('crash-ref');
    operations = ref.result.firstWorkerOperations;
    const deps = await buildDeps(loadSettings(ref.env), { log: silentLogger });
    reference = await snapshotArchive(deps.container, deps.checkpoints);
    if (config.artifacts) {
      // Every interaction and artifact the emulator serves, once (the keys of docs/design.md §18).
      const want = [
        ...emulator
          .copilotInteractions()
          .filter((i) => i.licensed)
          .map((i) => `${i.sessionId}|${i.id}|${i.createdMs}|${i.etag}`),
        ...emulator.meetingArtifacts().map((a) => `${a.meetingId}|${a.id}|${a.createdMs}|${a.kind}`),
      ].sort();
      const got = reference.lines.filter((l) => /^(copilot|meetings)\//.test(l)).map((l) => l.slice(l.indexOf('|') + 1));
      expect(got.sort()).toEqual(want);
      expect(want.length).toBeGreaterThan(3);
    } else if (config.chatMode === 'custodian') {
      const audit = await auditArchive(deps.container, emulator);
      expect(audit.lost, 'the reference run lost versions').toEqual([]);
      expect(audit.duplicated).toEqual([]);
    } else {
      // Sender mode archives what custodian mode does (docs/design.md §15), each version once per folder.
      const custodianEnv = { ...envFor('crash-custodian'), EXPORT_CHAT_MODE: 'custodian' };
      const custodian = queuedHost(custodianEnv);
      await custodian.runDaily(scheduledMs);
      await custodian.close();
      const c = await buildDeps(loadSettings(custodianEnv), { log: silentLogger });
      const keysOf = (snap: ArchiveSnapshot) => [...new Set(snap.lines.map((l) => l.slice(l.indexOf('|') + 1)))].sort();
      expect(keysOf(reference)).toEqual(keysOf(await snapshotArchive(c.container, c.checkpoints)));
    }
    expect(reference.lines.length).toBeGreaterThan(5);
    const problems = await runInvariantProblems({
      container: deps.container,
      runs: deps.runs,
      checkpoints: deps.checkpoints,
      runId: ref.runId,
      reference,
      watermarkProblems: ref.monitor.problems,
    });
    expect(problems).toEqual([]);
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it('keeps every promise whatever operation the worker dies at', async () => {
    const points: number[] = [];
    for (let k = 1; k <= operations; k += STRIDE) points.push(k);
    const failures: string[] = [];
    let next = 0;
    let covered = 0;
    const worker = async () => {
      while (next < points.length) {
        const k = points[next++]!;
        const s = await scenario(`crash-${k}`, k);
        const deps = await buildDeps(loadSettings(s.env), { log: silentLogger });
        const problems = await runInvariantProblems({
          container: deps.container,
          runs: deps.runs,
          checkpoints: deps.checkpoints,
          runId: s.runId,
          reference,
          watermarkProblems: s.monitor.problems,
        });
        covered++;
        const at = s.result.killedAt;
        if (problems.length > 0)
          failures.push(
            `k=${k} (${at ? `${at.method} ${at.service} ${at.resource}${at.comp ? `?comp=${at.comp}` : ''}` : 'not killed'}): ${problems.join('; ')}`,
          );
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    console.log(
      `crash points (${config.name}): ${covered} of ${operations} storage operations covered, ${failures.length} broke a promise`,
    );
    expect(failures).toEqual([]);
  });
});
