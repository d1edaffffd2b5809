// Test support for the Functions handlers: the product harness (emulator + Azurite) plus an app
// context built from the same settings, real InvocationContexts, and a small stand-in for the host's
// queue loop (receive, call the handler, delete; after maxDequeueCount failures move to -poison).
import { randomBytes } from 'node:crypto';
import { InvocationContext, type HttpResponseInit } from '@azure/functions';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { buildAppContext, type AppContext, type JobPolicy } from '../../src/app/app-context';
import { poisonQueueName } from '../../src/app/job-queue';
import type { Clock } from '../../src/time';
import { silentLogger } from '../../src/log';
import { startHarness, type Harness, type HarnessOptions } from '../support/harness';
import { PLATFORM_AUTH_ENV } from '../support/principal';

export interface LogLine {
  level: string;
  args: unknown[];
}

export interface FunctionsHarness {
  h: Harness;
  ctx: AppContext;
  queue: QueueClient;
  poison: QueueClient;
  /** The content stage's queue (EXPORT_CONTENT_QUEUE, unique to the harness) and its poison queue. */
  contentQueue: QueueClient;
  contentPoison: QueueClient;
  logs: LogLine[];
  invocation(functionName: string, triggerMetadata?: Record<string, unknown>): InvocationContext;
  /** Messages currently in the jobs queue (visible or not), decoded. */
  queuedMessages(): Promise<unknown[]>;
  close(): Promise<void>;
}

export async function startFunctionsHarness(
  opts: HarnessOptions & { policy?: Partial<JobPolicy>; clock?: Clock },
): Promise<FunctionsHarness> {
  const { policy, clock, ...harnessOptions } = opts;
  const queueName = `q-${opts.label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 20)
    .replace(/-+$/, '')}-${randomBytes(5).toString('hex')}`;
  const contentQueueName = `${queueName}-c`;
  // As in Azure: App Service Authentication in front (requests carry test/support/principal.ts's headers).
  const h = await startHarness({
    ...harnessOptions,
    env: { EXPORT_QUEUE: queueName, EXPORT_CONTENT_QUEUE: contentQueueName, ...PLATFORM_AUTH_ENV, ...harnessOptions.env },
  });
  const ctx = await buildAppContext(h.env, {
    log: silentLogger,
    // Test delays are zero so retried jobs come straight back; production waits minutes.
    policy: { baseDelaySec: 0, maxDelaySec: 0, busyDelaySec: 0, ...policy },
    ...(clock ? { clock } : {}),
  });
  const service = QueueServiceClient.fromConnectionString(h.env.EXPORT_STORAGE as string);
  const logs: LogLine[] = [];
  let n = 0;
  return {
    h,
    ctx,
    queue: service.getQueueClient(queueName),
    poison: service.getQueueClient(poisonQueueName(queueName)),
    // buildAppContext created both (StorageJobQueue.ensure).
    contentQueue: service.getQueueClient(contentQueueName),
    contentPoison: service.getQueueClient(poisonQueueName(contentQueueName)),
    logs,
    invocation(functionName, triggerMetadata) {
      return new InvocationContext({
        invocationId: `${functionName}-${++n}`,
        functionName,
        ...(triggerMetadata ? { triggerMetadata } : {}),
        logHandler: (level, ...args) => logs.push({ level, args }),
      });
    },
    async queuedMessages() {
      // Receive with a short lease and give every message back right away, so the queue is unchanged.
      const out: unknown[] = [];
      const seen: Array<{ id: string; pop: string }> = [];
      for (;;) {
        const { receivedMessageItems } = await service
          .getQueueClient(queueName)
          .receiveMessages({ numberOfMessages: 32, visibilityTimeout: 30 });
        if (receivedMessageItems.length === 0) break;
        for (const m of receivedMessageItems) {
          out.push(decode(m.messageText));
          seen.push({ id: m.messageId, pop: m.popReceipt });
        }
      }
      for (const s of seen) await service.getQueueClient(queueName).updateMessage(s.id, s.pop, undefined, 0);
      return out;
    },
    close: () => h.close(),
  };
}

/** What the host hands the handler: the base64 text decoded and, being JSON, parsed. */
export function decode(messageText: string): unknown {
  return JSON.parse(Buffer.from(messageText, 'base64').toString('utf8')) as unknown;
}

export type QueueHandler = (item: unknown, context: InvocationContext) => Promise<void>;

export interface DrainStats {
  handled: number;
  failedDeliveries: number;
  poisoned: number;
  poisonHandled: number;
}

export interface DrainOptions {
  batchSize?: number;
  maxDequeueCount?: number;
  maxRounds?: number;
}

/** One queue the host polls: its handler, and the handler of its poison queue (none: poisoned messages stay there). */
interface Lane {
  queue: QueueClient;
  poison: QueueClient;
  functionName: string;
  handler: QueueHandler;
  poisonFunctionName?: string;
  poisonHandler?: QueueHandler;
}

/**
 * Plays the host's queue loop until both queues are empty: up to `batchSize` messages in parallel,
 * a message that throws comes back (dequeueCount + 1) and after `maxDequeueCount` goes to -poison,
 * whose handler then gets it. With `content`, the content queue is drained too, by that handler
 * (contentWorker), alongside the jobs queue, as the host runs both functions; the content queue's
 * poisoned messages stay on its poison queue (no function reads it: the sweep sends them again).
 */
export async function drainQueues(
  fh: FunctionsHarness,
  handlers: { worker: QueueHandler; poison: QueueHandler; content?: QueueHandler },
  opts: DrainOptions = {},
): Promise<DrainStats> {
  const lanes: Lane[] = [
    {
      queue: fh.queue,
      poison: fh.poison,
      functionName: 'exportWorker',
      handler: handlers.worker,
      poisonFunctionName: 'exportPoison',
      poisonHandler: handlers.poison,
    },
  ];
  if (handlers.content) lanes.push(contentLane(fh, handlers.content));
  return drainLanes(fh, lanes, opts);
}

/** Drains the content queue alone through `content` (contentWorker), leaving the jobs queue as it is. */
export function drainContentQueue(fh: FunctionsHarness, content: QueueHandler, opts: DrainOptions = {}): Promise<DrainStats> {
  return drainLanes(fh, [contentLane(fh, content)], opts);
}

function contentLane(fh: FunctionsHarness, handler: QueueHandler): Lane {
  return { queue: fh.contentQueue, poison: fh.contentPoison, functionName: 'contentWorker', handler };
}

async function drainLanes(fh: FunctionsHarness, lanes: readonly Lane[], opts: DrainOptions): Promise<DrainStats> {
  const batchSize = opts.batchSize ?? 8;
  const maxDequeueCount = opts.maxDequeueCount ?? 5;
  const stats: DrainStats = { handled: 0, failedDeliveries: 0, poisoned: 0, poisonHandled: 0 };
  for (let round = 0; round < (opts.maxRounds ?? 500); round++) {
    const received = await Promise.all(
      lanes.map(async (lane) => ({
        lane,
        items: (await lane.queue.receiveMessages({ numberOfMessages: batchSize, visibilityTimeout: 60 })).receivedMessageItems,
      })),
    );
    if (received.some((r) => r.items.length > 0)) {
      await Promise.all(
        received.flatMap(({ lane, items }) =>
          items.map(async (m) => {
            try {
              await lane.handler(
                decode(m.messageText),
                fh.invocation(lane.functionName, { dequeueCount: m.dequeueCount, id: m.messageId }),
              );
              stats.handled++;
              await lane.queue.deleteMessage(m.messageId, m.popReceipt);
            } catch {
              stats.failedDeliveries++;
              if (m.dequeueCount >= maxDequeueCount) {
                stats.poisoned++;
                await lane.poison.sendMessage(m.messageText);
                await lane.queue.deleteMessage(m.messageId, m.popReceipt);
              } else {
                await lane.queue.updateMessage(m.messageId, m.popReceipt, undefined, 0);
              }
            }
          }),
        ),
      );
      continue;
    }
    let poisonRan = false;
    for (const lane of lanes) {
      if (!lane.poisonHandler) continue;
      const { receivedMessageItems: poisoned } = await lane.poison.receiveMessages({ numberOfMessages: batchSize, visibilityTimeout: 60 });
      for (const m of poisoned) {
        await lane.poisonHandler(
          decode(m.messageText),
          fh.invocation(lane.poisonFunctionName ?? `${lane.functionName}Poison`, { dequeueCount: m.dequeueCount, id: m.messageId }),
        );
        stats.poisonHandled++;
        await lane.poison.deleteMessage(m.messageId, m.popReceipt);
        poisonRan = true;
      }
    }
    if (poisonRan) continue;
    // Delayed messages (visibility timeout) count here too: wait for them rather than stop early.
    const counts = await Promise.all(lanes.map(async (lane) => (await lane.queue.getProperties()).approximateMessagesCount ?? 0));
    if (counts.every((n) => n === 0)) return stats;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('queues did not drain');
}

/** An HTTP handler's response body as text, whether JSON, a string or a stream. */
export async function responseText(res: HttpResponseInit): Promise<string> {
  if (res.jsonBody !== undefined) return JSON.stringify(res.jsonBody);
  if (typeof res.body === 'string') return res.body;
  if (Buffer.isBuffer(res.body)) return res.body.toString('utf8');
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  for await (const c of res.body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs the planning messages now on the jobs queue through `worker` (as the host would) and deletes
 * them, leaving every entity job on the queue; returns how many it ran.
 */
export async function runPlanningMessages(fh: FunctionsHarness, worker: QueueHandler): Promise<number> {
  let ran = 0;
  const giveBack: Array<{ id: string; pop: string }> = [];
  for (;;) {
    const { receivedMessageItems } = await fh.queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
    if (receivedMessageItems.length === 0) break;
    for (const m of receivedMessageItems) {
      const item = decode(m.messageText);
      if ((item as { type?: string }).type !== 'plan') {
        giveBack.push({ id: m.messageId, pop: m.popReceipt });
        continue;
      }
      await worker(item, fh.invocation('exportWorker', { dequeueCount: m.dequeueCount, id: m.messageId }));
      await fh.queue.deleteMessage(m.messageId, m.popReceipt);
      ran++;
    }
  }
  for (const g of giveBack) await fh.queue.updateMessage(g.id, g.pop, undefined, 0);
  return ran;
}
