// Reads one window to the end, step by step, and commits its batches (docs/design.md §4, §5): its
// versions go to the day batches (or, sender mode, to the chats' version blobs), its quarantined items
// are written as they come. Before each record of an unfinished read everything read so far is made
// durable; with a budget the read can stop inside the window, and then hands back where it stands
// (already recorded). The window's watermark move is the caller's, after this returns.
import type { OpenRead, ReadPart } from '../model/window';
import { DayBatcher } from './day-batcher';
import type { EntityJob } from './job-context';
import { stepsFingerprint } from './open-read';
import { quarantineWriter } from './quarantine-writer';
import { readSteps } from './read-steps';
import { readStep } from './split-read';
import type { PlannedChunk } from './windows';

/** The number of new versions, and where the read stands when the budget stopped it early. */
export interface ChunkOutcome {
  added: number;
  stoppedAt?: OpenRead;
}

export async function exportChunk(job: EntityJob, chunk: PlannedChunk): Promise<ChunkOutcome> {
  const { deps, signal, tally, commits, pacer } = job;
  const before = tally.counts.messages;
  const batcher = new DayBatcher({
    container: deps.container,
    entity: job.req.entity,
    pass: chunk.pass,
    window: chunk.window,
    writerId: job.writerId,
    nextSeq: () => job.nextSeq(),
    intents: job.manifest,
    archived: job.archived,
    ...(deps.memory ? { memory: deps.memory } : {}),
    ...(signal ? { signal } : {}),
    ...(job.content ? { content: job.content } : {}),
  });
  const quarantine = quarantineWriter(job, chunk);
  const quarantined = (line: string) => quarantine.write(line);
  const steps = readSteps(job, chunk, batcher, quarantined);
  const fingerprint = stepsFingerprint(steps.map((s) => s.filter ?? s.source));
  // A recorded read of this very window and steps goes on where it stood; any other starts over.
  let resumed = chunk.read?.steps === fingerprint ? chunk.read : undefined;
  /** Makes everything read so far durable (quarantined items are written as they are read). */
  const commit = async () => {
    tally.record(await batcher.flushAll());
  };
  try {
    return await readChunk();
  } finally {
    // A read that failed or stopped leaves lines behind: their buffers go back to the process's budget.
    await batcher.release();
  }

  async function readChunk(): Promise<ChunkOutcome> {
    for (let step = resumed?.step ?? 0; step < steps.length; step++) {
      const parts = resumed?.step === step ? resumed.parts : undefined;
      resumed = undefined;
      const state = (p: ReadPart[]): OpenRead => ({
        pass: chunk.pass,
        fromMs: chunk.window.fromMs,
        toMs: chunk.window.toMs,
        step,
        steps: fingerprint,
        parts: p,
      });
      const left = await readStep(job, chunk.window, steps[step]!, parts, quarantined, async (snapshot, readSignal) => {
        // A sibling part that failed stops the whole step: nothing may be recorded after it (its lost
        // buffer could lie behind the links in this snapshot). The batcher refuses too (day-batcher.ts).
        readSignal.throwIfAborted();
        await commit();
        readSignal.throwIfAborted();
        await commits.saveRead(chunk, state(snapshot));
      });
      if (left) {
        await commit();
        const open = state(left);
        await commits.saveRead(chunk, open);
        return { added: tally.counts.messages - before, stoppedAt: open };
      }
      if (step + 1 < steps.length && pacer.stopDue()) {
        await commit();
        const open = state([{ fromMs: chunk.window.fromMs, toMs: chunk.window.toMs }]);
        open.step = step + 1;
        await commits.saveRead(chunk, open);
        return { added: tally.counts.messages - before, stoppedAt: open };
      }
    }
    await commit();
    quarantine.report();
    return { added: tally.counts.messages - before };
  }
}
