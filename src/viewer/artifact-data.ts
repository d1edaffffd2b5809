// What the viewer's Copilot and meeting pages need from the archive, gathered through src/archive: a
// user's Copilot sessions of a day or a range, the transcripts and recordings of a day (by organiser, or
// for one meeting chat) with their transcripts read from content/ and parsed, and which months hold any.
import type { ArchiveContainer } from '../archive/archive-container';
import {
  listArtifactMonths,
  loadChatDayArtifacts,
  loadCopilotSessions,
  loadOrganizerArtifacts,
  readStoredText,
  type ArtifactRoot,
  type CopilotSessionView,
  type MeetingArtifactView,
} from '../archive/artifact-archive';
import { entityLabel } from '../model/entity';
import type { DirectoryNames } from '../archive/viewer-names';
import { parseTranscriptMetadata, parseWebVtt, type VttParse } from '../archive/webvtt';
import { obj, str, type MessageView } from './conversation-model';
import type { DayRange } from './links';

/** Largest part of a transcript read to lay it out (a full day of speech is a few megabytes). */
export const MAX_TRANSCRIPT_BYTES = 8 * 1024 * 1024;
/** Most transcripts laid out on one page; any others are offered as downloads. */
export const MAX_TRANSCRIPTS_PER_PAGE = 20;

export interface TranscriptView extends VttParse {
  /** The cues came from the metadata content (the transcript itself names no speakers). */
  fromMetadata: boolean;
  /** Only the first MAX_TRANSCRIPT_BYTES were read. */
  cut: boolean;
}

export interface MeetingsData {
  artifacts: MeetingArtifactView[];
  /** Parsed transcripts by artifact id (stored ones only, at most MAX_TRANSCRIPTS_PER_PAGE). */
  transcripts: Map<string, TranscriptView>;
}

/** `copilot:{id}` / `meetings:{id}`: how audit records name a user's Copilot or meetings archive. */
export function artifactLabel(root: ArtifactRoot, userId: string): string {
  return entityLabel({ kind: root, id: userId });
}

/** A meeting chat's id (`19:meeting_…@thread.v2`): the only chats with transcripts and recordings. */
export function isMeetingChatId(chatId: string): boolean {
  return chatId.startsWith('19:meeting_');
}

/** Content-map entries name stored bytes only with a real SHA-256 (the map is read from storage). */
export function storedEntry(
  a: MeetingArtifactView,
  kind: string,
): (MeetingArtifactView['content'][number] & { sha256: string }) | undefined {
  return a.content.find(
    (e): e is MeetingArtifactView['content'][number] & { sha256: string } =>
      (e.kind as string) === kind && e.status === 'stored' && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256),
  );
}

/** Reads and parses the stored transcripts of the artifacts (a few at once, at most MAX_TRANSCRIPTS_PER_PAGE). */
export async function withTranscripts(
  container: ArchiveContainer,
  artifacts: MeetingArtifactView[],
  signal?: AbortSignal,
): Promise<MeetingsData> {
  const transcripts = new Map<string, TranscriptView>();
  const wanted = artifacts.filter((a) => a.kind === 'transcript' && storedEntry(a, 'transcript')).slice(0, MAX_TRANSCRIPTS_PER_PAGE);
  await Promise.all(
    wanted.map(async (a) => {
      const content = storedEntry(a, 'transcript') as { sha256: string };
      const read = await readStoredText(container, content.sha256, MAX_TRANSCRIPT_BYTES, signal);
      if (!read) return;
      let view: TranscriptView = { ...parseWebVtt(read.text), fromMetadata: false, cut: read.truncated };
      // A transcript without speaker attribution: the metadata content names them, cue by cue.
      const metadata = storedEntry(a, 'transcriptMetadata');
      if (metadata && !view.cues.some((c) => c.speaker !== undefined)) {
        const meta = await readStoredText(container, metadata.sha256, MAX_TRANSCRIPT_BYTES, signal);
        const parsed = meta ? parseTranscriptMetadata(meta.text) : undefined;
        if (meta && parsed && parsed.cues.some((c) => c.speaker !== undefined))
          view = { ...parsed, fromMetadata: true, cut: meta.truncated };
      }
      transcripts.set(a.id, view);
    }),
  );
  return { artifacts, transcripts };
}

/** A user's Copilot sessions with interactions filed on `day` (only that day's interactions). */
export async function loadCopilotDay(
  container: ArchiveContainer,
  userId: string,
  day: string,
  signal?: AbortSignal,
): Promise<CopilotSessionView[]> {
  return loadCopilotSessions(container, userId, day, day, signal);
}

/** The transcripts and recordings of the meetings a user organised, filed on `day`. */
export async function loadMeetingsDay(
  container: ArchiveContainer,
  organizerId: string,
  day: string,
  signal?: AbortSignal,
): Promise<MeetingsData> {
  return withTranscripts(container, await loadOrganizerArtifacts(container, organizerId, day, day, signal), signal);
}

/**
 * Who may have organised a meeting chat's meeting, most likely first: organisers named by the day's
 * call events, the user whose page it is, the chat's members in the directory snapshot, the day's senders.
 */
export function organizerCandidates(
  userId: string,
  chatId: string,
  messages: readonly MessageView[],
  names: DirectoryNames,
  extra: readonly string[] = [],
): string[] {
  const named: string[] = [];
  const senders: string[] = [];
  for (const m of messages) {
    for (const v of m.versions) {
      const e = obj(v.message.eventDetail);
      const organizer = str(obj(obj(e?.meetingOrganizer)?.user)?.id);
      if (organizer) named.push(organizer);
      const sender = str(obj(obj(v.message.from)?.user)?.id) ?? str(obj(obj(e?.initiator)?.user)?.id);
      if (sender) senders.push(sender);
    }
  }
  return [...new Set([...named, ...extra, userId, ...(names.chatMembers?.(chatId) ?? []), ...senders])];
}

/** The transcripts and recordings filed on `day` for the meeting chat `chatId`, seen from `userId`'s chat-day page. */
export async function loadMeetingsForChatDay(
  container: ArchiveContainer,
  userId: string,
  chatId: string,
  day: string,
  messages: readonly MessageView[],
  names: DirectoryNames,
  signal?: AbortSignal,
): Promise<MeetingsData> {
  const candidates = organizerCandidates(userId, chatId, messages, names);
  return withTranscripts(container, await loadChatDayArtifacts(container, chatId, day, candidates, signal), signal);
}

export interface ArtifactSummary {
  /** Sessions with interactions in the range, oldest first. */
  copilot: CopilotSessionView[];
  /** Transcripts and recordings of meetings the user organised, filed in the range. */
  meetings: MeetingArtifactView[];
}

/** A user's Copilot sessions and organised meetings in a range (for the user's page). */
export async function summarizeArtifacts(
  container: ArchiveContainer,
  userId: string,
  range: DayRange,
  signal?: AbortSignal,
): Promise<ArtifactSummary> {
  const [copilot, meetings] = await Promise.all([
    loadCopilotSessions(container, userId, range.from, range.to, signal),
    loadOrganizerArtifacts(container, userId, range.from, range.to, signal),
  ]);
  return { copilot, meetings };
}

/** The months (`yyyy-mm`) holding a user's Copilot or meeting batches, newest first. */
export async function artifactMonths(container: ArchiveContainer, userId: string, signal?: AbortSignal): Promise<string[]> {
  const [a, b] = await Promise.all([
    listArtifactMonths(container, 'copilot', userId, signal),
    listArtifactMonths(container, 'meetings', userId, signal),
  ]);
  return [...new Set([...a, ...b])].sort().reverse();
}
