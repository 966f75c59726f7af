// docs/architecture.md: "Packet headers are declared once, with buffer-layout; hand-written
// accessors are fine on the hot path if a test shows they agree with the layout."
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv4, formatIpv6 } from "../../stack/wire/addr.js";
import { internetChecksum } from "../../stack/wire/checksum.js";
import { ICMP_HEADER_LAYOUT, parseIcmp } from "../../stack/wire/icmp.js";
import { IPV4_HEADER_LAYOUT, parseIpv4, writeIpv4Header } from "../../stack/wire/ipv4.js";
import { IPV6_HEADER_LAYOUT, parseIpv6, writeIpv6Header } from "../../stack/wire/ipv6.js";
import { parseTcp, TCP_HEADER_LAYOUT, writeTcpSegment } from "../../stack/wire/tcp.js";
import { LINUX_SYN_V4 } from "./hex.js";

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe("buffer-layout declarations agree with the hand-written accessors", () => {
  it("declares the fixed header sizes of the RFCs", () => {
    expect(IPV4_HEADER_LAYOUT.span).toBe(20);
    expect(IPV6_HEADER_LAYOUT.span).toBe(40);
    expect(TCP_HEADER_LAYOUT.span).toBe(20);
    expect(ICMP_HEADER_LAYOUT.span).toBe(8);
    expect(IPV4_HEADER_LAYOUT.decode(buf(LINUX_SYN_V4))).toMatchObject({
      versionIhl: { version: 4, ihl: 5 },
      totalLength: 60,
      flagsFragment: { dontFragment: true, moreFragments: false, fragmentOffset: 0 },
      ttl: 64,
      protocol: 6,
      checksum: 0xc6a4,
    });
  });

  it("IPv4: writeIpv4Header output decodes with the layout, and layout-encoded headers parse", () => {
    fc.assert(
      fc.property(
        fc.record({
          tos: fc.nat(255),
          id: fc.nat(0xffff),
          dontFragment: fc.boolean(),
          ttl: fc.nat(255),
          protocol: fc.nat(255),
          src: bytes(4),
          dst: bytes(4),
          payloadLength: fc.nat(100),
        }),
        (f) => {
          const out = new Uint8Array(20 + f.payloadLength);
          writeIpv4Header(out, 0, f, f.payloadLength);
          const d = IPV4_HEADER_LAYOUT.decode(buf(out));
          expect(d).toMatchObject({
            versionIhl: { version: 4, ihl: 5 },
            tos: f.tos,
            totalLength: 20 + f.payloadLength,
            id: f.id,
            flagsFragment: { reserved: false, dontFragment: f.dontFragment, moreFragments: false, fragmentOffset: 0 },
            ttl: f.ttl,
            protocol: f.protocol,
          });
          expect(Array.from(d.src)).toEqual(Array.from(f.src));
          // And the other way: encode with the layout, parse by hand.
          const enc = Buffer.alloc(20 + f.payloadLength);
          IPV4_HEADER_LAYOUT.encode({ ...d, checksum: 0 }, enc, 0);
          const c = internetChecksum(enc, 0, 20);
          enc.writeUInt16BE(c, 10);
          expect(toU8(enc)).toEqual(toU8(Buffer.from(out)));
          const p = parseIpv4(new Uint8Array(enc));
          expect(p.ok).toBe(true);
          if (!p.ok) return;
          expect(p.value.header).toMatchObject({
            tos: d.tos,
            id: d.id,
            ttl: d.ttl,
            protocol: d.protocol,
            dontFragment: d.flagsFragment.dontFragment,
            src: formatIpv4(d.src, 0),
            dst: formatIpv4(d.dst, 0),
          });
        },
      ),
    );
  });

  it("IPv6: writer and parser agree with the layout", () => {
    fc.assert(
      fc.property(
        fc.record({
          trafficClass: fc.nat(255),
          flowLabel: fc.nat(0xfffff),
          hopLimit: fc.nat(255),
          nextHeader: fc.constantFrom(6, 17, 58, 59),
          src: bytes(16),
          dst: bytes(16),
          payloadLength: fc.nat(64),
        }),
        (f) => {
          const out = new Uint8Array(40 + f.payloadLength);
          writeIpv6Header(out, 0, f, f.payloadLength);
          const d = IPV6_HEADER_LAYOUT.decode(buf(out));
          expect(d).toMatchObject({
            versionClassFlow: { version: 6, trafficClass: f.trafficClass, flowLabel: f.flowLabel },
            payloadLength: f.payloadLength,
            nextHeader: f.nextHeader,
            hopLimit: f.hopLimit,
          });
          const p = parseIpv6(out);
          expect(p.ok).toBe(true);
          if (!p.ok) return;
          expect(p.value.header).toMatchObject({
            tos: d.versionClassFlow.trafficClass,
            flowLabel: d.versionClassFlow.flowLabel,
            ttl: d.hopLimit,
            protocol: d.nextHeader,
            src: formatIpv6(d.src, 0),
            dst: formatIpv6(d.dst, 0),
          });
        },
      ),
    );
  });

  it("TCP: writer and parser agree with the layout", () => {
    fc.assert(
      fc.property(
        fc.record({
          srcPort: fc.nat(0xffff),
          dstPort: fc.nat(0xffff),
          seq: fc.nat(0xffffffff),
          ack: fc.nat(0xffffffff),
          flags: fc.nat(255),
          reserved: fc.nat(15),
          window: fc.nat(0xffff),
          urgent: fc.nat(0xffff),
          pseudo: fc.nat(0xfffff),
        }),
        (f) => {
          const out = new Uint8Array(20);
          writeTcpSegment(out, 0, f, f.pseudo);
          const d = TCP_HEADER_LAYOUT.decode(buf(out));
          expect(d).toMatchObject({
            srcPort: f.srcPort,
            dstPort: f.dstPort,
            seq: f.seq,
            ack: f.ack,
            offsetReserved: { dataOffset: 5, reserved: f.reserved },
            flags: f.flags,
            window: f.window,
            urgent: f.urgent,
          });
          const p = parseTcp(out, f.pseudo);
          expect(p.ok).toBe(true);
          if (!p.ok) return;
          expect(p.value).toMatchObject({
            srcPort: d.srcPort,
            dstPort: d.dstPort,
            seq: d.seq,
            ack: d.ack,
            headerLength: d.offsetReserved.dataOffset * 4,
            reserved: d.offsetReserved.reserved,
            flags: d.flags,
            window: d.window,
            checksum: d.checksum,
            urgent: d.urgent,
          });
        },
      ),
    );
  });

  it("ICMP: parser agrees with the layout", () => {
    fc.assert(
      fc.property(bytes(8), (raw) => {
        raw[2] = 0;
        raw[3] = 0;
        const c = internetChecksum(raw);
        raw[2] = c >> 8;
        raw[3] = c & 0xff;
        const d = ICMP_HEADER_LAYOUT.decode(buf(raw));
        const p = parseIcmp(raw);
        expect(p.ok).toBe(true);
        if (!p.ok) return;
        expect([p.value.type, p.value.code, p.value.checksum]).toEqual([d.type, d.code, d.checksum]);
      }),
    );
  });
});

function toU8(b: Buffer): number[] {
  return Array.from(b);
}
