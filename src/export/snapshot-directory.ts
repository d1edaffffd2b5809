// The directory snapshot of a run (docs/rsmf.md): names of users, teams, channels and chats, written
// to `directory/` once per daily run so productions can name people and places. Never fails the run:
// messages matter more than names, and a missing snapshot only means productions fall back to ids.
import { writeDirectorySnapshot } from '../archive/directory-snapshot';
import { readDirectoryChats, readDirectoryTeams, readDirectoryUsers } from '../graph/directory-names';
import type { Logger } from '../log';
import { iso } from '../time';
import type { ArchiveContainer } from '../archive/archive-container';
import type { GraphHttp } from '../graph/graph-http';
import type { Entity } from '../model/entity';
import { errorText } from '../model/errors';

export async function snapshotDirectory(
  deps: { http: GraphHttp; container: ArchiveContainer },
  runId: string,
  nowMs: number,
  entities: readonly Entity[],
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  try {
    const users = await readDirectoryUsers(deps.http, signal);
    const teams = await readDirectoryTeams(
      deps.http,
      entities.filter((e) => e.kind === 'team'),
      signal,
    );
    const chats = await readDirectoryChats(
      deps.http,
      entities.filter((e) => e.kind === 'user').map((e) => e.id),
      signal,
    );
    const written = await writeDirectorySnapshot(deps.container, { takenAt: iso(nowMs), runId, users, teams, chats }, signal);
    log.info('directory snapshot written', { blob: written.name, users: users.length, teams: teams.length, chats: chats.length });
  } catch (err) {
    if (signal?.aborted) return;
    log.warn('directory snapshot not written; productions will show ids where names are missing', { error: errorText(err) });
  }
}
