import { describe, expect, it } from 'vitest';
import { scanHostedContents } from '../../src/graph/hosted-content-refs';

const G = 'https://graph.microsoft.com';

describe('scanHostedContents', () => {
  const chat = { id: '1700', chatId: '19:a@thread.v2' };
  it("finds a message's own pasted images, custom emoji, custom reactions and code snippets on the Graph origin", () => {
    const img = `${G}/v1.0/chats/19:a@thread.v2/messages/1700/hostedContents/aWQ9eF8w/$value`;
    const emoji = `${G}/v1.0/chats/19%3Aa%40thread.v2/messages/1700/hostedContents/ZW1vamk=/$value`;
    const reaction = `${G}/beta/chats/19:a@thread.v2/messages/1700/hostedContents/cmVhY3Q=/$value`;
    const snippet = `${G}/v1.0/users/u/chats/19:a@thread.v2/messages/1700/hostedContents/c25pcA==/$value`;
    const scan = scanHostedContents(
      {
        ...chat,
        body: {
          contentType: 'html',
          content: `<p>look <img src="${img}" width="100"> <customemoji id="x" alt="party" source="${emoji}"></customemoji></p>`,
        },
        reactions: [{ reactionType: 'custom', reactionContentUrl: reaction }],
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.codesnippet',
            content: JSON.stringify({ codeSnippetUrl: snippet, language: 'ts' }),
          },
        ],
      },
      G,
    );
    expect(scan.foreign).toEqual([]);
    expect(scan.otherMessage).toEqual([]);
    const own = (id: string) => `/chats/19%3Aa%40thread.v2/messages/1700/hostedContents/${encodeURIComponent(id)}/$value`;
    expect(scan.refs.map((r) => [r.where, r.hostedContentId, r.path])).toEqual([
      ['body', 'aWQ9eF8w', own('aWQ9eF8w')],
      ['body', 'ZW1vamk=', own('ZW1vamk=')],
      ['reaction', 'cmVhY3Q=', own('cmVhY3Q=')],
      ['attachment', 'c25pcA==', own('c25pcA==')],
    ]);
  });

  it("builds a channel post's and a reply's requests from their own team, channel and parent", () => {
    const channel = { teamId: 'T1', channelId: '19:c@thread.tacv2' };
    const post = `${G}/v1.0/teams/t1/channels/19:c@thread.tacv2/messages/1/hostedContents/x/$value`;
    expect(scanHostedContents({ id: '1', channelIdentity: channel, body: { content: `<img src="${post}">` } }, G).refs[0]?.path).toBe(
      '/teams/T1/channels/19%3Ac%40thread.tacv2/messages/1/hostedContents/x/$value',
    );
    const reply = `${G}/v1.0/teams/T1/channels/19:c@thread.tacv2/messages/1/replies/2/hostedContents/y/$value`;
    const short = `${G}/v1.0/teams/T1/channels/19:c@thread.tacv2/messages/2/hostedContents/z/$value`;
    const scan = scanHostedContents(
      { id: '2', replyToId: '1', channelIdentity: channel, body: { content: `<img src="${reply}"><img src="${short}">` } },
      G,
    );
    expect(scan.refs.map((r) => r.path)).toEqual([
      '/teams/T1/channels/19%3Ac%40thread.tacv2/messages/1/replies/2/hostedContents/y/$value',
      '/teams/T1/channels/19%3Ac%40thread.tacv2/messages/1/replies/2/hostedContents/z/$value',
    ]);
  });

  it("reports links to another conversation's or message's hosted content as foreign, never to fetch (issue 22)", () => {
    const links = [
      `${G}/v1.0/chats/19:other@thread.v2/messages/1700/hostedContents/a/$value`,
      `${G}/v1.0/chats/19:a@thread.v2/messages/1699/hostedContents/b/$value`,
      `${G}/v1.0/teams/t/channels/19:a@thread.v2/messages/1700/hostedContents/c/$value`,
    ];
    const scan = scanHostedContents({ ...chat, body: { content: links.map((l) => `<img src="${l}">`).join('') } }, G);
    expect(scan.refs).toEqual([]);
    expect(scan.otherMessage.map((r) => [r.hostedContentId, r.reason])).toEqual([
      ['a', 'names another conversation'],
      ['b', 'names another message'],
      ['c', 'names another conversation'],
    ]);
  });

  it('never offers a URL on another origin for download', () => {
    const scan = scanHostedContents(
      { ...chat, body: { content: '<img src="https://evil.example/v1.0/chats/19:a@thread.v2/messages/1700/hostedContents/x/$value">' } },
      G,
    );
    expect(scan.refs).toEqual([]);
    expect(scan.foreign).toHaveLength(1);
  });

  it('ignores deleted bodies, ordinary links and repeats', () => {
    const img = `${G}/v1.0/chats/19:a@thread.v2/messages/1700/hostedContents/x/$value`;
    expect(scanHostedContents({ ...chat, body: { content: null } }, G).refs).toEqual([]);
    expect(scanHostedContents({ ...chat, body: { content: '<a href="https://contoso.com/x">x</a>' } }, G).refs).toEqual([]);
    expect(scanHostedContents({ ...chat, body: { content: `<img src="${img}"><img src="${img}">` } }, G).refs).toHaveLength(1);
  });
});

describe('scanHostedContents on hostile messages (issue 20, defect 0)', () => {
  const link = (id: string) => `${G}/v1.0/chats/c/messages/1/hostedContents/${id}/$value`;
  const own = { id: '1', chatId: 'c' };
  const lone = '\uD800';
  const shapes: unknown[] = [
    null,
    undefined,
    42,
    'a string',
    [],
    [null, 1],
    { body: 7 },
    { body: { content: 7 } },
    { body: { content: ['hostedContents'] } },
    { body: null, reactions: 'x', attachments: { length: 3 } },
    { reactions: [null, 1, 'x', { reactionContentUrl: 5 }, { reactionContentUrl: link('%FF') }] },
    { attachments: [null, 3, { content: 9 }, { content: `{"codeSnippetUrl":"${link('%E0%A4%A')}"` }] },
    { ...own, body: { content: `<img src="${link('%FF')}"><img src="${link('%ED%A0%80')}"><img src="${link('')}">` } },
    { body: { content: `<img src="${link(lone)}"><img src="https://${lone}/hostedContents/x/$value"> ${lone}` } },
    { body: { content: `<img src="http://[bad/hostedContents/x/$value">` } },
    {
      body: { content: `hostedContents ${'https://'.repeat(200_000)}` },
      attachments: [{ content: `hostedContents ${'https://'.repeat(200_000)}` }],
    },
    { ...own, body: { content: `<img src="${link('a')}?${'x'.repeat(20_000)}">` } },
    { ...own, body: { content: Array.from({ length: 5000 }, (_, i) => `<img src="${link(`i${i}`)}">`).join('') } },
  ];

  it('never throws, and records what it cannot understand instead of offering it for download', () => {
    for (const m of shapes) {
      const started = Date.now();
      const scan = scanHostedContents(m, G);
      expect(Date.now() - started).toBeLessThan(2000);
      for (const r of scan.refs) expect(r.hostedContentId).not.toMatch(/%/);
    }
    const bad = scanHostedContents(shapes[12], G);
    expect(bad.refs).toEqual([]);
    expect(bad.unreadable.map((u) => u.reason)).toEqual([
      'hostedContents id is not valid percent-encoded UTF-8',
      'hostedContents id is not valid percent-encoded UTF-8',
    ]);
    expect(scanHostedContents(shapes[16], G).unreadable[0]?.reason).toMatch(/longer than/);
    const many = scanHostedContents(shapes[17], G);
    expect(many.refs).toHaveLength(200);
    expect(many.unreadable).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^4800 more links not examined/) })]);
  });
});
