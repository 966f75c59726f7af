// HalfSipHash-2-4 (32-bit output, 64-bit key): the keyed hash F() behind RFC 6528 ISNs and
// RFC 6056 port offsets. Pure TypeScript so the engine needs no Node crypto.
//
// Speed: it runs twice per connect, so the SipRounds are written out on local
// variables (no closure over the state, which V8 would keep in a heap context). A message
// can be hashed in two steps (sipWords() then sipFinish()), so that a caller hashing many
// messages with the same start keeps the state after that start (isn.ts).

/** Rotate left, as int32. */
function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** A HalfSipHash state part way through a message: the four words, as int32. */
export class SipState {
  v0 = 0;
  v1 = 0;
  v2 = 0;
  v3 = 0;
}

/** The little-endian 32-bit key word at key[at], as int32 (k0 at keyAt, k1 at keyAt + 4). */
export function sipKeyWord(key: Uint8Array, at: number): number {
  return key[at] | (key[at + 1] << 8) | (key[at + 2] << 16) | (key[at + 3] << 24);
}

/** Sets `s` to the initial state for the 8 key bytes at key[keyAt]. */
export function sipInit(s: SipState, key: Uint8Array, keyAt: number): void {
  const k0 = sipKeyWord(key, keyAt);
  const k1 = sipKeyWord(key, keyAt + 4);
  s.v0 = k0;
  s.v1 = k1;
  s.v2 = 0x6c796765 ^ k0;
  s.v3 = 0x74656462 ^ k1;
}

/** Absorbs the whole 4-byte words of data[from, to) into `s` (to - from a multiple of 4). */
export function sipWords(s: SipState, data: Uint8Array, from: number, to: number): void {
  sipRun(s, data, from, to, false);
}

/**
 * The hash of the message data[0, n), the whole words below `from` (a multiple of 4) being
 * already in `s`, which is left unchanged.
 */
export function sipFinish(s: SipState, data: Uint8Array, from: number, n: number): number {
  return sipRun(s, data, from, n, true);
}

/** Scratch state of halfSipHashAt(). */
const scratch = new SipState();

/** HalfSipHash-2-4 of `data` under an 8-byte `key`. */
export function halfSipHash(key: Uint8Array, data: Uint8Array): number {
  return halfSipHashAt(key, 0, data, data.length);
}

/**
 * HalfSipHash-2-4 of the first `n` bytes of `data` under the 8 key bytes at key[keyAt]
 * (lets callers reuse a scratch buffer and a longer secret without subarray views).
 */
export function halfSipHashAt(key: Uint8Array, keyAt: number, data: Uint8Array, n: number): number {
  sipInit(scratch, key, keyAt);
  return sipRun(scratch, data, 0, n, true);
}

/**
 * From the state `s` after the words below `from`: every 4-byte little-endian word up to `n`,
 * then, if `final`, the final word (length in the top byte, the remaining 0..3 bytes below)
 * and the finalisation, returning the hash; each word with c = 2 SipRounds. Without `final`
 * (n - from a multiple of 4) the state is stored back into `s`.
 */
function sipRun(s: SipState, data: Uint8Array, from: number, n: number, final: boolean): number {
  // The state is kept as int32 (`| 0`), the same 32 bits as uint32 (`>>> 0`) but always a
  // small integer to V8: with `>>> 0` a value of 2^31 or more became a double in the loop.
  let v0 = s.v0;
  let v1 = s.v1;
  let v2 = s.v2;
  let v3 = s.v3;
  const end = n - (n % 4);
  const last = final ? end : end - 4;
  for (let i = from; i <= last; i += 4) {
    let m: number;
    if (i < end) {
      m = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    } else {
      m = n << 24;
      for (let j = 0; j < n % 4; j++) m |= data[end + j] << (8 * j);
    }
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    }
    v0 ^= m;
  }
  if (!final) {
    s.v0 = v0;
    s.v1 = v1;
    s.v2 = v2;
    s.v3 = v3;
    return 0;
  }
  v2 ^= 0xff;
  // d = 4 finalisation SipRounds.
  for (let r = 0; r < 4; r++) {
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  }
  return (v1 ^ v3) >>> 0;
}
