// The documentation holds together: every relative link in the README and docs/ reaches an existing
// file (and heading), every `docs/x.md §N` a comment cites exists, and nothing in the repository
// cites documents that live outside it.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docFiles, headingAnchors, numberedSections, readText, relativeLinks, repoFiles, sectionCitations } from './docs-text';
import { ROOT } from './infra-text';

/**
 * Documents other engineers are writing in parallel with this check; links to them may dangle until
 * they land. Remove an entry once its file exists (a missing file is then an error again).
 */
const BEING_WRITTEN: readonly string[] = [];

/** Text files whose contents are checked for citations (code, scripts, docs, infrastructure). */
const TEXT_EXTENSIONS = ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs', 'md', 'bicep', 'json', 'yaml', 'yml', 'sh'];

// Built from parts so that this file does not cite them itself.
const OUTSIDE_DOCS = new RegExp(['DESIGN', 'graph-export-api'].map((name) => `${name}\\.md`).join('|'));

/** Problems with the relative links of one Markdown file (repo-relative path) given its text. */
function linkProblems(file: string, markdown: string): string[] {
  const problems: string[] = [];
  for (const { line, target } of relativeLinks(markdown)) {
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(pathPart.split('?')[0]!);
    const resolved =
      path === ''
        ? file
        : normalize(join(dirname(file), path))
            .split('\\')
            .join('/');
    if (resolved.startsWith('..')) {
      problems.push(`${file}:${line}: ${target} leaves the repository`);
      continue;
    }
    if (!existsSync(join(ROOT, resolved))) {
      if (!BEING_WRITTEN.includes(resolved)) problems.push(`${file}:${line}: ${target} does not exist`);
      continue;
    }
    if (anchor && resolved.endsWith('.md') && statSync(join(ROOT, resolved)).isFile() && !headingAnchors(readText(resolved)).has(anchor)) {
      problems.push(`${file}:${line}: ${target} names no heading of ${resolved}`);
    }
  }
  return problems;
}

/** `docs/x.md §N` citations in one file's text that name no `## N.` section of an existing doc. */
function citationProblems(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const c of sectionCitations(text)) {
    if (!existsSync(join(ROOT, c.doc))) {
      if (!BEING_WRITTEN.includes(c.doc)) problems.push(`${file}: cites ${c.doc}, which does not exist`);
    } else if (!numberedSections(readText(c.doc)).has(c.section)) {
      problems.push(`${file}: cites ${c.doc} §${c.section}, which has no "## ${c.section}." section`);
    }
  }
  return problems;
}

const textFiles = repoFiles(TEXT_EXTENSIONS).filter((f) => f !== 'package-lock.json');

describe('documentation links and citations', () => {
  it('finds the README, the docs and the code', () => {
    expect(docFiles()).toEqual(expect.arrayContaining(['README.md', 'docs/design.md', 'docs/settings.md']));
    expect(textFiles).toEqual(expect.arrayContaining(['src/settings.ts', 'test/infra/docs-links.test.ts']));
  });

  it('resolves every relative link of README.md and docs/ to an existing file and heading', () => {
    expect(docFiles().flatMap((f) => linkProblems(f, readText(f)))).toEqual([]);
  });

  it('finds every docs/…md §N that the code and docs cite', () => {
    const cited = textFiles.flatMap((f) => sectionCitations(readText(f)));
    // The code's comments do cite the design and Graph docs: an empty list would mean the reader broke.
    expect(cited.map((c) => c.doc)).toEqual(expect.arrayContaining(['docs/design.md', 'docs/graph.md']));
    expect(textFiles.flatMap((f) => citationProblems(f, readText(f)))).toEqual([]);
  });

  it('cites no document outside the repository', () => {
    expect(textFiles.filter((f) => OUTSIDE_DOCS.test(readText(f)))).toEqual([]);
  });

  it('notices a dangling link, a wrong anchor, a missing section and an outside citation', () => {
    const doc = [
      'See [design](design.md#3-windows), [gone](nowhere.md), [bad anchor](graph.md#99-nothing),',
      '[deploy](deploy.md) and [web](https://example.com), `[not](a-link.md)`.',
      '```',
      '[in a code block](ignored.md)',
      '```',
    ].join('\n');
    expect(linkProblems('docs/example.md', doc)).toEqual([
      'docs/example.md:1: nowhere.md does not exist',
      'docs/example.md:1: graph.md#99-nothing names no heading of docs/graph.md',
    ]);
    // Cited text is assembled from parts, so this file's own source cites nothing that does not exist.
    expect(citationProblems('src/x.ts', ['// see docs/design.md', '§3, §99 and docs/graph.md', '§2'].join(' '))).toEqual([
      `src/x.ts: cites docs/design.md ${'§'}99, which has no "## 99." section`,
    ]);
    expect(citationProblems('src/x.ts', ['// docs/nothing.md', '§1'].join(' '))).toEqual([
      'src/x.ts: cites docs/nothing.md, which does not exist',
    ]);
    expect(OUTSIDE_DOCS.test(`// the contract (${'DESIGN'}.md §3)`)).toBe(true);
    expect(OUTSIDE_DOCS.test(`// Graph facts (${'graph-export-api'}.md §9.2)`)).toBe(true);
    expect(OUTSIDE_DOCS.test('// the contract (docs/design.md §3)')).toBe(false);
  });
});
