// The CLI commands that inspect the archive: `ls [PREFIX]` lists batches, `cat BLOB` prints one
// batch's JSON lines (streamed, so a large batch is never held in memory).
import { once } from 'node:events';
import { ARCHIVE_PREFIXES, CONTENT_PREFIX, isArchivePath, MESSAGES_PREFIX } from '../archive/blob-layout';
import { blobExists, listBatches, openBlobStream, readBatchLines, readBlobBytes } from '../archive/batch-reader';
import { EXIT_OK, EXIT_RUN_FAILED, UsageError } from './cli-errors';
import { renderLineText } from '../archive/render-text';
import { verifyArchive } from '../archive/verify-archive';
import { blobReadEvent } from '../archive/audit-trail';
import { cliAuditor } from './cli-audit';
import { depsFrom, write, type CliContext } from './cli-context';

export async function lsCommand(ctx: CliContext, o: { prefix?: string; envFile?: string; json?: boolean }): Promise<number> {
  const prefix = o.prefix ?? MESSAGES_PREFIX;
  if (prefix !== '' && !isArchivePath(prefix.endsWith('/') ? `${prefix}x` : prefix)) {
    throw new UsageError(`ls: "${prefix}" is not inside the archive (${ARCHIVE_PREFIXES.join(', ')})`);
  }
  const deps = await depsFrom(ctx, o.envFile);
  // The names say whose conversations were archived on which days: recorded before any is printed.
  await cliAuditor(deps)({ action: 'cli.ls', prefix });
  let count = 0;
  for await (const b of listBatches(deps.container, prefix, ctx.signal)) {
    count++;
    if (o.json)
      write(
        ctx.stdout,
        JSON.stringify({
          name: b.name,
          bytes: b.bytes,
          lines: b.lines ?? null,
          sha256: b.sha256 ?? null,
          lastModified: b.lastModified.toISOString(),
        }),
      );
    else write(ctx.stdout, `${String(b.bytes).padStart(9)}  ${String(b.lines ?? '').padStart(6)}  ${b.name}`);
  }
  if (!o.json && count === 0) write(ctx.stdout, `(nothing under ${prefix})`);
  return EXIT_OK;
}

export async function catCommand(ctx: CliContext, o: { blob?: string; envFile?: string; text?: boolean }): Promise<number> {
  if (!o.blob) throw new UsageError('cat needs a blob name (see `teams-export ls`)');
  if (!isArchivePath(o.blob)) throw new UsageError(`cat: "${o.blob}" is not an archive blob name`);
  const deps = await depsFrom(ctx, o.envFile);
  const noBlob = () => new UsageError(`cat: no blob named ${o.blob} (\`teams-export ls\` lists them)`);
  // Recorded once the blob is known to exist, before a byte of it is read (docs/security.md).
  if (!(await blobExists(deps.container, o.blob, ctx.signal))) throw noBlob();
  await cliAuditor(deps)(blobReadEvent('cli.cat', o.blob));
  if (o.blob.startsWith(CONTENT_PREFIX)) {
    // Stored bytes (an image, a file): written out as they are, e.g. `teams-export cat content/… > file.png`.
    const blob = await openBlobStream(deps.container, o.blob, ctx.signal);
    if (!blob) throw noBlob();
    for await (const chunk of blob.body) await writeChunk(ctx.stdout, chunk);
    return EXIT_OK;
  }
  if (o.blob.endsWith('.json')) {
    const buf = await readBlobBytes(deps.container, o.blob, ctx.signal);
    if (!buf) throw noBlob();
    write(ctx.stdout, buf.toString('utf8'));
    return EXIT_OK;
  }
  for await (const line of readBatchLines(deps.container, o.blob, ctx.signal))
    write(ctx.stdout, o.text ? `${renderLineText(line)}\n` : line);
  return EXIT_OK;
}

/** Writes raw bytes to stdout, waiting while its buffer is full (a large file through a slow pipe). */
async function writeChunk(out: NodeJS.WritableStream, chunk: Uint8Array): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

export async function verifyCommand(ctx: CliContext, o: { prefix?: string; envFile?: string; json?: boolean }): Promise<number> {
  const prefix = o.prefix ?? '';
  if (prefix !== '' && !isArchivePath(prefix.endsWith('/') ? `${prefix}x` : prefix)) {
    throw new UsageError(`verify: "${prefix}" is not inside the archive (${ARCHIVE_PREFIXES.join(', ')})`);
  }
  const deps = await depsFrom(ctx, o.envFile);
  let last = 0;
  const report = await verifyArchive(deps.container, {
    prefix,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onProgress: (r) => {
      if (Date.now() - last < 5000) return;
      last = Date.now();
      ctx.stderr.write(`verified ${r.blobsChecked} blobs (${(r.bytesChecked / 1048576).toFixed(1)} MiB), ${r.problems.length} problems\n`);
    },
  });
  // Batches whose content the content stage has not settled yet (docs/design.md §17): no map yet.
  const contentPending = [];
  if (deps.contentBacklog)
    for await (const p of deps.contentBacklog.pending(ctx.signal)) if (p.batch.startsWith(prefix)) contentPending.push(p);
  if (o.json) {
    write(ctx.stdout, JSON.stringify({ ...report, contentPending }));
  } else {
    write(
      ctx.stdout,
      `${report.blobsChecked} blobs re-hashed (${report.bytesChecked} bytes), ${report.listed} listed in ${report.manifests} manifests`,
    );
    const without = Object.entries(report.withoutContent.byStatus).map(([status, n]) => `${n} ${status}`);
    if (without.length > 0) {
      write(ctx.stdout, `references without content: ${without.join(', ')}`);
      for (const r of report.withoutContent.listed)
        write(ctx.stdout, `  ${r.status}: ${r.ref} (${r.map})${r.reason ? `: ${r.reason}` : ''}`);
    }
    if (contentPending.length > 0) {
      write(ctx.stdout, `content pending (no map yet) for ${contentPending.length} batches:`);
      for (const p of contentPending)
        write(ctx.stdout, `  ${p.batch}  ${p.versions} messages, ${p.attempts} attempts${p.lastReason ? `, last: ${p.lastReason}` : ''}`);
    }
    for (const p of report.problems) write(ctx.stdout, `  ${p.kind}: ${p.name}: ${p.detail}`);
    write(ctx.stdout, report.problems.length === 0 ? 'archive verified: no problems' : `${report.problems.length} problems`);
  }
  return report.problems.some((p) => p.kind !== 'no-checksum') ? EXIT_RUN_FAILED : EXIT_OK;
}
