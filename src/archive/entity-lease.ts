// One export job per entity at a time (docs/design.md §8): a blob lease on the entity's lock blob, renewed
// in the background while the job runs, because queue delivery is at-least-once.
import { randomUUID } from 'node:crypto';
import type { BlobLeaseClient, BlockBlobClient } from '@azure/storage-blob';
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

export interface LeaseOptions {
  durationSec?: number;
  signal?: AbortSignal;
  /** Tests only: renew more often than durationSec/3. */
  renewEveryMs?: number;
  /** Tests only: a renewal's time to answer (default durationSec/3). */
  tryTimeoutMs?: number;
  /**
   * Bench and tests only: 0 renews before every blob write, the fence before issue 22. How long after the
   * last confirmed renewal was sent a blob write needs no renewal of its own (default and upper bound:
   * min(durationSec/2, durationSec − tryTimeoutMs), see confirm()).
   */
  writeFreshMs?: number;
}

/** Block blob calls that write: the fenced container confirms the lease before each (see fence()). */
const WRITES: ReadonlySet<PropertyKey> = new Set([
  'upload',
  'uploadData',
  'uploadStream',
  'uploadFile',
  'stageBlock',
  'stageBlockFromURL',
  'commitBlockList',
  'syncUploadFromURL',
]);

export class EntityLease {
  private timer: NodeJS.Timeout | undefined;
  /** When the last successful renewal (or the acquisition) was sent: the lease runs at least durationSec from then. */
  private lastRenewedMs: number;
  private released = false;
  /** A blob write needs no renewal of its own while the last confirmed renewal is younger than this. */
  private readonly writeFreshMs: number;
  private readonly lostController = new AbortController();
  /** The renewal in flight, shared by the timer and by fenced writes. */
  private renewing: Promise<void> | undefined;
  /** A renewal queued behind the one in flight, for writes that started after it was sent. */
  private renewingNext: Promise<void> | undefined;

  private constructor(
    private readonly lease: BlobLeaseClient,
    private readonly durationSec: number,
    sentAtMs: number,
    renewEveryMs: number,
    private readonly tryTimeoutMs: number,
    writeFreshMs: number | undefined,
  ) {
    this.lastRenewedMs = sentAtMs;
    // Half the period, and never more than the period less one renewal's time to answer (assertHeld's bound).
    const bound = Math.min((durationSec * 1000) / 2, durationSec * 1000 - tryTimeoutMs);
    this.writeFreshMs = writeFreshMs === undefined ? bound : Math.max(0, Math.min(writeFreshMs, bound));
    this.timer = setInterval(() => this.tick(), renewEveryMs);
    this.timer.unref();
  }

  /**
   * Takes the entity's lease, or returns undefined if another worker holds it. The lock blob is
   * created on first use. The lease is renewed every durationSec/3 until release(); each renewal has
   * durationSec/3 to answer, so a failed or hung renewal marks the lease lost while it still runs on
   * the server (docs/design.md §8).
   */
  static acquire(container: ArchiveContainer, entity: Entity, opts: LeaseOptions = {}): Promise<EntityLease | undefined> {
    return EntityLease.acquireLock(container, lockBlobName(entity), opts);
  }

  /** The same on any lock blob under `locks/` (a production's, app/productions.ts). */
  static async acquireLock(container: ArchiveContainer, lockName: string, opts: LeaseOptions = {}): Promise<EntityLease | undefined> {
    const durationSec = opts.durationSec ?? 60;
    if (!Number.isInteger(durationSec) || durationSec < 15 || durationSec > 60) {
      throw new RangeError(`lease duration must be a whole number of seconds from 15 to 60 (got ${durationSec})`);
    }
    const blob = container.getBlockBlobClient(lockName);
    const lease = blob.getBlobLeaseClient(randomUUID());
    const abort = opts.signal ? { abortSignal: opts.signal } : {};
    const third = (durationSec * 1000) / 3;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const sentAtMs = Date.now();
        await lease.acquireLease(durationSec, abort);
        // Renew well before expiry: a renewal sent at a third of the period that gets no answer within
        // another third marks the lease lost a full third before it can expire on the server.
        return new EntityLease(lease, durationSec, sentAtMs, opts.renewEveryMs ?? third, opts.tryTimeoutMs ?? third, opts.writeFreshMs);
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

  /** True once a renewal failed or went unanswered: another worker may now hold the entity. */
  get lost(): boolean {
    return this.lostController.signal.aborted;
  }

  /**
   * Throws LeaseLostError unless the lease is surely still ours: not lost, not released, and confirmed
   * recently enough that it cannot have expired and been taken (the last confirmed renewal was sent less
   * than the duration minus one renewal's time to answer ago). For writes that storage cannot fence with
   * the lease itself, such as table rows (docs/design.md §8).
   */
  assertHeld(): void {
    if (this.lost) throw this.lostController.signal.reason as Error;
    if (this.released) throw new LeaseLostError('released');
    if (Date.now() - this.lastRenewedMs >= this.durationSec * 1000 - this.tryTimeoutMs) {
      this.markLost('no renewal confirmed within the lease period');
      throw this.lostController.signal.reason as Error;
    }
  }

  /** Aborts (with a LeaseLostError) when the lease is lost, so a job stops writing the moment it happens. */
  get lostSignal(): AbortSignal {
    return this.lostController.signal;
  }

  /**
   * The container as seen by the job that holds this lease: every blob write first checks that the lease
   * is surely still ours (confirm()), and fails with LeaseLostError if it may not be. Reads pass through
   * unchanged.
   */
  fence(container: ArchiveContainer): ArchiveContainer {
    const confirm = () => this.confirm();
    const fencedBlob = (client: BlockBlobClient): BlockBlobClient =>
      new Proxy(client, {
        get(target, prop) {
          const value: unknown = Reflect.get(target, prop, target);
          if (typeof value !== 'function') return value;
          if (!WRITES.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
          return async (...args: unknown[]) => {
            await confirm();
            return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        },
      });
    return new Proxy(container, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (prop === 'getBlockBlobClient') return (name: string) => fencedBlob(target.getBlockBlobClient(name));
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  }

  /**
   * Resolves when a write may go ahead (docs/design.md §8). At once while the last confirmed renewal was
   * sent less than half the lease period ago: the lease then runs on the server for at least another
   * half, so no other worker can take it before the write lands, and the write costs no storage call of
   * its own. Past that (a renewal unanswered, a blocked event loop), only once a renewal sent after this
   * call succeeded; it rejects with LeaseLostError (and marks the lease lost) when that renewal fails.
   */
  confirm(): Promise<void> {
    if (this.lost) return Promise.reject(this.lostController.signal.reason as Error);
    if (this.released) return Promise.reject(new LeaseLostError('released'));
    if (Date.now() - this.lastRenewedMs < this.writeFreshMs) return Promise.resolve();
    if (!this.renewing) return this.startRenewal();
    // The renewal in flight may have been sent before a takeover this write must not miss: queue one more.
    this.renewingNext ??= this.renewing
      .catch(() => undefined)
      .then(() => {
        this.renewingNext = undefined;
        return this.confirm();
      });
    return this.renewingNext;
  }

  private tick(): void {
    if (this.released || this.lost) return;
    // Timers can run late (a blocked event loop): with less than one renewal's time to answer left of
    // the period since the last confirmed renewal, the lease may expire before the next answer: stop now.
    if (Date.now() - this.lastRenewedMs >= this.durationSec * 1000 - this.tryTimeoutMs) {
      this.markLost('no renewal confirmed within the lease period');
      return;
    }
    // Always a renewal, never confirm()'s shortcut: the timer is what keeps the lease alive on the server.
    if (!this.renewing) this.startRenewal().catch(() => undefined);
  }

  private startRenewal(): Promise<void> {
    const p = this.renewOnce().finally(() => {
      if (this.renewing === p) this.renewing = undefined;
    });
    this.renewing = p;
    return p;
  }

  private async renewOnce(): Promise<void> {
    const sentAtMs = Date.now();
    try {
      // One bounded try: the timeout also ends the SDK's own retries, which could otherwise outlast the lease.
      await this.lease.renewLease({ abortSignal: AbortSignal.timeout(this.tryTimeoutMs) });
      this.lastRenewedMs = sentAtMs;
    } catch (err) {
      if (this.released) throw new LeaseLostError('released');
      const status = statusOf(err);
      // 409/412/404: the lease expired and was taken, or the blob is gone. Anything else (a timeout, a
      // network error, a 5xx) leaves it uncertain whether we still hold it: stop all the same.
      this.markLost(status !== undefined ? `renewal refused (${status})` : `renewal failed or unanswered within ${this.tryTimeoutMs} ms`);
      throw this.lostController.signal.reason as Error;
    }
  }

  private markLost(reason: string): void {
    this.stopRenewing();
    if (!this.lostController.signal.aborted) this.lostController.abort(new LeaseLostError(reason));
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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
  opts: { durationSec: number; waitMs?: number; signal?: AbortSignal; writeFreshMs?: number },
): Promise<EntityLease | undefined> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const lease = await EntityLease.acquire(container, entity, {
      durationSec: opts.durationSec,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.writeFreshMs !== undefined ? { writeFreshMs: opts.writeFreshMs } : {}),
    });
    if (lease || Date.now() >= deadline) return lease;
    await new Promise((r) => setTimeout(r, 1000));
    opts.signal?.throwIfAborted();
  }
}

/** Whether a lock blob's lease is held now; undefined when the blob does not exist (never taken). */
export async function lockLeased(container: ArchiveContainer, lockName: string): Promise<boolean | undefined> {
  try {
    return (await container.getBlobClient(lockName).getProperties()).leaseState === 'leased';
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}
