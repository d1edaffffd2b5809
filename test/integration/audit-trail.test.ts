// The audit trail's storage on Azurite (docs/archive-format.md §11): one write-once blob per record, filed
// under its UTC day and named by its time, read back in time order (from listings, or from the body of a
// record too long for metadata), and any blob that is not a record reported rather than skipped. Plus the
// client-principal variants the platform sends (docs/security.md).
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { authorize, signedInPrincipal } from '../../src/app/http-auth';
import {
  auditRecord,
  AuditTrail,
  AuditWriteError,
  readAuditRecords,
  readAuditTrail,
  type AuditRecord,
} from '../../src/archive/audit-trail';
import { ensureContainer } from '../../src/archive/archive-container';
import { auditBlobName, isArchivePath } from '../../src/archive/blob-layout';
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

async function names(c: ContainerClient): Promise<string[]> {
  const out: string[] = [];
  for await (const b of listBlobs(c, 'audit/')) out.push(b.name);
  return out;
}

describe('audit trail storage', () => {
  let container: ContainerClient;
  beforeAll(async () => {
    container = await freshContainer('audit-trail');
  });

  it('writes each record once, under its UTC day and named by its time, and reads them back in time order', async () => {
    const trail = new AuditTrail(container);
    const t0 = Date.parse('2026-03-01T23:59:59.000Z');
    // Out of order and at once (concurrent reads), across midnight; one record too long for metadata.
    const many = Array.from({ length: 400 }, (_, i) => `user:${String(i).padStart(36, '0')}`);
    const records = [5, 1, 3, 0, 2, 4].map((i) =>
      auditRecord(
        { ...who, requestId: `r${i}` },
        i === 3 ? { action: 'production.create', entities: many } : { action: 'export.read' },
        t0 + i * 400,
      ),
    );
    await Promise.all(records.map((r) => trail.record(r)));
    const stored = await names(container);
    expect(stored).toHaveLength(6);
    for (const r of records) expect(stored).toContain(auditBlobName(r.time, r.id));
    expect(stored.filter((n) => n.startsWith('audit/2026/03/01/'))).toHaveLength(3);
    expect(stored.filter((n) => n.startsWith('audit/2026/03/02/'))).toHaveLength(3);
    expect(stored[0]).toMatch(/^audit\/2026\/03\/01\/235959000-[0-9a-f]{24}\.json$/);
    // Outside the archive folders: no archive reader can serve the trail.
    expect(stored.some((n) => isArchivePath(n))).toBe(false);

    const read: AuditRecord[] = [];
    for await (const item of readAuditRecords(container, '2026-03-01', '2026-03-02')) {
      if ('unreadable' in item) throw new Error(item.unreadable);
      read.push(item.record);
    }
    expect(read.map((r) => r.requestId)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect(read.find((r) => r.requestId === 'r3')).toEqual(records.find((r) => r.requestId === 'r3'));

    // Write-once: the same record cannot be written over.
    await expect(trail.record(records[0]!)).rejects.toBeInstanceOf(AuditWriteError);
  });

  it('filters by instant range, principal (id or name) and entity (label or bare id), and reports blobs that are not records', async () => {
    const c = await freshContainer('audit-filter');
    const trail = new AuditTrail(c);
    const t0 = Date.parse('2026-04-10T12:00:00.000Z');
    const bob = { kind: 'os-user' as const, name: 'Bob', host: 'jump-1' };
    const a = auditRecord(
      { ...who, requestId: 'a' },
      { action: 'viewer.day', entity: 'user:u1', conversation: 'c1', day: '2026-04-09' },
      t0,
    );
    await trail.record(a);
    await trail.record(
      auditRecord({ principal: bob, via: 'cli', requestId: 'b' }, { action: 'cli.rsmf', entities: ['team:t1', 'user:u1'] }, t0 + 1),
    );
    await trail.record(auditRecord({ principal: bob, via: 'cli', requestId: 'c' }, { action: 'cli.cat', entity: 'team:t1' }, t0 + 2));
    // Blobs nobody should be able to write (the app writes only records under their own names): reported.
    const stray = 'audit/2026/04/10/120000005-stray.json';
    await c.getBlockBlobClient(stray).upload('not json', 8);
    const copied = auditBlobName('2026-04-10T12:00:00.006Z', 'f'.repeat(24));
    const body = `${JSON.stringify(a)}\n`;
    await c.getBlockBlobClient(copied).upload(body, body.length);
    const ids = async (f: { principal?: string; entity?: string; fromMs?: number; toMs?: number }) => {
      const out: string[] = [];
      const bad: string[] = [];
      for await (const item of readAuditTrail(c, { fromMs: t0, toMs: t0 + 10, ...f })) {
        if ('record' in item) out.push(item.record.requestId);
        else bad.push(item.unreadable);
      }
      return { ids: out, bad };
    };
    expect(await ids({})).toEqual({
      ids: ['a', 'b', 'c'],
      bad: [`${stray}: not JSON`, `${copied}: the record's time and id do not match its name`],
    });
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
