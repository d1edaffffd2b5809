// `teams-export demo` runs the Graph emulator and Azurite, which are development tools (emulator/README.md):
// they are built into dist-dev/ by `npm run build:dev` and need the devDependencies (azurite, selfsigned).
// A production install (`npm ci --omit=dev`, a deployment package) has neither, so the CLI loads the demo
// only when `demo` is run, and every other command works without it.
import { resolve } from 'node:path';
import type { CliContext } from './cli-context';
import { UsageError } from './cli-errors';

/** What emulator/demo.ts exports (declared here: the product never imports the development tools). */
export type DemoCommand = (ctx: CliContext, o: { keep: boolean }) => Promise<number>;

// The CLI runs compiled, from dist/src/cli/; the development build sits beside dist/ in dist-dev/.
export const DEMO_MODULE = resolve(__dirname, '../../../dist-dev/emulator/demo.js');

export const DEMO_NEEDS_DEV_DEPENDENCIES =
  'demo needs the development dependencies, which this installation does not have: clone the repository, then run `npm install` and `npm run demo`';

/** Loads the demo command; a UsageError with a one-line explanation when this install cannot run it. */
export function loadDemo(modulePath: string = DEMO_MODULE): DemoCommand {
  let loaded: { demoCommand?: DemoCommand };
  try {
    // A computed path, so the product build neither compiles nor bundles the development tools.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path only known at run time
    loaded = require(modulePath) as { demoCommand?: DemoCommand };
  } catch (err) {
    // The dev build is missing, or it is there but its dependencies were pruned (`npm prune --omit=dev`).
    if ((err as NodeJS.ErrnoException | null)?.code === 'MODULE_NOT_FOUND') throw new UsageError(DEMO_NEEDS_DEV_DEPENDENCIES);
    throw err;
  }
  if (typeof loaded.demoCommand !== 'function') throw new Error(`${modulePath} does not export demoCommand`);
  return loaded.demoCommand;
}
