// One HTTP GET attempt with a timeout covering the whole body, and bounded body reading: what the request
// loop (graph-http.ts) needs to decide, never more bytes than asked for.

export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Error bodies are a few hundred bytes of JSON; anything larger is not worth holding. */
export const ERROR_BODY_LIMIT = 64 * 1024;

export interface ResponseAttempt {
  type: 'response';
  status: number;
  headers: Headers;
  /** The body read into memory (empty when a sink took a 2xx body). */
  body: Buffer;
  /** What the sink made of a 2xx body (AttemptOptions.sink). */
  sunk?: unknown;
  requestId?: string;
}

/**
 * Where a 2xx body goes instead of memory, chunk by chunk (e.g. a hashing spool to storage). One sink per
 * attempt: a failed attempt's sink is discarded, so a retry starts afresh.
 */
export interface BodySink<R> {
  write(chunk: Uint8Array): Promise<void>;
  /** The body is complete. */
  end(): Promise<R>;
  /** The body is not wanted (too large, broken off, timed out): releases what the sink holds. */
  discard(): Promise<void>;
}

/** What one attempt produced, before deciding whether to retry. */
export type Attempt = ResponseAttempt | { type: 'network'; error: unknown } | { type: 'timeout' } | { type: 'too-large'; status: number };

export interface AttemptOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  /** A 2xx body over this many bytes is not read further ('too-large'). */
  maxBytes?: number;
  signal?: AbortSignal;
  /** A 2xx body is streamed into a new sink instead of being held in memory. */
  sink?: () => BodySink<unknown>;
}

/**
 * One attempt: the timeout covers the whole response body too, since a stalled body is also a hang.
 * Redirects are returned, never followed: fetch would carry the Authorization header along.
 * Rejects only with the caller's signal reason.
 */
export async function attemptGet(url: string, opts: AttemptOptions): Promise<Attempt> {
  const { signal } = opts;
  // A timer cleared when the attempt ends, and a listener removed then, rather than AbortSignal.timeout
  // and AbortSignal.any: those live on until the timeout passes (minutes), each attempt's signals and
  // timer with them, thousands at a time at a few hundred requests a second (docs/design.md §14).
  const stop = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop.abort(new DOMException('The operation timed out.', 'TimeoutError'));
  }, opts.timeoutMs);
  const onAbort = () => stop.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const combined = stop.signal;
  try {
    const res = await fetch(url, { method: 'GET', headers: opts.headers, signal: combined, redirect: 'manual' });
    const ok = res.status >= 200 && res.status < 300;
    const requestId = res.headers.get('request-id') ?? undefined;
    const response = (body: Buffer): ResponseAttempt => ({
      type: 'response',
      status: res.status,
      headers: res.headers,
      body,
      ...(requestId === undefined ? {} : { requestId }),
    });
    if (!ok && REDIRECTS.has(res.status)) {
      await res.body?.cancel();
      return response(Buffer.alloc(0));
    }
    if (ok && opts.sink) {
      const sunk = await sinkBody(res, opts.maxBytes, opts.sink());
      if (sunk === TOO_LARGE) return { type: 'too-large', status: res.status };
      return { ...response(Buffer.alloc(0)), sunk: sunk.value };
    }
    // Error bodies are small JSON; a huge one is cut short rather than buffered.
    const body = await readBody(res, ok ? opts.maxBytes : ERROR_BODY_LIMIT);
    if (body === undefined) return ok ? { type: 'too-large', status: res.status } : response(Buffer.alloc(0));
    return response(body);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timedOut) return { type: 'timeout' };
    return { type: 'network', error };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The body, or undefined as soon as it passes `limit` bytes (the rest is never read). */
export async function readBody(res: Response, limit: number | undefined): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inMemory: BodySink<Buffer> = {
    write: async (chunk) => {
      chunks.push(chunk);
      total += chunk.byteLength;
    },
    end: async () => Buffer.concat(chunks, total),
    discard: async () => {
      chunks.length = 0;
    },
  };
  const r = await sinkBody(res, limit, inMemory);
  return r === TOO_LARGE ? undefined : r.value;
}

const TOO_LARGE = Symbol('too-large');

/**
 * Streams the body into the sink, at most `limit` bytes; the sink is discarded on any failure (and
 * the failure rethrown) or when the body passes the limit.
 */
async function sinkBody<R>(res: Response, limit: number | undefined, sink: BodySink<R>): Promise<{ value: R } | typeof TOO_LARGE> {
  try {
    if (!res.body) return { value: await sink.end() };
    const declared = Number(res.headers.get('content-length'));
    if (limit !== undefined && Number.isFinite(declared) && declared > limit) {
      await res.body.cancel();
      await sink.discard();
      return TOO_LARGE;
    }
    let total = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (limit !== undefined && total > limit) {
        await reader.cancel();
        await sink.discard();
        return TOO_LARGE;
      }
      await sink.write(value);
    }
    return { value: await sink.end() };
  } catch (err) {
    await sink.discard().catch(() => undefined);
    throw err;
  }
}

/** fetch wraps the socket error as `cause`; its code (ECONNRESET, ECONNREFUSED...) is what helps. */
export function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  if (typeof code === 'string') return code;
  const e = cause ?? error;
  return (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 300);
}
