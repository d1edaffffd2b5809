// One export job against scripted Graph pages (a real HTTPS server) and Azurite: the cases the
// emulator's tenant does not produce by itself — invalid items, malformed envelopes, stray items.
import { BlobServiceClient } from '@azure/storage-blob';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBatches, listBlobs, readBatchLines } from '../../src/archive/batch-reader';
import { LeaseLostError } from '../../src/archive/entity-lease';
import { ensureContainer } from '../../src/archive/archive-container';
import { verifyArchive } from '../../src/archive/verify-archive';
import { exportEntity, type ExportEntityDeps } from '../../src/export/export-entity';
import type { Entity } from '../../src/model/entity';
import { silentLogger } from '../../src/log';
import { CheckpointStore } from '../../src/state/checkpoint-store';
import { DAY, MINUTE } from '../../src/time';
import { graphTestClient } from '../support/graph-test-client';
import { startHttpsTestServer, type HttpsTestServer } from '../support/https-test-server';
import { testStorage } from '../support/storage';

const team: Entity = { kind: 'team', id: '0b0e7f0c-2d5e-4a43-9d5c-3a1b7f1e0001' };
const now = Date.parse('2024-06-10T12:00:00Z');
const windows = { lagMs: 5 * MINUTE, settleMs: DAY, chunkMs: 30 * DAY, startMs: Date.parse('2024-06-01T00:00:00Z') };

function channelMessage(id: string, lastModified: string, extra: Record<string, unknown> = {}) {
  return {
    '@odata.type': '#microsoft.graph.chatMessage',
    id,
    etag: id,
    messageType: 'message',
    createdDateTime: lastModified,
    lastModifiedDateTime: lastModified,
    chatId: null,
    channelIdentity: { teamId: team.id, channelId: '19:general@thread.tacv2' },
    body: { contentType: 'html', content: `<p>message ${id}</p>` },
    ...extra,
  };
}

describe('export job', () => {
  let server: HttpsTestServer;
  beforeAll(async () => {
    server = await startHttpsTestServer();
  });
  afterAll(() => server?.close());

  async function setup(label: string) {
    const storage = testStorage(label);
    const container = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(storage.container);
    await ensureContainer(container);
    const checkpoints = new CheckpointStore(
      TableClient.fromConnectionString(storage.connectionString, `${storage.tablePrefix}Checkpoints`, { allowInsecureConnection: true }),
    );
    await checkpoints.ensure();
    const { http } = graphTestClient(server.origin, { maxRetries: 1 });
    const deps: ExportEntityDeps = { http, container, checkpoints, log: silentLogger, pageSize: 50, windows };
    return { container, checkpoints, deps };
  }

  async function lines(container: ReturnType<BlobServiceClient['getContainerClient']>, prefix: string) {
    const out: string[] = [];
    for await (const b of listBatches(container, prefix)) for await (const l of readBatchLines(container, b.name)) out.push(l);
    return out;
  }

  it('quarantines items that fail validation with the reason, archives the rest, and still advances', async () => {
    const { container, checkpoints, deps } = await setup('job-quarantine');
    const good = channelMessage('1717500000000', '2024-06-04T11:20:00.000Z', { futureProperty: { nested: [1, 'two', null] } });
    const noId = { ...channelMessage('x', '2024-06-04T11:21:00.000Z'), id: undefined };
    const noConversation = { ...channelMessage('1717500000002', '2024-06-04T11:22:00.000Z'), channelIdentity: null };
    // The settle chunk gets the items; the fresh chunk after it gets an empty page.
    let calls = 0;
    server.handle(() => ({ status: 200, body: { value: calls++ === 0 ? [good, noId, noConversation] : [] } }));
    const result = await exportEntity({ runId: 'run-q', entity: team, mode: { kind: 'daily', nowMs: now } }, deps);
    expect(result.status).toBe('done');
    expect(result.counts.quarantined).toBe(2);
    expect(result.counts.messages).toBe(1);
    const archived = await lines(container, 'messages/');
    expect(archived.map((l) => JSON.parse(l))).toEqual([good]);
    const quarantined = (await lines(container, 'quarantine/')).map((l) => JSON.parse(l) as { reason: string; item: unknown });
    expect(quarantined).toHaveLength(2);
    for (const q of quarantined) expect(q.reason).toMatch(/id|chatId|channel/i);
    expect((await checkpoints.get(team))?.freshWatermarkMs).toBe(now - windows.lagMs);
  });

  it('quarantines an item once however often it is read again (issue 13, defect 8)', async () => {
    const { container, deps } = await setup('job-quarantine-once');
    const noId = { ...channelMessage('x', '2024-06-04T11:21:00.000Z'), id: undefined };
    const noConversation = { ...channelMessage('1717500000002', '2024-06-04T11:22:00.000Z'), channelIdentity: null };
    // Every read of every chunk (settle and fresh, and a second job over the same window) serves both.
    server.handle(() => ({ status: 200, body: { value: [noId, noConversation] } }));
    const first = await exportEntity(
      { runId: 'run-q1', entity: team, mode: { kind: 'backfill', window: { fromMs: windows.startMs, toMs: now } } },
      deps,
    );
    const again = await exportEntity(
      { runId: 'run-q2', entity: team, mode: { kind: 'backfill', window: { fromMs: windows.startMs, toMs: now } } },
      deps,
    );
    expect(first.status).toBe('done');
    expect(again.status).toBe('done');
    const quarantined = (await lines(container, 'quarantine/')).map((l) => JSON.parse(l) as { item: unknown });
    expect(quarantined).toHaveLength(2);
    expect(first.counts.quarantined).toBe(2);
    expect(again.counts.quarantined).toBe(0);
  });

  it('sender mode: a chat id that cannot name a blob quarantines its message instead of failing the job (issue 20, per-message isolation)', async () => {
    const { container, deps } = await setup('job-chat-name');
    const user: Entity = { kind: 'user', id: '0b0e7f0c-2d5e-4a43-9d5c-3a1b7f1e0002' };
    const chatMessage = (id: string, chatId: string) => ({
      ...channelMessage(id, '2024-06-04T11:20:00.000Z'),
      channelIdentity: null,
      chatId,
      from: { application: { id: 'bot', applicationIdentityType: 'bot' } },
    });
    const lone = chatMessage('1717500000300', '19:\uD800@thread.v2');
    const long = chatMessage('1717500000301', `19:${'\u00e9'.repeat(250)}@thread.v2`);
    const fine = chatMessage('1717500000302', '19:fine@thread.v2');
    // Only the others query (application senders) answers; the user's own query gets nothing.
    server.handle((req) => ({
      status: 200,
      body: { value: /applicationIdentityType/.test(decodeURIComponent(req.url)) ? [lone, long, fine] : [] },
    }));
    const window = { fromMs: Date.parse('2024-06-04T00:00:00Z'), toMs: Date.parse('2024-06-05T00:00:00Z') };
    const result = await exportEntity(
      { runId: 'run-chat-name', entity: user, mode: { kind: 'backfill', window } },
      { ...deps, chatMode: 'sender' },
    );
    expect(result.status, result.error?.message).toBe('done');
    expect((await lines(container, 'messages/chats/')).map((l) => JSON.parse(l) as unknown)).toEqual([fine]);
    const quarantined = (await lines(container, 'quarantine/')).map((l) => JSON.parse(l) as { reason: string; item: unknown });
    expect(quarantined.map((q) => q.item)).toEqual(expect.arrayContaining([lone, long]));
    for (const q of quarantined) expect(q.reason).toMatch(/^chatId /);
  });

  it('writes a quarantined item as it is read, not at the end of the chunk (issue 13, defect 3)', async () => {
    const { container, deps } = await setup('job-quarantine-streamed');
    const noId = { ...channelMessage('x', '2024-06-04T11:21:00.000Z'), id: undefined };
    const noConversation = { ...channelMessage('1717500000002', '2024-06-04T11:22:00.000Z'), channelIdentity: null };
    // Page 1 holds the bad items; when page 2 is asked for, they are already in storage.
    let inStorageAtPage2: number | undefined;
    server.handle(async (req) => {
      if (!req.url.includes('page=2'))
        return { status: 200, body: { value: [noId, noConversation], '@odata.nextLink': `${server.origin}${req.path}?page=2` } };
      inStorageAtPage2 = 0;
      for await (const b of listBatches(container, 'quarantine/')) if (b.name) inStorageAtPage2++;
      return { status: 200, body: { value: [] } };
    });
    const window = { fromMs: Date.parse('2024-06-04T00:00:00Z'), toMs: Date.parse('2024-06-05T00:00:00Z') };
    const result = await exportEntity({ runId: 'run-qs', entity: team, mode: { kind: 'backfill', window } }, deps);
    expect(result.status).toBe('done');
    expect(result.counts.quarantined).toBe(2);
    expect(inStorageAtPage2).toBe(2);
  });

  it("keeps every attempt's manifest, so verify notices a blob an earlier attempt wrote going missing (issue 13, defect 8)", async () => {
    const { container, deps } = await setup('job-manifests');
    const window = { fromMs: Date.parse('2024-06-04T00:00:00Z'), toMs: Date.parse('2024-06-05T00:00:00Z') };
    // Two attempts of the same job in the same run, each reading a version the other did not see.
    const versions = [
      channelMessage('1717500000100', '2024-06-04T10:00:00.000Z'),
      channelMessage('1717500000200', '2024-06-04T12:00:00.000Z'),
    ];
    let attempt = 0;
    server.handle(() => ({ status: 200, body: { value: [versions[attempt]] } }));
    const first = await exportEntity({ runId: 'run-retried', entity: team, mode: { kind: 'backfill', window } }, deps);
    attempt = 1;
    const second = await exportEntity({ runId: 'run-retried', entity: team, mode: { kind: 'backfill', window } }, deps);
    expect([first.counts.messages, second.counts.messages]).toEqual([1, 1]);
    const manifests: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'manifests/run-retried/' })) manifests.push(b.name);
    expect(manifests).toHaveLength(2);
    expect((await verifyArchive(container)).problems).toEqual([]);
    // The first attempt's batch disappears: verify must still know it was written.
    const firstBatch = await firstBatchName(container, '1717500000100');
    expect(firstBatch).toBeDefined();
    await container.deleteBlob(firstBatch!);
    expect((await verifyArchive(container)).problems.filter((p) => p.kind === 'missing').map((p) => p.name)).toEqual([firstBatch]);
  });

  it.each([
    ['value is not an array', { value: { id: 'x' } }],
    ['body is not JSON', '{"value": [ {"id": "1"'],
    ['body is an array', [1, 2]],
  ])('a page whose %s fails the entity and moves no checkpoint', async (_name, body) => {
    const { checkpoints, deps } = await setup('job-malformed');
    server.handle(() => ({ status: 200, body }));
    const result = await exportEntity({ runId: 'run-m', entity: team, mode: { kind: 'daily', nowMs: now } }, deps);
    expect(result.status).toBe('failed');
    expect(result.error?.message).toBeTruthy();
    expect(await checkpoints.get(team)).toBeUndefined();
  });

  it('files every item under its own day, including items outside the requested window', async () => {
    const { container, deps } = await setup('job-days');
    const inside = channelMessage('1717400000000', '2024-06-03T23:59:59.999Z');
    const nextDay = channelMessage('1717400000001', '2024-06-04T00:00:00.000Z');
    const outside = channelMessage('1717400000002', '2024-05-20T08:00:00.000Z'); // before EXPORT_START
    server.handle(() => ({ status: 200, body: { value: [nextDay, outside, inside] } }));
    const result = await exportEntity(
      { runId: 'run-d', entity: team, mode: { kind: 'backfill', window: { fromMs: windows.startMs, toMs: now } } },
      deps,
    );
    expect(result.status).toBe('done');
    const names: string[] = [];
    for await (const b of listBatches(container, 'messages/')) names.push(b.name);
    const days = names.map((n) => n.split('/').slice(3, 6).join('-')).sort();
    expect(days).toEqual(['2024-05-20', '2024-06-03', '2024-06-04']);
  });

  it('sends the strict filter with both bounds, from − 1 ms, for every chunk', async () => {
    const { deps } = await setup('job-filter');
    const seen: string[] = [];
    server.handle((req) => {
      seen.push(decodeURIComponent(req.url));
      return { status: 200, body: { value: [] } };
    });
    await exportEntity(
      {
        runId: 'run-f',
        entity: team,
        mode: { kind: 'backfill', window: { fromMs: Date.parse('2024-01-01T00:00:00Z'), toMs: Date.parse('2024-03-01T00:00:00Z') } },
      },
      deps,
    );
    expect(seen).toHaveLength(2);
    expect(seen[0]).toContain('lastModifiedDateTime gt 2023-12-31T23:59:59.999Z and lastModifiedDateTime lt 2024-01-31T00:00:00.000Z');
    expect(seen[1]).toContain('lastModifiedDateTime gt 2024-01-30T23:59:59.999Z and lastModifiedDateTime lt 2024-03-01T00:00:00.000Z');
  });

  it('stops at a lost lease before its next write: no batch, no checkpoint, no manifest', async () => {
    const { container, checkpoints, deps } = await setup('job-lease-lost');
    server.handle(() => ({ status: 200, body: { value: [channelMessage('1717600000000', '2024-06-05T10:00:00.000Z')] } }));
    const stop = new AbortController();
    const result = await exportEntity(
      {
        runId: 'run-l',
        entity: team,
        mode: { kind: 'daily', nowMs: now },
        // The page has been read, its versions not yet written: the moment the lease goes.
        onProgress: (delta) => {
          if (delta.pages) stop.abort(new LeaseLostError('renewal refused (409)'));
        },
      },
      deps,
      stop.signal,
    );
    expect(result).toMatchObject({ status: 'failed', error: { code: 'LeaseLostError', retryable: true } });
    expect(result.counts).toMatchObject({ received: 1, messages: 0, blobs: 0 });
    const written: string[] = [];
    for await (const b of listBlobs(container, '')) written.push(b.name);
    expect(written).toEqual([]);
    expect(await checkpoints.get(team)).toBeUndefined();
  });
});

/** The name of the batch holding the message with this id. */
async function firstBatchName(
  container: ReturnType<BlobServiceClient['getContainerClient']>,
  messageId: string,
): Promise<string | undefined> {
  for await (const b of listBatches(container, 'messages/')) {
    for await (const l of readBatchLines(container, b.name)) if ((JSON.parse(l) as { id: string }).id === messageId) return b.name;
  }
  return undefined;
}
