// `teams-export audit [--from ISO] [--to ISO] [--principal ID|NAME] [--entity user:ID|team:ID|ID] [--json]`:
// who read what, from the audit trail (docs/security.md), oldest first. Reading the trail is recorded too.
// Exit 1 when a blob of the trail is not a record (it is named on stderr): the trail should never hold one.
import { readAuditTrail, type AuditRecord } from '../archive/audit-trail';
import { DAY, iso } from '../time';
import { cliAuditor } from './cli-audit';
import { depsFrom, write, type CliContext } from './cli-context';
import { EXIT_OK, EXIT_RUN_FAILED, UsageError } from './cli-errors';
import { parseInstantArg } from './export-commands';

export interface AuditCommandOptions {
  from?: string;
  to?: string;
  principal?: string;
  entity?: string;
  envFile?: string;
  json?: boolean;
}

function principalText(p: AuditRecord['principal']): string {
  if (p.kind === 'entra') return p.name ? `${p.name} (${p.id})` : p.id;
  if (p.kind === 'os-user') return `${p.name}@${p.host}`;
  return 'function key';
}

/** One readable line: when, who, what, and whichever of entity, conversation, day, blob and range the read named. */
export function auditLine(r: AuditRecord): string {
  const what = [
    r.entity,
    r.entities && r.entities.length > 0 ? `entities ${r.entities.join(',')}` : undefined,
    r.conversation ? `conversation ${r.conversation}` : undefined,
    r.conversations && r.conversations.length > 0 ? `conversations ${r.conversations.join(',')}` : undefined,
    r.day,
    r.from || r.to ? `${r.from ?? ''}..${r.to ?? ''}` : undefined,
    r.blob,
    r.line !== undefined ? `line ${r.line}` : undefined,
    r.prefix !== undefined ? `prefix ${r.prefix}` : undefined,
    r.productionId ? `production ${r.productionId}` : undefined,
    r.query !== undefined ? `query ${JSON.stringify(r.query)}` : undefined,
  ].filter((x): x is string => x !== undefined && x !== '');
  return [r.time, principalText(r.principal), r.action, r.via, ...what, r.client ? `from ${r.client}` : undefined]
    .filter(Boolean)
    .join('  ');
}

export async function auditCommand(ctx: CliContext, o: AuditCommandOptions): Promise<number> {
  const toMs = o.to !== undefined ? parseInstantArg('--to', o.to) : Date.now();
  const fromMs = o.from !== undefined ? parseInstantArg('--from', o.from) : toMs - DAY;
  if (fromMs >= toMs) throw new UsageError(`audit: --from ${iso(fromMs)} must be before --to ${iso(toMs)}`);
  for (const [flag, value] of [
    ['principal', o.principal],
    ['entity', o.entity],
  ] as const)
    if (value !== undefined && value.trim() === '') throw new UsageError(`audit: --${flag} must not be empty`);
  const deps = await depsFrom(ctx, o.envFile);
  const filters = [o.principal ? `principal=${o.principal}` : '', o.entity ? `entity=${o.entity}` : ''].filter(Boolean).join(' ');
  await cliAuditor(deps)({ action: 'audit.read', from: iso(fromMs), to: iso(toMs), ...(filters ? { query: filters } : {}) });
  const filter = {
    fromMs,
    toMs,
    ...(o.principal ? { principal: o.principal.trim() } : {}),
    ...(o.entity ? { entity: o.entity.trim() } : {}),
  };
  let records = 0;
  let unreadable = 0;
  for await (const item of readAuditTrail(deps.container, filter, ctx.signal)) {
    if ('unreadable' in item) {
      unreadable++;
      ctx.stderr.write(`audit: not a record: ${item.unreadable}\n`);
      continue;
    }
    records++;
    write(ctx.stdout, o.json ? JSON.stringify(item.record) : auditLine(item.record));
  }
  if (!o.json && records === 0) write(ctx.stdout, `(no reads recorded from ${iso(fromMs)} to ${iso(toMs)} that match)`);
  return unreadable > 0 ? EXIT_RUN_FAILED : EXIT_OK;
}
