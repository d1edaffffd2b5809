// Maps use-case results and errors to HTTP responses (structurally the @azure/functions
// HttpResponseInit), in one function, so every endpoint answers errors the same way.
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import { invocationLogger, type AppContext, type GetAppContext, type InvocationLog } from './app-context';
import { AppError, ValidationError } from './app-errors';

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

/**
 * Runs one HTTP use case: gets the app context, calls `fn`, and turns any error into the mapped
 * response (a settings or storage failure while building the context is a 500 like any other).
 */
export async function handleHttp(
  invocation: HttpInvocation,
  getCtx: GetAppContext,
  fn: (ctx: AppContext, log: Logger) => Promise<HttpResult>,
): Promise<HttpResult> {
  const log = invocationLogger(invocation);
  try {
    const ctx = await getCtx();
    return await fn(ctx, log);
  } catch (err) {
    return errorResponse(err, log, invocation.invocationId);
  }
}
