// Builds a GraphHttp against a test server with fast retry settings, a token-counting credential and a
// logger that records every line, so tests can assert on retries, tokens and what gets logged.

import type { AccessToken, TokenCredential } from '@azure/identity';
import { GraphHttp, type GraphHttpOptions } from '../../src/graph/graph-http';
import { RateLimiter } from '../../src/graph/rate-limiter';
import { createLogger, type LogFields, type LogLevel } from '../../src/log';

export interface CountingCredential extends TokenCredential {
  /** How many times getToken was called. */
  calls: number;
  /** Every token handed out, in order (`secret-token-1`, `secret-token-2`, ...). */
  issued: string[];
}

/** Hands out a new token per call, valid for `lifetimeMs`. */
export function countingCredential(lifetimeMs = 3_600_000): CountingCredential {
  const credential: CountingCredential = {
    calls: 0,
    issued: [],
    async getToken(): Promise<AccessToken> {
      credential.calls++;
      const token = `secret-token-${credential.calls}`;
      credential.issued.push(token);
      return { token, expiresOnTimestamp: Date.now() + lifetimeMs };
    },
  };
  return credential;
}

export interface TestClient {
  http: GraphHttp;
  credential: CountingCredential;
  limiter: RateLimiter;
  logs: Array<{ level: LogLevel; message: string; fields: LogFields }>;
}

export function graphTestClient(origin: string, overrides: Partial<GraphHttpOptions> = {}): TestClient {
  const logs: TestClient['logs'] = [];
  const credential = countingCredential();
  const limiter = new RateLimiter({ ratePerSec: 1000, burst: 100 });
  const http = new GraphHttp({
    baseUrl: `${origin}/v1.0/`,
    scope: 'https://graph.microsoft.com/.default',
    credential,
    limiter,
    requestTimeoutMs: 2_000,
    maxRetries: 3,
    log: createLogger((level, message, fields) => logs.push({ level, message, fields }), 'debug'),
    backoff: { baseMs: 10, maxMs: 40 },
    random: () => 0.5,
    ...overrides,
  });
  return {
    http,
    credential: (overrides.credential as CountingCredential | undefined) ?? credential,
    limiter: overrides.limiter ?? limiter,
    logs,
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}
