// The Graph bearer token: cached while it has more than a minute left, renewed for real when a 401 forces
// it, and token-endpoint failures sorted into transient (retried with backoff by the request loop) and
// permanent (a wrong secret or client id: no retry helps). See docs/graph-errors.md, "Token endpoint".

import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { errorName, GraphError } from './graph-errors';

/** A cached token is reused only while it has more than this left, so it cannot expire in flight. */
export const TOKEN_MARGIN_MS = 60_000;

export interface TokenProviderOptions {
  /** e.g. https://graph.microsoft.com/.default */
  scope: string;
  credential: TokenCredential;
  /**
   * Builds a new credential of the configured kind (the composition root's factory). Used for a forced
   * refresh and after a transient failure, because a credential's own cache would hand back the same
   * answer: ManagedIdentityCredential ignores `claims` and returns its cached token, and MSAL replays a
   * token-endpoint 5xx for 60 s. Without it (a test credential) the same credential is asked again.
   */
  newCredential?: () => TokenCredential;
}

export class TokenProvider {
  private credential: TokenCredential;
  private cached: AccessToken | undefined;
  /** The last attempt failed transiently: the next one starts from a new credential. */
  private rebuild = false;

  constructor(private readonly opts: TokenProviderOptions) {
    this.credential = opts.credential;
  }

  /**
   * The current token, or a new one when `fresh` (after a 401) or when the cached one is near expiry.
   * Rejects with a GraphError whose kind is 'retryable' for a token-endpoint outage and 'fatal' for a
   * refused client, or with the signal's reason when aborted.
   */
  async token(signal: AbortSignal | undefined, fresh = false): Promise<string> {
    const cached = this.cached;
    if (!fresh && cached && cached.expiresOnTimestamp - Date.now() > TOKEN_MARGIN_MS) return cached.token;
    if (fresh) this.cached = undefined;
    if ((fresh || this.rebuild) && this.opts.newCredential) this.credential = this.opts.newCredential();
    this.rebuild = false;
    let token: AccessToken | null;
    try {
      token = await this.credential.getToken(this.opts.scope, {
        ...(signal ? { abortSignal: signal } : {}),
        // After a 401 the credential's own cache may still hold the rejected token: a claims request
        // (a not-before of now) makes MSAL bypass its cache. Managed identity ignores it (newCredential).
        ...(fresh
          ? { claims: JSON.stringify({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } } }) }
          : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const transient = isTransientTokenFailure(err);
      if (transient) this.rebuild = true;
      throw new GraphError(`could not get an access token for ${this.opts.scope}: ${errorName(err)}`, {
        kind: transient ? 'retryable' : 'fatal',
        cause: err,
      });
    }
    if (!token) throw new GraphError(`the credential returned no access token for ${this.opts.scope}`, { kind: 'fatal' });
    this.cached = token;
    return token.token;
  }
}

/** OAuth error codes that no retry can fix: the app's identity or request is wrong. */
const PERMANENT =
  /\b(invalid_client|unauthorized_client|invalid_grant|invalid_scope|invalid_request|unsupported_grant_type|invalid_tenant)\b/;
/** Outages: the endpoint said so, or it could not be reached at all. */
const TRANSIENT =
  /\b(temporarily_unavailable|server_error|network_error|endpoints_resolution_error|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket hang up|timed? ?out)\b/i;

/**
 * Whether a credential failure is an outage of the token endpoint (retry with backoff) rather than a
 * refusal of the app (fail). @azure/identity wraps MSAL's ServerError (errorCode, status) as `cause`,
 * so the whole chain is read: a 5xx or 429 status, or an outage code in any message.
 */
export function isTransientTokenFailure(err: unknown): boolean {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  const texts = chain.map((e) => {
    const o = e as { message?: unknown; errorCode?: unknown; code?: unknown };
    return [o.message, o.errorCode, o.code].filter((x) => typeof x === 'string').join(' ');
  });
  if (texts.some((t) => PERMANENT.test(t))) return false;
  for (const e of chain) {
    const o = e as { status?: unknown; statusCode?: unknown };
    const status = typeof o.status === 'number' ? o.status : typeof o.statusCode === 'number' ? o.statusCode : undefined;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
  }
  return texts.some((t) => TRANSIENT.test(t));
}
