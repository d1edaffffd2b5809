// Directory snapshots in the archive: the fixed blob path and format, write-once, and the nearest
// snapshot to an instant found by listing only directory/ (years, months, then the nearest months).
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, it } from 'vitest';
import { BlobAlreadyExistsError } from '../../src/archive/batch-writer';
import { readNearestDirectorySnapshot, writeDirectorySnapshot, type DirectorySnapshot } from '../../src/archive/directory-snapshot';
import { testStorage } from '../support/storage';

const snap = (takenAt: string, runId: string): DirectorySnapshot => ({
  takenAt,
  runId,
  users: [{ id: 'u1', displayName: `Ada at ${takenAt}`, userPrincipalName: 'ada@contoso.com', mail: 'ada@contoso.com' }],
  teams: [{ id: 't1', displayName: 'Team', channels: [{ id: 'c1', displayName: 'General', membershipType: 'standard' }] }],
  chats: [{ id: '19:x@thread.v2', chatType: 'group', topic: 'Plans', members: [{ userId: 'u1', displayName: 'Ada' }] }],
});

describe('directory snapshots', () => {
  const storage = testStorage('dirsnap');
  const container = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(storage.container);
  beforeAll(async () => {
    await container.create();
  });

  it('writes directory/{yyyy}/{mm}/{dd}/{runId}.json.gz as gzipped JSON, once', async () => {
    const written = await writeDirectorySnapshot(container, snap('2026-03-31T23:30:00.000Z', 'daily-a'));
    expect(written.name).toBe('directory/2026/03/31/daily-a.json.gz');
    const body = JSON.parse(
      gunzipSync(await container.getBlobClient(written.name).downloadToBuffer()).toString('utf8'),
    ) as DirectorySnapshot;
    expect(body).toEqual(snap('2026-03-31T23:30:00.000Z', 'daily-a'));
    await expect(writeDirectorySnapshot(container, snap('2026-03-31T23:30:00.000Z', 'daily-a'))).rejects.toBeInstanceOf(
      BlobAlreadyExistsError,
    );
  });

  it('finds the snapshot nearest an instant, before or after it, across months and years', async () => {
    await writeDirectorySnapshot(container, snap('2026-05-02T01:00:00.000Z', 'daily-b'));
    await writeDirectorySnapshot(container, snap('2025-12-30T12:00:00.000Z', 'daily-c'));
    const nearest = async (at: string) => (await readNearestDirectorySnapshot(container, new Date(at)))?.runId;
    expect(await nearest('2026-04-01T06:00:00Z')).toBe('daily-a'); // next month's start is nearer than nothing; a is 6.5 h before
    expect(await nearest('2026-04-20T00:00:00Z')).toBe('daily-b'); // 12 days after vs 19 days before
    expect(await nearest('2026-01-10T00:00:00Z')).toBe('daily-c'); // across the year boundary
    expect(await nearest('2030-01-01T00:00:00Z')).toBe('daily-b');
    expect((await readNearestDirectorySnapshot(container, new Date('2026-04-01T06:00:00Z')))?.blobName).toBe(
      'directory/2026/03/31/daily-a.json.gz',
    );
  });

  it('answers undefined when there is no snapshot at all', async () => {
    const empty = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(`${storage.container}-e`);
    await empty.create();
    expect(await readNearestDirectorySnapshot(empty, new Date())).toBeUndefined();
  });
});
