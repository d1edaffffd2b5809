// Whole daily runs against the emulator answering with real Graph error shapes (docs/graph-errors.md):
// a missing application permission fails the run loudly and moves no watermark of the refused entities;
// one unlicensed user is skipped with the run still succeeding. Both are counted in the run's collection
// report (docs/design.md §13) in run.json and the run row.
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ArchiveContainer } from '../../src/archive/archive-container';
import { readBlobBytes } from '../../src/archive/batch-reader';
import { entityPrefix, runManifestName } from '../../src/archive/blob-layout';
import { ContentPool } from '../../src/export/content-pool';
import { UNWRITTEN_BATCH_GRACE_MS } from '../../src/export/content-stage';
import type { Entity } from '../../src/model/entity';
import type { CollectionReport } from '../../src/export/run-report';
import { HOUR } from '../../src/time';
import { createStorageClients } from '../../src/storage-clients';
import { startStorageProxy } from '../../emulator/storage-proxy';
import { contentStageDeps } from '../support/content-stage';
import { startHarness } from '../support/harness';

interface RunJson {
  status: string;
  error?: string;
  report: CollectionReport;
}

/** A gzipped body's text ('' for anything else, e.g. one block of a larger upload). */
function gunzippedText(body: Buffer): string {
  try {
    return gunzipSync(body).toString('utf8');
  } catch {
    return '';
  }
}

async function runJson(container: ArchiveContainer, runId: string): Promise<RunJson> {
  const bytes = await readBlobBytes(container, runManifestName(runId));
  expect(bytes, `run.json of ${runId}`).toBeDefined();
  return JSON.parse(bytes!.toString('utf8')) as RunJson;
}

describe('refusals in a daily run', () => {
  it('missing ChannelMessage.Read.All: every team fails naming the permission, the run fails, no team watermark moves', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'refusal-role',
      tenant: { seed: 41, users: 3, teams: 2, historyDays: 10, endMs: now - 2 * HOUR },
      faults: { entityErrors: { 'team:*': 'missingChannelRole' } },
    });
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
      // The run's own error names the permission, not just a count of failed entities.
      expect(run.error).toMatch(/^Graph refused teams: the app lacks the Graph application permission ChannelMessage\.Read\.All/);
      expect((await h.deps.runs.getRun(run.runId))?.error).toBe(run.error);
    } finally {
      await h.close();
    }
  });

  it('after an app-level refusal the remaining jobs of that kind are not run, and the report counts it all', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'refusal-stop',
      tenant: { seed: 43, users: 3, teams: 4, historyDays: 10, endMs: now - 2 * HOUR },
      faults: { entityErrors: { 'team:*': 'missingChannelRole' } },
      // One job at a time, in planning order (users, then teams): the first team is refused before the next starts.
      env: { EXPORT_CONCURRENCY: '1' },
    });
    try {
      const run = await h.daily(now);
      expect(run.status).toBe('failed');
      const teams = run.results.filter((r) => r.entity.kind === 'team');
      expect(teams.map((t) => [t.status, t.error?.reason])).toEqual([
        ['failed', 'app-refusal'],
        ['skipped', 'run-failed'],
        ['skipped', 'run-failed'],
        ['skipped', 'run-failed'],
      ]);
      expect(teams[1]!.error?.message).toMatch(/^not run: Graph refused teams: .*ChannelMessage\.Read\.All/);
      for (const t of teams) expect((await h.deps.checkpoints.get(t.entity))?.freshWatermarkMs).toBeUndefined();
      const users = run.results.filter((r) => r.entity.kind === 'user');
      expect(users.filter((u) => u.status === 'done').length).toBeGreaterThan(0);
      expect(users.filter((u) => u.status === 'failed')).toEqual([]);

      const manifest = await runJson(h.deps.container, run.runId);
      expect(manifest).toMatchObject({ status: 'failed', error: run.error });
      const doneUsers = users.filter((u) => u.status === 'done').length;
      expect(manifest.report.kinds.team).toEqual({
        planned: 4,
        exported: 0,
        skipped: { 'run-failed': 3 },
        failed: 1,
        refused: 1,
        pending: 0,
      });
      expect(manifest.report.kinds.user).toMatchObject({ planned: 3, exported: doneUsers, failed: 0, refused: 0 });
      expect(manifest.report.refusals).toEqual([{ kind: 'team', error: run.error }]);
      expect(manifest.report.blindSpots.join('\n')).toMatch(/EXPORT_RETAINED is off/);
      expect(run.report).toEqual(manifest.report);
      // The run row: failed, with the refused kind recorded for the jobs still to come.
      const row = await h.deps.runs.getRun(run.runId);
      expect(row).toMatchObject({ status: 'failed', error: run.error, refused: { team: run.error } });
    } finally {
      await h.close();
    }
  });

  it('one user without a Teams licence is skipped as entity-level and the run succeeds', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'refusal-licence',
      tenant: { seed: 42, users: 3, teams: 1, historyDays: 10, endMs: now - 2 * HOUR },
    });
    try {
      const user = h.emulator.tenant.exportableEntities().find((e) => e.kind === 'user')!;
      h.emulator.setFaults({ entityErrors: { [user.id]: 'noLicence' } });
      const run = await h.daily(now);
      expect(run.status, run.error).toBe('succeeded');
      const r = run.results.find((x) => x.entity.id === user.id);
      expect(r).toMatchObject({ status: 'skipped', error: { status: 403, code: 'Forbidden', reason: 'no-teams-licence' } });
      expect(r?.error?.message).toMatch(/license information/);
      // The report counts the skip by its reason, in run.json and in the outcome the CLI prints.
      const manifest = await runJson(h.deps.container, run.runId);
      const users = run.results.filter((x) => x.entity.kind === 'user');
      expect(manifest.report.kinds.user?.skipped['no-teams-licence']).toBe(1);
      expect(manifest.report.kinds.user).toMatchObject({
        planned: 3,
        exported: users.filter((u) => u.status === 'done').length,
        failed: 0,
      });
      expect(manifest.report.refusals).toEqual([]);
      expect(run.report).toEqual(manifest.report);
      expect((await h.deps.runs.getJob(run.runId, user))?.error?.reason).toBe('no-teams-licence');
    } finally {
      await h.close();
    }
  });
});

describe('the collection report', () => {
  it('counts the content that could not be fetched by status, as the content maps record it', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'report-content',
      tenant: { seed: 44, users: 4, teams: 1, historyDays: 12, endMs: now - 2 * HOUR, hostedContentFraction: 0.2, fileFraction: 0.5 },
      env: { EXPORT_ATTACHMENTS: 'true', EXPORT_RETAINED: 'true' },
    });
    try {
      const run = await h.daily(now);
      // What the content maps beside the batches say was stored, and could not be.
      const expected: Record<string, number> = {};
      let stored = 0;
      for await (const b of h.deps.container.listBlobsFlat()) {
        if (!b.name.endsWith('.content.json')) continue;
        const map = JSON.parse((await readBlobBytes(h.deps.container, b.name))!.toString('utf8')) as { entries: Array<{ status: string }> };
        for (const e of map.entries) if (e.status !== 'stored') expected[e.status] = (expected[e.status] ?? 0) + 1;
        stored += map.entries.filter((e) => e.status === 'stored').length;
      }
      expect(Object.keys(expected).length, 'the tenant has files that cannot be fetched').toBeGreaterThan(0);
      expect(stored).toBeGreaterThan(0);
      const manifest = await runJson(h.deps.container, run.runId);
      expect(manifest.report.content).toEqual({ fetched: true, stored, unfetched: expected, pending: { batches: 0, messages: 0 } });
      // Retained messages are on: the report says what getAllRetainedMessages does not cover.
      expect(manifest.report.blindSpots.join('\n')).toMatch(/getAllRetainedMessages does not cover private channels/);
      expect(Object.keys(manifest.report.kinds)).toEqual(expect.arrayContaining(['user', 'team', 'userRetained', 'teamRetained']));
    } finally {
      await h.close();
    }
  });

  it('a batch whose write failed leaves its content pending (counted so), and a later run drops it once it is surely never written', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'report-content-failed-write',
      tenant: { seed: 44, users: 2, teams: 0, historyDays: 4, endMs: now - 2 * HOUR, hostedContentFraction: 0.2, fileFraction: 0.5 },
      env: { EXPORT_ATTACHMENTS: 'true' },
    });
    // Storage refuses (403, not retried) every batch of one user whose chats hold content: its job records
    // the content obligation of a batch (docs/design.md §17) that then never lands.
    const withContent = new Set(h.emulator.hostedContents().map((c) => c.conversationId));
    const chat = h.emulator.tenant.chats.find((c) => withContent.has(c.id))!;
    const refusedUser: Entity = { kind: 'user', id: chat.memberIds[0]! };
    const refusedPrefix = entityPrefix(refusedUser);
    const proxy = await startStorageProxy(h.env.EXPORT_STORAGE as string);
    // Only its batches that refer to images: the first of them is written after its row is recorded.
    proxy.setGate((op) =>
      op.method === 'PUT' &&
      op.resource.includes(`/${refusedPrefix}`) &&
      op.resource.endsWith('.jsonl.gz') &&
      gunzippedText(op.body).includes('/hostedContents/')
        ? { status: 403 }
        : 'forward',
    );
    const original = h.deps.container;
    try {
      (h.deps as { container: ArchiveContainer }).container = createStorageClients({
        kind: 'connectionString',
        connectionString: proxy.connectionString,
      }).blobService.getContainerClient(h.env.EXPORT_CONTAINER as string);
      const run = await h.daily(now);
      expect(run.results.find((r) => r.entity.id === refusedUser.id)?.status).toBe('failed');
      // What the content maps of the written batches say was stored and could not be.
      const expected: Record<string, number> = {};
      let stored = 0;
      for await (const b of original.listBlobsFlat()) {
        if (!b.name.endsWith('.content.json')) continue;
        const batch = b.name.replace(/\.content\.json$/, '.jsonl.gz');
        expect(await original.getBlobClient(batch).exists(), `a map beside a batch never written: ${b.name}`).toBe(true);
        const map = JSON.parse((await readBlobBytes(original, b.name))!.toString('utf8')) as { entries: Array<{ status: string }> };
        for (const e of map.entries) if (e.status !== 'stored') expected[e.status] = (expected[e.status] ?? 0) + 1;
        stored += map.entries.filter((e) => e.status === 'stored').length;
      }
      // The refused user's obligations are still open: counted as pending, never as fetched.
      const backlog = h.deps.contentBacklog!;
      const pending = [];
      for await (const o of backlog.pending()) pending.push(o);
      expect(pending.length).toBeGreaterThan(0);
      for (const o of pending) expect(o.batch.startsWith(refusedPrefix)).toBe(true);
      const manifest = await runJson(original, run.runId);
      expect(manifest.report.content).toEqual({
        fetched: true,
        stored,
        unfetched: expected,
        pending: { batches: pending.length, messages: pending.reduce((n, o) => n + o.versions, 0) },
      });
      // A later run finds them with no batch long after they were recorded: nothing to fetch, dropped.
      const later = new ContentPool(
        contentStageDeps(h.deps, { container: original, now: () => Date.now() + UNWRITTEN_BATCH_GRACE_MS + HOUR }),
      );
      expect(await later.takeLeftovers(() => Promise.resolve(false))).toBe(pending.length);
      await later.drain();
      expect((await backlog.tally(run.runId)).pendingBatches).toBe(0);
    } finally {
      (h.deps as { container: ArchiveContainer }).container = original;
      await proxy.close();
      await h.close();
    }
  });
});
