// The `teams-export` command as a user runs it: a separate process, real env vars, exit codes.
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator';
import { DAY, HOUR, iso } from '../../src/time';
import { cliEnv, emulatorCaFile, runCli as cli } from '../support/cli-process';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from '../support/emulator';
import { testStorage } from '../support/storage';

/** The latest runs as `status --json` lists them. */
async function statusRuns(
  env: Record<string, string>,
): Promise<Array<{ runId: string; status: string; inProcess?: boolean; error?: string }>> {
  const r = await cli(['status', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { runs: Array<{ runId: string; status: string; inProcess?: boolean; error?: string }> }).runs;
}

describe('teams-export CLI', () => {
  let emulator: Emulator;
  let env: Record<string, string>;
  const now = Date.now();

  beforeAll(async () => {
    emulator = await startTestEmulator({ tenant: { seed: 5, users: 5, teams: 2, historyDays: 30, endMs: now - 2 * HOUR } });
    const caFile = await emulatorCaFile(emulator);
    const storage = testStorage('cli');
    env = cliEnv(emulator, storage, { NODE_EXTRA_CA_CERTS: caFile, ...TEST_HOSTED_CONTENT_ENV, EXPORT_START: iso(now - 40 * DAY) });
  });
  afterAll(() => emulator?.close());

  it('prints usage and exits 2 without a command, and names an unknown one', async () => {
    const none = await cli([], env);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/usage: teams-export/);
    const unknown = await cli(['export-everything'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "export-everything"/);
  });

  it('rejects bad arguments with a one-line error and exit code 2', async () => {
    const badNow = await cli(['run', '--now', 'tomorrow'], env);
    expect(badNow.code).toBe(2);
    expect(badNow.stderr).toMatch(/--now must be an ISO-8601 UTC instant/);
    const reversed = await cli(['backfill', '--from', '2024-02-01T00:00:00Z', '--to', '2024-01-01T00:00:00Z'], env);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toMatch(/--from .* must be before --to/);
    const unknownFlag = await cli(['status', '--verbose'], env);
    expect(unknownFlag.code).toBe(2);
    const wrongFlag = await cli(['status', '--now', iso(now)], env);
    expect(wrongFlag.code).toBe(2);
    expect(wrongFlag.stderr).toMatch(/status does not take --now/);
    const traversal = await cli(['cat', 'messages/../locks/x'], env);
    expect(traversal.code).toBe(2);
    // A refusal with a way out names it.
    const absent = await cli(['cat', 'messages/users/nobody/2024/01/01/x.jsonl.gz'], env);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toBe(
      'teams-export: cat: no blob named messages/users/nobody/2024/01/01/x.jsonl.gz (`teams-export ls` lists them)\n',
    );
  });

  it('fails at start-up naming an invalid setting, before any work', async () => {
    const tokensBefore = emulator.counters.byRoute.token ?? 0;
    const r = await cli(['run'], { ...env, EXPORT_SETTLE: 'one day' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/EXPORT_SETTLE/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(emulator.counters.byRoute.token ?? 0).toBe(tokensBefore);
  });

  it('a wrong client secret fails the run with a clear message that does not contain the secret', async () => {
    const secret = 'wrong-secret-7f3a9c';
    const r = await cli(['run', '--now', iso(now)], { ...env, AZURE_CLIENT_SECRET: secret });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/could not enumerate users and teams: could not get an access token/);
    expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it('run exports the tenant, then status, ls and cat show it', async () => {
    const run = await cli(['run', '--now', iso(now)], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/succeeded/);
    expect(run.stderr).not.toContain(emulator.clientSecret);
    // The collection report (docs/design.md §13): per kind, and what the APIs do not cover.
    expect(run.stdout).toMatch(/^ {2}user: \d+ planned, \d+ exported, \d+ skipped/m);
    expect(run.stdout).toMatch(/^ {2}not covered: EXPORT_RETAINED is off/m);

    const status = await cli(['status', '--json'], env);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      latest: { report: { kinds: Record<string, { planned: number }> } };
      entities: Array<{ id: string; freshWatermark: string | null; lastStatus: string }>;
    };
    expect(parsed.latest.report.kinds.user?.planned).toBeGreaterThan(0);
    const done = parsed.entities.filter((e) => e.lastStatus === 'done');
    expect(done.length).toBeGreaterThan(0);
    for (const e of done) expect(e.freshWatermark).toBe(iso(now - 5 * 60_000));

    const ls = await cli(['ls', 'messages/', '--json'], env);
    expect(ls.code).toBe(0);
    const blobs = ls.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; lines: number });
    expect(blobs.length).toBeGreaterThan(0);
    const first = blobs[0]!;
    expect(first.name).toMatch(/^messages\/(users|teams)\/.+\/\d{4}\/\d{2}\/\d{2}\/.+\.jsonl\.gz$/);

    const cat = await cli(['cat', first.name], env);
    expect(cat.code).toBe(0);
    const lines = cat.stdout.trim().split('\n');
    expect(lines).toHaveLength(first.lines);
    for (const l of lines) expect(JSON.parse(l)).toHaveProperty('id');
  });

  it('reports skipped entities as counts by reason in plain words; ids only with --verbose or --json', async () => {
    const storage = testStorage('cli-skips');
    const e = {
      ...env,
      EXPORT_STORAGE: storage.connectionString,
      EXPORT_CONTAINER: storage.container,
      EXPORT_TABLE_PREFIX: storage.tablePrefix,
    };
    const users = emulator.tenant.users.filter((u) => u.hasTeamsData && u.accountEnabled).slice(0, 3);
    expect(users).toHaveLength(3);
    const [noMailbox1, noMailbox2, gone] = users.map((u) => u.id) as [string, string, string];
    const skippedIds = [noMailbox1, noMailbox2, gone];
    const args = ['backfill', '--from', iso(now - 2 * DAY), '--to', iso(now - DAY), ...users.flatMap((u) => ['--user', u.id])];
    emulator.setFaults({ entityErrors: { [noMailbox1]: 'mailboxNotEnabled', [noMailbox2]: 'mailboxNotEnabled', [gone]: 'userGone' } });
    try {
      const text = await cli(args, e);
      expect(text.code, text.stderr).toBe(0);
      const report = text.stdout.slice(text.stdout.indexOf('  user:'));
      expect(report).toMatch(
        new RegExp(
          [
            '^ {2}user: 3 planned, 0 exported, 3 skipped, 0 failed',
            ' {4}2 users without an Exchange Online mailbox \\(MailboxNotEnabledForRESTAPI\\): Teams keeps chat messages there, so Graph has none for them',
            ' {4}1 user that Graph answers 404 for: without a mailbox, so Graph has no chats for them, or deleted since they were listed',
            ' {2}',
          ].join('\n'),
        ),
      );
      expect(text.stdout).toMatch(/^ {2}the skipped entities' ids and Graph's answers: --verbose or --json$/m);
      for (const id of skippedIds) expect(text.stdout).not.toContain(id);

      const verbose = await cli([...args, '--verbose'], e);
      expect(verbose.code, verbose.stderr).toBe(0);
      expect(verbose.stdout).toContain('    2 users without an Exchange Online mailbox');
      expect(verbose.stdout).toMatch(
        new RegExp(`^ {2}skipped user:${noMailbox1}: 400 MailboxNotEnabledForRESTAPI \\(request-id [0-9a-f-]+\\)$`, 'm'),
      );
      expect(verbose.stdout).toMatch(
        new RegExp(`^ {2}skipped user:${gone}: 404 Request_ResourceNotFound \\(request-id [0-9a-f-]+\\)$`, 'm'),
      );
      expect(verbose.stdout).not.toContain('--verbose or --json');

      const json = await cli([...args, '--json'], e);
      expect(json.code, json.stderr).toBe(0);
      const { problems } = JSON.parse(json.stdout) as {
        problems: Array<{ entity: string; status: string; reason: string; requestId: string }>;
      };
      expect(problems.map((p) => [p.entity, p.status, p.reason]).sort()).toEqual(
        [
          [`user:${noMailbox1}`, 'skipped', 'no-mailbox'],
          [`user:${noMailbox2}`, 'skipped', 'no-mailbox'],
          [`user:${gone}`, 'skipped', 'entity-gone'],
        ].sort(),
      );
      for (const p of problems) expect(p.requestId).toMatch(/^[0-9a-f-]+$/);
    } finally {
      emulator.setFaults({ entityErrors: {} });
    }
  });

  it('a process killed mid-run loses nothing: the next run fails the one left open, saying why, and completes without duplicates', async () => {
    const storage = testStorage('cli-kill');
    const e = {
      ...env,
      EXPORT_STORAGE: storage.connectionString,
      EXPORT_CONTAINER: storage.container,
      EXPORT_TABLE_PREFIX: storage.tablePrefix,
      GRAPH_PAGE_SIZE: '3',
    };
    emulator.setFaults({ latencyMs: 20 });
    try {
      // Killed without warning in the middle of exporting (after some pages, long before the end).
      const pagesBefore = emulator.counters.messagePages;
      const killed = await cli(['run', '--now', iso(now)], e, { killWhen: () => emulator.counters.messagePages - pagesBefore >= 12 });
      expect(killed.code).toBe(null);
      const runsAfterKill = await statusRuns(e);
      expect(runsAfterKill).toHaveLength(1);
      expect(runsAfterKill[0]).toMatchObject({ status: 'running', inProcess: true });
      const killedRunId = runsAfterKill[0]!.runId;
      // The dead process's run lock and entity leases run out on their own within 60 s; broken here, as
      // that expiry would (else the rerun waits out the entities' 30 s leases).
      const { BlobServiceClient } = await import('@azure/storage-blob');
      const locks = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(storage.container);
      const broken: string[] = [];
      for await (const b of locks.listBlobsFlat({ prefix: 'locks/' })) {
        if (b.properties.leaseState !== 'leased') continue;
        await locks.getBlobClient(b.name).getBlobLeaseClient().breakLease(0);
        broken.push(b.name);
      }
      expect(broken).toContain(`locks/runs/${killedRunId}`);
      const rerun = await cli(['run', '--now', iso(now)], e);
      expect(rerun.code, rerun.stderr).toBe(0);
      // Nobody else would ever have closed the killed run: the next run did, with why, and its run.json.
      const left = (await statusRuns(e)).find((r) => r.runId === killedRunId);
      expect(left).toMatchObject({ status: 'failed', error: expect.stringMatching(/process running it stopped/) as unknown });
      const runJson = await cli(['cat', `manifests/${killedRunId}/run.json`], e);
      expect(runJson.code, runJson.stderr).toBe(0);
      expect(JSON.parse(runJson.stdout)).toMatchObject({ status: 'failed' });
    } finally {
      emulator.setFaults({ latencyMs: 0 });
    }
    const ls = await cli(['ls', 'messages/', '--json'], e);
    const names = ls.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { name: string }).name);
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const container = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(storage.container);
    const perEntity = new Map<string, string[]>();
    for (const name of names) {
      const entity = name.split('/').slice(1, 3).join('/');
      const text = gunzipSync(await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) {
        const m = JSON.parse(line) as {
          id: string;
          chatId?: string;
          channelIdentity?: { channelId: string };
          lastModifiedDateTime: string;
          etag?: string;
        };
        const key = `${m.chatId ?? m.channelIdentity?.channelId}|${m.id}|${m.lastModifiedDateTime}|${m.etag}`;
        perEntity.set(entity, [...(perEntity.get(entity) ?? []), key]);
      }
    }
    let total = 0;
    for (const [entity, keys] of perEntity) {
      expect(new Set(keys).size, entity).toBe(keys.length);
      total += keys.length;
    }
    let expected = 0;
    for (const u of emulator.tenant.users.filter((x) => x.hasTeamsData))
      expected += emulator.tenant.currentVersions({ kind: 'user', id: u.id }, { fromMs: 0, toMs: now - 5 * 60_000 }).length;
    for (const t of emulator.tenant.teams)
      expected += emulator.tenant.currentVersions({ kind: 'team', id: t.id }, { fromMs: 0, toMs: now - 5 * 60_000 }).length;
    expect(total).toBe(expected);
  });
});
