// The package `azd deploy` uploads must start in Azure, and run without the development tools. This builds
// the package's file list the way azd does (.funcignore, gitignore semantics), copies exactly those files
// to a temporary folder, and runs the remote build there in Oryx's order: `npm install` lays down every
// dependency, `npm run build` compiles, and the later package.json steps (`npm run build:azure`) run for
// real. What that leaves is the DEPLOYED tree: it must hold no devDependency, and the app is loaded from
// it: every function of package.json "main" registers, and an HTTP handler and the queue worker from the
// packaged code run against Azurite and the Graph emulator. Build model and rules: docs/deploy.md, "How
// the package is built".
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR, iso } from '../../src/time';
import { decode } from '../functions/functions-harness';
import { ROOT } from '../infra/infra-text';
import { APP_FUNCTIONS, captureRegistrations, type RegisteredFunction } from '../support/function-registrations';
import { startHarness, type Harness } from '../support/harness';
import { PLATFORM_AUTH_ENV, principalHeaders } from '../support/principal';
import { installAllDependenciesAsInstallWould, lockPaths } from '../support/production-dependencies';
import {
  funcignoreMatcher,
  mainFiles,
  materialise,
  oryxNodeBuildSteps,
  packageFiles,
  readPackageJson,
  runNpmScript,
  runRemoteBuild,
  treeSize,
} from './deploy-package';

/** The budget for what runs in Azure: the uploaded files plus the dependencies the remote build leaves. */
const BUDGET = { uploadMB: 2, uploadFiles: 300, runtimeMB: 120 };
const EXPECTED_FUNCTIONS = [...APP_FUNCTIONS];
const LONG = 600_000; // building and linking on a shared, loaded machine: generous, never a pass/fail criterion

const MB = 1024 * 1024;
const funcignore = readFileSync(join(ROOT, '.funcignore'), 'utf8');
const lockJson = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
const files = packageFiles(ROOT, funcignore);

interface PackagedFunctions {
  HttpRequest: new (init: Record<string, unknown>) => unknown;
  InvocationContext: new (init: Record<string, unknown>) => unknown;
}
type Handler = (input: unknown, context: unknown) => Promise<unknown>;

/** The distinct top-level folders of some paths (a readable failure instead of thousands of files). */
function topFolders(paths: readonly string[]): string[] {
  return [...new Set(paths.map((p) => p.split('/')[0]!))].sort();
}

describe('the deployment package (.funcignore, remote build)', () => {
  let dir = '';
  let build: { ok: boolean; output: string } = { ok: false, output: 'not built' };
  let steps: string[] = [];
  const afterBuild: Array<{ step: string; ok: boolean; output: string }> = [];
  let registered: RegisteredFunction[] = [];
  let modules: Record<string, Record<string, unknown>> = {};
  let runtime = { files: 0, bytes: 0 };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'teams-export-package-'));
    // Materialising a package that carries node_modules would copy hundreds of MB: the first test fails instead.
    if (files.some((f) => f.startsWith('node_modules/'))) return;
    materialise(ROOT, files, dir);
    // The remote build, step by step as Oryx runs it for this package.json.
    steps = oryxNodeBuildSteps(readPackageJson(dir));
    if (steps[0] !== 'npm install' || steps[1] !== 'npm run build') throw new Error(`unexpected remote build: ${steps.join(', ')}`);
    // `npm run build` (tsc) needs the compiler: this lock's installed tree stands in for the installed one.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    build = runRemoteBuild(join(ROOT, 'node_modules'), dir);
    unlinkSync(join(dir, 'node_modules'));
    // What `npm install` left (every dependency, devDependencies included), then every later step for real.
    installAllDependenciesAsInstallWould(ROOT, lockJson, dir);
    for (const step of steps.slice(2)) {
      const script = /^npm run (\S+)$/.exec(step)?.[1];
      if (!script) throw new Error(`no way to run remote build step ${step}`);
      afterBuild.push({ step, ...runNpmScript(dir, script) });
    }
    runtime = treeSize(join(dir, 'node_modules'));
  }, LONG);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads sources, not node_modules or build output (the remote build makes both)', () => {
    expect(topFolders(files.filter((f) => /^(node_modules|dist|dist-dev)\//.test(f)))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'host.json']));
    expect(files.some((f) => /^functions\/[^/]+\.ts$/.test(f))).toBe(true);
  });

  it('leaves out tests, benchmarks, the emulator, docs and infrastructure, at the root only', () => {
    expect(topFolders(files.filter((f) => /^(test|test-output|bench|soak|emulator|docs|infra|\.azure)\//.test(f)))).toEqual([]);
    const ignored = funcignoreMatcher(funcignore);
    // What the tests write (screenshots, traces, exported pages) stays home even when it exists.
    expect(ignored('test-output/')).toBe(true);
    // The same names deeper down are not development folders: a pattern without a leading "/" would drop them.
    const nested = [
      'src/dist/x.ts',
      'src/app/src/x.ts',
      'src/test/x.ts',
      'src/bench/x.ts',
      'src/docs/x.ts',
      'functions/emulator/x.ts',
      'src/infra/x.ts',
    ];
    expect(nested.filter((p) => ignored(p))).toEqual([]);
  });

  it('compiles in the remote build from the packaged files alone', () => {
    expect(build.output.trim(), 'tsc output in the packaged folder').toBe('');
    expect(build.ok).toBe(true);
  });

  it('runs the remote build Oryx runs: install, build, then build:azure, which prunes', () => {
    expect(steps).toEqual(['npm install', 'npm run build', 'npm run build:azure']);
    expect(readPackageJson(dir).scripts?.['build:azure']).toMatch(/^npm prune --omit=dev\b/);
    for (const r of afterBuild) expect(r.ok, `${r.step}: ${r.output}`).toBe(true);
  });

  it('deploys no devDependency: after the remote build node_modules holds the production dependencies only', () => {
    const pkg = readPackageJson(dir);
    const devDependencies = Object.keys(pkg.devDependencies ?? {});
    // The tools that must never run in Azure are devDependencies (the `node` package's install downloads a binary).
    expect(devDependencies).toEqual(expect.arrayContaining(['azurite', 'vitest', 'eslint', 'playwright-core', 'node', 'typescript']));
    expect(devDependencies.filter((name) => existsSync(join(dir, 'node_modules', name)))).toEqual([]);
    // Nor anything only a devDependency needs, at any depth; and every production package is still there.
    const locked = lockPaths(lockJson);
    expect(locked.filter((p) => p.dev && existsSync(join(dir, p.path, 'package.json'))).map((p) => p.path)).toEqual([]);
    expect(locked.filter((p) => !p.dev && !p.optional && !existsSync(join(dir, p.path, 'package.json'))).map((p) => p.path)).toEqual([]);
    for (const name of Object.keys(pkg.dependencies ?? {}))
      expect(existsSync(join(dir, 'node_modules', name, 'package.json')), name).toBe(true);
  });

  it('registers every function of package.json "main", loaded from the deployed tree', async () => {
    const req = createRequire(join(dir, 'package.json'));
    const main = mainFiles(dir);
    expect(main.length).toBeGreaterThan(0);
    const before = new Set(Object.keys(req.cache));
    const captured = await captureRegistrations(() => Object.fromEntries(main.map((f) => [f, req(`./${f}`) as Record<string, unknown>])));
    registered = captured.registered;
    modules = captured.result;
    expect(registered.map((r) => r.name).sort()).toEqual(EXPECTED_FUNCTIONS);
    // Every module the app loaded came from the package folder (its own @azure/functions included).
    const loaded = Object.keys(req.cache).filter((p) => !before.has(p));
    expect(loaded.length).toBeGreaterThan(main.length);
    expect(loaded.filter((p) => !p.startsWith(dir))).toEqual([]);
  });

  it('stays within the size budget (uploaded files, deployed dependencies)', () => {
    const uploadBytes = files.reduce((n, f) => n + readFileSync(join(ROOT, f)).length, 0);
    const report = {
      upload: `${files.length} files, ${(uploadBytes / MB).toFixed(2)} MB`,
      deployedDependencies: `${runtime.files} files, ${(runtime.bytes / MB).toFixed(1)} MB`,
    };
    console.log(`deployment package: ${JSON.stringify(report)}`);
    expect(files.length).toBeLessThanOrEqual(BUDGET.uploadFiles);
    expect(uploadBytes / MB).toBeLessThanOrEqual(BUDGET.uploadMB);
    expect(runtime.files).toBeGreaterThan(0);
    expect(runtime.bytes / MB).toBeLessThanOrEqual(BUDGET.runtimeMB);
  });

  describe('packaged handlers against Azurite and the Graph emulator', () => {
    let h: Harness;
    let fn: PackagedFunctions;
    const saved = { ...process.env };
    const queueName = `q-package-${Date.now().toString(36)}`;
    let n = 0;

    const handler = (file: string, name: string): Handler => {
      const mod = modules[`dist/functions/${file}.js`];
      expect(mod, `dist/functions/${file}.js loaded`).toBeDefined();
      return mod![name] as Handler;
    };
    const invocation = (functionName: string, triggerMetadata?: Record<string, unknown>) =>
      new fn.InvocationContext({
        invocationId: `${functionName}-${++n}`,
        functionName,
        ...(triggerMetadata ? { triggerMetadata } : {}),
        logHandler: () => undefined,
      });

    beforeAll(async () => {
      expect(Object.keys(modules).length).toBeGreaterThan(0);
      h = await startHarness({ label: 'package', tenant: { seed: 11, users: 2, teams: 1, historyDays: 3, endMs: Date.now() - 2 * HOUR } });
      // The packaged app reads its settings from the process environment, as in Azure.
      Object.assign(process.env, h.env, { EXPORT_QUEUE: queueName, ...PLATFORM_AUTH_ENV });
      fn = createRequire(join(dir, 'package.json'))('@azure/functions') as PackagedFunctions;
    }, LONG);

    afterAll(async () => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await h?.close();
    });

    it(
      'a backfill started over HTTP is run by the queue worker and reported by GET /api/runs',
      async () => {
        const user = h.emulator.tenant.users.find((u) => u.hasTeamsData)!;
        const body = JSON.stringify({ from: iso(Date.now() - 5 * 24 * HOUR), to: iso(Date.now() - HOUR), users: [user.id] });
        const started = (await handler('start-backfill', 'startBackfill')(
          new fn.HttpRequest({
            method: 'POST',
            url: 'http://localhost/api/backfills',
            body: { string: body },
            headers: { 'content-type': 'application/json', ...principalHeaders({ roles: ['Archive.Operate'] }) },
          }),
          invocation('startBackfill'),
        )) as { status: number; jsonBody: { runId: string } };
        expect(started.status).toBe(202);

        const queue = QueueServiceClient.fromConnectionString(h.env.EXPORT_STORAGE as string).getQueueClient(queueName);
        // The backfill queued its planning message; the worker plans it, which queues the user's job.
        for (const expected of ['the planning message the backfill queued', 'the job message the planning queued']) {
          const {
            receivedMessageItems: [message],
          } = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 120 });
          expect(message, expected).toBeDefined();
          await handler('export-worker', 'exportWorker')(
            decode(message!.messageText),
            invocation('exportWorker', { dequeueCount: 1, id: message!.messageId }),
          );
          await queue.deleteMessage(message!.messageId, message!.popReceipt);
        }

        const runs = (await handler('list-runs', 'listRuns')(
          new fn.HttpRequest({ method: 'GET', url: 'http://localhost/api/runs', headers: principalHeaders({ roles: ['Archive.Read'] }) }),
          invocation('listRuns'),
        )) as {
          status: number;
          jsonBody: { runs: Array<{ runId: string; status: string }> };
        };
        expect(runs.status).toBe(200);
        expect(runs.jsonBody.runs).toEqual([expect.objectContaining({ runId: started.jsonBody.runId, status: 'succeeded' })]);
        expect(await h.archivedKeys({ kind: 'user', id: user.id })).not.toEqual([]);
      },
      LONG,
    );
  });
});
