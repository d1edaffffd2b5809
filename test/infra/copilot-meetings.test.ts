// Copilot interactions and meetings in the deployment (issue 23): a parameter switches each kind
// on (off by default) and reaches its app setting; the Copilot and meeting budgets are split over
// GRAPH_INSTANCES so all instances together stay under Graph's per-tenant limit; the Graph roles of a kind
// are assigned only when it is on; docs/deploy.md gives the roles, the access policy and the tenant
// setting (docs/deploy.md, "Copilot interactions and meetings"). Text checks, as in infra-text.ts.
import { describe, expect, it } from 'vitest';
import { loadSettings, settingsSchema } from '../../src/settings';
import { proseLines, repoFiles } from './docs-text';
import { bicepAppSettingNames, bicepParams, bicepResource, bicepVar, paramLimit, readRepoFile } from './infra-text';

const mainBicep = readRepoFile('infra/main.bicep');
const resourcesBicep = readRepoFile('infra/resources.bicep');
const functionAppBicep = readRepoFile('infra/app/function-app.bicep');
const deployDoc = readRepoFile('docs/deploy.md');
const cliDoc = readRepoFile('docs/cli.md');
const azdParameters = (JSON.parse(readRepoFile('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> })
  .parameters;

const param = (bicep: string, name: string) => bicepParams(bicep).find((p) => p.name === name);

/** The `NAME: value` line of an app setting in function-app.bicep's marked block. */
function settingValue(bicep: string, name: string): string | undefined {
  const block = bicep.slice(bicep.indexOf('// app-settings:begin'), bicep.indexOf('// app-settings:end'));
  return new RegExp(`^\\s*${name}: (.+)$`, 'm').exec(block)?.[1]?.trim();
}

/** Graph's limit for getAllEnterpriseInteractions: 30 requests/s per app and tenant (docs/deploy.md [S20]). */
const COPILOT_TENANT_LIMIT = 30;
/** The Teams default GET limit per app and tenant, which the transcript and recording APIs fall under. */
const TEAMS_DEFAULT_GET_LIMIT = 30;

/** The switches: Bicep parameter, azd variable, app setting, and the app setting's value expression. */
const SWITCHES = [
  { param: 'exportCopilot', azd: 'TEAMS_EXPORT_COPILOT', setting: 'EXPORT_COPILOT' },
  { param: 'exportMeetings', azd: 'TEAMS_EXPORT_MEETINGS', setting: 'EXPORT_MEETINGS' },
] as const;

describe('switching Copilot interactions and meetings on', () => {
  it.each(SWITCHES)('$param is a bool parameter, off by default everywhere, that sets $setting', (s) => {
    for (const bicep of [mainBicep, resourcesBicep]) {
      expect(param(bicep, s.param), s.param).toMatchObject({ type: 'bool', defaultText: 'false' });
    }
    expect(azdParameters[s.param]?.value).toBe(`\${${s.azd}=false}`);
    // main.bicep → resources.bicep → function-app.bicep → the app setting.
    expect(bicepResource(mainBicep, 'resources').body).toMatch(new RegExp(`^\\s+${s.param}: ${s.param}$`, 'm'));
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(new RegExp(`^\\s+${s.param}: ${s.param}$`, 'm'));
    expect(param(functionAppBicep, s.param)?.type).toBe('bool');
    expect(bicepAppSettingNames(functionAppBicep)).toContain(s.setting);
    expect(settingValue(functionAppBicep, s.setting)).toBe(`string(${s.param})`);
    // Azure Resource Manager's string() writes booleans as True and False: the app reads both.
    const kind = s.setting === 'EXPORT_COPILOT' ? 'copilot' : 'meetings';
    for (const [text, value] of [
      ['True', true],
      ['False', false],
    ] as const) {
      expect(loadSettings({ EXPORT_STORAGE: 'UseDevelopmentStorage=true', [s.setting]: text }).entities[kind]).toBe(value);
    }
    expect(settingsSchema.shape[s.setting].parse(undefined)).toBe(false);
  });

  it('caps recordings with a parameter in MiB that sets EXPORT_RECORDING_MAX_BYTES, 2 GiB by default', () => {
    for (const bicep of [mainBicep, resourcesBicep])
      expect(param(bicep, 'exportRecordingMaxMB')).toMatchObject({ type: 'int', defaultText: '2048' });
    const cap = param(resourcesBicep, 'exportRecordingMaxMB')!;
    expect([paramLimit(cap, 'minValue'), paramLimit(cap, 'maxValue')]).toEqual([1, 1048576]);
    expect(azdParameters.exportRecordingMaxMB?.value).toBe('${TEAMS_EXPORT_RECORDING_MAX_MB=2048}');
    expect(bicepResource(mainBicep, 'resources').body).toMatch(/^\s+exportRecordingMaxMB: exportRecordingMaxMB$/m);
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(/^\s+exportRecordingMaxMB: exportRecordingMaxMB$/m);
    expect(settingValue(functionAppBicep, 'EXPORT_RECORDING_MAX_BYTES')).toBe('string(exportRecordingMaxMB * 1048576)');
    // The default is the app's, and every value the parameter allows is one the app accepts.
    expect(settingsSchema.shape.EXPORT_RECORDING_MAX_BYTES.parse(undefined)).toBe(2048 * 1048576);
    for (const mb of [paramLimit(cap, 'minValue')!, 2048, paramLimit(cap, 'maxValue')!]) {
      const settings = loadSettings({ EXPORT_STORAGE: 'UseDevelopmentStorage=true', EXPORT_RECORDING_MAX_BYTES: String(mb * 1048576) });
      expect(settings.graph.recordingMaxBytes).toBe(mb * 1048576);
    }
  });
});

// ---- The Copilot and meeting budgets ---------------------------------------------------------------

const BUDGETS = [
  {
    kind: 'copilot',
    param: 'graphCopilotRps',
    azd: 'TEAMS_EXPORT_GRAPH_COPILOT_RPS',
    def: 25,
    setting: 'GRAPH_COPILOT_RPS',
    field: 'copilotRps',
    limit: COPILOT_TENANT_LIMIT,
  },
  {
    kind: 'meetings',
    param: 'graphMeetingRps',
    azd: 'TEAMS_EXPORT_GRAPH_MEETING_RPS',
    def: 10,
    setting: 'GRAPH_MEETING_RPS',
    field: 'meetingRps',
    limit: TEAMS_DEFAULT_GET_LIMIT,
  },
] as const;

const groups = [...bicepVar(functionAppBicep, 'functionScaleGroups').matchAll(/'([^']+)'/g)].length;
const maxInstancesParam = param(resourcesBicep, 'maximumInstanceCount')!;

/** What the app settings the Bicep writes make each process take, read by the app's own settings module. */
function processShare(b: (typeof BUDGETS)[number], budget: number, maximumInstanceCount: number): number {
  const settings = loadSettings({
    EXPORT_STORAGE: 'UseDevelopmentStorage=true',
    // As the Bicep writes them: string(graphInstances), string(<budget param>).
    GRAPH_INSTANCES: String(maximumInstanceCount * groups),
    [b.setting]: String(budget),
  });
  return settings.graph[b.field];
}

describe('the Copilot and meeting budgets over Flex Consumption instances', () => {
  it.each(BUDGETS)('$param is a budget of the whole app, $def by default, at most the tenant limit', (b) => {
    for (const bicep of [mainBicep, resourcesBicep])
      expect(param(bicep, b.param)).toMatchObject({ type: 'int', defaultText: String(b.def) });
    const p = param(resourcesBicep, b.param)!;
    expect([paramLimit(p, 'minValue'), paramLimit(p, 'maxValue')]).toEqual([1, b.limit]);
    expect(azdParameters[b.param]?.value).toBe(`\${${b.azd}=${b.def}}`);
    expect(bicepResource(mainBicep, 'resources').body).toMatch(new RegExp(`^\\s+${b.param}: ${b.param}$`, 'm'));
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(new RegExp(`^\\s+${b.param}: ${b.param}$`, 'm'));
    expect(param(functionAppBicep, b.param)?.type).toBe('int');
    // The Bicep default is the app's default: the CLI (one process) and Azure start from the same budget.
    expect(settingsSchema.shape[b.setting].parse(undefined)).toBe(b.def);
  });

  it.each(BUDGETS)('passes $param through whole as $setting, which the app divides by GRAPH_INSTANCES', (b) => {
    expect(settingValue(functionAppBicep, b.setting)).toBe(`string(${b.param})`);
    // The same GRAPH_INSTANCES as GRAPH_MAX_RPS (graph-budget.test.ts checks that one).
    expect(settingValue(functionAppBicep, 'GRAPH_INSTANCES')).toBe('string(graphInstances)');
    expect(bicepVar(functionAppBicep, 'graphInstances')).toBe('maximumInstanceCount * length(functionScaleGroups)');
    expect(processShare(b, b.def, 40)).toBeCloseTo(b.def / 240, 12);
  });

  it.each(BUDGETS)('keeps every instance of every group together within $param and the tenant limit ($kind)', (b) => {
    const p = param(resourcesBicep, b.param)!;
    const budgets = [paramLimit(p, 'minValue')!, b.def, paramLimit(p, 'maxValue')!];
    const [minInstances, maxInstances] = [paramLimit(maxInstancesParam, 'minValue')!, paramLimit(maxInstancesParam, 'maxValue')!];
    expect([minInstances, maxInstances]).toEqual([1, 200]);
    for (const budget of budgets) {
      for (let max = minInstances; max <= maxInstances; max++) {
        // loadSettings throws if the app would not accept what the Bicep writes.
        const together = groups * max * processShare(b, budget, max);
        expect(together, `${budget}/s with ${max} instances per group`).toBeLessThanOrEqual(budget + 1e-9);
        expect(together).toBeLessThanOrEqual(b.limit + 1e-9);
      }
    }
  });

  it('shows why the budget is divided: 240 processes each taking GRAPH_COPILOT_RPS whole would send 240 × 25 requests/s', () => {
    const whole = loadSettings({ EXPORT_STORAGE: 'UseDevelopmentStorage=true', GRAPH_COPILOT_RPS: '25' }).graph.copilotRps;
    expect(whole).toBe(25);
    expect(240 * whole).toBeGreaterThan(COPILOT_TENANT_LIMIT);
  });
});

// ---- Graph roles ------------------------------------------------------------------------------------

/** `var kindAppRoles = concat(flag ? ['Role', …] : [], …)` → the roles each flag adds. */
function kindRoles(bicep: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const expr = bicepVar(bicep, 'kindAppRoles');
  expect(expr).toMatch(/^concat\(.*\)$/);
  for (const m of expr.matchAll(/(\w+) \? \[([^\]]*)\] : \[\]/g)) out[m[1]!] = [...m[2]!.matchAll(/'([\w.]+)'/g)].map((r) => r[1]!);
  return out;
}

const baseRoles = [...(param(resourcesBicep, 'graphAppRoles')?.defaultText ?? '').matchAll(/'([\w.]+)'/g)].map((m) => m[1]!);

/** The roles graph-app-roles.bicep assigns for the given switches: union(graphAppRoles, kindAppRoles). */
function assignedRoles(on: Record<string, boolean>): string[] {
  const added = Object.entries(kindRoles(resourcesBicep)).flatMap(([flag, roles]) => (on[flag] ? roles : []));
  return [...new Set([...baseRoles, ...added])];
}

describe('Graph roles of the kinds switched on', () => {
  it("adds each kind's roles to the assignment, and only when that kind is on", () => {
    expect(kindRoles(resourcesBicep)).toEqual({
      exportAttachments: ['Files.Read.All'],
      exportCopilot: ['AiEnterpriseInteraction.Read.All'],
      exportMeetings: ['OnlineMeetingTranscript.Read.All', 'OnlineMeetingRecording.Read.All'],
    });
    expect(bicepResource(resourcesBicep, 'graphAppRoleAssignments').body).toMatch(/^\s+appRoles: union\(graphAppRoles, kindAppRoles\)$/m);
  });

  it('assigns no Copilot or meeting role by default', () => {
    const defaults = assignedRoles({ exportAttachments: false, exportCopilot: false, exportMeetings: false });
    expect(defaults).toEqual(baseRoles);
    expect(defaults.filter((r) => /^(AiEnterpriseInteraction|OnlineMeeting)/.test(r))).toEqual([]);
    expect(assignedRoles({ exportCopilot: true })).toEqual([...baseRoles, 'AiEnterpriseInteraction.Read.All']);
    expect(assignedRoles({ exportMeetings: true })).toEqual([
      ...baseRoles,
      'OnlineMeetingTranscript.Read.All',
      'OnlineMeetingRecording.Read.All',
    ]);
  });

  it('never asks for OnlineMeetings.Read.All: the app reads transcripts and recordings, not the meetings', () => {
    expect(assignedRoles({ exportAttachments: true, exportCopilot: true, exportMeetings: true })).not.toContain('OnlineMeetings.Read.All');
    expect(resourcesBicep).not.toMatch(/'OnlineMeetings\.Read\.All'/);
  });

  it('matches the roles docs/deploy.md says each azd switch needs', () => {
    // Rows of section 5's table: | `Role` | Only with `TEAMS_EXPORT_X=true`: … |
    const documented: Record<string, string[]> = {};
    for (const m of deployDoc.matchAll(/^\| `([\w.]+)` \| Only with `(TEAMS_EXPORT_\w+)=true`/gm)) {
      const flag = Object.entries(azdParameters).find(([, { value }]) => String(value).startsWith(`\${${m[2]}=`))?.[0];
      expect(flag, m[2]).toBeDefined();
      (documented[flag!] ??= []).push(m[1]!);
    }
    expect(documented).toEqual(kindRoles(resourcesBicep));
  });
});

// ---- docs/deploy.md --------------------------------------------------------------------------------

/** The section "### Copilot interactions and meetings", up to the next heading of level 2 or 3. */
const section = /^### Copilot interactions and meetings\n([\s\S]*?)(?=^##)/m.exec(deployDoc)?.[1] ?? '';

describe('docs/deploy.md: Copilot interactions and meetings', () => {
  it('has the section, under "5. Graph roles"', () => {
    expect(section.length).toBeGreaterThan(1000);
    const graphRoles = deployDoc.indexOf('## 5. Graph roles');
    const at = deployDoc.indexOf('### Copilot interactions and meetings');
    expect(graphRoles).toBeGreaterThan(0);
    expect(at).toBeGreaterThan(graphRoles);
    expect(at).toBeLessThan(deployDoc.indexOf('## 6. '));
  });

  it('names each role, and says OnlineMeetings.Read.All is not needed', () => {
    for (const role of ['AiEnterpriseInteraction.Read.All', 'OnlineMeetingTranscript.Read.All', 'OnlineMeetingRecording.Read.All']) {
      expect(section, role).toContain(`\`${role}\``);
      expect(cliDoc, role).toContain(`\`${role}\``);
    }
    expect(section).toMatch(/Not `OnlineMeetings\.Read\.All`/);
    expect(section).toMatch(/admin\s+consent/);
  });

  it('gives the application access policy commands and their 30-minute delay', () => {
    expect(section).toMatch(/^\s*New-CsApplicationAccessPolicy -Identity teams-export-meetings -AppIds "<appId>" -Description "[^"]+"$/m);
    expect(section).toMatch(/^\s*Grant-CsApplicationAccessPolicy -PolicyName teams-export-meetings -Identity "<user object id>"$/m);
    expect(section).toMatch(/^\s*Grant-CsApplicationAccessPolicy -PolicyName teams-export-meetings -Global$/m);
    expect(section).toContain('Set-CsApplicationAccessPolicy -Identity <their policy> -AppIds @{Add="<appId>"}');
    expect(section).toContain('MANAGED_IDENTITY_CLIENT_ID');
    expect(section).toMatch(/up to 30\s+minutes/);
  });

  it('gives the tenant setting for Graph access to transcripts and its refusal', () => {
    expect(section).toMatch(
      /^\s*Set-CsTeamsMeetingConfiguration -Identity Global -EnableGraphTranscriptAccess \$true -EnableAttributedTranscripts \$true$/m,
    );
    expect(section).toContain('GraphAccessToTranscriptsDisabled');
  });

  it('says what is not covered: channel meetings, Copilot Studio agents, users without a Copilot licence', () => {
    expect(section).toMatch(/channel meetings/);
    expect(section).toMatch(/Copilot\s+Studio/);
    expect(section).toMatch(/Microsoft 365 Copilot licence/);
    expect(section).toMatch(/`TEAMS_EXPORT_RECORDING_MAX_MB`/);
  });

  it('documents the budgets in "Graph budget"', () => {
    const budget = /^### Graph budget\n([\s\S]*?)(?=^##)/m.exec(deployDoc)?.[1] ?? '';
    expect(budget).toContain('GRAPH_COPILOT_RPS / GRAPH_INSTANCES   (default 25 / 240 = 0.104 requests/s)');
    expect(budget).toContain('GRAPH_MEETING_RPS / GRAPH_INSTANCES   (default 10 / 240 = 0.042 requests/s)');
    expect(40 * groups).toBe(240);
  });

  it('is the section the app\'s refusals and the Bicep cite: every `docs/deploy.md, "…"` names a heading', () => {
    // A citation names a heading by its text (without the section number), or the start of it.
    const headings = proseLines(deployDoc)
      .map(({ text }) => /^#{2,3}\s+(?:\d+\.\s+)?(.+)$/.exec(text)?.[1])
      .filter((h): h is string => h !== undefined);
    const cited = (text: string) => [...text.matchAll(/docs\/deploy\.md, "([^"\n]+)"/g)].map((m) => m[1]!);
    const dangling = repoFiles(['ts', 'mjs', 'bicep', 'md'])
      .filter((file) => !file.startsWith('test/'))
      .flatMap((file) => cited(readRepoFile(file)).map((c) => ({ file, c })))
      .filter(({ c }) => !headings.some((h) => h.startsWith(c)))
      .map(({ file, c }) => `${file}: "${c}"`);
    expect(dangling).toEqual([]);
    expect(cited(readRepoFile('src/graph/graph-errors.ts'))).toContain('Copilot interactions and meetings');
    expect(
      cited('docs/deploy.md, "Copilot interactions and meeting artifacts"').filter((c) => !headings.some((h) => h.startsWith(c))),
    ).toHaveLength(1);
  });
});
