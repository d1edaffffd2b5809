// The viewer as one function from (path, query) to a response, shared by `teams-export serve` and
// the HTTP function. Read-only; every path segment is validated before any blob is named from it,
// and any failure becomes a short page (404/400/500) without internals. Every answer that shows
// archived content is recorded through `audit` first; when that fails the page is refused (503).
import type { ArchiveContainer } from '../archive/archive-container';
import type { AuditEvent } from '../archive/audit-trail';
import {
  blobExists,
  listEntityIds,
  listEntityMonths,
  openStoredContent,
  readBatchLine,
  type BrowsableKind,
} from '../archive/archive-browser';
import { readBatchLines } from '../archive/batch-reader';
import { CONTENT_PREFIX, contentBlobName, decodeIdSegment, isArchivePath, parseBatchBlobName } from '../archive/blob-layout';
import { entityLabel } from '../model/entity';
import { NO_NAMES, readLatestDirectoryNames, type DirectoryNames } from '../archive/viewer-names';
import type { Logger } from '../log';
import { VIEWER_CSS, VIEWER_JS } from './assets';
import { CONTENT_SECURITY_POLICY } from './layout';
import { inertFileName } from './file-names';
import type { DayRange, Links } from './links';
import {
  conversationDayPage,
  copilotDayPage,
  dayPages,
  entityPage,
  homePage,
  meetingsDayPage,
  messagePage,
  monthEnd,
  pageOfMessage,
  searchPage,
  type PageEnv,
} from './pages';
import {
  daysInRange,
  isDay,
  loadConversationDay,
  MAX_RANGE_DAYS,
  searchEntity,
  summarizeEntity,
  type ConversationDay,
} from './viewer-data';
import { listArtifactUsers } from '../archive/artifact-archive';
import {
  artifactLabel,
  artifactMonths,
  isMeetingChatId,
  loadCopilotDay,
  loadMeetingsDay,
  loadMeetingsForChatDay,
  summarizeArtifacts,
} from './artifact-data';

export interface ViewerResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | AsyncIterable<Uint8Array>;
}

export interface ViewerDeps {
  container: ArchiveContainer;
  links: Links;
  names: () => Promise<DirectoryNames>;
  log?: Logger;
  signal?: AbortSignal;
  /**
   * Records one read in the audit trail (docs/security.md), called after the content is found and before
   * the answer goes out; a rejection refuses the page. The caller adds who is reading and from where.
   */
  audit: (event: AuditEvent) => Promise<void>;
}

/** Headers of every response: no framing, no sniffing, no referrer, nothing cached. */
const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const RASTER_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** The read could not be recorded, so it is refused. */
class AuditRefused extends Error {}

/** Records the read or refuses it: nothing is shown that the trail does not hold. */
async function recordRead(deps: ViewerDeps, event: AuditEvent): Promise<void> {
  try {
    await deps.audit(event);
  } catch (err) {
    throw new AuditRefused(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

const entityOf = (kind: BrowsableKind, id: string) => entityLabel({ kind, id });

class PageProblem extends Error {
  constructor(
    readonly status: 400 | 404,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

/** The directory names, re-read at most once per `ttlMs` (a snapshot is written once per run). */
export function cachedDirectoryNames(
  container: ArchiveContainer,
  ttlMs = 60_000,
  now: () => number = Date.now,
): () => Promise<DirectoryNames> {
  let cached: { at: number; names: Promise<DirectoryNames> } | undefined;
  return () => {
    if (!cached || now() - cached.at > ttlMs) {
      const names = readLatestDirectoryNames(container).catch(() => NO_NAMES);
      cached = { at: now(), names };
    }
    return cached.names;
  };
}

function html(status: number, body: string): ViewerResponse {
  return {
    status,
    headers: { ...BASE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CONTENT_SECURITY_POLICY },
    body,
  };
}

function plain(status: number, contentType: string, body: ViewerResponse['body'], extra: Record<string, string> = {}): ViewerResponse {
  return {
    status,
    headers: { ...BASE_HEADERS, 'content-type': contentType, 'content-security-policy': "default-src 'none'; sandbox", ...extra },
    body,
  };
}

function entityId(seg: string | undefined): string {
  try {
    return decodeIdSegment(seg ?? '');
  } catch {
    throw new PageProblem(404, 'Not found', 'That address does not name a user, team or conversation of this archive.');
  }
}

function rangeFrom(query: URLSearchParams, fallback: DayRange): DayRange {
  const from = query.get('from') || fallback.from;
  const to = query.get('to') || fallback.to;
  if (!isDay(from) || !isDay(to)) throw new PageProblem(400, 'Bad date range', 'Dates must be real days written yyyy-mm-dd.');
  if (from > to) throw new PageProblem(400, 'Bad date range', `The range starts (${from}) after it ends (${to}).`);
  if (daysInRange({ from, to }) > MAX_RANGE_DAYS)
    throw new PageProblem(400, 'Bad date range', `Choose at most ${MAX_RANGE_DAYS} days at a time.`);
  return { from, to };
}

/** Answers one GET; `path` is below the viewer's base, without a leading '/'. */
export async function viewerRequest(deps: ViewerDeps, path: string, query: URLSearchParams): Promise<ViewerResponse> {
  const env = (names: DirectoryNames): PageEnv => ({ links: deps.links, names });
  try {
    return await route(deps, path, query, env);
  } catch (err) {
    const names = await deps.names().catch(() => NO_NAMES);
    if (err instanceof PageProblem) return html(err.status, messagePage(env(names), err.title, err.message));
    if (err instanceof AuditRefused) {
      deps.log?.error('viewer read refused: the audit record could not be written', { path, error: err.message });
      return html(
        503,
        messagePage(
          env(names),
          'Not shown',
          'This read could not be recorded in the audit trail, so it was refused. Try again in a moment; the log has the details.',
        ),
      );
    }
    deps.log?.error('viewer request failed', { path, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    return html(
      500,
      messagePage(env(names), 'Something went wrong', 'The archive could not be read just now. Try again; the log has the details.'),
    );
  }
}

async function route(deps: ViewerDeps, path: string, query: URLSearchParams, env: (n: DirectoryNames) => PageEnv): Promise<ViewerResponse> {
  const { container, signal } = deps;
  // Browsers ask for it on their own; an empty answer keeps their consoles free of 404s.
  if (path === 'favicon.ico') return { status: 204, headers: BASE_HEADERS, body: '' };
  if (path === 'assets/viewer.css') return plain(200, 'text/css; charset=utf-8', VIEWER_CSS, { 'cache-control': 'max-age=300' });
  if (path === 'assets/viewer.js') return plain(200, 'text/javascript; charset=utf-8', VIEWER_JS, { 'cache-control': 'max-age=300' });
  // The viewer's content URLs mirror the archive's content/ folder.
  if (path.startsWith(CONTENT_PREFIX)) return content(deps, path.slice(CONTENT_PREFIX.length), query.get('name'));
  if (path.startsWith('raw/') || path.startsWith('blob/')) return batchSource(deps, path, query);
  const names = await deps.names();
  if (path === '' || path === 'index.html') {
    // Users with chats, and those with only Copilot interactions or organised meetings.
    const [users, copilotUsers, organizers, teams] = await Promise.all([
      listEntityIds(container, 'user', signal),
      listArtifactUsers(container, 'copilot', signal),
      listArtifactUsers(container, 'meetings', signal),
      listEntityIds(container, 'team', signal),
    ]);
    await recordRead(deps, { action: 'viewer.home' });
    return html(200, homePage(env(names), [...new Set([...users, ...copilotUsers, ...organizers])], teams));
  }
  const parts = path.split('/');
  const kind: BrowsableKind | undefined = parts[0] === 'u' ? 'user' : parts[0] === 't' ? 'team' : undefined;
  if (!kind || parts.length < 2) throw new PageProblem(404, 'Not found', 'There is no page at this address.');
  const id = entityId(parts[1]);
  if (parts.length === 2 || (parts.length === 3 && parts[2] === 'search')) {
    const [messageMonths, otherMonths] = await Promise.all([
      listEntityMonths(container, { kind, id }, signal),
      kind === 'user' && parts.length === 2 ? artifactMonths(container, id, signal) : Promise.resolve([]),
    ]);
    const months = [...new Set([...messageMonths, ...otherMonths])].sort().reverse();
    const latest = months[0];
    if (!latest) throw new PageProblem(404, 'Nothing archived', `The archive holds no messages for ${kind} ${id}.`);
    const range = rangeFrom(query, { from: `${latest}-01`, to: monthEnd(latest) });
    if (parts.length === 3) {
      const q = (query.get('q') ?? '').trim();
      if (q.length === 0 || q.length > 200) throw new PageProblem(400, 'Bad search', 'Type 1 to 200 characters to search for.');
      const hits = await searchEntity(container, kind, id, range, q, signal);
      await recordRead(deps, { action: 'viewer.search', entity: entityOf(kind, id), from: range.from, to: range.to, query: q });
      return html(200, searchPage(env(names), kind, id, range, q, hits));
    }
    const summary = await summarizeEntity(container, kind, id, range, signal);
    const artifacts = kind === 'user' && otherMonths.length > 0 ? await summarizeArtifacts(container, id, range, signal) : undefined;
    const shown = [
      ...(artifacts?.copilot.length ? [artifactLabel('copilot', id)] : []),
      ...(artifacts?.meetings.length ? [artifactLabel('meetings', id)] : []),
    ];
    await recordRead(deps, {
      action: 'viewer.entity',
      entity: entityOf(kind, id),
      from: range.from,
      to: range.to,
      ...(shown.length > 0 ? { entities: shown } : {}),
    });
    return html(200, entityPage(env(names), kind, id, range, summary, months, artifacts));
  }
  if (parts.length === 4 && kind === 'user' && (parts[2] === 'copilot' || parts[2] === 'meetings')) {
    const day = parts[3] as string;
    if (!isDay(day)) throw new PageProblem(404, 'Not found', 'The last part of the address must be a day written yyyy-mm-dd.');
    if (parts[2] === 'copilot') {
      const sessions = await loadCopilotDay(container, id, day, signal);
      if (sessions.length === 0)
        throw new PageProblem(404, 'No Copilot sessions that day', `The archive holds no Copilot interactions of this user on ${day}.`);
      await recordRead(deps, { action: 'viewer.copilot', entity: artifactLabel('copilot', id), day });
      return html(200, copilotDayPage(env(names), id, day, sessions));
    }
    const meetings = await loadMeetingsDay(container, id, day, signal);
    if (meetings.artifacts.length === 0)
      throw new PageProblem(
        404,
        'No meetings that day',
        `The archive holds no transcripts or recordings of meetings this user organised on ${day}.`,
      );
    await recordRead(deps, { action: 'viewer.meetings', entity: artifactLabel('meetings', id), day });
    return html(200, meetingsDayPage(env(names), id, day, meetings));
  }
  if (parts.length === 5 && parts[2] === 'c') {
    const conversationId = entityId(parts[3]);
    const day = parts[4] as string;
    if (!isDay(day)) throw new PageProblem(404, 'Not found', 'The last part of the address must be a day written yyyy-mm-dd.');
    const found = await loadConversationDay(container, kind, id, conversationId, day, signal);
    // A meeting chat's day also shows the transcripts and recordings of its meeting (filed under the organiser).
    const meetings =
      kind === 'user' && isMeetingChatId(conversationId)
        ? await loadMeetingsForChatDay(container, id, conversationId, day, found?.messages ?? [], names, signal)
        : undefined;
    if (!found && !meetings?.artifacts.length)
      throw new PageProblem(404, 'No messages that day', `The archive holds no messages of this conversation on ${day}.`);
    const data: ConversationDay = found ?? { messages: [], content: new Map(), snippets: new Map() };
    const pages = dayPages(kind, data);
    const message = query.get('m');
    const pageNo = message !== null ? pageOfMessage(pages, message) : Number(query.get('page') ?? '1');
    if (pageNo === undefined) throw new PageProblem(404, 'Not found', `No message ${message ?? ''} in this conversation on ${day}.`);
    if (!Number.isSafeInteger(pageNo) || pageNo < 1 || pageNo > pages.length)
      throw new PageProblem(404, 'Not found', `This day has ${pages.length} page(s).`);
    const organizers = [...new Set((meetings?.artifacts ?? []).map((a) => artifactLabel('meetings', a.organizerId)))];
    await recordRead(deps, {
      action: 'viewer.day',
      entity: entityOf(kind, id),
      conversation: conversationId,
      day,
      ...(organizers.length > 0 ? { entities: organizers } : {}),
    });
    return html(200, conversationDayPage(env(names), kind, id, conversationId, day, data, pageNo, meetings));
  }
  throw new PageProblem(404, 'Not found', 'There is no page at this address.');
}

/** `raw/{batch}?line=N` (one archived JSON line) and `blob/{batch}` (the whole batch, decompressed). */
async function batchSource(deps: ViewerDeps, path: string, query: URLSearchParams): Promise<ViewerResponse> {
  const raw = path.startsWith('raw/');
  const blob = path.slice(raw ? 4 : 5);
  // Only message batches named by the archive's own layout: nothing else can be reached from here.
  const batch = parseBatchBlobName(blob);
  if (!isArchivePath(blob) || batch === undefined) throw new PageProblem(404, 'Not found', 'That is not a message batch of this archive.');
  if (!(await blobExists(deps.container, blob, deps.signal))) throw new PageProblem(404, 'Not found', 'No such batch in the archive.');
  const read = { blob, entity: entityLabel(batch.entity), day: batch.day };
  if (!raw) {
    await recordRead(deps, { action: 'viewer.batch', ...read });
    const lines = readBatchLines(deps.container, blob, deps.signal);
    return plain(200, 'text/plain; charset=utf-8', encodeLines(lines));
  }
  const lineNo = Number(query.get('line'));
  if (!Number.isSafeInteger(lineNo) || lineNo < 1) throw new PageProblem(400, 'Bad line number', 'line must be a whole number from 1.');
  const line = await readBatchLine(deps.container, blob, lineNo, deps.signal);
  if (line === undefined) throw new PageProblem(404, 'Not found', `The batch has fewer than ${lineNo} lines.`);
  await recordRead(deps, { action: 'viewer.raw', ...read, line: lineNo });
  return plain(200, 'text/plain; charset=utf-8', `${line}\n`);
}

async function* encodeLines(lines: AsyncIterable<string>): AsyncGenerator<Uint8Array> {
  for await (const line of lines) yield Buffer.from(`${line}\n`, 'utf8');
}

/**
 * `content/{sha256}`: stored bytes. Raster images are shown inline (the pages' <img>); anything else,
 * and any download of a file attachment, goes out as an inert attachment, never rendered as a page.
 */
async function content(deps: ViewerDeps, sha256: string, name: string | null): Promise<ViewerResponse> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new PageProblem(404, 'Not found', 'That is not stored content of this archive.');
  // Streamed, never held whole: a meeting recording can be gigabytes.
  const stored = await openStoredContent(deps.container, sha256, deps.signal);
  if (!stored) throw new PageProblem(404, 'Not found', 'No such content in the archive.');
  try {
    await recordRead(deps, { action: 'viewer.content', blob: contentBlobName(sha256) });
  } catch (err) {
    stored.cancel();
    throw err;
  }
  const length = stored.bytes !== undefined ? { 'content-length': String(stored.bytes) } : {};
  const type = stored.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (name === null && RASTER_IMAGES.has(type))
    return plain(200, type, stored.body, { 'cache-control': 'private, max-age=86400, immutable', ...length });
  const file = inertFileName(name ?? sha256);
  return plain(200, 'application/octet-stream', stored.body, {
    'content-disposition': `attachment; filename="${file.replace(/[^\x20-\x7e]/g, '_').replace(/"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(file)}`,
    ...length,
  });
}
