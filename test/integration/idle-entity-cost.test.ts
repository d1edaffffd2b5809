// What an idle entity costs in a daily run (issue 14, docs/design.md §4): one Graph request per pass,
// and on the export's side one checkpoint read and one checkpoint write (the result recorded with the
// watermarks), no blob listing and no batch. Storage operations are counted by an HTTP proxy in front
// of Azurite; the SDK clients run unchanged.
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { startStorageProxy, type StorageProxy } from '../../emulator/storage-proxy';
import { tableNames } from '../../src/state/run-store';
import { DAY } from '../../src/time';

const nowMs = Date.now();

describe('an idle entity in a daily run', () => {
  let h: Harness;
  let proxy: StorageProxy;

  beforeAll(async () => {
    proxy = await startStorageProxy(inject('storageConnectionString'));
    h = await startHarness({
      label: 'idle-cost',
      // Every message is older than the first run's settle boundary, so the day after nothing is new.
      tenant: { seed: 43, users: 10, teams: 2, historyDays: 20, endMs: nowMs - 2 * DAY, hostedContentFraction: 0, fileFraction: 0 },
      env: {
        EXPORT_STORAGE: proxy.connectionString,
        EXPORT_START: '2020-01-01T00:00:00Z',
        EXPORT_HOSTED_CONTENTS: 'false',
        EXPORT_ATTACHMENTS: 'false',
      },
    });
    expect((await h.daily(nowMs)).status).toBe('succeeded');
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  it('costs one request per pass, one checkpoint read and one write, and no blob listing or batch', async () => {
    proxy.reset();
    h.emulator.resetCounters();
    const outcome = await h.daily(nowMs + DAY);
    expect(outcome.status).toBe('succeeded');
    const done = outcome.results.filter((r) => r.status === 'done');
    expect(done.length).toBeGreaterThan(3);
    expect(done.every((r) => r.counts.messages === 0 && r.counts.blobs === 0)).toBe(true);

    for (const r of done) expect(h.emulator.counters.exportRequestsByEntity[r.entity.id]).toBe(2);

    const checkpointTable = tableNames(h.env.EXPORT_TABLE_PREFIX as string).checkpoints;
    const checkpointOps = proxy.operations.filter((op) => op.service === 'table' && op.resource.startsWith(checkpointTable));
    // Skipped entities (no Teams data) read their row and record their result: two as well.
    const skipped = outcome.results.filter((r) => r.status === 'skipped').length;
    expect(checkpointOps.length).toBe(2 * (done.length + skipped));
    expect(checkpointOps.filter((op) => op.method === 'GET').length).toBe(done.length + skipped);
    const container = h.env.EXPORT_CONTAINER as string;
    const archiveOps = proxy.operations.filter((op) => op.service === 'blob' && op.resource.startsWith(`${container}/`));
    // The only blob operations of the idle jobs are their entity leases (acquire, release): no listing,
    // no batch, no manifest. (Skipped entities write a manifest saying why; the run writes run.json.)
    expect(archiveOps.filter((op) => op.comp === 'list')).toEqual([]);
    const ids = done.map((r) => encodeURIComponent(r.entity.id));
    const idleWrites = archiveOps.filter((op) => op.comp !== 'lease' && op.method !== 'GET' && ids.some((id) => op.resource.includes(id)));
    expect(idleWrites).toEqual([]);
  });
});
