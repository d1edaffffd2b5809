import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listTeams, listUsers } from '../../src/graph/directory';
import { ForeignOriginError, MalformedResponseError } from '../../src/graph/graph-errors';
import { messageExportPath, messagePages } from '../../src/graph/message-export';
import { MAX_SAME_LINK_REPEATS, pages, type GraphPage } from '../../src/graph/paging';
import { graphTestClient } from '../support/graph-test-client';
import { startHttpsTestServer, type HttpsTestServer, type RecordedRequest } from '../support/https-test-server';

let server: HttpsTestServer;
beforeEach(async () => {
  server = await startHttpsTestServer();
});
afterEach(async () => {
  await server.close();
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** Serves `sizes.length` pages linked by skiptokens; a size of 0 is an empty page that still links on. */
function servePages(sizes: number[], linkFor: (next: number) => string) {
  return (req: RecordedRequest) => {
    const token = /\$skiptoken=(\d+)/.exec(req.url)?.[1];
    const page = token === undefined ? 0 : Number(token);
    const size = sizes[page] ?? 0;
    const value = Array.from({ length: size }, (_, i) => ({ id: `${page}-${i}` }));
    const body: Record<string, unknown> = { '@odata.count': size, value };
    if (page + 1 < sizes.length) body['@odata.nextLink'] = linkFor(page + 1);
    return { status: 200, headers: { 'request-id': `page-${page}` }, body };
  };
}

describe('pages', () => {
  it('follows nextLinks across many pages, empty ones included, and re-sends the headers on every page', async () => {
    const sizes = [3, 0, 0, 2, 0, 5, 1, 0, 4, 0, 0, 2];
    server.handle(servePages(sizes, (n) => `${server.origin}/v1.0/users('u1')/chats/getallMessages?$top=5&$skiptoken=${n}`));
    const { http } = graphTestClient(server.origin);
    const got: GraphPage[] = await collect(
      pages(http, '/users/u1/chats/getAllMessages?$top=5', { headers: { Prefer: 'include-unknown-enum-members' } }),
    );
    expect(got.map((p) => p.items.length)).toEqual(sizes);
    expect(got.map((p) => p.index)).toEqual(sizes.map((_, i) => i));
    expect(got[3]?.requestId).toBe('page-3');
    expect(got.flatMap((p) => p.items)).toHaveLength(sizes.reduce((a, b) => a + b, 0));
    expect(server.requests).toHaveLength(sizes.length);
    expect(server.requests.every((r) => r.headers.prefer === 'include-unknown-enum-members')).toBe(true);
    expect(server.requests[1]?.url).toBe("/v1.0/users('u1')/chats/getallMessages?$top=5&$skiptoken=1");
  });

  it('stops when the nextLink is null', async () => {
    server.enqueue({ status: 200, body: { value: [{ id: 'a' }], '@odata.nextLink': null } });
    const { http } = graphTestClient(server.origin);
    expect(await collect(pages(http, '/x'))).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a nextLink to another origin; that server gets no request and no token', async () => {
    const foreign = await startHttpsTestServer();
    try {
      server.enqueue({ status: 200, body: { value: [{ id: 'a' }], '@odata.nextLink': `${foreign.origin}/v1.0/users?$skiptoken=1` } });
      const { http } = graphTestClient(server.origin);
      const seen: GraphPage[] = [];
      const walk = (async () => {
        for await (const p of pages(http, '/users')) seen.push(p);
      })();
      await expect(walk).rejects.toBeInstanceOf(ForeignOriginError);
      expect(seen).toHaveLength(1);
      expect(foreign.requests).toHaveLength(0);
    } finally {
      await foreign.close();
    }
  });

  it.each([
    ['a body that is not an object', [1, 2]],
    ['a missing value array', { items: [] }],
    ['a value that is not an array', { value: { id: 'a' } }],
    ['a nextLink that is not a string', { value: [], '@odata.nextLink': 42 }],
  ])('rejects %s with MalformedResponseError', async (_name, body) => {
    server.enqueue({ status: 200, headers: { 'request-id': 'env' }, body });
    const { http } = graphTestClient(server.origin);
    const err = await collect(pages(http, '/x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MalformedResponseError);
    expect(err).toMatchObject({ kind: 'fatal', requestId: 'env' });
  });

  it('an empty page that keeps pointing at itself is a loop, not progress (after a few tries)', async () => {
    const self = `${server.origin}/v1.0/x?$skiptoken=same`;
    server.handle(() => ({ status: 200, body: { value: [], '@odata.nextLink': self } }));
    const { http } = graphTestClient(server.origin);
    await expect(collect(pages(http, '/x'))).rejects.toBeInstanceOf(MalformedResponseError);
    expect(server.requests).toHaveLength(MAX_SAME_LINK_REPEATS + 2);
  });

  it('a page with items that points at itself fails at once', async () => {
    const self = `${server.origin}/v1.0/x?$skiptoken=same`;
    server.handle(() => ({ status: 200, body: { value: [{ id: '1' }], '@odata.nextLink': self } }));
    const { http } = graphTestClient(server.origin);
    await expect(collect(pages(http, '/x'))).rejects.toBeInstanceOf(MalformedResponseError);
    expect(server.requests).toHaveLength(2);
  });

  it('an empty page may repeat its link once and paging goes on', async () => {
    const self = `${server.origin}/v1.0/x?$skiptoken=same`;
    let n = 0;
    server.handle(() =>
      ++n < 3 ? { status: 200, body: { value: [], '@odata.nextLink': self } } : { status: 200, body: { value: [{ id: 'a' }] } },
    );
    const { http } = graphTestClient(server.origin);
    const got = await collect(pages(http, '/x'));
    expect(got.flatMap((p) => p.items)).toEqual([{ id: 'a' }]);
  });
});

describe('messagePages', () => {
  it('requests the export path for the window and sends the Prefer header on every page', async () => {
    server.handle(servePages([2, 0, 1], (n) => `${server.origin}/v1.0/teams/t1/channels/getAllMessages?$skiptoken=${n}`));
    const { http } = graphTestClient(server.origin);
    const entity = { kind: 'team' as const, id: 't1' };
    const window = { fromMs: Date.parse('2024-01-01T00:00:00Z'), toMs: Date.parse('2024-01-02T00:00:00Z') };
    const got = await collect(messagePages(http, entity, window, { top: 50 }));
    expect(got.map((p) => p.items.length)).toEqual([2, 0, 1]);
    expect(`/v1.0${messageExportPath(entity, window, 50)}`).toBe(server.requests[0]?.url);
    expect(server.requests.map((r) => r.headers.prefer)).toEqual(Array(3).fill('include-unknown-enum-members'));
  });
});

describe('directory', () => {
  it('lists every user across pages with the documented $select, turning nulls into absent fields', async () => {
    server.enqueue(
      {
        status: 200,
        body: {
          value: [{ id: 'u1', displayName: 'Ada', userPrincipalName: 'ada@x', accountEnabled: true, userType: 'Member' }],
          '@odata.nextLink': `${server.origin}/v1.0/users?$skiptoken=2`,
        },
      },
      { status: 200, body: { value: [{ id: 'u2', displayName: null, accountEnabled: false, userType: null, mail: 'extra@x' }] } },
    );
    const { http } = graphTestClient(server.origin);
    const users = await collect(listUsers(http));
    expect(users.map((u) => u.id)).toEqual(['u1', 'u2']);
    expect(users[1]?.displayName).toBeUndefined();
    expect(users[1]?.accountEnabled).toBe(false);
    const first = new URL(server.origin + (server.requests[0]?.url ?? ''));
    expect(first.pathname).toBe('/v1.0/users');
    expect(first.searchParams.get('$select')).toBe('id,displayName,userPrincipalName,accountEnabled,userType');
    expect(first.searchParams.get('$top')).toBe('999');
  });

  it('fails the listing when a team has no id rather than silently dropping it', async () => {
    server.enqueue({ status: 200, body: { value: [{ id: 't1', displayName: 'One' }, { displayName: 'No id' }] } });
    const { http } = graphTestClient(server.origin);
    const seen: string[] = [];
    const walk = (async () => {
      for await (const t of listTeams(http)) seen.push(t.id);
    })();
    await expect(walk).rejects.toBeInstanceOf(MalformedResponseError);
    expect(seen).toEqual(['t1']);
    expect(server.requests[0]?.url).toBe('/v1.0/teams?$select=id,displayName&$top=100');
  });
});
