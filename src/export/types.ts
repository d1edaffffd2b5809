// The vocabulary of the export domain: entities, windows, passes, jobs and their results.

/**
 * What one job exports: a user's chats (`/users/{id}/chats/getAllMessages`), a team's channels
 * (`/teams/{id}/channels/getAllMessages`), a deleted team's channels while Graph still serves them
 * (`/teamwork/deletedTeams/{id}/…`), or the retained versions (edits, old deletions) of a user's chats or
 * a team's channels (`getAllRetainedMessages`, with a Teams retention policy).
 */
export const ENTITY_KINDS = ['user', 'team', 'deletedTeam', 'userRetained', 'teamRetained'] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export interface Entity {
  kind: EntityKind;
  /** Graph object id (GUID for users and teams in a real tenant). */
  id: string;
  /** For humans only (progress, status); never used in blob names. */
  displayName?: string;
  /** A guest user (userType Guest): usually without a Teams mailbox of their own in this tenant. */
  guest?: boolean;
}

/** Half-open window [fromMs, toMs) over lastModifiedDateTime, in epoch ms. */
export interface Window {
  fromMs: number;
  toMs: number;
}

/** fresh/settle are the daily passes (docs/design.md §4); backfill is an operator-chosen range. */
export type PassName = 'fresh' | 'settle' | 'backfill';

/** Graph failure details recorded on job rows and in status output. */
export interface JobError {
  status?: number;
  code?: string;
  requestId?: string;
  message: string;
  /** True when trying again later may succeed (throttling, 5xx, network, storage, a busy entity). */
  retryable?: boolean;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'skipped' | 'failed';

export interface JobCounts {
  /** Versions received from Graph (including ones already archived). */
  received: number;
  /** New versions written to batches. */
  messages: number;
  /** Versions already archived (re-reads, settle pass, overlaps). */
  duplicates: number;
  /** Versions that failed validation and went to quarantine/. */
  quarantined: number;
  blobs: number;
  bytes: number;
  pages: number;
}

export interface JobResult {
  entity: Entity;
  status: 'done' | 'skipped' | 'failed';
  counts: JobCounts;
  error?: JobError;
}

export const emptyCounts = (): JobCounts => ({ received: 0, messages: 0, duplicates: 0, quarantined: 0, blobs: 0, bytes: 0, pages: 0 });
