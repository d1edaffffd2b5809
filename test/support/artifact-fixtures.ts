// Writes Copilot and meeting batches with the archive's own writers, at the names of docs/archive-format.md
// §12 (`{copilot|meetings}/users/{seg}/yyyy/mm/dd/{pass}_{from}_{to}_{writer}_{seq}.jsonl.gz`), and a meeting
// batch's content map beside it: small, exact archives for the readers' tests (the real export of these
// kinds is exercised in test/integration/copilot-meetings-export.test.ts and, read back, in viewer-artifacts).
import type { ContainerClient } from '@azure/storage-blob';
import { batchBlobName, contentMapName } from '../../src/archive/blob-layout';
import type { ArtifactRoot } from '../../src/archive/artifact-archive';
import { storeContent } from '../../src/archive/content-store';
import { writeBatch, writeJson } from '../../src/archive/batch-writer';
import {
  addMeetingArtifacts,
  postInteraction,
  postRawInteraction,
  type Emulator,
  type ExpectedInteraction,
  type ExpectedMeetingArtifact,
  type Tenant,
} from '../../emulator';
import { writeDirectorySnapshot } from '../../src/archive/directory-snapshot';
import { startTestEmulator } from './emulator';

let seq = 0;

/** One day batch of `root` for a user, written as writeBatch writes every batch; returns its name. */
export async function writeArtifactBatch(
  container: ContainerClient,
  root: ArtifactRoot,
  userId: string,
  day: string,
  items: readonly unknown[],
  o: { runId?: string; seq?: number } = {},
): Promise<string> {
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const name = batchBlobName({ kind: root, id: userId }, day, {
    pass: 'fresh',
    window: { fromMs: dayStart, toMs: dayStart + 86_400_000 },
    runId: o.runId ?? 'fixture',
    seq: o.seq ?? seq++,
  });
  const lines = items.map((i) => (typeof i === 'string' ? i : JSON.stringify(i)));
  await writeBatch(container, name, lines, { pass: 'fresh', entitykind: root });
  return name;
}

export interface FixtureContentEntry {
  key: string;
  conversationId: string;
  messageId: string;
  kind: 'transcript' | 'transcriptMetadata' | 'recording';
  ref: 'content' | 'metadataContent';
  status: 'stored' | 'too-large' | 'forbidden' | 'missing' | 'failed';
  sha256?: string;
  contentType?: string;
  bytes?: number;
  reason?: string;
}

/** The content map (`X.content.json`) beside a meeting batch, as the content stage writes it. */
export async function writeContentMap(container: ContainerClient, batch: string, entries: readonly FixtureContentEntry[]): Promise<void> {
  await writeJson(container, contentMapName(batch), { batch, entries }, { metadata: { writer: 'content-stage' } });
}

/** Stores bytes in content/ and returns the stored entry for them. */
export async function storedEntry(
  container: ContainerClient,
  bytes: Buffer,
  contentType: string,
  e: Omit<FixtureContentEntry, 'status' | 'sha256' | 'contentType' | 'bytes'>,
): Promise<FixtureContentEntry> {
  const stored = await storeContent(container, bytes, contentType);
  return { ...e, status: 'stored', sha256: stored.sha256, contentType, bytes: bytes.length };
}

/** The meetings version key of the contract: `{meetingId}|{id}|{createdDateTime ms}|transcript|recording`. */
export function meetingVersionKey(
  item: { meetingId: string; id: string; createdDateTime: string },
  kind: 'transcript' | 'recording',
): string {
  return `${item.meetingId}|${item.id}|${Date.parse(item.createdDateTime)}|${kind}`;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function byKey<T>(items: Iterable<T>, key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
}

/**
 * Archives everything of the emulator's Copilot interactions and meeting artifacts as the contract says
 * the exporter does: one batch per user and UTC day of createdDateTime, lines exactly as Graph served
 * them, and for meetings the content map with the transcript, its metadata and the recording stored.
 */
export async function archiveEmulatorArtifacts(
  container: ContainerClient,
  emulator: Pick<Emulator, 'copilotInteractions' | 'meetingArtifacts'>,
): Promise<void> {
  for (const items of byKey(emulator.copilotInteractions(), (i) => `${i.userId}\n${utcDay(i.createdMs)}`).values()) {
    const first = items[0] as ExpectedInteraction;
    await writeArtifactBatch(
      container,
      'copilot',
      first.userId,
      utcDay(first.createdMs),
      items.sort((a, b) => a.createdMs - b.createdMs).map((i) => i.json),
    );
  }
  for (const items of byKey(emulator.meetingArtifacts(), (a) => `${a.organizerId}\n${utcDay(a.createdMs)}`).values()) {
    const first = items[0] as ExpectedMeetingArtifact;
    const batch = await writeArtifactBatch(
      container,
      'meetings',
      first.organizerId,
      utcDay(first.createdMs),
      items.map((a) => a.item),
    );
    const entries: FixtureContentEntry[] = [];
    for (const a of items) {
      const item = a.item as { meetingId: string; id: string; createdDateTime: string };
      const base = { key: meetingVersionKey(item, a.kind), conversationId: a.meetingId, messageId: a.id };
      if (!a.bytes) {
        entries.push({ ...base, kind: a.kind, ref: 'content', status: 'too-large', reason: 'larger than the cap' });
        continue;
      }
      entries.push(await storedEntry(container, a.bytes, a.contentType, { ...base, kind: a.kind, ref: 'content' }));
      if (a.metadataBytes)
        entries.push(
          await storedEntry(container, a.metadataBytes, 'text/vtt', { ...base, kind: 'transcriptMetadata', ref: 'metadataContent' }),
        );
    }
    await writeContentMap(container, batch, entries);
  }
}

/** A user's messages (as the emulator serves them now) in one batch per UTC day of lastModifiedDateTime. */
export async function archiveUserMessages(
  container: ContainerClient,
  tenant: Tenant,
  userId: string,
  keep: (m: Record<string, unknown>) => boolean = () => true,
): Promise<void> {
  const versions = tenant.currentVersions({ kind: 'user', id: userId }).filter((v) => keep(v.message));
  for (const [day, list] of byKey(versions, (v) => utcDay(v.lastModifiedMs))) {
    const dayStart = Date.parse(`${day}T00:00:00Z`);
    const name = batchBlobName({ kind: 'user', id: userId }, day, {
      pass: 'fresh',
      window: { fromMs: dayStart, toMs: dayStart + 86_400_000 },
      runId: 'fixture',
      seq: seq++,
    });
    await writeBatch(
      container,
      name,
      list.map((v) => JSON.stringify(v.message)),
      { pass: 'fresh' },
    );
  }
}

export interface ArtifactArchive {
  emulator: Emulator;
  /** A UTC day before the seeded history: it holds only the meeting and the session added here. */
  meetingDay: string;
  chatId: string;
  organizerId: string;
  /** A member of the meeting chat (not its organiser) who wrote in it that day, and asked Copilot. */
  memberId: string;
  transcript: ExpectedMeetingArtifact;
  recording: ExpectedMeetingArtifact;
  sessionId: string;
  /** An interaction with a hostile HTML body and links, in a session of its own. */
  hostileId: string;
}

export const HOSTILE_COPILOT_BODY =
  '<p>Hostile <script>alert(1)</script><img src="https://evil.example/x.png" onerror="alert(2)"><a href="javascript:alert(3)">click</a><svg onload="alert(4)"></svg><iframe src="https://evil.example/"></iframe></p>';

/**
 * An emulator tenant with one meeting chat whose meeting (organised by one member) left a transcript and
 * a recording on `meetingDay`, a message of another member in that chat that day, and that member's
 * Copilot session (Microsoft 365 Chat: a prompt, an answer with links), archived into `container` with a
 * directory snapshot, as the exporter and the daily run would have written them.
 */
export async function seedArtifactArchive(container: ContainerClient, t0: number): Promise<ArtifactArchive> {
  const emulator = await startTestEmulator({
    clock: () => t0,
    tenant: {
      seed: 23,
      users: 5,
      teams: 0,
      oneOnOneChats: 1,
      groupChats: 0,
      meetingChats: 1,
      messagesPerChat: 3,
      historyDays: 2,
      endMs: t0 - 3_600_000,
      copilotLicenseFraction: 1,
      copilotSessionsPerUser: 1,
      meetingOccurrences: 1,
      hostedContentFraction: 0,
      fileFraction: 0,
    },
  });
  const tenant = emulator.tenant;
  const meetingDay = utcDay(t0 - 6 * 86_400_000);
  const meetingAt = Date.parse(`${meetingDay}T10:00:00Z`);
  const chat = tenant.chats.find((c) => c.kind === 'meeting');
  if (!chat) throw new Error('the seed has no meeting chat');
  const added = addMeetingArtifacts(tenant, {
    chatId: chat.id,
    atMs: meetingAt,
    recording: true,
    recordingSize: 20_000,
    lines: [
      { speaker: 'Ada Speaker', text: 'We ship on Thursday.' },
      { speaker: 'Omar Speaker', text: 'I own the rollback plan & the notes.' },
      { speaker: '<img src=x onerror=alert(5)>', text: '<script>alert(6)</script>inert' },
    ],
  });
  const mine = emulator.meetingArtifacts().filter((a) => a.meetingId === added.meetingId);
  const transcript = mine.find((a) => a.id === added.transcriptId) as ExpectedMeetingArtifact;
  const recording = mine.find((a) => a.id === added.recordingId) as ExpectedMeetingArtifact;
  const organizerId = transcript.organizerId;
  const memberId = chat.memberIds.find((id) => id !== organizerId && tenant.user(id)?.hasTeamsData);
  if (!memberId) throw new Error('the meeting chat has no second member');
  tenant.postMessage({ chatId: chat.id }, { fromUserId: memberId, text: 'Notes from the sync', atMs: meetingAt + 60_000 });
  const posted = postInteraction(tenant, memberId, {
    prompt: 'Summarise the Q3 numbers',
    response: 'Q3 revenue rose by 12%.',
    appClass: 'IPM.SkypeTeams.Message.Copilot.BizChat',
    atMs: meetingAt + 3_600_000,
  });
  const hostileId = postRawInteraction(
    tenant,
    memberId,
    {
      body: { contentType: 'html', content: HOSTILE_COPILOT_BODY },
      links: [{ linkUrl: 'javascript:alert(7)', displayName: 'evil link', linkType: 'File' }],
      contexts: [{ contextReference: 'data:text/html,<script>alert(8)</script>', displayName: 'evil context', contextType: 'File' }],
    },
    { atMs: meetingAt + 7_200_000 },
  );
  await archiveEmulatorArtifacts(container, emulator);
  await archiveUserMessages(container, tenant, memberId, (m) => m.chatId === chat.id);
  await writeDirectorySnapshot(container, {
    takenAt: new Date(t0).toISOString(),
    runId: 'fixture',
    users: tenant.users.map((u) => ({ id: u.id, displayName: u.displayName, userPrincipalName: u.userPrincipalName })),
    teams: [],
    chats: tenant.chats.map((c) => ({
      id: c.id,
      chatType: c.kind,
      ...(c.topic ? { topic: c.topic } : {}),
      members: c.memberIds.map((userId) => ({ userId })),
    })),
  });
  return { emulator, meetingDay, chatId: chat.id, organizerId, memberId, transcript, recording, sessionId: posted.sessionId, hostileId };
}
