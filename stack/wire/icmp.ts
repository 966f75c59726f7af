// ICMPv4 (RFC 792, RFC 1191 for the next-hop MTU, RFC 1812 §4.3.2.3 for quoting).
// The 8-byte ICMP header is declared once with buffer-layout.

import * as BufferLayout from "buffer-layout";
import { formatIpv4, ipBytes } from "./addr.js";
import { internetChecksum } from "./checksum.js";
import { buildIpv4 } from "./ipv4.js";
import { fieldOffset } from "./layout.js";
import {
  fail,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  ok,
  type IcmpErrorSpec,
  type IcmpKind,
  type IcmpMessage,
  type IcmpQuote,
  type Parsed,
  type PacketError,
} from "./types.js";

/** The ICMP header shared by ICMPv4 and ICMPv6; `rest` depends on the type. */
export const ICMP_HEADER_LAYOUT = BufferLayout.struct([
  BufferLayout.u8("type"),
  BufferLayout.u8("code"),
  BufferLayout.u16be("checksum"),
  BufferLayout.blob(4, "rest"),
]);
export const ICMP_HEADER_BYTES: number = ICMP_HEADER_LAYOUT.span;
export const ICMP_OFFSETS = {
  type: fieldOffset(ICMP_HEADER_LAYOUT, "type"),
  code: fieldOffset(ICMP_HEADER_LAYOUT, "code"),
  checksum: fieldOffset(ICMP_HEADER_LAYOUT, "checksum"),
  rest: fieldOffset(ICMP_HEADER_LAYOUT, "rest"),
} as const;
const O = ICMP_OFFSETS;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROBLEM = 12;
/** Destination unreachable code 4: fragmentation needed and DF set (RFC 792, RFC 1191). */
export const ICMP_FRAG_NEEDED = 4;

function kindOf(type: number): IcmpKind {
  switch (type) {
    case ICMP_DEST_UNREACH:
      return "destUnreach";
    case ICMP_SOURCE_QUENCH:
      return "sourceQuench";
    case ICMP_TIME_EXCEEDED:
      return "timeExceeded";
    case ICMP_PARAM_PROBLEM:
      return "paramProblem";
    case ICMP_ECHO_REQUEST:
      return "echoRequest";
    case ICMP_ECHO_REPLY:
      return "echoReply";
    default:
      return "other";
  }
}

/**
 * Reads the IPv4 header + transport bytes quoted in an ICMP error. The quote may
 * be short, carry IP options, and its length fields may claim more than was
 * quoted; its checksums are not checked (the router may have changed TTL). The
 * quote needs at least the 20 fixed header bytes; TCP ports and sequence number
 * are filled in only when 8 bytes of the TCP header follow the quoted header.
 */
export function parseIpv4Quote(q: Uint8Array): IcmpQuote | undefined {
  if (q.length < 20 || q[0] >> 4 !== 4) return undefined;
  const ihl = (q[0] & 0x0f) * 4;
  if (ihl < 20) return undefined;
  const quote: IcmpQuote = { version: 4, src: formatIpv4(q, 12), dst: formatIpv4(q, 16), protocol: q[9] };
  // A non-first fragment does not start with the transport header (RFC 791 §3.2).
  const fragOffset = ((q[6] & 0x1f) << 8) | q[7];
  if (quote.protocol === IPPROTO_TCP && fragOffset === 0 && q.length >= ihl + 8) {
    readTcpQuote(q, ihl, quote);
  }
  return quote;
}

/** Fills ports and sequence number from the first 8 bytes of a quoted TCP header. */
export function readTcpQuote(q: Uint8Array, at: number, quote: IcmpQuote): void {
  quote.srcPort = (q[at] << 8) | q[at + 1];
  quote.dstPort = (q[at + 2] << 8) | q[at + 3];
  quote.seq = ((q[at + 4] << 24) | (q[at + 5] << 16) | (q[at + 6] << 8) | q[at + 7]) >>> 0;
}

/**
 * Parses an ICMPv4 message (the IP payload). Reasons: "icmp truncated", "icmp
 * checksum". An error whose quote is unreadable still parses, without `quote`.
 * `body` is a subarray view of `bytes`.
 */
export function parseIcmp(bytes: Uint8Array): Parsed<IcmpMessage, PacketError> {
  if (bytes.length < ICMP_HEADER_BYTES) return fail("icmp truncated");
  // RFC 792: the checksum covers the whole ICMP message.
  if (internetChecksum(bytes, 0, bytes.length) !== 0) return fail("icmp checksum");
  const type = bytes[O.type];
  const code = bytes[O.code];
  const body = bytes.subarray(ICMP_HEADER_BYTES);
  const msg: IcmpMessage = {
    version: 4,
    type,
    code,
    kind: kindOf(type),
    checksum: (bytes[O.checksum] << 8) | bytes[O.checksum + 1],
    body,
  };
  let quote: IcmpQuote | undefined;
  switch (type) {
    case ICMP_DEST_UNREACH:
      // RFC 1191 §4: the next-hop MTU sits in the low-order 16 bits of the
      // "unused" word; 0 from an old router means "unknown" (RFC 1191 §5).
      if (code === ICMP_FRAG_NEEDED) msg.mtu = (bytes[O.rest + 2] << 8) | bytes[O.rest + 3];
      quote = parseIpv4Quote(body);
      break;
    case ICMP_PARAM_PROBLEM:
      // RFC 792: the pointer is the first byte after the checksum.
      msg.pointer = bytes[O.rest];
      quote = parseIpv4Quote(body);
      break;
    case ICMP_SOURCE_QUENCH:
    case ICMP_TIME_EXCEEDED:
      quote = parseIpv4Quote(body);
      break;
    default:
      break;
  }
  if (quote) msg.quote = quote;
  return ok(msg);
}

/**
 * Builds an ICMPv4 error as a whole IPv4 packet (TTL 64, DF clear, as routers
 * send them). The quote is the original's IP header + 8 bytes by default (RFC 792),
 * or `quoteBytes`, never more than the original holds. Addresses must be IPv4.
 */
export function buildIcmpv4Error(spec: IcmpErrorSpec): Uint8Array {
  const src = ipBytes(spec.src);
  const dst = ipBytes(spec.dst);
  if (src.length !== 4 || dst.length !== 4) throw new Error("buildIcmpv4Error: addresses must be IPv4");
  const orig = spec.original;
  const ihl = orig.length > 0 ? (orig[0] & 0x0f) * 4 : 0;
  const quoteLength = Math.min(orig.length, spec.quoteBytes ?? ihl + 8);
  const msg = new Uint8Array(ICMP_HEADER_BYTES + quoteLength);
  msg[O.type] = spec.type;
  msg[O.code] = spec.code;
  if (spec.type === ICMP_DEST_UNREACH && spec.code === ICMP_FRAG_NEEDED) {
    const mtu = spec.mtu ?? 0;
    msg[O.rest + 2] = (mtu >> 8) & 0xff;
    msg[O.rest + 3] = mtu & 0xff;
  } else if (spec.type === ICMP_PARAM_PROBLEM) {
    msg[O.rest] = spec.pointer ?? 0;
  }
  msg.set(orig.subarray(0, quoteLength), ICMP_HEADER_BYTES);
  const sum = internetChecksum(msg);
  msg[O.checksum] = sum >> 8;
  msg[O.checksum + 1] = sum & 0xff;
  return buildIpv4({ src, dst, protocol: IPPROTO_ICMP, dontFragment: false }, msg);
}
