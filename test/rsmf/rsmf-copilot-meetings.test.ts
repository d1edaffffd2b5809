// Copilot sessions and meeting transcripts in RSMF productions (docs/rsmf.md, issue 23): the emulator's
// tenant exported by the real engine (chats, channels, directory snapshot), its Copilot interactions and
// meeting transcripts and recordings written at their documented blob names with the archive's own
// writers (day batches of the items as Graph serves them, stored content, content maps), then productions
// by `teams-export rsmf` and over HTTP, every file read back and checked against the schema and
// Relativity's validator.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExpectedInteraction } from '../../emulator/copilot';
import type { ExpectedMeetingArtifact } from '../../emulator/meetings';
import { readAuditTrail } from '../../src/archive/audit-trail';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import { writeBatch, writeJson } from '../../src/archive/batch-writer';
import {
  batchBlobName,
  contentBlobName,
  contentMapName,
  entityKindRoot,
  entityPrefix,
  parseBatchBlobName,
} from '../../src/archive/blob-layout';
import { storeContent } from '../../src/archive/content-store';
import type { ArchiveContainer } from '../../src/archive/archive-container';
import { COPILOT_PARTICIPANT } from '../../src/rsmf/copilot-events';
import { DAY, HOUR, iso, utcDay } from '../../src/time';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { createGetProductionHandler } from '../../functions/get-production';
import { createReadExportHandler } from '../../functions/read-export';
import { createStartProductionHandler } from '../../functions/start-production';
import { drainQueues, startFunctionsHarness, type FunctionsHarness } from '../functions/functions-harness';
import { cliInProcess } from '../support/cli-in-process';
import { principalHeaders } from '../support/principal';
import { parseRsmf, referenceProblems, rsmfSchemaValidator, type ParsedRsmf } from '../support/rsmf-reader';

type Json = Record<string, any>;

const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Relativity's validator (../shared/rsmf/validator), when it is there and Mono is installed; else why not. */
const VALIDATOR = resolve(__dirname, '../../../shared/rsmf/validator/rsmf-validate');
function relativityValidator(): { validate: (files: string[]) => string } | { skipped: string } {
  if (!existsSync(VALIDATOR)) return { skipped: `Relativity's RSMF validator not found at ${VALIDATOR}: skipped` };
  if (spawnSync('sh', ['-c', 'command -v mono && command -v mcs'], { encoding: 'utf8' }).status !== 0)
    return { skipped: `Mono is not installed (run ${VALIDATOR} once to install it): Relativity's validator skipped` };
  return {
    validate: (files) => {
      const r = spawnSync(VALIDATOR, files, { encoding: 'utf8', timeout: 120_000 });
      return `${r.stdout}${r.stderr}`;
    },
  };
}

/** The day batch name an exporter writes for a user's Copilot interactions or meeting artifacts. */
function artifactBatchName(root: 'copilot' | 'meetings', userId: string, day: string, pass: 'fresh' | 'settle', seq = 0): string {
  return batchBlobName({ kind: root, id: userId }, day, {
    pass,
    window: { fromMs: 0, toMs: Date.parse(`${day}T00:00:00Z`) + DAY },
    runId: 'fixture',
    seq,
  });
}

function batchMetadata(root: 'copilot' | 'meetings', userId: string, day: string, pass: string): Record<string, string> {
  return {
    entitykind: root,
    entityid: encodeURIComponent(userId),
    pass,
    windowfrom: iso(0),
    windowto: iso(Date.parse(`${day}T00:00:00Z`) + DAY),
    day,
    writer: 'fixture',
  };
}

interface Fixtures {
  /** A Copilot batch of the export written again as a settle pass's (the same versions twice). */
  duplicatedBatch: string;
  /** The export's transcripts and recordings created in the range. */
  transcripts: ExpectedMeetingArtifact[];
  recordings: ExpectedMeetingArtifact[];
  /** A transcript whose content the content stage could not fetch (403), in a meeting chat of the range. */
  forbidden: { id: string; chatId: string; createdMs: number };
  /** A transcript whose meetingId names no chat, and its organiser. */
  chatless: { id: string; meetingId: string; organizerId: string; vtt: Buffer };
}

/**
 * Beside what the export wrote, the cases a tenant does not produce on demand, written as the exporter
 * writes (docs/archive-format.md §12: per user and UTC day of createdDateTime, each item as Graph serves
 * it, bodies in content/, the content map beside the batch): a transcript Graph refused to serve, one of
 * a meeting whose id names no chat, and a Copilot batch archived twice.
 */
async function writeEdgeFixtures(
  container: ArchiveContainer,
  artifacts: ExpectedMeetingArtifact[],
  inRange: (ms: number) => boolean,
): Promise<Fixtures> {
  let duplicatedBatch = '';
  for await (const b of listBatches(container, entityKindRoot('copilot'))) {
    const parsed = parseBatchBlobName(b.name);
    if (!parsed || !inRange(Date.parse(`${parsed.day}T12:00:00Z`))) continue;
    const lines: string[] = [];
    for await (const line of readBatchLines(container, b.name)) lines.push(line);
    duplicatedBatch = artifactBatchName('copilot', parsed.entity.id, parsed.day, 'settle');
    await writeBatch(container, duplicatedBatch, lines, batchMetadata('copilot', parsed.entity.id, parsed.day, 'settle'));
    break;
  }

  const transcripts = artifacts.filter((a) => a.kind === 'transcript' && inRange(a.createdMs)).sort((a, b) => a.createdMs - b.createdMs);
  const recordings = artifacts.filter((a) => a.kind === 'recording' && inRange(a.createdMs));
  const first = transcripts[0]!;
  const forbidden = {
    id: Buffer.from(`V2##1forbidden##${randomish(first.id)}`).toString('base64'),
    chatId: first.chatId,
    createdMs: first.createdMs + 120_000,
  };
  const chatless = {
    id: Buffer.from(`V2##1chatless##${randomish(first.id)}`).toString('base64'),
    meetingId: Buffer.from('not an online meeting of a chat').toString('base64'),
    organizerId: first.organizerId,
    vtt: Buffer.from(
      'WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\n<v Chatless Speaker>A meeting without a chat &amp; its notes</v>\n',
      'utf8',
    ),
  };
  const stored = await storeContent(container, chatless.vtt, 'text/vtt');
  const items = [
    {
      item: { ...first.item, id: forbidden.id, createdDateTime: iso(forbidden.createdMs) },
      meetingId: first.meetingId,
      entry: { status: 'forbidden', reason: '403 Forbidden request-id fixture' },
    },
    {
      item: { ...first.item, id: chatless.id, meetingId: chatless.meetingId, createdDateTime: iso(first.createdMs + 60_000) },
      meetingId: chatless.meetingId,
      entry: { status: 'stored', sha256: stored.sha256, contentType: 'text/vtt', bytes: stored.bytes },
    },
  ];
  for (const [seq, x] of items.entries()) {
    const createdMs = Date.parse(x.item.createdDateTime as string);
    const day = utcDay(createdMs);
    const name = artifactBatchName('meetings', first.organizerId, day, 'fresh', seq + 1);
    await writeBatch(container, name, [JSON.stringify(x.item)], batchMetadata('meetings', first.organizerId, day, 'fresh'));
    const key = `${x.meetingId}|${x.item.id as string}|${createdMs}|transcript`;
    const entry = { key, conversationId: x.meetingId, messageId: x.item.id, kind: 'transcript', ref: 'content', ...x.entry };
    await writeJson(container, contentMapName(name), { batch: name, entries: [entry] }, { metadata: { writer: 'content-stage' } });
  }
  return { duplicatedBatch, transcripts, recordings, forbidden, chatless };
}

function randomish(seed: string): string {
  return sha256(Buffer.from(seed)).slice(0, 32);
}

async function readFolder(dir: string): Promise<{ production: Json; files: Map<string, ParsedRsmf> }> {
  const production = JSON.parse(readFileSync(join(dir, 'production.json'), 'utf8')) as Json;
  const files = new Map<string, ParsedRsmf>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.rsmf'))) files.set(name, await parseRsmf(join(dir, name)));
  return { production, files };
}

const custom = (e: Json, name: string): string | undefined => (e.custom as Json[] | undefined)?.find((c) => c.name === name)?.value;

describe('Copilot sessions and meeting transcripts in RSMF productions', () => {
  let fh: FunctionsHarness;
  const now = Date.now();
  const fromMs = dayStart(now) - 3 * DAY;
  const toMs = dayStart(now) - 1 * DAY;
  const inRange = (ms: number) => ms >= fromMs && ms < toMs;
  let interactions: ExpectedInteraction[];
  let fixtures: Fixtures;
  let whole: { dir: string; stdout: string; production: Json; files: Map<string, ParsedRsmf> };
  const tmp = mkdtempSync(join(tmpdir(), 'te-rsmf-copilot-'));

  const produce = async (args: string[]) => {
    const dir = join(mkdtempSync(join(tmp, 'p-')), 'out');
    const r = await cliInProcess(fh.h.env, ['rsmf', '--from', iso(fromMs), '--to', iso(toMs), '--out', dir, ...args]);
    expect(r.code, r.stderr).toBe(0);
    return { dir, stdout: r.stdout, ...(await readFolder(dir)) };
  };

  /** The expected sessions: interactions created in the range by user, sessionId and UTC day, in time order. */
  const sessions = (users?: string[]) => {
    const out = new Map<string, ExpectedInteraction[]>();
    for (const it of interactions) {
      if (!inRange(it.createdMs) || (users && !users.includes(it.userId))) continue;
      const key = `${it.userId}|${it.sessionId}|${utcDay(it.createdMs)}`;
      out.set(key, [...(out.get(key) ?? []), it]);
    }
    for (const list of out.values()) list.sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1));
    return out;
  };
  const copilotFiles = (p: { production: Json }) => (p.production.files as Json[]).filter((f) => f.conversationType === 'copilot');

  beforeAll(async () => {
    fh = await startFunctionsHarness({
      label: 'rsmf-copilot',
      tenant: {
        seed: 23,
        users: 8,
        teams: 1,
        channelsPerTeam: 1,
        oneOnOneChats: 2,
        groupChats: 1,
        meetingChats: 3,
        messagesPerChat: 6,
        postsPerChannel: 3,
        historyDays: 3,
        endMs: toMs - HOUR,
        hostedContentFraction: 0,
        fileFraction: 0,
        copilotLicenseFraction: 0.75,
        copilotSessionsPerUser: 3,
        meetingOccurrences: 3,
      },
      faults: { copilotRps: null },
      env: { EXPORT_COPILOT: 'true', EXPORT_MEETINGS: 'true', GRAPH_COPILOT_RPS: '1000', GRAPH_MEETING_RPS: '1000' },
    });
    const daily = await fh.h.daily(now);
    expect(daily.status, daily.error).toBe('succeeded');
    // What the export archived: the licensed users' interactions, every transcript and recording.
    interactions = fh.h.emulator.copilotInteractions().filter((i) => i.licensed);
    fixtures = await writeEdgeFixtures(fh.ctx.deps.container, fh.h.emulator.meetingArtifacts(), inRange);
    whole = await produce([]);
  }, 240_000);
  afterAll(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await fh?.close();
  });

  it('produces each Copilot session of the range as a conversation of the user and "Microsoft 365 Copilot", once', () => {
    const expected = sessions();
    expect(expected.size).toBeGreaterThan(2);
    expect(fixtures.duplicatedBatch).toMatch(/^copilot\/users\/.*\/settle_/);
    const files = copilotFiles(whole);
    expect(files.map((f) => `${f.custodians[0]}|${f.conversationId}|${f.day}`).sort()).toEqual([...expected.keys()].sort());
    const tenant = fh.h.emulator.tenant;
    for (const f of files) {
      const parsed = whole.files.get(f.fileName)!;
      const userId = f.custodians[0] as string;
      const want = expected.get(`${userId}|${f.conversationId}|${f.day}`)!;
      expect(f.custodians).toEqual([userId]);
      const conv = (parsed.manifest.conversations as Json[])[0]!;
      expect(conv).toMatchObject({ id: f.conversationId, type: 'direct', platform: 'Microsoft 365 Copilot', custodian: userId });
      expect([...(conv.participants as string[])].sort()).toEqual([userId, COPILOT_PARTICIPANT.id].sort());
      const people = new Map((parsed.manifest.participants as Json[]).map((p) => [p.id as string, p]));
      expect(people.get(COPILOT_PARTICIPANT.id)?.display).toBe('Microsoft 365 Copilot');
      expect(people.get(userId)?.display).toBe(tenant.user(userId)!.displayName);
      expect(conv.display).toContain(tenant.user(userId)!.displayName);
      // the app the session was in, as Copilot's answers name it
      const app = want.map((it) => (it.item.from as Json).application?.displayName as string | undefined).find((x) => x);
      if (app) expect(conv.display).toContain(`(${app})`);
      // every prompt and answer, in createdDateTime order, each once (the duplicated batch too)
      const events = parsed.manifest.events as Json[];
      expect(events.map((e) => e.id)).toEqual(want.map((it) => it.id));
      expect(f.interactions).toBe(want.length);
      for (const [i, e] of events.entries()) {
        const it = want[i]!;
        const record = tenant.copilot.of(userId).find((r) => r.id === it.id)!;
        expect(e.participant).toBe(it.interactionType === 'userPrompt' ? userId : COPILOT_PARTICIPANT.id);
        expect(e.timestamp).toBe(new Date(it.createdMs).toISOString());
        expect(e.type).toBe('message');
        // text, HTML made plain, the answer's adaptive card read, no attachment placeholder left
        expect(e.body).toContain(record.text.split('\n')[0]);
        expect(e.body).not.toMatch(/<attachment|<p>|<at /);
        expect(custom(e, 'App class')).toBe(it.appClass);
        expect(custom(e, 'Session id')).toBe(it.sessionId);
        const links = (it.item.links as Json[]) ?? [];
        for (const [n, l] of links.entries()) expect(custom(e, `Link ${n + 1}`)).toContain(l.linkUrl);
        const contexts = (it.item.contexts as Json[]) ?? [];
        for (const [n, c] of contexts.entries()) expect(custom(e, `Context ${n + 1}`)).toContain(c.contextReference);
      }
      expect(f.sources.some((s: string) => s.startsWith(entityPrefix({ kind: 'copilot', id: userId })))).toBe(true);
    }
    const total = [...expected.values()].reduce((n, l) => n + l.length, 0);
    console.info(
      `${files.length} Copilot session files of ${new Set(files.map((f) => f.custodians[0])).size} users, ${total} interactions; totals ${JSON.stringify(whole.production.totals)}`,
    );
    expect(whole.production.totals.interactions).toBe(total);
    const t = whole.production.totals;
    expect(whole.stdout).toContain(
      `, ${t.interactions} Copilot interactions, ${t.transcripts} meeting transcripts, ${t.recordings} meeting recordings) in ${whole.dir}`,
    );
    // links and contexts were there to carry
    const events = files.flatMap((f) => whole.files.get(f.fileName)!.manifest.events as Json[]);
    expect(events.some((e) => custom(e, 'Link 1'))).toBe(true);
    expect(events.some((e) => custom(e, 'Context 1'))).toBe(true);
    // nothing created outside the range
    expect(interactions.some((it) => !inRange(it.createdMs))).toBe(true);
  });

  it("attaches each meeting's transcript (its stored WebVTT) to that meeting chat's file, with speakers and times", () => {
    const transcripts = fixtures.transcripts;
    expect(transcripts.length).toBeGreaterThan(0);
    const files = whole.production.files as Json[];
    let attached = 0;
    for (const t of transcripts) {
      const f = files.find((x) => x.conversationId === t.chatId && x.day === utcDay(t.createdMs));
      expect(f, `the file of ${t.chatId} on ${utcDay(t.createdMs)}`).toBeDefined();
      expect(f!.conversationType).toBe('chat');
      expect(f!.custodians).toContain(t.organizerId);
      const parsed = whole.files.get(f!.fileName)!;
      const e = (parsed.manifest.events as Json[]).find((x) => x.id === t.id)!;
      expect(e).toMatchObject({ type: 'message', participant: t.organizerId, timestamp: new Date(t.createdMs).toISOString() });
      expect(custom(e, 'Meeting id')).toBe(t.meetingId);
      const attachment = (e.attachments as Json[])[0]!;
      expect(attachment).toMatchObject({ id: `${t.sha256}.vtt`, size: t.size });
      expect(attachment.display).toMatch(/\.vtt$/);
      expect(parsed.zip.get(attachment.id)!.equals(t.bytes!)).toBe(true);
      // the cues: time, speaker, text
      const vtt = t.bytes!.toString('utf8');
      const cue = /(\d{2}:\d{2}:\d{2})\.\d+ --> .*\n<v ([^>]+)>([^<]*)<\/v>/.exec(vtt)!;
      expect(e.body).toContain(`[${cue[1]}] ${cue[2]}: ${cue[3]}`);
      expect(parsed.text).toContain(`${cue[2]}: ${cue[3]}`);
      expect(f!.sources).toContain(contentBlobName(t.sha256));
      attached++;
    }
    expect(attached).toBeGreaterThan(0);
    // and the transcript Graph refused: its event says so, with nothing attached
    const f = (whole.production.files as Json[]).find(
      (x) => x.conversationId === fixtures.forbidden.chatId && x.day === utcDay(fixtures.forbidden.createdMs),
    )!;
    const refused = (whole.files.get(f.fileName)!.manifest.events as Json[]).find((x) => x.id === fixtures.forbidden.id)!;
    expect(refused.attachments).toBeUndefined();
    expect(refused.body).toContain('not archived: forbidden');
    expect(custom(refused, 'Content not archived')).toContain('forbidden');
    expect(whole.production.totals.transcripts).toBe(transcripts.length + 2); // and the refused and chatless ones
  });

  it('names each recording in its meeting chat with where the archive holds it, without attaching it', () => {
    const recordings = fixtures.recordings;
    expect(recordings.length).toBeGreaterThan(0);
    for (const r of recordings) {
      const f = (whole.production.files as Json[]).find((x) => x.conversationId === r.chatId && x.day === utcDay(r.createdMs))!;
      const e = (whole.files.get(f.fileName)!.manifest.events as Json[]).find((x) => x.id === r.id)!;
      expect(e.attachments).toBeUndefined();
      expect(e.body).toContain(contentBlobName(r.sha256));
      expect(custom(e, 'Graph recording id')).toBe(r.id);
    }
    expect(whole.production.totals.recordings).toBe(recordings.length);
  });

  it('gives a meeting whose id names no chat a file of its own, under its organiser', () => {
    const f = (whole.production.files as Json[]).find((x) => x.conversationType === 'meeting')!;
    expect(f).toMatchObject({ conversationId: fixtures.chatless.meetingId, custodians: [fixtures.chatless.organizerId] });
    const parsed = whole.files.get(f.fileName)!;
    const e = (parsed.manifest.events as Json[])[0]!;
    expect(e.body).toContain('[00:00:00] Chatless Speaker: A meeting without a chat & its notes');
    expect(parsed.zip.get(`${sha256(fixtures.chatless.vtt)}.vtt`)!.equals(fixtures.chatless.vtt)).toBe(true);
  });

  it("validates every file against the RSMF 2.0 schema and Relativity's validator, every reference resolving inside its file", (ctx) => {
    const kinds = new Set((whole.production.files as Json[]).map((f) => f.conversationType));
    expect([...kinds].sort()).toEqual(['channel', 'chat', 'copilot', 'meeting']);
    for (const [name, parsed] of whole.files) {
      expect(referenceProblems(parsed.manifest, new Set(parsed.zip.keys())), name).toEqual([]);
      expect(Number(parsed.headers.get('x-rsmf-eventcount'))).toBe((parsed.manifest.events as unknown[]).length);
      expect(parsed.attachmentNames).toEqual(['rsmf.zip']);
    }
    const schema = rsmfSchemaValidator();
    const relativity = relativityValidator();
    if ('skipped' in schema) console.warn(schema.skipped);
    else for (const [name, parsed] of whole.files) expect(schema.validate(parsed.manifest), name).toEqual([]);
    if ('skipped' in relativity) console.warn(relativity.skipped);
    else {
      // the files with Copilot sessions, transcripts and recordings
      const names = (whole.production.files as Json[])
        .filter((f) => f.conversationType !== 'channel' && (f.interactions > 0 || f.transcripts > 0 || f.recordings > 0))
        .map((f) => f.fileName as string);
      const out = relativity.validate(names.map((n) => join(whole.dir, n)));
      const results = out.split('\n').filter((l) => /\t(Passed|PassedWithWarnings|Failed)\t/.test(l));
      expect(results.length, out).toBe(names.length);
      for (const line of results) expect(line, out).toMatch(/\tPassed\t/);
    }
    if ('skipped' in schema || 'skipped' in relativity) ctx.skip();
  });

  it("produces a named user's Copilot sessions and organised meetings only; a team's production has none", async () => {
    const tenant = fh.h.emulator.tenant;
    // a licensed user who organised a meeting of the range: their sessions and their meetings' transcripts
    const user = fixtures.transcripts.find((t) => tenant.copilot.isLicensed(t.organizerId))?.organizerId as string;
    expect(user).toBeDefined();
    const mine = await produce(['--user', user]);
    expect(
      copilotFiles(mine)
        .map((f) => `${f.custodians[0]}|${f.conversationId}|${f.day}`)
        .sort(),
    ).toEqual([...sessions([user]).keys()].sort());
    const theirTranscripts = fixtures.transcripts.filter((t) => t.organizerId === user);
    for (const t of theirTranscripts)
      expect((mine.production.files as Json[]).some((f) => f.conversationId === t.chatId && f.day === utcDay(t.createdMs))).toBe(true);
    expect(theirTranscripts.length).toBeGreaterThan(0);
    // every transcript produced is of a meeting they organised or of a chat archived under them
    for (const f of mine.production.files as Json[]) if (f.transcripts > 0) expect(f.custodians).toContain(user);
    const team = await produce(['--team', tenant.teams[0]!.id]);
    expect((team.production.files as Json[]).every((f) => f.conversationType === 'channel')).toBe(true);
    expect(team.production.totals).toMatchObject({ interactions: 0, transcripts: 0, recordings: 0 });
  });

  it('a named meeting chat carries its transcripts and no Copilot session', async () => {
    const t = fixtures.transcripts[0]!;
    const p = await produce(['--conversation', t.chatId]);
    expect(copilotFiles(p)).toEqual([]);
    const f = (p.production.files as Json[]).find((x) => x.day === utcDay(t.createdMs))!;
    expect(f.conversationId).toBe(t.chatId);
    expect((p.files.get(f.fileName)!.manifest.events as Json[]).some((e) => e.id === t.id)).toBe(true);
  });

  it('records the production in the audit trail before anything is read', async () => {
    const records = [];
    for await (const r of readAuditTrail(fh.ctx.deps.container, { fromMs: now - HOUR, toMs: Date.now() + HOUR }))
      if ('record' in r && r.record.action === 'cli.rsmf') records.push(r.record);
    expect(records.length).toBeGreaterThan(0);
    expect(records.some((r) => r.entities?.includes('all'))).toBe(true);
  });

  it('over HTTP: POST /api/productions for a user builds the same Copilot sessions on the queue', async () => {
    const getCtx = () => Promise.resolve(fh.ctx);
    const user = interactions.find((it) => inRange(it.createdMs))!.userId;
    const res = await createStartProductionHandler(getCtx)(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost:7071/api/productions',
        body: { string: JSON.stringify({ from: iso(fromMs), to: iso(toMs), users: [user] }) },
        headers: { 'content-type': 'application/json', ...principalHeaders() },
      }),
      fh.invocation('startProduction'),
    );
    expect(res.status, JSON.stringify(res.jsonBody)).toBe(202);
    const productionId = String((res.jsonBody as Json).productionId);
    await drainQueues(fh, { worker: createExportWorkerHandler(getCtx), poison: createExportPoisonHandler(getCtx) });
    const get = (route: string, params: Record<string, string>) =>
      new HttpRequest({ method: 'GET', url: `http://localhost:7071/api/${route}`, params, headers: principalHeaders() });
    const status = (
      await createGetProductionHandler(getCtx)(get(`productions/${productionId}`, { productionId }), fh.invocation('getProduction'))
    ).jsonBody as Json;
    expect(status.status, status.error).toBe('succeeded');
    const expected = sessions([user]);
    expect(status.totals.interactions).toBe([...expected.values()].reduce((n, l) => n + l.length, 0));
    const copilot = (status.files as Json[]).filter((f) => /_copilot_/.test(f.fileName));
    expect(copilot.length).toBe(expected.size);
    const file = copilot[0]!;
    const download: HttpResponseInit = await createReadExportHandler(getCtx)(
      get(`exports/${file.name}`, { path: file.name }),
      fh.invocation('readExport'),
    );
    expect(download.status).toBe(200);
    const chunks: Buffer[] = [];
    for await (const c of download.body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
    const path = join(tmp, file.fileName);
    writeFileSync(path, Buffer.concat(chunks));
    const parsed = await parseRsmf(path);
    const conv = (parsed.manifest.conversations as Json[])[0]!;
    expect(conv.custodian).toBe(user);
    expect([...(conv.participants as string[])].sort()).toEqual([user, COPILOT_PARTICIPANT.id].sort());
  }, 120_000);
});
