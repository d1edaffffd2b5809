// DigestSet (docs/design.md §14): the archived-key sets as typed arrays must answer exactly as a Set of the
// same digests would, through growth, colliding slots and the all-zero digest.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DigestSet } from '../../src/export/digest-set';
import { versionDigest } from '../../src/export/version-digest';

const digest = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('latin1'));

describe('DigestSet', () => {
  it('answers has/add/size as a Set of the same digests', () => {
    // Few distinct first bytes make many digests share their first slot (long probe runs).
    const clustered = fc.tuple(fc.integer({ min: 0, max: 3 }), digest).map(([b, d]) => String.fromCharCode(b, 0, 0, 0) + d.slice(4));
    const op = fc.tuple(fc.boolean(), fc.oneof(digest, clustered, fc.constant('\0'.repeat(16))));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.nat(100), (ops, expected) => {
        const set = new DigestSet(expected);
        const ref = new Set<string>();
        const seen: string[] = [];
        for (const [add, d] of ops) {
          seen.push(d);
          if (add) {
            expect(set.add(d)).toBe(set);
            ref.add(d);
          }
          expect(set.has(d)).toBe(ref.has(d));
          expect(set.size).toBe(ref.size);
        }
        for (const d of seen) expect(set.has(d)).toBe(ref.has(d));
      }),
      { numRuns: 300 },
    );
  });

  it('holds 100,000 real digests and finds none of 100,000 others', () => {
    const set = new DigestSet();
    for (let i = 0; i < 100_000; i++) set.add(versionDigest(`19:chat|${i}|1700000000000|${i}`));
    expect(set.size).toBe(100_000);
    for (let i = 0; i < 100_000; i += 7) expect(set.has(versionDigest(`19:chat|${i}|1700000000000|${i}`))).toBe(true);
    for (let i = 100_000; i < 200_000; i += 7) expect(set.has(versionDigest(`19:chat|${i}|1700000000000|${i}`))).toBe(false);
  });

  it('refuses what is not a digest', () => {
    const set = new DigestSet();
    expect(() => set.add('short')).toThrow(RangeError);
    expect(() => set.has('\u0100'.repeat(16))).toThrow(RangeError);
  });
});
