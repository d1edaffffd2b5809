// Sender mode's per-chat store: a version that no exported tenant user sent (outside users, apps,
// system events) comes back once for every tenant member of its chat; it is written once, under the
// chat, as a one-line batch whose name derives from the version itself (write-once does the rest).
import { createHash } from 'node:crypto';
import type { ArchiveContainer } from './archive-container';
import type { MessageVersion } from '../graph/message-schema';
import type { PassName, Window } from '../model/window';
import { iso, utcDay } from '../time';
import { chatVersionBlobName, contentMapName } from './blob-layout';
import { BlobAlreadyExistsError, writeBatch, writeJson, type WrittenBlob } from './batch-writer';
import type { DeclaredWrite } from './quarantine';

/** Azure Storage refuses longer blob names. */
const MAX_BLOB_NAME = 1024;

function chatVersionName(version: MessageVersion): string {
  return chatVersionBlobName(version.conversationId, utcDay(version.bucketMs), createHash('sha256').update(version.key).digest('hex'));
}

/**
 * The version's blob name in the per-chat store, or why it has none (its chat id cannot be a blob name:
 * too long, not well-formed Unicode). Such a version is quarantined instead, never lost and never the
 * cause of a failed job (per-message isolation, docs/design.md §11).
 */
export function nameChatVersion(version: MessageVersion): { name: string } | { problem: string } {
  try {
    const name = chatVersionName(version);
    return contentMapName(name).length > MAX_BLOB_NAME ? { problem: 'chatId is too long to name a blob' } : { name };
  } catch (err) {
    return { problem: `chatId cannot name a blob: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Stores `version` under `name` (from nameChatVersion) unless another member's job stored it first. */
export async function archiveChatVersion(
  container: ArchiveContainer,
  version: MessageVersion,
  name: string,
  how: { pass: PassName; window: Window } & DeclaredWrite,
  contentFor: (() => Promise<readonly unknown[] | undefined>) | undefined,
  signal?: AbortSignal,
): Promise<{ written: WrittenBlob[]; content?: readonly unknown[] }> {
  // Every tenant member of the chat meets this version; only the first stores it (and its content).
  if (await container.getBlobClient(name).exists(signal ? { abortSignal: signal } : {})) return { written: [] };
  const mapName = contentMapName(name);
  // Declared in the execution's manifest before anything is written (docs/design.md §16).
  await how.declare?.([name, mapName]);
  const writer = how.writer ? { writer: how.writer } : {};
  const written: WrittenBlob[] = [];
  const contentEntries = contentFor ? await contentFor() : undefined;
  if (contentEntries && contentEntries.length > 0) {
    // Map first (see DayBatcher): a batch never exists without its content map. A map that exists
    // already was written by an earlier attempt or another member's job, for the same version.
    try {
      written.push(
        await writeJson(container, mapName, { batch: name, entries: contentEntries }, { metadata: writer, ...(signal ? { signal } : {}) }),
      );
    } catch (err) {
      if (!(err instanceof BlobAlreadyExistsError)) throw err;
    }
  }
  try {
    written.push(
      await writeBatch(
        container,
        name,
        [version.line],
        { pass: how.pass, windowfrom: iso(how.window.fromMs), windowto: iso(how.window.toMs), ...writer },
        signal,
      ),
    );
  } catch (err) {
    // Another member's job archived this version first: nothing to add.
    if (err instanceof BlobAlreadyExistsError) {
      how.settle?.([name, mapName], written);
      return { written: [] };
    }
    throw err;
  }
  how.settle?.([name, mapName], written);
  return { written, ...(contentEntries && contentEntries.length > 0 ? { content: contentEntries } : {}) };
}
