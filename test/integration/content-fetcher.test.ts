import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { getContentRef, putContentRef, refHash, storeContent } from '../../src/archive/content-store';
import { ensureContainer } from '../../src/archive/archive-container';
import { ContentFetcher, type ContentFetcherOptions } from '../../src/export/content-fetcher';
import { sharesContentPath } from '../../src/graph/shares';
import { silentLogger } from '../../src/log';
import { createStorageClients } from '../../src/storage-clients';
import { graphTestClient } from '../support/graph-test-client';
import { startHttpsTestServer, type HttpsTestServer } from '../support/https-test-server';
import { testStorage } from '../support/storage';

let graph: HttpsTestServer;
let files: HttpsTestServer;
let container: ContainerClient;

const IMAGE = 'IMAGE-A bytes \u00fc';
const sha = (s: string) => createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex');
const SP = 'https://contoso.sharepoint.com/sites/t/Shared Documents';

beforeAll(async () => {
  graph = await startHttpsTestServer();
  files = await startHttpsTestServer();
  const s = testStorage('content-fetcher');
  container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
    s.container,
  );
  await ensureContainer(container);
});
afterAll(async () => {
  await graph.close();
  await files.close();
});

beforeEach(() => {
  graph.requests.length = 0;
  files.requests.length = 0;
  // The tenant: hosted contents by id, files by their SharePoint URL (through the shares API).
  const sharesReplies = new Map<string, () => { status: number; headers?: Record<string, string>; body?: unknown }>([
    [
      `/v1.0${sharesContentPath(`${SP}/report.pdf`)}`,
      () => ({ status: 302, headers: { location: `${files.origin}/download.aspx?UniqueId=1&tempauth=x` } }),
    ],
    [
      `/v1.0${sharesContentPath(`${SP}/gone.pdf`)}`,
      () => ({ status: 404, headers: { 'request-id': 'r-gone' }, body: { error: { code: 'itemNotFound' } } }),
    ],
    [
      `/v1.0${sharesContentPath(`${SP}/secret.pdf`)}`,
      () => ({ status: 403, headers: { 'request-id': 'r-denied' }, body: { error: { code: 'accessDenied' } } }),
    ],
  ]);
  graph.handle((req) => {
    const hc = /\/hostedContents\/([^/]+)\/\$value$/.exec(req.path);
    if (hc) {
      if (hc[1] === 'missing') return { status: 404, body: { error: { code: 'NotFound' } } };
      if (hc[1] === 'big') return { status: 200, headers: { 'content-type': 'image/png' }, body: 'x'.repeat(2000) };
      if (hc[1] === 'flaky') return { status: 500, headers: { 'request-id': 'r-500' }, body: { error: { code: 'generalException' } } };
      return { status: 200, headers: { 'content-type': 'image/png' }, body: IMAGE };
    }
    const share = sharesReplies.get(req.path);
    if (share) return share();
    return { status: 404, body: { error: { code: 'NotFound' } } };
  });
  files.handle(() => ({ status: 200, headers: { 'content-type': 'application/pdf' }, body: '%PDF report' }));
});

function fetcher(overrides: Partial<ContentFetcherOptions> = {}): ContentFetcher {
  const { http } = graphTestClient(graph.origin, { maxRetries: 1 });
  return new ContentFetcher({
    http,
    container,
    graphOrigin: graph.origin,
    hostedContents: true,
    files: true,
    perConversationRps: 50,
    maxBytes: 1000,
    log: silentLogger,
    ...overrides,
  });
}

const img = (chat: string, msg: string, id: string) => `${graph.origin}/v1.0/chats/${chat}/messages/${msg}/hostedContents/${id}/$value`;
const withImages = (chat: string, msg: string, ...ids: string[]) => ({
  id: msg,
  chatId: chat,
  body: { contentType: 'html', content: ids.map((id) => `<img src="${img(chat, msg, id)}">`).join('') },
});
const version = (chat: string, msg: string, v = '1') => ({ key: `${chat}|${msg}|${v}|`, conversationId: chat, messageId: msg });

async function names(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix })) out.push(b.name);
  return out;
}

describe('ContentFetcher', () => {
  it('stores the same image of two messages once, content-addressed, with its content type', async () => {
    const f = fetcher();
    const chat = `chat-${Date.now()}-same`;
    const a = await f.fetchFor(version(chat, 'm1'), withImages(chat, 'm1', 'img1'));
    const b = await f.fetchFor(version(chat, 'm2'), withImages(chat, 'm2', 'img2'));
    const expected = {
      kind: 'hostedContent',
      status: 'stored',
      sha256: sha(IMAGE),
      contentType: 'image/png',
      bytes: Buffer.byteLength(IMAGE),
    };
    expect(a).toEqual([{ ...version(chat, 'm1'), ref: 'img1', ...expected }]);
    expect(b).toEqual([{ ...version(chat, 'm2'), ref: 'img2', ...expected }]);
    const name = `content/sha256/${sha(IMAGE).slice(0, 2)}/${sha(IMAGE)}`;
    expect(await names(`content/sha256/${sha(IMAGE).slice(0, 2)}/`)).toEqual([name]);
    const blob = container.getBlobClient(name);
    expect((await blob.downloadToBuffer()).toString('utf8')).toBe(IMAGE);
    const props = await blob.getProperties();
    expect(props.contentType).toBe('image/png');
    expect(props.metadata).toMatchObject({ sha256: sha(IMAGE), contenttype: 'image/png' });
    expect(f.stats()).toEqual({ downloaded: 2, reused: 0, failed: 0, bytes: 2 * Buffer.byteLength(IMAGE) });
  });

  it('a later version of the same message reuses the reference index without downloading again', async () => {
    const chat = `chat-${Date.now()}-reuse`;
    const first = await fetcher().fetchFor(version(chat, 'm1', '1'), withImages(chat, 'm1', 'img1'));
    const requests = graph.requests.length;
    const later = fetcher(); // a new process: only the archive remembers
    const again = await later.fetchFor(version(chat, 'm1', '2'), withImages(chat, 'm1', 'img1'));
    expect(graph.requests.length).toBe(requests);
    expect(again).toEqual([{ ...first[0], key: version(chat, 'm1', '2').key }]);
    expect(later.stats()).toMatchObject({ downloaded: 0, reused: 1 });
  });

  it('downloads reference files through the shares API and never sends the token to the file host', async () => {
    const chat = `chat-${Date.now()}-file`;
    const f = fetcher();
    const entries = await f.fetchFor(version(chat, 'm1'), {
      id: 'm1',
      body: { content: '<attachment id="att1"></attachment>' },
      attachments: [{ id: 'att1', contentType: 'reference', contentUrl: `${SP}/report.pdf`, name: 'report.pdf' }],
    });
    expect(entries).toEqual([
      {
        ...version(chat, 'm1'),
        kind: 'file',
        ref: `${SP}/report.pdf`,
        name: 'report.pdf',
        status: 'stored',
        sha256: sha('%PDF report'),
        contentType: 'application/pdf',
        bytes: 11,
      },
    ]);
    expect(graph.requests.map((r) => r.path)).toEqual([`/v1.0${sharesContentPath(`${SP}/report.pdf`)}`]);
    expect(files.requests).toHaveLength(1);
    expect(files.requests.filter((r) => r.headers.authorization !== undefined)).toHaveLength(0);
  });

  it('records missing, forbidden, foreign, too-large and failed content without throwing, and indexes none of them', async () => {
    const chat = `chat-${Date.now()}-bad`;
    const message = {
      id: 'm1',
      chatId: chat,
      body: {
        content: `<img src="${img(chat, 'm1', 'missing')}"><img src="${img(chat, 'm1', 'big')}"><img src="${img(chat, 'm1', 'flaky')}"><img src="https://evil.example/v1.0/chats/${chat}/messages/m1/hostedContents/far/$value">`,
      },
      attachments: [
        { id: 'a1', contentType: 'reference', contentUrl: `${SP}/gone.pdf`, name: 'gone.pdf' },
        { id: 'a2', contentType: 'reference', contentUrl: `${SP}/secret.pdf`, name: 'secret.pdf' },
        { id: 'a3', contentType: 'reference', contentUrl: 'not a url', name: 'odd' },
        { id: 'card', contentType: 'application/vnd.microsoft.card.adaptive', content: '{}' },
      ],
    };
    const f = fetcher();
    const entries = await f.fetchFor(version(chat, 'm1'), message);
    const by = Object.fromEntries(entries.map((e) => [e.name ?? e.ref, e]));
    expect(entries).toHaveLength(7);
    expect(by.far).toMatchObject({ kind: 'hostedContent', status: 'foreign-origin' });
    expect(by.missing).toMatchObject({ status: 'missing', reason: expect.stringContaining('404') });
    expect(by.big).toMatchObject({ status: 'too-large', reason: expect.stringContaining('TooLarge') });
    expect(by.flaky).toMatchObject({ status: 'failed', reason: expect.stringMatching(/500 generalException.*r-500/) });
    expect(by['gone.pdf']).toMatchObject({ kind: 'file', status: 'missing', reason: '404 itemNotFound request-id r-gone' });
    expect(by['secret.pdf']).toMatchObject({ kind: 'file', status: 'forbidden', reason: '403 accessDenied request-id r-denied' });
    expect(by.odd).toMatchObject({ status: 'unreadable', reason: 'contentUrl is not an http(s) URL' });
    for (const e of entries) expect(e.sha256).toBeUndefined();
    expect(f.stats()).toMatchObject({ downloaded: 0, failed: 7 });

    // Nothing was indexed, so a later version tries again.
    const before = graph.requests.length;
    await f.fetchFor(version(chat, 'm1', '2'), message);
    expect(graph.requests.length).toBeGreaterThan(before);
  });

  it('fetches only what is enabled', async () => {
    const chat = `chat-${Date.now()}-off`;
    const message = {
      ...withImages(chat, 'm1', 'img1'),
      attachments: [{ id: 'a', contentType: 'reference', contentUrl: `${SP}/report.pdf`, name: 'r' }],
    };
    expect(await fetcher({ hostedContents: false, files: false }).fetchFor(version(chat, 'm1'), message)).toEqual([]);
    expect((await fetcher({ files: false }).fetchFor(version(chat, 'm1'), message)).map((e) => e.kind)).toEqual(['hostedContent']);
    expect((await fetcher({ hostedContents: false }).fetchFor(version(chat, 'm1'), message)).map((e) => e.kind)).toEqual(['file']);
    expect(
      await fetcher().fetchFor(version(chat, 'm2'), { id: 'm2', body: { content: null }, deletedDateTime: '2024-01-01T00:00:00Z' }),
    ).toEqual([]);
  });

  it('throws when aborted instead of recording a failure', async () => {
    const chat = `chat-${Date.now()}-abort`;
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(fetcher().fetchFor(version(chat, 'm1'), withImages(chat, 'm1', 'img1'), controller.signal)).rejects.toThrow('stop');
  });
});

describe('content store', () => {
  it('writes content once and reports an existing blob with the same bytes', async () => {
    const bytes = Buffer.from(`unique ${Date.now()}`);
    const first = await storeContent(container, bytes, 'text/plain');
    const second = await storeContent(container, bytes, 'text/plain');
    expect(first).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, existed: false });
    expect(second).toEqual({ ...first, existed: true });
  });

  it('keeps the first reference record and reads back nothing for an unknown reference', async () => {
    const h = refHash(['test', String(Date.now())]);
    expect(await getContentRef(container, h)).toBeUndefined();
    const record = { sha256: 'a'.repeat(64), contentType: 'image/png', bytes: 3, status: 'stored' as const };
    await putContentRef(container, h, record);
    await putContentRef(container, h, { ...record, bytes: 4 });
    expect(await getContentRef(container, h)).toEqual(record);
  });
});
