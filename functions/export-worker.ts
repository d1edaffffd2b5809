// exportWorker: runs one message of the jobs queue: a run's planning message, an entity job through the
// export engine, or a sender-mode follow-up (docs/design.md §15).
import { app, type InvocationContext, type StorageQueueFunctionOptions } from '@azure/functions';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import { handleQueueMessage } from '../src/app/plan-on-queue';

export function createExportWorkerHandler(getCtx: GetAppContext) {
  return async function exportWorker(item: unknown, context: InvocationContext): Promise<void> {
    const log = invocationLogger(context, 'info', { dequeueCount: context.triggerMetadata?.dequeueCount });
    try {
      const ctx = await getCtx();
      const result = await handleQueueMessage(ctx, item, log);
      if ('productionId' in result) log.info('production message handled', { outcome: result.outcome, productionId: result.productionId });
      else if ('plan' in result) log.info('planning message handled', { outcome: result.outcome, runId: result.runId });
      else if ('cover' in result) log.info('sender-mode follow-up handled', { outcome: result.outcome, runId: result.runId });
      else
        log.info('job message handled', {
          outcome: result.outcome,
          runId: result.runId,
          entity: `${result.entity.kind}:${result.entity.id}`,
          attempt: result.attempt,
          delaySec: result.delaySec,
        });
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
