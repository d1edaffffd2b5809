// Issue 20, defect 2: with split reads several parts feed one day batcher. When one part's early flush
// of a day fails, that day's versions have left the buffer unwritten; a sibling part's later flushAll
// must not then report "everything read so far is durable", or the job records read positions past
// versions that are in no batch, and the retry never reads them again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { ensureContainer } from '../../src/archive/archive-container';
import { DayBatcher } from '../../src/export/day-batcher';
import { parseMessage, type MessageVersion } from '../../src/graph/message-schema';
import type { Entity } from '../../src/model/entity';
import { createStorageClients } from '../../src/storage-clients';
import { startStorageProxy, type StorageProxy } from '../../emulator/storage-proxy';
import { testStorage } from '../support/storage';

const D1 = Date.UTC(2026, 10, 2, 12);
const D2 = Date.UTC(2026, 10, 3, 12);

function version(id: string, atMs: number): MessageVersion {
  const r = parseMessage({
    id,
    etag: id,
    chatId: '19:c@thread.v2',
    lastModifiedDateTime: new Date(atMs).toISOString(),
    body: { content: 'x' },
  });
  if (!r.ok) throw new Error(r.reason);
  return r.version;
}

describe('a day batcher after a failed write', () => {
  let proxy: StorageProxy;
  let container: ContainerClient;
  const entity: Entity = { kind: 'user', id: 'u-failing-day' };

  beforeAll(async () => {
    const s = testStorage('day-batcher-failure');
    proxy = await startStorageProxy(s.connectionString);
    container = createStorageClients({ kind: 'connectionString', connectionString: proxy.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
  });

  afterAll(async () => {
    await proxy.close();
  });

  it('refuses every later operation, so no flush reports lost versions as durable', async () => {
    // Every write of day 1's batch is refused (storage answers 403: not retried).
    proxy.setGate((op) => (op.method === 'PUT' && op.resource.includes('/2026/11/02/') ? { status: 403 } : 'forward'));
    let seq = 0;
    const batcher = new DayBatcher({
      container,
      entity,
      pass: 'backfill',
      window: { fromMs: D1 - 86_400_000, toMs: D2 + 86_400_000 },
      writerId: 'w-fail',
      nextSeq: () => seq++,
      maxBufferedVersions: 3,
    });
    // Part 2 buffers day 1 and day 2; its third version makes day 1 (the largest) flush early: refused.
    await batcher.add(version('a', D1));
    await batcher.add(version('b', D2));
    await expect(batcher.add(version('c', D1 + 1))).rejects.toThrow();
    // Part 1, meanwhile, commits before recording its links: this must fail, not write day 2 alone.
    await expect(batcher.flushAll()).rejects.toThrow();
    await expect(batcher.add(version('d', D2 + 1))).rejects.toThrow();
    proxy.setGate(undefined);
    let written = 0;
    for await (const b of container.listBlobsFlat({ prefix: 'messages/' })) if (b.name.includes('u-failing-day')) written++;
    expect(written).toBe(0);
  });
});
