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
