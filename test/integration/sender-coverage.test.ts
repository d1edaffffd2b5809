// Deleted users and sender-mode coverage (docs/design.md §15): a user deleted mid-period keeps being
// exported into the same folder from the same checkpoint while Graph serves them (30 days), then stops
// cleanly; and sender mode archives exactly the messages custodian mode does when members are
// excluded, skipped (no licence) or deleted.
import { describe, expect, it } from 'vitest';
import { verifyArchive } from '../../src/archive/verify-archive';
import { buildDeps } from '../../src/deps';
import { runExport } from '../../src/export/run-in-process';
import { GraphError } from '../../src/graph/graph-errors';
import { silentLogger } from '../../src/log';
import type { Entity } from '../../src/model/entity';
import { loadSettings } from '../../src/settings';
import { DAY, HOUR } from '../../src/time';
import { allArchivedKeys, duplicatesIn, startHarness, type Harness } from '../support/harness';

describe('a user deleted mid-period', () => {
  it('is exported from the deleted-users listing into the same folder and checkpoint, until Graph stops serving them', async () => {
    const t0 = Date.now();
    const h = await startHarness({
      label: 'deleted-user',
      tenant: { seed: 51, users: 6, teams: 0, historyDays: 10, endMs: t0 - 2 * HOUR },
      env: { EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false' },
    });
    try {
      let dataNow = t0;
      h.emulator.setClock(() => dataNow);
      const tenant = h.emulator.tenant;
      const chat = tenant.chats.find(
        (c) => c.memberIds.length >= 2 && c.conversation.messages.length > 0 && tenant.user(c.memberIds[0]!)?.hasTeamsData,
      )!;
      const gone: Entity = { kind: 'user', id: chat.memberIds[0]! };
      const colleague = chat.memberIds[1]!;
      expect((await h.daily(dataNow)).status).toBe('succeeded');
      const before = await h.archivedKeys(gone);
      const watermark = (await h.deps.checkpoints.get(gone))?.freshWatermarkMs;
      expect(before.length).toBeGreaterThan(0);
      expect(watermark).toBeDefined();

      // Deleted, then a colleague reacts to a message in their chat: a new version in the deleted user's mailbox.
      tenant.deleteUser(gone.id, dataNow + HOUR);
      const m = chat.conversation.messages[0]!;
      tenant.addReaction(chat.id, m.id, colleague, '👍', dataNow + 2 * HOUR);
      const reacted = tenant.keyOf(m, m.v);
      dataNow += 2 * DAY;
      const second = await h.daily(dataNow);
      expect(second.status, second.error).toBe('succeeded');
      expect(second.results.find((r) => r.entity.id === gone.id)?.status).toBe('done');
      const after = await h.archivedKeys(gone);
      expect(after).toContain(reacted);
      expect(after.slice(0, before.length).sort()).toEqual([...before].sort());
      expect(duplicatesIn(after)).toEqual([]);
      expect((await h.deps.checkpoints.get(gone))?.freshWatermarkMs).toBeGreaterThan(watermark!);

      // Past Graph's 30 days the user is listed nowhere: no job, no failure; a named backfill skips as entity-gone.
      dataNow += 31 * DAY;
      const third = await h.daily(dataNow);
      expect(third.status, third.error).toBe('succeeded');
      expect(third.results.some((r) => r.entity.id === gone.id)).toBe(false);
      const backfill = await h.backfill({ fromMs: t0 - 5 * DAY, toMs: t0 }, { users: [gone.id] });
      expect(backfill.results).toMatchObject([{ status: 'skipped', error: { status: 404, code: 'Request_ResourceNotFound' } }]);
      expect(await h.archivedKeys(gone)).toHaveLength(after.length);
    } finally {
      await h.close();
    }
  });
});

describe('sender mode covers every member', () => {
  it('archives the same messages as custodian mode with members excluded, skipped and deleted', async () => {
    const now = Date.now();
    const tenant = { seed: 52, users: 12, teams: 0, historyDays: 12, endMs: now - 2 * HOUR, externalSenderFraction: 0.2 };
    const custodian = await startHarness({ label: 'cover-custodian', tenant });
    const sender = await startHarness({ label: 'cover-sender', tenant });
    try {
      const members = custodian.emulator.tenant.users.filter((u) => u.hasTeamsData && u.userType === 'Member');
      const [excluded, unlicensed, deleted] = members as [(typeof members)[0], (typeof members)[0], (typeof members)[0]];
      const run = async (h: Harness, mode: string) => {
        // a tight clause bound on both sides, so the others query must be split into several requests
        h.emulator.setFaults({ entityErrors: { [unlicensed.id]: 'noLicence' }, maxFilterClauses: 12 });
        h.emulator.tenant.deleteUser(deleted.id, now - 3 * DAY);
        const deps = await buildDeps(
          loadSettings({
            ...h.env,
            EXPORT_TEAMS: 'none',
            EXPORT_HOSTED_CONTENTS: 'false',
            EXPORT_CHAT_MODE: mode,
            GRAPH_FILTER_MAX_CLAUSES: '12',
            EXPORT_EXCLUDE_USERS: excluded.userPrincipalName,
          }),
          { log: silentLogger },
        );
        const outcome = await runExport({ kind: 'daily', nowMs: now }, deps);
        expect(outcome.status, outcome.error).toBe('succeeded');
        expect(outcome.results.find((r) => r.entity.id === unlicensed.id)?.status).toBe('skipped');
        expect(outcome.results.find((r) => r.entity.id === deleted.id)?.status).toBe('done');
        expect(outcome.results.some((r) => r.entity.id === excluded.id)).toBe(false);
        // every blob, the follow-up's included, is recorded in a manifest
        expect((await verifyArchive(deps.container)).problems).toEqual([]);
        return allArchivedKeys(deps);
      };
      const custodianKeys = new Set(await run(custodian, 'custodian'));
      const senderKeys = await run(sender, 'sender');
      expect(duplicatesIn(senderKeys)).toEqual([]);
      // Meaningful only if each left-out member sent something custodian mode archived through a colleague.
      const t = custodian.emulator.tenant;
      for (const u of [excluded, unlicensed, deleted]) {
        const idx = t.userIndexOf(u.id);
        const sent = t.chats.flatMap((c) => c.conversation.messages.filter((m) => m.fromIdx === idx).map((m) => t.keyOf(m, m.v)));
        expect(
          sent.some((k) => custodianKeys.has(k)),
          `${u.displayName} sent nothing archived`,
        ).toBe(true);
      }
      expect([...new Set(senderKeys)].sort()).toEqual([...custodianKeys].sort());
    } finally {
      await custodian.close();
      await sender.close();
    }
  });

  it("fails the reader's job, and the run, when its follow-up fails", async () => {
    const h = await startHarness({
      label: 'cover-fail',
      tenant: { seed: 56, users: 5, teams: 0, historyDays: 4, endMs: Date.now() - 2 * HOUR },
      env: { EXPORT_TEAMS: 'none', EXPORT_HOSTED_CONTENTS: 'false', EXPORT_CHAT_MODE: 'sender' },
    });
    try {
      const members = h.emulator.tenant.users.filter((u) => u.hasTeamsData && u.userType === 'Member');
      const [unlicensed, reader] = members as [(typeof members)[0], (typeof members)[0]];
      h.emulator.setFaults({ entityErrors: { [unlicensed.id]: 'noLicence' } });
      const deps = await buildDeps(loadSettings({ ...h.env }), { log: silentLogger });
      // Once every user job has ended (the reader's succeeded), Graph refuses the reader's reads for good.
      const outcome = await runExport({ kind: 'daily', nowMs: Date.now() }, deps, {
        onProgress: (p) => {
          if (p.planned > 0 && p.finished === p.planned)
            h.emulator.setFaults({ entityErrors: { [unlicensed.id]: 'noLicence', [reader.id]: 'badFilter' } });
        },
      });
      expect(outcome.results.find((r) => r.entity.id === reader.id)?.status).toBe('done');
      expect(outcome.status).toBe('failed');
      const job = await deps.runs.getJob(outcome.runId, { kind: 'user', id: reader.id });
      expect(job?.status).toBe('failed');
      expect(job?.error?.message).toMatch(/sender-mode follow-up/);
    } finally {
      await h.close();
    }
  });

  it('splits sender filters under the clause bound the emulator enforces', async () => {
    const h = await startHarness({
      label: 'cover-split',
      tenant: { seed: 53, users: 3, teams: 0, historyDays: 2, endMs: Date.now() - 2 * HOUR },
    });
    try {
      const clauses = Array.from({ length: 21 }, (_, i) => `from/user/id eq 'u${i}'`).join(' or ');
      const user = h.emulator.tenant.exportableEntities()[0]!;
      const filter = `(${clauses}) and (lastModifiedDateTime gt 2026-01-01T00:00:00.000Z and lastModifiedDateTime lt 2026-01-02T00:00:00.000Z)`;
      const err = await h.deps.http.getJson(`/users/${user.id}/chats/getAllMessages?$filter=${encodeURIComponent(filter)}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GraphError);
      expect(err).toMatchObject({ status: 400, code: 'BadRequest' });
      expect((err as Error).message).toMatch(/node count limit/);
    } finally {
      await h.close();
    }
  });
});
