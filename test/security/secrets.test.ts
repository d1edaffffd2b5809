// No secret or token anywhere the product writes: a scenario with a distinctive client secret, the
// access tokens the emulator actually issued to the product (recorded by wrapping the real credential),
// failures of every kind, then a search of every log line (the logger sink and the CLI's stdout and
// stderr), every blob, every table row and every HTTP response body.
import { gunzipSync } from 'node:zlib';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { TableServiceClient, TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppContext, type AppContext } from '../../src/app/app-context';
import { PLATFORM_AUTH_ENV, principalHeaders } from '../support/principal';
import { createGraphCredential } from '../../src/deps';
import { runExport } from '../../src/export/run-in-process';
import { createLogger, type LogFields, type LogLevel } from '../../src/log';
import { loadSettings, type Env } from '../../src/settings';
import { DAY, HOUR, iso } from '../../src/time';
import { createGetRunHandler } from '../../functions/get-run';
import { createListExportsHandler } from '../../functions/list-exports';
import { createListRunsHandler } from '../../functions/list-runs';
import { createReadExportHandler } from '../../functions/read-export';
import { createStartBackfillHandler } from '../../functions/start-backfill';
import { responseText } from '../functions/functions-harness';
import { emulatorCaFile, runCli } from '../support/cli-process';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from '../support/emulator';
import { startHttpsTestServer } from '../support/https-test-server';
import { testStorage } from '../support/storage';
import type { Emulator } from '../../emulator';

const SECRET = `Canary-S3cret~${Math.random().toString(36).slice(2)}.zz`;

/** The product's own credential, unchanged, noting every token it hands out (for the search). */
class RecordingCredential implements TokenCredential {
  readonly tokens = new Set<string>();
  constructor(private readonly inner: TokenCredential) {}
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const t = await this.inner.getToken(scopes, options);
    if (t) this.tokens.add(t.token);
    return t;
  }
}

/** The CLI's output, both streams together: a leak on either counts. */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const r = await runCli(args, env);
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('secrets and tokens stay out of logs, archive, tables and responses', () => {
  let emulator: Emulator;
  let env: Env;
  let ctx: AppContext;
  const credentialTokens = new Set<string>();
  const logs: string[] = [];
  const invocationLogs: string[] = [];
  const now = Date.now();

  beforeAll(async () => {
    emulator = await startTestEmulator({
      clientSecret: SECRET,
      tokenLifetimeSec: 2,
      tenant: { seed: 111, users: 5, teams: 2, historyDays: 20, endMs: now - 2 * HOUR },
    });
    const storage = testStorage('sec-secrets');
    env = {
      AZURE_TENANT_ID: emulator.tenantId,
      AZURE_CLIENT_ID: emulator.clientId,
      AZURE_CLIENT_SECRET: SECRET,
      AZURE_AUTHORITY_HOST: emulator.authorityHost,
      GRAPH_BASE_URL: emulator.graphBaseUrl,
      GRAPH_MAX_RPS: '500',
      GRAPH_REQUEST_TIMEOUT: 'PT1S',
      GRAPH_MAX_RETRIES: '2',
      GRAPH_PAGE_SIZE: '4',
      ...TEST_HOSTED_CONTENT_ENV,
      EXPORT_STORAGE: storage.connectionString,
      EXPORT_CONTAINER: storage.container,
      EXPORT_TABLE_PREFIX: storage.tablePrefix,
      EXPORT_START: iso(now - 30 * DAY),
      EXPORT_CHUNK: 'P10D',
      EXPORT_QUEUE: `q-sec-${Math.random().toString(36).slice(2, 10)}`,
      LOG_LEVEL: 'debug',
      ...PLATFORM_AUTH_ENV,
    };
    const sink = (level: LogLevel, message: string, fields: LogFields) => logs.push(JSON.stringify({ level, message, ...fields }));
    const credential = new RecordingCredential(createGraphCredential(loadSettings(env)));
    ctx = await buildAppContext(env, {
      log: createLogger(sink, 'debug'),
      credential,
      policy: { baseDelaySec: 0, maxDelaySec: 0, busyDelaySec: 0 },
    });
    const foreign = await startHttpsTestServer();
    try {
      // Runs with every kind of failure: 5xx, resets, hangs, one forbidden entity, malformed pages,
      // a foreign nextLink, 2-second tokens renewed all along, and a token endpoint that goes down.
      const team = emulator.tenant.teams[0]!.id;
      emulator.setFaults({ errorRate: 0.1, resetRate: 0.05, hangRate: 0.02, malformedRate: 0.05, forbiddenEntities: [team] });
      await runExport({ kind: 'daily', nowMs: now }, ctx.deps);
      emulator.setFaults({
        errorRate: 0,
        resetRate: 0,
        hangRate: 0,
        malformedRate: 0,
        forbiddenEntities: [],
        nextLinkOrigin: foreign.origin,
      });
      await runExport({ kind: 'backfill', window: { fromMs: now - 20 * DAY, toMs: now - HOUR } }, ctx.deps);
      emulator.setFaults({ nextLinkOrigin: null, tokenEndpointDown: true });
      await new Promise((r) => setTimeout(r, 2100)); // the cached token expires
      await runExport({ kind: 'daily', nowMs: now + HOUR }, ctx.deps);
      emulator.setFaults({ tokenEndpointDown: false });
      expect(foreign.requests.filter((r) => r.headers.authorization !== undefined)).toHaveLength(0);
    } finally {
      await foreign.close();
    }
    for (const t of credential.tokens) credentialTokens.add(t);
  });
  afterAll(() => emulator?.close());

  function needles(): string[] {
    return [SECRET, ...credentialTokens];
  }

  function expectNoSecret(haystack: string, where: string): void {
    for (const n of needles()) expect(haystack.includes(n), `${where} contains a ${n === SECRET ? 'client secret' : 'token'}`).toBe(false);
    expect(/Bearer\s+[A-Za-z0-9._~+/-]{16,}/.test(haystack), `${where} contains a bearer header`).toBe(false);
  }

  it('the scenario really used tokens and produced logs and failures to search', () => {
    expect(credentialTokens.size).toBeGreaterThan(2);
    expect(emulator.counters.tokensIssued).toBeGreaterThanOrEqual(credentialTokens.size);
    expect(logs.length).toBeGreaterThan(10);
    expect(logs.some((l) => l.includes('"level":"error"'))).toBe(true);
  });

  it('no log line of the engine holds the secret or a token', () => {
    expectNoSecret(logs.join('\n'), 'the log');
  });

  it('no blob (raw or gunzipped) holds the secret or a token', async () => {
    let n = 0;
    for await (const b of ctx.deps.container.listBlobsFlat()) {
      const buf = await ctx.deps.container.getBlobClient(b.name).downloadToBuffer();
      const plain = b.name.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
      expectNoSecret(`${b.name}\n${plain}`, b.name);
      n++;
    }
    expect(n).toBeGreaterThan(5);
  });

  it('no table row holds the secret or a token', async () => {
    const service = TableServiceClient.fromConnectionString(env.EXPORT_STORAGE as string, { allowInsecureConnection: true });
    let rows = 0;
    for await (const t of service.listTables()) {
      if (!t.name?.startsWith(env.EXPORT_TABLE_PREFIX as string)) continue;
      const table = TableClient.fromConnectionString(env.EXPORT_STORAGE as string, t.name, { allowInsecureConnection: true });
      for await (const row of table.listEntities()) {
        expectNoSecret(JSON.stringify(row), `table ${t.name}`);
        rows++;
      }
    }
    expect(rows).toBeGreaterThan(5);
  });

  it('no HTTP response body holds the secret or a token, errors included', async () => {
    const getCtx = () => Promise.resolve(ctx);
    const inv = (name: string) =>
      new InvocationContext({
        invocationId: `${name}-1`,
        functionName: name,
        logHandler: (_l, ...args) => invocationLogs.push(JSON.stringify(args)),
      });
    const base = 'http://localhost:7071/api/';
    const runs = await createListRunsHandler(getCtx)(
      new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${base}runs` }),
      inv('listRuns'),
    );
    const bodies = [await responseText(runs)];
    for (const r of (runs.jsonBody as { runs: Array<{ runId: string }> }).runs) {
      bodies.push(
        await responseText(
          await createGetRunHandler(getCtx)(
            new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${base}runs/${r.runId}`, params: { runId: r.runId } }),
            inv('getRun'),
          ),
        ),
      );
    }
    const list = await createListExportsHandler(getCtx)(
      new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${base}exports?prefix=manifests/` }),
      inv('listExports'),
    );
    bodies.push(await responseText(list));
    for (const item of ((list.jsonBody as { items: Array<{ name: string }> }).items ?? []).slice(0, 20)) {
      bodies.push(
        await responseText(
          await createReadExportHandler(getCtx)(
            new HttpRequest({
              method: 'GET',
              headers: principalHeaders(),
              url: `${base}exports/${item.name}`,
              params: { path: item.name },
            }),
            inv('readExport'),
          ),
        ),
      );
    }
    // A rejected request: (an echo of what the caller sent would not be a leak, so it is not searched for).
    const rejected = await createStartBackfillHandler(getCtx)(
      new HttpRequest({ method: 'POST', url: `${base}backfills`, body: { string: '{"from":"x"}' }, headers: principalHeaders() }),
      inv('startBackfill'),
    );
    expect(rejected.status).toBe(400);
    bodies.push(await responseText(rejected));
    // An internal failure: the context cannot be built (storage refused), the answer is a bare 500.
    const broken = () => Promise.reject(new Error(`storage said no to ${SECRET}`));
    const failed = await createGetRunHandler(broken)(
      new HttpRequest({ method: 'GET', headers: principalHeaders(), url: `${base}runs/x`, params: { runId: 'x' } }),
      inv('getRun'),
    );
    expect(failed.status).toBe(500);
    bodies.push(await responseText(failed));
    expect(bodies.length).toBeGreaterThan(4);
    expectNoSecret(bodies.join('\n'), 'HTTP responses');
    expectNoSecret(invocationLogs.filter((l) => !l.includes('storage said no')).join('\n'), 'invocation logs');
  });

  it('the CLI prints neither the secret nor a bearer token on stdout or stderr, at debug level, with failures', async () => {
    const caFile = await emulatorCaFile(emulator);
    const e = { ...(env as Record<string, string>), NODE_EXTRA_CA_CERTS: caFile };
    emulator.setFaults({ errorRate: 0.1, forbiddenEntities: [emulator.tenant.teams[1]!.id] });
    try {
      // The real clock: the CLI refuses a --now in the future.
      const run = await cli(['run', '--now', iso(Date.now())], e);
      expect(run.out.length).toBeGreaterThan(0);
      expectNoSecret(run.out, 'CLI run output');
      const wrong = await cli(['run', '--now', iso(Date.now())], { ...e, AZURE_CLIENT_SECRET: `${SECRET}-wrong` });
      expect(wrong.code).toBe(1);
      expect(wrong.out).not.toContain(SECRET);
      const status = await cli(['status', '--json'], e);
      expectNoSecret(status.out, 'CLI status output');
    } finally {
      emulator.setFaults({ errorRate: 0, forbiddenEntities: [] });
    }
  });
});
