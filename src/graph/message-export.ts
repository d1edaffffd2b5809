// The Teams Export requests for one entity and window: the exact URL (filter bounds, encoding) and
// the page iterator the export job consumes. Messages, Copilot interactions and meeting artifacts alike
// (docs/graph.md §1, §11).

import { isMessageKind, type Entity } from '../model/entity';
import type { Window } from '../model/window';
import { iso } from '../time';
import type { GraphHttp, RequestLimiter } from './graph-http';
import { pages, type GraphPage } from './paging';

/** Without this header system events arrive as messageType "unknownFutureValue" (docs/graph.md §2). */
export const EXPORT_HEADERS: Record<string, string> = Object.freeze({ Prefer: 'include-unknown-enum-members' });

/**
 * The export request of an entity (see EntityKind for the paths), optionally narrowed to some senders
 * (`EXPORT_CHAT_MODE=sender`, docs/graph.md §3). The window is half-open [from, to) but Graph only has strict gt/lt, hence `gt from − 1 ms`;
 * both bounds are always sent because a lone `gt` is rejected.
 */
export function messageExportPath(entity: Entity, window: Window, top: number, senderFilter?: string, source?: ArtifactSource): string {
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`$top must be a positive integer, got ${top}`);
  if (!Number.isFinite(window.fromMs) || !Number.isFinite(window.toMs) || window.fromMs >= window.toMs) {
    throw new RangeError(`window must satisfy from < to, got [${window.fromMs}, ${window.toMs})`);
  }
  if (entity.id === '') throw new RangeError('entity id must not be empty');
  const id = encodeURIComponent(entity.id);
  if (entity.kind === 'meetings') {
    // A function call, not a filter: the organiser again in the parameters (it must be the user of the path),
    // and the bounds as parameters, exclusive like gt/lt (docs/graph.md §11).
    const call = source === 'recordings' ? 'getAllRecordings' : 'getAllTranscripts';
    const organizer = encodeURIComponent(entity.id.replace(/'/g, "''"));
    return `/users/${id}/onlineMeetings/${call}(meetingOrganizerUserId='${organizer}',startDateTime=${iso(window.fromMs - 1)},endDateTime=${iso(window.toMs)})?$top=${top}`;
  }
  // Copilot interactions are never edited: their window is on createdDateTime (the API filters on nothing else).
  const field = entity.kind === 'copilot' ? 'createdDateTime' : 'lastModifiedDateTime';
  const range = `${field} gt ${iso(window.fromMs - 1)} and ${field} lt ${iso(window.toMs)}`;
  // Sender clauses (chats only) are ORed among themselves, so they go in parentheses before the range.
  const filter = senderFilter ? `(${senderFilter}) and (${range})` : range;
  return `${EXPORT_PATHS[entity.kind](id)}?$top=${top}&$filter=${encodeURIComponent(filter)}`;
}

/** Meetings read two collections per window: their transcripts, then their recordings. */
export type ArtifactSource = 'transcripts' | 'recordings';

const EXPORT_PATHS: Record<Exclude<Entity['kind'], 'meetings'>, (id: string) => string> = {
  user: (id) => `/users/${id}/chats/getAllMessages`,
  team: (id) => `/teams/${id}/channels/getAllMessages`,
  deletedTeam: (id) => `/teamwork/deletedTeams/${id}/channels/getAllMessages`,
  userRetained: (id) => `/users/${id}/chats/getAllRetainedMessages`,
  teamRetained: (id) => `/teams/${id}/channels/getAllRetainedMessages`,
  copilot: (id) => `/copilot/users/${id}/interactionHistory/getAllEnterpriseInteractions`,
};

/** Every page of message versions Graph returns for the entity and window (unsorted, may stray outside it). */
export function messagePages(
  http: GraphHttp,
  entity: Entity,
  window: Window,
  opts: {
    top: number;
    signal?: AbortSignal;
    senderFilter?: string | undefined;
    resumeAt?: string | undefined;
    source?: ArtifactSource | undefined;
    limiter?: RequestLimiter | undefined;
  },
): AsyncGenerator<GraphPage> {
  const path = messageExportPath(entity, window, opts.top, opts.senderFilter, opts.source);
  return pages(http, path, {
    headers: isMessageKind(entity.kind) ? { ...EXPORT_HEADERS } : {},
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.resumeAt !== undefined ? { resumeAt: opts.resumeAt } : {}),
    // The API's own budget (Copilot's, the meetings'): every page waits for it, besides the process's.
    ...(opts.limiter !== undefined ? { limiter: opts.limiter } : {}),
  });
}
