import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GraphError } from '../../src/graph/graph-errors';
import { ConversationLimiter, type KeyLimiter } from '../../src/graph/conversation-limiter';
import { RateLimiter } from '../../src/graph/rate-limiter';
import { graphTestClient, rejection } from '../support/graph-test-client';
import { startHttpsTestServer, type HttpsTestServer } from '../support/https-test-server';
import { TIMER_SLACK_MS } from '../support/timing';

/** A conversation's limiter that notes when it let each request go (performance.now()). */
function recorded(inner: KeyLimiter): KeyLimiter & { grants: number[] } {
  const grants: number[] = [];
  return {
    grants,
    async acquire(signal?: AbortSignal) {
      await inner.acquire(signal);
      grants.push(performance.now());
    },
  };
}

let graph: HttpsTestServer;
let files: HttpsTestServer;
beforeEach(async () => {
  graph = await startHttpsTestServer();
  files = await startHttpsTestServer();
});
afterEach(async () => {
  await graph.close();
  await files.close();
});

const png = (body: string) => ({ status: 200, headers: { 'content-type': 'image/png', 'request-id': 'r-png' }, body });

describe('GraphHttp.getBytes', () => {
  it('returns the bytes, content type and request-id, sent with the token', async () => {
    const { http, credential } = graphTestClient(graph.origin);
    graph.enqueue(png('\u0089PNG bytes ü'));
    const res = await http.getBytes('/chats/c1/messages/m1/hostedContents/h1/$value');
    expect(res.bytes.equals(Buffer.from('\u0089PNG bytes ü', 'utf8'))).toBe(true);
    expect(res).toMatchObject({ contentType: 'image/png', requestId: 'r-png' });
    expect(graph.requests[0]?.path).toBe('/v1.0/chats/c1/messages/m1/hostedContents/h1/$value');
    expect(graph.requests[0]?.headers.authorization).toBe(`Bearer ${credential.issued[0]}`);
  });

  it('retries a 503, a reset and a 429 like getJson, then returns the bytes', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 503 }, { reset: true }, { status: 429, headers: { 'Retry-After': '0.05' } }, png('ok'));
    expect((await http.getBytes('/x')).bytes.toString()).toBe('ok');
    expect(graph.requests).toHaveLength(4);
    expect(http.stats()).toMatchObject({ serverErrors: 1, networkErrors: 1, throttled: 1, retries: 3 });
  });

  it('a 401 gets one fresh token and the retry succeeds', async () => {
    const { http, credential } = graphTestClient(graph.origin);
    graph.enqueue({ status: 401, body: { error: { code: 'InvalidAuthenticationToken' } } }, png('ok'));
    expect((await http.getBytes('/x')).bytes.toString()).toBe('ok');
    expect(graph.requests[1]?.headers.authorization).toBe(`Bearer ${credential.issued[1]}`);
  });

  it('a 404 or 403 is not retried and carries status, code and request-id, but never means skip-entity', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 404, headers: { 'request-id': 'r-404' }, body: { error: { code: 'itemNotFound' } } });
    const err = await rejection(http.getBytes('/x'));
    expect(err).toBeInstanceOf(GraphError);
    expect(err).toMatchObject({ status: 404, code: 'itemNotFound', requestId: 'r-404' });
    expect((err as GraphError).kind).not.toBe('skip-entity');
    graph.enqueue({ status: 403, body: { error: { code: 'accessDenied' } } });
    expect(await rejection(http.getBytes('/y'))).toMatchObject({ status: 403, code: 'accessDenied' });
    expect(graph.requests).toHaveLength(2);
  });

  it('refuses a URL on another origin before sending anything', async () => {
    const { http, credential } = graphTestClient(graph.origin);
    await expect(http.getBytes(`${files.origin}/v1.0/chats/c/messages/m/hostedContents/h/$value`)).rejects.toMatchObject({ kind: 'fatal' });
    expect(files.requests).toHaveLength(0);
    expect(credential.calls).toBe(0);
  });

  it('follows a redirect to another origin once, without the token or any Graph header', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 302, headers: { location: `${files.origin}/download.aspx?UniqueId=1&tempauth=abc` } });
    files.enqueue({ status: 200, headers: { 'content-type': 'application/pdf' }, body: '%PDF-1.7' });
    const res = await http.getBytes('/shares/u!abc/driveItem/content');
    expect(res.bytes.toString()).toBe('%PDF-1.7');
    expect(res.contentType).toBe('application/pdf');
    expect(files.requests).toHaveLength(1);
    expect(files.requests[0]?.url).toBe('/download.aspx?UniqueId=1&tempauth=abc');
    expect(files.requests.filter((r) => r.headers.authorization !== undefined)).toHaveLength(0);
    expect(files.requests[0]?.headers['client-request-id']).toBeUndefined();
    expect(graph.requests[0]?.headers.authorization).toMatch(/^Bearer /);
  });

  it('retries 5xx and resets on the download host, still without the token, and never pauses Graph for it', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 302, headers: { location: `${files.origin}/f` } });
    files.enqueue({ status: 503 }, { reset: true }, { status: 429, headers: { 'Retry-After': '0.05' } }, { status: 200, body: 'file' });
    expect((await http.getBytes('/shares/u!abc/driveItem/content')).bytes.toString()).toBe('file');
    expect(files.requests).toHaveLength(4);
    expect(files.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(graph.requests).toHaveLength(1);
  });

  it('does not follow a second redirect from the download host', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 302, headers: { location: `${files.origin}/f` } });
    files.enqueue({ status: 302, headers: { location: `${graph.origin}/v1.0/steal` } });
    expect(await rejection(http.getBytes('/shares/u!abc/driveItem/content'))).toMatchObject({ status: 302, kind: 'fatal' });
    expect(graph.requests).toHaveLength(1);
  });

  it('refuses a redirect to a plain-http download URL', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 302, headers: { location: `${files.origin.replace('https:', 'http:')}/f?tempauth=x` } });
    expect(await rejection(http.getBytes('/shares/u!abc/driveItem/content'))).toMatchObject({ status: 302, kind: 'fatal' });
    expect(files.requests).toHaveLength(0);
  });

  it('a 401 from the download host is not answered with a token', async () => {
    const { http, credential } = graphTestClient(graph.origin);
    graph.enqueue({ status: 302, headers: { location: `${files.origin}/f` } });
    files.enqueue({ status: 401 });
    expect(await rejection(http.getBytes('/shares/u!abc/driveItem/content'))).toMatchObject({ status: 401 });
    expect(files.requests).toHaveLength(1);
    expect(files.requests[0]?.headers.authorization).toBeUndefined();
    expect(credential.calls).toBe(1);
  });

  it('follows a same-origin redirect (relative Location) with the token', async () => {
    const { http, credential } = graphTestClient(graph.origin);
    graph.enqueue({ status: 307, headers: { location: '/v1.0/drives/d/items/i/content' } }, png('same'));
    expect((await http.getBytes('/shares/u!abc/driveItem/content')).bytes.toString()).toBe('same');
    expect(graph.requests.map((r) => r.path)).toEqual(['/v1.0/shares/u!abc/driveItem/content', '/v1.0/drives/d/items/i/content']);
    expect(graph.requests[1]?.headers.authorization).toBe(`Bearer ${credential.issued[0]}`);
  });

  it('stops reading a body larger than maxBytes, with or without a Content-Length, and does not retry', async () => {
    const { http } = graphTestClient(graph.origin);
    graph.enqueue({ status: 200, body: 'x'.repeat(5000) });
    expect(await rejection(http.getBytes('/a', { maxBytes: 1000 }))).toMatchObject({ code: 'TooLarge' });
    graph.enqueue({ status: 200, headers: { 'content-length': '5000' }, body: 'x'.repeat(5000) });
    expect(await rejection(http.getBytes('/b', { maxBytes: 1000 }))).toMatchObject({ code: 'TooLarge' });
    expect(graph.requests).toHaveLength(2);
    graph.enqueue({ status: 200, body: 'x'.repeat(1000) });
    expect((await http.getBytes('/c', { maxBytes: 1000 })).bytes).toHaveLength(1000);
  });

  it('waits for the per-conversation limiter before each attempt: ~1 s apart within a conversation, none across', async () => {
    const { http } = graphTestClient(graph.origin);
    const perChat = new ConversationLimiter({ ratePerSec: 1 });
    const [a1, b1, a2] = [recorded(perChat.forKey('a')), recorded(perChat.forKey('b')), recorded(perChat.forKey('a'))];
    graph.handle(() => png('ok'));
    await Promise.all([
      http.getBytes('/chats/a/1', { limiter: a1 }),
      http.getBytes('/chats/b/1', { limiter: b1 }),
      http.getBytes('/chats/a/2', { limiter: a2 }),
    ]);
    const at = (path: string) => graph.requests.find((r) => r.path === `/v1.0${path}`)?.at as number;
    // Each request waited for its conversation's limiter, and only for that one: b went before a's
    // second request, which a's limiter held back a second (measured where it let go, not on the wire).
    expect(at('/chats/a/1')).toBeGreaterThanOrEqual(a1.grants[0]!);
    expect(at('/chats/a/2')).toBeGreaterThanOrEqual(a2.grants[0]!);
    expect(at('/chats/b/1')).toBeLessThan(at('/chats/a/2'));
    expect(a2.grants[0]! - a1.grants[0]!).toBeGreaterThanOrEqual(1000 - TIMER_SLACK_MS);
  });

  it("a content download's 429 waits on its own: export requests go on meanwhile (issue 22 item 1)", async () => {
    const { http } = graphTestClient(graph.origin);
    let throttled = false;
    graph.handle((req) => {
      if (req.path.endsWith('/$value') && !throttled) {
        throttled = true;
        // Graph's per-conversation limit on hosted contents, with a long Retry-After.
        return { status: 429, headers: { 'Retry-After': '3' }, body: '{"error":{"code":"TooManyRequests"}}' };
      }
      if (req.path.endsWith('/$value')) return png('img');
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"value":[]}' };
    });
    let downloaded = false;
    const download = http.getBytes('/chats/a/messages/1/hostedContents/h/$value', { priority: 'low' }).then((r) => {
      downloaded = true;
      return r;
    });
    while (!throttled) await new Promise((r) => setTimeout(r, 5));
    // An export page asked for after the content's 429: it is not held for the content's Retry-After.
    await http.getJson('/chats/a/messages');
    expect(downloaded).toBe(false);
    expect((await download).bytes.toString()).toBe('img');
  });

  it("a 429 under an API's own budget (Copilot) pauses that budget, not the export's pages (issue 23)", async () => {
    const { http } = graphTestClient(graph.origin);
    let throttled = false;
    graph.handle((req) => {
      if (req.path.includes('/copilot/') && !throttled) {
        throttled = true;
        return { status: 429, headers: { 'Retry-After': '3' }, body: '{"error":{"code":"TooManyRequests"}}' };
      }
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"value":[]}' };
    });
    const copilot = new RateLimiter({ ratePerSec: 1000 });
    let done = false;
    const page = http.getJson('/copilot/users/u1/interactionHistory/getAllEnterpriseInteractions', { limiter: copilot }).then((r) => {
      done = true;
      return r;
    });
    while (!throttled) await new Promise((r) => setTimeout(r, 5));
    // A message page and another Copilot request asked for after the 429: the first goes at once, the
    // second waits for the Copilot budget's pause.
    await http.getJson('/users/u1/chats/getAllMessages');
    expect(done).toBe(false);
    let second = false;
    const next = http.getJson('/copilot/users/u2/interactionHistory/getAllEnterpriseInteractions', { limiter: copilot }).then(() => {
      second = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(second).toBe(false);
    expect((await page).status).toBe(200);
    await next;
  });

  it('retries of one request also wait for the per-conversation limiter', async () => {
    const { http } = graphTestClient(graph.origin);
    const perChat = new ConversationLimiter({ ratePerSec: 5 });
    const limiter = recorded(perChat.forKey('a'));
    graph.enqueue({ status: 500 }, png('ok'));
    await http.getBytes('/chats/a/1', { limiter });
    const [first, second] = graph.requests;
    // One grant per attempt, each before its request; the grants 1/5 s apart (the limiter's own pace).
    expect(limiter.grants).toHaveLength(2);
    expect(first!.at).toBeGreaterThanOrEqual(limiter.grants[0]!);
    expect(second!.at).toBeGreaterThanOrEqual(limiter.grants[1]!);
    expect(limiter.grants[1]! - limiter.grants[0]!).toBeGreaterThanOrEqual(200 - TIMER_SLACK_MS);
  });
});
