import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIpv4, formatIpv6, ipBytes } from "../../stack/wire/addr.js";
import { buildIpv4 } from "../../stack/wire/ipv4.js";
import { buildIcmpError, buildTcpPacket, describePacket, parsePacket } from "../../stack/wire/packet.js";
import { tcpOptionsLength } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_PSH, TCP_SYN, type Packet, type TcpOption, type TcpPacketSpec } from "../../stack/wire/types.js";
import { hex, ICMP_HOST_UNREACH, ICMPV6_NO_ROUTE, LINUX_SYN_V4, LINUX_SYN_V6, MLD_REPORT_HBH, RST_ACK_V4_PADDED, toHex, WINDOWS_SYN_V4 } from "./hex.js";

function mustParse(b: Uint8Array): Packet {
  const r = parsePacket(b);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

describe("parsePacket", () => {
  it("dispatches on the version nibble and the protocol", () => {
    expect(mustParse(LINUX_SYN_V4).l4.kind).toBe("tcp");
    expect(mustParse(LINUX_SYN_V6).l4.kind).toBe("tcp");
    expect(mustParse(ICMP_HOST_UNREACH).l4.kind).toBe("icmp");
    expect(mustParse(ICMPV6_NO_ROUTE).l4.kind).toBe("icmp");
    const udp = mustParse(buildIpv4({ src: ipBytes("10.0.0.1"), dst: ipBytes("10.0.0.2"), protocol: 17 }, hex("0035 0035 0008 0000")));
    expect(udp.l4).toMatchObject({ kind: "other", protocol: 17 });
    expect(parsePacket(new Uint8Array())).toEqual({ ok: false, reason: "empty packet" });
    expect(parsePacket(hex("50"))).toEqual({ ok: false, reason: "ip bad version" });
  });

  it("requires a valid TCP checksum", () => {
    const b = LINUX_SYN_V4.slice();
    b[59] ^= 0x01; // last option byte (wscale)
    expect(parsePacket(b)).toEqual({ ok: false, reason: "tcp checksum" });
    const b6 = LINUX_SYN_V6.slice();
    b6[8] ^= 0x80; // source address: only the pseudo-header changes
    expect(parsePacket(b6)).toEqual({ ok: false, reason: "tcp checksum" });
  });

  it("returns payloads as views of the input", () => {
    const b = buildTcpPacket({ src: "10.0.0.2", dst: "10.0.0.1", srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_ACK, window: 0, payload: hex("0102") });
    const p = mustParse(b);
    if (p.l4.kind !== "tcp") throw new Error("not tcp");
    expect(p.l4.tcp.payload.buffer).toBe(b.buffer);
    expect(p.l4.tcp.payload.byteOffset).toBe(b.byteOffset + 40);
  });
});

describe("describePacket", () => {
  it("prints one tcpdump-like line", () => {
    const syn = buildTcpPacket({
      src: "10.0.0.2",
      dst: "10.0.0.1",
      srcPort: 49731,
      dstPort: 80,
      seq: 1000,
      ack: 0,
      flags: TCP_SYN,
      window: 64240,
      options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 8 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }],
    });
    // Bytes checked with tcpdump/tshark (checksum correct).
    expect(toHex(syn)).toBe("4500003400004000400626c20a0000020a000001c2430050000003e8000000008002faf099a10000020405b40103030801010402");
    expect(describePacket(mustParse(syn))).toBe("10.0.0.2:49731 > 10.0.0.1:80 S seq 1000 win 64240 <mss 1460,nop,wscale 8,nop,nop,sackOK>");
    expect(describePacket(mustParse(RST_ACK_V4_PADDED))).toBe("10.1.1.6:20000 > 10.1.1.13:45264 R. seq 0 ack 3820339061 win 0");
    expect(describePacket(mustParse(WINDOWS_SYN_V4))).toBe(
      "172.16.16.128:2826 > 212.58.226.142:80 S seq 3691127924 win 8192 <mss 1460,nop,wscale 2,nop,nop,sackOK>",
    );
    const data6 = buildTcpPacket({
      src: "2001:db8::2",
      dst: "2001:db8::1",
      srcPort: 49731,
      dstPort: 80,
      seq: 1000,
      ack: 5001,
      flags: TCP_PSH | TCP_ACK,
      window: 502,
      options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 100, ecr: 200 }],
      payload: new TextEncoder().encode("hello"),
    });
    expect(toHex(data6)).toBe(
      "600000000025064020010db800000000000000000000000220010db8000000000000000000000001c2430050000003e800001389801801f6fa4200000101080a00000064000000c868656c6c6f",
    );
    expect(describePacket(mustParse(data6))).toBe(
      "[2001:db8::2]:49731 > [2001:db8::1]:80 P. seq 1000 ack 5001 win 502 <nop,nop,TS val 100 ecr 200> length 5",
    );
    expect(describePacket(mustParse(ICMP_HOST_UNREACH))).toBe(
      "10.0.2.2 > 10.0.2.15 icmp destUnreach code 1 quoting 10.0.2.15:50231 > 76.68.138.207:45079 seq 3605467886",
    );
    const fragNeeded = buildIcmpError({ src: "10.0.0.9", dst: "172.16.16.140", type: 3, code: 4, mtu: 1400, original: LINUX_SYN_V4 });
    expect(describePacket(mustParse(fragNeeded))).toBe(
      "10.0.0.9 > 172.16.16.140 icmp destUnreach code 4 mtu 1400 quoting 172.16.16.140:53350 > 172.16.16.139:80 seq 968533976",
    );
    expect(describePacket(mustParse(ICMPV6_NO_ROUTE))).toBe(
      "2001:bef::2 > 2001:bef::a00:27ff:fe0d:5c3c icmp6 destUnreach code 0 quoting [2001:bef::a00:27ff:fe0d:5c3c]:34808 > [2607:f8b0:400f:801::200e]:80 seq 419032480",
    );
    expect(describePacket(mustParse(MLD_REPORT_HBH))).toBe("fe80::250:b6ff:fe19:e650 > ff02::16 icmp6 other type 143 code 0");
  });
});

describe("buildIcmpError", () => {
  it("picks ICMPv4 or ICMPv6 by the source address family", () => {
    expect(mustParse(buildIcmpError({ src: "10.0.0.9", dst: "172.16.16.140", type: 3, code: 3, original: LINUX_SYN_V4 })).ip.version).toBe(4);
    expect(mustParse(buildIcmpError({ src: "2001:db8::9", dst: "2001:db8:1:2::1002", type: 1, code: 4, original: LINUX_SYN_V6 })).ip.version).toBe(6);
  });
});

// ---- properties ----

const u32 = fc.nat(0xffffffff);
const u16 = fc.nat(0xffff);
const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: "eol" }),
  fc.constant<TcpOption>({ kind: "nop" }),
  u16.map((value): TcpOption => ({ kind: "mss", value })),
  fc.nat(255).map((shift): TcpOption => ({ kind: "wscale", shift })),
  fc.constant<TcpOption>({ kind: "sackOK" }),
  fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }).map((blocks): TcpOption => ({ kind: "sack", blocks })),
  fc.tuple(u32, u32).map(([val, ecr]): TcpOption => ({ kind: "ts", val, ecr })),
  fc
    .tuple(fc.integer({ min: 6, max: 255 }).filter((k) => k !== 8), fc.uint8Array({ maxLength: 12 }))
    .map(([type, data]): TcpOption => ({ kind: "unknown", type, data })),
);
const optionsArb = fc.array(optionArb, { maxLength: 12 }).filter((o) => tcpOptionsLength(o) <= 40);
const v4Arb = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIpv4(b, 0));
const v6Arb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIpv6(b, 0));

function specArb(addr: fc.Arbitrary<string>): fc.Arbitrary<TcpPacketSpec> {
  return fc.record(
    {
      src: addr,
      dst: addr,
      ttl: fc.nat(255),
      tos: fc.nat(255),
      id: u16,
      dontFragment: fc.boolean(),
      srcPort: u16,
      dstPort: u16,
      seq: u32,
      ack: u32,
      flags: fc.nat(255),
      window: u16,
      urgent: u16,
      options: optionsArb,
      payload: fc.uint8Array({ maxLength: 64 }),
    },
    { requiredKeys: ["src", "dst", "srcPort", "dstPort", "seq", "ack", "flags", "window"] },
  );
}

/** What a list of options reads back as: cut after EOL, or EOL appended if padding was added. */
function expectedOptions(opts: readonly TcpOption[]): TcpOption[] {
  const eol = opts.findIndex((o) => o.kind === "eol");
  if (eol >= 0) return opts.slice(0, eol + 1);
  let raw = 0;
  for (const o of opts) raw += rawLength(o);
  return raw % 4 === 0 ? [...opts] : [...opts, { kind: "eol" }];
}
function rawLength(o: TcpOption): number {
  switch (o.kind) {
    case "eol":
    case "nop":
      return 1;
    case "mss":
      return 4;
    case "wscale":
      return 3;
    case "sackOK":
      return 2;
    case "sack":
      return 2 + 8 * o.blocks.length;
    case "ts":
      return 10;
    case "unknown":
      return 2 + o.data.length;
    case "bad":
      return o.bytes.length;
  }
}

describe("properties", () => {
  it("parsePacket(buildTcpPacket(spec)) gives the spec back, IPv4 and IPv6", () => {
    fc.assert(
      fc.property(fc.oneof(specArb(v4Arb), specArb(v6Arb)), (spec) => {
        const p = mustParse(buildTcpPacket(spec));
        const v4 = spec.src.indexOf(":") < 0;
        expect(p.ip).toMatchObject({
          version: v4 ? 4 : 6,
          src: spec.src,
          dst: spec.dst,
          protocol: 6,
          ttl: spec.ttl ?? 64,
          tos: spec.tos ?? 0,
          id: v4 ? (spec.id ?? 0) : 0,
          dontFragment: v4 ? (spec.dontFragment ?? true) : false,
          flowLabel: 0,
        });
        if (p.l4.kind !== "tcp") throw new Error("not tcp");
        const t = p.l4.tcp;
        expect(t).toMatchObject({
          srcPort: spec.srcPort,
          dstPort: spec.dstPort,
          seq: spec.seq,
          ack: spec.ack,
          flags: spec.flags,
          window: spec.window,
          urgent: spec.urgent ?? 0,
          reserved: 0,
        });
        expect(t.options).toEqual(expectedOptions(spec.options ?? []));
        expect(toHex(t.payload)).toBe(toHex(spec.payload ?? new Uint8Array()));
        expect(() => describePacket(p)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it("parsePacket never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = parsePacket(b);
        if (r.ok) describePacket(r.value);
        else expect(typeof r.reason).toBe("string");
      }),
      { numRuns: 2000 },
    );
  });

  it("parsePacket never throws on damaged real packets", () => {
    const seeds = [LINUX_SYN_V4, LINUX_SYN_V6, WINDOWS_SYN_V4, RST_ACK_V4_PADDED, MLD_REPORT_HBH, ICMP_HOST_UNREACH, ICMPV6_NO_ROUTE];
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(199), fc.nat(255)), { maxLength: 6 }),
        fc.nat(200),
        (which, edits, cut) => {
          const b = seeds[which].slice(0, Math.max(1, seeds[which].length - (cut % 20 === 0 ? cut % seeds[which].length : 0)));
          for (const [at, v] of edits) if (at < b.length) b[at] = v;
          const r = parsePacket(b);
          if (r.ok) describePacket(r.value);
          else expect(r.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
