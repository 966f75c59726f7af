// What a device with transmit offloads does to a TCP packet the stack left to it: complete its
// checksum (checksum offload) and cut a large segment into MSS-sized ones (TCP segmentation
// offload). The stack only hands such packets to a device that says it does this itself (the
// TUN with its virtio-net header); these functions are the same rules in JavaScript, for
// the packets the stack gives to anyone else (Stack.takeOutput) and for the tests.
//
// The rules, as include/uapi/linux/virtio_net.h states them for VIRTIO_NET_HDR_F_NEEDS_CSUM
// and VIRTIO_NET_HDR_GSO_TCPV4/TCPV6: the checksum is the Internet checksum (RFC 1071) of
// everything from csum_start (the TCP header) to the end, with the checksum field holding
// the pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1) beforehand, stored at csum_start +
// csum_offset; a GSO packet is cut into segments of gso_size bytes of payload (the last may be
// shorter), each with the packet's headers, its own sequence number and lengths, and PSH
// and FIN only on the last one (Linux tcp_gso_segment()).
import { foldChecksum, pseudoHeaderSum, sumWords } from "./checksum.js";
import { IPV4_HEADER_BYTES } from "./ipv4.js";
import { IPV6_HEADER_BYTES } from "./ipv6.js";
import { TCP_HEADER_BYTES, tcpHeaderLength } from "./tcp.js";
import { TCP_MAX_OPTION_BYTES, writeTcpOptionsInto } from "./tcp-options.js";
import { IPPROTO_TCP, TCP_FIN, TCP_PSH, type TcpOption } from "./types.js";

/** Offset of the checksum in the TCP header (RFC 9293 §3.1). */
const TCP_CHECKSUM_OFFSET = 16;

/** Where the TCP header starts, from p[at], in an IPv4 or an IPv6 packet (no extension headers). */
export function tcpHeaderStart(p: Uint8Array, at = 0): number {
  return p[at] >> 4 === 4 ? (p[at] & 0x0f) * 4 : IPV6_HEADER_BYTES;
}

/**
 * Completes the TCP checksum of a packet whose checksum field holds the pseudo-header sum,
 * in place, as the device would: the complement of the sum of the segment, field included.
 */
export function completeTcpChecksum(p: Uint8Array): void {
  const t = tcpHeaderStart(p);
  const sum = ~foldChecksum(sumWords(p, t, p.length, 0)) & 0xffff;
  p[t + TCP_CHECKSUM_OFFSET] = sum >> 8;
  p[t + TCP_CHECKSUM_OFFSET + 1] = sum & 0xff;
}

/**
 * The segments a TCP packet of up to 64 KiB with `gsoSize` bytes per segment becomes on the
 * wire, each a new Uint8Array with complete checksums. The packet's checksum field holds the
 * pseudo-header sum (of its own length, or of any length: it is recomputed). The IPv4
 * identification is copied as it is: the stack writes atomic datagrams (DF set, id 0), whose
 * id a source may set to any value (RFC 6864 §4.1).
 */
export function splitTcpSegments(p: Uint8Array, gsoSize: number): Uint8Array[] {
  const v4 = p[0] >> 4 === 4;
  const t = tcpHeaderStart(p);
  const hdr = t + (p[t + 12] >> 4) * 4;
  const payload = p.length - hdr;
  const out: Uint8Array[] = [];
  const seq0 = ((p[t + 4] << 24) | (p[t + 5] << 16) | (p[t + 6] << 8) | p[t + 7]) >>> 0;
  const src = v4 ? p.subarray(12, 16) : p.subarray(8, 24);
  const dst = v4 ? p.subarray(16, 20) : p.subarray(24, 40);
  for (let at = 0; ; at += gsoSize) {
    const n = Math.min(gsoSize, payload - at);
    const last = at + n >= payload;
    const s = new Uint8Array(hdr + n);
    s.set(p.subarray(0, hdr), 0);
    s.set(p.subarray(hdr + at, hdr + at + n), hdr);
    if (v4) {
      const total = hdr + n;
      s[2] = total >> 8;
      s[3] = total & 0xff;
      s[10] = s[11] = 0;
      const c = ~foldChecksum(sumWords(s, 0, IPV4_HEADER_BYTES, 0)) & 0xffff;
      s[10] = c >> 8;
      s[11] = c & 0xff;
    } else {
      const pl = hdr + n - IPV6_HEADER_BYTES;
      s[4] = pl >> 8;
      s[5] = pl & 0xff;
    }
    const seq = (seq0 + at) >>> 0;
    s[t + 4] = seq >>> 24;
    s[t + 5] = (seq >>> 16) & 0xff;
    s[t + 6] = (seq >>> 8) & 0xff;
    s[t + 7] = seq & 0xff;
    if (!last) s[t + 13] &= ~(TCP_PSH | TCP_FIN);
    const ps = foldChecksum(pseudoHeaderSum(v4 ? 4 : 6, src, dst, IPPROTO_TCP, s.length - t));
    s[t + TCP_CHECKSUM_OFFSET] = ps >> 8;
    s[t + TCP_CHECKSUM_OFFSET + 1] = ps & 0xff;
    completeTcpChecksum(s);
    out.push(s);
    if (last) return out;
  }
}

/**
 * Makes the TCP packet at p[at, at + length) say it is `length` bytes long after payload was
 * appended to it: the IPv4 total length and header checksum (or the IPv6 payload length),
 * and the pseudo-header sum its checksum field holds for the device.
 */
export function setTcpPacketLength(p: Uint8Array, at: number, length: number): void {
  const v4 = p[at] >> 4 === 4;
  const tcp = at + tcpHeaderStart(p, at);
  let ps: number;
  if (v4) {
    p[at + 2] = length >> 8;
    p[at + 3] = length & 0xff;
    p[at + 10] = p[at + 11] = 0;
    const c = ~foldChecksum(sumWords(p, at, at + IPV4_HEADER_BYTES, 0)) & 0xffff;
    p[at + 10] = c >> 8;
    p[at + 11] = c & 0xff;
    ps = pseudoHeaderSum(4, p.subarray(at + 12, at + 16), p.subarray(at + 16, at + 20), IPPROTO_TCP, at + length - tcp);
  } else {
    const pl = length - IPV6_HEADER_BYTES;
    p[at + 4] = pl >> 8;
    p[at + 5] = pl & 0xff;
    ps = pseudoHeaderSum(6, p.subarray(at + 8, at + 24), p.subarray(at + 24, at + 40), IPPROTO_TCP, pl);
  }
  ps = foldChecksum(ps);
  p[tcp + TCP_CHECKSUM_OFFSET] = ps >> 8;
  p[tcp + TCP_CHECKSUM_OFFSET + 1] = ps & 0xff;
}

/** Room for the options of one TCP header (segmentFitsPacket). */
const optionScratch = new Uint8Array(TCP_MAX_OPTION_BYTES);

/**
 * Whether a segment of the connection whose TCP packet starts at p[at] may join that packet
 * as a TSO packet's next segment: its hop limit, acknowledgment number, window and options
 * (RFC 9293 §3.1) are those written there. Addresses and ports are the connection's; the
 * sequence number, flags and checksum are the ones segments of a TSO packet may differ in.
 */
export function segmentFitsPacket(p: Uint8Array, at: number, ttl: number | undefined, ack: number, window: number, options: readonly TcpOption[] | undefined): boolean {
  const v4 = p[at] >> 4 === 4;
  if (p[at + (v4 ? 8 : 7)] !== ((ttl ?? 64) & 0xff)) return false;
  const t = at + tcpHeaderStart(p, at);
  const hl = tcpHeaderLength(options);
  if ((p[t + 12] >> 4) * 4 !== hl) return false;
  const a = ack >>> 0;
  if (p[t + 8] !== a >>> 24 || p[t + 9] !== ((a >>> 16) & 0xff) || p[t + 10] !== ((a >>> 8) & 0xff) || p[t + 11] !== (a & 0xff)) return false;
  const w = window & 0xffff;
  if (p[t + 14] !== w >> 8 || p[t + 15] !== (w & 0xff)) return false;
  if (hl === TCP_HEADER_BYTES) return true;
  const n = writeTcpOptionsInto(optionScratch, 0, options!);
  for (let i = 0; i < n; i++) if (optionScratch[i] !== p[t + TCP_HEADER_BYTES + i]) return false;
  return true;
}
