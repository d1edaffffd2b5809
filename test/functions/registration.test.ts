// Checks what every function file registers with the Functions host: trigger type, route, methods,
// auth level, queue name, connection and schedule setting, as the binding metadata the host receives.
// test/support/function-registrations.ts records each registerFunction call the way the worker's
// '@azure/functions-core' module receives it.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  APP_FUNCTIONS,
  captureRegistrations,
  triggerBinding,
  type Binding,
  type RegisteredFunction,
} from '../support/function-registrations';

const registered: RegisteredFunction[] = [];

const FILES: Record<string, () => Promise<Record<string, unknown>>> = {
  'daily-export': () => import('../../functions/daily-export'),
  'export-worker': () => import('../../functions/export-worker'),
  'export-poison': () => import('../../functions/export-poison'),
  'content-worker': () => import('../../functions/content-worker'),
  'start-backfill': () => import('../../functions/start-backfill'),
  'start-production': () => import('../../functions/start-production'),
  'get-production': () => import('../../functions/get-production'),
  'get-audit': () => import('../../functions/get-audit'),
  'get-run': () => import('../../functions/get-run'),
  'list-runs': () => import('../../functions/list-runs'),
  'list-exports': () => import('../../functions/list-exports'),
  'read-export': () => import('../../functions/read-export'),
  viewer: () => import('../../functions/viewer'),
  'sweep-stuck': () => import('../../functions/sweep-stuck'),
};

function triggerOf(name: string): Binding {
  const fn = registered.find((r) => r.name === name);
  expect(fn, `function ${name} registered`).toBeDefined();
  return triggerBinding(fn!);
}

const modules: Record<string, Record<string, unknown>> = {};

beforeAll(async () => {
  const captured = await captureRegistrations(async () => {
    for (const [f, load] of Object.entries(FILES)) modules[f] = await load();
  });
  registered.push(...captured.registered);
});

describe('function registration', () => {
  it('registers exactly the thirteen functions of the app', () => {
    expect(registered.map((r) => r.name).sort()).toEqual([...APP_FUNCTIONS]);
  });

  it('dailyExport is a timer on the EXPORT_SCHEDULE setting that does not run on start-up', () => {
    const t = triggerOf('dailyExport');
    expect(t.type).toBe('timerTrigger');
    expect(t.schedule).toBe('%EXPORT_SCHEDULE%');
    expect(t.runOnStartup).toBe(false);
    expect(t.useMonitor).toBe(true);
  });

  it('sweepStuck is a 15-minute timer that does not run on start-up', () => {
    const t = triggerOf('sweepStuck');
    expect(t.type).toBe('timerTrigger');
    expect(t.schedule).toBe('0 */15 * * * *');
    expect(t.runOnStartup).toBe(false);
  });

  it('exportWorker and exportPoison listen on the jobs queue and its poison queue through EXPORT_STORAGE', () => {
    const worker = triggerOf('exportWorker');
    expect(worker).toMatchObject({ type: 'queueTrigger', direction: 'in', queueName: '%EXPORT_QUEUE%', connection: 'EXPORT_STORAGE' });
    const poison = triggerOf('exportPoison');
    expect(poison).toMatchObject({
      type: 'queueTrigger',
      direction: 'in',
      queueName: '%EXPORT_QUEUE%-poison',
      connection: 'EXPORT_STORAGE',
    });
  });

  it('contentWorker listens on the content queue through EXPORT_STORAGE', () => {
    expect(triggerOf('contentWorker')).toMatchObject({
      type: 'queueTrigger',
      direction: 'in',
      queueName: '%EXPORT_CONTENT_QUEUE%',
      connection: 'EXPORT_STORAGE',
    });
  });

  it.each([
    ['startBackfill', 'backfills', ['POST']],
    ['getRun', 'runs/{runId}', ['GET']],
    ['startProduction', 'productions', ['POST']],
    ['getProduction', 'productions/{productionId}', ['GET']],
    ['listRuns', 'runs', ['GET']],
    ['listExports', 'exports', ['GET']],
    ['readExport', 'exports/{*path}', ['GET']],
    ['viewer', 'viewer/{*path}', ['GET']],
    ['getAudit', 'audit', ['GET']],
  ])('%s is an HTTP function on route %s for %j', (name, route, methods) => {
    const t = triggerOf(name);
    expect(t.type).toBe('httpTrigger');
    expect(t.route).toBe(route);
    expect(t.methods).toEqual(methods);
  });

  it('by default (HTTP_AUTH=entra) every HTTP function is anonymous to the host: App Service Authentication and the role checks stand in front', () => {
    expect(process.env.HTTP_AUTH).toBeUndefined();
    const http = registered.map((r) => triggerOf(r.name)).filter((t) => t.type === 'httpTrigger');
    expect(http).toHaveLength(9);
    for (const t of http) expect(t.authLevel).toBe('anonymous');
  });

  it('with HTTP_AUTH=function-keys every HTTP function needs a key, and an unknown value falls back to keys', async () => {
    for (const value of ['function-keys', 'Entra', 'none']) {
      vi.resetModules();
      process.env.HTTP_AUTH = value;
      try {
        // The host loads the files once, so a fresh load is read from the options each file registers.
        const levels: Record<string, unknown> = {};
        await captureRegistrations(async () => {
          for (const [file, load] of Object.entries(FILES)) {
            for (const [k, v] of Object.entries(await load()))
              if (k.endsWith('Options') && 'route' in (v as object)) levels[file] = (v as { authLevel: unknown }).authLevel;
          }
        });
        expect(Object.keys(levels), value).toHaveLength(9);
        for (const [file, level] of Object.entries(levels)) expect(level, `${file} with HTTP_AUTH=${value}`).toBe('function');
      } finally {
        delete process.env.HTTP_AUTH;
      }
    }
  });

  it('each file exports its handler and the options it registers', () => {
    const expected: Record<string, string> = {
      'daily-export': 'dailyExport',
      'export-worker': 'exportWorker',
      'export-poison': 'exportPoison',
      'start-backfill': 'startBackfill',
      'start-production': 'startProduction',
      'get-production': 'getProduction',
      'get-run': 'getRun',
      'list-runs': 'listRuns',
      'list-exports': 'listExports',
      'read-export': 'readExport',
      viewer: 'viewer',
      'get-audit': 'getAudit',
    };
    for (const [file, name] of Object.entries(expected)) {
      const mod = modules[file]!;
      expect(typeof mod[name], `${file} exports ${name}`).toBe('function');
      expect((mod[`${name}Options`] as { handler: unknown }).handler).toBe(mod[name]);
    }
  });
});
