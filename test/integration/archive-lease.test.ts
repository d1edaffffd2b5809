import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { entityPrefix, lockBlobName } from '../../src/archive/blob-layout';
import { EntityLease, LeaseLostError, type LeaseOptions } from '../../src/archive/entity-lease';
import { ensureContainer } from '../../src/archive/archive-container';
import type { Entity } from '../../src/model/entity';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { startStorageProxy, type StorageOperation } from '../../emulator/storage-proxy';
import { writeJson } from '../../src/archive/batch-writer';
import { blobExists } from '../../src/archive/batch-reader';

/** Polls until `condition` holds; the bound is for a hang, not a measure of speed. */
async function waitFor(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('EntityLease', () => {
  let container: ContainerClient;

  beforeAll(async () => {
    const s = testStorage('lease');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
  });

  it('lets only one holder export an entity until it releases', async () => {
    const entity: Entity = { kind: 'user', id: 'u-1' };
    const first = await EntityLease.acquire(container, entity, { durationSec: 15 });
    expect(first).toBeDefined();
    expect(await EntityLease.acquire(container, entity, { durationSec: 15 })).toBeUndefined();
    // Another entity is independent.
    const other = await EntityLease.acquire(container, { kind: 'team', id: 'u-1' }, { durationSec: 15 });
    expect(other).toBeDefined();
    await first?.release();
    await first?.release(); // idempotent
    const second = await EntityLease.acquire(container, entity, { durationSec: 15 });
    expect(second).toBeDefined();
    expect(second?.lost).toBe(false);
    await second?.release();
    await other?.release();
  });

  it('creates the lock blob on first use, outside the archive folders', async () => {
    const entity: Entity = { kind: 'team', id: '../Hostile/Team' };
    const lease = await EntityLease.acquire(container, entity);
    expect(lease).toBeDefined();
    const props = await container.getBlobClient(lockBlobName(entity)).getProperties();
    expect(props.leaseState).toBe('leased');
    expect(lockBlobName(entity).startsWith('locks/teams/')).toBe(true);
    await lease?.release();
    expect((await container.getBlobClient(lockBlobName(entity)).getProperties()).leaseState).toBe('available');
  });

  it('gives exactly one of many concurrent acquirers the lease', async () => {
    const entity: Entity = { kind: 'user', id: 'race' };
    const results = await Promise.all(Array.from({ length: 6 }, () => EntityLease.acquire(container, entity, { durationSec: 15 })));
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    await winners[0]?.release();
  });

  it('keeps the lease by renewing it, and reports it lost when someone breaks it', async () => {
    const entity: Entity = { kind: 'user', id: 'renew' };
    const lease = await EntityLease.acquire(container, entity, { durationSec: 15, renewEveryMs: 100 });
    expect(lease).toBeDefined();
    await new Promise((r) => setTimeout(r, 350));
    expect(lease?.lost).toBe(false);
    expect((await container.getBlobClient(lockBlobName(entity)).getProperties()).leaseState).toBe('leased');

    await container.getBlobClient(lockBlobName(entity)).getBlobLeaseClient().breakLease(0);
    await waitFor(() => lease?.lost === true);
    expect(lease?.lostSignal.aborted).toBe(true);
    await lease?.release(); // releasing a lost lease is not an error
    expect(await EntityLease.acquire(container, entity, { durationSec: 15 }).then((l) => l?.release().then(() => true))).toBe(true);
  });

  it('keeps the lease past two thirds of its period with the default renewal timing', async () => {
    // A renewal timer that took confirm()'s shortcut (no renewal while the last one is "fresh") let the
    // lease age to its stop bound, so every job longer than two thirds of the lease lost it.
    const entity: Entity = { kind: 'user', id: 'long-job' };
    const lease = await EntityLease.acquire(container, entity, { durationSec: 15 });
    await new Promise((r) => setTimeout(r, 11_000));
    expect(lease?.lost).toBe(false);
    expect(() => lease?.assertHeld()).not.toThrow();
    expect((await container.getBlobClient(lockBlobName(entity)).getProperties()).leaseState).toBe('leased');
    await lease?.release();
  }, 30_000);

  it('a fenced write with no recent renewal, after another worker broke and took the lease, is refused, and nothing is written', async () => {
    const entity: Entity = { kind: 'user', id: 'fenced' };
    // The background renewal alone would notice only at its next tick (an hour away here). A renewal
    // given 14.99 s to answer leaves a write 10 ms after the last confirmed renewal before it must renew.
    const lease = await EntityLease.acquire(container, entity, { durationSec: 15, renewEveryMs: 3_600_000, tryTimeoutMs: 14_990 });
    const fenced = lease!.fence(container);
    await writeJson(fenced, `${entityPrefix(entity)}before.json`, { n: 1 });
    expect(lease?.lost).toBe(false);

    await new Promise((r) => setTimeout(r, 20));
    await container.getBlobClient(lockBlobName(entity)).getBlobLeaseClient().breakLease(0);
    const thief = await EntityLease.acquire(container, entity, { durationSec: 15 });
    expect(thief).toBeDefined();

    await expect(writeJson(fenced, `${entityPrefix(entity)}after.json`, { n: 2 })).rejects.toThrow(/lease lost/);
    expect(await blobExists(container, `${entityPrefix(entity)}after.json`)).toBe(false);
    expect(lease?.lost).toBe(true);
    // Reads still pass through the fence untouched.
    expect(await blobExists(fenced, `${entityPrefix(entity)}before.json`)).toBe(true);
    await lease?.release();
    await thief?.release();
  });

  /** Writes `writes` small blobs through the fence of a fresh lease, seen by a counting proxy; the operations made. */
  async function countedWrites(label: string, writes: number, opts: LeaseOptions): Promise<StorageOperation[]> {
    const proxy = await startStorageProxy(testStorage(label).connectionString);
    try {
      const counted = createStorageClients({
        kind: 'connectionString',
        connectionString: proxy.connectionString,
      }).blobService.getContainerClient(container.containerName);
      const entity: Entity = { kind: 'user', id: label };
      const lease = await EntityLease.acquire(counted, entity, opts);
      const fenced = lease!.fence(counted);
      proxy.reset();
      for (let i = 0; i < writes; i++) await writeJson(fenced, `${entityPrefix(entity)}b${i}.json`, { i });
      const ops = [...proxy.operations];
      await lease?.release();
      return ops;
    } finally {
      await proxy.close();
    }
  }

  it('costs a blob write no storage call of its own while the last renewal is recent (a time-bounded fence)', async () => {
    // A 60 s lease renewed every 20 s: writes within 30 s of the last confirmed renewal need no renewal.
    const writes = 12;
    const ops = await countedWrites('counted', writes, { durationSec: 60 });
    expect(ops.filter((op) => op.method === 'PUT' && op.comp === undefined)).toHaveLength(writes);
    // At most one background renewal can fall in a slow stretch; a renewal per write would be 12.
    expect(ops.filter((op) => op.comp === 'lease').length).toBeLessThanOrEqual(1);
  });

  it('renews before every blob write with writeFreshMs 0 (the bench baseline: the fence before issue 22)', async () => {
    const writes = 6;
    const ops = await countedWrites('counted-old', writes, { durationSec: 60, writeFreshMs: 0 });
    // One renewal per write, each sent before its write (lease, PUT, lease, PUT, …).
    expect(ops.map((op) => (op.comp === 'lease' ? 'lease' : op.method))).toEqual(
      Array.from({ length: writes }, () => ['lease', 'PUT']).flat(),
    );
  });

  describe('when storage stops answering a renewal', () => {
    let proxy: TcpProxy;
    let proxied: ContainerClient;
    beforeAll(async () => {
      const s = testStorage('lease-hang');
      const blobEndpoint = /BlobEndpoint=([^;]+)/i.exec(s.connectionString)?.[1];
      if (!blobEndpoint) throw new Error('the test connection string has no BlobEndpoint');
      const url = new URL(blobEndpoint);
      proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
      url.port = String(proxy.port);
      const cs = s.connectionString.replace(blobEndpoint, url.toString().replace(/\/$/, ''));
      proxied = createStorageClients({ kind: 'connectionString', connectionString: cs }).blobService.getContainerClient(
        container.containerName,
      );
    });
    afterAll(() => proxy?.close());

    it('marks the lease lost before it can expire on the server, so no other worker ever holds it while this one still writes', async () => {
      const entity: Entity = { kind: 'team', id: 'hang' };
      const lease = await EntityLease.acquire(proxied, entity, { durationSec: 15 });
      expect(lease).toBeDefined();
      // Every request through the proxy now hangs: the SDK's own retries (no per-try timeout) would
      // keep one renewal going far past the 15 s lease.
      proxy.stall();
      // Another worker (not behind the proxy) tries until it gets the lease, i.e. until it expired on the
      // server; by then the first holder must already have stopped.
      let lostWhenTaken: boolean | undefined;
      for (;;) {
        const other = await EntityLease.acquire(container, entity, { durationSec: 15 });
        if (other) {
          lostWhenTaken = lease?.lost;
          await other.release();
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(lostWhenTaken).toBe(true);
      expect(lease?.lostSignal.reason).toBeInstanceOf(LeaseLostError);
    }, 60_000);
  });

  it('refuses lease durations the service does not accept', async () => {
    await expect(EntityLease.acquire(container, { kind: 'user', id: 'x' }, { durationSec: 5 })).rejects.toThrow(RangeError);
    await expect(EntityLease.acquire(container, { kind: 'user', id: 'x' }, { durationSec: 61 })).rejects.toThrow(RangeError);
  });
});
