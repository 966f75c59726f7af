// A time (ms: fractions, or Infinity) kept in two int32 fields of an object instead of one
// number field.
//
// V8 keeps a number field that has held a fraction or Infinity as a pointer to a 16-byte heap
// box of its own, per object (deadlines.ts). Every box is one more object for the garbage
// collector to copy while a connection is young, and the kept-open engine benchmark is bound
// by that copying. The time's 64 bits split into two int32 halves are stored inside the object
// as small integers instead: one object and 8 bytes less per time, and the value read back is
// the same double, bit for bit (no rounding: the real clock has fractional milliseconds, and a
// rounded deadline would fire at another time). Measured in BENCHMARKS.md, phase 4.
//
// The price is the read: the two halves go back through memory, about 15 to 20 ns against
// about 2 ns for a boxed field (a micro-benchmark on this machine, 22:08Z), 6 ns for Infinity
// with the shortcut in joinTime(). A handshake reads a handful of them; the collector copied
// one box per time per kept connection, which cost more (phase 4's before and after).
//
// A class stores a time `t` as two fields `tW0`, `tW1` behind an accessor pair:
//   get t(): number { return joinTime(this.tW0, this.tW1); }
//   set t(v: number) { splitTime(v); this.tW0 = timeWords[0]; this.tW1 = timeWords[1]; }

const scratch = new Float64Array(1);

/** The two int32 halves of the time last given to splitTime(). */
export const timeWords = new Int32Array(scratch.buffer);

/** Puts the 64 bits of `t` into timeWords. */
export function splitTime(t: number): void {
  scratch[0] = t;
}

/** The time whose halves are `w0` and `w1` (timeWords[0] and [1] of splitTime()). */
export function joinTime(w0: number, w1: number): number {
  // Unarmed deadlines are the most common value read: no round trip through memory for them
  // (6 ns instead of 15 to 22 in the micro-benchmark above).
  if (w1 === INFINITY_W1 && w0 === INFINITY_W0) return Infinity;
  timeWords[0] = w0;
  timeWords[1] = w1;
  return scratch[0];
}

splitTime(Infinity);
/** The halves of Infinity, for field initialisers. */
export const INFINITY_W0 = timeWords[0];
export const INFINITY_W1 = timeWords[1];
