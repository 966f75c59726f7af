// HalfSipHash-2-4 (32-bit output, 64-bit key): the keyed hash F() behind RFC 6528 ISNs and
// RFC 6056 port offsets. Pure TypeScript so the engine needs no Node crypto.

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** HalfSipHash-2-4 of `data` under an 8-byte `key`. */
export function halfSipHash(key: Uint8Array, data: Uint8Array): number {
  const k0 = (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  const k1 = (key[4] | (key[5] << 8) | (key[6] << 16) | (key[7] << 24)) >>> 0;
  let v0 = k0;
  let v1 = k1;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  const round = () => {
    v0 = (v0 + v1) >>> 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) >>> 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) >>> 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    v1 >>>= 0; v3 >>>= 0;
  };
  const n = data.length;
  const end = n - (n % 4);
  for (let i = 0; i < end; i += 4) {
    const m = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
    v3 ^= m;
    round(); round();
    v0 ^= m;
  }
  let b = (n << 24) >>> 0;
  for (let i = 0; i < n % 4; i++) b |= data[end + i] << (8 * i);
  b >>>= 0;
  v3 ^= b;
  round(); round();
  v0 ^= b;
  v2 ^= 0xff;
  round(); round(); round(); round();
  return (v1 ^ v3) >>> 0;
}
