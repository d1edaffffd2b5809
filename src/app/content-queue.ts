// The content stage in the Functions app (docs/design.md §17): an entity job records each batch whose
// versions refer to content in the backlog, writes the batch, and sends one message of the content
// queue naming it; the content worker (functions/content-worker.ts) settles it, on instances of its
// own, within the process's Graph budget at a lower priority than export pages. A retry waits in the
// queue (a delayed message); a message that is lost, or ends on the poison queue, leaves its row
// pending, and the sweep sends it again once it is overdue.
import { CONTENT_CLAIM_MS, type ContentHandoff } from '../export/content-handoff';
import { DEFAULT_CONTENT_MAX_ATTEMPTS, DEFAULT_CONTENT_RETRY_MS, settleBatchContent, type SettleOutcome } from '../export/content-stage';
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import type { ContentBacklog } from '../state/content-backlog';
import type { AppContext } from './app-context';
import { decodeContentMessage } from './job-message';
import type { JobQueue } from './job-queue';

/** How overdue a pending row must be before the sweep re-sends it while the content queue is busy. */
const BUSY_QUEUE_GRACE_MS = 24 * 3600 * 1000;

/** Longest delay a queue message can be hidden (7 days): a later retry is re-sent when this one comes. */
const MAX_DELAY_MS = 7 * 24 * 3600 * 1000;

/** The handoff of a queued job's batches, or undefined when content downloads are off. */
export function queuedContentHandoff(ctx: AppContext): ContentHandoff | undefined {
  const backlog = ctx.deps.contentBacklog;
  if (!ctx.deps.content || !backlog) return undefined;
  return {
    backlog,
    dispatch: (batch, signal) => ctx.contentQueue.send({ type: 'content', batch }, signal ? { signal } : {}),
  };
}

/** `{ contentStage }` for a queued job's deps (nothing when content downloads are off). */
export function contentStageOf(ctx: AppContext): { contentStage?: ContentHandoff } {
  const contentStage = queuedContentHandoff(ctx);
  return contentStage ? { contentStage } : {};
}

export type ContentMessageOutcome = SettleOutcome['outcome'] | 'already-settled' | 'content-off' | 'not-due';

/** Runs one message of the content queue. Storage failures are thrown: the host redelivers the message. */
export async function runContentMessage(
  ctx: AppContext,
  item: unknown,
  log: Logger,
  signal?: AbortSignal,
): Promise<{ batch: string; outcome: ContentMessageOutcome }> {
  const { batch } = decodeContentMessage(item);
  const { deps, clock } = ctx;
  const { content, contentBacklog: backlog } = deps;
  // Content downloads switched off since the message was sent: the row waits for them to come back on.
  if (!content || !backlog) return { batch, outcome: 'content-off' };
  const o = await backlog.get(batch, signal);
  if (!o) return { batch, outcome: 'already-settled' };
  // A row waiting for its retry has a message hidden until then: this one is a duplicate (a sweep's, a
  // redelivery), and running it now would spend an attempt early.
  if (o.attempts > 0 && o.dueMs > clock.now()) return { batch, outcome: 'not-due' };
  const r = await settleBatchContent(
    {
      container: deps.container,
      content,
      backlog,
      log,
      now: () => clock.now(),
      maxAttempts: deps.contentRetry?.maxAttempts ?? DEFAULT_CONTENT_MAX_ATTEMPTS,
      retryMs: deps.contentRetry?.retryMs ?? DEFAULT_CONTENT_RETRY_MS,
    },
    o,
    signal,
  );
  if (r.outcome === 'retry') {
    // The retry waits in the queue; the row's due time says when the sweep may take it as lost.
    const delayMs = Math.max(0, Math.min(MAX_DELAY_MS, r.dueMs - clock.now()));
    await ctx.contentQueue.send({ type: 'content', batch }, { delaySec: delayMs / 1000, ...(signal ? { signal } : {}) });
  }
  return { batch, outcome: r.outcome };
}

/**
 * The sweep's part (docs/design.md §16): a row still pending CONTENT_CLAIM_MS after it came due lost
 * its message (a crash between the batch write and the send, a poisoned message): it is claimed (its
 * due time moved, conditional on its ETag, so two sweeps do not both send) and sent again. While the
 * content queue still holds messages, a pending row is most likely waiting in it (a long first run
 * keeps the queue deep for hours), so only rows overdue by a day are sent again then.
 */
export async function resendOverdueContent(ctx: Pick<AppContext, 'deps' | 'clock' | 'contentQueue'>, log: Logger): Promise<number> {
  const backlog: ContentBacklog | undefined = ctx.deps.contentBacklog;
  if (!ctx.deps.content || !backlog) return 0;
  const now = ctx.clock.now();
  const grace = (await ctx.contentQueue.approximateCount()) > 0 ? BUSY_QUEUE_GRACE_MS : CONTENT_CLAIM_MS;
  let resent = 0;
  for await (const o of backlog.pending()) {
    if (o.dueMs + grace > now) continue;
    try {
      if (!(await backlog.reschedule(o, { dueMs: now }))) continue;
      await sendContent(ctx.contentQueue, o.batch);
      resent++;
    } catch (err) {
      log.warn('sweep: content message not sent again', { batch: o.batch, error: errorText(err) });
    }
  }
  if (resent > 0) log.warn('sweep: content messages sent again', { batches: resent });
  return resent;
}

function sendContent(queue: JobQueue, batch: string): Promise<void> {
  return queue.send({ type: 'content', batch });
}
