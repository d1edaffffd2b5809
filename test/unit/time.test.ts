import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY, utcDay } from '../../src/time';

/** What utcDay computed before it kept the days' strings: the reference. */
const reference = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('utcDay', () => {
  it('gives the day of new Date(ms).toISOString() for any valid instant, days kept or not', () => {
    const limit = 8.64e15;
    const instant = fc.oneof(
      fc.integer({ min: -limit, max: limit }),
      // Around day boundaries, before and after 1970, where a wrong rounding would show.
      fc.tuple(fc.integer({ min: -40_000, max: 40_000 }), fc.integer({ min: -2, max: 2 })).map(([d, off]) => d * DAY + off),
      fc.double({ min: -limit, max: limit, noNaN: true }),
    );
    fc.assert(
      fc.property(instant, (ms) => {
        expect(utcDay(ms)).toBe(reference(ms));
        expect(utcDay(ms)).toBe(reference(ms)); // the second call is answered from the kept days
      }),
      { numRuns: 20_000 },
    );
  });

  it('edges: the last and first millisecond of a day, the limits of Date, fractions', () => {
    for (const ms of [0, -1, 1, DAY - 1, DAY, -DAY, -DAY - 1, -0.5, DAY - 0.5, 8.64e15, -8.64e15, 253402300799999]) {
      expect(utcDay(ms)).toBe(reference(ms));
    }
  });

  it('throws, as toISOString does, for what is not a valid instant', () => {
    for (const ms of [Number.NaN, Infinity, 8.64e15 + 1]) expect(() => utcDay(ms)).toThrow(RangeError);
  });
});
