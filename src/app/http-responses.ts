// Maps use-case results and errors to HTTP responses (structurally the @azure/functions
// HttpResponseInit), in one function, so every endpoint answers errors the same way.
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import { invocationLogger, type AppContext, type GetAppContext, type InvocationLog } from './app-context';
import { AppError, ForbiddenError, RefusedError, UnauthenticatedError, ValidationError } from './app-errors';
import { authorize, type Access, type Caller, type RequestHeaders } from './http-auth';

export interface HttpResult {
  status: number;
  headers?: Record<string, string>;
  jsonBody?: unknown;
  body?: AsyncIterable<Uint8Array> | string;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

/**
 * The one error → HTTP mapping: 4xx from AppError with its code and (for 400) the invalid fields;
 * anything else is a 500 whose body says nothing about internals (the log has the details).
 */
export function errorResponse(err: unknown, log: Logger, invocationId?: string): HttpResult {
  if (err instanceof ValidationError) {
    return json(400, { error: { code: err.code, message: 'the request is invalid', fields: err.fields } });
  }
  if (err instanceof UnauthenticatedError) {
    return json(401, { error: { code: err.code, message: err.message } }, { 'www-authenticate': 'Bearer' });
  }
  if (err instanceof ForbiddenError) {
    return json(403, { error: { code: err.code, message: err.message, missingRole: err.missingRole, acceptedRoles: err.acceptedRoles } });
  }
  if (err instanceof RefusedError) {
    // The operator must see it: the app is refusing every request (authentication off) or every read (audit trail down).
    log.error('request refused', { code: err.code, error: err.message });
    return json(503, { error: { code: err.code, message: err.message, ...(invocationId ? { invocationId } : {}) } });
  }
  if (err instanceof AppError && err.status >= 400 && err.status < 500) {
    return json(err.status, { error: { code: err.code, message: err.message } });
  }
  log.error('request failed', { error: errorText(err) });
  return json(500, { error: { code: 'InternalError', message: 'internal error', ...(invocationId ? { invocationId } : {}) } });
}

/** What an HTTP handler needs from its InvocationContext (structural: src/ does not import @azure/functions). */
export interface HttpInvocation extends InvocationLog {
  invocationId: string;
}

/** What an HTTP handler needs from its HttpRequest (structural: src/ does not import @azure/functions). */
export interface HttpRequestLike {
  headers: RequestHeaders;
}

/** What `fn` gets besides the context and logger: who is calling, and the id their reads are recorded under. */
export interface HttpCall {
  caller: Caller;
  /** The invocation id: the audit record's request id, and the id in Application Insights. */
  requestId: string;
}

/**
 * Runs one HTTP use case: gets the app context, checks the caller against `access` (the app roles the
 * route needs, docs/security.md), calls `fn`, and turns any error into the mapped response (a settings
 * or storage failure while building the context is a 500 like any other). Every HTTP handler goes
 * through here, so none can skip the check.
 */
export async function handleHttp(
  request: HttpRequestLike,
  invocation: HttpInvocation,
  getCtx: GetAppContext,
  access: Access,
  fn: (ctx: AppContext, log: Logger, call: HttpCall) => Promise<HttpResult>,
): Promise<HttpResult> {
  const log = invocationLogger(invocation);
  try {
    const ctx = await getCtx();
    const caller = authorize(request.headers, ctx.deps.settings.http, access);
    return await fn(ctx, log, { caller, requestId: invocation.invocationId });
  } catch (err) {
    return errorResponse(err, log, invocation.invocationId);
  }
}
