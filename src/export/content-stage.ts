// The content stage (docs/design.md §17): settles one archived batch's content. The export wrote the
// batch and a backlog row naming it, and went on; this fetches (or finds stored) what the batch's
// versions refer to and writes the batch's content map once, when every reference has a final status.
// References that failed in a way worth retrying (a 5xx after retries, storage trouble) leave the row
// pending with a backoff; after the last attempt they are final too, with the reason.
//
// Every write here is idempotent: content blobs are named by their hash, the map is write-once (an
// existing one was written by an earlier attempt, and stands), the done row is an upsert keyed by the
// batch. So two workers settling one batch, or a crash at any call followed by another attempt, record
// it once. No lease is needed: the batch itself is write-once and never changes.
import type { ArchiveContainer } from '../archive/archive-container';
import { readBatchLines, readBlobBytes } from '../archive/batch-reader';
import { BlobAlreadyExistsError, writeJson } from '../archive/batch-writer';
import { contentMapName } from '../archive/blob-layout';
import type { ContentMapEntry } from '../archive/content-store';
import { parseItem } from '../graph/artifact-schema';
import type { Logger } from '../log';
import { statusOf } from '../model/errors';
import type { ContentBacklog, ContentObligation } from '../state/content-backlog';
import type { ContentFetcher } from './content-fetcher';
import { runPooled } from './content-slots';

export interface ContentStageDeps {
  /** The archive container, unfenced: the stage holds no entity lease (its writes are idempotent). */
  container: ArchiveContainer;
  content: ContentFetcher;
  backlog: ContentBacklog;
  log: Logger;
  now: () => number;
  /** Attempts before references that keep failing are recorded as `failed` for good (EXPORT_CONTENT_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** The first retry's delay; each later one doubles it (EXPORT_CONTENT_RETRY). */
  retryMs: number;
}

export type SettleOutcome =
  { outcome: 'settled'; statuses: Record<string, number> } | { outcome: 'retry'; dueMs: number; reason: string } | { outcome: 'gone' };

/** EXPORT_CONTENT_MAX_ATTEMPTS and EXPORT_CONTENT_RETRY's defaults: six attempts over about 31 hours. */
export const DEFAULT_CONTENT_MAX_ATTEMPTS = 6;
export const DEFAULT_CONTENT_RETRY_MS = 60 * 60 * 1000;

/** The writer named in the metadata of the maps the stage writes. */
export const CONTENT_STAGE_WRITER = 'content-stage';

/**
 * A row whose batch does not exist this long after it was recorded belongs to a write that never
 * happened (its job died or failed between the two): nothing to fetch. A live job writes its batch
 * seconds after the row.
 */
export const UNWRITTEN_BATCH_GRACE_MS = 60 * 60 * 1000;

/** Statuses worth another attempt later; every other status is Graph's final answer about the reference. */
const RETRYABLE: ReadonlySet<string> = new Set(['failed']);

/**
 * Settles the content of the batch `o` names. Throws only for storage failures of the backlog or the
 * map and when `signal` fires; the row is then still pending and the next attempt starts over (what
 * was stored meanwhile is found in the content index without a download).
 */
export async function settleBatchContent(
  deps: ContentStageDeps,
  o: ContentObligation,
  signal?: AbortSignal,
  /** The run that recorded the row has finished: a batch not there now never will be (its name is that execution's). */
  runFinished = false,
  /** A download's priority for a process slot, by its conversation (the in-process pool's busiest first). */
  priority?: (conversationId: string) => number,
): Promise<SettleOutcome> {
  const mapName = contentMapName(o.batch);
  // A map already there: an earlier attempt (or another worker) wrote it and died before the rows.
  const existing = await readMap(deps.container, mapName, signal);
  if (existing) return settled(deps, o, statusCounts(existing), signal);

  const entries = await fetchBatchContent(deps, o, signal, priority);
  if (entries === undefined) {
    if (!runFinished && deps.now() - o.createdMs < UNWRITTEN_BATCH_GRACE_MS) {
      const dueMs = deps.now() + Math.min(deps.retryMs, UNWRITTEN_BATCH_GRACE_MS);
      await deps.backlog.reschedule(o, { dueMs, lastReason: 'batch not written yet' }, signal);
      return { outcome: 'retry', dueMs, reason: 'batch not written yet' };
    }
    deps.log.warn('content backlog row dropped: its batch was never written', { batch: o.batch, runId: o.runId });
    await deps.backlog.drop(o, signal);
    return { outcome: 'gone' };
  }
  const retryable = entries.filter((e) => RETRYABLE.has(e.status));
  const attempts = o.attempts + 1;
  if (retryable.length > 0 && attempts < deps.maxAttempts) {
    const dueMs = deps.now() + deps.retryMs * 2 ** (attempts - 1);
    const reason = `${retryable.length} reference(s) to retry: ${retryable[0]!.reason ?? retryable[0]!.status}`;
    await deps.backlog.reschedule(o, { dueMs, attempts, lastReason: reason }, signal);
    deps.log.info('content to retry later', {
      batch: o.batch,
      references: retryable.length,
      attempts,
      dueAt: new Date(dueMs).toISOString(),
    });
    return { outcome: 'retry', dueMs, reason };
  }
  const final = entries.map((e) =>
    RETRYABLE.has(e.status) ? { ...e, reason: `gave up after ${attempts} attempt(s): ${e.reason ?? e.status}`.slice(0, 300) } : e,
  );
  let statuses = statusCounts(final);
  try {
    await writeJson(
      deps.container,
      mapName,
      { batch: o.batch, entries: final },
      { metadata: { writer: CONTENT_STAGE_WRITER }, ...(signal ? { signal } : {}) },
    );
  } catch (err) {
    if (!(err instanceof BlobAlreadyExistsError)) throw err;
    // Another worker settled it first: its map stands, and its counts are the ones recorded.
    const theirs = await readMap(deps.container, mapName, signal);
    if (theirs) statuses = statusCounts(theirs);
  }
  return settled(deps, o, statuses, signal);
}

async function settled(
  deps: ContentStageDeps,
  o: ContentObligation,
  statuses: Record<string, number>,
  signal: AbortSignal | undefined,
): Promise<SettleOutcome> {
  await deps.backlog.settle(o, statuses, signal);
  return { outcome: 'settled', statuses };
}

/**
 * Every content entry of the batch's versions (stored, or why not), a few references at once; undefined
 * when the batch does not exist. Per-message isolation holds here as in the export: fetchFor never
 * throws for a message's content.
 */
async function fetchBatchContent(
  deps: ContentStageDeps,
  o: ContentObligation,
  signal?: AbortSignal,
  priority?: (conversationId: string) => number,
): Promise<ContentMapEntry[] | undefined> {
  const targets: Array<{ key: string; conversationId: string; messageId: string; raw: unknown }> = [];
  try {
    for await (const line of readBatchLines(deps.container, o.batch, signal)) {
      let raw: unknown;
      try {
        raw = JSON.parse(line) as unknown;
      } catch {
        continue; // Not a version (a batch holds only parsed JSON); nothing it could refer to.
      }
      // Every meeting artifact has bodies; a message only when it refers to content (docs/design.md §18).
      const kind = o.entity.kind;
      if (kind === 'copilot' || (kind !== 'meetings' && !deps.content.refersToContent(raw))) continue;
      const parsed = parseItem(kind, raw);
      if (!parsed.ok) continue;
      const { key, conversationId, messageId } = parsed.version;
      targets.push({ key, conversationId, messageId, raw });
    }
  } catch (err) {
    if (statusOf(err) === 404 && !signal?.aborted) return undefined;
    throw err;
  }
  const results = await runPooled(targets, deps.content.jobConcurrency, (t) =>
    deps.content.fetchFor(t, t.raw, signal, o.entity, priority?.(t.conversationId)),
  );
  return results.flat();
}

async function readMap(container: ArchiveContainer, name: string, signal?: AbortSignal): Promise<ContentMapEntry[] | undefined> {
  const bytes = await readBlobBytes(container, name, signal);
  if (!bytes) return undefined;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { entries?: unknown };
    return Array.isArray(doc.entries) ? (doc.entries as ContentMapEntry[]) : [];
  } catch {
    return [];
  }
}

function statusCounts(entries: readonly ContentMapEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) out[e.status] = (out[e.status] ?? 0) + 1;
  return out;
}
