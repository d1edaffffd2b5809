// Verifies an archive against its own records: every blob a manifest lists must exist with the
// SHA-256 the manifest recorded, and every archived batch must still hash to the SHA-256 stored in
// its metadata when it was written. Reports what is missing, altered, or written without a record.
import { createHash } from 'node:crypto';
import { errorText } from '../model/errors';
import type { ArchiveContainer } from './archive-container';
import { readBlobBytes } from './batch-reader';
import { contentBlobName, contentSha256Of, DATA_PREFIXES, MANIFESTS_PREFIX } from './blob-layout';

export interface VerifyProblem {
  kind: 'missing' | 'mismatch' | 'no-checksum' | 'bad-manifest';
  name: string;
  detail: string;
}

export interface VerifyReport {
  manifests: number;
  blobsChecked: number;
  bytesChecked: number;
  /** Blobs listed by some manifest. */
  listed: number;
  problems: VerifyProblem[];
  /**
   * References the content maps record without content (`missing`, `forbidden`, … docs/archive-format.md
   * §5), counted by status, and the first MAX_LISTED of them. Not problems: Graph's final answers.
   */
  withoutContent: { byStatus: Record<string, number>; listed: ReferenceWithoutContent[] };
}

export interface ReferenceWithoutContent {
  map: string;
  key: string;
  ref: string;
  status: string;
  reason?: string;
}

/** References without content listed one by one in a report (the rest are counted). */
const MAX_LISTED = 1000;

export interface VerifyOptions {
  /** Only blobs under this prefix (default: the whole archive). */
  prefix?: string;
  signal?: AbortSignal;
  onProgress?: (r: Readonly<VerifyReport>) => void;
}

async function sha256Of(container: ArchiveContainer, name: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const res = await container.getBlobClient(name).download(0, undefined, signal ? { abortSignal: signal } : {});
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.readableStreamBody as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export async function verifyArchive(container: ArchiveContainer, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = {
    manifests: 0,
    blobsChecked: 0,
    bytesChecked: 0,
    listed: 0,
    problems: [],
    withoutContent: { byStatus: {}, listed: [] },
  };
  /** Content a map says is stored: each must be under content/ (checked when the listing covers it). */
  const storedContent = new Map<string, string>();
  const prefix = opts.prefix ?? '';
  const signal = opts.signal;
  const abort = signal ? { abortSignal: signal } : {};

  // 1. What the manifests say was written (a blob may be listed by several: a job and its run).
  const expected = new Map<string, string>();
  for await (const item of container.listBlobsFlat({ prefix: MANIFESTS_PREFIX, ...abort })) {
    if (!item.name.endsWith('.json')) continue;
    report.manifests++;
    let manifest: unknown;
    try {
      manifest = JSON.parse((await readBlobBytes(container, item.name, signal))?.toString('utf8') ?? '');
    } catch (err) {
      report.problems.push({ kind: 'bad-manifest', name: item.name, detail: `not readable JSON: ${errorText(err)}` });
      continue;
    }
    for (const b of blobsOf(manifest)) {
      if (!b.name.startsWith(prefix)) continue;
      const seen = expected.get(b.name);
      if (seen !== undefined && seen !== b.sha256) {
        report.problems.push({
          kind: 'bad-manifest',
          name: b.name,
          detail: `manifests disagree on its SHA-256 (${seen} vs ${b.sha256}, in ${item.name})`,
        });
      }
      expected.set(b.name, b.sha256);
    }
  }
  report.listed = expected.size;

  // 2. Every batch: hash it and compare with its metadata and with the manifests.
  const present = new Set<string>();
  for (const top of DATA_PREFIXES) {
    if (!(top.startsWith(prefix) || prefix.startsWith(top))) continue;
    const listPrefix = prefix.startsWith(top) ? prefix : top;
    for await (const item of container.listBlobsFlat({ prefix: listPrefix, includeMetadata: true, ...abort })) {
      present.add(item.name);
      const { sha256, bytes } = await sha256Of(container, item.name, signal);
      report.blobsChecked++;
      report.bytesChecked += bytes;
      const recorded = item.metadata?.sha256;
      const listed = expected.get(item.name);
      if (recorded === undefined && listed === undefined) {
        report.problems.push({ kind: 'no-checksum', name: item.name, detail: 'no SHA-256 in its metadata or in any manifest' });
      }
      // Content is stored under its own SHA-256: the name itself is the checksum.
      const named = contentSha256Of(item.name);
      if (named !== undefined && named !== sha256) {
        report.problems.push({ kind: 'mismatch', name: item.name, detail: `content hashes to ${sha256}, its name says ${named}` });
      } else if (recorded !== undefined && recorded !== sha256) {
        report.problems.push({ kind: 'mismatch', name: item.name, detail: `content hashes to ${sha256}, its metadata says ${recorded}` });
      } else if (listed !== undefined && listed !== sha256) {
        report.problems.push({ kind: 'mismatch', name: item.name, detail: `content hashes to ${sha256}, the manifest says ${listed}` });
      }
      if (item.name.endsWith(CONTENT_MAP_SUFFIX)) await readContentMap(container, item.name, report, storedContent, signal);
      opts.onProgress?.(report);
    }
  }
  // Only a whole-archive verify lists both the maps and the content.
  if (prefix === '') {
    for (const [name, map] of storedContent) {
      if (!present.has(name))
        report.problems.push({ kind: 'missing', name, detail: `${map} records it as stored, but it is not in the archive` });
    }
  }

  // 3. Listed but gone.
  for (const name of expected.keys()) {
    if (!present.has(name) && DATA_PREFIXES.some((p) => name.startsWith(p))) {
      report.problems.push({ kind: 'missing', name, detail: 'listed in a manifest but not in the archive' });
    }
  }
  return report;
}

const CONTENT_MAP_SUFFIX = '.content.json';

/** Notes what one content map records: the content it names as stored, and references without content. */
async function readContentMap(
  container: ArchiveContainer,
  name: string,
  report: VerifyReport,
  stored: Map<string, string>,
  signal?: AbortSignal,
): Promise<void> {
  let entries: unknown;
  try {
    entries = (JSON.parse((await readBlobBytes(container, name, signal))?.toString('utf8') ?? '') as { entries?: unknown }).entries;
  } catch (err) {
    report.problems.push({ kind: 'bad-manifest', name, detail: `content map is not readable JSON: ${errorText(err)}` });
    return;
  }
  if (!Array.isArray(entries)) return;
  for (const e of entries as Array<Record<string, unknown>>) {
    const status = typeof e?.status === 'string' ? e.status : 'unknown';
    if (status === 'stored' && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256)) {
      stored.set(contentBlobName(e.sha256), name);
      continue;
    }
    const w = report.withoutContent;
    w.byStatus[status] = (w.byStatus[status] ?? 0) + 1;
    if (w.listed.length < MAX_LISTED) {
      w.listed.push({
        map: name,
        key: String(e?.key ?? ''),
        ref: String(e?.ref ?? ''),
        status,
        ...(typeof e?.reason === 'string' ? { reason: e.reason } : {}),
      });
    }
  }
}

/** The `{ name, sha256 }` entries of a job manifest (`blobs`); other manifests list none. */
function blobsOf(manifest: unknown): Array<{ name: string; sha256: string }> {
  const list = (manifest as { blobs?: unknown } | null)?.blobs;
  if (!Array.isArray(list)) return [];
  return list.flatMap((b: { name?: unknown; sha256?: unknown } | null) =>
    typeof b?.name === 'string' && typeof b.sha256 === 'string' ? [{ name: b.name, sha256: b.sha256 }] : [],
  );
}
