// Per-message isolation of rendering (issue 20, "Per-message isolation"; docs/viewer.md, docs/rsmf.md):
// arbitrary chatMessage shapes (wrong field types, lone surrogates, broken card JSON, odd dates, null
// attachments, mentions and reactions, objects whose toString is not a function, huge and deeply
// nested bodies) go through every renderer of archived messages between two ordinary messages. No
// renderer throws, and the ordinary messages are still rendered. TEAMS_EXPORT_PROPERTY_RUNS raises
// the number of cases (default 200), TEAMS_EXPORT_PROPERTY_SEED replays one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { ArchiveContainer } from '../../src/archive/archive-container';
import { NO_NAMES } from '../../src/archive/viewer-names';
import { renderLineText } from '../../src/archive/render-text';
import { buildEventSafely, UNRENDERABLE_BODY } from '../../src/rsmf/message-events';
import { nameBookFrom } from '../../src/rsmf/name-book';
import { buildSlice } from '../../src/rsmf/slice-builder';
import { conversationsOf, groupMessages } from '../../src/viewer/conversation-model';
import { offlineLinks, serverLinks } from '../../src/viewer/links';
import { conversationDayPage, entityPage, searchPage } from '../../src/viewer/pages';

type Json = Record<string, unknown>;

const RUNS = Number(process.env.TEAMS_EXPORT_PROPERTY_RUNS) || 200;
const SEED = Number(process.env.TEAMS_EXPORT_PROPERTY_SEED) || Math.floor(Math.random() * 2 ** 31);

const CHAT = '19:fuzz@thread.v2';
const DAY = '2026-03-02';
const BLOB = `messages/users/u1/2026/03/02/fresh_20260301T000000000Z_20260302T000000000Z_r1_0000.jsonl.gz`;

/** An ordinary message, before and after the hostile ones: it must always be rendered. */
function ordinary(n: number): Json {
  const at = `${DAY}T0${n}:00:00.000Z`;
  return {
    id: `ordinary-${n}`,
    chatId: CHAT,
    etag: at,
    messageType: 'message',
    createdDateTime: at,
    lastModifiedDateTime: at,
    from: { user: { id: 'u-ada', displayName: 'Ada' } },
    body: { contentType: 'html', content: `<p>ordinary text ${n}</p>` },
    attachments: [],
    reactions: [],
  };
}

const MB = 1 << 20;
const fill = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
/** Large hostile bodies, built once: 1 MB ones go through each renderer once, smaller ones in the fuzz. */
const hostileBodies = (size: number) => [
  fill('<div><b><li><span>', size),
  fill(`<customemoji alt="${'a'.repeat(28 * 1024)}`, size),
  fill('<a href="x', size),
  fill('<p>x &amp; <at id="0">y</at></p>', size),
];
const BIG_BODIES = hostileBodies(16 * 1024);

/** A JSON object whose toString and valueOf are not functions: `String(it)` throws. */
const NOT_STRINGABLE = JSON.parse('{"toString":1,"valueOf":1}') as Json;

const odd = fc.constantFrom<unknown>(
  null,
  true,
  0,
  -1,
  1e308,
  '',
  ' ',
  '\ud800',
  'x\udfffy',
  [],
  {},
  [null],
  NOT_STRINGABLE,
  JSON.parse('{"__proto__":{"polluted":1}}'),
  'NaN',
);
const htmlUnit = fc.oneof(
  fc.constantFrom(
    '<',
    '>',
    '"',
    "'",
    '&',
    ';',
    '#',
    '/',
    '=',
    ' ',
    '\n',
    'a',
    '\ud83d',
    '\ude00',
    '😀',
    '\u0000',
    '&#x',
    '&#xD800;',
    '&nbsp;',
    '<p>',
    '</p>',
    '<div>',
    '<customemoji alt="',
    '<at id="0">',
    '</at>',
    '<br>',
    '<img src="',
    '<attachment id="1"></attachment>',
    '<script>',
    '<svg>',
    '<!--',
    'https://graph.microsoft.com/v1.0/chats/c/messages/1/hostedContents/x/$value',
  ),
  fc.string({ unit: 'binary', maxLength: 3 }),
);
const text = fc.oneof(fc.string({ unit: htmlUnit, maxLength: 40 }), fc.string({ maxLength: 20 }));
const anyText = fc.oneof(
  { weight: 4, arbitrary: text },
  { weight: 2, arbitrary: odd },
  { weight: 1, arbitrary: fc.constantFrom(...BIG_BODIES) },
);
const date = fc.oneof(
  fc.constantFrom(
    '2026-03-02T10:00:00Z',
    '2026-02-30T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '-000001-01-01T00:00:00Z',
    'not a date',
    '2026-03-02',
    '',
  ),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  odd,
);
const identity = fc.oneof(
  odd,
  fc.record(
    { user: fc.oneof(odd, fc.record({ id: fc.oneof(text, odd), displayName: fc.oneof(text, odd) }, { requiredKeys: [] })) },
    { requiredKeys: [] },
  ),
  fc.record({ application: fc.record({ id: text, displayName: fc.oneof(text, odd) }) }),
);
const oneOrMany = <T>(a: fc.Arbitrary<T>) => fc.oneof(odd, fc.array(fc.oneof(a, odd), { maxLength: 4 }));
const attachment = fc.record(
  {
    id: fc.oneof(text, odd),
    contentType: fc.oneof(
      fc.constantFrom(
        'reference',
        'application/vnd.microsoft.card.codesnippet',
        'application/vnd.microsoft.card.adaptive',
        'messageReference',
      ),
      odd,
    ),
    contentUrl: fc.oneof(text, odd),
    name: fc.oneof(text, odd),
    // Card JSON: valid, broken, or not a string at all.
    content: fc.oneof(text, odd, fc.constantFrom('{"codeSnippetUrl":', '{"codeSnippetUrl":{"x":1},"language":7}', '[1,2')),
  },
  { requiredKeys: [] },
);
const reaction = fc.record(
  { reactionType: fc.oneof(text, odd), displayName: fc.oneof(text, odd), reactionContentUrl: fc.oneof(text, odd), user: identity },
  { requiredKeys: [] },
);
const hostile = fc.record(
  {
    id: fc.oneof(fc.constantFrom('h1', 'h2'), text, odd),
    chatId: fc.oneof({ weight: 5, arbitrary: fc.constant(CHAT) }, { weight: 1, arbitrary: fc.oneof(text, odd) }),
    channelIdentity: fc.oneof(odd, fc.record({ teamId: fc.oneof(text, odd), channelId: fc.oneof(text, odd) }, { requiredKeys: [] })),
    replyToId: fc.oneof(text, odd),
    etag: fc.oneof(text, odd),
    messageType: fc.oneof(fc.constantFrom('message', 'systemEventMessage', 'unknownFutureValue', 'chatEvent'), odd),
    createdDateTime: date,
    lastModifiedDateTime: date,
    lastEditedDateTime: date,
    deletedDateTime: date,
    subject: anyText,
    importance: fc.oneof(fc.constantFrom('normal', 'high', 'urgent'), odd),
    webUrl: fc.oneof(text, odd),
    from: identity,
    body: fc.oneof(odd, fc.record({ contentType: fc.oneof(fc.constantFrom('html', 'text'), odd), content: anyText }, { requiredKeys: [] })),
    attachments: oneOrMany(attachment),
    mentions: oneOrMany(fc.record({ id: fc.oneof(fc.integer(), odd), mentionText: fc.oneof(text, odd), mentioned: identity })),
    reactions: fc.oneof(
      { weight: 9, arbitrary: oneOrMany(reaction) },
      { weight: 1, arbitrary: fc.constant(Array.from({ length: 3000 }, () => ({ reactionType: 'like' }))) },
    ),
    eventDetail: fc.oneof(
      odd,
      fc.record(
        { '@odata.type': fc.oneof(text, odd), members: oneOrMany(fc.record({ id: fc.oneof(text, odd) })), initiator: identity },
        { requiredKeys: [] },
      ),
    ),
    policyViolation: fc.anything(),
  },
  { requiredKeys: [] },
);

function assertNever(what: string): never {
  throw new Error(`no name for ${what}`);
}

const lineOf = (m: unknown, i: number) => ({ blob: BLOB, lineNo: i + 1, text: JSON.stringify(m) });
const expectOrdinary = (out: string, where: string) => {
  expect(out, where).toContain('ordinary text 1');
  expect(out, where).toContain('ordinary text 2');
};

const tmp = mkdtempSync(join(tmpdir(), 'per-message-rendering-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Reads an RSMF file out of the stream it is stored from: the whole production's output for the slice. */
async function drain(data: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of data) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** The production's second pass over one slice holding these versions (no content entries: no reads). */
async function produce(messages: readonly unknown[], n: number): Promise<{ events: number; text: string }> {
  // A folder per production, as the product has: no two productions share a file name.
  const dir = mkdtempSync(join(tmp, `p${n}-`));
  const file = join(dir, `${n}.spool`);
  writeFileSync(file, messages.map((m) => `V\t${JSON.stringify(m)}\n`).join(''));
  let text = '';
  let events = 0;
  const built = await buildSlice(
    { conversationId: CHAT, conversationKind: 'chat', day: DAY, file, custodians: new Set(['u1']), sources: new Set([BLOB]) },
    {
      // No version names stored content here, so the slice never reads the archive.
      container: undefined as unknown as ArchiveContainer,
      names: nameBookFrom(undefined),
      tmpDir: dir,
      store: async (_name, data) => {
        const bytes = await drain(data);
        text += bytes.toString('latin1');
        return { sha256: '0'.repeat(64), bytes: bytes.length };
      },
    },
  );
  for (const f of built) events += f.events;
  return { events, text };
}

/** Every renderer of archived messages, over the ordinary messages with the hostile ones between them. */
async function renderEverywhere(hostileMessages: readonly Json[], n: number): Promise<void> {
  const messages = [ordinary(1), ...hostileMessages, ordinary(2)];
  const lines = messages.map(lineOf);

  // `teams-export cat --text` and the HTTP reader's format=text: one rendering per line.
  const text = lines.map((l) => renderLineText(l.text)).join('\n');
  expectOrdinary(text, 'cat --text');

  // The viewer's chat-day and channel-day pages.
  const day = { messages: groupMessages(lines), content: new Map(), snippets: new Map() };
  for (const kind of ['user', 'team'] as const) {
    expectOrdinary(conversationDayPage({ links: serverLinks('/'), names: NO_NAMES }, kind, 'u1', CHAT, DAY, day), `viewer ${kind} day`);
  }
  // The entity page and search results list every conversation the lines name.
  const conversations = [...conversationsOf(lines)].map(([id, c]) => ({
    id,
    teamId: c.teamId,
    days: [{ day: DAY, messages: c.messageIds.size }],
  }));
  entityPage({ links: serverLinks('/'), names: NO_NAMES }, 'user', 'u1', { from: DAY, to: DAY }, { days: [DAY], conversations }, []);
  const hits = day.messages.map((m) => ({
    conversationId: m.conversationId,
    day: DAY,
    messageId: m.id,
    createdDateTime: undefined,
    text: 'x',
  }));
  searchPage({ links: serverLinks('/'), names: NO_NAMES }, 'user', 'u1', { from: DAY, to: DAY }, 'x', { hits, truncated: false });

  // `teams-export html`: the same pages with the offline folder's links.
  expectOrdinary(
    conversationDayPage({ links: offlineLinks(2, () => undefined), names: NO_NAMES, offline: true }, 'user', 'u1', CHAT, DAY, day),
    'html export',
  );

  // An RSMF production of the slice: one event per message, the ordinary ones with their text.
  const ids = new Set(messages.map((m) => JSON.stringify(JSON.parse(JSON.stringify(m)).id ?? null)));
  const produced = await produce(messages, n);
  expect(produced.events, 'rsmf events').toBeGreaterThanOrEqual(Math.min(ids.size, 2));
  expectOrdinary(produced.text, 'rsmf');
}

describe('per-message rendering isolation', () => {
  it(`renders every arbitrary message or a placeholder, and the rest goes on (${RUNS} cases, seed ${SEED})`, async () => {
    let n = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(hostile, { minLength: 1, maxLength: 3 }), async (hs) => renderEverywhere(hs, n++)),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(`per-message rendering: ${RUNS} cases, seed ${SEED}, ${Date.now() - started} ms`);
  });

  it('renders megabyte hostile bodies in every renderer in seconds', async () => {
    const started = Date.now();
    const huge = hostileBodies(MB)
      .slice(0, 3)
      .map((content, i) => ({ ...ordinary(3), id: `huge-${i}`, body: { contentType: 'html', content } }));
    await renderEverywhere(huge, -2);
    // Each takes well under a second alone; generous for a loaded 2-core machine.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('renders a message whose fields cannot be turned into text, between ordinary ones', async () => {
    const broken = { ...ordinary(3), id: 'broken', messageType: NOT_STRINGABLE, eventDetail: { '@odata.type': NOT_STRINGABLE } };
    expect(renderLineText(JSON.stringify(broken))).toContain('ordinary text 3');
    const lines = [ordinary(1), broken, ordinary(2)].map(lineOf);
    const page = conversationDayPage({ links: serverLinks('/'), names: NO_NAMES }, 'user', 'u1', CHAT, DAY, {
      messages: groupMessages(lines),
      content: new Map(),
      snippets: new Map(),
    });
    expectOrdinary(page, 'viewer');
    expect(page).toContain('id="m-broken"');
    const produced = await produce([ordinary(1), broken, ordinary(2)], -1);
    expect(produced.events).toBe(3);
    expectOrdinary(produced.text, 'rsmf');
  });
  it('shows a placeholder with the reason where rendering a message fails, and the page goes on', () => {
    const lines = [ordinary(1), { ...ordinary(3), id: 'odd', from: { user: { id: 'u-odd' } } }, ordinary(2)].map(lineOf);
    // A failure inside the renderer (here: the directory lookup for one sender).
    const names = { ...NO_NAMES, user: (id: string) => (id === 'u-odd' ? assertNever(id) : undefined) };
    const page = conversationDayPage({ links: serverLinks('/'), names }, 'user', 'u1', CHAT, DAY, {
      messages: groupMessages(lines),
      content: new Map(),
      snippets: new Map(),
    });
    expectOrdinary(page, 'viewer');
    expect(page).toMatch(
      /<article class="message unrenderable" id="m-odd"><div class="problem">Could not render this message \(Error: no name for u-odd\)/,
    );
    expect(page).toContain('href="/raw/');

    const { event } = buildEventSafely([{ ...ordinary(3), id: 'odd' }], {
      conversation: CHAT,
      contentOf: () => assertNever('content'),
      nameOf: () => undefined,
    });
    expect(event).toMatchObject({ id: 'odd', body: UNRENDERABLE_BODY, timestamp: `${DAY}T03:00:00.000Z` });
    expect(event.custom).toContainEqual({ name: 'Rendering problem', value: 'Error: no name for content' });
  });
});
