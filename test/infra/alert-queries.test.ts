// The run alerts (infra/app/alerts.bicep) match the app's log lines as text; these checks fail when
// the code stops writing a line or field the queries depend on, or the queries stop looking for it.
import { describe, expect, it } from 'vitest';
import { readRepoFile } from './infra-text';

const alerts = readRepoFile('infra/app/alerts.bicep');

describe('daily run alerts', () => {
  it('finds the end of a run by the "run finished" line with its runId and status fields', () => {
    // The last job's close writes it (src/export/run-close.ts), as does the sweep that closes a run it finds done.
    const completion = readRepoFile('src/export/run-close.ts');
    expect(completion).toMatch(/log\.info\('run finished', \{ runId, status,/);
    expect(alerts).toContain('message startswith "run finished"');
    expect(alerts).toContain(`extract(@"runId: '([^']+)'", 1, message)`);
    expect(alerts).toContain(`extract(@"\\bstatus: '([^']+)'", 1, message)`);
  });

  it('recognises daily runs by the run id prefix the timer uses', () => {
    expect(readRepoFile('src/app/start-run.ts')).toMatch(/daily/);
    expect(alerts.match(/runId startswith "daily-"/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('alerts on the failure lines the timer and the planner write', () => {
    expect(readRepoFile('src/export/run-lifecycle.ts')).toMatch(/log\.error\('run failed', \{ runId,/);
    // An app-level refusal fails the run with the same line at once (refuseRun), not only when the run ends.
    expect(readRepoFile('src/export/run-lifecycle.ts')).toMatch(
      /export async function refuseRun[\s\S]*?log\.error\('run failed', \{ runId, error: message/,
    );
    expect(readRepoFile('functions/daily-export.ts')).toContain("log.error('daily run could not be started'");
    expect(alerts).toContain('message startswith "run failed"');
    expect(alerts).toContain('message startswith "daily run could not be started"');
    expect(alerts).toContain('requests | where name == "dailyExport" and success == false');
    expect(readRepoFile('functions/daily-export.ts')).toMatch(/export const dailyExport\b/);
  });

  it('puts the missed-run hours into the query', () => {
    expect(alerts).toMatch(/replace\('''[\s\S]*ago\(__HOURS__h\)[\s\S]*''', '__HOURS__', string\(missedRunHours\)\)/);
  });
});
