// The product's layering, checked on the source: folders import only from folders below them, only the
// archive module (and the composition root that builds the clients) reaches Blob Storage, and blob
// names and error helpers exist once.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'emulator' ? [] : sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(SRC, path).split('\\').join('/'), text: readFileSync(path, 'utf8') }));
const folderOf = (path: string) => (path.includes('/') ? path.split('/')[0]! : '.');

/** Lower numbers sit lower: a folder may import from its own level or below. Root files (settings, log, time) are utilities. */
const LEVEL: Record<string, number> = { model: 0, graph: 1, archive: 1, state: 1, export: 2, rsmf: 2, viewer: 2, app: 3, cli: 3 };

function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

describe('layering', () => {
  it('sees the source', () => {
    expect(files.some((f) => f.path === 'archive/blob-layout.ts')).toBe(true);
    expect(files.some((f) => f.path === 'export/run-lifecycle.ts')).toBe(true);
  });

  it('no folder imports from a folder above it', () => {
    const upward: string[] = [];
    for (const f of files) {
      const from = folderOf(f.path);
      if (LEVEL[from] === undefined) continue;
      for (const spec of importsOf(f.text)) {
        if (!spec.startsWith('../')) continue;
        const target = spec.replace(/^\.\.\//, '').split('/')[0]!;
        const level = LEVEL[target];
        if (level !== undefined && level > LEVEL[from]!) upward.push(`${f.path} → ${spec}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('only src/archive and the composition root import the Blob Storage SDK', () => {
    const allowed = new Set(['deps.ts', 'storage-clients.ts']);
    const offenders = files
      .filter((f) => !f.path.startsWith('archive/') && !allowed.has(f.path) && f.text.includes("'@azure/storage-blob'"))
      .map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it('nothing outside src/archive calls a container or blob client', () => {
    const calls =
      /\.(getBlobClient|getBlockBlobClient|listBlobsFlat|listBlobsByHierarchy|getBlobLeaseClient|uploadData|downloadToBuffer)\(/;
    const offenders = files.filter((f) => !f.path.startsWith('archive/') && calls.test(f.text)).map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it('archive folder names are spelled only in blob-layout.ts', () => {
    const literal = /['`](messages|quarantine|manifests|retained|content|locks|audit)\/[^'`]*['`]/;
    const offenders = files
      .filter((f) => f.path !== 'archive/blob-layout.ts' && f.path !== 'cli/main.ts')
      .flatMap((f) => f.text.split('\n').map((line, i) => ({ line, at: `${f.path}:${i + 1}` })))
      // Comments and user-facing text may name a folder; code building or matching names may not.
      .filter(({ line }) => !/^\s*(\/\/|\*|\/\*\*)/.test(line) && !/\bout\(|write\(ctx\.|message:/.test(line) && literal.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('statusOf and the error-to-text helper exist once, in src/model/errors.ts', () => {
    const definitions = files.filter((f) => /function statusOf\(|function errorText\(/.test(f.text)).map((f) => f.path);
    expect(definitions).toEqual(['model/errors.ts']);
  });
});
