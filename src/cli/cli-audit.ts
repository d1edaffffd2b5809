// The CLI's side of the audit trail (docs/security.md): locally the person running the command is the
// signed-in user, recorded as the OS user. A command that reads archived content records the read before
// it prints or writes anything; when the record cannot be written the command stops (exit 1) with
// nothing read.
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { auditRecord, AuditTrail, type AuditEvent, type AuditPrincipal, type AuditVia } from '../archive/audit-trail';
import type { AppDeps } from '../deps';

/** The OS account running this process, and the machine (a shared jump host has several users). */
export function osUserPrincipal(): AuditPrincipal {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    // A container user without a passwd entry has no name: its uid still identifies it.
    name = `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return { kind: 'os-user', name, host: hostname() };
}

/** Records reads for one CLI command (`via: cli`, one request id) or, for `serve`, one request id per page. */
export type CliAuditor = (event: AuditEvent) => Promise<void>;

export function cliAuditor(deps: Pick<AppDeps, 'container' | 'log'>, via: Extract<AuditVia, 'cli' | 'serve'> = 'cli'): CliAuditor {
  const trail = new AuditTrail(deps.container);
  const principal = osUserPrincipal();
  const commandId = randomUUID();
  return (event) =>
    trail.record(auditRecord({ principal, via, requestId: via === 'serve' ? randomUUID() : commandId }, event, Date.now()), deps.log);
}
