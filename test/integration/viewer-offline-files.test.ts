// Files a sender named, written by `teams-export html` and downloaded from the viewer (docs/viewer.md,
// "Files that cannot run"): only inert document and image types keep their extension, Windows device
// names and trailing dots or spaces never reach the disk, and a tampered content map prints nothing raw.
import { cliAuditor } from '../../src/cli/cli-audit';
import { silentLogger } from '../../src/log';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureContainer } from '../../src/archive/archive-container';
import { writeBatch, writeJson } from '../../src/archive/batch-writer';
import { batchBlobName, contentMapName } from '../../src/archive/blob-layout';
import { storeContent } from '../../src/archive/content-store';
import { NO_NAMES } from '../../src/archive/viewer-names';
import { createStorageClients } from '../../src/storage-clients';
import { serverLinks } from '../../src/viewer/links';
import { writeTranscripts } from '../../src/viewer/offline-export';
import { viewerRequest } from '../../src/viewer/router';
import { testStorage } from '../support/storage';

const USER = 'files-user';
const DAY = '2026-01-15';
const window = { fromMs: Date.parse('2026-01-15T00:00:00Z'), toMs: Date.parse('2026-01-16T00:00:00Z') };

/** Attachment name as sent → the name it must be saved under. */
const NAMES: Array<[string, string]> = [
  ['report.pdf', 'report.pdf'],
  ['Minutes.DOCX', 'Minutes.DOCX'],
  ['photo.jpeg', 'photo.jpeg'],
  ['invoice.pdf.hta', 'invoice.pdf.hta.bin'],
  ['page.html', 'page.html.bin'],
  ['logo.svg', 'logo.svg.bin'],
  ['budget.docm', 'budget.docm.bin'],
  ['setup.exe', 'setup.exe.bin'],
  ['README', 'README.bin'],
  ['CON', '_CON.bin'],
  ['nul.txt', '_nul.txt'],
  ['Com1.tar.gz', '_Com1.tar.gz.bin'],
  ['lpt9', '_lpt9.bin'],
  ['run.hta.', 'run.hta.bin'],
  ['notes.txt  ', 'notes.txt'],
  ['..', 'file.bin'],
];
/** An entry whose byte count is markup: what a tampered content map could hold. */
const TAMPERED = '<img src=x onerror=alert(1)>';

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)));
}

describe('files a sender named, offline and downloaded', () => {
  let container: ContainerClient;
  const shas = new Map<string, string>();
  const root = mkdtempSync(join(tmpdir(), 'te-offline-files-'));
  const out = join(root, 'out');
  let files: string[];

  beforeAll(async () => {
    const s = testStorage('viewer-offline-files');
    container = createStorageClients({ kind: 'connectionString', connectionString: s.connectionString }).blobService.getContainerClient(
      s.container,
    );
    await ensureContainer(container);
    const entries: unknown[] = [];
    const attachments: unknown[] = [];
    for (const [i, name] of [...NAMES.map(([sent]) => sent), 'tampered.pdf'].entries()) {
      const stored = await storeContent(container, Buffer.from(`file ${i}: <script>alert(${i})</script>`), 'text/html');
      shas.set(name, stored.sha256);
      const contentUrl = `https://contoso.sharepoint.com/sites/x/file-${i}`;
      attachments.push({ id: `a${i}`, contentType: 'reference', contentUrl, name });
      entries.push({
        key: `m1@${DAY}`,
        conversationId: 'con',
        messageId: 'm1',
        kind: 'file',
        ref: contentUrl,
        name,
        status: 'stored',
        sha256: stored.sha256,
        contentType: 'text/html',
        bytes: name === 'tampered.pdf' ? TAMPERED : 30,
      });
    }
    // A chat whose id is a Windows device name, holding one message with every attachment.
    const message = {
      id: 'm1',
      chatId: 'con',
      etag: '1',
      messageType: 'message',
      createdDateTime: `${DAY}T10:00:00.000Z`,
      lastModifiedDateTime: `${DAY}T10:00:00.000Z`,
      from: { user: { id: 'u-ada', displayName: 'Ada' } },
      body: { contentType: 'text', content: 'the files' },
      reactions: [],
      attachments,
    };
    const batch = batchBlobName({ kind: 'user', id: USER }, DAY, { pass: 'fresh', window, runId: 'r1', seq: 0 });
    await writeJson(container, contentMapName(batch), { batch, entries });
    await writeBatch(container, batch, [JSON.stringify(message)], { pass: 'fresh' });
    await writeTranscripts({
      container,
      names: NO_NAMES,
      entities: [{ kind: 'user', id: USER }],
      conversations: new Set(),
      range: { from: DAY, to: DAY },
      outDir: out,
    });
    files = listFiles(out);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes each attachment under its inert name: allowed types keep their extension, any other gets .bin', () => {
    for (const [sent, saved] of NAMES) expect(files, sent).toContain(`files/${shas.get(sent)}/${saved}`);
  });

  it('writes no file or folder Windows would refuse or run', () => {
    const allowed = /\.(png|jpe?g|gif|webp|bmp|tiff?|hei[cf]|avif|pdf|txt|docx|xlsx|pptx|bin|html|css|js)$/i;
    for (const f of files) {
      expect(f, f).toMatch(allowed);
      for (const part of f.split('/')) {
        expect(part, f).not.toMatch(/^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i);
        expect(part, f).not.toMatch(/[. ]$/);
      }
      // Only the pages and the viewer's own assets are HTML and script.
      if (/\.(html|js|css)$/.test(f))
        expect(f, f).toMatch(/^(index\.html|assets\/viewer\.(css|js)|u-[^/]+\/(index\.html|[^/]+\/\d{4}-\d{2}-\d{2}\.html))$/);
    }
    // The chat `con` gets its own folder, and the entity index links to it.
    expect(files).toContain(`u-${USER}/_con/${DAY}.html`);
    expect(readFileSync(join(out, `u-${USER}`, 'index.html'), 'utf8')).toContain(`href="../u-${USER}/_con/${DAY}.html"`);
  });

  it('shows the sender’s name on the page and says what the file was saved as', () => {
    const page = readFileSync(join(out, `u-${USER}`, '_con', `${DAY}.html`), 'utf8');
    expect(page).toContain(`href="../../files/${shas.get('invoice.pdf.hta')}/invoice.pdf.hta.bin" download>invoice.pdf.hta</a>`);
    expect(page).toContain('saved as invoice.pdf.hta.bin');
    expect(page).toContain(`download>report.pdf</a> <span class="meta">30 bytes</span></li>`);
    expect(page).toContain('download>CON</a>');
    expect(page).toContain('saved as _CON.bin');
  });

  it('prints nothing from a tampered content map unescaped', () => {
    const page = readFileSync(join(out, `u-${USER}`, '_con', `${DAY}.html`), 'utf8');
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('onerror=alert');
    expect(page).toContain('tampered.pdf');
  });

  it('serves a download under the same inert name', async () => {
    const deps = {
      container,
      links: serverLinks('/'),
      names: async () => NO_NAMES,
      audit: cliAuditor({ container, log: silentLogger }, 'serve'),
    };
    for (const [sent, saved] of NAMES) {
      const res = await viewerRequest(deps, `content/${shas.get(sent)}`, new URLSearchParams({ name: sent }));
      expect(res.headers['content-disposition'], sent).toBe(
        `attachment; filename="${saved}"; filename*=UTF-8''${encodeURIComponent(saved)}`,
      );
    }
    // Without a name, the hash with the neutral suffix.
    const bare = await viewerRequest(deps, `content/${shas.get('report.pdf')}`, new URLSearchParams());
    expect(bare.headers['content-disposition']).toContain(`filename="${shas.get('report.pdf')}.bin"`);
  });
});
