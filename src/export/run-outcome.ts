// The rules that close a run and a job, shared by the single-process run (CLI) and the queued run
// (Functions), so both report the same outcome for the same results.
import type { CheckpointStore } from '../state/checkpoint-store';
import type { Entity, JobError } from './types';

/** Why a run failed, or undefined when it succeeded. */
export function runFailure(counts: { planned: number; failed: number }, forbidden: number): string | undefined {
  if (counts.failed > 0) return `${counts.failed} of ${counts.planned} entities failed`;
  // One 403 is one entity's business; a 403 on every entity is missing permissions or consent.
  if (counts.planned > 0 && forbidden === counts.planned) {
    return 'Graph answered 403 for every entity: check the app permissions (Chat.Read.All, ChannelMessage.Read.All) and admin consent';
  }
  return undefined;
}

/** Records a daily job's outcome on the entity's checkpoint row (never its watermarks). */
export async function recordDailyResult(checkpoints: CheckpointStore, runId: string, entity: Entity, status: string, error?: JobError): Promise<void> {
  await checkpoints.recordResult(entity, {
    runId,
    status,
    ...(error?.code ? { errorCode: error.code } : {}),
    ...(error ? { error: error.message } : {}),
  });
}
