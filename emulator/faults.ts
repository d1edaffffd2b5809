// Fault knobs (latency, throttling, errors, resets, odd pages) and the token bucket that enforces the rate limit.
import { isErrorShapeName, type ErrorShapeName } from './error-shapes';

export interface FaultKnobs {
  /** added to every Graph response */
  latencyMs: number;
  jitterMs: number;
  /** token bucket over all Graph requests of the tenant; beyond it 429 + Retry-After */
  rateLimitRps: number | null;
  /** value sent in Retry-After (fractional allowed, e.g. 0.25) */
  retryAfterSec: number;
  /** fraction of Graph requests answered 500/502/503/504 (Graph-shaped body) */
  errorRate: number;
  /** fraction of requests whose socket is destroyed without a response */
  resetRate: number;
  /** fraction that never respond (for client timeouts) */
  hangRate: number;
  /** fraction answered 200 with a truncated/invalid JSON body */
  malformedRate: number;
  /** fraction of message pages returned empty (with a nextLink still present) */
  emptyPageRate: number;
  /** fraction of message pages that also carry one version whose lastModifiedDateTime is outside the window */
  outOfWindowRate: number;
  /** a fraction of versions become visible only up to maxDelayMs after their lastModifiedDateTime (data clock) */
  lateVisibility: { fraction: number; maxDelayMs: number } | null;
  /** token endpoint answers 503 */
  tokenEndpointDown: boolean;
  /** when set, nextLinks point at this origin instead (clients must refuse foreign links) */
  nextLinkOrigin: string | null;
  /** ids answered 403 (Graph-shaped, code 'Forbidden') */
  forbiddenEntities: string[];
  /**
   * Export requests answered with a real Graph error shape (error-shapes.ts), by entity id or for a whole
   * kind ('user:*', 'team:*', 'deletedTeam:*'), e.g. { 'team:*': 'missingChannelRole' }.
   */
  entityErrors: Record<string, ErrorShapeName>;
  /**
   * Most `or`-ed sender clauses one chats-export `$filter` may carry; beyond it the request is refused
   * like ASP.NET OData's node-count limit (error shape filterTooComplex). 20 is about what its default
   * MaxNodeCount of 100 allows; null lifts the limit.
   */
  maxFilterClauses: number | null;
  /** this many message-export nextLink requests are answered 400 "Invalid continuation token" (counts down) */
  invalidContinuationTokens: number;
  /** hosted contents: token bucket per chat/channel (Graph: about 1 request/s per chat); null = unlimited */
  hostedContentRps: number | null;
  /** how many hosted-content requests a chat may burst before the per-chat rate applies */
  hostedContentBurst: number;
}

export const DEFAULT_FAULTS: FaultKnobs = {
  latencyMs: 0,
  jitterMs: 0,
  rateLimitRps: null,
  retryAfterSec: 1,
  errorRate: 0,
  resetRate: 0,
  hangRate: 0,
  malformedRate: 0,
  emptyPageRate: 0,
  outOfWindowRate: 0,
  lateVisibility: null,
  tokenEndpointDown: false,
  nextLinkOrigin: null,
  forbiddenEntities: [],
  entityErrors: {},
  invalidContinuationTokens: 0,
  maxFilterClauses: 20,
  hostedContentRps: 1,
  hostedContentBurst: 3,
};

const RATE_KEYS = ['errorRate', 'resetRate', 'hangRate', 'malformedRate', 'emptyPageRate', 'outOfWindowRate'] as const;

/** Validates a patch (it may come as JSON from another process) and returns the merged knobs. */
export function mergeFaults(current: FaultKnobs, patch: Partial<FaultKnobs>): FaultKnobs {
  const next: FaultKnobs = { ...current, ...patch };
  for (const k of RATE_KEYS) {
    if (typeof next[k] !== 'number' || !(next[k] >= 0 && next[k] <= 1)) throw new Error(`fault ${k} must be a number in [0, 1]`);
  }
  for (const k of ['latencyMs', 'jitterMs', 'retryAfterSec', 'hostedContentBurst', 'invalidContinuationTokens'] as const) {
    if (typeof next[k] !== 'number' || !(next[k] >= 0)) throw new Error(`fault ${k} must be a number >= 0`);
  }
  if (next.maxFilterClauses !== null && !(Number.isInteger(next.maxFilterClauses) && next.maxFilterClauses > 0)) {
    throw new Error('fault maxFilterClauses must be null or an integer > 0');
  }
  if (next.rateLimitRps !== null && !(typeof next.rateLimitRps === 'number' && next.rateLimitRps > 0)) {
    throw new Error('fault rateLimitRps must be null or a number > 0');
  }
  if (next.hostedContentRps !== null && !(typeof next.hostedContentRps === 'number' && next.hostedContentRps > 0)) {
    throw new Error('fault hostedContentRps must be null or a number > 0');
  }
  const lv = next.lateVisibility;
  if (lv !== null && !(typeof lv === 'object' && lv.fraction >= 0 && lv.fraction <= 1 && lv.maxDelayMs >= 0)) {
    throw new Error('fault lateVisibility must be null or { fraction in [0,1], maxDelayMs >= 0 }');
  }
  if (!Array.isArray(next.forbiddenEntities)) throw new Error('fault forbiddenEntities must be an array of ids');
  if (typeof next.entityErrors !== 'object' || next.entityErrors === null || !Object.values(next.entityErrors).every(isErrorShapeName)) {
    throw new Error('fault entityErrors must map entity ids (or user:*, team:*) to error shape names');
  }
  if (next.nextLinkOrigin !== null && typeof next.nextLinkOrigin !== 'string')
    throw new Error('fault nextLinkOrigin must be null or an origin');
  next.tokenEndpointDown = next.tokenEndpointDown === true;
  return next;
}

/** A token bucket refilled continuously at `rps`, holding at most `capacity` tokens (default: one second's worth). */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private capacity: number;
  constructor(
    private rps: number,
    private readonly now: () => number = () => performance.now(),
    capacity?: number,
  ) {
    this.capacity = capacity ?? rps;
    this.tokens = this.capacity;
    this.last = now();
  }

  setRate(rps: number, capacity?: number): void {
    const cap = capacity ?? rps;
    if (rps !== this.rps || cap !== this.capacity) {
      this.refill();
      this.rps = rps;
      this.capacity = cap;
      this.tokens = Math.min(this.tokens, cap);
    }
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Seconds until one token is available (0 if one is). */
  secondsUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.rps;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rps);
    this.last = t;
  }
}
