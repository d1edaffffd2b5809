// Exports one entity (a user's chats, a team's channels, …): reads each planned chunk page by page,
// stores what the versions refer to, writes the day batches, and only then advances the entity's
// checkpoint (docs/design.md §4, §7).
// The caller holds the entity's lease and passes its stop signal.
import { randomBytes } from 'node:crypto';
import type { ArchiveContainer } from '../archive/archive-container';
import { LeaseLostError } from '../archive/entity-lease';
import { writeQuarantinedItem } from '../archive/quarantine';
import { ExecutionManifest } from './execution-manifest';
import { GraphError } from '../graph/graph-errors';
import type { GraphHttp } from '../graph/graph-http';
import { messagePages } from '../graph/message-export';
import { parseMessage, type MessageVersion } from '../graph/message-schema';
import { archiveChatVersion, chatVersionNameProblem } from '../archive/chat-versions';
import { unreadableMessage, type ContentEntry, type ContentFetcher } from './content-fetcher';
import type { WrittenBlob } from '../archive/batch-writer';
import { othersFilters, ownMessagesFilter, senderIdFilters } from './sender-filter';
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import type { CheckpointStore } from '../state/checkpoint-store';
import { iso } from '../time';
import { DayBatcher, type ContentTarget, type FlushResult } from './day-batcher';
import { APP_REFUSAL_REASON, emptyCounts, type JobCounts, type JobError, type JobMode, type JobResult } from '../model/job';
import type { Entity } from '../model/entity';
import type { Window } from '../model/window';
import { splitWindow, type PlannedChunk, type Watermarks, type WindowSettings } from './windows';
import { chunkSource, laterWatermarks } from './entity-chunks';
import { ReadPacer, type JobBudget, type ResumePoint } from './job-budget';
import { splitAtSample, stepsFingerprint, storeOpenRead } from './open-read';
import type { GraphPage } from '../graph/paging';
import type { Checkpoint } from '../state/checkpoint-store';
import type { OpenRead, ReadPart } from '../model/window';

export interface ExportEntityDeps {
  http: GraphHttp;
  container: ArchiveContainer;
  checkpoints: CheckpointStore;
  log: Logger;
  pageSize: number;
  windows: WindowSettings;
  /** Downloads hosted contents and files a version refers to (EXPORT_HOSTED_CONTENTS, EXPORT_ATTACHMENTS). */
  content?: ContentFetcher;
  /** EXPORT_CHAT_MODE: custodian (default) or sender. */
  chatMode?: 'custodian' | 'sender';
  /** Sender mode: tenant members without an export of their own in this run, whose messages the others query fetches. */
  otherSenderIds?: readonly string[];
  /** GRAPH_FILTER_MAX_CLAUSES: most `or`-ed sender clauses per request; longer filters are split. */
  filterMaxClauses?: number;
  /** Sub-windows of a chunk read at once (EXPORT_READS_PER_ENTITY); 1 reads each chunk as one window. */
  readsPerEntity?: number;
  /**
   * Throws unless the caller's entity lease is surely still held: called before each checkpoint write
   * and progress record, which table storage cannot fence with the lease (docs/design.md §8).
   */
  holdsLease?: () => void;
}

export interface ExportEntityRequest {
  runId: string;
  entity: Entity;
  mode: JobMode;
  /** Called with count increments as pages are processed, for progress displays. */
  onProgress?: (delta: Partial<JobCounts>) => void;
  /**
   * Sender mode's follow-up (docs/design.md §15): read only the messages of these senders from this
   * user's chats (backfill mode, the windows the user's job read), stored once per chat. No own
   * messages, no checkpoint; the manifest goes beside the job's instead of replacing it.
   */
  coverSenderIds?: readonly string[];
  /** Where an earlier invocation of this job stopped (a continuation, or its recorded progress). */
  resume?: ResumePoint;
  /** The invocation's time budget (queue jobs); without one every chunk runs in this call. */
  budget?: JobBudget;
  /**
   * Backfills: called with where the job would resume from now (its progress), after each window has
   * committed and whenever a long read records where it stands. Daily jobs keep theirs on the checkpoint.
   */
  onChunkCommitted?: (progress: ResumePoint) => Promise<void>;
  /**
   * Called with the span of every window this call has begun to read, before the window is read (so
   * before its watermark can move): sender mode's follow-up must reread every window a job's checkpoint
   * moved past (docs/design.md §15), even when the job dies right after the move.
   */
  onReadSpan?: (span: Window) => Promise<void>;
}

/**
 * A job's result; `continueAt` is set when the budget ran out first and the rest is still to read;
 * `resultRecorded` when the job's last checkpoint write already recorded its (done) result.
 */
export type ExportEntityResult = JobResult & { continueAt?: ResumePoint; resultRecorded?: boolean };

/**
 * Exports one entity. The caller holds the entity's lease; `signal` is the job's stop: it fires when
 * the run is aborted or the lease is lost, and is checked before every write (each blob, the
 * checkpoint), so a job that lost its entity writes nothing more.
 */
export async function exportEntity(req: ExportEntityRequest, deps: ExportEntityDeps, signal?: AbortSignal): Promise<ExportEntityResult> {
  const { entity, runId } = req;
  const log = deps.log.child({ runId, entity: `${entity.kind}:${entity.id}` });
  const counts = emptyCounts();
  // Content that could not be stored, by status: the run's collection report counts it (docs/design.md §13).
  const unfetched: Record<string, number> = {};
  const withUnfetched = () => (Object.keys(unfetched).length > 0 ? { unfetched } : {});
  const writerId = `${runId}-${randomBytes(3).toString('hex')}`;
  // Every blob is named in this execution's manifest before it is written (docs/design.md §16).
  const manifest = new ExecutionManifest({
    container: deps.container,
    runId,
    entity,
    writer: writerId,
    cover: req.coverSenderIds !== undefined,
    counts: () => counts,
    signal,
  });
  let seq = 0;
  // What this call read, for sender mode's follow-up (docs/design.md §15): also on a continuation or a
  // failure, so the queued job's row can sum the spans of all its invocations.
  let readSpan: Window | undefined;
  const pacer = new ReadPacer(req.budget);
  const daily = req.mode.kind === 'daily';
  // Daily jobs: the checkpoint row as last read or written (its ETag makes each write one operation),
  // and what the job has committed but not yet written to it. A window that wrote nothing defers its
  // watermark move to the job's last write: an idle entity costs one read and one write in all.
  let known: Checkpoint | undefined;
  /** No checkpoint row when the job started: its first write creates one without reading first. */
  let knownAbsent = false;
  let pending: { advance: Watermarks; added: number } = { advance: {}, added: 0 };
  try {
    const chunks = await chunkSource(req, deps, (c) => {
      known = c;
      knownAbsent = c === undefined;
    });
    for (let chunk = chunks.next(); chunk; chunk = chunks.next()) {
      signal?.throwIfAborted();
      const blobsBefore = manifest.blobCount;
      readSpan = readSpan
        ? { fromMs: Math.min(readSpan.fromMs, chunk.window.fromMs), toMs: Math.max(readSpan.toMs, chunk.window.toMs) }
        : { fromMs: chunk.window.fromMs, toMs: chunk.window.toMs };
      await req.onReadSpan?.(readSpan);
      const outcome = await exportChunk(chunk);
      // A lost lease stops the job here at the latest: the checkpoint must not move under another worker.
      signal?.throwIfAborted();
      if (outcome.stoppedAt) {
        // The budget ran out inside the window: what it read is committed and its state recorded.
        log.info('job budget used; continuing in a new invocation', { pass: chunk.pass, parts: outcome.stoppedAt.parts.length });
        await manifest.save('continued');
        return { entity, status: 'done', counts, readSpan, continueAt: daily ? {} : { fromMs: chunk.window.fromMs } };
      }
      // Every blob of the window is committed: only now may the watermarks move (forward only).
      pending = { advance: laterWatermarks(pending.advance, chunk.advance), added: pending.added + outcome.added };
      chunks.committed(chunk);
      if (daily && (manifest.blobCount > blobsBefore || known?.readState !== undefined)) await writeCheckpoint(null);
      if (!daily) await req.onChunkCommitted?.({ ...chunks.resumeFrom() });
      if (pacer.stopDue() && chunks.next()) {
        if (daily) await writeCheckpoint(null);
        await manifest.save('continued');
        return { entity, status: 'done', counts, readSpan, continueAt: daily ? {} : { ...chunks.resumeFrom() } };
      }
    }
    if (daily) await writeCheckpoint(null, { runId, status: 'done' });
    await manifest.save('done');
    return {
      entity,
      status: 'done',
      counts,
      ...(readSpan ? { readSpan } : {}),
      ...withUnfetched(),
      ...(daily ? { resultRecorded: true } : {}),
    };
  } catch (err) {
    // Stopped: whatever the stop interrupted (a read, a write) failed with an abort; the reason says why.
    const error = toJobError(signal?.aborted ? signal.reason : err);
    const skipped = err instanceof GraphError && err.kind === 'skip-entity';
    if (skipped) log.info('entity skipped', { status: error.status, code: error.code, requestId: error.requestId });
    else log.error('entity failed', { ...error });
    // Not after a lost lease: the worker that holds the entity now may be writing this very manifest.
    if (!(signal?.reason instanceof LeaseLostError)) {
      await manifest
        .save(skipped ? 'skipped' : 'failed', error)
        .catch((e: unknown) => log.warn('manifest not written', { error: errorText(e) }));
    }
    return { entity, status: skipped ? 'skipped' : 'failed', counts, error, ...(readSpan ? { readSpan } : {}), ...withUnfetched() };
  }

  /**
   * Writes the committed watermark moves to the checkpoint with the state of the window being read
   * (`null`: none), and the job's result on its last write. Only after the data is durable.
   */
  async function writeCheckpoint(readState: string | null, result?: { runId: string; status: string }): Promise<void> {
    signal?.throwIfAborted();
    deps.holdsLease?.();
    const nothingToClear = readState === null && known?.readState === undefined;
    known = await deps.checkpoints.advance(entity, pending.advance, pending.added, {
      known,
      knownAbsent,
      ...(nothingToClear ? {} : { readState }),
      ...(result ? { result } : {}),
    });
    pending = { advance: {}, added: 0 };
    knownAbsent = false;
  }

  /** Records an unfinished window read, once everything read so far is durable. */
  async function saveRead(chunk: PlannedChunk, open: OpenRead): Promise<void> {
    deps.holdsLease?.();
    if (daily) await writeCheckpoint(storeOpenRead(open));
    else await req.onChunkCommitted?.({ fromMs: chunk.window.fromMs, read: open });
    pacer.progressSaved();
  }

  /**
   * Reads one window to the end (or until the budget stops it) and commits its batches; returns the
   * number of new versions, and where the read stands when it stopped early.
   */
  async function exportChunk(chunk: PlannedChunk): Promise<{ added: number; stoppedAt?: OpenRead }> {
    const before = counts.messages;
    const batcher = new DayBatcher({
      container: deps.container,
      entity,
      pass: chunk.pass,
      window: chunk.window,
      writerId,
      nextSeq: () => seq++,
      intents: manifest,
      ...(signal ? { signal } : {}),
      ...(deps.content ? { contentFor: contentForLine, contentConcurrency: deps.content.jobConcurrency } : {}),
    });
    // Each quarantined item is written as soon as it is read (once per version, quarantine.ts), not
    // collected for the chunk: a chunk of garbage must not fill memory (docs/design.md §11, §14).
    const quarantine = quarantineWriter(chunk);
    const quarantined = (line: string) => quarantine.write(line);
    const sender = entity.kind === 'user' && deps.chatMode === 'sender';
    const cover = req.coverSenderIds;
    // The window's reads in order. Sender mode: the user's own messages go to the user's batches;
    // messages no own-messages query of this run reaches are read with their own filters and stored
    // once per chat.
    const steps: Array<{ filter: string | undefined; sink: VersionSink }> = [];
    if (!cover) {
      steps.push({
        filter: sender ? ownMessagesFilter(entity.id) : undefined,
        sink: async (version, raw) => {
          const flushed = await batcher.add(version, deps.content?.refersToContent(raw) === true);
          if (flushed) record(flushed);
        },
      });
    }
    if (sender || cover) {
      const filters = cover ? senderIdFilters(cover, deps.filterMaxClauses) : othersFilters(deps.otherSenderIds, deps.filterMaxClauses);
      for (const filter of filters) {
        steps.push({
          filter,
          sink: async (version, raw) => {
            // A chat id that cannot name a blob is about this one message: quarantined, never a failed job.
            const problem = chatVersionNameProblem(version);
            if (problem) return quarantined(JSON.stringify({ reason: problem, requestId: null, item: raw }));
            const r = await archiveChatVersion(
              deps.container,
              version,
              { pass: chunk.pass, window: chunk.window, ...intentsOf() },
              () => contentFor(version, () => raw),
              signal,
            );
            record({
              written: r.written,
              newVersions: r.written.length > 0 ? 1 : 0,
              duplicates: r.written.length > 0 ? 0 : 1,
              ...(r.content ? { content: [...r.content] } : {}),
            });
          },
        });
      }
    }
    const fingerprint = stepsFingerprint(steps.map((s) => s.filter));
    // A recorded read of this very window and steps goes on where it stood; any other starts over.
    let resumed = chunk.read?.steps === fingerprint ? chunk.read : undefined;
    /** Makes everything read so far durable (quarantined items are written as they are read). */
    const commit = async () => {
      record(await batcher.flushAll());
    };
    for (let step = resumed?.step ?? 0; step < steps.length; step++) {
      const parts = resumed?.step === step ? resumed.parts : undefined;
      resumed = undefined;
      const state = (p: ReadPart[]): OpenRead => ({
        pass: chunk.pass,
        fromMs: chunk.window.fromMs,
        toMs: chunk.window.toMs,
        step,
        steps: fingerprint,
        parts: p,
      });
      const left = await readStep(chunk.window, steps[step]!, parts, quarantined, async (snapshot, readSignal) => {
        // A sibling part that failed stops the whole step: nothing may be recorded after it (its lost
        // buffer could lie behind the links in this snapshot). The batcher refuses too (day-batcher.ts).
        readSignal.throwIfAborted();
        await commit();
        readSignal.throwIfAborted();
        await saveRead(chunk, state(snapshot));
      });
      if (left) {
        await commit();
        const open = state(left);
        await saveRead(chunk, open);
        return { added: counts.messages - before, stoppedAt: open };
      }
      if (step + 1 < steps.length && pacer.stopDue()) {
        await commit();
        const open = state([{ fromMs: chunk.window.fromMs, toMs: chunk.window.toMs }]);
        open.step = step + 1;
        await saveRead(chunk, open);
        return { added: counts.messages - before, stoppedAt: open };
      }
    }
    await commit();
    quarantine.report();
    return { added: counts.messages - before };
  }

  /** Writes a chunk's quarantined items one by one as they come, and logs how many were new at the end. */
  function quarantineWriter(chunk: PlannedChunk): { write(line: string): Promise<void>; report(): void } {
    let seen = 0;
    let added = 0;
    const metadata = { pass: chunk.pass, windowfrom: iso(chunk.window.fromMs), windowto: iso(chunk.window.toMs) };
    return {
      async write(line) {
        seen++;
        // Once per version: an item quarantined by an earlier read is not written (or counted) again.
        const blob = await writeQuarantinedItem(deps.container, entity, line, metadata, signal, intentsOf());
        if (!blob) return;
        added++;
        counts.quarantined++;
        req.onProgress?.({ quarantined: 1 });
      },
      report() {
        if (seen === 0) return;
        log.warn('versions quarantined', { count: added, seen, pass: chunk.pass, from: metadata.windowfrom, to: metadata.windowto });
      },
    };
  }

  /**
   * Reads one step of a window (docs/design.md §4). Without a recorded state the whole window is read
   * as one: an entity with nothing in it costs one request. With EXPORT_READS_PER_ENTITY > 1 a window
   * whose first page links to more is split at the first page's timestamps into parts read at once.
   * Each part's position (its next link) is kept as pages are handed on; `checkpoint` commits and
   * records a snapshot of the unfinished parts now and then. Returns the unfinished parts when the
   * budget stopped the read, or undefined when the step is complete. The first failure stops the
   * sibling reads before the error propagates, so nothing of this job is still writing once it returns.
   */
  async function readStep(
    window: Window,
    step: { filter: string | undefined; sink: VersionSink },
    recorded: readonly ReadPart[] | undefined,
    quarantined: (line: string) => Promise<void>,
    checkpoint: (snapshot: ReadPart[], readSignal: AbortSignal) => Promise<void>,
  ): Promise<ReadPart[] | undefined> {
    let parts: ReadPart[] = recorded ? recorded.map((p) => ({ ...p })) : [{ ...window }];
    const n = deps.readsPerEntity ?? 1;
    if (!recorded && n > 1 && splitWindow(window, n).length > 1) {
      // Probe: the first page says whether the window is worth splitting, and where.
      const sample: number[] = [];
      let next: string | undefined;
      for await (const page of messagePages(deps.http, entity, window, pageOptions(step.filter, undefined, signal))) {
        await handlePage(page, step.sink, quarantined, sample);
        next = page.nextLink;
        break;
      }
      if (next === undefined) return undefined;
      parts = splitAtSample(window, sample, n);
      // Not worth splitting after all: the one read goes on from the probe's link.
      if (parts.length === 1) parts = [{ ...window, nextLink: next }];
    }
    const open = parts.map((p) => ({ ...p, done: false }));
    let stopping = false;
    const stop = new AbortController();
    const partSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const snapshot = () =>
      open.filter((p) => !p.done).map(({ fromMs, toMs, nextLink }) => ({ fromMs, toMs, ...(nextLink ? { nextLink } : {}) }));
    const readPart = async (part: (typeof open)[number]) => {
      const w = { fromMs: part.fromMs, toMs: part.toMs };
      for await (const page of messagePages(deps.http, entity, w, pageOptions(step.filter, part.nextLink, partSignal))) {
        await handlePage(page, step.sink, quarantined);
        // Everything up to this page has been handed on: a resumed read goes on from its link.
        if (page.nextLink === undefined) part.done = true;
        else part.nextLink = page.nextLink;
        if (!part.done && pacer.progressDue()) {
          pacer.progressSaved(); // claimed here, so sibling parts do not record the same progress
          await checkpoint(snapshot(), partSignal);
        }
        if (stopping || pacer.stopDue()) {
          stopping = true;
          return;
        }
      }
      part.done = true;
    };
    const settled = await Promise.allSettled(
      open.map((p) =>
        readPart(p).catch((err: unknown) => {
          stop.abort(err);
          throw err;
        }),
      ),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw signal?.aborted ? signal.reason : failed.reason;
    const left = snapshot();
    return left.length > 0 ? left : undefined;
  }

  function pageOptions(senderFilter: string | undefined, resumeAt: string | undefined, readSignal: AbortSignal | undefined) {
    return {
      top: deps.pageSize,
      ...(readSignal ? { signal: readSignal } : {}),
      ...(senderFilter !== undefined ? { senderFilter } : {}),
      ...(resumeAt !== undefined ? { resumeAt } : {}),
    };
  }

  /** Hands each valid version of a page to `sink`; invalid ones go to quarantine. */
  async function handlePage(
    page: GraphPage,
    sink: VersionSink,
    quarantined: (line: string) => Promise<void>,
    sample?: number[],
  ): Promise<void> {
    counts.pages++;
    counts.received += page.items.length;
    req.onProgress?.({ pages: 1, received: page.items.length });
    for (const raw of page.items) {
      const parsed = parseMessage(raw);
      if (!parsed.ok) {
        // Never dropped silently: kept with the reason in quarantine/ and counted.
        await quarantined(JSON.stringify({ reason: parsed.reason, requestId: page.requestId ?? null, item: raw }));
        continue;
      }
      sample?.push(parsed.version.bucketMs);
      await sink(parsed.version, raw);
    }
  }

  /** contentFor for a new version the batcher is about to write (it holds lines, not parsed objects). */
  function contentForLine(target: ContentTarget, line: string): Promise<ContentEntry[] | undefined> {
    return contentFor(target, () => JSON.parse(line) as unknown);
  }

  /**
   * Downloads (or finds already stored) what the version refers to; undefined when there is nothing.
   * Per-message isolation (docs/design.md §10): nothing about one message fails the job; what could not
   * be looked at becomes an `unreadable` entry. Only an abort (the job's stop) goes through.
   */
  async function contentFor(version: ContentTarget, raw: () => unknown): Promise<ContentEntry[] | undefined> {
    if (!deps.content) return undefined;
    let entries: ContentEntry[];
    try {
      entries = await deps.content.fetchFor(version, raw(), signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      entries = [unreadableMessage(version, err)];
    }
    return entries.length > 0 ? entries : undefined;
  }

  function record(r: FlushResult): void {
    // Content the report counts as not stored: only entries whose batch was written, so a write that
    // failed (its versions fetched again by the next attempt) is not counted twice.
    for (const e of (r.content ?? []) as ContentEntry[]) if (e.status !== 'stored') unfetched[e.status] = (unfetched[e.status] ?? 0) + 1;
    counts.messages += r.newVersions;
    counts.duplicates += r.duplicates;
    counts.blobs += r.written.length;
    let bytes = 0;
    for (const b of r.written) bytes += b.bytes;
    counts.bytes += bytes;
    req.onProgress?.({ messages: r.newVersions, duplicates: r.duplicates, blobs: r.written.length, bytes });
  }

  /** How a single-blob write (a quarantined item, a chat version) declares itself in the manifest first. */
  function intentsOf() {
    return {
      declare: (names: readonly string[]) => manifest.declare(names),
      settle: (names: readonly string[], written: readonly WrittenBlob[]) => manifest.settle(names, written),
      writer: writerId,
    };
  }
}

type VersionSink = (v: MessageVersion, raw: unknown) => Promise<void>;

export function toJobError(err: unknown): JobError {
  if (err instanceof GraphError) {
    return {
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.code !== undefined ? { code: err.code } : {}),
      ...(err.requestId !== undefined ? { requestId: err.requestId } : {}),
      message: err.message,
      retryable: err.kind === 'retryable',
      ...(err.kind === 'skip-entity' && err.reason !== undefined ? { reason: err.reason } : {}),
      ...(err.kind === 'app-refusal' ? { reason: APP_REFUSAL_REASON, ...(err.fix !== undefined ? { fix: err.fix } : {}) } : {}),
    };
  }
  // Anything else (storage unavailable, an abort, a lost lease) leaves the checkpoint where it was,
  // so trying again later is safe.
  if (err instanceof Error) return { code: err.name === 'AbortError' ? 'Aborted' : err.name, message: err.message, retryable: true };
  return { message: errorText(err) };
}
