// The Internet checksum (RFC 1071) and the TCP/ICMPv6 pseudo-headers
// (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6).
//
// Speed: the sum is taken over big-endian 32-bit words read through a DataView,
// four words per loop turn, into a plain JS number that is folded only at the
// end. This is valid because 2^16 ≡ 1 (mod 2^16 - 1): a 32-bit word hi·2^16 + lo
// contributes hi + lo to the one's-complement sum (RFC 1071 §2 (A), (C) "deferred
// carries"). A double holds integers exactly up to 2^53, so we reduce the
// accumulator every CHUNK_BYTES to stay far below that.

/** Bytes summed between two reductions of the accumulator (each 16-byte turn adds < 2^34). */
const CHUNK_BYTES = 1 << 20;

/** Ranges up to this many bytes skip the DataView (see sumWords). */
const SHORT_BYTES = 64;

/** Reduce `acc` modulo 2^16-1 without losing the one's-complement "non-zero" property. */
function reduce32(acc: number): number {
  // `%`/`/` rather than `&`/`>>>`, which would truncate values above 2^32.
  while (acc > 0xffffffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return acc;
}

/**
 * Adds the 16-bit big-endian words of buf[start, end) to `acc` and returns the
 * unfolded partial sum (a non-negative integer below 2^32, not yet folded to 16 bits).
 *
 * An odd final byte is padded with a zero low byte (RFC 1071 §4.1). When combining
 * several partial sums, every range except the last must have even length, and the
 * sums are simply added before `foldChecksum`.
 */
export function sumWords(buf: Uint8Array, start: number, end: number, acc: number): number {
  if (end > buf.length) end = buf.length;
  if (start >= end) return reduce32(acc);
  if (end - start <= SHORT_BYTES) {
    // Headers (20-60 bytes) are summed byte-pair by byte-pair: creating a DataView costs
    // more than the whole sum at this size (a CPU profile of the handshake path). Two pairs
    // per turn into a local sum that stays a small integer (at most 32 words of 0xffff, below
    // 2^21), added to `acc` once: 20 ns instead of 28 for a 20- or 32-byte header in a
    // micro-benchmark (BENCHMARKS.md, phase 5).
    let s = 0;
    let i = start;
    for (; i + 3 < end; i += 4) s += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]);
    if (i + 1 < end) {
      s += (buf[i] << 8) | buf[i + 1];
      i += 2;
    }
    if (i < end) s += buf[i] << 8;
    return reduce32(acc + s);
  }
  const dv = viewOf(buf.buffer);
  const base = buf.byteOffset;
  start += base;
  end += base;
  let i = start;
  while (i < end) {
    const chunkEnd = Math.min(end, i + CHUNK_BYTES);
    const end16 = chunkEnd - 15;
    for (; i < end16; i += 16) {
      acc += dv.getUint32(i) + dv.getUint32(i + 4) + dv.getUint32(i + 8) + dv.getUint32(i + 12);
    }
    for (; i + 3 < chunkEnd; i += 4) acc += dv.getUint32(i);
    if (chunkEnd === end) {
      if (i + 1 < end) {
        acc += dv.getUint16(i);
        i += 2;
      }
      if (i < end) {
        acc += dv.getUint8(i) << 8;
        i++;
      }
    }
    // chunkEnd is a multiple of 4 away from `start` unless it is `end`, so the
    // word alignment relative to `start` is kept across chunks.
    acc = reduce32(acc);
  }
  return acc;
}

/**
 * A DataView over the whole of `buffer`, reused while the buffers summed are the same one
 * (the stack's output buffer, a device's receive buffer): a new DataView per packet was an
 * allocation per data segment. Only the last buffer is remembered, and only one of at most
 * REMEMBERED_BYTES, so that a large buffer summed once is not kept alive.
 */
const REMEMBERED_BYTES = 4 * 1024 * 1024;
let lastBuffer: ArrayBufferLike | undefined;
let lastView: DataView | undefined;
function viewOf(buffer: ArrayBufferLike): DataView {
  if (buffer === lastBuffer && lastView !== undefined && lastView.byteLength === buffer.byteLength) return lastView;
  const view = new DataView(buffer);
  if (buffer.byteLength <= REMEMBERED_BYTES) {
    lastView = view;
    lastBuffer = buffer;
  }
  return view;
}

/** Folds a partial sum to 16 bits with end-around carry (RFC 1071 §4.1). */
export function foldChecksum(acc: number): number {
  acc = reduce32(acc);
  acc = (acc & 0xffff) + (acc >>> 16);
  acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/**
 * The Internet checksum of buf[start, end): the 16-bit one's complement of the
 * one's-complement sum, with `initial` (an unfolded partial sum, e.g. from
 * `pseudoHeaderSum`) added in. Verifying a message that contains its checksum
 * field yields 0 when the message is intact.
 */
export function internetChecksum(
  buf: Uint8Array,
  start: number = 0,
  end: number = buf.length,
  initial: number = 0,
): number {
  return ~foldChecksum(sumWords(buf, start, end, initial)) & 0xffff;
}

/**
 * Unfolded sum of the pseudo-header that TCP and ICMPv6 checksums cover.
 * - IPv4 (RFC 9293 §3.1): src(4) dst(4) zero(1) protocol(1) TCP length(2).
 * - IPv6 (RFC 8200 §8.1): src(16) dst(16) upper-layer length(4) zero(3) next header(1).
 * `length` is the upper-layer length in bytes (header + data).
 */
export function pseudoHeaderSum(
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  length: number,
): number {
  const n = version === 4 ? 4 : 16;
  let acc = 0;
  for (let i = 0; i < n; i += 2) {
    acc += ((src[i] << 8) | src[i + 1]) + ((dst[i] << 8) | dst[i + 1]);
  }
  // IPv4 carries a 16-bit length; IPv6 a 32-bit one, both contribute their 16-bit halves.
  acc += protocol + (length & 0xffff) + Math.floor(length / 0x10000);
  return acc;
}
