// Audits a whole archive against the emulator's ledger of served versions: every blob must be a valid
// gzip of valid JSON lines filed under the right entity and day, no entity may hold a version twice,
// every served version must be archived, and nothing may be archived that Graph never served.
import { appendFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import { parseBatchBlobName } from '../../src/archive/blob-layout';
import { versionKeyOf, type Emulator } from '../../emulator';
import type { Entity } from '../../src/model/entity';
import { utcDay } from '../../src/time';

export interface ArchiveAudit {
  /** Distinct versions the emulator served (its ledger), plus current versions the caller expects. */
  expected: number;
  /** Distinct versions in the archive (over all entities). */
  archived: number;
  /** Served (or expected) versions that are archived nowhere and are still the message's current version. */
  lost: string[];
  /**
   * Served versions archived nowhere that Graph no longer serves, because the message changed before
   * any run committed them (an interrupted run read them, a mutation replaced them before the rerun).
   */
  supersededBeforeCommit: string[];
  /** Archived versions Graph never served. */
  extra: string[];
  /** `entity key` for every repeated version of one entity. */
  duplicated: string[];
  /** Blobs that are not valid gzip / JSON lines, are misfiled, or sit outside the layout. */
  invalidBlobs: string[];
  /** Current versions of an entity (in the caller's windows) missing from that entity's own folder. */
  missingPerEntity: string[];
  blobs: number;
  quarantined: number;
}

export interface AuditOptions {
  /** Entities whose current versions up to `currentBefore` must be in their own folder. */
  entities?: Entity[];
  /** Exclusive bound of the range every listed entity must hold completely (e.g. now − EXPORT_LAG). */
  currentBefore?: number;
}

function entityKey(e: Entity): string {
  return `${e.kind}:${e.id}`;
}

/** Reads every blob of the container's archive folders and compares it with the emulator's ledger. */
export async function auditArchive(container: ContainerClient, emulator: Emulator, opts: AuditOptions = {}): Promise<ArchiveAudit> {
  const perEntity = new Map<string, string[]>();
  const invalidBlobs: string[] = [];
  let blobs = 0;
  let quarantined = 0;
  for await (const item of container.listBlobsFlat({ includeMetadata: true })) {
    const name = item.name;
    // Locks hold no data; the audit trail records reads, not messages (docs/security.md).
    if (name.startsWith('locks/') || name.startsWith('audit/')) continue;
    blobs++;
    // Downloaded bytes (images, files) and their reference index are not message batches.
    if (name.startsWith('content/')) continue;
    const buffer = await container.getBlobClient(name).downloadToBuffer();
    if (name.startsWith('directory/')) {
      // Directory snapshots (names, not messages): one gzipped JSON document each.
      try {
        JSON.parse(gunzipSync(buffer).toString('utf8'));
      } catch {
        invalidBlobs.push(`${name}: directory snapshot is not gzipped JSON`);
      }
      continue;
    }
    if (name.startsWith('manifests/') || name.endsWith('.content.json')) {
      try {
        JSON.parse(buffer.toString('utf8'));
      } catch {
        invalidBlobs.push(`${name}: ${name.endsWith('.content.json') ? 'content map' : 'manifest'} is not JSON`);
      }
      continue;
    }
    let text: string;
    try {
      text = gunzipSync(buffer).toString('utf8');
    } catch {
      invalidBlobs.push(`${name}: not gzip`);
      continue;
    }
    const lines = text.split('\n');
    if (lines.pop() !== '') invalidBlobs.push(`${name}: last line not terminated`);
    const parsed: unknown[] = [];
    let bad = false;
    for (const line of lines) {
      try {
        parsed.push(JSON.parse(line));
      } catch {
        invalidBlobs.push(`${name}: a line is not JSON`);
        bad = true;
        break;
      }
    }
    if (bad) continue;
    const recorded = item.metadata?.lines;
    if (recorded !== undefined && Number(recorded) !== parsed.length)
      invalidBlobs.push(`${name}: metadata says ${recorded} lines, blob has ${parsed.length}`);
    if (name.startsWith('quarantine/')) {
      quarantined += parsed.length;
      continue;
    }
    const batch = parseBatchBlobName(name);
    if (!batch) {
      invalidBlobs.push(`${name}: not a batch name of the layout`);
      continue;
    }
    const keys = perEntity.get(entityKey(batch.entity)) ?? [];
    for (const m of parsed) {
      const record = m as { lastModifiedDateTime?: string };
      if (utcDay(Date.parse(String(record.lastModifiedDateTime))) !== batch.day)
        invalidBlobs.push(`${name}: a version filed under the wrong day`);
      try {
        keys.push(versionKeyOf(m));
      } catch {
        invalidBlobs.push(`${name}: a line is not a chatMessage`);
      }
    }
    perEntity.set(entityKey(batch.entity), keys);
  }

  const archivedUnion = new Set<string>();
  const duplicated: string[] = [];
  for (const [entity, keys] of perEntity) {
    const seen = new Set<string>();
    for (const k of keys) {
      if (seen.has(k)) duplicated.push(`${entity} ${k}`);
      seen.add(k);
      archivedUnion.add(k);
    }
  }

  // Current versions: what Graph would serve now for each message (anything else was replaced).
  const current = new Set<string>();
  const tenant = emulator.tenant;
  for (const e of [
    ...tenant.users.map((u) => ({ kind: 'user' as const, id: u.id })),
    ...tenant.teams.map((t) => ({ kind: 'team' as const, id: t.id })),
  ]) {
    for (const v of tenant.currentVersions(e)) current.add(v.key);
  }

  const expected = new Set<string>(emulator.counters.ledger);
  const missingPerEntity: string[] = [];
  for (const e of opts.entities ?? []) {
    const user = tenant.users.find((u) => u.id === e.id);
    if (e.kind === 'user' && user && !user.hasTeamsData) continue;
    const have = new Set(perEntity.get(entityKey(e)) ?? []);
    for (const v of tenant.currentVersions(e, { fromMs: 0, toMs: opts.currentBefore ?? Number.MAX_SAFE_INTEGER })) {
      expected.add(v.key);
      if (!have.has(v.key)) missingPerEntity.push(`${entityKey(e)} ${v.key}`);
    }
  }
  const lost: string[] = [];
  const supersededBeforeCommit: string[] = [];
  for (const k of expected) {
    if (archivedUnion.has(k)) continue;
    if (current.has(k)) lost.push(k);
    else supersededBeforeCommit.push(k);
  }
  const extra = [...archivedUnion].filter((k) => !emulator.counters.ledger.has(k));
  return {
    expected: expected.size,
    archived: archivedUnion.size,
    lost,
    supersededBeforeCommit,
    extra,
    duplicated,
    invalidBlobs,
    missingPerEntity,
    blobs,
    quarantined,
  };
}

/** One row of the reliability table (scenario, faults injected, runs, versions expected, lost, duplicated). */
export interface ScenarioRow {
  scenario: string;
  faults: string;
  runs: number;
  expected: number;
  lost: number;
  duplicated: number;
}

/**
 * Appends the row to the file named by RELIABILITY_REPORT (JSON lines), when set, so a test run can
 * produce the table of issue 7; without it this does nothing.
 */
export function reportScenario(row: ScenarioRow): void {
  const file = process.env.RELIABILITY_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** Shorthand for the row of an audit. */
export function rowOf(scenario: string, faults: string, runs: number, audit: ArchiveAudit): ScenarioRow {
  return {
    scenario,
    faults,
    runs,
    expected: audit.expected,
    lost: audit.lost.length + audit.missingPerEntity.length,
    duplicated: audit.duplicated.length,
  };
}
