// Re-provisioning must never break, and every knob a user turns through azd must reach the Bicep. No
// Bicep compiler runs here (docs/deploy.md tells users to run `az bicep build` first), so these are text
// checks on the shapes infra/ keeps: one `param` per line, one `var` per line, blocks closed at column 0.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepParams, bicepResource, bicepVar, ROOT, readRepoFile } from './infra-text';

const mainBicep = readRepoFile('infra/main.bicep');
const resourcesBicep = readRepoFile('infra/resources.bicep');
const storageBicep = readRepoFile('infra/app/storage.bicep');
const keyVaultBicep = readRepoFile('infra/app/key-vault.bicep');
const azureYaml = readRepoFile('azure.yaml');
const deployDoc = readRepoFile('docs/deploy.md');
const azdParameters = (JSON.parse(readRepoFile('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> })
  .parameters;

/** main.bicep params azd does not set from the environment, each for a reason. */
const NOT_FROM_AZD_ENV: readonly string[] = [
  // azd names the resource group itself (rg-{environment}) and records it as AZURE_RESOURCE_GROUP.
  'resourceGroupName',
  // An array: change it in main.bicep or with `az deployment sub create` (docs/deploy.md, "Graph roles").
  'graphAppRoles',
];

describe('azd parameters', () => {
  const mainParams = bicepParams(mainBicep).map((p) => p.name);

  it('gives every main.bicep parameter an azd environment variable, or says why not', () => {
    expect(mainParams.filter((p) => !(p in azdParameters) && !NOT_FROM_AZD_ENV.includes(p))).toEqual([]);
    expect(Object.keys(azdParameters).filter((p) => !mainParams.includes(p))).toEqual([]);
    expect(azdParameters.operatorPrincipalType?.value).toBe('${TEAMS_EXPORT_OPERATOR_TYPE=User}');
  });

  it('keeps each azd default equal to the Bicep default', () => {
    const defaults = new Map(bicepParams(mainBicep).map((p) => [p.name, p.defaultText]));
    const mismatches: string[] = [];
    for (const [name, { value }] of Object.entries(azdParameters)) {
      const m = /^\$\{TEAMS_EXPORT_\w+=(.*)\}$/.exec(String(value));
      if (!m) continue;
      const bicepDefault = defaults.get(name)?.replace(/^'(.*)'$/, '$1');
      if (bicepDefault !== m[1]) mismatches.push(`${name}: azd ${m[1]} vs Bicep ${bicepDefault}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('forwards every product parameter from main.bicep to resources.bicep', () => {
    const forwarded = bicepResource(mainBicep, 'resources').body;
    const missing = mainParams.filter(
      (p) => !['environmentName', 'resourceGroupName'].includes(p) && !new RegExp(`^\\s+${p}: ${p}$`, 'm').test(forwarded),
    );
    expect(missing).toEqual([]);
  });

  it('documents every azd variable in docs/deploy.md', () => {
    const variables = Object.values(azdParameters).flatMap(({ value }) =>
      [...String(value).matchAll(/\$\{(TEAMS_EXPORT_\w+)/g)].map((m) => m[1]!),
    );
    expect(variables.length).toBeGreaterThan(30);
    expect(variables.filter((v) => !deployDoc.includes(`\`${v}\``))).toEqual([]);
  });
});

describe('azure.yaml', () => {
  it('builds remotely, needs an azd that checks remoteBuild against .funcignore, and points to docs/deploy.md', () => {
    expect(azureYaml).toMatch(/^ {4}remoteBuild: true$/m);
    expect(azureYaml).toMatch(/^ {2}azd: ["']>= 1\.23\.12["']$/m);
    expect(azureYaml).toContain('docs/deploy.md');
    expect(existsSync(join(ROOT, 'docs', 'deploy.md'))).toBe(true);
    // azd refuses remoteBuild: true with a .funcignore that keeps node_modules.
    expect(readRepoFile('.funcignore')).toMatch(/^\/?node_modules\/?$/m);
  });
});

describe('WORM lock', () => {
  it('leaves a locked immutability policy alone (a locked policy can only be extended)', () => {
    const policy = bicepResource(storageBicep, 'archiveImmutability');
    expect(policy.header).toContain("'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@");
    expect(policy.header).toMatch(/= if \(enableImmutability && !immutabilityPolicyLocked\) \{$/);
    expect(bicepParams(resourcesBicep).find((p) => p.name === 'immutabilityPolicyLocked')?.defaultText).toBe('false');
    expect(bicepResource(resourcesBicep, 'storage').body).toMatch(/^\s+immutabilityPolicyLocked: immutabilityPolicyLocked$/m);
    expect(azdParameters.immutabilityPolicyLocked?.value).toBe('${TEAMS_EXPORT_WORM_LOCKED=false}');
  });
});

describe('lifecycle tiering', () => {
  const lifecycle = bicepResource(storageBicep, 'archiveLifecycle');

  it('is always deployed, so setting the days back to 0 replaces the rule with a disabled one', () => {
    // A conditional resource that turns false is left in place by the next deployment.
    expect(lifecycle.header).not.toMatch(/= if \(/);
    expect(lifecycle.body).toMatch(/^\s+enabled: tieringEnabled$/m);
    expect(bicepVar(storageBicep, 'tieringEnabled')).toBe('lifecycleCoolAfterDays > 0 || archiveAfterDays > 0');
    expect(lifecycle.body).toMatch(/baseBlob: tieringEnabled \? tierActions : \{ tierToCool:/);
    // Never a delete action on the archive.
    expect(lifecycle.body).not.toMatch(/delete/i);
  });

  it('refuses the Archive tier on zone-redundant SKUs, which do not offer it', () => {
    const allowed = bicepParams(resourcesBicep)
      .find((p) => p.name === 'archiveStorageSku')!
      .decorators.find((d) => d.startsWith('@allowed('))!;
    const zoneRedundant = [...allowed.matchAll(/'(Standard_\w*ZRS)'/g)].map((m) => m[1]!).sort();
    expect(zoneRedundant).toEqual(['Standard_GZRS', 'Standard_RAGZRS', 'Standard_ZRS']);
    const listed = [...bicepVar(storageBicep, 'zoneRedundantSku').matchAll(/'(Standard_\w+)'/g)].map((m) => m[1]!).sort();
    expect(listed).toEqual(zoneRedundant);
    expect(bicepVar(storageBicep, 'archiveAfterDays')).toBe(
      'lifecycleArchiveAfterDays > 0 && zoneRedundantSku ? fail(archiveTierError) : lifecycleArchiveAfterDays',
    );
    // The tier action uses the checked value, never the raw parameter.
    expect(storageBicep).toMatch(/archiveAfterDays > 0 \? \{ tierToArchive: \{ daysAfterCreationGreaterThan: archiveAfterDays \} \}/);
    expect(storageBicep).not.toMatch(/tierToArchive: \{ daysAfterCreationGreaterThan: lifecycleArchiveAfterDays/);
  });
});

describe('Key Vault (client-secret mode)', () => {
  it('turns purge protection on only when asked, so `azd down --purge` then `azd up` can reuse the name', () => {
    expect(keyVaultBicep).toMatch(/^\s+enablePurgeProtection: enablePurgeProtection \? true : null$/m);
    expect(keyVaultBicep).not.toMatch(/enablePurgeProtection: true$/m);
    expect(bicepParams(resourcesBicep).find((p) => p.name === 'keyVaultPurgeProtection')?.defaultText).toBe('false');
    expect(bicepResource(resourcesBicep, 'keyVault').body).toMatch(
      /^\s+name: !empty\(keyVaultNameOverride\) \? keyVaultNameOverride : 'kv-tx-\$\{resourceToken\}'$/m,
    );
  });
});

describe('Graph app roles', () => {
  it('are assigned last, after the resources that take minutes, to give Entra replication time', () => {
    const module = bicepResource(resourcesBicep, 'graphAppRoleAssignments');
    expect(module.body).toMatch(/^\s+dependsOn: \[functionApp, alerts\]$/m);
    // The Bicep adds the roles of the kinds switched on itself (Files.Read.All for attachments, and the
    // Copilot and meeting roles: copilot-meetings.test.ts).
    expect(module.body).toContain('appRoles: union(graphAppRoles, kindAppRoles)');
    expect(bicepVar(resourcesBicep, 'kindAppRoles')).toContain("exportAttachments ? ['Files.Read.All'] : []");
  });
});
