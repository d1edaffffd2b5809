// A stand-in for the Functions host that can kill its worker: the real handlers (timer, queue worker,
// poison) run against Azurite through a storage proxy (emulator/storage-proxy.ts) that counts every
// storage operation the worker makes. A kill at operation k drops that operation and every later one
// of the worker (never forwarded, never answered: a dead process sends nothing more), and the host
// then does what Azure does after an instance dies: the message comes back (dequeueCount + 1), the
// dead worker's blob leases run out (broken here, as their expiry would), and a new worker process
// (a fresh app context) carries on. The timer, if it was the one killed, fires again for the same
// scheduled time (the schedule monitor runs a missed occurrence past-due).
import type { Timer } from '@azure/functions';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { buildAppContext, type AppContext, type JobPolicy } from '../../src/app/app-context';
import { poisonQueueName } from '../../src/app/job-queue';
import { silentLogger } from '../../src/log';
import type { Env } from '../../src/settings';
import type { Clock } from '../../src/time';
import { startStorageProxy, type StorageOperation, type StorageProxy } from '../../emulator/storage-proxy';
import { createDailyExportHandler } from '../../functions/daily-export';
import { createExportPoisonHandler } from '../../functions/export-poison';
import { createExportWorkerHandler } from '../../functions/export-worker';
import { InvocationContext } from '@azure/functions';
import { decode } from '../functions/functions-harness';

/** One worker process: its own app context over its own storage proxy. */
export interface HostWorker {
  ctx: AppContext;
  proxy: StorageProxy;
  /** Resolves when the worker is killed (its first dropped operation). */
  killed: Promise<StorageOperation>;
  isKilled(): boolean;
}

export interface KillPlan {
  /** Kill the first worker at this operation (1-based, over all its storage operations); none when undefined. */
  atOperation?: number;
  /** Or at the first operation this picks out (e.g. the first write of some blob). */
  atFirst?: (op: StorageOperation) => boolean;
}

/** Observes every forwarded operation of every worker and its answer (e.g. to watch the watermarks). */
export type OperationObserver = (op: StorageOperation, status: number) => void;

export interface HostRunResult {
  /** Storage operations the first worker made (all of them when it was not killed). */
  firstWorkerOperations: number;
  /** The operation the first worker was killed at, if it was. */
  killedAt?: StorageOperation;
  deliveries: number;
  poisoned: number;
}

/** Test policy: no backoff (retries come straight back), production's attempt counts. */
export const ZERO_DELAY_POLICY: Partial<JobPolicy> = { baseDelaySec: 0, maxDelaySec: 0, busyDelaySec: 0 };

export async function startHostWorker(
  env: Env,
  opts: KillPlan & { observe?: OperationObserver; policy?: Partial<JobPolicy>; clock?: Clock } = {},
): Promise<HostWorker> {
  const proxy = await startStorageProxy(env.EXPORT_STORAGE as string);
  const ctx = await buildAppContext(
    { ...env, EXPORT_STORAGE: proxy.connectionString },
    { log: silentLogger, policy: { ...ZERO_DELAY_POLICY, ...opts.policy }, ...(opts.clock ? { clock: opts.clock } : {}) },
  );
  // Creating the container, tables and queues is set-up, not the run: counting starts here.
  proxy.reset();
  let dead: StorageOperation | undefined;
  let onKill: (op: StorageOperation) => void = () => undefined;
  const killed = new Promise<StorageOperation>((resolve) => (onKill = resolve));
  const at = opts.atOperation;
  const pick = opts.atFirst;
  proxy.setGate((op) => {
    if (dead || (at !== undefined && op.index >= at) || pick?.(op) === true) {
      if (!dead) {
        dead = op;
        onKill(op);
      }
      return 'drop';
    }
    return 'forward';
  });
  if (opts.observe) proxy.onAnswer(opts.observe);
  return { ctx, proxy, killed, isKilled: () => dead !== undefined };
}

export interface QueuedHost {
  readonly queue: QueueClient;
  readonly poison: QueueClient;
  /** Fires the daily timer for `scheduledMs`, then runs the queues until they are empty. */
  runDaily(scheduledMs: number, plan?: KillPlan): Promise<HostRunResult>;
  /** Runs the queues until they are empty (no timer), killing the first worker as planned. */
  runQueues(plan?: KillPlan): Promise<HostRunResult>;
  /** Every worker started so far (the killed one first). */
  readonly workers: HostWorker[];
  close(): Promise<void>;
}

/**
 * A host for one deployment (the env's storage names): `runDaily` plays the timer and the queue loop
 * one message at a time (so a run's operations come in the same order each time), with at most one
 * kill. The worker after a kill, and every later one, is never killed.
 */
export function queuedHost(
  env: Env,
  opts: { observe?: OperationObserver; policy?: Partial<JobPolicy>; maxDequeueCount?: number; clock?: Clock } = {},
): QueuedHost {
  const { queue, poison } = hostQueues(env);
  const container = BlobServiceClient.fromConnectionString(env.EXPORT_STORAGE as string).getContainerClient(env.EXPORT_CONTAINER as string);
  const workers: HostWorker[] = [];
  const maxDequeueCount = opts.maxDequeueCount ?? 5;
  const workerOptions = {
    ...(opts.observe ? { observe: opts.observe } : {}),
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  };

  /** The dead worker's leases would expire on their own; the host's next instance finds them free. */
  const expireLeases = async () => {
    for await (const b of container.listBlobsFlat({ prefix: 'locks/' })) {
      if (b.properties.leaseState !== 'leased') continue;
      await container
        .getBlobClient(b.name)
        .getBlobLeaseClient()
        .breakLease(0)
        .catch(() => undefined);
    }
  };

  /** Runs `call` on `worker`; 'killed' when the worker died first (the call is abandoned, as its process is). */
  const attempt = async (worker: HostWorker, call: (ctx: AppContext) => Promise<void>): Promise<'ok' | 'threw' | 'killed'> => {
    const running = call(worker.ctx).then(
      () => 'ok' as const,
      () => 'threw' as const,
    );
    return Promise.race([running, worker.killed.then(() => 'killed' as const)]);
  };

  const run = async (scheduledMs: number | undefined, plan: KillPlan): Promise<HostRunResult> => {
    let worker = await startHostWorker(env, { ...plan, ...workerOptions });
    const first = worker;
    workers.push(worker);
    const restart = async () => {
      await expireLeases();
      worker = await startHostWorker(env, workerOptions);
      workers.push(worker);
    };
    const result: HostRunResult = { firstWorkerOperations: 0, deliveries: 0, poisoned: 0 };
    // The timer: a killed invocation is followed by the past-due run of the same occurrence.
    while (scheduledMs !== undefined) {
      const w = worker;
      const outcome = await attempt(w, () => fireDailyTimer(w, scheduledMs));
      if (outcome !== 'killed') break;
      await restart();
    }
    // The queue loop, one message at a time.
    for (let round = 0; round < 10_000; round++) {
      const m = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0];
      if (m) {
        result.deliveries++;
        const w = worker;
        const item = decode(m.messageText);
        const outcome = await attempt(w, (ctx) =>
          createExportWorkerHandler(() => Promise.resolve(ctx))(
            item,
            hostInvocation('exportWorker', { dequeueCount: m.dequeueCount, id: m.messageId }),
          ),
        );
        if (outcome === 'ok') {
          await queue.deleteMessage(m.messageId, m.popReceipt);
        } else if (m.dequeueCount >= maxDequeueCount && outcome === 'threw') {
          result.poisoned++;
          await poison.sendMessage(m.messageText);
          await queue.deleteMessage(m.messageId, m.popReceipt);
        } else {
          // The message comes back once its invisibility ends (at once here).
          await queue.updateMessage(m.messageId, m.popReceipt, undefined, 0);
        }
        if (outcome === 'killed') await restart();
        continue;
      }
      const p = (await poison.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0];
      if (p) {
        const w = worker;
        const item = decode(p.messageText);
        const outcome = await attempt(w, (ctx) =>
          createExportPoisonHandler(() => Promise.resolve(ctx))(
            item,
            hostInvocation('exportPoison', { dequeueCount: p.dequeueCount, id: p.messageId }),
          ),
        );
        if (outcome === 'ok') await poison.deleteMessage(p.messageId, p.popReceipt);
        else await poison.updateMessage(p.messageId, p.popReceipt, undefined, 0);
        if (outcome === 'killed') await restart();
        continue;
      }
      // Delayed messages count here too: wait for them rather than stop early.
      const props = await queue.getProperties();
      if ((props.approximateMessagesCount ?? 0) === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    result.firstWorkerOperations = first.proxy.operations.length;
    if (first.isKilled()) result.killedAt = await first.killed;
    return result;
  };

  return {
    queue,
    poison,
    workers,
    runDaily: (scheduledMs, plan = {}) => run(scheduledMs, plan),
    runQueues: (plan = {}) => run(undefined, plan),
    async close() {
      for (const w of workers) await w.proxy.close();
    },
  };
}

/** The host's view of one deployment's queues and container, outside any worker's proxy. */
export function hostQueues(env: Env): { queue: QueueClient; poison: QueueClient } {
  const service = QueueServiceClient.fromConnectionString(env.EXPORT_STORAGE as string);
  return {
    queue: service.getQueueClient(env.EXPORT_QUEUE as string),
    poison: service.getQueueClient(poisonQueueName(env.EXPORT_QUEUE as string)),
  };
}

let invocations = 0;
function hostInvocation(functionName: string, triggerMetadata?: Record<string, unknown>): InvocationContext {
  return new InvocationContext({
    invocationId: `${functionName}-h${++invocations}`,
    functionName,
    ...(triggerMetadata ? { triggerMetadata } : {}),
    logHandler: () => undefined,
  });
}

/** Fires the daily timer of `scheduledMs` on `worker`. */
export async function fireDailyTimer(worker: HostWorker, scheduledMs: number): Promise<void> {
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: new Date(scheduledMs - 86_400_000).toISOString(), next: new Date(scheduledMs).toISOString(), lastUpdated: '' },
  };
  await createDailyExportHandler(() => Promise.resolve(worker.ctx))(timer, hostInvocation('dailyExport'));
}

/** Runs a message's handler on `worker`, as a delivery the host is making right now (no queue involved). */
export async function handleOn(worker: HostWorker, messageText: string, dequeueCount = 1): Promise<void> {
  await createExportWorkerHandler(() => Promise.resolve(worker.ctx))(decode(messageText), hostInvocation('exportWorker', { dequeueCount }));
}

/** Runs one received message on `worker` as the host does: deleted when the handler returns, else visible again. */
export async function deliverTo(
  worker: HostWorker,
  queue: QueueClient,
  m: { messageId: string; popReceipt: string; messageText: string; dequeueCount: number },
): Promise<'ok' | 'threw'> {
  try {
    await createExportWorkerHandler(() => Promise.resolve(worker.ctx))(
      decode(m.messageText),
      hostInvocation('exportWorker', { dequeueCount: m.dequeueCount, id: m.messageId }),
    );
    await queue.deleteMessage(m.messageId, m.popReceipt);
    return 'ok';
  } catch (err) {
    if (process.env.TEAMS_EXPORT_DEBUG_HOST) console.log('delivery threw', err);
    await queue.updateMessage(m.messageId, m.popReceipt, undefined, 0);
    return 'threw';
  }
}

/** Delivers messages one at a time on `worker` until the jobs queue is empty (poison messages too). */
export async function drainOn(worker: HostWorker, env: Env, opts: { maxDequeueCount?: number } = {}): Promise<number> {
  const { queue, poison } = hostQueues(env);
  let deliveries = 0;
  for (let round = 0; round < 10_000; round++) {
    const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 });
    const m = items[0];
    if (m) {
      deliveries++;
      if ((await deliverTo(worker, queue, m)) === 'threw' && m.dequeueCount >= (opts.maxDequeueCount ?? 5)) {
        // (already visible again) the host would move it to the poison queue
        const again = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0];
        if (again) {
          await poison.sendMessage(again.messageText);
          await queue.deleteMessage(again.messageId, again.popReceipt);
        }
      }
      continue;
    }
    const p = (await poison.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems[0];
    if (p) {
      await createExportPoisonHandler(() => Promise.resolve(worker.ctx))(decode(p.messageText), hostInvocation('exportPoison'));
      await poison.deleteMessage(p.messageId, p.popReceipt);
      continue;
    }
    const props = await queue.getProperties();
    if ((props.approximateMessagesCount ?? 0) === 0) return deliveries;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the queues did not drain');
}
