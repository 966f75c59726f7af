// RFC 6528 initial sequence numbers and RFC 6056 ephemeral port selection. Both take
// their secret and randomness from the caller, so a fixed seed reproduces them exactly.
import { halfSipHash } from "./siphash.js";

function tupleBytes(parts: Array<string | number>): Uint8Array {
  const s = parts.join("|");
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/**
 * RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is
 * a timer that ticks every 4 microseconds and F a keyed hash (HalfSipHash-2-4 here).
 */
export function rfc6528Isn(secret: Uint8Array, nowMs: number, localAddr: string, localPort: number, remoteAddr: string, remotePort: number): number {
  const m = Math.floor(nowMs * 250) >>> 0;
  const f = halfSipHash(secret, tupleBytes([localAddr, localPort, remoteAddr, remotePort]));
  return (m + f) >>> 0;
}

/**
 * RFC 6056 §3.3.3 (Algorithm 3, "simple hash-based"): the search for a free port starts at
 * F(local IP, remote IP, remote port, secret) + a counter that advances per attempt, so
 * consecutive connections to one peer do not reveal a pattern to others.
 */
export function rfc6056PortOffset(secret: Uint8Array, localAddr: string, remoteAddr: string, remotePort: number): number {
  // Use the second half of the secret so port and ISN hashes differ.
  const key = secret.length >= 16 ? secret.subarray(8, 16) : secret;
  return halfSipHash(key, tupleBytes([localAddr, remoteAddr, remotePort]));
}
