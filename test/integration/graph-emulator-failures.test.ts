// The Graph client against the emulator's real error shapes (docs/graph-errors.md) and its real identity
// endpoint: app-level refusals name what to fix, entity-level ones skip, a refused nextLink restarts the
// read, a 401 gets a genuinely new token from a credential that caches like managed identity, and token
// endpoint outages are retried while a wrong secret is not.
import { ClientSecretCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator';
import type { Entity } from '../../src/model/entity';
import { GraphError } from '../../src/graph/graph-errors';
import type { GraphHttpOptions } from '../../src/graph/graph-http';
import { messagePages } from '../../src/graph/message-export';
import { MAX_READ_RESTARTS } from '../../src/graph/paging';
import { startTestEmulator } from '../support/emulator';
import { graphTestClient, rejection } from '../support/graph-test-client';

const DAY = 24 * 3600_000;
let emu: Emulator;
beforeAll(async () => {
  emu = await startTestEmulator({ tenant: { seed: 23, users: 6, teams: 2, historyDays: 20 } });
});
afterAll(async () => {
  await emu.close();
});

/** A GraphHttp on the emulator with the real client-secret credential (or the one given). */
function client(emulator: Emulator, overrides: Partial<GraphHttpOptions> = {}) {
  const credential = new ClientSecretCredential(emulator.tenantId, emulator.clientId, emulator.clientSecret, {
    authorityHost: emulator.authorityHost,
    disableInstanceDiscovery: true,
  });
  return graphTestClient(emulator.origin, {
    baseUrl: emulator.graphBaseUrl,
    scope: `${emulator.origin}/.default`,
    credential,
    ...overrides,
  }).http;
}

const wide = { fromMs: Date.now() - 40 * DAY, toMs: Date.now() + DAY };

/** The user with the most messages, so a small $top gives several pages. */
function busiestUser(): Entity {
  const users = emu.tenant.exportableEntities().filter((e) => e.kind === 'user');
  const count = (id: string) => emu.tenant.currentVersions({ kind: 'user', id }).length;
  const best = users.reduce((a, b) => (count(b.id) > count(a.id) ? b : a));
  return { kind: 'user', id: best.id };
}

async function readAll(
  http: ReturnType<typeof client>,
  entity: Entity,
  top: number,
): Promise<{ ids: Set<string>; pages: number; restarts: number }> {
  const ids = new Set<string>();
  let pages = 0;
  let restarts = 0;
  for await (const page of messagePages(http, entity, wide, { top })) {
    pages++;
    restarts = page.restarts;
    for (const item of page.items) ids.add(JSON.stringify([(item as { chatId: string }).chatId, (item as { id: string }).id]));
  }
  return { ids, pages, restarts };
}

describe('refusals by code and message', () => {
  it('a missing application permission on every team is an app refusal naming the role to grant', async () => {
    const team = emu.tenant.teams[0]!;
    emu.setFaults({ entityErrors: { 'team:*': 'missingChannelRole' } });
    try {
      const err = await rejection(
        client(emu).getJson(
          `/teams/${team.id}/channels/getAllMessages?$top=5&$filter=${encodeURIComponent(`lastModifiedDateTime gt ${new Date(wide.fromMs).toISOString()} and lastModifiedDateTime lt ${new Date(wide.toMs).toISOString()}`)}`,
        ),
      );
      expect(err).toBeInstanceOf(GraphError);
      expect(err).toMatchObject({ status: 403, code: 'Forbidden', kind: 'app-refusal' });
      expect((err as Error).message).toContain('ChannelMessage.Read.All');
    } finally {
      emu.setFaults({ entityErrors: {} });
    }
  });

  it('a user answered 400 ErrorInvalidUser is skipped with its reason, not a fatal error', async () => {
    const user = busiestUser();
    emu.setFaults({ entityErrors: { [user.id]: 'invalidUser' } });
    try {
      const err = await rejection(readAll(client(emu), user, 50));
      expect(err).toMatchObject({ status: 400, code: 'ErrorInvalidUser', kind: 'skip-entity', reason: 'invalid-user' });
    } finally {
      emu.setFaults({ entityErrors: {} });
    }
  });
});

describe('Invalid continuation token', () => {
  it('restarts the window from its first page and still returns every message', async () => {
    const user = busiestUser();
    const http = client(emu);
    const clean = await readAll(http, user, 3);
    expect(clean.pages).toBeGreaterThan(3);
    emu.setFaults({ invalidContinuationTokens: MAX_READ_RESTARTS });
    const restarted = await readAll(http, user, 3);
    expect(emu.faults.invalidContinuationTokens).toBe(0);
    expect(restarted.restarts).toBe(MAX_READ_RESTARTS);
    expect(restarted.ids).toEqual(clean.ids);
    expect(restarted.pages).toBeGreaterThan(clean.pages);
  });

  it('fails the read after the restarts are spent, with the 400 and no endless loop', async () => {
    emu.setFaults({ invalidContinuationTokens: MAX_READ_RESTARTS + 1 });
    try {
      const err = await rejection(readAll(client(emu), busiestUser(), 3));
      expect(err).toMatchObject({ status: 400, restartRead: true, kind: 'fatal' });
      expect((err as Error).message).toContain('Invalid continuation token');
      expect(emu.faults.invalidContinuationTokens).toBe(0);
    } finally {
      emu.setFaults({ invalidContinuationTokens: 0 });
    }
  });
});

/**
 * Caches like ManagedIdentityCredential: the first token it gets is handed out until its own idea of the
 * expiry, whatever `claims` asks for. Tokens come from the emulator's real token endpoint; `expiresInMs`
 * is what the credential believes, longer than the emulator lets the token live (a token revoked or
 * expired server-side while still cached).
 */
class CachingCredential implements TokenCredential {
  private cached: AccessToken | undefined;
  constructor(
    private readonly emulator: Emulator,
    private readonly counter: { calls: number; fetched: string[] },
    private readonly expiresInMs = 3_600_000,
  ) {}

  async getToken(): Promise<AccessToken> {
    this.counter.calls++;
    if (this.cached) return this.cached;
    const res = await fetch(`${this.emulator.authorityHost}/${this.emulator.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.emulator.clientId,
        client_secret: this.emulator.clientSecret,
        scope: `${this.emulator.origin}/.default`,
      }),
    });
    const body = (await res.json()) as { access_token: string };
    this.counter.fetched.push(body.access_token);
    this.cached = { token: body.access_token, expiresOnTimestamp: Date.now() + this.expiresInMs };
    return this.cached;
  }
}

describe('tokens', () => {
  it('after a 401, a credential that caches like managed identity is rebuilt and a NEW token is requested', async () => {
    const shortLived = await startTestEmulator({ tenant: { seed: 3, users: 2, teams: 1, historyDays: 2 }, tokenLifetimeSec: 1 });
    try {
      const counter = { calls: 0, fetched: [] as string[] };
      const http = client(shortLived, {
        credential: new CachingCredential(shortLived, counter),
        newCredential: () => new CachingCredential(shortLived, counter),
      });
      await http.getJson('/users?$top=5');
      // The emulator's token dies after 1 s; the credential still thinks it is good for an hour.
      await new Promise((r) => setTimeout(r, 1500));
      await http.getJson('/users?$top=5');
      expect(counter.fetched).toHaveLength(2);
      expect(counter.fetched[1]).not.toBe(counter.fetched[0]);
      expect(http.stats().tokenRefreshes).toBe(1);
      expect(shortLived.counters.byStatus['401']).toBe(1);

      // Without the factory the same credential answers the refresh with the same dead token: fatal.
      const stale = { calls: 0, fetched: [] as string[] };
      const noFactory = client(shortLived, { credential: new CachingCredential(shortLived, stale) });
      await noFactory.getJson('/users?$top=5');
      await new Promise((r) => setTimeout(r, 1500));
      expect(await rejection(noFactory.getJson('/users?$top=5'))).toMatchObject({ status: 401, kind: 'fatal' });
      expect(stale.fetched).toHaveLength(1);
      expect(stale.calls).toBe(2);
    } finally {
      await shortLived.close();
    }
  });

  it('a token endpoint outage is retried with backoff on a new credential and the request succeeds once it is back', async () => {
    // The credential's own HTTP pipeline retries a 503 a few times within one getToken; turned off here
    // so the outage outlasts it and the request loop's backoff is what recovers.
    const secret = () =>
      new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
        authorityHost: emu.authorityHost,
        disableInstanceDiscovery: true,
        retryOptions: { maxRetries: 0 },
      });
    let built = 0;
    const http = client(emu, {
      credential: secret(),
      newCredential: () => (built++, secret()),
      maxRetries: 50,
      backoff: { baseMs: 20, maxMs: 50 },
    });
    const refusedBefore = emu.counters.faults.tokenEndpointDown;
    emu.setFaults({ tokenEndpointDown: true });
    const pending = http.getJson('/users?$top=5');
    try {
      while (emu.counters.faults.tokenEndpointDown < refusedBefore + 2) await new Promise((r) => setTimeout(r, 10));
    } finally {
      emu.setFaults({ tokenEndpointDown: false });
    }
    const res = await pending;
    expect(res.status).toBe(200);
    expect(http.stats().retries).toBeGreaterThanOrEqual(2);
    expect(built).toBeGreaterThanOrEqual(2);
  });

  it('a wrong client secret fails at once as fatal, without retries', async () => {
    const wrong = new ClientSecretCredential(emu.tenantId, emu.clientId, 'not-the-secret', {
      authorityHost: emu.authorityHost,
      disableInstanceDiscovery: true,
    });
    const http = client(emu, { credential: wrong, newCredential: () => wrong, maxRetries: 5 });
    const err = await rejection(http.getJson('/users?$top=5'));
    expect(err).toMatchObject({ kind: 'fatal' });
    expect((err as Error).message).toMatch(/access token.*invalid_client/s);
    expect(http.stats().retries).toBe(0);
  });

  it('an unreachable identity endpoint is retried, then fails as retryable naming the token', async () => {
    const unreachable = () =>
      new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
        authorityHost: 'https://127.0.0.1:9',
        disableInstanceDiscovery: true,
        retryOptions: { maxRetries: 0 },
      });
    const http = client(emu, { credential: unreachable(), newCredential: unreachable, maxRetries: 2 });
    const err = await rejection(http.getJson('/users?$top=5'));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect((err as Error).message).toMatch(/access token/);
    expect(http.stats().retries).toBe(2);
  });
});
