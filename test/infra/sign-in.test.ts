// Entra sign-in in front of every HTTP function, read from the Bicep (no compiler runs here): App Service
// Authentication is configured and on by default, requires a signed-in caller on every path and answers
// 401 otherwise, so no function stays reachable with a function key alone; the app setting HTTP_AUTH
// follows the same switch; and the app registration carries exactly the four Archive.* roles
// (docs/security.md, "Setting up Entra sign-in").
import { describe, expect, it } from 'vitest';
import { bicepAppSettingNames, bicepParams, bicepResource, bicepVar, readRepoFile } from './infra-text';

const mainBicep = readRepoFile('infra/main.bicep');
const resourcesBicep = readRepoFile('infra/resources.bicep');
const functionAppBicep = readRepoFile('infra/app/function-app.bicep');
const azdParameters = (JSON.parse(readRepoFile('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> })
  .parameters;

/** A file under infra/app, or '' when it does not exist (the checks then fail with a readable message). */
function infraApp(name: string): string {
  try {
    return readRepoFile(`infra/app/${name}`);
  } catch {
    return '';
  }
}

const functionAuthBicep = infraApp('function-auth.bicep');
const entraAppBicep = infraApp('entra-app.bicep');

/** The value written after `key:` inside a block (one-line values only). */
function valueOf(block: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}:\\s*(.+?)\\s*$`, 'm').exec(block)?.[1];
}

describe('App Service Authentication (authsettingsV2)', () => {
  it('is configured on the Function App', () => {
    expect(functionAuthBicep, 'infra/app/function-auth.bicep').not.toBe('');
    const auth = bicepResource(functionAuthBicep, 'authSettings');
    expect(auth.header).toMatch(/'Microsoft\.Web\/sites\/config@[\w-]+' = \{$/);
    expect(valueOf(auth.body, 'name')).toBe("'authsettingsV2'");
    expect(valueOf(auth.body, 'parent')).toBe('site');
    // The resources.bicep module passes the Function App the functionApp module created.
    const module = bicepResource(resourcesBicep, 'functionAuth');
    expect(module.header).toContain("'app/function-auth.bicep'");
    expect(valueOf(module.body, 'siteName')).toBe('functionApp.outputs.name');
  });

  it('requires a signed-in caller on every path and answers 401 without one', () => {
    const auth = bicepResource(functionAuthBicep, 'authSettings').body;
    expect(valueOf(auth, 'requireAuthentication')).toBe('true');
    expect(valueOf(auth, 'unauthenticatedClientAction')).toBe("'Return401'");
    // An excluded path would be reachable without sign-in: there is none.
    expect(auth).not.toMatch(/^\s*excludedPaths\s*:/m);
    expect(valueOf(auth, 'requireHttps')).toBe('true');
    // Entra ID is the provider, and it validates tokens for this app only.
    expect(auth).toMatch(/^\s+azureActiveDirectory: \{$/m);
    expect(auth).toMatch(/openIdIssuer: '\$\{environment\(\)\.authentication\.loginEndpoint\}\$\{tenant\(\)\.tenantId\}\/v2\.0'/);
    expect(valueOf(auth, 'allowedAudiences')).toBe('allowedAudiences');
    // No client secret: the setting it names holds a managed identity's client id (federated credential).
    expect(valueOf(auth, 'clientSecretSettingName')).toBe("'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'");
    expect(bicepAppSettingNames(functionAppBicep)).toContain('OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID');
    expect(functionAppBicep).toMatch(/^\s+OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: authIdentityClientId$/m);
    // Nobody's tokens are stored: the app calls no API on their behalf.
    expect(auth).toMatch(/tokenStore: \{\s+enabled: false\s+\}/);
  });

  it('is on by default, and only the function-keys opt-in switches it off', () => {
    const auth = bicepResource(functionAuthBicep, 'authSettings').body;
    expect(auth).toMatch(/platform: \{\s+enabled: enabled\s+\}/);
    expect(valueOf(bicepResource(resourcesBicep, 'functionAuth').body, 'enabled')).toBe('useEntraAuth');
    expect(bicepVar(resourcesBicep, 'useEntraAuth')).toBe('!allowFunctionKeys');
    for (const bicep of [mainBicep, resourcesBicep]) {
      expect(bicepParams(bicep).find((p) => p.name === 'allowFunctionKeys')?.defaultText).toBe('false');
    }
    expect(azdParameters.allowFunctionKeys?.value).toBe('${TEAMS_EXPORT_ALLOW_FUNCTION_KEYS=false}');
    // Always deployed: a conditional resource that turns false would be left as it was, switched on or off.
    expect(bicepResource(resourcesBicep, 'functionAuth').header).not.toMatch(/= if \(/);
    // Sign-in on without a registration is refused at deployment.
    expect(bicepVar(functionAuthBicep, 'checkedClientId')).toBe('enabled && empty(clientId) ? fail(missingClientId) : clientId');
  });

  it('leaves no function reachable with a key alone by default: HTTP_AUTH follows the same switch', () => {
    // entra: the functions register anonymous and App Service Authentication is the door; function-keys
    // (the opt-in) is the only value that turns the door off, and then the host checks keys.
    expect(bicepAppSettingNames(functionAppBicep)).toContain('HTTP_AUTH');
    expect(functionAppBicep).toMatch(/^\s+HTTP_AUTH: allowFunctionKeys \? 'function-keys' : 'entra'$/m);
    expect(valueOf(bicepResource(resourcesBicep, 'functionApp').body, 'allowFunctionKeys')).toBe('allowFunctionKeys');
    expect(bicepVar(functionAppBicep, 'signInSettings')).toBe('allowFunctionKeys ? {} : {');
  });
});

describe('the sign-in app registration (Microsoft Graph Bicep extension)', () => {
  it("is created unless an existing registration is given, and gets the Function App's callback", () => {
    expect(entraAppBicep, 'infra/app/entra-app.bicep').not.toBe('');
    expect(entraAppBicep).toMatch(/^extension microsoftGraphV1$/m);
    expect(bicepVar(resourcesBicep, 'createAuthApp')).toBe('useEntraAuth && empty(authClientId)');
    const module = bicepResource(resourcesBicep, 'entraApp');
    expect(module.header).toMatch(/'app\/entra-app\.bicep' = if \(createAuthApp\) \{$/);
    expect(valueOf(module.body, 'redirectHostName')).toBe('functionApp.outputs.defaultHostName');
    expect(entraAppBicep).toContain("redirectUris: ['https://${redirectHostName}/.auth/login/aad/callback']");
    // An Application ID URI with the tenant id needs no verified domain.
    expect(valueOf(module.body, 'appIdUri')).toBe("'api://${tenant().tenantId}/teams-export-${resourceToken}'");
    expect(bicepVar(resourcesBicep, 'signInClientId')).toBe('createAuthApp ? entraApp!.outputs.clientId : authClientId');
  });

  it('exposes exactly the four Archive roles, each for people and for apps, with ids that never change', () => {
    const roles = [...entraAppBicep.matchAll(/^\s+value: '(Archive\.\w+)'$/gm)].map((m) => m[1]).sort();
    expect(roles).toEqual(['Archive.Audit', 'Archive.Operate', 'Archive.Produce', 'Archive.Read']);
    const app = bicepResource(entraAppBicep, 'app').body;
    expect(app).toMatch(/id: guid\(uniqueName, role\.value\)/);
    expect(app).toMatch(/allowedMemberTypes: \['User', 'Application'\]/);
  });

  it('lets only principals holding a role get a token, and uses no client secret', () => {
    expect(valueOf(bicepResource(entraAppBicep, 'servicePrincipal').body, 'appRoleAssignmentRequired')).toBe('true');
    expect(entraAppBicep).not.toMatch(/passwordCredentials/);
    const fic =
      /resource appServiceAuthCredential 'federatedIdentityCredentials@v1\.0' = \{([\s\S]*?)\n {2}\}/.exec(entraAppBicep)?.[1] ?? '';
    expect(valueOf(fic, 'audiences')).toBe("['api://AzureADTokenExchange']");
    expect(valueOf(fic, 'subject')).toBe('authIdentityPrincipalId');
    expect(valueOf(bicepResource(resourcesBicep, 'entraApp').body, 'authIdentityPrincipalId')).toBe('authIdentity!.properties.principalId');
  });
});
