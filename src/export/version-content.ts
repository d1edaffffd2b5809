// The content a version refers to (hosted contents and files: EXPORT_HOSTED_CONTENTS,
// EXPORT_ATTACHMENTS), downloaded or found already stored. Per-message isolation (docs/design.md
// §10): nothing about one message fails the job; what could not be looked at becomes an `unreadable`
// entry. Only an abort (the job's stop) goes through.
import { unreadableMessage, type ContentEntry } from './content-fetcher';
import type { ContentTarget } from './day-batcher';
import type { EntityJob } from './job-context';

/** What the version refers to; undefined when there is nothing (or no content is exported). */
export async function contentFor(job: EntityJob, version: ContentTarget, raw: () => unknown): Promise<ContentEntry[] | undefined> {
  const { content } = job.deps;
  if (!content) return undefined;
  let entries: ContentEntry[];
  try {
    entries = await content.fetchFor(version, raw(), job.signal);
  } catch (err) {
    if (job.signal?.aborted) throw job.signal.reason;
    entries = [unreadableMessage(version, err)];
  }
  return entries.length > 0 ? entries : undefined;
}

/** contentFor for a new version the batcher is about to write (it holds lines, not parsed objects). */
export function contentForLine(job: EntityJob): (target: ContentTarget, line: string) => Promise<ContentEntry[] | undefined> {
  return (target, line) => contentFor(job, target, () => JSON.parse(line) as unknown);
}
