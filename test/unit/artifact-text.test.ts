// `teams-export cat --text` of Copilot and meeting lines (docs/archive-format.md §12): each names its
// conversation (the Copilot session, the meeting) and who it is from, instead of "unknown conversation".
import { describe, expect, it } from 'vitest';
import { renderLineText } from '../../src/archive/render-text';
import { itemKeyFromLine, parseItem } from '../../src/graph/artifact-schema';

const prompt = {
  id: '1731949000000',
  sessionId: '19:abc@thread.v2',
  requestId: 'r1',
  appClass: 'IPM.SkypeTeams.Message.Copilot.BizChat',
  interactionType: 'userPrompt',
  etag: '1731949000000',
  createdDateTime: '2026-11-18T16:56:40.000Z',
  from: { user: { id: 'u1', displayName: 'Ada Cohen' } },
  body: { contentType: 'text', content: 'What did we decide?' },
};
const transcript = {
  '@odata.type': '#microsoft.graph.callTranscript',
  id: 't1',
  meetingId: 'MSoxMjM',
  createdDateTime: '2026-11-18T17:00:00.0000000Z',
  transcriptContentUrl: 'https://graph.microsoft.com/v1.0/users/u1/onlineMeetings/MSoxMjM/transcripts/t1/content',
  meetingOrganizer: { user: { id: 'u1', displayName: 'Ada Cohen' } },
};

describe('Copilot and meeting lines', () => {
  it('render with their session or meeting and sender', () => {
    const p = renderLineText(JSON.stringify(prompt));
    expect(p).toContain('Copilot session 19:abc@thread.v2 (IPM.SkypeTeams.Message.Copilot.BizChat) · Ada Cohen');
    expect(p).toContain('What did we decide?');
    expect(renderLineText(JSON.stringify(transcript))).toContain('meeting MSoxMjM transcript · organised by Ada Cohen');
  });

  it('have the version keys of docs/design.md §18, the same from the item and from its archived line', () => {
    const i = parseItem('copilot', prompt);
    expect(i.ok && i.version.key).toBe(`19:abc@thread.v2|1731949000000|${Date.parse(prompt.createdDateTime)}|1731949000000`);
    expect(itemKeyFromLine('copilot', JSON.stringify(prompt))).toBe(i.ok ? i.version.key : 'x');
    const t = parseItem('meetings', transcript);
    expect(t.ok && t.version.key).toBe(`MSoxMjM|t1|${Date.parse(transcript.createdDateTime)}|transcript`);
    const r = parseItem('meetings', { ...transcript, transcriptContentUrl: undefined, recordingContentUrl: 'x', '@odata.type': undefined });
    expect(r.ok && r.version.key).toBe(`MSoxMjM|t1|${Date.parse(transcript.createdDateTime)}|recording`);
  });

  it('quarantine items without the fields a key needs, naming the field, never the value', () => {
    expect(parseItem('copilot', { ...prompt, sessionId: undefined })).toEqual({ ok: false, reason: 'sessionId is missing' });
    expect(parseItem('copilot', { ...prompt, createdDateTime: 'yesterday' })).toEqual({
      ok: false,
      reason: 'createdDateTime is not an ISO-8601 instant',
    });
    expect(parseItem('meetings', { ...transcript, transcriptContentUrl: undefined, '@odata.type': undefined })).toEqual({
      ok: false,
      reason: 'neither transcriptContentUrl nor recordingContentUrl is set',
    });
    expect(parseItem('meetings', [])).toEqual({ ok: false, reason: 'item is not a JSON object' });
  });
});
