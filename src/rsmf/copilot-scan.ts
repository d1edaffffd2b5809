// Copilot sessions in a production (docs/rsmf.md): reads the users' Copilot day batches
// (`copilot/users/{seg}/yyyy/mm/dd/…`, each line an aiInteraction as Graph returned it) for the days of
// the range once, and sorts each interaction created in the range into a spool file per slice: one
// user's session (`sessionId`) and UTC day. An interaction is filed under the day of its
// createdDateTime and never changes, so only the range's own days are read.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveContainer } from '../archive/archive-container';
import { listSubfolders, readBatchLines } from '../archive/batch-reader';
import { decodeIdSegment, entityKindRoot, entityPrefix } from '../archive/blob-layout';
import { utcDay } from '../time';
import { dayBatchesUnder, daysOf, eachBatch, Spooler, type SliceSpool } from './archive-scan';

type Json = Record<string, unknown>;

/** The session an interaction without a sessionId is filed under (no Graph payload lacks one). */
export const NO_SESSION = '(no session id)';

/** The users with a folder under `copilot/users/` or `meetings/users/`: one delimiter listing. */
export async function usersWithArtifacts(
  container: ArchiveContainer,
  kind: 'copilot' | 'meetings',
  signal?: AbortSignal,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const seg of listSubfolders(container, entityKindRoot(kind), signal)) {
    try {
      ids.push(decodeIdSegment(seg));
    } catch {
      // A folder the product did not write: no user's.
    }
  }
  return ids.sort();
}

/** The key of a Copilot slice in a production's slice map (never the key of a chat or channel slice). */
export function copilotSliceKey(userId: string, sessionId: string, day: string): string {
  return `copilot\u0000${userId}\u0000${sessionId}\u0000${day}`;
}

/**
 * Adds the Copilot sessions of `users` created in [fromMs, toMs) to `slices` (one spool per user,
 * session and day, `V\t{line}` records); returns how many batches and lines were read.
 */
export async function scanCopilot(
  container: ArchiveContainer,
  users: readonly string[],
  slices: Map<string, SliceSpool>,
  o: { fromMs: number; toMs: number; dir: string; signal?: AbortSignal; onBatch?: (name: string) => void },
): Promise<{ batchesRead: number; interactions: number }> {
  const { days, months } = daysOf(o.fromMs, o.toMs);
  const work = [];
  for (const userId of users)
    work.push(...(await dayBatchesUnder(container, entityPrefix({ kind: 'copilot', id: userId }), days, months, userId, o.signal)));
  const spooler = new Spooler(slices);
  let interactions = 0;
  let n = 0;
  await eachBatch(work, async (w) => {
    const userId = w.custodian as string;
    for await (const line of readBatchLines(container, w.batch, o.signal)) {
      const parsed = JSON.parse(line) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
      const it = parsed as Json;
      const createdMs = typeof it.createdDateTime === 'string' ? Date.parse(it.createdDateTime) : NaN;
      if (!Number.isFinite(createdMs) || createdMs < o.fromMs || createdMs >= o.toMs) continue;
      const sessionId = typeof it.sessionId === 'string' && it.sessionId.length > 0 ? it.sessionId : NO_SESSION;
      const day = utcDay(createdMs);
      const key = copilotSliceKey(userId, sessionId, day);
      let slice = slices.get(key);
      if (!slice) {
        slice = {
          conversationId: sessionId,
          conversationKind: 'copilot',
          ownerId: userId,
          ...(typeof it.appClass === 'string' && it.appClass ? { appClass: it.appClass } : {}),
          day,
          file: join(o.dir, `copilot-${n++}.spool`),
          custodians: new Set([userId]),
          sources: new Set(),
        };
        rmSync(slice.file, { force: true });
        slices.set(key, slice);
      }
      if (slice.app === undefined && it.interactionType === 'aiResponse') {
        const app = (it.from as { application?: { displayName?: unknown } } | null | undefined)?.application?.displayName;
        if (typeof app === 'string' && app.length > 0) slice.app = app;
      }
      slice.sources.add(w.batch);
      spooler.add(key, `V\t${line}`);
      interactions++;
    }
    o.onBatch?.(w.batch);
  });
  spooler.flush();
  return { batchesRead: work.length, interactions };
}
