// The emulated tenant's data: users, teams, chats and compact message records with their version
// chains, plus the mutations and "what would Graph serve" expectations that tests use.

import { F_TEXT_BODY } from './message-flags';
import { renderMessage } from './render';
import { externalSenders, senderOf, type Sender } from './senders';
import { CopilotStore } from './copilot-store';
import { MeetingStore } from './meeting-store';

export interface EmulatedUser {
  id: string;
  displayName: string;
  givenName: string;
  surname: string;
  userPrincipalName: string;
  mail: string | null;
  accountEnabled: boolean;
  userType: 'Member' | 'Guest';
  /** false: the user has no mailbox/Teams data, so getAllMessages answers 404. */
  hasTeamsData: boolean;
  /**
   * Set when the user was deleted (data clock): gone from /users, listed by
   * /directory/deletedItems/microsoft.graph.user, and their chats still served for DELETED_USER_SERVED_MS.
   */
  deletedMs?: number | undefined;
}

export interface EmulatedChannel {
  id: string;
  displayName: string;
  membershipType: 'standard' | 'private' | 'shared';
  conversation: Conversation;
}

export interface EmulatedTeam {
  id: string;
  displayName: string;
  description: string;
  channels: EmulatedChannel[];
}

export type ChatKind = 'oneOnOne' | 'group' | 'meeting';

export interface EmulatedChat {
  id: string;
  kind: ChatKind;
  topic: string | null;
  memberIds: string[];
  conversation: Conversation;
}

export interface Reaction {
  reactionType: string;
  userIdx: number;
  ms: number;
  /**
   * Set by the seeder: only seeded reactions may turn into org custom emoji (customReactionFraction).
   * A reaction added through addReaction keeps the type its caller gave.
   */
  seeded?: true;
}

/** One immutable version of a message; a mutation creates a new one that points at the previous. */
export class Version {
  constructor(
    readonly ms: number,
    readonly etag: string,
    /** body.content; null once deleted */
    readonly text: string | null,
    readonly editedMs: number,
    readonly deletedMs: number,
    readonly reactions: readonly Reaction[] | null,
    readonly prev: Version | null,
    /**
     * Raw chatMessage properties served over the rendered ones (postRaw, editRaw): any shape a sender or
     * a Graph bug could produce. The version key's fields stay the emulator's, so the ledger holds.
     */
    readonly overlay: Readonly<Record<string, unknown>> | null = null,
  ) {}
}

/** A message record: identity and decorations; its state lives in the current Version `v`. */
export class Msg {
  constructor(
    readonly conv: Conversation,
    readonly id: string,
    readonly createdMs: number,
    /** index into Tenant.users, -1 for none (system events) */
    readonly fromIdx: number,
    readonly replyToId: string | null,
    readonly flags: number,
    /** small per-message number that picks decorations (mentioned user, attachment name, ...) */
    readonly aux: number,
    public v: Version,
  ) {}
}

/** A chat or a channel: the unit whose id is part of a version key. */
export class Conversation {
  readonly messages: Msg[] = [];
  private index: Map<string, Msg> | null = null;
  constructor(
    readonly id: string,
    readonly kind: 'chat' | 'channel',
    readonly teamId: string | null,
  ) {}

  get(id: string): Msg | undefined {
    if (!this.index) {
      // built lazily: most seeded conversations are never mutated, so most never need it
      this.index = new Map();
      for (const m of this.messages) this.index.set(m.id, m);
    }
    return this.index.get(id);
  }

  add(m: Msg): void {
    this.messages.push(m);
    this.index?.set(m.id, m);
  }
}

export interface EntityRef {
  /**
   * 'deletedTeam': a team listed by /teamwork/deletedTeams, exported through its own route; 'copilot' and
   * 'meetings' have no messages (their items are in the Copilot and meeting ledgers)
   */
  kind: 'user' | 'team' | 'deletedTeam' | 'userRetained' | 'teamRetained' | 'copilot' | 'meetings';
  id: string;
}

/** How much issue-4 content seeded messages carry; each decision is a hash of the message, not the seed stream. */
export interface ContentOptions {
  /** seeded messages whose body references hosted contents (images, custom emoji, code snippets) */
  hostedContentFraction: number;
  /** seeded messages with a reference attachment on the files origin (some gone, some forbidden) */
  fileFraction: number;
  /** reactions on seeded messages that are org custom emoji (`reactionType: 'custom'`) */
  customReactionFraction: number;
  /** seeded group/meeting chat messages sent by a federated user, an anonymous guest or a bot */
  externalSenderFraction: number;
}

/** Graph serves user-deleted messages for 21 days after deletion, then only getAllRetainedMessages does. */
export const DELETED_SERVED_MS = 21 * 86_400_000;

/** True when getAllMessages no longer serves this version at `nowMs` (deleted more than 21 days ago). */
export function deletionExpired(v: Version, nowMs: number): boolean {
  return v.deletedMs !== 0 && nowMs - v.deletedMs > DELETED_SERVED_MS;
}

/**
 * The versions getAllRetainedMessages serves for a message: every version that a content change (edit
 * or deletion) replaced, as it was, plus the deletion itself for a deleted message. Reaction-only
 * versions that were not followed by a content change are not retained.
 */
export function retainedVersionsOf(m: Msg): Version[] {
  const out: Version[] = [];
  if (m.v.deletedMs !== 0) out.push(m.v);
  for (let v: Version | null = m.v; v && v.prev; v = v.prev) {
    const contentChange = v.deletedMs !== v.prev.deletedMs || v.editedMs !== v.prev.editedMs;
    if (contentChange) out.push(v.prev);
  }
  return out;
}

/** Graph keeps a deleted user (and serves their chats) for 30 days, then removes it for good. */
export const DELETED_USER_SERVED_MS = 30 * 86_400_000;

/** True while Graph still knows the user: live, or deleted no more than 30 days before `nowMs`. */
export function userServed(u: EmulatedUser, nowMs: number): boolean {
  return u.deletedMs === undefined || nowMs - u.deletedMs <= DELETED_USER_SERVED_MS;
}

export interface RenderOptions {
  /** As if the request carried `Prefer: include-unknown-enum-members`. */
  includeUnknownEnumMembers?: boolean;
}

export interface ExpectedVersion {
  key: string;
  lastModifiedMs: number;
  message: Record<string, unknown>;
}

export interface TenantStats {
  users: number;
  teams: number;
  chats: number;
  channels: number;
  /** distinct messages (each counted once, however many users see it), deleted teams' included */
  messages: number;
  deletedTeams: number;
  /** current versions served per entity (users and live teams), summed over entities (chat messages count once per member) */
  entityVersions: number;
  versionsByEntity: { users: Record<string, number>; teams: Record<string, number> };
}

export type PostTarget = { chatId: string } | { teamId: string; channelId: string; replyToId?: string };

/** `${conversationId}|${messageId}|${lastModifiedMs}|${etag}` */
export function versionKey(conversationId: string, messageId: string, lastModifiedMs: number, etag: string): string {
  return `${conversationId}|${messageId}|${lastModifiedMs}|${etag}`;
}

export class Tenant {
  readonly users: EmulatedUser[] = [];
  readonly teams: EmulatedTeam[] = [];
  readonly chats: EmulatedChat[] = [];
  /** deleted teams: not in GET /teams, listed by GET /teamwork/deletedTeams */
  readonly deletedTeams: EmulatedTeam[] = [];
  /** issue-4 content on seeded messages; all 0 unless the seeder sets them */
  content: ContentOptions = { hostedContentFraction: 0, fileFraction: 0, customReactionFraction: 0, externalSenderFraction: 0 };
  /** with a Teams retention policy, getAllRetainedMessages serves retained versions; without, it answers 403 */
  retentionPolicy = false;
  /** Copilot licences and interactions (copilot-store.ts) */
  readonly copilot = new CopilotStore();
  /** online meetings, transcripts and recordings (meeting-store.ts) */
  readonly meetings = new MeetingStore();
  /** base of hosted-content URLs in message bodies (the emulator sets its own) */
  graphBaseUrl = 'https://graph.microsoft.com/v1.0';
  /** origin of new reference attachments' contentUrl (the emulator sets its files server) */
  filesOrigin = 'https://contoso.sharepoint.com';
  private readonly deletedTeamIndex = new Map<string, EmulatedTeam>();
  private externals: Sender[] | null = null;
  private readonly userIndex = new Map<string, number>();
  private readonly teamIndex = new Map<string, EmulatedTeam>();
  private readonly chatIndex = new Map<string, EmulatedChat>();
  private readonly conversations = new Map<string, Conversation>();
  private readonly chatsOfUser = new Map<string, Conversation[]>();
  private messageCount = 0;

  constructor(
    readonly tenantId: string,
    /** data clock: default time of mutations */
    public clock: () => number,
  ) {}

  // ---- building (used by the seeder) ----

  addUser(u: EmulatedUser): void {
    this.userIndex.set(u.id, this.users.length);
    this.users.push(u);
  }

  addTeam(t: Omit<EmulatedTeam, 'channels'>, channels: Array<Omit<EmulatedChannel, 'conversation'>>): EmulatedTeam {
    const team: EmulatedTeam = {
      ...t,
      channels: channels.map((c) => ({ ...c, conversation: this.newConversation(c.id, 'channel', t.id) })),
    };
    this.teams.push(team);
    this.teamIndex.set(team.id, team);
    return team;
  }

  /** A team that has been deleted: its channels are exportable only through /teamwork/deletedTeams/{id}. */
  addDeletedTeam(t: Omit<EmulatedTeam, 'channels'>, channels: Array<Omit<EmulatedChannel, 'conversation'>>): EmulatedTeam {
    const team: EmulatedTeam = {
      ...t,
      channels: channels.map((c) => ({ ...c, conversation: this.newConversation(c.id, 'channel', t.id) })),
    };
    this.deletedTeams.push(team);
    this.deletedTeamIndex.set(team.id, team);
    return team;
  }

  addChat(c: Omit<EmulatedChat, 'conversation'>): EmulatedChat {
    const chat: EmulatedChat = { ...c, conversation: this.newConversation(c.id, 'chat', null) };
    this.chats.push(chat);
    this.chatIndex.set(chat.id, chat);
    for (const uid of c.memberIds) {
      const list = this.chatsOfUser.get(uid) ?? [];
      list.push(chat.conversation);
      this.chatsOfUser.set(uid, list);
    }
    return chat;
  }

  /** Adds a message record (first version) to a conversation; its id must be unique there. */
  addMessage(
    conv: Conversation,
    id: string,
    createdMs: number,
    fromIdx: number,
    replyToId: string | null,
    flags: number,
    aux: number,
    text: string | null,
  ): Msg {
    const m = new Msg(conv, id, createdMs, fromIdx, replyToId, flags, aux, new Version(createdMs, id, text, 0, 0, null, null));
    conv.add(m);
    this.messageCount++;
    return m;
  }

  /** Appends a version to a message; times are forced strictly increasing per message so keys stay unique. */
  applyChange(
    m: Msg,
    atMs: number,
    change: { text?: string | null; edited?: boolean; deleted?: boolean; reaction?: Reaction; overlay?: Record<string, unknown> },
  ): Version {
    const cur = m.v;
    const at = Math.max(Math.floor(atMs), cur.ms + 1);
    const reactions = change.reaction ? [...(cur.reactions ?? []), { ...change.reaction, ms: at }] : cur.reactions;
    const next = new Version(
      at,
      String(at),
      change.deleted ? null : change.text !== undefined ? change.text : cur.text,
      change.edited ? at : cur.editedMs,
      change.deleted ? at : cur.deletedMs,
      reactions,
      cur,
      change.overlay !== undefined ? change.overlay : cur.overlay,
    );
    m.v = next;
    return next;
  }

  // ---- lookups ----

  userByIndex(idx: number): EmulatedUser | undefined {
    return idx >= 0 ? this.users[idx] : undefined;
  }

  userIndexOf(id: string): number {
    return this.userIndex.get(id) ?? -1;
  }

  user(id: string): EmulatedUser | undefined {
    return this.userByIndex(this.userIndexOf(id));
  }

  team(id: string): EmulatedTeam | undefined {
    return this.teamIndex.get(id);
  }

  deletedTeam(id: string): EmulatedTeam | undefined {
    return this.deletedTeamIndex.get(id);
  }

  /** Federated users, anonymous guests and bots that send some seeded chat messages. */
  get externalSenders(): Sender[] {
    return (this.externals ??= externalSenders(this.tenantId));
  }

  /** Messages added so far (seeded, posted, deleted teams' included). */
  get messageTotal(): number {
    return this.messageCount;
  }

  /** Every conversation: chats, live teams' and deleted teams' channels. */
  allConversations(): Iterable<Conversation> {
    return this.conversations.values();
  }

  chat(id: string): EmulatedChat | undefined {
    return this.chatIndex.get(id);
  }

  conversation(id: string): Conversation | undefined {
    return this.conversations.get(id);
  }

  /** The conversations an entity's export walks: a user's chats, or a team's channels. */
  conversationsOf(entity: EntityRef): Conversation[] {
    if (entity.kind === 'copilot' || entity.kind === 'meetings') return [];
    if (entity.kind === 'user' || entity.kind === 'userRetained') return this.chatsOfUser.get(entity.id) ?? [];
    if (entity.kind === 'teamRetained') return this.team(entity.id)?.channels.map((c) => c.conversation) ?? [];
    const team = entity.kind === 'team' ? this.team(entity.id) : this.deletedTeam(entity.id);
    return team?.channels.map((c) => c.conversation) ?? [];
  }

  // ---- mutations (tests, demo) ----

  /** `html: true` serves `text` verbatim as an HTML body (hostile-bodies.ts); otherwise it is a plain-text body. */
  postMessage(target: PostTarget, m: { fromUserId?: string; text: string; atMs?: number; html?: boolean }): string {
    let conv: Conversation;
    let fromIdx: number;
    let replyToId: string | null = null;
    if ('chatId' in target) {
      const chat = this.chat(target.chatId);
      if (!chat) throw new Error(`unknown chat ${target.chatId}`);
      conv = chat.conversation;
      fromIdx = this.userIndexOf(m.fromUserId ?? chat.memberIds[0] ?? '');
    } else {
      const team = this.team(target.teamId);
      const channel = team?.channels.find((c) => c.id === target.channelId);
      if (!channel) throw new Error(`unknown channel ${target.teamId}/${target.channelId}`);
      conv = channel.conversation;
      if (target.replyToId !== undefined) {
        const parent = conv.get(target.replyToId);
        if (!parent || parent.replyToId !== null) throw new Error(`no root post ${target.replyToId} in ${target.channelId}`);
        replyToId = parent.id;
      }
      fromIdx = m.fromUserId !== undefined ? this.userIndexOf(m.fromUserId) : this.users.findIndex((u) => u.hasTeamsData);
    }
    if (m.fromUserId !== undefined && fromIdx < 0) throw new Error(`unknown user ${m.fromUserId}`);
    // Teams message ids are the creation instant in ms; bump on collision to keep ids unique per conversation
    let at = Math.floor(m.atMs ?? this.clock());
    while (conv.get(String(at))) at++;
    this.addMessage(conv, String(at), at, fromIdx, replyToId, m.html ? 0 : F_TEXT_BODY, 0, m.text);
    return String(at);
  }

  /**
   * Posts a message served as `raw` laid over what the emulator renders: every property of `raw` is
   * served exactly as given (hostile bodies, broken cards, wrong types), except the version key's
   * `id`, `etag`, `lastModifiedDateTime`, `chatId` and `channelIdentity`, which stay the emulator's.
   */
  postRaw(target: PostTarget, raw: Record<string, unknown>, m: { fromUserId?: string; atMs?: number } = {}): string {
    const id = this.postMessage(target, { ...m, text: '', html: true });
    const msg = this.mustFind('chatId' in target ? target.chatId : target.channelId, id);
    const v = msg.v;
    msg.v = new Version(v.ms, v.etag, v.text, v.editedMs, v.deletedMs, v.reactions, v.prev, { ...raw });
    return id;
  }

  /** A new version of a message served as `raw` laid over the rendered one (see postRaw). */
  editRaw(conversationId: string, messageId: string, raw: Record<string, unknown>, atMs?: number): void {
    this.applyChange(this.mustFind(conversationId, messageId), atMs ?? this.clock(), { edited: true, overlay: { ...raw } });
  }

  editMessage(conversationId: string, messageId: string, text: string, atMs?: number): void {
    const m = this.mustFind(conversationId, messageId);
    if (m.v.deletedMs) throw new Error(`message ${messageId} is deleted`);
    this.applyChange(m, atMs ?? this.clock(), { text, edited: true });
  }

  deleteMessage(conversationId: string, messageId: string, atMs?: number): void {
    const m = this.mustFind(conversationId, messageId);
    if (m.v.deletedMs) throw new Error(`message ${messageId} is already deleted`);
    this.applyChange(m, atMs ?? this.clock(), { deleted: true });
  }

  /**
   * Deletes a user (at the data clock by default): they leave /users, appear in the deleted-items
   * listing, and their chats stay exportable for 30 days. Their messages and chat memberships stay.
   */
  deleteUser(id: string, atMs?: number): void {
    const u = this.user(id);
    if (!u) throw new Error(`unknown user ${id}`);
    if (u.deletedMs !== undefined) throw new Error(`user ${id} is already deleted`);
    u.deletedMs = Math.floor(atMs ?? this.clock());
  }

  /** Adds a reaction of exactly `reactionType` ('custom' for an org custom emoji with its hosted content). */
  addReaction(conversationId: string, messageId: string, userId: string, reactionType: string, atMs?: number): void {
    const m = this.mustFind(conversationId, messageId);
    const userIdx = this.userIndexOf(userId);
    if (userIdx < 0) throw new Error(`unknown user ${userId}`);
    this.applyChange(m, atMs ?? this.clock(), { reaction: { reactionType, userIdx, ms: 0 } });
  }

  /** The original sender of a message (what sender filters match on; kept after deletion). */
  senderOf(conversationId: string, messageId: string): Sender {
    return senderOf(this, this.mustFind(conversationId, messageId));
  }

  /** Renders one version as Graph's chatMessage JSON. */
  render(m: Msg, v: Version, opts: RenderOptions = {}): Record<string, unknown> {
    return renderMessage(this, m, v, opts.includeUnknownEnumMembers === true);
  }

  keyOf(m: Msg, v: Version): string {
    return versionKey(m.conv.id, m.id, v.ms, v.etag);
  }

  /**
   * What Graph would serve now for an entity (current version of every message, ignoring faults and
   * late visibility), optionally limited to the half-open window [fromMs, toMs) like the product's Window.
   * Messages deleted more than 21 days before the data clock are no longer served, so not expected.
   */
  currentVersions(entity: EntityRef, window?: { fromMs: number; toMs: number }, opts: RenderOptions = {}): ExpectedVersion[] {
    // The retention API's "current" view is its retained versions: one expectation call for every kind.
    if (entity.kind === 'userRetained') return this.retainedVersions({ kind: 'user', id: entity.id }, window, opts);
    if (entity.kind === 'teamRetained') return this.retainedVersions({ kind: 'team', id: entity.id }, window, opts);
    const out: ExpectedVersion[] = [];
    const now = this.clock();
    for (const conv of this.conversationsOf(entity)) {
      for (const m of conv.messages) {
        const v = m.v;
        if (window && (v.ms < window.fromMs || v.ms >= window.toMs)) continue;
        if (deletionExpired(v, now)) continue;
        out.push({ key: this.keyOf(m, v), lastModifiedMs: v.ms, message: this.render(m, v, opts) });
      }
    }
    return out;
  }

  /**
   * What getAllRetainedMessages serves for an entity with a retention policy (see retainedVersionsOf),
   * optionally limited to the half-open window [fromMs, toMs); keys like currentVersions.
   */
  retainedVersions(entity: EntityRef, window?: { fromMs: number; toMs: number }, opts: RenderOptions = {}): ExpectedVersion[] {
    const out: ExpectedVersion[] = [];
    for (const conv of this.conversationsOf(entity)) {
      for (const m of conv.messages) {
        for (const v of retainedVersionsOf(m)) {
          if (window && (v.ms < window.fromMs || v.ms >= window.toMs)) continue;
          out.push({ key: this.keyOf(m, v), lastModifiedMs: v.ms, message: this.render(m, v, opts) });
        }
      }
    }
    return out;
  }

  /** Entities whose export would return data (users with Teams data, all teams). */
  exportableEntities(): EntityRef[] {
    return [
      ...this.users.filter((u) => u.hasTeamsData).map((u) => ({ kind: 'user' as const, id: u.id })),
      ...this.teams.map((t) => ({ kind: 'team' as const, id: t.id })),
    ];
  }

  stats(): TenantStats {
    const users: Record<string, number> = {};
    const teams: Record<string, number> = {};
    let entityVersions = 0;
    const now = this.clock();
    const served = (c: Conversation) => c.messages.reduce((n, m) => n + (deletionExpired(m.v, now) ? 0 : 1), 0);
    for (const u of this.users) {
      if (!u.hasTeamsData) continue;
      const n = this.conversationsOf({ kind: 'user', id: u.id }).reduce((s, c) => s + served(c), 0);
      users[u.id] = n;
      entityVersions += n;
    }
    for (const t of this.teams) {
      const n = t.channels.reduce((s, c) => s + served(c.conversation), 0);
      teams[t.id] = n;
      entityVersions += n;
    }
    return {
      users: this.users.length,
      teams: this.teams.length,
      chats: this.chats.length,
      channels: this.teams.reduce((s, t) => s + t.channels.length, 0),
      messages: this.messageCount,
      deletedTeams: this.deletedTeams.length,
      entityVersions,
      versionsByEntity: { users, teams },
    };
  }

  private newConversation(id: string, kind: 'chat' | 'channel', teamId: string | null): Conversation {
    if (this.conversations.has(id)) throw new Error(`duplicate conversation id ${id}`);
    const conv = new Conversation(id, kind, teamId);
    this.conversations.set(id, conv);
    return conv;
  }

  private mustFind(conversationId: string, messageId: string): Msg {
    const m = this.conversation(conversationId)?.get(messageId);
    if (!m) throw new Error(`unknown message ${conversationId}/${messageId}`);
    return m;
  }
}
