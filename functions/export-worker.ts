// exportWorker: runs one entity job from the jobs queue through the export engine.
import { app, type InvocationContext, type StorageQueueFunctionOptions } from '@azure/functions';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import { runJobMessage } from '../src/app/queue-job-handler';

export function createExportWorkerHandler(getCtx: GetAppContext) {
  return async function exportWorker(item: unknown, context: InvocationContext): Promise<void> {
    const log = invocationLogger(context, 'info', { dequeueCount: context.triggerMetadata?.dequeueCount });
    try {
      const ctx = await getCtx();
      const result = await runJobMessage(ctx, item, log);
      log.info('job message handled', { outcome: result.outcome, runId: result.runId, entity: `${result.entity.kind}:${result.entity.id}`, attempt: result.attempt, delaySec: result.delaySec });
    } catch (err) {
      // Only failures outside the job (an invalid message, storage down) get here: the host redelivers
      // the message and, after maxDequeueCount deliveries, moves it to the poison queue.
      log.error('job message failed', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      throw err;
    }
  };
}

export const exportWorker = createExportWorkerHandler(getAppContext);

export const exportWorkerOptions = {
  queueName: '%EXPORT_QUEUE%',
  // EXPORT_STORAGE (connection string) or EXPORT_STORAGE__queueServiceUri (+ __credential/__clientId) for identity.
  connection: 'EXPORT_STORAGE',
  handler: exportWorker,
} satisfies StorageQueueFunctionOptions;

app.storageQueue('exportWorker', exportWorkerOptions);
