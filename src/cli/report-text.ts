// The run's collection report (docs/design.md §13) as the CLI prints it. Skipped entities are grouped by
// reason, each group a count and what it means in plain words (SKIP_REASON_TEXT, docs/graph-errors.md), so
// the expected skips of every tenant (users without a mailbox, say) do not read like errors; the ids are
// printed only on request (`--verbose`, `--json`: printOutcome in export-commands.ts).
import type { CollectionReport, KindReport } from '../export/run-report';
import { SKIP_REASON_TEXT, type SkipReason } from '../graph/graph-errors';
import type { EntityKind } from '../model/entity';
import { RUN_FAILED_REASON } from '../model/job';

/** How a count of entities of a kind is named: one, many, and whose words (users' or teams') apply. */
const NOUNS: Record<EntityKind, { one: string; many: string; side: 'users' | 'teams' }> = {
  user: { one: 'user', many: 'users', side: 'users' },
  team: { one: 'team', many: 'teams', side: 'teams' },
  deletedTeam: { one: 'deleted team', many: 'deleted teams', side: 'teams' },
  userRetained: { one: 'user (retained messages)', many: 'users (retained messages)', side: 'users' },
  teamRetained: { one: 'team (retained messages)', many: 'teams (retained messages)', side: 'teams' },
  copilot: { one: 'user (Copilot interactions)', many: 'users (Copilot interactions)', side: 'users' },
  meetings: { one: 'meeting organiser', many: 'meeting organisers', side: 'users' },
};

const isSkipReason = (reason: string): reason is SkipReason => Object.hasOwn(SKIP_REASON_TEXT, reason);

/** One group of skipped entities: `6 users that Graph answers 404 for: …`. */
export function skipGroupLine(kind: EntityKind, reason: string, count: number): string {
  const noun = NOUNS[kind];
  const who = `${count} ${count === 1 ? noun.one : noun.many}`;
  if (isSkipReason(reason)) return `${who} ${SKIP_REASON_TEXT[reason][noun.side]}`;
  if (reason === RUN_FAILED_REASON)
    return `${who} not run: the run stopped when Graph refused the app (the "refused" line says what to grant)`;
  // Rows recorded before reasons were, or by a path without one: `http-404`, `unknown`.
  const status = /^http-(\d+)$/.exec(reason)?.[1];
  return status ? `${who} skipped: Graph answered ${status}` : `${who} skipped (no reason recorded)`;
}

/** The report as lines for the CLI: per kind, its skipped entities by reason, refusals, content, blind spots. */
export function reportLines(r: CollectionReport): string[] {
  const lines: string[] = [];
  for (const [kind, k] of Object.entries(r.kinds) as Array<[EntityKind, KindReport]>) {
    const skipped = Object.values(k.skipped).reduce((a, b) => a + b, 0);
    lines.push(
      `  ${kind}: ${k.planned} planned, ${k.exported} exported, ${skipped} skipped, ${k.failed} failed${k.refused > 0 ? ` (${k.refused} refused)` : ''}${k.pending > 0 ? `, ${k.pending} pending` : ''}`,
    );
    for (const [reason, n] of Object.entries(k.skipped).sort((a, b) => b[1] - a[1])) lines.push(`    ${skipGroupLine(kind, reason, n)}`);
  }
  for (const refusal of r.refusals) lines.push(`  refused: ${refusal.error}`);
  if (r.content.fetched) {
    const { stored, pending } = r.content;
    const unfetched = Object.entries(r.content.unfetched).map(([status, n]) => `${n} ${status}`);
    lines.push(`  content stored: ${stored} reference${stored === 1 ? '' : 's'}`);
    lines.push(`  content not fetched: ${unfetched.length > 0 ? unfetched.join(', ') : 'none'}`);
    if (pending.batches > 0)
      lines.push(
        `  content pending: ${pending.messages} message${pending.messages === 1 ? '' : 's'} in ${pending.batches} batch${pending.batches === 1 ? '' : 'es'} (fetched by the content stage; retried on later runs)`,
      );
  } else lines.push(`  content: ${r.content.note}`);
  for (const note of r.blindSpots) lines.push(`  not covered: ${note}`);
  return lines;
}
