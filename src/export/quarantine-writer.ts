// Writes a window's quarantined items (docs/design.md §11, §14) one by one as they are read, not
// collected for the window: a window of garbage must not fill memory. Once per version: an item an
// earlier read already quarantined is not written (or counted) again. The window's report logs how
// many of the items seen were new.
import { writeQuarantinedItem } from '../archive/quarantine';
import { iso } from '../time';
import { blobIntents, type EntityJob } from './job-context';
import type { PlannedChunk } from './windows';

export interface QuarantineWriter {
  write(line: string): Promise<void>;
  report(): void;
}

export function quarantineWriter(job: EntityJob, chunk: PlannedChunk): QuarantineWriter {
  let seen = 0;
  let added = 0;
  const metadata = { pass: chunk.pass, windowfrom: iso(chunk.window.fromMs), windowto: iso(chunk.window.toMs) };
  return {
    async write(line) {
      seen++;
      const blob = await writeQuarantinedItem(job.deps.container, job.req.entity, line, metadata, job.signal, blobIntents(job));
      if (!blob) return;
      added++;
      job.tally.quarantinedOne();
    },
    report() {
      if (seen === 0) return;
      job.log.warn('versions quarantined', { count: added, seen, pass: chunk.pass, from: metadata.windowfrom, to: metadata.windowto });
    },
  };
}
