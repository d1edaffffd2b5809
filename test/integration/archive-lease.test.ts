import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { lockBlobName } from '../../src/archive/blob-layout';
import { EntityLease } from '../../src/archive/entity-lease';
import { ensureContainer } from '../../src/archive/archive-container';
import type { Entity } from '../../src/model/entity';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';

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
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(s.container);
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

  it('refuses lease durations the service does not accept', async () => {
    await expect(EntityLease.acquire(container, { kind: 'user', id: 'x' }, { durationSec: 5 })).rejects.toThrow(RangeError);
    await expect(EntityLease.acquire(container, { kind: 'user', id: 'x' }, { durationSec: 61 })).rejects.toThrow(RangeError);
  });
});
