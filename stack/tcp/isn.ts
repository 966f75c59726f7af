// RFC 6528 initial sequence numbers and RFC 6056 ephemeral port selection. Both take
// their secret and randomness from the caller, so a fixed seed reproduces them exactly.
import { halfSipHashAt } from "./siphash.js";

/** Scratch for the hashed tuple text (grown on demand; reused to keep connect() allocation-free). */
let scratch = new Uint8Array(128);

/** Writes the low byte of each UTF-16 unit of `s` to the scratch buffer; returns its length. */
function tupleBytes(s: string): number {
  const n = s.length;
  if (n > scratch.length) scratch = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) scratch[i] = s.charCodeAt(i) & 0xff;
  return n;
}

/**
 * RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is
 * a timer that ticks every 4 microseconds and F a keyed hash (HalfSipHash-2-4 here) of the
 * text "localip|localport|remoteip|remoteport".
 */
export function rfc6528Isn(secret: Uint8Array, nowMs: number, localAddr: string, localPort: number, remoteAddr: string, remotePort: number): number {
  const m = Math.floor(nowMs * 250) >>> 0;
  const n = tupleBytes(`${localAddr}|${localPort}|${remoteAddr}|${remotePort}`);
  const f = halfSipHashAt(secret, 0, scratch, n);
  return (m + f) >>> 0;
}

/**
 * RFC 6056 §3.3.3 (Algorithm 3, "simple hash-based"): the search for a free port starts at
 * F(local IP, remote IP, remote port, secret) + a counter that advances per attempt, so
 * consecutive connections to one peer do not reveal a pattern to others.
 */
export function rfc6056PortOffset(secret: Uint8Array, localAddr: string, remoteAddr: string, remotePort: number): number {
  // Use the second half of the secret so port and ISN hashes differ.
  const n = tupleBytes(`${localAddr}|${remoteAddr}|${remotePort}`);
  return halfSipHashAt(secret, secret.length >= 16 ? 8 : 0, scratch, n);
}
