// Azure Storage unavailable in the middle of a run: a TCP proxy between the product and Azurite drops
// every connection and refuses new ones, so blob writes, checkpoint updates and job records fail.
// Jobs must fail cleanly, no checkpoint may move past committed data, and the next run completes.
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { RunOutcome } from '../../src/export/run-in-process';
import { HOUR, MINUTE } from '../../src/time';
import { auditArchive, reportScenario, rowOf } from '../support/archive-audit';
import { startHarness, type Harness } from '../support/harness';
import { proxyStorage } from '../support/tcp-proxy';
import { checkpointViolations, directContainer, sleep } from './reliability-helpers';

const LAG = 5 * MINUTE;
const OUTAGE_MS = 18_000;

describe('storage unavailable mid-run', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function setUp(label: string) {
    const now = Date.now();
    const proxy = await proxyStorage(inject('storageConnectionString'));
    const h: Harness = await startHarness({
      label,
      tenant: { seed: 71, users: 4, teams: 1, historyDays: 120, endMs: now - 2 * HOUR },
      env: { EXPORT_STORAGE: proxy.connectionString, GRAPH_PAGE_SIZE: '4', EXPORT_CHUNK: 'P10D', EXPORT_CONCURRENCY: '8' },
      faults: { latencyMs: 2 },
    });
    cleanups.push(
      () => h.close(),
      () => proxy.close(),
    );
    return { now, proxy, h, container: directContainer(h.env.EXPORT_CONTAINER as string) };
  }

  it('an outage longer than the storage retries fails the jobs cleanly, moves no checkpoint past committed data, and the next run completes', async () => {
    const { now, proxy, h, container } = await setUp('rel-storage-down');
    let cutting: Promise<void> | undefined;
    const settle = (p: Promise<RunOutcome>) =>
      p.then(
        (o) => ({ outcome: o, error: undefined as unknown }),
        (error: unknown) => ({ outcome: undefined, error }),
      );
    const first = await settle(
      h.daily(now, {
        onProgress: (p) => {
          // Some chunks are committed by now, most are not.
          // Longer than the blob SDK's own retries (~16 s) and the table SDK's (~5 s): writes in flight fail.
          if (p.blobs >= 6 && !cutting)
            cutting = proxy
              .cut()
              .then(() => sleep(OUTAGE_MS))
              .then(() => proxy.restore());
        },
      }),
    );
    expect(cutting, 'the outage started mid-run').toBeDefined();
    await cutting;
    // The run reports its failed entities (or, if even its own records could not be written, throws a
    // storage error): it never reports success and never hangs.
    if (first.outcome) {
      expect(first.outcome.status).toBe('failed');
      const failed = first.outcome.results.filter((r) => r.status === 'failed');
      expect(failed.length).toBeGreaterThan(0);
      for (const r of failed) expect(r.error?.retryable).toBe(true);
    } else expect(String(first.error)).toMatch(/ECONNREFUSED|ECONNRESET|socket|connect/i);

    expect(await checkpointViolations(h, container, now)).toEqual([]);

    const second = await h.daily(now);
    expect(second.status, JSON.stringify(second.results.filter((r) => r.error).map((r) => r.error))).toBe('succeeded');
    const audit = await auditArchive(container, h.emulator, { entities: h.entities(), currentBefore: now - LAG });
    reportScenario(
      rowOf('storage unavailable mid-run (18 s, longer than SDK retries)', 'TCP proxy cut: connections dropped and refused', 2, audit),
    );
    expect(audit.invalidBlobs).toEqual([]);
    expect(audit.duplicated).toEqual([]);
    expect(audit.missingPerEntity).toEqual([]);
    expect(audit.lost).toEqual([]);
    expect(audit.extra).toEqual([]);
  });

  it('a short blip is ridden out by retries (or fails cleanly); either way the rerun leaves a complete archive without duplicates', async () => {
    const { now, proxy, h, container } = await setUp('rel-storage-blip');
    let blip: Promise<void> | undefined;
    const first = await h
      .daily(now, {
        onProgress: (p) => {
          if (p.blobs >= 4 && !blip) {
            blip = (async () => {
              await proxy.cut();
              await new Promise((r) => setTimeout(r, 1500));
              await proxy.restore();
            })();
          }
        },
      })
      .catch(() => undefined);
    await blip;
    expect(blip).toBeDefined();
    expect(await checkpointViolations(h, container, now)).toEqual([]);
    const second = await h.daily(now);
    expect(second.status).toBe('succeeded');
    const audit = await auditArchive(container, h.emulator, { entities: h.entities(), currentBefore: now - LAG });
    reportScenario(rowOf('storage blip (1.5 s) mid-run', 'TCP proxy cut then restored', 2, audit));
    expect(first === undefined || ['succeeded', 'failed'].includes(first.status)).toBe(true);
    expect(audit.invalidBlobs).toEqual([]);
    expect(audit.duplicated).toEqual([]);
    expect(audit.missingPerEntity).toEqual([]);
    expect(audit.lost).toEqual([]);
  });
});
