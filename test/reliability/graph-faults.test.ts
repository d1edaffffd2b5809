// Graph misbehaving under a real run (CI-sized): a 429 storm, 5xx + resets + hangs with a short
// per-request timeout, and garbled pages in the middle of a backlog. Each scenario ends with the
// archive compared to the emulator's ledger: nothing lost, nothing duplicated, every blob valid.
import { describe, expect, it } from 'vitest';
import { HOUR, MINUTE } from '../../src/time';
import { auditArchive, reportScenario, rowOf } from '../support/archive-audit';
import { startHarness } from '../support/harness';
import { checkpointViolations, directContainer, expectClean, sleep } from './reliability-helpers';

const LAG = 5 * MINUTE;

describe('Graph faults during a run', () => {
  it('a 429 storm (the limit drops to a tenth) makes the client back off, and the run completes', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'rel-429-storm',
      tenant: { seed: 81, users: 5, teams: 2, historyDays: 60, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '3', GRAPH_MAX_RPS: '200', GRAPH_MAX_RETRIES: '10', EXPORT_CHUNK: 'P15D' },
      faults: { rateLimitRps: 100, retryAfterSec: 0.2 },
    });
    try {
      const STORM_MS = 2500;
      let storm: Promise<{ sent: number; throttled: number; seconds: number }> | undefined;
      const outcome = await h.daily(now, {
        onProgress: (p) => {
          storm ??=
            p.pages >= 10
              ? (async () => {
                  const sent0 = h.emulator.counters.graphRequests;
                  const thr0 = h.emulator.counters.throttled;
                  const start = performance.now();
                  h.emulator.setFaults({ rateLimitRps: 10 });
                  await sleep(STORM_MS);
                  h.emulator.setFaults({ rateLimitRps: 100 });
                  // The storm as it really lasted: a busy machine wakes the sleep up late.
                  const seconds = (performance.now() - start) / 1000;
                  return { sent: h.emulator.counters.graphRequests - sent0, throttled: h.emulator.counters.throttled - thr0, seconds };
                })()
              : undefined;
        },
      });
      const during = await storm!;
      expect(outcome.status, JSON.stringify(outcome.results.filter((r) => r.error).map((r) => r.error))).toBe('succeeded');
      expect(during.throttled).toBeGreaterThan(0);
      // Backing off: during the storm the client sent far fewer requests than the 200/s it may send
      // (a client that ignored Retry-After would hammer the emulator with hundreds).
      expect(during.sent).toBeLessThan(during.seconds * 10 * 4);
      const audit = await auditArchive(directContainer(h.env.EXPORT_CONTAINER as string), h.emulator, {
        entities: h.entities(),
        currentBefore: now - LAG,
      });
      reportScenario(
        rowOf(
          '429 storm (CI: 2.5 s at a tenth of the limit)',
          `limit 100→10 rps, Retry-After 0.2 s; ${during.sent} requests sent in the storm, ${during.throttled} throttled`,
          1,
          audit,
        ),
      );
      expectClean(audit, { quarantined: 0 });
    } finally {
      await h.close();
    }
  });

  it('5% 5xx, connection resets and hanging responses (short per-request timeout): the run completes with nothing lost', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'rel-5xx-hang',
      tenant: { seed: 82, users: 5, teams: 2, historyDays: 40, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '4', GRAPH_REQUEST_TIMEOUT: 'PT1S', GRAPH_MAX_RETRIES: '12', EXPORT_CHUNK: 'P10D' },
      faults: { errorRate: 0.05, resetRate: 0.03, hangRate: 0.02 },
    });
    try {
      const outcome = await h.daily(now);
      expect(outcome.status, JSON.stringify(outcome.results.filter((r) => r.error).map((r) => r.error))).toBe('succeeded');
      const f = h.emulator.counters.faults;
      expect(f.error).toBeGreaterThan(0);
      expect(f.reset).toBeGreaterThan(0);
      expect(f.hang).toBeGreaterThan(0);
      expect(h.deps.http.stats().timeouts).toBeGreaterThan(0);
      const audit = await auditArchive(directContainer(h.env.EXPORT_CONTAINER as string), h.emulator, {
        entities: h.entities(),
        currentBefore: now - LAG,
      });
      reportScenario(rowOf('5% 5xx + resets + hangs', `${f.error} 5xx, ${f.reset} resets, ${f.hang} hangs (timeout 1 s)`, 1, audit));
      expectClean(audit, { quarantined: 0 });
    } finally {
      await h.close();
    }
  });

  it('garbled pages in the middle of a backlog fail their entities without advancing past committed chunks; the next run completes', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'rel-malformed',
      tenant: { seed: 83, users: 5, teams: 2, historyDays: 90, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '4', GRAPH_MAX_RETRIES: '0', EXPORT_CHUNK: 'P10D' },
    });
    const container = directContainer(h.env.EXPORT_CONTAINER as string);
    try {
      // After planning and a few committed chunks, a tenth of the pages come back as truncated JSON.
      const bad = await h.daily(now, {
        onProgress: (p) => p.blobs >= 3 && h.emulator.faults.malformedRate === 0 && h.emulator.setFaults({ malformedRate: 0.1 }),
      });
      const malformed = h.emulator.counters.faults.malformed;
      expect(malformed).toBeGreaterThan(0);
      expect(bad.status).toBe('failed');
      const failed = bad.results.filter((r) => r.status === 'failed');
      expect(failed.length).toBeGreaterThan(0);
      for (const r of failed) expect(r.error?.message).toMatch(/JSON|malformed|not valid/i);
      expect(await checkpointViolations(h, container, now)).toEqual([]);
      // Some entity got past its first chunk before failing: the checkpoint sits at a chunk end.
      h.emulator.setFaults({ malformedRate: 0 });
      const good = await h.daily(now);
      expect(good.status).toBe('succeeded');
      const audit = await auditArchive(container, h.emulator, { entities: h.entities(), currentBefore: now - LAG });
      reportScenario(rowOf('malformed (truncated JSON) pages mid-backlog', `${malformed} garbled pages, no retries`, 2, audit));
      expectClean(audit, { quarantined: 0 });
    } finally {
      await h.close();
    }
  });
});
