// The per-tenant Graph budget (GRAPH_MAX_RPS) must hold for the whole app however far Flex Consumption
// scales it. Flex scales per function group and caps each group at maximumInstanceCount, so the app can
// run (groups × maximumInstanceCount) processes, each with its own token bucket of
// GRAPH_MAX_RPS / GRAPH_INSTANCES (docs/deploy.md, "Graph budget").
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/settings';
import { APP_FUNCTIONS, captureRegistrations, functionGroups, type RegisteredFunction } from '../support/function-registrations';
import { bicepParams, bicepVar, paramLimit, readRepoFile, ROOT } from './infra-text';

const functionAppBicep = readRepoFile('infra/app/function-app.bicep');
const maxInstancesParam = bicepParams(readRepoFile('infra/resources.bicep')).find((p) => p.name === 'maximumInstanceCount')!;
const MAX_RPS = 150;

/** The groups listed in function-app.bicep (`var functionScaleGroups = ['http', …]`). */
const bicepGroups = [...bicepVar(functionAppBicep, 'functionScaleGroups').matchAll(/'([^']+)'/g)].map((m) => m[1]!).sort();

/** What the Bicep sets: GRAPH_INSTANCES = maximumInstanceCount × number of scale groups. */
const graphInstances = (maximumInstanceCount: number) => maximumInstanceCount * bicepGroups.length;

/** The most requests per second the whole app can send: every instance of every group at its share. */
function worstCaseAppRps(maximumInstanceCount: number, graphInstancesSetting: number): number {
  const settings = loadSettings({
    EXPORT_STORAGE: 'UseDevelopmentStorage=true',
    GRAPH_MAX_RPS: String(MAX_RPS),
    GRAPH_INSTANCES: String(graphInstancesSetting),
  });
  return bicepGroups.length * maximumInstanceCount * settings.graph.processRps;
}

let registered: RegisteredFunction[] = [];

/** Every function file: a new function is a new scale group (unless HTTP), whoever adds it. */
const functionFiles = readdirSync(join(ROOT, 'functions'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => join(ROOT, 'functions', f));

beforeAll(async () => {
  ({ registered } = await captureRegistrations(() => Promise.all(functionFiles.map((f) => import(f)))));
});

describe('Graph budget over Flex Consumption scale groups', () => {
  it('counts every scale group of the functions the app registers', () => {
    expect(registered.map((r) => r.name).sort()).toEqual([...APP_FUNCTIONS]);
    expect(bicepGroups).toEqual(functionGroups(registered));
    expect(bicepGroups).toEqual(['contentWorker', 'dailyExport', 'exportPoison', 'exportWorker', 'http', 'sweepStuck']);
  });

  it('sets GRAPH_INSTANCES to maximumInstanceCount times the number of groups, with no always-ready instances', () => {
    expect(bicepVar(functionAppBicep, 'graphInstances')).toBe('maximumInstanceCount * length(functionScaleGroups)');
    expect(functionAppBicep).toMatch(/^\s*GRAPH_INSTANCES: string\(graphInstances\)$/m);
    // Always-ready instances do not count against maximumInstanceCount: they would break the sum.
    expect(functionAppBicep).not.toMatch(/alwaysReady/);
  });

  it('defaults maximumInstanceCount to 40, a maximum every Flex Consumption region accepts', () => {
    expect(maxInstancesParam.defaultText).toBe('40');
    expect(readRepoFile('infra/main.bicep')).toMatch(/^param maximumInstanceCount int = 40$/m);
    expect(readRepoFile('infra/main.parameters.json')).toContain('"${TEAMS_EXPORT_MAX_INSTANCES=40}"');
  });

  it.each([1, 40, 100, 200])('holds GRAPH_MAX_RPS with every group at %i instances', (max) => {
    expect(worstCaseAppRps(max, graphInstances(max))).toBeLessThanOrEqual(MAX_RPS + 1e-9);
  });

  it('keeps GRAPH_INSTANCES within what the app accepts, up to the largest maximumInstanceCount allowed', () => {
    const largest = paramLimit(maxInstancesParam, 'maxValue')!;
    expect(largest).toBe(200);
    expect(graphInstances(largest)).toBe(1200);
    // loadSettings throws (naming GRAPH_INSTANCES) above its limit: the app would not start.
    expect(() => worstCaseAppRps(largest, graphInstances(largest))).not.toThrow();
    expect(() => worstCaseAppRps(largest, graphInstances(largest) + 1)).toThrow(/GRAPH_INSTANCES/);
  });

  it("shows why GRAPH_INSTANCES = maximumInstanceCount was wrong: one group's count lets the app send groups × the budget", () => {
    expect(worstCaseAppRps(40, 40)).toBeCloseTo(bicepGroups.length * MAX_RPS);
    expect(worstCaseAppRps(40, 40)).toBeGreaterThan(MAX_RPS);
  });
});
