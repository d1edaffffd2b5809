// Gives a large Buffer's memory back at once, when the code that made it knows it is garbage: its bytes
// are released now instead of at the next full garbage collection (a Buffer that lived long enough to be
// promoted is only collected by one), so the process does not hold the garbage of a whole collection
// cycle besides what it uses (docs/design.md §14). Only a Buffer that owns its whole ArrayBuffer is
// released (never a slice of Node's shared pool, or a view of another buffer); the Buffer is empty after.
const MIN_BYTES = 4096;

export function freeNow(buf: Buffer): void {
  const ab = buf.buffer;
  if (buf.byteLength < MIN_BYTES || buf.byteOffset !== 0 || ab.byteLength !== buf.byteLength) return;
  if (!(ab instanceof ArrayBuffer) || typeof (ab as { transfer?: unknown }).transfer !== 'function') return;
  // Detaches it: the backing store goes with the (empty) new ArrayBuffer, which nothing holds.
  (ab as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
}
