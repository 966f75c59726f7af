// IP address text <-> bytes. The packet model carries addresses as canonical
// text: dotted quad for IPv4 and the RFC 5952 form for IPv6, so that two equal
// addresses always compare equal as strings.

import { fail, ok, type Parsed } from "./types.js";

export interface IpAddressBytes {
  version: 4 | 6;
  bytes: Uint8Array;
}

/**
 * Strict dotted-quad parse: exactly four decimal parts 0..255. Leading zeros are
 * refused because inet_aton reads them as octal ("010" = 8), so the text would
 * be ambiguous.
 */
function parseIpv4Into(text: string, from: number, to: number, out: Uint8Array, at: number): string | undefined {
  let part = 0;
  let value = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 0x2e /* virtual final "." */ : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0) return "ipv4 empty part";
      if (leadingZero && digits > 1) return "ipv4 leading zero";
      if (part > 3) return "ipv4 too many parts";
      out[at + part] = value;
      part++;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39) return "ipv4 bad character";
    if (digits === 0) leadingZero = c === 0x30;
    value = value * 10 + (c - 0x30);
    digits++;
    if (value > 255) return "ipv4 part > 255";
  }
  if (part !== 4) return "ipv4 needs 4 parts";
  return undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** RFC 4291 §2.2 text forms: x:x:x:x:x:x:x:x, "::" once, optional trailing dotted quad. */
function parseIpv6(text: string): Parsed<IpAddressBytes> {
  if (text.indexOf("%") >= 0) return fail("ipv6 zone id not supported");
  const bytes = new Uint8Array(16);
  const groups: number[] = [];
  let gapAt = -1; // index in `groups` where "::" stands
  let i = 0;
  const n = text.length;
  if (n < 2) return fail("ipv6 too short");
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return fail("ipv6 leading single colon");
    gapAt = 0;
    i = 2;
    if (i === n) return ok({ version: 6, bytes });
  }
  while (i < n) {
    // Read one group (or a trailing IPv4 part).
    let j = i;
    let value = 0;
    while (j < n) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < n && text.charCodeAt(j) === 0x2e) {
      // Embedded IPv4 in the last 32 bits (RFC 4291 §2.2 (3)).
      if (groups.length > 6) return fail("ipv6 too many groups");
      const v4 = new Uint8Array(4);
      const r = parseIpv4Into(text, i, n, v4, 0);
      if (r) return fail(`ipv6 embedded ${r}`);
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      i = n;
      break;
    }
    const len = j - i;
    if (len === 0) return fail("ipv6 empty group");
    if (len > 4) return fail("ipv6 group longer than 4 digits");
    groups.push(value);
    if (groups.length > 8) return fail("ipv6 too many groups");
    if (j === n) {
      i = n;
      break;
    }
    if (text.charCodeAt(j) !== 0x3a) return fail("ipv6 bad character");
    j++;
    if (j < n && text.charCodeAt(j) === 0x3a) {
      if (gapAt >= 0) return fail("ipv6 more than one ::");
      gapAt = groups.length;
      j++;
      if (j === n) {
        i = n;
        break;
      }
    } else if (j === n) {
      return fail("ipv6 trailing colon");
    }
    i = j;
  }
  if (gapAt < 0) {
    if (groups.length !== 8) return fail("ipv6 needs 8 groups");
  } else if (groups.length > 7) {
    // RFC 4291: "::" stands for one or more groups of zeros.
    return fail("ipv6 :: with 8 groups");
  }
  const head = gapAt < 0 ? groups.length : gapAt;
  for (let g = 0; g < head; g++) {
    bytes[g * 2] = groups[g] >> 8;
    bytes[g * 2 + 1] = groups[g] & 0xff;
  }
  const tail = groups.length - head;
  for (let g = 0; g < tail; g++) {
    const at = (8 - tail + g) * 2;
    bytes[at] = groups[head + g] >> 8;
    bytes[at + 1] = groups[head + g] & 0xff;
  }
  return ok({ version: 6, bytes });
}

/** Parses IPv4 dotted-quad or IPv6 text into bytes (4 or 16). */
export function parseIp(text: string): Parsed<IpAddressBytes> {
  if (text.indexOf(":") >= 0) return parseIpv6(text);
  const bytes = new Uint8Array(4);
  const r = parseIpv4Into(text, 0, text.length, bytes, 0);
  if (r) return fail(r);
  return ok({ version: 4, bytes });
}

export function formatIpv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/**
 * RFC 5952 canonical text: lower-case hex without leading zeros (§4.1, §4.3), the
 * longest run of two or more zero groups shortened to "::", the first one on a
 * tie (§4.2.1-§4.2.3), and IPv4-mapped addresses as ::ffff:a.b.c.d (§5).
 */
export function formatIpv6(buf: Uint8Array, off: number): string {
  // IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let k = 0; mapped && k < 10; k++) if (buf[off + k] !== 0) mapped = false;
  if (mapped) return `::ffff:${formatIpv4(buf, off + 12)}`;

  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed (§4.2.2)
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && buf[off + g * 2] === 0 && buf[off + g * 2 + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      const len = g - runStart;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
      runStart = -1;
    }
  }
  let s = "";
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += "::";
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(":")) s += ":";
    s += ((buf[off + g * 2] << 8) | buf[off + g * 2 + 1]).toString(16);
  }
  return s;
}

export function formatIp(bytes: Uint8Array): string {
  return bytes.length === 4 ? ipv4Text(bytes, 0) : formatIpv6(bytes, 0);
}

/**
 * formatIpv4() through a bounded cache keyed by the address as a 32-bit integer: a stack
 * talks to few addresses, and formatting one builds a new string for every packet. The
 * stack's IPv4 texts (its own addresses, those given to connect(), those of received
 * packets) all come from here, so while the cache holds them a connection's address and a
 * packet's are one string, and comparing them (the connection table) is one pointer
 * comparison instead of a comparison of characters (callgrind, BENCHMARKS.md, phase 5).
 */
export function ipv4Text(buf: Uint8Array, off: number): string {
  const key = (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]; // int32: a small integer to V8
  // The two texts made last (a connection's packets repeat its two addresses), before the Map.
  if (key === lastKeys[0] && lastTexts[0] !== undefined) return lastTexts[0];
  if (key === lastKeys[1] && lastTexts[1] !== undefined) return lastTexts[1];
  let s = ipv4Texts.get(key);
  if (s === undefined) {
    s = formatIpv4(buf, off);
    if (ipv4Texts.size >= IPV4_TEXT_ENTRIES) ipv4Texts.clear();
    ipv4Texts.set(key, s);
  }
  lastKeys[1] = lastKeys[0];
  lastTexts[1] = lastTexts[0];
  lastKeys[0] = key;
  lastTexts[0] = s;
  return s;
}

const ipv4Texts = new Map<number, string>();
const IPV4_TEXT_ENTRIES = 4096;
const lastKeys = new Int32Array(2);
const lastTexts: Array<string | undefined> = [undefined, undefined];

/** The canonical text of an address, or undefined if it does not parse. */
export function canonicalIp(text: string): string | undefined {
  const p = parseIp(text);
  return p.ok ? formatIp(p.value.bytes) : undefined;
}

/** Address bytes of text the caller knows is valid; throws (a bug) otherwise. */
export function ipBytes(text: string): Uint8Array {
  const p = parseIp(text);
  if (!p.ok) throw new Error(`ipBytes: invalid address ${JSON.stringify(text)}: ${p.reason}`);
  return p.value.bytes;
}

/** 4 or 6 by the text's form (the presence of ':'), without validating it. */
export function ipVersionOf(text: string): 4 | 6 {
  return text.indexOf(":") >= 0 ? 6 : 4;
}

/** True if the first `len` bits of `a` and `b` (same length) are equal. */
export function prefixMatch(a: Uint8Array, b: Uint8Array, len: number): boolean {
  const whole = len >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole] & mask) === (b[whole] & mask);
}

/**
 * True if `addr` lies in `prefix`/`len`. An address of the other family, or an
 * unparsable `addr`, is not in the prefix. An invalid `prefix` or a `len` outside
 * 0..32 / 0..128 is a programmer error and throws.
 */
export function inPrefix(addr: string, prefix: string, len: number): boolean {
  const p = ipBytes(prefix);
  const max = p.length * 8;
  if (!Number.isInteger(len) || len < 0 || len > max) {
    throw new RangeError(`inPrefix: prefix length ${len} outside 0..${max}`);
  }
  const a = parseIp(addr);
  if (!a.ok || a.value.bytes.length !== p.length) return false;
  return prefixMatch(a.value.bytes, p, len);
}
