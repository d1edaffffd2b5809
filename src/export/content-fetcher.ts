// Downloads what one archived message version refers to (hosted contents: inline images, code
// snippets, custom emoji; and, when enabled, `reference` file attachments through the shares API),
// stores each byte string once by SHA-256 and describes every reference, so the batch can record it.

import type { ArchiveContainer } from '../archive/archive-container';
import { tmpdir } from 'node:os';
import {
  ContentSpool,
  getContentRef,
  putContentRef,
  refHash,
  safeContentType,
  storeSpooled,
  type ContentMapEntry,
  type ContentStatus,
  type SpooledContent,
} from '../archive/content-store';
import { ConversationLimiter, type KeyLimiter } from '../graph/conversation-limiter';
import { RateLimiter } from '../graph/rate-limiter';
import { ContentSlots, DEFAULT_CONTENT_JOB_CONCURRENCY } from './content-slots';
import { GraphError } from '../graph/graph-errors';
import type { GraphHttp } from '../graph/graph-http';
import { scanHostedContents } from '../graph/hosted-content-refs';
import { sharesContentPath } from '../graph/shares';
import { meetingContentRefs } from '../graph/meeting-content-refs';
import type { Entity } from '../model/entity';
import type { Logger } from '../log';
import { errorText } from '../model/errors';

/** What the fetcher records for each reference: an entry of the batch's content map. */
export type ContentEntry = ContentMapEntry;

export interface ContentFetcherOptions {
  http: GraphHttp;
  container: ArchiveContainer;
  /** Origin of GRAPH_BASE_URL: only hosted-content URLs on it are fetched with the token. */
  graphOrigin: string;
  hostedContents: boolean;
  files: boolean;
  /** Hosted contents per conversation and second (Graph allows about 1). */
  perConversationRps?: number;
  /** Larger downloads are stopped and recorded as 'too-large'. */
  maxBytes?: number;
  /** Content downloads one job runs at once (EXPORT_CONTENT_CONCURRENCY, default 4). */
  jobConcurrency?: number;
  /**
   * Content downloads the process runs at once over all its jobs (EXPORT_CONTENT_PROCESS_CONCURRENCY,
   * default 8): each holds at most `memoryBytes` in memory and, beyond that, a spool file.
   */
  processConcurrency?: number;
  /** File downloads (shares API requests) per second for the process (GRAPH_FILE_DOWNLOAD_RPS, default 2). */
  filesRps?: number;
  /** A body larger than this goes to a spool file instead of memory (default 1 MiB). */
  memoryBytes?: number;
  /** Where spool files go (default the OS temp directory). */
  spoolDir?: string;
  /**
   * Meeting transcripts and recordings (EXPORT_MEETINGS): the meetings' own budget (GRAPH_MEETING_RPS,
   * shared with their listings) and the recording size cap (EXPORT_RECORDING_MAX_BYTES).
   */
  meetings?: { limiter: KeyLimiter; recordingMaxBytes: number };
  log: Logger;
}

export interface ContentFetcherStats {
  /** Downloads that succeeded (whether or not the bytes were new to the archive). */
  downloaded: number;
  /** References answered from the index without a download. */
  reused: number;
  /** Entries that ended in any status but 'stored'. */
  failed: number;
  /** Bytes downloaded. */
  bytes: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_CONTENT_PROCESS_CONCURRENCY = 8;
export const DEFAULT_FILE_DOWNLOAD_RPS = 2;
const DEFAULT_MEMORY_BYTES = 1024 * 1024;
/** A longer file URL is no SharePoint or OneDrive address (their paths stop at 400 characters): unreadable. */
const MAX_FILE_URL = 4096;

interface Target {
  kind: ContentEntry['kind'];
  ref: string;
  name?: string;
  /** What to GET through GraphHttp. */
  url: string;
  /** Identity of the reference in the index (see refPartsFor*). */
  refHash: string;
  /** Hosted contents are paced per conversation; files go through the drive API, which is not. */
  perConversation: boolean;
  /** Meeting bodies: paced by the meetings' own budget, recordings capped by EXPORT_RECORDING_MAX_BYTES. */
  meeting?: { maxBytes?: number };
}

type Outcome = Pick<ContentEntry, 'status' | 'sha256' | 'contentType' | 'bytes' | 'reason'>;

/** One download shared by every caller that wants the same reference at the same time (see resolve). */
interface SharedDownload {
  promise: Promise<Outcome>;
  /** The download's own stop: fired only when no caller waits any more. */
  controller: AbortController;
  waiters: number;
  settled: boolean;
}

export class ContentFetcher {
  private readonly opts: ContentFetcherOptions;
  private readonly limiter: ConversationLimiter;
  private readonly maxBytes: number;
  private readonly counters: ContentFetcherStats = { downloaded: 0, reused: 0, failed: 0, bytes: 0 };
  private readonly inflight = new Map<string, SharedDownload>();
  private readonly slots: ContentSlots;
  /** SharePoint/OneDrive downloads are paced for the whole process (the shares API has no per-chat pace). */
  private readonly filesLimiter: RateLimiter;
  /** Content downloads one job runs at once (the day batcher pools its fetches with it). */
  readonly jobConcurrency: number;
  private spilled = 0;

  constructor(opts: ContentFetcherOptions) {
    this.opts = opts;
    this.limiter = new ConversationLimiter({ ratePerSec: opts.perConversationRps ?? 1 });
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.jobConcurrency = opts.jobConcurrency ?? DEFAULT_CONTENT_JOB_CONCURRENCY;
    this.slots = new ContentSlots(opts.processConcurrency ?? DEFAULT_CONTENT_PROCESS_CONCURRENCY);
    this.filesLimiter = new RateLimiter({ ratePerSec: opts.filesRps ?? DEFAULT_FILE_DOWNLOAD_RPS, burst: 1 });
  }

  /** Downloads running now and the most at once (process-wide), and bodies that went to a spool file. */
  streamStats(): { active: number; peak: number; spilled: number } {
    return { ...this.slots.stats(), spilled: this.spilled };
  }

  stats(): ContentFetcherStats {
    return { ...this.counters };
  }

  /** What this fetcher downloads (for the run's report of what is not covered). */
  kinds(): { hostedContents: boolean; files: boolean } {
    return { hostedContents: this.opts.hostedContents, files: this.opts.files };
  }

  /**
   * Whether the message refers to anything this fetcher would fetch or record: a cheap look at the
   * object Graph returned, so that the common message (plain text) costs nothing further.
   */
  refersToContent(message: unknown): boolean {
    try {
      if (this.opts.hostedContents) {
        const scan = scanHostedContents(message, this.opts.graphOrigin);
        if (scan.refs.length + scan.foreign.length + scan.otherMessage.length + scan.unreadable.length > 0) return true;
      }
      return this.opts.files && referenceAttachments(message).length > 0;
    } catch {
      // Whatever it is, fetchFor records it (as unreadable) rather than fail the entity's job.
      return true;
    }
  }

  /**
   * Everything one archived version refers to: downloaded (or found already stored) and described.
   * Never throws for a content problem, whatever the message holds: failures become entries with a
   * status and reason, so the message is still archived and its entity's job goes on (per-message
   * isolation, docs/design.md §10). Throws only when aborted.
   */
  async fetchFor(
    version: { key: string; conversationId: string; messageId: string },
    message: unknown,
    signal?: AbortSignal,
    entity?: Entity,
    /** Of its downloads' wait for a process slot: higher goes first (the content stage's busiest conversations). */
    priority = 0,
  ): Promise<ContentEntry[]> {
    try {
      if (entity?.kind === 'meetings') return await this.fetchForArtifact(entity.id, version, message, signal);
      return await this.fetchForMessage(version, message, signal, priority);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const entry = unreadableMessage(version, err);
      this.counters.failed++;
      this.opts.log.warn('content not looked at', { conversationId: version.conversationId, status: entry.status, reason: entry.reason });
      return [entry];
    }
  }

  /** A meeting artifact's bodies (docs/design.md §18), built from the organiser and the item's own ids. */
  private async fetchForArtifact(
    organizerId: string,
    version: { key: string; conversationId: string; messageId: string },
    item: unknown,
    signal: AbortSignal | undefined,
  ): Promise<ContentEntry[]> {
    const targets: Target[] = meetingContentRefs(organizerId, item).map((r) => ({
      kind: r.kind,
      ref: r.ref,
      url: r.path,
      refHash: refHash(r.refParts),
      perConversation: false,
      meeting: r.kind === 'recording' && this.opts.meetings ? { maxBytes: this.opts.meetings.recordingMaxBytes } : {},
    }));
    return this.resolveAll(version, targets, [], signal);
  }

  private async fetchForMessage(
    version: { key: string; conversationId: string; messageId: string },
    message: unknown,
    signal: AbortSignal | undefined,
    priority: number,
  ): Promise<ContentEntry[]> {
    const base = { key: version.key, conversationId: version.conversationId, messageId: version.messageId };
    const entries: ContentEntry[] = [];
    const targets: Target[] = [];

    if (this.opts.hostedContents) {
      const scan = scanHostedContents(message, this.opts.graphOrigin);
      for (const u of scan.unreadable) {
        entries.push({ ...base, kind: 'hostedContent', ref: u.url, status: 'unreadable', reason: `${u.where}: ${u.reason}` });
      }
      for (const f of scan.foreign) {
        entries.push({
          ...base,
          kind: 'hostedContent',
          ref: f.hostedContentId,
          status: 'foreign-origin',
          reason: `hosted content URL on ${originOf(f.url)}, not the Graph origin; not fetched`,
        });
      }
      for (const o of scan.otherMessage) {
        entries.push({
          ...base,
          kind: 'hostedContent',
          ref: o.hostedContentId,
          status: 'foreign',
          reason: `${o.where} link ${o.reason ?? "names another message's hosted content"}; not fetched`,
        });
      }
      for (const r of scan.refs) {
        // Built from this message's own ids (the scan's path), never the link: the link is only a hint.
        if (r.path === undefined) continue;
        targets.push({
          kind: 'hostedContent',
          ref: r.hostedContentId,
          url: r.path,
          refHash: refHash(['hostedContent', version.conversationId, version.messageId, r.hostedContentId]),
          perConversation: true,
        });
      }
    }
    if (this.opts.files) {
      for (const a of referenceAttachments(message)) {
        const entry = { ...base, kind: 'file' as const, ref: a.contentUrl, ...(a.name === undefined ? {} : { name: a.name }) };
        if (a.contentUrl.length > MAX_FILE_URL) {
          entries.push({
            ...entry,
            ref: a.contentUrl.slice(0, MAX_FILE_URL),
            status: 'unreadable',
            reason: `contentUrl longer than ${MAX_FILE_URL} characters`,
          });
          continue;
        }
        if (!isHttpUrl(a.contentUrl)) {
          entries.push({ ...entry, status: 'unreadable', reason: 'contentUrl is not an http(s) URL' });
          continue;
        }
        // The same URL can later hold other bytes, so the key is this message's attachment at this URL.
        targets.push({
          ...entry,
          url: sharesContentPath(a.contentUrl),
          refHash: refHash(['file', version.conversationId, version.messageId, a.id ?? '', a.contentUrl]),
          perConversation: false,
        });
      }
    }

    return this.resolveAll(version, targets, entries, signal, priority);
  }

  /** Resolves each target once (stored, or why not) after the entries already decided. */
  private async resolveAll(
    version: { key: string; conversationId: string; messageId: string },
    targets: readonly Target[],
    entries: ContentEntry[],
    signal?: AbortSignal,
    priority = 0,
  ): Promise<ContentEntry[]> {
    const base = { key: version.key, conversationId: version.conversationId, messageId: version.messageId };
    const seen = new Set<string>();
    for (const t of targets) {
      if (seen.has(t.refHash)) continue;
      seen.add(t.refHash);
      const outcome = await this.resolve(t, version.conversationId, signal, priority);
      entries.push({ ...base, kind: t.kind, ref: t.ref, ...(t.name === undefined ? {} : { name: t.name }), ...outcome });
    }
    for (const e of entries) if (e.status !== 'stored') this.counters.failed++;
    return entries;
  }

  /**
   * One reference, resolved once per process at a time: the members of a chat export the same message
   * concurrently, and the second should wait for the first download rather than repeat it. The shared
   * download runs under a signal of its own, not its first caller's: a caller whose job stops (a lost
   * lease, an abort) stops waiting, by its own signal only, and the others still get the result. Once no
   * caller waits any more, the download is stopped.
   */
  private resolve(t: Target, conversationId: string, signal: AbortSignal | undefined, priority: number): Promise<Outcome> {
    signal?.throwIfAborted();
    let shared = this.inflight.get(t.refHash);
    if (!shared) {
      const controller = new AbortController();
      const s: SharedDownload = { controller, waiters: 0, settled: false, promise: Promise.resolve(undefined as unknown as Outcome) };
      // resolveOnce throws only when its signal fires, and then nobody waits for it any more.
      s.promise = this.resolveOnce(t, conversationId, controller.signal, priority)
        .catch((err: unknown) => describeFailure(err))
        .finally(() => {
          s.settled = true;
          if (this.inflight.get(t.refHash) === s) this.inflight.delete(t.refHash);
        });
      this.inflight.set(t.refHash, s);
      shared = s;
    }
    return this.await(shared, t.refHash, signal);
  }

  private await(s: SharedDownload, key: string, signal: AbortSignal | undefined): Promise<Outcome> {
    s.waiters++;
    return new Promise<Outcome>((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        s.waiters--;
        if (s.waiters === 0 && !s.settled) {
          // The last one waiting has gone: stop the download, and let a later caller start afresh.
          if (this.inflight.get(key) === s) this.inflight.delete(key);
          s.controller.abort(new Error('content download stopped: no job waits for it any more'));
        }
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      void s.promise.then((outcome) => {
        if (done) return;
        done = true;
        s.waiters--;
        signal?.removeEventListener('abort', onAbort);
        resolve(outcome);
      });
    });
  }

  /** One reference: from the index if it was resolved before, else downloaded, stored and indexed. */
  private async resolveOnce(t: Target, conversationId: string, signal: AbortSignal | undefined, priority: number): Promise<Outcome> {
    try {
      const known = await getContentRef(this.opts.container, t.refHash, signal);
      if (known?.status === 'stored') {
        this.counters.reused++;
        return { status: 'stored', sha256: known.sha256, contentType: known.contentType, bytes: known.bytes };
      }
      // The conversation's pace is waited for before a slot is taken: a slot held while one busy chat
      // waits its turn would keep every other chat's download waiting too (docs/design.md §17).
      const pace = t.perConversation
        ? this.limiter.forKey(conversationId)
        : t.meeting && this.opts.meetings
          ? this.opts.meetings.limiter
          : this.filesLimiter;
      await pace.acquire(signal);
      const { stored, contentType } = await this.slots.run(() => this.download(t, pace, signal), signal, priority);
      // Only successes are indexed: a missing, forbidden or failed download is tried again next time.
      await putContentRef(
        this.opts.container,
        t.refHash,
        { sha256: stored.sha256, contentType, bytes: stored.bytes, status: 'stored' },
        signal,
      );
      return { status: 'stored', sha256: stored.sha256, contentType, bytes: stored.bytes };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const outcome = describeFailure(err);
      this.opts.log.warn('content not stored', { kind: t.kind, conversationId, status: outcome.status, reason: outcome.reason });
      return outcome;
    }
  }

  /**
   * One download streamed into a spool (memory up to memoryBytes, then a local file) while hashing, then
   * stored under its hash; the spool is removed whatever happens. Runs inside a process slot.
   */
  private async download(t: Target, pace: KeyLimiter, signal: AbortSignal | undefined) {
    let last: ContentSpool | undefined;
    const dir = this.opts.spoolDir ?? tmpdir();
    const memoryBytes = this.opts.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    try {
      const res = await this.opts.http.getToSink<SpooledContent>(t.url, {
        maxBytes: t.meeting?.maxBytes ?? this.maxBytes,
        sink: () => (last = new ContentSpool({ memoryBytes, dir })),
        ...(signal ? { signal } : {}),
        // The first attempt's turn was taken before the slot; a retry waits for another.
        limiter: afterFirst(pace),
        priority: 'low',
      });
      if (last?.spilled) this.spilled++;
      this.counters.downloaded++;
      this.counters.bytes += res.result.bytes;
      const stored = await storeSpooled(this.opts.container, res.result, res.contentType, signal);
      return { stored, contentType: safeContentType(res.contentType) };
    } finally {
      await last?.discard();
    }
  }
}

/** The one entry of a message whose content could not be looked at at all (it is archived all the same). */
export function unreadableMessage(version: { key: string; conversationId: string; messageId: string }, err: unknown): ContentEntry {
  return {
    key: version.key,
    conversationId: version.conversationId,
    messageId: version.messageId,
    kind: 'message',
    ref: version.messageId,
    status: 'unreadable',
    reason: `content not looked at: ${errorText(err)}`.slice(0, 300),
  };
}

function describeFailure(err: unknown): Outcome {
  if (err instanceof GraphError) {
    const status: ContentStatus =
      err.code === 'TooLarge' ? 'too-large' : err.status === 404 ? 'missing' : err.status === 403 ? 'forbidden' : 'failed';
    const parts = [
      err.status === undefined ? undefined : String(err.status),
      err.code,
      err.requestId ? `request-id ${err.requestId}` : undefined,
    ].filter((p) => p !== undefined);
    const reason = err.status === undefined && err.code !== 'TooLarge' ? err.message : parts.join(' ');
    return { status, reason: reason.slice(0, 300) };
  }
  // Storage failures and the like: not Graph's answer about the content, but still not worth losing the message.
  return { status: 'failed', reason: errorText(err).slice(0, 300) };
}

interface ReferenceAttachment {
  id?: string;
  contentUrl: string;
  name?: string;
}

/** `reference` attachments (SharePoint/OneDrive files) with a contentUrl. */
function referenceAttachments(message: unknown): ReferenceAttachment[] {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  if (!Array.isArray(m.attachments)) return [];
  const out: ReferenceAttachment[] = [];
  for (const a of m.attachments as unknown[]) {
    if (typeof a !== 'object' || a === null) continue;
    const { contentType, contentUrl, id, name } = a as Record<string, unknown>;
    if (contentType !== 'reference' || typeof contentUrl !== 'string' || contentUrl === '') continue;
    out.push({ contentUrl, ...(typeof id === 'string' ? { id } : {}), ...(typeof name === 'string' ? { name } : {}) });
  }
  return out;
}

/** A limiter whose first acquire is free (already taken by the caller), later ones wait as usual. */
function afterFirst(limiter: KeyLimiter): KeyLimiter {
  let first = true;
  return {
    acquire: (signal?: AbortSignal) => {
      if (!first) return limiter.acquire(signal);
      first = false;
      return Promise.resolve();
    },
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an unparsable URL';
  }
}
