// The meeting-artifact routes: `getAllTranscripts(…)` / `getAllRecordings(…)` per organiser (and their
// `/delta` forms), a meeting's transcripts and recordings, their `content` (text/vtt, video/mp4) and a
// transcript's `metadataContent`, plus `GET /users/{id}/onlineMeetings/{meetingId}`. Each checks the
// role it needs (faults missingRoles), the application access policy (meetingAccessPolicyUsers) and,
// for transcripts, the tenant switch (transcriptApiAccess) and speaker attribution.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { graphIdHeaders, sendGraphError, sendJson, type RequestIds } from './http-util';
import {
  artifactKey,
  recordingChunks,
  recordingSha256,
  transcriptMetadata,
  transcriptVtt,
  type ArtifactKind,
  type ArtifactRec,
  type OnlineMeetingRec,
} from './meeting-store';
import { userServed, type EmulatedUser, type Tenant } from './tenant';
import type { GraphContext } from './graph';
import { countArtifactUser, type EmulatorCounters } from './counters';
import type { FaultKnobs } from './faults';
import {
  iso7,
  parseTopParam,
  queryString,
  refuseMissingRole,
  sendArtifactError,
  sendMessageShapeError,
  throttled,
  visibleFrom,
} from './artifact-http';

const USER = String.raw`users(?:/([^/()]+)|\('([^']+)'\))`;
const LIST_FN = new RegExp(String.raw`^/v1\.0/${USER}/onlinemeetings/getall(transcripts|recordings)(?:\(([^)]*)\))?(/delta)?/?$`, 'i');
const MEETING = new RegExp(String.raw`^/v1\.0/${USER}/onlinemeetings/([^/()]+)/?$`, 'i');
const MEETING_ITEMS = new RegExp(
  String.raw`^/v1\.0/${USER}/onlinemeetings/([^/()]+)/(transcripts|recordings)(?:/([^/()]+?)(?:/(content|metadatacontent))?)?/?$`,
  'i',
);

export function isMeetingPath(path: string): boolean {
  return LIST_FN.test(path) || MEETING_ITEMS.test(path) || MEETING.test(path);
}

/** `meetingArtifacts` (lists, deltas, metadata) or `meetingContent` (content, metadataContent). */
export function classifyMeetingPath(path: string): 'meetingArtifacts' | 'meetingContent' {
  return MEETING_ITEMS.exec(path)?.[6] !== undefined ? 'meetingContent' : 'meetingArtifacts';
}

export const MEETING_DEFAULT_TOP = 10;
export const MEETING_MAX_TOP = 999;

export const TRANSCRIPT_VTT = 'text/vtt';
export const TRANSCRIPT_UNATTRIBUTED = 'application/vnd.microsoft.graph.transcript+text';

function findUser(tenant: Tenant, key: string): EmulatedUser | undefined {
  const wanted = key.toLowerCase();
  return tenant.users.find((u) => u.id.toLowerCase() === wanted || u.userPrincipalName.toLowerCase() === wanted);
}

function meetingOrganizerIdentity(tenant: Tenant, organizerId: string): Record<string, unknown> {
  return {
    application: null,
    device: null,
    user: {
      '@odata.type': '#microsoft.graph.teamworkUserIdentity',
      id: organizerId,
      displayName: null,
      userIdentityType: 'aadUser',
      tenantId: tenant.tenantId,
    },
  };
}

export function artifactContentUrl(tenant: Tenant, a: ArtifactRec, part: 'content' | 'metadataContent' = 'content'): string {
  return `${tenant.graphBaseUrl}/users/${a.meeting.organizerId}/onlineMeetings/${a.meeting.id}/${a.kind}s/${a.id}/${part}`;
}

/** The callTranscript or callRecording JSON Graph serves in lists and deltas. */
export function renderArtifact(tenant: Tenant, a: ArtifactRec): Record<string, unknown> {
  const common = {
    '@odata.type': a.kind === 'transcript' ? '#microsoft.graph.callTranscript' : '#microsoft.graph.callRecording',
    id: a.id,
    meetingId: a.meeting.id,
    callId: a.callId,
    contentCorrelationId: a.correlationId,
    createdDateTime: iso7(a.createdMs),
    endDateTime: iso7(a.endMs),
  };
  return a.kind === 'transcript'
    ? {
        ...common,
        transcriptContentUrl: artifactContentUrl(tenant, a),
        meetingOrganizer: meetingOrganizerIdentity(tenant, a.meeting.organizerId),
      }
    : {
        ...common,
        recordingContentUrl: artifactContentUrl(tenant, a),
        meetingOrganizer: meetingOrganizerIdentity(tenant, a.meeting.organizerId),
      };
}

/** The recording that serves faults largeRecordingBytes, if any. */
export function largeRecordingId(tenant: Tenant, f: FaultKnobs): string | null {
  return f.largeRecordingBytes === null ? null : (f.largeRecordingId ?? tenant.meetings.firstRecordingId);
}

function visibleAt(a: ArtifactRec, late: FaultKnobs['artifactLateVisibility']): number {
  return visibleFrom(a.addedAtMs, a.createdMs, artifactKey(a), late);
}

// ---- the organiser-wide functions ----

/** What a list or delta page walks: fixed by the first page, carried in the skip and delta tokens. */
interface ListState {
  kind: ArtifactKind;
  organizerId: string;
  start: number | null;
  end: number | null;
  /** the data clock and insertion counter the round sees */
  t: number;
  s: number;
  /** delta: what the previous round saw (null on a first round or a plain list) */
  t0: number | null;
  s0: number | null;
  offset: number;
  top: number;
  delta: boolean;
  /** a deltaLink's token: the next round starts from (t, s) */
  phase: 'page' | 'next-round';
}

const encodeState = (s: ListState) => Buffer.from(JSON.stringify(s), 'utf8').toString('base64url');
function decodeState(token: string): ListState | undefined {
  try {
    const s = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ListState;
    return typeof s === 'object' && s !== null && (s.kind === 'transcript' || s.kind === 'recording') && Number.isFinite(s.offset)
      ? s
      : undefined;
  } catch {
    return undefined;
  }
}

const DTO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$/;

/** Parses `meetingOrganizerUserId='…',startDateTime=…,endDateTime=…` (any order, spaces allowed). */
function parseFunctionArgs(raw: string): { organizer?: string; start?: number; end?: number } | string {
  const out: { organizer?: string; start?: number; end?: number } = {};
  if (raw.trim() === '') return out;
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (eq < 0) return `Invalid function parameter '${part.trim()}'.`;
    if (name === 'meetingorganizeruserid') {
      const m = /^'([^']*)'$/.exec(value);
      if (!m) return `The value of meetingOrganizerUserId must be a quoted string, got ${value}.`;
      out.organizer = m[1] as string;
    } else if (name === 'startdatetime' || name === 'enddatetime') {
      const ms = DTO.test(value) ? Date.parse(value) : NaN;
      if (!Number.isFinite(ms))
        return `The value of ${name === 'startdatetime' ? 'startDateTime' : 'endDateTime'} is not a DateTimeOffset: ${value}.`;
      if (name === 'startdatetime') out.start = ms;
      else out.end = ms;
    } else return `Unknown function parameter '${part.slice(0, eq).trim()}'.`;
  }
  return out;
}

function fnPath(s: ListState, pathUser: string): string {
  const args = [`meetingOrganizerUserId='${s.organizerId}'`];
  if (s.start !== null) args.push(`startDateTime=${new Date(s.start).toISOString()}`);
  if (s.end !== null) args.push(`endDateTime=${new Date(s.end).toISOString()}`);
  return `users('${encodeURIComponent(pathUser)}')/onlineMeetings/getAll${s.kind === 'transcript' ? 'Transcripts' : 'Recordings'}(${args.join(',')})${s.delta ? '/delta' : ''}`;
}

function listItems(tenant: Tenant, f: FaultKnobs, s: ListState): ArtifactRec[] {
  const late = f.artifactLateVisibility;
  return tenant.meetings.of(s.organizerId, s.kind).filter((a) => {
    if (a.addSeq > s.s || visibleAt(a, late) > s.t) return false;
    // startDateTime / endDateTime: artifacts created after / before them
    if (s.start !== null && !(a.createdMs > s.start)) return false;
    if (s.end !== null && !(a.createdMs < s.end)) return false;
    // a delta round serves what the previous round did not see
    if (s.t0 !== null && s.s0 !== null && a.addSeq <= s.s0 && visibleAt(a, late) <= s.t0) return false;
    return true;
  });
}

/** Common checks of every artifact route: the user in the path, the access policy, the transcript switch. */
function refuseAccess(
  res: ServerResponse,
  ids: RequestIds,
  ctx: GraphContext,
  userKey: string,
  kind: ArtifactKind | null,
): EmulatedUser | null {
  const f = ctx.faults();
  const user = findUser(ctx.tenant, userKey);
  if (!user || !userServed(user, ctx.clock())) {
    sendMessageShapeError(res, ids, 'userGone', userKey);
    return null;
  }
  if (f.meetingAccessPolicyUsers !== null && !f.meetingAccessPolicyUsers.some((u) => u.toLowerCase() === user.id.toLowerCase())) {
    sendArtifactError(res, ids, 'noAccessPolicy', f, userKey);
    return null;
  }
  if (kind === 'transcript' && !f.transcriptApiAccess) {
    sendArtifactError(res, ids, 'transcriptsDisabled', f);
    return null;
  }
  return user;
}

function roleOf(
  kind: ArtifactKind,
): ['OnlineMeetingTranscript.Read.All', 'missingTranscriptRole'] | ['OnlineMeetingRecording.Read.All', 'missingRecordingRole'] {
  return kind === 'transcript'
    ? ['OnlineMeetingTranscript.Read.All', 'missingTranscriptRole']
    : ['OnlineMeetingRecording.Read.All', 'missingRecordingRole'];
}

function countUser(c: EmulatorCounters, userKey: string, route: 'meetingList' | 'meetingContent' = 'meetingList'): void {
  countArtifactUser(c, route, userKey);
}

export function handleMeetings(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  params: URLSearchParams,
  ids: RequestIds,
  ctx: GraphContext,
): void {
  const list = LIST_FN.exec(path);
  if (list) return handleList(res, list, params, ids, ctx);
  const items = MEETING_ITEMS.exec(path);
  if (items) return handleItems(req, res, items, params, ids, ctx);
  const meeting = MEETING.exec(path) as RegExpExecArray;
  return handleMeeting(res, meeting, params, ids, ctx);
}

function handleList(res: ServerResponse, m: RegExpExecArray, params: URLSearchParams, ids: RequestIds, ctx: GraphContext): void {
  const { tenant, counters } = ctx;
  const f = ctx.faults();
  const userKey = (m[1] ?? m[2]) as string;
  const kind: ArtifactKind = (m[3] as string).toLowerCase() === 'transcripts' ? 'transcript' : 'recording';
  const delta = m[5] !== undefined;
  counters.meetingRequests++;
  countUser(counters, userKey);
  if (throttled(res, ids, ctx.artifactBuckets, 'meeting', f.meetingRps, f.meetingBurst)) {
    counters.meetingThrottled++;
    return;
  }
  const byName = new Map<string, string>();
  for (const [k, v] of params) {
    const name = k.toLowerCase().replace(/^\$/, '');
    if (!['top', 'skiptoken', 'deltatoken', 'filter'].includes(name))
      return sendGraphError(res, ids, 400, 'BadRequest', `Query option '${k}' is not supported.`);
    byName.set(name, v);
  }
  const args = m[4] === undefined ? {} : parseFunctionArgs(m[4]);
  if (typeof args === 'string') return sendGraphError(res, ids, 400, 'BadRequest', args);
  let organizer = args.organizer;
  const filterRaw = byName.get('filter');
  if (filterRaw !== undefined) {
    // the older form: getAllTranscripts?$filter=MeetingOrganizer/User/Id eq '…'
    const fm = /^\s*MeetingOrganizer\/User\/Id\s+eq\s+'([^']+)'\s*$/i.exec(filterRaw);
    if (!fm)
      return sendGraphError(res, ids, 400, 'BadRequest', `Invalid filter clause: only MeetingOrganizer/User/Id eq '<id>' is supported.`);
    organizer = fm[1];
  }
  const token = byName.get('skiptoken') ?? byName.get('deltatoken');
  let state: ListState;
  if (token !== undefined) {
    const s = decodeState(token);
    if (!s || s.kind !== kind || s.delta !== delta) return sendGraphError(res, ids, 400, 'BadRequest', 'Invalid skip token.');
    if (organizer !== undefined && organizer.toLowerCase() !== s.organizerId.toLowerCase())
      return sendGraphError(res, ids, 400, 'BadRequest', 'The skip token does not belong to this meeting organizer.');
    state = s.phase === 'next-round' ? { ...s, t0: s.t, s0: s.s, t: ctx.clock(), s: tenant.meetings.lastSeq, offset: 0, phase: 'page' } : s;
  } else {
    const top = parseTopParam(byName.get('top') ?? null, MEETING_DEFAULT_TOP, MEETING_MAX_TOP);
    if (typeof top === 'string') return sendGraphError(res, ids, 400, 'BadRequest', top);
    if (organizer === undefined) return sendArtifactError(res, ids, 'organizerRequired', f);
    const pathUser = findUser(tenant, userKey);
    if (pathUser && organizer.toLowerCase() !== pathUser.id.toLowerCase() && organizer.toLowerCase() !== userKey.toLowerCase())
      return sendGraphError(res, ids, 400, 'BadRequest', 'meetingOrganizerUserId must be the user in the request path.');
    state = {
      kind,
      organizerId: pathUser?.id ?? organizer,
      start: args.start ?? null,
      end: args.end ?? null,
      t: ctx.clock(),
      s: tenant.meetings.lastSeq,
      t0: null,
      s0: null,
      offset: 0,
      top,
      delta,
      phase: 'page',
    };
  }
  const [role, shape] = roleOf(kind);
  if (refuseMissingRole(res, ids, f, role, shape)) return;
  if (!refuseAccess(res, ids, ctx, userKey, kind)) return;

  const all = listItems(tenant, f, state);
  // faults emptyPageRate: an empty page whose nextLink asks for the same page again
  const emptied = f.emptyPageRate > 0 && ctx.rng() < f.emptyPageRate;
  if (emptied) counters.faults.emptyPage++;
  const page = emptied ? [] : all.slice(state.offset, state.offset + state.top);
  if (kind === 'transcript') {
    counters.transcriptPages++;
    counters.transcriptsServed += page.length;
  } else {
    counters.recordingPages++;
    counters.recordingsServed += page.length;
  }
  const base = `${f.nextLinkOrigin ?? ctx.origin}/v1.0/${fnPath(state, userKey)}`;
  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.origin}/v1.0/$metadata#Collection(${kind === 'transcript' ? 'callTranscript' : 'callRecording'})`,
    '@odata.count': page.length,
  };
  const more = emptied || state.offset + state.top < all.length;
  if (more) {
    const q: Array<[string, string]> = [];
    if (!delta) q.push(['$top', String(state.top)]);
    q.push(['skipToken', encodeState({ ...state, offset: emptied ? state.offset : state.offset + state.top })]);
    body['@odata.nextLink'] = `${base}?${queryString(q)}`;
  } else if (delta) {
    // Graph's example puts the delta token in a `skipToken` parameter too
    body['@odata.deltaLink'] = `${base}?${queryString([['skipToken', encodeState({ ...state, offset: 0, phase: 'next-round' })]])}`;
  }
  body.value = page.map((a) => renderArtifact(tenant, a));
  sendJson(res, 200, body, graphIdHeaders(ids));
}

/** The meeting named in a path, if the path's user organised it or is a member of its chat. */
function meetingFor(tenant: Tenant, user: EmulatedUser, meetingId: string): OnlineMeetingRec | undefined {
  const meeting = tenant.meetings.meeting(meetingId);
  if (!meeting) return undefined;
  return meeting.organizerId === user.id || tenant.chat(meeting.chatId)?.memberIds.includes(user.id) ? meeting : undefined;
}

function handleMeeting(res: ServerResponse, m: RegExpExecArray, params: URLSearchParams, ids: RequestIds, ctx: GraphContext): void {
  const { tenant, counters } = ctx;
  const f = ctx.faults();
  const userKey = (m[1] ?? m[2]) as string;
  counters.meetingRequests++;
  countUser(counters, userKey);
  if (throttled(res, ids, ctx.artifactBuckets, 'meeting', f.meetingRps, f.meetingBurst)) {
    counters.meetingThrottled++;
    return;
  }
  for (const k of params.keys()) {
    if (k.toLowerCase() !== '$select') return sendGraphError(res, ids, 400, 'BadRequest', `Query option '${k}' is not supported.`);
  }
  if (refuseMissingRole(res, ids, f, 'OnlineMeetings.Read.All', 'missingMeetingRole')) return;
  const user = refuseAccess(res, ids, ctx, userKey, null);
  if (!user) return;
  const meeting = meetingFor(tenant, user, m[3] as string);
  if (!meeting) return sendArtifactError(res, ids, 'artifactNotFound', f);
  const chat = tenant.chat(meeting.chatId);
  const occurrences = tenant.meetings.of(meeting.organizerId, 'transcript').concat(tenant.meetings.of(meeting.organizerId, 'recording'));
  const mine = occurrences.filter((a) => a.meeting.id === meeting.id);
  const last = mine.reduce((at, a) => Math.max(at, a.createdMs), meeting.createdMs + 86_400_000);
  const identity = (id: string) => {
    const u = tenant.user(id);
    return {
      upn: u?.userPrincipalName ?? null,
      role: id === meeting.organizerId ? 'presenter' : 'attendee',
      identity: { user: { id, displayName: null, tenantId: tenant.tenantId, identityProvider: 'AAD' } },
    };
  };
  sendJson(
    res,
    200,
    {
      '@odata.context': `${ctx.origin}/v1.0/$metadata#users('${userKey}')/onlineMeetings/$entity`,
      id: meeting.id,
      creationDateTime: iso7(meeting.createdMs),
      startDateTime: iso7(last),
      endDateTime: iso7(last + 30 * 60_000),
      joinWebUrl: meeting.joinWebUrl,
      subject: meeting.subject,
      isBroadcast: false,
      chatInfo: { threadId: meeting.chatId, messageId: '0', replyChainMessageId: null },
      participants: {
        organizer: identity(meeting.organizerId),
        attendees: (chat?.memberIds ?? []).filter((id) => id !== meeting.organizerId).map(identity),
      },
    },
    graphIdHeaders(ids),
  );
}

/** Which transcript format a content request asks for: attributed VTT, unattributed, or an error text. */
function transcriptFormat(
  req: IncomingMessage,
  params: URLSearchParams,
  attribution: boolean,
): 'attributed' | 'unattributed' | 'refused' | string {
  const format = [...params.entries()].find(([k]) => k.toLowerCase() === '$format')?.[1];
  if (format !== undefined) {
    // the unattributed type can only be asked for with Accept
    if (format !== TRANSCRIPT_VTT) return `Invalid format '${format}'. Supported: ${TRANSCRIPT_VTT}.`;
    return attribution ? 'attributed' : 'refused';
  }
  const accept = String(req.headers.accept ?? '').toLowerCase();
  if (accept.includes(TRANSCRIPT_UNATTRIBUTED)) return 'unattributed';
  if (accept.includes(TRANSCRIPT_VTT)) return attribution ? 'attributed' : 'refused';
  return attribution ? 'attributed' : 'unattributed';
}

function handleItems(
  req: IncomingMessage,
  res: ServerResponse,
  m: RegExpExecArray,
  params: URLSearchParams,
  ids: RequestIds,
  ctx: GraphContext,
): void {
  const { tenant, counters } = ctx;
  const f = ctx.faults();
  const userKey = (m[1] ?? m[2]) as string;
  const kind: ArtifactKind = (m[4] as string).toLowerCase() === 'transcripts' ? 'transcript' : 'recording';
  const itemId = m[5];
  const part = m[6]?.toLowerCase();
  countUser(counters, userKey, part === undefined ? 'meetingList' : 'meetingContent');
  if (part === undefined) counters.meetingRequests++;
  else if (kind === 'transcript') counters.transcriptContentRequests++;
  else counters.recordingContentRequests++;
  if (throttled(res, ids, ctx.artifactBuckets, 'meeting', f.meetingRps, f.meetingBurst)) {
    counters.meetingThrottled++;
    return;
  }
  if (part === 'metadatacontent' && kind === 'recording')
    return sendGraphError(res, ids, 400, 'BadRequest', "Resource not found for the segment 'metadataContent'.");
  for (const k of params.keys()) {
    const name = k.toLowerCase();
    const ok =
      part === undefined
        ? name === '$select' || (itemId === undefined && name === '$filter')
        : kind === 'transcript' && part === 'content' && name === '$format';
    if (!ok) return sendGraphError(res, ids, 400, 'BadRequest', `Query option '${k}' is not supported.`);
  }
  const [role, shape] = roleOf(kind);
  if (refuseMissingRole(res, ids, f, role, shape)) return;
  const user = refuseAccess(res, ids, ctx, userKey, kind);
  if (!user) return;
  const meeting = meetingFor(tenant, user, m[3] as string);
  if (!meeting) return sendArtifactError(res, ids, 'artifactNotFound', f);
  const now = ctx.clock();
  const visible = tenant.meetings
    .of(meeting.organizerId, kind)
    .filter((a) => a.meeting.id === meeting.id && visibleAt(a, f.artifactLateVisibility) <= now);
  if (itemId === undefined) {
    // a meeting's transcripts or recordings; `$filter=contentCorrelationId eq '…'` picks one occurrence's
    const filterRaw = params.get('$filter');
    let value = visible;
    if (filterRaw !== null) {
      const fm = /^\s*contentCorrelationId\s+eq\s+'([^']+)'\s*$/i.exec(filterRaw);
      if (!fm)
        return sendGraphError(res, ids, 400, 'BadRequest', "Invalid filter clause: only contentCorrelationId eq '<id>' is supported.");
      value = visible.filter((a) => a.correlationId === fm[1]);
    }
    if (kind === 'transcript') counters.transcriptsServed += value.length;
    else counters.recordingsServed += value.length;
    return sendJson(
      res,
      200,
      {
        '@odata.context': `${ctx.origin}/v1.0/$metadata#users('${userKey}')/onlineMeetings('${meeting.id}')/${kind}s`,
        '@odata.count': value.length,
        value: value.map((a) => {
          const { '@odata.type': _t, ...rest } = renderArtifact(tenant, a);
          return rest;
        }),
      },
      graphIdHeaders(ids),
    );
  }
  const a = visible.find((x) => x.id === itemId);
  if (!a) return sendArtifactError(res, ids, 'artifactNotFound', f);
  if (part === undefined) {
    const { '@odata.type': _t, ...rest } = renderArtifact(tenant, a);
    return sendJson(
      res,
      200,
      { '@odata.context': `${ctx.origin}/v1.0/$metadata#users('${userKey}')/onlineMeetings('${meeting.id}')/${kind}s/$entity`, ...rest },
      graphIdHeaders(ids),
    );
  }
  if (kind === 'transcript') {
    let bytes: Buffer;
    let type: string;
    if (part === 'metadatacontent') {
      // the metadata names the speakers: refused like attributed content when attribution is off
      if (!f.transcriptSpeakerAttribution) return sendArtifactError(res, ids, 'speakerAttributionNotAllowed', f);
      bytes = transcriptMetadata(a);
      type = TRANSCRIPT_VTT;
    } else {
      const format = transcriptFormat(req, params, f.transcriptSpeakerAttribution);
      if (format === 'refused') return sendArtifactError(res, ids, 'speakerAttributionNotAllowed', f);
      if (format !== 'attributed' && format !== 'unattributed') return sendGraphError(res, ids, 400, 'BadRequest', format);
      bytes = transcriptVtt(a, format === 'attributed');
      type = format === 'attributed' ? TRANSCRIPT_VTT : TRANSCRIPT_UNATTRIBUTED;
    }
    counters.transcriptBytesServed += bytes.length;
    res.writeHead(200, { 'content-type': type, 'content-length': bytes.length, ...graphIdHeaders(ids) });
    res.end(bytes);
    return;
  }
  const large = largeRecordingId(tenant, f) === a.id;
  void sendRecording(
    res,
    a,
    large ? (f.largeRecordingBytes as number) : a.size,
    large,
    large ? f.recordingChunkDelayMs : 0,
    ids,
    counters,
  ).catch(() => res.destroy());
}

/**
 * Streams a recording with backpressure; the large one without a Content-Length, chunk by chunk, never
 * held in memory (like the sized files in files.ts).
 */
async function sendRecording(
  res: ServerResponse,
  a: ArtifactRec,
  size: number,
  large: boolean,
  delayMs: number,
  ids: RequestIds,
  counters: EmulatorCounters,
): Promise<void> {
  counters.recordingsInFlight++;
  counters.recordingsMaxInFlight = Math.max(counters.recordingsMaxInFlight, counters.recordingsInFlight);
  try {
    res.writeHead(200, { 'content-type': 'video/mp4', ...(large ? {} : { 'content-length': size }), ...graphIdHeaders(ids) });
    for (const chunk of recordingChunks(a.id, size)) {
      if (res.destroyed) return;
      counters.recordingBytesServed += chunk.length;
      if (!res.write(chunk))
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    res.end();
    counters.recordingsDownloaded++;
  } finally {
    counters.recordingsInFlight--;
  }
}

/** What a test can expect of a transcript or recording: its listed JSON and its bodies' bytes and SHA-256. */
export interface ExpectedMeetingArtifact {
  kind: ArtifactKind;
  /** `${organizerId}|${kind}|${id}` */
  key: string;
  id: string;
  meetingId: string;
  organizerId: string;
  /** the meeting chat (chatInfo.threadId) and its join URL: what links an artifact to its chat */
  chatId: string;
  joinWebUrl: string;
  callId: string;
  contentCorrelationId: string;
  createdMs: number;
  endMs: number;
  /** the item as getAllTranscripts / getAllRecordings list it */
  item: Record<string, unknown>;
  contentUrl: string;
  contentType: string;
  /** `content` bytes (attributed VTT; MP4); null for the large recording (see size and sha256) */
  bytes: Buffer | null;
  size: number;
  sha256: string;
  /** transcripts: the unattributed form (served when speaker attribution is off) */
  unattributedSha256?: string;
  /** transcripts: `metadataContent` */
  metadataContentUrl?: string;
  metadataBytes?: Buffer;
  metadataSha256?: string;
  /** the recording made large by faults largeRecordingBytes */
  large: boolean;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every transcript and recording of the tenant (all organisers, visible or not), with expected bytes. */
export function expectedMeetingArtifacts(tenant: Tenant, f: FaultKnobs): ExpectedMeetingArtifact[] {
  const largeId = largeRecordingId(tenant, f);
  const out: ExpectedMeetingArtifact[] = [];
  for (const a of tenant.meetings.all()) {
    const common = {
      kind: a.kind,
      key: artifactKey(a),
      id: a.id,
      meetingId: a.meeting.id,
      organizerId: a.meeting.organizerId,
      chatId: a.meeting.chatId,
      joinWebUrl: a.meeting.joinWebUrl,
      callId: a.callId,
      contentCorrelationId: a.correlationId,
      createdMs: a.createdMs,
      endMs: a.endMs,
      item: renderArtifact(tenant, a),
      contentUrl: artifactContentUrl(tenant, a),
    };
    if (a.kind === 'transcript') {
      const bytes = transcriptVtt(a, true);
      const meta = transcriptMetadata(a);
      out.push({
        ...common,
        contentType: TRANSCRIPT_VTT,
        bytes,
        size: bytes.length,
        sha256: sha256(bytes),
        unattributedSha256: sha256(transcriptVtt(a, false)),
        metadataContentUrl: artifactContentUrl(tenant, a, 'metadataContent'),
        metadataBytes: meta,
        metadataSha256: sha256(meta),
        large: false,
      });
    } else if (a.id === largeId) {
      const size = f.largeRecordingBytes as number;
      out.push({ ...common, contentType: 'video/mp4', bytes: null, size, sha256: recordingSha256(a.id, size), large: true });
    } else {
      const bytes = Buffer.concat([...recordingChunks(a.id, a.size)]);
      out.push({ ...common, contentType: 'video/mp4', bytes, size: bytes.length, sha256: sha256(bytes), large: false });
    }
  }
  return out;
}
