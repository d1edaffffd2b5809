// Directory snapshots: the names that message payloads lack (user display names and UPNs, team and
// channel names, chat topics and members), taken during runs and kept in the archive so productions
// can show people and places by name long after Graph has forgotten them (docs/rsmf.md).
// Format and blob path are fixed: `directory/{yyyy}/{mm}/{dd}/{runId}.json.gz`, gzipped JSON.
import { gunzipSync } from 'node:zlib';
import type { ArchiveContainer } from './archive-container';
import { z } from 'zod';
import { writeGzipJson, type WrittenBlob } from './batch-writer';
import { DIRECTORY_PREFIX, directoryMonthPrefix, directorySnapshotBlobName } from './blob-layout';

const userSchema = z.object({
  id: z.string().min(1),
  displayName: z.string(),
  userPrincipalName: z.string(),
  mail: z.string().optional(),
  deleted: z.boolean().optional(),
});
const teamSchema = z.object({
  id: z.string().min(1),
  displayName: z.string(),
  channels: z.array(z.object({ id: z.string().min(1), displayName: z.string(), membershipType: z.string() })),
});
const chatSchema = z.object({
  id: z.string().min(1),
  chatType: z.string(),
  topic: z.string().optional(),
  members: z.array(z.object({ userId: z.string().optional(), displayName: z.string().optional(), email: z.string().optional() })),
});
const snapshotSchema = z.object({
  takenAt: z.string(),
  runId: z.string(),
  users: z.array(userSchema),
  teams: z.array(teamSchema),
  chats: z.array(chatSchema),
});

export type DirectorySnapshot = z.infer<typeof snapshotSchema>;
export type SnapshotUser = z.infer<typeof userSchema>;
export type SnapshotChat = z.infer<typeof chatSchema>;

/** Writes the snapshot under the UTC day of its `takenAt` (write-once). */
export async function writeDirectorySnapshot(
  container: ArchiveContainer,
  snapshot: DirectorySnapshot,
  signal?: AbortSignal,
): Promise<WrittenBlob> {
  const takenAtMs = Date.parse(snapshot.takenAt);
  if (!Number.isFinite(takenAtMs))
    throw new RangeError(`directory snapshot takenAt is not an ISO instant: ${JSON.stringify(snapshot.takenAt)}`);
  const name = directorySnapshotBlobName(takenAtMs, snapshot.runId);
  return writeGzipJson(container, name, snapshot, { takenat: new Date(takenAtMs).toISOString() }, signal);
}

/** Reads and validates one snapshot blob; throws naming the blob when it is not a snapshot. */
export async function readDirectorySnapshot(container: ArchiveContainer, name: string, signal?: AbortSignal): Promise<DirectorySnapshot> {
  const buf = await container.getBlobClient(name).downloadToBuffer(undefined, undefined, signal ? { abortSignal: signal } : {});
  const parsed = snapshotSchema.safeParse(JSON.parse(gunzipSync(buf).toString('utf8')));
  if (!parsed.success)
    throw new Error(
      `${name} is not a directory snapshot: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`,
    );
  return parsed.data;
}

interface Candidate {
  name: string;
  takenAtMs: number;
}

/** Months (as year*12+month-1) that hold snapshots, from two small hierarchical listings (years, then months). */
async function snapshotMonths(container: ArchiveContainer, signal?: AbortSignal): Promise<number[]> {
  const opts = signal ? { abortSignal: signal } : {};
  const months: number[] = [];
  for await (const year of container.listBlobsByHierarchy('/', { prefix: DIRECTORY_PREFIX, ...opts })) {
    if (year.kind !== 'prefix') continue;
    const y = /^directory\/(\d{4})\/$/.exec(year.name)?.[1];
    if (!y) continue;
    for await (const month of container.listBlobsByHierarchy('/', { prefix: year.name, ...opts })) {
      const m = month.kind === 'prefix' ? /\/(\d{2})\/$/.exec(month.name)?.[1] : undefined;
      if (m) months.push(Number(y) * 12 + Number(m) - 1);
    }
  }
  return months;
}

async function candidatesIn(container: ArchiveContainer, monthIndex: number, signal?: AbortSignal): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const prefix = directoryMonthPrefix(Math.floor(monthIndex / 12), (monthIndex % 12) + 1);
  for await (const item of container.listBlobsFlat({ prefix, includeMetadata: true, ...(signal ? { abortSignal: signal } : {}) })) {
    const day = /^directory\/(\d{4})\/(\d{2})\/(\d{2})\/[A-Za-z0-9_-]+\.json\.gz$/.exec(item.name);
    if (!day) continue;
    const recorded = item.metadata?.takenat ? Date.parse(item.metadata.takenat) : NaN;
    // Without the metadata (a copied blob), noon of its day folder is close enough to rank it.
    out.push({ name: item.name, takenAtMs: Number.isFinite(recorded) ? recorded : Date.parse(`${day[1]}-${day[2]}-${day[3]}T12:00:00Z`) });
  }
  return out;
}

/**
 * The name of the snapshot taken nearest to `at` (before or after), or undefined when there is none.
 * Lists only `directory/`: its years and months first, then the blobs of the nearest months, skipping
 * every month that cannot hold a nearer snapshot.
 */
export async function findNearestDirectorySnapshot(
  container: ArchiveContainer,
  at: Date,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const atMs = at.getTime();
  const target = at.getUTCFullYear() * 12 + at.getUTCMonth();
  const months = (await snapshotMonths(container, signal)).sort((a, b) => Math.abs(a - target) - Math.abs(b - target) || a - b);
  let best: Candidate | undefined;
  for (const month of months) {
    if (best) {
      // The nearest instant this month could hold: a month that cannot beat the best so far is not listed.
      const start = Date.UTC(Math.floor(month / 12), month % 12, 1);
      const end = Date.UTC(Math.floor(month / 12), (month % 12) + 1, 1);
      const closest = atMs < start ? start - atMs : atMs >= end ? atMs - end : 0;
      if (closest > Math.abs(best.takenAtMs - atMs)) continue;
    }
    for (const c of await candidatesIn(container, month, signal)) {
      if (!best || Math.abs(c.takenAtMs - atMs) < Math.abs(best.takenAtMs - atMs)) best = c;
    }
  }
  return best?.name;
}

/** The snapshot taken nearest to `at` (see findNearestDirectorySnapshot), read, or undefined when there is none. */
export async function readNearestDirectorySnapshot(
  container: ArchiveContainer,
  at: Date,
  signal?: AbortSignal,
): Promise<(DirectorySnapshot & { blobName: string }) | undefined> {
  const name = await findNearestDirectorySnapshot(container, at, signal);
  return name === undefined ? undefined : { ...(await readDirectorySnapshot(container, name, signal)), blobName: name };
}
