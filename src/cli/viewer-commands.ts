// `teams-export serve` (the archive viewer on a local HTTP server) and `teams-export html` (offline
// transcripts in a folder): see docs/viewer.md.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { listEntityIds, listEntityMonths, type BrowsableKind } from '../archive/archive-browser';
import { listArtifactUsers } from '../archive/artifact-archive';
import { encodeIdSegment } from '../archive/blob-layout';
import { readLatestDirectoryNames } from '../archive/viewer-names';
import { parseInstant, utcDay } from '../time';
import { writeTranscripts } from '../viewer/offline-export';
import { artifactLabel, artifactMonths } from '../viewer/artifact-data';
import { startViewerServer } from '../viewer/server';
import { selectedEntities } from '../archive/audit-trail';
import { cliAuditor } from './cli-audit';
import { cliLogger, depsFrom, settingsFrom, write, type CliContext } from './cli-context';
import { EXIT_OK, UsageError } from './cli-errors';

/** `--port`: 1 to 65535; without it the OS picks a free port, so a page cannot guess where the viewer is. */
function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`--port must be a whole number from 1 to 65535, not "${text}"`);
  return port;
}

export async function serveCommand(ctx: CliContext, o: { envFile?: string; port?: string }): Promise<number> {
  const port = parsePort(o.port);
  const deps = await depsFrom(ctx, o.envFile);
  // Each page is recorded as read by the OS user running `serve` (docs/security.md).
  const viewer = await startViewerServer({
    container: deps.container,
    ...(port !== undefined ? { port } : {}),
    log: cliLogger(settingsFrom(ctx, o.envFile)),
    audit: cliAuditor(deps, 'serve'),
  }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new UsageError(`port ${port} is in use on 127.0.0.1; leave out --port to use a free one`);
    throw err;
  });
  // One address, and it works once: it signs this browser in (docs/viewer.md, "Who can open serve").
  write(ctx.stdout, `teams-export viewer: ${viewer.url}`);
  write(ctx.stdout, '  open this address in your browser; it works once, for this machine only (read-only; Ctrl-C to stop)');
  await new Promise<void>((resolvePromise) => {
    if (ctx.signal?.aborted) return resolvePromise();
    ctx.signal?.addEventListener('abort', () => resolvePromise(), { once: true });
  });
  await viewer.close();
  return EXIT_OK;
}

function checkId(flag: string, id: string): string {
  try {
    encodeIdSegment(id);
  } catch (err) {
    throw new UsageError(`--${flag} ${JSON.stringify(id)}: ${(err as Error).message}`);
  }
  return id;
}

/** The half-open [from, to) instants as the inclusive UTC days the archive is folded into. */
function dayRange(from: string | undefined, to: string | undefined): { from: string; to: string } {
  if (from === undefined || to === undefined) throw new UsageError('html needs --from ISO and --to ISO');
  const fromMs = parseInstant(from);
  const toMs = parseInstant(to);
  if (fromMs === undefined) throw new UsageError(`--from must be an ISO-8601 UTC instant, not "${from}"`);
  if (toMs === undefined) throw new UsageError(`--to must be an ISO-8601 UTC instant, not "${to}"`);
  if (fromMs >= toMs) throw new UsageError(`--from ${from} must be before --to ${to}`);
  return { from: utcDay(fromMs), to: utcDay(toMs - 1) };
}

function checkOut(out: string | undefined): string {
  if (!out) throw new UsageError('html needs --out DIR (a new or empty folder)');
  const dir = resolve(out);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0))
    throw new UsageError(`--out ${out} must be a new or empty folder`);
  if (!existsSync(dirname(dir))) throw new UsageError(`--out ${out}: the folder ${dirname(dir)} does not exist`);
  return dir;
}

export async function htmlCommand(
  ctx: CliContext,
  o: { envFile?: string; from?: string; to?: string; user: string[]; team: string[]; conversation: string[]; out?: string },
): Promise<number> {
  // Every argument is checked before anything is read or written.
  const range = dayRange(o.from, o.to);
  const named = [
    ...o.user.map((id) => ({ kind: 'user' as BrowsableKind, id: checkId('user', id) })),
    ...o.team.map((id) => ({ kind: 'team' as BrowsableKind, id: checkId('team', id) })),
  ];
  for (const c of o.conversation) checkId('conversation', c);
  const outDir = checkOut(o.out);
  const deps = await depsFrom(ctx, o.envFile);
  for (const e of named) {
    if ((await listEntityMonths(deps.container, e, ctx.signal)).length > 0) continue;
    // A user may have only Copilot interactions or organised meetings archived.
    if (e.kind === 'user' && (await artifactMonths(deps.container, e.id, ctx.signal)).length > 0) continue;
    throw new UsageError(`the archive holds no messages for ${e.kind} ${e.id}`);
  }
  // One record for the whole folder, before anything is read: the range and what was selected
  // (a user's pages include their Copilot sessions and the meetings they organised).
  const selected = selectedEntities(o.user, o.team);
  await cliAuditor(deps)({
    action: 'cli.html',
    from: range.from,
    to: range.to,
    entities:
      o.user.length > 0
        ? [...selected, ...o.user.flatMap((id) => [artifactLabel('copilot', id), artifactLabel('meetings', id)])]
        : selected,
    ...(o.conversation.length > 0 ? { conversations: o.conversation } : {}),
  });
  const entities =
    named.length > 0
      ? named
      : [
          ...[
            ...new Set([
              ...(await listEntityIds(deps.container, 'user', ctx.signal)),
              ...(await listArtifactUsers(deps.container, 'copilot', ctx.signal)),
              ...(await listArtifactUsers(deps.container, 'meetings', ctx.signal)),
            ]),
          ].map((id) => ({ kind: 'user' as BrowsableKind, id })),
          ...(await listEntityIds(deps.container, 'team', ctx.signal)).map((id) => ({ kind: 'team' as BrowsableKind, id })),
        ];
  const result = await writeTranscripts({
    container: deps.container,
    names: await readLatestDirectoryNames(deps.container, ctx.signal),
    entities,
    conversations: new Set(o.conversation),
    range,
    outDir,
    onProgress: (line) => ctx.stderr.write(`${line}\n`),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  write(
    ctx.stdout,
    `wrote ${result.pages} conversation-day pages and ${result.files} images and files to ${outDir}; open ${resolve(outDir, 'index.html')}`,
  );
  return EXIT_OK;
}
