// A small, tolerant WebVTT reader for archived meeting transcripts (docs/viewer.md, "Meeting transcripts
// and recordings"): cues with their times, speaker (`<v Speaker Name>`) and text. The bytes come from
// the archive, where anyone with write access could have put anything, so the reader never throws, skips
// what it cannot read, and does work linear in the input, with the input, the number of cues and each
// cue's text capped.

export interface VttCue {
  /** Offset from the start of the recording or transcript, in ms. */
  startMs: number;
  endMs: number;
  /** The first voice (`<v Name>`) of the cue, if it names one. */
  speaker: string | undefined;
  /** The cue's text without markup, entities decoded, lines joined with '\n'. */
  text: string;
}

export interface VttParse {
  cues: VttCue[];
  /** Blocks with a timing line that could not be read (bad times), or cues beyond the cap. */
  skipped: number;
  /** The input or the cue count reached its cap: what follows was not read. */
  truncated: boolean;
}

export interface VttLimits {
  /** Characters of input read (default 16 Mi). */
  maxChars?: number;
  /** Cues kept (default 100,000). */
  maxCues?: number;
  /** Characters of one cue's text kept (default 10,000). */
  maxCueChars?: number;
}

const DEFAULTS = { maxChars: 16 * 1024 * 1024, maxCues: 100_000, maxCueChars: 10_000 };

// Bounded quantifiers and an anchor: constant work per line, whatever its length.
const TIMING =
  /^[ \t]*(?:(\d{1,9}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})[ \t]+-->[ \t]+(?:(\d{1,9}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})(?:[ \t]|$)/;

function ms(h: string | undefined, m: string, s: string, frac: string): number | undefined {
  const minutes = Number(m);
  const seconds = Number(s);
  if (minutes > 59 || seconds > 59) return undefined;
  const total = (Number(h ?? '0') * 3600 + minutes * 60 + seconds) * 1000 + Number(frac.padEnd(3, '0'));
  return Number.isSafeInteger(total) ? total : undefined;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', lrm: '\u200e', rlm: '\u200f' };

/** Decodes the character references WebVTT text may hold; anything else stays as written. */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,6});/g, (all, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      // No NUL, no lone surrogates, nothing outside Unicode.
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
    }
    return NAMED[ref] ?? all;
  });
}

/**
 * The text and first voice of a cue payload: tags dropped (`<v Name>`, `</v>`, `<b>`, `<c.x>`, timestamps),
 * text kept. Each '<' is matched with the next '>' once, and the scan then moves past it: linear time.
 */
export function cueText(payload: string, maxChars = DEFAULTS.maxCueChars): { speaker: string | undefined; text: string } {
  let speaker: string | undefined;
  let out = '';
  let at = 0;
  while (at < payload.length && out.length < maxChars) {
    const lt = payload.indexOf('<', at);
    if (lt === -1) {
      out += payload.slice(at);
      break;
    }
    out += payload.slice(at, lt);
    const gt = payload.indexOf('>', lt + 1);
    // A '<' that opens no tag: the rest is text (and no later '<' can close one either).
    if (gt === -1) {
      out += payload.slice(lt);
      break;
    }
    const tag = payload.slice(lt + 1, Math.min(gt, lt + 1 + 512));
    // `<v Name>` or `<v.class Name>`: the annotation is the speaker.
    const voice = /^v(?:\.[^\s>]*)?[ \t]+([^\n]*)$/.exec(tag);
    if (voice && speaker === undefined) {
      const name = decodeEntities((voice[1] as string).trim()).slice(0, 200);
      if (name.length > 0) speaker = name;
    }
    at = gt + 1;
  }
  const text = decodeEntities(out.length > maxChars ? out.slice(0, maxChars) : out)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
  return { speaker, text };
}

/**
 * Reads the cues of a WebVTT document. Tolerant: no `WEBVTT` header is required; NOTE, STYLE and REGION
 * blocks, cue ids and cue settings are skipped; CRLF and CR line ends and a BOM are accepted; a cue
 * whose times cannot be read is counted in `skipped`. Never throws.
 */
export function parseWebVtt(input: string, limits: VttLimits = {}): VttParse {
  const maxChars = limits.maxChars ?? DEFAULTS.maxChars;
  const maxCues = limits.maxCues ?? DEFAULTS.maxCues;
  const maxCueChars = limits.maxCueChars ?? DEFAULTS.maxCueChars;
  const cues: VttCue[] = [];
  let skipped = 0;
  let truncated = false;
  if (typeof input !== 'string') return { cues, skipped, truncated };
  let text = input;
  if (text.length > maxChars) {
    text = text.slice(0, maxChars);
    truncated = true;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\r|\n/);
  let i = 0;
  while (i < lines.length) {
    // One block: the lines up to the next blank line.
    while (i < lines.length && (lines[i] as string).trim() === '') i++;
    const start = i;
    while (i < lines.length && (lines[i] as string).trim() !== '') i++;
    if (start === i) break;
    if (/^(?:NOTE|STYLE|REGION)(?:[ \t]|$)/.test(lines[start] as string)) continue;
    // The timing line is the block's first line, or its second after a cue id.
    let timingAt = -1;
    for (let j = start; j < Math.min(i, start + 2); j++) {
      if ((lines[j] as string).includes('-->')) {
        timingAt = j;
        break;
      }
    }
    if (timingAt === -1) continue; // the header, a NOTE, STYLE or REGION block, or a stray line
    const t = TIMING.exec(lines[timingAt] as string);
    const startMs = t ? ms(t[1], t[2] as string, t[3] as string, t[4] as string) : undefined;
    const endMs = t ? ms(t[5], t[6] as string, t[7] as string, t[8] as string) : undefined;
    if (startMs === undefined || endMs === undefined) {
      skipped++;
      continue;
    }
    if (cues.length >= maxCues) {
      truncated = true;
      skipped++;
      break;
    }
    // Cap the payload before joining: a block of a million short lines is cut, not concatenated.
    let payload = '';
    for (let j = timingAt + 1; j < i && payload.length <= maxCueChars * 2; j++) payload += (payload ? '\n' : '') + (lines[j] as string);
    const { speaker, text: cueBody } = cueText(payload, maxCueChars);
    cues.push({ startMs, endMs: Math.max(startMs, endMs), speaker, text: cueBody });
  }
  return { cues, skipped, truncated };
}

export interface TranscriptMetadataCue extends VttCue {
  startDateTime: string | undefined;
  spokenLanguage: string | undefined;
}

/**
 * A transcript's `metadataContent`: WebVTT whose cue payloads are JSON
 * `{startDateTime, endDateTime, speakerName, spokenText, spokenLanguage}`. Cues whose payload is not
 * such JSON keep their text as written.
 */
export function parseTranscriptMetadata(input: string, limits: VttLimits = {}): Omit<VttParse, 'cues'> & { cues: TranscriptMetadataCue[] } {
  const parsed = parseWebVtt(input, limits);
  const str = (v: unknown, max: number) => (typeof v === 'string' && v.trim().length > 0 ? v.trim().slice(0, max) : undefined);
  const cues = parsed.cues.map((c): TranscriptMetadataCue => {
    let json: Record<string, unknown> | undefined;
    if (c.text.startsWith('{')) {
      try {
        const v: unknown = JSON.parse(c.text);
        json = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
    }
    if (!json) return { ...c, startDateTime: undefined, spokenLanguage: undefined };
    return {
      startMs: c.startMs,
      endMs: c.endMs,
      speaker: str(json.speakerName, 200) ?? c.speaker,
      text: str(json.spokenText, limits.maxCueChars ?? DEFAULTS.maxCueChars) ?? '',
      startDateTime: str(json.startDateTime, 64),
      spokenLanguage: str(json.spokenLanguage, 32),
    };
  });
  return { ...parsed, cues };
}
