import { describe, expect, it } from 'vitest';
import { parseMessage, versionKeyFromLine } from '../../src/graph/message-schema';

const chatMessage = {
  '@odata.type': '#microsoft.graph.chatMessage',
  id: '1621973534864',
  replyToId: null,
  etag: '1621973534999',
  messageType: 'message',
  createdDateTime: '2021-05-25T20:12:14.864Z',
  lastModifiedDateTime: '2021-05-25T20:12:14.24Z',
  chatId: '19:abc@thread.v2',
  channelIdentity: null,
  from: { user: { id: 'u1', displayName: null, userIdentityType: 'aadUser', tenantId: 't' }, conversation: { x: 1 } },
  body: { contentType: 'html', content: '<p>secret words</p>' },
  attachments: [],
  someFutureProperty: { nested: [1, 2, 3] },
};

const channelMessage = {
  id: '1700000000000',
  etag: '1700000000000',
  createdDateTime: '2023-11-14T22:13:20.000Z',
  lastModifiedDateTime: '2023-11-14T22:13:20.1234567Z',
  chatId: null,
  channelIdentity: { teamId: 'team-1', channelId: '19:chan@thread.tacv2' },
  body: { contentType: 'text', content: 'hi' },
};

function expectOk(raw: unknown) {
  const result = parseMessage(raw);
  if (!result.ok) throw new Error(`expected ok, got ${result.reason}`);
  return result.version;
}

function expectReason(raw: unknown): string {
  const result = parseMessage(raw);
  if (result.ok) throw new Error('expected a failure');
  return result.reason;
}

describe('parseMessage', () => {
  it('a chat message is keyed by chatId, id, lastModified and etag, and bucketed by lastModified', () => {
    const v = expectOk(chatMessage);
    expect(v.conversationId).toBe('19:abc@thread.v2');
    expect(v.messageId).toBe('1621973534864');
    expect(v.lastModifiedMs).toBe(Date.parse('2021-05-25T20:12:14.240Z'));
    expect(v.bucketMs).toBe(v.lastModifiedMs);
    expect(v.key).toBe(`19:abc@thread.v2|1621973534864|${Date.parse('2021-05-25T20:12:14.240Z')}|1621973534999`);
  });

  it('keeps every property, unknown ones included, exactly as received', () => {
    const v = expectOk(chatMessage);
    expect(JSON.parse(v.line)).toEqual(chatMessage);
    expect(v.line).toBe(JSON.stringify(chatMessage));
  });

  it('a channel message is keyed by its channelId; 7 fraction digits parse', () => {
    const v = expectOk(channelMessage);
    expect(v.conversationId).toBe('19:chan@thread.tacv2');
    expect(v.lastModifiedMs).toBe(Date.parse('2023-11-14T22:13:20.123Z'));
  });

  it('a null lastModifiedDateTime is bucketed by createdDateTime and keyed with "null"', () => {
    const v = expectOk({ ...channelMessage, lastModifiedDateTime: null, etag: null });
    expect(v.lastModifiedMs).toBeNull();
    expect(v.bucketMs).toBe(Date.parse('2023-11-14T22:13:20.000Z'));
    expect(v.key).toBe('19:chan@thread.tacv2|1700000000000|null|');
  });

  it('the same message at two lastModified times gives two keys', () => {
    const edited = { ...chatMessage, lastModifiedDateTime: '2021-05-26T08:00:00Z', etag: '1622016000000' };
    expect(expectOk(edited).key).not.toBe(expectOk(chatMessage).key);
  });

  it.each([
    ['not an object', 'x', 'not a JSON object'],
    ['an array', [chatMessage], 'not a JSON object'],
    ['no id', { ...chatMessage, id: undefined }, 'id'],
    ['an empty id', { ...chatMessage, id: '' }, 'id'],
    ['a numeric id', { ...chatMessage, id: 5 }, 'id'],
    ['a malformed lastModifiedDateTime', { ...chatMessage, lastModifiedDateTime: '2021-03-1706:47:05.123Z' }, 'lastModifiedDateTime'],
    ['a lastModifiedDateTime without zone', { ...chatMessage, lastModifiedDateTime: '2021-03-17T06:47:05' }, 'lastModifiedDateTime'],
    ['no conversation id', { ...chatMessage, chatId: null, channelIdentity: null }, 'chatId'],
    [
      'a channelIdentity without channelId',
      { ...chatMessage, chatId: null, channelIdentity: { teamId: 't' } },
      'channelIdentity.channelId',
    ],
    [
      'null lastModified and no createdDateTime',
      { ...chatMessage, lastModifiedDateTime: null, createdDateTime: undefined },
      'createdDateTime',
    ],
    ['a numeric etag', { ...chatMessage, etag: 7 }, 'etag'],
  ])('rejects %s, naming the field but not the content', (_name, raw, field) => {
    const reason = expectReason(raw);
    expect(reason).toContain(field);
    expect(reason).not.toContain('secret words');
  });
});

describe('versionKeyFromLine', () => {
  it.each([
    ['chat', chatMessage],
    ['channel', channelMessage],
    ['null lastModified', { ...channelMessage, lastModifiedDateTime: null }],
    ['no etag', { ...chatMessage, etag: undefined }],
  ])('recomputes the key parseMessage gave a %s message', (_name, raw) => {
    const v = expectOk(raw);
    expect(versionKeyFromLine(v.line)).toBe(v.key);
  });

  it('returns undefined for a line that is not a valid message', () => {
    expect(versionKeyFromLine('{"id":')).toBeUndefined();
    expect(versionKeyFromLine(JSON.stringify({ id: 'x' }))).toBeUndefined();
  });
});
