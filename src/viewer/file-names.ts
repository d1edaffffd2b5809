// Names of the files the viewer hands to a reader's machine: downloads from `serve` and the HTTP
// function, and the files `teams-export html` writes. A sender chose the attachment's name, so a name
// must neither run when double-clicked (docs/viewer.md, "Files that cannot run") nor misbehave on
// Windows, the file system most transcript folders end up on.

/**
 * Extensions a file keeps: document and raster image types that the program the OS opens them with
 * displays and does not execute.
 * - Raster images (png, jpg/jpeg, gif, webp, bmp, tif/tiff, heic/heif, avif): decoded as pixels.
 *   Not `svg`: an SVG is a web page that may carry script.
 * - `pdf`: the business document format of record; readers run its JavaScript, if at all, in their
 *   own sandbox, never with the reader's rights.
 * - `txt`: plain text, opened in an editor.
 * - `docx`, `xlsx`, `pptx`: Office Open XML without macros. Office refuses to run macros from these
 *   extensions, even when a macro-enabled file was renamed to one of them.
 * Left out on purpose, so they get the neutral suffix: `html`/`htm`/`svg`/`xml` (script in a browser),
 * `doc`/`xls`/`ppt` and the `…m` Office types (macros), `rtf` (embedded OLE objects), `odt`/`ods`/`odp`
 * (macros), `csv` (spreadsheet formulas), archives (their contents run with one more click), and every
 * program or script type (`exe`, `hta`, `js`, `lnk`, `ps1`, …).
 */
export const INERT_EXTENSIONS: ReadonlySet<string> = new Set([
  'png',
  'jpg',
  'jpeg',
  'gif',
  'webp',
  'bmp',
  'tif',
  'tiff',
  'heic',
  'heif',
  'avif',
  'pdf',
  'txt',
  'docx',
  'xlsx',
  'pptx',
]);

/** Appended to every other name: no program is registered for it, so opening it runs nothing. */
export const NEUTRAL_SUFFIX = '.bin';

/** Longest name written, suffix included: far inside every file system's limit of 255. */
const MAX_NAME = 120;

/**
 * Names Windows maps to devices, whatever the case and whatever extension follows (`nul.txt` is NUL).
 * The superscript digits count too: Windows reserves COM¹…COM³ and LPT¹…LPT³.
 */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;

/** True when Windows would open a device instead of a file of this name (`CON`, `nul.txt`, `Com1 .log`). */
export function isReservedWindowsName(name: string): boolean {
  const stem = name.split('.')[0] ?? '';
  return RESERVED.test(stem.replace(/[ ]+$/, ''));
}

/**
 * A file name that is safe on every file system and cannot climb out of its folder: letters, digits,
 * space and `._()-` only; no leading dot (hidden files); no trailing dot or space (Windows drops them,
 * so `a.hta.` would become `a.hta`); never a reserved device name.
 */
export function safeFileName(name: string): string {
  let cleaned = name
    .replace(/[^\p{L}\p{N} ._()-]/gu, '_')
    .replace(/^[.\s]+/, '')
    .slice(0, MAX_NAME)
    .replace(/[.\s]+$/, '');
  if (isReservedWindowsName(cleaned)) cleaned = `_${cleaned}`;
  return cleaned.length > 0 ? cleaned : 'file';
}

/** The extension a name keeps (lower case), or undefined when it gets the neutral suffix. */
export function inertExtension(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  return INERT_EXTENSIONS.has(ext) ? ext : undefined;
}

/**
 * The name a sender's attachment is saved under: `safeFileName`, and the neutral suffix unless its
 * extension is in INERT_EXTENSIONS (`report.pdf` stays, `invoice.pdf.hta` becomes `invoice.pdf.hta.bin`).
 */
export function inertFileName(name: string): string {
  const safe = safeFileName(name);
  if (inertExtension(safe) !== undefined) return safe;
  return `${safe.slice(0, MAX_NAME - NEUTRAL_SUFFIX.length).replace(/[.\s]+$/, '')}${NEUTRAL_SUFFIX}`;
}
