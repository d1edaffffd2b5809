// The HTTP functions called with real HttpRequest/InvocationContext objects against Azurite and the
// emulator: backfill validation and a backfill end to end, run status and lists, archive browsing.
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityPrefix } from '../../src/archive/blob-layout';
import type { GetAppContext } from '../../src/app/app-context';
import { DAY, HOUR, iso } from '../../src/time';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createGetRunHandler } from '../../functions/get-run';
import { createListExportsHandler } from '../../functions/list-exports';
import { createListRunsHandler } from '../../functions/list-runs';
import { createReadExportHandler } from '../../functions/read-export';
import { createStartBackfillHandler } from '../../functions/start-backfill';
import { drainQueues, responseText, runPlanningMessages, startFunctionsHarness, type FunctionsHarness } from './functions-harness';
import { principalHeaders } from '../support/principal';

const BASE = 'http://localhost:7071/api/';
const now = Date.now();

function post(route: string, body: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `${BASE}${route}`,
    body: { string: body },
    headers: { 'content-type': 'application/json', ...principalHeaders() },
  });
}

function get(route: string, init: { params?: Record<string, string>; query?: Record<string, string> } = {}): HttpRequest {
  const url = new URL(`${BASE}${route}`);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  return new HttpRequest({
    method: 'GET',
    url: url.toString(),
    headers: principalHeaders(),
    ...(init.params ? { params: init.params } : {}),
  });
}

type Json = any;

describe('HTTP API', () => {
  let fh: FunctionsHarness;
  let getCtx: GetAppContext;
  let startBackfill: ReturnType<typeof createStartBackfillHandler>;
  let getRun: ReturnType<typeof createGetRunHandler>;
  let listRuns: ReturnType<typeof createListRunsHandler>;
  let listExports: ReturnType<typeof createListExportsHandler>;
  let readExport: ReturnType<typeof createReadExportHandler>;

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'fn-http',
      tenant: { seed: 33, users: 5, teams: 2, historyDays: 10, endMs: now - 2 * HOUR },
    });
    getCtx = () => Promise.resolve(fh.ctx);
    startBackfill = createStartBackfillHandler(getCtx);
    getRun = createGetRunHandler(getCtx);
    listRuns = createListRunsHandler(getCtx);
    listExports = createListExportsHandler(getCtx);
    readExport = createReadExportHandler(getCtx);
  });
  afterAll(() => fh?.close());

  /**
   * One backfill over HTTP, drained through the queue, made by whichever test needs it first (so the
   * tests pass in any order): the 202 answer, the run as seen while still queued, and its id.
   */
  let backfill:
    | Promise<{
        users: string[];
        teams: string[];
        res: HttpResponseInit;
        queued: HttpResponseInit;
        runId: string;
        atAnswer: unknown[];
        planned: number;
      }>
    | undefined;
  const finishedBackfill = () =>
    (backfill ??= (async () => {
      const users = fh.h.emulator.tenant.users.map((u) => u.id.toUpperCase());
      const teams = fh.h.emulator.tenant.teams.map((t) => t.id);
      const res = await startBackfill(post('backfills', JSON.stringify({ from, to, users, teams })), fh.invocation('startBackfill'));
      const runId = String((res.jsonBody as Json)?.runId);
      // What the queue held when the request was answered, and how many planning messages ran.
      const atAnswer = await fh.queuedMessages();
      const planned = await runPlanningMessages(fh, createExportWorkerHandler(getCtx));
      const queued = await getRun(get(`runs/${runId}`, { params: { runId } }), fh.invocation('getRun'));
      await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
      return { users, teams, res, queued, runId, atAnswer, planned };
    })());

  const from = iso(now - 20 * DAY);
  const to = iso(now - HOUR);
  const guid = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

  describe('POST /api/backfills validation', () => {
    it.each([
      ['a missing from', { to }, 'from'],
      ['a from that is not an instant', { from: 'yesterday', to }, 'from'],
      ['a from without a zone', { from: '2024-01-01T00:00:00', to }, 'from'],
      ['a from that is a number', { from: 1700000000000, to }, 'from'],
      ['a from after to', { from: to, to: from }, 'from'],
      ['a to in the future', { from, to: iso(now + DAY) }, 'to'],
      ['a span over ten years', { from: '2010-01-01T00:00:00Z', to }, 'to'],
      ['a user id that is not a GUID', { from, to, users: [guid, 'alice@contoso.com'] }, 'users.1'],
      ['users that is not an array', { from, to, users: guid }, 'users'],
      ['too many team ids', { from, to, teams: Array.from({ length: 1001 }, () => guid) }, 'teams'],
      ['an unknown field', { from, to, user: [guid] }, 'user'],
      ['a body that is not an object', [from, to], 'body'],
    ])('%s is a 400 naming %s', async (_what, body, field) => {
      const res = await startBackfill(post('backfills', JSON.stringify(body)), fh.invocation('startBackfill'));
      expect(res.status).toBe(400);
      const err = (res.jsonBody as Json).error;
      expect(err.code).toBe('BadRequest');
      expect(err.fields.map((f: { field: string }) => f.field)).toContain(field);
    });

    it('a body that is not JSON is a 400 naming the body', async () => {
      const res = await startBackfill(post('backfills', '{"from": '), fh.invocation('startBackfill'));
      expect(res.status).toBe(400);
      expect((res.jsonBody as Json).error.fields).toEqual([{ field: 'body', message: expect.any(String) }]);
    });

    it('every invalid field is named at once', async () => {
      const res = await startBackfill(
        post('backfills', JSON.stringify({ from: 'x', to: 'y', teams: ['z'] })),
        fh.invocation('startBackfill'),
      );
      const fields = (res.jsonBody as Json).error.fields.map((f: { field: string }) => f.field);
      expect(fields).toEqual(expect.arrayContaining(['from', 'to', 'teams.0']));
    });

    it('a rejected request starts no run', async () => {
      const before = await fh.ctx.deps.runs.listRuns();
      const res = await startBackfill(post('backfills', JSON.stringify({ from: to, to: from })), fh.invocation('startBackfill'));
      expect(res.status).toBe(400);
      expect(await fh.ctx.deps.runs.listRuns()).toEqual(before);
      expect((await fh.queuedMessages()).length).toBe(0);
    });
  });

  it('a backfill started over HTTP answers 202 with a Location, runs through the queue and reports its counts', async () => {
    const { users, teams, res, queued, runId: backfillRunId, atAnswer, planned } = await finishedBackfill();
    expect(res.status).toBe(202);
    const body = res.jsonBody as Json;
    expect(backfillRunId).toMatch(/^backfill-/);
    const location = (res.headers as Record<string, string>).location!;
    expect(location).toBe(`${BASE}runs/${backfillRunId}`);
    // Answered before planning: the run is recorded and its one planning message is on the queue.
    expect(body).toMatchObject({ status: 'planning', planned: 0 });
    expect(atAnswer).toEqual([expect.objectContaining({ type: 'plan', runId: backfillRunId })]);
    expect(planned).toBe(1);

    expect(queued.status).toBe(200);
    expect((queued.jsonBody as Json).counts).toMatchObject({
      planned: users.length + teams.length,
      queued: users.length + teams.length,
      done: 0,
    });
    // The collection report is there while the run is in progress too: every job still pending.
    expect((queued.jsonBody as Json).report.kinds.user).toMatchObject({ planned: users.length, exported: 0, pending: users.length });

    const runId = new URL(location).pathname.split('/').pop()!;
    const status = await getRun(get(`runs/${runId}`, { params: { runId } }), fh.invocation('getRun'));
    expect(status.status).toBe(200);
    const view = status.jsonBody as Json;
    const noData = fh.h.emulator.tenant.users.filter((u) => !u.hasTeamsData);
    expect(view).toMatchObject({ runId, kind: 'backfill', status: 'succeeded', from, to });
    expect(view.counts).toMatchObject({
      planned: users.length + teams.length,
      queued: 0,
      running: 0,
      failed: 0,
      skipped: noData.length,
      done: users.length + teams.length - noData.length,
    });
    expect(view.counts.messages).toBeGreaterThan(0);
    expect(view.counts.blobs).toBeGreaterThan(0);
    // Skipped entities are listed with Graph's status, code and request-id.
    expect(view.errors.map((e: Json) => e.id).sort()).toEqual(noData.map((u) => u.id).sort());
    for (const e of view.errors) expect(e.error).toMatchObject({ status: 404, code: expect.any(String), requestId: expect.any(String) });
    // The collection report counts the skips by reason (docs/design.md §13).
    expect(view.report.kinds.user).toEqual({
      planned: users.length,
      exported: users.length - noData.length,
      skipped: { 'entity-gone': noData.length },
      failed: 0,
      refused: 0,
      pending: 0,
    });
    expect(view.report.kinds.team).toMatchObject({ planned: teams.length, exported: teams.length });
    // Upper-case ids were stored under Graph's lower-case ids, so the archive folders match daily runs.
    const archived = await fh.h.archivedKeys({ kind: 'user', id: fh.h.emulator.tenant.users.find((u) => u.hasTeamsData)!.id });
    expect(archived.length).toBeGreaterThan(0);
  });

  it('an unknown run is a 404 with a JSON body', async () => {
    for (const runId of ['backfill-20200101T000000Z-dead', '..', 'x'.repeat(200)]) {
      const res = await getRun(get(`runs/${encodeURIComponent(runId)}`, { params: { runId } }), fh.invocation('getRun'));
      expect(res.status).toBe(404);
      expect((res.jsonBody as Json).error.code).toBe('NotFound');
    }
  });

  it('the run list holds the backfill, newest first, and validates its limit', async () => {
    const { runId: backfillRunId } = await finishedBackfill();
    const res = await listRuns(get('runs'), fh.invocation('listRuns'));
    expect(res.status).toBe(200);
    expect((res.jsonBody as Json).runs.map((r: Json) => r.runId)).toEqual([backfillRunId]);
    const bad = await listRuns(get('runs', { query: { limit: '0' } }), fh.invocation('listRuns'));
    expect(bad.status).toBe(400);
    expect((bad.jsonBody as Json).error.fields[0].field).toBe('limit');
  });

  it('the export listing shows each batch with size, version count and day, and a batch reads back as JSON Lines', async () => {
    await finishedBackfill();
    const user = fh.h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
    const prefix = entityPrefix({ kind: 'user', id: user.id });
    const res = await listExports(get('exports', { query: { prefix } }), fh.invocation('listExports'));
    expect(res.status).toBe(200);
    const items = (res.jsonBody as Json).items as Json[];
    expect(items.length).toBeGreaterThan(0);
    const expectedKeys = await fh.h.archivedKeys({ kind: 'user', id: user.id });
    expect(items.reduce((n, i) => n + i.lines, 0)).toBe(expectedKeys.length);
    for (const i of items) {
      expect(i.name.startsWith(prefix)).toBe(true);
      expect(i.bytes).toBeGreaterThan(0);
      expect(i.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(i.name).toContain(i.day.replace(/-/g, '/'));
    }
    const first = items[0];
    const read = await readExport(get(`exports/${first.name}`, { params: { path: first.name } }), fh.invocation('readExport'));
    expect(read.status).toBe(200);
    expect((read.headers as Record<string, string>)['content-type']).toMatch(/ndjson/);
    const lines = (await responseText(read)).split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(first.lines);
    for (const l of lines) expect(new Date(JSON.parse(l).lastModifiedDateTime).toISOString().slice(0, 10)).toBe(first.day);

    const text = await readExport(
      get(`exports/${first.name}`, { params: { path: first.name }, query: { format: 'text' } }),
      fh.invocation('readExport'),
    );
    expect(text.status).toBe(200);
    expect((text.headers as Record<string, string>)['content-type']).toMatch(/text\/plain/);
    const blocks = (await responseText(text)).split('\n\n').filter((b) => b.trim().length > 0);
    expect(blocks).toHaveLength(first.lines);
    for (const b of blocks) expect(b).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\] chat /);
    const badFormat = await readExport(
      get(`exports/${first.name}`, { params: { path: first.name }, query: { format: 'html' } }),
      fh.invocation('readExport'),
    );
    expect(badFormat.status).toBe(400);
    expect((badFormat.jsonBody as Json).error.fields[0].field).toBe('format');

    const limited = await listExports(get('exports', { query: { prefix: 'messages/', limit: '1' } }), fh.invocation('listExports'));
    expect((limited.jsonBody as Json).items).toHaveLength(1);
    expect((limited.jsonBody as Json).truncated).toBe(true);
  });

  it('a run manifest reads back as JSON', async () => {
    const { runId: backfillRunId } = await finishedBackfill();
    const name = `manifests/${backfillRunId}/run.json`;
    const read = await readExport(get(`exports/${name}`, { params: { path: name } }), fh.invocation('readExport'));
    expect(read.status).toBe(200);
    expect(JSON.parse(await responseText(read))).toMatchObject({ runId: backfillRunId, status: 'succeeded' });
  });

  it.each([
    ['messages/../locks/users/x', 400],
    ['messages/users/./x.jsonl.gz', 400],
    ['locks/users/x', 400],
    ['../../etc/passwd', 400],
    ['messages//x.jsonl.gz', 400],
    ['messages\\..\\locks', 400],
    ['', 400],
    ['messages/users/nobody/2024/01/01/fresh_x.jsonl.gz', 404],
    ['messages/users/nobody/notes.txt', 404],
  ])('reading %j outside the archive or missing is refused with %i', async (path, status) => {
    const res = await readExport(get('exports/x', { params: { path } }), fh.invocation('readExport'));
    expect(res.status).toBe(status);
    expect((res.jsonBody as Json).error.code).toBe(status === 400 ? 'BadRequest' : 'NotFound');
  });

  it.each(['../', 'locks/', 'messages/../locks/', '/messages/'])(
    'listing the prefix %j is refused with 400 naming prefix',
    async (prefix) => {
      const res = await listExports(get('exports', { query: { prefix } }), fh.invocation('listExports'));
      expect(res.status).toBe(400);
      expect((res.jsonBody as Json).error.fields[0].field).toBe('prefix');
    },
  );

  it('an internal failure is a 500 that reveals nothing', async () => {
    const broken = createGetRunHandler(() => Promise.reject(new Error('EXPORT_STORAGE AccountKey=secret unreachable')));
    const res = await broken(get('runs/x', { params: { runId: 'x' } }), fh.invocation('getRun'));
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.jsonBody)).not.toMatch(/secret|EXPORT_STORAGE/);
    expect((res.jsonBody as Json).error.code).toBe('InternalError');
  });
});
