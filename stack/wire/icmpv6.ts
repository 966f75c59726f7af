// ICMPv6 (RFC 4443). Same 8-byte header shape as ICMPv4 (ICMP_HEADER_LAYOUT),
// but the checksum also covers the IPv6 pseudo-header (RFC 4443 §2.3).

import { formatIpv6, ipBytes } from "./addr.js";
import { internetChecksum, pseudoHeaderSum } from "./checksum.js";
import { ICMP_HEADER_BYTES, ICMP_OFFSETS as O, readTcpQuote } from "./icmp.js";
import { IPV6_HEADER_BYTES, walkExtensionHeaders, writeIpv6Header } from "./ipv6.js";
import {
  fail,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  ok,
  type IcmpErrorSpec,
  type IcmpKind,
  type IcmpMessage,
  type IcmpQuote,
  type Parsed,
  type PacketError,
} from "./types.js";

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

/** RFC 8200 §5 / RFC 4443 §2.4 (c): an error must fit in the IPv6 minimum MTU. */
export const IPV6_MIN_MTU = 1280;

function kindOf(type: number): IcmpKind {
  switch (type) {
    case ICMPV6_DEST_UNREACH:
      return "destUnreach";
    case ICMPV6_PACKET_TOO_BIG:
      return "packetTooBig";
    case ICMPV6_TIME_EXCEEDED:
      return "timeExceeded";
    case ICMPV6_PARAM_PROBLEM:
      return "paramProblem";
    case ICMPV6_ECHO_REQUEST:
      return "echoRequest";
    case ICMPV6_ECHO_REPLY:
      return "echoReply";
    default:
      return "other";
  }
}

/**
 * Reads the IPv6 packet quoted in an ICMPv6 error: the fixed header, then its
 * extension headers as far as the quote reaches (the quoted payload length may
 * exceed the quote), then the first 8 bytes of TCP if present. Checksums of the
 * quoted packet are not checked. Needs at least the 40-byte fixed header.
 */
export function parseIpv6Quote(q: Uint8Array): IcmpQuote | undefined {
  if (q.length < IPV6_HEADER_BYTES || q[0] >> 4 !== 6) return undefined;
  const w = walkExtensionHeaders(q, IPV6_HEADER_BYTES, q.length, q[6], undefined, true);
  const quote: IcmpQuote = { version: 6, src: formatIpv6(q, 8), dst: formatIpv6(q, 24), protocol: w.protocol };
  if (w.reason === undefined && !w.laterFragment && w.protocol === IPPROTO_TCP && w.headerEnd + 8 <= q.length) {
    readTcpQuote(q, w.headerEnd, quote);
  }
  return quote;
}

const u32 = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/**
 * Parses an ICMPv6 message (the IPv6 payload). `pseudoSum` is
 * `pseudoHeaderSum(6, src, dst, 58, bytes.length)`; ICMPv6 always carries a
 * checksum (RFC 4443 §2.3). Reasons: "icmpv6 truncated", "icmpv6 checksum".
 * `body` is a subarray view of `bytes`.
 */
export function parseIcmpv6(bytes: Uint8Array, pseudoSum: number): Parsed<IcmpMessage, PacketError> {
  if (bytes.length < ICMP_HEADER_BYTES) return fail("icmpv6 truncated");
  if (internetChecksum(bytes, 0, bytes.length, pseudoSum) !== 0) return fail("icmpv6 checksum");
  const type = bytes[O.type];
  const body = bytes.subarray(ICMP_HEADER_BYTES);
  const msg: IcmpMessage = {
    version: 6,
    type,
    code: bytes[O.code],
    kind: kindOf(type),
    checksum: (bytes[O.checksum] << 8) | bytes[O.checksum + 1],
    body,
  };
  // RFC 4443 §2.1: types 0..127 are errors, and each error quotes the offending packet.
  switch (type) {
    case ICMPV6_PACKET_TOO_BIG:
      msg.mtu = u32(bytes, O.rest); // RFC 4443 §3.2
      break;
    case ICMPV6_PARAM_PROBLEM:
      msg.pointer = u32(bytes, O.rest); // RFC 4443 §3.4: offset into the invoking packet
      break;
    default:
      break;
  }
  if (type < 128) {
    const quote = parseIpv6Quote(body);
    if (quote) msg.quote = quote;
  }
  return ok(msg);
}

/**
 * Builds an ICMPv6 error as a whole IPv6 packet (hop limit 64). The quote is as
 * much of the original as fits in 1280 bytes (RFC 4443 §2.4 (c)) unless
 * `quoteBytes` says otherwise. Packet too big carries `mtu`; parameter problem
 * carries `pointer`, both as 32-bit fields. Addresses must be IPv6.
 */
export function buildIcmpv6Error(spec: IcmpErrorSpec): Uint8Array {
  const src = ipBytes(spec.src);
  const dst = ipBytes(spec.dst);
  if (src.length !== 16 || dst.length !== 16) throw new Error("buildIcmpv6Error: addresses must be IPv6");
  const room = IPV6_MIN_MTU - IPV6_HEADER_BYTES - ICMP_HEADER_BYTES;
  const quoteLength = Math.min(spec.original.length, spec.quoteBytes ?? room);
  const icmpLength = ICMP_HEADER_BYTES + quoteLength;
  const out = new Uint8Array(IPV6_HEADER_BYTES + icmpLength);
  writeIpv6Header(out, 0, { src, dst, nextHeader: IPPROTO_ICMPV6 }, icmpLength);
  const m = IPV6_HEADER_BYTES;
  out[m + O.type] = spec.type;
  out[m + O.code] = spec.code;
  let rest = 0;
  if (spec.type === ICMPV6_PACKET_TOO_BIG) rest = spec.mtu ?? 0;
  else if (spec.type === ICMPV6_PARAM_PROBLEM) rest = spec.pointer ?? 0;
  out[m + O.rest] = (rest >>> 24) & 0xff;
  out[m + O.rest + 1] = (rest >>> 16) & 0xff;
  out[m + O.rest + 2] = (rest >>> 8) & 0xff;
  out[m + O.rest + 3] = rest & 0xff;
  out.set(spec.original.subarray(0, quoteLength), m + ICMP_HEADER_BYTES);
  const sum = internetChecksum(out, m, out.length, pseudoHeaderSum(6, src, dst, IPPROTO_ICMPV6, icmpLength));
  out[m + O.checksum] = sum >> 8;
  out[m + O.checksum + 1] = sum & 0xff;
  return out;
}
