// What the Copilot and meeting-artifact routes share: their error answers (error-shapes.ts,
// ARTIFACT_ERROR_SHAPES), the roles check (faults missingRoles), their token buckets and late visibility.

import type { ServerResponse } from 'node:http';
import { graphErrorBody, graphIdHeaders, sendGraphError, sendJson, type RequestIds } from './http-util';
import { artifactErrorShape, errorShape, type ArtifactErrorShapeName, type ErrorShapeName } from './error-shapes';
import { ARTIFACT_ROLES, TokenBucket, type ArtifactRole, type FaultKnobs } from './faults';
import { visibilityDelay } from './export-query';

/** The roles an emulated app holds for these routes: the message roles plus ARTIFACT_ROLES minus the missing ones. */
export function rolesOnRequest(f: FaultKnobs): string {
  return ['User.Read.All', 'Chat.Read.All', 'ChannelMessage.Read.All', ...ARTIFACT_ROLES.filter((r) => !f.missingRoles.includes(r))].join(
    ', ',
  );
}

export function sendArtifactError(res: ServerResponse, ids: RequestIds, name: ArtifactErrorShapeName, f: FaultKnobs, userKey = ''): void {
  const e = artifactErrorShape(name, { id: userKey, roles: rolesOnRequest(f) });
  const body = graphErrorBody(ids, e.code, e.message, e.innerCode !== undefined ? { code: e.innerCode } : {});
  sendJson(res, e.status, body, graphIdHeaders(ids));
}

export function sendMessageShapeError(res: ServerResponse, ids: RequestIds, name: ErrorShapeName, id: string): void {
  const e = errorShape(name, id);
  sendGraphError(res, ids, e.status, e.code, e.message);
}

/** Refuses the request (and returns true) when the app lacks `role`. */
export function refuseMissingRole(
  res: ServerResponse,
  ids: RequestIds,
  f: FaultKnobs,
  role: ArtifactRole,
  shape: ArtifactErrorShapeName,
): boolean {
  if (!f.missingRoles.includes(role)) return false;
  sendArtifactError(res, ids, shape, f);
  return true;
}

/**
 * Takes a token from the named bucket (created on first use); on none left answers 429 with the wait
 * in Retry-After and returns true.
 */
export function throttled(
  res: ServerResponse,
  ids: RequestIds,
  buckets: Map<string, TokenBucket>,
  name: string,
  rps: number | null,
  burst: number,
): boolean {
  if (rps === null) return false;
  const cap = Math.max(1, burst);
  let bucket = buckets.get(name);
  if (!bucket) buckets.set(name, (bucket = new TokenBucket(rps, undefined, cap)));
  bucket.setRate(rps, cap);
  if (bucket.tryTake()) return false;
  const wait = Math.max(0.05, Math.ceil(bucket.secondsUntilToken() * 1000) / 1000);
  sendGraphError(res, ids, 429, 'TooManyRequests', 'Too many requests. Please retry again later.', { 'retry-after': String(wait) });
  return true;
}

/**
 * When an interaction or artifact becomes visible (data clock): its creation plus its late-visibility
 * delay, and never before it was added (runtime additions with a past createdDateTime arrive late).
 */
export function visibleFrom(addedAtMs: number, createdMs: number, key: string, late: FaultKnobs['artifactLateVisibility']): number {
  return Math.max(addedAtMs, createdMs + visibilityDelay(key, late));
}

/** Graph's 7-digit DateTimeOffset form (`2023-12-02T06:59:34.7411768Z`) of a ms instant. */
export function iso7(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}0000Z`;
}

/** Links with Graph's encoding (spaces as '+'), keeping `$` and `'` readable. */
export function queryString(params: Array<[string, string]>): string {
  return params.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%20/g, '+')}`).join('&');
}

/** A `$top` value in [1, max], the default when absent, or an error text. */
export function parseTopParam(raw: string | null, dflt: number, max: number): number | string {
  if (raw === null) return dflt;
  if (!/^\d+$/.test(raw)) return `Invalid value '${raw}' for $top: expected a positive integer.`;
  const n = Number(raw);
  if (n < 1 || n > max) return `Invalid page size specified: '${raw}'. Must be between 1 and ${max} inclusive.`;
  return n;
}
