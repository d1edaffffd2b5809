// The one place that knows blob names (docs/archive-format.md §1): message batches, quarantine, manifests, stored
// content and its reference index, entity locks, plus the encoding that keeps any Graph id inside its
// own folder.
import type { Entity, EntityKind } from '../model/entity';
import type { PassName, Window } from '../model/window';
import { iso } from '../time';

/** Message batches of users and teams (and sender mode's per-chat versions): what `ls` lists by default. */
export const MESSAGES_PREFIX = 'messages/';
/** Items Graph returned that could not be filed (docs/design.md §11). */
export const QUARANTINE_PREFIX = 'quarantine/';
/** Job and run manifests (what was written, with SHA-256s) and the run's other files. */
export const MANIFESTS_PREFIX = 'manifests/';
/** Microsoft 365 Copilot interactions, one folder per user (EXPORT_COPILOT). */
export const COPILOT_PREFIX = 'copilot/';
/** Meeting transcripts and recordings, one folder per organiser (EXPORT_MEETINGS); their bodies are in content/. */
export const MEETINGS_PREFIX = 'meetings/';
/** Stored content (`content/sha256/…`) and its reference index (`content/refs/…`). */
export const CONTENT_PREFIX = 'content/';
/** The stored bytes themselves, named by their SHA-256. */
export const CONTENT_BYTES_PREFIX = `${CONTENT_PREFIX}sha256/`;

/** RSMF productions (`productions/{productionId}/`): opened to Archive.Produce, not Archive.Read (docs/security.md). */
export const PRODUCTIONS_PREFIX = 'productions/';

/** Folders the product writes archive data to (and the only ones read through the HTTP/CLI readers). */
export const ARCHIVE_PREFIXES: readonly string[] = [
  MESSAGES_PREFIX,
  QUARANTINE_PREFIX,
  MANIFESTS_PREFIX,
  'retained/',
  COPILOT_PREFIX,
  MEETINGS_PREFIX,
  CONTENT_PREFIX,
  'directory/',
  PRODUCTIONS_PREFIX,
];
/**
 * The folders of exported data blobs (not the manifests that describe them, nor the directory snapshots
 * and productions derived from runs and the archive): what `verify` re-hashes.
 */
export const DATA_PREFIXES: readonly string[] = [
  MESSAGES_PREFIX,
  QUARANTINE_PREFIX,
  'retained/',
  COPILOT_PREFIX,
  MEETINGS_PREFIX,
  CONTENT_PREFIX,
];

/**
 * Where each kind's versions live. A deleted team keeps its folder under messages/teams/ (it is the same
 * team, its history continues); retained versions (previous edits, old deletions) get their own root.
 */
const KIND_PREFIX: Record<EntityKind, string> = {
  user: 'messages/users',
  team: 'messages/teams',
  deletedTeam: 'messages/teams',
  userRetained: 'retained/users',
  teamRetained: 'retained/teams',
  copilot: 'copilot/users',
  meetings: 'meetings/users',
};
/** The folder naming an entity in quarantine/, manifests/ and locks/: a deleted team shares its team's lock. */
const KIND_FOLDER: Record<EntityKind, string> = {
  user: 'users',
  team: 'teams',
  deletedTeam: 'teams',
  userRetained: 'retained-users',
  teamRetained: 'retained-teams',
  // Their own locks: a user's Copilot and meetings jobs run beside the user's chat job.
  copilot: 'copilot-users',
  meetings: 'meeting-users',
};
const PREFIX_KIND: Record<string, EntityKind> = {
  'messages/users': 'user',
  'messages/teams': 'team',
  'retained/users': 'userRetained',
  'retained/teams': 'teamRetained',
  'copilot/users': 'copilot',
  'meetings/users': 'meetings',
};
const PASSES: readonly PassName[] = ['fresh', 'settle', 'backfill'];

/** Longest id accepted: Graph ids are far shorter, and blob names are limited to 1024 characters. */
const MAX_ID_LENGTH = 256;

// Escape character for id segments. Not '%': the storage SDK and URL-based tools treat '%xx' in a blob
// name as already URL-encoded, so a segment containing '%2F' could turn into a '/' on the way to the
// service. '~' is an unreserved URL character that no layer decodes.
const ESCAPE = '~';
const PLAIN = /^[a-z0-9-]$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Encodes a Graph id as one path segment. Lowercase letters, digits and '-' stay as they are (so
 * GUIDs stay readable); every other UTF-8 byte becomes `~XX` (uppercase hex), including uppercase
 * letters, so ids that differ only in case never collide. The result never is '', '.', '..', never
 * contains '/', '\\', '%' or control characters, and is also a valid Table Storage key.
 */
export function encodeIdSegment(id: string): string {
  if (id.length === 0) throw new RangeError('an entity id must not be empty');
  if (id.length > MAX_ID_LENGTH) throw new RangeError(`an entity id must be at most ${MAX_ID_LENGTH} characters`);
  // Lone surrogates would all encode to U+FFFD and collide; such an id is not a real Graph id.
  if (LONE_SURROGATE.test(id)) throw new RangeError('an entity id must be well-formed Unicode');
  let out = '';
  for (const ch of id) {
    if (PLAIN.test(ch)) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8')) out += ESCAPE + byte.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** Inverse of encodeIdSegment; throws on anything encodeIdSegment could not have produced. */
export function decodeIdSegment(seg: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < seg.length;) {
    const ch = seg[i] as string;
    if (ch === ESCAPE) {
      const hex = seg.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new RangeError(`not an encoded id segment: ${JSON.stringify(seg)}`);
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (PLAIN.test(ch)) {
      bytes.push(ch.charCodeAt(0));
      i += 1;
    } else {
      throw new RangeError(`not an encoded id segment: ${JSON.stringify(seg)}`);
    }
  }
  let id: string;
  try {
    id = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new RangeError(`not an encoded id segment: ${JSON.stringify(seg)}`);
  }
  // Only the canonical spelling decodes, so one id has exactly one segment (no '~61' for 'a').
  if (id.length === 0 || encodeIdSegment(id) !== seg) throw new RangeError(`not an encoded id segment: ${JSON.stringify(seg)}`);
  return id;
}

function entityPath(entity: Entity): string {
  return `${KIND_FOLDER[entity.kind]}/${encodeIdSegment(entity.id)}`;
}

/** Run ids appear in blob names and table keys: letters, digits, '-' and '_' only. */
export function isValidRunId(runId: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/.test(runId);
}

function checkRunId(runId: string): string {
  if (!isValidRunId(runId)) throw new RangeError(`invalid run id ${JSON.stringify(runId)}: use 1-80 letters, digits, '-' or '_'`);
  return runId;
}

function checkSeq(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`invalid batch sequence number ${seq}`);
  return String(seq).padStart(4, '0');
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function checkDay(day: string): RegExpExecArray {
  const m = DAY.exec(day);
  if (!m || iso(Date.parse(`${day}T00:00:00Z`) || 0).slice(0, 10) !== day)
    throw new RangeError(`invalid day ${JSON.stringify(day)}: expected yyyy-mm-dd`);
  return m;
}

/** `messages/users/{seg}/`, `messages/teams/{seg}/`, `retained/users/{seg}/`…: everything archived for one entity. */
export function entityPrefix(entity: Entity): string {
  return `${KIND_PREFIX[entity.kind]}/${encodeIdSegment(entity.id)}/`;
}

/** `messages/users/`, `copilot/users/`…: the folder holding one folder per entity of a kind. */
export function entityKindRoot(kind: EntityKind): string {
  return `${KIND_PREFIX[kind]}/`;
}

/** `messages/users/{seg}/yyyy/mm/dd/`: the folder of one UTC day of an entity. */
export function dayPrefix(entity: Entity, day: string): string {
  const [, y, m, d] = checkDay(day);
  return `${entityPrefix(entity)}${y}/${m}/${d}/`;
}

/** yyyymmddThhmmssSSSZ: an instant in a file name (sortable, no ':' which some file systems refuse). */
function compact(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || ms >= Date.UTC(10000, 0, 1)) throw new RangeError(`instant out of range: ${ms}`);
  return iso(ms).replace(/[-:.]/g, '');
}

function parseCompact(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(text);
  if (!m) return NaN;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isFinite(ms) && compact(ms) === text ? ms : NaN;
}

/**
 * The name of one day batch: `{dayPrefix}{pass}_{from}_{to}_{runId}_{seq}.jsonl.gz`. Pass, window,
 * run and sequence number make it unique per write, so no write ever targets an existing blob.
 */
export function batchBlobName(entity: Entity, day: string, w: { pass: PassName; window: Window; runId: string; seq: number }): string {
  if (!PASSES.includes(w.pass)) throw new RangeError(`invalid pass ${JSON.stringify(w.pass)}`);
  return `${dayPrefix(entity, day)}${w.pass}_${compact(w.window.fromMs)}_${compact(w.window.toMs)}_${checkRunId(w.runId)}_${checkSeq(w.seq)}.jsonl.gz`;
}

const BATCH_FILE = /^(fresh|settle|backfill)_(\d{8}T\d{9}Z)_(\d{8}T\d{9}Z)_([A-Za-z0-9][A-Za-z0-9_-]*)_(\d{4,})\.jsonl\.gz$/;

/** Reads a batch blob name back into its parts; undefined for any other name. */
export function parseBatchBlobName(
  name: string,
): { entity: Entity; day: string; pass: PassName; fromMs: number; toMs: number; runId: string; seq: number } | undefined {
  const parts = name.split('/');
  if (parts.length !== 7) return undefined;
  const [root, folder, seg, y, m, d, file] = parts as [string, string, string, string, string, string, string];
  const kind = PREFIX_KIND[`${root}/${folder}`];
  if (!kind) return undefined;
  let id: string;
  try {
    id = decodeIdSegment(seg);
  } catch {
    return undefined;
  }
  const day = `${y}-${m}-${d}`;
  try {
    checkDay(day);
  } catch {
    return undefined;
  }
  const f = BATCH_FILE.exec(file);
  if (!f) return undefined;
  const fromMs = parseCompact(f[2] as string);
  const toMs = parseCompact(f[3] as string);
  const runId = f[4] as string;
  const seq = Number(f[5]);
  if (
    Number.isNaN(fromMs) ||
    Number.isNaN(toMs) ||
    !isValidRunId(runId) ||
    !Number.isSafeInteger(seq) ||
    String(seq).padStart(4, '0') !== f[5]
  )
    return undefined;
  return { entity: { kind, id }, day, pass: f[1] as PassName, fromMs, toMs, runId, seq };
}

/**
 * `messages/chats/{seg}/yyyy/mm/dd/v_{hash}.jsonl.gz`: one version of a chat message that no exported
 * tenant user sent (sender mode). The name derives from the version's key alone, so whichever user's job
 * sees the version first creates it and every later attempt finds it there: exactly once per chat
 * without coordination between jobs.
 */
export function chatVersionBlobName(chatId: string, day: string, versionKeyHash: string): string {
  if (!SHA256_HEX.test(versionKeyHash)) throw new RangeError(`not a SHA-256 hex digest: ${JSON.stringify(versionKeyHash)}`);
  const [, y, m, d] = checkDay(day);
  return `${MESSAGES_PREFIX}chats/${encodeIdSegment(chatId)}/${y}/${m}/${d}/v_${versionKeyHash.slice(0, 40)}.jsonl.gz`;
}

/** `…/X.jsonl.gz` → `…/X.content.json`: what the versions of batch X refer to in content/. */
export function contentMapName(batchName: string): string {
  if (!batchName.endsWith('.jsonl.gz')) throw new RangeError(`not a batch name: ${JSON.stringify(batchName)}`);
  return batchName.replace(/\.jsonl\.gz$/, '.content.json');
}

/** `messages/chats/{seg}/`: sender mode's per-chat versions of one chat (see chatVersionBlobName). */
export function chatVersionsPrefix(chatId: string): string {
  return `messages/chats/${encodeIdSegment(chatId)}/`;
}

/** `quarantine/users/{seg}/{runId}_{seq}.jsonl.gz`: versions that failed validation, kept verbatim. */
export function quarantineBlobName(entity: Entity, runId: string, seq: number): string {
  return `quarantine/${entityPath(entity)}/${checkRunId(runId)}_${checkSeq(seq)}.jsonl.gz`;
}

/**
 * `quarantine/users/{seg}/q_{sha256}.jsonl.gz`: one item that failed validation, named by the SHA-256 of
 * the item as Graph served it, so a re-read of the same version (fresh, then settle; a retry) finds it
 * quarantined already instead of writing another copy.
 */
export function quarantineItemName(entity: Entity, itemSha256: string): string {
  checkHash(itemSha256, 'item hash');
  return `quarantine/${entityPath(entity)}/q_${itemSha256}.jsonl.gz`;
}

/**
 * `manifests/{runId}/users/{seg}/{writer}.json`: what one execution of a job wrote (blobs, SHA-256s,
 * counts). One per execution (`writer` is its id), so a retried job's manifests accumulate and `verify`
 * still checks what earlier attempts wrote. Without `writer`: `manifests/{runId}/users/{seg}.json`, the
 * single manifest of archives written before.
 */
export function jobManifestName(runId: string, entity: Entity, writer?: string): string {
  const job = `${MANIFESTS_PREFIX}${checkRunId(runId)}/${entityPath(entity)}`;
  return writer === undefined ? `${job}.json` : `${job}/${checkRunId(writer)}.json`;
}

/**
 * `manifests/{runId}/sender-cover/users/{seg}/{writer}.json`: one execution of sender mode's follow-up
 * read of one user's chats (one per execution, like the job's). Without `writer`: the single manifest
 * `…/{seg}.json` of archives written before.
 */
export function senderCoverManifestName(runId: string, entity: Entity, writer?: string): string {
  const cover = `${MANIFESTS_PREFIX}${checkRunId(runId)}/sender-cover/${entityPath(entity)}`;
  return writer === undefined ? `${cover}.json` : `${cover}/${checkRunId(writer)}.json`;
}

/** The folder of one job's execution manifests (or, with `cover`, of its sender-mode follow-up's). */
export function executionManifestsPrefix(runId: string, entity: Entity, cover = false): string {
  return `${MANIFESTS_PREFIX}${checkRunId(runId)}/${cover ? 'sender-cover/' : ''}${entityPath(entity)}/`;
}

/** `manifests/{runId}/other-senders.json`: sender mode's member ids for the run's queued jobs. */
export function otherSendersName(runId: string): string {
  return `${MANIFESTS_PREFIX}${checkRunId(runId)}/other-senders.json`;
}

/** `manifests/{runId}/run.json`: the summary of one run. */
export function runManifestName(runId: string): string {
  return `${MANIFESTS_PREFIX}${checkRunId(runId)}/run.json`;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkHash(hash: string, what: string): string {
  if (!SHA256_HEX.test(hash)) throw new RangeError(`invalid ${what} ${JSON.stringify(hash)}: expected 64 lowercase hex digits`);
  return hash;
}

/**
 * `content/sha256/{ab}/{sha256}`: the bytes of an inline image, code snippet or file, stored once
 * whatever message refers to them. The two-character folder keeps listings of one folder small.
 */
export function contentBlobName(sha256: string): string {
  return `${CONTENT_BYTES_PREFIX}${checkHash(sha256, 'SHA-256').slice(0, 2)}/${sha256}`;
}

const CONTENT_BLOB = /^content\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

/** The SHA-256 a stored-content name carries (the name is the checksum), or undefined for any other name. */
export function contentSha256Of(name: string): string | undefined {
  return CONTENT_BLOB.exec(name)?.[1];
}

/** `content/refs/{ab}/{refHash}`: what one reference (message + hosted content, or attachment) resolved to. */
export function contentRefBlobName(refHash: string): string {
  return `${CONTENT_PREFIX}refs/${checkHash(refHash, 'reference hash').slice(0, 2)}/${refHash}`;
}

/** Root of the directory snapshots (names of users, teams, channels, chats); see directorySnapshotBlobName. */
export const DIRECTORY_PREFIX = 'directory/';

/**
 * `directory/{yyyy}/{mm}/{dd}/{runId}.json.gz`: the directory snapshot taken during one run, filed under
 * the UTC day it was taken (docs/rsmf.md). The format is fixed: other readers (the viewer) depend on it.
 */
export function directorySnapshotBlobName(takenAtMs: number, runId: string): string {
  const [, y, m, d] = checkDay(iso(takenAtMs).slice(0, 10));
  return `${DIRECTORY_PREFIX}${y}/${m}/${d}/${checkRunId(runId)}.json.gz`;
}

/** `directory/{yyyy}/{mm}/`: one month of snapshots (listed one month at a time, never the whole root). */
export function directoryMonthPrefix(year: number, month: number): string {
  return `${DIRECTORY_PREFIX}${String(year).padStart(4, '0')}/${String(month).padStart(2, '0')}/`;
}

/** The production id of a production folder name (`productions/{id}/`), or undefined for anything else. */
export function productionIdOfFolder(folder: string): string | undefined {
  if (!folder.startsWith(PRODUCTIONS_PREFIX)) return undefined;
  const id = folder.slice(PRODUCTIONS_PREFIX.length).replace(/\/$/, '');
  return isValidRunId(id) ? id : undefined;
}

/** `productions/{productionId}/`: the RSMF files and production manifest of one production. */
export function productionPrefix(productionId: string): string {
  return `${PRODUCTIONS_PREFIX}${checkRunId(productionId)}/`;
}

/** `productions/{productionId}/{fileName}`: one RSMF file of a production (a plain file name, no folders). */
export function productionFileBlobName(productionId: string, fileName: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(fileName))
    throw new RangeError(`invalid production file name: ${JSON.stringify(fileName)}`);
  return `${productionPrefix(productionId)}${fileName}`;
}

/** `productions/{productionId}/production.json`: the production manifest, written last. */
export function productionManifestName(productionId: string): string {
  return `${productionPrefix(productionId)}production.json`;
}

/** `productions/{productionId}/status.json`: the state of a production started over HTTP (rewritten as it runs). */
export function productionStatusName(productionId: string): string {
  return `${productionPrefix(productionId)}status.json`;
}

/** `locks/productions/{productionId}`: the blob whose lease says which worker builds this production. */
export function productionLockName(productionId: string): string {
  return `locks/productions/${checkRunId(productionId)}`;
}

/** The lock blob an in-process run holds leased while its process runs (export/abandoned-runs.ts). */
export function runLockName(runId: string): string {
  return `locks/runs/${checkRunId(runId)}`;
}

/**
 * Root of the audit trail (docs/archive-format.md §11): who read what. Deliberately not one of
 * ARCHIVE_PREFIXES, so no archive reader (read-export, the viewer, `cat`, `ls`) can serve it; only the
 * audit readers (`teams-export audit`, GET /api/audit) open it.
 */
export const AUDIT_PREFIX = 'audit/';

/** `audit/{yyyy}/{mm}/{dd}/`: the records of one UTC day (listed one day at a time, never the whole root). */
export function auditDayPrefix(day: string): string {
  const [, y, m, d] = checkDay(day);
  return `${AUDIT_PREFIX}${y}/${m}/${d}/`;
}

const AUDIT_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/;

/**
 * `audit/{yyyy}/{mm}/{dd}/{hhmmssSSS}-{recordId}.json`: one audit record, written once, filed under the
 * UTC day of its time and named by that time, so a listing of a day is in time order.
 */
export function auditBlobName(timeIso: string, recordId: string): string {
  const t = AUDIT_TIME.exec(timeIso);
  if (!t) throw new RangeError(`invalid audit record time: ${JSON.stringify(timeIso)}`);
  if (!/^[0-9a-f]{24}$/.test(recordId)) throw new RangeError(`invalid audit record id: ${JSON.stringify(recordId)}`);
  return `${auditDayPrefix(t[1] as string)}${t[2]}${t[3]}${t[4]}${t[5]}-${recordId}.json`;
}

/** `locks/users/{seg}`: the blob whose lease says which worker exports this entity right now. */
export function lockBlobName(entity: Entity): string {
  return `locks/${entityPath(entity)}`;
}

/**
 * True for a name inside the archive folders that cannot climb out of them or mean two things:
 * no '.'/'..' or empty segments, no backslashes, no control characters, within the blob name limit.
 */
export function isArchivePath(name: string): boolean {
  if (name.length === 0 || name.length > 1024) return false;
  if (!ARCHIVE_PREFIXES.some((p) => name.startsWith(p))) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(name)) return false;
  const segments = name.split('/');
  return segments.length >= 2 && segments.every((s) => s !== '' && s !== '.' && s !== '..');
}
