// Names of the files the viewer writes or hands out, for any name a sender can choose, and every
// content-map value a page prints, escaped even when the map was tampered with (docs/viewer.md,
// "Files that cannot run").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContentMapEntry } from '../../src/archive/archive-browser';
import { NO_NAMES } from '../../src/archive/viewer-names';
import { groupMessages } from '../../src/viewer/conversation-model';
import { INERT_EXTENSIONS } from '../../src/viewer/file-names';
import { offlineContentFile, offlineLinks, serverLinks } from '../../src/viewer/links';
import { conversationDayPage } from '../../src/viewer/pages';

const SHA = 'a'.repeat(64);
const CHAT = '19:chat@thread.v2';

describe('offline attachment names', () => {
  const saved = (name: string) => {
    const file = offlineContentFile(SHA, 'application/octet-stream', name);
    expect(file.startsWith(`files/${SHA}/`), file).toBe(true);
    return file.slice(`files/${SHA}/`.length);
  };

  it('keep only inert extensions; anything else gets .bin', () => {
    expect(saved('Quarterly report.PDF')).toBe('Quarterly report.PDF');
    expect(saved('scan.tiff')).toBe('scan.tiff');
    expect(saved('deck.pptx')).toBe('deck.pptx');
    for (const name of ['x.html', 'x.htm', 'x.svg', 'x.hta', 'x.docm', 'x.xlsm', 'x.doc', 'x.rtf', 'x.lnk', 'x.js', 'x.zip', 'x.csv', 'x'])
      expect(saved(name), name).toBe(`${name}.bin`);
  });

  it('never name a Windows device, whatever the case or extension', () => {
    for (const name of ['CON', 'con', 'Prn.txt', 'AUX.pdf', 'nul', 'NUL.tar.gz', 'COM1', 'com9.log', 'LPT1', 'lpt³.txt', 'con .txt'])
      expect(saved(name), name).toMatch(/^_/);
    // Names that only start like one are left alone.
    expect(saved('console.txt')).toBe('console.txt');
    expect(saved('COM10.txt')).toBe('COM10.txt');
  });

  it('drop trailing dots and spaces, which Windows would strip into a runnable name', () => {
    expect(saved('invoice.hta.')).toBe('invoice.hta.bin');
    expect(saved('invoice.hta . . ')).toBe('invoice.hta.bin');
    expect(saved('report.pdf...')).toBe('report.pdf');
  });

  it('hold for any name: safe characters, no device, no trailing dot or space, inert or .bin, short', () => {
    const names = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .tuple(
          fc.constantFrom('con', 'NUL', 'com1', 'Lpt9', 'a', '', '.', '..'),
          fc.constantFrom('', '.', '. ', ' .', '.txt', '.pdf ', '.hta.', '.HTML', '.exe...'),
          fc.string({ maxLength: 3 }),
        )
        .map(([a, b, c]) => a + b + c),
    );
    fc.assert(
      fc.property(names, (name) => {
        const s = saved(name);
        expect(s).toMatch(/^[\p{L}\p{N} ._()-]+$/u);
        expect(s).not.toMatch(/^[. ]|[. ]$/);
        expect(s).not.toMatch(/^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]) *(\.|$)/i);
        expect(s.length).toBeLessThanOrEqual(120);
        const ext = /\.([^.]*)$/.exec(s)?.[1]?.toLowerCase() ?? '';
        expect(ext === 'bin' || INERT_EXTENSIONS.has(ext), s).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('content-map values on a page', () => {
  const message = {
    id: 'm1',
    chatId: CHAT,
    etag: '1',
    messageType: 'message',
    createdDateTime: '2026-03-02T09:00:00.000Z',
    lastModifiedDateTime: '2026-03-02T09:00:00.000Z',
    from: { user: { id: 'u1', displayName: 'Ada' } },
    body: {
      contentType: 'html',
      content: '<p>see <img src="https://graph.microsoft.com/v1.0/chats/c/messages/m1/hostedContents/h1/$value"></p>',
    },
    reactions: [],
    attachments: [
      { id: 'a1', contentType: 'reference', contentUrl: 'https://x/1', name: 'one.pdf' },
      { id: 'a2', contentType: 'reference', contentUrl: 'https://x/2', name: 'two.pdf' },
    ],
  };
  const messages = groupMessages([{ blob: 'b', lineNo: 1, text: JSON.stringify(message) }]);
  // What a content map altered in storage could hand the renderer: markup where numbers and hashes belong.
  const hostile = '"><img src=x onerror=alert(1)>';
  const entries = [
    { messageId: 'm1', kind: 'file', ref: 'https://x/1', name: 'one.pdf', status: 'stored', sha256: SHA, bytes: hostile },
    { messageId: 'm1', kind: 'file', ref: 'https://x/2', name: 'two.pdf', status: 'stored', sha256: `../${hostile}`, bytes: 5 },
    { messageId: 'm1', kind: 'hostedContent', ref: 'h1', status: 'stored', sha256: hostile, contentType: hostile },
  ] as unknown as ContentMapEntry[];

  for (const [label, links] of [
    ['server', serverLinks('/')],
    ['offline', offlineLinks(2, () => undefined)],
  ] as const) {
    it(`prints none of them raw (${label})`, () => {
      const html = conversationDayPage({ links, names: NO_NAMES }, 'user', 'u1', CHAT, '2026-03-02', {
        messages,
        content: new Map([['m1', entries]]),
        snippets: new Map(),
      });
      expect(html).not.toContain('<img src=x');
      expect(html).not.toContain('onerror');
      // The file with a real hash is linked with its size unknown; the others are not linked at all.
      expect(html).toMatch(/download>one\.pdf<\/a> <span class="meta">\? bytes<\/span>/);
      expect(html).toContain('two.pdf <span class="meta">(not in the archive)</span>');
      expect(html).toContain('[image not in the archive]');
    });
  }
});
