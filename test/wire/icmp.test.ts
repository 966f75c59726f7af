import { describe, expect, it } from "vitest";
import { internetChecksum } from "../../stack/wire/checksum.js";
import { buildIcmpv4Error, parseIcmp, parseIpv4Quote } from "../../stack/wire/icmp.js";
import { parsePacket } from "../../stack/wire/packet.js";
import type { IcmpMessage } from "../../stack/wire/types.js";
import { hex, ICMP_HOST_UNREACH, LINUX_SYN_V4, toHex } from "./hex.js";

/** An ICMP message (no IP header) with a correct checksum. */
function icmp(type: number, code: number, rest: string, body: Uint8Array = new Uint8Array()): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  m.set(hex(rest), 4);
  m.set(body, 8);
  const c = internetChecksum(m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

function parsed(m: Uint8Array): IcmpMessage {
  const r = parseIcmp(m);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

// IP header + 8 bytes of the Linux SYN, as a router quotes it (RFC 792).
const SYN_QUOTE = LINUX_SYN_V4.subarray(0, 28);
const SYN_TUPLE = { version: 4, src: "172.16.16.140", dst: "172.16.16.139", protocol: 6, srcPort: 53350, dstPort: 80, seq: 968533976 };

describe("parseIcmp", () => {
  it("reads a captured host unreachable quoting a Windows SYN", () => {
    const p = parsePacket(ICMP_HOST_UNREACH);
    expect(p.ok).toBe(true);
    if (!p.ok || p.value.l4.kind !== "icmp") return;
    expect(p.value.ip).toMatchObject({ src: "10.0.2.2", dst: "10.0.2.15", tos: 0xc0, ttl: 255, dontFragment: false });
    const m = p.value.l4.icmp;
    expect(m).toMatchObject({ version: 4, type: 3, code: 1, kind: "destUnreach", checksum: 0x9ed9 });
    expect(m.mtu).toBeUndefined();
    expect(m.quote).toEqual({ version: 4, src: "10.0.2.15", dst: "76.68.138.207", protocol: 6, srcPort: 50231, dstPort: 45079, seq: 0xd6e712ee });
    expect(m.body.length).toBe(28);
  });

  it.each(Array.from({ length: 16 }, (_, code) => code))("reads destination unreachable code %i", (code) => {
    const m = parsed(icmp(3, code, code === 4 ? "0000 0578" : "0000 0000", SYN_QUOTE));
    expect(m.kind).toBe("destUnreach");
    expect(m.code).toBe(code);
    expect(m.mtu).toBe(code === 4 ? 1400 : undefined);
    expect(m.quote).toEqual(SYN_TUPLE);
  });

  it("reads time exceeded, parameter problem (pointer), source quench and echo", () => {
    expect(parsed(icmp(11, 0, "00000000", SYN_QUOTE))).toMatchObject({ kind: "timeExceeded", quote: SYN_TUPLE });
    expect(parsed(icmp(12, 0, "09000000", SYN_QUOTE))).toMatchObject({ kind: "paramProblem", pointer: 9, quote: SYN_TUPLE });
    expect(parsed(icmp(4, 0, "00000000", SYN_QUOTE))).toMatchObject({ kind: "sourceQuench", quote: SYN_TUPLE });
    const echo = parsed(icmp(8, 0, "1234 0001", hex("6869")));
    expect(echo).toMatchObject({ kind: "echoRequest", code: 0 });
    expect(echo.quote).toBeUndefined();
    expect(toHex(echo.body)).toBe("6869");
    expect(parsed(icmp(0, 0, "1234 0001"))).toMatchObject({ kind: "echoReply" });
    expect(parsed(icmp(5, 1, "0a000001", SYN_QUOTE))).toMatchObject({ kind: "other", type: 5 });
  });

  it("reads quotes with IP options, short quotes and lengths that claim more than was quoted", () => {
    // Quoted header with IHL 6 (one word of options) and then 8 bytes of TCP.
    const withOptions = new Uint8Array(32);
    withOptions.set(LINUX_SYN_V4.subarray(0, 20));
    withOptions[0] = 0x46;
    withOptions.set([1, 1, 1, 0], 20);
    withOptions.set(LINUX_SYN_V4.subarray(20, 28), 24);
    expect(parseIpv4Quote(withOptions)).toEqual(SYN_TUPLE);
    // Only 4 bytes of TCP: addresses, no ports.
    expect(parseIpv4Quote(LINUX_SYN_V4.subarray(0, 24))).toEqual({ version: 4, src: "172.16.16.140", dst: "172.16.16.139", protocol: 6 });
    // Less than an IP header: no quote, but the message itself is fine.
    const short = parsed(icmp(3, 3, "00000000", LINUX_SYN_V4.subarray(0, 12)));
    expect(short.kind).toBe("destUnreach");
    expect(short.quote).toBeUndefined();
    // A quoted header with a bad checksum is still read (the router may have changed TTL).
    const bent = LINUX_SYN_V4.slice(0, 28);
    bent[8] = 1;
    expect(parseIpv4Quote(bent)).toEqual(SYN_TUPLE);
    // A quoted non-first fragment has no TCP header.
    const frag = LINUX_SYN_V4.slice(0, 28);
    frag[7] = 0x10;
    expect(parseIpv4Quote(frag)?.srcPort).toBeUndefined();
    // A quote that is not IPv4 is not a quote.
    expect(parseIpv4Quote(hex("6000000000000000000000000000000000000000"))).toBeUndefined();
  });

  it("rejects truncated messages and bad checksums", () => {
    expect(parseIcmp(hex("0300fcff0000"))).toEqual({ ok: false, reason: "icmp truncated" });
    const m = icmp(3, 3, "00000000", SYN_QUOTE);
    m[30] ^= 0xff;
    expect(parseIcmp(m)).toEqual({ ok: false, reason: "icmp checksum" });
  });
});

describe("buildIcmpv4Error", () => {
  it("builds a port unreachable quoting the SYN (bytes checked with tshark: IP and ICMP checksums good)", () => {
    const pkt = buildIcmpv4Error({ src: "172.16.16.139", dst: "172.16.16.140", type: 3, code: 3, original: LINUX_SYN_V4 });
    expect(toHex(pkt)).toBe(
      "45000038000000004001018eac10108bac10108c03034ab3000000004500003cfadf40004006c6a4ac10108cac10108bd066005039baa7d8",
    );
    const p = parsePacket(pkt);
    expect(p.ok && p.value.l4.kind === "icmp" && p.value.l4.icmp.quote).toEqual(SYN_TUPLE);
  });

  it("puts the next-hop MTU in bytes 6-7 for fragmentation needed, and the pointer in byte 4", () => {
    const fragNeeded = buildIcmpv4Error({ src: "10.0.0.9", dst: "172.16.16.140", type: 3, code: 4, mtu: 1400, original: LINUX_SYN_V4 });
    expect(toHex(fragNeeded)).toBe(
      "45000038000000004001b4200a000009ac10108c0304453a000005784500003cfadf40004006c6a4ac10108cac10108bd066005039baa7d8",
    );
    const pp = buildIcmpv4Error({ src: "10.0.0.9", dst: "172.16.16.140", type: 12, code: 0, pointer: 8, original: LINUX_SYN_V4, quoteBytes: 60 });
    const p = parsePacket(pp);
    expect(p.ok && p.value.l4.kind === "icmp" && p.value.l4.icmp).toMatchObject({ kind: "paramProblem", pointer: 8, quote: SYN_TUPLE });
    expect(pp.length).toBe(20 + 8 + 60);
    expect(() => buildIcmpv4Error({ src: "::1", dst: "10.0.0.1", type: 3, code: 3, original: LINUX_SYN_V4 })).toThrow();
  });
});
