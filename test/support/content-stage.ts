// The content stage in tests (docs/design.md §17): its dependencies from a harness's deps, and a
// handoff that records batches in the backlog as the product does but only collects them, so a test
// decides when (and by which pool) they are settled.
import type { RunDeps } from '../../src/export/run-in-process';
import type { ContentHandoff } from '../../src/export/content-handoff';
import type { ContentStageDeps } from '../../src/export/content-stage';
import type { ContentConversations } from '../../src/archive/content-store';
import type { ContentBacklog } from '../../src/state/content-backlog';

export function contentStageDeps(deps: RunDeps, over: Partial<ContentStageDeps> = {}): ContentStageDeps {
  if (!deps.content || !deps.contentBacklog) throw new Error('content downloads are off in these deps');
  return {
    container: deps.container,
    content: deps.content,
    backlog: deps.contentBacklog,
    log: deps.log,
    now: deps.now ?? Date.now,
    maxAttempts: 6,
    retryMs: 3_600_000,
    ...over,
  };
}

export function collectingHandoff(
  backlog: ContentBacklog,
): ContentHandoff & { batches: string[]; conversations: Map<string, ContentConversations | undefined> } {
  const batches: string[] = [];
  /** What each batch was handed over with: its messages with content per conversation. */
  const conversations = new Map<string, ContentConversations | undefined>();
  return {
    backlog,
    batches,
    conversations,
    dispatch: (batch, _signal, hint) => {
      batches.push(batch);
      conversations.set(batch, hint);
      return Promise.resolve();
    },
  };
}
