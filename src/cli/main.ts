// Entry point of the `teams-export` command: parses arguments, dispatches to a command, and maps
// failures to exit codes (0 ok, 1 a run failed, 2 bad arguments or settings).
import { parseArgs } from 'node:util';
import { AuditWriteError } from '../archive/audit-trail';
import { catCommand, lsCommand, verifyCommand } from './archive-commands';
import { auditCommand } from './audit-command';
import { errorText } from '../model/errors';
import { EXIT_RUN_FAILED, EXIT_USAGE, UsageError } from './cli-errors';
import type { CliContext } from './cli-context';
import { backfillCommand, runCommand, statusCommand } from './export-commands';
import { loadDemo } from './load-demo';
import { execWithMallocEnv } from './malloc-env';
import { rsmfCommand } from './rsmf-command';

export const USAGE = `usage: teams-export <command> [options]

commands:
  run [--now ISO] [--verbose]               one scheduled export run (both passes, every entity)
  backfill --from ISO --to ISO [--user ID]... [--team ID]... [--verbose]
                                            export a date range (all entities when none named);
                                            never moves the daily watermarks
  status [--json]                           checkpoints per entity and the latest runs
  ls [PREFIX]                               list archived blobs (default prefix messages/)
  cat BLOB [--text]                         print one batch's JSON lines (--text: readable)
  verify [PREFIX]                           re-hash archived blobs against their recorded SHA-256s
                                            and the manifests; exit 1 on any mismatch or gap
  rsmf --from ISO --to ISO --out DIR [--user ID]... [--team ID]... [--conversation ID]...
       [--allow-unsettled]                  RSMF 2.0 files for review platforms (Relativity ...),
                                            one per conversation and UTC day, from the archive
  demo [--keep]                             run everything locally against Azurite and the
                                            Graph emulator (needs the development dependencies)
  serve [--port N]                          browse the archive in a web browser (read-only; prints
                                            a one-time address for this machine's browser; a free
                                            port unless --port is given)
  html --from ISO --to ISO [--user ID]... [--team ID]... [--conversation ID]... --out DIR
                                            write offline HTML transcripts (opens from disk)
  audit [--from ISO] [--to ISO] [--principal ID|NAME] [--entity user:ID|team:ID|ID] [--json]
                                            who read what: the audit trail (default: the last 24 h)

Reads of archived content (ls, cat, rsmf, serve, html, audit) are recorded in the audit trail as the
OS user running the command; a read that cannot be recorded is refused (exit 1). See docs/security.md.

options:
  --env-file FILE   read settings from a .env file or a local.settings.json (env vars win)
  --json            machine-readable output (run, backfill, status, ls)
  --verbose         run, backfill: list every skipped entity (id, Graph's answer), not only
                    the counts by reason
  -h, --help        this text

Settings come from environment variables; see README.md for the list.`;

const COMMANDS = ['run', 'backfill', 'status', 'ls', 'cat', 'verify', 'rsmf', 'demo', 'serve', 'html', 'audit'] as const;
type Command = (typeof COMMANDS)[number];

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  try {
    return await dispatch(argv, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr.write(`teams-export: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isParseArgsError(err)) {
      ctx.stderr.write(`teams-export: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof AuditWriteError) {
      // Fail closed (docs/security.md): the read was refused because nobody could have seen it in the trail.
      ctx.stderr.write(`teams-export: ${err.message}\n`);
      return EXIT_RUN_FAILED;
    }
    ctx.stderr.write(`teams-export: ${errorText(err)}\n`);
    return EXIT_RUN_FAILED;
  }
}

async function dispatch(argv: string[], ctx: CliContext): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    ctx.stdout.write(`${USAGE}\n`);
    return command === undefined ? EXIT_USAGE : 0;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      now: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      user: { type: 'string', multiple: true },
      team: { type: 'string', multiple: true },
      conversation: { type: 'string', multiple: true },
      out: { type: 'string' },
      'allow-unsettled': { type: 'boolean' },
      'env-file': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      keep: { type: 'boolean' },
      text: { type: 'boolean' },
      port: { type: 'string' },
      principal: { type: 'string' },
      entity: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    ctx.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const allowed: Record<Command, string[]> = {
    run: ['now', 'env-file', 'json', 'verbose'],
    backfill: ['from', 'to', 'user', 'team', 'env-file', 'json', 'verbose'],
    status: ['env-file', 'json'],
    ls: ['env-file', 'json'],
    cat: ['env-file', 'text'],
    verify: ['env-file', 'json'],
    rsmf: ['from', 'to', 'user', 'team', 'conversation', 'out', 'allow-unsettled', 'env-file', 'json'],
    demo: ['keep'],
    serve: ['env-file', 'port'],
    html: ['from', 'to', 'user', 'team', 'conversation', 'out', 'env-file'],
    audit: ['from', 'to', 'principal', 'entity', 'env-file', 'json'],
  };
  const cmd = command as Command;
  for (const name of Object.keys(values)) {
    if (!allowed[cmd].includes(name)) throw new UsageError(`${cmd} does not take --${name}`);
  }
  const maxPositionals = cmd === 'ls' || cmd === 'cat' || cmd === 'verify' ? 1 : 0;
  if (positionals.length > maxPositionals) throw new UsageError(`${cmd}: unexpected argument "${positionals[maxPositionals]}"`);
  const envFile = values['env-file'];
  const json = values.json === true;
  const common = { ...(envFile !== undefined ? { envFile } : {}), json };
  const verbose = values.verbose === true;
  switch (cmd) {
    case 'run':
      return runCommand(ctx, { ...common, verbose, ...(values.now !== undefined ? { now: values.now } : {}) });
    case 'backfill':
      return backfillCommand(ctx, {
        ...common,
        verbose,
        ...(values.from !== undefined ? { from: values.from } : {}),
        ...(values.to !== undefined ? { to: values.to } : {}),
        user: values.user ?? [],
        team: values.team ?? [],
      });
    case 'status':
      return statusCommand(ctx, common);
    case 'ls':
      return lsCommand(ctx, { ...common, ...(positionals[0] !== undefined ? { prefix: positionals[0] } : {}) });
    case 'cat':
      return catCommand(ctx, { ...common, text: values.text === true, ...(positionals[0] !== undefined ? { blob: positionals[0] } : {}) });
    case 'verify':
      return verifyCommand(ctx, { ...common, ...(positionals[0] !== undefined ? { prefix: positionals[0] } : {}) });
    case 'rsmf':
      return rsmfCommand(ctx, { ...common, ...archiveSelection(values), allowUnsettled: values['allow-unsettled'] === true });
    case 'demo':
      return loadDemo()(ctx, { keep: values.keep === true });
    // The viewer (and its HTML sanitizer) loads only for its own commands: the others start as before.
    case 'serve':
      return (await import('./viewer-commands.js')).serveCommand(ctx, {
        ...common,
        ...(values.port !== undefined ? { port: values.port } : {}),
      });
    case 'html':
      return (await import('./viewer-commands.js')).htmlCommand(ctx, { ...common, ...archiveSelection(values) });
    case 'audit':
      return auditCommand(ctx, {
        ...common,
        ...(values.from !== undefined ? { from: values.from } : {}),
        ...(values.to !== undefined ? { to: values.to } : {}),
        ...(values.principal !== undefined ? { principal: values.principal } : {}),
        ...(values.entity !== undefined ? { entity: values.entity } : {}),
      });
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/**
 * Runs the CLI as a process: real env and streams, Ctrl-C/SIGTERM abort the work cleanly. First restarts the
 * process with glibc's malloc settings when they are missing (malloc-env.ts).
 */
export function runFromProcess(): void {
  execWithMallocEnv();
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    // First Ctrl-C: stop cleanly (no checkpoint moves for unfinished chunks); second: exit now.
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nteams-export: stopping (press Ctrl-C again to exit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `teams-export ls | head`: the reader went away; stop quietly like other command-line tools.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`teams-export: ${errorText(err)}\n`);
      process.exitCode = EXIT_RUN_FAILED;
    },
  );
}

if (require.main === module) runFromProcess();

/** What `rsmf` and `html` read from the archive: a range, entities and conversations, and where to write. */
function archiveSelection(values: { from?: string; to?: string; out?: string; user?: string[]; team?: string[]; conversation?: string[] }) {
  return {
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values.to !== undefined ? { to: values.to } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    user: values.user ?? [],
    team: values.team ?? [],
    conversation: values.conversation ?? [],
  };
}
