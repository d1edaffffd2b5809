// Productions end to end: the emulator's tenant exported into Azurite by the real engine (a daily run,
// then edits, a deletion and reactions picked up by backfills), then `teams-export rsmf` run in-process,
// and every produced file read back (MIME → zip → manifest) and compared with the archive.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import { contentBlobName } from '../../src/archive/blob-layout';
import { readNearestDirectorySnapshot } from '../../src/archive/directory-snapshot';
import { folderSink } from '../../src/cli/rsmf-command';
import { findConversations } from '../../src/rsmf/archive-scan';
import { planProduction, ProductionInputError, runProduction } from '../../src/rsmf/production';
import type { Msg } from '../../emulator/tenant';
import { versionKeyFromLine } from '../../src/graph/message-schema';
import { DAY, HOUR, iso, utcDay } from '../../src/time';
import { startHarness, type Harness } from '../support/harness';
import { testStorage } from '../support/storage';
import { cliInProcess } from '../support/cli-in-process';
import { parseRsmf, referenceProblems, rsmfSchemaValidator, type ParsedRsmf } from '../support/rsmf-reader';

type Json = Record<string, unknown>;

const cli = (h: Pick<Harness, 'env'>, args: string[]) => cliInProcess(h.env, args);

const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;

describe('teams-export rsmf', () => {
  let h: Harness;
  const now = Date.now();
  const fromMs = dayStart(now) - 4 * DAY;
  const toMs = dayStart(now) - 1 * DAY;
  let edited: Msg;
  let deleted: Msg;
  let reactedLater: Msg;
  let originalDeletedText: string;
  let outDir: string;
  let files: Array<{ name: string; parsed: ParsedRsmf }>;
  let production: Json;

  beforeAll(async () => {
    h = await startHarness({
      label: 'rsmf',
      tenant: {
        seed: 21,
        users: 9,
        teams: 1,
        channelsPerTeam: 2,
        historyDays: 5,
        endMs: toMs - HOUR,
        messagesPerChat: 14,
        editFraction: 0,
        deleteFraction: 0,
      },
    });
    const first = await h.daily(now);
    expect(first.status).toBe('succeeded');
    // Two unchanged messages of the same group chat, created inside the range: edited twice and reacted
    // to, and deleted, each change picked up by a backfill as the next daily runs would.
    const tenant = h.emulator.tenant;
    const chat = tenant.chats.find((c) => c.kind === 'group' && c.memberIds.filter((id) => tenant.user(id)?.hasTeamsData).length >= 2)!;
    const fresh = chat.conversation.messages.filter(
      (m) => m.v.prev === null && m.v.text !== null && m.createdMs >= fromMs && m.createdMs < toMs - 2 * HOUR && m.fromIdx >= 0,
    );
    edited = fresh[0]!;
    deleted = fresh[1]!;
    originalDeletedText = deleted.v.text ?? '';
    const author = tenant.userByIndex(edited.fromIdx)!;
    tenant.editMessage(chat.id, edited.id, 'First edit', edited.createdMs + 60_000);
    await h.backfill({ fromMs, toMs }, { users: [author.id] });
    tenant.editMessage(chat.id, edited.id, 'Second edit', edited.createdMs + 120_000);
    tenant.addReaction(chat.id, edited.id, chat.memberIds[0]!, 'heart', edited.createdMs + 180_000);
    tenant.deleteMessage(chat.id, deleted.id, deleted.createdMs + 60_000);
    const members = chat.memberIds.filter((id) => tenant.user(id)?.hasTeamsData);
    await h.backfill({ fromMs, toMs }, { users: members });
    // A reaction after the range, to a message created in it: part of that message's history.
    reactedLater = fresh[2]!;
    tenant.addReaction(chat.id, reactedLater.id, chat.memberIds[1]!, 'like', toMs + HOUR);
    await h.backfill({ fromMs: toMs, toMs: toMs + 2 * HOUR }, { users: members });

    outDir = join(mkdtempSync(join(tmpdir(), 'te-rsmf-')), 'out');
    const r = await cli(h, ['rsmf', '--from', iso(fromMs), '--to', iso(toMs), '--out', outDir]);
    expect(r.code, r.stderr).toBe(0);
    production = JSON.parse(readFileSync(join(outDir, 'production.json'), 'utf8')) as Json;
    files = [];
    for (const name of readdirSync(outDir)
      .filter((n) => n.endsWith('.rsmf'))
      .sort())
      files.push({ name, parsed: await parseRsmf(join(outDir, name)) });
  }, 240_000);
  afterAll(() => h?.close());

  it('writes one RFC 5322 message per conversation and day with the RSMF headers and exactly one rsmf.zip', () => {
    expect(files.length).toBeGreaterThan(3);
    for (const { name, parsed } of files) {
      expect(parsed.headers.get('x-rsmf-version'), name).toBe('2.0.0');
      expect(parsed.headers.get('x-rsmf-generator')).toBe('teams-export');
      expect(Number(parsed.headers.get('x-rsmf-eventcount'))).toBe((parsed.manifest.events as unknown[]).length);
      expect(parsed.headers.get('x-rsmf-begindate')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      expect(parsed.attachmentNames).toEqual(['rsmf.zip']);
      expect(parsed.text.length).toBeGreaterThan(0);
      const manifest = parsed.manifest;
      expect(manifest.version).toBe('2.0.0');
      expect((manifest.conversations as unknown[]).length).toBe(1);
    }
    // the raw header block spells the names as Relativity documents them
    const head = readFileSync(join(outDir, files[0]!.name), 'latin1').split('\r\n\r\n')[0]!;
    for (const name of ['X-RSMF-Version', 'X-RSMF-Generator', 'X-RSMF-EventCount', 'X-RSMF-BeginDate', 'X-RSMF-EndDate'])
      expect(head).toMatch(new RegExp(`(^|\r\n)${name}: `));
    // plain ASCII headers: Relativity's validator flags RFC 2047-encoded values
    expect(head).not.toMatch(/=\?UTF-8\?/i);
  });

  it('validates every manifest against the official RSMF 2.0 schema', (ctx) => {
    const validator = rsmfSchemaValidator();
    if ('skipped' in validator) {
      console.warn(validator.skipped);
      ctx.skip();
      return;
    }
    for (const { name, parsed } of files) expect(validator.validate(parsed.manifest), name).toEqual([]);
  });

  it('resolves every reference inside its file, and names every file the manifest refers to', () => {
    for (const { name, parsed } of files) {
      const names = new Set(parsed.zip.keys());
      expect(referenceProblems(parsed.manifest, names), name).toEqual([]);
      const referenced = new Set(
        ((parsed.manifest.events as Json[]) ?? []).flatMap((e) => ((e.attachments as Json[]) ?? []).map((a) => a.id as string)),
      );
      expect([...names].filter((n) => n !== 'rsmf_manifest.json').sort()).toEqual([...referenced].sort());
    }
  });

  it('accounts for every archived version of every message in the range exactly once', async () => {
    // Everything archived, from every folder, de-duplicated by version key: what a production must show.
    const expected = new Map<string, Set<string>>(); // conversation|message -> lastModified instants
    const seen = new Set<string>();
    for (const root of ['messages/', 'retained/']) {
      for await (const b of listBatches(h.deps.container, root)) {
        for await (const line of readBatchLines(h.deps.container, b.name)) {
          const key = versionKeyFromLine(line)!;
          if (seen.has(key)) continue;
          seen.add(key);
          const m = JSON.parse(line) as Json;
          const created = Date.parse(m.createdDateTime as string);
          const modified = Date.parse(m.lastModifiedDateTime as string);
          // Messages created in the range, with every archived version, later ones included.
          if (created < fromMs || created >= toMs) continue;
          const conv = (m.chatId as string | null) ?? ((m.channelIdentity as Json).channelId as string);
          const id = `${conv}|${m.id as string}`;
          expected.set(id, (expected.get(id) ?? new Set()).add(new Date(modified).toISOString()));
        }
      }
    }
    const produced = new Map<string, string[]>();
    for (const { parsed } of files) {
      for (const e of parsed.manifest.events as Json[]) {
        const id = `${e.conversation as string}|${e.id as string}`;
        expect(produced.has(id), `${id} produced twice`).toBe(false);
        const times = ((e.custom as Json[]).find((c) => c.name === 'Version times')?.value as string).split(' ');
        produced.set(id, times);
      }
    }
    expect([...produced.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, times] of produced) expect(times.sort(), id).toEqual([...expected.get(id)!].sort());
    const totals = production.totals as Json;
    expect(totals.versions).toBe([...expected.values()].reduce((n, s) => n + s.size, 0));
  });

  it('keeps the full edit history, the deleted message body and the latest reactions', () => {
    const events = files.flatMap((f) => f.parsed.manifest.events as Json[]);
    const e = events.find((x) => x.id === edited.id && x.conversation === edited.conv.id)!;
    expect(e.body).toBe('Second edit');
    const edits = e.edits as Json[];
    expect(edits.map((x) => [x.previous, x.new])).toEqual([
      [expect.any(String), 'First edit'],
      ['First edit', 'Second edit'],
    ]);
    const reactions = e.reactions as Json[];
    expect(reactions.reduce((n, r) => n + (r.count as number), 0)).toBe(edited.v.reactions?.length);
    expect(reactions.flatMap((r) => r.participants as string[])).toContain(
      edited.conv.id ? h.emulator.tenant.chat(edited.conv.id)!.memberIds[0] : '',
    );
    const d = events.find((x) => x.id === deleted.id && x.conversation === deleted.conv.id)!;
    expect(d.deleted).toBe(true);
    expect(d.body).toContain(originalDeletedText.replace(/<[^>]+>/g, '').slice(0, 8));
  });

  it('shows a message created in the range with its versions archived after the range', () => {
    const events = files.flatMap((f) => f.parsed.manifest.events as Json[]);
    const e = events.find((x) => x.id === reactedLater.id && x.conversation === reactedLater.conv.id)!;
    expect((e.custom as Json[]).find((c) => c.name === 'Version times')?.value).toContain(new Date(toMs + HOUR).toISOString());
    expect((e.reactions as Json[]).reduce((n, r) => n + (r.count as number), 0)).toBe(reactedLater.v.reactions?.length);
  });

  it('produces a chat archived under several custodians once, listing every custodian', () => {
    const tenant = h.emulator.tenant;
    const chatFiles = (production.files as Json[]).filter((f) => f.conversationId === edited.conv.id);
    const days = chatFiles.map((f) => `${f.day as string}/${f.part as number}`);
    expect(new Set(days).size).toBe(days.length);
    const members = tenant.chat(edited.conv.id)!.memberIds.filter((id) => tenant.user(id)?.hasTeamsData);
    for (const f of chatFiles) {
      expect([...(f.custodians as string[])].sort()).toEqual([...members].sort());
      const parsed = files.find((x) => x.name === f.fileName)!.parsed;
      const conv = (parsed.manifest.conversations as Json[])[0]!;
      expect(members).toContain(conv.custodian);
      expect(conv.type).toBe('direct');
      expect((conv.custom as Json[]).find((c) => c.name === 'Custodians')?.value).toContain(members[0]);
    }
  });

  it('names people, chats and channels from the directory snapshot of the run', async () => {
    const snapshot = await readNearestDirectorySnapshot(h.deps.container, new Date(fromMs));
    expect(snapshot?.users.length).toBe(h.emulator.tenant.users.length);
    const tenant = h.emulator.tenant;
    const chat = tenant.chat(edited.conv.id)!;
    const f = (production.files as Json[]).find((x) => x.conversationId === chat.id)!;
    expect(f.conversation).toBe(chat.topic);
    const channel = tenant.teams[0]!.channels[0]!;
    const cf = (production.files as Json[]).find((x) => x.conversationId === channel.id);
    expect(cf?.conversation).toBe(`${tenant.teams[0]!.displayName} › ${channel.displayName}`);
    const parsed = files.find((x) => x.name === f.fileName)!.parsed;
    const author = tenant.userByIndex(edited.fromIdx)!;
    expect((parsed.manifest.participants as Json[]).find((p) => p.id === author.id)).toMatchObject({
      display: author.displayName,
      email: author.userPrincipalName,
    });
  });

  it('threads channel replies under their roots and copies attachments byte for byte from content/', async () => {
    const channelEvents = files
      .filter((f) => (f.parsed.manifest.conversations as Json[])[0]!.type === 'channel')
      .flatMap((f) => f.parsed.manifest.events as Json[]);
    expect(channelEvents.some((e) => e.parent !== undefined)).toBe(true);
    let compared = 0;
    for (const { parsed } of files) {
      for (const [name, bytes] of parsed.zip) {
        if (name === 'rsmf_manifest.json') continue;
        const sha = name.slice(0, 64);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha);
        const stored = await h.deps.container.getBlobClient(contentBlobName(sha)).downloadToBuffer();
        expect(bytes.equals(stored)).toBe(true);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(0);
    const images = files
      .flatMap((f) => (f.parsed.manifest.events as Json[]).flatMap((e) => (e.attachments as Json[]) ?? []))
      .filter((a) => /\.(png|jpg|gif)$/.test(a.display as string));
    expect(images.length).toBeGreaterThan(0);
  });

  it('lists every file with its SHA-256, event count and source blobs in production.json', () => {
    const listed = production.files as Json[];
    expect(listed.map((f) => f.fileName).sort()).toEqual(files.map((f) => f.name));
    for (const f of listed) {
      const bytes = readFileSync(join(outDir, f.fileName as string));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      expect(f.events).toBe((files.find((x) => x.name === f.fileName)!.parsed.manifest.events as unknown[]).length);
      expect((f.sources as string[]).length).toBeGreaterThan(0);
      for (const s of f.sources as string[]) expect(s).toMatch(/^(messages|retained|content)\//);
    }
  });

  it('rejects bad input with exit code 2 and writes nothing', async () => {
    const base = mkdtempSync(join(tmpdir(), 'te-rsmf-bad-'));
    const cases: Array<[string[], RegExp]> = [
      [['--from', iso(toMs), '--to', iso(fromMs)], /range is empty/],
      [['--from', iso(fromMs), '--to', iso(fromMs)], /range is empty/],
      [['--from', 'yesterday', '--to', iso(toMs)], /--from must be an ISO-8601/],
      [['--from', iso(fromMs), '--to', iso(toMs), '--user', 'no-such-user'], /unknown user no-such-user/],
      [['--from', iso(fromMs), '--to', iso(toMs), '--team', 'no-such-team'], /unknown team no-such-team/],
      [['--from', iso(fromMs), '--to', iso(toMs), '--conversation', '19:nothing@thread.v2'], /unknown conversation 19:nothing@thread.v2/],
      // Each refusal with a way out names the exact flag or command.
      [
        ['--from', iso(fromMs), '--to', iso(now + 2 * DAY)],
        /does not fully cover .*missing\. To produce it: end --to before the missing days, or export them first \(`teams-export run`\); and add --allow-unsettled/,
      ],
      [
        ['--from', iso(fromMs), '--to', iso(now - HOUR)],
        /does not fully cover .*unsettled\. To produce it: add --allow-unsettled \(production.json then lists the unsettled days under coverage.gaps\)\n$/,
      ],
    ];
    for (const [i, [args, message]] of cases.entries()) {
      const out = join(base, `case-${i}`);
      const r = await cli(h, ['rsmf', ...args, '--out', out]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    // Over unsettled days allowed, only the days that are missing still refuse it, and the flag is not offered again.
    const missingAndUnsettled = await cli(h, [
      'rsmf',
      '--from',
      iso(fromMs),
      '--to',
      iso(now + 2 * DAY),
      '--allow-unsettled',
      '--out',
      join(base, 'm'),
    ]);
    expect(missingAndUnsettled.code).toBe(2);
    expect(missingAndUnsettled.stderr).toMatch(
      /missing\. To produce it: end --to before the missing days, or export them first \(`teams-export run`\)\n$/,
    );
    // An archive with no export recorded at all (its own, empty tables) says to export first.
    const empty = testStorage('rsmf-empty');
    const nothing = await cli({ env: { ...h.env, EXPORT_CONTAINER: empty.container, EXPORT_TABLE_PREFIX: empty.tablePrefix } }, [
      'rsmf',
      '--from',
      iso(fromMs),
      '--to',
      iso(toMs),
      '--out',
      join(base, 'empty'),
    ]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toBe(
      'teams-export: rsmf: --from: nothing is archived yet: no export is recorded. To produce it: export first (`teams-export run`)\n',
    );
  });

  it('produces over unsettled days only when allowed, and says which entities and days', async () => {
    const from = iso(now - 12 * HOUR);
    const to = iso(now - HOUR);
    const out = join(mkdtempSync(join(tmpdir(), 'te-rsmf-unsettled-')), 'out');
    const r = await cli(h, ['rsmf', '--from', from, '--to', to, '--allow-unsettled', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const exported = h.emulator.tenant.users.filter((u) => u.hasTeamsData).map((u) => u.id);
    const note = r.stdout.split('\n').find((l) => l.startsWith('note: '))!;
    expect(note).toContain(
      `${utcDay(now - 12 * HOUR)}${utcDay(now - 12 * HOUR) === utcDay(now - HOUR - 1) ? '' : `..${utcDay(now - HOUR - 1)}`} unsettled`,
    );
    expect(exported.some((id) => note.includes(id))).toBe(true);
    const written = JSON.parse(readFileSync(join(out, 'production.json'), 'utf8')) as { coverage: { gaps: Json[] } };
    for (const id of exported) expect(written.coverage.gaps.map((g) => g.id)).toContain(id);
    for (const g of written.coverage.gaps) expect(g.state).toBe('unsettled');
  });

  it('splits a busy day into parts that share one eventcollectionid, each file self-contained', async () => {
    const channel = h.emulator.tenant.teams[0]!.channels[0]!;
    const deps = { container: h.deps.container, checkpoints: h.deps.checkpoints, exportStartMs: h.deps.settings.startMs };
    const plan = await planProduction({ fromMs, toMs, users: [], teams: [], conversations: [channel.id] }, deps);
    const dir = join(mkdtempSync(join(tmpdir(), 'te-rsmf-parts-')), 'out');
    const manifest = await runProduction('rsmf-parts-test', plan, deps, folderSink(dir), { maxEventsPerFile: 2 });
    const whole = (production.files as Json[]).filter((f) => f.conversationId === channel.id);
    const byDay = new Map<string, typeof manifest.files>();
    for (const f of manifest.files) byDay.set(f.day, [...(byDay.get(f.day) ?? []), f]);
    expect([...byDay.keys()].sort()).toEqual(whole.map((f) => f.day as string).sort());
    const validator = rsmfSchemaValidator();
    for (const [day, parts] of byDay) {
      const events = whole.find((f) => f.day === day)!.events as number;
      expect(parts.length).toBe(Math.ceil(events / 2));
      expect(new Set(parts.map((p) => p.eventCollectionId)).size).toBe(1);
      expect(parts.reduce((n, p) => n + p.events, 0)).toBe(events);
      for (const p of parts) {
        expect(p.events).toBeLessThanOrEqual(2);
        const parsed = await parseRsmf(join(dir, p.fileName));
        expect(parsed.manifest.eventcollectionid).toBe(p.eventCollectionId);
        expect(referenceProblems(parsed.manifest, new Set(parsed.zip.keys())), p.fileName).toEqual([]);
        if (!('skipped' in validator)) expect(validator.validate(parsed.manifest)).toEqual([]);
      }
    }
  });

  it('checks named conversations against the archive while planning, before anything is read or written', async () => {
    const deps = { container: h.deps.container, checkpoints: h.deps.checkpoints, exportStartMs: h.deps.settings.startMs };
    const request = (conversations: string[]) => ({ fromMs, toMs, users: [], teams: [], conversations });
    // an id nobody knows: refused by planning itself (the CLI's exit 2 and the HTTP 400 both come from here)
    const refused = await planProduction(request(['19:nothing@thread.v2']), deps).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ProductionInputError);
    expect(refused).toMatchObject({ field: 'conversation', message: expect.stringMatching(/unknown conversation 19:nothing@thread.v2/) });
    // a chat and a channel the run's directory snapshot lists
    const tenant = h.emulator.tenant;
    const snapshot = (await readNearestDirectorySnapshot(h.deps.container, new Date(toMs)))!;
    const listedChat = snapshot.chats[0]!.id;
    const listedChannel = snapshot.teams[0]!.channels[0]!.id;
    expect((await planProduction(request([listedChat, listedChannel]), deps)).request.conversations).toEqual([listedChat, listedChannel]);
    // a chat started after the snapshot, archived by a backfill: no snapshot lists it, the range's batches hold it
    const [a, b] = tenant.users.filter((u) => u.hasTeamsData);
    const chat = tenant.addChat({
      id: '19:after-the-snapshot@thread.v2',
      kind: 'group',
      topic: 'After the snapshot',
      memberIds: [a!.id, b!.id],
    });
    tenant.postMessage({ chatId: chat.id }, { fromUserId: a!.id, text: 'a chat the snapshot never saw', atMs: fromMs + HOUR });
    await h.backfill({ fromMs, toMs }, { users: [a!.id] });
    expect(snapshot.chats.map((c) => c.id)).not.toContain(chat.id);
    await expect(planProduction(request([chat.id]), deps)).resolves.toMatchObject({ request: { conversations: [chat.id] } });
    // the archive probe itself: finds what is there, stops once everything is found, reports what is not
    const sources = [{ entity: { kind: 'user' as const, id: a!.id } }];
    const probe = await findConversations(h.deps.container, sources, new Set([chat.id, '19:nothing@thread.v2']), { fromMs, toMs });
    expect([...probe.found]).toEqual([chat.id]);
    const early = await findConversations(h.deps.container, sources, new Set([chat.id]), { fromMs, toMs });
    expect(early.batchesRead).toBeLessThanOrEqual(probe.batchesRead);
    // outside the range it is unknown
    const before = await planProduction({ ...request([chat.id]), fromMs: fromMs - DAY, toMs: fromMs }, deps).catch((err: unknown) => err);
    expect(before).toMatchObject({ field: 'conversation' });
  });
});
