// Operator input that used to lose or duplicate data without a word, through the CLI as a process
// against Azurite and the Graph emulator: a `--now` in the future, and users or teams named by UPN or
// by an upper-case object id. Each test owns its storage, so they run in any order.
import { BlobServiceClient } from '@azure/storage-blob';
import { TableServiceClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, EmulatedUser } from '../../emulator';
import { DAY, HOUR, iso, MINUTE } from '../../src/time';
import { cliEnv, emulatorCaFile, runCli } from '../support/cli-process';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from '../support/emulator';
import { testStorage } from '../support/storage';

interface RunJson {
  status: string;
  totals: { planned: number; done: number; skipped: number; failed: number; messages: number; duplicates: number };
}

describe('the CLI refuses or canonicalises operator input that would lose or duplicate data', () => {
  let emulator: Emulator;
  let caFile: string;
  let user: EmulatedUser;
  const startMs = Date.now() - 12 * DAY;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tenant: { seed: 77, users: 3, teams: 1, historyDays: 10, endMs: Date.now() - 2 * HOUR } });
    caFile = await emulatorCaFile(emulator);
    user = emulator.tenant.users.find((u) => u.hasTeamsData && u.userType !== 'Guest')!;
  });
  afterAll(() => emulator?.close());

  /** Settings for a CLI process on fresh, not yet created storage. */
  function freshEnv(label: string): Record<string, string> {
    return cliEnv(emulator, testStorage(label), { NODE_EXTRA_CA_CERTS: caFile, ...TEST_HOSTED_CONTENT_ENV, EXPORT_START: iso(startMs) });
  }

  async function blobNames(env: Record<string, string>): Promise<string[]> {
    const container = BlobServiceClient.fromConnectionString(env.EXPORT_STORAGE!).getContainerClient(env.EXPORT_CONTAINER!);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'messages/' })) names.push(b.name);
    return names;
  }

  async function tablesOf(env: Record<string, string>): Promise<string[]> {
    const service = TableServiceClient.fromConnectionString(env.EXPORT_STORAGE!, { allowInsecureConnection: true });
    const names: string[] = [];
    for await (const t of service.listTables()) if (t.name?.startsWith(env.EXPORT_TABLE_PREFIX!)) names.push(t.name);
    return names;
  }

  async function runRows(env: Record<string, string>): Promise<number> {
    const status = await runCli(['status', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    return (JSON.parse(status.stdout) as { runs: unknown[] }).runs.length;
  }

  function parseRun(stdout: string): RunJson {
    return JSON.parse(stdout) as RunJson;
  }

  it('run --now later than the real clock exits 2 naming the flag, and writes nothing', async () => {
    const env = freshEnv('cli-future-now');
    const requestsBefore = emulator.counters.requests;
    // A year typo: the kind of slip that would move every watermark a year ahead.
    const r = await runCli(['run', '--now', iso(Date.now() + 365 * DAY)], env);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--now .* is later than the current time/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(emulator.counters.requests).toBe(requestsBefore);
    // No container (so no blob), no tables (so no run row, no checkpoint).
    expect(await BlobServiceClient.fromConnectionString(env.EXPORT_STORAGE!).getContainerClient(env.EXPORT_CONTAINER!).exists()).toBe(
      false,
    );
    expect(await tablesOf(env)).toEqual([]);
  });

  it('backfill --user with the UPN in another case, after a daily run of the same window, adds no version', async () => {
    const env = freshEnv('cli-upn');
    const nowMs = Date.now();
    const daily = await runCli(['run', '--now', iso(nowMs), '--json'], env);
    expect(daily.code, daily.stderr).toBe(0);
    const upn = user.userPrincipalName.toUpperCase();
    expect(upn).not.toBe(user.userPrincipalName);
    const before = await blobNames(env);

    const r = await runCli(['backfill', '--from', iso(startMs), '--to', iso(nowMs - HOUR), '--user', upn, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const totals = parseRun(r.stdout).totals;
    // The user was read (and every version found archived already), not skipped and not re-archived.
    expect(totals).toMatchObject({ planned: 1, done: 1, skipped: 0, failed: 0, messages: 0 });
    expect(totals.duplicates).toBeGreaterThan(0);
    expect(await blobNames(env)).toEqual(before);
  });

  it('backfill --user with an upper-case object id archives under the canonical lower-case folder', async () => {
    const env = freshEnv('cli-upper-guid');
    const range = ['--from', iso(startMs), '--to', iso(Date.now() - HOUR)];
    const upper = await runCli(['backfill', ...range, '--user', user.id.toUpperCase(), '--json'], env);
    expect(upper.code, upper.stderr).toBe(0);
    expect(parseRun(upper.stdout).totals).toMatchObject({ planned: 1, done: 1, skipped: 0 });
    expect(parseRun(upper.stdout).totals.messages).toBeGreaterThan(0);
    const names = await blobNames(env);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n.startsWith(`messages/users/${user.id}/`), n).toBe(true);

    // The same user by its canonical id finds everything archived already.
    const lower = await runCli(['backfill', ...range, '--user', user.id, '--json'], env);
    expect(lower.code, lower.stderr).toBe(0);
    expect(parseRun(lower.stdout).totals).toMatchObject({ done: 1, messages: 0 });
    expect(await blobNames(env)).toEqual(names);
  });

  it('backfill naming an unknown UPN or a malformed id exits 2 naming it, and runs nothing', async () => {
    const env = freshEnv('cli-unknown-upn');
    const range = ['--from', iso(startMs), '--to', iso(Date.now() - HOUR)];
    const unknown = await runCli(['backfill', ...range, '--user', 'nobody@contoso.onmicrosoft.com'], env);
    expect(unknown.code, unknown.stdout + unknown.stderr).toBe(2);
    expect(unknown.stderr).toContain('nobody@contoso.onmicrosoft.com');
    expect(await runRows(env)).toBe(0);
    expect(await blobNames(env)).toEqual([]);

    const badTeam = await runCli(['backfill', ...range, '--team', 'Team 1'], env);
    expect(badTeam.code).toBe(2);
    expect(badTeam.stderr).toMatch(/--team "Team 1" is not a team object id/);
    const badUser = await runCli(['backfill', ...range, '--user', '{' + user.id + '}'], env);
    expect(badUser.code).toBe(2);
    expect(badUser.stderr).toMatch(/--user .* is neither a user object id/);
    // As strict as POST /api/backfills: the range must not reach into the future either.
    const future = await runCli(['backfill', '--from', iso(startMs), '--to', iso(Date.now() + DAY), '--user', user.id], env);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/--to .* is later than the current time/);
  });

  it('run --now within the tolerance for clock skew is accepted', async () => {
    // Only the check is under test: an empty selection makes the run itself trivial.
    const env = { ...freshEnv('cli-skew'), EXPORT_USERS: 'none', EXPORT_TEAMS: 'none' };
    const r = await runCli(['run', '--now', iso(Date.now() + MINUTE), '--json'], env);
    expect(r.stderr).not.toMatch(/later than the current time/);
    expect(r.code, r.stderr).not.toBe(2);
  });
});
