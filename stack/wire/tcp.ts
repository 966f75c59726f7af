// TCP header (RFC 9293 §3.1). The fixed 20-byte header is declared once with
// buffer-layout; the accessors below use the offsets derived from it.

import * as BufferLayout from "buffer-layout";
import { foldChecksum, internetChecksum, sumWords } from "./checksum.js";
import { bitField, fieldOffset } from "./layout.js";
import { scanTcpOptions, TCP_MAX_OPTION_BYTES, tcpOptionsLength, writeTcpOptionsInto } from "./tcp-options.js";
import {
  fail,
  ok,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type Parsed,
  type PacketError,
  type TcpOption,
  type TcpSegment,
} from "./types.js";

const offsetReserved = BufferLayout.bits(BufferLayout.u8(), true, "offsetReserved");
offsetReserved.addField(4, "dataOffset");
offsetReserved.addField(4, "reserved");

/** The fixed TCP header. decode/encode need a Node Buffer. */
export const TCP_HEADER_LAYOUT = BufferLayout.struct([
  BufferLayout.u16be("srcPort"),
  BufferLayout.u16be("dstPort"),
  BufferLayout.u32be("seq"),
  BufferLayout.u32be("ack"),
  offsetReserved,
  BufferLayout.u8("flags"),
  BufferLayout.u16be("window"),
  BufferLayout.u16be("checksum"),
  BufferLayout.u16be("urgent"),
]);

export const TCP_HEADER_BYTES: number = TCP_HEADER_LAYOUT.span;

export const TCP_OFFSETS = {
  srcPort: fieldOffset(TCP_HEADER_LAYOUT, "srcPort"),
  dstPort: fieldOffset(TCP_HEADER_LAYOUT, "dstPort"),
  seq: fieldOffset(TCP_HEADER_LAYOUT, "seq"),
  ack: fieldOffset(TCP_HEADER_LAYOUT, "ack"),
  offsetReserved: fieldOffset(TCP_HEADER_LAYOUT, "offsetReserved"),
  flags: fieldOffset(TCP_HEADER_LAYOUT, "flags"),
  window: fieldOffset(TCP_HEADER_LAYOUT, "window"),
  checksum: fieldOffset(TCP_HEADER_LAYOUT, "checksum"),
  urgent: fieldOffset(TCP_HEADER_LAYOUT, "urgent"),
} as const;
const O = TCP_OFFSETS;
const DATA_OFFSET = bitField(offsetReserved, "dataOffset");
const RESERVED = bitField(offsetReserved, "reserved");

const u16 = (b: Uint8Array, i: number): number => (b[i] << 8) | b[i + 1];
const u32 = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/**
 * Parses a TCP segment (the IP payload). When `pseudoSum` (from `pseudoHeaderSum`
 * with the segment length) is given, the checksum is verified first (RFC 9293
 * §3.1: the checksum covers pseudo-header, header and data).
 * Reasons: "tcp truncated header", "tcp bad data offset", "tcp header beyond
 * segment", "tcp checksum". Malformed options do not refuse the segment: they are kept as
 * "bad" entries and `optionError` says the first problem (scanTcpOptions).
 * `payload` and unknown option data are subarray views of `bytes` (zero-copy).
 */
export function parseTcp(bytes: Uint8Array, pseudoSum?: number): Parsed<TcpSegment, PacketError> {
  if (bytes.length < TCP_HEADER_BYTES) return fail("tcp truncated header");
  const or = bytes[O.offsetReserved];
  const headerLength = ((or >> DATA_OFFSET.shift) & DATA_OFFSET.mask) * 4;
  // RFC 9293 §3.1: Data Offset counts 32-bit words, and the header is at least 5.
  if (headerLength < TCP_HEADER_BYTES) return fail("tcp bad data offset");
  if (headerLength > bytes.length) return fail("tcp header beyond segment");
  if (pseudoSum !== undefined && internetChecksum(bytes, 0, bytes.length, pseudoSum) !== 0) {
    return fail("tcp checksum");
  }
  const options: TcpOption[] = [];
  // A malformed option list does not make the segment unreadable: what the receiver does
  // with it is the profile's badOptions policy (the stack checks optionError).
  const optionError = headerLength === TCP_HEADER_BYTES ? undefined : scanTcpOptions(bytes.subarray(TCP_HEADER_BYTES, headerLength), options);
  return ok({
    srcPort: u16(bytes, O.srcPort),
    dstPort: u16(bytes, O.dstPort),
    seq: u32(bytes, O.seq),
    ack: u32(bytes, O.ack),
    headerLength,
    flags: bytes[O.flags],
    reserved: (or >> RESERVED.shift) & RESERVED.mask,
    window: u16(bytes, O.window),
    checksum: u16(bytes, O.checksum),
    urgent: u16(bytes, O.urgent),
    options,
    optionError,
    payload: bytes.subarray(headerLength),
  });
}

/** What is needed to write a TCP segment. */
export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Default 0. */
  urgent?: number;
  /** The 4 reserved bits; default 0 (RFC 9293: must be zero on send). */
  reserved?: number;
  options?: readonly TcpOption[];
  payload?: Uint8Array;
}

/** Header length in bytes for these options (20 + padded options). Throws past 60. */
export function tcpHeaderLength(options: readonly TcpOption[] | undefined): number {
  const optLen = options && options.length > 0 ? tcpOptionsLength(options) : 0;
  if (optLen > TCP_MAX_OPTION_BYTES) {
    throw new RangeError(`tcp options take ${optLen} bytes, more than ${TCP_MAX_OPTION_BYTES}`);
  }
  return TCP_HEADER_BYTES + optLen;
}

/**
 * Writes header, options and payload at out[off] and fills in the checksum using
 * `pseudoSum` (the pseudo-header sum for this segment's length). Returns the number
 * of bytes written. The caller sizes `out` with `tcpHeaderLength` + payload length, and may
 * pass that header length (`headerLength`) so that the options are not measured again.
 */
export function writeTcpSegment(out: Uint8Array, off: number, f: TcpHeaderFields, pseudoSum: number, partial = false, headerLength = tcpHeaderLength(f.options)): number {
  const payload = f.payload;
  const length = headerLength + (payload ? payload.length : 0);
  const srcPort = f.srcPort & 0xffff;
  const dstPort = f.dstPort & 0xffff;
  out[off + O.srcPort] = srcPort >> 8;
  out[off + O.srcPort + 1] = srcPort & 0xff;
  out[off + O.dstPort] = dstPort >> 8;
  out[off + O.dstPort + 1] = dstPort & 0xff;
  const seq = f.seq >>> 0;
  out[off + O.seq] = seq >>> 24;
  out[off + O.seq + 1] = (seq >>> 16) & 0xff;
  out[off + O.seq + 2] = (seq >>> 8) & 0xff;
  out[off + O.seq + 3] = seq & 0xff;
  const ack = f.ack >>> 0;
  out[off + O.ack] = ack >>> 24;
  out[off + O.ack + 1] = (ack >>> 16) & 0xff;
  out[off + O.ack + 2] = (ack >>> 8) & 0xff;
  out[off + O.ack + 3] = ack & 0xff;
  const offsetReserved = (((headerLength / 4) << DATA_OFFSET.shift) | (((f.reserved ?? 0) & RESERVED.mask) << RESERVED.shift)) & 0xff;
  const flags = f.flags & 0xff;
  out[off + O.offsetReserved] = offsetReserved;
  out[off + O.flags] = flags;
  const window = f.window & 0xffff;
  out[off + O.window] = window >> 8;
  out[off + O.window + 1] = window & 0xff;
  const urgent = (f.urgent ?? 0) & 0xffff;
  out[off + O.urgent] = urgent >> 8;
  out[off + O.urgent + 1] = urgent & 0xff;
  if (headerLength > TCP_HEADER_BYTES) writeTcpOptionsInto(out, off + TCP_HEADER_BYTES, f.options!);
  if (payload && payload.length > 0) out.set(payload, off + headerLength);
  if (partial) {
    // Checksum offload: the field holds the pseudo-header's sum, folded and not inverted; the
    // device sums the segment from the TCP header on, adds that, and stores the complement
    // (VIRTIO_NET_HDR_F_NEEDS_CSUM, or CHECKSUM_PARTIAL in Linux). No pass over the payload.
    const ps = foldChecksum(pseudoSum);
    out[off + O.checksum] = ps >> 8;
    out[off + O.checksum + 1] = ps & 0xff;
    return length;
  }
  // RFC 1071: the fixed header's words summed from the values just written, and only the
  // options and payload read back (a pass over the fixed 20 bytes was most of this
  // function's time in the CPU profile of the engine benchmark). The header length is a
  // multiple of 4, so the options start on a word.
  const header =
    srcPort + dstPort + (seq >>> 16) + (seq & 0xffff) + (ack >>> 16) + (ack & 0xffff) + ((offsetReserved << 8) | flags) + window + urgent;
  const sum = ~foldChecksum(sumWords(out, off + TCP_HEADER_BYTES, off + length, pseudoSum + header)) & 0xffff;
  out[off + O.checksum] = sum >> 8;
  out[off + O.checksum + 1] = sum & 0xff;
  return length;
}

/**
 * Flags as tcpdump and packetdrill print them: F, S, R, P, then "." for ACK, then
 * U, E (ECE), W (CWR). SYN = "S", SYN-ACK = "S.", bare ACK = ".", no flags = "none".
 */
export function formatTcpFlags(flags: number): string {
  let s = "";
  if (flags & TCP_FIN) s += "F";
  if (flags & TCP_SYN) s += "S";
  if (flags & TCP_RST) s += "R";
  if (flags & TCP_PSH) s += "P";
  if (flags & TCP_ACK) s += ".";
  if (flags & TCP_URG) s += "U";
  if (flags & TCP_ECE) s += "E";
  if (flags & TCP_CWR) s += "W";
  return s === "" ? "none" : s;
}
