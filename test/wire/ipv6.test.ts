import { describe, expect, it } from "vitest";
import { ipBytes } from "../../stack/wire/addr.js";
import { parseIpv6, walkExtensionHeaders, writeIpv6Header } from "../../stack/wire/ipv6.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { hex, LINUX_SYN_V6, MLD_REPORT_HBH, toHex } from "./hex.js";

/** IPv6 packet from 2001:db8::1 to 2001:db8::2 whose payload is `chain` (ext headers + upper layer). */
function v6(firstNext: number, chain: Uint8Array, payloadLength = chain.length): Uint8Array {
  const out = new Uint8Array(40 + chain.length);
  writeIpv6Header(out, 0, { src: ipBytes("2001:db8::1"), dst: ipBytes("2001:db8::2"), nextHeader: firstNext }, 0);
  out[4] = payloadLength >> 8;
  out[5] = payloadLength & 0xff;
  out.set(chain, 40);
  return out;
}

const UDP8 = hex("0035 0035 0008 0000"); // an 8-byte UDP header as the upper layer

describe("parseIpv6", () => {
  it("reads a captured Linux SYN's header", () => {
    const r = parseIpv6(LINUX_SYN_V6);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toEqual({
      version: 6,
      src: "2001:db8:1:2::1002",
      dst: "2001:db8:1:2::1000",
      protocol: 6,
      ttl: 64,
      tos: 0,
      id: 0,
      dontFragment: false,
      flowLabel: 0,
      headerLength: 40,
      extensionHeaders: [],
      routerAlert: false,
    });
    expect(r.value.payload.length).toBe(40);
  });

  it("walks a hop-by-hop header with the MLD router alert (captured MLDv2 report)", () => {
    const r = parseIpv6(MLD_REPORT_HBH);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toMatchObject({
      src: "fe80::250:b6ff:fe19:e650",
      dst: "ff02::16",
      ttl: 1,
      protocol: 58,
      headerLength: 48,
      extensionHeaders: [0],
      routerAlert: true,
    });
    expect(r.value.payload[0]).toBe(143); // MLDv2 report (RFC 3810 §5.2)
    // The whole packet, ICMPv6 checksum included, parses.
    const p = parsePacket(MLD_REPORT_HBH);
    expect(p.ok && p.value.l4.kind === "icmp" && p.value.l4.icmp.kind).toBe("other");
  });

  it("reads traffic class and flow label", () => {
    const b = LINUX_SYN_V6.slice();
    b.set(hex("6b8abcde"), 0);
    const r = parseIpv6(b);
    expect(r.ok && [r.value.header.tos, r.value.header.flowLabel]).toEqual([0xb8, 0xabcde]);
  });

  it("walks routing (segments left 0) and destination options to the upper layer", () => {
    const routing = hex("3c 00 00 00 00000000"); // next = dst opts, len 0, type 0, segments left 0
    const dstopts = hex("11 00 01 04 00000000"); // next = UDP, PadN(4)
    const r = parseIpv6(v6(43, new Uint8Array([...routing, ...dstopts, ...UDP8])));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toMatchObject({ protocol: 17, headerLength: 56, extensionHeaders: [43, 60], routerAlert: false });
    expect(toHex(r.value.payload)).toBe(toHex(UDP8));
  });

  it("accepts an atomic fragment (offset 0, M = 0; RFC 6946) and rejects real fragments", () => {
    const atomic = hex("11 00 0000 12345678");
    const r = parseIpv6(v6(44, new Uint8Array([...atomic, ...UDP8])));
    expect(r.ok && r.value.header).toMatchObject({ protocol: 17, extensionHeaders: [44], headerLength: 48 });
    const first = hex("11 00 0001 12345678"); // offset 0, M = 1
    expect(parseIpv6(v6(44, new Uint8Array([...first, ...UDP8])))).toEqual({ ok: false, reason: "ipv6 fragment" });
    const later = hex("11 00 00b8 12345678"); // offset 23, M = 0
    expect(parseIpv6(v6(44, new Uint8Array([...later, ...UDP8])))).toEqual({ ok: false, reason: "ipv6 fragment" });
  });

  it("stops at no-next-header (59) with an empty payload", () => {
    const r = parseIpv6(v6(60, hex("3b 00 01 04 00000000 deadbeef")));
    expect(r.ok && r.value.header.protocol).toBe(59);
    expect(r.ok && r.value.payload.length).toBe(0);
    const bare = parseIpv6(v6(59, hex("")));
    expect(bare.ok && bare.value.header.headerLength).toBe(40);
  });

  const rejects: Array<[string, () => Uint8Array, string]> = [
    ["a short buffer", () => LINUX_SYN_V6.subarray(0, 39), "ipv6 truncated header"],
    ["version 4 in the nibble", () => ((b) => ((b[0] = 0x40), b))(LINUX_SYN_V6.slice()), "ipv6 bad version"],
    ["payload length past the buffer", () => LINUX_SYN_V6.subarray(0, 79), "ipv6 truncated packet"],
    ["a hop-by-hop header after another header", () => v6(60, hex("00 00 01 04 00000000  11 00 01 04 00000000")), "ipv6 hop-by-hop not first"],
    ["an extension header cut short", () => v6(60, hex("11 00 0104")), "ipv6 truncated extension header"],
    ["an extension length past the payload", () => v6(60, hex("11 01 01 04 00000000")), "ipv6 truncated extension header"],
    ["a hop-by-hop option overrunning its header", () => v6(0, hex("11 00 01 05 00000000")), "ipv6 bad option length"],
    ["a routing header with segments left", () => v6(43, new Uint8Array([...hex("11 00 00 01 00000000"), ...UDP8])), "ipv6 routing header segments left"],
    ["a jumbo payload option", () => v6(0, hex("11 00 c2 04 00010000"), 8), "ipv6 jumbogram not supported"],
    ["payload length 0 with hop-by-hop (jumbogram)", () => v6(0, hex("11 00 c2 04 00010000"), 0), "ipv6 jumbogram not supported"],
    ["a fragment header cut short", () => v6(44, hex("11 00 0000")), "ipv6 truncated extension header"],
  ];
  it.each(rejects)("rejects %s", (_name, make, reason) => {
    expect(parseIpv6(make())).toEqual({ ok: false, reason });
  });

  it("ends on a long chain of headers that each point to the next", () => {
    // 1000 destination-options headers chained: the walk advances 8 bytes per step.
    const chain = new Uint8Array(8000);
    for (let i = 0; i < 1000; i++) chain.set([60, 0, 1, 4, 0, 0, 0, 0], i * 8);
    const w = walkExtensionHeaders(chain, 0, chain.length, 60, undefined, false);
    expect(w.reason).toBe("ipv6 truncated extension header");
    expect(w.headerEnd).toBe(8000);
  });
});
