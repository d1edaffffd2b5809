import { describe, expect, it } from 'vitest';
import { scanHostedContents } from '../../src/graph/hosted-content-refs';

const G = 'https://graph.microsoft.com';

describe('scanHostedContents', () => {
  it('finds pasted images, custom emoji, custom reactions and code snippets on the Graph origin', () => {
    const img = `${G}/v1.0/chats/19:a@thread.v2/messages/1700/hostedContents/aWQ9eF8w/$value`;
    const emoji = `${G}/v1.0/chats/19:a@thread.v2/messages/1700/hostedContents/ZW1vamk=/$value`;
    const reaction = `${G}/beta/chats/19:a@thread.v2/messages/1700/hostedContents/cmVhY3Q=/$value`;
    const snippet = `${G}/v1.0/teams/t/channels/19:c@thread.tacv2/messages/1/replies/2/hostedContents/c25pcA==/$value`;
    const scan = scanHostedContents(
      {
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
    expect(scan.refs.map((r) => [r.where, r.hostedContentId])).toEqual([
      ['body', 'aWQ9eF8w'],
      ['body', 'ZW1vamk='],
      ['reaction', 'cmVhY3Q='],
      ['attachment', 'c25pcA=='],
    ]);
  });

  it('never offers a URL on another origin for download', () => {
    const scan = scanHostedContents(
      { body: { content: '<img src="https://evil.example/v1.0/chats/c/messages/1/hostedContents/x/$value">' } },
      G,
    );
    expect(scan.refs).toEqual([]);
    expect(scan.foreign).toHaveLength(1);
  });

  it('ignores deleted bodies, ordinary links and repeats', () => {
    const img = `${G}/v1.0/chats/c/messages/1/hostedContents/x/$value`;
    expect(scanHostedContents({ body: { content: null } }, G).refs).toEqual([]);
    expect(scanHostedContents({ body: { content: '<a href="https://contoso.com/x">x</a>' } }, G).refs).toEqual([]);
    expect(scanHostedContents({ body: { content: `<img src="${img}"><img src="${img}">` } }, G).refs).toHaveLength(1);
  });
});
