// Every invalid setting stops the app at start-up with an error naming it, before any work: property
// tests over SETTING_NAMES with garbage values, through loadSettings and through the CLI's `run`
// (in-process for speed, and once as a real process), checking that no request reached Graph and
// no storage was created.
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';
import type { Emulator } from '../../emulator';
import { loadSettings, SettingsError, SETTING_NAMES, type Env } from '../../src/settings';
import { runCli } from '../support/cli-process';
import { startTestEmulator } from '../support/emulator';
import { testStorage } from '../support/storage';

/** Strings that are not numbers in range, not durations, URLs, instants, names... depending on the setting. */
const junk = fc.oneof(
  fc.constantFrom(
    'yes',
    'one day',
    '-1',
    'NaN',
    '1e999',
    '0x10',
    'P',
    'PT',
    'null',
    '{}',
    '../..',
    'http://x',
    'ftp://x',
    '🙂',
    'a b',
    '%00',
    '1,5',
    '30 days',
    'tomorrow',
  ),
  fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).filter((s) => s.trim().length > 0),
);

const notIn = (valid: (s: string) => boolean) => junk.filter((s) => !valid(s));
const isNumberIn = (min: number, max: number) => (s: string) => /^\s*\d+(\.\d+)?\s*$/.test(s) && Number(s) >= min && Number(s) <= max;
const isDuration = (s: string) =>
  /^P(?!$)(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/i.test(s.trim());
const isHttps = (s: string) => {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
};
const isUrl = (s: string) => {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
};

const notBoolean = junk.filter((s) => !['true', 'false', '1', '0', 'yes', 'no'].includes(s.trim().toLowerCase()));

/**
 * A generator of invalid values for every setting that has a rule. Settings that accept any non-empty
 * text (ids, a secret, id lists) have none; both lists together must name every setting.
 */
const INVALID: Record<string, fc.Arbitrary<string>> = {
  AZURE_AUTHORITY_HOST: notIn(isHttps),
  GRAPH_BASE_URL: notIn(isHttps),
  GRAPH_MAX_RPS: fc.oneof(notIn(isNumberIn(0.1, 10_000)), fc.constantFrom('0', '10001', '0.01')),
  GRAPH_INSTANCES: fc.oneof(notIn(isNumberIn(1, 1200)), fc.constantFrom('0', '1201')),
  GRAPH_PAGE_SIZE: fc.oneof(notIn(isNumberIn(1, 999)), fc.constantFrom('0', '1000')),
  GRAPH_REQUEST_TIMEOUT: fc.oneof(notIn(isDuration), fc.constantFrom('PT0S', 'PT0.5S')),
  GRAPH_MAX_RETRIES: fc.oneof(notIn(isNumberIn(0, 50)), fc.constantFrom('51')),
  GRAPH_FILTER_MAX_CLAUSES: fc.oneof(notIn(isNumberIn(1, 200)), fc.constantFrom('0', '201')),
  EXPORT_STORAGE: junk.filter((s) => !/AccountName=|BlobEndpoint=|SharedAccessSignature=/i.test(s) && s !== 'UseDevelopmentStorage=true'),
  AzureWebJobsStorage: junk.filter(
    (s) => !/AccountName=|BlobEndpoint=|SharedAccessSignature=/i.test(s) && s !== 'UseDevelopmentStorage=true',
  ),
  EXPORT_STORAGE__blobServiceUri: notIn(isUrl),
  EXPORT_STORAGE__tableServiceUri: notIn(isUrl),
  EXPORT_STORAGE__queueServiceUri: notIn(isUrl),
  EXPORT_CONTAINER: fc
    .oneof(junk, fc.constantFrom('A', 'ab', 'UPPER', 'a--b', '-ab', 'x'.repeat(64)))
    .filter((s) => !/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(s)),
  EXPORT_TABLE_PREFIX: fc.oneof(junk, fc.constantFrom('1abc', 'a-b', 'a'.repeat(42))).filter((s) => !/^[A-Za-z][A-Za-z0-9]{0,40}$/.test(s)),
  EXPORT_QUEUE: fc
    .oneof(junk, fc.constantFrom('Q', 'a--b', 'x'.repeat(59)))
    .filter((s) => !/^[a-z0-9](?!.*--)[a-z0-9-]{1,56}[a-z0-9]$/.test(s)),
  EXPORT_SCHEDULE: fc.oneof(junk, fc.constantFrom('0 30 2 * *', 'every day at 2', '* * * * * * *', '0 30 2 * * !')),
  EXPORT_LAG: notIn(isDuration),
  EXPORT_SETTLE: notIn(isDuration),
  EXPORT_CHUNK: fc.oneof(
    notIn(isDuration).filter((s) => s.trim().toLowerCase() !== 'none'),
    fc.constantFrom('PT30S', 'PT0S'),
  ),
  EXPORT_JOB_BUDGET: fc.oneof(notIn(isDuration), fc.constantFrom('PT0.5S', 'PT0S')),
  EXPORT_START: junk.filter((s) => !/^\d{4}-\d{2}-\d{2}/.test(s)),
  EXPORT_CONCURRENCY: fc.oneof(notIn(isNumberIn(1, 1000)), fc.constantFrom('0', '1001')),
  EXPORT_READS_PER_ENTITY: fc.oneof(notIn(isNumberIn(1, 32)), fc.constantFrom('0', '33')),
  EXPORT_MEMORY_MB: fc.oneof(notIn(isNumberIn(1, 65536)), fc.constantFrom('0', '65537', '1.5')),
  EXPORT_USERS: junk.filter((s) => s !== 'all' && s !== 'none'),
  EXPORT_TEAMS: junk.filter((s) => s !== 'all' && s !== 'none'),
  LOG_LEVEL: junk.filter((s) => !['debug', 'info', 'warn', 'error'].includes(s)),
  GRAPH_HOSTED_CONTENT_RPS: fc.oneof(notIn(isNumberIn(0.01, 1000)), fc.constantFrom('0', '1001')),
  GRAPH_FILE_DOWNLOAD_RPS: fc.oneof(notIn(isNumberIn(0.01, 1000)), fc.constantFrom('0', '1001')),
  EXPORT_CHAT_MODE: junk.filter((s) => s !== 'custodian' && s !== 'sender'),
  EXPORT_HOSTED_CONTENTS: notBoolean,
  EXPORT_ATTACHMENTS: notBoolean,
  EXPORT_CONTENT_CONCURRENCY: fc.oneof(notIn(isNumberIn(1, 64)), fc.constantFrom('0', '65', '1.5')),
  EXPORT_CONTENT_PROCESS_CONCURRENCY: fc.oneof(notIn(isNumberIn(1, 256)), fc.constantFrom('0', '257', '2.5')),
  EXPORT_CONTENT_MAX_ATTEMPTS: fc.oneof(notIn(isNumberIn(1, 50)), fc.constantFrom('0', '51', '1.5')),
  EXPORT_CONTENT_RETRY: fc.oneof(notIn(isDuration), fc.constantFrom('PT0.5S', 'PT0S')),
  EXPORT_CONTENT_QUEUE: fc
    .oneof(junk, fc.constantFrom('Q', 'a--b', 'x'.repeat(59)))
    .filter((s) => !/^[a-z0-9](?!.*--)[a-z0-9-]{1,56}[a-z0-9]$/.test(s)),
  EXPORT_RETAINED: notBoolean,
  EXPORT_COPILOT: notBoolean,
  EXPORT_MEETINGS: notBoolean,
  EXPORT_RECORDING_MAX_BYTES: fc.oneof(notIn(isNumberIn(1024, 1024 ** 4)), fc.constantFrom('1023', '1.5', String(1024 ** 4 + 1))),
  GRAPH_COPILOT_RPS: fc.oneof(notIn(isNumberIn(0.01, 1000)), fc.constantFrom('0', '1001')),
  GRAPH_MEETING_RPS: fc.oneof(notIn(isNumberIn(0.01, 1000)), fc.constantFrom('0', '1001')),
  EXPORT_DELETED_TEAMS: notBoolean,
  HTTP_AUTH: junk.filter((s) => s !== 'entra' && s !== 'function-keys'),
};
const FREE_TEXT = [
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_SECRET',
  'EXPORT_STORAGE__clientId',
  'EXPORT_INCLUDE_USERS',
  'EXPORT_EXCLUDE_USERS',
  'EXPORT_INCLUDE_TEAMS',
  'EXPORT_EXCLUDE_TEAMS',
  // The platform's flag: `True` (any case) means App Service Authentication is on, anything else off.
  'WEBSITE_AUTH_ENABLED',
];

/** A case: the base env with one setting set to garbage (AzureWebJobsStorage only counts without EXPORT_STORAGE). */
const invalidCase = fc.constantFrom(...Object.keys(INVALID)).chain((name) => INVALID[name]!.map((value) => ({ name, value })));

function envWith(base: Env, name: string, value: string): Env {
  const env: Env = { ...base, [name]: value };
  if (name === 'AzureWebJobsStorage') delete env.EXPORT_STORAGE;
  return env;
}

describe('invalid settings', () => {
  let emulator: Emulator;
  let base: Env;
  beforeAll(async () => {
    emulator = await startTestEmulator({ tenant: { seed: 121, users: 2, teams: 1, historyDays: 2 } });
    const storage = testStorage('sec-settings');
    base = {
      AZURE_TENANT_ID: emulator.tenantId,
      AZURE_CLIENT_ID: emulator.clientId,
      AZURE_CLIENT_SECRET: emulator.clientSecret,
      AZURE_AUTHORITY_HOST: emulator.authorityHost,
      GRAPH_BASE_URL: emulator.graphBaseUrl,
      EXPORT_STORAGE: storage.connectionString,
      EXPORT_CONTAINER: storage.container,
      EXPORT_TABLE_PREFIX: storage.tablePrefix,
    };
  });
  afterAll(() => emulator?.close());

  it('every setting is either checked here or documented as free text', () => {
    expect([...Object.keys(INVALID), ...FREE_TEXT].sort()).toEqual([...SETTING_NAMES].sort());
    expect(() => loadSettings(base)).not.toThrow();
  });

  it('loadSettings names any setting with a garbage value', () => {
    fc.assert(
      fc.property(invalidCase, ({ name, value }) => {
        let err: unknown;
        try {
          loadSettings(envWith(base, name, value));
        } catch (e) {
          err = e;
        }
        expect(err, `${name}=${JSON.stringify(value)} was accepted`).toBeInstanceOf(SettingsError);
        expect(
          (err as SettingsError).problems.some((p) => p.startsWith(name)),
          (err as SettingsError).message,
        ).toBe(true);
      }),
      { numRuns: 600 },
    );
  });

  it('the CLI exits 2 with one line naming the setting, before any request to Graph or storage', async () => {
    const container = BlobServiceClient.fromConnectionString(base.EXPORT_STORAGE as string).getContainerClient(
      base.EXPORT_CONTAINER as string,
    );
    await fc.assert(
      fc.asyncProperty(invalidCase, async ({ name, value }) => {
        const stderr = new PassThrough();
        let text = '';
        stderr.on('data', (d) => (text += String(d)));
        const code = await main(['run'], {
          env: envWith(base, name, value),
          stdout: new PassThrough(),
          stderr: stderr as unknown as NodeJS.WriteStream,
        });
        expect(code, `${name}=${JSON.stringify(value)}`).toBe(2);
        expect(text).toContain(name);
        expect(text.trim().split('\n')).toHaveLength(1);
      }),
      { numRuns: 120 },
    );
    expect(emulator.counters.requests).toBe(0);
    expect(await container.exists()).toBe(false);
  });

  it('as a real process too: exit 2 naming the setting, and Graph sees nothing', async () => {
    const r = await runCli(['run'], { ...(base as Record<string, string>), EXPORT_SCHEDULE: 'every night' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/EXPORT_SCHEDULE/);
    expect(emulator.counters.requests).toBe(0);
  });
});
