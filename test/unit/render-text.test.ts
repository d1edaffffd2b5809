import { describe, expect, it } from 'vitest';
import { htmlToText, renderLineText, renderMessageText } from '../../src/archive/render-text';

describe('readable text', () => {
  it('turns HTML bodies into plain text with mentions, entities and images', () => {
    expect(htmlToText('<p>Hi <at id="0">Adele</at> &amp; team&nbsp;&#x1F600;</p><p>line 2<br>line 3</p><img src="x">')).toBe(
      'Hi Adele & team 😀\nline 2\nline 3\n[image]',
    );
  });

  it('keeps custom emoji by name, drops code and empty attachment placeholders, keeps stray angle brackets', () => {
    expect(
      htmlToText(
        '<div>party<customemoji id="p" alt="parrot &amp; co" source="https://x"></customemoji> time</div><attachment id="1"> </attachment>' +
          '<ul><li>one</li><li>two</li></ul><script>alert(1)</script><style>p{}</style><p>1 < 2 &copy;</p>\n\n\n\n<p>end  </p>',
      ),
    ).toBe('partyparrot & co time\n• one\n• two\n1 < 2 ©\n\nend');
  });

  it('shows standard emoji, and the older emoji images, by their alt text; other images as [image]', () => {
    expect(
      htmlToText(
        '<p>ok <emoji id="cool" alt="😎" title="Cool"></emoji> and ' +
          '<img alt="😁" itemtype="http://schema.skype.com/Emoji" src="https://statics.teams.microsoft.com/x.png"> ' +
          '<img alt="chart" itemtype="http://schema.skype.com/AMSImage" src="https://x"></p>',
      ),
    ).toBe('ok 😎 and 😁 [image]');
  });

  it('renders a megabyte of hostile HTML in linear time', () => {
    const MB = 1 << 20;
    const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
    const hostile = {
      // A 28 KB unclosed custom emoji tag, repeated: the old regex chain took seconds on one.
      unclosedEmoji: fill(`<customemoji alt="${'a'.repeat(28 * 1024)}`),
      deepNesting: fill('<div><b><li><span>'),
      unclosedQuotes: fill('<a href="x'),
      emojiPatterns: fill('<customemoji alt="x" <img '),
      spaces: fill(`<p>${' '.repeat(4096)}`),
      mixed: fill('<p>text &amp; <b>bold <at id="0">someone</at></p><br><attachment id="1"></attachment>'),
    };
    for (const [name, body] of Object.entries(hostile)) {
      const started = performance.now();
      const text = htmlToText(body);
      const ms = performance.now() - started;
      // Well under a second alone; the bound is generous for a loaded 2-core machine.
      expect(ms, `${name}: ${ms.toFixed(0)} ms`).toBeLessThan(5000);
      expect(typeof text).toBe('string');
    }
    expect(htmlToText(hostile.mixed).startsWith('text & bold someone\n')).toBe(true);
  });

  it('shows time, conversation, sender, edits, reactions and attachments by name', () => {
    const text = renderMessageText({
      id: '1',
      chatId: '19:abc@thread.v2',
      createdDateTime: '2024-05-01T10:22:03.123Z',
      lastEditedDateTime: '2024-05-01T11:00:00Z',
      messageType: 'message',
      from: { user: { id: 'u1', displayName: 'Adele Vance' } },
      body: { contentType: 'html', content: '<p>see the <b>sheet</b></p>' },
      reactions: [{ reactionType: '👍' }, { reactionType: 'heart' }],
      attachments: [{ contentType: 'reference', name: 'Budget.xlsx', contentUrl: 'https://contoso.sharepoint.com/x' }],
    });
    expect(text.split('\n')).toEqual([
      '[2024-05-01 10:22:03 UTC] chat 19:abc@thread.v2 · Adele Vance (edited 2024-05-01 11:00:00 UTC; reactions 👍 heart)',
      '  see the sheet',
      '  [attachment reference: Budget.xlsx]',
    ]);
  });

  it('marks deleted messages and system events, and channel replies', () => {
    const deleted = renderMessageText({
      id: '2',
      channelIdentity: { teamId: 't', channelId: '19:gen@thread.tacv2' },
      replyToId: '1',
      createdDateTime: '2024-05-01T10:00:00Z',
      deletedDateTime: '2024-05-02T10:00:00Z',
      from: null,
      body: { contentType: 'text', content: null },
    });
    expect(deleted).toContain('channel 19:gen@thread.tacv2 reply to 1');
    expect(deleted).toContain('deleted 2024-05-02 10:00:00 UTC');
    expect(deleted).toContain('[message deleted]');
    const event = renderMessageText({
      id: '3',
      chatId: 'c',
      createdDateTime: '2024-05-01T10:00:00Z',
      messageType: 'systemEventMessage',
      body: { contentType: 'html', content: '<systemEventMessage/>' },
      eventDetail: { '@odata.type': '#microsoft.graph.membersAddedEventMessageDetail' },
    });
    expect(event).toContain('· system (systemEventMessage)');
    expect(event).toContain('[event membersAddedEventMessageDetail]');
  });

  it('shows a line that is not a message as such, without failing', () => {
    expect(renderLineText('not json')).toMatch(/^\[not a message\]/);
  });
});
