// The settings schema (src/settings.ts), docs/settings.md and local.settings.example.json list the same
// settings with the same defaults, and no document names a setting the app does not have.
import { describe, expect, it } from 'vitest';
import { MALLOC_ENV } from '../../src/cli/malloc-env';
import { SETTING_NAMES, settingsSchema } from '../../src/settings';
import { docFiles, mentionedSettingNames, readText, tableRows, tableSettingNames } from './docs-text';
import { difference, isHostSetting, localSettingsNames } from './infra-text';

/**
 * Names the docs may use that the app's schema does not read, each with the reason. Everything
 * matching isHostSetting (FUNCTIONS_*, AzureWebJobsStorage__*, …) is allowed as well.
 */
const NOT_APP_SETTINGS: readonly string[] = [
  // Read by the Functions host for the queue triggers' identity-based connection (docs/settings.md §7).
  'EXPORT_STORAGE__credential',
  // Read by glibc when the worker starts (docs/settings.md §7, src/cli/malloc-env.ts).
  ...Object.keys(MALLOC_ENV),
];

/**
 * Schema settings that do not belong in local.settings.example.json, each with the reason. Every
 * other setting is listed there, so a local run can change any of them.
 */
const NOT_IN_EXAMPLE: readonly string[] = [
  // Set by the platform when App Service Authentication runs in front; a local file claiming it would make
  // the app trust client-principal headers anyone on the machine can send (docs/security.md).
  'WEBSITE_AUTH_ENABLED',
];

const isKnown = (name: string) => SETTING_NAMES.includes(name) || NOT_APP_SETTINGS.includes(name) || isHostSetting(name);
/** A mention like `EXPORT_STORAGE__` stands for a family of settings: known if the schema has one. */
const isKnownMention = (name: string) => (name.endsWith('__') ? SETTING_NAMES.some((s) => s.startsWith(name)) : isKnown(name));

const settingsDoc = readText('docs/settings.md');
const docNames = tableSettingNames(settingsDoc);
const exampleNames = localSettingsNames(readText('local.settings.example.json')).filter((n) => !isHostSetting(n));

/** The schema's value for a raw setting (undefined input = the default). */
function parsed(name: string, raw: string | undefined): unknown {
  const schema = settingsSchema.shape[name as keyof typeof settingsSchema.shape];
  return schema.parse(raw);
}

/** Settings whose backticked Default cell does not parse to the schema's own default. */
function wrongDefaults(markdown: string): string[] {
  const wrong: string[] = [];
  for (const row of tableRows(markdown)) {
    const m = /^`([^`]*)`$/.exec(row.second);
    for (const name of row.names) {
      if (!m || !SETTING_NAMES.includes(name)) continue;
      const def = parsed(name, undefined);
      // Optional settings have no schema default; their column names a fallback in words.
      if (def === undefined) continue;
      let documented: unknown;
      try {
        documented = parsed(name, m[1]);
      } catch {
        documented = `invalid: ${m[1]}`;
      }
      if (JSON.stringify(documented) !== JSON.stringify(def)) wrong.push(`${name}: docs say ${m[1]}`);
    }
  }
  return wrong;
}

describe('settings documentation', () => {
  it('reads the tables of docs/settings.md and the example file', () => {
    expect(docNames).toContain('GRAPH_MAX_RPS');
    expect(exampleNames).toContain('GRAPH_MAX_RPS');
  });

  it('documents every schema setting in docs/settings.md, and nothing the app or host does not read', () => {
    expect({ missingFromDocs: difference(SETTING_NAMES, docNames), unknownInDocs: docNames.filter((n) => !isKnown(n)) }).toEqual({
      missingFromDocs: [],
      unknownInDocs: [],
    });
  });

  it('gives the schema default wherever docs/settings.md shows one in backticks', () => {
    expect(wrongDefaults(settingsDoc)).toEqual([]);
  });

  it('lists every schema setting in local.settings.example.json, and nothing else but host settings', () => {
    const expected = difference(SETTING_NAMES, NOT_IN_EXAMPLE);
    expect({
      missingFromExample: difference(expected, exampleNames),
      unknownInExample: exampleNames.filter((n) => !SETTING_NAMES.includes(n)),
      listedButNotAllowed: NOT_IN_EXAMPLE.filter((n) => !SETTING_NAMES.includes(n) || exampleNames.includes(n)),
    }).toEqual({ missingFromExample: [], unknownInExample: [], listedButNotAllowed: [] });
  });

  it('names no setting that does not exist, in the README or anywhere in docs/', () => {
    const unknown = docFiles().flatMap((file) =>
      mentionedSettingNames(readText(file))
        .filter((n) => !isKnownMention(n))
        .map((n) => `${file}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('notices a setting added, removed or renamed on one side only', () => {
    const added = settingsDoc.replace('| `LOG_LEVEL` |', '| `LOG_LEVEL`, `EXPORT_SHINY_NEW` |');
    expect(tableSettingNames(added).filter((n) => !isKnown(n))).toEqual(['EXPORT_SHINY_NEW']);
    const removed = settingsDoc.replace(/^\| `EXPORT_CHUNK` \|.*$/m, '');
    expect(difference(SETTING_NAMES, tableSettingNames(removed))).toEqual(['EXPORT_CHUNK']);
    expect(mentionedSettingNames('set `EXPORT_CHUNKS=P1D` (or TEAMS_EXPORT_CHUNK)').filter((n) => !isKnownMention(n))).toEqual([
      'EXPORT_CHUNKS',
    ]);
    expect(mentionedSettingNames('`EXPORT_STORAGE__…`, `EXPORT_STORAGE__accountName`').filter((n) => !isKnownMention(n))).toEqual([
      'EXPORT_STORAGE__accountName',
    ]);
    const example = JSON.parse(readText('local.settings.example.json')) as { Values: Record<string, string> };
    example.Values.EXPORT_SHINY_NEW = '';
    expect(localSettingsNames(JSON.stringify(example)).filter((n) => !isHostSetting(n) && !SETTING_NAMES.includes(n))).toEqual([
      'EXPORT_SHINY_NEW',
    ]);
  });

  it('notices a documented default that differs from the schema', () => {
    const doctored = settingsDoc
      .replace('| `GRAPH_PAGE_SIZE` | `50` |', '| `GRAPH_PAGE_SIZE` | `100` |')
      .replace('| `EXPORT_LAG` | `PT5M` |', '| `EXPORT_LAG` | `5 minutes` |');
    expect(wrongDefaults(doctored)).toEqual(['GRAPH_PAGE_SIZE: docs say 100', 'EXPORT_LAG: docs say 5 minutes']);
  });
});
