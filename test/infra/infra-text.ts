// Plain-text readers for the infra checks: app setting names from the Bicep, role assignments and
// local.settings.example.json (docs-text.ts reads the docs). No Bicep compiler: the Bicep files keep the
// shapes these readers expect (marked blocks, one `KEY: value` per line), and the tests say so when not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/**
 * Names that are Functions host or platform settings, not the app's (never in src/settings.ts).
 * OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID is App Service Authentication's: the managed identity it signs in with.
 */
export function isHostSetting(name: string): boolean {
  return (
    /^(AzureWebJobsStorage__|FUNCTIONS_|APPLICATIONINSIGHTS_|WEBSITE_)/.test(name) || name === 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
  );
}

/**
 * The app setting names set between `// app-settings:begin` and `// app-settings:end`: every
 * `NAME: value` line of the object literals there (comments and `var` lines skipped).
 */
export function bicepAppSettingNames(bicep: string): string[] {
  const begin = bicep.indexOf('// app-settings:begin');
  const end = bicep.indexOf('// app-settings:end');
  if (begin < 0 || end < begin) throw new Error('the app-settings:begin/end markers are missing from the Bicep');
  const names: string[] = [];
  for (const raw of bicep.slice(begin, end).split('\n').slice(1)) {
    const line = raw.trim();
    if (line.startsWith('//') || line.startsWith('var ')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*\S/.exec(line);
    if (m) names.push(m[1]!);
  }
  return names;
}

export interface SettingsComparison {
  /** Schema settings neither set by the Bicep nor allow-listed as left to defaults. */
  notSetByBicep: string[];
  /** Bicep settings that neither the schema nor the Functions host knows. */
  unknownToSchema: string[];
  /** Allow-list entries that are not schema settings, or that the Bicep sets after all. */
  staleAllowList: string[];
}

export function compareSettings(
  bicepNames: readonly string[],
  schemaNames: readonly string[],
  leftToDefaults: readonly string[],
  hostConnectionSettings: readonly string[],
): SettingsComparison {
  const bicep = new Set(bicepNames);
  const schema = new Set(schemaNames);
  const allowed = new Set(leftToDefaults);
  return {
    notSetByBicep: schemaNames.filter((n) => !bicep.has(n) && !allowed.has(n)),
    unknownToSchema: bicepNames.filter((n) => !schema.has(n) && !isHostSetting(n) && !hostConnectionSettings.includes(n)),
    staleAllowList: leftToDefaults.filter((n) => !schema.has(n) || bicep.has(n)),
  };
}

export interface RoleAssignment {
  resource: string;
  /** The `scope:` symbol, e.g. archiveStorage. */
  scope: string;
  /** The `roles.<name>` used in roleDefinitionId. */
  role: string;
  /** The principalId expression. */
  principal: string;
  /** The name expression (expected guid(scope.id, principal, role)). */
  name: string;
}

/** Every `resource x 'Microsoft.Authorization/roleAssignments@…'` block of a Bicep file. */
export function roleAssignments(bicep: string): RoleAssignment[] {
  const out: RoleAssignment[] = [];
  const re = /^resource (\w+) 'Microsoft\.Authorization\/roleAssignments@[\w-]+'[^\n]*\{\n([\s\S]*?)\n\}/gm;
  for (const m of bicep.matchAll(re)) {
    const body = m[2]!;
    out.push({
      resource: m[1]!,
      scope: /^\s*scope:\s*(\w+)/m.exec(body)?.[1] ?? '',
      role: /roleDefinitionId:[^\n]*roles\.(\w+)/.exec(body)?.[1] ?? '',
      principal: /^\s*principalId:\s*(\S+)/m.exec(body)?.[1] ?? '',
      name: /^\s*name:\s*(.+)$/m.exec(body)?.[1]?.trim() ?? '',
    });
  }
  return out;
}

/** The `Values` names of a local.settings.json-shaped document. */
export function localSettingsNames(json: string): string[] {
  const doc = JSON.parse(json) as { Values?: Record<string, unknown> };
  return Object.keys(doc.Values ?? {});
}

export function difference(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return a.filter((x) => !set.has(x));
}

export interface BicepParam {
  name: string;
  type: string;
  /** The default value as written, e.g. `40`, `'User'`, `false`; undefined when the param has none. */
  defaultText?: string;
  /** The decorator lines just above the param (`@minValue(1)`, `@description('…')`, …). */
  decorators: string[];
}

/** Every single-line `param name type [= default]` of a Bicep file, with the decorators just above it. */
export function bicepParams(bicep: string): BicepParam[] {
  const lines = bicep.split('\n');
  const out: BicepParam[] = [];
  lines.forEach((line, i) => {
    const m = /^param (\w+) (\w+)(?: = (.+))?$/.exec(line.trim());
    if (!m) return;
    const decorators: string[] = [];
    for (let j = i - 1; j >= 0 && lines[j]!.trim().startsWith('@'); j--) decorators.unshift(lines[j]!.trim());
    out.push({ name: m[1]!, type: m[2]!, ...(m[3] !== undefined ? { defaultText: m[3] } : {}), decorators });
  });
  return out;
}

/** A param's numeric decorator, e.g. `@maxValue(250)` → 250. */
export function paramLimit(param: BicepParam, decorator: 'minValue' | 'maxValue'): number | undefined {
  const d = param.decorators.find((x) => x.startsWith(`@${decorator}(`));
  return d === undefined ? undefined : Number(/\((-?\d+)\)/.exec(d)?.[1]);
}

/** The right-hand side of a single-line `var name = …`. */
export function bicepVar(bicep: string, name: string): string {
  const m = new RegExp(`^var ${name} = (.+)$`, 'm').exec(bicep);
  if (!m) throw new Error(`var ${name} is missing from the Bicep`);
  return m[1]!.trim();
}

/** The header and body of `resource|module <symbol> '…' = …{ … }`, up to the closing brace at the start of a line. */
export function bicepResource(bicep: string, symbol: string): { header: string; body: string } {
  const m = new RegExp(`^((?:resource|module) ${symbol} '[^']+' = [^\\n]*\\{)\\n([\\s\\S]*?)\\n\\}`, 'm').exec(bicep);
  if (!m) throw new Error(`resource or module ${symbol} is missing from the Bicep`);
  return { header: m[1]!, body: m[2]! };
}
