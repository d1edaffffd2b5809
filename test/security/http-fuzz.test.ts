// The HTTP functions fuzzed with property-based tests (fast-check), called with real HttpRequest and
// InvocationContext objects: backfill bodies, run ids, export paths and prefixes. Never a 500, always a
// JSON error body, and never a byte from outside the archive folders (a planted blob under locks/).
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GetAppContext } from '../../src/app/app-context';
import { isArchivePath } from '../../src/archive/blob-layout';
import { HOUR } from '../../src/time';
import { createGetRunHandler } from '../../functions/get-run';
import { createListExportsHandler } from '../../functions/list-exports';
import { createListRunsHandler } from '../../functions/list-runs';
import { createReadExportHandler } from '../../functions/read-export';
import { createStartBackfillHandler } from '../../functions/start-backfill';
import { createStartProductionHandler } from '../../functions/start-production';
import { createGetProductionHandler } from '../../functions/get-production';
import { responseText, startFunctionsHarness, type FunctionsHarness } from '../functions/functions-harness';
import { principalHeaders } from '../support/principal';

const BASE = 'http://localhost:7071/api/';
const PLANTED = 'PLANTED-OUTSIDE-THE-ARCHIVE';

function expectJsonError(res: HttpResponseInit, what: string): void {
  expect(res.status, what).not.toBe(500);
  if ((res.status ?? 200) >= 400) {
    const err = (res.jsonBody as { error?: { code?: unknown } } | undefined)?.error;
    expect(typeof err?.code, `${what}: JSON error body`).toBe('string');
  }
}

/** Path-like strings made of hostile pieces: traversal, encodings, separators, unicode, archive folders. */
const hostilePath = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'messages',
        'quarantine',
        'manifests',
        'locks',
        'users',
        'teams',
        '..',
        '.',
        '',
        '%2e%2e',
        '%2F',
        '..%2F',
        '\\',
        '..\\..',
        'x.jsonl.gz',
        'run.json',
        '~2E~2E',
        '\u0000',
        '\u202e',
        'ü',
        '😀',
        '?a=b',
        '#',
        'lock',
      ),
      fc.string({ maxLength: 8 }),
    ),
    { minLength: 0, maxLength: 7 },
  )
  .map((parts) => parts.join('/'));

/** A POST of a raw JSON body, as a client sends it. */
function postJson(route: string, raw: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `${BASE}${route}`,
    body: { string: raw },
    headers: { 'content-type': 'application/json', ...principalHeaders() },
  });
}

/** A 202, or a 400 whose JSON error lists the fields at fault: never a 500 or a bare text. */
function expectAcceptedOrFieldErrors(res: HttpResponseInit, raw: string): void {
  expect([202, 400], raw).toContain(res.status);
  expectJsonError(res, raw);
  if (res.status === 400) expect(Array.isArray((res.jsonBody as { error: { fields: unknown } }).error.fields)).toBe(true);
}

describe('HTTP inputs fuzzed', () => {
  let fh: FunctionsHarness;
  let getCtx: GetAppContext;
  const inv = (name: string) => fh.invocation(name);

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'sec-fuzz',
      tenant: { seed: 131, users: 2, teams: 1, historyDays: 3, endMs: Date.now() - 2 * HOUR },
    });
    getCtx = () => Promise.resolve(fh.ctx);
    // Something that must never be served: a blob outside the archive folders.
    for (const name of ['locks/users/planted', 'planted.json', 'locks/x.jsonl.gz', 'other/messages/x.json']) {
      await fh.ctx.deps.container.getBlockBlobClient(name).upload(PLANTED, PLANTED.length);
    }
  });
  afterAll(() => fh?.close());

  it('backfill bodies: any JSON value or any text is a 202 or a 400 with a JSON error naming fields', async () => {
    const startBackfill = createStartBackfillHandler(getCtx);
    const instant = fc
      .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date(Date.now() + 86_400_000), noInvalidDate: true })
      .map((d) => d.toISOString());
    const body = fc.oneof(
      fc.string().map((s) => ({ raw: s })),
      fc.jsonValue().map((v) => ({ raw: JSON.stringify(v) })),
      fc
        .record(
          {
            from: fc.oneof(instant, fc.string(), fc.integer()),
            to: fc.oneof(instant, fc.string()),
            users: fc.oneof(fc.array(fc.oneof(fc.uuid(), fc.string())), fc.string()),
            teams: fc.array(fc.uuid(), { maxLength: 3 }),
            extra: fc.anything(),
          },
          { requiredKeys: [] },
        )
        .map((v) => ({ raw: JSON.stringify(v) })),
    );
    await fc.assert(
      fc.asyncProperty(body, async ({ raw }) => {
        expectAcceptedOrFieldErrors(await startBackfill(postJson('backfills', raw), inv('startBackfill')), raw);
      }),
      { numRuns: 250 },
    );
  });

  it('production bodies and ids: a 202 or a 400/404 with a JSON error naming fields, never a 500', async () => {
    const startProduction = createStartProductionHandler(getCtx);
    const instant = fc
      .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date(Date.now() + 86_400_000), noInvalidDate: true })
      .map((d) => d.toISOString());
    const body = fc.oneof(
      fc.string().map((s) => ({ raw: s })),
      fc.jsonValue().map((v) => ({ raw: JSON.stringify(v) })),
      fc
        .record(
          {
            from: fc.oneof(instant, fc.string(), fc.integer()),
            to: fc.oneof(instant, fc.string()),
            users: fc.oneof(fc.array(fc.oneof(fc.uuid(), fc.string())), fc.string()),
            conversations: fc.array(fc.oneof(fc.string(), hostilePath), { maxLength: 3 }),
            allowUnsettled: fc.anything(),
          },
          { requiredKeys: [] },
        )
        .map((v) => ({ raw: JSON.stringify(v) })),
    );
    await fc.assert(
      fc.asyncProperty(body, async ({ raw }) => {
        expectAcceptedOrFieldErrors(await startProduction(postJson('productions', raw), inv('startProduction')), raw);
      }),
      { numRuns: 150 },
    );
    const getProduction = createGetProductionHandler(getCtx);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), hostilePath), async (productionId) => {
        const res = await getProduction(
          new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${BASE}productions/x`, params: { productionId } }),
          inv('getProduction'),
        );
        expect([200, 400, 404], JSON.stringify(productionId)).toContain(res.status);
        expectJsonError(res, JSON.stringify(productionId));
      }),
      { numRuns: 150 },
    );
  });

  it('run ids: any string is a 200 or a 404/400 with a JSON error, never a 500', async () => {
    const getRun = createGetRunHandler(getCtx);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), hostilePath, fc.string({ unit: 'binary', maxLength: 300 })), async (runId) => {
        const res = await getRun(
          new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${BASE}runs/x`, params: { runId } }),
          inv('getRun'),
        );
        expect([200, 400, 404], JSON.stringify(runId)).toContain(res.status);
        expectJsonError(res, JSON.stringify(runId));
      }),
      { numRuns: 250 },
    );
    const listRuns = createListRunsHandler(getCtx);
    await fc.assert(
      fc.asyncProperty(fc.string(), async (limit) => {
        const res = await listRuns(
          new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${BASE}runs?limit=${encodeURIComponent(limit)}` }),
          inv('listRuns'),
        );
        expect([200, 400]).toContain(res.status);
        expectJsonError(res, limit);
      }),
      { numRuns: 100 },
    );
  });

  it('export paths and prefixes: never a 500, never anything from outside the archive folders', async () => {
    const readExport = createReadExportHandler(getCtx);
    const listExports = createListExportsHandler(getCtx);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostilePath,
          fc.string(),
          fc.constantFrom(
            'locks/users/planted',
            'messages/../locks/users/planted',
            'manifests/../planted.json',
            'messages/%2e%2e/locks/x.jsonl.gz',
          ),
        ),
        async (path) => {
          const res = await readExport(
            new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${BASE}exports/x`, params: { path } }),
            inv('readExport'),
          );
          expect([200, 400, 404], JSON.stringify(path)).toContain(res.status);
          expectJsonError(res, JSON.stringify(path));
          if (res.status === 200) expect(isArchivePath(path), JSON.stringify(path)).toBe(true);
          expect(await responseText(res)).not.toContain(PLANTED);

          const list = await listExports(
            new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${BASE}exports?prefix=${encodeURIComponent(path)}` }),
            inv('listExports'),
          );
          expect([200, 400], JSON.stringify(path)).toContain(list.status);
          expectJsonError(list, JSON.stringify(path));
          if (list.status === 200) {
            for (const item of (list.jsonBody as { items: Array<{ name: string }> }).items)
              expect(isArchivePath(item.name), item.name).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
