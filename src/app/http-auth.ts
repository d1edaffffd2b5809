// Who is calling an HTTP function, and may they (docs/security.md). With HTTP_AUTH=entra the platform's
// App Service Authentication signs people and apps in and passes the principal in `x-ms-client-principal`;
// the handler checks its app roles here. That header is trusted ONLY when the platform reports that
// authentication is on (WEBSITE_AUTH_ENABLED): without it anyone could send the header, so every request
// is refused instead (fail closed). With HTTP_AUTH=function-keys the host has checked a key already.
import type { AuditPrincipal } from '../archive/audit-trail';
import type { Settings } from '../settings';
import { ForbiddenError, RefusedError, UnauthenticatedError } from './app-errors';

/** The app roles of the app registration (docs/security.md lists what each opens). */
export const APP_ROLES = {
  read: 'Archive.Read',
  produce: 'Archive.Produce',
  operate: 'Archive.Operate',
  audit: 'Archive.Audit',
} as const;
export type AppRole = (typeof APP_ROLES)[keyof typeof APP_ROLES];

/** The roles a request needs: any one of them (the first is the one named when all are missing). */
export type Access = readonly [AppRole, ...AppRole[]];

/** Structurally the headers of an @azure/functions HttpRequest (src/ does not import @azure/functions). */
export interface RequestHeaders {
  get(name: string): string | null;
}

export interface Caller {
  principal: AuditPrincipal;
  /** The principal's app roles; undefined with function keys, where a key opens every route. */
  roles?: ReadonlySet<string>;
  /** The caller's address as the Azure front end reports it. */
  client?: string;
}

/** The decoded `x-ms-client-principal` header (App Service Authentication's claims, after its claim mapping). */
interface ClientPrincipal {
  auth_typ?: unknown;
  claims: Array<{ typ: string; val: string }>;
  name_typ?: unknown;
  role_typ?: unknown;
}

const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
// App roles arrive as `roles` (v2 tokens); the header's role_typ names the mapped type, which some versions use.
const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const NAME_CLAIMS = ['preferred_username', 'upn', 'name', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'];
/** An app calling with client credentials has no user name: its client id names it. */
const APP_ID_CLAIMS = ['appid', 'azp'];

const MAX_PRINCIPAL_HEADER = 64 * 1024;

function decodePrincipal(header: string): ClientPrincipal {
  const malformed = () => new UnauthenticatedError('the sign-in header x-ms-client-principal cannot be read');
  if (header.length > MAX_PRINCIPAL_HEADER || !/^[A-Za-z0-9+/_-]+=*$/.test(header.trim())) throw malformed();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(header.trim(), 'base64').toString('utf8'));
  } catch {
    throw malformed();
  }
  const claims = (value as { claims?: unknown } | null)?.claims;
  if (!Array.isArray(claims)) throw malformed();
  return {
    ...(value as object),
    claims: claims.filter(
      (c): c is { typ: string; val: string } =>
        typeof (c as { typ?: unknown } | null)?.typ === 'string' && typeof (c as { val?: unknown }).val === 'string',
    ),
  };
}

/** The signed-in principal the platform passed, or undefined when the request carries none. */
export function signedInPrincipal(
  headers: RequestHeaders,
): { principal: AuditPrincipal & { kind: 'entra' }; roles: Set<string> } | undefined {
  const header = headers.get('x-ms-client-principal');
  if (header === null || header.trim() === '') return undefined;
  const cp = decodePrincipal(header);
  const first = (types: readonly string[]) => cp.claims.find((c) => types.includes(c.typ) && c.val.trim() !== '')?.val.trim();
  const roleTypes = [...ROLE_CLAIMS, ...(typeof cp.role_typ === 'string' ? [cp.role_typ] : [])];
  const roles = new Set(cp.claims.filter((c) => roleTypes.includes(c.typ)).map((c) => c.val.trim()));
  const id = first(OBJECT_ID_CLAIMS) ?? headers.get('x-ms-client-principal-id')?.trim();
  if (!id) throw new UnauthenticatedError('the signed-in principal has no object id');
  const nameTypes = [...(typeof cp.name_typ === 'string' ? [cp.name_typ] : []), ...NAME_CLAIMS];
  const appId = first(APP_ID_CLAIMS);
  const name = headers.get('x-ms-client-principal-name')?.trim() || first(nameTypes) || (appId ? `app ${appId}` : undefined);
  return { principal: { kind: 'entra', id, ...(name ? { name } : {}) }, roles };
}

/** The caller's address: `client-ip` (set by the App Service front end), else `x-forwarded-for`. */
export function clientAddress(headers: RequestHeaders): string | undefined {
  const value = headers.get('client-ip')?.trim() || headers.get('x-forwarded-for')?.trim();
  return value ? value.slice(0, 256) : undefined;
}

/**
 * Checks one request: the caller, or a 401 (nobody signed in), 403 (signed in without any of the roles
 * in `access`, naming the first) or 503 (HTTP_AUTH=entra while the platform reports authentication off).
 */
export function authorize(headers: RequestHeaders, http: Settings['http'], access: Access): Caller {
  const client = clientAddress(headers);
  const withClient = (c: Caller): Caller => (client ? { ...c, client } : c);
  if (http.auth === 'function-keys') {
    // The host checked the key before the handler ran. If App Service Authentication also runs in front,
    // its principal is recorded; a key alone has no identity.
    const signedIn = http.platformAuthEnabled ? signedInPrincipal(headers) : undefined;
    return withClient({ principal: signedIn?.principal ?? { kind: 'function-key' } });
  }
  if (!http.platformAuthEnabled)
    throw new RefusedError(
      'AuthenticationOff',
      'App Service Authentication is not enabled on this app, so nobody can be signed in: with HTTP_AUTH=entra every request is refused (docs/security.md)',
    );
  const signedIn = signedInPrincipal(headers);
  if (!signedIn) throw new UnauthenticatedError('sign in with Entra ID first: this request carries no signed-in principal');
  if (!access.some((role) => signedIn.roles.has(role))) throw new ForbiddenError(access[0], access);
  return withClient({ principal: signedIn.principal, roles: signedIn.roles });
}
