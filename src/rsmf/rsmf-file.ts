// Wraps one RSMF manifest into an RSMF file (docs/rsmf.md): an RFC 5322 message (nodemailer's mail
// composer) with the X-RSMF-* headers, a plain-text rendering as its body and exactly one attachment,
// rsmf.zip (yazl), holding rsmf_manifest.json and every file the manifest names. Everything streams:
// the manifest and text come from spool files, attachments from content/ blobs one at a time.
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import type { ArchiveContainer } from '../archive/archive-container';
import { openBlobStream } from '../archive/batch-reader';
import MailComposer from 'nodemailer/lib/mail-composer';
import { ZipFile } from 'yazl';
import { contentBlobName } from '../archive/blob-layout';
import type { ZipFile as NamedFile } from './message-events';

export const RSMF_VERSION = '2.0.0';
export const RSMF_GENERATOR = 'teams-export';

export interface RsmfFileInput {
  /** Path of the finished rsmf_manifest.json. */
  manifestPath: string;
  /** Path of the plain-text rendering (the message body). */
  textPath: string;
  /** Stored content to copy into the zip under its manifest name. */
  files: readonly NamedFile[];
  subject: string;
  eventCount: number;
  beginDate: string;
  endDate: string;
  /** Further X-RSMF-* headers (custodians, conversation id...), mapped to review fields by platforms; ASCII. */
  extraHeaders: Record<string, string>;
  container: ArchiveContainer;
  signal?: AbortSignal;
}

/**
 * nodemailer writes header names in its own capitalisation (`X-Rsmf-Eventcount`); header names are
 * case-insensitive (RFC 5322), but Relativity's documentation spells them `X-RSMF-EventCount`, and so
 * do we: only the names we gave, only in the top-level header block.
 */
function rsmfHeaderCase(names: readonly string[]): Transform {
  const canonical = new Map(names.map((n) => [n.toLowerCase(), n]));
  const fix = (block: string) =>
    block.replace(
      /(^|\r\n)(X-Rsmf-[A-Za-z0-9-]+):/g,
      (whole, lead: string, name: string) => `${lead}${canonical.get(name.toLowerCase()) ?? name}:`,
    );
  let inHeaders = true;
  let carry = '';
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!inHeaders) return done(null, chunk);
      const text = carry + chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        // Hold back the last line: it may be a header name split across chunks.
        const cut = text.lastIndexOf('\r\n');
        carry = cut === -1 ? text : text.slice(cut);
        return done(null, cut === -1 ? undefined : Buffer.from(fix(text.slice(0, cut)), 'latin1'));
      }
      inHeaders = false;
      carry = '';
      done(null, Buffer.from(fix(text.slice(0, end)) + text.slice(end), 'latin1'));
    },
    flush(done) {
      done(null, carry ? Buffer.from(carry, 'latin1') : undefined);
    },
  });
}

/** Printable ASCII only: RFC 2047-encoded header values are flagged by Relativity's validator. */
export function asciiHeaderValue(text: string): string | undefined {
  return /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}

/** The RSMF file as a stream of bytes (the caller writes it to a file or a blob, hashing as it goes). */
export function rsmfFileStream(input: RsmfFileInput): Readable {
  const zip = new ZipFile();
  zip.addReadStreamLazy('rsmf_manifest.json', (cb) => cb(null, createReadStream(input.manifestPath)));
  const added = new Set<string>();
  for (const f of input.files) {
    if (added.has(f.fileName)) continue;
    added.add(f.fileName);
    // Downloaded only when the zip reaches this entry: one open download at a time.
    zip.addReadStreamLazy(f.fileName, (cb) => {
      openBlobStream(input.container, contentBlobName(f.sha256), input.signal).then(
        (r) =>
          r
            ? cb(null, Readable.from(r.body))
            : cb(new Error(`content ${f.sha256} is missing from the archive`), undefined as unknown as NodeJS.ReadableStream),
        (err: unknown) => cb(err, undefined as unknown as NodeJS.ReadableStream),
      );
    });
  }
  zip.end();
  const headers: Record<string, string> = {
    'X-RSMF-Version': RSMF_VERSION,
    'X-RSMF-Generator': RSMF_GENERATOR,
    'X-RSMF-EventCount': String(input.eventCount),
    'X-RSMF-BeginDate': input.beginDate,
    'X-RSMF-EndDate': input.endDate,
    ...input.extraHeaders,
  };
  const text = createReadStream(input.textPath);
  const mail = new MailComposer({
    from: `${RSMF_GENERATOR} <noreply@teams-export.invalid>`,
    subject: input.subject,
    date: new Date(input.endDate),
    text,
    headers,
    attachments: [{ filename: 'rsmf.zip', content: zip.outputStream as Readable, contentType: 'application/zip' }],
  });
  const out = mail
    .compile()
    .createReadStream()
    .pipe(rsmfHeaderCase(Object.keys(headers)));
  // A body file that cannot be read fails this file's stream (the caller's store sees it), never the process.
  text.once('error', (err) => out.destroy(err));
  return out;
}
