// Walks a Graph collection by following @odata.nextLink verbatim, validating each page's envelope so a
// broken page stops the walk (and with it any checkpoint) instead of silently ending it early.

import { GraphError, MalformedResponseError } from './graph-errors';
import type { GraphHttp, RequestLimiter, GraphResponse } from './graph-http';

export interface GraphPage {
  items: unknown[];
  requestId?: string;
  /** 0 for the first page (again 0 after a restart). */
  index: number;
  /** How often the read restarted from the first page so far: pages after a restart repeat items. */
  restarts: number;
  /** The link to the next page (absent on the last one): where a read resumes once this page is committed. */
  nextLink?: string;
  /** The size of the page's body as received (bytes): what the read reserves for the next one. */
  bytes: number;
}

/**
 * Yields every page, starting at `first` (a /path under the base URL). The same headers go with every
 * page because Graph does not carry them in the nextLink. Pages may be empty while a nextLink follows.
 */
/** How often an empty page may repeat its own link before paging gives up. */
export const MAX_SAME_LINK_REPEATS = 10;
/**
 * How often Graph may refuse its own nextLink (`400 Invalid continuation token`, docs/graph-errors.md)
 * before the read fails: each time the read starts over from the first page. Items already yielded come
 * again; the archive's write-once de-duplication makes that harmless.
 */
export const MAX_READ_RESTARTS = 2;

export async function* pages(
  http: GraphHttp,
  first: string,
  opts: { signal?: AbortSignal; headers?: Record<string, string>; resumeAt?: string; limiter?: RequestLimiter | undefined } = {},
): AsyncGenerator<GraphPage> {
  // A resumed read (docs/design.md §4) goes on from a nextLink an earlier read recorded; if Graph no
  // longer honours that link, the read starts over from `first` like any refused continuation.
  let link: string | undefined = opts.resumeAt ?? first;
  let repeats = 0;
  let restarts = 0;
  for (let index = 0; link !== undefined; index++) {
    let res: GraphResponse;
    try {
      res = await http.getJson(link, opts);
    } catch (err) {
      const continuing = index > 0 || link !== first;
      if (!(err instanceof GraphError && err.restartRead && continuing && restarts < MAX_READ_RESTARTS)) throw err;
      restarts++;
      link = first;
      index = -1;
      repeats = 0;
      continue;
    }
    const { items, nextLink } = readEnvelope(res, index);
    // An empty page may point at the same link again (the service had nothing ready yet): try it a
    // few times. A page with items that links to itself, or endless repeats, would loop forever while
    // looking like progress.
    repeats = nextLink === link ? repeats + 1 : 0;
    if (repeats > 0 && (items.length > 0 || repeats > MAX_SAME_LINK_REPEATS)) {
      throw new MalformedResponseError(`page ${index} of ${res.path} links to itself`, details(res));
    }
    yield {
      items,
      index,
      restarts,
      bytes: res.bytes,
      ...(res.requestId === undefined ? {} : { requestId: res.requestId }),
      ...(nextLink === undefined ? {} : { nextLink }),
    };
    link = nextLink;
  }
}

function readEnvelope(res: GraphResponse, index: number): { items: unknown[]; nextLink: string | undefined } {
  const body = res.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MalformedResponseError(`page ${index} of ${res.path} is not a JSON object`, details(res));
  }
  const envelope = body as Record<string, unknown>;
  const value = envelope.value;
  if (!Array.isArray(value)) {
    throw new MalformedResponseError(`page ${index} of ${res.path} has no "value" array`, details(res));
  }
  const nextLink = envelope['@odata.nextLink'];
  if (nextLink !== undefined && nextLink !== null && (typeof nextLink !== 'string' || nextLink === '')) {
    throw new MalformedResponseError(`page ${index} of ${res.path} has an invalid "@odata.nextLink"`, details(res));
  }
  return { items: value, nextLink: nextLink ?? undefined };
}

function details(res: GraphResponse): { status: number; path: string; requestId?: string } {
  return { status: res.status, path: res.path, ...(res.requestId === undefined ? {} : { requestId: res.requestId }) };
}
