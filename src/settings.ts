// The only reader of process.env: one zod schema validates every setting at start-up, applies the
// defaults, and names each bad setting, so a misconfigured deployment fails before doing any work.
import { z } from 'zod';
import { parseInstant, parseIsoDuration } from './time';

export type Env = Record<string, string | undefined>;

/** An ISO-8601 duration in ms; with `orNone`, the word `none` (no limit) is Infinity. */
const duration = (name: string, def: string, min = 0, orNone = false) =>
  z
    .string()
    .default(def)
    .transform((text, ctx) => {
      if (orNone && text.trim().toLowerCase() === 'none') return Infinity;
      const ms = parseIsoDuration(text);
      if (ms === undefined) {
        const also = orNone ? ', or none' : '';
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be an ISO-8601 duration such as PT5M, PT24H or P30D${also} (got "${text}")`,
        });
        return z.NEVER;
      }
      if (ms < min) {
        ctx.addIssue({ code: 'custom', message: `${name} must be at least ${min} ms (got "${text}")` });
        return z.NEVER;
      }
      return ms;
    });

const instant = (name: string, def: string) =>
  z
    .string()
    .default(def)
    .transform((text, ctx) => {
      const ms = parseInstant(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an ISO-8601 UTC instant such as 2024-01-01T00:00:00Z (got "${text}")` });
        return z.NEVER;
      }
      return ms;
    });

const numberSetting = (name: string, def: number, min: number, max: number, form: RegExp, what: string) =>
  z
    .string()
    .default(String(def))
    .transform((text, ctx) => {
      const n = Number(text);
      if (!form.test(text) || !Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be ${what} from ${min} to ${max} (got "${text}")` });
        return z.NEVER;
      }
      return n;
    });

/** A decimal setting (a rate): digits with an optional fraction, within [min, max]. */
const num = (name: string, def: number, min: number, max: number) => numberSetting(name, def, min, max, /^\s*\d+(\.\d+)?\s*$/, 'a number');

/** A count: a whole number within [min, max] (`0.1` pages or workers mean nothing). */
const int = (name: string, def: number, min: number, max: number) => numberSetting(name, def, min, max, /^\s*\d+\s*$/, 'a whole number');

const httpsUrl = (name: string, def?: string) => {
  const base = def === undefined ? z.string() : z.string().default(def);
  return base.transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${name} must be an absolute URL (got "${text}")` });
      return z.NEVER;
    }
    if (url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `${name} must use https (got "${text}")` });
      return z.NEVER;
    }
    return text.replace(/\/+$/, '');
  });
};

// One NCRONTAB field: '*', '?', a number or a three-letter month/day name, optionally a range and a step,
// comma-separated. Checked here so a typo stops the app at start-up instead of the timer never firing.
const CRON_ITEM = '(?:\\*|\\?|\\d{1,2}|[A-Za-z]{3})(?:-(?:\\d{1,2}|[A-Za-z]{3}))?(?:/\\d{1,2})?';
const CRON_FIELD = new RegExp(`^${CRON_ITEM}(?:,${CRON_ITEM})*$`);

function isNcrontab(text: string): boolean {
  const fields = text.trim().split(/\s+/);
  return fields.length === 6 && fields.every((f) => CRON_FIELD.test(f));
}

const idList = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(/[\s,;]+/)
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0),
  );

const bool = (name: string, def: boolean) =>
  z
    .string()
    .default(String(def))
    .transform((text, ctx) => {
      const t = text.trim().toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'false' || t === '0' || t === 'no') return false;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false (got "${text}")` });
      return z.NEVER;
    });

const nonEmpty = (name: string) => z.string().trim().min(1, `${name} must not be empty`);

/** Every setting the app reads, as named in app settings, local.settings.json Values and the environment. */
export const settingsSchema = z.object({
  AZURE_TENANT_ID: nonEmpty('AZURE_TENANT_ID').optional(),
  AZURE_CLIENT_ID: nonEmpty('AZURE_CLIENT_ID').optional(),
  AZURE_CLIENT_SECRET: nonEmpty('AZURE_CLIENT_SECRET').optional(),
  AZURE_AUTHORITY_HOST: httpsUrl('AZURE_AUTHORITY_HOST').optional(),
  GRAPH_BASE_URL: httpsUrl('GRAPH_BASE_URL', 'https://graph.microsoft.com/v1.0'),
  GRAPH_MAX_RPS: num('GRAPH_MAX_RPS', 150, 0.1, 10_000),
  GRAPH_INSTANCES: int('GRAPH_INSTANCES', 1, 1, 1200),
  GRAPH_HOSTED_CONTENT_RPS: num('GRAPH_HOSTED_CONTENT_RPS', 1, 0.01, 1000),
  GRAPH_FILE_DOWNLOAD_RPS: num('GRAPH_FILE_DOWNLOAD_RPS', 2, 0.01, 1000),
  GRAPH_COPILOT_RPS: num('GRAPH_COPILOT_RPS', 25, 0.01, 1000),
  GRAPH_MEETING_RPS: num('GRAPH_MEETING_RPS', 10, 0.01, 1000),
  GRAPH_PAGE_SIZE: int('GRAPH_PAGE_SIZE', 50, 1, 999),
  GRAPH_REQUEST_TIMEOUT: duration('GRAPH_REQUEST_TIMEOUT', 'PT60S', 1000),
  GRAPH_MAX_RETRIES: int('GRAPH_MAX_RETRIES', 8, 0, 50),
  GRAPH_FILTER_MAX_CLAUSES: int('GRAPH_FILTER_MAX_CLAUSES', 15, 1, 200),
  EXPORT_STORAGE: nonEmpty('EXPORT_STORAGE').optional(),
  EXPORT_STORAGE__blobServiceUri: z.url().optional(),
  EXPORT_STORAGE__tableServiceUri: z.url().optional(),
  EXPORT_STORAGE__queueServiceUri: z.url().optional(),
  EXPORT_STORAGE__clientId: nonEmpty('EXPORT_STORAGE__clientId').optional(),
  AzureWebJobsStorage: nonEmpty('AzureWebJobsStorage').optional(),
  EXPORT_CONTAINER: z
    .string()
    .default('teams-export')
    .refine(
      (s) => /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(s),
      'EXPORT_CONTAINER must be a valid blob container name (3-63 lowercase letters, digits, single hyphens)',
    ),
  EXPORT_TABLE_PREFIX: z
    .string()
    .default('teamsexport')
    .refine((s) => /^[A-Za-z][A-Za-z0-9]{0,40}$/.test(s), 'EXPORT_TABLE_PREFIX must be 1-41 letters and digits, starting with a letter'),
  EXPORT_SCHEDULE: z
    .string()
    .default('0 30 2 * * *')
    .refine(
      (s) => isNcrontab(s),
      'EXPORT_SCHEDULE must be an NCRONTAB expression of six fields {second} {minute} {hour} {day} {month} {day-of-week}, such as "0 30 2 * * *"',
    ),
  EXPORT_LAG: duration('EXPORT_LAG', 'PT5M'),
  EXPORT_SETTLE: duration('EXPORT_SETTLE', 'PT24H'),
  // `none`: each pass reads its whole range as one window, split only where Graph returns many pages.
  EXPORT_CHUNK: duration('EXPORT_CHUNK', 'none', 60_000, true),
  EXPORT_JOB_BUDGET: duration('EXPORT_JOB_BUDGET', 'PT10M', 1000),
  EXPORT_START: instant('EXPORT_START', '2016-01-01T00:00:00Z'),
  EXPORT_CONCURRENCY: int('EXPORT_CONCURRENCY', 16, 1, 1000),
  EXPORT_READS_PER_ENTITY: int('EXPORT_READS_PER_ENTITY', 1, 1, 32),
  EXPORT_MEMORY_MB: int('EXPORT_MEMORY_MB', 64, 1, 65536),
  EXPORT_INCLUDE_USERS: idList,
  EXPORT_EXCLUDE_USERS: idList,
  EXPORT_INCLUDE_TEAMS: idList,
  EXPORT_EXCLUDE_TEAMS: idList,
  EXPORT_QUEUE: z
    .string()
    .default('teams-export-jobs')
    .refine(
      (s) => /^[a-z0-9](?!.*--)[a-z0-9-]{1,56}[a-z0-9]$/.test(s),
      'EXPORT_QUEUE must be a valid queue name (3-58 lowercase letters, digits, single hyphens; "-poison" is appended for failed messages)',
    ),
  EXPORT_CONTENT_QUEUE: z
    .string()
    .default('teams-export-content')
    .refine(
      (s) => /^[a-z0-9](?!.*--)[a-z0-9-]{1,56}[a-z0-9]$/.test(s),
      'EXPORT_CONTENT_QUEUE must be a valid queue name (3-58 lowercase letters, digits, single hyphens; "-poison" is appended for failed messages)',
    ),
  EXPORT_CHAT_MODE: z.enum(['custodian', 'sender']).default('custodian'),
  EXPORT_HOSTED_CONTENTS: bool('EXPORT_HOSTED_CONTENTS', true),
  EXPORT_ATTACHMENTS: bool('EXPORT_ATTACHMENTS', false),
  EXPORT_CONTENT_CONCURRENCY: int('EXPORT_CONTENT_CONCURRENCY', 4, 1, 64),
  EXPORT_CONTENT_PROCESS_CONCURRENCY: int('EXPORT_CONTENT_PROCESS_CONCURRENCY', 8, 1, 256),
  EXPORT_CONTENT_MAX_ATTEMPTS: int('EXPORT_CONTENT_MAX_ATTEMPTS', 6, 1, 50),
  EXPORT_CONTENT_RETRY: duration('EXPORT_CONTENT_RETRY', 'PT1H', 1000),
  EXPORT_RETAINED: bool('EXPORT_RETAINED', false),
  EXPORT_COPILOT: bool('EXPORT_COPILOT', false),
  EXPORT_MEETINGS: bool('EXPORT_MEETINGS', false),
  EXPORT_RECORDING_MAX_BYTES: int('EXPORT_RECORDING_MAX_BYTES', 2 * 1024 ** 3, 1024, 1024 ** 4),
  EXPORT_DELETED_TEAMS: bool('EXPORT_DELETED_TEAMS', true),
  EXPORT_USERS: z.enum(['all', 'none']).default('all'),
  EXPORT_TEAMS: z.enum(['all', 'none']).default('all'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  // Who may call the HTTP functions (docs/security.md): `entra` (App Service Authentication in front, app
  // roles checked by each handler) or `function-keys` (the host checks a key; the weaker, opt-in choice).
  HTTP_AUTH: z.enum(['entra', 'function-keys'], { error: 'HTTP_AUTH must be entra or function-keys' }).default('entra'),
  // Set by the platform, never by hand: `True` when App Service Authentication runs in front of the app,
  // the only case in which the client-principal headers come from the platform and not from the caller.
  WEBSITE_AUTH_ENABLED: z
    .string()
    .default('')
    .transform((text) => text.trim().toLowerCase() === 'true'),
});

type Raw = z.output<typeof settingsSchema>;

/** How the app reaches its storage: a connection string, or service URIs with a managed identity. */
export type StorageConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; blobServiceUri: string; tableServiceUri: string; queueServiceUri?: string; clientId?: string };

/** How the app gets Graph tokens. */
export type GraphCredentialSettings =
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string; authorityHost?: string }
  | { kind: 'managedIdentity'; clientId?: string };

export interface Settings {
  graph: {
    baseUrl: string;
    /** Token scope: the Graph origin's `/.default` (works for sovereign clouds and the emulator alike). */
    scope: string;
    credential: GraphCredentialSettings;
    /** The tenant-wide request budget (GRAPH_MAX_RPS). */
    maxRps: number;
    /** This process's share: GRAPH_MAX_RPS / GRAPH_INSTANCES, the most processes the app can run (docs/deploy.md, "Graph budget"). */
    processRps: number;
    /** Hosted-content downloads per conversation and second (Graph allows about 1 per chat). */
    hostedContentRps: number;
    /**
     * This process's share of the Copilot interactions budget (GRAPH_COPILOT_RPS / GRAPH_INSTANCES): the
     * API has its own limit per app and tenant, about 30 requests/s (docs/graph.md §11).
     */
    copilotRps: number;
    /** This process's share of the transcript and recording requests (GRAPH_MEETING_RPS / GRAPH_INSTANCES). */
    meetingRps: number;
    /** Recordings larger than this are recorded `too-large`, not stored (EXPORT_RECORDING_MAX_BYTES). */
    recordingMaxBytes: number;
    pageSize: number;
    requestTimeoutMs: number;
    maxRetries: number;
    /** Most `or`-ed sender clauses per export request (sender mode); more are split into several requests. */
    filterMaxClauses: number;
  };
  storage: StorageConnection;
  container: string;
  queue: string;
  /** EXPORT_CONTENT_QUEUE: the content stage's queue (docs/design.md §17). */
  contentQueue: string;
  tablePrefix: string;
  schedule: string;
  lagMs: number;
  settleMs: number;
  chunkMs: number;
  /** EXPORT_JOB_BUDGET: how long one queue invocation of a job works before it continues in a new message. */
  jobBudgetMs: number;
  startMs: number;
  concurrency: number;
  /** Sub-windows of one entity's chunk read at once (long backlogs of few entities keep Graph busy). */
  readsPerEntity: number;
  /**
   * EXPORT_MEMORY_MB in bytes: the process's budget for message data (day-batch lines and pages in
   * flight) over all jobs (docs/design.md §14).
   */
  memoryBytes: number;
  /**
   * custodian: each user's full view of their chats (a chat message is archived once per member);
   * sender: each user's own messages, plus messages from outside senders and system events once per chat.
   */
  chatMode: 'custodian' | 'sender';
  content: {
    /** Download pasted images, code snippets and custom emoji (hostedContents) into content/. */
    hostedContents: boolean;
    /** Download reference (SharePoint/OneDrive) file attachments into content/ (needs Files.Read.All). */
    files: boolean;
    /** Content downloads one job runs at once (EXPORT_CONTENT_CONCURRENCY). */
    jobConcurrency: number;
    /** Content downloads the process runs at once over all jobs (EXPORT_CONTENT_PROCESS_CONCURRENCY). */
    processConcurrency: number;
    /** File (shares API) downloads per second for the process (GRAPH_FILE_DOWNLOAD_RPS). */
    filesRps: number;
    /** Attempts of a batch's content before references that keep failing are final (EXPORT_CONTENT_MAX_ATTEMPTS). */
    maxAttempts: number;
    /** The first retry's delay, doubled for each later one (EXPORT_CONTENT_RETRY). */
    retryMs: number;
  };
  entities: {
    users: 'all' | 'none';
    teams: 'all' | 'none';
    /** Also export getAllRetainedMessages (needs a Teams retention policy) into retained/. */
    retained: boolean;
    /** EXPORT_COPILOT: each user's Microsoft 365 Copilot interactions into copilot/ (AiEnterpriseInteraction.Read.All). */
    copilot: boolean;
    /** EXPORT_MEETINGS: transcripts and recordings of meetings each user organised into meetings/. */
    meetings: boolean;
    /** Also export deleted teams Graph still serves (/teamwork/deletedTeams). */
    deletedTeams: boolean;
    includeUsers: string[];
    excludeUsers: string[];
    includeTeams: string[];
    excludeTeams: string[];
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  http: {
    /** HTTP_AUTH: Entra sign-in with app roles checked by the handlers, or function keys (docs/security.md). */
    auth: HttpAuthMode;
    /** WEBSITE_AUTH_ENABLED: the platform reports that App Service Authentication is on. */
    platformAuthEnabled: boolean;
  };
}

export type HttpAuthMode = 'entra' | 'function-keys';

/** Thrown when settings are invalid; `problems` has one line per bad setting, each starting with its name. */
export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid settings: ${problems.join('; ')}`);
    this.name = 'SettingsError';
  }
}

/** The names of every setting the schema knows (used by docs and infra checks). */
export const SETTING_NAMES = Object.keys(settingsSchema.shape);

/** Reads and validates settings from an environment; throws SettingsError naming every bad setting. */
export function loadSettings(env: Env): Settings {
  // Empty strings are how app settings say "unset"; treat them as absent so defaults apply.
  const input: Record<string, string> = {};
  for (const name of SETTING_NAMES) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') input[name] = v;
  }
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new SettingsError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? 'settings');
        return i.message.startsWith(name) ? i.message : `${name}: ${i.message}`;
      }),
    );
  }
  return toSettings(parsed.data);
}

function toSettings(raw: Raw): Settings {
  const problems: string[] = [];
  const credential = graphCredential(raw, problems);
  const storage = storageConnection(raw, problems);
  if (raw.EXPORT_LAG >= raw.EXPORT_SETTLE) problems.push('EXPORT_LAG must be shorter than EXPORT_SETTLE');
  if (raw.EXPORT_CONTENT_QUEUE === raw.EXPORT_QUEUE)
    problems.push('EXPORT_CONTENT_QUEUE must differ from EXPORT_QUEUE: content messages have a worker of their own');
  if (problems.length > 0 || !credential || !storage) throw new SettingsError(problems);
  return {
    graph: {
      baseUrl: raw.GRAPH_BASE_URL,
      scope: `${new URL(raw.GRAPH_BASE_URL).origin}/.default`,
      credential,
      maxRps: raw.GRAPH_MAX_RPS,
      processRps: raw.GRAPH_MAX_RPS / Math.round(raw.GRAPH_INSTANCES),
      hostedContentRps: raw.GRAPH_HOSTED_CONTENT_RPS,
      copilotRps: raw.GRAPH_COPILOT_RPS / Math.round(raw.GRAPH_INSTANCES),
      meetingRps: raw.GRAPH_MEETING_RPS / Math.round(raw.GRAPH_INSTANCES),
      recordingMaxBytes: Math.round(raw.EXPORT_RECORDING_MAX_BYTES),
      pageSize: Math.round(raw.GRAPH_PAGE_SIZE),
      requestTimeoutMs: raw.GRAPH_REQUEST_TIMEOUT,
      maxRetries: Math.round(raw.GRAPH_MAX_RETRIES),
      filterMaxClauses: Math.round(raw.GRAPH_FILTER_MAX_CLAUSES),
    },
    storage,
    container: raw.EXPORT_CONTAINER,
    queue: raw.EXPORT_QUEUE,
    contentQueue: raw.EXPORT_CONTENT_QUEUE,
    tablePrefix: raw.EXPORT_TABLE_PREFIX,
    schedule: raw.EXPORT_SCHEDULE,
    lagMs: raw.EXPORT_LAG,
    settleMs: raw.EXPORT_SETTLE,
    chunkMs: raw.EXPORT_CHUNK,
    jobBudgetMs: raw.EXPORT_JOB_BUDGET,
    startMs: raw.EXPORT_START,
    concurrency: Math.round(raw.EXPORT_CONCURRENCY),
    readsPerEntity: Math.round(raw.EXPORT_READS_PER_ENTITY),
    memoryBytes: Math.round(raw.EXPORT_MEMORY_MB) * 1024 * 1024,
    chatMode: raw.EXPORT_CHAT_MODE,
    content: {
      hostedContents: raw.EXPORT_HOSTED_CONTENTS,
      files: raw.EXPORT_ATTACHMENTS,
      jobConcurrency: Math.round(raw.EXPORT_CONTENT_CONCURRENCY),
      processConcurrency: Math.round(raw.EXPORT_CONTENT_PROCESS_CONCURRENCY),
      filesRps: raw.GRAPH_FILE_DOWNLOAD_RPS,
      maxAttempts: Math.round(raw.EXPORT_CONTENT_MAX_ATTEMPTS),
      retryMs: raw.EXPORT_CONTENT_RETRY,
    },
    entities: {
      users: raw.EXPORT_USERS,
      teams: raw.EXPORT_TEAMS,
      retained: raw.EXPORT_RETAINED,
      copilot: raw.EXPORT_COPILOT,
      meetings: raw.EXPORT_MEETINGS,
      deletedTeams: raw.EXPORT_DELETED_TEAMS,
      includeUsers: raw.EXPORT_INCLUDE_USERS,
      excludeUsers: raw.EXPORT_EXCLUDE_USERS,
      includeTeams: raw.EXPORT_INCLUDE_TEAMS,
      excludeTeams: raw.EXPORT_EXCLUDE_TEAMS,
    },
    logLevel: raw.LOG_LEVEL,
    http: { auth: raw.HTTP_AUTH, platformAuthEnabled: raw.WEBSITE_AUTH_ENABLED },
  };
}

/**
 * The authLevel the HTTP functions register with, read when the host loads them (before any other
 * setting is checked): `anonymous` with Entra, since App Service Authentication stands in front and the
 * handlers check roles; `function` with keys. A value HTTP_AUTH does not accept registers `function`,
 * the stricter of the two, and every request then fails on the settings error.
 */
export function httpAuthLevelOf(env: Env): 'anonymous' | 'function' {
  const raw = env.HTTP_AUTH;
  const parsed = settingsSchema.shape.HTTP_AUTH.safeParse(raw === undefined || raw.trim() === '' ? undefined : raw);
  return parsed.success && parsed.data === 'entra' ? 'anonymous' : 'function';
}

function graphCredential(raw: Raw, problems: string[]): GraphCredentialSettings | undefined {
  if (raw.AZURE_CLIENT_SECRET !== undefined) {
    if (!raw.AZURE_TENANT_ID) problems.push('AZURE_TENANT_ID is required when AZURE_CLIENT_SECRET is set');
    if (!raw.AZURE_CLIENT_ID) problems.push('AZURE_CLIENT_ID is required when AZURE_CLIENT_SECRET is set');
    if (!raw.AZURE_TENANT_ID || !raw.AZURE_CLIENT_ID) return undefined;
    return {
      kind: 'clientSecret',
      tenantId: raw.AZURE_TENANT_ID,
      clientId: raw.AZURE_CLIENT_ID,
      clientSecret: raw.AZURE_CLIENT_SECRET,
      ...(raw.AZURE_AUTHORITY_HOST ? { authorityHost: raw.AZURE_AUTHORITY_HOST } : {}),
    };
  }
  // Without a secret the app runs as its managed identity (AZURE_CLIENT_ID selects a user-assigned one).
  return { kind: 'managedIdentity', ...(raw.AZURE_CLIENT_ID ? { clientId: raw.AZURE_CLIENT_ID } : {}) };
}

function storageConnection(raw: Raw, problems: string[]): StorageConnection | undefined {
  const connectionString = raw.EXPORT_STORAGE ?? (raw.EXPORT_STORAGE__blobServiceUri ? undefined : raw.AzureWebJobsStorage);
  if (connectionString !== undefined) {
    const cs = connectionString === 'UseDevelopmentStorage=true' ? DEVELOPMENT_STORAGE : connectionString;
    if (!/AccountName=|BlobEndpoint=|SharedAccessSignature=/i.test(cs)) {
      problems.push(`${raw.EXPORT_STORAGE ? 'EXPORT_STORAGE' : 'AzureWebJobsStorage'} is not a storage connection string`);
      return undefined;
    }
    return { kind: 'connectionString', connectionString: cs };
  }
  if (raw.EXPORT_STORAGE__blobServiceUri) {
    if (!raw.EXPORT_STORAGE__tableServiceUri) {
      problems.push('EXPORT_STORAGE__tableServiceUri is required with EXPORT_STORAGE__blobServiceUri');
      return undefined;
    }
    return {
      kind: 'identity',
      blobServiceUri: raw.EXPORT_STORAGE__blobServiceUri,
      tableServiceUri: raw.EXPORT_STORAGE__tableServiceUri,
      ...(raw.EXPORT_STORAGE__queueServiceUri ? { queueServiceUri: raw.EXPORT_STORAGE__queueServiceUri } : {}),
      ...(raw.EXPORT_STORAGE__clientId ? { clientId: raw.EXPORT_STORAGE__clientId } : {}),
    };
  }
  problems.push(
    'EXPORT_STORAGE is required (a storage connection string, or EXPORT_STORAGE__blobServiceUri and EXPORT_STORAGE__tableServiceUri for identity-based access; AzureWebJobsStorage is used when neither is set)',
  );
  return undefined;
}

/** Azurite's well-known development account, spelled out (the SDKs do not all expand the shorthand). */
export const DEVELOPMENT_STORAGE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';
