// Rendering archived versions as a conversation page: versions grouped per message, deletions with
// their last known text, edits with earlier versions, reactions with who reacted, threads, names
// from the directory snapshot, and every name and id escaped.
import { describe, expect, it } from 'vitest';
import type { ArchivedLine } from '../../src/archive/archive-browser';
import { namesFromSnapshot } from '../../src/archive/viewer-names';
import { groupMessages, threadsOf } from '../../src/viewer/conversation-model';
import { offlineLinks, serverLinks } from '../../src/viewer/links';
import { conversationDayPage, homePage } from '../../src/viewer/pages';

const CHAT = '19:chat@thread.v2';
const BLOB = 'messages/users/u1/2026/03/02/fresh_20260301T000000000Z_20260302T000000000Z_r1_0000.jsonl.gz';
const ADA = 'aaaa-1';
const EVIL = 'bbbb-2';

function msg(id: string, modified: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    chatId: CHAT,
    replyToId: null,
    etag: modified,
    messageType: 'message',
    createdDateTime: '2026-03-02T09:00:00.000Z',
    lastModifiedDateTime: modified,
    from: { user: { id: ADA, displayName: null } },
    body: { contentType: 'html', content: `<p>text of ${id}</p>` },
    reactions: [],
    attachments: [],
    ...extra,
  };
}

function lines(...messages: Array<Record<string, unknown>>): ArchivedLine[] {
  return messages.map((m, i) => ({ blob: BLOB, lineNo: i + 1, text: JSON.stringify(m) }));
}

const names = namesFromSnapshot({
  users: [
    { id: ADA, displayName: 'Ada Lovelace' },
    { id: EVIL, displayName: '<img src=x onerror=alert(1)>' },
  ],
  chats: [{ id: CHAT, topic: 'Launch <b>plan</b>', members: [] }],
});

describe('conversation page', () => {
  const data = lines(
    msg('1', '2026-03-02T09:00:00.000Z'),
    msg('1', '2026-03-02T10:00:00.000Z', {
      lastEditedDateTime: '2026-03-02T10:00:00.000Z',
      body: { contentType: 'html', content: '<p>edited text</p>' },
    }),
    msg('2', '2026-03-02T09:30:00.000Z', {
      createdDateTime: '2026-03-02T09:30:00.000Z',
      body: { contentType: 'text', content: 'soon gone' },
    }),
    msg('2', '2026-03-02T11:00:00.000Z', {
      createdDateTime: '2026-03-02T09:30:00.000Z',
      deletedDateTime: '2026-03-02T11:00:00.000Z',
      from: null,
      body: { contentType: 'text', content: null },
    }),
    msg('3', '2026-03-02T12:00:00.000Z', {
      createdDateTime: '2026-03-02T08:00:00.000Z',
      reactions: [
        { reactionType: 'like', displayName: 'Like', user: { user: { id: ADA, displayName: null } } },
        { reactionType: 'like', displayName: 'Like', user: { user: { id: EVIL, displayName: null } } },
      ],
    }),
    { not: 'a message' },
  );
  const messages = groupMessages(data);
  const html = conversationDayPage({ links: serverLinks('/'), names }, 'user', 'u1', CHAT, '2026-03-02', {
    messages,
    content: new Map(),
    snippets: new Map(),
  });

  it('groups versions per message, in creation order, oldest version first', () => {
    expect(messages.map((m) => [m.id, m.versions.length])).toEqual([
      ['3', 1],
      ['1', 2],
      ['2', 2],
    ]);
  });

  it('shows the newest text and folds the earlier version away', () => {
    expect(html).toMatch(
      /<article class="message edited" id="m-1">[\s\S]*edited text[\s\S]*<details class="versions"><summary>1 earlier version<\/summary>[\s\S]*text of 1/,
    );
  });

  it('marks a deletion and shows the last known text', () => {
    expect(html).toMatch(
      /<article class="message deleted" id="m-2"><div class="head"><span class="sender">Ada Lovelace<\/span>[\s\S]*deleted-badge[\s\S]*last known text:[\s\S]*soon gone/,
    );
  });

  it('names senders and reactors from the directory, escaped', () => {
    expect(html).toContain('<span class="sender">Ada Lovelace</span>');
    expect(html).toContain('Ada Lovelace, &#60;img src=x onerror=alert(1)&#62;');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('<h1>Launch &#60;b&#62;plan&#60;/b&#62;</h1>');
  });

  it('links every version to its raw JSON line and batch', () => {
    expect(html).toContain(`href="/raw/${BLOB}?line=2"`);
    expect(html).toContain(`href="/blob/${BLOB}"`);
  });

  it('offline pages use relative links and a meta CSP, and no server-only links', () => {
    const offline = conversationDayPage(
      { links: offlineLinks(2, () => undefined), names, offline: true },
      'user',
      'u1',
      CHAT,
      '2026-03-02',
      { messages, content: new Map(), snippets: new Map() },
    );
    expect(offline).toContain('<link rel="stylesheet" href="../../assets/viewer.css">');
    expect(offline).toContain('http-equiv="Content-Security-Policy"');
    expect(offline).not.toContain('/raw/');
  });
});

describe('channel threads', () => {
  it('puts replies under their post and keeps replies to an earlier post together', () => {
    const ch = (id: string, created: string, replyToId: string | null) => ({
      ...msg(id, created, { createdDateTime: created, replyToId }),
      chatId: null,
      channelIdentity: { teamId: 't', channelId: 'c' },
    });
    const threads = threadsOf(
      groupMessages(
        lines(ch('10', '2026-03-02T08:00:00Z', null), ch('11', '2026-03-02T09:00:00Z', '10'), ch('12', '2026-03-02T07:00:00Z', '5')),
      ),
    );
    expect(threads.map((t) => [t.rootId, t.root?.id, t.replies.map((r) => r.id)])).toEqual([
      ['5', undefined, ['12']],
      ['10', '10', ['11']],
    ]);
  });
});

describe('home page', () => {
  it('lists users and teams by name, with the id beside it, ids otherwise', () => {
    const html = homePage({ links: serverLinks('/'), names }, [ADA, 'unknown-user'], []);
    expect(html).toMatch(/<a href="\/u\/aaaa-1">Ada Lovelace<\/a> <span class="id">aaaa-1<\/span>/);
    expect(html).toContain('<a href="/u/unknown-user">unknown-user</a>');
    expect(html).toContain('none archived');
  });
});
