// Productions over HTTP (docs/rsmf.md): POST checks the request against the archive, records it in
// `productions/{id}/status.json` and sends ONE 'production' message; the queue worker builds the RSMF
// files into `productions/{id}/` (write-once, SHA-256 in the metadata) and the status says how it ended.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readBlobBytes } from '../archive/batch-reader';
import { BlobAlreadyExistsError, writeFileOnce, writeJson } from '../archive/batch-writer';
import {
  isValidRunId,
  productionFileBlobName,
  productionLockName,
  productionManifestName,
  productionStatusName,
} from '../archive/blob-layout';
import type { Logger } from '../log';
import { errorText } from '../model/errors';
import {
  coverageOf,
  describeInputError,
  newProductionId,
  planProduction,
  ProductionInputError,
  runProduction,
  type ProductionDeps,
  type ProductionManifest,
  type ProductionRemedy,
  type ProductionRequest,
  type ProductionSink,
} from '../rsmf/production';
import type { ArchiveContainer } from '../archive/archive-container';
import { iso, parseInstant } from '../time';
import type { AppContext } from './app-context';
import type { ProductionKeyClaim } from '../state/job-progress-store';
import { IdempotencyKeyReusedError, NotFoundError, ValidationError } from './app-errors';
import type { ProductionMessage } from './job-message';
import { EntityLease } from '../archive/entity-lease';
import { listProductionIds } from '../archive/run-files';

export type ProductionStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** What `productions/{id}/status.json` holds, and what GET /api/productions/{id} answers. */
export interface ProductionStatusDoc {
  productionId: string;
  status: ProductionStatus;
  request: { from: string; to: string; users: string[]; teams: string[]; conversations: string[]; allowUnsettled: boolean };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** The production manifest's blob, once written. */
  manifest?: string;
  totals?: ProductionManifest['totals'];
  files?: Array<{ name: string; fileName: string; sha256: string; bytes: number; events: number; conversation: string; day: string }>;
  coverage?: ProductionManifest['coverage'];
}

/** A refused production's way out, in the terms of the request body (the CLI has its own words). */
export const HTTP_REMEDIES: Readonly<Record<ProductionRemedy, string>> = {
  'allow-unsettled': 'send "allowUnsettled": true (the production\'s coverage then lists the unsettled days)',
  'export-missing-days': 'end "to" before the missing days, or wait for the daily export (dailyExport) to reach them',
  'export-first': 'wait for the first daily export (dailyExport)',
};

const depsOf = (ctx: AppContext): ProductionDeps => ({
  container: ctx.deps.container,
  checkpoints: ctx.deps.checkpoints,
  exportStartMs: ctx.deps.settings.startMs,
});

const requestOf = (doc: ProductionStatusDoc): ProductionRequest => ({
  fromMs: parseInstant(doc.request.from) as number,
  toMs: parseInstant(doc.request.to) as number,
  users: doc.request.users,
  teams: doc.request.teams,
  conversations: doc.request.conversations,
  allowUnsettled: doc.request.allowUnsettled,
});

function writeStatus(container: ArchiveContainer, doc: ProductionStatusDoc): Promise<unknown> {
  // The one rewritten blob of a production: it tracks the state, the files beside it are write-once.
  return writeJson(container, productionStatusName(doc.productionId), doc, { overwrite: true });
}

async function readStatus(
  container: ArchiveContainer,
  productionId: string,
  signal?: AbortSignal,
): Promise<ProductionStatusDoc | undefined> {
  const bytes = await readBlobBytes(container, productionStatusName(productionId), signal);
  return bytes ? (JSON.parse(bytes.toString('utf8')) as ProductionStatusDoc) : undefined;
}

/** What POST /api/productions answers: the production, and whether this request created it. */
export interface RequestedProduction {
  doc: ProductionStatusDoc;
  /** False for a retry with the same Idempotency-Key (the production the first request created). */
  created: boolean;
}

const requestDocOf = (req: ProductionRequest): ProductionStatusDoc['request'] => ({
  from: iso(req.fromMs),
  to: iso(req.toMs),
  users: [...req.users],
  teams: [...req.teams],
  conversations: [...req.conversations],
  allowUnsettled: req.allowUnsettled === true,
});

/** The request as a retry must repeat it: ids in any order, duplicates dropped (as parsing already does). */
export function productionFingerprint(req: ProductionRequest): string {
  return fingerprintOf(requestDocOf(req));
}

function fingerprintOf(request: ProductionStatusDoc['request']): string {
  const sorted = (ids: readonly string[]) => [...new Set(ids)].sort();
  const canonical = {
    ...request,
    users: sorted(request.users),
    teams: sorted(request.teams),
    conversations: sorted(request.conversations),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/**
 * POST /api/productions: plans the production against the archive (unknown users, teams or
 * conversations, a range the archive does not cover → 400 naming the field, nothing written), then
 * records it and sends its message. With an Idempotency-Key, a retry gets the production the first
 * request created, and the same key with a different body is a 422 (docs/functions.md).
 */
export async function requestProduction(
  ctx: AppContext,
  req: ProductionRequest,
  log: Logger,
  signal?: AbortSignal,
  idempotencyKey?: string,
): Promise<RequestedProduction> {
  const request = requestDocOf(req);
  const fingerprint = fingerprintOf(request);
  if (idempotencyKey !== undefined) {
    // A retry is answered from the key alone: no second plan, the same answer even if the archive moved on.
    const earlier = await ctx.requests.getProductionKey(idempotencyKey);
    if (earlier) return answerRetry(ctx, earlier, fingerprint, request, log);
  }
  let plan;
  try {
    plan = await planProduction(req, depsOf(ctx), signal);
  } catch (err) {
    if (err instanceof ProductionInputError)
      throw new ValidationError([{ field: fieldName(err.field), message: describeInputError(err, HTTP_REMEDIES) }]);
    throw err;
  }
  const productionId = newProductionId(ctx.clock.now());
  if (idempotencyKey !== undefined) {
    // Claimed before anything is written, so two racing requests agree on one production.
    const earlier = await ctx.requests.claimProductionKey(idempotencyKey, { productionId, fingerprint });
    if (earlier) return answerRetry(ctx, earlier, fingerprint, request, log);
  }
  // The unsettled days it was accepted with (allowUnsettled) show in the status from the start.
  const doc = await createProduction(ctx, productionId, request, log, coverageOf(plan));
  return { doc, created: true };
}

/** Records a new production (write-once) and sends its one message. */
async function createProduction(
  ctx: AppContext,
  productionId: string,
  request: ProductionStatusDoc['request'],
  log: Logger,
  coverage?: ProductionManifest['coverage'],
): Promise<ProductionStatusDoc> {
  const doc: ProductionStatusDoc = {
    productionId,
    status: 'queued',
    request,
    createdAt: iso(ctx.clock.now()),
    ...(coverage ? { coverage } : {}),
  };
  await writeJson(ctx.deps.container, productionStatusName(productionId), doc);
  await ctx.queue.send({ type: 'production', productionId });
  log.info('production requested', { productionId });
  return doc;
}

async function answerRetry(
  ctx: AppContext,
  earlier: ProductionKeyClaim,
  fingerprint: string,
  request: ProductionStatusDoc['request'],
  log: Logger,
): Promise<RequestedProduction> {
  const { productionId } = earlier;
  if (earlier.fingerprint !== fingerprint)
    throw new IdempotencyKeyReusedError(
      `this Idempotency-Key was first used for production ${productionId} with a different body; send that body again to get it, or use a new key for a new production`,
    );
  const doc = await readStatus(ctx.deps.container, productionId);
  if (doc) {
    log.info('production already requested with this Idempotency-Key', { productionId, status: doc.status });
    return { doc, created: false };
  }
  // The first request claimed the key and died before recording the production: finish its work.
  try {
    return { doc: await createProduction(ctx, productionId, request, log), created: false };
  } catch (err) {
    if (!(err instanceof BlobAlreadyExistsError)) throw err;
    // Another retry finished it first (and sent the message).
    return { doc: (await readStatus(ctx.deps.container, productionId)) as ProductionStatusDoc, created: false };
  }
}

/** The body's field names: the planner speaks of one `user`, the body has `users`. */
function fieldName(field: string): string {
  return field === 'user' ? 'users' : field === 'team' ? 'teams' : field === 'conversation' ? 'conversations' : field;
}

/**
 * A sink into `productions/{id}/`: each file spooled to `dir` (the caller's, removed by the caller),
 * hashed, then uploaded write-once.
 */
export function archiveProductionSink(
  container: ArchiveContainer,
  productionId: string,
  dir: string,
  signal?: AbortSignal,
): ProductionSink {
  return {
    async store(fileName: string, data: Readable) {
      const path = join(dir, fileName);
      try {
        await pipeline(data, createWriteStream(path, { flags: 'wx' }));
        const written = await writeFileOnce(
          container,
          productionFileBlobName(productionId, fileName),
          path,
          'message/rfc822',
          { productionId },
          signal,
        );
        return { sha256: written.sha256, bytes: written.bytes };
      } finally {
        rmSync(path, { force: true });
      }
    },
    async finish(manifest: ProductionManifest) {
      await writeJson(container, productionManifestName(productionId), manifest, signal ? { signal } : {});
    },
  };
}

export type ProductionOutcome = 'succeeded' | 'failed' | 'duplicate' | 'busy';

/** Why a production whose worker stopped mid-build ended (a redelivery or the sweep found it). */
export const PRODUCTION_WORKER_STOPPED =
  'the worker building this production stopped (a crash, a restart or a timeout) before it finished; the files it wrote are kept under its folder, but the production is incomplete: request it again';

/**
 * The queue worker's part: builds a queued production under the production's lease (so the host's
 * redelivery, or the sweep, can tell a build in progress from one whose worker died). It is not
 * retried: a second attempt would meet the write-once files of the first, so any failure ends the
 * production as failed with the reason, and so does a worker that died mid-build (docs/rsmf.md).
 */
export async function runProductionMessage(
  ctx: AppContext,
  msg: ProductionMessage,
  log: Logger,
  signal?: AbortSignal,
): Promise<ProductionOutcome> {
  const { productionId } = msg;
  const plog = log.child({ productionId });
  const container = ctx.deps.container;
  const first = await readStatus(container, productionId, signal);
  if (!first || (first.status !== 'queued' && first.status !== 'running')) {
    plog.info('production message ignored: the production has ended', { status: first?.status });
    return 'duplicate';
  }
  const lease = await EntityLease.acquireLock(container, productionLockName(productionId), signal ? { signal } : {});
  if (!lease) {
    // Another worker builds it right now (a duplicate delivery): look again later.
    await ctx.queue.send(msg, { delaySec: ctx.policy.busyDelaySec });
    return 'busy';
  }
  try {
    return await buildUnderLease(ctx, productionId, lease, plog, signal);
  } finally {
    await lease.release().catch(() => undefined);
  }
}

async function buildUnderLease(
  ctx: AppContext,
  productionId: string,
  lease: EntityLease,
  plog: Logger,
  outerSignal?: AbortSignal,
): Promise<ProductionOutcome> {
  const container = ctx.deps.container;
  const signal = outerSignal ? AbortSignal.any([outerSignal, lease.lostSignal]) : lease.lostSignal;
  const doc = await readStatus(container, productionId, signal);
  if (doc?.status === 'running') {
    // Running, and its lease was free: the worker that started it is gone.
    await writeStatus(container, { ...doc, status: 'failed', finishedAt: iso(ctx.clock.now()), error: PRODUCTION_WORKER_STOPPED });
    plog.error('production failed: its worker stopped', {});
    return 'failed';
  }
  if (!doc || doc.status !== 'queued') return 'duplicate';
  const running: ProductionStatusDoc = { ...doc, status: 'running', startedAt: iso(ctx.clock.now()) };
  await writeStatus(container, running);
  const spool = mkdtempSync(join(tmpdir(), 'teams-export-production-'));
  try {
    const deps = depsOf(ctx);
    const plan = await planProduction(requestOf(doc), deps, signal);
    const manifest = await runProduction(productionId, plan, deps, archiveProductionSink(container, productionId, spool, signal), {
      ...(signal ? { signal } : {}),
      nowMs: ctx.clock.now(),
    });
    await writeStatus(container, {
      ...running,
      status: 'succeeded',
      finishedAt: iso(ctx.clock.now()),
      manifest: productionManifestName(productionId),
      totals: manifest.totals,
      coverage: manifest.coverage,
      files: manifest.files.map((f) => ({
        name: productionFileBlobName(productionId, f.fileName),
        fileName: f.fileName,
        sha256: f.sha256,
        bytes: f.bytes,
        events: f.events,
        conversation: f.conversation,
        day: f.day,
      })),
    });
    plog.info('production succeeded', { files: manifest.totals.files, events: manifest.totals.events });
    return 'succeeded';
  } catch (err) {
    const error =
      err instanceof ProductionInputError ? `${fieldName(err.field)}: ${describeInputError(err, HTTP_REMEDIES)}` : errorText(err);
    await writeStatus(container, { ...running, status: 'failed', finishedAt: iso(ctx.clock.now()), error });
    plog.error('production failed', { error });
    return 'failed';
  } finally {
    rmSync(spool, { recursive: true, force: true });
  }
}

/** The poison handler's part: a production whose message the host gave up on ends as failed. */
export async function failPoisonedProduction(ctx: AppContext, msg: ProductionMessage, log: Logger): Promise<'failed' | 'already-finished'> {
  const doc = await readStatus(ctx.deps.container, msg.productionId);
  if (!doc || doc.status === 'succeeded' || doc.status === 'failed') return 'already-finished';
  const error = `the production's message failed every delivery the host allows and was moved to the poison queue; see the exportWorker logs${doc.error ? ` (last error: ${doc.error})` : ''}`;
  await writeStatus(ctx.deps.container, { ...doc, status: 'failed', finishedAt: iso(ctx.clock.now()), error });
  log.error('production failed: poison message', { productionId: msg.productionId });
  return 'failed';
}

/** GET /api/productions/{id}: 400 for a malformed id, 404 for an unknown one. */
export async function getProductionStatus(ctx: AppContext, productionId: string, signal?: AbortSignal): Promise<ProductionStatusDoc> {
  if (!isValidRunId(productionId))
    throw new ValidationError([{ field: 'productionId', message: "must be 1-80 letters, digits, '-' or '_'" }]);
  const doc = await readStatus(ctx.deps.container, productionId, signal);
  if (!doc) throw new NotFoundError(`no production ${JSON.stringify(productionId)}`);
  return doc;
}

/**
 * The sweep's part (app/sweep.ts): a production still 'running' whose lease is free lost its worker
 * and is failed with why; one still 'queued' long after it was requested lost its message (the
 * request died between recording it and sending it) and gets its message again.
 */
export async function sweepProductions(
  ctx: AppContext,
  log: Logger,
  opts: { queuedGraceMs: number; sinceMs: number },
): Promise<{ failed: number; resent: number }> {
  const container = ctx.deps.container;
  const out = { failed: 0, resent: 0 };
  for await (const productionId of listProductionIds(container)) {
    const doc = await readStatus(container, productionId);
    if (!doc || Date.parse(doc.createdAt) < opts.sinceMs) continue;
    if (doc.status === 'queued' && ctx.clock.now() - Date.parse(doc.createdAt) > opts.queuedGraceMs) {
      await ctx.queue.send({ type: 'production', productionId });
      out.resent++;
      continue;
    }
    if (doc.status !== 'running') continue;
    const lease = await EntityLease.acquireLock(container, productionLockName(productionId));
    if (!lease) continue; // its worker is alive
    try {
      const again = await readStatus(container, productionId);
      if (again?.status === 'running') {
        await writeStatus(container, { ...again, status: 'failed', finishedAt: iso(ctx.clock.now()), error: PRODUCTION_WORKER_STOPPED });
        log.error('production failed: its worker stopped', { productionId });
        out.failed++;
      }
    } finally {
      await lease.release().catch(() => undefined);
    }
  }
  return out;
}
