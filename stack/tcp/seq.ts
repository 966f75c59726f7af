// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Every comparison of sequence
// numbers in the engine goes through these helpers, so wrap-around is handled in one place.

/** a + b mod 2^32. */
export function seqAdd(a: number, b: number): number {
  return (a + b) >>> 0;
}

/** The signed distance a - b, in -2^31 .. 2^31-1. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** lo <= x < hi, modulo 2^32 (half-open window starting at lo). */
export function seqInWindow(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) < ((hi - lo) >>> 0);
}

/** lo <= x <= hi, modulo 2^32. */
export function seqBetween(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) <= ((hi - lo) >>> 0);
}
