// Issue 20, "tests that enumerate": arbitrary chatMessage shapes through the real export path (the
// emulator over HTTPS, Azurite, the product's own run): hostile and malformed HTML bodies, broken
// percent-escapes in hostedContents links, cards with broken JSON, odd attachment URLs and names, lone
// surrogates, megabyte bodies, thousands of reactions, wrong types in fields. Whatever a participant
// posts, the run succeeds, every served version is archived exactly once and exactly as served, and
// every entity's checkpoint moves (docs/design.md §10, per-message isolation).
//
// TEAMS_EXPORT_PROPERTY_RUNS (default 8) and TEAMS_EXPORT_PROPERTY_SEED pick how many cases and which.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityPrefix } from '../../src/archive/blob-layout';
import { listBatches, readBatchLines } from '../../src/archive/batch-reader';
import { versionKeyFromLine } from '../../src/graph/message-schema';
import type { Entity } from '../../src/model/entity';
import { DAY, HOUR, MINUTE, utcDay } from '../../src/time';
import { startHarness, type Harness } from '../support/harness';
import { ownAzurite } from '../support/storage';

const RUNS = Number(process.env.TEAMS_EXPORT_PROPERTY_RUNS ?? 8);
const SEED = process.env.TEAMS_EXPORT_PROPERTY_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.TEAMS_EXPORT_PROPERTY_SEED);
const LAG = 5 * MINUTE;

const LONE = ['\uD800', '\uDFFF', 'a\uDC00b', '\uD83D'];
const ESCAPES = ['%FF', '%ED%A0%80', 'a%2', '%', '%E0%A4%A', '%C0%AF', '%00', 'aWQ9eF8w', '', '..%2F..', '\uD800', 'ok%20id'];

/** A string a sender could write: ordinary text, markup, escapes, lone surrogates. */
const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(...LONE, '<', '"', "'", '&amp;', '&#0;', '\u0000', '%FF', 'hostedContents', '$value', '\\', '😀'),
);

interface Ctx {
  base: string;
  chatId: string;
  otherChatId: string;
  messageId: string;
}

function hostedLink(ctx: Ctx, kind: string, id: string): string {
  switch (kind) {
    case 'own':
      return `${ctx.base}/chats/${ctx.chatId}/messages/${ctx.messageId}/hostedContents/${id}/$value`;
    case 'otherChat':
      return `${ctx.base}/chats/${ctx.otherChatId}/messages/${ctx.messageId}/hostedContents/${id}/$value`;
    case 'otherOrigin':
      return `https://evil.example/v1.0/chats/${ctx.chatId}/messages/1/hostedContents/${id}/$value`;
    case 'relative':
      return `/v1.0/chats/${ctx.chatId}/messages/1/hostedContents/${id}/$value`;
    case 'badUrl':
      return `https://[${id}/hostedContents/${id}/$value`;
    default:
      return `${ctx.base}/chats/${encodeURIComponent(ctx.chatId)}/messages/x/replies/${id}/hostedContents/${id}/$value`;
  }
}

const link = fc.record({
  kind: fc.constantFrom('own', 'otherChat', 'otherOrigin', 'relative', 'badUrl', 'replyForm'),
  id: fc.oneof(fc.constantFrom(...ESCAPES), text),
});

/** Builds the message's raw properties once its conversation and id are known (links name them). */
type Shape = (ctx: Ctx) => Record<string, unknown>;

const htmlBody: fc.Arbitrary<(ctx: Ctx) => string> = fc
  .array(
    fc.oneof(
      link.map((l) => (ctx: Ctx) => `<img src="${hostedLink(ctx, l.kind, l.id)}" width="1">`),
      link.map((l) => (ctx: Ctx) => `<customemoji source="${hostedLink(ctx, l.kind, l.id)}"></customemoji>`),
      link.map((l) => (ctx: Ctx) => `<a href='${hostedLink(ctx, l.kind, l.id)}'>x</a><img src=${hostedLink(ctx, l.kind, l.id)}>`),
      text.map((t) => () => `<p>${t}</p>`),
      fc
        .constantFrom(
          '<img src="',
          '<img src="hostedContents/$value',
          '<script>alert(1)</script>',
          '<<<>>>"',
          '<at id="0">',
          '</div></div></body>',
          '<img src="&quot;hostedContents/&amp;/$value&quot;">',
          '<attachment id="\uD800"></attachment>',
        )
        .map((t) => () => t),
    ),
    { maxLength: 8 },
  )
  .map((parts) => (ctx: Ctx) => parts.map((p) => p(ctx)).join(''));

const body: fc.Arbitrary<(ctx: Ctx) => unknown> = fc.oneof(
  { weight: 6, arbitrary: htmlBody.map((h) => (ctx: Ctx) => ({ contentType: 'html', content: h(ctx) })) },
  { weight: 1, arbitrary: fc.constantFrom(null, 5, 'a string', [], { content: 7 }, { content: ['hostedContents'] }).map((b) => () => b) },
  {
    weight: 1,
    // Megabyte bodies: a long hostile tail after some links.
    arbitrary: fc
      .tuple(htmlBody, fc.constantFrom('https://', '<img src="', 'hostedContents/', 'a', '\uD800'))
      .map(([h, unit]) => (ctx: Ctx) => ({
        contentType: 'html',
        content: `${h(ctx)}${unit.repeat(Math.ceil((1024 * 1024) / unit.length))}`,
      })),
  },
);

const attachment: fc.Arbitrary<(ctx: Ctx) => unknown> = fc.oneof(
  fc
    .record({
      contentUrl: fc.oneof(
        fc.constantFrom(
          'not a url',
          '',
          'javascript:alert(1)',
          'https://contoso.sharepoint.com/sites/x/Shared%20Documents/a.docx',
          'https://contoso.sharepoint.com/%FF/\uD800.docx',
          'file:///etc/passwd',
          `https://contoso.sharepoint.com/${'a'.repeat(5000)}`,
          'http://127.0.0.1:1/x',
        ),
        text,
        fc.constantFrom(5, null, {}, []),
      ),
      name: fc.oneof(text, fc.constantFrom('../../etc/passwd', 'con.txt', 'a'.repeat(10_000), null, 7, '')),
      id: fc.oneof(text, fc.constantFrom(null, 3)),
    })
    .map((a) => () => ({ ...a, contentType: 'reference' })),
  fc
    .oneof(
      link.map((l) => (ctx: Ctx) => JSON.stringify({ codeSnippetUrl: hostedLink(ctx, l.kind, l.id) })),
      link.map((l) => (ctx: Ctx) => `{"codeSnippetUrl":"${hostedLink(ctx, l.kind, l.id)}`),
      fc.constantFrom('{"a":', '{', 'null', '[]', '"\uD800"', '{"body":[{"type":"TextBlock","text":').map((c) => () => c),
    )
    .map((content) => (ctx: Ctx) => ({ id: 'card', contentType: 'application/vnd.microsoft.card.codesnippet', content: content(ctx) })),
  fc.constantFrom(null, 3, 'x', [], { contentType: 5, content: {} }).map((a) => () => a),
);

const reactions: fc.Arbitrary<(ctx: Ctx) => unknown> = fc.oneof(
  fc
    .array(
      fc.oneof(
        link.map((l) => (ctx: Ctx) => ({ reactionType: 'custom', reactionContentUrl: hostedLink(ctx, l.kind, l.id) })),
        fc.constantFrom(null, 1, 'like', { reactionContentUrl: 5 }, { reactionType: [] }).map((r) => () => r),
      ),
      { maxLength: 6 },
    )
    .map((rs) => (ctx: Ctx) => rs.map((r) => r(ctx))),
  // Thousands of reactions, some with links of their own.
  fc.tuple(fc.integer({ min: 1000, max: 5000 }), link).map(
    ([n, l]) =>
      (ctx: Ctx) =>
        Array.from({ length: n }, (_, i) => ({
          reactionType: i % 7 === 0 ? 'custom' : 'like',
          reactionContentUrl: i % 7 === 0 ? hostedLink(ctx, l.kind, `${l.id}${i}`) : null,
          user: { user: { id: String(i) } },
        })),
  ),
  fc.constantFrom('x', null, {}, 7).map((r) => () => r),
);

/** Fields whose type a client might trust: any of them may come wrong. */
const oddFields = fc.record(
  {
    createdDateTime: fc.constantFrom('garbage', 5, null, '0000-00-00T00:00:00Z'),
    replyToId: fc.constantFrom(5, '', '\uD800', null),
    messageType: fc.constantFrom(5, 'systemEventMessage', null, 'unknownFutureValue'),
    from: fc.constantFrom(null, 'x', { user: 5 }, { application: { id: [] } }),
    subject: fc.oneof(text, fc.constantFrom(5, {})),
    mentions: fc.constantFrom('x', [null], [{ mentioned: 5 }]),
    eventDetail: fc.constantFrom([], 'x', { '@odata.type': 5 }),
    deletedDateTime: fc.constantFrom('x', 5),
    webUrl: fc.oneof(text, fc.constantFrom('%FF')),
  },
  { requiredKeys: [] },
);

const shape: fc.Arbitrary<Shape> = fc
  .record({
    body,
    attachments: fc.oneof(
      { weight: 4, arbitrary: fc.array(attachment, { maxLength: 4 }).map((as) => (ctx: Ctx) => as.map((a) => a(ctx))) },
      { weight: 1, arbitrary: fc.constantFrom('x', null, 5, {}).map((a) => () => a) },
    ),
    reactions,
    odd: oddFields,
  })
  .map((s) => (ctx: Ctx) => ({ body: s.body(ctx), attachments: s.attachments(ctx), reactions: s.reactions(ctx), ...s.odd }));

const testCase = fc.record({
  messages: fc.array(fc.record({ where: fc.constantFrom('chat', 'channel'), shape }), { minLength: 1, maxLength: 3 }),
  edit: fc.option(shape, { nil: undefined }),
});

// Its own Azurite: the most storage-hungry files keep the shared one small (support/storage.ts).
ownAzurite();

describe('arbitrary message shapes through the real export path', () => {
  let h: Harness;
  // Each case's run is an hour after the last; all of them lie in the past.
  const start = Date.now() - 60 * DAY;
  beforeAll(async () => {
    h = await startHarness({
      label: 'message-shapes',
      tenant: {
        seed: 11,
        users: 3,
        teams: 1,
        channelsPerTeam: 1,
        oneOnOneChats: 2,
        groupChats: 0,
        meetingChats: 0,
        messagesPerChat: 2,
        postsPerChannel: 2,
        repliesPerPost: 0,
        historyDays: 2,
        endMs: start - DAY,
      },
      env: { EXPORT_ATTACHMENTS: 'true', GRAPH_MAX_RETRIES: '1' },
    });
    expect((await h.daily(start)).status).toBe('succeeded');
  });
  afterAll(() => h?.close());

  it(`archives every version exactly once and moves every checkpoint (${RUNS} cases, seed ${SEED})`, { timeout: 0 }, async () => {
    const tenant = h.emulator.tenant;
    const [chat, otherChat] = tenant.chats as [(typeof tenant.chats)[0], (typeof tenant.chats)[0]];
    expect(otherChat).toBeDefined();
    const team = tenant.teams[0]!;
    const channel = team.channels[0]!;
    const entities: Entity[] = h.entities().filter((e) => e.kind === 'team' || tenant.user(e.id)?.hasTeamsData);
    let caseNo = 0;
    const started = Date.now();
    let versions = 0;

    await fc.assert(
      fc.asyncProperty(testCase, async (c) => {
        caseNo++;
        const now = start + caseNo * HOUR;
        const prev = now - HOUR - LAG;
        const posted: Array<{ conversationId: string; id: string }> = [];
        c.messages.forEach((m, i) => {
          const at = now - 40 * MINUTE + i * MINUTE;
          const target = m.where === 'chat' ? { chatId: chat.id } : { teamId: team.id, channelId: channel.id };
          const conversationId = m.where === 'chat' ? chat.id : channel.id;
          // The id is the posting instant (bumped on collision): the links can name the message itself.
          const ctx = { base: h.emulator.graphBaseUrl, chatId: conversationId, otherChatId: otherChat.id, messageId: String(at) };
          const id = tenant.postRaw(target, m.shape(ctx), { atMs: at });
          posted.push({ conversationId, id });
        });
        if (c.edit) {
          const p = posted[0]!;
          const ctx = { base: h.emulator.graphBaseUrl, chatId: p.conversationId, otherChatId: otherChat.id, messageId: p.id };
          tenant.editRaw(p.conversationId, p.id, c.edit(ctx), now - 10 * MINUTE);
        }

        const outcome = await h.daily(now);
        expect(outcome.status, outcome.error).toBe('succeeded');
        let expectedNew = 0;
        for (const entity of entities) {
          const served = tenant.currentVersions(entity, { fromMs: prev, toMs: now - LAG });
          expectedNew += served.length;
          // Each served version once in its entity's day folder, line for line as served.
          const days = new Set(served.map((v) => utcDay(v.lastModifiedMs)));
          const archived = new Map<string, string[]>();
          for (const day of days) {
            for await (const b of listBatches(h.deps.container, `${entityPrefix(entity)}${day.replaceAll('-', '/')}/`)) {
              for await (const line of readBatchLines(h.deps.container, b.name)) {
                const key = versionKeyFromLine(line) ?? 'unparseable';
                archived.set(key, [...(archived.get(key) ?? []), line]);
              }
            }
          }
          for (const v of served) {
            const lines = archived.get(v.key) ?? [];
            expect(lines, `${entity.kind} ${v.key}`).toHaveLength(1);
            expect(JSON.parse(lines[0]!)).toEqual(v.message);
          }
          expect((await h.deps.checkpoints.get(entity))?.freshWatermarkMs, `${entity.kind} watermark`).toBe(now - LAG);
        }
        expect(outcome.progress.messages).toBe(expectedNew);
        versions += expectedNew;
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(
      `message shapes: ${caseNo} cases, seed ${SEED}, ${versions} versions archived, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });
});
