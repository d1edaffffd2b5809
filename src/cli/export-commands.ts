// The CLI commands that run exports (`run`, `backfill`) and report on them (`status`).
import type { AppDeps } from '../deps';
import { runExport, type RunOutcome, type RunSpec } from '../export/run-in-process';
import { readRunReport } from '../export/run-lifecycle';
import { iso, parseInstant } from '../time';
import { EXIT_OK, EXIT_RUN_FAILED, UsageError } from './cli-errors';
import { depsFrom, write, type CliContext } from './cli-context';
import { canonicalEntityIds, checkEntityArgs, checkNotFuture, FUTURE_BACKFILL, FUTURE_RUN } from './operator-input';
import { createProgressDisplay } from './progress';
import { reportLines } from './report-text';

export interface RunCommandOptions {
  now?: string;
  envFile?: string;
  json?: boolean;
  /** List every skipped entity (id, Graph's status, code and request-id), not only the counts by reason. */
  verbose?: boolean;
}

export function parseInstantArg(flag: string, value: string): number {
  const ms = parseInstant(value);
  if (ms === undefined) throw new UsageError(`${flag} must be an ISO-8601 UTC instant such as 2024-05-01T00:00:00Z (got "${value}")`);
  return ms;
}

export async function runCommand(ctx: CliContext, o: RunCommandOptions): Promise<number> {
  const nowMs = o.now === undefined ? Date.now() : parseInstantArg('--now', o.now);
  checkNotFuture('--now', nowMs, Date.now(), FUTURE_RUN);
  const deps = await depsFrom(ctx, o.envFile);
  const outcome = await executeWithProgress(ctx, deps, { kind: 'daily', nowMs });
  printOutcome(ctx, outcome, { json: o.json === true, verbose: o.verbose === true });
  return outcome.status === 'succeeded' ? EXIT_OK : EXIT_RUN_FAILED;
}

export interface BackfillCommandOptions {
  from?: string;
  to?: string;
  user?: string[];
  team?: string[];
  envFile?: string;
  json?: boolean;
  verbose?: boolean;
}

export async function backfillCommand(ctx: CliContext, o: BackfillCommandOptions): Promise<number> {
  if (o.from === undefined || o.to === undefined) throw new UsageError('backfill needs --from and --to (ISO-8601 instants)');
  const fromMs = parseInstantArg('--from', o.from);
  const toMs = parseInstantArg('--to', o.to);
  if (fromMs >= toMs) throw new UsageError(`--from (${o.from}) must be before --to (${o.to})`);
  checkNotFuture('--to', toMs, Date.now(), FUTURE_BACKFILL);
  checkEntityArgs(o.user ?? [], o.team ?? []);
  const deps = await depsFrom(ctx, o.envFile);
  const ids = await canonicalEntityIds(deps.http, o.user ?? [], o.team ?? [], ctx.signal);
  const outcome = await executeWithProgress(ctx, deps, { kind: 'backfill', window: { fromMs, toMs }, ...ids });
  printOutcome(ctx, outcome, { json: o.json === true, verbose: o.verbose === true });
  return outcome.status === 'succeeded' ? EXIT_OK : EXIT_RUN_FAILED;
}

export async function executeWithProgress(ctx: CliContext, deps: AppDeps, spec: RunSpec): Promise<RunOutcome> {
  const display = createProgressDisplay(ctx.stderr);
  try {
    return await runExport(spec, deps, {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (p) => display.update(p, deps.http.stats().requests),
    });
  } finally {
    display.done();
  }
}

/**
 * A run's outcome: totals, the collection report (skipped entities as counts by reason, in plain words) and
 * every failed entity. Skipped entities are listed one by one only with `verbose`; `json` prints everything,
 * ids included, as one document.
 */
export function printOutcome(ctx: CliContext, o: RunOutcome, opts: { json: boolean; verbose?: boolean }): void {
  if (opts.json) {
    write(
      ctx.stdout,
      JSON.stringify({ runId: o.runId, status: o.status, error: o.error, totals: o.progress, report: o.report, problems: problems(o) }),
    );
    return;
  }
  const p = o.progress;
  write(ctx.stdout, `run ${o.runId}: ${o.status}${o.error ? ` (${o.error})` : ''}`);
  write(ctx.stdout, `  entities: ${p.planned} planned, ${p.done} done, ${p.skipped} skipped, ${p.failed} failed`);
  write(ctx.stdout, `  versions: ${p.messages} new, ${p.duplicates} already archived, ${p.quarantined} quarantined; ${p.pages} pages`);
  write(ctx.stdout, `  blobs:    ${p.blobs} written (${(p.bytes / 1024).toFixed(1)} KiB gzipped)`);
  if (o.report) for (const line of reportLines(o.report)) write(ctx.stdout, line);
  const listed = problems(o).filter((r) => opts.verbose === true || r.status !== 'skipped');
  for (const r of listed) {
    // A skip is expected (no mailbox, a deleted user): status, code and request-id say enough.
    const detail = r.status === 'skipped' ? `${r.httpStatus ?? ''} ${r.code ?? ''}`.trim() : r.message;
    write(
      ctx.stdout,
      `  ${r.status} ${r.entity}: ${detail}${r.requestId && !detail.includes(r.requestId) ? ` (request-id ${r.requestId})` : ''}`,
    );
  }
  if (opts.verbose !== true && p.skipped > 0) write(ctx.stdout, "  the skipped entities' ids and Graph's answers: --verbose or --json");
}

function problems(o: RunOutcome) {
  return o.results
    .filter((r) => r.status !== 'done')
    .map((r) => ({
      status: r.status,
      entity: `${r.entity.kind}:${r.entity.id}`,
      httpStatus: r.error?.status,
      code: r.error?.code,
      reason: r.error?.reason,
      message: r.error?.message ?? '',
      requestId: r.error?.requestId,
    }));
}

export interface StatusCommandOptions {
  envFile?: string;
  json?: boolean;
}

/** Checkpoints and last result per entity, and the latest runs. */
export async function statusCommand(ctx: CliContext, o: StatusCommandOptions): Promise<number> {
  const deps = await depsFrom(ctx, o.envFile);
  const checkpoints = [];
  for await (const c of deps.checkpoints.list(ctx.signal)) checkpoints.push(c);
  const runs = await deps.runs.listRuns({ limit: 5 });
  const summary = runs[0] ? await deps.runs.summarize(runs[0].runId) : undefined;
  const latest = summary ? { ...summary, report: await readRunReport(deps, summary.run) } : undefined;
  // The content stage's backlog over all runs (docs/design.md §17).
  const contentBacklog = deps.contentBacklog ? await deps.contentBacklog.summary(ctx.signal) : undefined;
  if (o.json) {
    write(
      ctx.stdout,
      JSON.stringify({
        runs,
        latest,
        ...(contentBacklog
          ? { contentBacklog: { ...contentBacklog, oldest: contentBacklog.oldestMs === undefined ? null : iso(contentBacklog.oldestMs) } }
          : {}),
        entities: checkpoints.map((c) => ({
          kind: c.entity.kind,
          id: c.entity.id,
          freshWatermark: c.freshWatermarkMs === undefined ? null : iso(c.freshWatermarkMs),
          settledWatermark: c.settledWatermarkMs === undefined ? null : iso(c.settledWatermarkMs),
          lastRunId: c.lastRunId ?? null,
          lastStatus: c.lastStatus ?? null,
          lastErrorCode: c.lastErrorCode ?? null,
          totalMessages: c.totalMessages,
        })),
      }),
    );
    return EXIT_OK;
  }
  if (runs.length === 0) write(ctx.stdout, 'no runs yet');
  for (const r of runs) {
    write(
      ctx.stdout,
      `run ${r.runId}  ${r.kind}  ${r.status}  started ${iso(r.startedAtMs)}  planned ${r.planned}${r.error ? `  ${r.error}` : ''}`,
    );
  }
  if (latest) {
    const c = latest.counts;
    write(ctx.stdout, `latest: ${c.done} done, ${c.skipped} skipped, ${c.failed} failed, ${c.messages} versions, ${c.blobs} blobs`);
    for (const line of reportLines(latest.report)) write(ctx.stdout, line);
  }
  if (contentBacklog) {
    const b = contentBacklog;
    write(
      ctx.stdout,
      b.batches === 0
        ? 'content backlog: empty'
        : `content backlog: ${b.versions} messages in ${b.batches} batches (${b.retrying} retrying), oldest since ${iso(b.oldestMs!)}`,
    );
  }
  write(ctx.stdout, `${checkpoints.length} entities with checkpoints:`);
  for (const c of checkpoints) {
    const fresh = c.freshWatermarkMs === undefined ? '-' : iso(c.freshWatermarkMs);
    const settled = c.settledWatermarkMs === undefined ? '-' : iso(c.settledWatermarkMs);
    write(
      ctx.stdout,
      `  ${c.entity.kind} ${c.entity.id}  fresh ${fresh}  settled ${settled}  last ${c.lastStatus ?? '-'}${c.lastErrorCode ? ` (${c.lastErrorCode})` : ''}  versions ${c.totalMessages}`,
    );
  }
  return EXIT_OK;
}
