// Valid seed packets for the mutation fuzzers, built with the wire builders: TCP over
// IPv4 and IPv6 (with every option kind), IPv6 with a chain of extension headers, ICMP and
// ICMPv6 errors quoting TCP segments, and a few non-TCP packets.
import { ipBytes } from "../../stack/wire/addr.js";
import { internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.js";
import { writeIpv4Header } from "../../stack/wire/ipv4.js";
import { writeIpv6Header } from "../../stack/wire/ipv6.js";
import { buildIcmpError, buildTcpPacket } from "../../stack/wire/packet.js";
import { writeTcpOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpOption } from "../../stack/wire/types.js";

const SYN_OPTS_WINDOWS: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 8 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }];
const SYN_OPTS_LINUX: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 12345, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 7 }];
const ACK_OPTS_SACK: TcpOption[] = [
  { kind: "nop" },
  { kind: "nop" },
  { kind: "ts", val: 0xfffffff0, ecr: 7 },
  { kind: "nop" },
  { kind: "nop" },
  { kind: "sack", blocks: [[1000, 2000], [3000, 4000], [0xfffffff0, 0x10]] },
];
const ODD_OPTS: TcpOption[] = [{ kind: "unknown", type: 30, data: new Uint8Array([1, 2, 3, 4]) }, { kind: "unknown", type: 254, data: new Uint8Array([0xf9, 0x89]) }, { kind: "eol" }];

function tcp(src: string, dst: string, flags: number, options: TcpOption[] = [], payload?: Uint8Array, seq = 1000, ack = 0): Uint8Array {
  return buildTcpPacket({ src, dst, srcPort: 80, dstPort: 49152, seq, ack, flags, window: 65535, urgent: flags & TCP_URG ? 1 : 0, options, payload });
}

/**
 * IPv6 + hop-by-hop (router alert, PadN) + destination options + routing (segments left
 * 0) + atomic fragment + TCP: every extension header kind the parser walks.
 */
export function ipv6WithExtensions(src = "fd00::1", dst = "fd00::2", payload = new Uint8Array([1, 2, 3])): Uint8Array {
  const s = ipBytes(src);
  const d = ipBytes(dst);
  const seg = buildTcpPacket({ src, dst, srcPort: 443, dstPort: 50000, seq: 0xfffffff0, ack: 77, flags: TCP_ACK | TCP_PSH, window: 1000, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 1, ecr: 2 }], payload }).subarray(40);
  const hbh = [60, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]; // next=dstopts, router alert, PadN(0)
  const dst1 = [43, 0, 0x01, 0x04, 0, 0, 0, 0]; // next=routing, PadN(4)
  const rh = [44, 0, 0, 0, 0, 0, 0, 0]; // next=fragment, type 0, segments left 0
  const frag = [6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]; // next=TCP, offset 0, M=0 (atomic)
  const ext = new Uint8Array([...hbh, ...dst1, ...rh, ...frag]);
  const out = new Uint8Array(40 + ext.length + seg.length);
  writeIpv6Header(out, 0, { src: s, dst: d, nextHeader: 0 }, ext.length + seg.length);
  out.set(ext, 40);
  out.set(seg, 40 + ext.length);
  return out;
}

/** IPv4 with a 12-byte options field (record route style) carrying TCP. */
export function ipv4WithOptions(): Uint8Array {
  const seg = buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: 80, dstPort: 49152, seq: 1, ack: 2, flags: TCP_ACK, window: 512, payload: new Uint8Array([9, 9]) }).subarray(20);
  const ihl = 32;
  const out = new Uint8Array(ihl + seg.length);
  writeIpv4Header(out, 0, { src: ipBytes("10.0.0.1"), dst: ipBytes("10.0.0.2"), protocol: 6 }, seg.length);
  // Rewrite as a 32-byte header: IHL 8, options = RR (7, 11, 4, zeros) + NOP padding.
  out.set(seg, ihl);
  out[0] = 0x48;
  out[2] = (ihl + seg.length) >> 8;
  out[3] = (ihl + seg.length) & 0xff;
  out.set([7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1], 20);
  out[10] = out[11] = 0;
  const sum = internetChecksum(out, 0, ihl);
  out[10] = sum >> 8;
  out[11] = sum & 0xff;
  return out;
}

/** A non-TCP, non-ICMP packet (UDP) and an ICMPv4 echo request. */
function others(): Uint8Array[] {
  const udp = new Uint8Array(28);
  writeIpv4Header(udp, 0, { src: ipBytes("10.0.0.1"), dst: ipBytes("10.0.0.2"), protocol: 17 }, 8);
  udp.set([0, 53, 0x30, 0x39, 0, 8, 0, 0], 20);
  const echo = new Uint8Array(20 + 12);
  writeIpv4Header(echo, 0, { src: ipBytes("10.0.0.1"), dst: ipBytes("10.0.0.2"), protocol: 1 }, 12);
  echo.set([8, 0, 0, 0, 0, 1, 0, 1, 0xde, 0xad, 0xbe, 0xef], 20);
  const s = internetChecksum(echo, 20, 32);
  echo[22] = s >> 8;
  echo[23] = s & 0xff;
  // ICMPv6 neighbour solicitation-ish message to a multicast address.
  const src6 = ipBytes("fe80::1");
  const dst6 = ipBytes("ff02::1:ff00:2");
  const ns = new Uint8Array(40 + 24);
  writeIpv6Header(ns, 0, { src: src6, dst: dst6, nextHeader: 58, hopLimit: 255 }, 24);
  ns[40] = 135;
  ns.set(ipBytes("fd00::2"), 48);
  const s6 = internetChecksum(ns, 40, 64, pseudoHeaderSum(6, src6, dst6, 58, 24));
  ns[42] = s6 >> 8;
  ns[43] = s6 & 0xff;
  return [udp, echo, ns];
}

/** The packet-parser seed corpus. */
export function packetCorpus(): Uint8Array[] {
  const v4 = ["10.0.0.1", "10.0.0.2"] as const;
  const v6 = ["fd00::1", "fd00::2"] as const;
  const out: Uint8Array[] = [];
  for (const [a, b] of [v4, v6]) {
    out.push(tcp(a, b, TCP_SYN, SYN_OPTS_WINDOWS));
    out.push(tcp(a, b, TCP_SYN | TCP_ACK, SYN_OPTS_LINUX, undefined, 0xfffffffe, 1001));
    out.push(tcp(a, b, TCP_ACK | TCP_PSH, ACK_OPTS_SACK, new Uint8Array(40).fill(0x41), 5000, 6000));
    out.push(tcp(a, b, TCP_RST | TCP_ACK, [], undefined, 0, 1001));
    out.push(tcp(a, b, TCP_FIN | TCP_ACK | TCP_URG, ODD_OPTS, new Uint8Array([1, 2, 3])));
    // An original segment (from us) and ICMP errors quoting it.
    const orig = tcp(b, a, TCP_SYN, SYN_OPTS_WINDOWS, undefined, 0x12345678);
    const router = a === "10.0.0.1" ? "10.0.0.254" : "fd00::fe";
    for (const [type, code, mtu] of a === "10.0.0.1"
      ? [[3, 3, 0], [3, 4, 1400], [11, 0, 0], [12, 0, 0], [4, 0, 0]]
      : [[1, 4, 0], [2, 0, 1280], [3, 0, 0], [4, 1, 0]]) {
      out.push(buildIcmpError({ src: router, dst: b, type, code, mtu, pointer: 9, original: orig }));
    }
  }
  // ICMPv6 quoting an IPv6 packet with extension headers.
  out.push(buildIcmpError({ src: "fd00::fe", dst: "fd00::1", type: 1, code: 3, original: ipv6WithExtensions("fd00::1", "fd00::9") }));
  // ICMPv4 quoting a packet with IP options, and with a long quote.
  out.push(buildIcmpError({ src: "10.0.0.254", dst: "10.0.0.1", type: 3, code: 1, original: ipv4WithOptions(), quoteBytes: 48 }));
  out.push(ipv6WithExtensions());
  out.push(ipv4WithOptions());
  out.push(...others());
  return out;
}

/** Option-area seeds (what sits between byte 20 and the data offset). */
export function optionCorpus(): Uint8Array[] {
  return [SYN_OPTS_WINDOWS, SYN_OPTS_LINUX, ACK_OPTS_SACK, ODD_OPTS, [{ kind: "sack", blocks: [[1, 2], [3, 4], [5, 6], [7, 8]] }] as TcpOption[], [{ kind: "nop" }, { kind: "eol" }] as TcpOption[]].map((o) => writeTcpOptions(o));
}
