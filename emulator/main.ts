// Standalone emulator process for benchmarks: starts the emulator, writes its certificate to a temp file,
// prints one JSON line describing how to reach it, and serves until SIGTERM/SIGINT.
// Usage: node dist-dev/emulator/main.js [--port N] [--users N --teams N ...] [--latency-ms N --rate-limit-rps N ...]

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator, type EmulatorOptions, type FaultKnobs, type TenantSeedOptions } from './index';

const SEED_KEYS: Array<Exclude<keyof TenantSeedOptions, 'retentionPolicy'>> = [
  'seed',
  'users',
  'teams',
  'channelsPerTeam',
  'oneOnOneChats',
  'groupChats',
  'meetingChats',
  'messagesPerChat',
  'postsPerChannel',
  'repliesPerPost',
  'historyDays',
  'endMs',
  'editFraction',
  'deleteFraction',
  'reactionFraction',
  'hostedContentFraction',
  'fileFraction',
  'customReactionFraction',
  'externalSenderFraction',
  'deletedTeams',
  'copilotLicenseFraction',
  'copilotSessionsPerUser',
  'meetingOccurrences',
  'deletedUsers',
];
const FAULT_NUMBER_KEYS = [
  'latencyMs',
  'jitterMs',
  'rateLimitRps',
  'retryAfterSec',
  'errorRate',
  'resetRate',
  'hangRate',
  'malformedRate',
  'emptyPageRate',
  'outOfWindowRate',
  'hostedContentRps',
  'hostedContentBurst',
  'maxFilterClauses',
  'copilotRps',
  'copilotBurst',
  'meetingRps',
  'meetingBurst',
  'largeRecordingBytes',
  'recordingChunkDelayMs',
] as const;

const kebab = (camel: string) => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Parses `--kebab-case value` flags into emulator options; throws on an unknown flag or a bad number. */
export function parseMainArgs(argv: readonly string[]): EmulatorOptions {
  const tenant: TenantSeedOptions = {};
  const faults: Partial<FaultKnobs> = {};
  const opts: EmulatorOptions = {};
  let lateFraction: number | undefined;
  let lateMaxDelayMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (!flag.startsWith('--')) throw new Error(`unexpected argument '${flag}'`);
    const name = flag.slice(2);
    if (name === 'token-endpoint-down') {
      faults.tokenEndpointDown = true;
      continue;
    }
    if (name === 'retention-policy') {
      tenant.retentionPolicy = true;
      continue;
    }
    if (name === 'transcripts-disabled') {
      faults.transcriptApiAccess = false;
      continue;
    }
    if (name === 'no-speaker-attribution') {
      faults.transcriptSpeakerAttribution = false;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const num = () => {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`${flag} needs a number, got '${value}'`);
      return n;
    };
    const seedKey = SEED_KEYS.find((k) => kebab(k) === name);
    const faultKey = FAULT_NUMBER_KEYS.find((k) => kebab(k) === name);
    if (seedKey) tenant[seedKey] = num();
    else if (faultKey) faults[faultKey] = num();
    else if (name === 'port') opts.port = num();
    else if (name === 'token-lifetime-sec') opts.tokenLifetimeSec = num();
    else if (name === 'tenant-id') opts.tenantId = value;
    else if (name === 'client-id') opts.clientId = value;
    else if (name === 'client-secret') opts.clientSecret = value;
    else if (name === 'late-fraction') lateFraction = num();
    else if (name === 'late-max-delay-ms') lateMaxDelayMs = num();
    else if (name === 'next-link-origin') faults.nextLinkOrigin = value;
    else if (name === 'forbidden') faults.forbiddenEntities = value.split(',').filter(Boolean);
    else if (name === 'missing-roles') faults.missingRoles = value.split(',').filter(Boolean) as FaultKnobs['missingRoles'];
    // a comma-separated list of user ids; '' (or 'none'): granted to nobody
    else if (name === 'access-policy-users') faults.meetingAccessPolicyUsers = value === 'none' ? [] : value.split(',').filter(Boolean);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (lateFraction !== undefined || lateMaxDelayMs !== undefined) {
    faults.lateVisibility = { fraction: lateFraction ?? 0.1, maxDelayMs: lateMaxDelayMs ?? 60_000 };
  }
  opts.tenant = tenant;
  opts.faults = faults;
  return opts;
}

/** Starts the emulator and returns the one-line description a parent process reads from stdout. */
export async function runEmulatorProcess(argv: readonly string[]): Promise<{ emulator: Emulator; line: string }> {
  const emulator = await startEmulator(parseMainArgs(argv));
  const caCertFile = join(await mkdtemp(join(tmpdir(), 'teams-export-emulator-')), 'ca.pem');
  await emulator.writeCaCert(caCertFile);
  const { origin, graphBaseUrl, authorityHost, tenantId, clientId, clientSecret, filesOrigin } = emulator;
  return {
    emulator,
    line: JSON.stringify({ origin, graphBaseUrl, authorityHost, tenantId, clientId, clientSecret, caCertFile, filesOrigin }),
  };
}

if (require.main === module) {
  runEmulatorProcess(process.argv.slice(2)).then(
    ({ emulator, line }) => {
      process.stdout.write(`${line}\n`);
      const stop = () => {
        void emulator.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (err: unknown) => {
      process.stderr.write(`emulator: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
