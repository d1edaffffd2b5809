// The reads of one window, in order (docs/design.md §4, §15): each a sender filter (or none) and the
// sink its versions go to. Custodian mode: one read of everything, into the day batches. Sender mode:
// the user's own messages into the user's batches, then the messages no own-messages query of this
// run reaches, read with their own filters and stored once per chat. Sender mode's follow-up
// (`coverSenderIds`) reads only those senders' messages, stored once per chat. An open read records
// its step's index and the fingerprint of the steps' filters.
import { archiveChatVersion, nameChatVersion } from '../archive/chat-versions';
import type { ArtifactSource } from '../graph/message-export';
import type { DayBatcher, PageVersion } from './day-batcher';
import { blobIntents, type EntityJob } from './job-context';
import { othersFilters, ownMessagesFilter, senderIdFilters } from './sender-filter';
import type { PlannedChunk } from './windows';

/** Takes a page's valid versions, in order (whether each refers to content is decided by the read). */
export type VersionSink = (versions: readonly PageVersion[]) => Promise<void>;

export interface ReadStep {
  filter: string | undefined;
  /** Meetings read their transcripts, then their recordings (two collections per window). */
  source?: ArtifactSource;
  /** Whether an item (as Graph sent it) refers to content the content stage fetches. */
  refers: (raw: unknown) => boolean;
  sink: VersionSink;
}

export function readSteps(
  job: EntityJob,
  chunk: PlannedChunk,
  batcher: DayBatcher,
  quarantined: (line: string) => Promise<void>,
): ReadStep[] {
  const { req, deps } = job;
  const sender = req.entity.kind === 'user' && deps.chatMode === 'sender';
  const cover = req.coverSenderIds;
  const steps: ReadStep[] = [];
  const kind = req.entity.kind;
  // Every meeting artifact has a body to store (its VTT or MP4); a Copilot interaction's attachments and
  // links are references kept as they are (docs/design.md §18).
  const refers = (raw: unknown) =>
    job.content !== undefined && (kind === 'meetings' || (kind !== 'copilot' && deps.content?.refersToContent(raw) === true));
  const toBatches: VersionSink = async (versions) => {
    const flushed = await batcher.addPage(versions);
    if (flushed) job.tally.record(flushed);
  };
  if (kind === 'meetings') {
    return [
      { filter: undefined, source: 'transcripts', refers, sink: toBatches },
      { filter: undefined, source: 'recordings', refers, sink: toBatches },
    ];
  }
  if (!cover) steps.push({ filter: sender ? ownMessagesFilter(req.entity.id) : undefined, refers, sink: toBatches });
  if (sender || cover) {
    const filters = cover ? senderIdFilters(cover, deps.filterMaxClauses) : othersFilters(deps.otherSenderIds, deps.filterMaxClauses);
    for (const filter of filters) {
      steps.push({
        filter,
        refers,
        sink: async (versions) => {
          for (const { version, line, refersToContent } of versions) {
            // A chat id that cannot name a blob is about this one message: quarantined, never a failed job.
            // The line is the item as received (JSON.stringify of it), so this is the quarantine line of the item.
            const named = nameChatVersion(version);
            if ('problem' in named) {
              const item = line.toString('utf8', 0, line.length - 1);
              await quarantined(`{"reason":${JSON.stringify(named.problem)},"requestId":null,"item":${item}}`);
              continue;
            }
            const r = await archiveChatVersion(
              deps.container,
              version,
              line,
              named.name,
              { pass: chunk.pass, window: chunk.window, ...blobIntents(job) },
              refersToContent ? job.content : undefined,
              job.signal,
            );
            job.tally.record({ written: r.written, newVersions: r.written.length > 0 ? 1 : 0, duplicates: r.written.length > 0 ? 0 : 1 });
          }
        },
      });
    }
  }
  return steps;
}
