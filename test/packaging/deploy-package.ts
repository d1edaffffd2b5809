// The deployment package as `azd package` builds it for this service (docs/deploy.md, "How the package
// is built"): every file under the project folder, minus what `.funcignore` excludes with gitignore
// semantics, minus what azd always leaves out. Plus the steps of the remote build it is shipped to, as
// Oryx (the Flex Consumption build) runs them for a Node app, so the tests can run the app from a copy
// made only of what Azure would have after that build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ignore from 'ignore';

/**
 * What azd leaves out of a Functions package whatever the ignore file says, by name at any depth
 * (azd's createDeployableZip): `.azure` folders, the ignore file itself, `local.settings.json` files.
 */
const ALWAYS_EXCLUDED = { dirs: new Set(['.azure']), files: new Set(['.funcignore', 'local.settings.json']) };

/** A gitignore-semantics matcher over `.funcignore` text: `ignored('dist/src/')` for folders, `ignored('a/b.js')` for files. */
export function funcignoreMatcher(funcignore: string): (relPath: string) => boolean {
  const ig = ignore().add(funcignore);
  return (relPath) => ig.ignores(relPath);
}

/**
 * The package's files, relative with '/' separators, sorted. An excluded folder is not entered (git
 * cannot re-include a file below an excluded folder either), so an excluded node_modules costs nothing.
 * Symbolic links count as what they point to, as azd's copy reads them.
 */
export function packageFiles(root: string, funcignore: string): string[] {
  const ignored = funcignoreMatcher(funcignore);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const isDir = statSync(join(root, path)).isDirectory();
      if (isDir) {
        if (!ALWAYS_EXCLUDED.dirs.has(name) && !ignored(`${path}/`)) walk(path);
      } else if (!ALWAYS_EXCLUDED.files.has(name) && !ignored(path)) {
        out.push(path);
      }
    }
  };
  walk('');
  return out.sort();
}

/** Copies the listed files from root into dir, keeping their relative paths. */
export function materialise(root: string, files: readonly string[], dir: string): void {
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(root, f), join(dir, f));
  }
}

/** Runs the build script's compiler (package.json "build": tsc -p tsconfig.json) in dir, as the remote build does. */
export function runRemoteBuild(typescriptRoot: string, dir: string): { ok: boolean; output: string } {
  const tsc = join(typescriptRoot, 'typescript', 'bin', 'tsc');
  const scripts = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  const build = scripts.build ?? '';
  const m = /^tsc(?: -p (\S+))?$/.exec(build);
  if (!m) throw new Error(`package.json "build" is ${JSON.stringify(build)}: this test knows how to run "tsc -p <tsconfig>" only`);
  const r = spawnSync(process.execPath, [tsc, '-p', m[1] ?? 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

interface PackageJson {
  main?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * What Oryx's Node build runs for a package.json, in order, when no custom build command is configured
 * (this app configures none): `npm install` (devDependencies included), `npm run build` when there is a
 * `build` script, then `npm run build:azure` when there is a `build:azure` script. From Oryx's sources
 * (microsoft/Oryx: src/BuildScriptGenerator/Node/NodePlatform.cs, NodeBashBuildSnippet.sh.tpl;
 * doc/runtimes/nodejs.md, "Build"). Oryx prunes devDependencies only when its caller passes the build
 * property prune_dev_dependencies, which no app setting reaches: a `build:azure` script is the step this
 * package controls (docs/deploy.md, "How the package is built").
 */
export function oryxNodeBuildSteps(pkg: PackageJson): string[] {
  const scripts = pkg.scripts ?? {};
  return [
    'npm install',
    ...(scripts.build !== undefined ? ['npm run build'] : []),
    ...(scripts['build:azure'] !== undefined ? ['npm run build:azure'] : []),
  ];
}

/**
 * Runs `npm run <script>` in dir as the remote build's step does, except that npm may not reach a registry:
 * whatever the script needs must already be in dir (a test must not depend on the network).
 */
export function runNpmScript(dir: string, script: string): { ok: boolean; output: string } {
  const r = spawnSync('npm', ['run', script], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** The files (symbolic links not followed) and bytes under a folder. */
export function treeSize(dir: string): { files: number; bytes: number } {
  const totals = { files: 0, bytes: 0 };
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const st = lstatSync(join(d, name));
      if (st.isDirectory()) walk(join(d, name));
      else if (st.isFile()) {
        totals.files++;
        totals.bytes += st.size;
      }
    }
  };
  walk(dir);
  return totals;
}

/** The files package.json "main" names (a single '*' in the file name part is the only wildcard supported). */
export function mainFiles(dir: string): string[] {
  const main = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { main?: string }).main;
  if (!main) throw new Error('package.json has no "main"');
  if (!main.includes('*')) return [main];
  const folder = dirname(main);
  const pattern = new RegExp(
    `^${main
      .slice(folder.length + 1)
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  const found = statSync(join(dir, folder), { throwIfNoEntry: false }) ? readdirSync(join(dir, folder)) : [];
  return found
    .filter((n) => pattern.test(n))
    .map((n) => `${folder}/${n}`)
    .sort();
}
