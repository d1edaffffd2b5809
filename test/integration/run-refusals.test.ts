// Whole daily runs against the emulator answering with real Graph error shapes (docs/graph-errors.md):
// a missing application permission fails the run loudly and moves no watermark of the refused entities;
// one unlicensed user is skipped with the run still succeeding.
import { describe, expect, it } from 'vitest';
import { HOUR } from '../../src/time';
import { startHarness } from '../support/harness';

describe('refusals in a daily run', () => {
  it('missing ChannelMessage.Read.All: every team fails naming the permission, the run fails, no team watermark moves', async () => {
    const now = Date.now();
    const h = await startHarness({ label: 'refusal-role', tenant: { seed: 41, users: 3, teams: 2, historyDays: 10, endMs: now - 2 * HOUR }, faults: { entityErrors: { 'team:*': 'missingChannelRole' } } });
    try {
      const run = await h.daily(now);
      expect(run.status).toBe('failed');
      const teams = run.results.filter((r) => r.entity.kind === 'team');
      expect(teams).toHaveLength(2);
      for (const t of teams) {
        expect(t.status).toBe('failed');
        expect(t.error?.retryable).toBe(false);
        expect(t.error?.message).toMatch(/lacks the Graph application permission ChannelMessage\.Read\.All/);
        expect((await h.deps.checkpoints.get(t.entity))?.freshWatermarkMs).toBeUndefined();
      }
      // Users were allowed: they exported as usual.
      expect(run.results.filter((r) => r.entity.kind === 'user' && r.status === 'failed')).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('one user without a Teams licence is skipped as entity-level and the run succeeds', async () => {
    const now = Date.now();
    const h = await startHarness({ label: 'refusal-licence', tenant: { seed: 42, users: 3, teams: 1, historyDays: 10, endMs: now - 2 * HOUR } });
    try {
      const user = h.emulator.tenant.exportableEntities().find((e) => e.kind === 'user')!;
      h.emulator.setFaults({ entityErrors: { [user.id]: 'noLicence' } });
      const run = await h.daily(now);
      expect(run.status, run.error).toBe('succeeded');
      const r = run.results.find((x) => x.entity.id === user.id);
      expect(r).toMatchObject({ status: 'skipped', error: { status: 403, code: 'Forbidden' } });
      expect(r?.error?.message).toMatch(/license information/);
    } finally {
      await h.close();
    }
  });
});
