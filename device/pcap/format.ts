// One codec for capture files: the constants and byte helpers shared by read.ts and
// write.ts, so a value written is read back by the very same definition.
//
// References:
//  - classic pcap: draft-ietf-opsawg-pcap (File Header, Packet Record).
//  - pcapng: draft-ietf-opsawg-pcapng (§4 block structure, §3.5 options, §4.1 SHB, §4.2 IDB,
//    §4.3 EPB, §4.4 SPB, Appendix A obsolete PB).
//  - link types: draft-ietf-opsawg-pcaplinktype / tcpdump.org/linktypes.html.

// ---------------------------------------------------------------------------------------
// Classic pcap

/** File header magic for microsecond timestamps (as read in the writer's byte order). */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
/** File header magic for nanosecond timestamps. */
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetzov's "modified" pcap: microseconds, 24-byte record headers. */
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
export const PCAP_MODIFIED_RECORD_HEADER_LEN = 24;
/** Largest packet libpcap/Wireshark accept for ordinary link types (MAXIMUM_SNAPLEN). */
export const PCAP_MAX_SNAPLEN = 262144;

// ---------------------------------------------------------------------------------------
// pcapng

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
/** Obsolete Packet Block (pcapng Appendix A). */
export const BLOCK_PB = 0x00000002;
export const BLOCK_SPB = 0x00000003;
export const BLOCK_NRB = 0x00000004;
export const BLOCK_ISB = 0x00000005;
export const BLOCK_EPB = 0x00000006;
export const BLOCK_DSB = 0x0000000a;
/** Written in the SHB in the writer's byte order; tells the reader the section's order. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const PCAPNG_VERSION_MAJOR = 1;
export const PCAPNG_VERSION_MINOR = 0;
/** type + length + trailing length. */
export const BLOCK_MIN_LEN = 12;

/** Option codes valid in every block (pcapng §3.5). */
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
/** SHB options (§4.1). */
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
/** IDB options (§4.2). */
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;
/** EPB options (§4.3). */
export const EPB_FLAGS = 2;
/** epb_flags bits 0-1: inbound/outbound direction. */
export const EPB_FLAG_DIR_MASK = 0x3;
export const EPB_FLAG_INBOUND = 0x1;
export const EPB_FLAG_OUTBOUND = 0x2;

// ---------------------------------------------------------------------------------------
// Link types (LINKTYPE_* values as stored in files)

export const LinkType = {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as numbered on most BSDs / on OpenBSD; in files they mean raw IP. */
  RAW_12: 12,
  RAW_14: 14,
  /** LINKTYPE_RAW: raw IPv4 or IPv6, version from the first nibble. */
  RAW: 101,
  /** OpenBSD loopback: like NULL but the family is in network byte order. */
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100, // IEEE 802.1Q C-tag
  QINQ: 0x88a8, // IEEE 802.1ad S-tag
  QINQ_OLD: 0x9100, // pre-standard double tagging
  IPV6: 0x86dd,
} as const;

/** Below this value the Ethernet type field is an 802.3 length (IEEE 802.3 §3.2.6). */
export const ETHERTYPE_MIN = 0x0600;

// ---------------------------------------------------------------------------------------
// Timestamps

/**
 * A pcapng if_tsresol (§4.2): the most significant bit picks the base (0 = 10, 1 = 2),
 * the rest is the negative exponent. Default (no option) is 10^-6.
 */
export interface TsResolution {
  base: 10 | 2;
  exponent: number;
}

export const TSRESOL_MICRO: TsResolution = { base: 10, exponent: 6 };
export const TSRESOL_NANO: TsResolution = { base: 10, exponent: 9 };

export function decodeTsResol(byte: number): TsResolution {
  return byte & 0x80 ? { base: 2, exponent: byte & 0x7f } : { base: 10, exponent: byte & 0x7f };
}

export function encodeTsResol(r: TsResolution): number {
  return (r.base === 2 ? 0x80 : 0) | (r.exponent & 0x7f);
}

const NS_PER_S = 1_000_000_000n;

/**
 * Converts timestamp ticks (units of the resolution) to nanoseconds. Exact for 10^-n with
 * n <= 9; finer resolutions (and powers of two) are floored to the nanosecond.
 */
export function ticksToNs(ticks: bigint, r: TsResolution): bigint {
  if (r.base === 10) {
    if (r.exponent <= 9) return ticks * 10n ** BigInt(9 - r.exponent);
    return ticks / 10n ** BigInt(r.exponent - 9);
  }
  return (ticks * NS_PER_S) >> BigInt(r.exponent);
}

/** Inverse of ticksToNs (floored), used by the writers. */
export function nsToTicks(ns: bigint, r: TsResolution): bigint {
  if (r.base === 10) {
    if (r.exponent <= 9) return ns / 10n ** BigInt(9 - r.exponent);
    return ns * 10n ** BigInt(r.exponent - 9);
  }
  return (ns << BigInt(r.exponent)) / NS_PER_S;
}

/**
 * Milliseconds (the project's `nowMs` numbers, possibly fractional) to integer nanoseconds.
 * The integer part is converted exactly so epoch-sized values keep sub-microsecond digits
 * as far as the double holds them.
 */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  const fracNs = Math.round((ms - whole) * 1e6);
  return BigInt(whole) * 1_000_000n + BigInt(fracNs);
}

/** Nanoseconds to (possibly fractional) milliseconds, for display and virtual clocks. */
export function nsToMs(ns: bigint): number {
  const whole = ns / 1_000_000n;
  const rest = ns - whole * 1_000_000n;
  return Number(whole) + Number(rest) / 1e6;
}

// ---------------------------------------------------------------------------------------
// Byte helpers

export const pad4 = (n: number): number => (n + 3) & ~3;

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

export function hex32(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

/** One pcapng option (code, raw value without padding). */
export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

export type OptionsResult =
  | { ok: true; options: PcapngOption[] }
  | { ok: false; reason: string; offset: number };

/**
 * Parses the options area [start, end) of a block (pcapng §3.5): code u16, length u16,
 * value padded to 32 bits, terminated by opt_endofopt or by the end of the area.
 * `base` is the absolute file offset of `view`'s byte 0, for error messages.
 */
export function parseOptions(
  view: DataView,
  start: number,
  end: number,
  littleEndian: boolean,
  base: number,
): OptionsResult {
  const options: PcapngOption[] = [];
  let off = start;
  while (off < end) {
    if (end - off < 4) {
      return { ok: false, reason: `pcapng option header at offset ${base + off} is cut short (${end - off} bytes left in block)`, offset: base + off };
    }
    const code = view.getUint16(off, littleEndian);
    const len = view.getUint16(off + 2, littleEndian);
    if (code === OPT_ENDOFOPT) break;
    const valueStart = off + 4;
    if (valueStart + len > end) {
      return { ok: false, reason: `pcapng option ${code} at offset ${base + off} has length ${len}, past the end of its block`, offset: base + off };
    }
    options.push({ code, value: new Uint8Array(view.buffer, view.byteOffset + valueStart, len) });
    off = valueStart + pad4(len);
  }
  return { ok: true, options };
}

/**
 * A growable little-endian byte buffer for the writers. Bytes accumulate here and are taken
 * out in large pieces with drain() or snapshot() (the writers buffer rather than write per packet).
 */
export class ByteSink {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.len, v, true);
    this.len += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.len, v, true);
    this.len += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Zero bytes up to the next multiple of 4 (pcapng §3.1 alignment). */
  align4(): void {
    const n = pad4(this.len) - this.len;
    this.reserve(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }
  /** Overwrites a u32 written earlier (block lengths are known only at the end). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  /** A copy of everything written so far. */
  snapshot(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
  /** Returns the bytes written so far (a view, valid until the next write) and empties the sink. */
  drain(): Uint8Array {
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }
}

/** Appends one option (code, length, value, padding). */
export function writeOption(sink: ByteSink, code: number, value: Uint8Array): void {
  if (value.length > 0xffff) throw new RangeError(`pcapng option ${code} value is ${value.length} bytes (> 65535)`);
  sink.u16(code);
  sink.u16(value.length);
  sink.bytes(value);
  sink.align4();
}

export function writeEndOfOptions(sink: ByteSink): void {
  sink.u16(OPT_ENDOFOPT);
  sink.u16(0);
}
