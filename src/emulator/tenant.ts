// The emulated tenant's data: users, teams, chats and compact message records with their version
// chains, plus the mutations and "what would Graph serve" expectations that tests use.

import { F_TEXT_BODY } from './message-flags';
import { renderMessage } from './render';

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
  kind: 'user' | 'team';
  id: string;
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
  /** distinct messages (each counted once, however many users see it) */
  messages: number;
  /** current versions served per entity, summed over entities (chat messages count once per member) */
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
  addMessage(conv: Conversation, id: string, createdMs: number, fromIdx: number, replyToId: string | null, flags: number, aux: number, text: string | null): Msg {
    const m = new Msg(conv, id, createdMs, fromIdx, replyToId, flags, aux, new Version(createdMs, id, text, 0, 0, null, null));
    conv.add(m);
    this.messageCount++;
    return m;
  }

  /** Appends a version to a message; times are forced strictly increasing per message so keys stay unique. */
  applyChange(m: Msg, atMs: number, change: { text?: string | null; edited?: boolean; deleted?: boolean; reaction?: Reaction }): Version {
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

  chat(id: string): EmulatedChat | undefined {
    return this.chatIndex.get(id);
  }

  conversation(id: string): Conversation | undefined {
    return this.conversations.get(id);
  }

  /** The conversations an entity's export walks: a user's chats, or a team's channels. */
  conversationsOf(entity: EntityRef): Conversation[] {
    if (entity.kind === 'user') return this.chatsOfUser.get(entity.id) ?? [];
    return this.team(entity.id)?.channels.map((c) => c.conversation) ?? [];
  }

  // ---- mutations (tests, demo) ----

  postMessage(target: PostTarget, m: { fromUserId?: string; text: string; atMs?: number }): string {
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
    this.addMessage(conv, String(at), at, fromIdx, replyToId, F_TEXT_BODY, 0, m.text);
    return String(at);
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

  addReaction(conversationId: string, messageId: string, userId: string, reactionType: string, atMs?: number): void {
    const m = this.mustFind(conversationId, messageId);
    const userIdx = this.userIndexOf(userId);
    if (userIdx < 0) throw new Error(`unknown user ${userId}`);
    this.applyChange(m, atMs ?? this.clock(), { reaction: { reactionType, userIdx, ms: 0 } });
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
   */
  currentVersions(entity: EntityRef, window?: { fromMs: number; toMs: number }, opts: RenderOptions = {}): ExpectedVersion[] {
    const out: ExpectedVersion[] = [];
    for (const conv of this.conversationsOf(entity)) {
      for (const m of conv.messages) {
        const v = m.v;
        if (window && (v.ms < window.fromMs || v.ms >= window.toMs)) continue;
        out.push({ key: this.keyOf(m, v), lastModifiedMs: v.ms, message: this.render(m, v, opts) });
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
    for (const u of this.users) {
      if (!u.hasTeamsData) continue;
      const n = this.conversationsOf({ kind: 'user', id: u.id }).reduce((s, c) => s + c.messages.length, 0);
      users[u.id] = n;
      entityVersions += n;
    }
    for (const t of this.teams) {
      const n = t.channels.reduce((s, c) => s + c.conversation.messages.length, 0);
      teams[t.id] = n;
      entityVersions += n;
    }
    return {
      users: this.users.length,
      teams: this.teams.length,
      chats: this.chats.length,
      channels: this.teams.reduce((s, t) => s + t.channels.length, 0),
      messages: this.messageCount,
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
