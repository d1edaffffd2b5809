// `teams-export demo` loads the development build lazily: a missing build, or one whose devDependencies
// were pruned, becomes the one-line explanation (exit 2 through UsageError); any other failure stays loud.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/cli-errors';
import { DEMO_NEEDS_DEV_DEPENDENCIES, loadDemo } from '../../src/cli/load-demo';

function moduleFile(source: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'te-load-demo-')), 'demo.js');
  writeFileSync(file, source);
  return file;
}

describe('loadDemo', () => {
  it('returns the demo command of a development build', () => {
    const demo = loadDemo(moduleFile('exports.demoCommand = async () => 0;'));
    expect(typeof demo).toBe('function');
  });

  it('explains that the demo needs the development dependencies when the build is absent', () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'te-load-demo-')), 'dist-dev', 'emulator', 'demo.js');
    expect(() => loadDemo(missing)).toThrow(new UsageError(DEMO_NEEDS_DEV_DEPENDENCIES));
  });

  it('explains the same when the build is there but a devDependency was pruned', () => {
    const file = moduleFile("require('teams-export-pruned-dev-dependency'); exports.demoCommand = async () => 0;");
    expect(() => loadDemo(file)).toThrow(new UsageError(DEMO_NEEDS_DEV_DEPENDENCIES));
  });

  it('lets any other load failure through, unchanged', () => {
    expect(() => loadDemo(moduleFile("throw new Error('broken demo build');"))).toThrow('broken demo build');
    expect(() => loadDemo(moduleFile('exports.somethingElse = 1;'))).toThrow(/does not export demoCommand/);
  });

  it('the explanation is one line that says what to do', () => {
    expect(DEMO_NEEDS_DEV_DEPENDENCIES).not.toContain('\n');
    expect(DEMO_NEEDS_DEV_DEPENDENCIES).toMatch(/clone the repository.*npm install.*npm run demo/);
  });
});
