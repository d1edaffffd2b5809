import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  decideRetry,
  MAX_RETRY_AFTER_MS,
  retryAfterMs,
  type AttemptState,
  type Decision,
  type Outcome,
  type RetryPolicy,
} from '../../src/graph/retry-policy';

/** maxRetries 3, backoff 100 ms doubling to a 1 s cap, and a jitter source fixed at 0.5 unless a row says otherwise. */
const policy = (random = 0.5): RetryPolicy => ({ maxRetries: 3, backoff: { baseMs: 100, maxMs: 1000 }, random: () => random });
const fresh: AttemptState = { retries: 0, refreshed: false };
const status = (s: number, extra: { retryAfterMs?: number; graph?: boolean } = {}): Outcome => ({
  type: 'status',
  status: s,
  graph: extra.graph ?? true,
  ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
});

const rows: Array<[string, Outcome, AttemptState, Decision]> = [
  [
    '429 with Retry-After on Graph pauses every request',
    status(429, { retryAfterMs: 2128 }),
    fresh,
    { action: 'pause-all', delayMs: 2128 },
  ],
  [
    '429 with Retry-After from a download host waits for this request only',
    status(429, { retryAfterMs: 700, graph: false }),
    fresh,
    { action: 'retry', delayMs: 700 },
  ],
  ['429 without Retry-After backs off', status(429), { retries: 2, refreshed: false }, { action: 'retry', delayMs: 200 }],
  [
    '429 is retried beyond maxRetries (three times the budget)',
    status(429, { retryAfterMs: 10 }),
    { retries: 8, refreshed: false },
    { action: 'pause-all', delayMs: 10 },
  ],
  [
    '429 fails once three times the budget is spent',
    status(429, { retryAfterMs: 10 }),
    { retries: 9, refreshed: false },
    { action: 'fail' },
  ],
  ['500 backs off', status(500), fresh, { action: 'retry', delayMs: 50 }],
  ['502 backs off', status(502), { retries: 1, refreshed: false }, { action: 'retry', delayMs: 100 }],
  ['503 honours its Retry-After', status(503, { retryAfterMs: 100 }), fresh, { action: 'retry', delayMs: 100 }],
  ['504 fails after maxRetries', status(504), { retries: 3, refreshed: false }, { action: 'fail' }],
  ['a connection reset backs off', { type: 'network' }, fresh, { action: 'retry', delayMs: 50 }],
  ['a timeout backs off', { type: 'timeout' }, { retries: 2, refreshed: false }, { action: 'retry', delayMs: 200 }],
  ['a timeout fails after maxRetries', { type: 'timeout' }, { retries: 3, refreshed: false }, { action: 'fail' }],
  ['a garbled 2xx backs off', { type: 'malformed' }, fresh, { action: 'retry', delayMs: 50 }],
  ['a token endpoint outage backs off', { type: 'token-unavailable' }, { retries: 1, refreshed: false }, { action: 'retry', delayMs: 100 }],
  ['a token endpoint outage fails after maxRetries', { type: 'token-unavailable' }, { retries: 3, refreshed: false }, { action: 'fail' }],
  ['the first 401 refreshes the token', status(401), fresh, { action: 'refresh-token' }],
  ['a 401 after a refresh fails', status(401), { retries: 0, refreshed: true }, { action: 'fail' }],
  ['a 401 from a download host fails (it never had our token)', status(401, { graph: false }), fresh, { action: 'fail' }],
  ['400 fails', status(400), fresh, { action: 'fail' }],
  ['403 fails', status(403), fresh, { action: 'fail' }],
  ['404 fails', status(404), fresh, { action: 'fail' }],
  ['501 fails (not transient)', status(501), fresh, { action: 'fail' }],
];

describe('decideRetry', () => {
  it.each(rows)('%s', (_name, outcome, state, expected) => {
    expect(decideRetry(outcome, state, policy())).toEqual(expected);
  });

  it('backoff is capped exponential with full jitter from the injected random source', () => {
    const at = (retry: number, random: number) => backoffMs(retry, policy(random));
    expect([0, 1, 2, 3, 4, 10].map((r) => at(r, 0.999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(at(3, 0)).toBe(0);
    expect(at(3, 0.25)).toBe(200);
    // The jitter comes from the random source, so two sources give two delays for the same retry.
    const a = decideRetry(status(500), { retries: 2, refreshed: false }, policy(0.1));
    const b = decideRetry(status(500), { retries: 2, refreshed: false }, policy(0.9));
    expect([a, b]).toEqual([
      { action: 'retry', delayMs: 40 },
      { action: 'retry', delayMs: 360 },
    ]);
  });
});

describe('retryAfterMs', () => {
  it.each([
    ['2.128', 2128],
    ['0.25', 250],
    ['3', 3000],
    [' 1 ', 1000],
    ['', undefined],
    ['soon', undefined],
    ['99999', MAX_RETRY_AFTER_MS],
  ])('%j → %s ms', (value, ms) => {
    expect(retryAfterMs(value)).toBe(ms);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
