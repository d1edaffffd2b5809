// The pure parts of Copilot sessions and meeting artifacts in RSMF productions (docs/rsmf.md): an
// interaction's text and custom fields, a meetingId's chat, a WebVTT transcript's cues, and where each
// transcript is filed.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SliceSpool } from '../../src/rsmf/archive-scan';
import {
  buildCopilotEventSafely,
  cardText,
  COPILOT_PARTICIPANT,
  interactionText,
  UNRENDERABLE_INTERACTION,
} from '../../src/rsmf/copilot-events';
import { buildArtifactEvent, decodeMeetingId, transcriptLines, type MeetingArtifact } from '../../src/rsmf/meeting-artifacts';
import { fileArtifacts } from '../../src/rsmf/production';

const USER = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const OTHER = '0e1d2c3b-4a59-4687-8796-a5b4c3d2e1f0';
const CHAT = '19:meeting_NjQ1ZTc3@thread.v2';
const meetingId = (organizer: string, thread: string) => Buffer.from(`1*${organizer}*0**${thread}`, 'utf8').toString('base64');

describe('Copilot interactions as RSMF events', () => {
  const answer = {
    id: '1732700001000',
    sessionId: '19:session@thread.v2',
    requestId: 'r1',
    appClass: 'IPM.SkypeTeams.Message.Copilot.BizChat',
    interactionType: 'aiResponse',
    createdDateTime: '2026-11-27T10:00:01.000Z',
    from: { user: null, application: { id: 'app-1', displayName: 'Microsoft 365 Chat' } },
    body: { contentType: 'html', content: '<attachment id="card1"></attachment>' },
    attachments: [
      {
        attachmentId: 'card1',
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: JSON.stringify({
          type: 'AdaptiveCard',
          body: [{ type: 'TextBlock', text: 'Three follow-ups: budget, vendor, offsite.' }],
        }),
      },
      {
        attachmentId: 'm1',
        contentType: 'reference',
        contentUrl: 'https://microsoft.teams.com/threads/19:x',
        name: 'Teams Meeting Copilot',
      },
    ],
    links: [{ linkUrl: 'https://contoso.sharepoint.com/a.docx', displayName: 'a.docx', linkType: 'File' }],
    contexts: [{ contextReference: 'https://contoso.sharepoint.com/b.docx', displayName: 'b.docx', contextType: 'File' }],
    mentions: [],
  };

  it('reads an answer from its adaptive card, by "Microsoft 365 Copilot", with links, contexts and references as custom fields', () => {
    const { event, people } = buildCopilotEventSafely([answer], { conversation: answer.sessionId, ownerId: USER });
    expect(event).toMatchObject({
      id: answer.id,
      type: 'message',
      participant: COPILOT_PARTICIPANT.id,
      body: 'Three follow-ups: budget, vendor, offsite.',
    });
    expect(people).toEqual([{ id: COPILOT_PARTICIPANT.id, displayName: 'Microsoft 365 Copilot' }]);
    const custom = Object.fromEntries(event.custom.map((c) => [c.name, c.value]));
    expect(custom).toMatchObject({
      'Link 1': 'a.docx (File): https://contoso.sharepoint.com/a.docx',
      'Context 1': 'b.docx (File): https://contoso.sharepoint.com/b.docx',
      'Attachment 1': 'Teams Meeting Copilot (reference): https://microsoft.teams.com/threads/19:x',
      'Copilot app': 'Microsoft 365 Chat',
      'App class': answer.appClass,
    });
  });

  it('gives a prompt to its user, drops attachment placeholders from text bodies and ignores the `8:orgid:` name', () => {
    const prompt = {
      ...answer,
      id: '1732700000000',
      interactionType: 'userPrompt',
      from: { user: { id: USER, displayName: `8:orgid:${USER}` } },
      body: { contentType: 'text', content: 'Summarise this<attachment id="x"></attachment>' },
      attachments: [],
    };
    const { event, people } = buildCopilotEventSafely([prompt], { conversation: answer.sessionId, ownerId: USER });
    expect(event).toMatchObject({ participant: USER, body: 'Summarise this' });
    expect(people).toEqual([{ id: USER }]);
    // another version with another body is an edit
    const edited = buildCopilotEventSafely([prompt, { ...prompt, etag: '2', body: { contentType: 'text', content: 'Summarise that' } }], {
      conversation: answer.sessionId,
      ownerId: USER,
    }).event;
    expect(edited.body).toBe('Summarise that');
    expect(edited.edits).toEqual([
      { participant: USER, timestamp: prompt.createdDateTime, previous: 'Summarise this', new: 'Summarise that' },
    ]);
  });

  it('reads any shape without throwing, and renders what it cannot read as a placeholder event', () => {
    const hostile = { ...answer, body: { contentType: 'html', content: { toString: 1 } }, attachments: 'nope', links: [null, 3] };
    const { event } = buildCopilotEventSafely([hostile as never], { conversation: 's', ownerId: USER });
    expect(event).toMatchObject({ participant: COPILOT_PARTICIPANT.id, body: '' });
    expect(buildCopilotEventSafely([], { conversation: 's', ownerId: USER }).event).toMatchObject({
      participant: USER,
      body: UNRENDERABLE_INTERACTION,
    });
    expect(interactionText({ body: { contentType: 'html', content: '<p>a <b>b</b></p>' } })).toBe('a b');
    expect(cardText('{not json')).toBe('');
    expect(cardText({ type: 'AdaptiveCard', body: [{ type: 'FactSet', facts: [{ title: 'Owner', value: 'Ada' }] }] })).toBe('Owner: Ada');
  });
});

describe('meeting transcripts', () => {
  it('decodes a meetingId to its organiser and chat; anything else names no chat', () => {
    expect(decodeMeetingId(meetingId(USER, CHAT))).toEqual({ organizerId: USER, threadId: CHAT });
    expect(decodeMeetingId(Buffer.from('hello').toString('base64'))).toBeUndefined();
    expect(decodeMeetingId('not base64 at all!')).toBeUndefined();
  });

  it('reads the cues of a WebVTT transcript: time, speaker, text', () => {
    const vtt =
      'WEBVTT\r\n\r\nNOTE a note\r\n\r\n1\r\n00:00:01.000 --> 00:00:04.500 align:start\r\n<v Ada Lovelace>Hello &amp; welcome</v>\r\n\r\n00:01:02.250 --> 00:01:03.000\r\nno speaker <b>here</b>\r\n';
    expect(transcriptLines(vtt)).toEqual(['[00:00:01] Ada Lovelace: Hello & welcome', '[00:01:02] no speaker here']);
  });

  it('files a transcript under its meeting chat and day, creating the chat-day only for what the production covers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'te-file-artifacts-'));
    const day = '2026-11-27';
    const artifact = (organizerId: string, overrides: Partial<MeetingArtifact> = {}): MeetingArtifact => ({
      kind: 'transcript',
      id: `t-${organizerId}`,
      meetingId: meetingId(organizerId, CHAT),
      organizerId,
      threadId: CHAT,
      createdMs: Date.parse(`${day}T10:00:00Z`),
      content: { status: 'stored', sha256: 'a'.repeat(64), bytes: 10 },
      sources: ['meetings/users/x/2026/11/27/b.jsonl.gz'],
      ...overrides,
    });
    // the chat-day has messages: the transcript joins it, and its organiser becomes a custodian when covered
    const existing: SliceSpool = {
      conversationId: CHAT,
      conversationKind: 'chat',
      day,
      file: join(dir, 'x'),
      custodians: new Set([OTHER]),
      sources: new Set(),
    };
    const slices = new Map([[`${CHAT}\u0000${day}`, existing]]);
    fileArtifacts(slices, [artifact(USER)], { owners: new Set([OTHER]), dir });
    expect(existing.artifacts?.map((a) => a.id)).toEqual([`t-${USER}`]);
    expect([...existing.custodians]).toEqual([OTHER]);
    expect([...existing.sources]).toEqual(['meetings/users/x/2026/11/27/b.jsonl.gz']);
    // no message that day: a chat-day of its own when the organiser is covered (or everyone is) …
    const none = new Map<string, SliceSpool>();
    fileArtifacts(none, [artifact(USER)], { owners: new Set([OTHER]), dir });
    expect(none.size).toBe(0);
    fileArtifacts(none, [artifact(USER)], { owners: new Set([USER]), dir });
    const created = none.get(`${CHAT}\u0000${day}`)!;
    expect(created).toMatchObject({ conversationId: CHAT, conversationKind: 'chat', day });
    expect([...created.custodians]).toEqual([USER]);
    expect(readFileSync(created.file, 'utf8')).toBe('');
    // … or the chat is named; a chat not named is left out
    const named = new Map<string, SliceSpool>();
    fileArtifacts(named, [artifact(USER)], { owners: new Set([OTHER]), conversations: new Set([CHAT]), dir });
    expect(named.size).toBe(1);
    const other = new Map<string, SliceSpool>();
    fileArtifacts(other, [artifact(USER)], { owners: undefined, conversations: new Set(['19:other@thread.v2']), dir });
    expect(other.size).toBe(0);
    // a meeting whose id names no chat: a conversation of its own under its organiser
    const chatless = new Map<string, SliceSpool>();
    const noChat = artifact(USER, { meetingId: 'bm8=' });
    delete noChat.threadId;
    fileArtifacts(chatless, [noChat], { owners: undefined, dir });
    expect([...chatless.values()][0]).toMatchObject({ conversationId: 'bm8=', conversationKind: 'meeting', ownerId: USER });
  });

  it('says why a transcript is not attached when its content was not stored', () => {
    const a: MeetingArtifact = {
      kind: 'transcript',
      id: 't1',
      meetingId: meetingId(USER, CHAT),
      organizerId: USER,
      threadId: CHAT,
      createdMs: Date.parse('2026-11-27T10:00:00Z'),
      content: { status: 'too-large', reason: 'larger than the size cap' },
      sources: [],
    };
    const { event, files } = buildArtifactEvent(a, { conversation: CHAT });
    expect(files).toEqual([]);
    expect(event.attachments).toBeUndefined();
    expect(event.body).toContain('not archived: too-large: larger than the size cap');
    const withoutMap = { ...a };
    delete withoutMap.content;
    const noMap = buildArtifactEvent(withoutMap, { conversation: CHAT }).event;
    expect(noMap.custom.find((c) => c.name === 'Content not archived')?.value).toMatch(/no content map entry/);
  });
});
