// The sender filters of EXPORT_CHAT_MODE=sender (docs/graph.md §3, docs/design.md §15).
// /users/{id}/chats/getAllMessages returns every message of the user's chats, once per member; sender
// mode instead asks each user for the messages they sent, and separately for messages from senders no
// own-messages query of this run reaches: outside users, apps and bots, system events, and the tenant
// members without a successful job of their own (guests, users the selection leaves out, and, in a
// follow-up after the user jobs, users whose job was skipped or failed). Those are stored once per chat.

/** OData string literal: single quotes are doubled. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Messages the user sent. */
export function ownMessagesFilter(userId: string): string {
  return `from/user/id eq ${literal(userId)}`;
}

/** Senders that are not tenant users with their own export: every documented non-tenant identity type. */
const OUTSIDE_USER_TYPES = ['anonymousGuest', 'federatedUser', 'personalMicrosoftAccountUser', 'skypeUser', 'phoneUser'];
const APPLICATION_TYPES = ['aadApplication', 'bot', 'tenantBot', 'office365Connector', 'outgoingWebhook'];

/** GRAPH_FILTER_MAX_CLAUSES' default: Graph's OData layer refuses about 20 `or`-ed clauses. */
export const DEFAULT_FILTER_MAX_CLAUSES = 15;

/**
 * The "others" filters: outside identity types, applications and system events, plus the given tenant
 * members by id, cut so no request carries more than `maxClauses` `or`-ed clauses. Always at least one.
 */
export function othersFilters(extraSenderIds: readonly string[] = [], maxClauses = DEFAULT_FILTER_MAX_CLAUSES): string[] {
  const base = [
    ...OUTSIDE_USER_TYPES.map((t) => `from/user/userIdentityType eq ${literal(t)}`),
    ...APPLICATION_TYPES.map((t) => `from/application/applicationIdentityType eq ${literal(t)}`),
    `messageType eq 'systemEventMessage'`,
  ];
  return splitClauses([...base, ...senderIdClauses(extraSenderIds)], maxClauses);
}

/** Filters for the messages of the given senders only (the follow-up for members whose job did not succeed). */
export function senderIdFilters(senderIds: readonly string[], maxClauses = DEFAULT_FILTER_MAX_CLAUSES): string[] {
  return splitClauses(senderIdClauses(senderIds), maxClauses);
}

function senderIdClauses(ids: readonly string[]): string[] {
  return [...new Set(ids)].map((id) => `from/user/id eq ${literal(id)}`);
}

/** `or`-joined groups of at most `maxClauses` clauses each. */
function splitClauses(clauses: readonly string[], maxClauses: number): string[] {
  if (!(Number.isInteger(maxClauses) && maxClauses >= 1)) throw new RangeError(`maxClauses must be a positive integer, got ${maxClauses}`);
  const out: string[] = [];
  for (let i = 0; i < clauses.length; i += maxClauses) out.push(clauses.slice(i, i + maxClauses).join(' or '));
  return out;
}
