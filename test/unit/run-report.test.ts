// The collection report (docs/design.md §13) built from job rows: per kind, skip reasons, refusals,
// content not fetched, and the blind spots that follow from the settings.
import { describe, expect, it } from 'vitest';
import { reportLines } from '../../src/cli/report-text';
import { blindSpots, collectionReport, type Coverage } from '../../src/export/run-report';
import { emptyCounts } from '../../src/model/job';
import type { JobRecord } from '../../src/state/run-store';

const custodian: Coverage = { chatMode: 'custodian', retained: false, deletedTeams: true, hostedContents: true, files: false };

function job(kind: JobRecord['entity']['kind'], id: string, status: JobRecord['status'], extra: Partial<JobRecord> = {}): JobRecord {
  return { runId: 'daily-1', entity: { kind, id }, status, counts: emptyCounts(), ...extra };
}

describe('collectionReport', () => {
  it('counts per kind: exported, skipped by reason, failed and refused, pending; content from the content stage', () => {
    const report = collectionReport(
      [
        job('user', 'a', 'done'),
        job('user', 'b', 'skipped', { error: { message: 'x', reason: 'no-teams-licence' } }),
        job('user', 'c', 'skipped', { error: { message: 'x', reason: 'no-mailbox' } }),
        job('user', 'd', 'skipped', { error: { message: 'x', reason: 'no-teams-licence' } }),
        job('user', 'e', 'running'),
        job('team', 't1', 'failed', { error: { message: 'x', reason: 'app-refusal' } }),
        job('team', 't2', 'skipped', { error: { message: 'x', reason: 'run-failed' } }),
        job('team', 't3', 'failed', { error: { message: 'x' } }),
        // A skip recorded without a reason still counts, under its status.
        job('deletedTeam', 'd1', 'skipped', { error: { status: 404, message: 'x' } }),
      ],
      { team: 'Graph refused teams: grant ChannelMessage.Read.All' },
      custodian,
      { statuses: { stored: 12, missing: 3, forbidden: 3 }, pendingBatches: 2, pendingVersions: 5 },
    );
    expect(report.kinds).toEqual({
      user: { planned: 5, exported: 1, skipped: { 'no-teams-licence': 2, 'no-mailbox': 1 }, failed: 0, refused: 0, pending: 1 },
      team: { planned: 3, exported: 0, skipped: { 'run-failed': 1 }, failed: 2, refused: 1, pending: 0 },
      deletedTeam: { planned: 1, exported: 0, skipped: { 'http-404': 1 }, failed: 0, refused: 0, pending: 0 },
    });
    expect(report.refusals).toEqual([{ kind: 'team', error: 'Graph refused teams: grant ChannelMessage.Read.All' }]);
    expect(report.content).toEqual({
      fetched: true,
      stored: 12,
      unfetched: { missing: 3, forbidden: 3 },
      pending: { batches: 2, messages: 5 },
    });
    const text = reportLines(report).join('\n');
    // Skips are counts by reason in plain words, the largest group first; no ids.
    expect(text).toContain(
      [
        '  user: 5 planned, 1 exported, 3 skipped, 0 failed, 1 pending',
        '    2 users without a licence Graph accepts (403 "Failed to get license information"): Graph reads no chats of unlicensed users; assign a licence to export them',
        '    1 user without an Exchange Online mailbox (MailboxNotEnabledForRESTAPI): Teams keeps chat messages there, so Graph has none for them',
        '  team: 3 planned, 0 exported, 1 skipped, 2 failed (1 refused)',
        '    1 team not run: the run stopped when Graph refused the app (the "refused" line says what to grant)',
        '  deletedTeam: 1 planned, 0 exported, 1 skipped, 0 failed',
        '    1 deleted team skipped: Graph answered 404',
      ].join('\n'),
    );
    expect(text).toContain('refused: Graph refused teams: grant ChannelMessage.Read.All');
    expect(text).toContain('content stored: 12 references');
    expect(text).toContain('content not fetched: 3 missing, 3 forbidden');
    expect(text).toContain('content pending: 5 messages in 2 batches');
  });

  it('says content was not fetched at all when both downloads are off', () => {
    const report = collectionReport([], undefined, { ...custodian, hostedContents: false });
    expect(report.content).toMatchObject({ fetched: false });
    expect(report.kinds).toEqual({});
  });
});

describe('blindSpots', () => {
  it('names the private-channel gap of getAllRetainedMessages when retained messages are exported', () => {
    expect(blindSpots({ ...custodian, retained: true }).join('\n')).toMatch(/getAllRetainedMessages does not cover private channels/);
    expect(blindSpots(custodian).join('\n')).not.toMatch(/private channels/);
    expect(blindSpots(custodian).join('\n')).toMatch(/EXPORT_RETAINED is off/);
  });

  it('adds the notes the other settings call for', () => {
    const all = blindSpots({ chatMode: 'sender', retained: true, deletedTeams: false, hostedContents: false, files: false }).join('\n');
    for (const setting of [
      'EXPORT_CHAT_MODE is sender',
      'EXPORT_DELETED_TEAMS is off',
      'EXPORT_HOSTED_CONTENTS is off',
      'EXPORT_ATTACHMENTS is off',
    ])
      expect(all).toContain(setting);
    const none = blindSpots({ chatMode: 'custodian', retained: true, deletedTeams: true, hostedContents: true, files: true }).join('\n');
    for (const setting of ['EXPORT_CHAT_MODE', 'EXPORT_DELETED_TEAMS', 'EXPORT_HOSTED_CONTENTS', 'EXPORT_ATTACHMENTS'])
      expect(none).not.toContain(setting);
  });

  it('drops the "not covered" line for Copilot and meetings once they are exported, keeping what their APIs cannot return', () => {
    const off = blindSpots(custodian).join('\n');
    expect(off).toContain('EXPORT_COPILOT is off');
    expect(off).toContain('EXPORT_MEETINGS is off');
    const on = blindSpots({ ...custodian, copilot: true, meetings: true }).join('\n');
    expect(on).not.toMatch(/EXPORT_COPILOT|EXPORT_MEETINGS|not return[^\n]*Copilot interactions/);
    expect(on).toContain('Copilot Studio agents');
    expect(on).toContain('channel meetings');
  });
});
