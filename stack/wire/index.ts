// Public API of the wire layer: packet codecs the engine calls.
//
// Parsers never throw on bad input; they return { ok: false, reason } with one of
// these reasons (stable strings, fit for drop counters):
//   packet:      "empty packet", "ip bad version"
//   ipv4:        "ipv4 truncated header", "ipv4 bad version", "ipv4 bad ihl",
//                "ipv4 bad total length", "ipv4 truncated packet", "ipv4 header checksum",
//                "ipv4 fragment"
//   ipv6:        "ipv6 truncated header", "ipv6 bad version", "ipv6 truncated packet",
//                "ipv6 truncated extension header", "ipv6 bad option length",
//                "ipv6 hop-by-hop not first", "ipv6 routing header segments left",
//                "ipv6 jumbogram not supported", "ipv6 fragment"
//   tcp:         "tcp truncated header", "tcp bad data offset", "tcp header beyond segment",
//                "tcp checksum"
//   tcp options: "tcp option truncated", "tcp option length < 2", "tcp option overrun",
//                "tcp option bad mss length", "tcp option bad wscale length",
//                "tcp option bad sackOK length", "tcp option bad sack length",
//                "tcp option bad timestamp length"
//   icmp:        "icmp truncated", "icmp checksum", "icmpv6 truncated", "icmpv6 checksum"
// Parsed payloads are subarray views of the input (zero-copy).

export * from "./types.js";
export {
  canonicalIp,
  formatIp,
  formatIpv4,
  formatIpv6,
  inPrefix,
  ipBytes,
  ipVersionOf,
  parseIp,
  prefixMatch,
  type IpAddressBytes,
} from "./addr.js";
export { foldChecksum, internetChecksum, pseudoHeaderSum, sumWords } from "./checksum.js";
export {
  buildIpv4,
  IPV4_HEADER_BYTES,
  IPV4_HEADER_LAYOUT,
  parseIpv4,
  writeIpv4Header,
  type IpDatagram,
  type Ipv4HeaderFields,
} from "./ipv4.js";
export {
  buildIpv6,
  IPV6_HEADER_BYTES,
  IPV6_HEADER_LAYOUT,
  parseIpv6,
  walkExtensionHeaders,
  writeIpv6Header,
  type ExtensionWalk,
  type Ipv6HeaderFields,
} from "./ipv6.js";
export {
  formatTcpOption,
  formatTcpOptions,
  parseTcpOptions,
  scanTcpOptions,
  summarizeOptions,
  TCP_MAX_OPTION_BYTES,
  tcpOptionsLength,
  writeTcpOptions,
  writeTcpOptionsInto,
} from "./tcp-options.js";
export {
  formatTcpFlags,
  parseTcp,
  TCP_HEADER_BYTES,
  TCP_HEADER_LAYOUT,
  tcpHeaderLength,
  writeTcpSegment,
  type TcpHeaderFields,
} from "./tcp.js";
export {
  buildIcmpv4Error,
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_FRAG_NEEDED,
  ICMP_HEADER_LAYOUT,
  ICMP_PARAM_PROBLEM,
  ICMP_SOURCE_QUENCH,
  ICMP_TIME_EXCEEDED,
  parseIcmp,
  parseIpv4Quote,
} from "./icmp.js";
export {
  buildIcmpv6Error,
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAM_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  IPV6_MIN_MTU,
  parseIcmpv6,
  parseIpv6Quote,
} from "./icmpv6.js";
export { buildIcmpError, buildTcpPacket, describePacket, parsePacket } from "./packet.js";
