// The sender ("de-duplication") filters of /users/{id}/chats/getAllMessages (docs/graph.md §3):
// `(<clauses joined by or>) and (lastModifiedDateTime gt X and lastModifiedDateTime lt Y)`.
//
// Semantics implemented (real Graph documents the grammar, not every edge):
// - `from/user/id eq '{id}'` matches messages whose sender is that user: tenant members and tenant guests
//   (aadUser), and also federated users or anonymous guests by their own ids.
// - `from/user/userIdentityType eq '{type}'` matches user senders of that type (tenant members and guests
//   are all 'aadUser'); `from/application/applicationIdentityType eq '{type}'` matches app senders (bots).
// - `messageType eq 'systemEventMessage'` matches system events; `ne` matches every other message.
//   System events have no sender, so no sender clause ever matches them.
// - ASSUMPTION: a deleted message (served with `from: null`) still matches the clauses of its ORIGINAL
//   sender, because the export reads the mailbox item, which keeps the sender. Real Graph's behaviour
//   here is undocumented.
// - Clauses are OR-ed; the result is AND-ed with the date range.

import { F_SYSTEM } from './message-flags';
import { senderOf } from './senders';
import type { Msg, Tenant } from './tenant';

export type SenderClause =
  | { field: 'userId'; value: string }
  | { field: 'userIdentityType'; value: string }
  | { field: 'applicationIdentityType'; value: string }
  | { field: 'messageType'; op: 'eq' | 'ne'; value: 'systemEventMessage' };

const USER_TYPES = [
  'aadUser',
  'onPremiseAadUser',
  'anonymousGuest',
  'federatedUser',
  'personalMicrosoftAccountUser',
  'skypeUser',
  'phoneUser',
  'emailUser',
];
const APP_TYPES = ['aadApplication', 'bot', 'tenantBot', 'office365Connector', 'outgoingWebhook'];

/** Splits on a keyword outside parentheses and quotes. */
export function splitTopLevel(text: string, keyword: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  const sep = ` ${keyword} `;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** Removes one pair of parentheses that encloses the whole text, if any. */
export function unwrap(text: string): string {
  const t = text.trim();
  if (!t.startsWith('(') || !t.endsWith(')')) return t;
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '(') depth++;
    else if (t[i] === ')') depth--;
    if (depth === 0 && i < t.length - 1) return t; // the first group closes early: `(a) and (b)`
  }
  return t.slice(1, -1).trim();
}

/** Parses `clause or clause …`; an error text for anything else. */
export function parseSenderClauses(text: string): SenderClause[] | string {
  const out: SenderClause[] = [];
  for (const raw of splitTopLevel(unwrap(text), 'or')) {
    const c = unwrap(raw);
    let m: RegExpExecArray | null;
    if ((m = /^from\/user\/id eq '([^']+)'$/.exec(c))) out.push({ field: 'userId', value: m[1] as string });
    else if ((m = /^from\/user\/userIdentityType eq '([^']+)'$/.exec(c)) && USER_TYPES.includes(m[1] as string))
      out.push({ field: 'userIdentityType', value: m[1] as string });
    else if ((m = /^from\/application\/applicationIdentityType eq '([^']+)'$/.exec(c)) && APP_TYPES.includes(m[1] as string))
      out.push({ field: 'applicationIdentityType', value: m[1] as string });
    else if ((m = /^messageType (eq|ne) 'systemEventMessage'$/.exec(c)))
      out.push({ field: 'messageType', op: m[1] as 'eq' | 'ne', value: 'systemEventMessage' });
    else return `Invalid $filter query: unsupported sender clause '${c}'`;
  }
  return out;
}

/** True when the message matches at least one clause (see the semantics above). */
export function matchesSenders(tenant: Tenant, m: Msg, clauses: readonly SenderClause[]): boolean {
  const system = (m.flags & F_SYSTEM) !== 0;
  const s = senderOf(tenant, m);
  return clauses.some((c) => {
    switch (c.field) {
      case 'messageType':
        return c.op === 'eq' ? system : !system;
      case 'userId':
        return (s.kind === 'user' || s.kind === 'external') && s.id === c.value;
      case 'userIdentityType':
        return (s.kind === 'user' || s.kind === 'external') && s.userIdentityType === c.value;
      case 'applicationIdentityType':
        return s.kind === 'app' && s.applicationIdentityType === c.value;
      default:
        return false;
    }
  });
}
