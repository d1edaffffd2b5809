// Plain-text readers for the documentation checks: setting names in docs/settings.md's tables and in
// prose, relative Markdown links and heading anchors, `docs/x.md §N` citations, and the repository's
// text files. Pure functions over strings, so each check can also be shown failing on doctored text.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './infra-text';

/** Repo-relative paths of the Markdown files whose links must resolve: the README and docs/. */
export function docFiles(): string[] {
  const docs = existsSync(join(ROOT, 'docs')) ? repoFiles(['md']).filter((p) => p.startsWith('docs/')) : [];
  return ['README.md', 'functions/README.md', ...docs];
}

/** Folders never scanned: dependencies, build output, VCS data, Azurite's files. */
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'coverage', '__blobstorage__', '__queuestorage__']);

/** Repo-relative paths (with '/') of every file under the repo whose extension is in `exts`. */
export function repoFiles(exts: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('__azurite')) walk(join(dir, e.name));
      } else if (e.isFile() && exts.some((x) => e.name.endsWith(`.${x}`))) {
        out.push(relative(ROOT, join(dir, e.name)).split('\\').join('/'));
      }
    }
  };
  walk(ROOT);
  return out.sort();
}

/** The lines of a Markdown document outside fenced code blocks (``` or ~~~), with 1-based numbers. */
export function proseLines(markdown: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const m = /^\s*(```|~~~)/.exec(text);
    if (m) {
      if (fence === undefined) fence = m[1];
      else if (fence === m[1]) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line: i + 1, text });
  });
  return out;
}

/** Every backticked setting-like name in the first column of every table row. */
export function tableSettingNames(markdown: string): string[] {
  const names: string[] = [];
  for (const { text } of proseLines(markdown)) {
    if (!text.startsWith('|') || /^\|\s*-/.test(text)) continue;
    const first = text.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) names.push(m[1]!);
  }
  return names;
}

/** Rows of the tables: first-column names with the row's second cell (the default, in settings.md). */
export function tableRows(markdown: string): Array<{ names: string[]; second: string }> {
  const rows: Array<{ names: string[]; second: string }> = [];
  for (const { text } of proseLines(markdown)) {
    if (!text.startsWith('|') || /^\|\s*-/.test(text)) continue;
    const cells = text.split('|');
    const names = [...(cells[1] ?? '').matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]!);
    if (names.length > 0) rows.push({ names, second: (cells[2] ?? '').trim() });
  }
  return rows;
}

/**
 * Names in any text that look like the app's settings: `EXPORT_…`, `GRAPH_…`, `LOG_…` (not preceded by
 * a word character, so the deployment's `TEAMS_EXPORT_…` variables are not taken for settings). A name
 * ending in `__` (as in "`EXPORT_STORAGE__…`") is a family of settings and reported with its `__`.
 */
export function mentionedSettingNames(text: string): string[] {
  return [...new Set([...text.matchAll(/(?<![A-Za-z0-9_])(?:EXPORT|GRAPH|LOG)_[A-Za-z0-9_]+/g)].map((m) => m[0]))];
}

export interface DocLink {
  line: number;
  target: string;
}

/** Inline links and images `[text](target)` outside code blocks whose target is a relative path. */
export function relativeLinks(markdown: string): DocLink[] {
  const out: DocLink[] = [];
  for (const { line, text } of proseLines(markdown)) {
    // Inline code spans may hold brackets and parentheses that are not links.
    const prose = text.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
      out.push({ line, target });
    }
  }
  return out;
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading of a Markdown document (duplicates get -1, -2 … as on GitHub). */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const base = headingSlug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The numbers N of the `## N. Title` sections of a document. */
export function numberedSections(markdown: string): Set<number> {
  const out = new Set<number>();
  for (const { text } of proseLines(markdown)) {
    const m = /^##\s+(\d+)\.\s/.exec(text);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

export interface SectionCitation {
  doc: string;
  section: number;
}

/**
 * `docs/x.md §N` citations, including lists after one doc (`docs/design.md §3, §4`,
 * `docs/design.md §3 and §4`): one entry per section number.
 */
export function sectionCitations(text: string): SectionCitation[] {
  const out: SectionCitation[] = [];
  for (const m of text.matchAll(/\b(docs\/[A-Za-z0-9_-]+\.md)\s+(§\d+(?:\s*(?:,|and|&)\s*§\d+)*)/g)) {
    for (const n of m[2]!.matchAll(/§(\d+)/g)) out.push({ doc: m[1]!, section: Number(n[1]) });
  }
  return out;
}

export function readText(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}
