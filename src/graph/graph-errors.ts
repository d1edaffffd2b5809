// Typed Graph failures and the one rule that decides what the run does with each (retry, skip the
// entity, or stop): callers branch on `kind`, never on messages.

export type FailureKind = 'retryable' | 'skip-entity' | 'fatal';

export interface GraphErrorInit {
  status?: number;
  code?: string;
  requestId?: string;
  path?: string;
  /** Defaults to classifyFailure(status, code). */
  kind?: FailureKind;
  cause?: unknown;
}

export class GraphError extends Error {
  readonly status?: number;
  readonly code?: string;
  readonly requestId?: string;
  readonly kind: FailureKind;
  /** Request path without query string, for logs (never the token). */
  readonly path?: string;

  constructor(message: string, init: GraphErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.path !== undefined) this.path = init.path;
    this.kind = init.kind ?? classifyFailure(init.status, init.code);
  }
}

/** A nextLink/URL outside GRAPH_BASE_URL's origin: refused before any request, so the token never leaves. */
export class ForeignOriginError extends GraphError {
  constructor(message: string, init: Omit<GraphErrorInit, 'kind'> = {}) {
    super(message, { ...init, kind: 'fatal' });
  }
}

/** A body that is not JSON or not a valid envelope, after retries. Fatal: no checkpoint may advance past it. */
export class MalformedResponseError extends GraphError {
  constructor(message: string, init: Omit<GraphErrorInit, 'kind'> = {}) {
    super(message, { ...init, kind: 'fatal' });
  }
}

/**
 * Codes Graph uses for "this user has no Teams/Exchange data" (docs/graph.md §8). They can
 * come with statuses other than 404, and still only mean "skip this entity".
 */
const NO_DATA_CODES = new Set(['resourcenotfound', 'request_resourcenotfound', 'errorinvaliduser', 'mailboxnotenabledforrestapi']);

/**
 * What a failure means for the run (docs/graph.md §8). `status` undefined = no HTTP
 * response (network error or timeout). 403 is skip-entity here; the run layer decides when
 * "403 on every entity" means a configuration failure.
 */
export function classifyFailure(status: number | undefined, code: string | undefined): FailureKind {
  if (status === undefined) return 'retryable';
  // 408 is a timeout said by a proxy: as transient as our own timeouts.
  if (status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504) return 'retryable';
  if (status === 404 || status === 403) return 'skip-entity';
  // 400 = our bug, 401 after a refresh = credential/config, 402/412 = tenant/config: never skip these.
  if (status === 400 || status === 401 || status === 402 || status === 412) return 'fatal';
  if (status >= 400 && status < 500 && code !== undefined && NO_DATA_CODES.has(code.toLowerCase())) return 'skip-entity';
  return 'fatal';
}
