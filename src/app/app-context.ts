// The Functions app's composition root: builds settings, clients and the jobs queue once per process,
// lazily on the first invocation, and hands them to every handler (tests pass their own instead).
import { AuditTrail } from '../archive/audit-trail';
import { buildDeps, type AppDeps, type BuildDepsOptions } from '../deps';
import { createLogger, type Logger, type LogLevel, type LogSink } from '../log';
import { httpAuthLevelOf, loadSettings, type Env } from '../settings';
import { systemClock, type Clock } from '../time';
import { JobProgressStore, progressTableName, RunRequestStore } from '../state/job-progress-store';
import { StorageJobQueue, type JobQueue } from './job-queue';

/** How queued jobs are retried and fanned out (docs/functions.md §3 explains the choices). */
export interface JobPolicy {
  /** Attempts of one job (throttling, 5xx, storage errors) before it is recorded as failed. */
  maxAttempts: number;
  /** Backoff of attempt n is baseDelaySec * 2^(n-1), capped at maxDelaySec. */
  baseDelaySec: number;
  maxDelaySec: number;
  /** Delay before a job whose entity is being exported by another worker is tried again. */
  busyDelaySec: number;
  /** Job rows written and messages sent in parallel while a run is enqueued. */
  enqueueConcurrency: number;
  /** The entity lease's period (15–60 s): a worker that stops renewing frees its entity this long after. */
  leaseSeconds: number;
}

export const DEFAULT_JOB_POLICY: JobPolicy = {
  maxAttempts: 8,
  baseDelaySec: 60,
  maxDelaySec: 3600,
  busyDelaySec: 120,
  enqueueConcurrency: 16,
  leaseSeconds: 60,
};

/** Backoff before attempt n+1 after attempt n failed: base · 2^(n−1), capped (1, 2, 4 … minutes). */
export function backoffDelaySec(attempt: number, policy: Pick<JobPolicy, 'baseDelaySec' | 'maxDelaySec'>): number {
  return Math.min(policy.maxDelaySec, policy.baseDelaySec * 2 ** Math.max(0, attempt - 1));
}

export interface AppContext {
  deps: AppDeps;
  queue: JobQueue;
  /** The content stage's queue (EXPORT_CONTENT_QUEUE, docs/design.md §17). */
  contentQueue: JobQueue;
  clock: Clock;
  policy: JobPolicy;
  /** Where each queued job of a run has got (resume points that survive a killed invocation). */
  progress: JobProgressStore;
  /** Backfill requests waiting for their planning message, and Idempotency-Keys (same table). */
  requests: RunRequestStore;
  /** The audit trail's writer: every read of archived content is recorded before it is answered (docs/security.md). */
  audit: AuditTrail;
}

/** A provider of the app context; handler factories take one so tests can inject theirs. */
export type GetAppContext = () => Promise<AppContext>;

export interface AppContextOptions extends Partial<Omit<BuildDepsOptions, 'log'>> {
  log?: Logger;
  clock?: Clock;
  policy?: Partial<JobPolicy>;
}

/** Builds the context from an environment (app settings), creating the container, tables and queues. */
export async function buildAppContext(env: Env, opts: AppContextOptions = {}): Promise<AppContext> {
  const settings = loadSettings(env);
  const log = opts.log ?? createLogger(consoleSink, settings.logLevel);
  const { clock, policy, log: _log, ...depsOptions } = opts;
  const deps = await buildDeps(settings, { ...depsOptions, log });
  if (!deps.storage.queueService) {
    throw new Error(
      'the Functions app needs a queue service: set EXPORT_STORAGE to a connection string, or EXPORT_STORAGE__queueServiceUri',
    );
  }
  const queue = new StorageJobQueue(deps.storage.queueService, settings.queue);
  const contentQueue = new StorageJobQueue(deps.storage.queueService, settings.contentQueue);
  const progressTable = deps.storage.table(progressTableName(settings.tablePrefix));
  const progress = new JobProgressStore(progressTable);
  await Promise.all([queue.ensure(), contentQueue.ensure(), progress.ensure()]);
  return {
    deps,
    queue,
    contentQueue,
    clock: clock ?? systemClock,
    policy: { ...DEFAULT_JOB_POLICY, ...policy },
    progress,
    requests: new RunRequestStore(progressTable),
    audit: new AuditTrail(deps.container),
  };
}

/** Memoizes a context builder; a failed build is not cached, so the next invocation tries again. */
export function lazyAppContext(build: () => Promise<AppContext>): GetAppContext {
  let pending: Promise<AppContext> | undefined;
  return () => {
    pending ??= build().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

/** Process-wide lines (Graph client, start-up) go through console, which the Functions worker forwards. */
const consoleSink: LogSink = (level, message, fields) => {
  const line = JSON.stringify({ message, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else if (level === 'debug') console.debug(line);
  else console.info(line);
};

/**
 * The authLevel every HTTP function registers with, from HTTP_AUTH in the process environment when the
 * host loads the function files: `anonymous` behind Entra (the handlers check roles), `function` with keys.
 */
export function httpAuthLevel(): 'anonymous' | 'function' {
  return httpAuthLevelOf(process.env);
}

/** The production context: app settings from the process environment, built on first use. */
export const getAppContext: GetAppContext = lazyAppContext(() => buildAppContext(process.env));

/** The subset of InvocationContext a logger needs (kept structural: src/ does not import @azure/functions). */
export interface InvocationLog {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** A logger writing through one invocation's context, so lines are correlated with that invocation. */
export function invocationLogger(ctx: InvocationLog, minLevel: LogLevel = 'info', base: Record<string, unknown> = {}): Logger {
  return createLogger((level, message, fields) => ctx[level](message, fields), minLevel, base);
}
