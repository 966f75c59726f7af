// The packet model shared by every parser and serialiser in stack/wire/ and by the
// engine. Parsers return a value or a reason (docs/architecture.md "Bad input is a value").
// Addresses are canonical text: dotted quad for IPv4, RFC 5952 form for IPv6.

export type IpVersion = 4 | 6;

/** A parse result: the value, or why there is none (`R`: the closed set of reasons, if any). */
export type Parsed<T, R extends string = string> = { ok: true; value: T } | { ok: false; reason: R };

export const ok = <T>(value: T): Parsed<T, never> => ({ ok: true, value });
export const fail = <R extends string>(reason: R): Parsed<never, R> => ({ ok: false, reason });

/**
 * Why an arriving packet could not be parsed: the reasons parsePacket() and the parsers it
 * calls return. A closed set: the stack counts unparsable packets by these codes
 * (StackStats.drops), so they are part of its statistics and not reworded lightly.
 */
export type PacketError =
  | "empty packet"
  | "ip bad version"
  | "ipv4 truncated header"
  | "ipv4 bad version"
  | "ipv4 bad ihl"
  | "ipv4 bad total length"
  | "ipv4 truncated packet"
  | "ipv4 header checksum"
  | "ipv4 fragment"
  | "ipv6 truncated header"
  | "ipv6 bad version"
  | "ipv6 truncated packet"
  | "ipv6 jumbogram not supported"
  | "ipv6 hop-by-hop not first"
  | "ipv6 truncated extension header"
  | "ipv6 bad option length"
  | "ipv6 routing header segments left"
  | "ipv6 fragment"
  | "tcp truncated header"
  | "tcp bad data offset"
  | "tcp header beyond segment"
  | "tcp checksum"
  | TcpOptionError
  | "icmp truncated"
  | "icmp checksum"
  | "icmpv6 truncated"
  | "icmpv6 checksum";

/** TCP header flag bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** One TCP option, in wire order. Unknown kinds are kept with their bytes. */
export type TcpOption =
  | { kind: "eol" }
  | { kind: "nop" }
  | { kind: "mss"; value: number }
  | { kind: "wscale"; shift: number }
  | { kind: "sackOK" }
  | { kind: "sack"; blocks: Array<[number, number]> }
  | { kind: "ts"; val: number; ecr: number }
  | { kind: "unknown"; type: number; data: Uint8Array }
  /**
   * A malformed option as received (never written by the stack itself): a known kind of
   * the wrong length (`bytes` is that option, and the options after it follow), or an
   * option without its length byte, with a length below 2 or running past the header
   * (`bytes` runs to the end of the option space: nothing after it can be read).
   */
  | { kind: "bad"; bytes: Uint8Array; reason: TcpOptionError };

/** What can be wrong with a received option (RFC 9293 §3.2; PacketError codes). */
export type TcpOptionError =
  | "tcp option truncated"
  | "tcp option length < 2"
  | "tcp option overrun"
  | "tcp option bad mss length"
  | "tcp option bad wscale length"
  | "tcp option bad sackOK length"
  | "tcp option bad sack length"
  | "tcp option bad timestamp length";

/** The options a TCP needs to act on, pulled out of the ordered list. */
export interface TcpOptionSummary {
  mss?: number;
  wscale?: number;
  sackOK: boolean;
  sack?: Array<[number, number]>;
  ts?: { val: number; ecr: number };
}

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number; // uint32
  ack: number; // uint32
  /** Header length in bytes (data offset * 4). */
  headerLength: number;
  /** Flag byte (FIN..CWR); the reserved bits and NS are in `reserved`. */
  flags: number;
  /** The 4 reserved bits (RFC 9293: must be zero on send, ignored on receipt). */
  reserved: number;
  window: number;
  checksum: number;
  urgent: number;
  options: TcpOption[];
  /**
   * The first problem of a malformed option list (the list then holds a "bad" entry), or
   * undefined. The parser keeps such a segment; the receiving profile's badOptions policy
   * decides whether it is dropped.
   */
  optionError?: TcpOptionError;
  payload: Uint8Array;
}

/** The IP part of a packet, after extension headers have been walked. */
export interface IpHeader {
  version: IpVersion;
  src: string;
  dst: string;
  /** Final upper-layer protocol (IPv4 protocol or last IPv6 next header). */
  protocol: number;
  /** TTL (v4) or hop limit (v6). */
  ttl: number;
  /** IPv4 TOS or IPv6 traffic class. */
  tos: number;
  /** IPv4 identification (0 for v6). */
  id: number;
  /** IPv4 don't-fragment flag. */
  dontFragment: boolean;
  /** IPv6 flow label (0 for v4). */
  flowLabel: number;
  /** Length of the IP header including all extension headers, in bytes. */
  headerLength: number;
  /** IPv6 extension headers walked, in order (next-header values), empty for v4. */
  extensionHeaders: number[];
  /** True if an IPv6 hop-by-hop header carried a router alert (MLD and friends). */
  routerAlert: boolean;
}

/** ICMPv4 / ICMPv6 message kinds the connect path cares about. */
export type IcmpKind =
  | "destUnreach"
  | "timeExceeded"
  | "paramProblem"
  | "packetTooBig"
  | "sourceQuench"
  | "echoRequest"
  | "echoReply"
  | "other";

/** The IP + transport header quoted inside an ICMP error (RFC 792, RFC 4443). */
export interface IcmpQuote {
  version: IpVersion;
  src: string;
  dst: string;
  protocol: number;
  /** Present when the quote holds at least 8 bytes of a TCP header. */
  srcPort?: number;
  dstPort?: number;
  seq?: number;
}

export interface IcmpMessage {
  version: IpVersion; // 4 = ICMP, 6 = ICMPv6
  type: number;
  code: number;
  kind: IcmpKind;
  checksum: number;
  /** Next-hop MTU (v4 frag-needed) or MTU (v6 packet too big). */
  mtu?: number;
  /** Parameter-problem pointer. */
  pointer?: number;
  /** The offending packet's headers, when the message is an error that quotes one. */
  quote?: IcmpQuote;
  /** Everything after the 8-byte ICMP header. */
  body: Uint8Array;
}

export type Transport =
  | { kind: "tcp"; tcp: TcpSegment }
  | { kind: "icmp"; icmp: IcmpMessage }
  | { kind: "other"; protocol: number; payload: Uint8Array };

export interface Packet {
  ip: IpHeader;
  l4: Transport;
}

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPV6_HOPOPTS = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_DSTOPTS = 60;
export const IPV6_NONXT = 59;

/** What the engine asks the wire layer to put on the link. */
export interface TcpPacketSpec {
  src: string;
  dst: string;
  ttl?: number; // default 64
  tos?: number;
  /** IPv4 identification; default 0. */
  id?: number;
  /** IPv4 DF bit; default true. */
  dontFragment?: boolean;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent?: number;
  options?: TcpOption[];
  payload?: Uint8Array;
}

export interface IcmpErrorSpec {
  /** Who sends the error (a router or the destination). */
  src: string;
  /** Who gets it: the original sender. */
  dst: string;
  type: number;
  code: number;
  /** MTU for v4 frag-needed (type 3 code 4) and v6 packet too big. */
  mtu?: number;
  /** Pointer for parameter problem. */
  pointer?: number;
  /** The offending packet as it was sent (its start is quoted). */
  original: Uint8Array;
  /** How many bytes of the original to quote; default IP header + 8 (v4), as much as fits in 1280 (v6). */
  quoteBytes?: number;
}
