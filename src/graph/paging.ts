// Walks a Graph collection by following @odata.nextLink verbatim, validating each page's envelope so a
// broken page stops the walk (and with it any checkpoint) instead of silently ending it early.

import { MalformedResponseError } from './graph-errors';
import type { GraphHttp, GraphResponse } from './graph-http';

export interface GraphPage {
  items: unknown[];
  requestId?: string;
  /** 0 for the first page. */
  index: number;
}

/**
 * Yields every page, starting at `first` (a /path under the base URL). The same headers go with every
 * page because Graph does not carry them in the nextLink. Pages may be empty while a nextLink follows.
 */
/** How often an empty page may repeat its own link before paging gives up. */
export const MAX_SAME_LINK_REPEATS = 10;

export async function* pages(
  http: GraphHttp,
  first: string,
  opts: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): AsyncGenerator<GraphPage> {
  let link: string | undefined = first;
  let repeats = 0;
  for (let index = 0; link !== undefined; index++) {
    const res = await http.getJson(link, opts);
    const { items, nextLink } = readEnvelope(res, index);
    // An empty page may point at the same link again (the service had nothing ready yet): try it a
    // few times. A page with items that links to itself, or endless repeats, would loop forever while
    // looking like progress.
    repeats = nextLink === link ? repeats + 1 : 0;
    if (repeats > 0 && (items.length > 0 || repeats > MAX_SAME_LINK_REPEATS)) {
      throw new MalformedResponseError(`page ${index} of ${res.path} links to itself`, details(res));
    }
    yield { items, index, ...(res.requestId === undefined ? {} : { requestId: res.requestId }) };
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
