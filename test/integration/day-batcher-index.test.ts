import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { listArchivedBatchesByDay } from '../../src/archive/archived-versions';
import { listBatches } from '../../src/archive/batch-reader';
import { writeBatch } from '../../src/archive/batch-writer';
import { batchBlobName, entityPrefix, quarantineBlobName } from '../../src/archive/blob-layout';
import { ensureContainer } from '../../src/archive/archive-container';
import { DayBatcher } from '../../src/export/day-batcher';
import type { Entity } from '../../src/model/entity';
import { parseMessage, type MessageVersion } from '../../src/graph/message-schema';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';

const may = { fromMs: Date.parse('2024-05-01T00:00:00Z'), toMs: Date.parse('2024-06-01T00:00:00Z') };

function version(conv: string, id: string, lastModified: string, text = 'hello'): MessageVersion {
  const r = parseMessage({ id, etag: id, chatId: conv, lastModifiedDateTime: lastModified, body: { content: text } });
  if (!r.ok) throw new Error(r.reason);
  return r.version;
}

async function archivedLines(container: ContainerClient, entity: Entity): Promise<string[]> {
  const lines: string[] = [];
  for await (const b of listBatches(container, entityPrefix(entity))) {
    const text = gunzipSync(await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
    lines.push(...text.split('\n').filter((l) => l !== ''));
  }
  return lines;
}

describe('day batches with a month index', () => {
  let container: ContainerClient;

  beforeAll(async () => {
    const s = testStorage('day-batcher-index');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
  });

  it('lists the batches of the asked months by day, and none of other months, entities or quarantine', async () => {
    const entity: Entity = { kind: 'user', id: 'index' };
    const w = { pass: 'fresh' as const, window: may, runId: 'idx' };
    await writeBatch(container, batchBlobName(entity, '2024-05-03', { ...w, seq: 0 }), ['{"id":"a"}'], {});
    await writeBatch(container, batchBlobName(entity, '2024-05-03', { ...w, seq: 1 }), ['{"id":"b"}'], {});
    await writeBatch(container, batchBlobName(entity, '2024-06-30', { ...w, seq: 2 }), ['{"id":"c"}'], {});
    await writeBatch(container, batchBlobName(entity, '2024-07-01', { ...w, seq: 3 }), ['{"id":"d"}'], {});
    await writeBatch(container, batchBlobName({ kind: 'team', id: 'index' }, '2024-05-03', { ...w, seq: 4 }), ['{"id":"e"}'], {});
    await writeBatch(container, quarantineBlobName(entity, 'idx', 5), ['{"id":"f"}'], {});

    const byDay = await listArchivedBatchesByDay(container, entity, ['2024-05', '2024-06']);
    expect([...byDay.keys()].sort()).toEqual(['2024-05-03', '2024-06-30']);
    expect(byDay.get('2024-05-03')).toHaveLength(2);
    await expect(listArchivedBatchesByDay(container, entity, ['2024-5'])).rejects.toThrow(RangeError);
  });

  it('writes UTF-8 byte lines like strings, and refuses one holding a raw newline', async () => {
    const entity: Entity = { kind: 'user', id: 'bytes' };
    const w = { pass: 'fresh' as const, window: may, runId: 'bytes' };
    await writeBatch(container, batchBlobName(entity, '2024-05-04', { ...w, seq: 0 }), [Buffer.from('{"t":"مرحبا 🎉"}'), '{"t":"x"}'], {});
    expect(await archivedLines(container, entity)).toEqual(['{"t":"مرحبا 🎉"}', '{"t":"x"}']);
    await expect(writeBatch(container, batchBlobName(entity, '2024-05-04', { ...w, seq: 1 }), [Buffer.from('a\nb')], {})).rejects.toThrow(
      RangeError,
    );
  });

  it('a re-read window writes only versions not archived before, also when small buffers flush early', async () => {
    const entity: Entity = { kind: 'user', id: 'rerun' };
    let seq = 0;
    const batcher = (writerId: string) =>
      new DayBatcher({
        container,
        entity,
        pass: 'fresh',
        window: may,
        writerId,
        maxBufferedVersions: 1000,
        maxBufferedBytes: 300,
        nextSeq: () => seq++,
      });
    const days = ['2024-05-02', '2024-05-09', '2024-05-20'];
    const first = days.flatMap((d, i) => [version('19:c', `m${i}a`, `${d}T10:00:00Z`), version('19:c', `m${i}b`, `${d}T11:00:00Z`)]);

    const one = batcher('run1');
    let firstAdded = 0;
    for (const v of first) firstAdded += (await one.add(v))?.newVersions ?? 0;
    firstAdded += (await one.flushAll()).newVersions;
    expect(firstAdded).toBe(6);
    expect(await archivedLines(container, entity)).toHaveLength(6);

    // The second read returns the same versions (in another order, one twice) plus two new ones.
    const second = [...first].reverse();
    second.push(
      first[0] as MessageVersion,
      version('19:c', 'new1', '2024-05-09T12:00:00Z'),
      version('19:c', 'new2', '2024-05-31T23:59:59Z'),
    );
    const two = batcher('run2');
    let added = 0;
    let dups = 0;
    for (const v of second) {
      const f = await two.add(v);
      if (f) {
        added += f.newVersions;
        dups += f.duplicates;
      }
    }
    const r2 = await two.flushAll();
    added += r2.newVersions;
    dups += r2.duplicates;
    expect(added).toBe(2);
    expect(dups).toBe(7);
    const lines = await archivedLines(container, entity);
    expect(lines).toHaveLength(8);
    expect(new Set(lines).size).toBe(8);
  });
});
