// IPv4 header (RFC 791 §3.1). The fixed 20-byte header is declared once with
// buffer-layout; the parser and writer use offsets and bit positions derived from
// that declaration.

import * as BufferLayout from "buffer-layout";
import { formatIpv4 } from "./addr.js";
import { foldChecksum, internetChecksum } from "./checksum.js";
import { bitField, fieldOffset } from "./layout.js";
import { fail, ok, type IpHeader, type PacketError, type Parsed } from "./types.js";

const versionIhl = BufferLayout.bits(BufferLayout.u8(), true, "versionIhl");
versionIhl.addField(4, "version");
versionIhl.addField(4, "ihl");

// RFC 791 §3.1: bit 0 reserved, bit 1 DF, bit 2 MF, then the 13-bit fragment offset.
const flagsFragment = BufferLayout.bits(BufferLayout.u16be(), true, "flagsFragment");
flagsFragment.addBoolean("reserved");
flagsFragment.addBoolean("dontFragment");
flagsFragment.addBoolean("moreFragments");
flagsFragment.addField(13, "fragmentOffset");

/** The fixed IPv4 header. decode/encode need a Node Buffer. */
export const IPV4_HEADER_LAYOUT = BufferLayout.struct([
  versionIhl,
  BufferLayout.u8("tos"),
  BufferLayout.u16be("totalLength"),
  BufferLayout.u16be("id"),
  flagsFragment,
  BufferLayout.u8("ttl"),
  BufferLayout.u8("protocol"),
  BufferLayout.u16be("checksum"),
  BufferLayout.blob(4, "src"),
  BufferLayout.blob(4, "dst"),
]);

/** Header length without options, bytes. */
export const IPV4_HEADER_BYTES: number = IPV4_HEADER_LAYOUT.span;

/** Offsets and bit positions, read off the layout once. */
export const IPV4_OFFSETS = {
  versionIhl: fieldOffset(IPV4_HEADER_LAYOUT, "versionIhl"),
  tos: fieldOffset(IPV4_HEADER_LAYOUT, "tos"),
  totalLength: fieldOffset(IPV4_HEADER_LAYOUT, "totalLength"),
  id: fieldOffset(IPV4_HEADER_LAYOUT, "id"),
  flagsFragment: fieldOffset(IPV4_HEADER_LAYOUT, "flagsFragment"),
  ttl: fieldOffset(IPV4_HEADER_LAYOUT, "ttl"),
  protocol: fieldOffset(IPV4_HEADER_LAYOUT, "protocol"),
  checksum: fieldOffset(IPV4_HEADER_LAYOUT, "checksum"),
  src: fieldOffset(IPV4_HEADER_LAYOUT, "src"),
  dst: fieldOffset(IPV4_HEADER_LAYOUT, "dst"),
} as const;
const O = IPV4_OFFSETS;
const VERSION = bitField(versionIhl, "version");
const IHL = bitField(versionIhl, "ihl");
const DF = bitField(flagsFragment, "dontFragment");
const MF = bitField(flagsFragment, "moreFragments");
const FRAG_OFFSET = bitField(flagsFragment, "fragmentOffset");

/**
 * An IP datagram after its header(s) were checked. `payload`, `srcBytes` and
 * `dstBytes` are subarray views of the parser's input (zero-copy): copy them if
 * the input buffer will be reused.
 */
export interface IpDatagram {
  header: IpHeader;
  srcBytes: Uint8Array;
  dstBytes: Uint8Array;
  /** The upper-layer bytes, bounded by the IP length field (link padding dropped). */
  payload: Uint8Array;
}

/**
 * Parses and checks an IPv4 header. Reasons: "ipv4 truncated header", "ipv4 bad
 * version", "ipv4 bad ihl", "ipv4 bad total length", "ipv4 truncated packet",
 * "ipv4 header checksum", "ipv4 fragment".
 */
export function parseIpv4(bytes: Uint8Array): Parsed<IpDatagram, PacketError> {
  if (bytes.length < IPV4_HEADER_BYTES) return fail("ipv4 truncated header");
  const vi = bytes[O.versionIhl];
  if (((vi >> VERSION.shift) & VERSION.mask) !== 4) return fail("ipv4 bad version");
  const headerLength = ((vi >> IHL.shift) & IHL.mask) * 4;
  // RFC 791 §3.1: the minimum value for a correct header is 5 (32-bit words).
  if (headerLength < IPV4_HEADER_BYTES) return fail("ipv4 bad ihl");
  if (headerLength > bytes.length) return fail("ipv4 truncated header");
  const totalLength = (bytes[O.totalLength] << 8) | bytes[O.totalLength + 1];
  if (totalLength < headerLength) return fail("ipv4 bad total length");
  // Bytes past totalLength are link padding (e.g. Ethernet minimum frame) and are ignored.
  if (totalLength > bytes.length) return fail("ipv4 truncated packet");
  // RFC 791 §3.1 / RFC 1071: the sum over the header including its checksum is 0xffff.
  if (internetChecksum(bytes, 0, headerLength) !== 0) return fail("ipv4 header checksum");
  const ff = (bytes[O.flagsFragment] << 8) | bytes[O.flagsFragment + 1];
  // This stack does no reassembly (RFC 791 §3.2): any piece of a fragmented datagram
  // (more-fragments set, or a non-zero offset) is dropped.
  if (((ff >> MF.shift) & MF.mask) !== 0 || ((ff >> FRAG_OFFSET.shift) & FRAG_OFFSET.mask) !== 0) {
    return fail("ipv4 fragment");
  }
  // IP options (RFC 791 §3.1) between byte 20 and headerLength are skipped unread.
  const header: IpHeader = {
    version: 4,
    src: formatIpv4(bytes, O.src),
    dst: formatIpv4(bytes, O.dst),
    protocol: bytes[O.protocol],
    ttl: bytes[O.ttl],
    tos: bytes[O.tos],
    id: (bytes[O.id] << 8) | bytes[O.id + 1],
    dontFragment: ((ff >> DF.shift) & DF.mask) !== 0,
    flowLabel: 0,
    headerLength,
    extensionHeaders: [],
    routerAlert: false,
  };
  return ok({
    header,
    srcBytes: bytes.subarray(O.src, O.src + 4),
    dstBytes: bytes.subarray(O.dst, O.dst + 4),
    payload: bytes.subarray(headerLength, totalLength),
  });
}

export interface Ipv4HeaderFields {
  src: Uint8Array; // 4 bytes
  dst: Uint8Array; // 4 bytes
  protocol: number;
  /** Default 64. */
  ttl?: number;
  /** Default 0. */
  tos?: number;
  /** Default 0. */
  id?: number;
  /** Default true (RFC 1191 path MTU discovery sets DF). */
  dontFragment?: boolean;
}

/**
 * Writes a 20-byte IPv4 header (no options) for `payloadLength` bytes of payload at
 * out[off], header checksum included. Returns the header length.
 */
export function writeIpv4Header(out: Uint8Array, off: number, h: Ipv4HeaderFields, payloadLength: number): number {
  const totalLength = IPV4_HEADER_BYTES + payloadLength;
  if (totalLength > 0xffff) throw new RangeError(`ipv4 total length ${totalLength} > 65535`);
  const versionIhl = (4 << VERSION.shift) | ((IPV4_HEADER_BYTES / 4) << IHL.shift);
  const tos = (h.tos ?? 0) & 0xff;
  out[off + O.versionIhl] = versionIhl;
  out[off + O.tos] = tos;
  out[off + O.totalLength] = totalLength >> 8;
  out[off + O.totalLength + 1] = totalLength & 0xff;
  const id = (h.id ?? 0) & 0xffff;
  out[off + O.id] = id >> 8;
  out[off + O.id + 1] = id & 0xff;
  const ff = (h.dontFragment ?? true) ? DF.mask << DF.shift : 0;
  out[off + O.flagsFragment] = ff >> 8;
  out[off + O.flagsFragment + 1] = ff & 0xff;
  const ttl = (h.ttl ?? 64) & 0xff;
  const protocol = h.protocol & 0xff;
  out[off + O.ttl] = ttl;
  out[off + O.protocol] = protocol;
  // Byte by byte rather than set(subarray()): two views per packet showed in the profile.
  copy4(h.src, out, off + O.src);
  copy4(h.dst, out, off + O.dst);
  // RFC 1071: the header's 16-bit words summed from the values just written (the addresses
  // read back), not by a second pass over the 20 bytes: that pass was the largest part of
  // this function in the CPU profile of the engine benchmark.
  const s = off + O.src;
  const d = off + O.dst;
  const words =
    ((versionIhl << 8) | tos) + totalLength + id + ff + ((ttl << 8) | protocol) +
    ((out[s] << 8) | out[s + 1]) + ((out[s + 2] << 8) | out[s + 3]) + ((out[d] << 8) | out[d + 1]) + ((out[d + 2] << 8) | out[d + 3]);
  const sum = ~foldChecksum(words) & 0xffff;
  out[off + O.checksum] = sum >> 8;
  out[off + O.checksum + 1] = sum & 0xff;
  return IPV4_HEADER_BYTES;
}

function copy4(from: Uint8Array, to: Uint8Array, at: number): void {
  if (from.length < 4) {
    to.set(from, at);
    return;
  }
  to[at] = from[0];
  to[at + 1] = from[1];
  to[at + 2] = from[2];
  to[at + 3] = from[3];
}

/** A whole IPv4 datagram: header (checksummed) + a copy of `payload`. */
export function buildIpv4(h: Ipv4HeaderFields, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV4_HEADER_BYTES + payload.length);
  writeIpv4Header(out, 0, h, payload.length);
  out.set(payload, IPV4_HEADER_BYTES);
  return out;
}
