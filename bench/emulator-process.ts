// Runs the Graph emulator in a process of its own (so the product's CPU and memory are measured alone)
// and steers it through its /_emulator/ control API: faults, counters, tenant stats.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { trustCertificateInProcess } from '../emulator';
import type { FaultKnobs } from '../emulator';
import type { ActivityOptions, ActivityResult } from '../emulator/activity';

export interface EmulatorInfo {
  origin: string;
  graphBaseUrl: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  caCertFile: string;
}

/** The counters the benchmark reads (a subset of the emulator's /_emulator/counters answer). */
export interface EmulatorCountersJson {
  graphRequests: number;
  throttled: number;
  byStatus: Record<string, number>;
  messagePages: number;
  versionsServed: number;
  ledgerSize: number;
  tokensIssued: number;
  /** message export requests per entity id (only when asked for: `counters(true)`) */
  exportRequestsByEntity?: Record<string, number>;
  /** requests to the hosted-content routes (list, metadata, $value), the per-chat limit's 429s included */
  hostedContentRequests?: number;
  /** 429s of the per-chat hosted-content limit (not in `throttled`) */
  hostedContentThrottled?: number;
  hostedContentBytesServed?: number;
  /** hosted-content requests per chat or channel id named in the path (429s included) */
  hostedContentRequestsByConversation?: Record<string, number>;
  byRoute?: Record<string, number>;
}

/** GET /_emulator/hosted-contents: what the tenant's messages name (emulator/control.ts). */
export interface HostedContentSummaryJson {
  total: number;
  byKind: Record<string, number>;
  byConversation: Record<string, number>;
}

export interface EmulatorStatsJson {
  users: number;
  teams: number;
  chats: number;
  channels: number;
  messages: number;
  entityVersions: number;
  versionsByEntity: { users: Record<string, number>; teams: Record<string, number> };
}

/** The product's settings that point it at the emulator (its Graph, its identity endpoint, its CA). */
export function productEnvFor(info: EmulatorInfo): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: info.caCertFile,
    AZURE_TENANT_ID: info.tenantId,
    AZURE_CLIENT_ID: info.clientId,
    AZURE_CLIENT_SECRET: info.clientSecret,
    AZURE_AUTHORITY_HOST: info.authorityHost,
    GRAPH_BASE_URL: info.graphBaseUrl,
  };
}

export interface EmulatorProcess {
  info: EmulatorInfo;
  pid: number;
  setFaults(patch: Partial<FaultKnobs>): Promise<void>;
  resetCounters(): Promise<void>;
  counters(byEntity?: boolean): Promise<EmulatorCountersJson>;
  /** Posts a day of new messages in bulk (emulator/activity.ts). */
  activity(o: ActivityOptions): Promise<ActivityResult>;
  stats(): Promise<EmulatorStatsJson>;
  hostedContents(): Promise<HostedContentSummaryJson>;
  stop(): Promise<void>;
}

/** Starts dist-dev/emulator/main.js (built by emulator/tsconfig.json) with the given flags and waits for its one-line description. */
export async function startEmulatorProcess(flags: string[], opts: { timeoutMs?: number } = {}): Promise<EmulatorProcess> {
  const script = join(__dirname, '..', 'emulator', 'main.js');
  // A 4× tenant holds millions of compact records and a ledger of every served key: give it room.
  const child: ChildProcess = spawn(process.execPath, ['--max-old-space-size=8192', script, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-10_000);
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const info = await new Promise<EmulatorInfo>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`emulator did not start within ${opts.timeoutMs ?? 120_000} ms: ${stderr}`)),
      opts.timeoutMs ?? 120_000,
    );
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as EmulatorInfo);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited (code ${code}) before it was ready: ${stderr}`));
    });
  });
  trustCertificateInProcess(await readFile(info.caCertFile, 'utf8'));

  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${info.origin}/_emulator/${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };

  return {
    info,
    pid: child.pid ?? -1,
    setFaults: async (patch) => {
      await call('POST', 'faults', patch);
    },
    resetCounters: async () => {
      await call('POST', 'reset-counters');
    },
    counters: (byEntity = false) => call<EmulatorCountersJson>('GET', byEntity ? 'counters?byEntity=1' : 'counters'),
    activity: (o) => call<ActivityResult>('POST', 'activity', o),
    stats: () => call<EmulatorStatsJson>('GET', 'stats'),
    hostedContents: () => call<HostedContentSummaryJson>('GET', 'hosted-contents'),
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
}
