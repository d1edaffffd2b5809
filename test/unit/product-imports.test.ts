// The product (src/, functions/; what tsconfig.json builds and a deployment ships) must never import the
// development tools (emulator/, bench/) nor a devDependency: tsc would quietly compile them into dist/,
// and a production install (`npm ci --omit=dev`) would fail to load them (emulator/README.md).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '../..');
const PRODUCT_DIRS = ['src', 'functions'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

interface ModuleRef {
  spec: string;
  /** `import type` / `export type`: erased from the JavaScript, but it still puts the file in the program. */
  typeOnly: boolean;
}

/** The modules a file names in import/export-from statements (at line start), dynamic import() and require(). */
function moduleRefs(source: string): ModuleRef[] {
  const statements = [...source.matchAll(/^(import|export)(\s+type\b)?(?:[^;'"]*?\bfrom\s*)?\s*'([^']+)'/gm)].map((m) => ({
    spec: m[3]!,
    typeOnly: m[2] !== undefined,
  }));
  const calls = [...source.matchAll(/\b(?:require|import)\(\s*'([^']+)'\s*\)/g)].map((m) => ({ spec: m[1]!, typeOnly: false }));
  return [...statements, ...calls];
}

describe('the product imports', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const files = PRODUCT_DIRS.flatMap((d) => sourceFiles(join(REPO, d)));

  it('finds the product sources and their imports', () => {
    expect(files.length).toBeGreaterThan(20);
    const refs = files.flatMap((f) => moduleRefs(readFileSync(f, 'utf8')));
    expect(refs.map((r) => r.spec)).toEqual(expect.arrayContaining(['@azure/storage-blob', 'zod', 'node:fs']));
    expect(refs.filter((r) => r.spec.startsWith('../')).length).toBeGreaterThan(20);
  });

  it('only its own folders, Node.js built-ins and production dependencies (devDependencies for types only)', () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const { spec, typeOnly } of moduleRefs(readFileSync(file, 'utf8'))) {
        const where = `${relative(REPO, file)} imports '${spec}'`;
        if (spec.startsWith('.')) {
          const top = relative(REPO, resolve(dirname(file), spec)).split(/[\\/]/)[0]!;
          if (!PRODUCT_DIRS.includes(top)) wrong.push(where);
        } else if (!spec.startsWith('node:') && !typeOnly) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!(name in pkg.dependencies)) wrong.push(where);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
