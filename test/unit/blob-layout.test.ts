import { describe, expect, it } from 'vitest';
import {
  ARCHIVE_PREFIXES,
  batchBlobName,
  dayPrefix,
  decodeIdSegment,
  encodeIdSegment,
  entityPrefix,
  isArchivePath,
  jobManifestName,
  lockBlobName,
  parseBatchBlobName,
  quarantineBlobName,
  runManifestName,
} from '../../src/archive/blob-layout';
import type { Entity } from '../../src/model/entity';

const HOSTILE_IDS = [
  '../x',
  '..',
  '.',
  'a/b',
  'a\\b',
  '%2e%2e',
  '%2F',
  '%252F',
  '~2F',
  '~',
  '/',
  '19:abc@thread.v2',
  '19:ABC@thread.v2',
  'ABC',
  'abc',
  'Abc',
  'é',
  'e\u0301',
  '😀',
  '\uFEFFx',
  '日本語',
  ' ',
  '  ',
  '\t',
  '\n',
  '\u0000',
  '\u007f',
  'a b',
  '?#',
  "'quote'",
  '0d8f3c11-3ab1-4b5a-9f0e-1c2d3e4f5a6b',
  '0D8F3C11-3AB1-4B5A-9F0E-1C2D3E4F5A6B',
];

describe('encodeIdSegment', () => {
  it('keeps lowercase GUIDs readable as they are', () => {
    expect(encodeIdSegment('0d8f3c11-3ab1-4b5a-9f0e-1c2d3e4f5a6b')).toBe('0d8f3c11-3ab1-4b5a-9f0e-1c2d3e4f5a6b');
  });

  it('turns every hostile id into one safe segment that decodes back to the id', () => {
    for (const id of HOSTILE_IDS) {
      const seg = encodeIdSegment(id);
      expect(seg, id).toMatch(/^[a-z0-9~A-F-]+$/);
      expect(seg).not.toBe('.');
      expect(seg).not.toBe('..');
      expect(seg).not.toContain('/');
      expect(seg).not.toContain('\\');
      expect(seg).not.toContain('%');
      expect(decodeIdSegment(seg)).toBe(id);
    }
  });

  it('never maps two different ids to the same segment, even ids differing only in case', () => {
    const segs = new Map<string, string>();
    for (const id of HOSTILE_IDS) {
      const seg = encodeIdSegment(id);
      expect(segs.get(seg), `${id} collides`).toBeUndefined();
      segs.set(seg, id);
    }
    expect(segs.size).toBe(HOSTILE_IDS.length);
  });

  it('refuses ids that cannot be encoded injectively or at all', () => {
    expect(() => encodeIdSegment('')).toThrow(RangeError);
    expect(() => encodeIdSegment('\uD800')).toThrow(RangeError);
    expect(() => encodeIdSegment('x'.repeat(257))).toThrow(RangeError);
  });

  it('decodes only canonical segments', () => {
    for (const bad of ['', '~61', '~2f', '~2', 'A', 'a/b', 'a%2Fb', '~C3', '.', '..']) {
      expect(() => decodeIdSegment(bad), bad).toThrow(RangeError);
    }
  });
});

describe('blob names', () => {
  const user: Entity = { kind: 'user', id: '../../teams/evil' };
  const team: Entity = { kind: 'team', id: 'a/b' };

  it('keeps every hostile entity inside its own prefix under messages/', () => {
    for (const id of HOSTILE_IDS) {
      for (const kind of ['user', 'team'] as const) {
        const entity = { kind, id };
        const prefix = entityPrefix(entity);
        expect(prefix.startsWith(kind === 'user' ? 'messages/users/' : 'messages/teams/')).toBe(true);
        expect(prefix.split('/')).toHaveLength(4);
        const day = dayPrefix(entity, '2024-02-29');
        expect(day).toBe(`${prefix}2024/02/29/`);
        expect(isArchivePath(`${day}x.jsonl.gz`)).toBe(true);
        for (const other of HOSTILE_IDS) {
          if (other === id) continue;
          // No entity's folder lies inside another's: prefixes are never prefixes of each other.
          expect(entityPrefix({ kind, id: other }).startsWith(prefix), `${id} vs ${other}`).toBe(false);
        }
      }
    }
  });

  it('round-trips batch names through parseBatchBlobName', () => {
    const window = { fromMs: Date.parse('2024-03-01T00:00:00.000Z'), toMs: Date.parse('2024-03-31T23:59:59.999Z') };
    for (const entity of [user, team, { kind: 'user' as const, id: '19:abc@thread.v2' }]) {
      for (const pass of ['fresh', 'settle', 'backfill'] as const) {
        const name = batchBlobName(entity, '2024-03-05', { pass, window, runId: 'daily-20240401T023000Z-ab12-c0ffee', seq: 7 });
        expect(name.startsWith(dayPrefix(entity, '2024-03-05'))).toBe(true);
        expect(name).toMatch(/_0007\.jsonl\.gz$/);
        expect(parseBatchBlobName(name)).toEqual({
          entity: { kind: entity.kind, id: entity.id },
          day: '2024-03-05',
          pass,
          fromMs: window.fromMs,
          toMs: window.toMs,
          runId: 'daily-20240401T023000Z-ab12-c0ffee',
          seq: 7,
        });
      }
    }
  });

  it('uses the documented compact file name format', () => {
    const name = batchBlobName({ kind: 'team', id: 'abc' }, '2024-01-02', {
      pass: 'fresh',
      window: { fromMs: Date.parse('2024-01-02T03:04:05.678Z'), toMs: Date.parse('2024-01-03T00:00:00Z') },
      runId: 'r1',
      seq: 12345,
    });
    expect(name).toBe('messages/teams/abc/2024/01/02/fresh_20240102T030405678Z_20240103T000000000Z_r1_12345.jsonl.gz');
    expect(parseBatchBlobName(name)?.seq).toBe(12345);
  });

  it('gives different names to writes that differ in pass, window, run or sequence', () => {
    const base = { pass: 'fresh' as const, window: { fromMs: 0, toMs: 1000 }, runId: 'r', seq: 1 };
    const names = new Set([
      batchBlobName(user, '2024-01-01', base),
      batchBlobName(user, '2024-01-01', { ...base, pass: 'settle' }),
      batchBlobName(user, '2024-01-01', { ...base, window: { fromMs: 1, toMs: 1000 } }),
      batchBlobName(user, '2024-01-01', { ...base, window: { fromMs: 0, toMs: 1001 } }),
      batchBlobName(user, '2024-01-01', { ...base, runId: 'r2' }),
      batchBlobName(user, '2024-01-01', { ...base, seq: 2 }),
    ]);
    expect(names.size).toBe(6);
  });

  it('parses nothing that is not a batch name', () => {
    for (const name of [
      'messages/users/abc/2024/01/02/fresh_20240102T030405678Z_20240103T000000000Z_r1_0001.json',
      'messages/users/abc/2024/02/30/fresh_20240102T030405678Z_20240103T000000000Z_r1_0001.jsonl.gz',
      'messages/groups/abc/2024/01/02/fresh_20240102T030405678Z_20240103T000000000Z_r1_0001.jsonl.gz',
      'messages/users/ABC/2024/01/02/fresh_20240102T030405678Z_20240103T000000000Z_r1_0001.jsonl.gz',
      'messages/users/abc/2024/01/02/other_20240102T030405678Z_20240103T000000000Z_r1_0001.jsonl.gz',
      'messages/users/abc/2024/01/02/fresh_20241302T030405678Z_20240103T000000000Z_r1_0001.jsonl.gz',
      'messages/users/abc/2024/01/02/fresh_20240102T030405678Z_20240103T000000000Z_r1_1.jsonl.gz',
      'messages/users/abc/x/2024/01/02/fresh_20240102T030405678Z_20240103T000000000Z_r1_0001.jsonl.gz',
      'quarantine/users/abc/r1_0001.jsonl.gz',
    ]) {
      expect(parseBatchBlobName(name), name).toBeUndefined();
    }
  });

  it('refuses run ids, days and sequence numbers that would break the layout', () => {
    const w = { pass: 'fresh' as const, window: { fromMs: 0, toMs: 1 }, seq: 0 };
    expect(() => batchBlobName(user, '2024-01-01', { ...w, runId: '../x' })).toThrow(RangeError);
    expect(() => batchBlobName(user, '2024-01-01', { ...w, runId: 'a/b' })).toThrow(RangeError);
    expect(() => batchBlobName(user, '2024-13-01', { ...w, runId: 'r' })).toThrow(RangeError);
    expect(() => batchBlobName(user, '2024-01-01', { ...w, runId: 'r', seq: -1 })).toThrow(RangeError);
    expect(() => runManifestName('..')).toThrow(RangeError);
  });

  it('names quarantine, manifests and locks inside their own folders', () => {
    expect(quarantineBlobName(user, 'r1', 3)).toBe(`quarantine/users/${encodeIdSegment(user.id)}/r1_0003.jsonl.gz`);
    expect(jobManifestName('r1', team)).toBe(`manifests/r1/teams/${encodeIdSegment(team.id)}.json`);
    expect(runManifestName('r1')).toBe('manifests/r1/run.json');
    expect(lockBlobName(user)).toBe(`locks/users/${encodeIdSegment(user.id)}`);
    for (const name of [quarantineBlobName(user, 'r1', 3), jobManifestName('r1', team), runManifestName('r1')])
      expect(isArchivePath(name)).toBe(true);
    expect(isArchivePath(lockBlobName(user))).toBe(false);
  });
});

describe('isArchivePath', () => {
  it('accepts names inside the archive folders', () => {
    expect(ARCHIVE_PREFIXES).toEqual([
      'messages/',
      'quarantine/',
      'manifests/',
      'retained/',
      'copilot/',
      'meetings/',
      'content/',
      'directory/',
      'productions/',
    ]);
    expect(isArchivePath('messages/users/abc/2024/01/02/x.jsonl.gz')).toBe(true);
    expect(isArchivePath('manifests/r1/run.json')).toBe(true);
  });

  it('refuses traversal, other folders and malformed names', () => {
    for (const name of [
      '',
      'messages/',
      'messages',
      'locks/users/abc',
      '/messages/users/abc',
      'messages/../locks/users/abc',
      'messages/users/../../locks/x',
      'messages/./x',
      'messages//x',
      'messages/x/',
      'messages\\..\\locks',
      'messages/x\\y',
      'messages/x\u0000y',
      'messages/x\ny',
      'Messages/x',
      `messages/${'a'.repeat(1100)}`,
    ]) {
      expect(isArchivePath(name), JSON.stringify(name)).toBe(false);
    }
  });
});
