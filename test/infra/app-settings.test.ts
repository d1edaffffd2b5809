// The Bicep's app settings and the settings schema must agree: what the app reads in Azure is set (or
// deliberately left to its default, below), and the Bicep sets nothing the app or the host ignores.
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../src/settings';
import { bicepAppSettingNames, compareSettings, readRepoFile } from './infra-text';

/**
 * Schema settings the Bicep does not set on purpose, each with the reason. Adding a setting to
 * src/settings.ts fails the check below until it is set in infra/app/function-app.bicep or added here.
 */
const LEFT_TO_DEFAULTS: readonly string[] = [
  // The public cloud's authority is the default; sovereign clouds set it by hand with GRAPH_BASE_URL.
  'AZURE_AUTHORITY_HOST',
  // Tuning knobs whose defaults are right for Graph's export APIs (docs/settings.md §2).
  'GRAPH_PAGE_SIZE',
  'GRAPH_REQUEST_TIMEOUT',
  'GRAPH_MAX_RETRIES',
  'GRAPH_FILTER_MAX_CLAUSES',
  'GRAPH_HOSTED_CONTENT_RPS',
  'GRAPH_FILE_DOWNLOAD_RPS',
  // Content download caps: the defaults keep a Flex instance's jobs within its memory (docs/design.md §14).
  'EXPORT_CONTENT_CONCURRENCY',
  'EXPORT_CONTENT_PROCESS_CONCURRENCY',
  // The content stage's retries (docs/design.md §17): six attempts over about 31 hours suit Graph's outages.
  'EXPORT_CONTENT_MAX_ATTEMPTS',
  'EXPORT_CONTENT_RETRY',
  // Connection strings: the deployment uses identity-based connections (EXPORT_STORAGE__*,
  // AzureWebJobsStorage__*) and the storage accounts refuse shared keys.
  'EXPORT_STORAGE',
  'AzureWebJobsStorage',
  // The default table names are fine in a dedicated storage account.
  'EXPORT_TABLE_PREFIX',
  // Export windows: the defaults implement the product's guarantees (docs/design.md §4).
  'EXPORT_LAG',
  'EXPORT_SETTLE',
  'EXPORT_CHUNK',
  // Used by the single-process CLI run only; in Functions the queue (host.json batchSize) sets concurrency.
  'EXPORT_CONCURRENCY',
  // Per-entity read parallelism: the default suits Graph's limits; the instance budget caps it anyway.
  'EXPORT_READS_PER_ENTITY',
  // The process's memory budget for message data: the default suits a Flex instance (docs/design.md §14).
  'EXPORT_MEMORY_MB',
  // The job budget: the default (10 min) already stays well under Flex Consumption's kill windows.
  'EXPORT_JOB_BUDGET',
  // Set by the platform when App Service Authentication is on; a deployment must never set it itself.
  'WEBSITE_AUTH_ENABLED',
];

/**
 * Settings the Bicep sets that the app's schema does not read but the Functions host does: the
 * queue triggers' connection EXPORT_STORAGE takes its credential type from EXPORT_STORAGE__credential.
 */
const HOST_CONNECTION_SETTINGS: readonly string[] = ['EXPORT_STORAGE__credential'];

const functionAppBicep = readRepoFile('infra/app/function-app.bicep');

describe('Function App settings in the Bicep', () => {
  it('reads setting names from the marked block of the Bicep', () => {
    const names = bicepAppSettingNames(functionAppBicep);
    expect(names).toContain('GRAPH_INSTANCES');
    expect(names).toContain('AzureWebJobsStorage__credential');
    expect(new Set(names).size).toBe(names.length);
  });

  it('sets every setting of the schema, or leaves it to its default on purpose', () => {
    const result = compareSettings(bicepAppSettingNames(functionAppBicep), SETTING_NAMES, LEFT_TO_DEFAULTS, HOST_CONNECTION_SETTINGS);
    expect(result.notSetByBicep).toEqual([]);
  });

  it('sets no setting that neither the schema nor the Functions host knows', () => {
    const result = compareSettings(bicepAppSettingNames(functionAppBicep), SETTING_NAMES, LEFT_TO_DEFAULTS, HOST_CONNECTION_SETTINGS);
    expect(result.unknownToSchema).toEqual([]);
  });

  it('keeps the left-to-defaults list to real, unset schema settings', () => {
    const result = compareSettings(bicepAppSettingNames(functionAppBicep), SETTING_NAMES, LEFT_TO_DEFAULTS, HOST_CONNECTION_SETTINGS);
    expect(result.staleAllowList).toEqual([]);
  });

  it('fails when a setting is added to the Bicep only', () => {
    const edited = functionAppBicep.replace('  LOG_LEVEL: logLevel\n', "  LOG_LEVEL: logLevel\n  EXPORT_SHINY_NEW: 'x'\n");
    expect(edited).not.toBe(functionAppBicep);
    const result = compareSettings(bicepAppSettingNames(edited), SETTING_NAMES, LEFT_TO_DEFAULTS, HOST_CONNECTION_SETTINGS);
    expect(result.unknownToSchema).toEqual(['EXPORT_SHINY_NEW']);
  });

  it('fails when a setting is added to the schema only', () => {
    const result = compareSettings(
      bicepAppSettingNames(functionAppBicep),
      [...SETTING_NAMES, 'EXPORT_SHINY_NEW'],
      LEFT_TO_DEFAULTS,
      HOST_CONNECTION_SETTINGS,
    );
    expect(result.notSetByBicep).toEqual(['EXPORT_SHINY_NEW']);
  });

  it('derives GRAPH_INSTANCES from the maximum instance count (test/infra/graph-budget.test.ts checks the arithmetic)', () => {
    expect(functionAppBicep).toMatch(/^\s*GRAPH_INSTANCES:\s*string\(graphInstances\)\s*$/m);
    expect(functionAppBicep).toMatch(/^\s*maximumInstanceCount:\s*maximumInstanceCount\s*$/m);
  });

  it('sets every binding expression and queue connection the functions use', () => {
    const names = new Set(bicepAppSettingNames(functionAppBicep));
    const sources = ['daily-export', 'export-worker', 'export-poison'].map((f) => readRepoFile(`functions/${f}.ts`)).join('\n');
    const expressions = [...sources.matchAll(/%([A-Za-z_][A-Za-z0-9_]*)%/g)].map((m) => m[1]!);
    expect(expressions).toEqual(expect.arrayContaining(['EXPORT_SCHEDULE', 'EXPORT_QUEUE']));
    for (const name of expressions) expect(names, `%${name}% is resolved by the host from an app setting`).toContain(name);
    const connections = [...sources.matchAll(/connection:\s*'([^']+)'/g)].map((m) => m[1]!);
    expect(connections.length).toBeGreaterThan(0);
    for (const c of connections) {
      // An identity-based queue connection: the service URI, managed identity, and which identity.
      for (const suffix of ['__queueServiceUri', '__credential', '__clientId']) expect(names, `connection ${c}`).toContain(`${c}${suffix}`);
    }
  });

  it('uses identity-based host storage and never a connection string or account key', () => {
    const names = bicepAppSettingNames(functionAppBicep);
    expect(names).not.toContain('AzureWebJobsStorage');
    expect(names).not.toContain('EXPORT_STORAGE');
    expect(names).toEqual(
      expect.arrayContaining(['AzureWebJobsStorage__blobServiceUri', 'AzureWebJobsStorage__credential', 'AzureWebJobsStorage__clientId']),
    );
    expect(functionAppBicep).not.toMatch(/listKeys|AccountKey=/);
    // Flex Consumption takes the runtime from functionAppConfig and rejects these settings.
    expect(names).not.toContain('FUNCTIONS_WORKER_RUNTIME');
    expect(names).not.toContain('FUNCTIONS_EXTENSION_VERSION');
    expect(functionAppBicep).toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'22'\s*\}/);
  });
});
