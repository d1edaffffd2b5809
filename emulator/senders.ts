// Who sent a message, as the export mailbox knows it: a tenant user (member or guest), a federated user,
// an anonymous meeting guest, a bot, or nobody (system events). Chosen by hash for seeded group and
// meeting chat messages, so the seeded tenant's random stream (and every existing count) stays as it was.

import { F_RICH, F_SYSTEM } from './message-flags';
import { hash32, unitHash } from './prng';
import type { Msg, Tenant } from './tenant';

export type Sender =
  | { kind: 'user'; userIdx: number; id: string; userIdentityType: 'aadUser' }
  | { kind: 'external'; id: string; displayName: string; userIdentityType: 'federatedUser' | 'anonymousGuest'; tenantId: string | null }
  | { kind: 'app'; id: string; displayName: string; applicationIdentityType: 'bot' }
  | { kind: 'none' };

/** A stable GUID-shaped id from a text. */
export function stableGuid(text: string): string {
  const h = (n: number) => hash32(`${text}|${n}`).toString(16).padStart(8, '0');
  const a = h(1) + h(2) + h(3) + h(4);
  return `${a.slice(0, 8)}-${a.slice(8, 12)}-4${a.slice(13, 16)}-a${a.slice(17, 20)}-${a.slice(20, 32)}`;
}

const FEDERATED = ['Alex Partner (Fabrikam)', 'Rosa Vendor (Northwind)', 'Ömer Consultant (Litware)'];
const ANONYMOUS = ['Guest Visitor', 'Dial-in Guest'];
const BOTS = ['Build Bot', 'Polly'];

/** The external identity pool of a tenant (stable per tenant id). */
export function externalSenders(tenantId: string): Sender[] {
  return [
    ...FEDERATED.map((displayName, i): Sender => ({
      kind: 'external',
      id: stableGuid(`${tenantId}|fed|${i}`),
      displayName,
      userIdentityType: 'federatedUser',
      tenantId: stableGuid(`fed-tenant|${i}`),
    })),
    ...ANONYMOUS.map((displayName, i): Sender => ({
      kind: 'external',
      id: `8:teamsvisitor:${hash32(`${tenantId}|anon|${i}`).toString(16)}${hash32(`anon|${i}`).toString(16)}`,
      displayName,
      userIdentityType: 'anonymousGuest',
      tenantId: null,
    })),
    ...BOTS.map((displayName, i): Sender => ({
      kind: 'app',
      id: stableGuid(`${tenantId}|bot|${i}`),
      displayName,
      applicationIdentityType: 'bot',
    })),
  ];
}

/**
 * The original sender of a message (kept by the mailbox item even after deletion, when Graph renders
 * `from: null`). Seeded group/meeting chat messages are sent by an external identity with probability
 * `tenant.content.externalSenderFraction`: anonymous guests only in meetings, bots only in group chats.
 */
export function senderOf(tenant: Tenant, m: Msg): Sender {
  if ((m.flags & F_SYSTEM) !== 0) return { kind: 'none' };
  const chat = m.conv.kind === 'chat' ? tenant.chat(m.conv.id) : undefined;
  if (
    (m.flags & F_RICH) !== 0 &&
    chat &&
    chat.kind !== 'oneOnOne' &&
    unitHash(`${m.conv.id}|${m.id}|sender`) < tenant.content.externalSenderFraction
  ) {
    const pool = tenant.externalSenders.filter((s) =>
      chat.kind === 'meeting' ? s.kind === 'external' : !(s.kind === 'external' && s.userIdentityType === 'anonymousGuest'),
    );
    const s = pool[hash32(`${m.conv.id}|${m.id}|who`) % pool.length];
    if (s) return s;
  }
  const u = tenant.userByIndex(m.fromIdx);
  return u ? { kind: 'user', userIdx: m.fromIdx, id: u.id, userIdentityType: 'aadUser' } : { kind: 'none' };
}
