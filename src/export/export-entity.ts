// Exports one entity (a user's chats, a team's channels, …): reads each planned chunk page by page,
// stores what the versions refer to, writes the day batches, and only then advances the entity's
// checkpoint (docs/design.md §4, §7).
// The caller holds the entity's lease and passes its stop signal.
import { randomBytes } from 'node:crypto';
import type { ArchiveContainer } from '../archive/archive-container';
import { LeaseLostError } from '../archive/entity-lease';
import { writeQuarantinedItem } from '../archive/quarantine';
import type { WrittenBlob } from '../archive/batch-writer';
import { writeJobManifest, writeSenderCoverManifest } from '../archive/run-files';
import { GraphError } from '../graph/graph-errors';
import type { GraphHttp } from '../graph/graph-http';
import { messagePages } from '../graph/message-export';
import { parseMessage, type MessageVersion } from '../graph/message-schema';
import { archiveChatVersion } from '../archive/chat-versions';
import type { ContentEntry, ContentFetcher } from './content-fetcher';
import { othersFilters, ownMessagesFilter, senderIdFilters } from './sender-filter';
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import type { CheckpointStore } from '../state/checkpoint-store';
import { iso } from '../time';
import { DayBatcher, type ContentTarget, type FlushResult } from './day-batcher';
import { APP_REFUSAL_REASON, emptyCounts, type JobCounts, type JobError, type JobMode, type JobResult } from '../model/job';
import type { Entity } from '../model/entity';
import type { Window } from '../model/window';
import { planBackfillChunks, planDailyChunks, splitWindow, type PlannedChunk, type Watermarks, type WindowSettings } from './windows';
import { ChunkPacer, type JobBudget, type ResumePoint } from './job-budget';

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
  /** Called after each chunk has committed, with where the job would resume from now (its progress). */
  onChunkCommitted?: (progress: ResumePoint) => Promise<void>;
}

/** A job's result; `continueAt` is set when the budget ran out first and the rest is still to read. */
export type ExportEntityResult = JobResult & { continueAt?: ResumePoint };

/**
 * Exports one entity. The caller holds the entity's lease; `signal` is the job's stop: it fires when
 * the run is aborted or the lease is lost, and is checked before every write (each blob, the
 * checkpoint), so a job that lost its entity writes nothing more.
 */
export async function exportEntity(req: ExportEntityRequest, deps: ExportEntityDeps, signal?: AbortSignal): Promise<ExportEntityResult> {
  const { entity, runId } = req;
  const log = deps.log.child({ runId, entity: `${entity.kind}:${entity.id}` });
  const counts = emptyCounts();
  const blobs: WrittenBlob[] = [];
  // Content that could not be stored, by status: the run's collection report counts it (docs/design.md §13).
  const unfetched: Record<string, number> = {};
  const withUnfetched = () => (Object.keys(unfetched).length > 0 ? { unfetched } : {});
  const writerId = `${runId}-${randomBytes(3).toString('hex')}`;
  let seq = 0;
  // What this call read, for sender mode's follow-up (docs/design.md §15): also on a continuation or a
  // failure, so the queued job's row can sum the spans of all its invocations.
  let readSpan: Window | undefined;
  try {
    const chunks = await chunkSource(req, deps);
    const pacer = new ChunkPacer(deps.windows.chunkMs, req.budget, req.resume?.chunkMs);
    // Chunks are cut one at a time, so a chunk length that shrank (job-budget.ts) applies to the next one.
    for (let chunk = chunks.next(pacer.chunkMs); chunk; chunk = chunks.next(pacer.chunkMs)) {
      signal?.throwIfAborted();
      const chunkStartedAtMs = pacer.now();
      const added = await exportChunk(chunk);
      // A lost lease stops the job here at the latest: the checkpoint must not move under another worker.
      signal?.throwIfAborted();
      if (chunk.advance.freshWatermarkMs !== undefined || chunk.advance.settledWatermarkMs !== undefined) {
        // Every blob of the chunk is committed: only now may the watermark move (forward only).
        await deps.checkpoints.advance(entity, chunk.advance, added);
      }
      chunks.committed(chunk);
      readSpan = readSpan
        ? { fromMs: Math.min(readSpan.fromMs, chunk.window.fromMs), toMs: Math.max(readSpan.toMs, chunk.window.toMs) }
        : { fromMs: chunk.window.fromMs, toMs: chunk.window.toMs };
      const { stop } = pacer.afterChunk(chunkStartedAtMs);
      const progress: ResumePoint = { ...chunks.resumeFrom(), chunkMs: pacer.chunkMs };
      await req.onChunkCommitted?.(progress);
      if (stop && chunks.next(pacer.chunkMs)) {
        log.info('job budget used; continuing in a new invocation', {
          ...(progress.fromMs !== undefined ? { resumeFrom: iso(progress.fromMs) } : {}),
          chunkMs: pacer.chunkMs,
        });
        await writeManifest('continued');
        return { entity, status: 'done', counts, readSpan: readSpan!, continueAt: progress };
      }
    }
    await writeManifest('done');
    return { entity, status: 'done', counts, ...(readSpan ? { readSpan } : {}), ...withUnfetched() };
  } catch (err) {
    // Stopped: whatever the stop interrupted (a read, a write) failed with an abort; the reason says why.
    const error = toJobError(signal?.aborted ? signal.reason : err);
    const skipped = err instanceof GraphError && err.kind === 'skip-entity';
    if (skipped) log.info('entity skipped', { status: error.status, code: error.code, requestId: error.requestId });
    else log.error('entity failed', { ...error });
    // Not after a lost lease: the worker that holds the entity now may be writing this very manifest.
    if (!(signal?.reason instanceof LeaseLostError)) {
      await writeManifest(skipped ? 'skipped' : 'failed', error).catch((e: unknown) =>
        log.warn('manifest not written', { error: errorText(e) }),
      );
    }
    return { entity, status: skipped ? 'skipped' : 'failed', counts, error, ...(readSpan ? { readSpan } : {}), ...withUnfetched() };
  }

  /** Reads one chunk to the end and commits its batches; returns the number of new versions. */
  async function exportChunk(chunk: PlannedChunk): Promise<number> {
    const before = counts.messages;
    const batcher = new DayBatcher({
      container: deps.container,
      entity,
      pass: chunk.pass,
      window: chunk.window,
      writerId,
      nextSeq: () => seq++,
      ...(signal ? { signal } : {}),
      ...(deps.content ? { contentFor: contentForLine, contentConcurrency: deps.content.jobConcurrency } : {}),
    });
    // Each quarantined item is written as soon as it is read (once per version, quarantine.ts), not
    // collected for the chunk: a chunk of garbage must not fill memory (docs/design.md §11, §14).
    const quarantine = quarantineWriter(chunk);
    const quarantined = (line: string) => quarantine.write(line);
    const sender = entity.kind === 'user' && deps.chatMode === 'sender';
    const cover = req.coverSenderIds;
    // Sender mode: the user's own messages go to the user's batches; messages no own-messages query of
    // this run reaches are read with their own filters and stored once per chat.
    if (!cover) {
      await readInParallel(chunk.window, sender ? ownMessagesFilter(entity.id) : undefined, quarantined, async (version, raw) => {
        const flushed = await batcher.add(version, deps.content?.refersToContent(raw) === true);
        if (flushed) record(flushed);
      });
    }
    if (sender || cover) {
      const filters = cover ? senderIdFilters(cover, deps.filterMaxClauses) : othersFilters(deps.otherSenderIds, deps.filterMaxClauses);
      for (const filter of filters) {
        await readInParallel(chunk.window, filter, quarantined, async (version, raw) => {
          const r = await archiveChatVersion(
            deps.container,
            version,
            { pass: chunk.pass, window: chunk.window },
            () => contentFor(version, raw),
            signal,
          );
          record({ written: r.written, newVersions: r.written.length > 0 ? 1 : 0, duplicates: r.written.length > 0 ? 0 : 1 });
        });
      }
    }
    record(await batcher.flushAll());
    quarantine.report();
    return counts.messages - before;
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
        const blob = await writeQuarantinedItem(deps.container, entity, line, metadata, signal);
        if (!blob) return;
        blobs.push(blob);
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
   * Reads a chunk as several sub-windows at once (EXPORT_READS_PER_ENTITY): Graph pages one window
   * sequentially, so an entity with a long backlog would otherwise keep a single request in flight.
   * The first failure stops the sibling reads before the error propagates, so nothing of this job is
   * still writing once it has returned.
   */
  async function readInParallel(
    window: Window,
    senderFilter: string | undefined,
    quarantined: (line: string) => Promise<void>,
    sink: (v: MessageVersion, raw: unknown) => Promise<void>,
  ): Promise<void> {
    const parts = splitWindow(window, deps.readsPerEntity ?? 1);
    if (parts.length === 1) return readPages(window, senderFilter, quarantined, sink, signal);
    const stop = new AbortController();
    const partSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const settled = await Promise.allSettled(
      parts.map((w) =>
        readPages(w, senderFilter, quarantined, sink, partSignal).catch((err: unknown) => {
          stop.abort(err);
          throw err;
        }),
      ),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw signal?.aborted ? signal.reason : failed.reason;
  }

  /** Every page of a window (optionally narrowed to some senders), each valid version handed to `sink`. */
  async function readPages(
    window: Window,
    senderFilter: string | undefined,
    quarantined: (line: string) => Promise<void>,
    sink: (v: MessageVersion, raw: unknown) => Promise<void>,
    readSignal: AbortSignal | undefined,
  ): Promise<void> {
    const pages = messagePages(deps.http, entity, window, {
      top: deps.pageSize,
      ...(readSignal ? { signal: readSignal } : {}),
      ...(senderFilter ? { senderFilter } : {}),
    });
    for await (const page of pages) {
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
        await sink(parsed.version, raw);
      }
    }
  }

  /** contentFor for a new version the batcher is about to write (it holds lines, not parsed objects). */
  function contentForLine(target: ContentTarget, line: string): Promise<ContentEntry[] | undefined> {
    return contentFor(target, JSON.parse(line));
  }

  /** Downloads (or finds already stored) what the version refers to; undefined when there is nothing. */
  async function contentFor(version: ContentTarget, raw: unknown): Promise<ContentEntry[] | undefined> {
    if (!deps.content) return undefined;
    const entries = await deps.content.fetchFor(version, raw, signal);
    for (const e of entries) if (e.status !== 'stored') unfetched[e.status] = (unfetched[e.status] ?? 0) + 1;
    return entries.length > 0 ? entries : undefined;
  }

  function record(r: FlushResult): void {
    counts.messages += r.newVersions;
    counts.duplicates += r.duplicates;
    counts.blobs += r.written.length;
    let bytes = 0;
    for (const b of r.written) bytes += b.bytes;
    counts.bytes += bytes;
    blobs.push(...r.written);
    req.onProgress?.({ messages: r.newVersions, duplicates: r.duplicates, blobs: r.written.length, bytes });
  }

  async function writeManifest(status: string, error?: JobError): Promise<void> {
    if (blobs.length === 0 && !error) return;
    const manifest = { runId, entity: { kind: entity.kind, id: entity.id }, status, counts, error, writer: writerId, blobs };
    await (req.coverSenderIds ? writeSenderCoverManifest : writeJobManifest)(deps.container, runId, entity, manifest);
  }
}

/** Hands out a job's chunks one at a time, each cut at the pace's current length. */
interface ChunkSource {
  next(chunkMs: number): PlannedChunk | undefined;
  committed(chunk: PlannedChunk): void;
  /** Backfills: the start of what is left (daily jobs resume from their checkpoint). */
  resumeFrom(): { fromMs?: number };
}

async function chunkSource(req: ExportEntityRequest, deps: ExportEntityDeps): Promise<ChunkSource> {
  const mode = req.mode;
  if (mode.kind === 'backfill') {
    // Half-open: [from, to) with everything before the recorded resume point already committed.
    let fromMs = Math.max(mode.window.fromMs, req.resume?.fromMs ?? mode.window.fromMs);
    return {
      next: (chunkMs) => (fromMs < mode.window.toMs ? planBackfillChunks({ fromMs, toMs: mode.window.toMs }, chunkMs)[0] : undefined),
      committed: (chunk) => {
        fromMs = Math.max(fromMs, chunk.window.toMs);
      },
      resumeFrom: () => ({ fromMs }),
    };
  }
  // A team deleted since the last run continues from where its live export stopped.
  const checkpoint = await deps.checkpoints.getForPlanning(req.entity);
  // The watermarks as committed so far: each next chunk is planned from them (forward only).
  let wm: Watermarks = {
    ...(checkpoint?.freshWatermarkMs !== undefined ? { freshWatermarkMs: checkpoint.freshWatermarkMs } : {}),
    ...(checkpoint?.settledWatermarkMs !== undefined ? { settledWatermarkMs: checkpoint.settledWatermarkMs } : {}),
  };
  return {
    next: (chunkMs) => planDailyChunks(wm, mode.nowMs, { ...deps.windows, chunkMs })[0],
    committed: (chunk) => {
      wm = {
        freshWatermarkMs: maxDefined(wm.freshWatermarkMs, chunk.advance.freshWatermarkMs),
        settledWatermarkMs: maxDefined(wm.settledWatermarkMs, chunk.advance.settledWatermarkMs),
      };
      for (const k of ['freshWatermarkMs', 'settledWatermarkMs'] as const) if (wm[k] === undefined) delete wm[k];
    },
    resumeFrom: () => ({}),
  };
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

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
