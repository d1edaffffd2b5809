// Issue 22, "Done when": content obligations survive a SIGKILL between the batch write and the content
// fetch, and the next run meets them (docs/design.md §17, "The handoff" and "Where it runs"). The CLI
// runs as a separate process and is killed without warning once its content stage has started
// fetching; the next `teams-export run` must settle every batch the killed one left in the backlog.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator';
import { contentBlobName, contentMapName } from '../../src/archive/blob-layout';
import { ContentBacklog, contentBacklogTableName, type ContentObligation } from '../../src/state/content-backlog';
import { DAY, HOUR, iso } from '../../src/time';
import { cliEnv, emulatorCaFile, runCli as cli } from '../support/cli-process';
import { startTestEmulator, TEST_HOSTED_CONTENT_ENV } from '../support/emulator';
import { testStorage } from '../support/storage';

interface MapEntry {
  key: string;
  kind: string;
  ref: string;
  status: string;
  sha256?: string;
}

interface ArchivedLine {
  batch: string;
  text: string;
  message: { id: string; chatId?: string; channelIdentity?: { channelId: string }; lastModifiedDateTime: string; etag?: string };
}

async function pendingRows(backlog: ContentBacklog): Promise<ContentObligation[]> {
  const rows: ContentObligation[] = [];
  for await (const o of backlog.pending()) rows.push(o);
  return rows;
}

async function blobNames(container: ContainerClient, prefix: string): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const b of container.listBlobsFlat({ prefix })) names.add(b.name);
  return names;
}

/** Every line of every archived batch, with the batch it is in. */
async function archivedLines(container: ContainerClient, names: Iterable<string>): Promise<ArchivedLine[]> {
  const out: ArchivedLine[] = [];
  for (const batch of names) {
    if (!batch.endsWith('.jsonl.gz')) continue;
    const text = gunzipSync(await container.getBlobClient(batch).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n').filter(Boolean))
      out.push({ batch, text: line, message: JSON.parse(line) as ArchivedLine['message'] });
  }
  return out;
}

describe('teams-export CLI killed while its content stage fetches', () => {
  let emulator: Emulator;
  let env: Record<string, string>;
  const now = Date.now();

  beforeAll(async () => {
    emulator = await startTestEmulator({
      tenant: { seed: 22, users: 4, teams: 1, historyDays: 10, endMs: now - 2 * HOUR, hostedContentFraction: 0.3 },
    });
    const caFile = await emulatorCaFile(emulator);
    env = cliEnv(emulator, testStorage('cli-content-kill'), {
      NODE_EXTRA_CA_CERTS: caFile,
      ...TEST_HOSTED_CONTENT_ENV,
      EXPORT_START: iso(now - 20 * DAY),
    });
  });
  afterAll(() => emulator?.close());

  it('a run killed after writing batches with images, before their content is fetched, leaves them in the backlog, and the next run fetches all of it', async () => {
    const storage = { connectionString: env.EXPORT_STORAGE!, container: env.EXPORT_CONTAINER!, tablePrefix: env.EXPORT_TABLE_PREFIX! };
    const container = BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(storage.container);
    const backlog = new ContentBacklog(
      TableClient.fromConnectionString(storage.connectionString, contentBacklogTableName(storage.tablePrefix), {
        allowInsecureConnection: true,
      }),
    );
    // Content at Graph's real pace (about one download per chat and second, as the product paces it
    // by default) and a little latency, so the stage is still busy when the process dies.
    emulator.setFaults({ latencyMs: 20, hostedContentRps: 1, hostedContentBurst: 1 });
    const killStarted = Date.now();
    let killedMs: number;
    try {
      const killed = await cli(
        ['run', '--now', iso(now)],
        { ...env, GRAPH_HOSTED_CONTENT_RPS: '1' },
        {
          killWhen: () => emulator.counters.hostedContentRequests > 0,
        },
      );
      killedMs = Date.now() - killStarted;
      expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    } finally {
      emulator.setFaults({ latencyMs: 0, hostedContentRps: null, hostedContentBurst: 3 });
    }

    // What the killed process left: its run open, batches written with no content map, their rows pending.
    const status = await cli(['status', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    const runs = (JSON.parse(status.stdout) as { runs: Array<{ runId: string; status: string }> }).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'running' });
    const killedRunId = runs[0]!.runId;
    const leftRows = await pendingRows(backlog);
    expect(leftRows.length, 'the killed run left content obligations').toBeGreaterThan(0);
    for (const o of leftRows) expect(o.runId).toBe(killedRunId);
    const afterKill = await blobNames(container, 'messages/');
    const leftBatches = leftRows.map((o) => o.batch).filter((b) => afterKill.has(b) && !afterKill.has(contentMapName(b)));
    expect(leftBatches.length, 'a written batch whose content was not fetched yet').toBeGreaterThan(0);
    const requestsAtKill = emulator.counters.hostedContentRequests;

    // The dead process's leases (its run lock, its jobs' entity leases) run out on their own within
    // a minute; broken here, as that expiry would, so the next run need not wait for them.
    const broken: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'locks/' })) {
      if (b.properties.leaseState !== 'leased') continue;
      await container.getBlobClient(b.name).getBlobLeaseClient().breakLease(0);
      broken.push(b.name);
    }
    expect(broken).toContain(`locks/runs/${killedRunId}`);
    const started = Date.now();
    const rerun = await cli(['run', '--now', iso(now)], env);
    const rerunMs = Date.now() - started;
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(emulator.counters.hostedContentRequests).toBeGreaterThan(requestsAtKill);

    // Every obligation is met: each batch left behind has its content map now, and nothing is pending.
    // A row whose batch was never written (the kill fell between the row and the write) belonged to the
    // killed run, which has finished: its batch can never appear, so the next run dropped it at once.
    const names = await blobNames(container, 'messages/');
    expect(await pendingRows(backlog)).toEqual([]);
    for (const b of leftBatches) expect(names.has(contentMapName(b)), `content map of ${b}`).toBe(true);

    const lines = await archivedLines(container, names);
    const maps = new Map<string, MapEntry[]>();
    for (const name of names) {
      if (!name.endsWith('.content.json')) continue;
      const map = JSON.parse((await container.getBlobClient(name).downloadToBuffer()).toString('utf8')) as {
        batch: string;
        entries: MapEntry[];
      };
      expect(map.batch).toBe(name.replace(/\.content\.json$/, '.jsonl.gz'));
      maps.set(map.batch, map.entries);
    }
    // Every batch with a hosted-content link in any line has its map beside it.
    const batchesWithLinks = new Set(lines.filter((l) => /\/hostedContents\//i.test(l.text)).map((l) => l.batch));
    expect(batchesWithLinks.size).toBeGreaterThan(1);
    for (const b of batchesWithLinks) expect(maps.has(b), `content map of ${b}`).toBe(true);

    // Every hosted content an archived version names is stored, with the bytes Graph serves, and
    // mapped as stored from that version.
    const expected = emulator.hostedContents();
    const stored = await blobNames(container, 'content/sha256/');
    let references = 0;
    for (const l of lines) {
      const conv = l.message.chatId ?? l.message.channelIdentity?.channelId;
      const key = `${conv}|${l.message.id}|${Date.parse(l.message.lastModifiedDateTime)}|${l.message.etag}`;
      for (const c of expected) {
        if (c.conversationId !== conv || c.messageId !== l.message.id || !l.text.includes(c.url)) continue;
        references++;
        const entry = maps.get(l.batch)?.find((e) => e.key === key && e.kind === 'hostedContent' && e.ref === c.id);
        expect(entry, `map entry for ${c.kind} ${c.id} of ${key}`).toMatchObject({ status: 'stored', sha256: c.sha256 });
        const name = contentBlobName(c.sha256);
        expect(stored.has(name), `stored ${c.kind} of ${key}`).toBe(true);
      }
    }
    expect(references).toBeGreaterThan(5);
    // The maps hold exactly those references, all stored (the emulator serves every one of them).
    const entries = [...maps.entries()].flatMap(([batch, es]) => es.map((e) => ({ batch, ...e })));
    expect(entries.filter((e) => e.kind === 'hostedContent')).toHaveLength(references);
    for (const e of entries) expect(e.status, `${e.batch}: ${e.ref}`).toBe('stored');
    // Each stored blob holds the bytes its name says.
    for (const name of stored) {
      const bytes = await container.getBlobClient(name).downloadToBuffer();
      expect(contentBlobName(createHash('sha256').update(bytes).digest('hex'))).toBe(name);
    }

    // No version archived twice per entity, and every current version archived.
    const perEntity = new Map<string, string[]>();
    for (const l of lines) {
      const entity = l.batch.split('/').slice(1, 3).join('/');
      const m = l.message;
      perEntity.set(entity, [
        ...(perEntity.get(entity) ?? []),
        `${m.chatId ?? m.channelIdentity?.channelId}|${m.id}|${m.lastModifiedDateTime}|${m.etag}`,
      ]);
    }
    let total = 0;
    for (const [entity, keys] of perEntity) {
      expect(new Set(keys).size, entity).toBe(keys.length);
      total += keys.length;
    }
    let expectedVersions = 0;
    for (const u of emulator.tenant.users.filter((x) => x.hasTeamsData))
      expectedVersions += emulator.tenant.currentVersions({ kind: 'user', id: u.id }, { fromMs: 0, toMs: now - 5 * 60_000 }).length;
    for (const t of emulator.tenant.teams)
      expectedVersions += emulator.tenant.currentVersions({ kind: 'team', id: t.id }, { fromMs: 0, toMs: now - 5 * 60_000 }).length;
    expect(total).toBe(expectedVersions);

    // status: the backlog is empty, and the killed run was failed, saying why.
    const after = await cli(['status', '--json'], env);
    expect(after.code, after.stderr).toBe(0);
    const parsed = JSON.parse(after.stdout) as {
      runs: Array<{ runId: string; status: string; error?: string }>;
      contentBacklog: { batches: number; versions: number };
    };
    expect(parsed.contentBacklog.batches).toBe(0);
    expect(parsed.runs.find((r) => r.runId === killedRunId)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/process running it stopped/) as unknown,
    });

    // verify: every blob checks out and no batch is pending.
    const verify = await cli(['verify', '--json'], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as { contentPending: unknown[]; withoutContent: { byStatus: Record<string, number> } };
    expect(report.contentPending).toEqual([]);
    expect(report.withoutContent.byStatus).toEqual({});

    console.log(
      `content kill: ${leftRows.length} rows pending at the kill (${leftBatches.length} written batches without a map), ` +
        `${references} references; killed run ${killedMs} ms, rerun ${rerunMs} ms`,
    );
  });
});
