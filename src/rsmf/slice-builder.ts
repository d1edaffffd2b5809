// Second pass of a production (docs/rsmf.md): one slice (a conversation's UTC day) from its spool file
// to RSMF files of at most 10,000 events each. Memory holds a small index entry per version (offset,
// length, key) and one message's versions at a time; the manifest and the text rendering are written
// to temporary files as events are built, then streamed into the zip and the MIME message.
import { closeSync, createReadStream, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArchiveContainer } from '../archive/archive-container';
import { contentBlobName } from '../archive/blob-layout';
import { parseInstant } from '../time';
import type { SliceKind, SliceSpool } from './archive-scan';
import { buildCopilotEventSafely, COPILOT_PARTICIPANT } from './copilot-events';
import { buildArtifactEvent, readTranscriptText, type MeetingArtifact } from './meeting-artifacts';
import { buildEventSafely, type BuiltEvent, type ContentEntry, type RsmfEvent, type ZipFile } from './message-events';
import { textOf } from '../archive/render-text';
import type { NameBook } from './name-book';
import { asciiHeaderValue, RSMF_VERSION, rsmfFileStream } from './rsmf-file';

/** Review platforms process at most 10,000 events per RSMF file. */
export const MAX_EVENTS_PER_FILE = 10_000;
export const PLATFORM = 'Microsoft Teams';
/** The platform of a Copilot session's conversation. */
export const COPILOT_PLATFORM = 'Microsoft 365 Copilot';

/** How the text rendering and the Subject name a slice's kind. */
const KIND_LABEL: Record<SliceKind, string> = { chat: 'chat', channel: 'channel', copilot: 'Copilot session', meeting: 'meeting' };

type Json = Record<string, unknown>;

/**
 * One distinct version in the spool. Within a message, (lastModified, etag) is the version key (the rest
 * of it, conversation and message id, is the same for all), so no key strings are kept per version.
 */
interface VersionRef {
  pos: number;
  len: number;
  modifiedMs: number | null;
  etag: string;
  content?: ContentEntry[];
}

interface MessageIndex {
  id: string;
  createdMs: number;
  ordinal: number;
  versions: VersionRef[];
  /** A meeting transcript or recording shown among the messages (it has no versions in the spool). */
  artifact?: MeetingArtifact;
}

/** What a file (and a production, summed) holds, by kind. */
export interface EventCounts {
  events: number;
  edits: number;
  reactions: number;
  attachments: number;
  /** Every archived version accounted for (as its event or folded into it). */
  versions: number;
  /** Copilot interactions, meeting transcripts and meeting recordings among the events. */
  interactions: number;
  transcripts: number;
  recordings: number;
}

export interface BuiltFile extends EventCounts {
  fileName: string;
  sha256: string;
  bytes: number;
  part: number;
  parts: number;
  beginDate: string;
  endDate: string;
  eventCollectionId: string;
  sources: string[];
}

export interface SliceContext {
  container: ArchiveContainer;
  names: NameBook;
  tmpDir: string;
  /** Writes one RSMF file: consumes the stream, returns once stored (and its SHA-256 and size). */
  store: (fileName: string, data: Readable) => Promise<{ sha256: string; bytes: number }>;
  /** Events per file (default and maximum MAX_EVENTS_PER_FILE); smaller in tests of the split. */
  maxEventsPerFile?: number;
  signal?: AbortSignal;
}

/** Reads the spool's records with their byte positions, streaming. */
async function* spoolRecords(file: string): AsyncGenerator<{ pos: number; buf: Buffer }> {
  let pending: Buffer = Buffer.alloc(0);
  let base = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
      if (nl > start) yield { pos: base + start, buf: data.subarray(start, nl) };
      start = nl + 1;
    }
    base += start;
    data = data.subarray(start);
    pending = Buffer.from(data);
  }
}

/**
 * Short, stable, file-system-safe file name of a slice: `yyyy-mm-dd_chat_{hash}[_partNNofMM].rsmf` (also
 * `channel`, `copilot`, `meeting`). The hash is of the Graph id, and for a Copilot session of the user and
 * the session (a session is one user's).
 */
export function sliceFileName(
  slice: Pick<SliceSpool, 'conversationId' | 'conversationKind' | 'day' | 'ownerId'>,
  part: number,
  parts: number,
): string {
  const key = slice.conversationKind === 'copilot' ? `${slice.ownerId ?? ''}\u0000${slice.conversationId}` : slice.conversationId;
  const hash = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16);
  const suffix = parts > 1 ? `_part${String(part).padStart(2, '0')}of${String(parts).padStart(2, '0')}` : '';
  return `${slice.day}_${slice.conversationKind}_${hash}${suffix}.rsmf`;
}

function writeText(fd: number, text: string): void {
  writeSync(fd, text);
}

function renderEventText(e: RsmfEvent, display: (id: string | undefined) => string): string {
  const markers: string[] = [];
  if (e.deleted) markers.push('deleted');
  if (e.edits) markers.push(`edited ${e.edits.length}×`);
  if (e.reactions) markers.push(`reactions ${e.reactions.map((r) => `${r.value}×${r.count}`).join(' ')}`);
  if (e.type !== 'message') markers.push(e.type);
  const head = `[${e.timestamp.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}] ${display(e.participant)}${e.parent ? ' (reply)' : ''}${markers.length > 0 ? ` (${markers.join('; ')})` : ''}`;
  const lines = [
    head,
    ...e.body
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => `  ${l}`),
  ];
  for (const a of e.attachments ?? []) lines.push(`  [attachment: ${a.display}]`);
  return `${lines.join('\n')}\n\n`;
}

export async function buildSlice(slice: SliceSpool, ctx: SliceContext): Promise<BuiltFile[]> {
  // Index pass: one entry per distinct version (the same version archived under five members is one).
  const messages = new Map<string, MessageIndex>();
  let last: VersionRef | undefined;
  for await (const { pos, buf } of spoolRecords(slice.file)) {
    const text = buf.subarray(2).toString('utf8');
    if (buf[0] === 0x43 /* C */) {
      // A version's content entries follow it in the spool (archive-scan writes them together).
      const entry = JSON.parse(text) as ContentEntry;
      if (last && !last.content?.some((e) => e.kind === entry.kind && e.ref === entry.ref)) (last.content ??= []).push(entry);
      continue;
    }
    const m = JSON.parse(text) as Json;
    const id = textOf(m.id);
    const modifiedMs = typeof m.lastModifiedDateTime === 'string' ? (parseInstant(m.lastModifiedDateTime) ?? null) : null;
    const etag = typeof m.etag === 'string' ? m.etag : '';
    let entry = messages.get(id);
    const createdMs = typeof m.createdDateTime === 'string' ? Date.parse(m.createdDateTime) : NaN;
    if (!entry) messages.set(id, (entry = { id, createdMs: Number.isFinite(createdMs) ? createdMs : 0, ordinal: 0, versions: [] }));
    // The same version archived under several custodians is kept once.
    last = entry.versions.find((v) => v.modifiedMs === modifiedMs && v.etag === etag);
    if (!last) entry.versions.push((last = { pos: pos + 2, len: buf.length - 2, modifiedMs, etag }));
  }
  const artifacts: MessageIndex[] = (slice.artifacts ?? []).map((a) => ({
    id: a.id,
    createdMs: a.createdMs,
    ordinal: 0,
    versions: [],
    artifact: a,
  }));
  const ordered = [...messages.values(), ...artifacts].sort(
    (a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  ordered.forEach((m, i) => (m.ordinal = i));
  const perFile = Math.min(MAX_EVENTS_PER_FILE, Math.max(1, ctx.maxEventsPerFile ?? MAX_EVENTS_PER_FILE));
  const parts = Math.max(1, Math.ceil(ordered.length / perFile));
  const owner = slice.conversationKind === 'copilot' && slice.ownerId ? `${slice.ownerId}:` : '';
  const eventCollectionId = `teams-export:${slice.conversationKind}:${owner}${slice.conversationId}:${slice.day}`;
  const platform = slice.conversationKind === 'copilot' ? COPILOT_PLATFORM : PLATFORM;
  const conversation = ctx.names.conversation(slice);
  const custodians = [...slice.custodians].sort();
  const out: BuiltFile[] = [];
  const spoolFd = openSync(slice.file, 'r');
  try {
    for (let part = 1; part <= parts; part++) {
      const chunk = ordered.slice((part - 1) * perFile, part * perFile);
      const fileName = sliceFileName(slice, part, parts);
      const manifestPath = join(ctx.tmpDir, `${fileName}.manifest.json`);
      const textPath = join(ctx.tmpDir, `${fileName}.txt`);
      const manifestFd = openSync(manifestPath, 'w');
      const textFd = openSync(textPath, 'w');
      const people = new Map<string, string | undefined>();
      const files = new Map<string, ZipFile>();
      const counts = { edits: 0, reactions: 0, versions: 0, interactions: 0, transcripts: 0, recordings: 0 };
      let first = '';
      let last = '';
      try {
        writeText(
          textFd,
          `${conversation.display} (${platform}, ${KIND_LABEL[slice.conversationKind]}), ${slice.day} UTC${parts > 1 ? `, part ${part} of ${parts}` : ''}\n\n`,
        );
        writeText(
          manifestFd,
          `{"version":${JSON.stringify(RSMF_VERSION)},"eventcollectionid":${JSON.stringify(eventCollectionId)},"events":[`,
        );
        for (const [i, m] of chunk.entries()) {
          let built: BuiltEvent;
          if (m.artifact) {
            // A transcript or recording: one archived version, its stored VTT read for the body.
            const vtt = await readTranscriptText(ctx.container, m.artifact, ctx.signal);
            built = buildArtifactEvent(m.artifact, { conversation: slice.conversationId, ...(vtt !== undefined ? { vtt } : {}) });
            counts.versions += 1;
            counts[m.artifact.kind === 'transcript' ? 'transcripts' : 'recordings'] += 1;
          } else {
            const content = new Map<Json, readonly ContentEntry[]>();
            const versions = m.versions
              .sort((a, b) => (a.modifiedMs ?? m.createdMs) - (b.modifiedMs ?? m.createdMs))
              .map((v) => {
                const buf = Buffer.allocUnsafe(v.len);
                readSync(spoolFd, buf, 0, v.len, v.pos);
                const parsed = JSON.parse(buf.toString('utf8')) as Json;
                if (v.content) content.set(parsed, v.content);
                return parsed;
              });
            const latest = versions[versions.length - 1] as Json;
            const root = typeof latest.replyToId === 'string' ? latest.replyToId : undefined;
            // A parent must resolve inside the file: the root of the thread must be in this part.
            const rootOrdinal = root === undefined ? undefined : messages.get(root)?.ordinal;
            const parent = rootOrdinal !== undefined && Math.floor(rootOrdinal / perFile) === part - 1 ? root : undefined;
            if (slice.conversationKind === 'copilot') {
              built = buildCopilotEventSafely(versions, { conversation: slice.conversationId, ownerId: slice.ownerId ?? '' });
              counts.interactions += 1;
            } else {
              built = buildEventSafely(versions, {
                conversation: slice.conversationId,
                ...(parent !== undefined ? { parent } : {}),
                contentOf: (v) => content.get(v) ?? [],
                nameOf: (id) => ctx.names.user(id)?.displayName,
              });
            }
            counts.versions += versions.length;
          }
          for (const p of built.people) if (!people.get(p.id)) people.set(p.id, p.displayName);
          for (const f of built.files) files.set(f.fileName, f);
          counts.edits += built.event.edits?.length ?? 0;
          counts.reactions += built.event.reactions?.reduce((n, r) => n + r.count, 0) ?? 0;
          if (!first) first = built.event.timestamp;
          last = built.event.timestamp;
          writeText(manifestFd, `${i > 0 ? ',' : ''}${JSON.stringify(built.event)}`);
          writeText(
            textFd,
            renderEventText(built.event, (id) => (id ? (ctx.names.user(id)?.displayName ?? people.get(id) ?? id) : 'system')),
          );
        }
        // Conversation members and custodians are participants too, named even if silent that day.
        for (const id of [...conversation.memberIds, ...custodians]) if (!people.has(id)) people.set(id, undefined);
        if (people.has(COPILOT_PARTICIPANT.id)) people.set(COPILOT_PARTICIPANT.id, COPILOT_PARTICIPANT.displayName);
        const participants = [...people].map(([id, payloadName]) => ctx.names.participant(id, payloadName));
        // Everyone in the file: a sender who has since left a chat is no longer among its members.
        const convParticipants = [...people.keys()];
        const custodian = custodians[0];
        const conv = {
          id: slice.conversationId,
          display: conversation.display,
          platform,
          type: slice.conversationKind === 'channel' ? 'channel' : 'direct',
          participants: convParticipants,
          ...(custodian ? { custodian } : {}),
          custom: [
            ...conversation.custom,
            ...(custodians.length > 0
              ? [{ name: 'Custodians', value: custodians.map((id) => `${ctx.names.user(id)?.displayName ?? id} (${id})`).join('; ') }]
              : []),
            { name: 'Graph conversation id', value: slice.conversationId },
          ],
        };
        writeText(manifestFd, `],"participants":${JSON.stringify(participants)},"conversations":${JSON.stringify([conv])}}\n`);
      } finally {
        closeSync(manifestFd);
        closeSync(textFd);
      }
      const begin = first || `${slice.day}T00:00:00.000Z`;
      const end = last || begin;
      const stored = await ctx.store(
        fileName,
        rsmfFileStream({
          manifestPath,
          textPath,
          files: [...files.values()],
          // Names with non-ASCII characters are in the manifest and the body; headers stay plain ASCII.
          subject: `${asciiHeaderValue(conversation.display) ?? (slice.conversationKind === 'copilot' ? 'Microsoft 365 Copilot session' : `${platform} ${KIND_LABEL[slice.conversationKind]}`)}, ${slice.day}${parts > 1 ? ` (${part}/${parts})` : ''}`,
          eventCount: chunk.length,
          beginDate: begin,
          endDate: end,
          extraHeaders: {
            ...(asciiHeaderValue(slice.conversationId) ? { 'X-RSMF-ConversationId': slice.conversationId } : {}),
            ...(custodians.length > 0
              ? {
                  'X-RSMF-Custodians': custodians
                    .map((id) => asciiHeaderValue(ctx.names.user(id)?.userPrincipalName ?? '') ?? id)
                    .join('; '),
                }
              : {}),
            'X-RSMF-Part': `${part}/${parts}`,
          },
          container: ctx.container,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        }),
      );
      rmSync(manifestPath, { force: true });
      rmSync(textPath, { force: true });
      out.push({
        fileName,
        sha256: stored.sha256,
        bytes: stored.bytes,
        part,
        parts,
        events: chunk.length,
        edits: counts.edits,
        reactions: counts.reactions,
        attachments: files.size,
        versions: counts.versions,
        interactions: counts.interactions,
        transcripts: counts.transcripts,
        recordings: counts.recordings,
        beginDate: begin,
        endDate: end,
        eventCollectionId,
        sources: [...slice.sources, ...[...files.values()].map((f) => contentBlobName(f.sha256))].sort(),
      });
    }
  } finally {
    closeSync(spoolFd);
  }
  return out;
}
