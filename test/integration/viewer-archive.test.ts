// The viewer's reads of the archive on Azurite: entities and months by delimiter listings, days in a
// range, the newest directory snapshot for names, and how stored content is served (raster images
// inline, anything else as an inert download).
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { listEntityDays, listEntityIds, listEntityMonths, monthsBetween } from '../../src/archive/archive-browser';
import { writeBatch } from '../../src/archive/batch-writer';
import { batchBlobName, encodeIdSegment } from '../../src/archive/blob-layout';
import { storeContent } from '../../src/archive/content-store';
import { ensureContainer } from '../../src/archive/archive-container';
import { readLatestDirectoryNames } from '../../src/archive/viewer-names';
import { createStorageClients } from '../../src/storage-clients';
import { serverLinks } from '../../src/viewer/links';
import { cachedDirectoryNames, viewerRequest } from '../../src/viewer/router';
import { cliAuditor } from '../../src/cli/cli-audit';
import { silentLogger } from '../../src/log';
import { testStorage } from '../support/storage';

const window = { fromMs: Date.parse('2025-12-01T00:00:00Z'), toMs: Date.parse('2026-02-01T00:00:00Z') };

async function freshContainer(label: string): Promise<ContainerClient> {
  const s = testStorage(label);
  const container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
    s.container,
  );
  await ensureContainer(container);
  return container;
}

describe('viewer archive reads', () => {
  let container: ContainerClient;
  const userId = 'User-Ä/1';

  beforeAll(async () => {
    container = await freshContainer('viewer-archive');
    let seq = 0;
    for (const day of ['2025-12-31', '2026-01-01', '2026-01-15']) {
      const line = JSON.stringify({
        id: String(seq),
        chatId: '19:c@thread.v2',
        createdDateTime: `${day}T10:00:00Z`,
        lastModifiedDateTime: `${day}T10:00:00Z`,
      });
      await writeBatch(
        container,
        batchBlobName({ kind: 'user', id: userId }, day, { pass: 'fresh', window, runId: 'r1', seq: seq++ }),
        [line],
        { pass: 'fresh' },
      );
    }
    await writeBatch(
      container,
      batchBlobName({ kind: 'team', id: 't1' }, '2026-01-02', { pass: 'fresh', window, runId: 'r1', seq: 9 }),
      ['{}'],
      { pass: 'fresh' },
    );
  });

  it('lists entities and their months by prefix, decoding ids', async () => {
    expect(await listEntityIds(container, 'user')).toEqual([userId]);
    expect(await listEntityIds(container, 'team')).toEqual(['t1']);
    expect(await listEntityMonths(container, { kind: 'user', id: userId })).toEqual(['2026-01', '2025-12']);
    expect(await listEntityMonths(container, { kind: 'user', id: 'nobody' })).toEqual([]);
  });

  it('lists the days of a range, inclusive, across a year boundary', async () => {
    expect(monthsBetween('2025-11-30', '2026-02-01')).toEqual(['2025-11', '2025-12', '2026-01', '2026-02']);
    const days = await listEntityDays(container, { kind: 'user', id: userId }, '2025-12-31', '2026-01-01');
    expect([...days.keys()]).toEqual(['2025-12-31', '2026-01-01']);
  });

  it('takes names from the newest well-named snapshot, and none without one', async () => {
    const empty = await freshContainer('viewer-names');
    expect((await readLatestDirectoryNames(empty)).user('u1')).toBeUndefined();
    // Snapshots in the archive's format (src/archive/directory-snapshot.ts): what each test names, the rest empty.
    const put = (name: string, snapshot: Record<string, unknown>) =>
      empty
        .getBlockBlobClient(name)
        .uploadData(
          gzipSync(JSON.stringify({ takenAt: '2026-01-01T00:00:00.000Z', runId: 'run', users: [], teams: [], chats: [], ...snapshot })),
        );
    const user = (id: string, displayName: string) => ({ id, displayName, userPrincipalName: `${id}@contoso.test` });
    await put('directory/2026/01/01/run-a.json.gz', { users: [user('u1', 'Old Name')] });
    await put('directory/2026/01/02/run-b.json.gz', {
      users: [user('u1', 'New Name')],
      chats: [{ id: 'c1', chatType: 'group', members: [{ userId: 'u1' }, { displayName: 'Guest' }] }],
    });
    await put('directory/2026/01/03/../evil.json.gz', { users: [user('u1', 'Evil')] });
    const names = await readLatestDirectoryNames(empty);
    expect(names.user('u1')).toBe('New Name');
    expect(names.chat('c1')).toBe('New Name, Guest');
    // The cache answers from memory until its time is up.
    let now = 0;
    const cached = cachedDirectoryNames(empty, 1000, () => now);
    expect((await cached()).user('u1')).toBe('New Name');
    await put('directory/2026/01/04/run-c.json.gz', { users: [user('u1', 'Newest')] });
    expect((await cached()).user('u1')).toBe('New Name');
    now = 2000;
    expect((await cached()).user('u1')).toBe('Newest');
  });

  it('serves stored raster images inline and anything else (SVG, HTML) as an inert download', async () => {
    const png = await storeContent(container, Buffer.from('89504e470d0a1a0a', 'hex'), 'image/png');
    const svg = await storeContent(container, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), 'image/svg+xml');
    const deps = {
      container,
      links: serverLinks('/'),
      names: cachedDirectoryNames(container),
      audit: cliAuditor({ container, log: silentLogger }, 'serve'),
    };
    const image = await viewerRequest(deps, `content/${png.sha256}`, new URLSearchParams());
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.headers['content-disposition']).toBeUndefined();
    const vector = await viewerRequest(deps, `content/${svg.sha256}`, new URLSearchParams());
    expect(vector.headers['content-type']).toBe('application/octet-stream');
    expect(vector.headers['content-disposition']).toMatch(/^attachment;/);
    expect(vector.headers['content-security-policy']).toContain('sandbox');
    const named = await viewerRequest(deps, `content/${png.sha256}`, new URLSearchParams({ name: '../../evil "name".png' }));
    expect(named.headers['content-disposition']).toBe(`attachment; filename="_.._evil _name_.png"; filename*=UTF-8''_.._evil%20_name_.png`);
  });

  it('answers any address with a page or a 400/404, never a failure or a stack trace', async () => {
    const deps = {
      container,
      links: serverLinks('/'),
      names: cachedDirectoryNames(container),
      audit: cliAuditor({ container, log: silentLogger }, 'serve'),
    };
    const batch = batchBlobName({ kind: 'user', id: userId }, '2026-01-01', { pass: 'fresh', window, runId: 'r1', seq: 1 });
    const segment = fc.oneof(
      fc.constantFrom(
        'u',
        't',
        'c',
        'raw',
        'blob',
        'content',
        'search',
        'assets',
        '..',
        '.',
        '',
        '%2e%2e',
        '~2F',
        encodeIdSegment(userId),
        't1',
        '2026-01-01',
        '2026-13-01',
        'messages',
        'locks',
        batch,
      ),
      fc.string({ maxLength: 12 }),
    );
    const query = fc.dictionary(
      fc.constantFrom('from', 'to', 'q', 'page', 'm', 'line', 'name'),
      fc.oneof(fc.constantFrom('2026-01-01', '2025-12-31', '0', '-1', '99999', ''), fc.string({ maxLength: 8 })),
      { maxKeys: 3 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 6 }), query, async (parts, q) => {
        const res = await viewerRequest(deps, parts.join('/'), new URLSearchParams(q));
        expect([200, 204, 400, 404]).toContain(res.status);
        if (typeof res.body === 'string' && res.headers['content-type']?.startsWith('text/html')) {
          expect(res.body).not.toMatch(/\bat [\w.<>]+ \(|RangeError|TypeError/);
          expect(res.headers['content-security-policy']).toContain("default-src 'self'");
        }
      }),
      { numRuns: 300 },
    );
  });
});
