// Reference (file) attachments and the SharePoint stand-in: which messages carry files (by hash), their
// deterministic bytes and state (present, gone, forbidden), Graph's shares API (`/shares/u!{b64}/driveItem`
// and `/content` → 302 to a pre-authenticated URL) and the files server that serves those URLs and counts
// every Authorization header it is sent (a correct client never sends one there).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { F_ATTACHMENT, F_RICH, F_SYSTEM } from './message-flags';
import { hash32, unitHash } from './prng';
import { graphIdHeaders, sendGraphError, sendJson, type RequestIds } from './http-util';
import type { EmulatorCounters } from './counters';
import type { Msg, Tenant } from './tenant';
import type { GraphContext } from './graph';

export type FileState = 'present' | 'missing' | 'forbidden';

export interface EmulatedFile {
  /** the attachment's `contentUrl` (a SharePoint URL, not a Graph one) */
  contentUrl: string;
  name: string;
  /** the attachment id (GUID shape) */
  attachmentId: string;
  state: FileState;
  /** id on the files server */
  key: string;
  contentType: string;
  conversationId: string;
  messageId: string;
  /** bytes a download yields (null for missing/forbidden files) */
  bytes: Buffer | null;
  sha256: string | null;
}

const LEGACY_FILES = ['Quarterly report.docx', 'Budget 2026.xlsx', 'Roadmap.pptx', 'Notes – مراجعة.docx', 'סיכום.pdf'];
const NEW_FILES = [
  'Design spec.docx',
  'Screenshot 2026-05-01.png',
  'Forecast – Q3.xlsx',
  'Vertrag_Müller.pdf',
  'notes.txt',
  '会议纪要.docx',
];

const MIME: Record<string, string> = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  pdf: 'application/pdf',
  png: 'image/png',
  txt: 'text/plain',
};

/** A stable GUID-shaped id derived from a message, for its reference attachment. */
export function attachmentIdOf(m: Msg): string {
  const h = (n: number) => hash32(`${m.conv.id}|${m.id}|${n}`).toString(16).padStart(8, '0');
  const a = h(1) + h(2) + h(3) + h(4);
  return `${a.slice(0, 8)}-${a.slice(8, 12)}-${a.slice(12, 16)}-${a.slice(16, 20)}-${a.slice(20, 32)}`;
}

function fileBytes(contentUrl: string, name: string): Buffer {
  const n = 200 + (hash32(contentUrl) % 1800);
  const out = Buffer.alloc(n);
  let x = hash32(`${contentUrl}|bytes`) || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  const head = Buffer.from(`emulated file: ${name}\n`, 'utf8');
  head.copy(out, 0, 0, Math.min(head.length, n));
  return out;
}

/**
 * The reference attachment of a message, if any. Messages flagged F_ATTACHMENT keep their historic
 * `https://contoso.sharepoint.com/…` URL (always present; Graph's shares API resolves it); seeded messages
 * picked by hash get a file on the files origin, a fraction of them since deleted or access-restricted.
 */
export function fileOf(tenant: Tenant, m: Msg): EmulatedFile | undefined {
  if ((m.flags & F_SYSTEM) !== 0) return undefined;
  const attachmentId = attachmentIdOf(m);
  let contentUrl: string;
  let name: string;
  let state: FileState = 'present';
  if ((m.flags & F_ATTACHMENT) !== 0) {
    name = LEGACY_FILES[m.aux % LEGACY_FILES.length] ?? 'file.docx';
    contentUrl = `https://contoso.sharepoint.com/sites/emulated/Shared%20Documents/${encodeURIComponent(name)}`;
  } else if ((m.flags & F_RICH) !== 0 && unitHash(`${m.conv.id}|${m.id}|file`) < tenant.content.fileFraction) {
    name = NEW_FILES[hash32(`${m.conv.id}|${m.id}|file-name`) % NEW_FILES.length] ?? 'file.docx';
    const site =
      m.conv.kind === 'channel'
        ? `sites/team-${(m.conv.teamId ?? '').slice(0, 8)}/Shared%20Documents/General`
        : `personal/user${m.fromIdx}/Documents/Microsoft%20Teams%20Chat%20Files`;
    contentUrl = `${tenant.filesOrigin}/${site}/${attachmentId.slice(0, 8)}/${encodeURIComponent(name)}`;
    const s = unitHash(`${m.conv.id}|${m.id}|file-state`);
    state = s < 0.6 ? 'present' : s < 0.8 ? 'missing' : 'forbidden';
  } else {
    return undefined;
  }
  const key = createHash('sha256').update(contentUrl).digest('hex').slice(0, 32);
  const bytes = state === 'present' ? fileBytes(contentUrl, name) : null;
  return {
    contentUrl,
    name,
    attachmentId,
    state,
    key,
    contentType: MIME[name.slice(name.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream',
    conversationId: m.conv.id,
    messageId: m.id,
    bytes,
    sha256: bytes ? createHash('sha256').update(bytes).digest('hex') : null,
  };
}

interface FileIndex {
  messages: number;
  byUrl: Map<string, EmulatedFile>;
  byKey: Map<string, EmulatedFile>;
}
const indexes = new WeakMap<Tenant, FileIndex>();

/** Every file of the tenant, by contentUrl and by files-server key (rebuilt when messages were added). */
export function fileIndex(tenant: Tenant): FileIndex {
  const cached = indexes.get(tenant);
  if (cached && cached.messages === tenant.messageTotal) return cached;
  const idx: FileIndex = { messages: tenant.messageTotal, byUrl: new Map(), byKey: new Map() };
  for (const conv of tenant.allConversations()) {
    for (const m of conv.messages) {
      const f = fileOf(tenant, m);
      // several legacy messages share one URL (one file): the first describes it
      if (f && !idx.byUrl.has(f.contentUrl)) {
        idx.byUrl.set(f.contentUrl, f);
        idx.byKey.set(f.key, f);
      }
    }
  }
  indexes.set(tenant, idx);
  return idx;
}

/** `u!` + base64url(url) without padding: Graph's encoding of a sharing URL. */
export function shareIdOf(url: string): string {
  return `u!${Buffer.from(url, 'utf8').toString('base64url')}`;
}

/** Signs pre-authenticated download URLs (tempauth) for the files server. */
export class DownloadSigner {
  constructor(
    private readonly secret: Buffer,
    private readonly lifetimeMs = 3_600_000,
  ) {}

  url(filesOrigin: string, f: EmulatedFile): string {
    const exp = Date.now() + this.lifetimeMs;
    return `${filesOrigin}/download/${f.key}?tempauth=${exp}.${this.sig(f.key, exp)}`;
  }

  verify(key: string, tempauth: string | null): boolean {
    const m = /^(\d+)\.([A-Za-z0-9_-]+)$/.exec(tempauth ?? '');
    if (!m) return false;
    const exp = Number(m[1]);
    const want = Buffer.from(this.sig(key, exp));
    const got = Buffer.from(m[2] as string);
    return exp > Date.now() && want.length === got.length && timingSafeEqual(want, got);
  }

  private sig(key: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`${key}|${exp}`).digest('base64url');
  }
}

const SHARES = /^\/v1\.0\/shares\/([^/]+)\/driveitem(\/content)?\/?$/i;

export function isSharesPath(path: string): boolean {
  return SHARES.test(path);
}

/** `GET /shares/{shareId}/driveItem[/content]`; the caller has authenticated the request already. */
export function handleShares(res: ServerResponse, path: string, ids: RequestIds, ctx: GraphContext): void {
  ctx.counters.shareRequests++;
  const m = SHARES.exec(path) as RegExpExecArray;
  const shareId = m[1] as string;
  if (!shareId.startsWith('u!') || !/^[A-Za-z0-9_-]+$/.test(shareId.slice(2))) {
    return sendGraphError(res, ids, 400, 'invalidRequest', 'The sharing token is malformed.');
  }
  const url = Buffer.from(shareId.slice(2), 'base64url').toString('utf8');
  const f = fileIndex(ctx.tenant).byUrl.get(url);
  if (!f || f.state === 'missing') return sendGraphError(res, ids, 404, 'itemNotFound', 'The resource could not be found.');
  if (f.state === 'forbidden') return sendGraphError(res, ids, 403, 'accessDenied', 'Access denied');
  const download = ctx.signer.url(ctx.filesOrigin, f);
  if (m[2] !== undefined) {
    res.writeHead(302, { location: download, 'content-length': 0, ...graphIdHeaders(ids) });
    res.end();
    return;
  }
  sendJson(
    res,
    200,
    {
      '@odata.context': `${ctx.origin}/v1.0/$metadata#shares('${shareId}')/driveItem/$entity`,
      '@microsoft.graph.downloadUrl': download,
      id: `01${f.key.slice(0, 32).toUpperCase()}`,
      eTag: `"{${f.attachmentId.toUpperCase()}},1"`,
      name: f.name,
      size: f.bytes?.length ?? 0,
      webUrl: f.contentUrl,
      file: { mimeType: f.contentType, hashes: { sha256Hash: (f.sha256 ?? '').toUpperCase() } },
    },
    graphIdHeaders(ids),
  );
}

export interface FilesServerContext {
  tenant: Tenant;
  counters: EmulatorCounters;
  signer: DownloadSigner;
  /** fileBytes and fileChunkDelayMs (faults.ts): large and slow bodies */
  faults?: () => { fileBytes: number | null; fileChunkDelayMs: number };
}

const SIZED_CHUNK = 64 * 1024;

/** The generated body of a sized file (fault fileBytes), chunk by chunk: the same bytes for the same URL and size. */
export function* sizedFileChunks(contentUrl: string, size: number): Generator<Buffer> {
  let x = hash32(`${contentUrl}|sized`) || 1;
  for (let at = 0; at < size; at += SIZED_CHUNK) {
    const chunk = Buffer.allocUnsafe(Math.min(SIZED_CHUNK, size - at));
    for (let i = 0; i < chunk.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x & 0xff;
    }
    yield chunk;
  }
}

/** SHA-256 (hex) of what a present file serves when fault fileBytes is `size`. */
export function sizedFileSha256(contentUrl: string, size: number): string {
  const h = createHash('sha256');
  for (const chunk of sizedFileChunks(contentUrl, size)) h.update(chunk);
  return h.digest('hex');
}

/** Streams a sized file with backpressure and an optional pause per chunk; counts it in flight meanwhile. */
async function sendSized(res: ServerResponse, f: EmulatedFile, size: number, delayMs: number, counters: EmulatorCounters): Promise<void> {
  counters.filesInFlight++;
  counters.filesMaxInFlight = Math.max(counters.filesMaxInFlight, counters.filesInFlight);
  try {
    res.writeHead(200, { 'content-type': f.contentType });
    for (const chunk of sizedFileChunks(f.contentUrl, size)) {
      if (res.destroyed) return;
      if (!res.write(chunk))
        await new Promise<void>((resolve) => {
          // Whichever comes first; the other listener goes too (one pair per chunk would pile up).
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    res.end();
    counters.filesDownloaded++;
  } finally {
    counters.filesInFlight--;
  }
}

function spError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

/** The files server: pre-authenticated downloads only; anything else (e.g. the contentUrl itself) is 401. */
export function handleFilesRequest(req: IncomingMessage, res: ServerResponse, ctx: FilesServerContext): void {
  ctx.counters.filesRequests++;
  const hasAuth = req.headers.authorization !== undefined;
  if (hasAuth) ctx.counters.filesAuthorizationHeadersSeen++;
  const url = new URL(req.url ?? '/', 'https://files.invalid');
  const dl = /^\/download\/([0-9a-f]{32})$/.exec(url.pathname);
  if (req.method !== 'GET' || !dl) {
    return spError(
      res,
      401,
      '-2147024891, System.UnauthorizedAccessException',
      'Access denied. You do not have permission to perform this action or access this resource.',
      { 'www-authenticate': 'Bearer realm="emulator-files"' },
    );
  }
  // a Graph token is for another audience: SharePoint refuses it rather than ignoring it
  if (hasAuth) return spError(res, 401, 'invalidAudience', 'The bearer token is not valid for this resource.');
  const key = dl[1] as string;
  if (!ctx.signer.verify(key, url.searchParams.get('tempauth')))
    return spError(res, 401, 'invalidTempAuth', 'The tempauth token is invalid or expired.');
  const f = fileIndex(ctx.tenant).byKey.get(key);
  if (!f || !f.bytes) return spError(res, 404, 'itemNotFound', 'The resource could not be found.');
  const sized = ctx.faults?.();
  if (sized && sized.fileBytes !== null) {
    void sendSized(res, f, sized.fileBytes, sized.fileChunkDelayMs, ctx.counters).catch(() => res.destroy());
    return;
  }
  ctx.counters.filesDownloaded++;
  ctx.counters.filesInFlight++;
  ctx.counters.filesMaxInFlight = Math.max(ctx.counters.filesMaxInFlight, ctx.counters.filesInFlight);
  res.once('close', () => ctx.counters.filesInFlight--);
  res.writeHead(200, { 'content-type': f.contentType, 'content-length': f.bytes.length });
  res.end(f.bytes);
}
