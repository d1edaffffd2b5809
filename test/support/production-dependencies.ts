// Production dependencies laid down as `npm ci --omit=dev` would, from the already installed tree and the
// lock file, without a registry: used by the deployment-package and production-install tests. And the
// full tree a plain `npm install` lays down (the remote build's first step), for the deployment-package
// test to prune as the remote build does.
import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface LockPackage {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
}

export interface LockPath {
  /** `node_modules/a`, `node_modules/a/node_modules/b`: where the package is installed. */
  path: string;
  optional: boolean;
  /** Only a devDependency (or a dependency of one) needs it. */
  dev: boolean;
}

/**
 * The package-lock.json paths `npm install` installs (`node_modules/a`, `node_modules/a/node_modules/b`), each
 * marked dev or not (optional ones may be absent). Lock paths are the install layout, so copying them
 * reproduces it; `npm ci --omit=dev` installs the ones not marked dev.
 */
export function lockPaths(lockJson: string): LockPath[] {
  const lock = JSON.parse(lockJson) as { lockfileVersion: number; packages: Record<string, LockPackage> };
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json v2 or later is needed (it lists installed paths)');
  return Object.entries(lock.packages)
    .filter(([path]) => path.startsWith('node_modules/'))
    .map(([path, p]) => ({ path, optional: p.optional === true, dev: p.dev === true || p.devOptional === true }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

function productionLockPaths(lockJson: string): LockPath[] {
  return lockPaths(lockJson).filter((p) => !p.dev);
}

/**
 * Installs the production dependencies into dir/node_modules by hard-linking (or copying, across file
 * systems) each locked production package from installedRoot/node_modules: what `npm ci --omit=dev` would lay
 * down, without a registry (`npm ci --omit=dev --offline` cannot run here: the local npm cache lacks
 * some locked packages). Returns the number of files and bytes installed.
 */
export function installProductionDependencies(installedRoot: string, lockJson: string, dir: string): { files: number; bytes: number } {
  return layDown(installedRoot, productionLockPaths(lockJson), dir, false);
}

/**
 * The tree a plain `npm install` leaves in dir/node_modules: every locked package, devDependencies
 * included. Production packages are hard-linked in full, as installProductionDependencies does; a dev
 * package is laid down as its package.json alone, which is all npm reads to decide what a prune removes
 * (hundreds of megabytes of tools are never copied to be deleted again). Loading a dev package from this
 * tree fails, so the app only starts from it once the devDependencies are gone.
 */
export function installAllDependenciesAsInstallWould(
  installedRoot: string,
  lockJson: string,
  dir: string,
): { files: number; bytes: number } {
  return layDown(installedRoot, lockPaths(lockJson), dir, true);
}

function layDown(
  installedRoot: string,
  paths: readonly LockPath[],
  dir: string,
  devAsManifests: boolean,
): { files: number; bytes: number } {
  const totals = { files: 0, bytes: 0 };
  const copyTree = (from: string, to: string, skipNodeModules: boolean) => {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) {
      if (skipNodeModules && name === 'node_modules') continue;
      const src = join(from, name);
      const dst = join(to, name);
      const st = lstatSync(src);
      if (st.isDirectory()) copyTree(src, dst, false);
      else if (st.isFile()) {
        try {
          linkSync(src, dst);
        } catch {
          copyFileSync(src, dst);
        }
        totals.files++;
        totals.bytes += st.size;
      }
    }
  };
  for (const { path: p, optional, dev } of paths) {
    const from = join(installedRoot, p);
    if (!statSync(from, { throwIfNoEntry: false })?.isDirectory()) {
      // An optional dependency for another platform is locked but never installed here.
      if (optional) continue;
      throw new Error(`${p} is locked but not installed in ${installedRoot}`);
    }
    if (dev && devAsManifests) {
      // A copy, not a link: nothing done to the stand-in may reach the developer's own install.
      mkdirSync(join(dir, p), { recursive: true });
      copyFileSync(join(from, 'package.json'), join(dir, p, 'package.json'));
      continue;
    }
    // A package's own node_modules holds nested dependencies, each a lock path of its own (or dev only).
    copyTree(from, join(dir, p), true);
  }
  return totals;
}
