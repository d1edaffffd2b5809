// The Graph endpoints under /v1.0: /users, /teams and the two getAllMessages export routes, with
// Graph's paging, error shapes and the page-level faults (empty pages, out-of-window items).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendGraphError, sendJson, graphIdHeaders, type RequestIds } from './http-util';
import {
  decodeSkipToken,
  encodeSkipToken,
  parseExportFilterWithSenders,
  type ExportFilter,
  type ExportMode,
  type Snapshot,
  type SnapshotStore,
} from './export-query';
import { windowQueryKey, type EmulatorCounters, type RouteKind } from './counters';
import type { FaultKnobs, TokenBucket } from './faults';
import { deletionExpired, userServed, type EntityRef, type EmulatedUser, type Msg, type Tenant, type Version } from './tenant';
import { handleHostedContent, isHostedContentPath } from './hosted-contents';
import { handleShares, isSharesPath, type DownloadSigner } from './files';
import { errorShape, type ErrorShapeName } from './error-shapes';
import { handleDirectoryRoute } from './directory-routes';
import { handleCopilot, isCopilotPath } from './copilot';
import { classifyMeetingPath, handleMeetings, isMeetingPath } from './meetings';

export interface GraphContext {
  origin: string;
  tenant: Tenant;
  faults: () => FaultKnobs;
  counters: EmulatorCounters;
  snapshots: SnapshotStore;
  rng: () => number;
  /** data clock, for late visibility and the 21-day rule for deleted messages */
  clock: () => number;
  /** per chat/channel token buckets for hosted contents */
  hostedBuckets: Map<string, TokenBucket>;
  /** origin of the files (SharePoint stand-in) server */
  filesOrigin: string;
  signer: DownloadSigner;
  /** the Copilot ('copilot') and meeting-artifact ('meeting') token buckets */
  artifactBuckets: Map<string, TokenBucket>;
}

const CHAT_EXPORT = /^\/v1\.0\/users(?:\/([^/()]+)|\('([^']+)'\))\/chats\/getallmessages$/i;
const CHANNEL_EXPORT = /^\/v1\.0\/teams(?:\/([^/()]+)|\('([^']+)'\))\/channels\/getallmessages$/i;
const CHAT_RETAINED = /^\/v1\.0\/users(?:\/([^/()]+)|\('([^']+)'\))\/chats\/getallretainedmessages$/i;
const CHANNEL_RETAINED = /^\/v1\.0\/teams(?:\/([^/()]+)|\('([^']+)'\))\/channels\/getallretainedmessages$/i;
const DELETED_TEAMS = /^\/v1\.0\/teamwork\/deletedteams$/i;
const USER_ITEM = /^\/v1\.0\/users(?:\/([^/()]+)|\('([^']+)'\))$/i;
const DELETED_USERS = /^\/v1\.0\/directory\/deleteditems\/microsoft\.graph\.user$/i;
const DELETED_TEAM_EXPORT = /^\/v1\.0\/teamwork\/deletedteams(?:\/([^/()]+)|\('([^']+)'\))\/channels\/getallmessages$/i;

export function classifyGraphPath(path: string): RouteKind {
  if (path === '/v1.0/users') return 'users';
  if (path === '/v1.0/teams') return 'teams';
  if (CHAT_EXPORT.test(path)) return 'chatExport';
  if (CHANNEL_EXPORT.test(path)) return 'channelExport';
  if (CHAT_RETAINED.test(path) || CHANNEL_RETAINED.test(path)) return 'retainedExport';
  if (DELETED_TEAMS.test(path)) return 'deletedTeams';
  if (DELETED_USERS.test(path)) return 'deletedUsers';
  if (DELETED_TEAM_EXPORT.test(path)) return 'deletedTeamExport';
  if (isHostedContentPath(path)) return 'hostedContent';
  if (isSharesPath(path)) return 'shares';
  if (isCopilotPath(path)) return 'copilotInteractions';
  if (isMeetingPath(path)) return classifyMeetingPath(path);
  return 'other';
}

const USER_PROPS = [
  'id',
  'displayName',
  'givenName',
  'surname',
  'userPrincipalName',
  'mail',
  'accountEnabled',
  'userType',
  'jobTitle',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'businessPhones',
] as const;
type UserProp = (typeof USER_PROPS)[number];
/** Graph's default /users projection: accountEnabled and userType need $select. */
const USER_DEFAULT: UserProp[] = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];
const TEAM_PROPS = ['id', 'displayName', 'description'] as const;

function userProp(u: EmulatedUser, p: UserProp): unknown {
  switch (p) {
    case 'businessPhones':
      return [];
    case 'jobTitle':
    case 'mobilePhone':
    case 'officeLocation':
      return null;
    case 'preferredLanguage':
      return 'en-US';
    default:
      return u[p];
  }
}

function parseTop(raw: string | null, dflt: number, max: number): number | string {
  if (raw === null) return dflt;
  if (!/^\d+$/.test(raw)) return `Invalid value '${raw}' for $top: expected a positive integer.`;
  const n = Number(raw);
  if (n < 1 || n > max) return `Invalid page size specified: '${raw}'. Must be between 1 and ${max} inclusive.`;
  return n;
}

function unknownOption(params: URLSearchParams, allowed: readonly string[], onlyDollar: boolean): string | undefined {
  for (const k of params.keys()) {
    if (onlyDollar && !k.startsWith('$')) continue;
    if (!allowed.includes(k)) return k;
  }
  return undefined;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('utf8');

/** Builds a link with Graph's encoding (spaces as '+'), keeping `$` and `'` readable. */
function query(params: Array<[string, string]>): string {
  return params.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%20/g, '+')}`).join('&');
}

function linkOrigin(ctx: GraphContext): string {
  return ctx.faults().nextLinkOrigin ?? ctx.origin;
}

export function handleGraph(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  params: URLSearchParams,
  ids: RequestIds,
  ctx: GraphContext,
): void {
  if (req.method !== 'GET')
    return sendGraphError(res, ids, 405, 'Request_BadRequest', `Specified HTTP method is not allowed for the request target.`);
  if (path === '/v1.0/users') return listUsers(res, params, ids, ctx);
  if (DELETED_USERS.test(path)) return listUsers(res, params, ids, ctx, true);
  if (path === '/v1.0/teams') return listTeams(res, params, ids, ctx);
  const userItem = USER_ITEM.exec(path);
  if (userItem) return getUser(res, (userItem[1] ?? userItem[2]) as string, params, ids, ctx);
  const chat = CHAT_EXPORT.exec(path);
  if (chat) return exportMessages(req, res, { kind: 'user', id: (chat[1] ?? chat[2]) as string }, params, ids, ctx);
  const channel = CHANNEL_EXPORT.exec(path);
  if (channel) return exportMessages(req, res, { kind: 'team', id: (channel[1] ?? channel[2]) as string }, params, ids, ctx);
  const chatRetained = CHAT_RETAINED.exec(path);
  if (chatRetained)
    return exportMessages(req, res, { kind: 'user', id: (chatRetained[1] ?? chatRetained[2]) as string }, params, ids, ctx, 'retained');
  const channelRetained = CHANNEL_RETAINED.exec(path);
  if (channelRetained)
    return exportMessages(
      req,
      res,
      { kind: 'team', id: (channelRetained[1] ?? channelRetained[2]) as string },
      params,
      ids,
      ctx,
      'retained',
    );
  if (DELETED_TEAMS.test(path)) return listDeletedTeams(res, params, ids, ctx);
  const deletedTeam = DELETED_TEAM_EXPORT.exec(path);
  if (deletedTeam)
    return exportMessages(req, res, { kind: 'deletedTeam', id: (deletedTeam[1] ?? deletedTeam[2]) as string }, params, ids, ctx);
  if (isHostedContentPath(path)) return handleHostedContent(req, res, path, ids, ctx);
  if (isSharesPath(path)) return handleShares(res, path, ids, ctx);
  if (isCopilotPath(path)) return handleCopilot(req, res, path, params, ids, ctx);
  if (isMeetingPath(path)) return handleMeetings(req, res, path, params, ids, ctx);
  if (handleDirectoryRoute(res, path, ids, ctx.tenant, ctx.origin)) return;
  const segment = path.split('/').filter(Boolean)[1] ?? '';
  sendGraphError(res, ids, 400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
}

/**
 * `GET /users`, or with `deleted` `GET /directory/deletedItems/microsoft.graph.user`: the users Graph
 * still keeps after deletion (30 days of the data clock), with their `deletedDateTime`.
 */
function listUsers(res: ServerResponse, params: URLSearchParams, ids: RequestIds, ctx: GraphContext, deleted = false): void {
  const bad = unknownOption(params, ['$select', '$top', '$skiptoken', '$filter'], true);
  if (bad) return sendGraphError(res, ids, 400, 'Request_BadRequest', `Query option '${bad}' is not supported.`);
  const top = parseTop(params.get('$top'), 100, 999);
  if (typeof top === 'string') return sendGraphError(res, ids, 400, 'Request_BadRequest', top);
  const selectRaw = params.get('$select');
  let select: UserProp[] = USER_DEFAULT;
  if (selectRaw !== null) {
    const names = selectRaw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = names.find((n) => !(USER_PROPS as readonly string[]).includes(n));
    if (unknown)
      return sendGraphError(
        res,
        ids,
        400,
        'Request_BadRequest',
        `Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`,
      );
    select = names as UserProp[];
  }
  // the simple directory filters Graph supports without advanced-query headers
  const filterRaw = params.get('$filter');
  const conds: Array<(u: EmulatedUser) => boolean> = [];
  if (filterRaw !== null) {
    for (const clause of filterRaw.trim().split(/\s+and\s+/)) {
      const m = /^(accountEnabled) eq (true|false)$|^(userType) eq '(Member|Guest)'$/.exec(clause.trim());
      if (!m)
        return sendGraphError(
          res,
          ids,
          400,
          'Request_UnsupportedQuery',
          `Unsupported or invalid query filter clause specified for property '${clause.trim().split(' ')[0] ?? ''}' of resource 'User'.`,
        );
      if (m[1]) {
        const want = m[2] === 'true';
        conds.push((u) => u.accountEnabled === want);
      } else {
        const want = m[4];
        conds.push((u) => u.userType === want);
      }
    }
  }
  const skip = params.get('$skiptoken');
  const offset = skip === null ? 0 : Number(/^users:(\d+)$/.exec(unb64(skip))?.[1] ?? NaN);
  if (!Number.isInteger(offset)) return sendGraphError(res, ids, 400, 'Request_BadRequest', 'Invalid $skiptoken.');
  const now = ctx.clock();
  const listed = ctx.tenant.users.filter((u) => (deleted ? u.deletedMs !== undefined && userServed(u, now) : u.deletedMs === undefined));
  const matching = conds.length ? listed.filter((u) => conds.every((c) => c(u))) : listed;
  const route = deleted ? 'directory/deletedItems/microsoft.graph.user' : 'users';
  const page = matching.slice(offset, offset + top);
  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.origin}/v1.0/$metadata#${deleted ? 'directoryObjects/microsoft.graph.user' : 'users'}${selectRaw !== null ? `(${select.join(',')})` : ''}`,
  };
  if (offset + top < matching.length) {
    const q: Array<[string, string]> = [];
    if (selectRaw !== null) q.push(['$select', selectRaw]);
    if (filterRaw !== null) q.push(['$filter', filterRaw]);
    q.push(['$top', String(top)], ['$skiptoken', b64(`users:${offset + top}`)]);
    body['@odata.nextLink'] = `${linkOrigin(ctx)}/v1.0/${route}?${query(q)}`;
  }
  body.value = page.map((u) => ({
    ...Object.fromEntries(select.map((p) => [p, userProp(u, p)])),
    ...(deleted ? { deletedDateTime: new Date(u.deletedMs ?? 0).toISOString() } : {}),
  }));
  sendJson(res, 200, body, graphIdHeaders(ids));
}

/** GET /users/{id | userPrincipalName}: Graph matches either, without regard to case. */
function getUser(res: ServerResponse, key: string, params: URLSearchParams, ids: RequestIds, ctx: GraphContext): void {
  const bad = unknownOption(params, ['$select'], true);
  if (bad) return sendGraphError(res, ids, 400, 'Request_BadRequest', `Query option '${bad}' is not supported.`);
  const selectRaw = params.get('$select');
  const select =
    selectRaw === null
      ? USER_DEFAULT
      : (selectRaw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean) as UserProp[]);
  const unknown = select.find((n) => !(USER_PROPS as readonly string[]).includes(n));
  if (unknown)
    return sendGraphError(
      res,
      ids,
      400,
      'Request_BadRequest',
      `Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`,
    );
  const wanted = key.toLowerCase();
  const user = ctx.tenant.users.find((u) => u.id.toLowerCase() === wanted || u.userPrincipalName.toLowerCase() === wanted);
  if (!user)
    return sendGraphError(
      res,
      ids,
      404,
      'Request_ResourceNotFound',
      `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
    );
  const body = {
    '@odata.context': `${ctx.origin}/v1.0/$metadata#users${selectRaw !== null ? `(${select.join(',')})` : ''}/$entity`,
    ...Object.fromEntries(select.map((p) => [p, userProp(user, p)])),
  };
  sendJson(res, 200, body, graphIdHeaders(ids));
}

function listTeams(res: ServerResponse, params: URLSearchParams, ids: RequestIds, ctx: GraphContext): void {
  const bad = unknownOption(params, ['$select', '$top', '$skiptoken'], true);
  if (bad) return sendGraphError(res, ids, 400, 'BadRequest', `Query option '${bad}' is not supported.`);
  const top = parseTop(params.get('$top'), 100, 999);
  if (typeof top === 'string') return sendGraphError(res, ids, 400, 'BadRequest', top);
  const selectRaw = params.get('$select');
  const select =
    selectRaw === null
      ? [...TEAM_PROPS]
      : selectRaw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const unknown = select.find((n) => !(TEAM_PROPS as readonly string[]).includes(n));
  if (unknown)
    return sendGraphError(res, ids, 400, 'BadRequest', `Could not find a property named '${unknown}' on type 'microsoft.graph.team'.`);
  const skip = params.get('$skiptoken');
  const offset = skip === null ? 0 : Number(/^teams:(\d+)$/.exec(unb64(skip))?.[1] ?? NaN);
  if (!Number.isInteger(offset)) return sendGraphError(res, ids, 400, 'BadRequest', 'Invalid $skiptoken.');
  const teams = ctx.tenant.teams;
  const body: Record<string, unknown> = { '@odata.context': `${ctx.origin}/v1.0/$metadata#teams` };
  if (offset + top < teams.length) {
    const q: Array<[string, string]> = [];
    if (selectRaw !== null) q.push(['$select', selectRaw]);
    q.push(['$top', String(top)], ['$skiptoken', b64(`teams:${offset + top}`)]);
    body['@odata.nextLink'] = `${linkOrigin(ctx)}/v1.0/teams?${query(q)}`;
  }
  body.value = teams
    .slice(offset, offset + top)
    .map((t) => Object.fromEntries(select.map((p) => [p, t[p as (typeof TEAM_PROPS)[number]]])));
  sendJson(res, 200, body, graphIdHeaders(ids));
}

/** `GET /teamwork/deletedTeams`: items `{id}` (Graph's deletedTeam has only an id and its channels). */
function listDeletedTeams(res: ServerResponse, params: URLSearchParams, ids: RequestIds, ctx: GraphContext): void {
  const bad = unknownOption(params, ['$top', '$skiptoken'], true);
  if (bad) return sendGraphError(res, ids, 400, 'BadRequest', `Query option '${bad}' is not supported.`);
  const top = parseTop(params.get('$top'), 100, 999);
  if (typeof top === 'string') return sendGraphError(res, ids, 400, 'BadRequest', top);
  const skip = params.get('$skiptoken');
  const offset = skip === null ? 0 : Number(/^deletedTeams:(\d+)$/.exec(unb64(skip))?.[1] ?? NaN);
  if (!Number.isInteger(offset)) return sendGraphError(res, ids, 400, 'BadRequest', 'Invalid $skiptoken.');
  const teams = ctx.tenant.deletedTeams;
  const body: Record<string, unknown> = { '@odata.context': `${ctx.origin}/v1.0/$metadata#teamwork/deletedTeams` };
  if (offset + top < teams.length) {
    body['@odata.nextLink'] = `${linkOrigin(ctx)}/v1.0/teamwork/deletedTeams?${query([
      ['$top', String(top)],
      ['$skiptoken', b64(`deletedTeams:${offset + top}`)],
    ])}`;
  }
  body.value = teams.slice(offset, offset + top).map((t) => ({ '@odata.type': '#microsoft.graph.deletedTeam', id: t.id }));
  sendJson(res, 200, body, graphIdHeaders(ids));
}

const isoFilter = (f: ExportFilter): string => {
  const fmt = (ms: number) =>
    Number.isInteger(ms)
      ? new Date(ms).toISOString()
      : `${new Date(Math.floor(ms)).toISOString().slice(0, 19)}.${String(Math.round(ms * 10_000) % 10_000_000).padStart(7, '0')}Z`;
  return `lastModifiedDateTime gt ${fmt(f.fromExcl)} and lastModifiedDateTime lt ${fmt(f.toExcl)}`;
};

function exportMessages(
  req: IncomingMessage,
  res: ServerResponse,
  entity: EntityRef,
  params: URLSearchParams,
  ids: RequestIds,
  ctx: GraphContext,
  mode: ExportMode = 'current',
): void {
  const { tenant, counters } = ctx;
  counters.exportRequestsByEntity[entity.id] = (counters.exportRequestsByEntity[entity.id] ?? 0) + 1;
  const faults = ctx.faults();
  const bad = unknownOption(params, ['$top', '$filter', '$skiptoken'], false);
  if (bad)
    return sendGraphError(
      res,
      ids,
      400,
      'BadRequest',
      `Query option '${bad}' is not allowed. Only $top, $filter (lastModifiedDateTime range) and $skiptoken are supported.`,
    );
  const refuse = (name: ErrorShapeName): void => {
    const e = errorShape(name, entity.id);
    sendGraphError(res, ids, e.status, e.code, e.message);
  };
  if (entity.kind === 'user') {
    const u = tenant.user(entity.id);
    // a deleted user's chats stay exportable for 30 days, then the user is gone for good
    if (!u || !userServed(u, ctx.clock())) return refuse('userGone');
    if (!u.hasTeamsData) return refuse('userWithoutData');
  } else if (entity.kind === 'team' && !tenant.team(entity.id)) {
    return refuse('teamGone');
  } else if (entity.kind === 'deletedTeam' && !tenant.deletedTeam(entity.id)) {
    return refuse('teamGone');
  }
  // Retained messages exist only under a Teams retention policy (or hold). Without one we answer 403,
  // so an exporter configured for retained export fails loudly instead of silently archiving nothing.
  if (mode === 'retained' && !tenant.retentionPolicy) return refuse('retainedWithoutPolicy');
  const shape = faults.entityErrors[entity.id] ?? faults.entityErrors[`${entity.kind}:*`];
  if (shape !== undefined) return refuse(shape);
  if (faults.forbiddenEntities.includes(entity.id)) {
    counters.faults.forbidden++;
    return refuse('protectedApi');
  }
  if (params.get('$skiptoken') !== null && faults.invalidContinuationTokens > 0) {
    faults.invalidContinuationTokens--;
    return refuse('invalidContinuationToken');
  }
  const top = parseTop(params.get('$top'), 50, 999);
  if (typeof top === 'string') return sendGraphError(res, ids, 400, 'BadRequest', top);
  const rawFilter = params.get('$filter');
  // sender (de-duplication) clauses are documented for the chats export only
  const filter = rawFilter === null ? null : parseExportFilterWithSenders(rawFilter, entity.kind === 'user' && mode === 'current');
  if (typeof filter === 'string') return sendGraphError(res, ids, 400, 'BadRequest', filter);
  if (filter?.senders && faults.maxFilterClauses !== null && filter.senders.length > faults.maxFilterClauses)
    return refuse('filterTooComplex');

  let snap: Snapshot;
  let offset: number;
  const late = faults.lateVisibility;
  const onHidden = () => {
    counters.faults.lateHidden++;
  };
  const skip = params.get('$skiptoken');
  if (skip !== null) {
    const state = decodeSkipToken(skip);
    if (!state || state.mode !== mode || state.entity.kind !== entity.kind || state.entity.id !== entity.id) {
      return sendGraphError(res, ids, 400, 'BadRequest', 'Invalid $skiptoken for this request.');
    }
    if (filter && (filter.fromExcl !== state.filter.fromExcl || filter.toExcl !== state.filter.toExcl)) {
      return sendGraphError(res, ids, 400, 'BadRequest', 'The $filter does not match the $skiptoken.');
    }
    // an evicted snapshot is re-run under its old id; it may then differ if the data changed meanwhile
    snap =
      ctx.snapshots.get(state.snapshotId) ??
      ctx.snapshots.create(
        tenant,
        entity,
        state.filter,
        state.top,
        ctx.clock(),
        mode === 'current' ? late : null,
        onHidden,
        state.snapshotId,
        mode,
      );
    offset = state.offset;
  } else {
    if (filter === null)
      return sendGraphError(
        res,
        ids,
        400,
        'BadRequest',
        "Invalid $filter query: a 'lastModifiedDateTime gt <instant> and lastModifiedDateTime lt <instant>' filter is required.",
      );
    snap = ctx.snapshots.create(tenant, entity, filter, top, ctx.clock(), mode === 'current' ? late : null, onHidden, undefined, mode);
    // A first page is one read of a window: tests check that no window is read twice.
    const window = windowQueryKey(mode, entity, filter.fromExcl + 1, filter.toExcl);
    counters.windowQueries[window] = (counters.windowQueries[window] ?? 0) + 1;
    offset = 0;
  }

  const include = /include-unknown-enum-members/i.test(String(req.headers.prefer ?? ''));
  const value: Array<Record<string, unknown>> = [];
  let next = offset;
  const emptied = faults.emptyPageRate > 0 && ctx.rng() < faults.emptyPageRate;
  if (emptied) {
    counters.faults.emptyPage++;
  } else {
    let room = snap.top;
    // the extra item takes one slot so a page never exceeds $top
    if (mode === 'current' && snap.top > 1 && faults.outOfWindowRate > 0 && ctx.rng() < faults.outOfWindowRate) {
      const extra = findOutOfWindow(ctx, entity, snap.filter);
      if (extra) {
        counters.faults.outOfWindow++;
        pushServed(ctx, value, extra[0], extra[1], include);
        room -= 1;
      }
    }
    const end = Math.min(snap.msgs.length, offset + room);
    for (let i = offset; i < end; i++) pushServed(ctx, value, snap.msgs[i] as Msg, snap.vers[i] as Version, include);
    next = end;
  }
  counters.messagePages++;

  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.origin}/v1.0/$metadata#Collection(chatMessage)`,
    '@odata.count': value.length,
  };
  if (next < snap.msgs.length || emptied) {
    const folder = entity.kind === 'user' ? 'MailFolders/TeamsMessagesData' : 'MailFolders/TeamChat';
    const token = encodeSkipToken({ mode, offset: next, snapshotId: snap.id, entity, filter: snap.filter, top: snap.top }, folder);
    const fn = mode === 'retained' ? 'getAllRetainedMessages' : 'getallMessages';
    const container =
      entity.kind === 'user'
        ? `users('${entity.id}')/chats`
        : entity.kind === 'team'
          ? `teams('${entity.id}')/channels`
          : `teamwork/deletedTeams('${entity.id}')/channels`;
    body['@odata.nextLink'] =
      entity.kind === 'user'
        ? // Graph's own odd form for chats: key in parentheses, lower-case 'getallMessages', no $filter
          `${linkOrigin(ctx)}/v1.0/${container}/${fn}?${query([
            ['$top', String(snap.top)],
            ['$skiptoken', token],
          ])}`
        : `${linkOrigin(ctx)}/v1.0/${container}/${fn}?${query([
            ['$skiptoken', token],
            ['$filter', rawFilter ?? isoFilter(snap.filter)],
          ])}`;
  }
  body.value = value;
  sendJson(res, 200, body, { ...graphIdHeaders(ids), ...(include ? { 'preference-applied': 'include-unknown-enum-members' } : {}) });
}

function pushServed(ctx: GraphContext, out: Array<Record<string, unknown>>, m: Msg, v: Version, include: boolean): void {
  out.push(ctx.tenant.render(m, v, { includeUnknownEnumMembers: include }));
  ctx.counters.versionsServed++;
  ctx.counters.ledger.add(ctx.tenant.keyOf(m, v));
}

/** A message of the entity whose current version lies outside the window (a few random probes). */
function findOutOfWindow(ctx: GraphContext, entity: EntityRef, f: ExportFilter): [Msg, Version] | undefined {
  const convs = ctx.tenant.conversationsOf(entity);
  for (let attempt = 0; attempt < 16 && convs.length > 0; attempt++) {
    const conv = convs[Math.floor(ctx.rng() * convs.length)];
    if (!conv || conv.messages.length === 0) continue;
    const m = conv.messages[Math.floor(ctx.rng() * conv.messages.length)] as Msg;
    if ((m.v.ms <= f.fromExcl || m.v.ms >= f.toExcl) && !deletionExpired(m.v, ctx.clock())) return [m, m.v];
  }
  return undefined;
}
