// A set of version digests (versionDigest: 16 one-byte characters) in one typed array, for the days'
// archived keys a job holds (docs/design.md §5, §14). A Set of strings costs about 60 bytes of
// JavaScript heap per digest (the string and its entry), which the garbage collector walks at every full
// collection: a job of the heavy bench profile holds 20,000 of them and forty jobs run at once. Here a
// digest is its 16 bytes in an open-addressing table kept at most 3/4 full (21 to 43 bytes a digest,
// outside the heap, nothing for the collector to walk).

/** Digests are 16 characters of 0–255 (versionDigest's 'binary' string). */
const DIGEST_CHARS = 16;
const WORDS = DIGEST_CHARS / 4;
const MIN_SLOTS = 16;

export class DigestSet {
  /** WORDS words per slot; an all-zero slot is empty (the all-zero digest is kept apart, in `zero`). */
  private table: Uint32Array;
  private mask: number;
  private count = 0;
  private zero = false;
  // The digest being looked up or added, as words (reused: no allocation per call).
  private readonly probe = new Uint32Array(WORDS);

  constructor(expected = 0) {
    let slots = MIN_SLOTS;
    while (slots * 0.75 < expected) slots *= 2;
    this.table = new Uint32Array(slots * WORDS);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  has(digest: string): boolean {
    if (this.toWords(digest)) return this.zero;
    return this.find(this.table, this.mask) >= 0;
  }

  /** Adds the digest; returns this (as Set.add). */
  add(digest: string): this {
    if (this.toWords(digest)) {
      if (!this.zero) this.count++;
      this.zero = true;
      return this;
    }
    const at = this.find(this.table, this.mask);
    if (at >= 0) return this;
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    this.put(this.table, this.mask);
    this.count++;
    return this;
  }

  /** Loads `digest` into `probe`; true when it is all zeros. */
  private toWords(digest: string): boolean {
    if (digest.length !== DIGEST_CHARS) throw new RangeError(`a version digest has ${DIGEST_CHARS} characters, got ${digest.length}`);
    const p = this.probe;
    let any = 0;
    for (let w = 0; w < WORDS; w++) {
      const i = w * 4;
      const a = digest.charCodeAt(i);
      const b = digest.charCodeAt(i + 1);
      const c = digest.charCodeAt(i + 2);
      const d = digest.charCodeAt(i + 3);
      if ((a | b | c | d) > 0xff) throw new RangeError('a version digest is a one-byte string');
      p[w] = (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
      any |= p[w]!;
    }
    return any === 0;
  }

  /** The slot holding `probe`, or -1 (linear probing from its first word: the digest is uniform). */
  private find(table: Uint32Array, mask: number): number {
    const p = this.probe;
    for (let slot = p[0]! & mask; ; slot = (slot + 1) & mask) {
      const i = slot * WORDS;
      const w0 = table[i]!;
      const w1 = table[i + 1]!;
      const w2 = table[i + 2]!;
      const w3 = table[i + 3]!;
      if ((w0 | w1 | w2 | w3) === 0) return -1;
      if (w0 === p[0] && w1 === p[1] && w2 === p[2] && w3 === p[3]) return slot;
    }
  }

  /** Puts `probe` in its first empty slot (it is not in the table). */
  private put(table: Uint32Array, mask: number): void {
    const p = this.probe;
    let slot = p[0]! & mask;
    while ((table[slot * WORDS]! | table[slot * WORDS + 1]! | table[slot * WORDS + 2]! | table[slot * WORDS + 3]!) !== 0) {
      slot = (slot + 1) & mask;
    }
    table.set(p, slot * WORDS);
  }

  private grow(): void {
    const old = this.table;
    const slots = (this.mask + 1) * 2;
    const table = new Uint32Array(slots * WORDS);
    const mask = slots - 1;
    const p = this.probe;
    const saved = Uint32Array.from(p);
    for (let i = 0; i < old.length; i += WORDS) {
      if ((old[i]! | old[i + 1]! | old[i + 2]! | old[i + 3]!) === 0) continue;
      p[0] = old[i]!;
      p[1] = old[i + 1]!;
      p[2] = old[i + 2]!;
      p[3] = old[i + 3]!;
      this.put(table, mask);
    }
    p.set(saved);
    this.table = table;
    this.mask = mask;
  }
}
