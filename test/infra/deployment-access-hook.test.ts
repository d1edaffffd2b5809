// The post-provision wait (azure.yaml hooks, infra/hooks/wait-for-deployment-access.mjs): `azd up` deploys
// only once the Function App's identity may upload the package to the deployment storage. The hook's
// decision is tested on role assignments shaped as Azure Resource Manager lists them, its polling with
// the real clock (short waits, no timing assertions), and its wiring against azure.yaml and the Bicep:
// the role it waits for is the one rbac.bicep assigns, and the azd outputs it reads exist.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { bicepResource, readRepoFile, ROOT, roleAssignments } from './infra-text';

interface Assignment {
  properties: { principalId: string; roleDefinitionId: string; scope: string; createdOn?: string };
}
type Access = { state: 'missing' } | { state: 'settling'; waitMs: number } | { state: 'ready' };
interface Hook {
  BLOB_DATA_OWNER: string;
  uploadAccess(assignments: Assignment[], at: { principalId: string; accountId: string; nowMs: number; settleMs: number }): Access;
  settleMsOf(raw: string | undefined): number;
  waitForUploadAccess(opts: {
    listAssignments: () => Promise<Assignment[]>;
    principalId: string;
    accountId: string;
    settleMs: number;
    log: (line: string) => void;
    pollMs?: number;
    visibleWithinMs?: number;
  }): Promise<boolean>;
}

const HOOK = 'infra/hooks/wait-for-deployment-access.mjs';
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000001';
const RG = `${SUB}/resourceGroups/rg-teams-export-prod`;
const ACCOUNT = `${RG}/providers/Microsoft.Storage/storageAccounts/sthostabc123`;
const IDENTITY = '11111111-1111-1111-1111-111111111111';
const OWNER = `${SUB}/providers/Microsoft.Authorization/roleDefinitions/b7e6dc6d-f1e8-4753-8033-0f276bb0955b`;
const CONTRIBUTOR = `${SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe`;
const MINUTE = 60_000;

const assignment = (over: Partial<Assignment['properties']> = {}): Assignment => ({
  properties: {
    principalId: IDENTITY,
    roleDefinitionId: OWNER,
    scope: ACCOUNT,
    createdOn: new Date(Date.now() - 10 * MINUTE).toISOString(),
    ...over,
  },
});

let hook: Hook;
beforeAll(async () => {
  hook = (await import(pathToFileURL(join(ROOT, HOOK)).href)) as Hook;
});

describe('the post-provision wait for the deployment upload role', () => {
  it('runs after every provision, with the Node.js the project needs anyway', () => {
    const yaml = readRepoFile('azure.yaml');
    const hooks = /^hooks:\n {2}postprovision:\n([\s\S]*?)\n(?=\S)/m.exec(yaml)?.[1] ?? '';
    expect(hooks.match(/^ {6}run: node infra\/hooks\/wait-for-deployment-access\.mjs$/gm)?.length).toBe(2);
    expect(hooks).toMatch(/^ {4}posix:$/m);
    expect(hooks).toMatch(/^ {4}windows:$/m);
  });

  it('waits for the role rbac.bicep gives the identity on the deployment storage, reading outputs main.bicep sets', () => {
    const hostBlob = roleAssignments(readRepoFile('infra/app/rbac.bicep')).find((a) => a.resource === 'hostBlob')!;
    expect([hostBlob.scope, hostBlob.principal, hostBlob.role]).toEqual(['hostStorage', 'identityPrincipalId', 'blobDataOwner']);
    expect(readRepoFile('infra/app/rbac.bicep')).toContain(`blobDataOwner: '${hook.BLOB_DATA_OWNER}'`);
    // The package goes to the host storage account's deployment container (functionAppConfig.deployment).
    expect(readRepoFile('infra/app/function-app.bicep')).toMatch(
      /value: '\$\{hostStorage\.properties\.primaryEndpoints\.blob\}\$\{deploymentContainerName\}'/,
    );
    const main = readRepoFile('infra/main.bicep');
    const script = readRepoFile(HOOK);
    for (const name of ['HOST_STORAGE_ACCOUNT', 'MANAGED_IDENTITY_PRINCIPAL_ID', 'AZURE_RESOURCE_GROUP']) {
      expect(script).toContain(`'${name}'`);
      expect(main, `main.bicep outputs ${name}`).toMatch(new RegExp(`^output ${name} string = `, 'm'));
    }
    expect(main).toMatch(/^output HOST_STORAGE_ACCOUNT string = resources\.outputs\.hostStorageName$/m);
    expect(bicepResource(readRepoFile('infra/resources.bicep'), 'storage').body).toMatch(/hostStorageName: 'sthost\$\{resourceToken\}'/);
  });

  it('is missing until the identity holds Storage Blob Data Owner at the account or above it', () => {
    const at = { principalId: IDENTITY, accountId: ACCOUNT, nowMs: Date.now(), settleMs: 5 * MINUTE };
    expect(hook.uploadAccess([], at)).toEqual({ state: 'missing' });
    expect(hook.uploadAccess([assignment({ principalId: '22222222-2222-2222-2222-222222222222' })], at)).toEqual({ state: 'missing' });
    expect(hook.uploadAccess([assignment({ roleDefinitionId: CONTRIBUTOR })], at)).toEqual({ state: 'missing' });
    // Another account whose name starts like this one's does not count.
    expect(hook.uploadAccess([assignment({ scope: `${ACCOUNT}2` })], at)).toEqual({ state: 'missing' });
    expect(hook.uploadAccess([assignment()], at)).toEqual({ state: 'ready' });
    expect(hook.uploadAccess([assignment({ scope: RG })], at)).toEqual({ state: 'ready' });
    expect(hook.uploadAccess([assignment({ scope: `${ACCOUNT.toUpperCase()}/` })], at)).toEqual({ state: 'ready' });
  });

  it('waits out the propagation time after the assignment was made, and not again on a later provision', () => {
    const now = Date.now();
    const at = { principalId: IDENTITY, accountId: ACCOUNT, nowMs: now, settleMs: 5 * MINUTE };
    const fresh = assignment({ createdOn: new Date(now - MINUTE).toISOString() });
    expect(hook.uploadAccess([fresh], at)).toEqual({ state: 'settling', waitMs: 4 * MINUTE });
    expect(hook.uploadAccess([fresh], { ...at, nowMs: now + 4 * MINUTE })).toEqual({ state: 'ready' });
    // The oldest grant decides; an assignment from an earlier provision is ready at once.
    expect(hook.uploadAccess([fresh, assignment({ createdOn: '2026-01-01T00:00:00Z' })], at)).toEqual({ state: 'ready' });
  });

  it('takes the wait from TEAMS_EXPORT_DEPLOY_WAIT_SECONDS, 0 to 1800 s, default 300 s', () => {
    expect(hook.settleMsOf(undefined)).toBe(300_000);
    expect(hook.settleMsOf(' ')).toBe(300_000);
    expect(hook.settleMsOf('0')).toBe(0);
    expect(hook.settleMsOf('1800')).toBe(1_800_000);
    for (const bad of ['-1', '1801', '2.5', 'soon']) expect(() => hook.settleMsOf(bad), bad).toThrow(/TEAMS_EXPORT_DEPLOY_WAIT_SECONDS/);
    expect(readRepoFile('docs/deploy.md')).toContain('`TEAMS_EXPORT_DEPLOY_WAIT_SECONDS`');
  });

  it('polls until the assignment is listed and old enough, then lets the deployment go on', async () => {
    let calls = 0;
    let createdOn = '';
    const lines: string[] = [];
    const ready = await hook.waitForUploadAccess({
      // ARM lists nothing twice (replication), then the new assignment.
      listAssignments: async () => {
        calls++;
        if (calls <= 2) return [];
        createdOn ||= new Date().toISOString();
        return [assignment({ createdOn })];
      },
      principalId: IDENTITY,
      accountId: ACCOUNT,
      settleMs: 150,
      log: (line) => lines.push(line),
      pollMs: 20,
    });
    expect(ready).toBe(true);
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(lines[0]).toMatch(/not listed yet/);
    expect(lines[1]).toMatch(/^the role assignment is listed; waiting \d+ s more/);
  });

  it('gives up, so azd stops before deploying, when the assignment never shows up', async () => {
    const ready = await hook.waitForUploadAccess({
      listAssignments: async () => [assignment({ roleDefinitionId: CONTRIBUTOR })],
      principalId: IDENTITY,
      accountId: ACCOUNT,
      settleMs: 0,
      log: () => undefined,
      pollMs: 10,
      visibleWithinMs: 50,
    });
    expect(ready).toBe(false);
  });
});
