// Randomness enters the engine only through this interface (docs/architecture.md "Determinism": no Math.random
// in stack/). Tests pass a seeded source so ISNs, ports and bytes reproduce exactly.

export interface RandomSource {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number;
}

/** SplitMix32-style generator: small, fast and good enough for tests and port offsets. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return {
    nextUint32(): number {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    },
  };
}

/** Fills a byte array from a random source (for secrets in tests). */
export function randomBytes(rnd: RandomSource, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = rnd.nextUint32();
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
  }
  return out;
}
