// Writes archive blobs exactly once: gzipped JSON Lines batches and JSON manifests, each with its
// SHA-256, created with If-None-Match: * so an existing blob is never overwritten (docs/design.md §6).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { ArchiveContainer } from './archive-container';
import { statusOf } from '../model/errors';
import { isArchivePath } from './blob-layout';

const gzipAsync = promisify(gzip);

/**
 * Below this size a batch is compressed on the calling thread: the asynchronous path costs ~0.15 ms of
 * CPU in stream set-up per call whatever the size (4× the work of compressing a few kilobytes), and
 * most day batches are that small. Larger batches go to the thread pool so the event loop keeps
 * serving requests while they compress.
 */
const SYNC_GZIP_MAX_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from('\n');

function compress(data: Buffer): Promise<Buffer> {
  return data.length <= SYNC_GZIP_MAX_BYTES ? Promise.resolve(gzipSync(data)) : gzipAsync(data);
}

export interface WrittenBlob {
  name: string;
  /** SHA-256 (hex) of the blob's bytes exactly as stored (the gzipped bytes for a batch). */
  sha256: string;
  bytes: number;
  lines: number;
}

/** Thrown when a write-once blob already exists; the existing blob is left as it was. */
export class BlobAlreadyExistsError extends Error {
  constructor(readonly blobName: string) {
    super(`blob ${blobName} already exists; archive blobs are write-once and are never overwritten`);
    this.name = 'BlobAlreadyExistsError';
  }
}

// Blob metadata travels as x-ms-meta-* headers: names must be C# identifiers, values header-safe ASCII.
const META_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const META_VALUE = /^[\x20-\x7e]*$/;

function checkMetadata(metadata: Record<string, string>): void {
  for (const [k, v] of Object.entries(metadata)) {
    if (!META_NAME.test(k)) throw new RangeError(`invalid blob metadata name ${JSON.stringify(k)}`);
    if (!META_VALUE.test(v) || v.length > 4096) throw new RangeError(`blob metadata ${k} must be printable ASCII up to 4096 characters`);
  }
}

function checkName(name: string): void {
  if (!isArchivePath(name)) throw new RangeError(`refusing to write outside the archive folders: ${JSON.stringify(name)}`);
}

async function upload(
  container: ArchiveContainer,
  name: string,
  body: Buffer,
  contentType: string,
  metadata: Record<string, string>,
  overwrite: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  // The signal is the job's stop: it fires when the run is aborted or the entity's lease is lost, and
  // then not one more blob may be written.
  signal?.throwIfAborted();
  try {
    await container.getBlockBlobClient(name).uploadData(body, {
      // Write-once: the service refuses the write if any blob of that name exists.
      ...(overwrite ? {} : { conditions: { ifNoneMatch: '*' } }),
      blobHTTPHeaders: {
        blobContentType: contentType,
        // Stored as Content-MD5 so standard tools (azcopy --check-md5) can verify downloads too.
        blobContentMD5: createHash('md5').update(body).digest(),
      },
      metadata,
      ...(signal ? { abortSignal: signal } : {}),
    });
  } catch (err) {
    const status = statusOf(err);
    if (!overwrite && (status === 409 || status === 412)) throw new BlobAlreadyExistsError(name);
    throw err;
  }
}

/**
 * Writes one batch: the lines joined with '\n' plus a trailing '\n', gzipped, as a new blob. A line is
 * a string or its UTF-8 bytes (the day batcher keeps buffered lines as bytes: half the memory of a
 * JavaScript string holding any non-Latin-1 character, and outside the garbage-collected heap).
 * No Content-Encoding is set: the blob is a .jsonl.gz file that users download and `zcat` as such.
 * Metadata gets `sha256` (of the gzipped bytes) and `lines` added. Throws BlobAlreadyExistsError
 * rather than overwrite.
 */
export async function writeBatch(
  container: ArchiveContainer,
  name: string,
  lines: ReadonlyArray<string | Buffer>,
  metadata: Record<string, string>,
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  checkName(name);
  const parts: Buffer[] = [];
  for (const line of lines) {
    // One line per version: a raw newline would split a version in two when read back.
    if (typeof line === 'string' ? line.includes('\n') : line.includes(NEWLINE))
      throw new RangeError('a batch line must not contain a newline');
    parts.push(typeof line === 'string' ? Buffer.from(line, 'utf8') : line, NEWLINE_BYTES);
  }
  return writeBatchBody(container, name, Buffer.concat(parts), lines.length, metadata, signal);
}

/**
 * writeBatch for lines already joined: `text` is every line followed by '\n' (UTF-8), as the day batcher
 * keeps them (no line may hold a raw newline: the caller checks, writeBatch does it for its lines). The
 * bytes stored are the same as writeBatch's for the same lines. `text` is only read until this resolves.
 */
export async function writeBatchBody(
  container: ArchiveContainer,
  name: string,
  text: Buffer,
  lines: number,
  metadata: Record<string, string>,
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  checkName(name);
  const body = await compress(text);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const meta = { ...metadata, sha256, lines: String(lines) };
  checkMetadata(meta);
  await upload(container, name, body, 'application/x-ndjson', meta, false, signal);
  return { name, sha256, bytes: body.length, lines };
}

/** Writes a JSON document (manifests); write-once unless `overwrite` is set. */
export async function writeJson(
  container: ArchiveContainer,
  name: string,
  value: unknown,
  opts: { overwrite?: boolean; signal?: AbortSignal; metadata?: Record<string, string> } = {},
): Promise<WrittenBlob> {
  checkName(name);
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
  const sha256 = createHash('sha256').update(body).digest('hex');
  const meta = { ...opts.metadata, sha256 };
  checkMetadata(meta);
  await upload(container, name, body, 'application/json', meta, opts.overwrite === true, opts.signal);
  return { name, sha256, bytes: body.length, lines: 1 };
}

/**
 * Writes a JSON document gzipped (`*.json.gz`: directory snapshots), write-once, with its SHA-256 (of the
 * stored bytes) in the metadata like every other archive blob. Throws BlobAlreadyExistsError rather than
 * overwrite.
 */
export async function writeGzipJson(
  container: ArchiveContainer,
  name: string,
  value: unknown,
  metadata: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  checkName(name);
  const body = await compress(Buffer.from(JSON.stringify(value), 'utf8'));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const meta = { ...metadata, sha256 };
  checkMetadata(meta);
  await upload(container, name, body, 'application/gzip', meta, false, signal);
  return { name, sha256, bytes: body.length, lines: 1 };
}

/**
 * Writes a local file as a new blob, write-once, with its SHA-256 in the metadata (computed first: blob
 * metadata is set with the upload). For large derived files (RSMF productions) that are not kept in memory.
 */
export async function writeFileOnce(
  container: ArchiveContainer,
  name: string,
  filePath: string,
  contentType: string,
  metadata: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  checkName(name);
  const hash = createHash('sha256');
  await pipeline(createReadStream(filePath), hash);
  const sha256 = hash.digest('hex');
  const meta = { ...metadata, sha256 };
  checkMetadata(meta);
  signal?.throwIfAborted();
  try {
    await container.getBlockBlobClient(name).uploadFile(filePath, {
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: { blobContentType: contentType },
      metadata: meta,
      ...(signal ? { abortSignal: signal } : {}),
    });
  } catch (err) {
    const status = statusOf(err);
    if (status === 409 || status === 412) throw new BlobAlreadyExistsError(name);
    throw err;
  }
  return { name, sha256, bytes: (await stat(filePath)).size, lines: 1 };
}
