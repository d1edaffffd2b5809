// Stores downloaded content (inline images, code snippets, files) once, content-addressed by SHA-256,
// and keeps a small index of what each reference resolved to, so later versions of the same message
// reuse it instead of downloading again.

import { createHash, randomBytes, type Hash } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveContainer } from './archive-container';
import { z } from 'zod';
import { BlobAlreadyExistsError, writeJson } from './batch-writer';
import { statusOf } from '../model/errors';
import { contentBlobName, contentRefBlobName } from './blob-layout';

export interface StoredContent {
  sha256: string;
  name: string;
  bytes: number;
  /** True when a blob with these bytes was already in the archive (nothing was written). */
  existed: boolean;
}

/**
 * What became of one reference. `foreign-origin`: a hosted-content URL on another origin; `foreign`: a
 * link naming another conversation's or message's hosted content; `unreadable`: a reference (or the
 * message's content as a whole) that could not be understood. None of these three is fetched.
 */
export type ContentStatus = 'stored' | 'missing' | 'forbidden' | 'foreign-origin' | 'foreign' | 'unreadable' | 'failed' | 'too-large';

/** What a reference resolved to: the index entry read before downloading anything. */
export interface ContentRefRecord {
  sha256: string;
  contentType: string;
  bytes: number;
  status: ContentStatus;
  reason?: string;
}

const refRecordSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  contentType: z.string(),
  bytes: z.number().int().nonnegative(),
  status: z.enum(['stored', 'missing', 'forbidden', 'foreign-origin', 'foreign', 'unreadable', 'failed', 'too-large']),
  reason: z.string().optional(),
});

const FALLBACK_TYPE = 'application/octet-stream';
// A Content-Type travels as a header and as blob metadata: printable ASCII of a sane length only.
const HEADER_SAFE = /^[\x20-\x7e]{1,200}$/;

/** The Content-Type to store: the server's if it is header-safe, else application/octet-stream. */
export function safeContentType(contentType: string | undefined): string {
  const t = contentType?.trim();
  return t && HEADER_SAFE.test(t) ? t : FALLBACK_TYPE;
}

/**
 * Writes `content/sha256/{ab}/{sha256}` once (If-None-Match: *). If the blob already exists it holds
 * these very bytes (its name is their hash), so a 409/412 is success with `existed: true`.
 */
export async function storeContent(
  container: ArchiveContainer,
  bytes: Buffer,
  contentType: string | undefined,
  signal?: AbortSignal,
): Promise<StoredContent> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const md5 = createHash('md5').update(bytes).digest();
  return storeSpooled(container, { sha256, md5, bytes: bytes.length, data: bytes }, contentType, signal);
}

/** A body taken in by a ContentSpool: its hashes, and the bytes in memory or in a local file. */
export interface SpooledContent {
  sha256: string;
  md5: Buffer;
  bytes: number;
  data?: Buffer;
  /** The local file holding the bytes when they did not fit in memory. */
  path?: string;
}

/**
 * Takes in a downloaded body chunk by chunk (GraphHttp's BodySink), hashing as it goes, so a body of
 * any size is never held whole: up to `memoryBytes` stay in memory, the rest goes to a local spool
 * file. The blob can only be named after the last byte (its name is its SHA-256), so the bytes wait
 * here, not in Blob Storage: an upload under a temporary name would leave a blob behind on a crash,
 * and a write-once (WORM) container could never delete it (docs/design.md §10).
 */
export class ContentSpool {
  private readonly sha = createHash('sha256');
  private readonly md5: Hash = createHash('md5');
  private chunks: Buffer[] = [];
  private size = 0;
  private file: { path: string; handle: FileHandle } | undefined;
  private ended = false;

  constructor(private readonly opts: { memoryBytes: number; dir: string }) {}

  /** Whether the body went to a spool file (it passed memoryBytes). */
  get spilled(): boolean {
    return this.file !== undefined;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.sha.update(buf);
    this.md5.update(buf);
    this.size += buf.length;
    if (!this.file && this.size <= this.opts.memoryBytes) {
      this.chunks.push(buf);
      return;
    }
    if (!this.file) {
      const path = join(this.opts.dir, `teams-export-content-${randomBytes(8).toString('hex')}.part`);
      this.file = { path, handle: await open(path, 'wx', 0o600) };
      for (const c of this.chunks) await this.file.handle.write(c);
      this.chunks = [];
    }
    await this.file.handle.write(buf);
  }

  async end(): Promise<SpooledContent> {
    this.ended = true;
    const done = { sha256: this.sha.digest('hex'), md5: this.md5.digest(), bytes: this.size };
    if (!this.file) return { ...done, data: Buffer.concat(this.chunks, this.size) };
    await this.file.handle.close();
    return { ...done, path: this.file.path };
  }

  /** Removes the spool file, if any (after the upload, or when the body is not wanted). */
  async discard(): Promise<void> {
    this.chunks = [];
    const file = this.file;
    this.file = undefined;
    if (!file) return;
    if (!this.ended) await file.handle.close().catch(() => undefined);
    await unlink(file.path).catch(() => undefined);
  }
}

/** Blocks of a spooled body are uploaded this big, two at a time: the memory an upload needs. */
const UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * Writes a spooled body as `content/sha256/{ab}/{sha256}` once (If-None-Match: * on the single upload,
 * or on the block list that commits a large one). A body in a spool file is streamed from it; one
 * already in the archive is not uploaded again.
 */
export async function storeSpooled(
  container: ArchiveContainer,
  body: SpooledContent,
  contentType: string | undefined,
  signal?: AbortSignal,
): Promise<StoredContent> {
  const { sha256 } = body;
  const name = contentBlobName(sha256);
  const type = safeContentType(contentType);
  const existed: StoredContent = { sha256, name, bytes: body.bytes, existed: true };
  signal?.throwIfAborted();
  const blob = container.getBlockBlobClient(name);
  const options = {
    conditions: { ifNoneMatch: '*' },
    blobHTTPHeaders: { blobContentType: type, blobContentMD5: body.md5 },
    metadata: { sha256, contenttype: type },
    ...(signal ? { abortSignal: signal } : {}),
  };
  try {
    if (body.data) {
      await blob.uploadData(body.data, options);
    } else {
      if (body.path === undefined) throw new Error('spooled content has neither bytes nor a file');
      // Large bodies: skip the upload when the bytes are there already (write-once still guards the commit).
      if (await blob.exists(signal ? { abortSignal: signal } : {})) return existed;
      await blob.uploadFile(body.path, {
        ...options,
        blockSize: UPLOAD_BLOCK_BYTES,
        maxSingleShotSize: UPLOAD_BLOCK_BYTES,
        concurrency: 2,
      });
    }
    return { ...existed, existed: false };
  } catch (err) {
    const status = statusOf(err);
    if (status === 409 || status === 412) return existed;
    throw err;
  }
}

/**
 * SHA-256 (hex) of the parts as a JSON array: unambiguous, since no two different lists of strings
 * serialize alike (`['a|b']` and `['a', 'b']` differ).
 */
export function refHash(parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts), 'utf8').digest('hex');
}

/** The index entry for a reference, or undefined when there is none (or it is unreadable). */
export async function getContentRef(
  container: ArchiveContainer,
  hash: string,
  signal?: AbortSignal,
): Promise<ContentRefRecord | undefined> {
  let buf: Buffer;
  try {
    buf = await container
      .getBlobClient(contentRefBlobName(hash))
      .downloadToBuffer(undefined, undefined, signal ? { abortSignal: signal } : {});
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  // An entry that does not parse is treated as absent: the worst case is one more download.
  const result = refRecordSchema.safeParse(parsed);
  if (!result.success) return undefined;
  const { reason, ...rest } = result.data;
  return reason === undefined ? rest : { ...rest, reason };
}

/**
 * Writes the index entry once. A concurrent writer for the same reference resolved it to the same
 * thing (or close enough to reuse), so an existing entry is kept and this is not an error.
 */
export async function putContentRef(
  container: ArchiveContainer,
  hash: string,
  record: ContentRefRecord,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await writeJson(container, contentRefBlobName(hash), record, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof BlobAlreadyExistsError) return;
    throw err;
  }
}

/**
 * One entry of a batch's content map (`*.content.json`, beside the batch): what one reference of one
 * archived version (an inline image, a code snippet, a file) resolved to (docs/archive-format.md §5).
 */
export interface ContentMapEntry {
  /** The version key (MessageVersion.key) this entry belongs to. */
  key: string;
  conversationId: string;
  messageId: string;
  /**
   * `message`: the message's content as a whole could not be looked at (status `unreadable`); a meeting
   * artifact's bodies: `transcript`, `transcriptMetadata`, `recording` (docs/archive-format.md §12).
   */
  kind: 'hostedContent' | 'file' | 'message' | 'transcript' | 'transcriptMetadata' | 'recording';
  /** hostedContent id (the link as written when it has no readable id), the file's contentUrl, or the message id. */
  ref: string;
  /** Attachment name, for files. */
  name?: string;
  status: ContentStatus;
  sha256?: string;
  contentType?: string;
  bytes?: number;
  /** Short human reason, Graph code and request-id for failures (never a token). */
  reason?: string;
}

/**
 * How an archived batch whose versions refer to content is handed to the content stage
 * (docs/design.md §17): recorded in the backlog before the batch is written, handed over after.
 */
export interface BatchContentHandoff {
  /** Before the batch is written: durably records that it holds `versions` versions with content. */
  record(batch: string, versions: number): Promise<void>;
  /**
   * After the batch is written: the stage may fetch its content now. `conversations` names the ids of the
   * batch's messages with content per chat or channel id: the in-process stage serves the conversations
   * with the most content waiting first (a hint only; the batch itself says what to fetch).
   */
  written(batch: string, conversations?: ContentConversations): Promise<void>;
}

/**
 * The ids of one batch's messages with content, per conversation (chat or channel id). Ids, not counts:
 * a group chat's message is in every member's batch, and its content is fetched once.
 */
export type ContentConversations = ReadonlyMap<string, readonly string[]>;
