// The identity endpoint failing or issuing very short-lived tokens, and Graph's index showing versions
// late (up to the settle period) or outside the requested window: the archive still ends complete.
import { type ContainerClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { buildDeps } from '../../src/deps';
import { runExport } from '../../src/export/run-in-process';
import { silentLogger } from '../../src/log';
import { loadSettings } from '../../src/settings';
import { DAY, HOUR, MINUTE, iso } from '../../src/time';
import { auditArchive, reportScenario, rowOf } from '../support/archive-audit';
import { startHarness } from '../support/harness';
import { checkpointViolations, directContainer, expectClean, sleep } from './reliability-helpers';

const LAG = 5 * MINUTE;

async function messageBlobCount(container: ContainerClient): Promise<number> {
  let n = 0;
  for await (const _ of container.listBlobsFlat({ prefix: 'messages/' })) n++;
  return n;
}

describe('token endpoint faults', () => {
  it('with the token endpoint down the run fails cleanly before archiving anything, and succeeds once it is back', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'rel-token-down',
      tenant: { seed: 91, users: 4, teams: 1, historyDays: 20, endMs: now - 2 * HOUR },
      faults: { tokenEndpointDown: true },
      // A token-endpoint outage is retried with backoff like a 5xx (docs/graph-errors.md); a small
      // budget keeps a run-long outage short here.
      env: { GRAPH_MAX_RETRIES: '1' },
    });
    const container = directContainer(h.env.EXPORT_CONTAINER as string);
    try {
      const down = await h.daily(now);
      expect(down.status).toBe('failed');
      expect(down.error).toMatch(/access token/);
      expect(h.emulator.counters.faults.tokenEndpointDown).toBeGreaterThan(0);
      expect(h.emulator.counters.graphRequests).toBe(0);
      expect(await messageBlobCount(container)).toBe(0);
      for (const e of h.entities()) expect((await h.deps.checkpoints.get(e))?.freshWatermarkMs).toBeUndefined();
      const run = await h.deps.runs.getRun(down.runId);
      expect(run?.status).toBe('failed');

      h.emulator.setFaults({ tokenEndpointDown: false });
      // MSAL remembers a 5xx from the token endpoint as throttling for 60 s (its default when no
      // Retry-After is sent), so within one process recovery waits that out. The next CLI run or a
      // fresh Functions worker is a new process with a new credential: that is what recovers here.
      const fresh = await buildDeps(loadSettings(h.env), { log: silentLogger });
      const up = await runExport({ kind: 'daily', nowMs: now }, fresh);
      expect(up.status, `${up.error} ${JSON.stringify(up.results.filter((r) => r.error).map((r) => r.error))}`).toBe('succeeded');
      const audit = await auditArchive(container, h.emulator, { entities: h.entities(), currentBefore: now - LAG });
      reportScenario(rowOf('token endpoint down at start', 'token endpoint 503 for a whole run', 2, audit));
      expectClean(audit);
    } finally {
      await h.close();
    }
  });

  it('2-second tokens and the token endpoint going down mid-run: entities fail without moving checkpoints past their data, the next run completes', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'rel-token-mid',
      tenant: { seed: 92, users: 5, teams: 2, historyDays: 60, endMs: now - 2 * HOUR },
      tokenLifetimeSec: 2,
      env: { GRAPH_PAGE_SIZE: '4', EXPORT_CHUNK: 'P10D', EXPORT_CONCURRENCY: '3' },
      faults: { latencyMs: 10 },
    });
    const container = directContainer(h.env.EXPORT_CONTAINER as string);
    try {
      let outage: Promise<void> | undefined;
      const first = await h.daily(now, {
        onProgress: (p) => {
          outage ??=
            p.blobs >= 4
              ? (async () => {
                  h.emulator.setFaults({ tokenEndpointDown: true });
                  await sleep(3000);
                  h.emulator.setFaults({ tokenEndpointDown: false });
                })()
              : undefined;
        },
      });
      await outage;
      expect(h.emulator.counters.faults.tokenEndpointDown).toBeGreaterThan(0);
      expect(h.emulator.counters.tokensIssued).toBeGreaterThan(2);
      // Whatever failed, failed with a clear token error, and nothing moved past committed data.
      for (const r of first.results.filter((x) => x.status === 'failed')) expect(r.error?.message).toMatch(/access token/);
      expect(await checkpointViolations(h, container, now)).toEqual([]);
      const second = await h.daily(now);
      expect(second.status).toBe('succeeded');
      const audit = await auditArchive(container, h.emulator, { entities: h.entities(), currentBefore: now - LAG });
      reportScenario(
        rowOf(
          '2 s tokens + token endpoint down 3 s mid-run',
          `${h.emulator.counters.tokensIssued} tokens issued, ${h.emulator.counters.faults.tokenEndpointDown} token requests refused`,
          2,
          audit,
        ),
      );
      expectClean(audit);
    } finally {
      await h.close();
    }
  });
});

describe('late and out-of-window versions', () => {
  it('versions visible up to a day late and versions outside the requested window end up archived exactly once', async () => {
    const t0 = Date.now();
    let dataNow = t0;
    const h = await startHarness({
      label: 'rel-late',
      tenant: { seed: 93, users: 5, teams: 2, historyDays: 3, endMs: t0 - 2 * HOUR },
      clock: () => dataNow,
      // One-day windows from five days back (the history is three): not 400 days of empty windows.
      env: { GRAPH_PAGE_SIZE: '5', EXPORT_CHUNK: 'P1D', EXPORT_START: iso(t0 - 5 * DAY) },
      // Late by up to just under the settle period (24 h); a fifth of the pages carry a stray version.
      faults: { lateVisibility: { fraction: 0.4, maxDelayMs: 23 * HOUR }, outOfWindowRate: 0.2 },
    });
    const container = directContainer(h.env.EXPORT_CONTAINER as string);
    try {
      const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
      const chat = h.emulator.tenant.chats.find((c) => c.memberIds.includes(user.id))!;
      const team = h.emulator.tenant.teams[0]!;
      let runs = 0;
      // Runs every 10 hours over two days, with new posts and edits between them.
      for (let step = 0; step <= 5; step++) {
        dataNow = t0 + step * 10 * HOUR;
        h.emulator.tenant.postMessage({ chatId: chat.id }, { fromUserId: user.id, text: `post ${step}`, atMs: dataNow - 2 * HOUR });
        h.emulator.tenant.postMessage(
          { teamId: team.id, channelId: team.channels[0]!.id },
          { text: `channel post ${step}`, atMs: dataNow - 3 * HOUR },
        );
        const outcome = await h.daily(dataNow);
        runs++;
        expect(outcome.status, JSON.stringify(outcome.results.filter((r) => r.error).map((r) => r.error))).toBe('succeeded');
      }
      expect(h.emulator.counters.faults.lateHidden).toBeGreaterThan(0);
      expect(h.emulator.counters.faults.outOfWindow).toBeGreaterThan(0);
      // Everything older than the settle period has been read after settling: all of it is archived.
      const audit = await auditArchive(container, h.emulator, { entities: h.entities(), currentBefore: dataNow - DAY });
      reportScenario(
        rowOf(
          'late visibility (≤ 23 h) + out-of-window items',
          `40% of versions late, ${h.emulator.counters.faults.outOfWindow} stray out-of-window items`,
          runs,
          audit,
        ),
      );
      expectClean(audit);
    } finally {
      await h.close();
    }
  });
});
