// exportPoison: records the job (or, for a planning message, the run) of a message the host gave up on
// as failed, so nothing disappears.
import { app, type InvocationContext, type StorageQueueFunctionOptions } from '@azure/functions';
import { getAppContext, invocationLogger, type GetAppContext } from '../src/app/app-context';
import { handlePoisonMessage } from '../src/app/plan-on-queue';

export function createExportPoisonHandler(getCtx: GetAppContext) {
  return async function exportPoison(item: unknown, context: InvocationContext): Promise<void> {
    const log = invocationLogger(context);
    try {
      const ctx = await getCtx();
      const result = await handlePoisonMessage(ctx, item, log);
      log.info('poison message handled', { outcome: result.outcome, runId: result.runId });
    } catch (err) {
      log.error('poison message could not be recorded', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      throw err;
    }
  };
}

export const exportPoison = createExportPoisonHandler(getAppContext);

export const exportPoisonOptions = {
  // The host resolves %...% anywhere in the string, so the suffix follows the jobs queue's name.
  queueName: '%EXPORT_QUEUE%-poison',
  connection: 'EXPORT_STORAGE',
  handler: exportPoison,
} satisfies StorageQueueFunctionOptions;

app.storageQueue('exportPoison', exportPoisonOptions);
