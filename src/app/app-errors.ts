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
