// How an entity job hands the content of its batches to the content stage (docs/design.md §17): the
// batch is recorded in the content backlog before it is written (so a crash right after the write
// forgets nothing), and dispatched after: to the in-process pool (content-pool.ts) or, in the Functions
// app, as a message of the content queue. Both take the row from the backlog when they start, so a
// dispatch that is lost (a crash before it) only delays the work: the row comes due and is taken again.
import type { BatchContentHandoff, ContentConversations } from '../archive/content-store';
import type { Entity } from '../model/entity';
import type { ContentBacklog } from '../state/content-backlog';

/**
 * A recorded row is due this long after it was written: by then its dispatch should have started it,
 * so a row still pending is one whose dispatch was lost, and the sweep (or the next in-process run)
 * dispatches it again.
 */
export const CONTENT_CLAIM_MS = 15 * 60 * 1000;

export interface ContentHandoff {
  readonly backlog: ContentBacklog;
  /**
   * Starts the stage's work on a recorded, written batch. `conversations` (its messages with content per
   * chat or channel) lets the in-process pool serve the busiest conversations first; the queue ignores it.
   */
  dispatch(batch: string, signal?: AbortSignal, conversations?: ContentConversations): Promise<void>;
}

/** The handoff of one job's batches: `record` with the job's run and entity, then `dispatch`. */
export function batchHandoff(
  handoff: ContentHandoff,
  job: { runId: string; entity: Entity; now: () => number; signal?: AbortSignal | undefined },
): BatchContentHandoff {
  const { signal } = job;
  return {
    record: (batch, versions) => {
      const createdMs = job.now();
      return handoff.backlog.record(
        {
          batch,
          runId: job.runId,
          entity: { kind: job.entity.kind, id: job.entity.id },
          versions,
          createdMs,
          dueMs: createdMs + CONTENT_CLAIM_MS,
        },
        signal,
      );
    },
    written: (batch, conversations) => handoff.dispatch(batch, signal, conversations),
  };
}
