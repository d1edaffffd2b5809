// The product installed the way a server or a deployment package has it: the built output, bin/ and the
// production dependencies only (`npm ci --omit=dev`: no Azurite, no selfsigned, no development-tool build
// in dist-dev/). Every command but `demo` must work there, and `demo` must say in one line why it cannot.
// The production packages are laid down from the lock file and the installed tree (no registry, no network):
// exactly the packages `npm ci --omit=dev` installs (test/support/production-dependencies.ts).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator';
import { DAY, HOUR, iso } from '../../src/time';
import { cliEnv, emulatorCaFile, runCli, type CliResult } from '../support/cli-process';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from '../support/emulator';
import { installProductionDependencies } from '../support/production-dependencies';
import { testStorage } from '../support/storage';

const REPO = resolve(__dirname, '../..');
// What a production install consists of: the manifest and lock file, the command, the built product, the host file.
const PRODUCT_FILES = ['package.json', 'package-lock.json', 'bin', 'dist/src', 'dist/functions', 'host.json'];
// Linking ~13k files and starting the emulator: generous for a loaded machine.
const INSTALL_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 180_000;

function installProductionCopy(dir: string): void {
  for (const f of PRODUCT_FILES) {
    if (!existsSync(join(REPO, f))) throw new Error(`${f} is missing: run \`npm run build\` before the tests`);
    cpSync(join(REPO, f), join(dir, f), { recursive: true });
  }
  installProductionDependencies(REPO, readFileSync(join(REPO, 'package-lock.json'), 'utf8'), dir);
}

describe('a production install (npm ci --omit=dev) of the built product', () => {
  let dir: string;
  let bin: string;
  let emulator: Emulator;
  let env: Record<string, string>;
  const now = Date.now();
  const cli = (args: string[]): Promise<CliResult> => runCli(args, env, { script: bin, cwd: dir });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'te-prod-install-'));
    bin = join(dir, 'bin', 'teams-export.js');
    // The emulator runs here, in the test process (it is a development tool); the installed CLI reaches
    // it over HTTPS like a real tenant.
    emulator = await startTestEmulator({ tenant: { seed: 11, users: 3, teams: 1, historyDays: 3, endMs: now - 2 * HOUR } });
    env = cliEnv(emulator, testStorage('prod-install'), {
      NODE_EXTRA_CA_CERTS: await emulatorCaFile(emulator),
      ...TEST_HOSTED_CONTENT_ENV,
      EXPORT_START: iso(now - 4 * DAY),
    });
    installProductionCopy(dir);
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the production dependencies and none of the development ones', () => {
    expect(existsSync(join(dir, 'node_modules', '@azure', 'storage-blob', 'package.json'))).toBe(true);
    for (const dev of ['selfsigned', 'azurite', 'vitest', 'typescript'])
      expect(existsSync(join(dir, 'node_modules', dev)), dev).toBe(false);
  });

  it(
    '--help prints the usage',
    async () => {
      const help = await cli(['--help']);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/usage: teams-export/);
      expect(help.stderr).toBe('');
    },
    COMMAND_TIMEOUT_MS,
  );

  it(
    'run, backfill, status, ls, cat and verify work against Azurite and the Graph emulator',
    async () => {
      const run = await cli(['run', '--now', iso(now)]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/succeeded/);

      const user = emulator.tenant.users.find((u) => u.hasTeamsData && u.accountEnabled)!;
      const backfill = await cli(['backfill', '--from', iso(now - 2 * DAY), '--to', iso(now - DAY), '--user', user.id]);
      expect(backfill.code, backfill.stderr).toBe(0);

      const status = await cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const entities = (JSON.parse(status.stdout) as { entities: Array<{ lastStatus: string }> }).entities;
      expect(entities.filter((e) => e.lastStatus === 'done').length).toBeGreaterThan(0);

      const ls = await cli(['ls', 'messages/', '--json']);
      expect(ls.code, ls.stderr).toBe(0);
      const blobs = ls.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { name: string; lines: number });
      expect(blobs.length).toBeGreaterThan(0);

      const cat = await cli(['cat', blobs[0]!.name]);
      expect(cat.code, cat.stderr).toBe(0);
      expect(cat.stdout.trim().split('\n')).toHaveLength(blobs[0]!.lines);

      const verify = await cli(['verify']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    },
    COMMAND_TIMEOUT_MS,
  );

  it(
    'demo explains in one line that it needs the development dependencies, and fails',
    async () => {
      const demo = await cli(['demo']);
      expect(demo.code).not.toBe(0);
      expect(demo.code).not.toBe(null);
      const lines = demo.stderr.trim().split('\n');
      expect(lines, demo.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^teams-export: demo needs the development dependencies/);
      expect(lines[0]).toContain('npm install');
      expect(lines[0]).toContain('npm run demo');
      expect(demo.stdout).toBe('');
    },
    COMMAND_TIMEOUT_MS,
  );
});
