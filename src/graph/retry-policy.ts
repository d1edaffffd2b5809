// The retry decision for one Graph request, as a pure function of what the last attempt produced and how
// many retries it already had: the request loop (graph-http.ts) only carries the decision out.

/** What one attempt produced, reduced to what the decision needs. */
export type Outcome =
  | { type: 'network' }
  | { type: 'timeout' }
  /** A 2xx whose body is not JSON: a truncated or garbled transfer, as transient as a 5xx. */
  | { type: 'malformed' }
  /** The token endpoint is unreachable or answered a transient error (never a wrong secret). */
  | { type: 'token-unavailable' }
  /** An HTTP error status; `graph` = the Graph origin (not a foreign download host). */
  | { type: 'status'; status: number; retryAfterMs?: number; graph: boolean };

export interface AttemptState {
  /** Retries already made for this request (refreshing the token is not one). */
  retries: number;
  /** Whether the token was already refreshed once after a 401. */
  refreshed: boolean;
}

export type Decision =
  /** Wait this long (this request only), then try again. */
  | { action: 'retry'; delayMs: number }
  /** Graph throttled the app: pause every request of the process this long, then try again. */
  | { action: 'pause-all'; delayMs: number }
  /** Get a genuinely new token and try again (once). */
  | { action: 'refresh-token' }
  | { action: 'fail' };

export interface RetryPolicy {
  /** Per request, for retryable failures (429s get THROTTLE_BUDGET_FACTOR times this budget). */
  maxRetries: number;
  /** Capped exponential backoff with full jitter. */
  backoff: { baseMs: number; maxMs: number };
  /** The jitter's random source in [0, 1): injected so the decision is reproducible in tests. */
  random: () => number;
}

/** Throttling is expected under load, so 429s may be retried this many times more than other failures. */
export const THROTTLE_BUDGET_FACTOR = 3;
/** A garbage Retry-After must not stall the whole process for hours. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;
export const SERVER_ERRORS: ReadonlySet<number> = new Set([500, 502, 503, 504]);

export function decideRetry(outcome: Outcome, state: AttemptState, policy: RetryPolicy): Decision {
  if (outcome.type !== 'status') {
    return state.retries >= policy.maxRetries ? { action: 'fail' } : { action: 'retry', delayMs: backoffMs(state.retries, policy) };
  }
  const { status, retryAfterMs, graph } = outcome;
  // Tokens can be revoked or rotated before they expire: one fresh token, one more try.
  if (status === 401 && graph && !state.refreshed) return { action: 'refresh-token' };
  if (status === 429) {
    if (state.retries >= policy.maxRetries * THROTTLE_BUDGET_FACTOR) return { action: 'fail' };
    // Pausing the shared limiter stops every request of the process: continuing to send while
    // throttled only makes Graph's recovery period longer. A download host's throttling says nothing
    // about Graph's budget: only that request waits.
    if (retryAfterMs !== undefined && graph) return { action: 'pause-all', delayMs: retryAfterMs };
    return { action: 'retry', delayMs: retryAfterMs ?? backoffMs(state.retries, policy) };
  }
  if (SERVER_ERRORS.has(status)) {
    if (state.retries >= policy.maxRetries) return { action: 'fail' };
    return { action: 'retry', delayMs: retryAfterMs ?? backoffMs(state.retries, policy) };
  }
  return { action: 'fail' };
}

/** Full jitter over a capped exponential: spreads retries of many workers apart. */
export function backoffMs(retry: number, policy: Pick<RetryPolicy, 'backoff' | 'random'>): number {
  const cap = Math.min(policy.backoff.maxMs, policy.backoff.baseMs * 2 ** retry);
  return Math.floor(policy.random() * cap);
}

/** Retry-After is seconds (fractional allowed, e.g. `2.128`) or an HTTP-date; capped at MAX_RETRY_AFTER_MS. */
export function retryAfterMs(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Math.ceil(Number(text) * 1000);
  else {
    const at = Date.parse(text);
    if (!Number.isFinite(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}
