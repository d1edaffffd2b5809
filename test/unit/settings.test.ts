import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_STORAGE, httpAuthLevelOf, loadSettings, SettingsError } from '../../src/settings';

const minimal = { EXPORT_STORAGE: 'UseDevelopmentStorage=true' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadSettings(env);
  } catch (err) {
    if (err instanceof SettingsError) return err.problems;
    throw err;
  }
  throw new Error('expected SettingsError');
}

describe('loadSettings', () => {
  it('applies documented defaults', () => {
    const s = loadSettings(minimal);
    expect(s.graph.baseUrl).toBe('https://graph.microsoft.com/v1.0');
    expect(s.graph.scope).toBe('https://graph.microsoft.com/.default');
    expect(s.graph.credential).toEqual({ kind: 'managedIdentity' });
    expect(s.lagMs).toBe(5 * 60_000);
    expect(s.settleMs).toBe(24 * 3600_000);
    expect(s.container).toBe('teams-export');
    expect(s.storage).toEqual({ kind: 'connectionString', connectionString: DEVELOPMENT_STORAGE });
  });

  it('derives the token scope from GRAPH_BASE_URL so sovereign clouds and the emulator work', () => {
    const s = loadSettings({ ...minimal, GRAPH_BASE_URL: 'https://graph.microsoft.us/v1.0/' });
    expect(s.graph.baseUrl).toBe('https://graph.microsoft.us/v1.0');
    expect(s.graph.scope).toBe('https://graph.microsoft.us/.default');
  });

  it('uses a client secret credential when AZURE_CLIENT_SECRET is set', () => {
    const s = loadSettings({
      ...minimal,
      AZURE_TENANT_ID: 't',
      AZURE_CLIENT_ID: 'c',
      AZURE_CLIENT_SECRET: 'x',
      AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1',
    });
    expect(s.graph.credential).toMatchObject({ kind: 'clientSecret', tenantId: 't', clientId: 'c', authorityHost: 'https://127.0.0.1:1' });
  });

  it.each([
    ['EXPORT_LAG', 'five minutes'],
    ['EXPORT_SETTLE', '24h'],
    ['EXPORT_START', 'yesterday'],
    ['EXPORT_START', '2024-01-01T00:00:00'],
    ['GRAPH_MAX_RPS', '-3'],
    ['GRAPH_MAX_RPS', 'fast'],
    ['GRAPH_BASE_URL', 'http://graph.microsoft.com/v1.0'],
    ['GRAPH_BASE_URL', 'not a url'],
    ['EXPORT_CONTAINER', 'Bad_Name'],
    ['LOG_LEVEL', 'loud'],
  ])('names %s when it is invalid (%s)', (name, value) => {
    const problems = problemsOf({ ...minimal, [name]: value });
    expect(problems.some((p) => p.startsWith(name))).toBe(true);
  });

  it.each([
    ['GRAPH_PAGE_SIZE', '0.1'],
    ['GRAPH_PAGE_SIZE', '50.5'],
    ['GRAPH_INSTANCES', '1.5'],
    ['GRAPH_MAX_RETRIES', '2.25'],
    ['EXPORT_CONCURRENCY', '0.1'],
    ['EXPORT_READS_PER_ENTITY', '1.0001'],
    ['EXPORT_MEMORY_MB', '64.5'],
  ])('refuses a fraction for the whole-number setting %s (%s), naming it', (name, value) => {
    const problems = problemsOf({ ...minimal, [name]: value });
    expect(problems.find((p) => p.startsWith(name))).toMatch(/whole number/);
  });

  it('accepts a fraction where a rate is meant', () => {
    const s = loadSettings({ ...minimal, GRAPH_MAX_RPS: '0.5', GRAPH_HOSTED_CONTENT_RPS: '0.25' });
    expect(s.graph.processRps).toBe(0.5);
    expect(s.graph.hostedContentRps).toBe(0.25);
  });

  it('names every bad setting at once', () => {
    const problems = problemsOf({ ...minimal, EXPORT_LAG: 'x', GRAPH_PAGE_SIZE: '0' });
    expect(problems.join('\n')).toMatch(/EXPORT_LAG/);
    expect(problems.join('\n')).toMatch(/GRAPH_PAGE_SIZE/);
  });

  it('requires storage, naming the setting', () => {
    expect(problemsOf({}).join('\n')).toMatch(/EXPORT_STORAGE is required/);
  });

  it('requires tenant and client ids with a client secret', () => {
    const p = problemsOf({ ...minimal, AZURE_CLIENT_SECRET: 's' }).join('\n');
    expect(p).toMatch(/AZURE_TENANT_ID/);
    expect(p).toMatch(/AZURE_CLIENT_ID/);
  });

  it('refuses a lag that is not shorter than the settle period', () => {
    expect(problemsOf({ ...minimal, EXPORT_LAG: 'P2D' }).join('\n')).toMatch(/EXPORT_LAG must be shorter than EXPORT_SETTLE/);
  });

  it('falls back to AzureWebJobsStorage and accepts identity-based storage', () => {
    expect(loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).storage.kind).toBe('connectionString');
    const s = loadSettings({
      EXPORT_STORAGE__blobServiceUri: 'https://acct.blob.core.windows.net',
      EXPORT_STORAGE__tableServiceUri: 'https://acct.table.core.windows.net',
    });
    expect(s.storage).toMatchObject({ kind: 'identity', blobServiceUri: 'https://acct.blob.core.windows.net' });
  });

  it('treats empty values as unset so defaults apply', () => {
    expect(loadSettings({ ...minimal, EXPORT_LAG: '' }).lagMs).toBe(5 * 60_000);
  });

  it('parses include/exclude lists case-insensitively', () => {
    const s = loadSettings({ ...minimal, EXPORT_EXCLUDE_USERS: 'A@x.com, b@x.com;C' });
    expect(s.entities.excludeUsers).toEqual(['a@x.com', 'b@x.com', 'c']);
  });

  it('signs callers in with Entra by default; keys only when HTTP_AUTH says so, and the platform flag only when it says True', () => {
    expect(loadSettings(minimal).http).toEqual({ auth: 'entra', platformAuthEnabled: false });
    expect(loadSettings({ ...minimal, WEBSITE_AUTH_ENABLED: 'True' }).http).toEqual({ auth: 'entra', platformAuthEnabled: true });
    for (const off of ['False', 'yes', '1', ' '])
      expect(loadSettings({ ...minimal, WEBSITE_AUTH_ENABLED: off }).http.platformAuthEnabled, off).toBe(false);
    expect(loadSettings({ ...minimal, HTTP_AUTH: 'function-keys' }).http.auth).toBe('function-keys');
    expect(problemsOf({ ...minimal, HTTP_AUTH: 'keys' })).toEqual(['HTTP_AUTH must be entra or function-keys']);
    expect([httpAuthLevelOf({}), httpAuthLevelOf({ HTTP_AUTH: 'entra' }), httpAuthLevelOf({ HTTP_AUTH: '' })]).toEqual([
      'anonymous',
      'anonymous',
      'anonymous',
    ]);
    expect([httpAuthLevelOf({ HTTP_AUTH: 'function-keys' }), httpAuthLevelOf({ HTTP_AUTH: 'Entra' })]).toEqual(['function', 'function']);
  });
});
