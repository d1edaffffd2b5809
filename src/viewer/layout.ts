// The page shell every viewer page shares: one CSS and one JS file from the package (no inline
// script or style, no third-party origin), a breadcrumb trail, and escaped text everywhere.
import type { Links } from './links';
import { escapeHtml } from './sanitize';

export interface Crumb {
  label: string;
  href?: string | undefined;
}

/** The policy the server sends as a header, and the offline pages carry as a meta tag. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Offline pages are file:// documents, whose origin is opaque: 'self' would match nothing there. */
const OFFLINE_POLICY = "default-src 'none'; script-src file:; style-src file:; img-src file:; base-uri 'none'; form-action 'none'";

/** `<time>` in UTC; viewer.js adds the reader's local time beside it. */
export function timeHtml(iso: string | undefined): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return '<span class="time">(no time)</span>';
  const utc = new Date(t).toISOString();
  return `<time datetime="${utc}">${utc.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

export function link(href: string | undefined, label: string, attrs = ''): string {
  return href === undefined ? escapeHtml(label) : `<a href="${escapeHtml(href)}"${attrs}>${escapeHtml(label)}</a>`;
}

export function page(o: { title: string; crumbs: Crumb[]; body: string; links: Links; offline?: boolean }): string {
  const trail = o.crumbs.map((c) => link(c.href, c.label)).join(' <span class="sep">›</span> ');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    ...(o.offline ? [`<meta http-equiv="Content-Security-Policy" content="${OFFLINE_POLICY}">`] : []),
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(o.title)} · teams-export</title>`,
    `<link rel="stylesheet" href="${escapeHtml(o.links.asset('viewer.css'))}">`,
    `<script src="${escapeHtml(o.links.asset('viewer.js'))}" defer></script>`,
    '</head>',
    '<body>',
    `<header><nav class="crumbs">${trail}</nav></header>`,
    `<main>${o.body}</main>`,
    '</body>',
    '</html>',
  ].join('\n');
}
