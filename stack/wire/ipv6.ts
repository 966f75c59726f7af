// IPv6 header (RFC 8200 §3) and the extension-header walk (RFC 8200 §4).
// The fixed 40-byte header is declared once with buffer-layout.

import * as BufferLayout from "buffer-layout";
import { formatIpv6 } from "./addr.js";
import type { IpDatagram } from "./ipv4.js";
import { bitField, fieldOffset } from "./layout.js";
import {
  fail,
  IPV6_DSTOPTS,
  IPV6_FRAGMENT,
  IPV6_HOPOPTS,
  IPV6_NONXT,
  IPV6_ROUTING,
  ok,
  type IpHeader,
  type Parsed,
  type PacketError,
} from "./types.js";

const versionClassFlow = BufferLayout.bits(BufferLayout.u32be(), true, "versionClassFlow");
versionClassFlow.addField(4, "version");
versionClassFlow.addField(8, "trafficClass");
versionClassFlow.addField(20, "flowLabel");

/** The fixed IPv6 header. decode/encode need a Node Buffer. */
export const IPV6_HEADER_LAYOUT = BufferLayout.struct([
  versionClassFlow,
  BufferLayout.u16be("payloadLength"),
  BufferLayout.u8("nextHeader"),
  BufferLayout.u8("hopLimit"),
  BufferLayout.blob(16, "src"),
  BufferLayout.blob(16, "dst"),
]);

export const IPV6_HEADER_BYTES: number = IPV6_HEADER_LAYOUT.span;

export const IPV6_OFFSETS = {
  versionClassFlow: fieldOffset(IPV6_HEADER_LAYOUT, "versionClassFlow"),
  payloadLength: fieldOffset(IPV6_HEADER_LAYOUT, "payloadLength"),
  nextHeader: fieldOffset(IPV6_HEADER_LAYOUT, "nextHeader"),
  hopLimit: fieldOffset(IPV6_HEADER_LAYOUT, "hopLimit"),
  src: fieldOffset(IPV6_HEADER_LAYOUT, "src"),
  dst: fieldOffset(IPV6_HEADER_LAYOUT, "dst"),
} as const;
const O = IPV6_OFFSETS;
const VERSION = bitField(versionClassFlow, "version");
const TRAFFIC_CLASS = bitField(versionClassFlow, "trafficClass");
const FLOW_LABEL = bitField(versionClassFlow, "flowLabel");

/** Hop-by-hop option types (RFC 8200 §4.2, RFC 2711, RFC 2675). */
const OPT_PAD1 = 0;
const OPT_ROUTER_ALERT = 0x05;
const OPT_JUMBO = 0xc2;

/** Result of walking a chain of extension headers. */
export interface ExtensionWalk {
  /** Undefined when the walk reached an upper-layer header (or "no next header"). */
  reason?: PacketError;
  /** The upper-layer protocol, or the header type where the walk stopped. */
  protocol: number;
  /** Offset of the upper-layer header in the buffer. */
  headerEnd: number;
  routerAlert: boolean;
  /**
   * True when a fragment header with a non-zero offset was met: the upper-layer
   * header is not in this packet (only set in quote mode, which does not fail on it).
   */
  laterFragment: boolean;
}

/**
 * Walks IPv6 extension headers in buf[start, end) starting with next-header value
 * `next` (RFC 8200 §4.1 order). Handles hop-by-hop (0), routing (43), fragment (44),
 * destination options (60) and no-next-header (59); any other value ends the walk as
 * the upper-layer protocol. Each step moves forward by at least 8 bytes and every
 * length is checked against `end`, so the walk ends on any input.
 *
 * `quote` mode is for the copy of a packet inside an ICMPv6 error: fragments are not
 * refused (the quoted packet may be a first fragment) and a non-first fragment just
 * stops the walk with `laterFragment`.
 * Walked header types are pushed onto `walked` when given.
 */
export function walkExtensionHeaders(
  buf: Uint8Array,
  start: number,
  end: number,
  next: number,
  walked: number[] | undefined,
  quote: boolean,
): ExtensionWalk {
  let pos = start;
  let routerAlert = false;
  for (;;) {
    if (next === IPV6_HOPOPTS || next === IPV6_ROUTING || next === IPV6_DSTOPTS) {
      // RFC 8200 §4.1: hop-by-hop, when present, comes right after the IPv6 header.
      if (next === IPV6_HOPOPTS && pos !== start) {
        return { reason: "ipv6 hop-by-hop not first", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
      }
      if (pos + 8 > end) {
        return { reason: "ipv6 truncated extension header", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
      }
      // Hdr Ext Len is in 8-octet units, not counting the first 8 octets (§4.3-§4.6).
      const hdrLen = (buf[pos + 1] + 1) * 8;
      if (pos + hdrLen > end) {
        return { reason: "ipv6 truncated extension header", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
      }
      if (next === IPV6_HOPOPTS) {
        // Walk the TLV options (RFC 8200 §4.2) looking for router alert / jumbo payload.
        let o = pos + 2;
        const oEnd = pos + hdrLen;
        while (o < oEnd) {
          const type = buf[o];
          if (type === OPT_PAD1) {
            o++;
            continue;
          }
          if (o + 2 > oEnd || o + 2 + buf[o + 1] > oEnd) {
            return { reason: "ipv6 bad option length", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
          }
          if (type === OPT_ROUTER_ALERT) routerAlert = true;
          // RFC 2675 jumbograms are outside what this stack supports.
          if (type === OPT_JUMBO && !quote) {
            return { reason: "ipv6 jumbogram not supported", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
          }
          o += 2 + buf[o + 1];
        }
      } else if (next === IPV6_ROUTING && !quote && buf[pos + 3] !== 0) {
        // RFC 8200 §4.4: with Segments Left non-zero this node would have to process
        // the routing header and forward; as an end host we implement no routing
        // type, so the packet is discarded.
        return { reason: "ipv6 routing header segments left", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
      }
      walked?.push(next);
      next = buf[pos];
      pos += hdrLen;
      continue;
    }
    if (next === IPV6_FRAGMENT) {
      // RFC 8200 §4.5: fixed 8 bytes; offset in the top 13 bits of bytes 2-3, M in bit 0.
      if (pos + 8 > end) {
        return { reason: "ipv6 truncated extension header", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
      }
      const offM = (buf[pos + 2] << 8) | buf[pos + 3];
      const fragOffset = offM >> 3;
      const more = (offM & 1) !== 0;
      walked?.push(next);
      if (quote) {
        if (fragOffset !== 0) {
          return { protocol: buf[pos], headerEnd: pos + 8, routerAlert, laterFragment: true };
        }
      } else if (fragOffset !== 0 || more) {
        // No reassembly. An atomic fragment (offset 0, M = 0, RFC 6946 §4) is a whole
        // packet and is processed as if the fragment header were absent.
        return { reason: "ipv6 fragment", protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
      }
      next = buf[pos];
      pos += 8;
      continue;
    }
    // Upper layer, or 59 "no next header" (RFC 8200 §4.7): stop here.
    return { protocol: next, headerEnd: pos, routerAlert, laterFragment: false };
  }
}

/**
 * Parses an IPv6 header and walks its extension headers. Reasons: "ipv6 truncated
 * header", "ipv6 bad version", "ipv6 truncated packet", "ipv6 jumbogram not
 * supported", "ipv6 truncated extension header", "ipv6 bad option length", "ipv6
 * hop-by-hop not first", "ipv6 routing header segments left", "ipv6 fragment".
 * The payload after "no next header" (59) is empty (RFC 8200 §4.7).
 */
export function parseIpv6(bytes: Uint8Array): Parsed<IpDatagram, PacketError> {
  if (bytes.length < IPV6_HEADER_BYTES) return fail("ipv6 truncated header");
  const vcf =
    ((bytes[O.versionClassFlow] << 24) |
      (bytes[O.versionClassFlow + 1] << 16) |
      (bytes[O.versionClassFlow + 2] << 8) |
      bytes[O.versionClassFlow + 3]) >>>
    0;
  if (((vcf >>> VERSION.shift) & VERSION.mask) !== 6) return fail("ipv6 bad version");
  const payloadLength = (bytes[O.payloadLength] << 8) | bytes[O.payloadLength + 1];
  const end = IPV6_HEADER_BYTES + payloadLength;
  // Trailing link padding beyond the payload length is ignored.
  if (end > bytes.length) return fail("ipv6 truncated packet");
  const firstNext = bytes[O.nextHeader];
  const walked: number[] = [];
  const w = walkExtensionHeaders(bytes, IPV6_HEADER_BYTES, end, firstNext, walked, false);
  if (w.reason !== undefined) {
    // RFC 2675 §3: a jumbogram has payload length 0 and a jumbo option; without the
    // option the walk sees a truncated hop-by-hop header, still report it as jumbo.
    if (payloadLength === 0 && firstNext === IPV6_HOPOPTS && bytes.length > IPV6_HEADER_BYTES) {
      return fail("ipv6 jumbogram not supported");
    }
    return fail(w.reason);
  }
  const header: IpHeader = {
    version: 6,
    src: formatIpv6(bytes, O.src),
    dst: formatIpv6(bytes, O.dst),
    protocol: w.protocol,
    ttl: bytes[O.hopLimit],
    tos: (vcf >>> TRAFFIC_CLASS.shift) & TRAFFIC_CLASS.mask,
    id: 0,
    // IPv6 routers never fragment (RFC 8200 §5): there is no DF bit to report.
    dontFragment: false,
    flowLabel: (vcf >>> FLOW_LABEL.shift) & FLOW_LABEL.mask,
    headerLength: w.headerEnd,
    extensionHeaders: walked,
    routerAlert: w.routerAlert,
  };
  return ok({
    header,
    srcBytes: bytes.subarray(O.src, O.src + 16),
    dstBytes: bytes.subarray(O.dst, O.dst + 16),
    payload: w.protocol === IPV6_NONXT ? bytes.subarray(w.headerEnd, w.headerEnd) : bytes.subarray(w.headerEnd, end),
  });
}

export interface Ipv6HeaderFields {
  src: Uint8Array; // 16 bytes
  dst: Uint8Array; // 16 bytes
  nextHeader: number;
  /** Default 64. */
  hopLimit?: number;
  /** Default 0. */
  trafficClass?: number;
  /** Default 0. */
  flowLabel?: number;
}

/** Writes the 40-byte IPv6 header (no extension headers) at out[off]. Returns 40. */
export function writeIpv6Header(out: Uint8Array, off: number, h: Ipv6HeaderFields, payloadLength: number): number {
  if (payloadLength > 0xffff) throw new RangeError(`ipv6 payload length ${payloadLength} > 65535 (no jumbograms)`);
  const vcf =
    ((6 << VERSION.shift) |
      (((h.trafficClass ?? 0) & TRAFFIC_CLASS.mask) << TRAFFIC_CLASS.shift) |
      (((h.flowLabel ?? 0) & FLOW_LABEL.mask) << FLOW_LABEL.shift)) >>>
    0;
  out[off + O.versionClassFlow] = vcf >>> 24;
  out[off + O.versionClassFlow + 1] = (vcf >>> 16) & 0xff;
  out[off + O.versionClassFlow + 2] = (vcf >>> 8) & 0xff;
  out[off + O.versionClassFlow + 3] = vcf & 0xff;
  out[off + O.payloadLength] = payloadLength >> 8;
  out[off + O.payloadLength + 1] = payloadLength & 0xff;
  out[off + O.nextHeader] = h.nextHeader;
  out[off + O.hopLimit] = h.hopLimit ?? 64;
  out.set(h.src.subarray(0, 16), off + O.src);
  out.set(h.dst.subarray(0, 16), off + O.dst);
  return IPV6_HEADER_BYTES;
}

/** A whole IPv6 packet: header + a copy of `payload`. */
export function buildIpv6(h: Ipv6HeaderFields, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_BYTES + payload.length);
  writeIpv6Header(out, 0, h, payload.length);
  out.set(payload, IPV6_HEADER_BYTES);
  return out;
}
