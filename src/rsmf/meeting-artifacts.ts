// Meeting transcripts and recordings in a production (docs/rsmf.md): read from the organisers' day
// batches (`meetings/users/{seg}/…`, each line a callTranscript or callRecording as Graph returned it)
// with their content maps, filed under the meeting chat their meetingId names (base64 of
// `1*{organizerId}*0**{threadId}`), and turned into events of that chat's file: a transcript with its
// stored WebVTT attached and its cues (time, speaker, text) as the body; a recording by reference
// (recordings can be gigabytes, more than a review platform takes in one file).
import type { ArchiveContainer } from '../archive/archive-container';
import { readBatchLines, readBlobBytes } from '../archive/batch-reader';
import { contentBlobName, entityPrefix } from '../archive/blob-layout';
import { textOf } from '../archive/render-text';
import { dayBatchesUnder, daysOf, eachBatch } from './archive-scan';
import type { BuiltEvent, RsmfCustom, RsmfEvent, ZipFile } from './message-events';

type Json = Record<string, unknown>;

export type ArtifactKind = 'transcript' | 'recording';

/** What a content map says of an artifact's `content` (docs/archive-format.md: the meetings' content map). */
export interface ArtifactContent {
  status: string;
  sha256?: string;
  contentType?: string;
  bytes?: number;
  reason?: string;
}

/** One archived transcript or recording, as a production needs it. */
export interface MeetingArtifact {
  kind: ArtifactKind;
  id: string;
  meetingId: string;
  /** The organiser whose folder it was read from. */
  organizerId: string;
  /** The meeting chat its meetingId names; undefined when the id does not decode to one. */
  threadId?: string;
  createdMs: number;
  endMs?: number;
  callId?: string;
  contentCorrelationId?: string;
  /** The content map's entry for its `content`; undefined when the batch has no map (yet) or no entry. */
  content?: ArtifactContent;
  /** The batch and content map it was read from. */
  sources: string[];
}

/** A meetingId's organiser and chat: Graph's onlineMeeting ids are base64 of `1*{organizerId}*0**{threadId}`. */
export function decodeMeetingId(meetingId: string): { organizerId: string; threadId: string } | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(meetingId)) return undefined;
  const text = Buffer.from(meetingId.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  const m = /^1\*([^*]+)\*0\*\*(19:[^*\s]+)$/.exec(text);
  return m ? { organizerId: m[1] as string, threadId: m[2] as string } : undefined;
}

const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function kindOf(line: Json): ArtifactKind | undefined {
  const type = textOf(line['@odata.type']);
  if (/callTranscript$/i.test(type) || (!type && str(line.transcriptContentUrl))) return 'transcript';
  if (/callRecording$/i.test(type) || (!type && str(line.recordingContentUrl))) return 'recording';
  return undefined;
}

/**
 * The transcripts and recordings created in [fromMs, toMs) in the folders of `organizers`, each version
 * once (by its version key `{meetingId}|{id}|{createdDateTime ms}|{kind}`), oldest first.
 */
export async function scanMeetingArtifacts(
  container: ArchiveContainer,
  organizers: readonly string[],
  o: { fromMs: number; toMs: number; signal?: AbortSignal; onBatch?: (name: string) => void },
): Promise<MeetingArtifact[]> {
  const { days, months } = daysOf(o.fromMs, o.toMs);
  const work = [];
  for (const organizerId of organizers)
    work.push(
      ...(await dayBatchesUnder(container, entityPrefix({ kind: 'meetings', id: organizerId }), days, months, organizerId, o.signal)),
    );
  const found = new Map<string, MeetingArtifact>();
  await eachBatch(work, async (w) => {
    const content = new Map<string, Json[]>();
    if (w.contentMap) {
      const bytes = await readBlobBytes(container, w.contentMap, o.signal);
      const map = obj(bytes ? JSON.parse(bytes.toString('utf8')) : {});
      for (const e of Array.isArray(map?.entries) ? (map.entries as unknown[]) : []) {
        const entry = obj(e);
        const key = str(entry?.key);
        if (entry && key) content.set(key, [...(content.get(key) ?? []), entry]);
      }
    }
    for await (const text of readBatchLines(container, w.batch, o.signal)) {
      const line = obj(JSON.parse(text));
      const kind = line ? kindOf(line) : undefined;
      if (!line || !kind) continue;
      const id = str(line.id);
      const meetingId = str(line.meetingId);
      const createdMs = typeof line.createdDateTime === 'string' ? Date.parse(line.createdDateTime) : NaN;
      if (!id || !meetingId || !Number.isFinite(createdMs) || createdMs < o.fromMs || createdMs >= o.toMs) continue;
      const key = `${meetingId}|${id}|${createdMs}|${kind}`;
      if (found.has(key)) continue;
      const entry = (content.get(key) ?? []).find((e) => e.kind === kind);
      const endMs = typeof line.endDateTime === 'string' ? Date.parse(line.endDateTime) : NaN;
      const decoded = decodeMeetingId(meetingId);
      found.set(key, {
        kind,
        id,
        meetingId,
        organizerId: w.custodian ?? decoded?.organizerId ?? '',
        ...(decoded ? { threadId: decoded.threadId } : {}),
        createdMs,
        ...(Number.isFinite(endMs) ? { endMs } : {}),
        ...(str(line.callId) ? { callId: line.callId as string } : {}),
        ...(str(line.contentCorrelationId) ? { contentCorrelationId: line.contentCorrelationId as string } : {}),
        ...(entry
          ? {
              content: {
                status: textOf(entry.status),
                ...(str(entry.sha256) && /^[0-9a-f]{64}$/.test(entry.sha256 as string) ? { sha256: entry.sha256 as string } : {}),
                ...(str(entry.contentType) ? { contentType: entry.contentType as string } : {}),
                ...(typeof entry.bytes === 'number' ? { bytes: entry.bytes } : {}),
                ...(str(entry.reason) ? { reason: entry.reason as string } : {}),
              },
            }
          : {}),
        sources: entry && w.contentMap ? [w.batch, w.contentMap] : [w.batch],
      });
    }
    o.onBatch?.(w.batch);
  });
  return [...found.values()].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', lrm: '', rlm: '' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * The cues of a WebVTT transcript as lines `[hh:mm:ss] Speaker: text` (the speaker from a `<v Name>`
 * voice span; no speaker when the transcript is not attributed). Just enough WebVTT for Teams transcripts:
 * the header, notes and styles are skipped, and so are cue settings and any other markup.
 */
export function transcriptLines(vtt: string): string[] {
  const out: string[] = [];
  for (const block of vtt
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)) {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0) continue;
    const start = (lines[at] as string)
      .split('-->')[0]!
      .trim()
      .replace(/\.\d+$/, '');
    const payload = lines.slice(at + 1).join(' ');
    const voice = /<v(?:\.[^\s>]*)?\s+([^>]*)>/.exec(payload);
    const text = decodeEntities(payload.replace(/<[^>]*>/g, ''))
      .replace(/\s+/g, ' ')
      .trim();
    if (!text) continue;
    const speaker = voice ? decodeEntities((voice[1] as string).trim()) : '';
    out.push(`[${start}] ${speaker ? `${speaker}: ` : ''}${text}`);
  }
  return out;
}

/** A transcript's text is shown in the event's body up to this size; a larger one is in its attachment only. */
export const MAX_TRANSCRIPT_TEXT_BYTES = 8 * 1024 * 1024;

/** The stored WebVTT of a transcript, as text, when it is stored and not too large to show; else undefined. */
export async function readTranscriptText(
  container: ArchiveContainer,
  a: MeetingArtifact,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const sha = a.content?.status === 'stored' ? a.content.sha256 : undefined;
  if (a.kind !== 'transcript' || !sha || (a.content?.bytes ?? 0) > MAX_TRANSCRIPT_TEXT_BYTES) return undefined;
  const bytes = await readBlobBytes(container, contentBlobName(sha), signal);
  return bytes?.toString('utf8');
}

function custom(name: string, value: string | undefined): RsmfCustom[] {
  return value ? [{ name, value }] : [];
}

const shortTime = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/:\d{2}\.\d+Z$/, ' UTC');

function sizeText(bytes: number | undefined): string {
  if (bytes === undefined) return 'size unknown';
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * The event of one transcript or recording in its meeting's file, by the organiser, at its
 * createdDateTime. A stored transcript is attached as `{sha256}.vtt` and its cues are the body (when
 * `vtt` is given); a recording is named with where the archive holds it, not attached.
 */
export function buildArtifactEvent(a: MeetingArtifact, o: { conversation: string; vtt?: string }): BuiltEvent {
  const span = `${shortTime(a.createdMs)}${a.endMs !== undefined ? ` to ${shortTime(a.endMs)}` : ''}`;
  const stored = a.content?.status === 'stored' && a.content.sha256 !== undefined ? a.content.sha256 : undefined;
  const notArchived = stored
    ? undefined
    : a.content
      ? `${a.content.status}${a.content.reason ? `: ${a.content.reason}` : ''}`
      : 'no content map entry (its content is not stored yet)';
  const files: ZipFile[] = [];
  const attachments: NonNullable<RsmfEvent['attachments']> = [];
  let body: string;
  if (a.kind === 'transcript') {
    body = `[Meeting transcript, ${span}]`;
    if (stored) {
      const fileName = `${stored}.vtt`;
      const size = a.content?.bytes ?? 0;
      attachments.push({
        id: fileName,
        display: `transcript ${new Date(a.createdMs).toISOString().slice(0, 16).replace(':', '')}Z.vtt`,
        size,
      });
      files.push({ sha256: stored, fileName, size });
      if (o.vtt !== undefined) body += `\n${transcriptLines(o.vtt).join('\n')}`;
      else body += '\n(the transcript is too large to show here: see its attachment)';
    } else body += `\n(not archived: ${notArchived})`;
  } else {
    body = stored
      ? `[Meeting recording, ${span}: ${a.content?.contentType ?? 'video'}, ${sizeText(a.content?.bytes)}, archived as ${contentBlobName(stored)}; not included in this file]`
      : `[Meeting recording, ${span}: not archived (${notArchived})]`;
  }
  const event: RsmfEvent = {
    id: a.id,
    type: 'message',
    body,
    participant: a.organizerId,
    conversation: o.conversation,
    timestamp: new Date(a.createdMs).toISOString(),
    importance: 'normal',
    ...(attachments.length > 0 ? { attachments } : {}),
    custom: [
      { name: 'Meeting artifact', value: a.kind },
      ...custom(a.kind === 'transcript' ? 'Graph transcript id' : 'Graph recording id', a.id),
      ...custom('Meeting id', a.meetingId),
      ...custom('Call id', a.callId),
      ...custom('Content correlation id', a.contentCorrelationId),
      ...custom('Ended', a.endMs !== undefined ? new Date(a.endMs).toISOString() : undefined),
      ...custom('Content', stored ? contentBlobName(stored) : undefined),
      ...custom('Content not archived', notArchived),
    ],
  };
  return { event, people: [{ id: a.organizerId }], files };
}
