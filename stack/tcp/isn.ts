// RFC 6528 initial sequence numbers and RFC 6056 ephemeral port selection. Both take
// their secret and randomness from the caller, so a fixed seed reproduces them exactly.
import { halfSipHashAt } from "./siphash.js";

/** Scratch for the hashed tuple text (grown on demand; reused to keep connect() allocation-free). */
let scratch = new Uint8Array(128);

/**
 * Writes the low byte of each UTF-16 unit of `s` to the scratch buffer at `at`, then a "|"
 * if `bar`; returns the new length. The tuple text is written piece by piece, with no
 * string built for it (this runs twice per connect); the bytes are those of the text.
 */
function putText(at: number, s: string, bar: boolean): number {
  const n = s.length;
  if (at + n + 1 > scratch.length) grow(at + n + 1);
  for (let i = 0; i < n; i++) scratch[at + i] = s.charCodeAt(i) & 0xff;
  at += n;
  if (bar) scratch[at++] = 0x7c; // "|"
  return at;
}

/** Writes `v` the way `${v}` prints it (ports: integers 0..65535), then a "|" if `bar`. */
function putNumber(at: number, v: number, bar: boolean): number {
  if (!(Number.isInteger(v) && v >= 0 && v < 1e9)) return putText(at, `${v}`, bar);
  // Integer division by `| 0` (v < 1e9 fits in an int32), not Math.floor on doubles.
  let digits = 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
  if (at + digits + 1 > scratch.length) grow(at + digits + 1);
  for (let i = digits - 1, t = v; i >= 0; i--, t = (t / 10) | 0) scratch[at + i] = 0x30 + (t % 10);
  at += digits;
  if (bar) scratch[at++] = 0x7c;
  return at;
}

function grow(min: number): void {
  const next = new Uint8Array(Math.max(min, scratch.length * 2));
  next.set(scratch);
  scratch = next;
}

/**
 * RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is
 * a timer that ticks every 4 microseconds and F a keyed hash (HalfSipHash-2-4 here) of the
 * text "localip|localport|remoteip|remoteport".
 */
export function rfc6528Isn(secret: Uint8Array, nowMs: number, localAddr: string, localPort: number, remoteAddr: string, remotePort: number): number {
  const m = Math.floor(nowMs * 250) >>> 0;
  // The text "localip|localport|remoteip|remoteport".
  const n = putNumber(putText(putNumber(putText(0, localAddr, true), localPort, true), remoteAddr, true), remotePort, false);
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
  // The text "localip|remoteip|remoteport".
  const n = putNumber(putText(putText(0, localAddr, true), remoteAddr, true), remotePort, false);
  return halfSipHashAt(secret, secret.length >= 16 ? 8 : 0, scratch, n);
}
