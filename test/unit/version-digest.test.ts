import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { versionDigest } from '../../src/export/day-batcher';

/** What versionDigest computed before (one Hash object per version): the reference. */
const reference = (key: string) => createHash('sha256').update(key, 'utf8').digest().toString('latin1', 0, 16);

describe('versionDigest', () => {
  it('is the first 16 bytes of the SHA-256 of the key as UTF-8, one character per byte', () => {
    // Any UTF-16 code units, lone surrogates included (both encode them as U+FFFD).
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const key = fc.oneof(
      fc.string({ unit, maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .tuple(fc.string(), fc.string(), fc.oneof(fc.integer(), fc.constant(null)), fc.string())
        .map(([c, id, ms, etag]) => `${c}|${id}|${ms}|${etag}`),
    );
    fc.assert(
      fc.property(key, (k) => {
        const d = versionDigest(k);
        expect(d).toHaveLength(16);
        expect(d).toBe(reference(k));
      }),
      { numRuns: 5000 },
    );
  });
});
