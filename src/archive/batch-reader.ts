// Reads the archive back: a streaming gunzip-and-split over one batch, a flat listing of the batches
// under a prefix with their recorded SHA-256 and line counts, and plain reads of any archive blob.
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { statusOf } from '../model/errors';
import type { ArchiveContainer } from './archive-container';

/**
 * Yields the lines of one gzipped JSON Lines blob as it downloads, so memory stays bounded by the
 * longest line rather than the blob size. Empty lines (the trailing newline) are skipped.
 */
export async function* readBatchLines(container: ArchiveContainer, name: string, signal?: AbortSignal): AsyncGenerator<string> {
  const response = await container.getBlobClient(name).download(0, undefined, signal ? { abortSignal: signal } : {});
  const body = response.readableStreamBody;
  if (!body) throw new Error(`blob ${name} has no body`);
  const gunzip = createGunzip();
  // pipe() does not forward errors: a broken download must fail the reader, not hang it.
  body.once('error', (err) => gunzip.destroy(err));
  body.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let pending = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const text = decoder.write(chunk);
      // Most chunks of a long line hold no newline: append without rescanning what is pending.
      if (!text.includes('\n')) {
        pending += text;
        continue;
      }
      pending += text;
      let start = 0;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n', start)) {
        const line = pending.slice(start, nl);
        start = nl + 1;
        if (line.length > 0) yield line;
      }
      pending = pending.slice(start);
    }
    pending += decoder.end();
    if (pending.length > 0) yield pending;
  } finally {
    // Reached early when the consumer stops iterating: stop the download too.
    if (!gunzip.destroyed) gunzip.destroy();
    const readable = body as NodeJS.ReadableStream & { destroy?: () => void; destroyed?: boolean };
    if (readable.destroy && !readable.destroyed) readable.destroy();
  }
}

export interface BatchInfo {
  name: string;
  bytes: number;
  lastModified: Date;
  /** From the blob's metadata, as recorded by writeBatch. */
  lines?: number;
  sha256?: string;
  metadata: Record<string, string>;
}

/** Lists the batch blobs (`*.jsonl.gz`) under a prefix, flat, with their metadata. */
export async function* listBatches(container: ArchiveContainer, prefix: string, signal?: AbortSignal): AsyncGenerator<BatchInfo> {
  const pages = container
    .listBlobsFlat({ prefix, includeMetadata: true, ...(signal ? { abortSignal: signal } : {}) })
    .byPage({ maxPageSize: 1000 });
  for await (const page of pages) {
    for (const item of page.segment.blobItems) {
      if (!item.name.endsWith('.jsonl.gz')) continue;
      const metadata = item.metadata ?? {};
      const lines = metadata.lines !== undefined && /^\d+$/.test(metadata.lines) ? Number(metadata.lines) : undefined;
      yield {
        name: item.name,
        bytes: item.properties.contentLength ?? 0,
        lastModified: item.properties.lastModified,
        ...(lines !== undefined ? { lines } : {}),
        ...(metadata.sha256 ? { sha256: metadata.sha256 } : {}),
        metadata,
      };
    }
  }
}

const abortOpt = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});

export async function blobExists(container: ArchiveContainer, name: string, signal?: AbortSignal): Promise<boolean> {
  return container.getBlobClient(name).exists(abortOpt(signal));
}

/** A whole (small) blob, e.g. a manifest; undefined when there is none. */
export async function readBlobBytes(container: ArchiveContainer, name: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  // One GET: downloadToBuffer without a length would first ask for the blob's properties (a HEAD).
  const blob = await openBlobStream(container, name, signal);
  if (!blob) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of blob.body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A blob's bytes as they download, with the content type recorded when it was written; undefined when there is none. */
export async function openBlobStream(
  container: ArchiveContainer,
  name: string,
  signal?: AbortSignal,
): Promise<{ contentType: string | undefined; body: AsyncIterable<Uint8Array> } | undefined> {
  let res;
  try {
    res = await container.getBlobClient(name).download(0, undefined, abortOpt(signal));
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  const body = (res.readableStreamBody as AsyncIterable<Uint8Array> | undefined) ?? emptyBody();
  return { contentType: res.contentType, body };
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** Every blob under a prefix (any kind, no metadata): name and size. */
export async function* listBlobs(
  container: ArchiveContainer,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<{ name: string; bytes: number }> {
  for await (const b of container.listBlobsFlat({ prefix, ...abortOpt(signal) }))
    yield { name: b.name, bytes: b.properties.contentLength ?? 0 };
}

/** The folders directly under a prefix (`{prefix}{name}/`), by one delimiter listing: their names without prefix and slash. */
export async function* listSubfolders(container: ArchiveContainer, prefix: string, signal?: AbortSignal): AsyncGenerator<string> {
  for await (const item of container.listBlobsByHierarchy('/', { prefix, ...abortOpt(signal) }))
    if (item.kind === 'prefix') yield item.name.slice(prefix.length, -1);
}
