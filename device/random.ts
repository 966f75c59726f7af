// Real randomness for real runs (ISNs, ports and TS offsets must not repeat across runs).
// The engine only sees the RandomSource interface; tests pass seeded sources instead.
import { randomBytes } from "node:crypto";
import type { RandomSource } from "../stack/random.js";

export function cryptoRandom(): RandomSource {
  let pool = randomBytes(4096);
  let off = 0;
  return {
    nextUint32(): number {
      if (off + 4 > pool.length) {
        pool = randomBytes(4096);
        off = 0;
      }
      const v = pool.readUInt32LE(off);
      off += 4;
      return v;
    },
  };
}
