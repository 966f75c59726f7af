// A small seeded PRNG for deterministic lab links and tests (no Math.random: the same seed
// must give the same packet fate on every run: docs/architecture.md, "Determinism").
//
// State is seeded with splitmix32 (so any 32-bit seed, including 0, gives a well-mixed
// non-zero state) and numbers are drawn with xoshiro128** 1.1 (Blackman & Vigna, 2018),
// which has a 2^128-1 period and passes BigCrush; plenty for fault injection.

/** splitmix32 step: returns [output, nextState]. Used only to expand a seed into state. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [z, next];
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any number; only its low 32 bits are used. */
  constructor(seed: number) {
    let st = seed >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [out, next] = splitmix32(st);
      words.push(out);
      st = next;
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    // xoshiro must not start from the all-zero state; splitmix32 cannot produce four zero
    // words in a row from consecutive states, but guard anyway.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniformly distributed unsigned 32-bit integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (tiny modulo bias is irrelevant here). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p (p <= 0 never, p >= 1 always; always draws one number). */
  chance(p: number): boolean {
    const x = this.next();
    return x < p;
  }
}
