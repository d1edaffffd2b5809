// The Graph error shapes the emulator answers with: the same table as docs/graph-errors.md (a unit test
// keeps the two in step and checks the product classifies each shape as the table says). `{id}` in a
// message is replaced by the entity id.

export interface ErrorShape {
  status: number;
  code: string;
  message: string;
  /** What the exporter must make of it: retryable, skip-entity (reason), app-refusal, fatal, restart-read. */
  classification: string;
}

export const ERROR_SHAPES = {
  missingChatRole: {
    status: 403,
    code: 'Forbidden',
    message:
      "Missing role permissions on the request. API requires one of 'Chat.Read.All, Chat.ReadWrite.All'. Roles on the request 'User.Read.All, ChannelMessage.Read.All'.",
    classification: 'app-refusal',
  },
  missingChannelRole: {
    status: 403,
    code: 'Forbidden',
    message:
      "Missing role permissions on the request. API requires one of 'ChannelMessage.Read.All'. Roles on the request 'User.Read.All, Chat.Read.All'.",
    classification: 'app-refusal',
  },
  protectedApi: {
    status: 403,
    code: 'Forbidden',
    message: 'Invoked API requires Protected API access in application-only context when not using Resource Specific Consent.',
    classification: 'app-refusal',
  },
  directoryDenied: {
    status: 403,
    code: 'Authorization_RequestDenied',
    message: 'Insufficient privileges to complete the operation.',
    classification: 'app-refusal',
  },
  apiNotSupported: {
    status: 404,
    code: 'NotFound',
    message: 'Requested API is not supported. Please check the path.',
    classification: 'app-refusal',
  },
  retainedWithoutPolicy: {
    status: 403,
    code: 'Forbidden',
    message: 'getAllRetainedMessages requires a Microsoft Teams retention policy or hold that applies to this resource.',
    classification: 'app-refusal',
  },
  noLicence: {
    status: 403,
    code: 'Forbidden',
    message: 'Failed to get license information for the user. Ensure user has a valid Office365 license assigned to them.',
    classification: 'skip-entity no-teams-licence',
  },
  mailboxNotEnabled: {
    status: 400,
    code: 'MailboxNotEnabledForRESTAPI',
    message: 'REST API is not yet supported for this mailbox.',
    classification: 'skip-entity no-mailbox',
  },
  invalidUser: {
    status: 400,
    code: 'ErrorInvalidUser',
    message: "The requested user '{id}' is invalid.",
    classification: 'skip-entity invalid-user',
  },
  userWithoutData: {
    status: 404,
    code: 'ResourceNotFound',
    message: "The user '{id}' has no Teams messages data (no mailbox).",
    classification: 'skip-entity entity-gone',
  },
  userGone: {
    status: 404,
    code: 'Request_ResourceNotFound',
    message: "Resource '{id}' does not exist or one of its queried reference-property objects are not present.",
    classification: 'skip-entity entity-gone',
  },
  teamGone: { status: 404, code: 'NotFound', message: 'No team found with Group Id {id}', classification: 'skip-entity entity-gone' },
  invalidContinuationToken: { status: 400, code: 'BadRequest', message: 'Invalid continuation token', classification: 'restart-read' },
  filterTooComplex: {
    status: 400,
    code: 'BadRequest',
    message:
      "The query specified in the URI is not valid. The node count limit of '100' has been exceeded. To increase the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or ODataValidationSettings.",
    classification: 'fatal',
  },
  badFilter: { status: 400, code: 'BadRequest', message: 'Invalid $filter query', classification: 'fatal' },
  expiredToken: {
    status: 401,
    code: 'InvalidAuthenticationToken',
    message: 'Lifetime validation failed, the token is expired or invalid.',
    classification: 'fatal',
  },
  throttled: { status: 429, code: 'TooManyRequests', message: 'Please retry again later.', classification: 'retryable' },
  serviceUnavailable: {
    status: 503,
    code: 'serviceNotAvailable',
    message: 'The service is temporarily unavailable.',
    classification: 'retryable',
  },
} as const satisfies Record<string, ErrorShape>;

export type ErrorShapeName = keyof typeof ERROR_SHAPES;

export function isErrorShapeName(name: unknown): name is ErrorShapeName {
  return typeof name === 'string' && Object.hasOwn(ERROR_SHAPES, name);
}

/** The shape with `{id}` filled in. */
export function errorShape(name: ErrorShapeName, id = ''): { status: number; code: string; message: string } {
  const s: ErrorShape = ERROR_SHAPES[name];
  return { status: s.status, code: s.code, message: s.message.replace('{id}', id) };
}

/**
 * The shapes of the Copilot interaction and meeting-artifact routes (copilot.ts, meetings.ts). A table of
 * their own: ERROR_SHAPES is pinned to docs/graph-errors.md and to the product's classifier, which do not
 * know these APIs yet (emulator/README.md, "Copilot interactions and meeting artifacts", says which
 * shapes Microsoft documents and which the emulator chose). `{id}` is the user named in the request path,
 * `{roles}` the roles the app holds (faults missingRoles). `innerCode` goes in `error.innerError.code`.
 */
export const ARTIFACT_ERROR_SHAPES = {
  missingCopilotRole: {
    status: 403,
    code: 'Forbidden',
    message:
      "Missing role permissions on the request. API requires one of 'AiEnterpriseInteraction.Read.All'. Roles on the request '{roles}'.",
    classification: 'app-refusal',
  },
  missingTranscriptRole: {
    status: 403,
    code: 'Forbidden',
    message:
      "Missing role permissions on the request. API requires one of 'OnlineMeetingTranscript.Read.All'. Roles on the request '{roles}'.",
    classification: 'app-refusal',
  },
  missingRecordingRole: {
    status: 403,
    code: 'Forbidden',
    message:
      "Missing role permissions on the request. API requires one of 'OnlineMeetingRecording.Read.All'. Roles on the request '{roles}'.",
    classification: 'app-refusal',
  },
  missingMeetingRole: {
    status: 403,
    code: 'Forbidden',
    message:
      "Missing role permissions on the request. API requires one of 'OnlineMeetings.Read.All, OnlineMeetings.ReadWrite.All'. Roles on the request '{roles}'.",
    classification: 'app-refusal',
  },
  noCopilotLicence: {
    status: 403,
    code: 'Forbidden',
    message: 'Failed to get license information for the user. Ensure user has a valid Microsoft 365 Copilot license assigned to them.',
    classification: 'skip-entity no-copilot-licence',
  },
  noAccessPolicy: {
    status: 403,
    code: 'Forbidden',
    message:
      "Application is not allowed to perform operations on the user '{id}', neither is allowed access through RSC permission evaluation.",
    classification: 'app-refusal',
  },
  transcriptsDisabled: {
    status: 403,
    code: 'Forbidden',
    innerCode: 'GraphAccessToTranscriptsDisabled',
    message: 'Microsoft Graph access to meeting transcripts is disabled by the tenant administrator.',
    classification: 'app-refusal',
  },
  speakerAttributionNotAllowed: {
    status: 403,
    code: 'Forbidden',
    innerCode: 'SpeakerAttributionNotAllowed',
    message: 'Transcripts with speaker attribution are not allowed by the tenant administrator. Request the transcript without a format.',
    classification: 'fatal',
  },
  organizerRequired: {
    status: 400,
    code: 'BadRequest',
    message: "The function parameter 'meetingOrganizerUserId' (or a $filter on MeetingOrganizer/User/Id) is required.",
    classification: 'fatal',
  },
  artifactNotFound: {
    status: 404,
    code: 'NotFound',
    message: 'The requested resource was not found.',
    classification: 'skip-entity entity-gone',
  },
} as const satisfies Record<string, ErrorShape & { innerCode?: string }>;

export type ArtifactErrorShapeName = keyof typeof ARTIFACT_ERROR_SHAPES;

export function isArtifactErrorShapeName(name: unknown): name is ArtifactErrorShapeName {
  return typeof name === 'string' && Object.hasOwn(ARTIFACT_ERROR_SHAPES, name);
}

/** An artifact shape with `{id}` and `{roles}` filled in. */
export function artifactErrorShape(
  name: ArtifactErrorShapeName,
  fill: { id?: string; roles?: string } = {},
): { status: number; code: string; message: string; innerCode?: string } {
  const s: ErrorShape & { innerCode?: string } = ARTIFACT_ERROR_SHAPES[name];
  const message = s.message.replace('{id}', fill.id ?? '').replace('{roles}', fill.roles ?? '');
  return s.innerCode === undefined
    ? { status: s.status, code: s.code, message }
    : { status: s.status, code: s.code, message, innerCode: s.innerCode };
}
