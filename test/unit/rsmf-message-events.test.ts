// One message's archived versions → one RSMF event: edits, deletions, reactions, system events,
// attachments and the custom fields that keep Graph ids and every version accounted for.
import { describe, expect, it } from 'vitest';
import { buildEvent, extensionOf, type ContentEntry } from '../../src/rsmf/message-events';

type Json = Record<string, unknown>;
const ada = { user: { id: 'u-ada', displayName: 'Ada' } };
const v = (ms: number, extra: Json): Json => ({
  id: 'm1',
  chatId: 'c1',
  messageType: 'message',
  createdDateTime: '2026-11-27T10:00:00Z',
  lastModifiedDateTime: new Date(Date.parse('2026-11-27T10:00:00Z') + ms).toISOString(),
  from: ada,
  body: { contentType: 'html', content: '<p>hello</p>' },
  reactions: [],
  ...extra,
});
const opts = (content: Record<string, ContentEntry[]> = {}) => ({
  conversation: 'c1',
  contentOf: (m: Json) => content[`k${String(m.lastModifiedDateTime)}`] ?? [],
  nameOf: (id: string) => (id === 'u-bo' ? 'Bo' : undefined),
});

describe('buildEvent', () => {
  it('shows the latest body and lists each earlier body as an edit, oldest first', () => {
    const { event } = buildEvent(
      [
        v(0, {}),
        v(60_000, { body: { contentType: 'text', content: 'hello!' }, lastEditedDateTime: '2026-11-27T10:01:00Z' }),
        v(120_000, { body: { contentType: 'text', content: 'hello!!' } }),
      ],
      opts(),
    );
    expect(event.body).toBe('hello!!');
    expect(event.edits).toEqual([
      { participant: 'u-ada', timestamp: '2026-11-27T10:01:00.000Z', previous: 'hello', new: 'hello!' },
      { participant: 'u-ada', timestamp: '2026-11-27T10:02:00.000Z', previous: 'hello!', new: 'hello!!' },
    ]);
    expect(event.timestamp).toBe('2026-11-27T10:00:00.000Z');
    expect(event.custom).toContainEqual({ name: 'Archived versions', value: '3' });
  });

  it('keeps the last known body of a deleted message and its sender, though the deletion names neither', () => {
    const { event } = buildEvent(
      [v(0, {}), v(60_000, { from: null, body: { contentType: 'text', content: null }, deletedDateTime: '2026-11-27T10:01:00Z' })],
      opts(),
    );
    expect(event).toMatchObject({ deleted: true, body: 'hello', participant: 'u-ada' });
    expect(event.edits).toBeUndefined();
  });

  it('names an unknown participant when no archived version names the sender', () => {
    const { event, people } = buildEvent(
      [v(60_000, { from: null, body: { contentType: 'text', content: null }, deletedDateTime: '2026-11-27T10:01:00Z' })],
      opts(),
    );
    expect(event).toMatchObject({ deleted: true, body: '', participant: 'teams-export:unknown' });
    expect(people).toContainEqual({ id: 'teams-export:unknown', displayName: 'Unknown (not named in the archive)' });
  });

  it('counts reactions of the latest version by value, custom emoji by name, reactors as participants', () => {
    const r = (type: string, user: string, name?: string) => ({
      reactionType: type,
      displayName: name ?? null,
      user: { user: { id: user } },
    });
    const { event, people } = buildEvent(
      [
        v(0, { reactions: [r('like', 'u-x')] }),
        v(1, { reactions: [r('like', 'u-bo'), r('like', 'u-ada'), r('custom', 'u-bo', 'partyparrot')] }),
      ],
      opts(),
    );
    expect(event.reactions).toEqual([
      { value: 'like', count: 2, participants: ['u-bo', 'u-ada'] },
      { value: 'partyparrot', count: 1, participants: ['u-bo'] },
    ]);
    expect(event.edits).toBeUndefined();
    expect(people.map((p) => p.id).sort()).toEqual(['u-ada', 'u-bo']);
  });

  it('maps system events to join, leave and history, naming members', () => {
    const sys = (type: string) =>
      v(0, {
        from: null,
        messageType: 'systemEventMessage',
        body: { contentType: 'html', content: '<systemEventMessage/>' },
        eventDetail: { '@odata.type': `#microsoft.graph.${type}`, members: [{ id: 'u-bo' }], initiator: ada },
      });
    expect(buildEvent([sys('membersAddedEventMessageDetail')], opts()).event).toMatchObject({
      type: 'join',
      participant: 'u-ada',
      body: 'membersAdded: Bo',
    });
    expect(buildEvent([sys('membersDeletedEventMessageDetail')], opts()).event.type).toBe('leave');
    expect(buildEvent([sys('callEndedEventMessageDetail')], opts()).event.type).toBe('history');
  });

  it('names stored content as zip files with real extensions and records what was not archived', () => {
    const first = v(0, { importance: 'urgent' });
    const key = `k${String(first.lastModifiedDateTime)}`;
    const sha = 'a'.repeat(64);
    const { event, files } = buildEvent(
      [first],
      opts({
        [key]: [
          {
            key,
            conversationId: 'c1',
            messageId: 'm1',
            kind: 'hostedContent',
            ref: 'h1',
            status: 'stored',
            sha256: sha,
            contentType: 'image/png',
            bytes: 10,
          },
          {
            key,
            conversationId: 'c1',
            messageId: 'm1',
            kind: 'file',
            ref: 'https://x/f',
            name: 'Budget.xlsx',
            status: 'stored',
            sha256: 'b'.repeat(64),
            contentType: 'application/octet-stream',
            bytes: 20,
          },
          { key, conversationId: 'c1', messageId: 'm1', kind: 'file', ref: 'https://x/g', name: 'gone.docx', status: 'missing' },
        ],
      }),
    );
    expect(event.attachments).toEqual([
      { id: `${sha}.png`, display: 'image-1.png', size: 10 },
      { id: `${'b'.repeat(64)}.xlsx`, display: 'Budget.xlsx', size: 20 },
    ]);
    expect(files.map((f) => f.sha256)).toEqual([sha, 'b'.repeat(64)]);
    expect(event.custom).toContainEqual({ name: 'Content not archived', value: 'gone.docx (missing)' });
    expect(event.importance).toBe('high');
  });

  it('picks extensions from the content type, then the name', () => {
    expect(extensionOf('image/jpeg', undefined)).toBe('.jpg');
    expect(extensionOf('image/gif; charset=binary', 'x.png')).toBe('.gif');
    expect(extensionOf(undefined, 'Report.PDF')).toBe('.pdf');
    expect(extensionOf('application/octet-stream', undefined)).toBe('.bin');
  });
});
