// Issue 13, defect 7: a deleted team continues from where its live team's export stopped, also after a
// first attempt as a deleted team that recorded only its outcome (a row without watermarks). Counted
// with the emulator's request counters: one page request, not a re-read of the whole history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportEntity } from '../../src/export/export-entity';
import { recordDailyResult } from '../../src/export/run-lifecycle';
import type { Entity } from '../../src/model/entity';
import { HOUR, MINUTE } from '../../src/time';
import { startHarness, type Harness } from '../support/harness';

const LAG = 5 * MINUTE;

describe('a deleted team after a failed first attempt', () => {
  const now = Date.now();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      label: 'deleted-resume',
      tenant: { seed: 71, users: 2, teams: 1, historyDays: 300, endMs: now - 2 * HOUR, deletedTeams: 1 },
    });
  });
  afterAll(() => h?.close());

  it('resumes from its live team watermarks, not from EXPORT_START', async () => {
    const deleted = h.emulator.tenant.deletedTeams[0]!;
    const team: Entity = { kind: 'deletedTeam', id: deleted.id };
    // Its live export got up to now: both watermarks at the fresh edge.
    const upTo = now - LAG - MINUTE;
    await h.deps.checkpoints.advance({ kind: 'team', id: deleted.id }, { freshWatermarkMs: upTo, settledWatermarkMs: upTo });
    // A first attempt as a deleted team failed and recorded only that.
    await recordDailyResult(h.deps.checkpoints, 'daily-earlier', team, 'failed', { code: 'ServiceUnavailable', message: 'busy' });
    expect((await h.deps.checkpoints.get(team))?.freshWatermarkMs).toBeUndefined();

    h.emulator.resetCounters();
    const result = await exportEntity({ runId: 'daily-now', entity: team, mode: { kind: 'daily', nowMs: now } }, h.deps);
    expect(result.status, result.error?.message).toBe('done');
    // One chunk of one minute: one page request (EXPORT_START is 400 days back: ~100 chunks otherwise).
    expect(h.emulator.counters.messagePages).toBe(1);
    expect((await h.deps.checkpoints.get(team))?.freshWatermarkMs).toBe(now - LAG);
  });
});
