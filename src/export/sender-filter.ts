// The sender filters of EXPORT_CHAT_MODE=sender (docs/graph.md §3). /users/{id}/chats/getAllMessages
// returns every message of the user's chats, once per member; sender mode instead asks each user for
// the messages they sent, and separately for messages no exported tenant user sent (outside users,
// apps and bots, system events, tenant users without a mailbox of their own), which are then stored
// once per chat.

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

/** How many `from/user/id` clauses go in one request (a long $filter makes a long URL). */
export const MAX_SENDER_IDS_PER_FILTER = 40;

/**
 * The "others" filters: outside identity types, applications and system events, plus tenant users whose
 * messages no own-messages query reaches (guests and users without a Teams mailbox), split so no filter
 * carries more than MAX_SENDER_IDS_PER_FILTER ids. Always at least one filter.
 */
export function othersFilters(extraSenderIds: readonly string[] = []): string[] {
  const base = [
    ...OUTSIDE_USER_TYPES.map((t) => `from/user/userIdentityType eq ${literal(t)}`),
    ...APPLICATION_TYPES.map((t) => `from/application/applicationIdentityType eq ${literal(t)}`),
    `messageType eq 'systemEventMessage'`,
  ].join(' or ');
  const ids = [...new Set(extraSenderIds)];
  const filters = [base];
  for (let i = 0; i < ids.length; i += MAX_SENDER_IDS_PER_FILTER) {
    filters.push(ids.slice(i, i + MAX_SENDER_IDS_PER_FILTER).map((id) => `from/user/id eq ${literal(id)}`).join(' or '));
  }
  return filters;
}
