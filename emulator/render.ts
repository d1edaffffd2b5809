// Renders a compact message record + version into the chatMessage JSON Graph serves (docs/graph.md §5).
// Done per request, so memory holds only compact records, never one JSON object per version.

import { F_HIGH_IMPORTANCE, F_MENTION, F_SUBJECT, F_SYSTEM, F_TEXT_BODY, F_UNKNOWN_PROP } from './message-flags';
import type { Msg, Tenant, Version, Reaction, EmulatedUser } from './tenant';
import { hash32 } from './prng';
import { senderOf, type Sender } from './senders';
import { fileOf } from './files';
import { bodyHostedContents, hostedContentUrl, isCustomReaction, reactionHostedContentId } from './hosted-contents';

const REACTION_NAMES: Record<string, string> = {
  like: 'Like',
  heart: 'Heart',
  laugh: 'Laugh',
  surprised: 'Surprised',
  sad: 'Sad',
  angry: 'Angry',
  '💯': 'Hundred points',
  '👍': 'Thumbs up',
  '🎉': 'Party popper',
};

const iso = (ms: number): string => new Date(ms).toISOString();

function userIdentity(tenantId: string, u: EmulatedUser, withName: boolean): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.teamworkUserIdentity',
    id: u.id,
    displayName: withName ? u.displayName : null,
    userIdentityType: 'aadUser',
    tenantId,
  };
}

function identitySet(user: Record<string, unknown>): Record<string, unknown> {
  return { application: null, device: null, user };
}

/** The `from` of a message sent by `s` (null for system events). */
function fromOf(tenant: Tenant, s: Sender): Record<string, unknown> | null {
  switch (s.kind) {
    case 'user': {
      const u = tenant.userByIndex(s.userIdx);
      return u ? identitySet(userIdentity(tenant.tenantId, u, true)) : null;
    }
    case 'external':
      return identitySet({
        '@odata.type': '#microsoft.graph.teamworkUserIdentity',
        id: s.id,
        displayName: s.displayName,
        userIdentityType: s.userIdentityType,
        tenantId: s.tenantId,
      });
    case 'app':
      return {
        application: {
          '@odata.type': '#microsoft.graph.teamworkApplicationIdentity',
          id: s.id,
          displayName: s.displayName,
          applicationIdentityType: s.applicationIdentityType,
        },
        device: null,
        user: null,
      };
    default:
      return null;
  }
}

/** A GUID-shaped id for a code snippet card attachment. */
function snippetAttachmentId(m: Msg): string {
  const h = (n: number) => hash32(`${m.conv.id}|${m.id}|snippet|${n}`).toString(16).padStart(8, '0');
  const a = h(1) + h(2) + h(3) + h(4);
  return `${a.slice(0, 8)}-${a.slice(8, 12)}-${a.slice(12, 16)}-${a.slice(16, 20)}-${a.slice(20, 32)}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function renderReaction(tenant: Tenant, m: Msg, r: Reaction): Record<string, unknown> {
  const u = tenant.userByIndex(r.userIdx);
  const custom = isCustomReaction(tenant, m, r);
  return {
    reactionType: custom ? 'custom' : r.reactionType,
    displayName: custom ? 'partyparrot' : (REACTION_NAMES[r.reactionType] ?? null),
    reactionContentUrl: custom ? hostedContentUrl(tenant, m, reactionHostedContentId(m, r)) : null,
    createdDateTime: iso(r.ms),
    user: identitySet(u ? userIdentity(tenant.tenantId, u, false) : { id: null, displayName: null }),
  };
}

export function renderMessage(tenant: Tenant, m: Msg, v: Version, includeUnknownEnumMembers: boolean): Record<string, unknown> {
  const conv = m.conv;
  const isChannel = conv.kind === 'channel';
  const system = (m.flags & F_SYSTEM) !== 0;
  const deleted = v.deletedMs !== 0;
  const from = deleted || system ? null : fromOf(tenant, senderOf(tenant, m));
  const users = tenant.users;
  const mentioned = (m.flags & F_MENTION) !== 0 && !deleted && users.length > 0 ? users[m.aux % users.length] : undefined;
  const file = deleted ? undefined : fileOf(tenant, m);
  const attach = file !== undefined;
  const hosted = deleted ? [] : bodyHostedContents(tenant, m);
  const snippet = hosted.find((h) => h.kind === 'snippet');
  const snippetId = snippet ? snippetAttachmentId(m) : '';

  let body: { contentType: string; content: string | null };
  if (system) body = { contentType: 'html', content: '<systemEventMessage/>' };
  else if (deleted) body = { contentType: 'text', content: null };
  else {
    let content = v.text ?? '';
    if (mentioned) content = `<div><at id="0">${escapeHtml(mentioned.displayName)}</at> ${content}</div>`;
    if (attach) content = `${content}<attachment id="${file.attachmentId}"></attachment>`;
    for (const h of hosted) {
      const url = hostedContentUrl(tenant, m, h.id);
      if (h.kind === 'image')
        content = `${content}<p><img src="${url}" width="250" height="141" alt="image" itemid="${h.id}" style="vertical-align:bottom"></p>`;
      else if (h.kind === 'emoji')
        content = `${content} <customemoji id="${h.id}" alt="partyparrot" source="${url}" title="partyparrot" width="20" height="20"></customemoji>`;
      else content = `${content}<attachment id="${snippetId}"></attachment>`;
    }
    body = { contentType: (m.flags & F_TEXT_BODY) !== 0 && !mentioned && !attach && hosted.length === 0 ? 'text' : 'html', content };
  }

  let eventDetail: Record<string, unknown> | null = null;
  if (system) {
    const chat = tenant.chat(conv.id);
    const initiator = tenant.userByIndex(m.fromIdx);
    eventDetail = {
      '@odata.type': '#microsoft.graph.membersAddedEventMessageDetail',
      visibleHistoryStartDateTime: '0001-01-01T00:00:00Z',
      members: (chat?.memberIds ?? []).map((id) => ({ id, displayName: null, userIdentityType: 'aadUser', tenantId: tenant.tenantId })),
      initiator: identitySet(initiator ? userIdentity(tenant.tenantId, initiator, false) : { id: null, displayName: null }),
    };
  }

  const rootId = m.replyToId ?? m.id;
  const msg: Record<string, unknown> = {
    '@odata.type': '#microsoft.graph.chatMessage',
    id: m.id,
    replyToId: m.replyToId,
    etag: v.etag,
    messageType: system ? (includeUnknownEnumMembers ? 'systemEventMessage' : 'unknownFutureValue') : 'message',
    createdDateTime: iso(m.createdMs),
    lastModifiedDateTime: iso(v.ms),
    lastEditedDateTime: v.editedMs ? iso(v.editedMs) : null,
    deletedDateTime: deleted ? iso(v.deletedMs) : null,
    subject: (m.flags & F_SUBJECT) !== 0 && m.replyToId === null ? `Topic ${m.aux % 97}: planning ✨` : null,
    summary: null,
    chatId: isChannel ? null : conv.id,
    importance: (m.flags & F_HIGH_IMPORTANCE) !== 0 ? 'high' : 'normal',
    locale: 'en-us',
    webUrl: isChannel
      ? `https://teams.microsoft.com/l/message/${encodeURIComponent(conv.id)}/${m.id}?groupId=${conv.teamId}&tenantId=${tenant.tenantId}&createdTime=${m.createdMs}&parentMessageId=${rootId}`
      : null,
    channelIdentity: isChannel ? { teamId: conv.teamId, channelId: conv.id } : null,
    policyViolation: null,
    eventDetail,
    from,
    body,
    attachments: [
      ...(file
        ? [
            {
              id: file.attachmentId,
              contentType: 'reference',
              contentUrl: file.contentUrl,
              content: null,
              name: file.name,
              thumbnailUrl: null,
              teamsAppId: null,
            },
          ]
        : []),
      ...(snippet
        ? [
            {
              id: snippetId,
              contentType: 'application/vnd.microsoft.card.codesnippet',
              contentUrl: null,
              content: JSON.stringify({ language: 'TypeScript', wrap: true, codeSnippetUrl: hostedContentUrl(tenant, m, snippet.id) }),
              name: null,
              thumbnailUrl: null,
              teamsAppId: null,
            },
          ]
        : []),
    ],
    mentions: mentioned
      ? [
          {
            id: 0,
            mentionText: mentioned.displayName,
            mentioned: { application: null, device: null, conversation: null, user: userIdentity(tenant.tenantId, mentioned, true) },
          },
        ]
      : [],
    reactions: v.reactions ? v.reactions.map((r) => renderReaction(tenant, m, r)) : [],
    messageHistory: v.reactions
      ? v.reactions.map((r) => ({ modifiedDateTime: iso(r.ms), actions: 'reactionAdded', reaction: renderReaction(tenant, m, r) }))
      : [],
  };
  if (v.overlay) {
    // Served as given (Tenant.postRaw), but the version key's fields stay the emulator's.
    const { id, etag, lastModifiedDateTime, chatId, channelIdentity } = msg;
    Object.assign(msg, v.overlay, { id, etag, lastModifiedDateTime, chatId, channelIdentity });
  }
  if ((m.flags & F_UNKNOWN_PROP) !== 0) {
    // properties the product has never heard of: they must survive export verbatim
    msg.onBehalfOf = null;
    msg.futureProperty = { kind: 'unknownToTheProduct', nested: { values: [1, 2, 3], flag: true } };
  }
  return msg;
}
