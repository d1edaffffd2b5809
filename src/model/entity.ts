// What the export works on: one entity is one unit of export, checkpoint, lease and job.

/**
 * What one job exports: a user's chats (`/users/{id}/chats/getAllMessages`), a team's channels
 * (`/teams/{id}/channels/getAllMessages`), a deleted team's channels while Graph still serves them
 * (`/teamwork/deletedTeams/{id}/…`), or the retained versions (edits, old deletions) of a user's chats or
 * a team's channels (`getAllRetainedMessages`, with a Teams retention policy), a user's Microsoft 365
 * Copilot interactions (`copilot`: `getAllEnterpriseInteractions`), or the transcripts and recordings of
 * the meetings a user organised (`meetings`: `getAllTranscripts`, `getAllRecordings`).
 */
export const ENTITY_KINDS = ['user', 'team', 'deletedTeam', 'userRetained', 'teamRetained', 'copilot', 'meetings'] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export interface Entity {
  kind: EntityKind;
  /** Graph object id (GUID for users and teams in a real tenant). */
  id: string;
  /** For humans only (progress, status); never used in blob names. */
  displayName?: string | undefined;
  /** A guest user (userType Guest): usually without a Teams mailbox of their own in this tenant. */
  guest?: boolean;
}

/** `user:abc`: how logs and messages name an entity. */
export function entityLabel(entity: Entity): string {
  return `${entity.kind}:${entity.id}`;
}

/** The kinds whose items are Teams chat and channel messages (the others are Copilot and meeting artifacts). */
export function isMessageKind(kind: EntityKind): kind is 'user' | 'team' | 'deletedTeam' | 'userRetained' | 'teamRetained' {
  return kind !== 'copilot' && kind !== 'meetings';
}
