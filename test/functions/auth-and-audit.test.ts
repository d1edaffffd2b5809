// Sign-in, app roles and the audit trail of the HTTP functions (docs/security.md): real HttpRequest objects
// carrying App Service Authentication's client-principal headers (test/support/principal.ts), real
// InvocationContexts, Azurite and the Graph emulator. The trail is read back from Azurite.
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppContext, type AppContext, type GetAppContext } from '../../src/app/app-context';
import { AuditTrail, readAuditRecords, type AuditRecord } from '../../src/archive/audit-trail';
import { listBatches, listBlobs, readBatchLines } from '../../src/archive/batch-reader';
import {
  CONTENT_BYTES_PREFIX,
  contentBlobName,
  contentSha256Of,
  encodeIdSegment,
  parseBatchBlobName,
  productionStatusName,
} from '../../src/archive/blob-layout';
import { entityLabel } from '../../src/model/entity';
import { silentLogger } from '../../src/log';
import { DAY, HOUR, iso, utcDay } from '../../src/time';
import { conversationIdOf } from '../../src/viewer/conversation-model';
import { createGetAuditHandler } from '../../functions/get-audit';
import { createGetProductionHandler } from '../../functions/get-production';
import { createGetRunHandler } from '../../functions/get-run';
import { createListExportsHandler } from '../../functions/list-exports';
import { createListRunsHandler } from '../../functions/list-runs';
import { createReadExportHandler } from '../../functions/read-export';
import { createStartBackfillHandler } from '../../functions/start-backfill';
import { createStartProductionHandler } from '../../functions/start-production';
import { createViewerHandler } from '../../functions/viewer';
import { failingAuditWrites } from '../support/failing-audit-writes';
import { ALICE, ALL_ROLES, principalHeaders } from '../support/principal';
import { responseText, startFunctionsHarness, type FunctionsHarness } from './functions-harness';

const BASE = 'http://localhost:7071/api/';
type Json = any;
type Handler = (req: HttpRequest, inv: ReturnType<FunctionsHarness['invocation']>) => Promise<HttpResponseInit>;

function get(route: string, headers: Record<string, string>, params: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `${BASE}${route}`, headers, params });
}

function post(route: string, body: unknown, headers: Record<string, string>): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `${BASE}${route}`,
    body: { string: JSON.stringify(body) },
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;

describe('HTTP sign-in, app roles and the audit trail', () => {
  let fh: FunctionsHarness;
  const now = Date.now();
  let batch: string;
  let batchEntity: string;
  let userSeg: string;
  let dayPath: string;
  let conversation: string;
  let contentSha: string;
  let productionId: string;
  let runId: string;
  let teamId: string;
  const production = () => ({ from: iso(dayStart(now) - 2 * DAY), to: iso(dayStart(now) - DAY), teams: [teamId], allowUnsettled: true });

  /** Every handler, bound to a context provider. */
  const handlers = (getCtx: GetAppContext): Record<string, Handler> => ({
    startBackfill: createStartBackfillHandler(getCtx),
    startProduction: createStartProductionHandler(getCtx),
    getProduction: createGetProductionHandler(getCtx),
    getRun: createGetRunHandler(getCtx),
    listRuns: createListRunsHandler(getCtx),
    listExports: createListExportsHandler(getCtx),
    readExport: createReadExportHandler(getCtx),
    viewer: createViewerHandler(getCtx),
    getAudit: createGetAuditHandler(getCtx),
  });
  let h: Record<string, Handler>;

  /** Each route: its function, a request to it, the roles that open it, and the status it answers them. */
  const routes = () =>
    [
      {
        route: 'POST /api/backfills',
        fn: 'startBackfill',
        req: (hd: Record<string, string>) => post('backfills', { from: iso(now - 2 * DAY), to: iso(now - HOUR), teams: [teamId] }, hd),
        access: ['Archive.Operate'],
        ok: 202,
      },
      {
        route: 'POST /api/productions',
        fn: 'startProduction',
        req: (hd: Record<string, string>) => post('productions', production(), hd),
        access: ['Archive.Produce'],
        ok: 202,
      },
      {
        route: 'GET /api/productions/{id}',
        fn: 'getProduction',
        req: (hd: Record<string, string>) => get(`productions/${productionId}`, hd, { productionId }),
        access: ['Archive.Produce'],
        ok: 200,
      },
      {
        route: 'GET /api/runs/{id}',
        fn: 'getRun',
        req: (hd: Record<string, string>) => get(`runs/${runId}`, hd, { runId }),
        access: ['Archive.Read', 'Archive.Operate'],
        ok: 200,
      },
      {
        route: 'GET /api/runs',
        fn: 'listRuns',
        req: (hd: Record<string, string>) => get('runs', hd),
        access: ['Archive.Read', 'Archive.Operate'],
        ok: 200,
      },
      {
        route: 'GET /api/exports',
        fn: 'listExports',
        req: (hd: Record<string, string>) => get('exports?prefix=messages/', hd),
        access: ['Archive.Read'],
        ok: 200,
      },
      {
        route: 'GET /api/exports/{batch}',
        fn: 'readExport',
        req: (hd: Record<string, string>) => get(`exports/${batch}`, hd, { path: batch }),
        access: ['Archive.Read'],
        ok: 200,
      },
      {
        route: 'GET /api/exports/productions/…',
        fn: 'readExport',
        req: (hd: Record<string, string>) =>
          get(`exports/${productionStatusName(productionId)}`, hd, { path: productionStatusName(productionId) }),
        access: ['Archive.Produce'],
        ok: 200,
      },
      {
        route: 'GET /api/viewer/',
        fn: 'viewer',
        req: (hd: Record<string, string>) => get('viewer/', hd, { path: '' }),
        access: ['Archive.Read'],
        ok: 200,
      },
      {
        route: 'GET /api/audit',
        fn: 'getAudit',
        req: (hd: Record<string, string>) => get('audit', hd),
        access: ['Archive.Audit'],
        ok: 200,
      },
    ] as const;

  /** The trail as stored in Azurite, by request id (the invocation id). */
  async function trail(container = fh.ctx.deps.container): Promise<Map<string, AuditRecord[]>> {
    const out = new Map<string, AuditRecord[]>();
    for await (const item of readAuditRecords(container, utcDay(now - DAY), utcDay(Date.now() + HOUR))) {
      if ('unreadable' in item) throw new Error(`unreadable audit blob: ${item.unreadable}`);
      out.set(item.record.requestId, [...(out.get(item.record.requestId) ?? []), item.record]);
    }
    return out;
  }

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-auth',
      tenant: {
        seed: 23,
        users: 3,
        teams: 1,
        channelsPerTeam: 1,
        historyDays: 3,
        endMs: now - 2 * HOUR,
        messagesPerChat: 4,
        postsPerChannel: 2,
      },
    });
    expect((await fh.h.daily(now)).status).toBe('succeeded');
    h = handlers(() => Promise.resolve(fh.ctx));
    teamId = fh.h.emulator.tenant.teams[0]!.id;
    const container = fh.ctx.deps.container;
    for await (const b of listBatches(container, 'messages/users/')) {
      if ((b.lines ?? 0) === 0) continue;
      batch = b.name;
      break;
    }
    const parsed = parseBatchBlobName(batch)!;
    batchEntity = entityLabel(parsed.entity);
    userSeg = encodeIdSegment(parsed.entity.id);
    for await (const line of readBatchLines(container, batch)) {
      conversation = conversationIdOf(JSON.parse(line) as Json)!;
      break;
    }
    dayPath = `u/${userSeg}/c/${encodeIdSegment(conversation)}/${parsed.day}`;
    for await (const c of listBlobs(container, CONTENT_BYTES_PREFIX)) {
      contentSha = contentSha256Of(c.name)!;
      break;
    }
    expect(contentSha).toBeDefined();
    const started = await h.startProduction!(post('productions', production(), principalHeaders()), fh.invocation('setup'));
    expect(started.status).toBe(202);
    productionId = (started.jsonBody as Json).productionId;
    const runs = await h.listRuns!(get('runs', principalHeaders()), fh.invocation('setup'));
    runId = (runs.jsonBody as Json).runs[0].runId;
  }, 240_000);
  afterAll(() => fh?.close());

  describe('sign-in and roles', () => {
    it('every route answers 401 to a request without a signed-in principal, and does nothing', async () => {
      const queuedBefore = (await fh.queuedMessages()).length;
      const ids: string[] = [];
      for (const r of routes()) {
        const inv = fh.invocation(r.fn);
        ids.push(inv.invocationId);
        const res = await h[r.fn]!(r.req({ 'client-ip': '198.51.100.1:1' }), inv);
        expect(res.status, r.route).toBe(401);
        expect((res.jsonBody as Json).error.code, r.route).toBe('Unauthenticated');
        expect((res.headers as Record<string, string>)['www-authenticate'], r.route).toBe('Bearer');
      }
      expect((await fh.queuedMessages()).length).toBe(queuedBefore);
      const recorded = await trail();
      expect(ids.filter((id) => recorded.has(id))).toEqual([]);
    });

    it('every route answers 403 naming the missing role to a principal without it, and answers each role that opens it', async () => {
      for (const r of routes()) {
        const others = ALL_ROLES.filter((role) => !(r.access as readonly string[]).includes(role));
        const denied = await h[r.fn]!(r.req(principalHeaders({ roles: others })), fh.invocation(r.fn));
        expect(denied.status, r.route).toBe(403);
        expect(denied.jsonBody, r.route).toEqual({
          error: {
            code: 'Forbidden',
            message: expect.stringContaining(r.access[0]),
            missingRole: r.access[0],
            acceptedRoles: [...r.access],
          },
        });
        for (const role of r.access) {
          const allowed = await h[r.fn]!(r.req(principalHeaders({ roles: [role] })), fh.invocation(r.fn));
          expect(allowed.status, `${r.route} with only ${role}`).toBe(r.ok);
        }
      }
    });

    it('refuses every request with 503 when the platform does not report authentication on: the header is not trusted', async () => {
      for (const flag of ['', 'False']) {
        const off = await buildAppContext({ ...fh.h.env, WEBSITE_AUTH_ENABLED: flag }, { log: silentLogger });
        const hOff = handlers(() => Promise.resolve(off));
        for (const r of routes()) {
          const res = await hOff[r.fn]!(r.req(principalHeaders()), fh.invocation(r.fn));
          expect(res.status, `${r.route} with WEBSITE_AUTH_ENABLED=${flag}`).toBe(503);
          expect((res.jsonBody as Json).error.code).toBe('AuthenticationOff');
        }
      }
      expect(fh.logs.some((l) => l.args[0] === 'request refused' && JSON.stringify(l.args[1]).includes('AuthenticationOff'))).toBe(true);
    });

    it('answers 401 to a client-principal header it cannot read or that names nobody', async () => {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
      for (const header of [
        'not base64 at all!',
        b64('just a string'),
        b64({ claims: 'roles' }),
        b64({ claims: [{ typ: 'roles', val: 'Archive.Read' }] }),
      ]) {
        const res = await h.listRuns!(get('runs', { 'x-ms-client-principal': header }), fh.invocation('listRuns'));
        expect(res.status, header).toBe(401);
      }
    });

    it('lets automation in with an Entra token for an app role: the app is recorded by its client id', async () => {
      const appId = '0a0a0a0a-1111-4222-8333-444444444444';
      const app = principalHeaders({ id: 'c1a55e55-0000-4000-8000-00000000000a', appId, roles: ['Archive.Operate', 'Archive.Read'] });
      const started = await h.startBackfill!(
        post('backfills', { from: iso(now - 2 * DAY), to: iso(now - HOUR), teams: [teamId] }, app),
        fh.invocation('startBackfill'),
      );
      expect(started.status).toBe(202);
      const inv = fh.invocation('listExports');
      expect((await h.listExports!(get('exports?prefix=messages/', app), inv)).status).toBe(200);
      const [record] = (await trail()).get(inv.invocationId) ?? [];
      expect(record?.principal).toEqual({ kind: 'entra', id: 'c1a55e55-0000-4000-8000-00000000000a', name: `app ${appId}` });
      const produce = await h.startProduction!(post('productions', production(), app), fh.invocation('startProduction'));
      expect(produce.status).toBe(403);
    });

    it('with HTTP_AUTH=function-keys the host has checked the key: no role is asked, and a key alone is recorded as a key', async () => {
      for (const flag of ['True', '']) {
        const keys = await buildAppContext({ ...fh.h.env, HTTP_AUTH: 'function-keys', WEBSITE_AUTH_ENABLED: flag }, { log: silentLogger });
        const hKeys = handlers(() => Promise.resolve(keys));
        const bare = fh.invocation('listExports');
        expect((await hKeys.listExports!(get('exports?prefix=messages/', {}), bare)).status).toBe(200);
        // A principal header without App Service Authentication in front is anyone's to send: ignored.
        const forged = fh.invocation('listExports');
        expect((await hKeys.listExports!(get('exports?prefix=messages/', principalHeaders({ roles: [] })), forged)).status).toBe(200);
        const recorded = await trail();
        expect(recorded.get(bare.invocationId)?.[0]?.principal).toEqual({ kind: 'function-key' });
        expect(recorded.get(forged.invocationId)?.[0]?.principal).toEqual(
          flag === 'True' ? { kind: 'entra', id: ALICE.id, name: ALICE.name } : { kind: 'function-key' },
        );
      }
    });
  });

  describe('the audit trail', () => {
    it('records each read over HTTP before answering it: who, what, from where, under the invocation id', async () => {
      const alice = principalHeaders();
      const expected: Array<{ id: string; record: Record<string, unknown> }> = [];
      const call = async (fn: string, req: HttpRequest, record: Record<string, unknown>) => {
        const inv = fh.invocation(fn);
        const res = await h[fn]!(req, inv);
        expect(res.status, JSON.stringify(record)).toBeLessThan(300);
        await responseText(res);
        expected.push({ id: inv.invocationId, record });
        return res;
      };
      const day = parseBatchBlobName(batch)!.day;
      await call('listExports', get('exports?prefix=messages/', alice), { action: 'export.list', prefix: 'messages/' });
      await call('readExport', get(`exports/${batch}`, alice, { path: batch }), {
        action: 'export.read',
        blob: batch,
        entity: batchEntity,
        day,
      });
      const created = await call('startProduction', post('productions', production(), alice), { action: 'production.create' });
      const newId = (created.jsonBody as Json).productionId as string;
      expected.at(-1)!.record = {
        action: 'production.create',
        productionId: newId,
        from: production().from,
        to: production().to,
        entities: [`team:${teamId}`],
      };
      const status = productionStatusName(newId);
      await call('readExport', get(`exports/${status}`, alice, { path: status }), {
        action: 'production.download',
        productionId: newId,
        blob: status,
      });
      await call('viewer', get('viewer/', alice, { path: '' }), { action: 'viewer.home' });
      await call('viewer', get(`viewer/u/${userSeg}`, alice, { path: `u/${userSeg}` }), { action: 'viewer.entity', entity: batchEntity });
      await call('viewer', get(`viewer/u/${userSeg}/search?q=e&from=${day}&to=${day}`, alice, { path: `u/${userSeg}/search` }), {
        action: 'viewer.search',
        entity: batchEntity,
        from: day,
        to: day,
        query: 'e',
      });
      await call('viewer', get(`viewer/${dayPath}`, alice, { path: dayPath }), {
        action: 'viewer.day',
        entity: batchEntity,
        conversation,
        day,
      });
      await call('viewer', get(`viewer/raw/${batch}?line=1`, alice, { path: `raw/${batch}` }), {
        action: 'viewer.raw',
        blob: batch,
        line: 1,
        entity: batchEntity,
        day,
      });
      await call('viewer', get(`viewer/blob/${batch}`, alice, { path: `blob/${batch}` }), {
        action: 'viewer.batch',
        blob: batch,
        entity: batchEntity,
        day,
      });
      await call('viewer', get(`viewer/content/${contentSha}`, alice, { path: `content/${contentSha}` }), {
        action: 'viewer.content',
        blob: contentBlobName(contentSha),
      });
      await call('getAudit', get(`audit?principal=${ALICE.name}`, alice), { action: 'audit.read', query: `principal=${ALICE.name}` });

      const recorded = await trail();
      for (const { id, record } of expected) {
        const records = recorded.get(id) ?? [];
        expect(records, `${id}: ${JSON.stringify(record)}`).toHaveLength(1);
        expect(records[0]).toMatchObject({
          v: 1,
          principal: { kind: 'entra', id: ALICE.id, name: ALICE.name },
          via: 'http',
          requestId: id,
          client: '203.0.113.7:50123',
          ...record,
        });
        expect(Date.parse(records[0]!.time)).toBeGreaterThan(now);
        // The same record as a log line of that invocation.
        expect(
          fh.logs.some(
            (l) => l.args[0] === 'audit' && (l.args[1] as Json)?.requestId === id && (l.args[1] as Json)?.action === record.action,
          ),
        ).toBe(true);
      }
      // A miss reads nothing and records nothing.
      const miss = fh.invocation('readExport');
      const missing = `${batch.slice(0, -'.jsonl.gz'.length)}9.jsonl.gz`;
      expect((await h.readExport!(get(`exports/${missing}`, alice, { path: missing }), miss)).status).toBe(404);
      expect((await trail()).has(miss.invocationId)).toBe(false);
    });

    it('GET /api/audit serves the trail to Archive.Audit by range, principal and entity, and checks its query', async () => {
      const auditor = principalHeaders({
        id: 'a0d170a0-0000-4000-8000-0000000000bb',
        name: 'auditor@contoso.example',
        roles: ['Archive.Audit'],
      });
      const ask = async (query: string) => {
        const res = await h.getAudit!(get(`audit${query}`, auditor), fh.invocation('getAudit'));
        return { status: res.status, body: res.jsonBody as Json };
      };
      const read = await h.readExport!(get(`exports/${batch}`, principalHeaders(), { path: batch }), fh.invocation('readExport'));
      await responseText(read);
      const byAlice = await ask(`?principal=${encodeURIComponent(ALICE.name)}&entity=${encodeURIComponent(batchEntity)}`);
      expect(byAlice.status).toBe(200);
      expect(byAlice.body.records.length).toBeGreaterThan(0);
      expect(
        byAlice.body.records.every(
          (r: AuditRecord) => r.principal.kind === 'entra' && r.principal.id === ALICE.id && r.entity === batchEntity,
        ),
      ).toBe(true);
      expect(byAlice.body.records.some((r: AuditRecord) => r.action === 'export.read')).toBe(true);
      expect(byAlice.body.unreadable).toEqual([]);
      // The bare id matches too, and the reads of the trail are themselves recorded.
      const byId = await ask(`?principal=${ALICE.id}&entity=${parseBatchBlobName(batch)!.entity.id}`);
      expect(byId.body.records.length).toBe(byAlice.body.records.length);
      // The two reads before this one (a read is recorded as it starts, after `to` defaulted to now).
      const ownReads = await ask('?principal=auditor@contoso.example');
      expect(ownReads.body.records.filter((r: AuditRecord) => r.action === 'audit.read')).toHaveLength(2);
      const one = await ask(`?principal=${ALICE.id}&limit=1`);
      expect(one.body.records).toHaveLength(1);
      expect(one.body.truncated).toBe(true);
      const past = await ask(`?from=${iso(now - 30 * DAY)}&to=${iso(now - 20 * DAY)}`);
      expect(past.body.records).toEqual([]);
      for (const [query, field] of [
        ['?from=yesterday', 'from'],
        [`?from=${iso(now)}&to=${iso(now - DAY)}`, 'from'],
        [`?from=${iso(now - 100 * DAY)}&to=${iso(now)}`, 'to'],
        ['?limit=0', 'limit'],
        ['?who=me', 'who'],
      ]) {
        const bad = await ask(query!);
        expect(bad.status, query).toBe(400);
        expect(
          bad.body.error.fields.map((f: { field: string }) => f.field),
          query,
        ).toContain(field);
      }
    });

    it('refuses a read whose record cannot be written (503), and sends none of its content', async () => {
      const faulty = failingAuditWrites(fh.ctx.deps.container);
      const broken: AppContext = { ...fh.ctx, audit: new AuditTrail(faulty.container) };
      const hb = handlers(() => Promise.resolve(broken));
      const alice = principalHeaders();
      const attempts: Array<[string, HttpRequest]> = [
        ['readExport', get(`exports/${batch}`, alice, { path: batch })],
        ['readExport', get(`exports/${productionStatusName(productionId)}`, alice, { path: productionStatusName(productionId) })],
        ['listExports', get('exports?prefix=messages/', alice)],
        ['startProduction', post('productions', production(), alice)],
        ['getAudit', get('audit', alice)],
      ];
      const ids: string[] = [];
      for (const [fn, req] of attempts) {
        const inv = fh.invocation(fn);
        ids.push(inv.invocationId);
        const res = await hb[fn]!(req, inv);
        expect(res.status, fn).toBe(503);
        expect(res.jsonBody, fn).toEqual({
          error: { code: 'AuditUnavailable', message: expect.stringContaining('audit trail'), invocationId: inv.invocationId },
        });
        expect(res.body, fn).toBeUndefined();
      }
      const dayText = await responseText(await h.viewer!(get(`viewer/${dayPath}`, alice, { path: dayPath }), fh.invocation('viewer')));
      for (const path of [dayPath, `raw/${batch}`, `blob/${batch}`, `content/${contentSha}`, `u/${userSeg}`, '']) {
        const inv = fh.invocation('viewer');
        ids.push(inv.invocationId);
        const res = await hb.viewer!(get(`viewer/${path}?line=1`, alice, { path }), inv);
        expect(res.status, path).toBe(503);
        const text = await responseText(res);
        expect(text, path).toContain('could not be recorded in the audit trail');
        expect(text, path).not.toContain(encodeIdSegment(conversation));
      }
      expect(dayText).toContain('<article');
      expect(faulty.attempts).toBe(ids.length);
      const recorded = await trail();
      expect(ids.filter((id) => recorded.has(id))).toEqual([]);
      expect(fh.logs.some((l) => l.args[0] === 'audit record could not be written; the read is refused')).toBe(true);
    });
  });
});
