// HalfSipHash-2-4 (32-bit output, 64-bit key): the keyed hash F() behind RFC 6528 ISNs and
// RFC 6056 port offsets. Pure TypeScript so the engine needs no Node crypto.
//
// Speed: it runs twice per connect, so the SipRounds are written out on local
// variables (no closure over the state, which V8 would keep in a heap context).

/** Rotate left, as int32. */
function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** HalfSipHash-2-4 of `data` under an 8-byte `key`. */
export function halfSipHash(key: Uint8Array, data: Uint8Array): number {
  return halfSipHashAt(key, 0, data, data.length);
}

/**
 * HalfSipHash-2-4 of the first `n` bytes of `data` under the 8 key bytes at key[keyAt]
 * (lets callers reuse a scratch buffer and a longer secret without subarray views).
 */
export function halfSipHashAt(key: Uint8Array, keyAt: number, data: Uint8Array, n: number): number {
  // The state is kept as int32 (`| 0`), the same 32 bits as uint32 (`>>> 0`) but always a
  // small integer to V8: with `>>> 0` a value of 2^31 or more became a double in the loop.
  const k0 = key[keyAt] | (key[keyAt + 1] << 8) | (key[keyAt + 2] << 16) | (key[keyAt + 3] << 24);
  const k1 = key[keyAt + 4] | (key[keyAt + 5] << 8) | (key[keyAt + 6] << 16) | (key[keyAt + 7] << 24);
  let v0 = k0;
  let v1 = k1;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = n - (n % 4);
  // Every 4-byte little-endian word, then the final word (length in the top byte, the
  // remaining 0..3 bytes below), each with c = 2 SipRounds.
  for (let i = 0; i <= end; i += 4) {
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
