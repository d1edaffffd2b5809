// Sender mode's per-chat store: a version that no exported tenant user sent (outside users, apps,
// system events) comes back once for every tenant member of its chat; it is written once, under the
// chat, as a one-line batch whose name derives from the version itself (write-once does the rest).
import { createHash } from 'node:crypto';
import type { ArchiveContainer } from './archive-container';
import type { MessageVersion } from '../graph/message-schema';
import type { PassName, Window } from '../model/window';
import { iso, utcDay } from '../time';
import { chatVersionBlobName, contentMapName } from './blob-layout';
import { BlobAlreadyExistsError, writeBatchBody, type WrittenBlob } from './batch-writer';
import type { BatchContentHandoff } from './content-store';
import type { DeclaredWrite } from './quarantine';

/** Azure Storage refuses longer blob names. */
const MAX_BLOB_NAME = 1024;

/** What names a version in the per-chat store. */
type NamedVersion = Pick<MessageVersion, 'conversationId' | 'messageId' | 'bucketMs' | 'key'>;

function chatVersionName(version: NamedVersion): string {
  return chatVersionBlobName(version.conversationId, utcDay(version.bucketMs), createHash('sha256').update(version.key).digest('hex'));
}

/**
 * The version's blob name in the per-chat store, or why it has none (its chat id cannot be a blob name:
 * too long, not well-formed Unicode). Such a version is quarantined instead, never lost and never the
 * cause of a failed job (per-message isolation, docs/design.md §11).
 */
export function nameChatVersion(version: NamedVersion): { name: string } | { problem: string } {
  try {
    const name = chatVersionName(version);
    return contentMapName(name).length > MAX_BLOB_NAME ? { problem: 'chatId is too long to name a blob' } : { name };
  } catch (err) {
    return { problem: `chatId cannot name a blob: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Stores `version` under `name` (from nameChatVersion) unless another member's job stored it first;
 * `line` is its line as UTF-8 followed by '\n' (see DayBatcher's PageVersion).
 */
export async function archiveChatVersion(
  container: ArchiveContainer,
  version: NamedVersion,
  line: Buffer,
  name: string,
  how: { pass: PassName; window: Window } & DeclaredWrite,
  /** For a version that refers to content: hands it to the content stage (see DayBatcher's `content`). */
  content: BatchContentHandoff | undefined,
  signal?: AbortSignal,
): Promise<{ written: WrittenBlob[] }> {
  // Every tenant member of the chat meets this version; only the first stores it (and its content).
  if (await container.getBlobClient(name).exists(signal ? { abortSignal: signal } : {})) return { written: [] };
  // Declared in the execution's manifest before anything is written (docs/design.md §16).
  await how.declare?.([name]);
  const writer = how.writer ? { writer: how.writer } : {};
  // Before the write, as for a day batch: a crash after it leaves the content obligation behind.
  await content?.record(name, 1);
  let blob: WrittenBlob;
  try {
    blob = await writeBatchBody(
      container,
      name,
      line,
      1,
      { pass: how.pass, windowfrom: iso(how.window.fromMs), windowto: iso(how.window.toMs), ...writer },
      signal,
    );
  } catch (err) {
    // Another member's job archived this version first: nothing to add (its job handed the content over).
    if (err instanceof BlobAlreadyExistsError) {
      how.settle?.([name], []);
      return { written: [] };
    }
    throw err;
  }
  how.settle?.([name], [blob]);
  await content?.written(name, new Map([[version.conversationId, [version.messageId]]]));
  return { written: [blob] };
}
