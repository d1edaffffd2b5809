// Builds a deterministic synthetic tenant from a seed: users (some disabled, guests, without Teams data),
// chats, teams and channels, deleted teams, and messages with edits, deletions, reactions, mentions and
// system events. Issue-4 content (hosted contents, files, external senders) is decided per message by
// hash at render time, so it never shifts the seeded random stream.

import { createRng, guid, hex, pick, randInt } from './prng';
import { F_ATTACHMENT, F_HIGH_IMPORTANCE, F_MENTION, F_RICH, F_SUBJECT, F_SYSTEM, F_TEXT_BODY, F_UNKNOWN_PROP } from './message-flags';
import type { Conversation, ChatKind, Tenant } from './tenant';
import { seedCopilot } from './copilot-store';
import { seedMeetings } from './meeting-store';

export interface TenantSeedOptions {
  seed?: number;
  users?: number;
  teams?: number;
  channelsPerTeam?: number;
  oneOnOneChats?: number;
  groupChats?: number;
  meetingChats?: number;
  messagesPerChat?: number;
  postsPerChannel?: number;
  repliesPerPost?: number;
  /** messages spread over [endMs - historyDays, endMs) */
  historyDays?: number;
  /** default: clock() - 1 hour */
  endMs?: number;
  editFraction?: number;
  deleteFraction?: number;
  reactionFraction?: number;
  /** seeded messages whose body references hosted contents (images, custom emoji, code snippets) */
  hostedContentFraction?: number;
  /** seeded messages with a reference attachment on the files server (some gone, some forbidden) */
  fileFraction?: number;
  /** reactions on seeded messages rendered as org custom emoji with a hosted content */
  customReactionFraction?: number;
  /** seeded group/meeting chat messages sent by federated users, anonymous guests or bots */
  externalSenderFraction?: number;
  /** the tenant has a Teams retention policy: getAllRetainedMessages serves retained versions */
  retentionPolicy?: boolean;
  /** teams that have been deleted (listed by /teamwork/deletedTeams, not by /teams) */
  deletedTeams?: number;
  /** members with a mailbox who hold a Microsoft 365 Copilot licence (at least one, and one without, when there are two) */
  copilotLicenseFraction?: number;
  /** Copilot sessions (a few prompt/answer pairs each, apps in turn) per licensed user */
  copilotSessionsPerUser?: number;
  /** the most occurrences per meeting chat, each leaving a transcript and/or a recording */
  meetingOccurrences?: number;
  /**
   * Users deleted 2 days before endMs (licensed Copilot users first, then meeting organisers, last ones
   * first): gone from /users, their chats, interactions and meeting artifacts still served for 30 days.
   */
  deletedUsers?: number;
}

export const DEFAULT_SEED_OPTIONS: Required<Omit<TenantSeedOptions, 'endMs'>> = {
  seed: 1,
  users: 12,
  teams: 2,
  channelsPerTeam: 3,
  oneOnOneChats: 8,
  groupChats: 4,
  meetingChats: 2,
  messagesPerChat: 12,
  postsPerChannel: 6,
  repliesPerPost: 2,
  historyDays: 14,
  editFraction: 0.1,
  deleteFraction: 0.04,
  reactionFraction: 0.15,
  hostedContentFraction: 0.12,
  fileFraction: 0.08,
  customReactionFraction: 0.3,
  externalSenderFraction: 0.15,
  retentionPolicy: false,
  deletedTeams: 0,
  copilotLicenseFraction: 0.5,
  copilotSessionsPerUser: 2,
  meetingOccurrences: 2,
  deletedUsers: 0,
};

const DAY = 86_400_000;
const HOUR = 3_600_000;

const GIVEN = ['Ada', 'Zoë', 'Omar', 'Noa', 'Li', 'Sven', 'Priya', 'José', 'Fatima', 'Yosef', 'Chloé', 'Kenji', 'Amara', 'Björn'];
const SURNAMES = [
  'Lovelace',
  'Müller',
  'Haddad',
  'Cohen',
  'Wei',
  'Ørsted',
  'Sharma',
  'García',
  'Al-Sayed',
  'Levi',
  'Dubois',
  'Tanaka',
  'Okafor',
  'Ström',
];
const TEXTS = [
  'Good morning team! ☀️',
  'Can we move the sync to 3pm? 🙏',
  'مرحبا بالجميع، الاجتماع غدًا في العاشرة',
  'שלום לכולם, נתראה מחר בבוקר',
  'Mixed direction: hello مرحبا שלום 123',
  '会议纪要已上传 📄',
  'Emoji storm 🎉🔥💯👩‍👩‍👧‍👦🏳️‍🌈',
  'Combining marks: e\u0301 c\u0327 n\u0303',
  'Line separator\u2028inside, and a tab\tchar',
  'Quotes "double" and \'single\' and back\\slash',
  '<p>HTML <b>bold</b> &amp; <i>italic</i></p>',
  'Surrogate pair 𝄞 and a musical note ♪',
  'Shipping the release tonight, fingers crossed 🤞',
  'LGTM 👍',
];
const REACTIONS = ['like', 'heart', 'laugh', 'surprised', 'sad', 'angry', '💯'];

/** ASCII-only local part for a UPN. */
function asciiName(s: string): string {
  return (
    s
      .normalize('NFD')
      .replace(/[^A-Za-z]/g, '')
      .toLowerCase() || 'user'
  );
}

export function seedTenant(tenant: Tenant, options: TenantSeedOptions, nowMs: number): void {
  const o = { ...DEFAULT_SEED_OPTIONS, ...options };
  const rng = createRng(o.seed);
  const endMs = options.endMs ?? nowMs - HOUR;
  const startMs = endMs - o.historyDays * DAY;
  const span = Math.max(1, endMs - startMs);
  tenant.content = {
    hostedContentFraction: o.hostedContentFraction,
    fileFraction: o.fileFraction,
    customReactionFraction: o.customReactionFraction,
    externalSenderFraction: o.externalSenderFraction,
  };
  tenant.retentionPolicy = o.retentionPolicy;

  // ---- users: fixed index patterns so every kind exists once there are ~10 users
  for (let i = 0; i < o.users; i++) {
    const given = GIVEN[i % GIVEN.length] as string;
    const sur = SURNAMES[(i * 5 + 3) % SURNAMES.length] as string;
    const guest = i % 7 === 3;
    const local = `${asciiName(given)}.${asciiName(sur)}${i}`;
    tenant.addUser({
      id: guid(rng),
      displayName: `${given} ${sur}`,
      givenName: given,
      surname: sur,
      userPrincipalName: guest ? `${local}_fabrikam.com#EXT#@contoso.onmicrosoft.com` : `${local}@contoso.onmicrosoft.com`,
      mail: guest ? `${local}@fabrikam.com` : `${local}@contoso.onmicrosoft.com`,
      accountEnabled: i % 9 !== 4,
      userType: guest ? 'Guest' : 'Member',
      // guests' Teams data lives in their home tenant: here they chat and post, but have no export of their own
      hasTeamsData: !guest && i % 8 !== 5,
    });
  }
  // who takes part in chats and channels: everyone but the users without a mailbox (guests included)
  const teamsUsers: number[] = [];
  tenant.users.forEach((_, i) => {
    if (i % 8 !== 5) teamsUsers.push(i);
  });

  // Recent creation instants, reused now and then so different messages share a millisecond.
  const usedInstants: number[] = [];
  const randomInstant = (): number => {
    if (usedInstants.length > 0 && rng() < 0.04) return pick(rng, usedInstants);
    const t = startMs + Math.floor(rng() * span);
    if (usedInstants.length < 256) usedInstants.push(t);
    else usedInstants[randInt(rng, 0, 256)] = t;
    return t;
  };

  const regularFlags = (root: boolean): number => {
    let f = 0;
    if (rng() < 0.1) f |= F_MENTION;
    if (rng() < 0.07) f |= F_ATTACHMENT;
    if (rng() < 0.05) f |= F_UNKNOWN_PROP;
    if (root && rng() < 0.5) f |= F_SUBJECT;
    if (rng() < 0.03) f |= F_HIGH_IMPORTANCE;
    if (rng() < 0.3) f |= F_TEXT_BODY;
    return f;
  };

  /** Adds a message and its later history (edits, reactions, deletion) before endMs. */
  // ids taken per conversation while seeding (Conversation.get would build a lasting index for every one)
  const taken = new WeakMap<Conversation, Set<number>>();
  const addMessage = (
    conv: Conversation,
    createdMs: number,
    fromIdx: number,
    replyToId: string | null,
    flags: number,
    authors: readonly number[],
  ): string => {
    let ids = taken.get(conv);
    if (!ids) taken.set(conv, (ids = new Set()));
    let at = createdMs;
    while (ids.has(at)) at++;
    ids.add(at);
    const text = flags & F_SYSTEM ? null : pick(rng, TEXTS);
    const m = tenant.addMessage(
      conv,
      String(at),
      at,
      fromIdx,
      replyToId,
      flags & F_SYSTEM ? flags : flags | F_RICH,
      randInt(rng, 0, 1 << 20),
      text,
    );
    if (flags & F_SYSTEM) return m.id;
    const later = (): number => at + 1 + Math.floor(rng() * Math.max(1, endMs - at - 1));
    const changes: Array<{ at: number; kind: 'edit' | 'reaction' | 'delete' }> = [];
    if (rng() < o.editFraction) changes.push({ at: later(), kind: 'edit' });
    if (rng() < o.reactionFraction) {
      const n = randInt(rng, 1, 3);
      for (let i = 0; i < n; i++) changes.push({ at: later(), kind: 'reaction' });
    }
    changes.sort((a, b) => a.at - b.at);
    if (rng() < o.deleteFraction) changes.push({ at: Math.max(later(), (changes[changes.length - 1]?.at ?? at) + 1), kind: 'delete' });
    for (const c of changes) {
      if (c.kind === 'edit') tenant.applyChange(m, c.at, { text: `${m.v.text ?? ''} (edited ✏️)`, edited: true });
      else if (c.kind === 'reaction')
        tenant.applyChange(m, c.at, { reaction: { reactionType: pick(rng, REACTIONS), userIdx: pick(rng, authors), ms: 0, seeded: true } });
      else tenant.applyChange(m, c.at, { deleted: true });
    }
    return m.id;
  };

  // ---- chats (members among users with a mailbox, guests included)
  if (teamsUsers.length >= 2) {
    const makeChat = (kind: ChatKind, size: number): void => {
      const members: number[] = [];
      const pool = [...teamsUsers];
      for (let i = 0; i < size && pool.length > 0; i++) members.push(pool.splice(randInt(rng, 0, pool.length), 1)[0] as number);
      const memberIds = members.map((i) => tenant.users[i]?.id as string);
      let id: string;
      if (kind === 'oneOnOne') {
        const [a, b] = [...memberIds].sort();
        id = `19:${a}_${b}@unq.gbl.spaces`;
        if (tenant.chat(id)) return; // this pair already has its 1:1 chat
      } else if (kind === 'group') id = `19:${hex(rng, 32)}@thread.v2`;
      else id = `19:meeting_${Buffer.from(hex(rng, 24)).toString('base64url').slice(0, 32)}@thread.v2`;
      const chat = tenant.addChat({
        id,
        kind,
        topic: kind === 'oneOnOne' ? null : `${kind === 'meeting' ? 'Meeting' : 'Group'} ${tenant.chats.length}`,
        memberIds,
      });
      if (kind !== 'oneOnOne') {
        // the chat starts with a membersAdded system event, before its first message
        addMessage(chat.conversation, startMs + Math.floor(rng() * Math.min(span, HOUR)), members[0] as number, null, F_SYSTEM, members);
      }
      for (let i = 0; i < o.messagesPerChat; i++)
        addMessage(chat.conversation, randomInstant(), pick(rng, members), null, regularFlags(false), members);
    };
    for (let i = 0; i < o.oneOnOneChats; i++) makeChat('oneOnOne', 2);
    for (let i = 0; i < o.groupChats; i++) makeChat('group', randInt(rng, 3, 7));
    for (let i = 0; i < o.meetingChats; i++) makeChat('meeting', randInt(rng, 2, 9));
  }

  // ---- teams and channels; deleted teams last, so they never shift what the live tenant looks like
  const makeTeam = (t: number, deleted: boolean): void => {
    const teamId = guid(rng);
    const channels = Array.from({ length: Math.max(1, o.channelsPerTeam) }, (_, c) => ({
      id: `19:${c === 0 ? hex(rng, 32) : hex(rng, 32)}@thread.tacv2`,
      displayName: c === 0 ? 'General' : `Channel ${c} – قناة`,
      membershipType: (c % 3 === 2 ? 'private' : 'standard') as 'private' | 'standard',
    }));
    const info = deleted
      ? { id: teamId, displayName: `Old project ${t + 1} 🗑️`, description: `Deleted synthetic team ${t + 1}` }
      : { id: teamId, displayName: `Team ${t + 1} 🚀`, description: `Synthetic team ${t + 1}` };
    const team = deleted ? tenant.addDeletedTeam(info, channels) : tenant.addTeam(info, channels);
    if (teamsUsers.length === 0) return;
    for (const ch of team.channels) {
      for (let p = 0; p < o.postsPerChannel; p++) {
        const created = randomInstant();
        const rootId = addMessage(ch.conversation, created, pick(rng, teamsUsers), null, regularFlags(true), teamsUsers);
        for (let r = 0; r < o.repliesPerPost; r++) {
          const replyAt = Number(rootId) + 1 + Math.floor(rng() * Math.max(1, endMs - Number(rootId) - 1));
          addMessage(ch.conversation, replyAt, pick(rng, teamsUsers), rootId, regularFlags(false), teamsUsers);
        }
      }
    }
  };
  for (let t = 0; t < o.teams; t++) makeTeam(t, false);
  for (let t = 0; t < o.deletedTeams; t++) makeTeam(t, true);

  // ---- Copilot and meeting artifacts: PRNG streams of their own, so everything above is unchanged
  seedCopilot(
    tenant,
    { seed: o.seed, licenseFraction: o.copilotLicenseFraction, sessionsPerUser: o.copilotSessionsPerUser },
    startMs,
    endMs,
  );
  seedMeetings(tenant, { seed: o.seed, meetingOccurrences: o.meetingOccurrences }, startMs, endMs);
  if (o.deletedUsers > 0) {
    const organizers = new Set(tenant.meetings.allMeetings().map((m) => m.organizerId));
    const licensed = tenant.users.filter((u) => tenant.copilot.isLicensed(u.id));
    const rest = tenant.users.filter((u) => !tenant.copilot.isLicensed(u.id) && organizers.has(u.id));
    for (const u of [...licensed.reverse(), ...rest.reverse()].slice(0, o.deletedUsers)) tenant.deleteUser(u.id, endMs - 2 * DAY);
  }
}
