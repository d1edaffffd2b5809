// Microsoft 365 Copilot interactions of the emulated tenant: which users hold a Copilot licence, their
// sessions of prompt/response pairs across Copilot apps (Teams, Microsoft 365 Chat, Word, ...), each
// rendered as Graph's aiInteraction (docs: aiInteraction resource type). Seeded from a PRNG stream of
// its own, so a seed's users, chats and messages are the same as without it.

import { createHash } from 'node:crypto';
import { createRng, guid, hash32, hex, pick, randInt } from './prng';
import type { Tenant } from './tenant';

/** The Copilot apps an interaction comes from: its appClass, conversationType and the answering app's name. */
export const COPILOT_APPS = [
  { appClass: 'IPM.SkypeTeams.Message.Copilot.Teams', conversationType: 'appchat', app: 'Copilot in Teams' },
  { appClass: 'IPM.SkypeTeams.Message.Copilot.BizChat', conversationType: 'bizchat', app: 'Microsoft 365 Chat' },
  { appClass: 'IPM.SkypeTeams.Message.Copilot.WebChat', conversationType: 'webchat', app: 'Microsoft 365 Copilot Chat' },
  { appClass: 'IPM.SkypeTeams.Message.Copilot.Word', conversationType: 'appchat', app: 'Copilot in Word' },
  { appClass: 'IPM.SkypeTeams.Message.Copilot.Excel', conversationType: 'appchat', app: 'Copilot in Excel' },
  { appClass: 'IPM.SkypeTeams.Message.Copilot.Loop', conversationType: 'appchat', app: 'Copilot in Loop' },
] as const;

/** The application id Graph's examples give Copilot's answers (`from.application.id`). */
export const COPILOT_APPLICATION_ID = 'fb8d773d-7ef8-4ec0-a117-179f88add510';

export type InteractionType = 'userPrompt' | 'aiResponse';

/** What a session was about: a Teams meeting (its chat) or a document. */
export type CopilotContext = { kind: 'meeting'; chatId: string; topic: string } | { kind: 'file'; name: string; url: string };

/** One aiInteraction of one user; immutable once added. */
export interface Interaction {
  readonly userId: string;
  /** like a Teams message id: the creation instant in ms, unique per user */
  readonly id: string;
  readonly createdMs: number;
  readonly etag: string;
  readonly sessionId: string;
  readonly requestId: string;
  /** index into COPILOT_APPS, or -1 for an appClass given at runtime (`appClass`) */
  readonly app: number;
  readonly appClass: string;
  readonly type: InteractionType;
  readonly text: string;
  readonly context: CopilotContext | null;
  /** small number that picks decorations (a mention, links) */
  readonly aux: number;
  /** data-clock instant it was added at runtime (-Infinity when seeded): delta-like late arrivals */
  readonly addedAtMs: number;
  readonly addSeq: number;
  /** raw aiInteraction properties served over the rendered ones (postRaw); id and etag stay the emulator's */
  readonly overlay: Readonly<Record<string, unknown>> | null;
}

/** `${userId}|${id}|${etag}`: an interaction as served to one user (the Copilot ledger's key). */
export function interactionKey(userId: string, id: string, etag: string): string {
  return `${userId}|${id}|${etag}`;
}

const PROMPTS = [
  'Summarise what was decided in this meeting',
  'What should be on my radar from emails last week?',
  'Draft a reply that thanks Zoë for the numbers 🙏',
  'لخص النقاط الرئيسية من الاجتماع',
  'סכם את המסמך בשלוש נקודות',
  'Rewrite this paragraph in a friendlier tone',
  'Which formulas in column D reference the Budget sheet?',
  '会议的行动项是什么?',
  'List the open questions, with owners — and dates',
  'Explain the variance in Q3 vs Q2 (in €)',
];
const RESPONSES = [
  'Here is a summary of the key points:\n- The release moves to Thursday.\n- José owns the rollback plan.',
  'You have three things to follow up on: the budget review, the vendor contract and the offsite agenda.',
  'Sure — here is a draft: "Thanks, Zoë! The numbers look great 🎉"',
  'النقاط الرئيسية: الموعد النهائي يوم الخميس، والمراجعة الأسبوع القادم.',
  'שלוש נקודות: תקציב, לוח זמנים, ואחריות.',
  'I made the tone warmer and shortened the second sentence.',
  'Columns D4:D19 use SUMIFS over Budget!B:B.',
  '行动项:1) 更新路线图 2) 安排评审',
  'Open questions: hiring plan (Ada, Friday), pricing (Omar, next week).',
  'Q3 revenue was €1.2M above Q2, mainly from the new EU contracts.',
];
const FILES = ['Quarterly report.docx', 'Budget 2026.xlsx', 'Team plan.loop', 'Notes – مراجعة.docx'];

export interface CopilotSeedOptions {
  seed: number;
  /** members with a mailbox who hold a Microsoft 365 Copilot licence */
  licenseFraction: number;
  sessionsPerUser: number;
}

/** Licences and interactions of the tenant, per user, ordered by creation (then insertion). */
export class CopilotStore {
  private readonly licensed = new Set<string>();
  private readonly byUser = new Map<string, Interaction[]>();
  private readonly ids = new Map<string, Set<string>>();
  private seq = 0;

  isLicensed(userId: string): boolean {
    return this.licensed.has(userId);
  }

  setLicensed(userId: string, on: boolean): void {
    if (on) this.licensed.add(userId);
    else this.licensed.delete(userId);
  }

  licensedUsers(): string[] {
    return [...this.licensed];
  }

  /** The user's interactions, oldest first. */
  of(userId: string): readonly Interaction[] {
    return this.byUser.get(userId) ?? [];
  }

  *all(): Iterable<Interaction> {
    for (const list of this.byUser.values()) yield* list;
  }

  /** The insertion counter: every add gets the next value. */
  get lastSeq(): number {
    return this.seq;
  }

  /** A free id (creation ms, bumped on collision) for the user. */
  freeId(userId: string, atMs: number): number {
    const taken = this.ids.get(userId);
    let at = Math.floor(atMs);
    while (taken?.has(String(at))) at++;
    return at;
  }

  add(rec: Omit<Interaction, 'addSeq'>): Interaction {
    const it: Interaction = { ...rec, addSeq: ++this.seq };
    let taken = this.ids.get(it.userId);
    if (!taken) this.ids.set(it.userId, (taken = new Set()));
    if (taken.has(it.id)) throw new Error(`duplicate interaction id ${it.id} for ${it.userId}`);
    taken.add(it.id);
    const list = this.byUser.get(it.userId) ?? [];
    let i = list.length;
    while (i > 0 && (list[i - 1] as Interaction).createdMs > it.createdMs) i--;
    list.splice(i, 0, it);
    this.byUser.set(it.userId, list);
    return it;
  }
}

function threadId(rng: () => number): string {
  return `19:${Buffer.from(hex(rng, 33), 'hex').toString('base64url').slice(0, 43)}@thread.v2`;
}

/** Licences and sessions for the seeded users, from their own PRNG stream. */
export function seedCopilot(tenant: Tenant, o: CopilotSeedOptions, startMs: number, endMs: number): void {
  const rng = createRng((o.seed ^ 0x0c0b1107) >>> 0);
  const store = tenant.copilot;
  const eligible = tenant.users.filter((u) => u.userType === 'Member' && u.hasTeamsData);
  const licensed = eligible.filter(() => rng() < o.licenseFraction);
  // a tenant of two or more such users has both a licensed and an unlicensed one
  if (eligible.length >= 2 && licensed.length === 0) licensed.push(eligible[0]!);
  if (eligible.length >= 2 && licensed.length === eligible.length) licensed.pop();
  for (const u of licensed) store.setLicensed(u.id, true);
  const span = Math.max(1, endMs - startMs);
  let session = randInt(rng, 0, COPILOT_APPS.length);
  const meetingChatsOf = new Map<string, Array<(typeof tenant.chats)[number]>>();
  for (const c of tenant.chats) {
    if (c.kind !== 'meeting') continue;
    for (const id of c.memberIds) meetingChatsOf.set(id, [...(meetingChatsOf.get(id) ?? []), c]);
  }
  for (const u of licensed) {
    const meetings = meetingChatsOf.get(u.id) ?? [];
    for (let s = 0; s < o.sessionsPerUser; s++) {
      // apps go round the list, so a few sessions cover every one
      const app = session++ % COPILOT_APPS.length;
      const appClass = COPILOT_APPS[app]!.appClass;
      const sessionId = threadId(rng);
      const meeting = app === 0 && meetings.length > 0 ? pick(rng, meetings) : undefined;
      const fileName = FILES[randInt(rng, 0, FILES.length)] as string;
      const context: CopilotContext | null = meeting
        ? { kind: 'meeting', chatId: meeting.id, topic: meeting.topic ?? 'Meeting' }
        : app >= 3
          ? {
              kind: 'file',
              name: fileName,
              url: `https://contoso.sharepoint.com/personal/${u.userPrincipalName.split('@')[0]!.replace(/\W/g, '_')}/Documents/${encodeURIComponent(fileName)}`,
            }
          : null;
      const pairs = randInt(rng, 2, 5);
      let at = startMs + Math.floor(rng() * span * 0.9);
      for (let p = 0; p < pairs && at < endMs - 60_000; p++) {
        const requestId = guid(rng);
        const text = randInt(rng, 0, PROMPTS.length);
        const aux = randInt(rng, 0, 1 << 16);
        const promptAt = store.freeId(u.id, at);
        const base = { userId: u.id, sessionId, requestId, app, appClass, context, aux, addedAtMs: -Infinity, overlay: null };
        store.add({ ...base, id: String(promptAt), etag: String(promptAt), createdMs: promptAt, type: 'userPrompt', text: PROMPTS[text]! });
        const answerAt = store.freeId(u.id, promptAt + 400 + Math.floor(rng() * 7_600));
        store.add({
          ...base,
          id: String(answerAt),
          etag: String(answerAt),
          createdMs: answerAt,
          type: 'aiResponse',
          text: RESPONSES[text]!,
        });
        at = answerAt + 60_000 + Math.floor(rng() * 600_000);
      }
    }
  }
}

export interface PostInteractionOptions {
  prompt: string;
  /** Copilot's answer; omitted: the prompt only (an answer may follow with the same requestId) */
  response?: string;
  /** one of COPILOT_APPS' appClass values (default the Teams one) or any other string */
  appClass?: string;
  /** the prompt's instant (default: the data clock); the answer follows 1.5 s later */
  atMs?: number;
  sessionId?: string;
  requestId?: string;
  /** a meeting chat the session is about (contexts: TeamsMeeting) */
  meetingChatId?: string;
}

export interface PostedInteraction {
  sessionId: string;
  requestId: string;
  promptId: string;
  responseId: string | null;
}

/** Adds a prompt (and its answer) for a user at runtime, as if they used Copilot between two runs. */
export function postInteraction(tenant: Tenant, userId: string, o: PostInteractionOptions): PostedInteraction {
  const user = tenant.user(userId);
  if (!user) throw new Error(`unknown user ${userId}`);
  const store = tenant.copilot;
  const at = Math.floor(o.atMs ?? tenant.clock());
  const seed = hash32(`${userId}|${at}|${store.lastSeq}`);
  const rng = createRng(seed);
  const app = o.appClass === undefined ? 0 : COPILOT_APPS.findIndex((a) => a.appClass === o.appClass);
  const appClass = o.appClass ?? COPILOT_APPS[0].appClass;
  const chat = o.meetingChatId === undefined ? undefined : tenant.chat(o.meetingChatId);
  if (o.meetingChatId !== undefined && !chat) throw new Error(`unknown chat ${o.meetingChatId}`);
  const context: CopilotContext | null = chat ? { kind: 'meeting', chatId: chat.id, topic: chat.topic ?? 'Meeting' } : null;
  const sessionId = o.sessionId ?? threadId(rng);
  const requestId = o.requestId ?? guid(rng);
  const base = { userId, sessionId, requestId, app, appClass, context, aux: seed & 0xffff, addedAtMs: tenant.clock(), overlay: null };
  const promptAt = store.freeId(userId, at);
  store.add({ ...base, id: String(promptAt), etag: String(promptAt), createdMs: promptAt, type: 'userPrompt', text: o.prompt });
  let responseId: string | null = null;
  if (o.response !== undefined) {
    const answerAt = store.freeId(userId, promptAt + 1_500);
    responseId = String(answerAt);
    store.add({ ...base, id: responseId, etag: responseId, createdMs: answerAt, type: 'aiResponse', text: o.response });
  }
  return { sessionId, requestId, promptId: String(promptAt), responseId };
}

/**
 * Adds one interaction served as `raw` laid over what the emulator renders (any shape Graph could send:
 * odd bodies, unknown properties, wrong types), except `id` and `etag`, which stay the emulator's so the
 * ledger holds. `type` defaults to a prompt.
 */
export function postRawInteraction(
  tenant: Tenant,
  userId: string,
  raw: Record<string, unknown>,
  o: { atMs?: number; type?: InteractionType } = {},
): string {
  if (!tenant.user(userId)) throw new Error(`unknown user ${userId}`);
  const store = tenant.copilot;
  const at = store.freeId(userId, o.atMs ?? tenant.clock());
  const rng = createRng(hash32(`${userId}|${at}|raw`));
  store.add({
    userId,
    id: String(at),
    etag: String(at),
    createdMs: at,
    sessionId: threadId(rng),
    requestId: guid(rng),
    app: 0,
    appClass: COPILOT_APPS[0].appClass,
    type: o.type ?? 'userPrompt',
    text: '',
    context: null,
    aux: 0,
    addedAtMs: tenant.clock(),
    overlay: { ...raw },
  });
  return String(at);
}

const iso = (ms: number) => new Date(ms).toISOString();

function userIdentity(tenant: Tenant, id: string, displayName: string | null): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.teamworkUserIdentity',
    id,
    displayName,
    userIdentityType: 'aadUser',
    tenantId: tenant.tenantId,
  };
}

/** The aiInteraction JSON Graph serves for a record (property order as in Graph's examples). */
export function renderInteraction(tenant: Tenant, it: Interaction): Record<string, unknown> {
  const app = COPILOT_APPS[it.app];
  const prompt = it.type === 'userPrompt';
  const ctx = it.context;
  const contexts =
    ctx === null
      ? []
      : ctx.kind === 'meeting'
        ? // Graph's known issue: answers of Teams meeting Copilot may lack their contexts; some here do
          prompt || it.aux % 2 === 0
          ? [
              {
                contextReference: `https://microsoft.teams.com/threads/${ctx.chatId}`,
                displayName: 'Teams Meeting Copilot',
                contextType: 'TeamsMeeting',
              },
            ]
          : []
        : [{ contextReference: ctx.url, displayName: ctx.name, contextType: 'File' }];
  let body: Record<string, unknown>;
  let attachments: unknown[] = [];
  let links: unknown[] = [];
  let mentions: unknown[] = [];
  if (prompt) {
    const others = tenant.users.filter((u) => u.id !== it.userId && u.userType === 'Member');
    const mentioned = it.aux % 4 === 1 && others.length > 0 ? others[it.aux % others.length] : undefined;
    if (mentioned) {
      body = { contentType: 'html', content: `<p>${escapeHtml(it.text)} <at id="0">${escapeHtml(mentioned.displayName)}</at></p>` };
      mentions = [
        {
          mentionId: 0,
          mentionText: mentioned.displayName,
          mentioned: {
            application: null,
            device: null,
            conversation: null,
            tag: null,
            user: userIdentity(tenant, mentioned.id, mentioned.displayName),
          },
        },
      ];
    } else body = { contentType: 'text', content: it.text };
  } else if (ctx?.kind === 'meeting') {
    body = { contentType: 'text', content: `${it.text}<attachment id="${ctx.chatId}"></attachment>` };
    attachments = [
      {
        attachmentId: ctx.chatId,
        contentType: 'reference',
        contentUrl: `https://microsoft.teams.com/threads/${ctx.chatId}`,
        content: null,
        name: 'Teams Meeting Copilot',
      },
    ];
  } else if (it.app === 1 || it.app === 2) {
    // Microsoft 365 Chat answers as an adaptive card, with the links it used
    const cardId = createHash('sha256').update(`${it.userId}|${it.id}|card`).digest('hex').slice(0, 32);
    body = { contentType: 'html', content: `<attachment id="${cardId}"></attachment>` };
    const card = { type: 'AdaptiveCard', version: '1.0', body: [{ type: 'TextBlock', text: it.text, wrap: true }] };
    attachments = [
      {
        attachmentId: cardId,
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: JSON.stringify(card, null, 2),
        name: null,
      },
    ];
    const file = FILES[it.aux % FILES.length] as string;
    links = [
      {
        linkUrl: `https://contoso.sharepoint.com/sites/emulated/Shared%20Documents/${encodeURIComponent(file)}?web=1`,
        displayName: file,
        linkType: 'File',
      },
      {
        linkUrl: `https://teams.microsoft.com/l/meeting/details?eventId=AAMkAD${Buffer.from(`${it.requestId}`).toString('base64url').slice(0, 40)}`,
        displayName: 'Weekly sync',
        linkType: 'Meeting',
      },
    ];
  } else {
    body = { contentType: 'text', content: it.text };
    if (ctx?.kind === 'file') links = [{ linkUrl: `${ctx.url}?web=1`, displayName: ctx.name, linkType: 'File' }];
  }
  const from = prompt
    ? {
        '@odata.type': '#microsoft.graph.chatMessageFromIdentitySet',
        application: null,
        device: null,
        user: userIdentity(tenant, it.userId, `8:orgid:${it.userId}`),
      }
    : {
        '@odata.type': '#microsoft.graph.chatMessageFromIdentitySet',
        device: null,
        user: null,
        application: {
          '@odata.type': '#microsoft.graph.teamworkApplicationIdentity',
          id: COPILOT_APPLICATION_ID,
          displayName: app?.app ?? 'Microsoft 365 Copilot',
          applicationIdentityType: 'bot',
        },
      };
  const rendered: Record<string, unknown> = {
    id: it.id,
    sessionId: it.sessionId,
    requestId: it.requestId,
    appClass: it.appClass,
    interactionType: it.type,
    conversationType: app?.conversationType ?? 'appchat',
    etag: it.etag,
    createdDateTime: iso(it.createdMs),
    locale: 'en-us',
    contexts,
    from,
    body,
    attachments,
    links,
    mentions,
  };
  if (it.overlay) Object.assign(rendered, it.overlay, { id: it.id, etag: it.etag });
  return rendered;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
