// The Graph + identity emulator: an HTTPS server on 127.0.0.1 that behaves like Microsoft Graph's Teams
// export APIs and the identity platform's client-credentials flow, over a seeded synthetic tenant, with
// fault knobs. Used in-process by tests and `teams-export demo`, and out-of-process by the benchmark.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import { randomBytes, randomUUID } from 'node:crypto';
import { generate } from 'selfsigned';
import { createCounters, resetCounters as resetCountersInPlace, type EmulatorCounters } from './counters';
import { DEFAULT_FAULTS, mergeFaults, TokenBucket, type FaultKnobs } from './faults';
import { handleIdentity, isIdentityPath, TokenStore } from './identity';
import { classifyGraphPath, handleGraph, type GraphContext } from './graph';
import { handleControl } from './control';
import { SnapshotStore } from './export-query';
import { requestIdsOf, sendGraphError, sendJson, sleep } from './http-util';
import { createRng } from './prng';
import { seedTenant, type TenantSeedOptions } from './seed';
import { Tenant, versionKey } from './tenant';
import { DownloadSigner, fileIndex, handleFilesRequest, type EmulatedFile } from './files';
import { expectedHostedContents, type ExpectedHostedContent } from './hosted-contents';
import { expectedCopilotInteractions, type ExpectedInteraction } from './copilot';
import { expectedMeetingArtifacts, type ExpectedMeetingArtifact } from './meetings';

export type { FaultKnobs } from './faults';
export type { EmulatorCounters, RouteKind, FaultKind } from './counters';
export type { TenantSeedOptions } from './seed';
export { Tenant } from './tenant';
export type {
  EmulatedUser,
  EmulatedTeam,
  EmulatedChannel,
  EmulatedChat,
  EntityRef,
  ExpectedVersion,
  TenantStats,
  PostTarget,
  ContentOptions,
} from './tenant';
export { DELETED_SERVED_MS } from './tenant';
export type { EmulatedFile, FileState } from './files';
export { shareIdOf, sizedFileSha256 } from './files';
export type { ExpectedHostedContent, HostedContentKind } from './hosted-contents';
export type { ExpectedInteraction } from './copilot';
export type { ExpectedMeetingArtifact } from './meetings';
export { COPILOT_APPS, interactionKey, postInteraction, postRawInteraction } from './copilot-store';
export type { Interaction, PostInteractionOptions, PostedInteraction } from './copilot-store';
export { addMeetingArtifacts, artifactKey, recordingSha256 } from './meeting-store';
export type { AddArtifactsOptions, ArtifactKind, TranscriptLine } from './meeting-store';
export { ARTIFACT_ERROR_SHAPES } from './error-shapes';
export type { ArtifactErrorShapeName } from './error-shapes';
export { ARTIFACT_ROLES } from './faults';
export type { ArtifactRole } from './faults';
export type { Sender } from './senders';
export type { SenderClause } from './sender-filter';
export type { Mutation } from './control';
export { DEFAULT_FAULTS } from './faults';
export { DEFAULT_SEED_OPTIONS } from './seed';

export interface EmulatorOptions {
  /** default 0 (random) */
  port?: number;
  /** synthetic tenant to seed (deterministic from seed) */
  tenant?: TenantSeedOptions;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** default 3600 (MSAL treats tokens as expired 5 min early, so keep > 300) */
  tokenLifetimeSec?: number;
  faults?: Partial<FaultKnobs>;
  /** data clock (epoch ms) for late visibility and mutations' default time; default Date.now */
  clock?: () => number;
}

export interface Emulator {
  /** https://127.0.0.1:PORT */
  readonly origin: string;
  /** origin + '/v1.0' */
  readonly graphBaseUrl: string;
  /** origin (the tenant id goes in the path, like login.microsoftonline.com) */
  readonly authorityHost: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** the self-signed certificate to trust */
  readonly caCertPem: string;
  /** https://127.0.0.1:PORT2: the SharePoint stand-in serving pre-authenticated file downloads (same certificate) */
  readonly filesOrigin: string;
  /** every reference attachment's file with its state and expected bytes/sha256 (present files only) */
  files(): EmulatedFile[];
  /** every hosted content (its `$value` URL as written in messages) with expected bytes and sha256 */
  hostedContents(): ExpectedHostedContent[];
  /** every Copilot interaction (any user, licensed or not now, deleted ones too) with its JSON as served and its sha256 */
  copilotInteractions(): ExpectedInteraction[];
  /**
   * every transcript and recording with its listed JSON and expected content (and metadataContent) bytes
   * and sha256; the large recording (faults largeRecordingBytes) has only its size and sha256 (computed
   * chunk by chunk, once per size)
   */
  meetingArtifacts(): ExpectedMeetingArtifact[];
  /** for child processes (NODE_EXTRA_CA_CERTS) */
  writeCaCert(path: string): Promise<void>;
  readonly tenant: Tenant;
  readonly faults: FaultKnobs;
  setFaults(patch: Partial<FaultKnobs>): void;
  /** live object */
  readonly counters: EmulatorCounters;
  resetCounters(): void;
  setClock(fn: () => number): void;
  close(): Promise<void>;
}

export const DEFAULT_TENANT_ID = 'c0ffee00-7e57-4000-8000-00000000a11d';
export const DEFAULT_CLIENT_ID = 'c0ffee00-7e57-4000-8000-0000000c11e7';
export const DEFAULT_CLIENT_SECRET = 'emulator-secret';

/** `${conversationId}|${messageId}|${lastModifiedMs}|${etag}` for a chatMessage as served by Graph. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function versionKeyOf(message: any): string {
  const conv: unknown = message?.chatId ?? message?.channelIdentity?.channelId;
  if (typeof conv !== 'string' || typeof message?.id !== 'string') throw new Error('not a chatMessage: no chatId/channelIdentity or id');
  return versionKey(conv, message.id, Date.parse(message.lastModifiedDateTime), String(message.etag));
}

/** Trusts the emulator's certificate for this process's fetch and https (Node 22.19+). */
export function trustCertificateInProcess(pem: string): void {
  const current = tls.getCACertificates('default');
  const norm = (p: string) => p.replace(/\s+/g, '');
  if (!current.some((c) => norm(c) === norm(pem))) tls.setDefaultCACertificates([...current, pem]);
}

async function makeCertificate(): Promise<{ key: string; cert: string }> {
  const now = Date.now();
  // a unique subject per instance: OpenSSL finds trust anchors by subject name, so two emulators with the
  // same subject in one process would shadow each other's certificate
  const pems = await generate([{ name: 'commonName', value: `teams-export emulator ${randomUUID()}` }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 90 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  let clock = opts.clock ?? (() => Date.now());
  const tenantId = opts.tenantId ?? DEFAULT_TENANT_ID;
  const clientId = opts.clientId ?? DEFAULT_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? DEFAULT_CLIENT_SECRET;
  const tokenLifetimeSec = opts.tokenLifetimeSec ?? 3600;
  let faults = mergeFaults(DEFAULT_FAULTS, opts.faults ?? {});
  const tenant = new Tenant(tenantId, () => clock());
  seedTenant(tenant, opts.tenant ?? {}, clock());
  const counters = createCounters();
  const tokens = new TokenStore();
  const snapshots = new SnapshotStore();
  const faultRng = createRng((opts.tenant?.seed ?? 1) ^ 0x5eed);
  let bucket: TokenBucket | null = null;

  const { key, cert } = await makeCertificate();
  const server: Server = createServer({ key, cert, keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `https://127.0.0.1:${port}`;
  tenant.graphBaseUrl = `${origin}/v1.0`;

  // the SharePoint stand-in: its own port, so a client that sends the Graph token there is caught
  const signer = new DownloadSigner(randomBytes(32));
  const filesServer: Server = createServer({ key, cert, keepAlive: true }, (req, res) => {
    try {
      handleFilesRequest(req, res, { tenant, counters, signer, faults: () => faults });
    } catch (err: unknown) {
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'generalException', message: err instanceof Error ? err.message : String(err) } });
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    filesServer.once('error', reject);
    filesServer.listen(0, '127.0.0.1', () => resolve());
  });
  const filesOrigin = `https://127.0.0.1:${(filesServer.address() as AddressInfo).port}`;
  tenant.filesOrigin = filesOrigin;

  const graphCtx: GraphContext = {
    origin,
    tenant,
    faults: () => faults,
    counters,
    snapshots,
    rng: faultRng,
    clock: () => clock(),
    hostedBuckets: new Map(),
    filesOrigin,
    signer,
    artifactBuckets: new Map(),
  };
  const identityCfg = {
    origin,
    tenantId,
    clientId,
    clientSecret,
    tokenLifetimeSec,
    counters,
    tokens,
    tokenEndpointDown: () => faults.tokenEndpointDown,
  };

  const emulator: Emulator = {
    origin,
    graphBaseUrl: `${origin}/v1.0`,
    authorityHost: origin,
    tenantId,
    clientId,
    clientSecret,
    caCertPem: cert,
    filesOrigin,
    files: () => [...fileIndex(tenant).byUrl.values()],
    hostedContents: () => expectedHostedContents(tenant),
    copilotInteractions: () => expectedCopilotInteractions(tenant),
    meetingArtifacts: () => expectedMeetingArtifacts(tenant, faults),
    writeCaCert: (path) => writeFile(path, cert, 'utf8'),
    tenant,
    get faults() {
      return faults;
    },
    setFaults(patch) {
      faults = mergeFaults(faults, patch);
    },
    counters,
    resetCounters: () => resetCountersInPlace(counters),
    setClock(fn) {
      clock = fn;
    },
    close: () =>
      Promise.all(
        [server, filesServer].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              // keep-alive and deliberately hanging requests would otherwise hold close() open
              s.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
  const control = {
    tenant,
    counters,
    faults: () => faults,
    setFaults: emulator.setFaults,
    resetCounters: emulator.resetCounters,
    setClock: emulator.setClock,
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    let path = q < 0 ? raw : raw.slice(0, q);
    try {
      path = decodeURIComponent(path);
    } catch {
      /* keep it as sent */
    }
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    if (path.startsWith('/_emulator/')) return handleControl(req, res, path, params, control);

    counters.requests++;
    if (req.headers.authorization !== undefined) counters.authorizationHeadersSeen++;
    res.on('finish', () => {
      const k = String(res.statusCode);
      counters.byStatus[k] = (counters.byStatus[k] ?? 0) + 1;
    });
    if (isIdentityPath(path) || /\/oauth2\//.test(path)) {
      counters.byRoute.token++;
      return handleIdentity(req, res, path, identityCfg);
    }
    const ids = requestIdsOf(req);
    if (!path.startsWith('/v1.0/')) {
      counters.byRoute.other++;
      return sendGraphError(res, ids, 404, 'NotFound', `No such endpoint: ${path}`);
    }
    counters.graphRequests++;
    counters.byRoute[classifyGraphPath(path)]++;
    const f = faults;
    if (f.latencyMs > 0 || f.jitterMs > 0) await sleep(f.latencyMs + faultRng() * f.jitterMs);

    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    if (!bearer)
      return sendGraphError(res, ids, 401, 'InvalidAuthenticationToken', 'Access token is empty.', {
        'www-authenticate': 'Bearer realm=""',
      });
    if (!tokens.isValid(bearer))
      return sendGraphError(res, ids, 401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired or invalid.');
    counters.authorizedRequests++;

    if (f.rateLimitRps !== null) {
      bucket ??= new TokenBucket(f.rateLimitRps);
      bucket.setRate(f.rateLimitRps);
      if (!bucket.tryTake()) {
        counters.throttled++;
        return sendGraphError(res, ids, 429, 'TooManyRequests', 'Please retry again later.', { 'retry-after': String(f.retryAfterSec) });
      }
    }
    if (f.resetRate > 0 && faultRng() < f.resetRate) {
      counters.faults.reset++;
      req.socket.destroy();
      return;
    }
    if (f.hangRate > 0 && faultRng() < f.hangRate) {
      counters.faults.hang++;
      return; // never answered; close() destroys the socket
    }
    if (f.errorRate > 0 && faultRng() < f.errorRate) {
      counters.faults.error++;
      const [status, code] = (
        [
          [500, 'generalException'],
          [502, 'BadGateway'],
          [503, 'serviceNotAvailable'],
          [504, 'GatewayTimeout'],
        ] as const
      )[Math.floor(faultRng() * 4)] ?? [500, 'generalException'];
      return sendGraphError(
        res,
        ids,
        status,
        code,
        'The service is temporarily unavailable (injected fault).',
        status === 503 ? { 'retry-after': '0.1' } : {},
      );
    }
    if (f.malformedRate > 0 && faultRng() < f.malformedRate) {
      counters.faults.malformed++;
      const body = `{"@odata.context":"${origin}/v1.0/$metadata#Collection(chatMessage)","@odata.count":2,"value":[{"@odata.type":"#microsoft.graph.chatMessage","id":"16`;
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'request-id': ids.requestId,
        'client-request-id': ids.clientRequestId,
      });
      res.end(body);
      return;
    }
    handleGraph(req, res, path, params, ids, graphCtx);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'generalException', message: err instanceof Error ? err.message : String(err) } });
      else res.destroy();
    });
  });
  return emulator;
}
