// The content stage killed at every storage operation it makes (docs/design.md §16, §17): a batch's
// content obligation is recorded before the batch is written, and settling it is idempotent, so
// whichever operation a worker dies at, the next run (which takes up rows of runs no longer open)
// settles every batch exactly once: a map beside each, every image stored, the run's counts equal to
// what the maps record, nothing left pending, and the archive verifies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/emulator-env';
import { startStorageProxy, type StorageOperation } from '../../emulator/storage-proxy';
import { readBlobBytes } from '../../src/archive/batch-reader';
import { contentMapName } from '../../src/archive/blob-layout';
import { verifyArchive } from '../../src/archive/verify-archive';
import { buildDeps, type AppDeps } from '../../src/deps';
import { ContentPool } from '../../src/export/content-pool';
import { exportEntity } from '../../src/export/export-entity';
import { silentLogger } from '../../src/log';
import type { Entity } from '../../src/model/entity';
import { loadSettings, type Env } from '../../src/settings';
import { HOUR, iso } from '../../src/time';
import { collectingHandoff, contentStageDeps } from '../support/content-stage';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from '../support/emulator';
import { ownAzurite, testStorage } from '../support/storage';

ownAzurite();

const RUN = 'backfill-content-crash';
const now = Date.now();
const mode = { kind: 'backfill' as const, window: { fromMs: now - 5 * 24 * HOUR, toMs: now } };

describe('the content stage killed at every storage operation', () => {
  let emulator: Emulator;
  let user: Entity;

  beforeAll(async () => {
    emulator = await startTestEmulator({
      tenant: {
        seed: 31,
        users: 2,
        teams: 0,
        oneOnOneChats: 1,
        groupChats: 0,
        meetingChats: 0,
        messagesPerChat: 8,
        historyDays: 2,
        endMs: now - 2 * HOUR,
        hostedContentFraction: 0.5,
      },
    });
    const chat = emulator.tenant.chats[0]!;
    user = { kind: 'user', id: chat.memberIds[0]! };
    expect(emulator.hostedContents().length).toBeGreaterThan(1);
  });
  afterAll(() => emulator?.close());

  function env(label: string): Env {
    const s = testStorage(label);
    return {
      ...emulatorEnv(emulator),
      ...TEST_HOSTED_CONTENT_ENV,
      GRAPH_MAX_RPS: '1000',
      GRAPH_REQUEST_TIMEOUT: 'PT5S',
      EXPORT_STORAGE: s.connectionString,
      EXPORT_CONTAINER: s.container,
      EXPORT_TABLE_PREFIX: s.tablePrefix,
      EXPORT_START: iso(now - 10 * 24 * HOUR),
      EXPORT_TEAMS: 'none',
    };
  }

  /** A fresh deployment whose user's batches are written and handed over, their content not fetched yet. */
  async function exported(label: string): Promise<{ e: Env; deps: AppDeps; batches: string[] }> {
    const e = env(label);
    const deps = await buildDeps(loadSettings(e), { log: silentLogger });
    const handed = collectingHandoff(deps.contentBacklog!);
    const r = await exportEntity({ runId: RUN, entity: user, mode }, { ...deps, contentStage: handed });
    expect(r.status).toBe('done');
    expect(handed.batches.length).toBeGreaterThan(0);
    return { e, deps, batches: handed.batches };
  }

  /**
   * Settles `batches` through a storage proxy that kills the worker at operation `killAt` (that one
   * and every later one never reach storage, as for a dead process); returns the operations it made.
   */
  async function settleKilledAt(e: Env, batches: string[], killAt: number | undefined): Promise<number> {
    const proxy = await startStorageProxy(e.EXPORT_STORAGE as string);
    try {
      const deps = await buildDeps(loadSettings({ ...e, EXPORT_STORAGE: proxy.connectionString }), { log: silentLogger });
      proxy.reset();
      const dead = new AbortController();
      let killed: (op: StorageOperation) => void = () => undefined;
      const died = new Promise<StorageOperation>((resolve) => (killed = resolve));
      proxy.setGate((op) => {
        if (killAt !== undefined && op.index >= killAt) {
          killed(op);
          return 'drop';
        }
        return 'forward';
      });
      const pool = new ContentPool(contentStageDeps(deps), dead.signal);
      for (const b of batches) await pool.dispatch(b);
      await Promise.race([pool.drain(), died]);
      dead.abort(new Error('the worker died'));
      return proxy.operations.length;
    } finally {
      await proxy.close();
    }
  }

  /** The next run: takes up what the dead worker's run left and settles it. */
  async function nextRun(deps: AppDeps): Promise<void> {
    const pool = new ContentPool(contentStageDeps(deps, { now: () => Date.now() + 2 * HOUR }));
    await pool.takeLeftovers(() => Promise.resolve(false));
    await pool.drain();
  }

  /** Every promise of the stage; the problems found. */
  async function problems(deps: AppDeps, batches: string[]): Promise<string[]> {
    const found: string[] = [];
    const backlog = deps.contentBacklog!;
    let stored = 0;
    for (const batch of batches) {
      const bytes = await readBlobBytes(deps.container, contentMapName(batch));
      if (!bytes) {
        found.push(`no map beside ${batch}`);
        continue;
      }
      const entries = (JSON.parse(bytes.toString('utf8')) as { entries: Array<{ kind: string; status: string }> }).entries;
      for (const e of entries) if (e.kind === 'hostedContent' && e.status !== 'stored') found.push(`${batch}: ${e.status}`);
      stored += entries.filter((e) => e.status === 'stored').length;
      if (await backlog.get(batch)) found.push(`still pending: ${batch}`);
    }
    const tally = await backlog.tally(RUN);
    if ((tally.statuses.stored ?? 0) !== stored) found.push(`the run counts ${tally.statuses.stored} stored, the maps ${stored}`);
    if (tally.pendingBatches !== 0) found.push(`${tally.pendingBatches} batches pending`);
    const verified = await verifyArchive(deps.container);
    for (const p of verified.problems) found.push(`verify: ${p.kind} ${p.name}: ${p.detail}`);
    return found;
  }

  it('settles every batch exactly once whatever operation the worker dies at', async () => {
    const reference = await exported('content-crash-ref');
    const operations = await settleKilledAt(reference.e, reference.batches, undefined);
    expect(await problems(reference.deps, reference.batches)).toEqual([]);
    expect(operations).toBeGreaterThan(5);

    const broken: string[] = [];
    for (let k = 1; k <= operations; k++) {
      const trial = await exported(`content-crash-${k}`);
      await settleKilledAt(trial.e, trial.batches, k);
      await nextRun(trial.deps);
      for (const p of await problems(trial.deps, trial.batches)) broken.push(`killed at operation ${k}: ${p}`);
    }
    console.log(`content crash points: ${operations} of ${operations} storage operations covered, ${broken.length} problems`);
    expect(broken).toEqual([]);
  }, 300_000);
});
