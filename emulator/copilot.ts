// `GET /copilot/users/{id}/interactionHistory/getAllEnterpriseInteractions`: a user's Copilot
// interactions, newest first, paged with `$top` and a `$skiptoken` offset (Graph's `SkipValue=…`), filtered
// on createdDateTime and appClass; its own rate limit, the licence check, the missing-role refusal,
// deleted users served for 30 days. See emulator/README.md for what Microsoft documents of it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { graphIdHeaders, sendGraphError, sendJson, type RequestIds } from './http-util';
import { interactionKey, renderInteraction, type Interaction } from './copilot-store';
import { userServed } from './tenant';
import { countArtifactUser } from './counters';
import type { GraphContext } from './graph';
import {
  parseTopParam,
  queryString,
  refuseMissingRole,
  sendArtifactError,
  sendMessageShapeError,
  throttled,
  visibleFrom,
} from './artifact-http';

const COPILOT = /^\/v1\.0\/copilot\/users(?:\/([^/()]+)|\('([^']+)'\))\/interactionhistory\/getallenterpriseinteractions\/?$/i;

export function isCopilotPath(path: string): boolean {
  return COPILOT.test(path);
}

/** Default page size without `$top` (Graph's example pages by 10) and the largest `$top` accepted. */
export const COPILOT_DEFAULT_TOP = 10;
export const COPILOT_MAX_TOP = 999;

type Cmp = 'gt' | 'ge' | 'lt' | 'le' | 'eq';
type FilterNode =
  | { op: 'and' | 'or'; a: FilterNode; b: FilterNode }
  | { prop: 'createdDateTime'; cmp: Cmp; ms: number }
  | { prop: 'appClass'; cmp: 'eq'; value: string };

const INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,7})?Z$/;

function tokenize(text: string): string[] | string {
  const out: string[] = [];
  const re = /\s*(\(|\)|'(?:[^']|'')*'|[^\s()']+)/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return `Invalid filter clause: syntax error at position ${at} in '${text}'.`;
    out.push(m[1] as string);
    at = re.lastIndex;
  }
  return out;
}

/**
 * Parses a getAllEnterpriseInteractions `$filter`: comparisons `createdDateTime gt|ge|lt|le <instant>` and
 * `appClass eq '<value>'`, combined with `and`, `or` and parentheses. A createdDateTime range needs both a
 * lower and an upper bound. Returns the tree or an error text.
 */
export function parseCopilotFilter(raw: string): FilterNode | string {
  const toks = tokenize(raw.trim());
  if (typeof toks === 'string') return toks;
  let i = 0;
  const peek = () => toks[i];
  const expr = (): FilterNode | string => {
    let left = term();
    while (typeof left !== 'string' && peek()?.toLowerCase() === 'or') {
      i++;
      const right = term();
      if (typeof right === 'string') return right;
      left = { op: 'or', a: left, b: right };
    }
    return left;
  };
  const term = (): FilterNode | string => {
    let left = factor();
    while (typeof left !== 'string' && peek()?.toLowerCase() === 'and') {
      i++;
      const right = factor();
      if (typeof right === 'string') return right;
      left = { op: 'and', a: left, b: right };
    }
    return left;
  };
  const factor = (): FilterNode | string => {
    const t = peek();
    if (t === undefined) return 'Invalid filter clause: unexpected end of the expression.';
    if (t === '(') {
      i++;
      const inner = expr();
      if (typeof inner === 'string') return inner;
      if (peek() !== ')') return "Invalid filter clause: ')' expected.";
      i++;
      return inner;
    }
    const prop = toks[i++];
    const cmp = toks[i++]?.toLowerCase();
    const value = toks[i++];
    if (cmp === undefined || value === undefined) return 'Invalid filter clause: unexpected end of the expression.';
    if (prop === 'createdDateTime') {
      if (!['gt', 'ge', 'lt', 'le'].includes(cmp))
        return `Invalid filter clause: operator '${cmp}' is not supported on createdDateTime (gt, ge, lt, le).`;
      const m = INSTANT.exec(value);
      const whole = m ? Date.parse(`${m[1]}Z`) : NaN;
      if (!m || !Number.isFinite(whole)) return `Invalid filter clause: '${value}' is not a DateTimeOffset (ISO 8601, UTC).`;
      return { prop, cmp: cmp as Cmp, ms: whole + (m[2] ? Number(`0${m[2]}`) * 1000 : 0) };
    }
    if (prop === 'appClass') {
      if (cmp !== 'eq') return `Invalid filter clause: operator '${cmp}' is not supported on appClass (eq).`;
      if (!/^'.*'$/s.test(value)) return `Invalid filter clause: appClass needs a quoted string, got ${value}.`;
      return { prop, cmp: 'eq', value: value.slice(1, -1).replace(/''/g, "'") };
    }
    return `Invalid filter clause: could not find a property named '${prop ?? ''}' on type 'microsoft.graph.aiInteraction' that supports filtering (createdDateTime, appClass).`;
  };
  const tree = expr();
  if (typeof tree === 'string') return tree;
  if (i < toks.length) return `Invalid filter clause: unexpected '${toks[i] ?? ''}'.`;
  const cmps: Cmp[] = [];
  const walk = (n: FilterNode): void => {
    if ('op' in n) {
      walk(n.a);
      walk(n.b);
    } else if (n.prop === 'createdDateTime') cmps.push(n.cmp);
  };
  walk(tree);
  if (cmps.length > 0 && !(cmps.some((c) => c === 'gt' || c === 'ge') && cmps.some((c) => c === 'lt' || c === 'le')))
    return 'Invalid filter clause: a createdDateTime filter needs both a lower (gt, ge) and an upper (lt, le) bound.';
  return tree;
}

function matches(n: FilterNode, it: Interaction): boolean {
  if ('op' in n) return n.op === 'and' ? matches(n.a, it) && matches(n.b, it) : matches(n.a, it) || matches(n.b, it);
  if (n.prop === 'appClass') return it.appClass === n.value;
  const t = it.createdMs;
  switch (n.cmp) {
    case 'gt':
      return t > n.ms;
    case 'ge':
      return t >= n.ms;
    case 'lt':
      return t < n.ms;
    default:
      return t <= n.ms;
  }
}

/** Graph's skiptoken for this API: base64 of `SkipValue={offset}#MailboxFolder=MailFolders/TeamsMessagesData`. */
export function copilotSkipToken(offset: number): string {
  return Buffer.from(`SkipValue=${offset}#MailboxFolder=MailFolders/TeamsMessagesData`, 'utf8').toString('base64');
}

function decodeSkip(token: string): number | undefined {
  const m = /^SkipValue=(\d+)#MailboxFolder=MailFolders\/TeamsMessagesData$/.exec(Buffer.from(token, 'base64').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/** The interactions the route serves for a user at `nowMs` (visible ones, newest first), before `$filter`. */
export function servedInteractions(ctx: Pick<GraphContext, 'tenant' | 'faults'>, userId: string, nowMs: number): Interaction[] {
  const late = ctx.faults().artifactLateVisibility;
  return ctx.tenant.copilot
    .of(userId)
    .filter((it) => visibleFrom(it.addedAtMs, it.createdMs, interactionKey(userId, it.id, it.etag), late) <= nowMs)
    .reverse();
}

export function handleCopilot(
  _req: IncomingMessage,
  res: ServerResponse,
  path: string,
  params: URLSearchParams,
  ids: RequestIds,
  ctx: GraphContext,
): void {
  const { tenant, counters } = ctx;
  const f = ctx.faults();
  const m = COPILOT.exec(path) as RegExpExecArray;
  const userKey = (m[1] ?? m[2]) as string;
  counters.copilotRequests++;
  countArtifactUser(counters, 'copilot', userKey);
  if (throttled(res, ids, ctx.artifactBuckets, 'copilot', f.copilotRps, f.copilotBurst)) {
    counters.copilotThrottled++;
    return;
  }
  for (const k of params.keys()) {
    if (!['$top', '$filter', '$skiptoken'].includes(k.toLowerCase()))
      return sendGraphError(res, ids, 400, 'BadRequest', `Query option '${k}' is not supported. Only $top, $filter and $skiptoken are.`);
  }
  const get = (name: string) => [...params.entries()].find(([k]) => k.toLowerCase() === name)?.[1] ?? null;
  const topRaw = get('$top');
  const top = parseTopParam(topRaw, COPILOT_DEFAULT_TOP, COPILOT_MAX_TOP);
  if (typeof top === 'string') return sendGraphError(res, ids, 400, 'BadRequest', top);
  const filterRaw = get('$filter');
  const filter = filterRaw === null ? null : parseCopilotFilter(filterRaw);
  if (typeof filter === 'string') return sendGraphError(res, ids, 400, 'BadRequest', filter);
  const skip = get('$skiptoken');
  const offset = skip === null ? 0 : decodeSkip(skip);
  if (offset === undefined) return sendGraphError(res, ids, 400, 'BadRequest', 'Invalid $skiptoken.');
  if (refuseMissingRole(res, ids, f, 'AiEnterpriseInteraction.Read.All', 'missingCopilotRole')) return;

  const wanted = userKey.toLowerCase();
  const user = tenant.users.find((u) => u.id.toLowerCase() === wanted || u.userPrincipalName.toLowerCase() === wanted);
  const now = ctx.clock();
  // deleted users are served like their chats: for 30 days of the data clock
  if (!user || !userServed(user, now)) return sendMessageShapeError(res, ids, 'userGone', userKey);
  let items: Interaction[] = [];
  if (!tenant.copilot.isLicensed(user.id)) {
    if (f.copilotUnlicensed === 'forbidden') return sendArtifactError(res, ids, 'noCopilotLicence', f, userKey);
  } else {
    items = servedInteractions(ctx, user.id, now);
    if (filter) items = items.filter((it) => matches(filter, it));
  }
  // faults emptyPageRate: an empty page whose nextLink asks for the same offset again
  const emptied = f.emptyPageRate > 0 && ctx.rng() < f.emptyPageRate;
  if (emptied) counters.faults.emptyPage++;
  const page = emptied ? [] : items.slice(offset, offset + top);
  const nextOffset = emptied ? offset : offset + top;
  counters.copilotPages++;
  counters.copilotInteractionsServed += page.length;
  for (const it of page) counters.copilotLedger.add(interactionKey(user.id, it.id, it.etag));
  const body: Record<string, unknown> = {
    '@odata.context': `${ctx.origin}/v1.0/$metadata#Collection(microsoft.graph.aiInteraction)`,
    '@odata.count': page.length,
  };
  if (emptied || offset + top < items.length) {
    const q: Array<[string, string]> = [];
    if (filterRaw !== null) q.push(['$filter', filterRaw]);
    if (topRaw !== null) q.push(['$top', topRaw]);
    q.push(['$skiptoken', copilotSkipToken(nextOffset)]);
    body['@odata.nextLink'] =
      `${f.nextLinkOrigin ?? ctx.origin}/v1.0/copilot/users/${encodeURIComponent(userKey)}/interactionHistory/getAllEnterpriseInteractions?${queryString(q)}`;
  }
  body.value = page.map((it) => renderInteraction(tenant, it));
  sendJson(res, 200, body, graphIdHeaders(ids));
}

/** What a test can expect of an interaction: its JSON as served, and where it belongs. */
export interface ExpectedInteraction {
  userId: string;
  /** `${userId}|${id}|${etag}` */
  key: string;
  id: string;
  etag: string;
  createdMs: number;
  sessionId: string;
  requestId: string;
  appClass: string;
  interactionType: string;
  /** false: the user holds no Copilot licence now, so the route refuses them (or serves nothing) */
  licensed: boolean;
  /** the aiInteraction as served */
  item: Record<string, unknown>;
  /** JSON.stringify(item) and its SHA-256 */
  json: string;
  sha256: string;
}

/** Every interaction of the tenant (deleted users' too; late ones included), oldest first per user. */
export function expectedCopilotInteractions(tenant: GraphContext['tenant']): ExpectedInteraction[] {
  const out: ExpectedInteraction[] = [];
  for (const it of tenant.copilot.all()) {
    const item = renderInteraction(tenant, it);
    const json = JSON.stringify(item);
    out.push({
      userId: it.userId,
      key: interactionKey(it.userId, it.id, it.etag),
      id: it.id,
      etag: it.etag,
      createdMs: it.createdMs,
      sessionId: it.sessionId,
      requestId: it.requestId,
      appClass: it.appClass,
      interactionType: it.type,
      licensed: tenant.copilot.isLicensed(it.userId),
      item,
      json,
      sha256: createHash('sha256').update(json).digest('hex'),
    });
  }
  return out;
}
