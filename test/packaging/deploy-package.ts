// The deployment package as `azd package` builds it for this service (docs/deploy.md, "How the package
// is built"): every file under the project folder, minus what `.funcignore` excludes with gitignore
// semantics, minus what azd always leaves out. Plus the two steps of the remote build it is shipped
// to, and the production dependencies that build installs, so the tests can run the app from a copy
// made only of what Azure would have.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
