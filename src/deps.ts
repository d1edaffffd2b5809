// Builds the app's clients once from validated settings (credential, Graph, Blob, Table) and hands
// them to whoever runs jobs: the CLI, the Functions handlers, the demo and the benchmark.
import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import type { ContainerClient } from '@azure/storage-blob';
import { ensureContainer } from './archive/archive-container';
import { GraphHttp } from './graph/graph-http';
import { RateLimiter } from './graph/rate-limiter';
import type { Logger } from './log';
import type { Settings } from './settings';
import { CheckpointStore } from './state/checkpoint-store';
import { RunStore, tableNames } from './state/run-store';
import { createStorageClients, type StorageClients } from './storage-clients';
import { LEASE_SECONDS, type RunDeps } from './export/run-in-process';
import { ContentFetcher } from './export/content-fetcher';
import { MemoryBudget } from './export/memory-budget';
import { limitHeapGrowth } from './heap-growth';
import { ContentBacklog, contentBacklogTableName } from './state/content-backlog';

/** Authority hosts MSAL knows; any other (the emulator, a private cloud) needs instance discovery off. */
const KNOWN_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

export function createGraphCredential(settings: Settings): TokenCredential {
  const c = settings.graph.credential;
  if (c.kind === 'managedIdentity') {
    return c.clientId ? new ManagedIdentityCredential({ clientId: c.clientId }) : new ManagedIdentityCredential();
  }
  const custom = c.authorityHost !== undefined && !KNOWN_AUTHORITY_HOSTS.has(new URL(c.authorityHost).hostname);
  return new ClientSecretCredential(c.tenantId, c.clientId, c.clientSecret, {
    ...(c.authorityHost ? { authorityHost: c.authorityHost } : {}),
    ...(custom ? { disableInstanceDiscovery: true } : {}),
  });
}

export interface AppDeps extends RunDeps {
  settings: Settings;
  storage: StorageClients;
  credential: TokenCredential;
}

export interface BuildDepsOptions {
  log: Logger;
  /** Overrides for tests and the benchmark; production passes none. */
  credential?: TokenCredential;
  storageCredential?: TokenCredential;
  limiter?: RateLimiter;
  /**
   * Run by a person (the CLI) rather than inside Azure: identity-based storage then also accepts a
   * developer sign-in (Azure CLI, environment, ...), so an operator can inspect the archive from a laptop.
   */
  interactive?: boolean;
}

function storageIdentity(clientId: string | undefined, interactive: boolean): TokenCredential {
  if (interactive) return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/** Builds every client and makes sure the container and tables exist (created on first use). */
export async function buildDeps(settings: Settings, opts: BuildDepsOptions): Promise<AppDeps> {
  // The process's memory is bounded by the budget below and by how far the heap may grow (heap-growth.ts).
  limitHeapGrowth();
  const credential = opts.credential ?? createGraphCredential(settings);
  const storageCredential =
    settings.storage.kind === 'identity'
      ? (opts.storageCredential ?? storageIdentity(settings.storage.clientId, opts.interactive === true))
      : undefined;
  const storage = createStorageClients(settings.storage, storageCredential);
  const container: ContainerClient = storage.blobService.getContainerClient(settings.container);
  const names = tableNames(settings.tablePrefix);
  const checkpoints = new CheckpointStore(storage.table(names.checkpoints));
  const runs = new RunStore(storage.table(names.runs), storage.table(names.jobs));
  // Meeting transcripts and recordings are bodies to store: the content stage runs for them too.
  const contentOn = settings.content.hostedContents || settings.content.files || settings.entities.meetings;
  const contentBacklog = contentOn ? new ContentBacklog(storage.table(contentBacklogTableName(settings.tablePrefix))) : undefined;
  await Promise.all([ensureContainer(container), checkpoints.ensure(), runs.ensure(), contentBacklog?.ensure()]);
  const limiter = opts.limiter ?? new RateLimiter({ ratePerSec: settings.graph.processRps });
  // The Copilot and meeting APIs have budgets of their own inside the process's (docs/graph.md §11).
  const apiLimiters = {
    copilot: new RateLimiter({ ratePerSec: settings.graph.copilotRps }),
    meetings: new RateLimiter({ ratePerSec: settings.graph.meetingRps }),
  };
  const http = new GraphHttp({
    baseUrl: settings.graph.baseUrl,
    scope: settings.graph.scope,
    credential,
    // A refresh forced by a 401 needs a new credential: managed identity ignores claims (docs/graph-errors.md).
    ...(opts.credential ? {} : { newCredential: () => createGraphCredential(settings) }),
    limiter,
    requestTimeoutMs: settings.graph.requestTimeoutMs,
    maxRetries: settings.graph.maxRetries,
    log: opts.log,
  });
  const content = contentOn
    ? new ContentFetcher({
        http,
        container,
        graphOrigin: new URL(settings.graph.baseUrl).origin,
        hostedContents: settings.content.hostedContents,
        files: settings.content.files,
        perConversationRps: settings.graph.hostedContentRps,
        jobConcurrency: settings.content.jobConcurrency,
        processConcurrency: settings.content.processConcurrency,
        filesRps: settings.content.filesRps,
        ...(settings.entities.meetings
          ? { meetings: { limiter: apiLimiters.meetings, recordingMaxBytes: settings.graph.recordingMaxBytes } }
          : {}),
        log: opts.log,
      })
    : undefined;
  return {
    settings,
    storage,
    ...(content ? { content } : {}),
    ...(contentBacklog ? { contentBacklog } : {}),
    contentRetry: { maxAttempts: settings.content.maxAttempts, retryMs: settings.content.retryMs },
    chatMode: settings.chatMode,
    credential,
    http,
    container,
    checkpoints,
    runs,
    log: opts.log,
    pageSize: settings.graph.pageSize,
    filterMaxClauses: settings.graph.filterMaxClauses,
    windows: { lagMs: settings.lagMs, settleMs: settings.settleMs, chunkMs: settings.chunkMs, startMs: settings.startMs },
    concurrency: settings.concurrency,
    readsPerEntity: settings.readsPerEntity,
    apiLimiters,
    // One budget for the whole process: every job of a run (the CLI), every invocation (Functions).
    memory: new MemoryBudget(settings.memoryBytes),
    // A process killed mid-run holds its entities' leases until they expire: wait that out.
    leaseWaitMs: (LEASE_SECONDS + 5) * 1000,
    selection: settings.entities,
  };
}
