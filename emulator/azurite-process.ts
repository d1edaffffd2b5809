// Starts Azurite (the local Azure Storage emulator) as a child process on random 127.0.0.1 ports, for
// tests and `teams-export demo`; the caller gets a connection string and a stop().
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The well-known development account every Azurite instance accepts (public, not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteProcess {
  connectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  /** Stops Azurite and removes its working directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** How long to wait for all three services to listen (default 30 s). */
  timeoutMs?: number;
  /** The node binary that runs Azurite (default: the one running this process). */
  nodePath?: string;
  /** Keep the data on disk in its working directory (removed by stop) instead of in memory: for gigabytes of blobs. */
  onDisk?: boolean;
}

const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/\S+)/;

/** Builds the connection string for the development account at the given service endpoints. */
export function azuriteConnectionString(endpoints: { blobEndpoint: string; queueEndpoint: string; tableEndpoint: string }): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT_NAME}`,
    `AccountKey=${AZURITE_ACCOUNT_KEY}`,
    `BlobEndpoint=${endpoints.blobEndpoint}`,
    `QueueEndpoint=${endpoints.queueEndpoint}`,
    `TableEndpoint=${endpoints.tableEndpoint}`,
    '',
  ].join(';');
}

/** Spawns Azurite in memory on random ports and resolves once Blob, Queue and Table all listen. */
export async function startAzurite(opts: StartAzuriteOptions = {}): Promise<AzuriteProcess> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // Azurite writes its debug log and (without in-memory persistence) data into cwd: give it its own.
  const cwd = await mkdtemp(join(tmpdir(), 'azurite-'));
  const script = require.resolve('azurite/dist/src/azurite.js');
  const args = [
    script,
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
    '--blobHost',
    '127.0.0.1',
    '--queueHost',
    '127.0.0.1',
    '--tableHost',
    '127.0.0.1',
    ...(opts.onDisk ? ['--location', cwd] : ['--inMemoryPersistence']),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  const child = spawn(opts.nodePath ?? process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });

  // Keep the tail of the output for error messages; keep draining so the pipes never fill up.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stderr.on('data', keep);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If this process exits without calling stop() (an uncaught error, process.exit), take Azurite along.
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(cwd, { recursive: true, force: true });
  };

  try {
    const endpoints = await new Promise<Record<string, string>>((resolve, reject) => {
      const found: Record<string, string> = {};
      let pending = '';
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${timeoutMs} ms. Output:\n${output}`)), timeoutMs);
      let ready = false;
      child.stdout.on('data', (chunk: Buffer) => {
        keep(chunk);
        if (ready) return;
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const m = LISTENING.exec(line);
          if (m && m[1] && m[2]) found[m[1]] = m[2].replace(/\/+$/, '');
        }
        if (found.Blob && found.Queue && found.Table) {
          ready = true;
          pending = '';
          clearTimeout(timer);
          resolve(found);
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`Azurite could not be started: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited before listening (code ${code}, signal ${signal}). Output:\n${output}`));
      });
    });
    const blobEndpoint = `${endpoints.Blob}/${AZURITE_ACCOUNT_NAME}`;
    const queueEndpoint = `${endpoints.Queue}/${AZURITE_ACCOUNT_NAME}`;
    const tableEndpoint = `${endpoints.Table}/${AZURITE_ACCOUNT_NAME}`;
    return {
      connectionString: azuriteConnectionString({ blobEndpoint, queueEndpoint, tableEndpoint }),
      blobEndpoint,
      queueEndpoint,
      tableEndpoint,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
