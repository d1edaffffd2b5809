// Stores downloaded content (inline images, code snippets, files) once, content-addressed by SHA-256,
// and keeps a small index of what each reference resolved to, so later versions of the same message
// reuse it instead of downloading again.

import { createHash } from 'node:crypto';
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

export type ContentStatus = 'stored' | 'missing' | 'forbidden' | 'foreign-origin' | 'failed' | 'too-large';

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
  status: z.enum(['stored', 'missing', 'forbidden', 'foreign-origin', 'failed', 'too-large']),
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
  const name = contentBlobName(sha256);
  const type = safeContentType(contentType);
  signal?.throwIfAborted();
  try {
    await container.getBlockBlobClient(name).uploadData(bytes, {
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: { blobContentType: type, blobContentMD5: createHash('md5').update(bytes).digest() },
      metadata: { sha256, contenttype: type },
      ...(signal ? { abortSignal: signal } : {}),
    });
    return { sha256, name, bytes: bytes.length, existed: false };
  } catch (err) {
    const status = statusOf(err);
    if (status === 409 || status === 412) return { sha256, name, bytes: bytes.length, existed: true };
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
  kind: 'hostedContent' | 'file';
  /** hostedContent id, or the file's contentUrl. */
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
