import { describe, expect, it } from "vitest";
import { ipBytes } from "../../stack/wire/addr.js";
import { buildIcmpv6Error, parseIcmpv6, parseIpv6Quote } from "../../stack/wire/icmpv6.js";
import { writeIpv6Header } from "../../stack/wire/ipv6.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { hex, ICMPV6_NO_ROUTE, LINUX_SYN_V6, toHex } from "./hex.js";

const SYN6_TUPLE = {
  version: 6,
  src: "2001:db8:1:2::1002",
  dst: "2001:db8:1:2::1000",
  protocol: 6,
  srcPort: 35023,
  dstPort: 80,
  seq: 3425944284,
};

/** The Linux v6 SYN with extension headers inserted before its TCP header. */
function synWithExtensions(firstNext: number, ext: Uint8Array): Uint8Array {
  const tcp = LINUX_SYN_V6.subarray(40);
  const out = new Uint8Array(40 + ext.length + tcp.length);
  writeIpv6Header(out, 0, { src: ipBytes("2001:db8:1:2::1002"), dst: ipBytes("2001:db8:1:2::1000"), nextHeader: firstNext }, ext.length + tcp.length);
  out.set(ext, 40);
  out.set(tcp, 40 + ext.length);
  return out;
}

describe("parseIcmpv6", () => {
  it("reads a captured no-route destination unreachable quoting a SYN", () => {
    const p = parsePacket(ICMPV6_NO_ROUTE);
    expect(p.ok).toBe(true);
    if (!p.ok || p.value.l4.kind !== "icmp") return;
    expect(p.value.ip).toMatchObject({ src: "2001:bef::2", dst: "2001:bef::a00:27ff:fe0d:5c3c", flowLabel: 0xa94e3, protocol: 58 });
    expect(p.value.l4.icmp).toMatchObject({ version: 6, type: 1, code: 0, kind: "destUnreach", checksum: 0x7f78 });
    expect(p.value.l4.icmp.quote).toEqual({
      version: 6,
      src: "2001:bef::a00:27ff:fe0d:5c3c",
      dst: "2607:f8b0:400f:801::200e",
      protocol: 6,
      srcPort: 34808,
      dstPort: 80,
      seq: 0x18f9eda0,
    });
  });

  it("verifies the checksum over the IPv6 pseudo-header", () => {
    const b = ICMPV6_NO_ROUTE.slice();
    b[39] ^= 1; // change the destination address only
    expect(parsePacket(b)).toEqual({ ok: false, reason: "icmpv6 checksum" });
    expect(parseIcmpv6(hex("0100 0000"), 0)).toEqual({ ok: false, reason: "icmpv6 truncated" });
  });

  it("builds and reads packet too big (bytes checked with tcpdump: icmp6 sum ok, mtu 1280)", () => {
    const pkt = buildIcmpv6Error({ src: "2001:db8:1:2::1", dst: "2001:db8:1:2::1002", type: 2, code: 0, mtu: 1280, original: LINUX_SYN_V6 });
    expect(toHex(pkt)).toBe(
      "6000000000583a4020010db800010002000000000000000120010db8000100020000000000001002020026b800000500" +
        toHex(LINUX_SYN_V6),
    );
    const p = parsePacket(pkt);
    expect(p.ok && p.value.l4.kind === "icmp" && p.value.l4.icmp).toMatchObject({ kind: "packetTooBig", mtu: 1280, quote: SYN6_TUPLE });
  });

  it.each([
    [1, 4, "destUnreach"],
    [1, 7, "destUnreach"],
    [3, 0, "timeExceeded"],
    [4, 1, "paramProblem"],
    [4, 2, "paramProblem"],
  ])("builds and reads type %i code %i (%s)", (type, code, kind) => {
    const pkt = buildIcmpv6Error({ src: "2001:db8::9", dst: "2001:db8:1:2::1002", type, code, pointer: 40, original: LINUX_SYN_V6 });
    const p = parsePacket(pkt);
    expect(p.ok).toBe(true);
    if (!p.ok || p.value.l4.kind !== "icmp") return;
    expect(p.value.l4.icmp).toMatchObject({ type, code, kind, quote: SYN6_TUPLE });
    expect(p.value.l4.icmp.pointer).toBe(type === 4 ? 40 : undefined);
  });

  it("reads echo without a quote and limits error quotes to 1280 bytes", () => {
    const echo = buildIcmpv6Error({ src: "2001:db8::9", dst: "2001:db8::1", type: 128, code: 0, original: hex("00010002 6869") });
    const p = parsePacket(echo);
    expect(p.ok && p.value.l4.kind === "icmp" && p.value.l4.icmp.kind).toBe("echoRequest");
    expect(p.ok && p.value.l4.kind === "icmp" && p.value.l4.icmp.quote).toBeUndefined();
    const big = new Uint8Array(2000);
    big.set(LINUX_SYN_V6);
    expect(buildIcmpv6Error({ src: "2001:db8::9", dst: "2001:db8::1", type: 1, code: 4, original: big }).length).toBe(1280);
  });
});

describe("parseIpv6Quote", () => {
  it("walks hop-by-hop and destination options inside the quote", () => {
    const ext = hex("3c00 0502 0000 0100  0600 0104 0000 0000"); // HBH (router alert) -> dst opts -> TCP
    expect(parseIpv6Quote(synWithExtensions(0, ext).subarray(0, 40 + 16 + 8))).toEqual(SYN6_TUPLE);
  });

  it("reads a first fragment's ports but not a later fragment's", () => {
    const first = synWithExtensions(44, hex("0600 0001 deadbeef"));
    expect(parseIpv6Quote(first)).toEqual(SYN6_TUPLE);
    const later = synWithExtensions(44, hex("0600 00b9 deadbeef"));
    expect(parseIpv6Quote(later)).toEqual({ version: 6, src: SYN6_TUPLE.src, dst: SYN6_TUPLE.dst, protocol: 6 });
  });

  it("gives addresses only when the quote ends inside the extension headers or the TCP header", () => {
    const ext = hex("0600 0104 0000 0000");
    expect(parseIpv6Quote(synWithExtensions(60, ext).subarray(0, 44))).toEqual({ version: 6, src: SYN6_TUPLE.src, dst: SYN6_TUPLE.dst, protocol: 60 });
    expect(parseIpv6Quote(LINUX_SYN_V6.subarray(0, 47))?.srcPort).toBeUndefined();
    expect(parseIpv6Quote(LINUX_SYN_V6.subarray(0, 39))).toBeUndefined();
  });
});
