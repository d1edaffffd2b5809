// A worker paused past its lease (docs/design.md §8): a job is exporting when its whole process stops
// (a long GC pause, a frozen VM) for longer than the lease. The lease expires on the server and another
// worker, a separate process, takes it and looks at the entity's blobs. When the first process wakes up
// it must write no blob of that entity: its fence sees that no renewal was confirmed recently enough,
// asks for one, is refused, and the job stops with the lease lost.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { entityPrefix, lockBlobName } from '../../src/archive/blob-layout';
import { listBlobs } from '../../src/archive/batch-reader';
import type { Entity } from '../../src/model/entity';
import { DAY, HOUR } from '../../src/time';
import { expectedKeys, startHarness } from '../support/harness';

/** The shortest lease storage allows: the pause outlasts it. */
const LEASE_SECONDS = 15;

/**
 * Another worker, in its own process so it runs while this one is frozen: it takes the entity's lease
 * as soon as it is free, then prints the entity's blob names at that moment and keeps the lease.
 */
const THIEF = `
const { BlobServiceClient } = require('@azure/storage-blob');
const [conn, containerName, lock, prefix] = process.argv.slice(1);
const container = BlobServiceClient.fromConnectionString(conn).getContainerClient(containerName);
(async () => {
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      await container.getBlobClient(lock).getBlobLeaseClient().acquireLease(60);
      break;
    } catch (err) {
      if (err.statusCode !== 409 || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const names = [];
  for await (const b of container.listBlobsFlat({ prefix })) if (!b.name.endsWith('.content.json')) names.push(b.name);
  process.stdout.write(JSON.stringify(names.sort()));
})().catch((err) => { console.error(String(err)); process.exit(1); });
`;

describe('a worker paused past its lease', () => {
  it('writes no blob of the entity once another worker has taken it', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'lease-pause',
      tenant: { seed: 131, users: 4, teams: 0, historyDays: 120, endMs: now - 2 * HOUR },
      env: { GRAPH_PAGE_SIZE: '5', EXPORT_CHUNK: 'P10D', EXPORT_CONCURRENCY: '1' },
      faults: { latencyMs: 2 },
    });
    h.deps.leaseSeconds = LEASE_SECONDS;
    try {
      const window = { fromMs: now - 119 * DAY, toMs: now - HOUR };
      // The busiest user: enough days of data that the export is still writing when it is frozen.
      const entity: Entity = h
        .entities()
        .sort((a, b) => expectedKeys(h.emulator, b, window).length - expectedKeys(h.emulator, a, window).length)[0]!;
      const names = async () => {
        const out: string[] = [];
        // Content maps are the content stage's, written beside batches the job wrote while it held the
        // lease (docs/design.md §17); the job's own blobs are what the takeover must freeze.
        for await (const b of listBlobs(h.deps.container, entityPrefix(entity))) if (!b.name.endsWith('.content.json')) out.push(b.name);
        return out.sort();
      };
      let thief: Promise<string[]> | undefined;
      const outcome = await h.backfill(
        window,
        { users: [entity.id] },
        {
          onProgress: (p) => {
            if (thief || p.pages < 3) return;
            const child = spawn(
              process.execPath,
              ['-e', THIEF, h.env.EXPORT_STORAGE as string, h.env.EXPORT_CONTAINER as string, lockBlobName(entity), entityPrefix(entity)],
              { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
            );
            let out = '';
            let err = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            thief = new Promise((resolve, reject) =>
              child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`thief: ${err}`)))),
            );
            // The whole process stops (timers, renewals, everything) for longer than the lease.
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, (LEASE_SECONDS + 5) * 1000);
          },
        },
      );
      expect(thief, 'the export wrote too little to be paused mid-way').toBeDefined();
      const taken = await thief!;
      // The first job stopped with the lease lost, and the entity's blobs are what they were when the
      // other worker took over.
      expect(outcome.results[0]?.status).toBe('failed');
      expect(outcome.results[0]?.error?.message).toMatch(/lease lost/);
      expect(await names()).toEqual(taken);
    } finally {
      await h.close();
    }
  }, 180_000);
});
