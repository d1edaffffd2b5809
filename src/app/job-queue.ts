// The jobs queue as the use cases see it: send one job message, optionally hidden for a while (the
// backoff of a retried job). Backed by Azure Queue Storage; the queue and its poison queue are created
// on first use.
import type { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { encodeJobMessage, type QueueMessage } from './job-message';

export interface JobQueue {
  readonly name: string;
  /** Sends one message (an entity job or a run's planning message); `delaySec` keeps it invisible that long (0 = deliver now). */
  send(msg: QueueMessage, opts?: { delaySec?: number; signal?: AbortSignal }): Promise<void>;
  /** About how many messages the queue holds, hidden ones included (the service's approximate count). */
  approximateCount(signal?: AbortSignal): Promise<number>;
}

/** The Functions host moves a message here after maxDequeueCount failed deliveries. */
export function poisonQueueName(queue: string): string {
  return `${queue}-poison`;
}

/** Longest visibility delay the service accepts (7 days), in seconds. */
const MAX_DELAY_SEC = 7 * 24 * 3600;

export class StorageJobQueue implements JobQueue {
  private ready: Promise<void> | undefined;
  private readonly client: QueueClient;
  private readonly poison: QueueClient;

  constructor(
    service: QueueServiceClient,
    readonly name: string,
  ) {
    this.client = service.getQueueClient(name);
    this.poison = service.getQueueClient(poisonQueueName(name));
  }

  /** Creates the queue and its poison queue once per process (concurrent callers share the attempt). */
  ensure(): Promise<void> {
    this.ready ??= Promise.all([this.client.createIfNotExists(), this.poison.createIfNotExists()]).then(
      () => undefined,
      (err: unknown) => {
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  async approximateCount(signal?: AbortSignal): Promise<number> {
    await this.ensure();
    const props = await this.client.getProperties(signal ? { abortSignal: signal } : {});
    return props.approximateMessagesCount ?? 0;
  }

  async send(msg: QueueMessage, opts: { delaySec?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.ensure();
    const delay = Math.max(0, Math.min(MAX_DELAY_SEC, Math.round(opts.delaySec ?? 0)));
    await this.client.sendMessage(encodeJobMessage(msg), {
      visibilityTimeout: delay,
      // Never expire: a backfill's jobs may wait behind a long queue for more than the 7-day default.
      messageTimeToLive: -1,
      ...(opts.signal ? { abortSignal: opts.signal } : {}),
    });
  }
}
