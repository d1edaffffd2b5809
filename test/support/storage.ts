// Per-test storage names on the shared Azurite, so tests never see each other's blobs or rows.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { startAzurite } from './azurite';

export interface TestStorage {
  connectionString: string;
  /** A fresh, valid blob container name (not created yet). */
  container: string;
  /** A fresh table name prefix: letters and digits, starting with a letter. */
  tablePrefix: string;
}

/** This test file's own Azurite (ownAzurite), else the suite's shared one. */
let ownConnectionString: string | undefined;

/**
 * Gives the calling test file an Azurite of its own for its lifetime. For the files that write the
 * most (crash points, interleavings): in-memory Azurite's garbage collection, every 10 minutes, takes
 * time quadratic in the extents it holds, and on one shared Azurite holding the whole suite's blobs and
 * queue messages it blocked every other test for minutes.
 */
export function ownAzurite(): void {
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const azurite = await startAzurite({ timeoutMs: 120_000 });
    ownConnectionString = azurite.connectionString;
    stop = () => azurite.stop();
  }, 150_000);
  afterAll(async () => {
    ownConnectionString = undefined;
    await stop?.();
  });
}

/** Unique storage names for one test; `label` only makes them recognisable in Azurite. */
export function testStorage(label: string): TestStorage {
  const connectionString = ownConnectionString ?? inject('storageConnectionString');
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/, '');
  const unique = randomBytes(6).toString('hex');
  const container = `t-${slug ? `${slug}-` : ''}${unique}`;
  const letters = label.replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
  const tablePrefix = `t${letters}${unique}`;
  return { connectionString, container, tablePrefix };
}
