// The CLI's reads in the audit trail (docs/security.md), run in-process against Azurite: `ls`, `cat`, `html`,
// `rsmf`, each page of `serve` and `audit` itself are recorded as the OS user running them, before anything
// is printed or written; and when the record cannot be written (the storage account refuses the append)
// the command exits 1 with a clear message and reads nothing.
import { existsSync, mkdtempSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditRecords, type AuditRecord } from '../../src/archive/audit-trail';
import { listBatches, listBlobs } from '../../src/archive/batch-reader';
import { CONTENT_BYTES_PREFIX, parseBatchBlobName } from '../../src/archive/blob-layout';
import { entityLabel } from '../../src/model/entity';
import type { Env } from '../../src/settings';
import { DAY, HOUR, iso, utcDay } from '../../src/time';
import { startStorageProxy, type StorageOperation, type StorageProxy } from '../../emulator/storage-proxy';
import { startHarness, type Harness } from '../support/harness';
import { cliInProcess } from '../support/cli-in-process';

const cli = (env: Env, args: string[], signal?: AbortSignal, onOut?: (text: string) => void) =>
  cliInProcess(env, args, { ...(signal ? { signal } : {}), ...(onOut ? { onOut } : {}) });

const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;
const isAuditWrite = (op: StorageOperation) => op.service === 'blob' && op.method === 'PUT' && /^[^/]+\/audit\//.test(op.resource);

describe('the CLI in the audit trail', () => {
  let h: Harness;
  let refusing: StorageProxy;
  const now = Date.now();
  const me = { kind: 'os-user', name: userInfo().username, host: hostname() };
  let batch: string;
  let entity: string;
  let teamId: string;
  let content: string;

  async function trail(): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    for await (const item of readAuditRecords(h.deps.container, utcDay(now - DAY), utcDay(Date.now() + HOUR))) {
      if ('unreadable' in item) throw new Error(`unreadable audit blob: ${item.unreadable}`);
      out.push(item.record);
    }
    return out;
  }

  beforeAll(async () => {
    h = await startHarness({
      label: 'cli-audit',
      tenant: {
        seed: 29,
        users: 2,
        teams: 1,
        channelsPerTeam: 1,
        historyDays: 3,
        endMs: now - 2 * HOUR,
        messagesPerChat: 3,
        postsPerChannel: 2,
      },
    });
    expect((await h.daily(now)).status).toBe('succeeded');
    for await (const b of listBatches(h.deps.container, 'messages/teams/')) {
      batch = b.name;
      break;
    }
    entity = entityLabel(parseBatchBlobName(batch)!.entity);
    teamId = parseBatchBlobName(batch)!.entity.id;
    for await (const c of listBlobs(h.deps.container, CONTENT_BYTES_PREFIX)) {
      content = c.name;
      break;
    }
    // The same account behind a proxy that refuses every write under audit/ (403, which the SDKs do not
    // retry): the trail cannot be written.
    refusing = await startStorageProxy(h.env.EXPORT_STORAGE as string, {
      gate: (op) => (isAuditWrite(op) ? { status: 403, code: 'AuthorizationFailure' } : 'forward'),
    });
  }, 240_000);
  afterAll(async () => {
    await refusing?.close();
    await h?.close();
  });

  it('records ls, cat, html, rsmf, each served page and audit as the OS user before printing or writing', async () => {
    const before = new Set((await trail()).map((r) => r.id));
    const dir = mkdtempSync(join(tmpdir(), 'te-cli-audit-'));
    const range = ['--from', iso(dayStart(now) - 2 * DAY), '--to', iso(dayStart(now) - DAY)];
    expect((await cli(h.env, ['ls', 'messages/teams/'])).code).toBe(0);
    const cat = await cli(h.env, ['cat', batch]);
    expect(cat.code).toBe(0);
    expect(cat.stdout.length).toBeGreaterThan(0);
    expect((await cli(h.env, ['cat', content])).code).toBe(0);
    expect((await cli(h.env, ['html', ...range, '--team', teamId, '--out', join(dir, 'html')])).code).toBe(0);
    expect((await cli(h.env, ['rsmf', ...range, '--team', teamId, '--allow-unsettled', '--out', join(dir, 'rsmf')])).code).toBe(0);
    // serve: each page is a read of its own.
    const abort = new AbortController();
    let url: string | undefined;
    const served = new Promise<string>((resolve) => {
      void cli(h.env, ['serve'], abort.signal, (text) => {
        const m = /(http:\/\/\S+\/\S*)/.exec(text);
        if (m && !url) resolve((url = m[1]!));
      });
    });
    const home = await openServed(await served);
    expect(home.status).toBe(200);
    await home.text();
    abort.abort();
    const audit = await cli(h.env, ['audit', '--principal', me.name, '--entity', entity]);
    expect(audit.code).toBe(0);

    const added = (await trail()).filter((r) => !before.has(r.id));
    expect(added.map((r) => `${r.via} ${r.action}`).sort()).toEqual(
      ['cli audit.read', 'cli cli.cat', 'cli cli.cat', 'cli cli.html', 'cli cli.ls', 'cli cli.rsmf', 'serve viewer.home'].sort(),
    );
    for (const r of added) expect(r.principal, r.action).toEqual(me);
    const of = (action: string) => added.filter((r) => r.action === action);
    expect(of('cli.ls')[0]).toMatchObject({ prefix: 'messages/teams/' });
    expect(
      of('cli.cat')
        .map((r) => r.blob)
        .sort(),
    ).toEqual([batch, content].sort());
    expect(of('cli.cat').find((r) => r.blob === batch)).toMatchObject({ entity, day: parseBatchBlobName(batch)!.day });
    expect(of('cli.html')[0]).toMatchObject({
      entities: [`team:${teamId}`],
      from: utcDay(dayStart(now) - 2 * DAY),
      to: utcDay(dayStart(now) - DAY - 1),
    });
    expect(of('cli.rsmf')[0]).toMatchObject({ entities: [`team:${teamId}`], from: range[1], to: range[3] });
    expect(of('audit.read')[0]).toMatchObject({ query: `principal=${me.name} entity=${entity}` });
    // One request id per command; serve's pages each get their own.
    expect(new Set(added.map((r) => r.requestId)).size).toBe(added.length);
    // `audit` printed the reads of this entity by this user: the cat of its batch, html and rsmf.
    expect(audit.stdout).toContain(`cli.cat  cli  ${entity}`);
    expect(audit.stdout).toMatch(/cli\.html {2}cli {2}entities team:/);
    expect(audit.stdout).toMatch(/cli\.rsmf {2}cli {2}entities team:/);
    expect(audit.stdout).toContain(`${me.name}@${me.host}`);
  });

  it('refuses a read it cannot record: exit 1, a clear message, nothing printed or written', async () => {
    const env = { ...h.env, EXPORT_STORAGE: refusing.connectionString };
    const dir = mkdtempSync(join(tmpdir(), 'te-cli-audit-refused-'));
    const range = ['--from', iso(dayStart(now) - 2 * DAY), '--to', iso(dayStart(now) - DAY)];
    const before = (await trail()).length;
    refusing.reset();
    for (const args of [
      ['cat', batch],
      ['cat', content],
      ['ls', 'messages/'],
      ['html', ...range, '--team', teamId, '--out', join(dir, 'html')],
      ['rsmf', ...range, '--team', teamId, '--allow-unsettled', '--out', join(dir, 'rsmf')],
      ['audit'],
    ]) {
      const r = await cli(env, args);
      expect(r.code, args[0]).toBe(1);
      expect(r.stdout, args[0]).toBe('');
      expect(r.stderr, args[0]).toMatch(/teams-export: the read could not be recorded in the audit trail, so it was refused/);
    }
    expect(existsSync(join(dir, 'html'))).toBe(false);
    expect(existsSync(join(dir, 'rsmf'))).toBe(false);
    // No blob was downloaded: before each refusal only listings and existence checks reached the archive.
    const downloads = refusing.operations.filter((op) => op.service === 'blob' && op.method === 'GET' && op.comp !== 'list');
    expect(downloads).toEqual([]);
    expect(refusing.operations.filter(isAuditWrite)).toHaveLength(6);
    expect((await trail()).length).toBe(before);

    // serve keeps running, but refuses each page it cannot record.
    const abort = new AbortController();
    const served = new Promise<string>((resolve) => {
      void cli(env, ['serve'], abort.signal, (text) => {
        const m = /(http:\/\/\S+\/\S*)/.exec(text);
        if (m) resolve(m[1]!);
      });
    });
    const home = await openServed(await served);
    expect(home.status).toBe(503);
    expect(await home.text()).toContain('could not be recorded in the audit trail');
    abort.abort();
  });
});

/** Opens serve's one-time address as a browser does: its 303 sets the cookie the page then needs. */
async function openServed(url: string): Promise<Response> {
  const first = await fetch(url, { redirect: 'manual' });
  const cookie = first.headers.get('set-cookie')?.split(';')[0];
  const location = first.headers.get('location');
  if (first.status !== 303 || !cookie || !location) return first;
  return fetch(new URL(location, url), { headers: { cookie } });
}
