// A run's collection report: per kind of entity what was exported, skipped (by reason) and failed, the
// content that could not be fetched, the kinds Graph refused the app for, and what the export APIs do
// not cover with this deployment's settings. Built from the run's job rows, so the single-process run
// and the queued run report the same, and written into run.json, `teams-export status` and
// GET /api/runs/{id} (docs/design.md §13). The CLI's text of it: src/cli/report-text.ts.
import { ENTITY_KINDS, type EntityKind } from '../model/entity';
import { APP_REFUSAL_REASON, type JobStatus } from '../model/job';
import type { ContentTally } from '../state/content-backlog';
import type { JobRecord } from '../state/run-store';

/** What one kind of entity came to in a run. */
export interface KindReport {
  /** Jobs of this kind (entities planned). */
  planned: number;
  /** Jobs that ended done: everything Graph served for the entity was archived. */
  exported: number;
  /** Jobs skipped, by reason (docs/graph-errors.md; `run-failed` = not run after an app-level refusal). */
  skipped: Record<string, number>;
  /** Jobs that failed; of these, `refused` were app-level refusals. */
  failed: number;
  refused: number;
  /** Jobs still queued or running (a report of a run in progress). */
  pending: number;
}

/** Which parts of the data the deployment asks for: the inputs of the blind-spot notes. */
export interface Coverage {
  chatMode: 'custodian' | 'sender';
  retained: boolean;
  deletedTeams: boolean;
  hostedContents: boolean;
  files: boolean;
  /** EXPORT_COPILOT and EXPORT_MEETINGS (absent: off). */
  copilot?: boolean;
  meetings?: boolean;
}

export interface CollectionReport {
  kinds: Partial<Record<EntityKind, KindReport>>;
  /** Entity kinds Graph refused the app for, with the fix (the run failed). */
  refusals: Array<{ kind: EntityKind; error: string }>;
  content: ContentReport | { fetched: false; note: string };
  /** What the export APIs do not return with these settings (docs/design.md §13). */
  blindSpots: string[];
}

/**
 * What the content stage did for the batches of the run (docs/design.md §17): references stored, those
 * that could not be (by final status), and batches whose content is still being fetched or retried.
 */
export interface ContentReport {
  fetched: true;
  stored: number;
  /** References with a final status other than `stored`, by status. */
  unfetched: Record<string, number>;
  /** Batches (and their versions that refer to content) not settled yet. */
  pending: { batches: number; messages: number };
}

const emptyKind = (): KindReport => ({ planned: 0, exported: 0, skipped: {}, failed: 0, refused: 0, pending: 0 });

const PENDING: ReadonlySet<JobStatus> = new Set(['queued', 'running']);

/** The report of a run from its job rows, its refused kinds and the deployment's coverage. */
export function collectionReport(
  jobs: Iterable<JobRecord>,
  refused: Partial<Record<EntityKind, string>> | undefined,
  coverage: Coverage,
  content?: ContentTally,
): CollectionReport {
  const builder = new ReportBuilder();
  for (const job of jobs) builder.add(job);
  return builder.build(refused, coverage, content);
}

/**
 * Builds the report one job row at a time, holding only counts: a run of 100,000 jobs is reported
 * while its rows stream past, without keeping them.
 */
export class ReportBuilder {
  private readonly kinds: Partial<Record<EntityKind, KindReport>> = {};

  add(job: JobRecord): void {
    const k = (this.kinds[job.entity.kind] ??= emptyKind());
    k.planned++;
    if (job.status === 'done') k.exported++;
    else if (job.status === 'skipped') {
      // A skip recorded before reasons were (or by a path that has none) still counts, under its Graph status.
      const reason = job.error?.reason ?? (job.error?.status !== undefined ? `http-${job.error.status}` : 'unknown');
      k.skipped[reason] = (k.skipped[reason] ?? 0) + 1;
    } else if (job.status === 'failed') {
      k.failed++;
      if (job.error?.reason === APP_REFUSAL_REASON) k.refused++;
    } else if (PENDING.has(job.status)) k.pending++;
  }

  /** `content`: the run's content from the backlog (none counted yet when absent). */
  build(refused: Partial<Record<EntityKind, string>> | undefined, coverage: Coverage, content?: ContentTally): CollectionReport {
    const { kinds } = this;
    const fetched = coverage.hostedContents || coverage.files;
    return {
      kinds: Object.fromEntries(ENTITY_KINDS.filter((kind) => kinds[kind]).map((kind) => [kind, kinds[kind]])),
      refusals: ENTITY_KINDS.filter((kind) => refused?.[kind] !== undefined).map((kind) => ({ kind, error: refused![kind]! })),
      content: fetched
        ? contentReport(content)
        : {
            fetched: false,
            note: 'content downloads are off (EXPORT_HOSTED_CONTENTS, EXPORT_ATTACHMENTS): versions keep their references only',
          },
      blindSpots: blindSpots(coverage),
    };
  }
}

function contentReport(tally: ContentTally | undefined): ContentReport {
  const { stored = 0, ...unfetched } = tally?.statuses ?? {};
  return {
    fetched: true,
    stored,
    unfetched,
    pending: { batches: tally?.pendingBatches ?? 0, messages: tally?.pendingVersions ?? 0 },
  };
}

/**
 * What Graph's export APIs leave out with these settings, in words for the operator: the archive of
 * record must not imply more coverage than it has (docs/design.md §13).
 */
export function blindSpots(c: Coverage): string[] {
  const notes = ['the export APIs do not return meeting-related control messages'];
  notes.push(
    c.copilot
      ? 'Copilot interactions come from getAllEnterpriseInteractions, which does not return Copilot Studio agents (custom copilots) or users without a Microsoft 365 Copilot licence'
      : 'EXPORT_COPILOT is off: Microsoft 365 Copilot interactions are not archived',
  );
  notes.push(
    c.meetings
      ? 'meeting transcripts and recordings come from getAllTranscripts and getAllRecordings, which do not return channel meetings'
      : 'EXPORT_MEETINGS is off: meeting transcripts and recordings are not archived',
  );
  if (c.retained) {
    notes.push(
      "getAllRetainedMessages does not cover private channels: earlier edit versions and deletions older than Graph's 21 days of private-channel messages are not archived",
    );
  } else {
    notes.push("EXPORT_RETAINED is off: earlier edit versions, and deletions older than Graph's 21 days, are not archived");
  }
  if (!c.deletedTeams)
    notes.push('EXPORT_DELETED_TEAMS is off: messages of a team deleted before its last versions were read are not archived');
  if (c.chatMode === 'sender') {
    notes.push(
      "EXPORT_CHAT_MODE is sender: a chat message is archived by its sender's own job or by the others query, so a member whose own job did not succeed may be missing until a later run reads them",
    );
  }
  if (!c.hostedContents)
    notes.push('EXPORT_HOSTED_CONTENTS is off: pasted images, code snippets and custom emoji are referenced, not stored');
  if (!c.files) notes.push('EXPORT_ATTACHMENTS is off: SharePoint and OneDrive files attached to messages are referenced, not stored');
  return notes;
}
