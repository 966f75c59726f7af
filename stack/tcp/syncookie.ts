// SYN cookies (RFC 4987 §3.6): the listener keeps no state for a SYN and encodes what it
// needs in its own initial sequence number; the peer's ACK (SEG.ACK - 1) brings it back.
// Two encodings, each as its OS makes it (the layout, tables, lifetimes and checks; the
// keyed hash is HalfSipHash-2-4 under keys derived from the stack's secret):
//
// - Linux (net/ipv4/syncookies.c, __cookie_v4_init_sequence() / __cookie_v4_check()):
//   cookie = H0(tuple) + their ISN + (count << 24) + ((H1(tuple, count) + mssIndex) mod 2^24),
//   count = minutes; valid while count is at most one minute old (MAX_SYNCOOKIE_AGE 2).
//   The MSS goes as an index into {536, 1300, 1440, 1460}; window scale and SACK-permitted
//   ride in the low 6 bits of the SYN-ACK's TSval (cookie_init_timestamp()), so without
//   timestamps they are lost.
// - FreeBSD (sys/netinet/tcp_syncache.c, syncookie_generate() / syncookie_lookup()):
//   ISS = 24 bits of MAC(tuple, their ISN, flags, secret) | 8 bits of flags XOR the MAC's top
//   byte; the flags hold the MSS index (of 8), the window-scale index (of 8), SACK, and which
//   of the two secrets (each replaced every 16 s, so a cookie lives 16-32 s).
import { halfSipHashAt } from "./siphash.js";

/** The connection a cookie belongs to, from the listener's side. */
export interface CookieTuple {
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
}

/** What a cookie carries of the peer's SYN. */
export interface CookieOptions {
  /** The peer's MSS as the cookie's table rounds it down. */
  mss: number;
  /** The peer's window-scale shift, or undefined: no window scaling. */
  wscale: number | undefined;
  sackOK: boolean;
}

// ---------------------------------------------------------------------------------------
// Keys and the hashed input
//
// These run for every passive open under linux and freebsd (TSval offsets, freebsd's ISS):
// the input is written into one scratch buffer (addresses as text, numbers as 4 bytes) and
// the keys are derived once per secret, so no string or array is built per SYN.

/** Scratch for the hashed input (grown on demand). */
let buf = new Uint8Array(128);

/** Writes the low byte of each UTF-16 unit of `s` (addresses are ASCII), then "|"; returns the new length. */
function putAddr(at: number, s: string): number {
  if (at + s.length + 1 > buf.length) grow(at + s.length + 1);
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i) & 0xff;
  buf[at + s.length] = 0x7c;
  return at + s.length + 1;
}

/** Writes `v` as 4 bytes, little-endian; returns the new length. */
function putU32(at: number, v: number): number {
  if (at + 4 > buf.length) grow(at + 4);
  buf[at] = v;
  buf[at + 1] = v >>> 8;
  buf[at + 2] = v >>> 16;
  buf[at + 3] = v >>> 24;
  return at + 4;
}

function grow(min: number): void {
  const next = new Uint8Array(Math.max(min, buf.length * 2));
  next.set(buf);
  buf = next;
}

/** The tuple: remote address, local address, then both ports in one word. */
function putTuple(t: CookieTuple): number {
  return putU32(putAddr(putAddr(0, t.remoteAddr), t.localAddr), ((t.remotePort & 0xffff) << 16) | (t.localPort & 0xffff));
}

/** An 8-byte key for `label` (a number naming its use), derived from the stack's secret (16 bytes, or 8). */
function deriveKey(secret: Uint8Array, label: number): Uint8Array {
  const hi = secret.length >= 16 ? 8 : 0;
  const n = putU32(putU32(0, 0x5c0031e5), label);
  const a = halfSipHashAt(secret, 0, buf, n);
  const b = halfSipHashAt(secret, hi, buf, n);
  return new Uint8Array([a, a >>> 8, a >>> 16, a >>> 24, b, b >>> 8, b >>> 16, b >>> 24]);
}

/** The keys of one secret: Linux's two cookie secrets, the TSval-offset keys, FreeBSD's per 16-s epoch. */
interface Keys {
  linux0: Uint8Array;
  linux1: Uint8Array;
  linuxTs: Uint8Array;
  freebsdTs: Uint8Array;
  /** FreeBSD's secret of an epoch (only the current and the previous one are ever asked for). */
  epochs: Map<number, Uint8Array>;
}

const keyCache = new WeakMap<Uint8Array, Keys>();

function keys(secret: Uint8Array): Keys {
  let k = keyCache.get(secret);
  if (!k) keyCache.set(secret, (k = { linux0: deriveKey(secret, 0), linux1: deriveKey(secret, 1), linuxTs: deriveKey(secret, 2), freebsdTs: deriveKey(secret, 3), epochs: new Map() }));
  return k;
}

function epochKey(secret: Uint8Array, epoch: number): Uint8Array {
  const m = keys(secret).epochs;
  let k = m.get(epoch);
  if (!k) {
    if (m.size >= 4) m.clear();
    // Labels 16 and up: one per epoch (an epoch number below 2^32 - 16 at any real time).
    m.set(epoch, (k = deriveKey(secret, (epoch + 16) >>> 0)));
  }
  return k;
}

// ---------------------------------------------------------------------------------------
// Linux

/** msstab[] of net/ipv4/syncookies.c. */
export const LINUX_COOKIE_MSS = [536, 1300, 1440, 1460] as const;
/** TCP_SYNCOOKIE_PERIOD: the cookie counter ticks once a minute. */
export const LINUX_COOKIE_PERIOD_MS = 60_000;
/** MAX_SYNCOOKIE_AGE: a cookie is good while its counter is this many ticks old at most, less one. */
const LINUX_MAX_AGE = 2;
/** TCP_SYNCOOKIE_VALID: cookie ACKs are checked only this long after the SYN queue last overflowed. */
export const LINUX_COOKIE_VALID_MS = LINUX_MAX_AGE * LINUX_COOKIE_PERIOD_MS;

const COOKIEBITS = 24;
const COOKIEMASK = (1 << COOKIEBITS) - 1;

/** cookie_hash(): keyed hash of the tuple and `count`, with secret `c` (0 or 1). */
function linuxHash(secret: Uint8Array, t: CookieTuple, count: number, c: 0 | 1): number {
  const k = keys(secret);
  return halfSipHashAt(c === 0 ? k.linux0 : k.linux1, 0, buf, putU32(putTuple(t), count));
}

/** tcp_cookie_time(): the minute counter at `now` (ms). */
export function linuxCookieCount(now: number): number {
  return Math.floor(now / LINUX_COOKIE_PERIOD_MS) >>> 0;
}

/** __cookie_v4_init_sequence(): the MSS index (the largest table entry not above `mss`; 536 below it). */
export function linuxMssIndex(mss: number): number {
  let i = LINUX_COOKIE_MSS.length - 1;
  for (; i > 0; i--) if (mss >= LINUX_COOKIE_MSS[i]) break;
  return i;
}

/** secure_tcp_syn_cookie(): our ISS for a SYN whose sequence number is `peerSeq`. */
export function linuxCookie(secret: Uint8Array, t: CookieTuple, peerSeq: number, now: number, mssIndex: number): number {
  const count = linuxCookieCount(now);
  return (linuxHash(secret, t, 0, 0) + peerSeq + ((count << COOKIEBITS) >>> 0) + ((linuxHash(secret, t, count, 1) + mssIndex) & COOKIEMASK)) >>> 0;
}

/**
 * __cookie_v4_check(): the MSS a cookie ACK carries (cookie = SEG.ACK - 1, peerSeq =
 * SEG.SEQ - 1), or 0 when the cookie is not ours, is for another tuple or sequence number,
 * or is two minutes old or more.
 */
export function linuxCookieMss(secret: Uint8Array, t: CookieTuple, cookie: number, peerSeq: number, now: number): number {
  const count = linuxCookieCount(now);
  // Strip away H0 and their ISN: (count << 24) + (H1 + data) mod 2^24 is left.
  const c = (cookie - linuxHash(secret, t, 0, 0) - peerSeq) >>> 0;
  const diff = (count - (c >>> COOKIEBITS)) & (0xffffffff >>> COOKIEBITS);
  if (diff >= LINUX_MAX_AGE) return 0;
  const data = ((c - linuxHash(secret, t, (count - diff) >>> 0, 1)) >>> 0) & COOKIEMASK;
  return data < LINUX_COOKIE_MSS.length ? LINUX_COOKIE_MSS[data] : 0;
}

/** TS_OPT_WSCALE_MASK: 0xf in the option bits says "no window scaling". */
const TS_OPT_WSCALE_MASK = 0xf;
const TS_OPT_SACK = 1 << 4;
const TSBITS = 6;

/** cookie_init_timestamp(): the option bits of a cookie SYN-ACK's TSval. */
export function linuxTsOptionBits(wscale: number | undefined, sackOK: boolean): number {
  return (wscale !== undefined ? wscale & TS_OPT_WSCALE_MASK : TS_OPT_WSCALE_MASK) | (sackOK ? TS_OPT_SACK : 0);
}

/**
 * cookie_init_timestamp(): the clock value (before the connection's offset) whose low 6 bits
 * are `bits`, at most `clock` (later TSvals, from the plain clock, must not go backwards).
 */
export function linuxCookieTsClock(clock: number, bits: number): number {
  let ts = (Math.floor(clock / 2 ** TSBITS) * 2 ** TSBITS + bits) >>> 0;
  if (ts > clock) ts = (ts - 2 ** TSBITS) >>> 0;
  return ts;
}

/** cookie_timestamp_decode(): window scale and SACK from the echoed option bits (TSecr less our offset). */
export function linuxDecodeTsOptions(bits: number): { wscale: number | undefined; sackOK: boolean } {
  const ws = bits & TS_OPT_WSCALE_MASK;
  return { wscale: ws === TS_OPT_WSCALE_MASK ? undefined : ws, sackOK: (bits & TS_OPT_SACK) !== 0 };
}

/** secure_tcp_ts_off(): the TSval offset of a passive connection, a keyed hash of the address pair. */
export function linuxTsOffset(secret: Uint8Array, localAddr: string, remoteAddr: string): number {
  return halfSipHashAt(keys(secret).linuxTs, 0, buf, putAddr(putAddr(0, remoteAddr), localAddr)) >>> 0;
}

// ---------------------------------------------------------------------------------------
// FreeBSD

/** tcp_sc_msstab[] and tcp_sc_wstab[] of tcp_syncache.c. */
export const FREEBSD_COOKIE_MSS = [216, 536, 1200, 1360, 1400, 1440, 1452, 1460] as const;
export const FREEBSD_COOKIE_WSCALE = [0, 0, 1, 2, 4, 6, 7, 8] as const;
/** SYNCOOKIE_LIFETIME: each of the two secrets is replaced this often (a cookie lives 16-32 s). */
export const FREEBSD_COOKIE_LIFETIME_MS = 16_000;

function freebsdEpoch(now: number): number {
  return Math.floor(now / FREEBSD_COOKIE_LIFETIME_MS);
}

/** syncookie_mac(): 32 bits of the MAC of the tuple, their ISN and the flags under the epoch's secret. */
function freebsdMac(secret: Uint8Array, epoch: number, t: CookieTuple, irs: number, flags: number): number {
  return halfSipHashAt(epochKey(secret, epoch), 0, buf, putU32(putU32(putTuple(t), irs), flags));
}

/** The largest index whose table entry is at most `v` (index 0 below the table). */
function tableIndex(table: readonly number[], v: number): number {
  let i = table.length - 1;
  while (i > 0 && table[i] > v) i--;
  return i;
}

/**
 * syncookie_generate(): our ISS for a SYN (sequence number `irs`) offering `o` (mss: the
 * option's value, 0 if absent). Bits: 24 of MAC, then window-scale index (3), MSS index (3),
 * SACK (1), secret parity (1); the low byte is XORed with the MAC's top byte.
 */
export function freebsdCookie(secret: Uint8Array, t: CookieTuple, irs: number, now: number, o: CookieOptions): number {
  const epoch = freebsdEpoch(now);
  const ws = o.wscale !== undefined ? tableIndex(FREEBSD_COOKIE_WSCALE, o.wscale) : 0;
  const flags = (ws << 5) | (tableIndex(FREEBSD_COOKIE_MSS, o.mss) << 2) | (o.sackOK ? 2 : 0) | (epoch & 1);
  const hash = freebsdMac(secret, epoch, t, irs, flags);
  return ((hash & ~0xff) | ((flags ^ (hash >>> 24)) & 0xff)) >>> 0;
}

/**
 * syncookie_lookup(): what a cookie ACK (iss = SEG.ACK - 1, irs = SEG.SEQ - 1) carries, or
 * undefined when its MAC does not match: another tuple or sequence number, forged, or made
 * under a secret replaced since (older than 16-32 s).
 */
export function freebsdCookieLookup(secret: Uint8Array, t: CookieTuple, iss: number, irs: number, now: number): CookieOptions | undefined {
  const flags = (iss & 0xff) ^ (iss >>> 24);
  const cur = freebsdEpoch(now);
  // The secret the parity bit names: the current one, or the one before it.
  const epoch = (cur & 1) === (flags & 1) ? cur : cur - 1;
  if (epoch < 0) return undefined;
  const hash = freebsdMac(secret, epoch, t, irs, flags);
  if (((iss & ~0xff) >>> 0) !== ((hash & ~0xff) >>> 0)) return undefined;
  const ws = (flags >>> 5) & 7;
  return { mss: FREEBSD_COOKIE_MSS[(flags >>> 2) & 7], wscale: ws > 0 ? FREEBSD_COOKIE_WSCALE[ws] : undefined, sackOK: (flags & 2) !== 0 };
}

/** tcp_new_ts_offset(): the TSval offset of a passive connection, a keyed hash of the 4-tuple. */
export function freebsdTsOffset(secret: Uint8Array, t: CookieTuple): number {
  return halfSipHashAt(keys(secret).freebsdTs, 0, buf, putTuple(t)) >>> 0;
}
