// Content streamed with caps (issue 13, defect 3): through the product's real path against the
// emulator and Azurite, file downloads never run more at once than the per-process cap, a body far
// larger than the in-memory part of the spool is stored byte-identical, and the size limit still
// stops a body that passes it (docs/design.md §10, §14).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sizedFileSha256 } from '../../emulator';
import { contentBlobName } from '../../src/archive/blob-layout';
import { ContentFetcher } from '../../src/export/content-fetcher';
import { silentLogger } from '../../src/log';
import { HOUR } from '../../src/time';
import { startHarness, type Harness } from '../support/harness';

const JOB_CAP = 2;
const PROCESS_CAP = 3;

describe('content streamed with caps', () => {
  let h: Harness;
  const now = Date.now();
  const spoolDir = mkdtempSync(join(tmpdir(), 'content-streaming-spool-'));
  beforeAll(async () => {
    h = await startHarness({
      label: 'content-streaming',
      tenant: { seed: 33, users: 6, teams: 2, historyDays: 10, endMs: now - 2 * HOUR, fileFraction: 0.6 },
      // Slow files, so that downloads overlap unless something holds them back.
      faults: { fileBytes: 256 * 1024, fileChunkDelayMs: 10 },
      env: {
        EXPORT_ATTACHMENTS: 'true',
        EXPORT_HOSTED_CONTENTS: 'false',
        EXPORT_USERS: 'all',
        EXPORT_CONCURRENCY: '6',
        EXPORT_CONTENT_CONCURRENCY: String(JOB_CAP),
        EXPORT_CONTENT_PROCESS_CONCURRENCY: String(PROCESS_CAP),
        GRAPH_FILE_DOWNLOAD_RPS: '1000',
        GRAPH_REQUEST_TIMEOUT: 'PT30S',
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  function presentFile() {
    const f = h.emulator.files().find((x) => x.state === 'present');
    if (!f) throw new Error('the tenant has no present file');
    return f;
  }

  function fetcherFor(maxBytes?: number, filesRps = 1000) {
    return new ContentFetcher({
      http: h.deps.http,
      container: h.deps.container,
      graphOrigin: new URL(h.emulator.graphBaseUrl).origin,
      hostedContents: false,
      files: true,
      filesRps,
      // Its own spool folder: the other test files' downloads spool into the shared temporary folder.
      spoolDir,
      ...(maxBytes === undefined ? {} : { maxBytes }),
      log: silentLogger,
    });
  }

  const messageWith = (f: { contentUrl: string; name: string; attachmentId: string }) => ({
    id: f.attachmentId,
    attachments: [{ id: f.attachmentId, contentType: 'reference', contentUrl: f.contentUrl, name: f.name }],
  });

  it('never runs more file downloads at once than the process cap', async () => {
    const outcome = await h.daily(now);
    expect(outcome.status, outcome.error).toBe('succeeded');
    const c = h.emulator.counters;
    // Enough downloads to have overlapped far beyond the cap without one.
    expect(c.filesDownloaded).toBeGreaterThan(4 * PROCESS_CAP);
    expect(c.filesMaxInFlight).toBeLessThanOrEqual(PROCESS_CAP);
    expect(c.filesMaxInFlight).toBeGreaterThanOrEqual(2);
    expect(h.deps.content?.streamStats().peak).toBeLessThanOrEqual(PROCESS_CAP);
    expect(c.filesAuthorizationHeadersSeen).toBe(0);
  });

  it('stores a body many times the in-memory spool byte-identical, and leaves no spool file behind', async () => {
    const size = 24 * 1024 * 1024 + 123;
    h.emulator.setFaults({ fileBytes: size, fileChunkDelayMs: 0 });
    const f = presentFile();
    const fetcher = fetcherFor();
    const version = { key: `big|${f.attachmentId}|1|`, conversationId: `big-${Date.now()}`, messageId: f.attachmentId };
    const [entry] = await fetcher.fetchFor(version, messageWith(f));
    const expected = sizedFileSha256(f.contentUrl, size);
    expect(entry).toMatchObject({ kind: 'file', status: 'stored', sha256: expected, bytes: size });
    // It went through the spool file, not memory.
    expect(fetcher.streamStats().spilled).toBe(1);
    const blob = h.deps.container.getBlobClient(contentBlobName(expected));
    const props = await blob.getProperties();
    expect(props.contentLength).toBe(size);
    expect(props.metadata).toMatchObject({ sha256: expected });
    const hash = createHash('sha256');
    const body = (await blob.download()).readableStreamBody!;
    for await (const chunk of body) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(expected);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it("still records a body over the size limit as 'too-large' (no Content-Length, cut off while streaming)", async () => {
    h.emulator.setFaults({ fileBytes: 3 * 1024 * 1024, fileChunkDelayMs: 0 });
    const f = presentFile();
    const fetcher = fetcherFor(2 * 1024 * 1024);
    const version = { key: `limit|${f.attachmentId}|1|`, conversationId: `limit-${Date.now()}`, messageId: f.attachmentId };
    const [entry] = await fetcher.fetchFor(version, messageWith(f));
    expect(entry).toMatchObject({ kind: 'file', status: 'too-large' });
    expect(fetcher.stats()).toMatchObject({ downloaded: 0, failed: 1 });
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('paces SharePoint file downloads for the process (GRAPH_FILE_DOWNLOAD_RPS)', async () => {
    h.emulator.setFaults({ fileBytes: null, fileChunkDelayMs: 0 });
    const [a, b] = h.emulator.files().filter((x) => x.state === 'present');
    if (!a || !b) throw new Error('the tenant needs two present files');
    // One download per 100 s: the first goes at once, the second must wait its turn.
    const fetcher = fetcherFor(undefined, 0.01);
    const conv = `paced-${Date.now()}`;
    const shares = () => h.emulator.counters.shareRequests;
    const before = shares();
    const [first] = await fetcher.fetchFor({ key: `${conv}|a|1|`, conversationId: conv, messageId: 'a' }, messageWith(a));
    expect(first).toMatchObject({ status: 'stored' });
    expect(shares()).toBe(before + 1);
    const stop = new AbortController();
    const second = fetcher.fetchFor({ key: `${conv}|b|1|`, conversationId: conv, messageId: 'b' }, messageWith(b), stop.signal);
    await new Promise((r) => setTimeout(r, 300));
    expect(shares()).toBe(before + 1);
    stop.abort(new Error('stopped'));
    await expect(second).rejects.toThrow('stopped');
  });
});
