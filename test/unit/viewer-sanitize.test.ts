// The allow-list between a sender's HTML and the viewer's pages: what runs is removed, what people
// wrote stays readable, images come only from the archive.
import { describe, expect, it } from 'vitest';
import { HOSTILE_BODIES } from '../../emulator/hostile-bodies';
import { escapeHtml, sanitizeBody, textToHtml } from '../../src/viewer/sanitize';

const HOSTED = 'https://graph.microsoft.com/v1.0/chats/19:a@thread.v2/messages/1/hostedContents/aWQ=/$value';
const resolveNone = () => undefined;
const resolveHosted = (src: string) => (src === HOSTED ? '/content/abc' : undefined);

/** Anything in the output that could run or fetch from elsewhere. */
function dangerous(html: string): string[] {
  const found: string[] = [];
  if (/<script/i.test(html)) found.push('script tag');
  if (/\son[a-z]+\s*=/i.test(html)) found.push('event handler');
  if (/javascript:/i.test(html)) found.push('javascript: URL');
  if (/<(svg|style|iframe|object|embed|form|input|meta|link|base)\b/i.test(html)) found.push('forbidden tag');
  if (/\sstyle\s*=/i.test(html)) found.push('style attribute');
  if (/<img[^>]+src="(?!\/content\/)/i.test(html)) found.push('foreign image');
  return found;
}

describe('sanitizeBody', () => {
  it.each(HOSTILE_BODIES.map((b) => [b.slice(0, 40), b]))('neutralizes %s… and keeps its text', (_label, body) => {
    const out = sanitizeBody(body, resolveNone);
    expect(dangerous(out)).toEqual([]);
    expect(out).toMatch(/payload readable/);
  });

  it('shows standard emoji and the older emoji images as their character, escaped', () => {
    const out = sanitizeBody(
      '<p>ok <emoji id="cool" alt="😎" title="Cool"></emoji> <img alt="😁" itemtype="http://schema.skype.com/Emoji" src="https://statics.teams.microsoft.com/x.png">' +
        ' <emoji alt="&lt;script&gt;x"></emoji></p>',
      resolveNone,
    );
    expect(out).toBe('<p>ok <span>😎</span> <span>😁</span> <span>&lt;script&gt;x</span></p>');
    expect(dangerous(out)).toEqual([]);
  });

  it('drops the contents of script, style and svg, not just the tags', () => {
    const out = sanitizeBody('<p>a</p><script>alert(1)</script><style>body{}</style><svg><text>hidden-svg</text></svg>', resolveNone);
    expect(out).toBe('<p>a</p>');
  });

  it('keeps formatting, mentions and safe links (made noreferrer)', () => {
    const out = sanitizeBody(
      '<div><at id="0">Ada Lovelace</at> <b>bold</b> <a href="https://example.org/x" onclick="x()">link</a></div>',
      resolveNone,
    );
    expect(out).toBe(
      '<div><span class="mention">Ada Lovelace</span> <b>bold</b> <a href="https://example.org/x" rel="noopener noreferrer nofollow">link</a></div>',
    );
  });

  it('shows an image only through the archive URL the resolver gives, else a placeholder', () => {
    const body = `<p><img src="${HOSTED}" width="250" height="141" alt="image" style="vertical-align:bottom"></p><img src="https://evil.example/p.png">`;
    const out = sanitizeBody(body, resolveHosted);
    expect(out).toBe(
      '<p><img src="/content/abc" alt="image" width="250" height="141" /></p><span class="missing">[image not in the archive]</span>',
    );
  });

  it('does not let a resolver answer with a scheme through (images are same-origin only)', () => {
    const out = sanitizeBody(`<img src="${HOSTED}">`, () => 'https://evil.example/x.png');
    expect(out).not.toContain('evil.example');
  });

  it('renders custom emoji from the archive, or their name', () => {
    expect(sanitizeBody(`<customemoji id="e" alt="partyparrot" source="${HOSTED}"></customemoji>`, resolveHosted)).toBe(
      '<img src="/content/abc" alt="partyparrot" width="20" height="20" />',
    );
    expect(sanitizeBody('<customemoji id="e" alt="partyparrot" source="https://x/y"></customemoji>', resolveNone)).toBe(
      '<span>:partyparrot:</span>',
    );
  });

  it('drops disallowed classes and protocol-relative links', () => {
    expect(sanitizeBody('<span class="mention evil">x</span><a href="//evil.example/">y</a>', resolveNone)).toBe(
      '<span class="mention">x</span><a rel="noopener noreferrer nofollow">y</a>',
    );
  });
});

describe('escaping', () => {
  it('escapes every character that could open markup or end an attribute', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
  });

  it('keeps plain-text line breaks', () => {
    expect(textToHtml('a<b>\nc\u2028d')).toBe('a&#60;b&#62;<br>c<br>d');
  });
});
