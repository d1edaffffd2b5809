// "Infrastructure that keeps and records" (docs/security.md, "What the infrastructure grants and records"),
// read from the Bicep: WORM and blob versioning on by default, the operator read-only unless write access
// is asked for, diagnostic logs of the archive's blobs, the Key Vault and the Function App in the Log
// Analytics workspace, no basic publishing credentials, bounded parameters, and the Graph roles the app
// needs. No Bicep compiler runs here: the files keep the shapes infra-text.ts reads.
import { describe, expect, it } from 'vitest';
import { bicepParams, bicepResource, bicepVar, paramLimit, readRepoFile, roleAssignments } from './infra-text';

const mainBicep = readRepoFile('infra/main.bicep');
const resourcesBicep = readRepoFile('infra/resources.bicep');
const storageBicep = readRepoFile('infra/app/storage.bicep');
const rbacBicep = readRepoFile('infra/app/rbac.bicep');
const keyVaultBicep = readRepoFile('infra/app/key-vault.bicep');
const functionAppBicep = readRepoFile('infra/app/function-app.bicep');
const deployDoc = readRepoFile('docs/deploy.md');
const azdParameters = (JSON.parse(readRepoFile('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> })
  .parameters;

const param = (bicep: string, name: string) => bicepParams(bicep).find((p) => p.name === name);

/** Every `resource x 'Microsoft.Insights/diagnosticSettings@…'` block of a file: scope, workspace and log categories. */
function diagnosticSettings(bicep: string): Array<{ resource: string; scope: string; workspace: string; logs: string[] }> {
  const out: Array<{ resource: string; scope: string; workspace: string; logs: string[] }> = [];
  for (const m of bicep.matchAll(/^resource (\w+) 'Microsoft\.Insights\/diagnosticSettings@[\w-]+' = [^\n]*\{\n([\s\S]*?)\n\}/gm)) {
    const body = m[2]!;
    const logs = /logs: \[([\s\S]*?)\]\n/.exec(body)?.[1] ?? '';
    out.push({
      resource: m[1]!,
      scope: /^\s*scope:\s*(\w+)/m.exec(body)?.[1] ?? '',
      workspace: /^\s*workspaceId:\s*(\S+)/m.exec(body)?.[1] ?? '',
      logs: [...logs.matchAll(/\{ (?:category|categoryGroup): '(\w+)', enabled: true \}/g)].map((c) => c[1]!),
    });
  }
  return out;
}

describe('WORM and versioning', () => {
  it('turns version-level immutability on by default, with the retention days a parameter', () => {
    for (const bicep of [mainBicep, resourcesBicep]) expect(param(bicep, 'enableImmutability')?.defaultText).toBe('true');
    expect(azdParameters.enableImmutability?.value).toBe('${TEAMS_EXPORT_WORM=true}');
    const days = param(resourcesBicep, 'immutabilityDays')!;
    expect([paramLimit(days, 'minValue'), paramLimit(days, 'maxValue')]).toEqual([1, 146000]);
    expect(bicepResource(storageBicep, 'archiveContainer').body).toMatch(
      /^\s+immutableStorageWithVersioning: enableImmutability \? \{ enabled: true \} : null$/m,
    );
    expect(bicepResource(storageBicep, 'archiveImmutability').body).toMatch(
      /^\s+immutabilityPeriodSinceCreationInDays: immutabilityDays$/m,
    );
    // Locking stays an opt-in: the policy is created unlocked (test/infra/deploy-config.test.ts, "WORM lock").
    expect(param(resourcesBicep, 'immutabilityPolicyLocked')?.defaultText).toBe('false');
  });

  it('keeps blob versioning on, whatever the WORM setting', () => {
    expect(bicepResource(storageBicep, 'archiveBlobService').body).toMatch(/^\s+isVersioningEnabled: true$/m);
  });
});

describe('the operator ("archive reader")', () => {
  const assignments = roleAssignments(rbacBicep);
  const operator = assignments.filter((a) => a.principal === 'operatorPrincipalId');
  const header = (resource: string) => bicepResource(rbacBicep, resource).header;

  it('reads the archive and its state, and cannot change them', () => {
    const readOnly = operator.filter((a) => /= if \(operatorAssigned\) \{$/.test(header(a.resource)));
    expect(readOnly.map((a) => `${a.scope}/${a.role}`).sort()).toEqual([
      'archiveContainer/blobDataContributor',
      'archiveStorage/blobDataReader',
      'archiveStorage/tableDataReader',
    ]);
    expect(rbacBicep).toContain("blobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'");
    expect(rbacBicep).toContain("tableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'");
  });

  it('may add blobs only under audit/ (its own CLI audit records) and delete or move none', () => {
    const body = bicepResource(rbacBicep, 'operatorAuditAppend').body;
    expect(body).toMatch(/^\s+condition: replace\(auditAppendOnlyCondition, '__CONTAINER__', archiveContainerName\)$/m);
    expect(body).toMatch(/^\s+conditionVersion: '2\.0'$/m);
    const condition = /var auditAppendOnlyCondition = '''([\s\S]*?)'''/.exec(rbacBicep)?.[1] ?? '';
    const [writes, deletes] = condition.split(/\n\)\nAND\n\(/);
    // Writes and appends: only where the blob path starts with audit/.
    expect(writes).toContain("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})");
    expect(writes).toContain("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})");
    expect(writes).toContain("@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'audit/'");
    // Deletes and moves: only outside the one container this assignment is scoped to, i.e. never.
    expect(deletes).toContain("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})");
    expect(deletes).toContain("!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action'})");
    expect(deletes).toContain("@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringNotEquals '__CONTAINER__'");
    expect(bicepResource(rbacBicep, 'operatorAuditAppend').body).toMatch(/^\s+scope: archiveContainer$/m);
  });

  it('gets write access only when asked for', () => {
    const writes = operator.filter((a) => /Contributor$/.test(a.role) && a.scope === 'archiveStorage');
    expect(writes.map((a) => a.role).sort()).toEqual(['blobDataContributor', 'tableDataContributor']);
    for (const a of writes) expect(header(a.resource)).toMatch(/= if \(operatorWrites\) \{$/);
    expect(bicepVar(rbacBicep, 'operatorWrites')).toBe('operatorAssigned && operatorArchiveWrite');
    for (const bicep of [mainBicep, resourcesBicep]) expect(param(bicep, 'operatorArchiveWrite')?.defaultText).toBe('false');
    expect(azdParameters.operatorArchiveWrite?.value).toBe('${TEAMS_EXPORT_OPERATOR_WRITE=false}');
  });
});

describe('diagnostic settings into the Log Analytics workspace', () => {
  it("record every read, write and delete of the archive's blobs", () => {
    const settings = diagnosticSettings(storageBicep);
    expect(settings.map((s) => s.scope)).toEqual(['archiveBlobService']);
    expect(settings[0]!.logs.sort()).toEqual(['StorageDelete', 'StorageRead', 'StorageWrite']);
    expect(settings[0]!.workspace).toBe('logAnalyticsWorkspaceId');
    expect(bicepResource(resourcesBicep, 'storage').body).toMatch(
      /^\s+logAnalyticsWorkspaceId: monitoring\.outputs\.logAnalyticsWorkspaceId$/m,
    );
  });

  it("record the Key Vault's audit events", () => {
    const settings = diagnosticSettings(keyVaultBicep);
    expect(settings.map((s) => `${s.scope}:${s.logs.join(',')}`)).toEqual(['vault:AuditEvent']);
    expect(settings[0]!.workspace).toBe('logAnalyticsWorkspaceId');
    expect(bicepResource(resourcesBicep, 'keyVault').body).toMatch(
      /^\s+logAnalyticsWorkspaceId: monitoring\.outputs\.logAnalyticsWorkspaceId$/m,
    );
  });

  it("record the Function App's own logs", () => {
    const settings = diagnosticSettings(functionAppBicep);
    expect(settings.map((s) => `${s.scope}:${s.logs.join(',')}`)).toEqual(['site:allLogs']);
    expect(settings[0]!.workspace).toBe('logAnalyticsWorkspaceId');
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(
      /^\s+logAnalyticsWorkspaceId: monitoring\.outputs\.logAnalyticsWorkspaceId$/m,
    );
  });

  it('keep them a bounded number of days', () => {
    for (const bicep of [mainBicep, resourcesBicep]) {
      const retention = param(bicep, 'logRetentionDays')!;
      expect([retention.defaultText, paramLimit(retention, 'minValue'), paramLimit(retention, 'maxValue')]).toEqual(['30', 30, 730]);
    }
    expect(readRepoFile('infra/app/monitoring.bicep')).toMatch(/^\s+retentionInDays: logRetentionDays$/m);
  });
});

describe('the Function App', () => {
  it('allows no basic publishing credentials (FTP or SCM)', () => {
    const policies = [
      ...functionAppBicep.matchAll(
        /^resource \w+ 'Microsoft\.Web\/sites\/basicPublishingCredentialsPolicies@[\w-]+' = \{\n([\s\S]*?)\n\}/gm,
      ),
    ].map((m) => m[1]!);
    const byName = Object.fromEntries(policies.map((body) => [/^\s+name: '(\w+)'$/m.exec(body)?.[1], body]));
    expect(Object.keys(byName).sort()).toEqual(['ftp', 'scm']);
    for (const body of Object.values(byName)) {
      expect(body).toMatch(/^\s+parent: site$/m);
      expect(body).toMatch(/^\s+properties: \{ allow: false \}$/m);
    }
  });
});

describe('parameters', () => {
  it("refuse client-secret mode without the registration's client id", () => {
    expect(bicepVar(resourcesBicep, 'checkedGraphClientId')).toBe(
      'useClientSecret && empty(graphClientId) ? fail(graphClientIdError) : graphClientId',
    );
    expect(bicepVar(resourcesBicep, 'graphClientIdError')).toContain('TEAMS_EXPORT_GRAPH_CLIENT_ID');
    // The checked value, never the raw parameter, reaches the app settings.
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(/^\s+graphClientId: checkedGraphClientId$/m);
  });

  it('limit the region to those offering the Flex Consumption plan', () => {
    const allowed = /@allowed\(\[\n([\s\S]*?)\n\]\)\n(?:@[^\n]*\n)*param location string$/m.exec(mainBicep)?.[1] ?? '';
    const regions = [...allowed.matchAll(/^\s+'([a-z0-9]+)'$/gm)].map((m) => m[1]);
    expect(regions.length).toBeGreaterThanOrEqual(30);
    expect(regions).toEqual(expect.arrayContaining(['swedencentral', 'northeurope', 'westeurope', 'eastus', 'eastus2', 'australiaeast']));
    // Regions without Flex Consumption are refused before anything is created.
    expect(regions).not.toContain('westindia');
    expect(regions).not.toContain('chinaeast2');
    // Where the list comes from is said next to it.
    expect(mainBicep).toMatch(/Azure-Samples\/functions-quickstart-typescript-azd/);
  });
});

describe('Graph application roles', () => {
  const roles = (bicep: string) => [...(param(bicep, 'graphAppRoles')?.defaultText ?? '').matchAll(/'([\w.]+)'/g)].map((m) => m[1]);

  it("include Channel.ReadBasic.All, which listing a team's channels needs", () => {
    for (const bicep of [mainBicep, resourcesBicep]) {
      expect(roles(bicep)).toEqual([
        'Chat.Read.All',
        'ChannelMessage.Read.All',
        'Channel.ReadBasic.All',
        'User.Read.All',
        'Team.ReadBasic.All',
      ]);
    }
  });

  it('are the roles docs/deploy.md grants by hand', () => {
    const manual = /for ROLE in ([\w. ]+); do/.exec(deployDoc)?.[1]?.split(' ') ?? [];
    expect(manual).toContain('Channel.ReadBasic.All');
    expect(manual).toEqual(roles(mainBicep));
  });
});
