// Production dependencies laid down as `npm ci --omit=dev` would, from the already installed tree and the
// lock file, without a registry: used by the deployment-package and production-install tests.
import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface LockPackage {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
}

/**
 * The package-lock.json paths `npm ci --omit=dev` installs (`node_modules/a`, `node_modules/a/node_modules/b`):
 * every locked package not marked dev (optional ones may be absent). Lock paths are the install layout,
 * so copying them reproduces it.
 */
function productionLockPaths(lockJson: string): Array<{ path: string; optional: boolean }> {
  const lock = JSON.parse(lockJson) as { lockfileVersion: number; packages: Record<string, LockPackage> };
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json v2 or later is needed (it lists installed paths)');
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.devOptional)
    .map(([path, p]) => ({ path, optional: p.optional === true }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Installs the production dependencies into dir/node_modules by hard-linking (or copying, across file
 * systems) each locked production package from installedRoot/node_modules: what `npm ci --omit=dev` would lay
 * down, without a registry (`npm ci --omit=dev --offline` cannot run here: the local npm cache lacks
 * some locked packages). Returns the number of files and bytes installed.
 */
export function installProductionDependencies(installedRoot: string, lockJson: string, dir: string): { files: number; bytes: number } {
  const totals = { files: 0, bytes: 0 };
  const paths = productionLockPaths(lockJson);
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
  for (const { path: p, optional } of paths) {
    const from = join(installedRoot, p);
    if (!statSync(from, { throwIfNoEntry: false })?.isDirectory()) {
      // An optional dependency for another platform is locked but never installed here.
      if (optional) continue;
      throw new Error(`${p} is locked but not installed in ${installedRoot}`);
    }
    // A package's own node_modules holds nested dependencies, each a lock path of its own (or dev only).
    copyTree(from, join(dir, p), true);
  }
  return totals;
}
