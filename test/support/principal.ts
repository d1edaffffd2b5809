// What App Service Authentication hands the app for a signed-in caller (docs/security.md): the
// `x-ms-client-principal` header (base64 JSON of the token's claims after the platform's mapping) and the
// `-id`/`-name` headers, as the platform sets them; plus the front end's client address. Tests put these
// on real HttpRequest objects, and run with WEBSITE_AUTH_ENABLED=True as the platform sets it.

export const ALL_ROLES = ['Archive.Read', 'Archive.Produce', 'Archive.Operate', 'Archive.Audit'] as const;

/** The platform's flag that authentication runs in front of the app (an app setting it injects). */
export const PLATFORM_AUTH_ENV = { WEBSITE_AUTH_ENABLED: 'True' } as const;

export interface TestPrincipal {
  /** Entra object id. */
  id?: string;
  name?: string;
  roles?: readonly string[];
  /** An app with client credentials: no user name, its client id instead. */
  appId?: string;
  client?: string;
}

export const ALICE = { id: 'a11ce000-0000-4000-8000-000000000001', name: 'alice@contoso.example' } as const;

/** The headers of one signed-in request (default: Alice with every role). */
export function principalHeaders(p: TestPrincipal = {}): Record<string, string> {
  const id = p.id ?? ALICE.id;
  const name = p.appId ? undefined : (p.name ?? ALICE.name);
  const claims = [
    { typ: 'aud', val: 'api://teams-export' },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: id },
    ...(name
      ? [
          { typ: 'preferred_username', val: name },
          { typ: 'name', val: 'Alice' },
        ]
      : []),
    ...(p.appId ? [{ typ: 'appid', val: p.appId }] : []),
    ...(p.roles ?? ALL_ROLES).map((r) => ({ typ: 'roles', val: r })),
  ];
  const principal = {
    auth_typ: 'aad',
    claims,
    name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
  };
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify(principal), 'utf8').toString('base64'),
    'x-ms-client-principal-id': id,
    ...(name ? { 'x-ms-client-principal-name': name } : {}),
    'x-ms-client-principal-idp': 'aad',
    'client-ip': p.client ?? '203.0.113.7:50123',
  };
}
