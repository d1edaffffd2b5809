// One export job per entity at a time (docs/design.md §8): a blob lease on the entity's lock blob, renewed
// in the background while the job runs, because queue delivery is at-least-once.
import { randomUUID } from 'node:crypto';
import type { BlobLeaseClient } from '@azure/storage-blob';
import type { Entity } from '../model/entity';
import { statusOf } from '../model/errors';
import type { ArchiveContainer } from './archive-container';
import { lockBlobName } from './blob-layout';

/** The reason the lease's stop signal carries: the entity may now be exported by another worker. */
export class LeaseLostError extends Error {
  constructor(reason: string) {
    super(`entity lease lost: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

export class EntityLease {
  private timer: NodeJS.Timeout | undefined;
  private lastRenewedMs: number;
  private released = false;
  private readonly lostController = new AbortController();

  private constructor(
    private readonly lease: BlobLeaseClient,
    private readonly durationSec: number,
    renewEveryMs: number,
  ) {
    this.lastRenewedMs = Date.now();
    this.timer = setInterval(() => void this.renew(), renewEveryMs);
    this.timer.unref();
  }

  /**
   * Takes the entity's lease, or returns undefined if another worker holds it. The lock blob is
   * created on first use. The lease is renewed every durationSec/3 until release().
   */
  static async acquire(
    container: ArchiveContainer,
    entity: Entity,
    opts: { durationSec?: number; signal?: AbortSignal; /** Tests only: renew more often than durationSec/3. */ renewEveryMs?: number } = {},
  ): Promise<EntityLease | undefined> {
    const durationSec = opts.durationSec ?? 60;
    if (!Number.isInteger(durationSec) || durationSec < 15 || durationSec > 60) {
      throw new RangeError(`lease duration must be a whole number of seconds from 15 to 60 (got ${durationSec})`);
    }
    const blob = container.getBlockBlobClient(lockBlobName(entity));
    const lease = blob.getBlobLeaseClient(randomUUID());
    const abort = opts.signal ? { abortSignal: opts.signal } : {};
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await lease.acquireLease(durationSec, abort);
        // Renew well before expiry so one failed renewal (a network blip) still leaves time for the next.
        return new EntityLease(lease, durationSec, opts.renewEveryMs ?? (durationSec * 1000) / 3);
      } catch (err) {
        const status = statusOf(err);
        if (status === 409) return undefined; // LeaseAlreadyPresent: another worker exports this entity
        if (status !== 404) throw err;
      }
      // No lock blob yet: create it (empty). Losing that race to another worker is fine.
      try {
        await blob.upload('', 0, { conditions: { ifNoneMatch: '*' }, ...abort });
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 412) throw err;
      }
    }
    throw new Error(`could not create the lock blob ${blob.name}`);
  }

  /** True once a renewal failed for good: another worker may now hold the entity. */
  get lost(): boolean {
    return this.lostController.signal.aborted;
  }

  /** Aborts (with a LeaseLostError) when the lease is lost, so a job stops writing the moment it happens. */
  get lostSignal(): AbortSignal {
    return this.lostController.signal;
  }

  private markLost(reason: string): void {
    this.stopRenewing();
    if (!this.lostController.signal.aborted) this.lostController.abort(new LeaseLostError(reason));
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      await this.lease.renewLease();
      this.lastRenewedMs = Date.now();
    } catch (err) {
      if (this.released) return;
      const status = statusOf(err);
      // 409/412/404: the lease expired and was taken, or the blob is gone. Anything else is retried at
      // the next tick, unless the lease has run out by then anyway.
      if (status === 409 || status === 412 || status === 404) this.markLost(`renewal refused (${status})`);
      else if (Date.now() - this.lastRenewedMs >= this.durationSec * 1000) this.markLost('renewal failed until the lease expired');
    }
  }

  /** Releases the lease (idempotent). A lease that already expired or was lost is not an error. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopRenewing();
    try {
      await this.lease.releaseLease();
    } catch (err) {
      const status = statusOf(err);
      if (status !== 409 && status !== 412 && status !== 404) throw err;
    }
  }
}

/**
 * Takes the entity's lease, waiting up to `waitMs` for a busy entity (a crashed process leaves its
 * leases for up to their duration, so a single-process run waits that out; a queue worker passes 0
 * and re-queues instead). Undefined when the entity stayed busy.
 */
export async function acquireEntityLease(
  container: ArchiveContainer,
  entity: Entity,
  opts: { durationSec: number; waitMs?: number; signal?: AbortSignal },
): Promise<EntityLease | undefined> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const lease = await EntityLease.acquire(container, entity, { durationSec: opts.durationSec, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (lease || Date.now() >= deadline) return lease;
    await new Promise((r) => setTimeout(r, 1000));
    opts.signal?.throwIfAborted();
  }
}
