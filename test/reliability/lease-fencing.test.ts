// The probe of issue 13 (defect 2): a job is exporting; another worker breaks its entity's lease and
// takes it. From then on the first job must write no blob of that entity: every write confirms the
// lease first (EntityLease.fence), instead of trusting a background renewal that notices a takeover
// only at its next tick, a third of the lease period later.
import { describe, expect, it } from 'vitest';
import { entityPrefix, lockBlobName } from '../../src/archive/blob-layout';
import { listBlobs } from '../../src/archive/batch-reader';
import { EntityLease } from '../../src/archive/entity-lease';
import type { Entity } from '../../src/model/entity';
import { DAY, HOUR } from '../../src/time';
import { expectedKeys, startHarness } from '../support/harness';

describe('a lease taken by another worker mid-export', () => {
  it('stops the first job: no blob of the entity is written by it after the takeover', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'lease-probe',
      tenant: { seed: 131, users: 4, teams: 0, historyDays: 120, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '5', EXPORT_CHUNK: 'P10D', EXPORT_CONCURRENCY: '1' },
      faults: { latencyMs: 2 },
    });
    try {
      const window = { fromMs: now - 119 * DAY, toMs: now - HOUR };
      // The busiest user: enough days of data that the export is still writing when its lease is taken.
      const entity: Entity = h
        .entities()
        .sort((a, b) => expectedKeys(h.emulator, b, window).length - expectedKeys(h.emulator, a, window).length)[0]!;
      const { container } = h.deps;
      const names = async () => {
        const out: string[] = [];
        for await (const b of listBlobs(container, entityPrefix(entity))) out.push(b.name);
        return out.sort();
      };
      let takeover: Promise<{ thief: EntityLease | undefined; after: string[] }> | undefined;
      const outcome = await h.backfill(
        window,
        { users: [entity.id] },
        {
          onProgress: (p) => {
            if (takeover || p.pages < 3) return;
            // Another worker breaks the lease (as an operator or a worker that found it stale would) and takes it.
            takeover = (async () => {
              await container.getBlobClient(lockBlobName(entity)).getBlobLeaseClient().breakLease(0);
              const thief = await EntityLease.acquire(container, entity, { durationSec: 60 });
              return { thief, after: await names() };
            })();
          },
        },
      );
      expect(takeover, 'the export wrote too little to take its lease mid-way').toBeDefined();
      const { thief, after } = await takeover!;
      expect(thief).toBeDefined();
      await thief?.release();
      // The first job stopped: it failed with the lost lease, and the entity's blobs are what they were
      // when the other worker took over.
      expect(outcome.results[0]?.status).toBe('failed');
      expect(outcome.results[0]?.error?.message).toMatch(/lease lost/);
      expect(await names()).toEqual(after);
    } finally {
      await h.close();
    }
  }, 120_000);
});
