// Typed Graph failures, the parsing of Graph's error bodies, and the one rule that decides what the run
// does with each failure (retry, skip the entity, stop the run for a missing permission, or fail):
// callers branch on `kind`, never on messages. The error shapes and their sources: docs/graph-errors.md.

/**
 * - retryable: transient (throttling, 5xx, no response); retried in the request, then the job fails
 *   without moving its checkpoint.
 * - skip-entity: this one user or team has nothing Graph will serve (see SkipReason); others go on.
 * - app-refusal: the app itself is refused (a missing role, protected-API consent, an API this cloud
 *   lacks, retained messages without a retention policy): every entity would fail the same way, so the
 *   run must fail loudly with `fix` naming what to change.
 * - fatal: anything else, our request or a broken response.
 */
export type FailureKind = 'retryable' | 'skip-entity' | 'app-refusal' | 'fatal';

/** Why an entity was skipped: recorded with the skip so a report can count reasons. */
export type SkipReason = 'no-mailbox' | 'no-teams-licence' | 'no-copilot-licence' | 'entity-gone' | 'invalid-user' | 'forbidden';

/**
 * Each skip reason in plain words, for users and for teams: what Graph answered and what it means for the
 * archive. The run report prints it after a count ("6 users that Graph answers 404 for: …"), so an expected
 * skip does not read like an error; docs/graph-errors.md ("Skip reasons in the run report") lists the same
 * words. A skip is never a loss: Graph has nothing it will serve for the entity.
 */
export const SKIP_REASON_TEXT: Readonly<Record<SkipReason, { users: string; teams: string }>> = {
  'no-mailbox': {
    users: 'without an Exchange Online mailbox (MailboxNotEnabledForRESTAPI): Teams keeps chat messages there, so Graph has none for them',
    teams: 'whose group has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI): Graph has no channel messages for them',
  },
  'no-teams-licence': {
    users:
      'without a licence Graph accepts (403 "Failed to get license information"): Graph reads no chats of unlicensed users; assign a licence to export them',
    teams: 'refused by Graph for a missing licence (403 "Failed to get license information")',
  },
  'no-copilot-licence': {
    users:
      'without a Microsoft 365 Copilot licence (403 "Failed to get license information … Copilot"): Copilot keeps no interactions for them',
    teams: 'refused by Graph for a missing Microsoft 365 Copilot licence',
  },
  'entity-gone': {
    users: 'that Graph answers 404 for: without a mailbox, so Graph has no chats for them, or deleted since they were listed',
    teams: 'that Graph answers 404 for: deleted since they were listed, or a group without a team',
  },
  'invalid-user': {
    users: 'that Graph calls invalid (ErrorInvalidUser): Graph has no mailbox, so no chats, for them',
    teams: 'that Graph calls invalid (ErrorInvalidUser): Graph has nothing to export for them',
  },
  forbidden: {
    users:
      "that Graph refused (403) one by one while other users were read: not a missing app permission but something about these users (Graph's message says what)",
    teams:
      "that Graph refused (403) one by one while other teams were read: not a missing app permission but something about these teams (Graph's message says what)",
  },
};

export interface Classification {
  kind: FailureKind;
  /** For 'skip-entity'. */
  reason?: SkipReason;
  /** For 'app-refusal': the permission or setting to fix, in words an operator can act on. */
  fix?: string;
  /** `400 Invalid continuation token` on a nextLink: the window's read may restart from its first page. */
  restartRead?: boolean;
}

export interface GraphErrorInit {
  status?: number;
  code?: string;
  /** Graph's own error message (used to classify; shortened in logs). */
  graphMessage?: string;
  requestId?: string;
  path?: string;
  /** Defaults to classifyFailure(status, code, graphMessage). */
  kind?: FailureKind;
  cause?: unknown;
}

export class GraphError extends Error {
  readonly status?: number;
  readonly code?: string;
  readonly requestId?: string;
  readonly kind: FailureKind;
  readonly reason?: SkipReason;
  readonly fix?: string;
  readonly restartRead: boolean;
  /** Request path without query string, for logs (never the token). */
  readonly path?: string;

  constructor(message: string, init: GraphErrorInit = {}) {
    const c: Classification = init.kind !== undefined ? { kind: init.kind } : classifyFailure(init.status, init.code, init.graphMessage);
    // An app-level refusal leads with what to fix: it is what the run's error and the alert show.
    super(c.fix ? `${c.fix} (${message})` : message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    if (init.status !== undefined) this.status = init.status;
    if (init.code !== undefined) this.code = init.code;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.path !== undefined) this.path = init.path;
    this.kind = c.kind;
    if (c.reason !== undefined) this.reason = c.reason;
    if (c.fix !== undefined) this.fix = c.fix;
    this.restartRead = c.restartRead === true;
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

/** Codes that mean "this user has no Teams/Exchange data", whatever the status (docs/graph-errors.md). */
const NO_DATA_CODES: Record<string, SkipReason> = {
  mailboxnotenabledforrestapi: 'no-mailbox',
  errorinvaliduser: 'invalid-user',
};

/** Graph names the roles it wanted: "API requires one of 'A, B'" (older text: "API required one of"). */
const MISSING_ROLE = /Missing role permissions on the request\. API require[sd] one of '([^']*)'/i;

/**
 * What a failure means for the run, from the status, Graph's error code and its message (the table in
 * docs/graph-errors.md). `status` undefined = no HTTP response (network error or timeout). Codes are
 * checked before statuses: a 400 or 403 carrying a no-data code concerns the entity, not our request.
 */
export function classifyFailure(status: number | undefined, code?: string, message?: string): Classification {
  if (status === undefined) return { kind: 'retryable' };
  // 408 is a timeout said by a proxy: as transient as our own timeouts.
  if (status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504)
    return { kind: 'retryable' };
  const lower = code?.toLowerCase() ?? '';
  const text = message ?? '';
  const noData = NO_DATA_CODES[lower];
  if (noData !== undefined && status >= 400 && status < 500) return { kind: 'skip-entity', reason: noData };
  const refusal = appRefusal(status, text);
  if (refusal !== undefined) return { kind: 'app-refusal', fix: refusal };
  if (status === 400 && /invalid continuation token/i.test(text)) return { kind: 'fatal', restartRead: true };
  if (status === 403) {
    // The Copilot API's refusal of a user without a Copilot licence names Copilot; the Teams one does not.
    if (/license information/i.test(text) && /copilot/i.test(text)) return { kind: 'skip-entity', reason: 'no-copilot-licence' };
    if (/license information/i.test(text) || lower === 'authenticationerror') return { kind: 'skip-entity', reason: 'no-teams-licence' };
    // Not a recognised app-level refusal: one entity's business (the run still fails when every entity gets it).
    return { kind: 'skip-entity', reason: 'forbidden' };
  }
  // ResourceNotFound, Request_ResourceNotFound, NotFound...: the user or team is gone or never had data.
  if (status === 404) return { kind: 'skip-entity', reason: 'entity-gone' };
  // 400 = our bug, 401 after a refresh = credential/config, 402/412 = tenant/config: never skip these.
  return { kind: 'fatal' };
}

/** The operator's fix for an app-level refusal, or undefined when the failure is not one. */
function appRefusal(status: number, message: string): string | undefined {
  if (status === 403) {
    const roles = MISSING_ROLE.exec(message);
    if (roles) {
      const names = (roles[1] ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const wanted = names.length > 0 ? names.join(' or ') : 'the role Graph names';
      return `the app lacks the Graph application permission ${wanted}: grant it to the app (or managed identity) with admin consent`;
    }
    // The directory's own wording (listing /users or /teams without User.Read.All / Team.ReadBasic.All).
    if (/Insufficient privileges to complete the operation/i.test(message)) {
      return 'the app lacks a directory permission for listing users or teams: grant User.Read.All and Team.ReadBasic.All with admin consent';
    }
    if (/Protected API access/i.test(message)) {
      return 'the app has no access to Microsoft Teams protected APIs in application-only context: request it (https://aka.ms/teamsgraph/requestaccess) or check admin consent';
    }
    if (/GraphAccessToTranscriptsDisabled|access to (meeting )?transcripts is disabled/i.test(message)) {
      return 'the tenant has turned off Microsoft Graph access to meeting transcripts (GraphAccessToTranscriptsDisabled): turn it on (docs/deploy.md, "Copilot interactions and meetings"), or turn EXPORT_MEETINGS off';
    }
    if (/not allowed to perform operations on the user|application access policy/i.test(message)) {
      return 'no application access policy lets the app read online meetings of this organiser: grant one to the organisers or tenant-wide (New-CsApplicationAccessPolicy, Grant-CsApplicationAccessPolicy; docs/deploy.md), or turn EXPORT_MEETINGS off';
    }
    if (/retention polic/i.test(message)) {
      return 'getAllRetainedMessages needs a Microsoft Teams retention policy or hold: create one, or turn EXPORT_RETAINED off';
    }
  }
  if ((status === 404 || status === 400) && /Requested API is not supported/i.test(message)) {
    return 'Graph does not offer this export API in this cloud (GRAPH_BASE_URL): check that the national cloud supports the Teams export APIs';
  }
  return undefined;
}

/** `{ error: { code, message, innerError: { request-id } } }`, each part when present and a string. */
export interface GraphErrorBody {
  code?: string;
  message?: string;
  requestId?: string;
  /** `innerError.code`: where Graph puts the precise reason of a generic 403 (GraphAccessToTranscriptsDisabled). */
  innerCode?: string;
}

export function parseErrorBody(body: unknown): GraphErrorBody {
  const error = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).error : undefined;
  if (typeof error !== 'object' || error === null) return {};
  const e = error as Record<string, unknown>;
  const inner = e.innerError ?? e.innererror;
  const requestId = typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>)['request-id'] : undefined;
  const out: GraphErrorBody = {};
  if (typeof e.code === 'string' && e.code !== '') out.code = e.code;
  if (typeof e.message === 'string' && e.message !== '') out.message = e.message;
  if (typeof requestId === 'string' && requestId !== '') out.requestId = requestId;
  const innerCode = typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>).code : undefined;
  if (typeof innerCode === 'string' && innerCode !== '') out.innerCode = innerCode;
  return out;
}

/** JSON text parsed, or undefined for empty or invalid text. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** An unknown thrown value as one short line: `Name: message`. */
export function errorName(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}
