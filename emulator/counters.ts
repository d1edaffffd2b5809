// Live request counters and the ledger of served version keys, so tests and benchmarks can check
// what the emulator saw and served (e.g. "every served version archived, exactly once").

export type RouteKind =
  | 'users'
  | 'teams'
  | 'chatExport'
  | 'channelExport'
  | 'token'
  | 'other'
  | 'retainedExport'
  | 'deletedTeams'
  | 'deletedUsers'
  | 'deletedTeamExport'
  | 'hostedContent'
  | 'shares'
  | 'copilotInteractions'
  | 'meetingArtifacts'
  | 'meetingContent';
export type FaultKind =
  'error' | 'reset' | 'hang' | 'malformed' | 'emptyPage' | 'outOfWindow' | 'lateHidden' | 'tokenEndpointDown' | 'forbidden';

export interface EmulatorCounters {
  /** every Graph and identity request (control requests under /_emulator/ are not counted) */
  requests: number;
  /** requests under /v1.0 only */
  graphRequests: number;
  byRoute: Record<RouteKind, number>;
  /** responses by HTTP status ('200', '429', ...) */
  byStatus: Record<string, number>;
  /** 429 answers from the rate limit */
  throttled: number;
  /** injected faults by kind (lateHidden counts versions held back by late visibility) */
  faults: Record<FaultKind, number>;
  tokensIssued: number;
  /** Graph requests that carried a valid, unexpired bearer token */
  authorizedRequests: number;
  /** requests (Graph or other) that carried any Authorization header */
  authorizationHeadersSeen: number;
  /** message pages served (chat and channel export) */
  messagePages: number;
  /** message items served, duplicates included */
  versionsServed: number;
  /** version keys (`conv|id|lastModifiedMs|etag`) served at least once */
  ledger: Set<string>;
  /** requests to the hosted-content routes (list, metadata, $value), throttled ones included */
  hostedContentRequests: number;
  /** bytes of hosted content served */
  hostedContentBytesServed: number;
  /** 429 answers from the per-chat hosted-content limit (not counted in `throttled`) */
  hostedContentThrottled: number;
  /** the same, per chat or channel id */
  hostedContentThrottledByConversation: Record<string, number>;
  /** hosted-content requests per chat or channel id named in the path (throttled ones included) */
  hostedContentRequestsByConversation: Record<string, number>;
  /** Graph shares API requests (driveItem metadata and content redirects) */
  shareRequests: number;
  /** requests to the files (SharePoint stand-in) server */
  filesRequests: number;
  /** files-server requests that carried an Authorization header: a correct client keeps this at 0 */
  filesAuthorizationHeadersSeen: number;
  /** files downloaded successfully from the files server */
  filesDownloaded: number;
  /** file downloads being served right now (from the first byte until the response ends or breaks) */
  filesInFlight: number;
  /** the most file downloads served at once (a client's download concurrency cap keeps it low) */
  filesMaxInFlight: number;
  /**
   * Export queries' first pages (one read of one window each), by `windowQueryKey`: the half-open
   * window [fromMs, toMs) the $filter asked for, per entity and API.
   */
  windowQueries: Record<string, number>;
  /** message export requests (pages included, refusals too) per exported entity id: what one entity costs */
  exportRequestsByEntity: Record<string, number>;

  // ---- Copilot interactions and meeting artifacts ----
  /** getAllEnterpriseInteractions requests (pages, refusals and 429s included) */
  copilotRequests: number;
  copilotPages: number;
  /** interactions served, duplicates included */
  copilotInteractionsServed: number;
  /** 429 answers from Copilot's own bucket (not counted in `throttled`) */
  copilotThrottled: number;
  /** interaction keys (`userId|id|etag`, copilot.ts interactionKey) served at least once */
  copilotLedger: Set<string>;
  /** transcript and recording list, delta, metadata and onlineMeeting requests (refusals and 429s included) */
  meetingRequests: number;
  transcriptPages: number;
  recordingPages: number;
  /** transcript and recording items served in lists and deltas, duplicates included */
  transcriptsServed: number;
  recordingsServed: number;
  /** `content` and `metadataContent` requests of transcripts; `content` requests of recordings */
  transcriptContentRequests: number;
  recordingContentRequests: number;
  /** bytes of transcript content and metadataContent served */
  transcriptBytesServed: number;
  /** bytes of recording content served (the large recording's too, as streamed) */
  recordingBytesServed: number;
  /** recording downloads completed */
  recordingsDownloaded: number;
  /** recording downloads being served right now, and the most at once */
  recordingsInFlight: number;
  recordingsMaxInFlight: number;
  /** 429 answers from the meeting-artifact bucket (not counted in `throttled`) */
  meetingThrottled: number;
  /** Copilot and meeting-artifact requests per user id in the path: what one user costs */
  artifactRequestsByUser: Record<string, number>;
  /**
   * The same split by route, keyed `{route}|{user id in the path}` with route `copilot` (interaction pages),
   * `meetingList` (transcript and recording lists and deltas, items, onlineMeetings) or `meetingContent`
   * (content and metadataContent): what one Copilot user and one organiser cost apart (the bench).
   */
  artifactRequestsByUserRoute: Record<string, number>;
}

/** Counts one Copilot or meeting-artifact request for the user its path names. */
export function countArtifactUser(c: EmulatorCounters, route: 'copilot' | 'meetingList' | 'meetingContent', userKey: string): void {
  c.artifactRequestsByUser[userKey] = (c.artifactRequestsByUser[userKey] ?? 0) + 1;
  const k = `${route}|${userKey}`;
  c.artifactRequestsByUserRoute[k] = (c.artifactRequestsByUserRoute[k] ?? 0) + 1;
}

/** `{current|retained} {kind}:{id} {fromMs}..{toMs}`: a window of one entity's export, as counted in windowQueries. */
export function windowQueryKey(mode: string, entity: { kind: string; id: string }, fromMs: number, toMs: number): string {
  return `${mode} ${entity.kind}:${entity.id} ${fromMs}..${toMs}`;
}

export function createCounters(): EmulatorCounters {
  return {
    requests: 0,
    graphRequests: 0,
    byRoute: {
      users: 0,
      teams: 0,
      chatExport: 0,
      channelExport: 0,
      token: 0,
      other: 0,
      retainedExport: 0,
      deletedTeams: 0,
      deletedUsers: 0,
      deletedTeamExport: 0,
      hostedContent: 0,
      shares: 0,
      copilotInteractions: 0,
      meetingArtifacts: 0,
      meetingContent: 0,
    },
    byStatus: {},
    throttled: 0,
    faults: { error: 0, reset: 0, hang: 0, malformed: 0, emptyPage: 0, outOfWindow: 0, lateHidden: 0, tokenEndpointDown: 0, forbidden: 0 },
    tokensIssued: 0,
    authorizedRequests: 0,
    authorizationHeadersSeen: 0,
    messagePages: 0,
    versionsServed: 0,
    ledger: new Set(),
    hostedContentRequests: 0,
    hostedContentBytesServed: 0,
    hostedContentThrottled: 0,
    hostedContentThrottledByConversation: {},
    hostedContentRequestsByConversation: {},
    shareRequests: 0,
    filesRequests: 0,
    filesAuthorizationHeadersSeen: 0,
    filesDownloaded: 0,
    filesInFlight: 0,
    filesMaxInFlight: 0,
    windowQueries: {},
    exportRequestsByEntity: {},
    copilotRequests: 0,
    copilotPages: 0,
    copilotInteractionsServed: 0,
    copilotThrottled: 0,
    copilotLedger: new Set(),
    meetingRequests: 0,
    transcriptPages: 0,
    recordingPages: 0,
    transcriptsServed: 0,
    recordingsServed: 0,
    transcriptContentRequests: 0,
    recordingContentRequests: 0,
    transcriptBytesServed: 0,
    recordingBytesServed: 0,
    recordingsDownloaded: 0,
    recordingsInFlight: 0,
    recordingsMaxInFlight: 0,
    meetingThrottled: 0,
    artifactRequestsByUser: {},
    artifactRequestsByUserRoute: {},
  };
}

/** Resets in place, so references handed out earlier stay live. */
export function resetCounters(c: EmulatorCounters): void {
  const fresh = createCounters();
  c.ledger.clear();
  c.copilotLedger.clear();
  // downloads still streaming keep counting themselves out
  Object.assign(c, { ...fresh, ledger: c.ledger, copilotLedger: c.copilotLedger, recordingsInFlight: c.recordingsInFlight });
}

/** A JSON-friendly copy (the ledger, the window reads and the per-entity requests only when asked: they can be large). */
export function countersToJson(c: EmulatorCounters, includeLedger: boolean, includeByEntity = false): Record<string, unknown> {
  const { ledger, windowQueries, exportRequestsByEntity, copilotLedger, artifactRequestsByUser, artifactRequestsByUserRoute, ...rest } = c;
  return {
    ...rest,
    ledgerSize: ledger.size,
    copilotLedgerSize: copilotLedger.size,
    ...(includeLedger ? { ledger: [...ledger], windowQueries, copilotLedger: [...copilotLedger] } : {}),
    ...(includeByEntity ? { exportRequestsByEntity, artifactRequestsByUser, artifactRequestsByUserRoute } : {}),
  };
}
