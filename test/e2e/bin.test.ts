// bin/teams-export.js before anything is built (issue: `npx teams-export run` right after `npm install`
// crashed with "Cannot find module '../dist/src/cli/main.js'"). In a clone with the development dependencies
// the command compiles the CLI once and runs; without TypeScript (a production install) it says in one line
// what to run. Each case runs on a copy holding only the files a fresh clone has, never on this checkout.
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process';

const REPO = resolve(__dirname, '../..');
// What the product build (`npm run build`, tsconfig.json) reads, plus the command itself.
const CLONE_FILES = ['package.json', 'tsconfig.json', 'bin', 'src', 'functions'];
// One compile of the product on a loaded machine: generous, never a pass/fail criterion.
const BUILD_TIMEOUT_MS = 300_000;

describe('bin/teams-export.js without dist/', () => {
  const dirs: string[] = [];
  const copy = (files: readonly string[]): string => {
    const dir = mkdtempSync(join(tmpdir(), 'te-bin-'));
    dirs.push(dir);
    for (const f of files) cpSync(join(REPO, f), join(dir, f), { recursive: true });
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it(
    'in a clone after `npm install`: compiles the CLI once, then runs the command',
    async () => {
      const dir = copy(CLONE_FILES);
      symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const bin = join(dir, 'bin', 'teams-export.js');

      const first = await runCli(['--help'], {}, { script: bin, cwd: dir });
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^usage: teams-export/);
      expect(first.stderr).toMatch(/^teams-export: dist\/ is missing: compiling the CLI once \(what `npm run build` does\)/);
      expect(existsSync(join(dir, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
      // Built beside dist/ and renamed into place: nothing is left over.
      expect(readdirSync(dir).filter((n) => n.startsWith('dist-building-'))).toEqual([]);

      const second = await runCli(['--help'], {}, { script: bin, cwd: dir });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toBe('');
    },
    BUILD_TIMEOUT_MS,
  );

  it('without TypeScript and without dist/: one line saying what to run, exit 2', async () => {
    const dir = copy(['package.json', 'bin']);
    const r = await runCli(['run'], {}, { script: join(dir, 'bin', 'teams-export.js'), cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toBe(
      'teams-export: dist/ is missing and this install cannot build it (no TypeScript): from a clone, run `npm install`, then `npm run build`',
    );
  });
});
