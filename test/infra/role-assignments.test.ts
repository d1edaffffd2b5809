// Every storage service the app settings point the managed identity at has a data role for that
// identity on that account, and the identity gets no role it does not use.
import { describe, expect, it } from 'vitest';
import { bicepAppSettingNames, readRepoFile, roleAssignments, type RoleAssignment } from './infra-text';

const rbacBicep = readRepoFile('infra/app/rbac.bicep');
const functionAppBicep = readRepoFile('infra/app/function-app.bicep');

/** The data role each storage service needs (one per service; blob differs per account, see below). */
const SERVICE_ROLES: Record<string, readonly string[]> = {
  blob: ['blobDataOwner', 'blobDataContributor'],
  queue: ['queueDataContributor'],
  table: ['tableDataContributor'],
};

/** Which storage account each identity-based connection prefix uses (the rbac.bicep `existing` symbols). */
const CONNECTION_ACCOUNTS: Record<string, string> = {
  AzureWebJobsStorage: 'hostStorage',
  EXPORT_STORAGE: 'archiveStorage',
};

const IDENTITY = 'identityPrincipalId';

/** The (account, service) pairs that the app settings make the managed identity use. */
function servicesUsed(settingNames: readonly string[]): Array<{ account: string; service: string }> {
  const out: Array<{ account: string; service: string }> = [];
  for (const name of settingNames) {
    const m = /^(\w+?)__(blob|queue|table)ServiceUri$/.exec(name);
    if (!m) continue;
    const account = CONNECTION_ACCOUNTS[m[1]!];
    if (!account) throw new Error(`no storage account known for connection ${m[1]}`);
    out.push({ account, service: m[2]! });
  }
  return out;
}

function missingRoles(settingNames: readonly string[], assignments: readonly RoleAssignment[]): string[] {
  const mine = assignments.filter((a) => a.principal === IDENTITY);
  return servicesUsed(settingNames)
    .filter(({ account, service }) => !mine.some((a) => a.scope === account && SERVICE_ROLES[service]!.includes(a.role)))
    .map(({ account, service }) => `${account}/${service}`);
}

function unusedRoles(settingNames: readonly string[], assignments: readonly RoleAssignment[]): string[] {
  const used = servicesUsed(settingNames);
  return assignments
    .filter((a) => a.principal === IDENTITY && a.scope in Object.fromEntries(Object.values(CONNECTION_ACCOUNTS).map((v) => [v, 1])))
    .filter((a) => !used.some(({ account, service }) => account === a.scope && SERVICE_ROLES[service]!.includes(a.role)))
    .map((a) => `${a.scope}/${a.role}`);
}

describe('role assignments of the managed identity', () => {
  const assignments = roleAssignments(rbacBicep);
  const settings = bicepAppSettingNames(functionAppBicep);

  it('finds the role assignments in rbac.bicep', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(6);
    for (const a of assignments) {
      expect(a.scope, a.resource).not.toBe('');
      expect(a.role, a.resource).not.toBe('');
    }
  });

  it('covers blob, queue and table of the archive, and blob of the host storage', () => {
    const used = servicesUsed(settings).map(({ account, service }) => `${account}/${service}`);
    expect(used).toEqual(
      expect.arrayContaining(['archiveStorage/blob', 'archiveStorage/queue', 'archiveStorage/table', 'hostStorage/blob']),
    );
    expect(missingRoles(settings, assignments)).toEqual([]);
  });

  it('grants no storage role for a service the app settings do not use', () => {
    expect(unusedRoles(settings, assignments)).toEqual([]);
  });

  it('fails when the app starts using a storage service without a role', () => {
    expect(missingRoles([...settings, 'AzureWebJobsStorage__queueServiceUri'], assignments)).toEqual(['hostStorage/queue']);
    const withoutQueue = assignments.filter((a) => !(a.scope === 'archiveStorage' && a.role === 'queueDataContributor'));
    expect(missingRoles(settings, withoutQueue)).toEqual(['archiveStorage/queue']);
  });

  it('lets the identity publish telemetry to Entra-only Application Insights', () => {
    expect(
      assignments.some((a) => a.principal === IDENTITY && a.scope === 'applicationInsights' && a.role === 'monitoringMetricsPublisher'),
    ).toBe(true);
  });

  it('names every assignment guid(scope, principal, role)', () => {
    for (const a of assignments) {
      expect(a.name, a.resource).toBe(`guid(${a.scope}.id, ${a.principal}, roles.${a.role})`);
    }
  });

  it('uses the built-in role definition ids', () => {
    expect(rbacBicep).toContain("blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'");
    expect(rbacBicep).toContain("blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'");
    expect(rbacBicep).toContain("queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'");
    expect(rbacBicep).toContain("tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'");
    expect(rbacBicep).toContain("monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'");
  });
});

describe('storage accounts', () => {
  const storageBicep = readRepoFile('infra/app/storage.bicep');

  it('refuse shared keys and public blob access and require TLS 1.2', () => {
    expect(storageBicep).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(storageBicep).toMatch(/allowBlobPublicAccess:\s*false/);
    expect(storageBicep).toMatch(/minimumTlsVersion:\s*'TLS1_2'/);
    // Both accounts take the same secure defaults.
    expect(storageBicep.match(/properties:\s*union\(secureDefaults/g)?.length).toBe(2);
  });

  it('turns WORM on and keeps lifecycle tiering off by default', () => {
    const resources = readRepoFile('infra/resources.bicep');
    expect(resources).toMatch(/^param enableImmutability bool = true$/m);
    expect(resources).toMatch(/^param lifecycleCoolAfterDays int = 0$/m);
    expect(resources).toMatch(/^param lifecycleArchiveAfterDays int = 0$/m);
  });
});
