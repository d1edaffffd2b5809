// The environment the queued-path reliability tests (crash points, interleavings, lifecycle defects)
// share: the emulator's tenant, Graph paced well above what they need, content downloads off.
import type { Emulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/emulator-env';
import type { Env } from '../../src/settings';
import { HOUR, iso } from '../../src/time';
import { randomBytes } from 'node:crypto';
import { TEST_HOSTED_CONTENT_ENV } from './emulator';
import { testStorage } from './storage';

/** App settings for a queued run against `emulator`, on fresh storage named after `label`. */
export function queuedTestEnv(emulator: Emulator, label: string, nowMs: number, extra: Env = {}): Env {
  return {
    ...emulatorEnv(emulator),
    ...TEST_HOSTED_CONTENT_ENV,
    GRAPH_MAX_RPS: '1000',
    GRAPH_REQUEST_TIMEOUT: 'PT5S',
    EXPORT_STORAGE: testStorage(label).connectionString,
    EXPORT_START: iso(nowMs - 10 * 24 * HOUR),
    EXPORT_HOSTED_CONTENTS: 'false',
    EXPORT_ATTACHMENTS: 'false',
    ...extra,
  };
}

/** Takes one chat member's Teams licence away: sender mode then needs its follow-ups to cover them. */
export function unlicenseOneMember(emulator: Emulator): void {
  const t = emulator.tenant;
  const member = t.users.find((u) => u.hasTeamsData && u.userType === 'Member' && t.chats.some((c) => c.memberIds.includes(u.id)));
  if (!member) throw new Error('the tenant has no licensed chat member to take the licence from');
  emulator.setFaults({ entityErrors: { [member.id]: 'noLicence' } });
}

/** `base` on a deployment of its own: a fresh container, table prefix and queue named after `label`. */
export function freshDeployment(base: Env, label: string): Env {
  const storage = testStorage(label);
  return {
    ...base,
    EXPORT_CONTAINER: storage.container,
    EXPORT_TABLE_PREFIX: storage.tablePrefix,
    EXPORT_QUEUE: `q-${
      label
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')
        .slice(0, 40) || 'x'
    }-${randomBytes(6).toString('hex')}`,
  };
}
