// RFC 6528 initial sequence numbers and RFC 6056 ephemeral port selection. Both take
// their secret and randomness from the caller, so a fixed seed reproduces them exactly.
import { SipState, sipFinish, sipInit, sipKeyWord, sipWords } from "./siphash.js";

/**
 * The text one keyed hash reads ("localip|localport|remoteip|remoteport" and the like),
 * written into a reused buffer piece by piece with no string built for it (this runs twice
 * per connect), and the hash state after its start. The start is the tuple's addresses,
 * which repeat from one connect to the next (one local address, few peers): while they and
 * the key are the same, their bytes are not written again and the SipRounds over their whole
 * words are not redone; only the rest of the text is written and hashed. The result is the
 * HalfSipHash of the whole text either way (test/stack/isn.test.ts). Measured with callgrind
 * on the engine benchmark: the two hashes and their text were about 4 800 instructions of a
 * handshake's 27 400, the largest part of the handshake path (BENCHMARKS.md, phase 5).
 */
class TupleText {
  private bytes = new Uint8Array(128);
  /** The state after the whole words of the start, and what it was made from. */
  private readonly state = new SipState();
  private k0 = 0;
  private k1 = 0;
  private first: string | undefined = undefined;
  private second: string | undefined = undefined;
  private startLength = -1;

  /**
   * Makes the text begin "first|" (or "first|second|" when `second` is given), to be hashed
   * under the 8 key bytes at key[keyAt]; returns the length of that start.
   */
  start(key: Uint8Array, keyAt: number, first: string, second: string | undefined): number {
    const k0 = sipKeyWord(key, keyAt);
    const k1 = sipKeyWord(key, keyAt + 4);
    if (first !== this.first || second !== this.second || k0 !== this.k0 || k1 !== this.k1 || this.startLength < 0) {
      let n = this.putText(0, first, true);
      if (second !== undefined) n = this.putText(n, second, true);
      sipInit(this.state, key, keyAt);
      sipWords(this.state, this.bytes, 0, n - (n % 4));
      this.first = first;
      this.second = second;
      this.k0 = k0;
      this.k1 = k1;
      this.startLength = n;
    }
    return this.startLength;
  }

  /** The hash of the text's first `n` bytes (its start as made by start(), then what was put after it). */
  hash(n: number): number {
    const s = this.startLength;
    return sipFinish(this.state, this.bytes, s - (s % 4), n);
  }

  /**
   * Writes the low byte of each UTF-16 unit of `s` at `at`, then a "|" if `bar`; returns the
   * new length. The bytes are those of the text.
   */
  putText(at: number, s: string, bar: boolean): number {
    const n = s.length;
    if (at + n + 1 > this.bytes.length) this.grow(at + n + 1);
    const b = this.bytes;
    for (let i = 0; i < n; i++) b[at + i] = s.charCodeAt(i) & 0xff;
    at += n;
    if (bar) b[at++] = 0x7c; // "|"
    return at;
  }

  /** Writes `v` the way `${v}` prints it (ports: integers 0..65535), then a "|" if `bar`. */
  putNumber(at: number, v: number, bar: boolean): number {
    if (!(Number.isInteger(v) && v >= 0 && v < 1e9)) return this.putText(at, `${v}`, bar);
    // The digits counted by comparisons, then one integer division by `| 0` per digit (v < 1e9
    // fits in an int32), the digit taken from its quotient: a division and a remainder per
    // digit in two passes cost about 210 instructions per port (callgrind, BENCHMARKS.md,
    // phase 5).
    const digits = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : 9;
    if (at + digits + 1 > this.bytes.length) this.grow(at + digits + 1);
    const b = this.bytes;
    for (let i = at + digits - 1, t = v; i >= at; i--) {
      const q = (t / 10) | 0;
      b[i] = 0x30 + t - q * 10;
      t = q;
    }
    at += digits;
    if (bar) b[at++] = 0x7c;
    return at;
  }

  private grow(min: number): void {
    const next = new Uint8Array(Math.max(min, this.bytes.length * 2));
    next.set(this.bytes);
    this.bytes = next;
  }
}

const isnText = new TupleText();
const portText = new TupleText();

/**
 * RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is
 * a timer that ticks every 4 microseconds and F a keyed hash (HalfSipHash-2-4 here) of the
 * text "localip|localport|remoteip|remoteport".
 */
export function rfc6528Isn(secret: Uint8Array, nowMs: number, localAddr: string, localPort: number, remoteAddr: string, remotePort: number): number {
  const m = Math.floor(nowMs * 250) >>> 0;
  const t = isnText;
  const n = t.putNumber(t.putText(t.putNumber(t.start(secret, 0, localAddr, undefined), localPort, true), remoteAddr, true), remotePort, false);
  const f = t.hash(n);
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
  const t = portText;
  const n = t.putNumber(t.start(secret, secret.length >= 16 ? 8 : 0, localAddr, remoteAddr), remotePort, false);
  return t.hash(n);
}
