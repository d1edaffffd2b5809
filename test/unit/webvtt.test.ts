// The WebVTT reader of archived meeting transcripts (src/archive/webvtt.ts): the emulator's transcripts
// (Teams' shape: cue ids, `<v Speaker>` voices) and their metadata content, then hostile input: it never
// throws, skips what it cannot read, and does bounded work.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transcriptMetadata, transcriptVtt, type ArtifactRec } from '../../emulator/meeting-store';
import { cueText, parseTranscriptMetadata, parseWebVtt } from '../../src/archive/webvtt';

const meeting = { id: 'm1', organizerId: 'o1', chatId: '19:meeting_x@thread.v2', subject: 'Sync', joinWebUrl: 'https://x', createdMs: 0 };
const transcript: ArtifactRec = {
  kind: 'transcript',
  id: 'tr-1',
  meeting,
  callId: 'c1',
  correlationId: 'k1',
  createdMs: Date.parse('2026-01-15T10:00:00Z'),
  endMs: Date.parse('2026-01-15T10:30:00Z'),
  lines: [
    { speaker: 'Zoë Müller', text: 'Good morning, everyone. Let us start with the release.' },
    { speaker: 'Omar Haddad', text: 'مرحبا، سأشارك الشاشة الآن' },
    { speaker: 'Zoë Müller', text: 'Thanks all, talk soon 👋' },
  ],
  size: 0,
  addedAtMs: -Infinity,
  addSeq: 1,
};

describe('parseWebVtt', () => {
  it("reads the emulator's Teams transcript: every cue with its speaker, text and times", () => {
    const vtt = transcriptVtt(transcript).toString('utf8');
    const { cues, skipped, truncated } = parseWebVtt(vtt);
    expect({ skipped, truncated }).toEqual({ skipped: 0, truncated: false });
    expect(cues.map((c) => [c.speaker, c.text])).toEqual(transcript.lines.map((l) => [l.speaker, l.text]));
    for (const c of cues) expect(c.endMs).toBeGreaterThan(c.startMs);
    expect(cues[0]!.startMs).toBeGreaterThanOrEqual(1000);
    // The same times as the document says.
    const first = /(\d{2}):(\d{2}):(\d{2})\.(\d{3}) -->/.exec(vtt)!;
    expect(cues[0]!.startMs).toBe(((Number(first[1]) * 60 + Number(first[2])) * 60 + Number(first[3])) * 1000 + Number(first[4]));
    // Without speaker attribution: the text, no speaker.
    expect(parseWebVtt(transcriptVtt(transcript, false).toString('utf8')).cues.map((c) => c.speaker)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('reads the metadata content: speaker, text and the absolute start of each cue', () => {
    const { cues } = parseTranscriptMetadata(transcriptMetadata(transcript).toString('utf8'));
    expect(cues.map((c) => [c.speaker, c.text, c.spokenLanguage])).toEqual(transcript.lines.map((l) => [l.speaker, l.text, 'en-us']));
    expect(Date.parse(cues[0]!.startDateTime!)).toBe(transcript.createdMs + cues[0]!.startMs);
    // A payload that is not JSON keeps its text.
    expect(parseTranscriptMetadata('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nnot json\n').cues[0]).toMatchObject({ text: 'not json' });
  });

  it('accepts what real files do: no header, CRLF and CR, a BOM, mm:ss times, settings, NOTE/STYLE/REGION blocks, classes, entities', () => {
    const vtt = [
      '\ufeffWEBVTT - a title',
      'Kind: captions',
      '',
      'NOTE this --> is a comment, not a cue',
      '',
      'STYLE',
      '::cue { color: red }',
      '',
      'REGION',
      'id:r1',
      '',
      '01:02.500 --> 01:04.000 align:start line:0',
      '<v.loud Ada Lovelace>Hello <b>there</b> &amp; &lt;welcome&gt;&nbsp;&#x1F44B;',
      'second line',
      '',
      'cue-7',
      '1:00:00.000 --> 1:00:01,5 position:10%',
      '<c.yellow>no voice</c> <00:00:01.000>karaoke',
    ].join('\r\n');
    const { cues, skipped } = parseWebVtt(vtt.replace('second line', 'second line\r'));
    expect(skipped).toBe(0);
    expect(cues).toEqual([
      { startMs: 62_500, endMs: 64_000, speaker: 'Ada Lovelace', text: 'Hello there & <welcome>\u00a0👋\nsecond line' },
      { startMs: 3_600_000, endMs: 3_601_500, speaker: undefined, text: 'no voice karaoke' },
    ]);
    expect(parseWebVtt('00:00:01.000 --> 00:00:02.000\n<v Bo>hi</v>').cues).toEqual([
      { startMs: 1000, endMs: 2000, speaker: 'Bo', text: 'hi' },
    ]);
  });

  it('skips cues it cannot read and keeps the rest: bad times, end before start, stray blocks', () => {
    const vtt = [
      'WEBVTT',
      '',
      '00:99:00.000 --> 00:00:01.000',
      '<v A>bad minutes',
      '',
      'xx:00:01.000 --> 00:00:02.000',
      'bad digits',
      '',
      'a stray line without timing',
      '',
      '00:00:05.000 --> 00:00:03.000',
      '<v B>ends before it starts',
      '',
      '00:00:06.000 -->',
      'no end',
      '',
      '00:00:07.000 --> 00:00:08.000',
      '',
    ].join('\n');
    const { cues, skipped } = parseWebVtt(vtt);
    expect(skipped).toBe(3);
    expect(cues).toEqual([
      { startMs: 5000, endMs: 5000, speaker: 'B', text: 'ends before it starts' },
      { startMs: 7000, endMs: 8000, speaker: undefined, text: '' },
    ]);
  });

  it('keeps hostile markup as text for the page to escape, and decodes no dangerous reference', () => {
    const { speaker, text } = cueText(
      '<v <script>alert(1)</script>>x</v><img src=x onerror=alert(1)> &#0; &#xD800; &#99999999; &bogus; <v',
    );
    // The voice annotation is taken up to the first '>': whatever it holds is a name the page escapes.
    expect(speaker).toBe('<script');
    expect(text).toBe('alert(1)>x \ufffd \ufffd &#99999999; &bogus; <v');
    expect(cueText('<v Alice').text).toBe('<v Alice');
  });

  it('never throws, whatever the input', () => {
    const vttish = fc.array(
      fc.oneof(
        fc.constantFrom(
          'WEBVTT',
          '',
          '-->',
          '00:00:01.000 --> 00:00:02.000',
          '<v ',
          '</v>',
          '>',
          '<',
          '&amp;',
          '&#',
          'NOTE',
          '\r',
          '\ufeff',
        ),
        fc.string(),
        fc.string({ unit: 'binary' }),
      ),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(vttish, fc.constantFrom('\n', '\r\n', '\r', ''), (parts, sep) => {
        const r = parseWebVtt(parts.join(sep));
        for (const c of r.cues) {
          expect(Number.isSafeInteger(c.startMs) && c.endMs >= c.startMs).toBe(true);
          expect(typeof c.text).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
    expect(parseWebVtt(undefined as unknown as string)).toEqual({ cues: [], skipped: 0, truncated: false });
  });

  it('does bounded work: caps the input, the cues and each cue, and stays linear on pathological text', () => {
    const many = `WEBVTT\n\n${'00:00:01.000 --> 00:00:02.000\n<v A>x\n\n'.repeat(1000)}`;
    const capped = parseWebVtt(many, { maxCues: 10 });
    expect(capped.cues).toHaveLength(10);
    expect(capped.truncated).toBe(true);
    const cut = parseWebVtt(many, { maxChars: 100 });
    expect(cut.truncated).toBe(true);
    expect(cut.cues.length).toBeLessThanOrEqual(3);
    const long = parseWebVtt(`00:00:01.000 --> 00:00:02.000\n<v A>${'y'.repeat(50_000)}`, { maxCueChars: 100 });
    expect(long.cues[0]!.text).toHaveLength(100);
    // Each of these is quadratic for a naive reader (a '<' that never closes, '&' runs, a million
    // lines, spaces before a newline, a huge timing line): 2 MB each, read in well under a second each.
    const size = 2 * 1024 * 1024;
    const inputs = [
      `00:00:01.000 --> 00:00:02.000\n${'<'.repeat(size)}`,
      `00:00:01.000 --> 00:00:02.000\n${'<v '.repeat(size / 3)}`,
      `00:00:01.000 --> 00:00:02.000\n${'&#1'.repeat(size / 3)}`,
      `00:00:01.000 --> 00:00:02.000\n${' '.repeat(size)}x`,
      `${'0'.repeat(size)}:00:01.000 --> 00:00:02.000\nx`,
      '00:00:01.000 --> 00:00:02.000\n' + 'a\n'.repeat(size / 2),
      '-->\n\n'.repeat(size / 5),
    ];
    for (const input of inputs) {
      const t = performance.now();
      parseWebVtt(input);
      // Generous for a loaded 2-core machine; a quadratic reader takes minutes here.
      expect(performance.now() - t, input.slice(0, 40)).toBeLessThan(5_000);
    }
  });
});
