// Progress of a long run: a single redrawn line on a terminal, plain periodic lines otherwise.
import type { RunProgress } from '../export/run-in-process';

export interface ProgressDisplay {
  update(p: Readonly<RunProgress>, requests: number): void;
  done(): void;
}

export function createProgressDisplay(stream: NodeJS.WriteStream, opts: { intervalMs?: number } = {}): ProgressDisplay {
  const tty = stream.isTTY === true;
  const interval = opts.intervalMs ?? (tty ? 200 : 5000);
  const started = Date.now();
  let last = 0;
  let lastLine = '';
  let firstRequests: number | undefined;
  const format = (p: Readonly<RunProgress>, requests: number) => {
    firstRequests ??= requests;
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    requests -= firstRequests;
    const content = p.content ? ` | content: ${p.content.settled} batches settled, ${p.content.pending} to go` : '';
    return `entities ${p.finished}/${p.planned} (done ${p.done}, skipped ${p.skipped}, failed ${p.failed}) | versions ${p.messages} new, ${p.duplicates} already archived | ${p.blobs} blobs${content} | ${(requests / secs).toFixed(1)} req/s`;
  };
  return {
    update(p, requests) {
      const now = Date.now();
      // Finished once every job has ended and the content stage has drained.
      const finished = p.planned > 0 && p.finished === p.planned && (p.content?.pending ?? 0) === 0;
      if (now - last < interval && !finished) return;
      const line = format(p, requests);
      // The final state is printed once, not again for every bookkeeping update after it.
      if (finished && line.replace(/\|[^|]*req\/s$/, '') === lastLine.replace(/\|[^|]*req\/s$/, '')) return;
      last = now;
      lastLine = line;
      stream.write(tty ? `\r\x1b[2K${lastLine}` : `${lastLine}\n`);
    },
    done() {
      if (tty && lastLine) stream.write('\n');
    },
  };
}
