// contentWorker: runs one message of the content queue: settles the content (pictures, files) of one
// archived batch (docs/design.md §17). Its own queue and function, so content downloads scale apart
// from the export and never hold up an entity job.
import { app, type InvocationContext, type StorageQueueFunctionOptions } from '@azure/functions';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import { runContentMessage } from '../src/app/content-queue';

export function createContentWorkerHandler(getCtx: GetAppContext) {
  return async function contentWorker(item: unknown, context: InvocationContext): Promise<void> {
    const log = invocationLogger(context, 'info', { dequeueCount: context.triggerMetadata?.dequeueCount });
    try {
      const ctx = await getCtx();
      const result = await runContentMessage(ctx, item, log);
      log.info('content message handled', { outcome: result.outcome, batch: result.batch });
    } catch (err) {
      // Storage trouble or an invalid message: the host redelivers it, and after maxDequeueCount moves
      // it to the poison queue. The batch's backlog row stays pending, so the sweep sends it again.
      log.error('content message failed', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      throw err;
    }
  };
}

export const contentWorker = createContentWorkerHandler(getAppContext);

export const contentWorkerOptions = {
  queueName: '%EXPORT_CONTENT_QUEUE%',
  connection: 'EXPORT_STORAGE',
  handler: contentWorker,
} satisfies StorageQueueFunctionOptions;

app.storageQueue('contentWorker', contentWorkerOptions);
