// GET JSON or bytes from Microsoft Graph: the request loop wiring the parts together: the shared rate
// limit, the token (token-provider.ts), one attempt (http-attempt.ts), the origin rule (graph-origin.ts),
// the retry decision (retry-policy.ts) and typed errors (graph-errors.ts).

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TokenCredential } from '@azure/core-auth';
import type { Logger } from '../log';
import { GraphError, MalformedResponseError, parseErrorBody, parseJson, type FailureKind } from './graph-errors';
import { redirectLeg, resolveGraphUrl, type Leg } from './graph-origin';
import { attemptGet, describeNetworkError, REDIRECTS, type BodySink, type ResponseAttempt } from './http-attempt';
import type { RateLimiter } from './rate-limiter';
import { decideRetry, retryAfterMs, SERVER_ERRORS, type Outcome, type RetryPolicy } from './retry-policy';
import { TokenProvider } from './token-provider';
import { freeNow } from '../free-now';

export { retryAfterMs } from './retry-policy';

export interface GraphHttpOptions {
  /** e.g. https://graph.microsoft.com/v1.0 (trailing slash trimmed). */
  baseUrl: string;
  /** e.g. https://graph.microsoft.com/.default */
  scope: string;
  credential: TokenCredential;
  /** Builds a new credential for a forced token refresh (see TokenProviderOptions.newCredential). */
  newCredential?: () => TokenCredential;
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
  /** The body's size as received (bytes). */
  bytes: number;
}

export interface ByteResponse {
  bytes: Buffer;
  contentType?: string;
  requestId?: string;
}

/** A body streamed into a sink (getToSink): what the sink made of it. */
export interface SunkResponse<R> {
  result: R;
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

/**
 * A limiter of the request's own (a conversation's pace, an API's own budget), awaited before each
 * attempt. One with `pauseFor` is an API's own budget (Copilot's, the meetings'): a 429 there pauses that
 * budget only, not every request of the process (docs/graph.md §11).
 */
export interface RequestLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
  pauseFor?(ms: number): void;
}

/** What a caller makes of a response: a result, a retry (garbled 2xx), or an error body to classify. */
type Step<T> = { done: T } | { malformed: true } | { error: unknown };

interface ExecOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  accept: string;
  maxBytes?: number;
  limiter?: RequestLimiter;
  sink?: () => BodySink<unknown>;
  followRedirects?: boolean;
  /** Errors describe one content item, not the entity: 4xx never become 'skip-entity'. */
  contentErrors?: boolean;
  /** `low`: a content download, which takes the shared budget only while no export request waits. */
  priority?: 'normal' | 'low';
}

export class GraphHttp {
  readonly origin: string;
  private readonly baseUrl: string;
  private readonly opts: GraphHttpOptions;
  private readonly policy: RetryPolicy;
  private readonly tokens: TokenProvider;
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
    this.policy = {
      maxRetries: opts.maxRetries,
      backoff: opts.backoff ?? { baseMs: 500, maxMs: 30_000 },
      random: opts.random ?? Math.random,
    };
    this.tokens = new TokenProvider({
      scope: opts.scope,
      credential: opts.credential,
      ...(opts.newCredential ? { newCredential: opts.newCredential } : {}),
    });
  }

  stats(): GraphStats {
    return { ...this.counters };
  }

  /**
   * GETs a path under baseUrl (`/users?...`) or an absolute URL on the same origin (a nextLink, used
   * verbatim). Resolves with the parsed JSON of a 2xx response; rejects with a GraphError, or with the
   * signal's reason when aborted. Redirects are never followed (a 3xx is a fatal GraphError).
   */
  async getJson(
    pathOrUrl: string,
    opts: { signal?: AbortSignal; headers?: Record<string, string>; limiter?: RequestLimiter | undefined } = {},
  ): Promise<GraphResponse> {
    // A 2xx body is kept as its chunks until it is complete, then decoded and parsed in one go (decoded).
    const exec: ExecOptions = { accept: 'application/json', sink: chunkSink };
    if (opts.signal) exec.signal = opts.signal;
    if (opts.headers) exec.headers = opts.headers;
    if (opts.limiter) exec.limiter = opts.limiter;
    return this.execute<GraphResponse>(this.resolve(pathOrUrl), exec, (res, path) => {
      if (res.status < 200 || res.status >= 300) return { error: parseJson(utf8Text(res.body)) };
      const received = res.sunk as ReceivedChunks;
      const bytes = received.bytes;
      const body = parseJson(decoded(received));
      // A 2xx whose body is not JSON is a truncated or garbled transfer: as transient as a 5xx.
      if (body === undefined) return { malformed: true };
      return { done: { status: res.status, body, path, bytes, ...opt('requestId', res.requestId) } };
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
    opts: {
      signal?: AbortSignal;
      maxBytes?: number;
      limiter?: { acquire(signal?: AbortSignal): Promise<void> };
      priority?: 'normal' | 'low';
    } = {},
  ): Promise<ByteResponse> {
    const exec: ExecOptions = { accept: '*/*', followRedirects: true, contentErrors: true };
    if (opts.priority) exec.priority = opts.priority;
    if (opts.signal) exec.signal = opts.signal;
    if (opts.maxBytes !== undefined) exec.maxBytes = opts.maxBytes;
    if (opts.limiter) exec.limiter = opts.limiter;
    return this.execute<ByteResponse>(this.resolve(pathOrUrl), exec, (res) => {
      if (res.status >= 200 && res.status < 300) {
        const contentType = res.headers.get('content-type') ?? undefined;
        return { done: { bytes: res.body, ...opt('contentType', contentType), ...opt('requestId', res.requestId) } };
      }
      return { error: parseJson(utf8Text(res.body)) };
    });
  }

  /**
   * getBytes without holding the body: each attempt streams a 2xx body into a new sink (the sink of a
   * failed attempt is discarded), so a file of any size costs only what the sink keeps.
   */
  async getToSink<R>(
    pathOrUrl: string,
    opts: {
      sink: () => BodySink<R>;
      signal?: AbortSignal;
      maxBytes?: number;
      limiter?: { acquire(signal?: AbortSignal): Promise<void> };
      priority?: 'normal' | 'low';
    },
  ): Promise<SunkResponse<R>> {
    const exec: ExecOptions = { accept: '*/*', followRedirects: true, contentErrors: true, sink: opts.sink };
    if (opts.priority) exec.priority = opts.priority;
    if (opts.signal) exec.signal = opts.signal;
    if (opts.maxBytes !== undefined) exec.maxBytes = opts.maxBytes;
    if (opts.limiter) exec.limiter = opts.limiter;
    return this.execute<SunkResponse<R>>(this.resolve(pathOrUrl), exec, (res) => {
      if (res.status >= 200 && res.status < 300) {
        const contentType = res.headers.get('content-type') ?? undefined;
        return { done: { result: res.sunk as R, ...opt('contentType', contentType), ...opt('requestId', res.requestId) } };
      }
      return { error: parseJson(new TextDecoder().decode(res.body)) };
    });
  }

  /**
   * The one attempt loop behind getJson and getBytes: limiters, token, one attempt, redirects (when
   * asked for), then each failure becomes an Outcome, decideRetry says what to do, and carryOut does it.
   * `accept` turns a response into a result, a retry (malformed) or an error body to classify.
   */
  private async execute<T>(firstUrl: string, req: ExecOptions, accept: (res: ResponseAttempt, path: string) => Step<T>): Promise<T> {
    const { signal } = req;
    // One id for all attempts of this request, so Graph support can correlate the retries.
    const clientRequestId = randomUUID();
    let leg: Leg = { url: firstUrl, graph: true };
    let path = new URL(firstUrl).pathname;
    const state = { retries: 0, refreshed: false, needFresh: false };
    let redirects = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const where = leg.graph ? path : `${new URL(leg.url).origin}${path}`;
      let token: string | undefined;
      if (leg.graph) {
        // The narrower limiter first, so a request waiting for its conversation holds no shared token.
        if (req.limiter) await req.limiter.acquire(signal);
        await this.opts.limiter.acquire(signal, req.priority);
        try {
          token = await this.tokens.token(signal, state.needFresh);
        } catch (err) {
          // A token-endpoint outage backs off like a 5xx; a refused client fails at once.
          if (!(err instanceof GraphError) || err.kind !== 'retryable') throw err;
          this.opts.log.debug('graph token request failed', { path, attempt, error: err.message });
          await this.carryOut({ type: 'token-unavailable' }, state, signal, () => err, { where });
          continue;
        }
        state.needFresh = false;
      }
      const started = performance.now();
      this.counters.requests++;
      const headers: Record<string, string> =
        // Without a token (a foreign download URL) no Authorization and no Graph headers are sent at all.
        token === undefined
          ? { Accept: req.accept }
          : { ...req.headers, Accept: req.accept, 'client-request-id': clientRequestId, Authorization: `Bearer ${token}` };
      const result = await attemptGet(leg.url, {
        headers,
        timeoutMs: this.opts.requestTimeoutMs,
        ...opt('maxBytes', req.maxBytes),
        ...opt('signal', signal),
        ...opt('sink', req.sink),
      });
      const durationMs = Math.round(performance.now() - started);

      if (result.type === 'too-large') {
        throw new GraphError(`GET ${where} returned more than ${req.maxBytes} bytes; not read further`, {
          path,
          code: 'TooLarge',
          kind: 'fatal',
          status: result.status,
        });
      }
      if (result.type !== 'response') {
        if (result.type === 'timeout') this.counters.timeouts++;
        else this.counters.networkErrors++;
        const what =
          result.type === 'timeout'
            ? `timed out after ${this.opts.requestTimeoutMs} ms`
            : `network error (${describeNetworkError(result.error)})`;
        this.opts.log.debug('graph request failed', { method: 'GET', path: where, attempt, error: what, durationMs, clientRequestId });
        const cause = result.type === 'network' ? result.error : undefined;
        await this.carryOut(
          { type: result.type },
          state,
          signal,
          () => new GraphError(`GET ${where} ${what}; gave up after ${attempt} attempts`, { path, kind: 'retryable', cause }),
          { where },
        );
        continue;
      }

      const { status, headers: resHeaders } = result;
      this.opts.log.debug(leg.graph ? 'graph request' : 'download request', {
        method: 'GET',
        path: where,
        status,
        attempt,
        requestId: result.requestId,
        clientRequestId,
        durationMs,
      });

      const location = resHeaders.get('location');
      if (req.followRedirects && REDIRECTS.has(status) && location) {
        const next = redirectLeg(location, leg, this.origin, redirects);
        if (next === undefined) {
          throw new GraphError(
            `GET ${where} redirected ${leg.graph ? 'too often or to an unusable location' : 'again from the download host'}; not followed`,
            { status, path, kind: 'fatal', ...opt('requestId', result.requestId) },
          );
        }
        redirects++;
        // A pre-authenticated download URL (SharePoint/OneDrive) needs no token and must never get one;
        // its failures get their own retry budget.
        if (!next.graph) state.retries = 0;
        leg = next;
        path = new URL(next.url).pathname;
        continue;
      }

      const step = accept(result, path);
      if ('done' in step) return step.done;
      if ('malformed' in step) {
        this.counters.malformed++;
        const fail = () =>
          new MalformedResponseError(`GET ${where} returned ${status} with a body that is not JSON; gave up after ${attempt} attempts`, {
            status,
            path,
            ...opt('requestId', result.requestId),
          });
        await this.carryOut({ type: 'malformed' }, state, signal, fail, { where });
        continue;
      }

      const parsed = parseErrorBody(step.error);
      const requestId = result.requestId ?? parsed.requestId;
      if (status === 429) this.counters.throttled++;
      if (SERVER_ERRORS.has(status)) this.counters.serverErrors++;
      const kind: FailureKind | undefined = req.contentErrors && status !== 429 && !SERVER_ERRORS.has(status) ? 'fatal' : undefined;
      const outcome: Outcome = {
        type: 'status',
        status,
        graph: leg.graph,
        ...opt('retryAfterMs', retryAfterMs(resHeaders.get('retry-after'))),
      };
      await this.carryOut(
        outcome,
        state,
        signal,
        () => httpError(where, path, status, parsed, requestId, attempt, kind),
        { where, ...opt('requestId', requestId) },
        // A content download's 429 is most often Graph's per-conversation limit on hosted contents, not
        // the tenant's: it waits on its own and never pauses the export's pages (docs/design.md §17).
        // A request under an API's own budget pauses that budget (Copilot's limit is not the tenant's).
        req.priority === 'low' ? 'alone' : req.limiter?.pauseFor ? req.limiter : 'all',
      );
    }
  }

  /** Does what decideRetry says for this outcome: waits, pauses everyone, marks a token refresh, or throws. */
  private async carryOut(
    outcome: Outcome,
    state: { retries: number; refreshed: boolean; needFresh: boolean },
    signal: AbortSignal | undefined,
    fail: () => Error,
    where: { where: string; requestId?: string },
    pause: 'all' | 'alone' | { pauseFor?(ms: number): void } = 'all',
  ): Promise<void> {
    const decision = decideRetry(outcome, state, this.policy);
    switch (decision.action) {
      case 'fail':
        throw fail();
      case 'refresh-token':
        state.refreshed = true;
        state.needFresh = true;
        this.counters.tokenRefreshes++;
        return;
      case 'pause-all':
        if (pause === 'alone') {
          await sleep(decision.delayMs, signal);
          break;
        }
        if (pause !== 'all') {
          pause.pauseFor?.(decision.delayMs);
          break;
        }
        this.opts.log.info('graph throttled; pausing all requests', {
          path: where.where,
          retryAfterMs: decision.delayMs,
          requestId: where.requestId,
        });
        this.opts.limiter.pauseFor(decision.delayMs);
        break;
      case 'retry':
        await sleep(decision.delayMs, signal);
        break;
    }
    state.retries++;
    this.counters.retries++;
  }

  /** The URL to fetch; anything off our origin is refused here, before a token is even fetched. */
  private resolve(pathOrUrl: string): string {
    return resolveGraphUrl(pathOrUrl, this.baseUrl, this.origin);
  }
}

function httpError(
  where: string,
  path: string,
  status: number,
  body: { code?: string; message?: string; innerCode?: string },
  requestId: string | undefined,
  attempts: number,
  kind?: FailureKind,
): GraphError {
  // Graph's message is generic text about the failure, never content; shortened anyway. The inner code,
  // when Graph gives one, goes with it: it is the precise reason of a generic 403 (docs/graph-errors.md).
  const message = body.innerCode ? `${body.message ?? ''} [${body.innerCode}]`.trim() : body.message;
  const detail = message?.slice(0, 200);
  const { code } = body;
  const text = `GET ${where} failed with ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}${requestId ? ` (request-id ${requestId})` : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`;
  return new GraphError(text, {
    status,
    path,
    ...opt('code', code),
    ...opt('graphMessage', message),
    ...opt('requestId', requestId),
    ...opt('kind', kind),
  });
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

/** Spreads `{ key: value }` only when the value is defined (exactOptional-friendly object building). */
function opt<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** A body as received: its chunks, and its size. */
interface ReceivedChunks {
  chunks: Uint8Array[];
  bytes: number;
}

/** Collects a body's chunks (see decoded). */
function chunkSink(): BodySink<ReceivedChunks> {
  let chunks: Uint8Array[] = [];
  let bytes = 0;
  return {
    write: async (chunk) => {
      chunks.push(chunk);
      bytes += chunk.byteLength;
    },
    end: async () => ({ chunks, bytes }),
    discard: async () => {
      chunks = [];
    },
  };
}

/** Bodies up to this size are put together in the one reusable buffer; a larger one gets its own. */
const SCRATCH_MAX = 4 * 1024 * 1024;
/**
 * The reusable buffer a body's chunks are put together in to be decoded. The body is decoded and parsed
 * at once, synchronously, so one is enough for the process and the text is garbage before anything else
 * runs: a page costs no buffer of its own besides its chunks (one the C heap would allocate and free for
 * every page, and the garbage collector keep until a full collection), and its text, a large object, is
 * not kept alive across other work long enough to be moved to the old generation (docs/design.md §14).
 */
let scratch: Buffer | undefined;

/** The body's text (as utf8Text); its chunks are let go. */
function decoded(received: ReceivedChunks): string {
  const { chunks, bytes } = received;
  received.chunks = [];
  let into: Buffer;
  if (bytes <= SCRATCH_MAX) {
    if (!scratch || scratch.length < bytes) {
      let size = scratch?.length ?? 64 * 1024;
      while (size < bytes) size *= 2;
      if (scratch) freeNow(scratch);
      scratch = Buffer.allocUnsafeSlow(size);
    }
    into = scratch;
  } else {
    into = Buffer.allocUnsafeSlow(bytes);
  }
  let at = 0;
  for (const c of chunks) {
    into.set(c, at);
    at += c.byteLength;
  }
  const text = utf8Text(into.subarray(0, bytes));
  if (into !== scratch) freeNow(into);
  return text;
}

/**
 * The body as text, as a TextDecoder would give it (UTF-8, a leading byte order mark dropped), without a
 * decoder object per response: Buffer's own decoding is the cheaper of the two for every page read.
 */
function utf8Text(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
