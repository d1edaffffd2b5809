// A whole product under test: the Graph emulator (in-process, real HTTPS) and Azurite (from the global
// setup), with the app's real settings, clients and engine wired exactly as the CLI wires them.
import { buildDeps, type AppDeps } from '../../src/deps';
import { entityPrefix } from '../../src/archive/blob-layout';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import type { Emulator, EmulatorOptions } from '../../emulator';
import { emulatorEnv } from '../../emulator/emulator-env';
import { runExport, type RunOptions, type RunOutcome } from '../../src/export/run-in-process';
import type { Entity } from '../../src/model/entity';
import type { Window } from '../../src/model/window';
import { versionKeyFromLine } from '../../src/graph/message-schema';
import { silentLogger } from '../../src/log';
import { loadSettings, type Env } from '../../src/settings';
import { iso } from '../../src/time';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from './emulator';
import { testStorage } from './storage';

export interface Harness {
  emulator: Emulator;
  deps: AppDeps;
  env: Env;
  daily(nowMs: number, opts?: RunOptions): Promise<RunOutcome>;
  backfill(window: Window, entities?: { users?: string[]; teams?: string[] }, opts?: RunOptions): Promise<RunOutcome>;
  /** Every archived version key of an entity, in archive order (duplicates kept, to be detected). */
  archivedKeys(entity: Entity): Promise<string[]>;
  /** Every archived line of an entity, parsed. */
  archivedMessages(entity: Entity): Promise<Array<Record<string, unknown>>>;
  /** The entities of the emulator's tenant, as the planner would find them. */
  entities(): Entity[];
  close(): Promise<void>;
}

export interface HarnessOptions extends EmulatorOptions {
  label: string;
  env?: Env;
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const { label, env: extra, ...emulatorOptions } = opts;
  const emulator = await startTestEmulator(emulatorOptions);
  const storage = testStorage(label);
  const env: Env = {
    ...emulatorEnv(emulator),
    GRAPH_MAX_RPS: '500',
    GRAPH_REQUEST_TIMEOUT: 'PT5S',
    ...TEST_HOSTED_CONTENT_ENV,
    EXPORT_STORAGE: storage.connectionString,
    EXPORT_CONTAINER: storage.container,
    EXPORT_TABLE_PREFIX: storage.tablePrefix,
    EXPORT_START: iso(Date.now() - 400 * 24 * 3600_000),
    EXPORT_CONCURRENCY: '6',
    ...extra,
  };
  const deps = await buildDeps(loadSettings(env), { log: silentLogger });

  const readEntity = async function* (entity: Entity) {
    for await (const b of listBatches(deps.container, entityPrefix(entity))) {
      for await (const line of readBatchLines(deps.container, b.name)) yield line;
    }
  };

  return {
    emulator,
    deps,
    env,
    daily: (nowMs, o) => runExport({ kind: 'daily', nowMs }, deps, o),
    backfill: (window, entities = {}, o) => runExport({ kind: 'backfill', window, ...entities }, deps, o),
    async archivedKeys(entity) {
      const keys: string[] = [];
      for await (const line of readEntity(entity)) keys.push(versionKeyFromLine(line) ?? `unparseable:${line.slice(0, 40)}`);
      return keys;
    },
    async archivedMessages(entity) {
      const out: Array<Record<string, unknown>> = [];
      for await (const line of readEntity(entity)) out.push(JSON.parse(line) as Record<string, unknown>);
      return out;
    },
    entities() {
      return [
        ...emulator.tenant.users.map((u) => ({ kind: 'user' as const, id: u.id })),
        ...emulator.tenant.teams.map((t) => ({ kind: 'team' as const, id: t.id })),
      ];
    },
    close: () => emulator.close(),
  };
}

/** Every archived version key under messages/ (users', teams' and the per-chat store), duplicates kept. */
export async function allArchivedKeys(deps: Pick<AppDeps, 'container'>): Promise<string[]> {
  const all: string[] = [];
  for await (const blob of deps.container.listBlobsFlat({ prefix: 'messages/' })) {
    if (!blob.name.endsWith('.jsonl.gz')) continue;
    for await (const line of readBatchLines(deps.container, blob.name))
      all.push(versionKeyFromLine(line) ?? `unparseable:${line.slice(0, 40)}`);
  }
  return all;
}

/** The keys Graph serves for an entity now, over a window (what an up-to-date archive must hold). */
export function expectedKeys(emulator: Emulator, entity: Entity, window: Window): string[] {
  return emulator.tenant.currentVersions(entity, window).map((v) => v.key);
}

/**
 * Per exportable entity with Teams data, what breaks "every version Graph serves up to `toMs` is archived,
 * none twice": its keys archived twice and the served keys not archived (stray out-of-window items may add
 * more, so this is a superset check). Empty when all is well.
 */
export async function servedNotArchivedOnce(
  h: Harness,
  toMs: number,
): Promise<Array<{ entity: string; twice: string[]; missing: string[] }>> {
  const problems: Array<{ entity: string; twice: string[]; missing: string[] }> = [];
  for (const entity of h.entities()) {
    const user = h.emulator.tenant.users.find((u) => u.id === entity.id);
    if (user && !user.hasTeamsData) continue;
    const archived = await h.archivedKeys(entity);
    const have = new Set(archived);
    const twice = duplicatesIn(archived);
    const missing = expectedKeys(h.emulator, entity, { fromMs: 0, toMs }).filter((k) => !have.has(k));
    if (twice.length > 0 || missing.length > 0) problems.push({ entity: `${entity.kind}:${entity.id}`, twice, missing });
  }
  return problems;
}

export function duplicatesIn(keys: string[]): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const k of keys) {
    if (seen.has(k)) dups.push(k);
    seen.add(k);
  }
  return dups;
}
