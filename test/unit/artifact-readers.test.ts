// The readers of Copilot interactions and meeting artifacts (src/archive/artifact-archive.ts) and how the
// viewer renders them (src/viewer/artifact-html.ts): sessions grouped and ordered, artifacts matched to
// their content entries and meeting chats, meeting ids decoded, and hostile values inert on the page.
import { describe, expect, it } from 'vitest';
import type { ArchivedLine, ContentMapEntry } from '../../src/archive/archive-browser';
import { copilotSessionsOf, decodeMeetingId, meetingArtifactsOf } from '../../src/archive/artifact-archive';
import { NO_NAMES, namesFromSnapshot } from '../../src/archive/viewer-names';
import { appName, cardText, copilotSessionHtml, cueClock, meetingsHtml, safeHref } from '../../src/viewer/artifact-html';
import { serverLinks } from '../../src/viewer/links';
import { sanitizeBody } from '../../src/viewer/sanitize';

const day = '2026-01-15';
let lineNo = 0;
const line = (item: unknown, blob = 'copilot/users/u1/2026/01/15/fresh_a.jsonl.gz'): { line: ArchivedLine; day: string } => ({
  line: { blob, lineNo: ++lineNo, text: typeof item === 'string' ? item : JSON.stringify(item) },
  day,
});

const user = { user: { id: 'u1', displayName: '8:orgid:u1' }, application: null, device: null };
const copilot = { user: null, device: null, application: { id: 'fb8d', displayName: 'Microsoft 365 Chat' } };
function interaction(id: string, sessionId: string, type: 'userPrompt' | 'aiResponse', at: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    sessionId,
    requestId: `r-${id}`,
    appClass: 'IPM.SkypeTeams.Message.Copilot.BizChat',
    interactionType: type,
    conversationType: 'bizchat',
    etag: id,
    createdDateTime: at,
    locale: 'en-us',
    from: type === 'userPrompt' ? user : copilot,
    body: { contentType: 'text', content: `${type} ${id}` },
    attachments: [],
    links: [],
    mentions: [],
    contexts: [],
    ...extra,
  };
}

describe('copilotSessionsOf', () => {
  it('groups by sessionId in createdDateTime order, prompt before its answer, each interaction once', () => {
    const lines = [
      line(interaction('4', 'S2', 'aiResponse', '2026-01-15T09:00:02Z')),
      line(interaction('2', 'S1', 'aiResponse', '2026-01-15T08:00:00Z')),
      line(interaction('1', 'S1', 'userPrompt', '2026-01-15T08:00:00Z')),
      line(interaction('3', 'S2', 'userPrompt', '2026-01-15T09:00:00Z')),
      line(interaction('5', 'S1', 'userPrompt', '2026-01-15T10:00:00Z')),
      // the same interaction in a later batch, and a second version of another
      line(interaction('1', 'S1', 'userPrompt', '2026-01-15T08:00:00Z'), 'copilot/users/u1/2026/01/15/settle_b.jsonl.gz'),
      line(
        { ...interaction('5', 'S1', 'userPrompt', '2026-01-15T10:00:00Z'), etag: '5b' },
        'copilot/users/u1/2026/01/15/settle_b.jsonl.gz',
      ),
      // not interactions: skipped
      line('not json'),
      line('[1,2]'),
      line({ id: 7 }),
      line({ id: '8', sessionId: '' }),
    ];
    const sessions = copilotSessionsOf(lines);
    expect(sessions.map((s) => [s.sessionId, s.interactions.map((i) => i.id)])).toEqual([
      ['S1', ['1', '2', '5']],
      ['S2', ['3', '4']],
    ]);
    expect(sessions[0]!.appClass).toBe('IPM.SkypeTeams.Message.Copilot.BizChat');
    expect(sessions[0]!.interactions.map((i) => i.versions)).toEqual([1, 1, 2]);
    expect(sessions[0]!.interactions[2]!.item.etag).toBe('5b');
    expect(sessions[0]!.days).toEqual([day]);
  });
});

describe('decodeMeetingId', () => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  it("decodes Graph's onlineMeeting id to its organiser and meeting chat", () => {
    expect(decodeMeetingId(b64('1*o-1*0**19:meeting_abc@thread.v2'))).toEqual({ organizerId: 'o-1', threadId: '19:meeting_abc@thread.v2' });
    // without padding, as ids are often written
    expect(decodeMeetingId(b64('1*o-1*0**19:meeting_abcd@thread.v2').replace(/=+$/, ''))).toEqual({
      organizerId: 'o-1',
      threadId: '19:meeting_abcd@thread.v2',
    });
  });
  it('answers undefined for anything else, never throws', () => {
    for (const id of [
      undefined,
      42,
      '',
      'not base64!',
      b64('2*o*0**19:x'),
      b64('1*o*0**not-a-chat'),
      b64('1**0**19:x'),
      b64('1*o*0**19:x*y'),
      b64('1*o*0**19:x\nmore'),
      Buffer.from([0x31, 0x2a, 0xff, 0xfe]).toString('base64'),
      'A'.repeat(5000),
    ])
      expect(decodeMeetingId(id), String(id).slice(0, 30)).toBeUndefined();
  });
});

const meetingId = Buffer.from('1*o1*0**19:meeting_abc@thread.v2').toString('base64');
const transcriptItem = {
  '@odata.type': '#microsoft.graph.callTranscript',
  id: 'T1',
  meetingId,
  callId: 'c',
  contentCorrelationId: 'k1',
  createdDateTime: '2026-01-15T10:00:05Z',
  endDateTime: '2026-01-15T10:30:00Z',
  transcriptContentUrl: 'https://graph/…/content',
  meetingOrganizer: { user: { id: 'o1' } },
};
const recordingItem = {
  ...transcriptItem,
  '@odata.type': '#microsoft.graph.callRecording',
  id: 'R1',
  createdDateTime: '2026-01-15T10:00:00Z',
  transcriptContentUrl: undefined,
  recordingContentUrl: 'https://graph/…/content',
};
const sha = (c: string) => c.repeat(64);
const entry = (messageId: string, kind: string, extra: Partial<ContentMapEntry> = {}): ContentMapEntry =>
  ({
    key: 'k',
    conversationId: meetingId,
    messageId,
    kind,
    ref: 'content',
    status: 'stored',
    sha256: sha('a'),
    bytes: 10,
    ...extra,
  }) as ContentMapEntry;

describe('meetingArtifactsOf', () => {
  it('reads transcripts and recordings with their content entries and meeting chat, oldest first', () => {
    const artifacts = meetingArtifactsOf(
      'o1',
      [line(transcriptItem, 'meetings/x.jsonl.gz'), line(recordingItem, 'meetings/x.jsonl.gz'), line(transcriptItem), line('{"id":"x"}')],
      [
        entry('T1', 'transcript'),
        entry('T1', 'transcriptMetadata', { sha256: sha('b') }),
        entry('R1', 'recording'),
        entry('T1', 'transcript', { conversationId: 'other' }),
      ],
    );
    expect(artifacts.map((a) => [a.kind, a.id, a.chatId, a.content.map((e) => e.kind)])).toEqual([
      ['recording', 'R1', '19:meeting_abc@thread.v2', ['recording']],
      ['transcript', 'T1', '19:meeting_abc@thread.v2', ['transcript', 'transcriptMetadata']],
    ]);
    expect(artifacts[1]!.correlationId).toBe('k1');
  });
});

describe('rendering', () => {
  const links = serverLinks('/');
  const ctx = { names: NO_NAMES, links };
  const hostile = '<p>Hi <script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a> <at id="0">Ada</at></p>';

  it('sanitizes an HTML prompt exactly as a message body, and links only to http(s)', () => {
    const [session] = copilotSessionsOf([
      line(
        interaction('1', 'S1', 'userPrompt', '2026-01-15T08:00:00Z', {
          body: { contentType: 'html', content: hostile },
          links: [
            { linkUrl: 'javascript:alert(4)', displayName: '<b>evil</b>', linkType: 'File' },
            { linkUrl: 'https://contoso.sharepoint.com/a.docx?web=1', displayName: 'Quarterly report.docx', linkType: 'File' },
          ],
          contexts: [{ contextReference: 'data:text/html,<script>alert(5)</script>', displayName: 'ctx"><script>', contextType: 'File' }],
          mentions: [{ mentionId: 0, mentionText: 'Ada', mentioned: { user: { id: 'u2', displayName: '<i>Ada</i>' } } }],
          attachments: [{ contentType: 'reference', contentUrl: 'vbscript:msgbox', name: 'x<y' }],
        }),
      ),
    ]);
    const html = copilotSessionHtml(ctx, 'u1', session!);
    expect(html).toContain(`<div class="body">${sanitizeBody(hostile, () => undefined)}</div>`);
    expect(html).not.toMatch(/<script|onerror|javascript:|vbscript:|data:text|<b>evil|<i>Ada/i);
    expect(html).toContain(
      '<a href="https://contoso.sharepoint.com/a.docx?web=1" rel="noopener noreferrer nofollow">Quarterly report.docx</a>',
    );
    expect(html).toContain('&#60;b&#62;evil&#60;/b&#62;');
    expect(html).toContain('<span class="mention">&#60;i&#62;Ada&#60;/i&#62;</span>');
  });

  it("shows an answer's adaptive card text, from the app or Microsoft 365 Copilot, without Graph's attachment marks", () => {
    const card = JSON.stringify({
      type: 'AdaptiveCard',
      body: [
        { type: 'TextBlock', text: 'Three <things> to do' },
        { type: 'FactSet', facts: [{ title: 'Owner', value: 'Ada' }] },
      ],
    });
    const [session] = copilotSessionsOf([
      line(
        interaction('2', 'S1', 'aiResponse', '2026-01-15T08:00:01Z', {
          body: { contentType: 'text', content: 'Done<attachment id="c1"></attachment>' },
          attachments: [{ attachmentId: 'c1', contentType: 'application/vnd.microsoft.card.adaptive', content: card }],
        }),
      ),
      line(interaction('3', 'S1', 'aiResponse', '2026-01-15T08:00:02Z', { from: { user: null, application: null } })),
    ]);
    const html = copilotSessionHtml(ctx, 'u1', session!);
    expect(html).toContain('<span class="sender">Microsoft 365 Chat</span>');
    expect(html).toContain('<span class="sender">Microsoft 365 Copilot</span>');
    expect(html).toContain('Three &#60;things&#62; to do<br>Owner: Ada');
    expect(html).toContain('<div class="body">Done</div>');
    expect(html).not.toContain('attachment id');
    expect(cardText('{"type":"TextBlock","text":1}')).toBeUndefined();
    expect(cardText('not json')).toBeUndefined();
    expect(
      cardText(JSON.stringify({ body: Array.from({ length: 5_000 }, () => ({ type: 'TextBlock', text: 'x' })) }))?.length,
    ).toBeLessThan(2 * 2_000);
  });

  it('names apps, keeps only http(s)/mailto links, and prints cue clocks', () => {
    expect(appName('IPM.SkypeTeams.Message.Copilot.Word')).toBe('Copilot in Word');
    expect(appName('IPM.SkypeTeams.Message.Copilot.BizChat')).toBe('Microsoft 365 Chat');
    expect(appName(undefined)).toBe('Copilot');
    expect(safeHref(' javascript:alert(1)')).toBeUndefined();
    expect(safeHref('https://a.example/x y')).toBe('https://a.example/x%20y');
    expect(cueClock(3_723_456)).toBe('01:02:03');
  });

  it('shows a transcript with escaped speakers and a recording download through the content route', () => {
    const [recording, transcript] = meetingArtifactsOf(
      'o1',
      [line(transcriptItem), line(recordingItem)],
      [entry('T1', 'transcript'), entry('R1', 'recording', { sha256: sha('c'), bytes: 1234567 })],
    );
    const html = meetingsHtml(
      { names: namesFromSnapshot({ users: [{ id: 'o1', displayName: 'Omar <Organiser>' }] }), links },
      {
        artifacts: [recording!, transcript!],
        transcripts: new Map([
          [
            'T1',
            {
              cues: [{ startMs: 61_000, endMs: 62_000, speaker: '<img src=x onerror=alert(1)>', text: 'a <b>b</b>' }],
              skipped: 0,
              truncated: false,
              fromMetadata: false,
              cut: false,
            },
          ],
        ]),
      },
    );
    expect(html).toContain('<span class="cue-time" title="2026-01-15T10:01:06.000Z">00:01:01</span>');
    expect(html).toContain('<span class="speaker">&#60;img src=x onerror=alert(1)&#62;</span>');
    expect(html).not.toMatch(/<img|<b>/);
    expect(html).toContain(`href="/content/${sha('c')}?name=recording-20260115-1000.mp4" download class="recording-download"`);
    expect(html).toContain('1,234,567 bytes');
    expect(html).toContain('organised by Omar &#60;Organiser&#62;');
  });
});
