// Typed errors of the use cases, each knowing its HTTP status; mapped to responses in one place
// (http-responses.ts), so handlers never decide status codes themselves.

export interface FieldProblem {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** 400: the request is wrong; `fields` names each invalid field. */
export class ValidationError extends AppError {
  constructor(readonly fields: FieldProblem[]) {
    super(400, 'BadRequest', `invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
    this.name = 'ValidationError';
  }
}

/** 404: no such run, blob or route. */
export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, 'NotFound', message);
    this.name = 'NotFoundError';
  }
}

/** 422: an Idempotency-Key sent again with a different request than the one it was first used for. */
export class IdempotencyKeyReusedError extends AppError {
  constructor(message: string) {
    super(422, 'IdempotencyKeyReused', message);
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** zod issues as field problems: `users.3` names the fourth user id; unknown keys name themselves. */
export function fieldProblems(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: string[] }>,
): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const i of issues) {
    if (i.code === 'unrecognized_keys' && i.keys) {
      for (const k of i.keys) out.push({ field: [...i.path.map(String), k].join('.'), message: 'unknown field' });
      continue;
    }
    out.push({ field: i.path.length > 0 ? i.path.map(String).join('.') : 'body', message: i.message });
  }
  return out;
}

/** 401: no signed-in principal, or a client-principal header that cannot be read (docs/security.md). */
export class UnauthenticatedError extends AppError {
  constructor(message: string) {
    super(401, 'Unauthenticated', message);
    this.name = 'UnauthenticatedError';
  }
}

/** 403: signed in, without an app role the request needs; the answer names the role. */
export class ForbiddenError extends AppError {
  constructor(
    readonly missingRole: string,
    readonly acceptedRoles: readonly string[],
  ) {
    super(
      403,
      'Forbidden',
      `this request needs the app role ${missingRole}${acceptedRoles.length > 1 ? ` (or ${acceptedRoles.slice(1).join(', ')})` : ''}, which the signed-in principal does not have; an administrator assigns it to you in Entra ID (docs/security.md)`,
    );
    this.name = 'ForbiddenError';
  }
}

/**
 * 503: the app refuses rather than answer unsafely: App Service Authentication is off while HTTP_AUTH
 * is entra (`AuthenticationOff`), or the read could not be recorded in the audit trail (`AuditUnavailable`).
 */
export class RefusedError extends AppError {
  constructor(code: 'AuthenticationOff' | 'AuditUnavailable', message: string) {
    super(503, code, message);
    this.name = 'RefusedError';
  }
}
