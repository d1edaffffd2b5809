// The audit trail's storage on Azurite (docs/archive-format.md §11): append blobs per UTC day and writer,
// a new blob before the block limit, concurrent records kept whole, read back in time order, and any
// line that is not a record reported rather than skipped. Plus the client-principal variants the
// platform sends (docs/security.md).
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { authorize, signedInPrincipal } from '../../src/app/http-auth';
import { auditRecord, AuditTrail, readAuditDays, readAuditTrail, type AuditRecord } from '../../src/archive/audit-trail';
import { ensureContainer } from '../../src/archive/archive-container';
import { isArchivePath } from '../../src/archive/blob-layout';
import { listBlobs } from '../../src/archive/batch-reader';
import { createStorageClients } from '../../src/storage-clients';
import { testStorage } from '../support/storage';

async function freshContainer(label: string): Promise<ContainerClient> {
  const s = testStorage(label);
  const container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
    s.container,
  );
  await ensureContainer(container);
  return container;
}

const who = {
  principal: { kind: 'entra' as const, id: 'a11ce000-0000-4000-8000-000000000001', name: 'alice@contoso.example' },
  via: 'http' as const,
};

describe('audit trail storage', () => {
  let container: ContainerClient;
  beforeAll(async () => {
    container = await freshContainer('audit-trail');
  });

  it('appends to one blob per day and writer, moves on before the block limit, and reads back every record in time order', async () => {
    const trail = new AuditTrail(container, 'app', { blocksPerBlob: 3 });
    const t0 = Date.parse('2026-03-01T23:59:59.000Z');
    // Seven records on the 1st: four one after the other (the fourth starts the next blob), three at once
    // (concurrent appends of one writer share its blob); then two just after midnight.
    const read = (i: number) =>
      trail.record(auditRecord({ ...who, requestId: `r${i}` }, { action: 'export.read', blob: `messages/x/${i}` }, t0 + i));
    for (const i of [0, 1, 2, 3]) await read(i);
    await Promise.all([4, 5, 6].map(read));
    for (const i of [7, 8])
      await trail.record(auditRecord({ ...who, requestId: `r${i}` }, { action: 'viewer.day', day: '2026-03-02' }, t0 + 1000 + i));
    const names: string[] = [];
    for await (const b of listBlobs(container, 'audit/')) names.push(b.name);
    expect(names.filter((n) => n.startsWith('audit/2026/03/01/'))).toEqual(
      [0, 1].map((seq) => `audit/2026/03/01/${trail.writer}-000${seq}.jsonl`),
    );
    expect(names.filter((n) => n.startsWith('audit/2026/03/02/'))).toEqual([`audit/2026/03/02/${trail.writer}-0000.jsonl`]);
    for (const n of names) expect(n).toMatch(new RegExp(`^audit/2026/03/0[12]/${trail.writer}-\\d{4}\\.jsonl$`));
    // Outside the archive folders: no archive reader can serve the trail.
    expect(names.some((n) => isArchivePath(n))).toBe(false);

    const days: Array<{ day: string; ids: string[] }> = [];
    for await (const d of readAuditDays(container, '2026-03-01', '2026-03-02')) {
      expect(d.unreadable).toEqual([]);
      days.push({ day: d.day, ids: d.records.map((r) => r.requestId) });
    }
    expect(days).toEqual([
      { day: '2026-03-01', ids: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6'] },
      { day: '2026-03-02', ids: ['r7', 'r8'] },
    ]);
  });

  it('filters by instant range, principal (id or name) and entity (label or bare id), and reports lines that are not records', async () => {
    const c = await freshContainer('audit-filter');
    const trail = new AuditTrail(c, 'cli');
    const t0 = Date.parse('2026-04-10T12:00:00.000Z');
    const bob = { kind: 'os-user' as const, name: 'Bob', host: 'jump-1' };
    await trail.record(
      auditRecord({ ...who, requestId: 'a' }, { action: 'viewer.day', entity: 'user:u1', conversation: 'c1', day: '2026-04-09' }, t0),
    );
    await trail.record(
      auditRecord({ principal: bob, via: 'cli', requestId: 'b' }, { action: 'cli.rsmf', entities: ['team:t1', 'user:u1'] }, t0 + 1),
    );
    await trail.record(auditRecord({ principal: bob, via: 'cli', requestId: 'c' }, { action: 'cli.cat', entity: 'team:t1' }, t0 + 2));
    // A line nobody should be able to write (the app only appends records): reported with its place.
    const [blob] = await (async () => {
      const out: string[] = [];
      for await (const b of listBlobs(c, 'audit/')) out.push(b.name);
      return out;
    })();
    await c.getAppendBlobClient(blob!).appendBlock('not json\n', 9);
    const ids = async (f: { principal?: string; entity?: string; fromMs?: number; toMs?: number }) => {
      const out: string[] = [];
      const bad: string[] = [];
      for await (const item of readAuditTrail(c, { fromMs: t0, toMs: t0 + 10, ...f })) {
        if ('record' in item) out.push(item.record.requestId);
        else bad.push(item.unreadable);
      }
      return { ids: out, bad };
    };
    expect(await ids({})).toEqual({ ids: ['a', 'b', 'c'], bad: [`${blob}:4`] });
    expect((await ids({ principal: 'bob' })).ids).toEqual(['b', 'c']);
    expect((await ids({ principal: 'A11CE000-0000-4000-8000-000000000001' })).ids).toEqual(['a']);
    expect((await ids({ entity: 'user:u1' })).ids).toEqual(['a', 'b']);
    expect((await ids({ entity: 't1' })).ids).toEqual(['b', 'c']);
    expect((await ids({ fromMs: t0 + 1, toMs: t0 + 2 })).ids).toEqual(['b']);
  });

  it('keeps a record to a bounded size: a long string is cut, never the record refused', () => {
    const r: AuditRecord = auditRecord({ ...who, requestId: 'x' }, { action: 'viewer.search', query: 'q'.repeat(10_000) }, 0);
    expect(r.query!.length).toBeLessThan(2100);
    expect(r.time).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('the client-principal header', () => {
  const header = (p: unknown) => ({
    get: (n: string) => (n === 'x-ms-client-principal' ? Buffer.from(JSON.stringify(p)).toString('base64') : null),
  });
  const claims = (...c: Array<[string, string]>) => c.map(([typ, val]) => ({ typ, val }));

  it('reads roles under `roles` or the role type the header names, the object id, and a name', () => {
    const viaRoleTyp = signedInPrincipal(
      header({
        auth_typ: 'aad',
        role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
        name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
        claims: claims(
          ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'o1'],
          ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', 'carol@contoso.example'],
          ['http://schemas.microsoft.com/ws/2008/06/identity/claims/role', 'Archive.Audit'],
          ['roles', 'Archive.Read'],
          ['groups', 'Archive.Produce'],
        ),
      }),
    );
    expect(viaRoleTyp?.principal).toEqual({ kind: 'entra', id: 'o1', name: 'carol@contoso.example' });
    expect([...viaRoleTyp!.roles].sort()).toEqual(['Archive.Audit', 'Archive.Read']);
    const oid = signedInPrincipal(header({ claims: claims(['oid', 'o2'], ['appid', 'app-1'], ['roles', 'Archive.Operate']) }));
    expect(oid?.principal).toEqual({ kind: 'entra', id: 'o2', name: 'app app-1' });
  });

  it('a role in another claim (a group, a scope) opens nothing', () => {
    const h = header({ claims: claims(['oid', 'o3'], ['groups', 'Archive.Read'], ['scp', 'Archive.Read'], ['wids', 'Archive.Read']) });
    expect(() => authorize(h, { auth: 'entra', platformAuthEnabled: true }, ['Archive.Read'])).toThrow(/needs the app role Archive.Read/);
  });
});
