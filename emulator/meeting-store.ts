// Online meetings of the emulated tenant and their artifacts: one onlineMeeting per meeting chat,
// organised by a member of it, whose occurrences left transcripts (WebVTT with speakers and times, plus
// the time-aligned metadataContent) and recordings (small MP4-shaped bodies; one may be made large and
// streamed, faults largeRecordingBytes). Seeded from a PRNG stream of its own, so the rest of a seed's
// tenant is unchanged.

import { createHash } from 'node:crypto';
import { createRng, guid, hash32, randInt } from './prng';
import type { EmulatedChat, Tenant } from './tenant';

export type ArtifactKind = 'transcript' | 'recording';

export interface OnlineMeetingRec {
  /** base64 of `1*{organizerId}*0**{chatId}`, the shape of Graph's onlineMeeting ids */
  id: string;
  organizerId: string;
  chatId: string;
  subject: string;
  joinWebUrl: string;
  createdMs: number;
}

export interface TranscriptLine {
  speaker: string;
  text: string;
}

/** One transcript or recording of one occurrence of a meeting; immutable once added. */
export interface ArtifactRec {
  readonly kind: ArtifactKind;
  readonly id: string;
  readonly meeting: OnlineMeetingRec;
  readonly callId: string;
  /** shared by the transcript and the recording of one occurrence */
  readonly correlationId: string;
  readonly createdMs: number;
  readonly endMs: number;
  /** transcripts: what was said, in order */
  readonly lines: readonly TranscriptLine[];
  /** recordings: the size of the small body */
  readonly size: number;
  /** data-clock instant it was added at runtime (-Infinity when seeded) */
  readonly addedAtMs: number;
  readonly addSeq: number;
}

/** `${organizerId}|${kind}|${id}`: an artifact of one organiser (the key the ledger and tests use). */
export function artifactKey(a: { kind: ArtifactKind; id: string; meeting: { organizerId: string } }): string {
  return `${a.meeting.organizerId}|${a.kind}|${a.id}`;
}

const SPOKEN = [
  'Good morning, everyone. Let us start with the release.',
  'The numbers for Q3 are in the shared sheet.',
  'مرحبا، سأشارك الشاشة الآن',
  'שלום, אפשר להתחיל?',
  'José, can you take the rollback plan?',
  '我们下周再讨论这个问题。',
  'Zoë has the latest draft — 24 pages.',
  'I think we are aligned. Any objections?',
  'Let us move the retro to Thursday, 15:00 CET.',
  'Thanks all, talk soon 👋',
];

export interface MeetingSeedOptions {
  seed: number;
  /** the most occurrences (each with a transcript and/or a recording) per meeting chat */
  meetingOccurrences: number;
}

/** The tenant's online meetings and their artifacts, per organiser ordered by creation (then insertion). */
export class MeetingStore {
  private readonly meetings = new Map<string, OnlineMeetingRec>();
  private readonly byChat = new Map<string, OnlineMeetingRec>();
  private readonly byOrganizer = new Map<string, ArtifactRec[]>();
  private readonly byId = new Map<string, ArtifactRec>();
  private seq = 0;
  /** the recording that faults largeRecordingBytes makes large unless largeRecordingId names another */
  firstRecordingId: string | null = null;

  meeting(id: string): OnlineMeetingRec | undefined {
    return this.meetings.get(id);
  }

  meetingOfChat(chatId: string): OnlineMeetingRec | undefined {
    return this.byChat.get(chatId);
  }

  allMeetings(): OnlineMeetingRec[] {
    return [...this.meetings.values()];
  }

  addMeeting(m: OnlineMeetingRec): OnlineMeetingRec {
    if (this.meetings.has(m.id)) throw new Error(`duplicate meeting ${m.id}`);
    this.meetings.set(m.id, m);
    this.byChat.set(m.chatId, m);
    return m;
  }

  /** An organiser's artifacts of a kind, oldest first. */
  of(organizerId: string, kind: ArtifactKind): ArtifactRec[] {
    return (this.byOrganizer.get(organizerId) ?? []).filter((a) => a.kind === kind);
  }

  artifact(kind: ArtifactKind, id: string): ArtifactRec | undefined {
    return this.byId.get(`${kind}:${id}`);
  }

  *all(): Iterable<ArtifactRec> {
    for (const list of this.byOrganizer.values()) yield* list;
  }

  get lastSeq(): number {
    return this.seq;
  }

  add(rec: Omit<ArtifactRec, 'addSeq'>): ArtifactRec {
    const a: ArtifactRec = { ...rec, addSeq: ++this.seq };
    const k = `${a.kind}:${a.id}`;
    if (this.byId.has(k)) throw new Error(`duplicate ${a.kind} ${a.id}`);
    this.byId.set(k, a);
    const list = this.byOrganizer.get(a.meeting.organizerId) ?? [];
    let i = list.length;
    while (i > 0 && (list[i - 1] as ArtifactRec).createdMs > a.createdMs) i--;
    list.splice(i, 0, a);
    this.byOrganizer.set(a.meeting.organizerId, list);
    if (a.kind === 'recording' && this.firstRecordingId === null) this.firstRecordingId = a.id;
    return a;
  }
}

/** The organiser of a meeting chat: its first member who is a member of the tenant with a mailbox. */
export function organizerOf(tenant: Tenant, chat: EmulatedChat): string | undefined {
  return chat.memberIds.find((id) => {
    const u = tenant.user(id);
    return u !== undefined && u.userType === 'Member' && u.hasTeamsData;
  });
}

function meetingFor(tenant: Tenant, chat: EmulatedChat, organizerId: string, createdMs: number): OnlineMeetingRec {
  const existing = tenant.meetings.meetingOfChat(chat.id);
  if (existing) return existing;
  const context = encodeURIComponent(JSON.stringify({ Tid: tenant.tenantId, Oid: organizerId })).toLowerCase();
  return tenant.meetings.addMeeting({
    id: Buffer.from(`1*${organizerId}*0**${chat.id}`, 'utf8').toString('base64'),
    organizerId,
    chatId: chat.id,
    subject: chat.topic ?? 'Meeting',
    joinWebUrl: `https://teams.microsoft.com/l/meetup-join/${encodeURIComponent(chat.id)}/0?context=${context}`,
    createdMs,
  });
}

/** An artifact id in the shape of Graph's (base64 of a `V2##…##{guid}` descriptor; no '/' or '+'). */
function artifactId(tenant: Tenant, organizerId: string, kind: ArtifactKind, g: string): string {
  return Buffer.from(`V2##${kind === 'transcript' ? '1' : '2'}${organizerId}${tenant.tenantId}##${g}`, 'utf8').toString('base64');
}

interface OccurrenceOptions {
  startMs: number;
  endMs: number;
  transcript: boolean;
  recording: boolean;
  lines: TranscriptLine[];
  recordingSize: number;
  addedAtMs: number;
  rng: () => number;
}

function addOccurrence(tenant: Tenant, meeting: OnlineMeetingRec, o: OccurrenceOptions): { transcriptId?: string; recordingId?: string } {
  const callId = guid(o.rng);
  const correlationId = `${guid(o.rng)}-0`;
  const out: { transcriptId?: string; recordingId?: string } = {};
  const base = { meeting, callId, correlationId, endMs: o.endMs, addedAtMs: o.addedAtMs };
  if (o.recording) {
    // the recording starts with the meeting; the transcript a moment later
    const id = artifactId(tenant, meeting.organizerId, 'recording', guid(o.rng));
    tenant.meetings.add({ ...base, kind: 'recording', id, createdMs: o.startMs, lines: [], size: o.recordingSize });
    out.recordingId = id;
  }
  if (o.transcript) {
    const id = artifactId(tenant, meeting.organizerId, 'transcript', guid(o.rng));
    tenant.meetings.add({
      ...base,
      kind: 'transcript',
      id,
      createdMs: o.startMs + 1_000 + Math.floor(o.rng() * 20_000),
      lines: o.lines,
      size: 0,
    });
    out.transcriptId = id;
  }
  return out;
}

function spokenLines(tenant: Tenant, chat: EmulatedChat, rng: () => number): TranscriptLine[] {
  const speakers = chat.memberIds.map((id) => tenant.user(id)?.displayName ?? 'Unknown');
  const n = randInt(rng, 6, 17);
  return Array.from({ length: n }, () => ({
    speaker: speakers[randInt(rng, 0, speakers.length)] ?? 'Unknown',
    text: SPOKEN[randInt(rng, 0, SPOKEN.length)]!,
  }));
}

/** Meetings of the tenant's meeting chats with transcripts and recordings, from their own PRNG stream. */
export function seedMeetings(tenant: Tenant, o: MeetingSeedOptions, startMs: number, endMs: number): void {
  const rng = createRng((o.seed ^ 0x7ea5c0de) >>> 0);
  const span = Math.max(1, endMs - startMs - 2 * 3_600_000);
  let first = true;
  for (const chat of tenant.chats) {
    if (chat.kind !== 'meeting') continue;
    const organizerId = organizerOf(tenant, chat);
    if (!organizerId) continue;
    const n = randInt(rng, 1, Math.max(1, o.meetingOccurrences) + 1);
    const starts = Array.from({ length: n }, () => startMs + Math.floor(rng() * span)).sort((a, b) => a - b);
    const meeting = meetingFor(tenant, chat, organizerId, (starts[0] as number) - 86_400_000);
    for (const start of starts) {
      const duration = (15 + randInt(rng, 0, 46)) * 60_000;
      // the first occurrence of the tenant has both, so every seed with a meeting chat has one of each
      const transcript = first || rng() < 0.85;
      const recording = first || rng() < 0.7;
      first = false;
      addOccurrence(tenant, meeting, {
        startMs: start,
        endMs: start + duration,
        transcript,
        recording,
        lines: spokenLines(tenant, chat, rng),
        recordingSize: 1_024 + randInt(rng, 0, 6_000),
        addedAtMs: -Infinity,
        rng,
      });
    }
  }
}

export interface AddArtifactsOptions {
  /** the meeting chat (its onlineMeeting is created on first use, organised by `organizerId` or its first member) */
  chatId: string;
  organizerId?: string;
  /** the occurrence's start (default: the data clock); transcripts are created a second later */
  atMs?: number;
  durationMs?: number;
  /** default true */
  transcript?: boolean;
  /** default false */
  recording?: boolean;
  /** what was said; default a few generated lines by the chat's members */
  lines?: TranscriptLine[];
  /** size of the recording's small body (default 4 KiB) */
  recordingSize?: number;
}

/** Adds a meeting occurrence with a transcript and/or a recording at runtime (after a meeting between two runs). */
export function addMeetingArtifacts(
  tenant: Tenant,
  o: AddArtifactsOptions,
): { meetingId: string; transcriptId?: string; recordingId?: string } {
  const chat = tenant.chat(o.chatId);
  if (!chat) throw new Error(`unknown chat ${o.chatId}`);
  if (chat.kind !== 'meeting') throw new Error(`chat ${o.chatId} is not a meeting chat`);
  const organizerId = tenant.meetings.meetingOfChat(chat.id)?.organizerId ?? o.organizerId ?? organizerOf(tenant, chat);
  if (!organizerId || !tenant.user(organizerId)) throw new Error(`no organiser for ${o.chatId}`);
  const at = Math.floor(o.atMs ?? tenant.clock());
  const rng = createRng(hash32(`${chat.id}|${at}|${tenant.meetings.lastSeq}`));
  const meeting = meetingFor(tenant, chat, organizerId, at);
  const ids = addOccurrence(tenant, meeting, {
    startMs: at,
    endMs: at + (o.durationMs ?? 30 * 60_000),
    transcript: o.transcript ?? true,
    recording: o.recording ?? false,
    lines: o.lines ?? spokenLines(tenant, chat, rng),
    recordingSize: o.recordingSize ?? 4_096,
    addedAtMs: tenant.clock(),
    rng,
  });
  return { meetingId: meeting.id, ...ids };
}

// ---- bodies ----

const two = (n: number) => String(n).padStart(2, '0');
function vttTime(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${two(h)}:${two(m)}:${two(s)}.${String(ms % 1000).padStart(3, '0')}`;
}

/** Cue times (offsets from the transcript's start, ms) of each line. */
function cues(a: ArtifactRec): Array<{ from: number; to: number; line: TranscriptLine; cueId: string }> {
  let at = 1_000 + (hash32(`${a.id}|start`) % 4_000);
  const prefix = createHash('sha256').update(a.id).digest('hex');
  const cueGuid = `${prefix.slice(0, 8)}-${prefix.slice(8, 12)}-${prefix.slice(12, 16)}-${prefix.slice(16, 20)}-${prefix.slice(20, 32)}`;
  return a.lines.map((line, i) => {
    const len = 1_200 + (hash32(`${a.id}|${i}`) % 6_000);
    const cue = { from: at, to: at + len, line, cueId: `${cueGuid}/${i + 10}-0` };
    at += len + (hash32(`${a.id}|gap|${i}`) % 1_500);
    return cue;
  });
}

/**
 * A transcript's `content`: WebVTT with voice tags (`<v Speaker>`), or without speakers (the format
 * `application/vnd.microsoft.graph.transcript+text`, served when speaker attribution is off).
 */
export function transcriptVtt(a: ArtifactRec, attributed = true): Buffer {
  const parts = ['WEBVTT', ''];
  for (const c of cues(a)) {
    parts.push(
      c.cueId,
      `${vttTime(c.from)} --> ${vttTime(c.to)}`,
      attributed ? `<v ${c.line.speaker}>${c.line.text}</v>` : c.line.text,
      '',
    );
  }
  return Buffer.from(parts.join('\n'), 'utf8');
}

/** A transcript's `metadataContent`: the time-aligned utterances, one JSON object per cue. */
export function transcriptMetadata(a: ArtifactRec): Buffer {
  const parts = ['WEBVTT', ''];
  const iso7 = (ms: number) => `${new Date(ms).toISOString().slice(0, 23)}0000+00:00`;
  for (const c of cues(a)) {
    parts.push(
      `${vttTime(c.from)} --> ${vttTime(c.to)}`,
      JSON.stringify({
        startDateTime: iso7(a.createdMs + c.from),
        endDateTime: iso7(a.createdMs + c.to),
        speakerName: c.line.speaker,
        spokenText: c.line.text,
        spokenLanguage: 'en-us',
      }),
      '',
    );
  }
  return Buffer.from(parts.join('\n'), 'utf8');
}

const CHUNK = 64 * 1024;

/** The MP4 boxes a recording starts with: `ftyp`, then an `mdat` header for the rest (64-bit size when needed). */
function mp4Head(size: number): Buffer {
  const ftyp = Buffer.alloc(32);
  ftyp.writeUInt32BE(32, 0);
  ftyp.write('ftypisom', 4, 'latin1');
  ftyp.writeUInt32BE(0x200, 12);
  ftyp.write('isomiso2avc1mp41', 16, 'latin1');
  const rest = size - 32;
  let mdat: Buffer;
  if (rest + 8 <= 0xffffffff) {
    mdat = Buffer.alloc(8);
    mdat.writeUInt32BE(Math.max(8, rest), 0);
    mdat.write('mdat', 4, 'latin1');
  } else {
    mdat = Buffer.alloc(16);
    mdat.writeUInt32BE(1, 0);
    mdat.write('mdat', 4, 'latin1');
    mdat.writeBigUInt64BE(BigInt(rest), 8);
  }
  return Buffer.concat([ftyp, mdat]);
}

/** A recording's bytes, chunk by chunk (≤ 64 KiB each): the same bytes for the same id and size. */
export function* recordingChunks(id: string, size: number): Generator<Buffer> {
  const head = mp4Head(size).subarray(0, size);
  if (head.length > 0) yield head;
  let x = hash32(`${id}|mp4`) || 1;
  for (let at = head.length; at < size;) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - at));
    for (let i = 0; i < chunk.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x & 0xff;
    }
    at += chunk.length;
    yield chunk;
  }
}

export function recordingBytes(id: string, size: number): Buffer {
  return Buffer.concat([...recordingChunks(id, size)]);
}

const shaCache = new Map<string, string>();

/** SHA-256 (hex) of a recording of `size` bytes, computed chunk by chunk (once per id and size). */
export function recordingSha256(id: string, size: number): string {
  const key = `${id}|${size}`;
  let sha = shaCache.get(key);
  if (sha === undefined) {
    const h = createHash('sha256');
    for (const c of recordingChunks(id, size)) h.update(c);
    sha = h.digest('hex');
    if (shaCache.size > 64) shaCache.clear();
    shaCache.set(key, sha);
  }
  return sha;
}
