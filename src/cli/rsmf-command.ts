// `teams-export rsmf`: a production of RSMF 2.0 files from the archive into a local folder (docs/rsmf.md),
// with production.json listing every file, its SHA-256, event count and source blobs. Bad input (unknown
// ids, an empty or reversed range, days the archive does not cover) exits 2 with nothing written.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  describeGap,
  describeInputError,
  newProductionId,
  planProduction,
  ProductionInputError,
  runProduction,
  type ProductionManifest,
  type ProductionRemedy,
  type ProductionSink,
} from '../rsmf/production';
import { selectedEntities } from '../archive/audit-trail';
import { cliAuditor } from './cli-audit';
import { depsFrom, write, type CliContext } from './cli-context';
import { EXIT_OK, UsageError } from './cli-errors';
import { parseInstantArg } from './export-commands';
import { iso } from '../time';

export interface RsmfCommandOptions {
  from?: string;
  to?: string;
  user: string[];
  team: string[];
  conversation: string[];
  out?: string;
  allowUnsettled?: boolean;
  envFile?: string;
  json?: boolean;
}

export { newProductionId };

/** A refused production's way out, as a command-line user types it (the HTTP API has its own words). */
export const CLI_REMEDIES: Readonly<Record<ProductionRemedy, string>> = {
  'allow-unsettled': 'add --allow-unsettled (production.json then lists the unsettled days under coverage.gaps)',
  'export-missing-days': 'end --to before the missing days, or export them first (`teams-export run`)',
  'export-first': 'export first (`teams-export run`)',
};

/** Writes files into `dir` (created on the first file, so bad input leaves nothing behind). */
export function folderSink(dir: string): ProductionSink {
  const ensure = () => mkdirSync(dir, { recursive: true });
  return {
    async store(fileName: string, data: Readable) {
      ensure();
      const hash = createHash('sha256');
      let bytes = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(data, tap, createWriteStream(join(dir, fileName), { flags: 'wx' }));
      return { sha256: hash.digest('hex'), bytes };
    },
    async finish(manifest: ProductionManifest) {
      ensure();
      writeFileSync(join(dir, 'production.json'), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    },
  };
}

/** `, 12 Copilot interactions, 1 meeting transcript`: what the production holds besides messages, if anything. */
function artifactCounts(t: ProductionManifest['totals']): string {
  const parts = [
    [t.interactions, 'Copilot interaction'],
    [t.transcripts, 'meeting transcript'],
    [t.recordings, 'meeting recording'],
  ] as const;
  return parts
    .filter(([n]) => n > 0)
    .map(([n, what]) => `, ${n} ${what}${n === 1 ? '' : 's'}`)
    .join('');
}

export async function rsmfCommand(ctx: CliContext, o: RsmfCommandOptions): Promise<number> {
  if (o.from === undefined || o.to === undefined) throw new UsageError('rsmf needs --from and --to (ISO-8601 instants)');
  if (!o.out) throw new UsageError('rsmf needs --out DIR (a new or empty folder)');
  const fromMs = parseInstantArg('--from', o.from);
  const toMs = parseInstantArg('--to', o.to);
  if (existsSync(o.out) && readdirSync(o.out).length > 0)
    throw new UsageError(`rsmf: --out ${o.out} is not empty; give a new or empty folder`);
  const deps = await depsFrom(ctx, o.envFile);
  const productionDeps = { container: deps.container, checkpoints: deps.checkpoints, exportStartMs: deps.settings.startMs };
  const request = { fromMs, toMs, users: o.user, teams: o.team, conversations: o.conversation, allowUnsettled: o.allowUnsettled === true };
  // One record for the production, before the archive is read (docs/security.md).
  await cliAuditor(deps)({
    action: 'cli.rsmf',
    from: iso(fromMs),
    to: iso(toMs),
    entities: selectedEntities(o.user, o.team),
    ...(o.conversation.length > 0 ? { conversations: o.conversation } : {}),
  });
  try {
    const plan = await planProduction(request, productionDeps, ctx.signal);
    const productionId = newProductionId(Date.now());
    let last = 0;
    const manifest = await runProduction(productionId, plan, productionDeps, folderSink(o.out), {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (p) => {
        if (Date.now() - last < 2000) return;
        last = Date.now();
        ctx.stderr.write(`rsmf: ${p.batchesRead} batches read, ${p.slicesDone}/${p.slices} conversation-days, ${p.events} events\n`);
      },
    });
    if (o.json) {
      write(ctx.stdout, JSON.stringify(manifest));
    } else {
      for (const f of manifest.files) write(ctx.stdout, `${String(f.events).padStart(6)} events  ${f.fileName}  ${f.conversation}`);
      const t = manifest.totals;
      write(
        ctx.stdout,
        `production ${productionId}: ${t.files} RSMF files, ${t.events} events (${t.edits} edits, ${t.reactions} reactions, ${t.attachments} attachments${artifactCounts(t)}) in ${o.out}`,
      );
      if (plan.gaps.length > 0) {
        const shown = plan.gaps.slice(0, 20).map(describeGap).join('; ');
        const more = plan.gaps.length > 20 ? `; and ${plan.gaps.length - 20} more` : '';
        write(ctx.stdout, `note: produced over days the archive has not settled yet: ${shown}${more} (coverage.gaps in production.json)`);
      }
    }
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ProductionInputError) throw new UsageError(`rsmf: --${err.field}: ${describeInputError(err, CLI_REMEDIES)}`);
    throw err;
  }
}
