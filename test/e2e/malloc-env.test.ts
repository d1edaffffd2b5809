// The CLI restarts itself once with glibc's malloc settings (src/cli/malloc-env.ts, docs/design.md §14):
// glibc reads them only when a process starts, so they must be in its environment from the first
// instruction. A preload script (NODE_OPTIONS=--require) reports every start of the process: its pid and
// the setting it started with.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MALLOC_ENV } from '../../src/cli/malloc-env';
import { runCli } from '../support/cli-process';

const BIN = resolve(__dirname, '../../bin/teams-export.js');
const dir = mkdtempSync(join(tmpdir(), 'te-malloc-'));
const preload = join(dir, 'report-start.js');
writeFileSync(
  preload,
  "process.stderr.write('start ' + process.pid + ' ' + (process.env.MALLOC_MMAP_THRESHOLD_ ?? 'unset') + ' ' + JSON.stringify(process.argv.slice(2)) + '\\n');\n",
);
const env = { NODE_OPTIONS: `--require ${preload}` };

/** The preload's lines: one per start of the process image. */
function starts(stderr: string): Array<{ pid: string; value: string; args: string }> {
  return [...stderr.matchAll(/^start (\d+) (\S+) (.*)$/gm)].map((m) => ({ pid: m[1]!, value: m[2]!, args: m[3]! }));
}

describe('the CLI starts with the malloc settings', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sets MALLOC_MMAP_THRESHOLD_ for the product (the value the Function App sets too)', () => {
    expect(MALLOC_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  for (const [how, script] of [
    ['bin/teams-export.js', BIN],
    ['node dist/src/cli/main.js', undefined],
  ] as const) {
    it(`${how}: restarts once, same pid and arguments, and runs the command once`, async () => {
      const r = await runCli(['--help'], env, script === undefined ? {} : { script });
      expect(r.code, r.stderr).toBe(0);
      const s = starts(r.stderr);
      expect(s.map((x) => x.value)).toEqual(['unset', MALLOC_ENV.MALLOC_MMAP_THRESHOLD_]);
      expect(s[1]!.pid).toBe(s[0]!.pid);
      expect(s[1]!.args).toBe(JSON.stringify(['--help']));
      expect(r.stdout.match(/^usage: teams-export/gm)).toHaveLength(1);
    });
  }

  it('keeps a value the operator set, and does not restart', async () => {
    const r = await runCli(['--help'], { ...env, MALLOC_MMAP_THRESHOLD_: '131072' }, { script: BIN });
    expect(r.code, r.stderr).toBe(0);
    expect(starts(r.stderr).map((x) => x.value)).toEqual(['131072']);
  });
});
