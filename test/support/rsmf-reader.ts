// Reads RSMF files back the way a review platform does (MIME → rsmf.zip → rsmf_manifest.json) and
// checks what the JSON Schema cannot: that every reference resolves inside the file.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { simpleParser } from 'mailparser';
import yauzl from 'yauzl';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

export interface ParsedRsmf {
  headers: Map<string, string>;
  text: string;
  attachmentNames: string[];
  zip: Map<string, Buffer>;
  manifest: Json;
}

function unzip(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolvePromise, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const parts: Buffer[] = [];
          stream.on('data', (d: Buffer) => parts.push(d));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(parts));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolvePromise(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

export async function parseRsmf(file: string): Promise<ParsedRsmf> {
  const raw = readFileSync(file);
  const mail = await simpleParser(raw);
  const headers = new Map<string, string>();
  for (const line of mail.headerLines) headers.set(line.key, line.line.slice(line.line.indexOf(':') + 1).trim());
  const zipAttachment = mail.attachments.find((a) => a.filename === 'rsmf.zip');
  if (!zipAttachment) throw new Error(`${file} has no rsmf.zip attachment`);
  const zip = await unzip(zipAttachment.content);
  const manifestBytes = zip.get('rsmf_manifest.json');
  if (!manifestBytes) throw new Error(`${file}: rsmf.zip has no rsmf_manifest.json`);
  return {
    headers,
    text: mail.text ?? '',
    attachmentNames: mail.attachments.map((a) => a.filename ?? ''),
    zip,
    manifest: JSON.parse(manifestBytes.toString('utf8')) as Json,
  };
}

/** Problems with the references of one manifest (empty when every id resolves inside the file). */
export function referenceProblems(manifest: Json, zipNames: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const participants = new Set(((manifest.participants as Json[]) ?? []).map((p) => p.id as string));
  const conversations = (manifest.conversations as Json[]) ?? [];
  const conversationIds = new Set(conversations.map((c) => c.id as string));
  const events = (manifest.events as Json[]) ?? [];
  const eventIds = new Set(events.map((e) => `${e.conversation as string}\u0000${e.id as string}`));
  for (const c of conversations) {
    const members = new Set((c.participants as string[]) ?? []);
    for (const p of members) if (!participants.has(p)) problems.push(`conversation ${c.id as string}: participant ${p} unknown`);
    if (c.custodian !== undefined && !members.has(c.custodian as string))
      problems.push(`conversation ${c.id as string}: custodian ${c.custodian as string} not among its participants`);
  }
  for (const e of events) {
    const where = `event ${e.id as string}`;
    if (e.participant !== undefined && !participants.has(e.participant as string))
      problems.push(`${where}: participant ${e.participant as string} unknown`);
    if (!conversationIds.has(e.conversation as string)) problems.push(`${where}: conversation ${e.conversation as string} unknown`);
    if (e.parent !== undefined && !eventIds.has(`${e.conversation as string}\u0000${e.parent as string}`))
      problems.push(`${where}: parent ${e.parent as string} not in the file`);
    for (const a of (e.attachments as Json[]) ?? [])
      if (!zipNames.has(a.id as string)) problems.push(`${where}: attachment ${a.id as string} not in the zip`);
    for (const r of (e.reactions as Json[]) ?? [])
      for (const p of (r.participants as string[]) ?? [])
        if (!participants.has(p)) problems.push(`${where}: reaction participant ${p} unknown`);
    for (const ed of (e.edits as Json[]) ?? [])
      if (!participants.has(ed.participant as string)) problems.push(`${where}: edit participant ${ed.participant as string} unknown`);
  }
  return problems;
}

/** `../shared/rsmf/rsmf_schema_2_0_0.json` from the repository root (present in CI and on developer machines). */
export const RSMF_SCHEMA_PATH = resolve(__dirname, '../../../shared/rsmf/rsmf_schema_2_0_0.json');

/** A draft-07 validator of the official schema, or undefined (with the reason) where the schema is absent. */
export function rsmfSchemaValidator(): { validate: (m: unknown) => string[] } | { skipped: string } {
  if (!existsSync(RSMF_SCHEMA_PATH)) return { skipped: `RSMF schema not found at ${RSMF_SCHEMA_PATH}: schema validation skipped` };
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // ajv-formats has no idn-email; an internationalised address is at least local@domain.
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
  const validate = ajv.compile(JSON.parse(readFileSync(RSMF_SCHEMA_PATH, 'utf8')) as object);
  return {
    validate: (m) => (validate(m) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`)),
  };
}
