// Graph-supplied identifiers become blob names and table keys: property tests that no id escapes its
// prefix or collides with another, and an end-to-end run where hostile user ids come from the
// emulator's directory (and, for ids the emulator cannot route, from an explicit backfill).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARCHIVE_PREFIXES,
  batchBlobName,
  decodeIdSegment,
  encodeIdSegment,
  entityPrefix,
  jobManifestName,
  lockBlobName,
  parseBatchBlobName,
  quarantineBlobName,
} from '../../src/archive/blob-layout';
import type { Entity } from '../../src/model/entity';
import { DAY, HOUR, MINUTE } from '../../src/time';
import { startHarness } from '../support/harness';

const WELL_FORMED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const hostileId = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    fc
      .array(
        fc.constantFrom('/', '..', '.', '%', '%2F', '%2e', '~', '~2F', ':', '@', '\\', 'A', 'a', 'é', 'é', '😀', '\u0000', ' ', '?', '#'),
        { minLength: 1, maxLength: 12 },
      )
      .map((a) => a.join('')),
  )
  .filter((s) => !WELL_FORMED.test(s));

describe('ids in blob names (property-based)', () => {
  it('every id stays inside its own prefix, decodes back, and two different ids never share a prefix', () => {
    fc.assert(
      fc.property(hostileId, hostileId, fc.constantFrom<Entity['kind']>('user', 'team'), (a, b, kind) => {
        const pa = entityPrefix({ kind, id: a });
        const pb = entityPrefix({ kind, id: b });
        const folder = kind === 'user' ? 'messages/users/' : 'messages/teams/';
        expect(pa.startsWith(folder)).toBe(true);
        expect(pa.split('/')).toHaveLength(4);
        const seg = pa.split('/')[2]!;
        expect(seg).toMatch(/^[a-z0-9~A-F-]+$/);
        expect(['.', '..', '']).not.toContain(seg);
        expect(decodeIdSegment(seg)).toBe(a);
        // Neither prefix may be a prefix of the other (listing one entity never lists another).
        if (a !== b) {
          expect(pa === pb).toBe(false);
          expect(pa.startsWith(pb) || pb.startsWith(pa)).toBe(false);
        }
        const name = batchBlobName({ kind, id: a }, '2024-02-29', { pass: 'fresh', window: { fromMs: 0, toMs: DAY }, runId: 'r1', seq: 1 });
        expect(parseBatchBlobName(name)?.entity).toEqual({ kind, id: a });
        for (const n of [
          quarantineBlobName({ kind, id: a }, 'r1', 0),
          jobManifestName('r1', { kind, id: a }),
          lockBlobName({ kind, id: a }),
        ]) {
          expect(n.split('/').every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
          expect(n).toContain(`/${seg}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('hostile ids through a run', () => {
  it('users with hostile ids in the directory are archived under their own encoded folders, and nothing escapes', async () => {
    const now = Date.now();
    const h = await startHarness({
      label: 'sec-hostile',
      tenant: { seed: 141, users: 3, teams: 1, historyDays: 5, endMs: now - 2 * HOUR },
    });
    try {
      const tenant = h.emulator.tenant;
      const friend = tenant.users.find((u) => u.hasTeamsData)!;
      // Ids the emulator can route (no '/', which its path matching cannot take): traversal, encodings, case, unicode.
      const hostile = ['..%2F..%2Flocks', '%2e%2e', 'UPPER-Case', 'upper-case', '19:abc@thread.v2', '~2F', 'Ünïcödé-😀', 'a\\b', 'x y'];
      for (const [i, id] of hostile.entries()) {
        tenant.addUser({
          id,
          displayName: `Hostile ${i}`,
          givenName: 'H',
          surname: String(i),
          userPrincipalName: `hostile${i}@contoso.onmicrosoft.com`,
          mail: null,
          accountEnabled: true,
          userType: 'Member',
          hasTeamsData: true,
        });
        const chat = tenant.addChat({
          id: `19:hostile-${i}_${friend.id}@unq.gbl.spaces`,
          kind: 'oneOnOne',
          topic: null,
          memberIds: [id, friend.id],
        });
        for (let k = 0; k < 3; k++)
          tenant.postMessage({ chatId: chat.id }, { fromUserId: id, text: `from ${i}/${k}`, atMs: now - 3 * HOUR - k * MINUTE });
      }
      const outcome = await h.daily(now);
      expect(outcome.status, JSON.stringify(outcome.results.filter((r) => r.error).map((r) => [r.entity.id, r.error]))).toBe('succeeded');

      // Each hostile user's archive holds exactly its own versions.
      for (const id of hostile) {
        const entity: Entity = { kind: 'user', id };
        const archived = (await h.archivedKeys(entity)).sort();
        expect(archived.length, id).toBeGreaterThan(0);
        expect(archived, id).toEqual(
          tenant
            .currentVersions(entity, { fromMs: 0, toMs: now - 5 * MINUTE })
            .map((v) => v.key)
            .sort(),
        );
        const cp = await h.deps.checkpoints.get(entity);
        expect(cp?.entity.id).toBe(id);
        expect(cp?.freshWatermarkMs).toBe(now - 5 * MINUTE);
      }

      // Explicit ids the emulator cannot serve ('/', a bare '..'): their jobs fail, but write nothing astray.
      const unroutable = ['../../locks/users/x', '..', 'a/b/../../..', '/'];
      const bf = await h.backfill({ fromMs: now - 2 * DAY, toMs: now - HOUR }, { users: unroutable });
      expect(bf.results).toHaveLength(unroutable.length);

      const known = new Set([
        ...tenant.users.map((u) => `user:${u.id}`),
        ...tenant.teams.map((t) => `team:${t.id}`),
        ...unroutable.map((id) => `user:${id}`),
      ]);
      let blobs = 0;
      for await (const b of h.deps.container.listBlobsFlat()) {
        blobs++;
        const parts = b.name.split('/');
        expect(
          parts.every((s) => s !== '' && s !== '.' && s !== '..'),
          b.name,
        ).toBe(true);
        expect(
          [...ARCHIVE_PREFIXES, 'locks/'].some((p) => b.name.startsWith(p)),
          b.name,
        ).toBe(true);
        // Every entity folder decodes to a real entity of the run.
        const kindAt = b.name.startsWith('manifests/') ? 2 : 1;
        const folder = parts[kindAt];
        if (folder === 'users' || folder === 'teams') {
          const seg = (parts[kindAt + 1] ?? '').replace(/\.json$/, '');
          const id = decodeIdSegment(seg);
          expect(known.has(`${folder === 'users' ? 'user' : 'team'}:${id}`), b.name).toBe(true);
        }
        // Every message batch (and the content map beside it) parses back into its entity and day.
        if (b.name.startsWith('messages/'))
          expect(parseBatchBlobName(b.name.replace(/\.content\.json$/, '.jsonl.gz')), b.name).toBeDefined();
      }
      expect(blobs).toBeGreaterThan(hostile.length);
      // Sanity of the encoding itself for the ids used here.
      expect(new Set(hostile.map(encodeIdSegment)).size).toBe(hostile.length);
    } finally {
      await h.close();
    }
  });
});
