// Strips link-layer headers to get at the IP packet inside a captured frame.
// Supported: Ethernet (with any stack of 802.1Q / 802.1ad tags), raw IP (101, 12, 14, 228,
// 229), Linux cooked capture v1 (113) and v2 (276), BSD null (0) and OpenBSD loop (108).

import { EtherType, ETHERTYPE_MIN, LinkType, hex32 } from "./format.js";

export type IpExtraction =
  | { ok: true; ip: Uint8Array; version: 4 | 6 }
  | { ok: false; reason: string };

const ETHERNET_HEADER_LEN = 14;
const VLAN_TAG_LEN = 4;
const SLL_HEADER_LEN = 16;
const SLL2_HEADER_LEN = 20;
const NULL_HEADER_LEN = 4;

/** BSD AF_INET is 2 everywhere; AF_INET6 differs: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin). */
const AF_INET = 2;
const AF_INET6_VALUES = new Set([24, 28, 30]);

function etherTypeName(t: number): string {
  if (t === EtherType.ARP) return "ARP";
  if (t === 0x8035) return "RARP";
  if (t === 0x88cc) return "LLDP";
  if (t === 0x8863 || t === 0x8864) return "PPPoE";
  if (t === 0x8847 || t === 0x8848) return "MPLS";
  return "ethertype 0x" + t.toString(16).padStart(4, "0");
}

/**
 * Trims the IP packet to the length its header declares: Ethernet frames are padded to 60
 * bytes and may carry an FCS, so the frame length is not the IP length (MANIFEST replay notes).
 * A header length of 0 (TSO/jumbo) or larger than what was captured keeps the whole slice.
 */
function trimToIpLength(p: Uint8Array, version: 4 | 6): Uint8Array {
  if (version === 4) {
    if (p.length < 20) return p;
    const total = (p[2]! << 8) | p[3]!;
    return total >= 20 && total < p.length ? p.subarray(0, total) : p;
  }
  if (p.length < 40) return p;
  const payload = (p[4]! << 8) | p[5]!;
  const total = 40 + payload;
  return payload > 0 && total < p.length ? p.subarray(0, total) : p;
}

/** Checks the version nibble and trims; `expect` pins the version when the link says it. */
function asIp(p: Uint8Array, what: string, expect?: 4 | 6): IpExtraction {
  if (p.length === 0) return { ok: false, reason: `${what}: no bytes after the link header` };
  const v = p[0]! >> 4;
  if (v !== 4 && v !== 6) return { ok: false, reason: `${what}: IP version nibble is ${v}, not 4 or 6` };
  if (expect !== undefined && v !== expect) {
    return { ok: false, reason: `${what}: link type says IPv${expect} but the version nibble is ${v}` };
  }
  return { ok: true, ip: trimToIpLength(p, v), version: v };
}

/** Maps an EtherType (after VLAN tags) to an IP packet or a reason. */
function fromEtherType(type: number, payload: Uint8Array, what: string): IpExtraction {
  if (type === EtherType.IPV4) return asIp(payload, what, 4);
  if (type === EtherType.IPV6) return asIp(payload, what, 6);
  return { ok: false, reason: `${what}: not IP (${etherTypeName(type)})` };
}

function ethernet(frame: Uint8Array): IpExtraction {
  if (frame.length < ETHERNET_HEADER_LEN) {
    return { ok: false, reason: `Ethernet frame of ${frame.length} bytes is shorter than its 14-byte header` };
  }
  let off = 12;
  let type = (frame[off]! << 8) | frame[off + 1]!;
  off += 2;
  // IEEE 802.1Q / 802.1ad: each tag is TPID(2, already read as `type`) + TCI(2), then the
  // next type. Tags may nest (Q-in-Q), so loop.
  while (type === EtherType.VLAN || type === EtherType.QINQ || type === EtherType.QINQ_OLD) {
    if (frame.length < off + VLAN_TAG_LEN) {
      return { ok: false, reason: `Ethernet frame of ${frame.length} bytes is cut inside a VLAN tag` };
    }
    type = (frame[off + 2]! << 8) | frame[off + 3]!;
    off += VLAN_TAG_LEN;
  }
  if (type < ETHERTYPE_MIN) {
    return { ok: false, reason: `Ethernet: 802.3 length frame (length ${type}), not IP` };
  }
  return fromEtherType(type, frame.subarray(off), "Ethernet");
}

function sll(frame: Uint8Array): IpExtraction {
  // Linux cooked v1: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2).
  if (frame.length < SLL_HEADER_LEN) {
    return { ok: false, reason: `SLL frame of ${frame.length} bytes is shorter than its 16-byte header` };
  }
  const proto = (frame[14]! << 8) | frame[15]!;
  return fromEtherType(proto, frame.subarray(SLL_HEADER_LEN), "Linux cooked (SLL)");
}

function sll2(frame: Uint8Array): IpExtraction {
  // Linux cooked v2: protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8).
  if (frame.length < SLL2_HEADER_LEN) {
    return { ok: false, reason: `SLL2 frame of ${frame.length} bytes is shorter than its 20-byte header` };
  }
  const proto = (frame[0]! << 8) | frame[1]!;
  return fromEtherType(proto, frame.subarray(SLL2_HEADER_LEN), "Linux cooked v2 (SLL2)");
}

function bsdLoopback(frame: Uint8Array, what: string): IpExtraction {
  if (frame.length < NULL_HEADER_LEN) {
    return { ok: false, reason: `${what} frame of ${frame.length} bytes is shorter than its 4-byte header` };
  }
  // The family is a host-order u32 for NULL (network order for LOOP, but captures moved
  // between hosts show both): the values are small, so whichever reading is < 2^16 is right.
  const dv = new DataView(frame.buffer, frame.byteOffset, 4);
  let family = dv.getUint32(0, true);
  if (family > 0xffff) family = dv.getUint32(0, false);
  const payload = frame.subarray(NULL_HEADER_LEN);
  if (family === AF_INET) return asIp(payload, what, 4);
  if (AF_INET6_VALUES.has(family)) return asIp(payload, what, 6);
  return { ok: false, reason: `${what}: address family ${family} (${hex32(dv.getUint32(0, false))}) is not IP` };
}

/**
 * Returns the IP packet carried by `frame` (a subarray, not a copy), or why there is none.
 */
export function extractIp(linkType: number, frame: Uint8Array): IpExtraction {
  switch (linkType) {
    case LinkType.ETHERNET:
      return ethernet(frame);
    case LinkType.RAW:
    case LinkType.RAW_12:
    case LinkType.RAW_14:
      return asIp(frame, "raw IP");
    case LinkType.IPV4:
      return asIp(frame, "raw IPv4", 4);
    case LinkType.IPV6:
      return asIp(frame, "raw IPv6", 6);
    case LinkType.LINUX_SLL:
      return sll(frame);
    case LinkType.LINUX_SLL2:
      return sll2(frame);
    case LinkType.NULL:
      return bsdLoopback(frame, "BSD loopback (null)");
    case LinkType.LOOP:
      return bsdLoopback(frame, "OpenBSD loopback");
    default:
      return { ok: false, reason: `link type ${linkType} is not supported for IP extraction` };
  }
}
