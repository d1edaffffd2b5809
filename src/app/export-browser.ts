// Browsing the archive over HTTP: list the batches under a prefix (size, version count, day) and
// stream one batch as JSON Lines. Only names inside the archive folders are accepted.
import {
  ARCHIVE_PREFIXES,
  contentSha256Of,
  isArchivePath,
  MESSAGES_PREFIX,
  parseBatchBlobName,
  PRODUCTIONS_PREFIX,
} from '../archive/blob-layout';
import { blobExists, listBatches, openBlobStream, readBatchLines, readBlobBytes } from '../archive/batch-reader';
import { renderLineText } from '../archive/render-text';
import type { AppContext } from './app-context';
import { NotFoundError, ValidationError } from './app-errors';
import { APP_ROLES, type Access } from './http-auth';

export interface ExportItem {
  name: string;
  bytes: number;
  /** Versions in the batch, as recorded when it was written. */
  lines: number | null;
  sha256: string | null;
  /** The UTC day of the versions (the day folder), for message batches. */
  day: string | null;
  lastModified: string;
}

export const EXPORT_LIST_LIMITS = { default: 1000, max: 5000 } as const;

/** True for a prefix that stays inside the archive folders (a folder prefix or a name prefix). */
export function isArchivePrefix(prefix: string): boolean {
  return isArchivePath(prefix.endsWith('/') ? `${prefix}x` : prefix);
}

export async function listExports(
  ctx: AppContext,
  query: { prefix: string | null; limit: string | null },
  signal?: AbortSignal,
): Promise<{ prefix: string; items: ExportItem[]; truncated: boolean }> {
  const prefix = query.prefix ?? MESSAGES_PREFIX;
  const problems = [];
  if (!isArchivePrefix(prefix))
    problems.push({
      field: 'prefix',
      message: `must lie inside the archive (${ARCHIVE_PREFIXES.join(', ')}) without empty, "." or ".." segments`,
    });
  const limit = query.limit === null ? EXPORT_LIST_LIMITS.default : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > EXPORT_LIST_LIMITS.max)
    problems.push({ field: 'limit', message: `must be a whole number from 1 to ${EXPORT_LIST_LIMITS.max}` });
  if (problems.length > 0) throw new ValidationError(problems);
  const items: ExportItem[] = [];
  let truncated = false;
  for await (const b of listBatches(ctx.deps.container, prefix, signal)) {
    if (items.length === limit) {
      truncated = true;
      break;
    }
    items.push({
      name: b.name,
      bytes: b.bytes,
      lines: b.lines ?? null,
      sha256: b.sha256 ?? null,
      day: parseBatchBlobName(b.name)?.day ?? null,
      lastModified: b.lastModified.toISOString(),
    });
  }
  return { prefix, items, truncated };
}

export interface ExportContent {
  contentType: string;
  /** Serve as an attachment (downloaded content), not inline. */
  download?: boolean;
  /** The body: a batch's lines (each followed by '\n'), or a manifest's JSON, streamed. */
  body: AsyncIterable<Uint8Array>;
}

export type ExportFormat = 'jsonl' | 'text';

/** The `format` query parameter: absent or `jsonl` for the raw lines, `text` for a readable view. */
export function parseExportFormat(value: string | null): ExportFormat {
  if (value === null || value === 'jsonl') return 'jsonl';
  if (value === 'text') return 'text';
  throw new ValidationError([{ field: 'format', message: 'must be "jsonl" (default) or "text"' }]);
}

/**
 * The role GET /api/exports/{path} needs: a production's files (its RSMF files, production.json,
 * status.json) are opened to Archive.Produce, who made it; the rest of the archive to Archive.Read.
 */
export function exportReadAccess(path: string): Access {
  return path.startsWith(PRODUCTIONS_PREFIX) ? [APP_ROLES.produce] : [APP_ROLES.read];
}

/** Opens one archive blob for reading: 400 outside the archive, 404 when it does not exist. */
export async function readExport(
  ctx: AppContext,
  path: string,
  signal?: AbortSignal,
  format: ExportFormat = 'jsonl',
): Promise<ExportContent> {
  if (!isArchivePath(path))
    throw new ValidationError([{ field: 'path', message: `must name a blob inside the archive (${ARCHIVE_PREFIXES.join(', ')})` }]);
  const isBatch = path.endsWith('.jsonl.gz');
  if (contentSha256Of(path) !== undefined) return readContent(ctx, path, signal);
  if (path.startsWith(PRODUCTIONS_PREFIX) && path.endsWith('.rsmf')) return readContent(ctx, path, signal);
  const missing = () => new NotFoundError(`no batch or manifest named ${JSON.stringify(path)}`);
  if (!isBatch && !path.endsWith('.json')) throw missing();
  if (!isBatch) {
    const bytes = await readBlobBytes(ctx.deps.container, path, signal);
    if (!bytes) throw missing();
    return { contentType: 'application/json; charset=utf-8', body: oneChunk(bytes) };
  }
  if (!(await blobExists(ctx.deps.container, path, signal))) throw missing();
  const lines = readBatchLines(ctx.deps.container, path, signal);
  if (format === 'text') return { contentType: 'text/plain; charset=utf-8', body: encodeLines(lines, (l) => `${renderLineText(l)}\n\n`) };
  return { contentType: 'application/x-ndjson; charset=utf-8', body: encodeLines(lines, (l) => `${l}\n`) };
}

/** Stored bytes (an image, a file, an RSMF file), streamed with the content type recorded when they were stored. */
async function readContent(ctx: AppContext, path: string, signal?: AbortSignal): Promise<ExportContent> {
  const blob = await openBlobStream(ctx.deps.container, path, signal);
  if (!blob) throw new NotFoundError(`no content named ${JSON.stringify(path)}`);
  // The type came from Graph or SharePoint: offer the bytes as a download, never render them in the
  // browser under the app's origin (a stored HTML file must not run as a page of the app).
  return { contentType: blob.contentType ?? 'application/octet-stream', download: true, body: blob.body };
}

async function* encodeLines(lines: AsyncIterable<string>, render: (line: string) => string): AsyncGenerator<Uint8Array> {
  for await (const line of lines) yield Buffer.from(render(line), 'utf8');
}

async function* oneChunk(buffer: Buffer): AsyncGenerator<Uint8Array> {
  yield buffer;
}
