// The bench's `artifacts` profile (issue 23): what Copilot interactions (EXPORT_COPILOT) and meeting
// transcripts and recordings (EXPORT_MEETINGS) cost, per Copilot user (licensed and unlicensed apart), per
// meeting organiser and per member who organised nothing, per interaction and per artifact, beside the same
// users' chat export in the same runs: Graph requests (the emulator's per-user, per-route counters) and storage
// operations (the counting proxy, each operation charged to the user and the kind its path names).
//
// Three runs of the production path (bench/scenario.ts, its own process each) against one tenant: the first
// run two days ago, a daily run a day ago with nothing new, and today's daily run after a few new interactions
// and meeting artifacts (postInteraction, addMeetingArtifacts). The emulator runs in this process (its tenant is
// mutated directly), with the bench's latency and limit and Copilot's own 30 requests/s; the product keeps its
// default budgets (GRAPH_COPILOT_RPS 25, GRAPH_MEETING_RPS 10). Its markdown report is its own section of
// bench/RESULTS.md (withArtifactsSection); BENCH_ARTIFACTS_USERS=N runs another size.
import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startAzurite } from '../emulator/azurite-process';
import { addMeetingArtifacts, postInteraction, startEmulator, trustCertificateInProcess, type Emulator } from '../emulator';
import { startStorageProxy, type StorageOperation } from '../emulator/storage-proxy';
import { performance } from 'node:perf_hooks';
import { DAY, HOUR, iso } from '../src/time';
import { opClass, PAGE_SIZE, runChild } from './bench';
import { productEnvFor } from './emulator-process';
import { GENERATED_SECTIONS } from './report';
import type { ScenarioInput, ScenarioResult } from './scenario';

export interface ArtifactsOptions {
  quick: boolean;
  latencyMs: number;
  jitterMs: number;
  limitRps: number;
  maxRps: number;
  concurrency: number;
}

type Kind = 'user' | 'copilot' | 'meetings';

/** One population's cost in one run: entities, Graph requests and storage operations naming them. */
export interface PopulationCost {
  label: string;
  kind: Kind;
  entities: number;
  requests: number;
  maxRequests: number;
  /** meetings only: the content and metadataContent requests among `requests` */
  contentRequests?: number;
  storageOps: number;
  maxStorageOps: number;
  /** the population's storage operations by what they touched (opClass) */
  storageByClass: Record<string, number>;
}

export interface ArtifactRun {
  name: string;
  nowMs: number;
  status: string;
  error?: string;
  wallS: number;
  /** the last entity job finished (the content stage may go on) */
  exportEndS?: number;
  /** seconds from the run's first Graph request to the last of each route, and the busiest second's count */
  routeSpans: Record<string, { firstS: number; lastS: number; peakPerS: number }>;
  graph: {
    total: number;
    chatExport: number;
    copilot: number;
    copilotPages: number;
    meetingLists: number;
    transcriptContent: number;
    recordingContent: number;
    directory: number;
    /** 429s: the emulator's tenant limit, Copilot's bucket, the product's own count */
    throttled: number;
    copilotThrottled: number;
    productThrottled: number;
    interactionsServed: number;
    transcriptsServed: number;
    recordingsServed: number;
  };
  storage: {
    total: number;
    /** operations naming a user, by kind (opClass within) */
    byKind: Record<Kind, Record<string, number>>;
    /** operations naming no user: content/, runs, manifests, queue, table batches */
    unattributed: Record<string, number>;
    /** answers ≥ 400 by `status class` (a 404 read of a blob not there yet, a 409/412 lost race) */
    failures: Record<string, number>;
  };
  costs: PopulationCost[];
}

export interface ArtifactsReport {
  at: string;
  seconds: number;
  users: number;
  memberUsers: number;
  licensed: number;
  organisers: number;
  meetingChats: number;
  interactions: number;
  transcripts: number;
  recordings: number;
  latencyMs: number;
  jitterMs: number;
  limitRps: number;
  copilotRps: number | null;
  runs: ArtifactRun[];
  /** today's additions (the third run) */
  added: { copilotUsers: number; interactions: number; organisers: number; transcripts: number; recordings: number };
  /** what the archive holds after the last run against what the emulator serves */
  archive: {
    interactionLines: number;
    interactionsExpected: number;
    artifactLines: number;
    artifactsExpected: number;
    contentByStatus: Record<string, number>;
    contentByKind: Record<string, number>;
  };
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Which of a user's three entities a storage operation belongs to, by the kind its path names. */
export function kindOfResource(resource: string): Kind {
  // copilot/users/…, locks/copilot-users/…, the checkpoint row (PartitionKey 'copilot'), the job row (copilot_…)
  if (/copilot/i.test(resource)) return 'copilot';
  if (/meeting/i.test(resource)) return 'meetings';
  return 'user';
}

export async function runArtifactsProfile(o: ArtifactsOptions, log: (line: string) => void): Promise<ArtifactsReport> {
  const started = Date.now();
  // BENCH_ARTIFACTS_USERS: another size, to see a budget at work (meeting chats scale with it).
  const users = Number(process.env.BENCH_ARTIFACTS_USERS) > 0 ? Math.round(Number(process.env.BENCH_ARTIFACTS_USERS)) : o.quick ? 16 : 32;
  const meetingChats = Math.max(2, Math.round(users / 4));
  // Three days: the first run two days ago, an idle daily run a day ago, a daily run today after new items.
  const todayMs = Date.now();
  const days = [todayMs - 2 * DAY, todayMs - DAY, todayMs];
  const historyDays = 7;
  log(
    `\n▶ artifacts: ${users} users (${meetingChats} meeting chats, half the members Copilot-licensed), EXPORT_COPILOT and EXPORT_MEETINGS on beside EXPORT_USERS=all; ` +
      `Graph ${o.latencyMs} ms latency, limit ${o.limitRps}/s, Copilot's own 30/s; GRAPH_COPILOT_RPS 25, GRAPH_MEETING_RPS 10 (defaults)`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'bench-artifacts-'));
  const [azurite, emulator] = await Promise.all([
    startAzurite({ timeoutMs: 120_000 }),
    startEmulator({
      tenant: {
        seed: 23,
        users,
        teams: 1,
        channelsPerTeam: 1,
        oneOnOneChats: Math.round(users / 2),
        groupChats: 3,
        meetingChats,
        messagesPerChat: 3,
        postsPerChannel: 1,
        repliesPerPost: 0,
        historyDays,
        // The seeded history (messages, interactions, meetings) ends more than a day before the first run,
        // so the next day's settle pass finds nothing either (as in the daily profile): an idle day.
        endMs: days[0]! - DAY - 2 * HOUR,
        copilotLicenseFraction: 0.5,
        copilotSessionsPerUser: 2,
        meetingOccurrences: 2,
      },
      faults: { latencyMs: o.latencyMs, jitterMs: o.jitterMs, rateLimitRps: o.limitRps },
    }),
  ]);
  trustCertificateInProcess(emulator.caCertPem);
  const caCertFile = join(tmp, 'ca.pem');
  await emulator.writeCaCert(caCertFile);
  const tenant = emulator.tenant;
  const members = tenant.users.filter((u) => u.userType === 'Member');
  const userIds = new Set(tenant.users.map((u) => u.id.toLowerCase()));
  const memberIds = new Set(members.map((u) => u.id.toLowerCase()));
  const withMailbox = new Set(tenant.users.filter((u) => u.hasTeamsData).map((u) => u.id.toLowerCase()));
  const licensed = new Set(tenant.copilot.licensedUsers().map((id) => id.toLowerCase()));
  const organiserOf = (chatId: string) => tenant.meetings.meetingOfChat(chatId)?.organizerId.toLowerCase();
  const organisers = new Set([...tenant.meetings.all()].map((a) => a.meeting.organizerId.toLowerCase()).filter((id) => memberIds.has(id)));

  // Storage operations per (kind, user) and by what they touched.
  let perEntity = new Map<string, Record<string, number>>();
  let byKind: Record<Kind, Record<string, number>> = { user: {}, copilot: {}, meetings: {} };
  let unattributed: Record<string, number> = {};
  let failures: Record<string, number> = {};
  const bump = (into: Record<string, number>, k: string) => {
    into[k] = (into[k] ?? 0) + 1;
  };
  const gate = (op: StorageOperation) => {
    const cls = classOf(op);
    const ids = [...new Set(op.resource.toLowerCase().match(GUID) ?? [])].filter((id) => userIds.has(id));
    if (ids.length === 0) bump(unattributed, cls);
    else {
      const kind = kindOfResource(op.resource);
      bump(byKind[kind], cls);
      for (const id of ids) {
        const key = `${kind}|${id}`;
        const counts = perEntity.get(key) ?? {};
        bump(counts, cls);
        perEntity.set(key, counts);
      }
    }
    return 'forward' as const;
  };
  const proxy = await startStorageProxy(azurite.connectionString, { keepLog: false, byEntity: false, gate });
  proxy.onAnswer((op, status) => {
    if (status >= 400) bump(failures, `${status} ${classOf(op)}`);
  });
  const info = {
    origin: emulator.origin,
    graphBaseUrl: emulator.graphBaseUrl,
    authorityHost: emulator.authorityHost,
    tenantId: emulator.tenantId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    caCertFile,
  };
  const exportStart = iso(days[0]! - (historyDays + 3) * DAY);
  const env = (nowMs: number): Record<string, string> => ({
    ...(process.env as Record<string, string>),
    ...productEnvFor(info),
    GRAPH_MAX_RPS: String(o.maxRps),
    GRAPH_PAGE_SIZE: String(PAGE_SIZE),
    EXPORT_STORAGE: proxy.connectionString,
    EXPORT_CONTAINER: 'bench-export',
    EXPORT_TABLE_PREFIX: 'bench',
    EXPORT_START: exportStart,
    EXPORT_CONCURRENCY: String(o.concurrency),
    EXPORT_USERS: 'all',
    EXPORT_TEAMS: 'none',
    EXPORT_COPILOT: 'true',
    EXPORT_MEETINGS: 'true',
    // Meeting bodies go through the content stage; hosted contents and attachments stay off (their cost is
    // the content profile's), so every content/ operation here is a transcript's or a recording's.
    EXPORT_HOSTED_CONTENTS: 'false',
    EXPORT_ATTACHMENTS: 'false',
    LOG_LEVEL: 'warn',
    BENCH_SCENARIO: JSON.stringify({ nowMs } satisfies ScenarioInput),
  });

  const runs: ArtifactRun[] = [];
  let added: ArtifactsReport['added'] = { copilotUsers: 0, interactions: 0, organisers: 0, transcripts: 0, recordings: 0 };
  const busy = { copilot: new Set<string>(), meetings: new Set<string>() };
  /** Every planned entity asks Graph at least once in the first run: the populations, by kind. */
  const planned: Record<Kind, Set<string>> = { user: new Set(), copilot: new Set(), meetings: new Set() };
  try {
    const names = ['first run (two days ago)', 'daily, nothing new (a day ago)', 'daily, new items (today)'];
    for (let i = 0; i < days.length; i++) {
      const nowMs = days[i]!;
      if (i === 2) added = addToday(emulator, days[1]!, todayMs, busy, o.quick, organiserOf);
      emulator.resetCounters();
      proxy.reset();
      perEntity = new Map();
      byKind = { user: {}, copilot: {}, meetings: {} };
      unattributed = {};
      failures = {};
      const sampler = routeSampler(emulator);
      const result = await runChild(env(nowMs), undefined, log);
      const routeSpans = sampler.stop();
      const c = emulator.counters;
      const byRoute = c.artifactRequestsByUserRoute;
      const requestsOf = (kind: Kind, id: string): { requests: number; content: number } => {
        if (kind === 'user') return { requests: c.exportRequestsByEntity[id] ?? 0, content: 0 };
        if (kind === 'copilot') return { requests: byRoute[`copilot|${id}`] ?? 0, content: 0 };
        const content = byRoute[`meetingContent|${id}`] ?? 0;
        return { requests: (byRoute[`meetingList|${id}`] ?? 0) + content, content };
      };
      if (i === 0) {
        // The emulator's keys are the ids as the product sent them (lowercase GUIDs here).
        for (const id of Object.keys(c.exportRequestsByEntity)) planned.user.add(id);
        for (const k of Object.keys(byRoute)) {
          const [route, id = ''] = k.split('|');
          planned[route === 'copilot' ? 'copilot' : 'meetings'].add(id);
        }
      }
      const cost = (label: string, kind: Kind, ids: Iterable<string>): PopulationCost => {
        const out: PopulationCost = {
          label,
          kind,
          entities: 0,
          requests: 0,
          maxRequests: 0,
          storageOps: 0,
          maxStorageOps: 0,
          storageByClass: {},
        };
        if (kind === 'meetings') out.contentRequests = 0;
        for (const id of ids) {
          const r = requestsOf(kind, id);
          const classes = perEntity.get(`${kind}|${id.toLowerCase()}`) ?? {};
          const s = sum(Object.values(classes));
          for (const [k, v] of Object.entries(classes)) out.storageByClass[k] = (out.storageByClass[k] ?? 0) + v;
          out.entities++;
          out.requests += r.requests;
          out.maxRequests = Math.max(out.maxRequests, r.requests);
          if (out.contentRequests !== undefined) out.contentRequests += r.content;
          out.storageOps += s;
          out.maxStorageOps = Math.max(out.maxStorageOps, s);
        }
        return out;
      };
      const isLicensed = (id: string) => licensed.has(id.toLowerCase());
      const isOrganiser = (id: string) => organisers.has(id.toLowerCase());
      const copilotIds = [...planned.copilot];
      const meetingIds = [...planned.meetings];
      const hasMailbox = (id: string) => withMailbox.has(id.toLowerCase());
      const costs: PopulationCost[] = [
        cost('messages: user with a mailbox', 'user', [...planned.user].filter(hasMailbox)),
        cost(
          'messages: user without one (404)',
          'user',
          [...planned.user].filter((id) => !hasMailbox(id)),
        ),
      ];
      if (i < 2) {
        costs.push(cost('Copilot user, licensed', 'copilot', copilotIds.filter(isLicensed)));
        costs.push(
          cost(
            'Copilot user, unlicensed',
            'copilot',
            copilotIds.filter((id) => !isLicensed(id)),
          ),
        );
        costs.push(cost('meetings: organiser', 'meetings', meetingIds.filter(isOrganiser)));
        costs.push(
          cost(
            'meetings: organised nothing',
            'meetings',
            meetingIds.filter((id) => !isOrganiser(id)),
          ),
        );
      } else {
        const isBusy = (kind: 'copilot' | 'meetings') => (id: string) => busy[kind].has(id.toLowerCase());
        costs.push(cost('Copilot user, licensed, new interactions', 'copilot', copilotIds.filter(isBusy('copilot'))));
        costs.push(
          cost(
            'Copilot user, licensed, idle',
            'copilot',
            copilotIds.filter((id) => isLicensed(id) && !isBusy('copilot')(id)),
          ),
        );
        costs.push(
          cost(
            'Copilot user, unlicensed',
            'copilot',
            copilotIds.filter((id) => !isLicensed(id)),
          ),
        );
        costs.push(cost('meetings: organiser, new artifacts', 'meetings', meetingIds.filter(isBusy('meetings'))));
        costs.push(
          cost(
            'meetings: organiser, idle',
            'meetings',
            meetingIds.filter((id) => isOrganiser(id) && !isBusy('meetings')(id)),
          ),
        );
        costs.push(
          cost(
            'meetings: organised nothing',
            'meetings',
            meetingIds.filter((id) => !isOrganiser(id)),
          ),
        );
      }
      const run: ArtifactRun = {
        name: names[i]!,
        nowMs,
        status: result.status,
        ...(result.error ? { error: result.error } : {}),
        wallS: result.wallMs / 1000,
        ...(result.timeline.exportEndMs !== undefined ? { exportEndS: result.timeline.exportEndMs / 1000 } : {}),
        routeSpans,
        graph: {
          total: c.graphRequests,
          chatExport: c.byRoute.chatExport,
          copilot: c.copilotRequests,
          copilotPages: c.copilotPages,
          meetingLists: c.meetingRequests,
          transcriptContent: c.transcriptContentRequests,
          recordingContent: c.recordingContentRequests,
          directory: c.byRoute.users + c.byRoute.deletedUsers + c.byRoute.teams + c.byRoute.deletedTeams,
          throttled: c.throttled,
          copilotThrottled: c.copilotThrottled,
          productThrottled: result.graph.throttled,
          interactionsServed: c.copilotInteractionsServed,
          transcriptsServed: c.transcriptsServed,
          recordingsServed: c.recordingsServed,
        },
        storage: { total: proxy.counts().total, byKind, unattributed, failures },
        costs,
      };
      runs.push(run);
      logRun(run, result, log);
    }
    const expectedInteractions = emulator.copilotInteractions().length;
    const expectedArtifacts = emulator.meetingArtifacts().length;
    const archive = {
      ...(await readArchive(azurite.connectionString)),
      interactionsExpected: expectedInteractions,
      artifactsExpected: expectedArtifacts,
    };
    const stats = [...tenant.meetings.all()];
    return {
      at: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
      users,
      memberUsers: members.length,
      licensed: licensed.size,
      organisers: organisers.size,
      meetingChats,
      interactions: expectedInteractions - added.interactions,
      transcripts: stats.filter((a) => a.kind === 'transcript').length - added.transcripts,
      recordings: stats.filter((a) => a.kind === 'recording').length - added.recordings,
      latencyMs: o.latencyMs,
      jitterMs: o.jitterMs,
      limitRps: o.limitRps,
      copilotRps: emulator.faults.copilotRps,
      runs,
      added,
      archive,
    };
  } finally {
    await Promise.all([emulator.close(), azurite.stop(), proxy.close()]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Today's new items, between yesterday's run and today's: a prompt and its answer for a few licensed users, a meeting for a few organisers. */
function addToday(
  emulator: Emulator,
  fromMs: number,
  toMs: number,
  busy: { copilot: Set<string>; meetings: Set<string> },
  quick: boolean,
  organiserOf: (chatId: string) => string | undefined,
): ArtifactsReport['added'] {
  const tenant = emulator.tenant;
  const n = quick ? 2 : 4;
  const at = (k: number) => fromMs + HOUR + k * 10 * 60_000;
  let interactions = 0;
  for (const userId of tenant.copilot.licensedUsers().slice(0, n)) {
    const posted = postInteraction(tenant, userId, {
      prompt: 'Summarise what I missed today',
      response: 'Three threads need you.',
      atMs: at(interactions),
    });
    interactions += posted.responseId === null ? 1 : 2;
    busy.copilot.add(userId.toLowerCase());
  }
  let transcripts = 0;
  let recordings = 0;
  for (const chat of tenant.chats.filter((c) => c.kind === 'meeting' && organiserOf(c.id) !== undefined).slice(0, n)) {
    const ids = addMeetingArtifacts(tenant, { chatId: chat.id, atMs: at(10 + transcripts), transcript: true, recording: true });
    if (ids.transcriptId) transcripts++;
    if (ids.recordingId) recordings++;
    busy.meetings.add(organiserOf(chat.id) as string);
  }
  if (at(10 + transcripts) >= toMs - 2 * HOUR) throw new Error('the new items must fall inside the day');
  return { copilotUsers: busy.copilot.size, interactions, organisers: busy.meetings.size, transcripts, recordings };
}

function logRun(run: ArtifactRun, result: ScenarioResult, log: (line: string) => void): void {
  const g = run.graph;
  log(
    `  ${run.name}: ${run.status} in ${run.wallS.toFixed(1)} s (export ${run.exportEndS?.toFixed(1) ?? '?'} s); ${result.messages} items; Graph ${g.total}: chats ${g.chatExport}, Copilot ${g.copilot}, meeting lists ${g.meetingLists}, transcript content ${g.transcriptContent}, recording content ${g.recordingContent}; 429s ${g.throttled}+${g.copilotThrottled} (product ${g.productThrottled}); storage ${run.storage.total}`,
  );
  if (run.error) log(`  error: ${run.error}`);
  log(
    `    requests came: ${Object.entries(run.routeSpans)
      .map(([k, v]) => `${k} ${v.firstS.toFixed(1)}–${v.lastS.toFixed(1)} s (peak ${v.peakPerS}/s)`)
      .join(', ')}`,
  );
  for (const c of run.costs)
    log(
      `    ${c.label}: ${c.entities} × ${per(c.requests, c.entities)} Graph requests (max ${c.maxRequests}${c.contentRequests ? `, content ${per(c.contentRequests, c.entities)}` : ''}), ${per(c.storageOps, c.entities)} storage operations (max ${c.maxStorageOps})`,
    );
}

function per(x: number, n: number): string {
  return n === 0 ? '–' : (x / n).toFixed(2);
}

/** Lines in the copilot/ and meetings/ batches, and the meeting content maps' entries by status and kind. */
async function readArchive(
  connectionString: string,
): Promise<Omit<ArtifactsReport['archive'], 'interactionsExpected' | 'artifactsExpected'>> {
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('bench-export');
  const out = {
    interactionLines: 0,
    artifactLines: 0,
    contentByStatus: {} as Record<string, number>,
    contentByKind: {} as Record<string, number>,
  };
  for (const prefix of ['copilot/', 'meetings/']) {
    for await (const b of container.listBlobsFlat({ prefix })) {
      const buf = await container.getBlobClient(b.name).downloadToBuffer();
      if (b.name.endsWith('.jsonl.gz')) {
        const lines = gunzipSync(buf)
          .toString('utf8')
          .split('\n')
          .filter((l) => l.trim() !== '').length;
        if (prefix === 'copilot/') out.interactionLines += lines;
        else out.artifactLines += lines;
      } else if (b.name.endsWith('.content.json')) {
        const doc = JSON.parse(buf.toString('utf8')) as { entries?: Array<{ kind: string; status: string }> };
        for (const e of doc.entries ?? []) {
          out.contentByStatus[e.status] = (out.contentByStatus[e.status] ?? 0) + 1;
          out.contentByKind[e.kind] = (out.contentByKind[e.kind] ?? 0) + 1;
        }
      }
    }
  }
  return out;
}

/** The heading of the profile's section of bench/RESULTS.md (replaced by each run of the profile). */
export const ARTIFACTS_SECTION = 'Copilot and meeting costs (generated by the artifacts profile)';

/**
 * `doc` (bench/RESULTS.md) with its artifacts section replaced by `section`, or, when it has none yet, with
 * `section` after the generated sections (before the hand-written analyses).
 */
export function withArtifactsSection(doc: string, section: string): string {
  const [head = '', ...parts] = doc.split(/^(?=## )/m);
  const rest = parts.filter((p) => !p.startsWith(`## ${ARTIFACTS_SECTION}`));
  let at = 0;
  rest.forEach((p, i) => {
    if (GENERATED_SECTIONS.some((g) => p.startsWith(`## ${g}`))) at = i + 1;
  });
  const text = section.endsWith('\n\n') ? section : `${section.replace(/\n*$/, '')}\n\n`;
  return [head, ...rest.slice(0, at), text, ...rest.slice(at)].join('');
}

/** The report as markdown: the profile's section of bench/RESULTS.md. */
export function formatArtifacts(r: ArtifactsReport): string {
  const lines: string[] = [`## ${ARTIFACTS_SECTION}`, ''];
  const fmt = (x: number) => x.toLocaleString('en-US');
  lines.push(
    `Measured ${r.at} by \`npm run bench -- --profile artifacts\` (${r.seconds.toFixed(0)} s in all): ${r.users} users (${r.memberUsers} members: ${r.licensed} Copilot-licensed, ${r.organisers} meeting organisers of ${r.meetingChats} meeting chats), ${fmt(r.interactions)} interactions, ${r.transcripts} transcripts and ${r.recordings} recordings seeded; Graph ${r.latencyMs} ms + up to ${r.jitterMs} ms, ${r.limitRps} requests/s, Copilot's bucket ${r.copilotRps ?? 'off'}/s; product defaults GRAPH_COPILOT_RPS 25, GRAPH_MEETING_RPS 10; EXPORT_USERS=all, EXPORT_TEAMS=none, hosted contents off.`,
    '',
    '| run | status | wall s (export) | Graph requests | chats | Copilot (pages) | meeting lists | transcript content | recording content | directory | 429s | storage ops |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const run of r.runs) {
    const g = run.graph;
    lines.push(
      `| ${run.name} | ${run.status} | ${run.wallS.toFixed(1)} (${run.exportEndS?.toFixed(1) ?? '?'}) | ${fmt(g.total)} | ${g.chatExport} | ${g.copilot} (${g.copilotPages}) | ${g.meetingLists} | ${g.transcriptContent} | ${g.recordingContent} | ${g.directory} | ${g.throttled + g.copilotThrottled} (product ${g.productThrottled}) | ${fmt(run.storage.total)} |`,
    );
  }
  lines.push('', "When each route's requests came (s from the run's first Graph request: first–last, busiest second):", '');
  for (const run of r.runs)
    lines.push(
      `- ${run.name}: ${Object.entries(run.routeSpans)
        .map(([k, v]) => `${k} ${v.firstS.toFixed(1)}–${v.lastS.toFixed(1)} (${v.peakPerS}/s)`)
        .join(', ')}`,
    );
  lines.push('', '| run | entities | count | Graph requests each (max) | storage ops each (max) |', '|---|---|---|---|---|');
  for (const run of r.runs)
    for (const c of run.costs)
      lines.push(
        `| ${run.name} | ${c.label} | ${c.entities} | ${per(c.requests, c.entities)} (${c.maxRequests})${c.contentRequests ? `, content ${per(c.contentRequests, c.entities)}` : ''} | ${per(c.storageOps, c.entities)} (${c.maxStorageOps}) |`,
      );
  // Per item: the first run's whole cost over what it archived; today's cost beyond an idle entity of the same kind.
  lines.push(
    '',
    '| run | per item | Graph requests | storage ops naming the user | storage ops in content/ (all naming no user) |',
    '|---|---|---|---|---|',
  );
  const first = r.runs[0];
  const today = r.runs[2];
  const content = (run: ArtifactRun) =>
    sum(
      Object.entries(run.storage.unattributed)
        .filter(([k]) => / blob content\//.test(k) || / table \w*Content/.test(k))
        .map(([, v]) => v),
    );
  const find = (run: ArtifactRun, label: string) => run.costs.find((c) => c.label === label);
  if (first) {
    const cp = find(first, 'Copilot user, licensed');
    const mt = find(first, 'meetings: organiser');
    const artifacts = r.transcripts + r.recordings;
    if (cp)
      lines.push(
        `| ${first.name}, all of the kind's cost | interaction (${r.interactions}) | ${per(cp.requests, r.interactions)} | ${per(cp.storageOps, r.interactions)} | |`,
      );
    if (mt)
      lines.push(
        `| ${first.name}, all of the kind's cost | artifact (${r.transcripts} transcripts + ${r.recordings} recordings) | ${per(mt.requests, artifacts)} (content ${per(mt.contentRequests ?? 0, artifacts)}) | ${per(mt.storageOps, artifacts)} | ${per(content(first), artifacts)} |`,
      );
  }
  if (today) {
    const beyond = (busyLabel: string, idleLabel: string, items: number, field: 'requests' | 'storageOps') => {
      const b = find(today, busyLabel);
      const i = find(today, idleLabel);
      if (!b || !i || items === 0) return '–';
      return ((b[field] - (i[field] / Math.max(1, i.entities)) * b.entities) / items).toFixed(2);
    };
    const a = r.added;
    lines.push(
      `| ${today.name}, beyond an idle user's | interaction (${a.interactions}, ${a.copilotUsers} users) | ${beyond('Copilot user, licensed, new interactions', 'Copilot user, licensed, idle', a.interactions, 'requests')} | ${beyond('Copilot user, licensed, new interactions', 'Copilot user, licensed, idle', a.interactions, 'storageOps')} | |`,
      `| ${today.name}, beyond an idle organiser's | artifact (${a.transcripts} transcripts + ${a.recordings} recordings, ${a.organisers} organisers) | ${beyond('meetings: organiser, new artifacts', 'meetings: organiser, idle', a.transcripts + a.recordings, 'requests')} | ${beyond('meetings: organiser, new artifacts', 'meetings: organiser, idle', a.transcripts + a.recordings, 'storageOps')} | ${per(content(today), a.transcripts + a.recordings)} |`,
    );
  }
  lines.push('', "Storage operations of one entity, by what they touched (each population's operations ÷ its entities):", '');
  for (const run of r.runs.slice(1))
    for (const c of run.costs) {
      if (c.entities === 0) continue;
      const each = Object.fromEntries(Object.entries(c.storageByClass).map(([k, v]) => [k, Number((v / c.entities).toFixed(2))]));
      lines.push(`- ${run.name}, ${c.label}: ${top(each)}`);
    }
  lines.push('', 'Storage operations naming no user, and failed ones:', '');
  for (const run of r.runs) lines.push(`- ${run.name}: ${top(run.storage.unattributed)}; answers ≥ 400: ${top(run.storage.failures)}`);
  const a = r.archive;
  lines.push(
    '',
    `Archive after the three runs: ${a.interactionLines} interaction lines for ${a.interactionsExpected} interactions served, ${a.artifactLines} transcript/recording lines for ${a.artifactsExpected} artifacts; content map entries ${JSON.stringify(a.contentByKind)} by status ${JSON.stringify(a.contentByStatus)}.`,
  );
  return lines.join('\n');
}

function top(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((x, y) => y[1] - x[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

function sum(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0);
}

/** opClass, with content/ split into its stored bytes (`content/sha256`) and its reference index (`content/refs`). */
export function classOf(op: StorageOperation): string {
  const cls = opClass(op);
  const m = /^[^/]+\/content\/([^/]+)\//.exec(op.resource);
  return m && op.service === 'blob' ? cls.replace(/ blob content\b/, ` blob content/${m[1]}`) : cls;
}

/**
 * Samples the in-process emulator's route counters every 100 ms during a run: when each route's requests
 * came (from the run's first Graph request) and the most in one second, to see which budget bounds the run.
 */
function routeSampler(emulator: Emulator): { stop(): ArtifactRun['routeSpans'] } {
  const c = emulator.counters;
  const read = (): Record<string, number> => ({
    chats: c.byRoute.chatExport,
    copilot: c.copilotRequests,
    'meeting lists': c.meetingRequests,
    'meeting content': c.transcriptContentRequests + c.recordingContentRequests,
  });
  const samples: Array<{ at: number; v: Record<string, number> }> = [];
  const timer = setInterval(() => samples.push({ at: performance.now(), v: read() }), 100);
  return {
    stop() {
      clearInterval(timer);
      samples.push({ at: performance.now(), v: read() });
      const spans: ArtifactRun['routeSpans'] = {};
      const first = samples.find((x) => c.graphRequests > 0 && Object.values(x.v).some((n) => n > 0));
      if (!first) return spans;
      for (const route of Object.keys(read())) {
        const t0 = samples.find((x) => (x.v[route] ?? 0) > 0);
        if (!t0) continue;
        const total = samples[samples.length - 1]!.v[route] ?? 0;
        const tEnd = samples.find((x) => (x.v[route] ?? 0) === total)!;
        let peak = 0;
        for (const x of samples) {
          const back = samples.find((y) => y.at >= x.at - 1000)!;
          peak = Math.max(peak, (x.v[route] ?? 0) - (back.v[route] ?? 0));
        }
        spans[route] = { firstS: (t0.at - first.at) / 1000, lastS: (tEnd.at - first.at) / 1000, peakPerS: peak };
      }
      return spans;
    },
  };
}
