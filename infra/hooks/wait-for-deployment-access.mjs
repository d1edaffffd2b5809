// azd `postprovision` hook (azure.yaml): waits until the Function App's identity may upload the
// deployment package, so the `azd deploy` that follows in `azd up` does not fail with 403.
//
// Why: on Flex Consumption the platform writes the uploaded package to the deployment container of the
// host storage account as the app's user-assigned identity, which holds Storage Blob Data Owner there
// (infra/app/rbac.bicep, hostBlob). That role assignment is created a few minutes before azd deploys, and
// storage honours a new assignment only once it has propagated: the first `azd up` of an environment can
// fail with "InaccessibleStorageException ... 403" while a second `azd deploy` a minute later succeeds
// (Azure/azure-dev issue 8026, "azd up: RBAC propagation race causes 403 on first deploy when storage
// local auth is disabled").
//
// What it checks: nothing here can act as that identity, so it polls Azure Resource Manager until the
// assignment is listed for the identity at the host storage account (or above it), then waits until the
// assignment is TEAMS_EXPORT_DEPLOY_WAIT_SECONDS old (default 300): the propagation time the storage
// service needs. An assignment made in an earlier provision is old enough already, so re-provisioning
// does not wait. docs/deploy.md ("First deployment: the role wait") says what to do when it times out.
//
// Runs with the Node.js the project needs anyway; signs in with azd's own login (@azure/identity's
// AzureDeveloperCliCredential, a dependency of the app, installed by azd's restore step).
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

/* global fetch */

/** Storage Blob Data Owner: what infra/app/rbac.bicep (hostBlob) assigns on the host storage account. */
export const BLOB_DATA_OWNER = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b';
export const DEFAULT_WAIT_SECONDS = 300;
export const MAX_WAIT_SECONDS = 1800;
const ARM = 'https://management.azure.com';
const POLL_MS = 10_000;
/** How long an assignment may stay invisible before the hook gives up (ARM replicates within minutes). */
const VISIBLE_WITHIN_MS = 15 * 60_000;

/**
 * Whether the identity's upload role is in place, from the role assignments ARM lists for it:
 * `missing` (not listed yet), `settling` (listed, younger than settleMs: waitMs to go) or `ready`.
 * An assignment counts when it is Storage Blob Data Owner, for principalId, at the account or above it.
 * @param {Array<{ properties: { principalId: string, roleDefinitionId: string, scope: string, createdOn?: string } }>} assignments
 * @param {{ principalId: string, accountId: string, nowMs: number, settleMs: number }} at
 * @returns {{ state: 'missing' } | { state: 'settling', waitMs: number } | { state: 'ready' }}
 */
export function uploadAccess(assignments, at) {
  const account = at.accountId.toLowerCase();
  const grants = assignments.filter(({ properties: p }) => {
    const scope = p.scope.toLowerCase().replace(/\/+$/, '');
    return (
      p.principalId === at.principalId &&
      p.roleDefinitionId.toLowerCase().endsWith(`/roledefinitions/${BLOB_DATA_OWNER}`) &&
      (account === scope || account.startsWith(`${scope}/`))
    );
  });
  if (grants.length === 0) return { state: 'missing' };
  // The oldest grant decides: any one of them lets the upload through once it has propagated.
  const createdMs = Math.min(...grants.map(({ properties: p }) => (p.createdOn ? Date.parse(p.createdOn) : 0)));
  const readyMs = createdMs + at.settleMs;
  return at.nowMs >= readyMs ? { state: 'ready' } : { state: 'settling', waitMs: readyMs - at.nowMs };
}

/** TEAMS_EXPORT_DEPLOY_WAIT_SECONDS as milliseconds: a whole number of seconds from 0 to 1800. */
export function settleMsOf(raw) {
  if (raw === undefined || raw.trim() === '') return DEFAULT_WAIT_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_WAIT_SECONDS) {
    throw new Error(
      `TEAMS_EXPORT_DEPLOY_WAIT_SECONDS must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}, not ${JSON.stringify(raw)}`,
    );
  }
  return seconds * 1000;
}

/**
 * Polls until uploadAccess says ready. listAssignments returns the assignments ARM lists for the identity;
 * log receives one line per state change. Resolves to true when ready, false when the assignment stayed
 * invisible for visibleWithinMs.
 */
export async function waitForUploadAccess({
  listAssignments,
  principalId,
  accountId,
  settleMs,
  log,
  pollMs = POLL_MS,
  visibleWithinMs = VISIBLE_WITHIN_MS,
}) {
  const started = Date.now();
  let last = '';
  for (;;) {
    const access = uploadAccess(await listAssignments(), { principalId, accountId, nowMs: Date.now(), settleMs });
    if (access.state !== last) {
      last = access.state;
      if (access.state === 'missing') log('the role assignment is not listed yet; polling Azure Resource Manager');
      if (access.state === 'settling')
        log(`the role assignment is listed; waiting ${Math.ceil(access.waitMs / 1000)} s more for storage to honour it`);
    }
    if (access.state === 'ready') return true;
    if (access.state === 'missing' && Date.now() - started >= visibleWithinMs) return false;
    await sleep(access.state === 'settling' ? Math.min(access.waitMs, pollMs) : pollMs);
  }
}

/** The role assignments ARM lists for principalId that apply at the account (its own, and inherited). */
function armAssignments(credential, accountId, principalId) {
  return async () => {
    const { token } = await credential.getToken(`${ARM}/.default`);
    const filter = encodeURIComponent(`principalId eq '${principalId}'`);
    const url = `${ARM}${accountId}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${filter}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`listing role assignments at ${accountId}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    return (await res.json()).value ?? [];
  };
}

async function main(env) {
  const log = (line) => console.log(`[deployment access] ${line}`);
  if (env.TEAMS_EXPORT_SKIP_DEPLOY_WAIT === 'true') {
    log('skipped (TEAMS_EXPORT_SKIP_DEPLOY_WAIT=true)');
    return 0;
  }
  const missing = ['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'HOST_STORAGE_ACCOUNT', 'MANAGED_IDENTITY_PRINCIPAL_ID'].filter(
    (n) => !env[n],
  );
  if (missing.length > 0) {
    console.error(`[deployment access] ${missing.join(', ')} missing from the azd environment: run azd provision first`);
    return 1;
  }
  const settleMs = settleMsOf(env.TEAMS_EXPORT_DEPLOY_WAIT_SECONDS);
  const accountId = `/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/${env.AZURE_RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/${env.HOST_STORAGE_ACCOUNT}`;
  const { AzureDeveloperCliCredential } = await import('@azure/identity');
  log(`waiting until the Function App's identity may upload the package to ${env.HOST_STORAGE_ACCOUNT}`);
  const ready = await waitForUploadAccess({
    listAssignments: armAssignments(new AzureDeveloperCliCredential(), accountId, env.MANAGED_IDENTITY_PRINCIPAL_ID),
    principalId: env.MANAGED_IDENTITY_PRINCIPAL_ID,
    accountId,
    settleMs,
    log,
  });
  if (ready) {
    log('ready: the package upload is allowed');
    return 0;
  }
  console.error(
    `[deployment access] the identity's Storage Blob Data Owner assignment on ${env.HOST_STORAGE_ACCOUNT} is still not listed after ${VISIBLE_WITHIN_MS / 60_000} minutes: check it with az role assignment list (docs/deploy.md, "First deployment: the role wait"), then run azd deploy`,
  );
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.env).then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`[deployment access] ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
