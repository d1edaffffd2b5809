// A production (docs/rsmf.md): RSMF 2.0 files for a time range and a selection of users, teams and
// conversations, built only from the archive. Planning checks the input and the archive's coverage
// before anything is written; running scans the archive once into per-slice spools, then builds each
// slice (de-duplicated across custodians) and ends with the production manifest.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveContainer } from '../archive/archive-container';
import { listBlobs } from '../archive/batch-reader';
import { chatVersionsPrefix } from '../archive/blob-layout';
import { findNearestDirectorySnapshot, readDirectorySnapshot, readNearestDirectorySnapshot } from '../archive/directory-snapshot';
import { isMessageKind, type Entity, type EntityKind } from '../model/entity';
import type { Checkpoint, CheckpointStore } from '../state/checkpoint-store';
import { iso, utcDay } from '../time';
import { findConversations, scanArchive, type ScanSource, type SliceKind, type SliceSpool } from './archive-scan';
import { scanCopilot, usersWithArtifacts } from './copilot-scan';
import { scanMeetingArtifacts, type MeetingArtifact } from './meeting-artifacts';
import { nameBookFrom, type NameBook } from './name-book';
import { RSMF_GENERATOR, RSMF_VERSION } from './rsmf-file';
import { buildSlice, type BuiltFile, type EventCounts } from './slice-builder';

/** A production id: letters, digits, '-' (also a valid blob folder name). */
export function newProductionId(nowMs: number): string {
  return `rsmf-${iso(nowMs)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export interface ProductionRequest {
  fromMs: number;
  toMs: number;
  users: readonly string[];
  teams: readonly string[];
  conversations: readonly string[];
  /** Produce even where the archive is not settled through `to` (the gaps are listed in the manifest). */
  allowUnsettled?: boolean;
}

/**
 * What the requester can do to have a refused production accepted. The CLI and the HTTP API each spell a
 * remedy in their own terms (the flag `--allow-unsettled`, the body field `allowUnsettled`), so every refusal
 * names the exact switch (describeInputError).
 */
export type ProductionRemedy = 'allow-unsettled' | 'export-missing-days' | 'export-first';

/** Bad input: the field it is about, what is wrong, and what would make it right (CLI exit 2, HTTP 400). */
export class ProductionInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly remedies: readonly ProductionRemedy[] = [],
  ) {
    super(message);
    this.name = 'ProductionInputError';
  }
}

/** The refusal with its remedies in the words of one front end: `message. To produce it: remedy; and remedy`. */
export function describeInputError(err: ProductionInputError, words: Readonly<Record<ProductionRemedy, string>>): string {
  return err.remedies.length === 0 ? err.message : `${err.message}. To produce it: ${err.remedies.map((r) => words[r]).join('; and ')}`;
}

export interface ProductionDeps {
  container: ArchiveContainer;
  checkpoints: CheckpointStore;
  /** EXPORT_START: nothing before it is ever archived. */
  exportStartMs: number;
}

export interface CoverageGap {
  entity: Entity;
  /** `missing`: not archived at all; `unsettled`: read once, not yet re-read after the settle period. */
  state: 'missing' | 'unsettled';
  fromDay: string;
  toDay: string;
}

export interface ProductionPlan {
  request: ProductionRequest;
  /** Where the chat and channel messages are read from. */
  sources: ScanSource[];
  /**
   * The custodians whose Copilot sessions and organised meetings are produced: every user (nothing
   * named), the named users, or none (only teams named). Copilot sessions only when no conversation is
   * named; meeting transcripts and recordings go with their meeting chats (docs/rsmf.md).
   */
  artifactOwners: 'all' | string[];
  /** Entities whose coverage was checked (with their checkpoints). */
  entities: Entity[];
  gaps: CoverageGap[];
}

const DAY_MS = 86_400_000;
/** Slices built at once (each holds one small index and one message's versions at a time). */
const PARALLEL_SLICES = 4;
const MAX_RANGE_DAYS = 366;
/** A user's entities: their chats, retained chat versions, Copilot interactions and organised meetings. */
const USER_KINDS: readonly EntityKind[] = ['user', 'userRetained', 'copilot', 'meetings'];

/** `user Ada (id): 2026-11-30..2026-12-01 unsettled`: one gap, for messages to people. */
export function describeGap(g: CoverageGap): string {
  const name = g.entity.displayName ? `${g.entity.displayName} (${g.entity.id})` : g.entity.id;
  return `${g.entity.kind} ${name}: ${g.fromDay}${g.toDay !== g.fromDay ? `..${g.toDay}` : ''} ${g.state}`;
}

/** Where an entity's archive stops being final for [fromMs, toMs), by its checkpoint. */
function gapsOf(entity: Entity, cp: Checkpoint, fromMs: number, toMs: number): CoverageGap[] {
  const settled = cp.settledWatermarkMs ?? Number.NEGATIVE_INFINITY;
  const fresh = cp.freshWatermarkMs ?? Number.NEGATIVE_INFINITY;
  const gaps: CoverageGap[] = [];
  const day = (ms: number) => utcDay(ms);
  if (settled < toMs) {
    const unsettledFrom = Math.max(fromMs, settled);
    const unsettledTo = Math.min(toMs, fresh);
    if (unsettledTo > unsettledFrom) gaps.push({ entity, state: 'unsettled', fromDay: day(unsettledFrom), toDay: day(unsettledTo - 1) });
    const missingFrom = Math.max(fromMs, fresh, settled);
    if (toMs > missingFrom) gaps.push({ entity, state: 'missing', fromDay: day(missingFrom), toDay: day(toMs - 1) });
  }
  return gaps;
}

/**
 * Checks the request against the archive and decides what to read. Throws ProductionInputError for
 * bad input (unknown ids, an empty or reversed range, a range the archive does not cover); writes nothing.
 */
export async function planProduction(req: ProductionRequest, deps: ProductionDeps, signal?: AbortSignal): Promise<ProductionPlan> {
  if (!Number.isFinite(req.fromMs)) throw new ProductionInputError('from', 'from must be an ISO-8601 instant');
  if (!Number.isFinite(req.toMs)) throw new ProductionInputError('to', 'to must be an ISO-8601 instant');
  if (req.fromMs >= req.toMs)
    throw new ProductionInputError('to', `to (${iso(req.toMs)}) must be after from (${iso(req.fromMs)}): the range is empty`);
  if (req.toMs - req.fromMs > MAX_RANGE_DAYS * DAY_MS)
    throw new ProductionInputError('to', `a production covers at most ${MAX_RANGE_DAYS} days; split the range`);
  if (req.fromMs < deps.exportStartMs)
    throw new ProductionInputError(
      'from',
      `from (${iso(req.fromMs)}) is before EXPORT_START (${iso(deps.exportStartMs)}): nothing before it is archived`,
    );
  const checkpoints: Checkpoint[] = [];
  for await (const cp of deps.checkpoints.list(signal)) checkpoints.push(cp);
  const byId = (kinds: readonly string[], id: string) => checkpoints.filter((c) => kinds.includes(c.entity.kind) && c.entity.id === id);
  const chosen: Checkpoint[] = [];
  for (const id of req.users) {
    const found = byId(USER_KINDS, id);
    if (found.length === 0) throw new ProductionInputError('user', `unknown user ${id}: no export of this user is recorded`);
    chosen.push(...found);
  }
  for (const id of req.teams) {
    const found = byId(['team', 'deletedTeam', 'teamRetained'], id);
    if (found.length === 0) throw new ProductionInputError('team', `unknown team ${id}: no export of this team is recorded`);
    chosen.push(...found);
  }
  // Conversations alone: every entity may hold them (their members and teams are read by the scan).
  const named = req.users.length > 0 || req.teams.length > 0;
  const entities = (named ? chosen : checkpoints).filter(
    (c, i, all) => all.findIndex((o) => o.entity.kind === c.entity.kind && o.entity.id === c.entity.id) === i,
  );
  // Entities Graph refused (no Teams, gone) have no watermark and nothing to archive: not a gap.
  const covered = entities.filter(
    (c) => !(c.freshWatermarkMs === undefined && c.settledWatermarkMs === undefined && c.lastStatus === 'skipped'),
  );
  const gaps = covered.flatMap((c) => gapsOf(c.entity, c, req.fromMs, req.toMs));
  const missing = gaps.filter((g) => g.state === 'missing');
  if (missing.length > 0 || (gaps.length > 0 && !req.allowUnsettled)) {
    const shown = gaps.slice(0, 20).map(describeGap).join('; ');
    // Missing days need an export (or a shorter range) whatever is allowed; unsettled ones only the switch.
    const remedies: ProductionRemedy[] = [];
    if (missing.length > 0) remedies.push('export-missing-days');
    if (gaps.length > missing.length && !req.allowUnsettled) remedies.push('allow-unsettled');
    throw new ProductionInputError(
      'to',
      `the archive does not fully cover ${iso(req.fromMs)}..${iso(req.toMs)}: ${shown}${gaps.length > 20 ? `; and ${gaps.length - 20} more` : ''}`,
      remedies,
    );
  }
  if (entities.length === 0) throw new ProductionInputError('from', 'nothing is archived yet: no export is recorded', ['export-first']);
  const sources = entities.filter((c) => isMessageKind(c.entity.kind)).map((c) => ({ entity: c.entity }));
  await checkConversations(req, sources, deps.container, signal);
  const artifactOwners = named ? [...new Set(req.users)] : 'all';
  return { request: req, sources, artifactOwners, entities: entities.map((c) => c.entity), gaps };
}

/**
 * Every named conversation must be one the archive knows, before anything is written or queued. Cheap
 * first: the directory snapshots nearest the range's first and last day (a few listings of `directory/`
 * and at most two snapshot reads), then sender mode's folder of the chat (one listing). Only an id
 * neither knows (a chat deleted or left before any snapshot, or a wrong id) costs a read of the range's
 * day batches of the selection, which stops as soon as every such id is found. A known conversation
 * with nothing in the range is found out by the production itself (runProduction).
 */
async function checkConversations(
  req: ProductionRequest,
  sources: readonly ScanSource[],
  container: ArchiveContainer,
  signal?: AbortSignal,
): Promise<void> {
  if (req.conversations.length === 0) return;
  const known = new Set<string>();
  const ends = [...new Set([utcDay(req.fromMs), utcDay(req.toMs - 1)])];
  const snapshots = new Set<string>();
  for (const day of ends) {
    const snapshot = await readNearestDirectorySnapshot(container, new Date(`${day}T12:00:00Z`), signal);
    if (!snapshot || snapshots.has(snapshot.blobName)) continue;
    snapshots.add(snapshot.blobName);
    for (const chat of snapshot.chats) known.add(chat.id);
    for (const team of snapshot.teams) for (const channel of team.channels) known.add(channel.id);
  }
  const rest = new Set<string>();
  for (const id of req.conversations) {
    if (known.has(id)) continue;
    if (!(await senderFolderHolds(container, id, signal))) rest.add(id);
  }
  if (rest.size === 0) return;
  const { found } = await findConversations(container, sources, rest, {
    fromMs: req.fromMs,
    toMs: req.toMs,
    ...(signal ? { signal } : {}),
  });
  const unknown = [...rest].filter((id) => !found.has(id));
  if (unknown.length > 0)
    throw new ProductionInputError(
      'conversation',
      `unknown conversation${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}: no directory snapshot lists ${unknown.length > 1 ? 'them' : 'it'} and nothing of ${unknown.length > 1 ? 'them' : 'it'} is archived in ${iso(req.fromMs)}..${iso(req.toMs)} for the selection`,
    );
}

/** True when sender mode's folder of this chat holds any version (one listing request). */
async function senderFolderHolds(container: ArchiveContainer, chatId: string, signal?: AbortSignal): Promise<boolean> {
  let prefix: string;
  try {
    prefix = chatVersionsPrefix(chatId);
  } catch {
    return false; // not an id Graph could have given (too long, malformed Unicode): unknown
  }
  const it = listBlobs(container, prefix, signal);
  try {
    return (await it.next()).done !== true;
  } finally {
    await it.return(undefined);
  }
}

/** The plan's gaps as the manifest and the HTTP status list them. */
export function coverageOf(plan: ProductionPlan): ProductionManifest['coverage'] {
  return { gaps: plan.gaps.map((g) => ({ kind: g.entity.kind, id: g.entity.id, state: g.state, fromDay: g.fromDay, toDay: g.toDay })) };
}

export interface ProductionFile extends BuiltFile {
  conversationId: string;
  conversationType: SliceKind;
  conversation: string;
  day: string;
  custodians: string[];
  directorySnapshot: string | null;
}

export interface ProductionManifest {
  productionId: string;
  generator: string;
  rsmfVersion: string;
  createdAt: string;
  range: { from: string; to: string };
  selection: { users: string[]; teams: string[]; conversations: string[] };
  coverage: { gaps: Array<{ kind: string; id: string; state: string; fromDay: string; toDay: string }> };
  /** Versions read of messages created before the range: they belong to the productions of their days. */
  earlierMessageVersions: number;
  totals: EventCounts & { files: number; bytes: number };
  files: ProductionFile[];
}

export interface ProductionSink {
  /** Stores one RSMF file (name relative to the production), returns its SHA-256 and size. */
  store(fileName: string, data: Readable): Promise<{ sha256: string; bytes: number }>;
  /** Stores the production manifest (`production.json`), last. */
  finish(manifest: ProductionManifest): Promise<void>;
}

export interface ProductionProgress {
  batchesRead: number;
  slices: number;
  slicesDone: number;
  events: number;
}

/** Runs a planned production; conversations named but found nowhere are bad input (nothing stored). */
export async function runProduction(
  productionId: string,
  plan: ProductionPlan,
  deps: ProductionDeps,
  sink: ProductionSink,
  opts: { signal?: AbortSignal; onProgress?: (p: ProductionProgress) => void; nowMs?: number; maxEventsPerFile?: number } = {},
): Promise<ProductionManifest> {
  const { request: req } = plan;
  const dir = mkdtempSync(join(tmpdir(), 'teams-export-rsmf-'));
  const progress: ProductionProgress = { batchesRead: 0, slices: 0, slicesDone: 0, events: 0 };
  try {
    const conversations = req.conversations.length > 0 ? new Set(req.conversations) : undefined;
    // Every archived version of the range's messages: their later edits and deletions too.
    const scanOpts = {
      fromMs: req.fromMs,
      toMs: req.toMs,
      scanUntilMs: (opts.nowMs ?? Date.now()) + DAY_MS,
      dir,
      ...(conversations ? { conversations } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onBatch: () => opts.onProgress?.({ ...progress, batchesRead: ++progress.batchesRead }),
    };
    const scan = await scanArchive(deps.container, plan.sources, scanOpts);
    // Sender mode keeps versions no exported member sent under the chat itself: read those chats too.
    const chatSources = [...scan.chatsSeen].map((chatId) => ({ chatId }));
    if (chatSources.length > 0) {
      const more = await scanArchive(deps.container, chatSources, { ...scanOpts, dir: mkdtempSync(join(dir, 'chats-')) });
      await mergeScan(scan.slices, more.slices);
      scan.earlierMessageVersions += more.earlierMessageVersions;
    }
    const artifactOpts = {
      fromMs: req.fromMs,
      toMs: req.toMs,
      dir,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onBatch: scanOpts.onBatch,
    };
    // A user's Copilot sessions: conversations of their own, produced for the users the production covers.
    if (req.conversations.length === 0 && (plan.artifactOwners === 'all' || plan.artifactOwners.length > 0)) {
      const users = plan.artifactOwners === 'all' ? await usersWithArtifacts(deps.container, 'copilot', opts.signal) : plan.artifactOwners;
      await scanCopilot(deps.container, users, scan.slices, artifactOpts);
    }
    // Meeting transcripts and recordings go with their meeting chats, whoever organised the meeting.
    const chats = [...scan.slices.values()].some((s) => s.conversationKind === 'chat');
    if (chats || plan.artifactOwners === 'all' || plan.artifactOwners.length > 0) {
      const organizers = await usersWithArtifacts(deps.container, 'meetings', opts.signal);
      const artifacts = await scanMeetingArtifacts(deps.container, organizers, artifactOpts);
      fileArtifacts(scan.slices, artifacts, {
        owners: plan.artifactOwners === 'all' ? undefined : new Set(plan.artifactOwners),
        ...(conversations ? { conversations } : {}),
        dir,
      });
    }
    for (const id of req.conversations) {
      if (![...scan.slices.values()].some((s) => s.conversationId === id)) {
        throw new ProductionInputError(
          'conversation',
          `unknown conversation ${id}: nothing of it is archived in ${iso(req.fromMs)}..${iso(req.toMs)} for the selection`,
        );
      }
    }
    const slices = [...scan.slices.values()].sort((a, b) =>
      a.day < b.day ? -1 : a.day > b.day ? 1 : a.conversationId < b.conversationId ? -1 : 1,
    );
    progress.slices = slices.length;
    const books = new NameBooks(deps.container, opts.signal);
    const files: ProductionFile[] = [];
    // A few slices at once: most conversation-days are small, and each costs a few round trips.
    let next = 0;
    const worker = async () => {
      while (next < slices.length) {
        const slice = slices[next++] as SliceSpool;
        const names = await books.forDay(slice.day);
        const built = await buildSlice(slice, {
          container: deps.container,
          names,
          tmpDir: dir,
          store: (n, d) => sink.store(n, d),
          ...(opts.maxEventsPerFile ? { maxEventsPerFile: opts.maxEventsPerFile } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        const conversation = names.conversation(slice).display;
        for (const b of built) {
          files.push({
            ...b,
            conversationId: slice.conversationId,
            conversationType: slice.conversationKind,
            conversation,
            day: slice.day,
            custodians: [...slice.custodians].sort(),
            directorySnapshot: names.source ?? null,
          });
          progress.events += b.events;
        }
        rmSync(slice.file, { force: true });
        progress.slicesDone++;
        opts.onProgress?.({ ...progress });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_SLICES, slices.length) }, worker));
    files.sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
    const sum = (k: keyof ProductionManifest['totals'] & keyof ProductionFile) => files.reduce((n, f) => n + (f[k] as number), 0);
    const manifest: ProductionManifest = {
      productionId,
      generator: RSMF_GENERATOR,
      rsmfVersion: RSMF_VERSION,
      createdAt: iso(opts.nowMs ?? Date.now()),
      range: { from: iso(req.fromMs), to: iso(req.toMs) },
      selection: { users: [...req.users], teams: [...req.teams], conversations: [...req.conversations] },
      coverage: coverageOf(plan),
      earlierMessageVersions: scan.earlierMessageVersions,
      totals: {
        files: files.length,
        events: sum('events'),
        edits: sum('edits'),
        reactions: sum('reactions'),
        attachments: sum('attachments'),
        versions: sum('versions'),
        interactions: sum('interactions'),
        transcripts: sum('transcripts'),
        recordings: sum('recordings'),
        bytes: sum('bytes'),
      },
      files,
    };
    await sink.finish(manifest);
    return manifest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Files each transcript and recording under the meeting chat its meetingId names, on the UTC day it was
 * created: into that chat-day's slice, or a new one when the chat is in the production (named, or the
 * organiser is one of its custodians) but had no message that day. A meeting whose id names no chat gets
 * a slice of its own under its organiser. The organiser is a custodian of what was read from their folder
 * when the production covers them.
 */
export function fileArtifacts(
  slices: Map<string, SliceSpool>,
  artifacts: readonly MeetingArtifact[],
  o: { owners: ReadonlySet<string> | undefined; conversations?: ReadonlySet<string>; dir: string },
): void {
  let n = 0;
  for (const a of artifacts) {
    const day = utcDay(a.createdMs);
    const owned = o.owners === undefined || o.owners.has(a.organizerId);
    const conversationId = a.threadId ?? a.meetingId;
    if (o.conversations && !o.conversations.has(conversationId)) continue;
    const key = a.threadId ? `${a.threadId}\u0000${day}` : `meeting\u0000${a.meetingId}\u0000${day}`;
    let slice = slices.get(key);
    if (!slice) {
      if (!owned && !o.conversations) continue;
      slice = {
        conversationId,
        conversationKind: a.threadId ? 'chat' : 'meeting',
        ...(a.threadId ? {} : { ownerId: a.organizerId }),
        day,
        file: join(o.dir, `meeting-${n++}.spool`),
        custodians: new Set(),
        sources: new Set(),
      };
      writeFileSync(slice.file, '');
      slices.set(key, slice);
    }
    if (owned && a.organizerId) slice.custodians.add(a.organizerId);
    (slice.artifacts ??= []).push(a);
    for (const s of a.sources) slice.sources.add(s);
  }
}

async function mergeScan(into: Map<string, SliceSpool>, more: Map<string, SliceSpool>): Promise<void> {
  for (const [key, s] of more) {
    const existing = into.get(key);
    if (!existing) {
      into.set(key, s);
      continue;
    }
    // Both spools hold versions of the same slice: the builder reads one file, so append the other.
    await pipeline(createReadStream(s.file), createWriteStream(existing.file, { flags: 'a' }));
    for (const src of s.sources) existing.sources.add(src);
  }
}

/** Name books by day, each from the snapshot nearest noon of that day; each snapshot is read once. */
class NameBooks {
  private readonly byDay = new Map<string, Promise<NameBook>>();
  private readonly bySnapshot = new Map<string, Promise<NameBook>>();
  constructor(
    private readonly container: ArchiveContainer,
    private readonly signal?: AbortSignal,
  ) {}

  forDay(day: string): Promise<NameBook> {
    let book = this.byDay.get(day);
    if (!book) {
      book = findNearestDirectorySnapshot(this.container, new Date(`${day}T12:00:00Z`), this.signal).then((name) => {
        if (name === undefined) return nameBookFrom(undefined);
        let fromSnapshot = this.bySnapshot.get(name);
        if (!fromSnapshot) {
          fromSnapshot = readDirectorySnapshot(this.container, name, this.signal).then((snapshot) =>
            nameBookFrom({ ...snapshot, blobName: name }),
          );
          this.bySnapshot.set(name, fromSnapshot);
        }
        return fromSnapshot;
      });
      this.byDay.set(day, book);
    }
    return book;
  }
}
