// The settings schema, the README's settings table and local.settings.example.json list the same settings.
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../src/settings';
import { difference, isHostSetting, localSettingsNames, readmeSettingNames, readRepoFile } from './infra-text';

const readmeNames = readmeSettingNames(readRepoFile('README.md'));
const exampleNames = localSettingsNames(readRepoFile('local.settings.example.json')).filter((n) => !isHostSetting(n));

describe('settings lists', () => {
  it('reads the README table and the example file', () => {
    expect(readmeNames).toContain('GRAPH_MAX_RPS');
    expect(exampleNames).toContain('GRAPH_MAX_RPS');
  });

  it('documents every schema setting in the README table, and nothing else', () => {
    expect({ missingFromReadme: difference(SETTING_NAMES, readmeNames), unknownInReadme: difference(readmeNames, SETTING_NAMES) }).toEqual({
      missingFromReadme: [],
      unknownInReadme: [],
    });
  });

  it('lists every schema setting in local.settings.example.json, and nothing else but host settings', () => {
    expect({ missingFromExample: difference(SETTING_NAMES, exampleNames), unknownInExample: difference(exampleNames, SETTING_NAMES) }).toEqual({
      missingFromExample: [],
      unknownInExample: [],
    });
  });

  it('notices a setting added on one side only', () => {
    const readme = readRepoFile('README.md').replace('| `LOG_LEVEL` |', '| `LOG_LEVEL`, `EXPORT_SHINY_NEW` |');
    expect(difference(readmeSettingNames(readme), SETTING_NAMES)).toEqual(['EXPORT_SHINY_NEW']);
    expect(difference([...SETTING_NAMES, 'EXPORT_SHINY_NEW'], readmeNames)).toEqual(['EXPORT_SHINY_NEW']);
    const example = JSON.parse(readRepoFile('local.settings.example.json')) as { Values: Record<string, string> };
    example.Values.EXPORT_SHINY_NEW = '';
    expect(difference(localSettingsNames(JSON.stringify(example)).filter((n) => !isHostSetting(n)), SETTING_NAMES)).toEqual(['EXPORT_SHINY_NEW']);
  });
});
