// Whole packets: IP version dispatch, then TCP / ICMP / ICMPv6 / other.
//
// Zero-copy: a parsed Packet's payloads (`tcp.payload`, unknown TCP option data,
// `icmp.body`, `other.payload`) are subarray views of the input bytes. A caller that
// reuses its receive buffer must copy what it keeps.

import { ipBytes } from "./addr.js";
import { pseudoHeaderSum } from "./checksum.js";
import { buildIcmpv4Error, parseIcmp } from "./icmp.js";
import { buildIcmpv6Error, parseIcmpv6 } from "./icmpv6.js";
import { parseIpv4, writeIpv4Header, IPV4_HEADER_BYTES, type IpDatagram, type Ipv4HeaderFields } from "./ipv4.js";
import { parseIpv6, writeIpv6Header, IPV6_HEADER_BYTES, type Ipv6HeaderFields } from "./ipv6.js";
import { formatTcpOptions, TCP_MAX_OPTION_BYTES } from "./tcp-options.js";
import { formatTcpFlags, parseTcp, TCP_HEADER_BYTES, tcpHeaderLength, writeTcpSegment } from "./tcp.js";
import {
  fail,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  ok,
  TCP_ACK,
  TCP_URG,
  type IcmpErrorSpec,
  type IcmpQuote,
  type Packet,
  type Parsed,
  type PacketError,
  type TcpPacketSpec,
  type TcpSegment,
} from "./types.js";

/**
 * Parses one IP packet (no link header). Reasons are those of parseIpv4 /
 * parseIpv6 / parseTcp / parseIcmp / parseIcmpv6, plus "empty packet" and "ip bad
 * version". A TCP segment must carry a valid checksum ("tcp checksum"). Never
 * throws, whatever the bytes.
 */
export function parsePacket(bytes: Uint8Array): Parsed<Packet, PacketError> {
  if (bytes.length === 0) return fail("empty packet");
  const version = bytes[0] >> 4;
  let dg: Parsed<IpDatagram, PacketError>;
  if (version === 4) dg = parseIpv4(bytes);
  else if (version === 6) dg = parseIpv6(bytes);
  else return fail("ip bad version");
  if (!dg.ok) return dg;
  const { header: ip, payload, srcBytes, dstBytes } = dg.value;
  if (ip.protocol === IPPROTO_TCP) {
    const tcp = parseTcp(payload, pseudoHeaderSum(ip.version, srcBytes, dstBytes, IPPROTO_TCP, payload.length));
    if (!tcp.ok) return tcp;
    return ok({ ip, l4: { kind: "tcp", tcp: tcp.value } });
  }
  if (ip.version === 4 && ip.protocol === IPPROTO_ICMP) {
    const icmp = parseIcmp(payload);
    if (!icmp.ok) return icmp;
    return ok({ ip, l4: { kind: "icmp", icmp: icmp.value } });
  }
  if (ip.version === 6 && ip.protocol === IPPROTO_ICMPV6) {
    const icmp = parseIcmpv6(payload, pseudoHeaderSum(6, srcBytes, dstBytes, IPPROTO_ICMPV6, payload.length));
    if (!icmp.ok) return icmp;
    return ok({ ip, l4: { kind: "icmp", icmp: icmp.value } });
  }
  return ok({ ip, l4: { kind: "other", protocol: ip.protocol, payload } });
}

/** Address bytes by text, so that building a packet does not re-parse its addresses. */
const addressBytesCache = new Map<string, Uint8Array>();
const ADDRESS_CACHE_ENTRIES = 4096;

/** ipBytes() through the cache. The bytes are shared: only read them. */
function cachedIpBytes(text: string): Uint8Array {
  let b = addressBytesCache.get(text);
  if (b === undefined) {
    b = ipBytes(text); // throws on an invalid address, as before
    if (addressBytesCache.size >= ADDRESS_CACHE_ENTRIES) addressBytesCache.clear();
    addressBytesCache.set(text, b);
  }
  return b;
}

/**
 * The last address written in one position (source or destination) and its bytes. A
 * connection's packets repeat the same two addresses, and comparing the text with the last
 * one is cheaper than the Map lookup (3% of the engine benchmark's profile for the two).
 */
class LastAddress {
  /** undefined until the first packet: no text matches it, not even "" (invalid, throws). */
  private text: string | undefined = undefined;
  private bytes: Uint8Array = new Uint8Array(0);
  get(text: string): Uint8Array {
    if (text !== this.text) {
      this.bytes = cachedIpBytes(text);
      this.text = text;
    }
    return this.bytes;
  }
}
const lastSrc = new LastAddress();
const lastDst = new LastAddress();

/**
 * Serialises a TCP segment in an IPv4 or IPv6 packet, chosen by the family of
 * `spec.src` (`spec.dst` must match). Defaults: TTL / hop limit 64, TOS 0, IPv4 id 0,
 * DF set. IP and TCP checksums are filled in. Invalid addresses, mixed families,
 * or options over 40 bytes are programmer errors and throw.
 */
export function buildTcpPacket(spec: TcpPacketSpec): Uint8Array {
  const out = new Uint8Array(tcpPacketLength(spec));
  writeTcpPacket(spec, out, 0);
  return out;
}

/** The length of the packet buildTcpPacket(spec) makes; throws where it would. */
export function tcpPacketLength(spec: TcpPacketSpec): number {
  const src = lastSrc.get(spec.src);
  const dst = lastDst.get(spec.dst);
  if (src.length !== dst.length) throw new Error(`buildTcpPacket: ${spec.src} and ${spec.dst} differ in family`);
  const ipLength = src.length === 4 ? IPV4_HEADER_BYTES : IPV6_HEADER_BYTES;
  return ipLength + tcpHeaderLength(spec.options) + (spec.payload ? spec.payload.length : 0);
}

/** The most bytes a TCP packet with `payloadLength` bytes of data takes (IPv6, 40 option bytes). */
export function maxTcpPacketLength(payloadLength: number): number {
  return IPV6_HEADER_BYTES + TCP_HEADER_BYTES + TCP_MAX_OPTION_BYTES + payloadLength;
}

// Header fields refilled for every packet (the writers only read them): an object literal
// per packet showed as 72 bytes each in the allocation profile of the handshake path.
const v4Header: Ipv4HeaderFields = { src: new Uint8Array(4), dst: new Uint8Array(4), protocol: IPPROTO_TCP, ttl: undefined, tos: undefined, id: undefined, dontFragment: undefined };
const v6Header: Ipv6HeaderFields = { src: new Uint8Array(16), dst: new Uint8Array(16), nextHeader: IPPROTO_TCP, hopLimit: undefined, trafficClass: undefined };

/**
 * buildTcpPacket() into out[off, off + tcpPacketLength(spec)), which the caller has made
 * room for. Returns the packet's length. With `partial` the TCP checksum is left for the
 * device (checksum offload): the field holds the pseudo-header sum (see writeTcpSegment);
 * the IPv4 header checksum is always complete.
 */
export function writeTcpPacket(spec: TcpPacketSpec, out: Uint8Array, off: number, partial = false): number {
  const src = lastSrc.get(spec.src);
  const dst = lastDst.get(spec.dst);
  if (src.length !== dst.length) throw new Error(`buildTcpPacket: ${spec.src} and ${spec.dst} differ in family`);
  const tcpHeader = tcpHeaderLength(spec.options);
  const tcpLength = tcpHeader + (spec.payload ? spec.payload.length : 0);
  const v4 = src.length === 4;
  const ipLength = v4 ? IPV4_HEADER_BYTES : IPV6_HEADER_BYTES;
  if (v4) {
    const h = v4Header;
    h.src = src;
    h.dst = dst;
    h.ttl = spec.ttl;
    h.tos = spec.tos;
    h.id = spec.id;
    h.dontFragment = spec.dontFragment;
    writeIpv4Header(out, off, h, tcpLength);
  } else {
    const h = v6Header;
    h.src = src;
    h.dst = dst;
    h.hopLimit = spec.ttl;
    h.trafficClass = spec.tos;
    writeIpv6Header(out, off, h, tcpLength);
  }
  writeTcpSegment(out, off + ipLength, spec, pseudoHeaderSum(v4 ? 4 : 6, src, dst, IPPROTO_TCP, tcpLength), partial, tcpHeader);
  return ipLength + tcpLength;
}

/** An ICMPv4 or ICMPv6 error (by the family of `spec.src`) quoting `spec.original`. */
export function buildIcmpError(spec: IcmpErrorSpec): Uint8Array {
  return spec.src.indexOf(":") >= 0 ? buildIcmpv6Error(spec) : buildIcmpv4Error(spec);
}

function endpoint(addr: string, port: number): string {
  return addr.indexOf(":") >= 0 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function describeQuote(q: IcmpQuote): string {
  if (q.srcPort !== undefined && q.dstPort !== undefined) {
    return `${endpoint(q.src, q.srcPort)} > ${endpoint(q.dst, q.dstPort)} seq ${q.seq}`;
  }
  return `${q.src} > ${q.dst} proto ${q.protocol}`;
}

/** describePacket() of a TCP segment from `src` to `dst`. */
export function describeTcpSegment(src: string, dst: string, t: TcpSegment): string {
  let s = `${endpoint(src, t.srcPort)} > ${endpoint(dst, t.dstPort)} ${formatTcpFlags(t.flags)} seq ${t.seq}`;
  if (t.flags & TCP_ACK) s += ` ack ${t.ack}`;
  s += ` win ${t.window}`;
  if (t.flags & TCP_URG) s += ` urg ${t.urgent}`;
  const options = t.options;
  if (options.length > 0) s += ` <${formatTcpOptions(options)}>`;
  if (t.payload.length > 0) s += ` length ${t.payload.length}`;
  return s;
}

/**
 * One tcpdump-like line, e.g.
 * `10.0.0.2:49731 > 10.0.0.1:80 S seq 1000 win 64240 <mss 1460,nop,wscale 8>`,
 * `10.0.0.9 > 10.0.0.2 icmp destUnreach code 3 quoting 10.0.0.2:49731 > 10.0.0.1:80 seq 1000`.
 * IPv6 endpoints are written [addr]:port.
 */
export function describePacket(p: Packet): string {
  const ip = p.ip;
  const l4 = p.l4;
  switch (l4.kind) {
    case "tcp":
      return describeTcpSegment(ip.src, ip.dst, l4.tcp);
    case "icmp": {
      const m = l4.icmp;
      let s = `${ip.src} > ${ip.dst} ${m.version === 6 ? "icmp6" : "icmp"} ${m.kind}`;
      if (m.kind === "other") s += ` type ${m.type}`;
      s += ` code ${m.code}`;
      if (m.mtu !== undefined) s += ` mtu ${m.mtu}`;
      if (m.pointer !== undefined) s += ` pointer ${m.pointer}`;
      if (m.quote) s += ` quoting ${describeQuote(m.quote)}`;
      return s;
    }
    case "other":
      return `${ip.src} > ${ip.dst} proto ${l4.protocol} length ${l4.payload.length}`;
  }
}
