// The TUN's receive offloads, unit level: what the addon makes of one read (a virtio-net
// header, include/uapi/linux/virtio_net.h, and the packet behind it) once the kernel may
// leave checksums and TCP segmentation to us. The addon's own code (vnetReceive), with
// crafted headers: GSO TCPv4/v6 packets are cut into segments with complete checksums,
// NEEDS_CSUM is completed, DATA_VALID passes unchanged, and every malformed header or GSO
// packet is a drop with its reason. Checked with the tests' own checksum (tun-packets.ts) and
// against stack/wire/offload.ts's splitTcpSegments, an independent implementation of the same
// rules. Needs the addon only (no root).
import { endianness } from "node:os";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadAddon } from "../../device/tun/index.js";
import type { SynackTunAddon } from "../../device/tun/native.js";
import { splitTcpSegments } from "../../stack/wire/offload.js";
import { concat } from "../pcap/helpers.js";
import { inetChecksum, ip4, ip6, rd16, rd32 } from "./tun-packets.js";

let addon: SynackTunAddon | undefined;
let skipReason: string | undefined;
try {
  addon = loadAddon();
  if (!addon.platformSupported) skipReason = "the TUN addon is Linux-only";
} catch (e) {
  skipReason = (e as Error).message;
}

const LE = endianness() === "LE";
const NEEDS_CSUM = 1;
const DATA_VALID = 2;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;

/** struct virtio_net_hdr in the host's byte order (a TUN without TUNSETVNETLE/BE). */
function vnetHeader(h: { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }): Uint8Array {
  const b = new Uint8Array(10);
  const v = new DataView(b.buffer);
  b[0] = h.flags ?? 0;
  b[1] = h.gsoType ?? 0;
  v.setUint16(2, h.hdrLen ?? 0, LE);
  v.setUint16(4, h.gsoSize ?? 0, LE);
  v.setUint16(6, h.csumStart ?? 0, LE);
  v.setUint16(8, h.csumOffset ?? 0, LE);
  return b;
}

function payloadOf(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
  }
  return p;
}

const SRC4 = "10.90.0.1";
const DST4 = "10.90.0.2";
const SRC6 = "fd00:90::1";
const DST6 = "fd00:90::2";

/** The TCP pseudo-header (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6) of a segment of tcpLength bytes. */
function pseudo(v6: boolean, tcpLength: number): Uint8Array {
  if (v6) {
    const ph = new Uint8Array(40);
    ph.set(ip6(SRC6), 0);
    ph.set(ip6(DST6), 16);
    new DataView(ph.buffer).setUint32(32, tcpLength);
    ph[39] = 6;
    return ph;
  }
  const ph = new Uint8Array(12);
  ph.set(ip4(SRC4), 0);
  ph.set(ip4(DST4), 4);
  ph[9] = 6;
  new DataView(ph.buffer).setUint16(10, tcpLength);
  return ph;
}

/**
 * A TCP segment with a timestamp option, as a kernel sends it: with `partial`, the checksum
 * field holds the pseudo-header sum only (NEEDS_CSUM), else the complete checksum.
 */
function tcpPacket(o: { v6?: boolean; seq: number; flags: number; payload: Uint8Array; partial: boolean; id?: number }): Uint8Array {
  const t = new Uint8Array(32 + o.payload.length);
  const tv = new DataView(t.buffer);
  tv.setUint16(0, 9090);
  tv.setUint16(2, 40000);
  tv.setUint32(4, o.seq >>> 0);
  tv.setUint32(8, 0x01020304);
  t[12] = 8 << 4;
  t[13] = o.flags;
  tv.setUint16(14, 502);
  t.set([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9], 20);
  t.set(o.payload, 32);
  const ph = pseudo(o.v6 === true, t.length);
  if (o.partial) tv.setUint16(16, ~inetChecksum(ph) & 0xffff);
  else tv.setUint16(16, inetChecksum(ph, t));
  if (o.v6) {
    const p = new Uint8Array(40 + t.length);
    p[0] = 0x60;
    new DataView(p.buffer).setUint16(4, t.length);
    p[6] = 6;
    p[7] = 64;
    p.set(ip6(SRC6), 8);
    p.set(ip6(DST6), 24);
    p.set(t, 40);
    return p;
  }
  const p = new Uint8Array(20 + t.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, o.id ?? 0x1234);
  v.setUint16(6, 0x4000);
  p[8] = 64;
  p[9] = 6;
  p.set(ip4(SRC4), 12);
  p.set(ip4(DST4), 16);
  v.setUint16(10, inetChecksum(p.subarray(0, 20)));
  p.set(t, 20);
  return p;
}

/** Checks one segment as a receiver would: IP lengths and header checksum, TCP checksum. */
function expectValid(s: Uint8Array, v6: boolean): void {
  const l3 = v6 ? 40 : 20;
  if (v6) expect(rd16(s, 4) + 40).toBe(s.length);
  else {
    expect(rd16(s, 2)).toBe(s.length);
    expect(inetChecksum(s.subarray(0, 20))).toBe(0);
  }
  expect(inetChecksum(pseudo(v6, s.length - l3), s.subarray(l3))).toBe(0);
}

const FIN = 0x01, PSH = 0x08, ACK = 0x10, CWR = 0x80;

describe.skipIf(skipReason !== undefined)(`TUN receive offloads: one read (${skipReason ?? "addon"})`, () => {
  const rx = (read: Uint8Array) => addon!.vnetReceive(read);

  for (const v6 of [false, true]) {
    it(`cuts a GSO TCP${v6 ? "v6" : "v4"} packet into gso_size segments with complete checksums`, () => {
      const payload = payloadOf(5000, 3);
      const seq = 0xfffff000; // wraps within the packet
      const p = tcpPacket({ v6, seq, flags: ACK | PSH | FIN | CWR, payload, partial: true });
      const l3 = v6 ? 40 : 20;
      const r = rx(concat(vnetHeader({ flags: NEEDS_CSUM, gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4, hdrLen: l3 + 32, gsoSize: 1448, csumStart: l3, csumOffset: 16 }), p));
      expect(r.drop).toBeUndefined();
      expect(r.tcpChecksummed).toBe(true);
      expect(r.packets.map((s) => s.length - l3 - 32)).toEqual([1448, 1448, 1448, 656]);
      r.packets.forEach((s, i) => {
        expectValid(s, v6);
        expect(rd32(s, l3 + 4)).toBe((seq + 1448 * i) >>> 0);
        const last = i === r.packets.length - 1;
        expect(s[l3 + 13]).toBe(ACK | (last ? PSH | FIN : 0) | (i === 0 ? CWR : 0));
        if (!v6) expect(rd16(s, 4)).toBe(0x1234 + i); // the identification counts up
        // Everything else of the headers is the packet's.
        expect(s.subarray(l3 + 8, l3 + 13)).toEqual(p.subarray(l3 + 8, l3 + 13));
        expect(s.subarray(l3 + 14, l3 + 16)).toEqual(p.subarray(l3 + 14, l3 + 16));
        expect(s.subarray(l3 + 18, l3 + 32)).toEqual(p.subarray(l3 + 18, l3 + 32));
      });
      expect(concat(...r.packets.map((s) => s.subarray(l3 + 32)))).toEqual(payload);
    });
  }

  it("cuts exactly as the stack's own TSO rules do (splitTcpSegments), apart from the IPv4 identification", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 65535 - 72 }), fc.integer({ min: 100, max: 9000 }), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (v6, size, gsoSize, seq, psh) => {
        const payload = payloadOf(size, seq);
        const p = tcpPacket({ v6, seq, flags: ACK | (psh ? PSH : 0), payload, partial: true, id: 0 });
        const l3 = v6 ? 40 : 20;
        const r = rx(concat(vnetHeader({ flags: NEEDS_CSUM, gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4, gsoSize, csumStart: l3, csumOffset: 16 }), p));
        const want = splitTcpSegments(p, gsoSize);
        expect(r.packets.length).toBe(want.length);
        r.packets.forEach((s, i) => {
          expectValid(s, v6);
          if (!v6) {
            // splitTcpSegments keeps the id (the stack's own packets carry 0); the device counts up.
            expect(rd16(s, 4)).toBe(i & 0xffff);
            const w = want[i]!.slice();
            w[4] = s[4]!;
            w[5] = s[5]!;
            w[10] = w[11] = 0;
            new DataView(w.buffer).setUint16(10, inetChecksum(w.subarray(0, 20)));
            expect(s).toEqual(w);
          } else {
            expect(s).toEqual(want[i]);
          }
        });
      }),
      { numRuns: 60 },
    );
  });

  it("completes a NEEDS_CSUM checksum of a packet that is not GSO, byte for byte as the sender would", () => {
    for (const v6 of [false, true]) {
      const payload = payloadOf(777, 9); // odd length: the last byte is padded (RFC 1071)
      const partial = tcpPacket({ v6, seq: 5, flags: ACK | PSH, payload, partial: true });
      const full = tcpPacket({ v6, seq: 5, flags: ACK | PSH, payload, partial: false });
      const l3 = v6 ? 40 : 20;
      const r = rx(concat(vnetHeader({ flags: NEEDS_CSUM, csumStart: l3, csumOffset: 16 }), partial));
      expect(r.drop).toBeUndefined();
      expect(r.packets).toEqual([full]);
      expect(r.tcpChecksummed).toBe(true);
      // A GSO packet no larger than one segment is that one segment.
      const g = rx(concat(vnetHeader({ flags: NEEDS_CSUM, gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4, gsoSize: 1448, csumStart: l3, csumOffset: 16 }), partial));
      expect(g.packets).toEqual([full]);
    }
  });

  it("passes DATA_VALID and plain packets unchanged (the stack still verifies them)", () => {
    const full = tcpPacket({ seq: 5, flags: ACK, payload: payloadOf(100, 1), partial: false });
    // DATA_VALID: the kernel verified it, and the stack is told so.
    expect(rx(concat(vnetHeader({ flags: DATA_VALID }), full))).toEqual({ packets: [full], tcpChecksummed: true });
    // Nothing said: the stack verifies it.
    expect(rx(concat(vnetHeader({}), full))).toEqual({ packets: [full], tcpChecksummed: false });
    // A wrong checksum marked nothing stays wrong: the device does not hide it.
    const bad = full.slice();
    bad[bad.length - 1]! ^= 0xff;
    expect(rx(concat(vnetHeader({}), bad))).toEqual({ packets: [bad], tcpChecksummed: false });
    // A header alone is nothing to deliver.
    expect(rx(vnetHeader({}))).toEqual({ packets: [], tcpChecksummed: false });
    // A checksum completed somewhere else than the TCP checksum (here the IPv4 header's
    // place, offset 10) is completed as asked, but the TCP checksum is not vouched for.
    const other = rx(concat(vnetHeader({ flags: NEEDS_CSUM, csumStart: 0, csumOffset: 10 }), full));
    expect(other.drop).toBeUndefined();
    expect(other.tcpChecksummed).toBe(false);
  });

  it("drops malformed headers and GSO packets with their reason", () => {
    const p4 = tcpPacket({ seq: 1, flags: ACK, payload: payloadOf(3000, 2), partial: true });
    const p6 = tcpPacket({ v6: true, seq: 1, flags: ACK, payload: payloadOf(3000, 2), partial: true });
    const gso4 = { flags: NEEDS_CSUM, gsoType: GSO_TCPV4, gsoSize: 1448, csumStart: 20, csumOffset: 16 };
    const drop = (h: Uint8Array, p: Uint8Array = new Uint8Array(0)) => rx(concat(h, p)).drop;
    expect(drop(new Uint8Array(0))).toBe("vnet header truncated");
    expect(drop(vnetHeader({}).subarray(0, 7))).toBe("vnet header truncated");
    expect(drop(vnetHeader({ ...gso4, gsoSize: 0 }), p4)).toBe("vnet bad gso_size");
    for (const gsoType of [3, 5, 2, 0x80, 0x7f]) expect(drop(vnetHeader({ ...gso4, gsoType }), p4)).toBe("vnet unknown gso_type");
    expect(drop(vnetHeader({ ...gso4, flags: NEEDS_CSUM | 4 }), p4)).toBe("vnet unknown flags");
    // GSO needs the TCP checksum left to us: NEEDS_CSUM at the TCP header, offset 16.
    expect(drop(vnetHeader({ ...gso4, flags: 0 }), p4)).toBe("vnet bad csum_start or csum_offset");
    expect(drop(vnetHeader({ ...gso4, csumStart: 24 }), p4)).toBe("vnet bad csum_start or csum_offset");
    expect(drop(vnetHeader({ ...gso4, csumOffset: 6 }), p4)).toBe("vnet bad csum_start or csum_offset");
    // NEEDS_CSUM pointing past the packet.
    expect(drop(vnetHeader({ flags: NEEDS_CSUM, csumStart: p4.length, csumOffset: 0 }), p4)).toBe("vnet bad csum_start or csum_offset");
    expect(drop(vnetHeader({ flags: NEEDS_CSUM, csumStart: p4.length - 1, csumOffset: 0 }), p4)).toBe("vnet bad csum_start or csum_offset");
    // The packet is not what the type says: the other IP version, a truncated read, SYN, not TCP, a fragment.
    expect(drop(vnetHeader(gso4), p6)).toBe("vnet malformed gso packet");
    expect(drop(vnetHeader({ ...gso4, gsoType: GSO_TCPV6, csumStart: 40 }), p4)).toBe("vnet malformed gso packet");
    expect(drop(vnetHeader(gso4), p4.subarray(0, p4.length - 1))).toBe("vnet malformed gso packet");
    expect(drop(vnetHeader(gso4), p4.subarray(0, 30))).toBe("vnet malformed gso packet");
    const syn = p4.slice();
    syn[33]! |= 0x02;
    expect(drop(vnetHeader(gso4), syn)).toBe("vnet malformed gso packet");
    const udp = p4.slice();
    udp[9] = 17;
    expect(drop(vnetHeader(gso4), udp)).toBe("vnet malformed gso packet");
    const frag = p4.slice();
    frag[6] = 0x20; // MF
    expect(drop(vnetHeader(gso4), frag)).toBe("vnet malformed gso packet");
    const badOffset = p4.slice();
    badOffset[32] = 0x40; // a TCP data offset of 4 words
    expect(drop(vnetHeader(gso4), badOffset)).toBe("vnet malformed gso packet");
    // Every reason the addon names is one of these.
    expect(addon!.vnetDropReasons?.slice(1).sort()).toEqual(
      ["vnet bad csum_start or csum_offset", "vnet bad gso_size", "vnet header truncated", "vnet malformed gso packet", "vnet unknown flags", "vnet unknown gso_type"],
    );
  });

  it("survives random bytes: a drop or packets, never a crash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (bytes, flags, gsoType) => {
        const read = bytes.slice();
        if (read.length >= 2) {
          read[0] = flags & 3; // mostly valid flags, so the packet checks are reached
          read[1] = gsoType % 8;
        }
        const r = rx(read);
        expect(r.drop === undefined || r.packets.length === 0).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
