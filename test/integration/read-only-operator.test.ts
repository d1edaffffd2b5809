// The operator role infra/ grants by default reads the archive's tables but cannot create them
// (Table Data Reader, docs/security.md): the CLI's start-up must not fail on the 403 its "create the
// table if it does not exist" gets, and its reads must work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeps } from '../../src/deps';
import { silentLogger } from '../../src/log';
import { loadSettings, type Env } from '../../src/settings';
import { startStorageProxy, type StorageProxy } from '../../emulator/storage-proxy';
import { emulatorEnv } from '../../emulator/emulator-env';
import { startTestEmulator } from '../support/emulator';
import { testStorage } from '../support/storage';
import type { Emulator } from '../../emulator';

describe('a read-only operator', () => {
  let emulator: Emulator;
  let proxy: StorageProxy;
  let env: Env;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tenant: { seed: 3, users: 1, teams: 0 } });
    const s = testStorage('read-only-operator');
    env = {
      ...emulatorEnv(emulator),
      EXPORT_STORAGE: s.connectionString,
      EXPORT_CONTAINER: s.container,
      EXPORT_TABLE_PREFIX: s.tablePrefix,
    };
    // The deployment created its tables; the operator's identity then only reads them.
    await buildDeps(loadSettings(env), { log: silentLogger });
    proxy = await startStorageProxy(s.connectionString);
    proxy.setGate((op) =>
      op.service === 'table' && op.method === 'POST' && op.resource.startsWith('Tables') ? { status: 403 } : 'forward',
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await emulator?.close();
  });

  it('starts although it may not create tables, and reads them', async () => {
    const deps = await buildDeps(loadSettings({ ...env, EXPORT_STORAGE: proxy.connectionString }), { log: silentLogger });
    expect(await deps.runs.listRuns()).toEqual([]);
    // checkpoints, runs, jobs and the content backlog
    expect(proxy.counts().failures).toMatchObject({ '403 POST Tables': 4 });
  });
});
