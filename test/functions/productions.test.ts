// Productions over HTTP (docs/rsmf.md): POST /api/productions validated and answered 202, the production
// built by the queue worker into productions/{id}/ of the archive container, GET /api/productions/{id}
// with its files, and a file downloaded through GET /api/exports/... read back as RSMF. Real Azurite and
// the emulator; the archive is made by a daily run of the real engine.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GetAppContext } from '../../src/app/app-context';
import { productionPrefix } from '../../src/archive/blob-layout';
import { parseProductionRequest } from '../../src/app/production-request';
import { productionFingerprint } from '../../src/app/productions';
import { listBlobs } from '../../src/archive/batch-reader';
import { readNearestDirectorySnapshot, writeDirectorySnapshot } from '../../src/archive/directory-snapshot';
import { DAY, HOUR, iso, utcDay } from '../../src/time';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createGetProductionHandler } from '../../functions/get-production';
import { createReadExportHandler } from '../../functions/read-export';
import { createStartProductionHandler } from '../../functions/start-production';
import { parseRsmf } from '../support/rsmf-reader';
import { drainQueues, startFunctionsHarness, type FunctionsHarness } from './functions-harness';
import { principalHeaders } from '../support/principal';

const BASE = 'http://localhost:7071/api/';
type Json = any;

const post = (body: string, headers: Record<string, string> = {}) =>
  new HttpRequest({
    method: 'POST',
    url: `${BASE}productions`,
    body: { string: body },
    headers: { 'content-type': 'application/json', ...principalHeaders(), ...headers },
  });
const get = (route: string, params: Record<string, string>) =>
  new HttpRequest({ method: 'GET', url: `${BASE}${route}`, params, headers: principalHeaders() });

async function bodyBytes(res: HttpResponseInit): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res.body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;

describe('productions over HTTP', () => {
  let fh: FunctionsHarness;
  let getCtx: GetAppContext;
  let startProduction: ReturnType<typeof createStartProductionHandler>;
  let getProduction: ReturnType<typeof createGetProductionHandler>;
  let readExport: ReturnType<typeof createReadExportHandler>;
  const now = Date.now();
  const fromMs = dayStart(now) - 3 * DAY;
  const toMs = dayStart(now) - 1 * DAY;
  const from = iso(fromMs);
  const to = iso(toMs);
  let tmp: string;
  let teamId: string;
  let chatId: string;

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-productions',
      tenant: { seed: 15, users: 4, teams: 1, channelsPerTeam: 1, historyDays: 4, endMs: toMs - HOUR, messagesPerChat: 6 },
    });
    getCtx = () => Promise.resolve(fh.ctx);
    startProduction = createStartProductionHandler(getCtx);
    getProduction = createGetProductionHandler(getCtx);
    readExport = createReadExportHandler(getCtx);
    const daily = await fh.h.daily(now);
    expect(daily.status).toBe('succeeded');
    tmp = mkdtempSync(join(tmpdir(), 'te-fn-productions-'));
    teamId = fh.h.emulator.tenant.teams[0]!.id;
    const tenant = fh.h.emulator.tenant;
    chatId = tenant.chats.find(
      (c) =>
        c.memberIds.some((id) => tenant.user(id)?.hasTeamsData) &&
        c.conversation.messages.some((m) => m.createdMs >= fromMs && m.createdMs < toMs && m.fromIdx >= 0),
    )!.id;
  }, 240_000);
  afterAll(async () => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await fh?.close();
  });

  const productionBlobs = async () => {
    const names: string[] = [];
    for await (const b of listBlobs(fh.ctx.deps.container, 'productions/')) names.push(b.name);
    return names;
  };

  describe('POST /api/productions validation: 400 naming the field, nothing written or enqueued', () => {
    const guid = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    it.each([
      ['a missing from', () => ({ to }), 'from'],
      ['a from without a zone', () => ({ from: '2024-01-01T00:00:00', to }), 'from'],
      ['a from after to', () => ({ from: to, to: from }), 'from'],
      ['a user id that is not a GUID', () => ({ from, to, users: ['alice@contoso.com'] }), 'users.0'],
      ['a conversation id with a space', () => ({ from, to, conversations: ['19:a b@thread.v2'] }), 'conversations.0'],
      ['allowUnsettled that is not a boolean', () => ({ from, to, allowUnsettled: 'yes' }), 'allowUnsettled'],
      ['an unknown field', () => ({ from, to, out: '/tmp' }), 'out'],
      ['an unknown user', () => ({ from, to, users: [guid] }), 'users'],
      ['an unknown team', () => ({ from, to, teams: [guid.toUpperCase()] }), 'teams'],
      ['a range beyond the archive', () => ({ from, to: iso(dayStart(now) + 30 * DAY) }), 'to'],
      ['a range of more than 366 days', () => ({ from: '2001-01-01T00:00:00Z', to }), 'to'],
      ['an empty range', () => ({ from, to: from }), 'from'],
      ['an unknown conversation', () => ({ from, to, conversations: ['19:nothing-here@thread.v2'] }), 'conversations'],
      [
        'an unknown conversation beside a known team',
        () => ({ from, to, teams: [teamId], conversations: ['19:nothing-here@thread.v2'] }),
        'conversations',
      ],
    ])('%s', async (_what, body, field) => {
      const res = await startProduction(post(JSON.stringify(body())), fh.invocation('startProduction'));
      expect(res.status, JSON.stringify(res.jsonBody)).toBe(400);
      const err = (res.jsonBody as Json).error;
      expect(err.code).toBe('BadRequest');
      expect(err.fields.map((f: { field: string }) => f.field)).toContain(field);
      expect(await fh.queuedMessages()).toEqual([]);
      expect(await productionBlobs()).toEqual([]);
    });

    it('a body that is not JSON is a 400 naming the body', async () => {
      const res = await startProduction(post('{"from": '), fh.invocation('startProduction'));
      expect(res.status).toBe(400);
      expect((res.jsonBody as Json).error.fields).toEqual([{ field: 'body', message: expect.any(String) }]);
    });
  });

  describe('GET /api/productions/{id} for ids that are not productions', () => {
    it('an unknown id is a 404 JSON body', async () => {
      const res = await getProduction(get('productions/rsmf-unknown', { productionId: 'rsmf-unknown' }), fh.invocation('getProduction'));
      expect(res.status).toBe(404);
      expect((res.jsonBody as Json).error.code).toBe('NotFound');
    });

    it('a malformed id is a 400 naming productionId', async () => {
      const res = await getProduction(get('productions/x', { productionId: '../runs' }), fh.invocation('getProduction'));
      expect(res.status).toBe(400);
      expect((res.jsonBody as Json).error.fields.map((f: { field: string }) => f.field)).toEqual(['productionId']);
    });
  });

  it('a production answers 202 with a Location, runs on the queue and its files download as RSMF', async () => {
    const res = await startProduction(post(JSON.stringify({ from, to })), fh.invocation('startProduction'));
    expect(res.status, JSON.stringify(res.jsonBody)).toBe(202);
    const productionId = String((res.jsonBody as Json).productionId);
    expect(res.headers).toMatchObject({ location: `${BASE}productions/${productionId}` });
    expect((res.jsonBody as Json).status).toBe('queued');
    // ONE message, and nothing built before the worker runs
    expect(await fh.queuedMessages()).toEqual([{ v: 1, type: 'production', productionId }]);
    const queued = await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction'));
    expect((queued.jsonBody as Json).status).toBe('queued');
    expect(await productionBlobs()).toEqual([`${productionPrefix(productionId)}status.json`]);

    const stats = await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
    expect(stats).toMatchObject({ handled: 1, poisoned: 0 });

    const done = await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction'));
    expect(done.status).toBe(200);
    const status = done.jsonBody as Json;
    expect(status.status, status.error).toBe('succeeded');
    expect(status.files.length).toBeGreaterThan(0);
    expect(status.totals.files).toBe(status.files.length);
    expect(status.totals.events).toBe(status.files.reduce((n: number, f: Json) => n + f.events, 0));
    expect(status.manifest).toBe(`${productionPrefix(productionId)}production.json`);
    const blobs = await productionBlobs();
    for (const f of status.files) expect(blobs).toContain(f.name);
    expect(blobs).toContain(status.manifest);

    // the production manifest downloads through the export reader and lists the same files
    const manifestRes = await readExport(get(`exports/${status.manifest}`, { path: status.manifest }), fh.invocation('readExport'));
    expect(manifestRes.status).toBe(200);
    const manifest = JSON.parse((await bodyBytes(manifestRes)).toString('utf8')) as Json;
    expect(manifest.files.map((f: Json) => f.sha256)).toEqual(status.files.map((f: Json) => f.sha256));

    // every file: the bytes hash to the listed SHA-256 and parse as RFC 5322 with one rsmf.zip
    for (const f of status.files) {
      const fileRes = await readExport(get(`exports/${f.name}`, { path: f.name }), fh.invocation('readExport'));
      expect(fileRes.status).toBe(200);
      expect(fileRes.headers).toMatchObject({ 'content-type': 'message/rfc822', 'content-disposition': 'attachment' });
      const bytes = await bodyBytes(fileRes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      const path = join(tmp, f.fileName);
      writeFileSync(path, bytes);
      const parsed = await parseRsmf(path);
      expect(parsed.attachmentNames).toEqual(['rsmf.zip']);
      expect(parsed.headers.get('x-rsmf-version')).toBe('2.0.0');
      expect(Number(parsed.headers.get('x-rsmf-eventcount'))).toBe(f.events);
      expect((parsed.manifest.events as unknown[]).length).toBe(f.events);
    }

    // the blob metadata carries the SHA-256 like every archive blob
    const props = await fh.ctx.deps.container.getBlobClient(status.files[0].name).getProperties();
    expect(props.metadata?.sha256).toBe(status.files[0].sha256);

    // a redelivered message builds nothing twice
    const again = await createExportWorkerHandler(getCtx)({ v: 1, type: 'production', productionId }, fh.invocation('exportWorker'));
    expect(again).toBeUndefined();
    expect(await productionBlobs()).toEqual(blobs);
  }, 240_000);

  it('a conversation the archive holds is accepted and produced', async () => {
    const res = await startProduction(post(JSON.stringify({ from, to, conversations: [chatId] })), fh.invocation('startProduction'));
    expect(res.status, JSON.stringify(res.jsonBody)).toBe(202);
    const productionId = String((res.jsonBody as Json).productionId);
    await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
    const after = (await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction')))
      .jsonBody as Json;
    expect(after.status, after.error).toBe('succeeded');
    expect(after.files.length).toBeGreaterThan(0);
  });

  it('a conversation the directory knows but with nothing archived in the range fails the production with the reason, no file written', async () => {
    // Planning accepts an id a directory snapshot lists (cheap); that nothing of it lies in the range takes
    // the production's own read to find out.
    const conversation = '19:known-but-quiet@thread.v2';
    const container = fh.ctx.deps.container;
    const snapshot = (await readNearestDirectorySnapshot(container, new Date(toMs)))!;
    await writeDirectorySnapshot(container, {
      ...snapshot,
      takenAt: iso(toMs - HOUR),
      runId: 'test-quiet-chat',
      chats: [...snapshot.chats, { id: conversation, chatType: 'group', topic: 'Quiet', members: [] }],
    });
    const res = await startProduction(post(JSON.stringify({ from, to, conversations: [conversation] })), fh.invocation('startProduction'));
    expect(res.status).toBe(202);
    const productionId = String((res.jsonBody as Json).productionId);
    await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
    const after = await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction'));
    expect((after.jsonBody as Json).status).toBe('failed');
    expect((after.jsonBody as Json).error).toContain(`conversations: unknown conversation ${conversation}: nothing of it is archived`);
    expect((await productionBlobs()).filter((n) => n.startsWith(productionPrefix(productionId)))).toEqual([
      `${productionPrefix(productionId)}status.json`,
    ]);
  });

  it('a production whose message is poisoned is failed', async () => {
    const res = await startProduction(post(JSON.stringify({ from, to })), fh.invocation('startProduction'));
    const productionId = String((res.jsonBody as Json).productionId);
    // the host gave up on it: the poison handler gets the message the worker never finished
    await fh.queue.clearMessages();
    await createExportPoisonHandler(getCtx)({ v: 1, type: 'production', productionId }, fh.invocation('exportPoison'));
    const after = await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction'));
    expect((after.jsonBody as Json).status).toBe('failed');
    expect((after.jsonBody as Json).error).toMatch(/poison/);
  });

  it('a range the archive does not fully cover names the entities and days: missing or unsettled', async () => {
    const entityIds = fh.h.emulator.tenant.users.filter((u) => u.hasTeamsData).map((u) => u.id);
    // beyond the archive: refused, the message names each entity and its missing days
    const later = iso(dayStart(now) + 30 * DAY);
    const beyond = await startProduction(post(JSON.stringify({ from, to: later })), fh.invocation('startProduction'));
    expect(beyond.status).toBe(400);
    const [missing] = (beyond.jsonBody as Json).error.fields;
    expect(missing.field).toBe('to');
    expect(missing.message).toMatch(/does not fully cover/);
    expect(missing.message).toContain(`..${utcDay(dayStart(now) + 30 * DAY - 1)} missing`);
    expect(entityIds.some((id) => missing.message.includes(id))).toBe(true);
    // read once but not settled yet (EXPORT_SETTLE is a day): refused without allowUnsettled ...
    const unsettled = { from: iso(now - 12 * HOUR), to: iso(now - HOUR) };
    const refused = await startProduction(post(JSON.stringify(unsettled)), fh.invocation('startProduction'));
    expect(refused.status).toBe(400);
    const [field] = (refused.jsonBody as Json).error.fields;
    expect(field).toMatchObject({ field: 'to', message: expect.stringMatching(/unsettled \(allow unsettled days to produce anyway\)$/) });
    expect(field.message).not.toMatch(/missing/);
    // ... and with it accepted, the gaps listed by GET from the start (queued) to the end
    const res = await startProduction(post(JSON.stringify({ ...unsettled, allowUnsettled: true })), fh.invocation('startProduction'));
    expect(res.status, JSON.stringify(res.jsonBody)).toBe(202);
    const productionId = String((res.jsonBody as Json).productionId);
    const status = async () =>
      (await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction'))).jsonBody as Json;
    const queued = await status();
    expect(queued.status).toBe('queued');
    const gaps = queued.coverage.gaps as Array<{ kind: string; id: string; state: string; fromDay: string; toDay: string }>;
    expect(gaps.length).toBeGreaterThan(0);
    for (const g of gaps) expect(g).toMatchObject({ state: 'unsettled', fromDay: utcDay(now - 12 * HOUR), toDay: utcDay(now - HOUR - 1) });
    for (const id of entityIds) expect(gaps.map((g) => g.id)).toContain(id);
    await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
    const done = await status();
    expect(done.status, done.error).toBe('succeeded');
    expect(done.coverage).toEqual(queued.coverage);
  });

  describe('Idempotency-Key', () => {
    const worker = () => ({ worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });

    it('a retried request gets the same production: 202, the same body and Location, one status, one message', async () => {
      const key = 'c0ffee00-0000-4000-8000-000000000001';
      const channelId = fh.h.emulator.tenant.teams[0]!.channels[0]!.id;
      const body = { from, to, conversations: [chatId, channelId] };
      const first = await startProduction(post(JSON.stringify(body), { 'idempotency-key': key }), fh.invocation('startProduction'));
      expect(first.status, JSON.stringify(first.jsonBody)).toBe(202);
      const productionId = String((first.jsonBody as Json).productionId);
      // the same request again, ids in another order: the same production, not a second one
      const again = await startProduction(
        post(JSON.stringify({ ...body, conversations: [channelId, chatId, chatId] }), { 'idempotency-key': key }),
        fh.invocation('startProduction'),
      );
      expect(again.status).toBe(202);
      expect(again.jsonBody).toEqual(first.jsonBody);
      expect(again.headers).toMatchObject({ location: `${BASE}productions/${productionId}` });
      expect(await fh.queuedMessages()).toEqual([{ v: 1, type: 'production', productionId }]);
      expect((await productionBlobs()).filter((n) => n.endsWith('/status.json') && n.includes(productionId))).toHaveLength(1);
      await drainQueues(fh, worker());
      // after it ran: still the same production (its current status), still no second one
      const late = await startProduction(post(JSON.stringify(body), { 'idempotency-key': key }), fh.invocation('startProduction'));
      expect(late.status).toBe(202);
      expect(late.jsonBody).toMatchObject({ productionId, status: 'succeeded' });
      expect(await fh.queuedMessages()).toEqual([]);
    });

    it('the same key with a different body is a 422 naming the production it was used for; nothing written or sent', async () => {
      const key = 'c0ffee00-0000-4000-8000-000000000002';
      const first = await startProduction(
        post(JSON.stringify({ from, to, teams: [teamId] }), { 'idempotency-key': key }),
        fh.invocation('startProduction'),
      );
      expect(first.status).toBe(202);
      const productionId = String((first.jsonBody as Json).productionId);
      await drainQueues(fh, worker());
      const before = await productionBlobs();
      for (const other of [
        { from, to },
        { from, to, teams: [teamId], allowUnsettled: true },
        { from: iso(fromMs + HOUR), to, teams: [teamId] },
      ]) {
        const res = await startProduction(post(JSON.stringify(other), { 'idempotency-key': key }), fh.invocation('startProduction'));
        expect(res.status, JSON.stringify(other)).toBe(422);
        expect((res.jsonBody as Json).error).toMatchObject({
          code: 'IdempotencyKeyReused',
          message: expect.stringContaining(productionId),
        });
      }
      expect(await fh.queuedMessages()).toEqual([]);
      expect(await productionBlobs()).toEqual(before);
    });

    it('a retry after the first request claimed the key and died records and sends that production', async () => {
      const key = 'c0ffee00-0000-4000-8000-000000000004';
      const body = { from, to, teams: [teamId] };
      const productionId = 'rsmf-recovered-test';
      // what a request that died right after claiming the key leaves behind: the key, nothing else
      await fh.ctx.requests.claimProductionKey(key, { productionId, fingerprint: productionFingerprint(parseProductionRequest(body)) });
      const res = await startProduction(post(JSON.stringify(body), { 'idempotency-key': key }), fh.invocation('startProduction'));
      expect(res.status).toBe(202);
      expect(res.jsonBody).toMatchObject({ productionId, status: 'queued' });
      expect(await fh.queuedMessages()).toEqual([{ v: 1, type: 'production', productionId }]);
      await drainQueues(fh, worker());
      const done = (await getProduction(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction')))
        .jsonBody as Json;
      expect(done.status, done.error).toBe('succeeded');
    });

    it('a key used for a backfill does not name a production', async () => {
      const key = 'c0ffee00-0000-4000-8000-000000000003';
      await fh.ctx.requests.claimKey(key, 'backfill-someone-else');
      const res = await startProduction(post(JSON.stringify({ from, to }), { 'idempotency-key': key }), fh.invocation('startProduction'));
      expect(res.status).toBe(202);
      await drainQueues(fh, worker());
    });

    it.each([
      ['too long', 'k'.repeat(101)],
      ['with a slash', 'a/b'],
      ['empty', ''],
    ])('an Idempotency-Key %s is a 400 naming the header; nothing written or sent', async (_what, key) => {
      const before = await productionBlobs();
      const res = await startProduction(post(JSON.stringify({ from, to }), { 'idempotency-key': key }), fh.invocation('startProduction'));
      expect(res.status).toBe(400);
      expect((res.jsonBody as Json).error).toMatchObject({ code: 'BadRequest', fields: [{ field: 'Idempotency-Key' }] });
      expect(await fh.queuedMessages()).toEqual([]);
      expect(await productionBlobs()).toEqual(before);
    });
  });
});
