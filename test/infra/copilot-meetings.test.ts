// Copilot interactions and meeting artifacts in the deployment (issue 23): a parameter switches each kind
// on (off by default) and reaches its app setting; the Copilot and meeting budgets are split over
// GRAPH_INSTANCES so all instances together stay under Graph's per-tenant limit; the Graph roles of a kind
// are assigned only when it is on; docs/deploy.md gives the roles, the access policy and the tenant
// setting (docs/deploy.md, "Copilot interactions and meeting artifacts"). Text checks, as in infra-text.ts.
import { describe, expect, it } from 'vitest';
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
  });

  it('caps recordings with a parameter in MiB that sets EXPORT_RECORDING_MAX_BYTES, 2 GiB by default', () => {
    for (const bicep of [mainBicep, resourcesBicep])
      expect(param(bicep, 'exportRecordingMaxMB')).toMatchObject({ type: 'int', defaultText: '2048' });
    const cap = param(resourcesBicep, 'exportRecordingMaxMB')!;
    expect([paramLimit(cap, 'minValue'), paramLimit(cap, 'maxValue')]).toEqual([1, 102400]);
    expect(azdParameters.exportRecordingMaxMB?.value).toBe('${TEAMS_EXPORT_RECORDING_MAX_MB=2048}');
    expect(bicepResource(mainBicep, 'resources').body).toMatch(/^\s+exportRecordingMaxMB: exportRecordingMaxMB$/m);
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(/^\s+exportRecordingMaxMB: exportRecordingMaxMB$/m);
    expect(settingValue(functionAppBicep, 'EXPORT_RECORDING_MAX_BYTES')).toBe('string(exportRecordingMaxMB * 1048576)');
    expect(2048 * 1048576).toBe(2147483648);
  });
});

// ---- The Copilot and meeting budgets ---------------------------------------------------------------

/** function-app.bicep's arithmetic: millionths of a request/s, rounded down, written as a decimal. */
function processRps(budget: number, graphInstances: number): string {
  const micro = Math.trunc((budget * 1_000_000) / graphInstances);
  return `${Math.trunc(micro / 1_000_000)}.${String(micro % 1_000_000).padStart(6, '0')}`;
}

const BUDGETS = [
  {
    kind: 'copilot',
    param: 'graphCopilotMaxRps',
    azd: 'TEAMS_EXPORT_GRAPH_COPILOT_MAX_RPS',
    def: 25,
    micro: 'copilotMicroRps',
    rps: 'copilotProcessRps',
    setting: 'GRAPH_COPILOT_RPS',
    limit: COPILOT_TENANT_LIMIT,
  },
  {
    kind: 'meetings',
    param: 'graphMeetingMaxRps',
    azd: 'TEAMS_EXPORT_GRAPH_MEETING_MAX_RPS',
    def: 10,
    micro: 'meetingMicroRps',
    rps: 'meetingProcessRps',
    setting: 'GRAPH_MEETING_RPS',
    limit: TEAMS_DEFAULT_GET_LIMIT,
  },
] as const;

const groups = [...bicepVar(functionAppBicep, 'functionScaleGroups').matchAll(/'([^']+)'/g)].length;
const maxInstancesParam = param(resourcesBicep, 'maximumInstanceCount')!;

describe('the Copilot and meeting budgets over Flex Consumption instances', () => {
  it.each(BUDGETS)('$param is a budget of the whole app, $def by default, at most the tenant limit', (b) => {
    for (const bicep of [mainBicep, resourcesBicep])
      expect(param(bicep, b.param)).toMatchObject({ type: 'int', defaultText: String(b.def) });
    const p = param(resourcesBicep, b.param)!;
    expect([paramLimit(p, 'minValue'), paramLimit(p, 'maxValue')]).toEqual([1, b.limit]);
    expect(azdParameters[b.param]?.value).toBe(`\${${b.azd}=${b.def}}`);
    expect(bicepResource(mainBicep, 'resources').body).toMatch(new RegExp(`^\\s+${b.param}: ${b.param}$`, 'm'));
    expect(bicepResource(resourcesBicep, 'functionApp').body).toMatch(new RegExp(`^\\s+${b.param}: ${b.param}$`, 'm'));
  });

  it.each(BUDGETS)('sets $setting to $param / GRAPH_INSTANCES, in millionths rounded down', (b) => {
    expect(bicepVar(functionAppBicep, b.micro)).toBe(`${b.param} * 1000000 / graphInstances`);
    expect(bicepVar(functionAppBicep, b.rps)).toBe(`'\${${b.micro} / 1000000}.\${padLeft(string(${b.micro} % 1000000), 6, '0')}'`);
    expect(settingValue(functionAppBicep, b.setting)).toBe(b.rps);
    // The same GRAPH_INSTANCES as GRAPH_MAX_RPS (graph-budget.test.ts checks that one).
    expect(bicepVar(functionAppBicep, 'graphInstances')).toBe('maximumInstanceCount * length(functionScaleGroups)');
  });

  it('writes the share as a decimal the settings accept (digits, a point, six decimals)', () => {
    expect(processRps(25, 240)).toBe('0.104166');
    expect(processRps(10, 240)).toBe('0.041666');
    expect(processRps(30, 6)).toBe('5.000000');
    expect(processRps(1, 1200)).toBe('0.000833');
    for (const s of [processRps(25, 240), processRps(1, 1200)]) expect(s).toMatch(/^\d+\.\d{6}$/);
  });

  it.each(BUDGETS)('keeps every instance of every group together within $param and the tenant limit ($kind)', (b) => {
    const p = param(resourcesBicep, b.param)!;
    const [minBudget, maxBudget] = [paramLimit(p, 'minValue')!, paramLimit(p, 'maxValue')!];
    const [minInstances, maxInstances] = [paramLimit(maxInstancesParam, 'minValue')!, paramLimit(maxInstancesParam, 'maxValue')!];
    expect([minInstances, maxInstances]).toEqual([1, 200]);
    for (let budget = minBudget; budget <= maxBudget; budget++) {
      for (let max = minInstances; max <= maxInstances; max++) {
        const instances = max * groups;
        const text = processRps(budget, instances);
        const share = Number(text);
        // In whole millionths of a request/s, so the sum is exact: no floating-point slack to hide behind.
        const micro = Number(text.replace('.', ''));
        expect(micro / 1_000_000).toBe(share);
        const together = instances * micro;
        expect(together, `${budget}/s over ${instances} instances`).toBeLessThanOrEqual(budget * 1_000_000);
        expect(together).toBeLessThanOrEqual(b.limit * 1_000_000);
        // Rounding takes less than a millionth per instance: the split wastes almost nothing.
        expect(together).toBeGreaterThan(budget * 1_000_000 - instances);
        expect(share).toBeGreaterThan(0);
      }
    }
  });

  it('shows why the budget must be split: passed through whole, 240 instances would send 240 × 25 Copilot requests/s', () => {
    expect(240 * 25).toBeGreaterThan(COPILOT_TENANT_LIMIT);
    expect(240 * Number(processRps(25, 240))).toBeLessThanOrEqual(25);
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

/** The section "### Copilot interactions and meeting artifacts", up to the next heading of level 2 or 3. */
const section = /^### Copilot interactions and meeting artifacts\n([\s\S]*?)(?=^##)/m.exec(deployDoc)?.[1] ?? '';

describe('docs/deploy.md: Copilot interactions and meeting artifacts', () => {
  it('has the section, under "5. Graph roles"', () => {
    expect(section.length).toBeGreaterThan(1000);
    const graphRoles = deployDoc.indexOf('## 5. Graph roles');
    const at = deployDoc.indexOf('### Copilot interactions and meeting artifacts');
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
    expect(budget).toContain('GRAPH_COPILOT_RPS = graphCopilotMaxRps / GRAPH_INSTANCES');
    expect(budget).toContain('GRAPH_MEETING_RPS = graphMeetingMaxRps / GRAPH_INSTANCES');
    expect(budget).toContain(`0.104166`);
    expect(processRps(25, 40 * groups)).toBe('0.104166');
  });
});
