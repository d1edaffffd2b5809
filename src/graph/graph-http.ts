// GET JSON or bytes from Microsoft Graph with a bearer token, the shared rate limit, retries for
// transient failures (429 honouring Retry-After, 5xx, resets, timeouts, truncated bodies) and typed errors.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { Logger } from '../log';
import { type FailureKind, ForeignOriginError, GraphError, MalformedResponseError } from './graph-errors';
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

export interface ByteResponse {
  bytes: Buffer;
  contentType?: string;
  requestId?: string;
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

const TRANSIENT = new Set([429, ...SERVER_ERRORS]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Graph redirects once (shares content → download URL); more than this is a loop. */
const MAX_REDIRECTS = 3;
/** Error bodies are a few hundred bytes of JSON; anything larger is not worth holding. */
const ERROR_BODY_LIMIT = 64 * 1024;

interface ResponseAttempt {
  type: 'response';
  status: number;
  headers: Headers;
  body: Buffer;
  requestId?: string;
}

/** What one attempt produced, before deciding whether to retry. */
type Attempt = ResponseAttempt | { type: 'network'; error: unknown } | { type: 'timeout' } | { type: 'too-large'; status: number };

/** What a caller makes of a response: a result, a retry (garbled 2xx), or an error body to classify. */
type Step<T> = { done: T } | { malformed: true } | { error: unknown };

interface ExecOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  accept: string;
  maxBytes?: number;
  limiter?: { acquire(signal?: AbortSignal): Promise<void> };
  followRedirects?: boolean;
  /** Errors describe one content item, not the entity: 4xx never become 'skip-entity'. */
  contentErrors?: boolean;
}

/** Where the next attempt goes: the Graph origin (token, limits) or a foreign download URL (neither). */
interface Leg {
  url: string;
  graph: boolean;
}

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
   * signal's reason when aborted. Redirects are never followed (a 3xx is a fatal GraphError).
   */
  async getJson(pathOrUrl: string, opts: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<GraphResponse> {
    return this.execute<GraphResponse>(this.resolve(pathOrUrl), { ...opts, accept: 'application/json' }, (res, path) => {
      const body = parseJson(new TextDecoder().decode(res.body));
      if (res.status < 200 || res.status >= 300) return { error: body };
      // A 2xx whose body is not JSON is a truncated or garbled transfer: as transient as a 5xx.
      if (body === undefined) return { malformed: true };
      return { done: { status: res.status, body, path, ...opt('requestId', res.requestId) } };
    });
  }

  /**
   * GETs raw bytes (hosted contents `$value`, `/shares/…/driveItem/content`) with the same origin check,
   * token, limits and retries as getJson; `limiter` (e.g. per conversation) is awaited before each Graph
   * attempt too. A redirect on the Graph origin is followed with the token; a redirect to another origin
   * (a pre-authenticated download URL) is followed once without any Authorization header. A body over
   * `maxBytes` is not read further and fails with code 'TooLarge'. Failures are GraphErrors with status
   * and code; a 403/404 here concerns one content item, so its kind is never 'skip-entity'.
   */
  async getBytes(
    pathOrUrl: string,
    opts: { signal?: AbortSignal; maxBytes?: number; limiter?: { acquire(signal?: AbortSignal): Promise<void> } } = {},
  ): Promise<ByteResponse> {
    const exec: ExecOptions = { accept: '*/*', followRedirects: true, contentErrors: true };
    if (opts.signal) exec.signal = opts.signal;
    if (opts.maxBytes !== undefined) exec.maxBytes = opts.maxBytes;
    if (opts.limiter) exec.limiter = opts.limiter;
    return this.execute<ByteResponse>(this.resolve(pathOrUrl), exec, (res) => {
      if (res.status >= 200 && res.status < 300) {
        const contentType = res.headers.get('content-type') ?? undefined;
        return { done: { bytes: res.body, ...opt('contentType', contentType), ...opt('requestId', res.requestId) } };
      }
      return { error: parseJson(new TextDecoder().decode(res.body)) };
    });
  }

  /**
   * The one attempt loop behind getJson and getBytes: limiters, token, timeout, 401 refresh, 429 pause,
   * 5xx/reset/timeout backoff, redirects (when asked for), and the errors after the retry budget.
   * `accept` turns a response into a result, a retry (malformed) or an error body to classify.
   */
  private async execute<T>(firstUrl: string, req: ExecOptions, accept: (res: ResponseAttempt, path: string) => Step<T>): Promise<T> {
    const { signal } = req;
    // One id for all attempts of this request, so Graph support can correlate the retries.
    const clientRequestId = randomUUID();
    let leg: Leg = { url: firstUrl, graph: true };
    let path = new URL(firstUrl).pathname;
    let retries = 0;
    let refreshed = false;
    let needFresh = false;
    let redirects = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let token: string | undefined;
      if (leg.graph) {
        // The narrower limiter first, so a request waiting for its conversation holds no shared token.
        if (req.limiter) await req.limiter.acquire(signal);
        await this.opts.limiter.acquire(signal);
        token = await this.token(signal, needFresh);
        needFresh = false;
      }
      const started = performance.now();
      const result = await this.send(leg.url, token, clientRequestId, req, signal);
      const durationMs = Math.round(performance.now() - started);
      const where = leg.graph ? path : `${new URL(leg.url).origin}${path}`;

      if (result.type === 'too-large') {
        throw new GraphError(`GET ${where} returned more than ${req.maxBytes} bytes; not read further`, { path, code: 'TooLarge', kind: 'fatal', ...opt('status', result.status) });
      }
      if (result.type !== 'response') {
        if (result.type === 'timeout') this.counters.timeouts++;
        else this.counters.networkErrors++;
        const what = result.type === 'timeout' ? `timed out after ${this.opts.requestTimeoutMs} ms` : `network error (${describeNetworkError(result.error)})`;
        this.opts.log.debug('graph request failed', { method: 'GET', path: where, attempt, error: what, durationMs, clientRequestId });
        if (retries >= this.opts.maxRetries) {
          throw new GraphError(`GET ${where} ${what}; gave up after ${attempt} attempts`, { path, kind: 'retryable', cause: result.type === 'network' ? result.error : undefined });
        }
        await sleep(this.backoffMs(retries), signal);
        retries++;
        this.counters.retries++;
        continue;
      }

      const { status, headers } = result;
      this.opts.log.debug(leg.graph ? 'graph request' : 'download request', { method: 'GET', path: where, status, attempt, requestId: result.requestId, clientRequestId, durationMs });

      const location = headers.get('location');
      if (req.followRedirects && REDIRECTS.has(status) && location) {
        const next = redirectTarget(location, leg.url);
        if (!leg.graph || next === undefined || redirects >= MAX_REDIRECTS) {
          throw new GraphError(`GET ${where} redirected ${leg.graph ? 'too often or to an unusable location' : 'again from the download host'}; not followed`, { status, path, kind: 'fatal', ...opt('requestId', result.requestId) });
        }
        redirects++;
        if (next.origin === this.origin) {
          leg = { url: next.href, graph: true };
        } else {
          // A pre-authenticated download URL (SharePoint/OneDrive): it needs no token and must never get one.
          leg = { url: next.href, graph: false };
          retries = 0;
        }
        path = next.pathname;
        continue;
      }

      const step = accept(result, path);
      if ('done' in step) return step.done;
      if ('malformed' in step) {
        this.counters.malformed++;
        if (retries >= this.opts.maxRetries) {
          throw new MalformedResponseError(`GET ${where} returned ${status} with a body that is not JSON; gave up after ${attempt} attempts`, { status, path, ...opt('requestId', result.requestId) });
        }
        await sleep(this.backoffMs(retries), signal);
        retries++;
        this.counters.retries++;
        continue;
      }

      const body = step.error;
      const requestId = result.requestId ?? errorRequestId(body);
      const code = errorCode(body);
      if (status === 401 && leg.graph && !refreshed) {
        // Tokens can be revoked or rotated before they expire: one fresh token, one more try.
        refreshed = true;
        needFresh = true;
        this.cached = undefined;
        this.counters.tokenRefreshes++;
        continue;
      }
      const kind = req.contentErrors && !TRANSIENT.has(status) ? ({ kind: 'fatal' } as const) : {};
      if (status === 429) {
        this.counters.throttled++;
        if (retries >= this.opts.maxRetries * THROTTLE_BUDGET_FACTOR) throw this.httpError(where, path, status, code, requestId, body, attempt);
        const retryAfter = retryAfterMs(headers.get('retry-after'));
        if (retryAfter !== undefined && leg.graph) {
          // Pausing the shared limiter stops every request of the process: continuing to send while
          // throttled only makes Graph's recovery period longer.
          this.opts.log.info('graph throttled; pausing all requests', { path, retryAfterMs: retryAfter, requestId });
          this.opts.limiter.pauseFor(retryAfter);
        } else {
          // A download host's throttling says nothing about Graph's budget: only this request waits.
          await sleep(retryAfter ?? this.backoffMs(retries), signal);
        }
        retries++;
        this.counters.retries++;
        continue;
      }
      if (SERVER_ERRORS.has(status)) {
        this.counters.serverErrors++;
        if (retries >= this.opts.maxRetries) throw this.httpError(where, path, status, code, requestId, body, attempt);
        await sleep(retryAfterMs(headers.get('retry-after')) ?? this.backoffMs(retries), signal);
        retries++;
        this.counters.retries++;
        continue;
      }
      throw this.httpError(where, path, status, code, requestId, body, attempt, kind.kind);
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

  /**
   * One attempt: the timeout covers the whole response body too, since a stalled body is also a hang.
   * Without a token (a foreign download URL) no Authorization and no Graph headers are sent at all.
   */
  private async send(url: string, token: string | undefined, clientRequestId: string, req: ExecOptions, signal: AbortSignal | undefined): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.opts.requestTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    this.counters.requests++;
    const headers: Record<string, string> =
      token === undefined ? { Accept: req.accept } : { ...req.headers, Accept: req.accept, 'client-request-id': clientRequestId, Authorization: `Bearer ${token}` };
    try {
      const res = await fetch(url, {
        method: 'GET',
        headers,
        signal: combined,
        // Redirects are handled by execute(): fetch would carry the Authorization header along.
        redirect: 'manual',
      });
      const ok = res.status >= 200 && res.status < 300;
      if (!ok && REDIRECTS.has(res.status)) {
        await res.body?.cancel();
        return { type: 'response', status: res.status, headers: res.headers, body: Buffer.alloc(0), ...opt('requestId', res.headers.get('request-id') ?? undefined) };
      }
      // Error bodies are small JSON; a huge one is cut short rather than buffered.
      const limit = ok ? req.maxBytes : ERROR_BODY_LIMIT;
      const body = await readBody(res, limit);
      if (body === undefined) {
        if (ok) return { type: 'too-large', status: res.status };
        return { type: 'response', status: res.status, headers: res.headers, body: Buffer.alloc(0), ...opt('requestId', res.headers.get('request-id') ?? undefined) };
      }
      return { type: 'response', status: res.status, headers: res.headers, body, ...opt('requestId', res.headers.get('request-id') ?? undefined) };
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

  private httpError(where: string, path: string, status: number, code: string | undefined, requestId: string | undefined, body: unknown, attempts: number, kind?: FailureKind): GraphError {
    const detail = errorMessage(body);
    const text = `GET ${where} failed with ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}${requestId ? ` (request-id ${requestId})` : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`;
    return new GraphError(text, { status, path, ...opt('code', code), ...opt('requestId', requestId), ...opt('kind', kind) });
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

/** A relative or absolute Location, resolved; another origin only over https (a download URL is a credential). */
function redirectTarget(location: string, base: string): URL | undefined {
  try {
    const url = new URL(location, base);
    return url.protocol === 'https:' || url.origin === new URL(base).origin ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The body, or undefined as soon as it passes `limit` bytes (the rest is never read). */
async function readBody(res: Response, limit: number | undefined): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const declared = Number(res.headers.get('content-length'));
  if (limit !== undefined && Number.isFinite(declared) && declared > limit) {
    await res.body.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (limit !== undefined && total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
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
