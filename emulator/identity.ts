// The Microsoft identity platform's client-credentials flow, as far as MSAL (ClientSecretCredential) needs:
// OpenID discovery and the v2.0 token endpoint, issuing opaque bearer tokens whose expiry is kept here.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { readBody, sendJson } from './http-util';
import type { EmulatorCounters } from './counters';

/** Opaque tokens with server-side expiry (wall clock: MSAL caches by wall time too). */
export class TokenStore {
  private readonly tokens = new Map<string, number>();

  issue(lifetimeSec: number): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, Date.now() + lifetimeSec * 1000);
    if (this.tokens.size > 10_000) this.prune();
    return token;
  }

  isValid(token: string): boolean {
    const exp = this.tokens.get(token);
    return exp !== undefined && exp > Date.now();
  }

  private prune(): void {
    const now = Date.now();
    for (const [t, exp] of this.tokens) if (exp <= now) this.tokens.delete(t);
  }
}

export interface IdentityConfig {
  origin: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  tokenLifetimeSec: number;
  tokenEndpointDown: () => boolean;
  counters: EmulatorCounters;
  tokens: TokenStore;
}

const DISCOVERY = /^\/([^/]+)(?:\/v2\.0)?\/\.well-known\/openid-configuration$/;
const TOKEN = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;

/** True when the path belongs to the identity endpoints (so the caller can count it as such). */
export function isIdentityPath(path: string): boolean {
  return DISCOVERY.test(path) || TOKEN.test(path);
}

function aadError(res: ServerResponse, status: number, error: string, code: number, description: string): void {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

export async function handleIdentity(req: IncomingMessage, res: ServerResponse, path: string, cfg: IdentityConfig): Promise<void> {
  const discovery = DISCOVERY.exec(path);
  if (discovery) {
    if (discovery[1] !== cfg.tenantId) return aadError(res, 400, 'invalid_tenant', 90002, `Tenant '${discovery[1]}' not found.`);
    const base = `${cfg.origin}/${cfg.tenantId}`;
    return sendJson(res, 200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${cfg.origin}/${cfg.tenantId}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${cfg.origin}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: new URL(cfg.origin).host,
      rbac_url: 'https://pas.windows.net',
    });
  }
  const token = TOKEN.exec(path);
  if (!token || req.method !== 'POST') return aadError(res, 404, 'invalid_request', 900561, 'The endpoint only accepts POST requests.');
  if (cfg.tokenEndpointDown()) {
    cfg.counters.faults.tokenEndpointDown++;
    return aadError(res, 503, 'temporarily_unavailable', 50001, 'The service is temporarily unavailable.');
  }
  if (token[1] !== cfg.tenantId) return aadError(res, 400, 'invalid_request', 90002, `Tenant '${token[1]}' not found.`);
  const form = new URLSearchParams(await readBody(req));
  // MSAL may send the client secret as HTTP Basic instead of in the form
  let clientId = form.get('client_id');
  let secret = form.get('client_secret');
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const [id, s] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':').map(decodeURIComponent);
    clientId ??= id ?? null;
    secret ??= s ?? null;
  }
  if (form.get('grant_type') !== 'client_credentials') {
    return aadError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
  }
  if (clientId !== cfg.clientId) {
    return aadError(
      res,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId ?? ''}' was not found in the directory.`,
    );
  }
  if (secret === null)
    return aadError(
      res,
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  if (secret !== cfg.clientSecret) {
    return aadError(
      res,
      401,
      'invalid_client',
      7000215,
      'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
    );
  }
  const wanted = `${cfg.origin}/.default`;
  const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
  if (scopes.length !== 1 || scopes[0] !== wanted) {
    return aadError(
      res,
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${form.get('scope') ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (${wanted}).`,
    );
  }
  cfg.counters.tokensIssued++;
  sendJson(res, 200, {
    token_type: 'Bearer',
    expires_in: cfg.tokenLifetimeSec,
    ext_expires_in: cfg.tokenLifetimeSec,
    access_token: cfg.tokens.issue(cfg.tokenLifetimeSec),
  });
}
