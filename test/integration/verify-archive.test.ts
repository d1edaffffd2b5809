import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { writeBatch, writeJson } from '../../src/archive/batch-writer';
import { ensureContainer } from '../../src/archive/archive-container';
import { verifyArchive } from '../../src/archive/verify-archive';
import { testStorage } from '../support/storage';

async function archiveWithTwoBatches(label: string) {
  const storage = testStorage(label);
  const container = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(storage.container);
  await ensureContainer(container);
  const a = await writeBatch(container, 'messages/users/u1/2024/05/01/fresh_a.jsonl.gz', ['{"id":"1"}', '{"id":"2"}'], {});
  const b = await writeBatch(container, 'messages/users/u1/2024/05/02/fresh_b.jsonl.gz', ['{"id":"3"}'], {});
  await writeJson(container, 'manifests/run-1/users/u1.json', { runId: 'run-1', blobs: [a, b] });
  return { container, a, b };
}

describe('verifyArchive', () => {
  it('an untouched archive verifies with no problems', async () => {
    const { container } = await archiveWithTwoBatches('verify-ok');
    const r = await verifyArchive(container);
    expect(r.problems).toEqual([]);
    expect(r.blobsChecked).toBe(2);
    expect(r.listed).toBe(2);
  });

  it('reports a batch whose content was altered, and one that disappeared', async () => {
    const { container, a, b } = await archiveWithTwoBatches('verify-bad');
    // Someone with write access replaces one batch and deletes the other.
    await container.getBlockBlobClient(a.name).upload('tampered', 8, { metadata: { sha256: a.sha256 } });
    await container.getBlobClient(b.name).delete();
    const r = await verifyArchive(container);
    expect(r.problems.map((p) => [p.kind, p.name])).toEqual(
      expect.arrayContaining([
        ['mismatch', a.name],
        ['missing', b.name],
      ]),
    );
  });

  it('flags a batch that no manifest or metadata vouches for', async () => {
    const { container } = await archiveWithTwoBatches('verify-unlisted');
    await container.getBlockBlobClient('messages/users/u1/2024/05/03/x.jsonl.gz').upload('x', 1);
    const r = await verifyArchive(container);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'no-checksum', name: 'messages/users/u1/2024/05/03/x.jsonl.gz' })]);
  });
});
