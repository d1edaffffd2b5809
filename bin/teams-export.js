#!/usr/bin/env node
// The `teams-export` command: runs the compiled CLI in dist/ (docs/cli.md).
//
// Right after `npm install` in a fresh clone there is no dist/ yet. Then, if this install has the project's own
// TypeScript compiler (the development dependencies), the command compiles what it needs once, as
// `npm run build` (and, for `demo`, the emulator's part of `npm run build:dev`) would, and goes on. Without
// TypeScript (a production install, `npm ci --omit=dev`, which ships dist/ already) it says in one line what
// to run, instead of a stack trace.
//
// Why here and not in a `prepare` script: npm runs `prepare` after every `npm install` and `npm ci`, with
// --omit=dev too (no TypeScript: the production install would fail unless the script guarded itself), after
// `npm install <package>` (a working copy that does not compile at that moment would fail the install), in CI
// (`npm ci`, then `npm test` compiles again) and in the Azure remote build (`npm install`, then
// `npm run build` compiles again; bin/ is not even in that package, .funcignore). Building here changes none
// of those: only this command, and only while dist/ is missing. After a `git pull`, `npm run build` as before.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdtempSync, renameSync, rmSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');

/** Exit code 2 (bad setup, as for bad arguments), one line on stderr. */
function fail(line) {
  process.stderr.write(`teams-export: ${line}\n`);
  process.exit(2);
}

/**
 * Compiles `tsconfig` into `outDir` when `outDir` is missing. The compiler writes into a sibling folder that is
 * renamed into place when it is done: an interrupted build, or two commands started at once, never leave a
 * half-built folder that the next command would take for a complete one. Without a compiler, `ifUnbuildable`
 * says whether to stop with a one-line message ('fail') or go on without it ('go-on').
 */
function buildIfMissing(outDir, tsconfig, what, script, ifUnbuildable) {
  const target = join(ROOT, outDir);
  if (existsSync(target)) return;
  // The project's own compiler (the version the lock file pins, as `npm run build` uses), never another one.
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc) || !existsSync(join(ROOT, tsconfig))) {
    if (ifUnbuildable === 'go-on') return;
    fail(`${outDir}/ is missing and this install cannot build it (no TypeScript): from a clone, run \`npm install\`, then \`${script}\``);
  }
  process.stderr.write(`teams-export: ${outDir}/ is missing: compiling ${what} once (what \`${script}\` does) ...\n`);
  const building = mkdtempSync(join(ROOT, 'dist-building-'));
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, tsconfig), '--outDir', building], {
    cwd: ROOT,
    // The compiler's messages go to stderr: stdout carries the command's results only (docs/cli.md §2).
    stdio: ['ignore', 2, 2],
  });
  if (r.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    fail(`compiling ${what} failed (the errors are above); \`${script}\` shows them again`);
  }
  try {
    renameSync(building, target);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    // Another command built it at the same time: use theirs.
    if (!existsSync(target)) throw err;
  }
}

buildIfMissing('dist', 'tsconfig.json', 'the CLI', 'npm run build', 'fail');
// Restarts this process with glibc's malloc settings (src/cli/malloc-env.ts) before the CLI's modules load,
// so they load once; the CLI's own start does the same for `node dist/src/cli/main.js`.
const mallocEnv = join(ROOT, 'dist', 'src', 'cli', 'malloc-env.js');
if (existsSync(mallocEnv)) require(mallocEnv).execWithMallocEnv();
// `demo` also needs the Graph emulator, a development tool built into dist-dev/. Where it cannot be built (a
// production install), the CLI says why in one line (src/cli/load-demo.ts).
if (process.argv[2] === 'demo')
  buildIfMissing('dist-dev', 'emulator/tsconfig.json', 'the demo (Graph emulator)', 'npm run build:dev', 'go-on');
const main = join(ROOT, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) fail('dist/ has no src/cli/main.js (an incomplete build): run `npm run build`');
require(main).runFromProcess();
