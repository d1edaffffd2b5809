import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { loadArchivedVersionKeys } from '../../src/archive/archived-versions';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import { BlobAlreadyExistsError, writeBatch, writeJson } from '../../src/archive/batch-writer';
import { batchBlobName, dayPrefix, parseBatchBlobName, quarantineBlobName } from '../../src/archive/blob-layout';
import { ensureContainer } from '../../src/archive/archive-container';
import type { Entity } from '../../src/model/entity';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';

async function download(container: ContainerClient, name: string): Promise<Buffer> {
  return container.getBlobClient(name).downloadToBuffer();
}

const window = { fromMs: Date.parse('2024-05-01T00:00:00Z'), toMs: Date.parse('2024-05-02T00:00:00Z') };

describe('archive batches', () => {
  let container: ContainerClient;

  beforeAll(async () => {
    const s = testStorage('archive-batches');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
    await ensureContainer(container); // a second call is harmless
  });

  it('writes a gzipped JSON Lines blob whose SHA-256 matches its stored bytes', async () => {
    const entity: Entity = { kind: 'user', id: 'a1b2c3d4-0000-4000-8000-000000000001' };
    const lines = [JSON.stringify({ id: '1', body: { content: 'héllo ✓' } }), JSON.stringify({ id: '2', extra: { unknown: true } })];
    const name = batchBlobName(entity, '2024-05-01', { pass: 'fresh', window, runId: 'r1', seq: 0 });
    const written = await writeBatch(container, name, lines, { pass: 'fresh' });

    const stored = await download(container, name);
    expect(written).toEqual({ name, sha256: createHash('sha256').update(stored).digest('hex'), bytes: stored.length, lines: 2 });
    expect(gunzipSync(stored).toString('utf8')).toBe(`${lines[0]}\n${lines[1]}\n`);
    const props = await container.getBlobClient(name).getProperties();
    expect(props.contentType).toBe('application/x-ndjson');
    expect(props.contentEncoding).toBeUndefined();
    expect(props.metadata).toMatchObject({ pass: 'fresh', sha256: written.sha256, lines: '2' });
  });

  it('refuses a second write to the same name and leaves the first blob intact', async () => {
    const entity: Entity = { kind: 'team', id: 'team-1' };
    const name = batchBlobName(entity, '2024-05-01', { pass: 'settle', window, runId: 'r1', seq: 1 });
    const first = await writeBatch(container, name, ['{"id":"first"}'], {});
    await expect(writeBatch(container, name, ['{"id":"second"}'], {})).rejects.toBeInstanceOf(BlobAlreadyExistsError);
    const stored = await download(container, name);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(first.sha256);
    expect(gunzipSync(stored).toString('utf8')).toBe('{"id":"first"}\n');
  });

  it('refuses to write outside the archive folders or lines containing newlines', async () => {
    await expect(writeBatch(container, 'locks/users/x', ['{}'], {})).rejects.toThrow(RangeError);
    await expect(writeBatch(container, 'messages/../locks/x.jsonl.gz', ['{}'], {})).rejects.toThrow(RangeError);
    await expect(writeBatch(container, 'messages/users/x/2024/01/01/a.jsonl.gz', ['{}\n{}'], {})).rejects.toThrow(RangeError);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'locks/' })) names.push(b.name);
    expect(names).toEqual([]);
  });

  it('stores blobs of hostile entity ids under their own encoded folder and lists them back', async () => {
    const ids = ['../x', 'a/b', '%2e%2e', '%2F', '19:abc@thread.v2', 'ÄBC 😀', 'abc', 'ABC'];
    for (const [i, id] of ids.entries()) {
      const entity: Entity = { kind: 'user', id };
      await writeBatch(
        container,
        batchBlobName(entity, '2024-06-01', { pass: 'backfill', window, runId: 'hostile', seq: i }),
        [JSON.stringify({ id })],
        {},
      );
    }
    for (const id of ids) {
      const entity: Entity = { kind: 'user', id };
      const found: string[] = [];
      for await (const b of listBatches(container, dayPrefix(entity, '2024-06-01'))) {
        expect(parseBatchBlobName(b.name)?.entity.id).toBe(id);
        for await (const line of readBatchLines(container, b.name)) found.push(JSON.parse(line).id);
      }
      expect(found, id).toEqual([id]);
    }
  });

  it('writes JSON manifests once, or replaces them when asked', async () => {
    const name = 'manifests/r9/run.json';
    const first = await writeJson(container, name, { status: 'running' });
    await expect(writeJson(container, name, { status: 'again' })).rejects.toBeInstanceOf(BlobAlreadyExistsError);
    const replaced = await writeJson(container, name, { status: 'succeeded' }, { overwrite: true });
    expect(replaced.sha256).not.toBe(first.sha256);
    const stored = await download(container, name);
    expect(JSON.parse(stored.toString('utf8'))).toEqual({ status: 'succeeded' });
    expect(createHash('sha256').update(stored).digest('hex')).toBe(replaced.sha256);
  });

  it('streams a multi-megabyte batch back line by line', async () => {
    const entity: Entity = { kind: 'user', id: 'big' };
    // Random payloads compress poorly, so the blob itself is several MB and arrives in many chunks.
    const lines = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ id: String(i), pad: randomBytes(600).toString('base64') }));
    lines.push(JSON.stringify({ id: 'long', pad: 'x'.repeat(3_000_000) }));
    const name = batchBlobName(entity, '2024-05-01', { pass: 'fresh', window, runId: 'big', seq: 0 });
    const written = await writeBatch(container, name, lines, {});
    expect(written.bytes).toBeGreaterThan(2_000_000);
    let count = 0;
    for await (const line of readBatchLines(container, name)) {
      expect(line).toBe(lines[count]);
      count++;
    }
    expect(count).toBe(lines.length);
  });

  it('stops the download when the reader stops early', async () => {
    const entity: Entity = { kind: 'user', id: 'early' };
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: String(i), pad: randomBytes(500).toString('base64') }));
    const name = batchBlobName(entity, '2024-05-01', { pass: 'fresh', window, runId: 'early', seq: 0 });
    await writeBatch(container, name, lines, {});
    const got: string[] = [];
    for await (const line of readBatchLines(container, name)) {
      got.push(line);
      if (got.length === 3) break;
    }
    expect(got).toEqual(lines.slice(0, 3));
  });

  it('lists batches with their recorded SHA-256 and line counts, and only .jsonl.gz blobs', async () => {
    const entity: Entity = { kind: 'team', id: 'listed' };
    const a = await writeBatch(
      container,
      batchBlobName(entity, '2024-07-01', { pass: 'fresh', window, runId: 'l', seq: 0 }),
      ['{"a":1}', '{"a":2}'],
      { pass: 'fresh' },
    );
    const b = await writeBatch(
      container,
      batchBlobName(entity, '2024-07-02', { pass: 'settle', window, runId: 'l', seq: 1 }),
      ['{"b":1}'],
      {},
    );
    await writeJson(container, 'manifests/l/teams/listed.json', {});
    const listed = [];
    for await (const info of listBatches(container, 'messages/teams/listed/')) listed.push(info);
    expect(listed.map((i) => [i.name, i.sha256, i.lines, i.bytes])).toEqual([
      [a.name, a.sha256, 2, a.bytes],
      [b.name, b.sha256, 1, b.bytes],
    ]);
    expect(listed[0]?.metadata.pass).toBe('fresh');
    expect(listed[0]?.lastModified).toBeInstanceOf(Date);
  });

  it('loads the keys of every version archived for one entity and day, and of no other', async () => {
    const entity: Entity = { kind: 'user', id: 'keys' };
    const key = (line: string) => {
      const m = JSON.parse(line) as { id?: string; v?: string };
      return m.id === undefined ? undefined : `${m.id}@${m.v}`;
    };
    const day = '2024-08-10';
    for (let seq = 0; seq < 6; seq++) {
      await writeBatch(
        container,
        batchBlobName(entity, day, { pass: 'fresh', window, runId: 'k', seq }),
        [JSON.stringify({ id: `m${seq}`, v: '1' }), JSON.stringify({ id: `m${seq}`, v: '2' }), '{"noid":true}'],
        {},
      );
    }
    await writeBatch(
      container,
      batchBlobName(entity, '2024-08-11', { pass: 'fresh', window, runId: 'k', seq: 9 }),
      ['{"id":"other-day","v":"1"}'],
      {},
    );
    await writeBatch(
      container,
      batchBlobName({ kind: 'team', id: 'keys' }, day, { pass: 'fresh', window, runId: 'k', seq: 9 }),
      ['{"id":"other-kind","v":"1"}'],
      {},
    );
    await writeBatch(container, quarantineBlobName(entity, 'k', 0), ['{"id":"quarantined","v":"1"}'], {});

    const keys = await loadArchivedVersionKeys(container, entity, day, key);
    expect([...keys].sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => [`m${i}@1`, `m${i}@2`])
        .flat()
        .sort(),
    );
    expect((await loadArchivedVersionKeys(container, entity, '2024-08-12', key)).size).toBe(0);
  });
});
