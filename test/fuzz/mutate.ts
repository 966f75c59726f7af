// Byte-level mutation for the fuzzers (in the spirit of AFL's havoc stage): flip bits, set
// interesting values, insert, delete, duplicate, truncate, splice. Deterministic: every
// choice comes from a seeded Rng, so a failing (seed, iteration) pair replays exactly.
import { seededRandom, type RandomSource } from "../../stack/random.js";
import { internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.js";
import { walkExtensionHeaders } from "../../stack/wire/ipv6.js";

export class Rng {
  private readonly src: RandomSource;
  constructor(readonly seed: number) {
    this.src = seededRandom(seed);
  }
  u32(): number {
    return this.src.nextUint32();
  }
  /** Uniform-ish integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.below(a.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

// Values that sit on parser boundaries: version/IHL nibbles, protocol and next-header
// numbers, option kinds, sign bits.
const INTERESTING8 = [0, 1, 2, 3, 4, 5, 6, 8, 10, 0x0f, 0x10, 0x14, 0x1f, 0x20, 0x3f, 0x40, 0x44, 0x45, 0x46, 0x4f, 0x50, 0x5f, 0x60, 0x7f, 0x80, 0xc2, 0xf0, 0xfe, 0xff, 17, 43, 44, 58, 59, 60, 135];
const INTERESTING16 = [0, 1, 2, 7, 8, 19, 20, 21, 39, 40, 41, 59, 60, 61, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING32 = [0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];

function put16(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 8) & 0xff;
  b[i + 1] = v & 0xff;
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 24) & 0xff;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

/** One havoc step. May return a new array (insert/delete) or mutate `b` in place. */
function mutateOnce(b: Uint8Array, r: Rng, corpus: readonly Uint8Array[] | undefined, maxLen: number): Uint8Array {
  const n = b.length;
  switch (r.below(12)) {
    case 0: // flip one bit
      if (n > 0) b[r.below(n)] ^= 1 << r.below(8);
      return b;
    case 1: // random byte
      if (n > 0) b[r.below(n)] = r.u32() & 0xff;
      return b;
    case 2: // interesting byte
      if (n > 0) b[r.below(n)] = r.pick(INTERESTING8);
      return b;
    case 3: {
      // interesting or length-relative 16-bit word (length fields!)
      if (n < 2) return b;
      const rel = [n, n - 20, n - 40, n - 1, n + 1, n - 8, n - 28, n - 48];
      const v = r.chance(0.5) ? r.pick(INTERESTING16) : r.pick(rel) & 0xffff;
      put16(b, r.below(n - 1), v);
      return b;
    }
    case 4: // interesting 32-bit word (sequence numbers, MTUs, pointers)
      if (n >= 4) put32(b, r.below(n - 3), r.chance(0.7) ? r.pick(INTERESTING32) : r.u32());
      return b;
    case 5: {
      // add/subtract a small delta to a byte (off-by-one in lengths)
      if (n > 0) {
        const i = r.below(n);
        b[i] = (b[i] + r.range(-4, 4)) & 0xff;
      }
      return b;
    }
    case 6: {
      // insert random bytes
      if (n >= maxLen) return b;
      const at = r.below(n + 1);
      const k = Math.min(r.range(1, 16), maxLen - n);
      const out = new Uint8Array(n + k);
      out.set(b.subarray(0, at));
      out.set(r.bytes(k), at);
      out.set(b.subarray(at), at + k);
      return out;
    }
    case 7: {
      // delete a range
      if (n === 0) return b;
      const at = r.below(n);
      const k = Math.min(r.range(1, 16), n - at);
      const out = new Uint8Array(n - k);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + k), at);
      return out;
    }
    case 8: // truncate
      return b.subarray(0, r.below(n + 1)).slice();
    case 9: {
      // extend with random bytes (link padding, trailing junk)
      const k = Math.min(r.range(1, 64), Math.max(0, maxLen - n));
      const out = new Uint8Array(n + k);
      out.set(b);
      out.set(r.bytes(k), n);
      return out;
    }
    case 10: {
      // copy a chunk over another place (duplicated headers, shifted fields)
      if (n < 2) return b;
      const from = r.below(n);
      const to = r.below(n);
      const k = Math.min(r.range(1, 32), n - from, n - to);
      b.copyWithin(to, from, from + k);
      return b;
    }
    default: {
      // splice: our head with another corpus entry's tail
      if (!corpus || corpus.length === 0) return b;
      const other = r.pick(corpus);
      const cut = r.below(n + 1);
      const from = r.below(other.length + 1);
      const tail = other.subarray(from);
      const out = new Uint8Array(Math.min(maxLen, cut + tail.length));
      out.set(b.subarray(0, Math.min(cut, out.length)));
      if (cut < out.length) out.set(tail.subarray(0, out.length - cut), cut);
      return out;
    }
  }
}

/** 1-5 stacked havoc steps on a copy of `input`. */
export function mutate(input: Uint8Array, r: Rng, corpus?: readonly Uint8Array[], maxLen = 2048): Uint8Array {
  let b: Uint8Array = input.slice();
  const steps = r.chance(0.5) ? 1 : r.range(2, 5);
  for (let k = 0; k < steps; k++) b = mutateOnce(b, r, corpus, maxLen);
  return b;
}

/**
 * Makes the IP length field agree with the buffer, so a mutation is not rejected at the
 * first length check every time.
 */
export function fixIpLength(b: Uint8Array): void {
  if (b.length >= 20 && b[0] >> 4 === 4 && b.length <= 0xffff) put16(b, 2, b.length);
  else if (b.length >= 40 && b[0] >> 4 === 6 && b.length - 40 <= 0xffff) put16(b, 4, b.length - 40);
}

/**
 * Recomputes the IPv4 header checksum and the TCP / ICMP / ICMPv6 checksum wherever the
 * headers are intact enough to find them, so mutated packets get past the checksum
 * checks and reach the option, quote and state-machine code. Never throws.
 */
export function fixChecksums(b: Uint8Array): void {
  const v = b.length > 0 ? b[0] >> 4 : 0;
  if (v === 4) {
    if (b.length < 20) return;
    const ihl = (b[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > b.length) return;
    b[10] = b[11] = 0;
    put16(b, 10, internetChecksum(b, 0, ihl));
    const total = Math.min((b[2] << 8) | b[3], b.length);
    if (total < ihl) return;
    const proto = b[9];
    fixL4(b, ihl, total, proto, 4, b.subarray(12, 16), b.subarray(16, 20));
  } else if (v === 6) {
    if (b.length < 40) return;
    const end = Math.min(40 + ((b[4] << 8) | b[5]), b.length);
    const w = walkExtensionHeaders(b, 40, end, b[6], undefined, false);
    if (w.reason !== undefined || w.headerEnd > end) return;
    fixL4(b, w.headerEnd, end, w.protocol, 6, b.subarray(8, 24), b.subarray(24, 40));
  }
}

function fixL4(b: Uint8Array, start: number, end: number, proto: number, v: 4 | 6, src: Uint8Array, dst: Uint8Array): void {
  const len = end - start;
  if (proto === 6 && len >= 18) {
    b[start + 16] = b[start + 17] = 0;
    put16(b, start + 16, internetChecksum(b, start, end, pseudoHeaderSum(v, src, dst, 6, len)));
  } else if (proto === 1 && v === 4 && len >= 4) {
    b[start + 2] = b[start + 3] = 0;
    put16(b, start + 2, internetChecksum(b, start, end));
  } else if (proto === 58 && v === 6 && len >= 4) {
    b[start + 2] = b[start + 3] = 0;
    put16(b, start + 2, internetChecksum(b, start, end, pseudoHeaderSum(6, src, dst, 58, len)));
  }
}

/** Lower-case hex, for failure messages (a failing input can be pasted into a test). */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
