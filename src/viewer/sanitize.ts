// Message bodies are HTML written by any sender (docs/viewer.md, security): they go through
// sanitize-html with an allow-list before they reach a page. No script, no event handlers, no style,
// no SVG, no frames or forms; links only to http(s)/mailto; images only from the archive itself.
import sanitizeHtml from 'sanitize-html';
import { NON_TEXT_TAGS } from '../archive/render-text';

/**
 * Maps an image URL found in a body (a Graph hostedContents URL) to the archive's own URL for the
 * stored bytes, or undefined when the archive does not hold them (the image is then not shown).
 */
export type ImageResolver = (src: string) => string | undefined;

const TAGS = [
  'p',
  'div',
  'span',
  'br',
  'hr',
  'b',
  'strong',
  'i',
  'em',
  'u',
  's',
  'strike',
  'del',
  'ins',
  'sub',
  'sup',
  'small',
  'blockquote',
  'pre',
  'code',
  'ul',
  'ol',
  'li',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
  'a',
  'img',
];

const MISSING_IMAGE = '[image not in the archive]';

function positiveInt(v: string | undefined): string | undefined {
  return v !== undefined && /^\d{1,4}$/.test(v) && Number(v) > 0 ? v : undefined;
}

/** Sanitizes one HTML body; `resolveImage` decides which images may appear (and from where). */
export function sanitizeBody(html: string, resolveImage: ImageResolver): string {
  const image = (
    src: string | undefined,
    alt: string | undefined,
    width?: string,
    height?: string,
  ): sanitizeHtml.Attributes | undefined => {
    const local = src ? resolveImage(src) : undefined;
    if (!local) return undefined;
    const w = positiveInt(width);
    const h = positiveInt(height);
    return { src: local, alt: alt ?? 'image', ...(w ? { width: w } : {}), ...(h ? { height: h } : {}) };
  };
  return sanitizeHtml(html, {
    allowedTags: TAGS,
    allowedAttributes: {
      a: ['href', 'title', 'rel'],
      img: ['src', 'alt', 'width', 'height', 'title'],
      td: ['colspan', 'rowspan'],
      th: ['colspan', 'rowspan'],
      span: ['class'],
    },
    allowedClasses: { span: ['mention', 'missing'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: [] },
    allowedSchemesAppliedToAttributes: ['href', 'src'],
    allowProtocolRelative: false,
    // Their text is code, not content: dropped with the tag.
    nonTextTags: [...NON_TEXT_TAGS],
    transformTags: {
      // A mention: <at id="0">Name</at>.
      at: () => ({ tagName: 'span', attribs: { class: 'mention' } }),
      a: (_tag, attribs) => ({
        tagName: 'a',
        attribs: {
          ...(attribs.href ? { href: attribs.href } : {}),
          ...(attribs.title ? { title: attribs.title } : {}),
          rel: 'noopener noreferrer nofollow',
        },
      }),
      img: (_tag, attribs) => {
        const img = image(attribs.src, attribs.alt, attribs.width, attribs.height);
        if (img) return { tagName: 'img', attribs: img };
        // The older bodies' emoji: an image on Teams' own CDN, never stored; its alt is the emoji.
        if (attribs.alt && /schema\.skype\.com\/emoji/i.test(attribs.itemtype ?? ''))
          return { tagName: 'span', attribs: {}, text: attribs.alt };
        return { tagName: 'span', attribs: { class: 'missing' }, text: MISSING_IMAGE };
      },
      // A standard emoji: <emoji id="cool" alt="😎" title="Cool"></emoji>, shown as its character.
      emoji: (_tag, attribs) => ({ tagName: 'span', attribs: {}, text: attribs.alt ?? '' }),
      customemoji: (_tag, attribs) => {
        const img = image(attribs.source, attribs.alt ?? attribs.title, '20', '20');
        return img ? { tagName: 'img', attribs: img } : { tagName: 'span', attribs: {}, text: `:${attribs.alt ?? 'emoji'}:` };
      },
    },
  });
}

/** A plain-text body as HTML: escaped, line breaks kept. */
export function textToHtml(text: string): string {
  return escapeHtml(text).replace(/\r?\n|\u2028/g, '<br>');
}

/** Escapes text for HTML element content and (double-quoted) attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
