// GET JSON from Microsoft Graph with a bearer token, the shared rate limit, retries for transient
// failures (429 honouring Retry-After, 5xx, resets, timeouts, truncated bodies) and typed errors.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { Logger } from '../log';
import { ForeignOriginError, GraphError, MalformedResponseError } from './graph-errors';
import type { RateLimiter } from './rate-limiter';

export interface GraphHttpOptions {
  /** e.g. https://graph.microsoft.com/v1.0 (trailing slash trimmed). */
  baseUrl: string;
  /** e.g. https://graph.microsoft.com/.default */
  scope: string;
  credential: TokenCredential;
  limiter: RateLimiter;
  /** Per attempt; a hanging response is aborted and retried. */
  requestTimeoutMs: number;
  /** Per request, for retryable failures (429s get three times this budget). */
  maxRetries: number;
  log: Logger;
  /** Capped exponential backoff with full jitter; default 500 ms base, 30 s cap. */
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
}

export interface GraphResponse {
  status: number;
  body: unknown;
  requestId?: string;
  path: string;
}

export interface GraphStats {
  requests: number;
  retries: number;
  throttled: number;
  serverErrors: number;
  networkErrors: number;
  timeouts: number;
  tokenRefreshes: number;
  malformed: number;
}

/** A cached token is reused only while it has more than this left, so it cannot expire in flight. */
const TOKEN_MARGIN_MS = 60_000;
/** Throttling is expected under load, so 429s may be retried this many times more than other failures. */
const THROTTLE_BUDGET_FACTOR = 3;
/** A garbage Retry-After must not stall the whole process for hours. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;
const SERVER_ERRORS = new Set([500, 502, 503, 504]);

/** What one attempt produced, before deciding whether to retry. */
type Attempt =
  | { type: 'response'; status: number; headers: Headers; text: string }
  | { type: 'network'; error: unknown }
  | { type: 'timeout' };

export class GraphHttp {
  readonly origin: string;
  private readonly baseUrl: string;
  private readonly opts: GraphHttpOptions;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly random: () => number;
  private cached: AccessToken | undefined;
  private readonly counters: GraphStats = {
    requests: 0,
    retries: 0,
    throttled: 0,
    serverErrors: 0,
    networkErrors: 0,
    timeouts: 0,
    tokenRefreshes: 0,
    malformed: 0,
  };

  constructor(opts: GraphHttpOptions) {
    this.opts = opts;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.origin = new URL(this.baseUrl).origin;
    this.backoff = opts.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.random = opts.random ?? Math.random;
  }

  stats(): GraphStats {
    return { ...this.counters };
  }

  /**
   * GETs a path under baseUrl (`/users?...`) or an absolute URL on the same origin (a nextLink, used
   * verbatim). Resolves with the parsed JSON of a 2xx response; rejects with a GraphError, or with the
   * signal's reason when aborted.
   */
  async getJson(pathOrUrl: string, opts: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<GraphResponse> {
    const url = this.resolve(pathOrUrl);
    const path = new URL(url).pathname;
    const { signal } = opts;
    // One id for all attempts of this request, so Graph support can correlate the retries.
    const clientRequestId = randomUUID();
    let retries = 0;
    let refreshed = false;
    let needFresh = false;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      await this.opts.limiter.acquire(signal);
      const token = await this.token(signal, needFresh);
      needFresh = false;
      const started = performance.now();
      const result = await this.send(url, token, clientRequestId, opts.headers, signal);
      const durationMs = Math.round(performance.now() - started);

      if (result.type !== 'response') {
        if (result.type === 'timeout') this.counters.timeouts++;
        else this.counters.networkErrors++;
        const what = result.type === 'timeout' ? `timed out after ${this.opts.requestTimeoutMs} ms` : `network error (${describeNetworkError(result.error)})`;
        this.opts.log.debug('graph request failed', { method: 'GET', path, attempt, error: what, durationMs, clientRequestId });
        if (retries >= this.opts.maxRetries) {
          throw new GraphError(`GET ${path} ${what}; gave up after ${attempt} attempts`, { path, kind: 'retryable', cause: result.type === 'network' ? result.error : undefined });
        }
        await sleep(this.backoffMs(retries), signal);
        retries++;
        this.counters.retries++;
        continue;
      }

      const { status, headers, text } = result;
      const body = parseJson(text);
      const requestId = headers.get('request-id') ?? errorRequestId(body);
      this.opts.log.debug('graph request', { method: 'GET', path, status, attempt, requestId, clientRequestId, durationMs });

      if (status >= 200 && status < 300) {
        if (body !== undefined) return { status, body, path, ...(requestId === undefined ? {} : { requestId }) };
        // A 2xx whose body is not JSON is a truncated or garbled transfer: as transient as a 5xx.
        this.counters.malformed++;
        if (retries >= this.opts.maxRetries) {
          throw new MalformedResponseError(`GET ${path} returned ${status} with a body that is not JSON; gave up after ${attempt} attempts`, { status, path, ...opt('requestId', requestId) });
        }
        await sleep(this.backoffMs(retries), signal);
        retries++;
        this.counters.retries++;
        continue;
      }

      const code = errorCode(body);
      if (status === 401 && !refreshed) {
        // Tokens can be revoked or rotated before they expire: one fresh token, one more try.
        refreshed = true;
        needFresh = true;
        this.cached = undefined;
        this.counters.tokenRefreshes++;
        continue;
      }
      if (status === 429) {
        this.counters.throttled++;
        if (retries >= this.opts.maxRetries * THROTTLE_BUDGET_FACTOR) throw this.httpError(path, status, code, requestId, body, attempt);
        const retryAfter = retryAfterMs(headers.get('retry-after'));
        if (retryAfter !== undefined) {
          // Pausing the shared limiter stops every request of the process: continuing to send while
          // throttled only makes Graph's recovery period longer.
          this.opts.log.info('graph throttled; pausing all requests', { path, retryAfterMs: retryAfter, requestId });
          this.opts.limiter.pauseFor(retryAfter);
        } else {
          await sleep(this.backoffMs(retries), signal);
        }
        retries++;
        this.counters.retries++;
        continue;
      }
      if (SERVER_ERRORS.has(status)) {
        this.counters.serverErrors++;
        if (retries >= this.opts.maxRetries) throw this.httpError(path, status, code, requestId, body, attempt);
        await sleep(retryAfterMs(headers.get('retry-after')) ?? this.backoffMs(retries), signal);
        retries++;
        this.counters.retries++;
        continue;
      }
      throw this.httpError(path, status, code, requestId, body, attempt);
    }
  }

  /** The URL to fetch; anything off our origin is refused here, before a token is even fetched. */
  private resolve(pathOrUrl: string): string {
    if (pathOrUrl.startsWith('/')) return this.baseUrl + pathOrUrl;
    let url: URL;
    try {
      url = new URL(pathOrUrl);
    } catch {
      throw new ForeignOriginError(`refusing to request a link that is neither a /path nor an absolute URL`);
    }
    if (url.origin !== this.origin) {
      throw new ForeignOriginError(`refusing to send the Graph token to ${url.origin} (expected ${this.origin})`, { path: url.pathname });
    }
    return pathOrUrl;
  }

  private async token(signal: AbortSignal | undefined, fresh = false): Promise<string> {
    const cached = this.cached;
    if (!fresh && cached && cached.expiresOnTimestamp - Date.now() > TOKEN_MARGIN_MS) return cached.token;
    let token: AccessToken | null;
    try {
      token = await this.opts.credential.getToken(this.opts.scope, {
        ...(signal ? { abortSignal: signal } : {}),
        // After a 401 the credential's own cache may still hold the rejected token: a claims request
        // (a not-before of now) makes MSAL bypass its cache and fetch a new one.
        ...(fresh ? { claims: JSON.stringify({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } } }) } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new GraphError(`could not get an access token for ${this.opts.scope}: ${errorName(err)}`, { kind: 'fatal', cause: err });
    }
    if (!token) throw new GraphError(`the credential returned no access token for ${this.opts.scope}`, { kind: 'fatal' });
    this.cached = token;
    return token.token;
  }

  /** One attempt: the timeout covers the whole response body too, since a stalled body is also a hang. */
  private async send(url: string, token: string, clientRequestId: string, extra: Record<string, string> | undefined, signal: AbortSignal | undefined): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.opts.requestTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    this.counters.requests++;
    try {
      const res = await fetch(url, {
        method: 'GET',
        headers: { ...extra, Accept: 'application/json', 'client-request-id': clientRequestId, Authorization: `Bearer ${token}` },
        signal: combined,
        // A redirect could carry the token to another host; Graph does not redirect these APIs.
        redirect: 'manual',
      });
      const text = await res.text();
      return { type: 'response', status: res.status, headers: res.headers, text };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) return { type: 'timeout' };
      return { type: 'network', error };
    }
  }

  /** Full jitter over a capped exponential: spreads retries of many workers apart. */
  private backoffMs(retry: number): number {
    const cap = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** retry);
    return Math.floor(this.random() * cap);
  }

  private httpError(path: string, status: number, code: string | undefined, requestId: string | undefined, body: unknown, attempts: number): GraphError {
    const detail = errorMessage(body);
    const text = `GET ${path} failed with ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}${requestId ? ` (request-id ${requestId})` : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`;
    return new GraphError(text, { status, path, ...opt('code', code), ...opt('requestId', requestId) });
  }
}

/** Retry-After is seconds (fractional allowed, e.g. `2.128`) or an HTTP-date. */
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

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorObject(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as Record<string, unknown>).error;
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : undefined;
}

function errorCode(body: unknown): string | undefined {
  const code = errorObject(body)?.code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/** Graph's message is generic text about the failure, never content; shortened anyway. */
function errorMessage(body: unknown): string | undefined {
  const message = errorObject(body)?.message;
  return typeof message === 'string' && message !== '' ? message.slice(0, 200) : undefined;
}

function errorRequestId(body: unknown): string | undefined {
  const error = errorObject(body);
  const inner = error?.innerError ?? error?.innererror;
  if (typeof inner !== 'object' || inner === null) return undefined;
  const id = (inner as Record<string, unknown>)['request-id'];
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function describeNetworkError(error: unknown): string {
  // fetch wraps the socket error as `cause`; its code (ECONNRESET, ECONNREFUSED...) is what helps.
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  if (typeof code === 'string') return code;
  return errorName(cause ?? error);
}

function errorName(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}

/** Spreads `{ key: value }` only when the value is defined (exactOptional-friendly object building). */
function opt<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
