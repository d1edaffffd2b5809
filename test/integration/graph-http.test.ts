import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForeignOriginError, GraphError, MalformedResponseError } from '../../src/graph/graph-errors';
import { RateLimiter } from '../../src/graph/rate-limiter';
import { countingCredential, graphTestClient, rejection } from '../support/graph-test-client';
import { startHttpsTestServer, type HttpsTestServer } from '../support/https-test-server';
import { HANG_MS, TIMER_SLACK_MS } from '../support/timing';

let server: HttpsTestServer;
beforeEach(async () => {
  server = await startHttpsTestServer();
});
afterEach(async () => {
  await server.close();
});

const ok = (body: unknown = { value: [] }) => ({ status: 200, body });

describe('GraphHttp.getJson', () => {
  it('sends the bearer token, Accept, a client-request-id and the caller headers, and returns the JSON body', async () => {
    const { http, credential } = graphTestClient(server.origin);
    server.enqueue({ status: 200, headers: { 'request-id': 'req-1' }, body: { value: [1, 2] } });
    const res = await http.getJson('/users?$top=5', { headers: { Prefer: 'include-unknown-enum-members' } });
    expect(res).toEqual({ status: 200, body: { value: [1, 2] }, bytes: 15, requestId: 'req-1', path: '/v1.0/users' });
    const [req] = server.requests;
    expect(req?.url).toBe('/v1.0/users?$top=5');
    expect(req?.headers.authorization).toBe(`Bearer ${credential.issued[0]}`);
    expect(req?.headers.accept).toBe('application/json');
    expect(req?.headers.prefer).toBe('include-unknown-enum-members');
    expect(req?.headers['client-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reuses a cached token while it is valid for more than a minute, and fetches a new one after', async () => {
    const { http, credential } = graphTestClient(server.origin);
    server.handle(() => ok());
    await http.getJson('/a');
    await http.getJson('/b');
    expect(credential.calls).toBe(1);

    const shortLived = countingCredential(30_000);
    const second = graphTestClient(server.origin, { credential: shortLived });
    await second.http.getJson('/a');
    await second.http.getJson('/b');
    expect(shortLived.calls).toBe(2);
  });

  it('a 429 with a fractional Retry-After pauses every request of the process for at least that long', async () => {
    const { http, limiter } = graphTestClient(server.origin);
    server.handle((req) =>
      req.path === '/v1.0/a' && server.requests.filter((r) => r.path === '/v1.0/a').length === 1
        ? {
            status: 429,
            headers: { 'Retry-After': '0.35' },
            body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } },
          }
        : ok(),
    );
    const first = http.getJson('/a');
    // Start a second, unrelated request once the 429 has been answered and seen by the client.
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 40));
    const second = http.getJson('/b');
    await Promise.all([first, second]);

    const throttledAt = server.requests[0]?.at ?? 0;
    const retryAt = server.requests.filter((r) => r.path === '/v1.0/a')[1]?.at ?? 0;
    const otherAt = server.requests.find((r) => r.path === '/v1.0/b')?.at ?? 0;
    // Lower bounds only (a busy machine just waits longer); the retry's own wait is a timer.
    expect(retryAt - throttledAt).toBeGreaterThanOrEqual(350 - TIMER_SLACK_MS);
    expect(otherAt - throttledAt).toBeGreaterThanOrEqual(350 - TIMER_SLACK_MS);
    expect(http.stats()).toMatchObject({ throttled: 1, retries: 1, requests: 3 });
    expect(limiter).toBeInstanceOf(RateLimiter);
  });

  it('a 429 with an HTTP-date Retry-After is honoured too', async () => {
    const { http } = graphTestClient(server.origin);
    // HTTP-dates have whole-second precision: this one is 1.5 to 2.5 s ahead, beyond the first backoff.
    const retryAfter = new Date(Date.now() + 2500).toUTCString();
    server.enqueue({ status: 429, headers: { 'Retry-After': retryAfter } }, ok());
    await http.getJson('/a');
    expect(server.requests).toHaveLength(2);
    // The retry arrives no earlier than the date said, however late the 429 was read.
    const retryWallClockMs = performance.timeOrigin + (server.requests[1]?.at ?? 0);
    expect(retryWallClockMs).toBeGreaterThanOrEqual(Date.parse(retryAfter) - TIMER_SLACK_MS);
  });

  it('gives up on 429s after three times maxRetries, with a retryable error', async () => {
    const { http } = graphTestClient(server.origin, { maxRetries: 1 });
    server.handle(() => ({ status: 429, headers: { 'Retry-After': '0.01' }, body: { error: { code: 'TooManyRequests' } } }));
    const err = await rejection(http.getJson('/a'));
    expect(err).toBeInstanceOf(GraphError);
    expect(err).toMatchObject({ status: 429, code: 'TooManyRequests', kind: 'retryable' });
    expect(server.requests).toHaveLength(4);
  });

  it('retries 5xx responses with backoff and then succeeds', async () => {
    const { http } = graphTestClient(server.origin);
    server.enqueue(
      { status: 503, body: { error: { code: 'serviceNotAvailable' } } },
      { status: 500 },
      { status: 504, body: 'gateway' },
      ok({ value: ['x'] }),
    );
    const res = await http.getJson('/a');
    expect(res.body).toEqual({ value: ['x'] });
    expect(server.requests).toHaveLength(4);
    expect(http.stats()).toMatchObject({ serverErrors: 3, retries: 3, requests: 4 });
  });

  it('a 503 that keeps failing ends in a retryable GraphError after maxRetries', async () => {
    const { http } = graphTestClient(server.origin, { maxRetries: 2 });
    server.handle(() => ({ status: 503, headers: { 'request-id': 'r-503' }, body: { error: { code: 'serviceNotAvailable' } } }));
    const err = await rejection(http.getJson('/a'));
    expect(err).toMatchObject({ status: 503, code: 'serviceNotAvailable', requestId: 'r-503', kind: 'retryable' });
    expect(server.requests).toHaveLength(3);
  });

  it('retries after a connection reset and then succeeds', async () => {
    const { http } = graphTestClient(server.origin);
    server.enqueue({ reset: true }, ok({ value: ['after-reset'] }));
    const res = await http.getJson('/a');
    expect(res.body).toEqual({ value: ['after-reset'] });
    expect(http.stats().networkErrors).toBe(1);
    expect(server.requests).toHaveLength(2);
  });

  it('a response that hangs times out and is retried', async () => {
    const { http } = graphTestClient(server.origin, { requestTimeoutMs: 200 });
    server.enqueue({ hang: true }, ok({ value: ['late'] }));
    const start = performance.now();
    const res = await http.getJson('/a');
    expect(res.body).toEqual({ value: ['late'] });
    expect(performance.now() - start).toBeGreaterThanOrEqual(200 - TIMER_SLACK_MS);
    expect(http.stats()).toMatchObject({ timeouts: 1, retries: 1 });
  });

  it('a 200 whose body is not JSON is retried, then fails with MalformedResponseError', async () => {
    const { http } = graphTestClient(server.origin, { maxRetries: 2 });
    server.handle(() => ({ status: 200, headers: { 'request-id': 'r-bad' }, body: '{"value": [{"id": "1"' }));
    const err = await rejection(http.getJson('/a'));
    expect(err).toBeInstanceOf(MalformedResponseError);
    expect(err).toMatchObject({ kind: 'fatal', status: 200, requestId: 'r-bad' });
    expect(server.requests).toHaveLength(3);
    expect(http.stats().malformed).toBe(3);
  });

  it('a truncated body is retried and a good one afterwards is returned', async () => {
    const { http } = graphTestClient(server.origin);
    server.enqueue({ status: 200, body: '{"value": [' }, ok({ value: [1] }));
    expect((await http.getJson('/a')).body).toEqual({ value: [1] });
  });

  it('refuses a URL on another origin without sending anything anywhere', async () => {
    const foreign = await startHttpsTestServer();
    try {
      const { http, credential } = graphTestClient(server.origin);
      const err = await rejection(http.getJson(`${foreign.origin}/v1.0/users?$skiptoken=abc`));
      expect(err).toBeInstanceOf(ForeignOriginError);
      expect(err).toMatchObject({ kind: 'fatal' });
      await expect(http.getJson('https://graph.microsoft.com.evil.example/v1.0/users')).rejects.toBeInstanceOf(ForeignOriginError);
      await expect(http.getJson('users')).rejects.toBeInstanceOf(ForeignOriginError);
      expect(foreign.requests).toHaveLength(0);
      expect(server.requests).toHaveLength(0);
      expect(credential.calls).toBe(0);
    } finally {
      await foreign.close();
    }
  });

  it('uses an absolute same-origin URL verbatim', async () => {
    const { http } = graphTestClient(server.origin);
    server.handle(() => ok());
    const link = `${server.origin}/v1.0/users('0b4f')/chats/getallMessages?$top=2&$skiptoken=U2tpcFZhbHVlPTI%3d%3d&$filter=lastModifiedDateTime+gt+2019-11-01T00%3a00%3a00Z`;
    await http.getJson(link);
    expect(server.origin + (server.requests[0]?.url ?? '')).toBe(link);
  });

  it('a 401 gets one fresh token and the retry succeeds', async () => {
    const { http, credential } = graphTestClient(server.origin);
    server.enqueue({ status: 401, body: { error: { code: 'InvalidAuthenticationToken' } } }, ok());
    await http.getJson('/a');
    expect(credential.calls).toBe(2);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${credential.issued[0]}`,
      `Bearer ${credential.issued[1]}`,
    ]);
    expect(http.stats().tokenRefreshes).toBe(1);
  });

  it('a second 401 after the refresh is fatal', async () => {
    const { http, credential } = graphTestClient(server.origin);
    server.handle(() => ({ status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired.' } } }));
    const err = await rejection(http.getJson('/a'));
    expect(err).toMatchObject({ status: 401, code: 'InvalidAuthenticationToken', kind: 'fatal' });
    expect(server.requests).toHaveLength(2);
    expect(credential.calls).toBe(2);
  });

  it('a 404 is a skip-entity GraphError with code and request-id, not retried, and no token leaks', async () => {
    const { http, credential, logs } = graphTestClient(server.origin);
    server.enqueue({
      status: 404,
      headers: { 'request-id': 'rid-404' },
      body: { error: { code: 'ResourceNotFound', message: 'User not found' } },
    });
    const err = await rejection(http.getJson('/users/u1/chats/getAllMessages?$top=50'));
    expect(err).toBeInstanceOf(GraphError);
    expect(err).toMatchObject({
      status: 404,
      code: 'ResourceNotFound',
      requestId: 'rid-404',
      kind: 'skip-entity',
      path: '/v1.0/users/u1/chats/getAllMessages',
    });
    expect(server.requests).toHaveLength(1);
    const everything = JSON.stringify({ err, message: (err as Error).message, stack: (err as Error).stack, logs });
    expect(everything).not.toContain(credential.issued[0]);
    expect(everything).not.toContain('$top');
    expect(logs.some((l) => l.fields.status === 404 && l.fields.requestId === 'rid-404')).toBe(true);
  });

  it('takes the request-id from the error body when the header is missing', async () => {
    const { http } = graphTestClient(server.origin);
    server.enqueue({ status: 403, body: { error: { code: 'Forbidden', innerError: { 'request-id': 'inner-id' } } } });
    await expect(http.getJson('/a')).rejects.toMatchObject({ status: 403, requestId: 'inner-id', kind: 'skip-entity' });
  });

  it('a 400 is fatal and not retried', async () => {
    const { http } = graphTestClient(server.origin);
    server.handle(() => ({ status: 400, body: { error: { code: 'BadRequest', message: 'Invalid $filter query' } } }));
    await expect(http.getJson('/a')).rejects.toMatchObject({ status: 400, kind: 'fatal' });
    expect(server.requests).toHaveLength(1);
  });

  it('does not follow redirects, so the token cannot be carried elsewhere', async () => {
    const foreign = await startHttpsTestServer();
    try {
      const { http } = graphTestClient(server.origin);
      server.enqueue({ status: 302, headers: { location: `${foreign.origin}/steal` } });
      await expect(http.getJson('/a')).rejects.toMatchObject({ status: 302, kind: 'fatal' });
      expect(foreign.requests).toHaveLength(0);
    } finally {
      await foreign.close();
    }
  });

  it('aborting stops a long Retry-After wait promptly', async () => {
    const { http } = graphTestClient(server.origin);
    server.handle(() => ({ status: 429, headers: { 'Retry-After': '30' } }));
    const controller = new AbortController();
    const pending = http.getJson('/a', { signal: controller.signal });
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const start = performance.now();
    setTimeout(() => controller.abort(new Error('cancelled by test')), 50);
    await expect(pending).rejects.toThrow('cancelled by test');
    // Far below the 30 s Retry-After: it did not sit the wait out.
    expect(performance.now() - start).toBeLessThan(HANG_MS);
    expect(server.requests).toHaveLength(1);
  });

  it('aborting stops a request in flight and a backoff sleep', async () => {
    const { http } = graphTestClient(server.origin, { requestTimeoutMs: 10_000, backoff: { baseMs: 20_000, maxMs: 20_000 } });
    server.enqueue({ hang: true });
    const inFlight = new AbortController();
    setTimeout(() => inFlight.abort(new Error('stop in flight')), 100);
    await expect(http.getJson('/a', { signal: inFlight.signal })).rejects.toThrow('stop in flight');

    server.enqueue({ status: 500 });
    const sleeping = new AbortController();
    const start = performance.now();
    setTimeout(() => sleeping.abort(new Error('stop sleeping')), 150);
    await expect(http.getJson('/b', { signal: sleeping.signal })).rejects.toThrow('stop sleeping');
    // Far below the 20 s backoff: it did not sleep it out.
    expect(performance.now() - start).toBeLessThan(HANG_MS);
  });
});
