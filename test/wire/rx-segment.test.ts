// RxSegment, the stack's in-place parser of arriving TCP segments (stack/wire/rx-segment.ts).
// The fuzz target rxSegmentTarget (test/fuzz) checks it against parsePacket() on mutated
// packets; here: the values it reads from known packets, what it leaves to parsePacket(),
// and that a packet fed to the stack from inside an event handler does not disturb the
// segment being processed.
import { describe, expect, it } from "vitest";
import { Listener } from "../../stack/stack.js";
import type { Connection } from "../../stack/tcp/connection.js";
import { buildTcpPacket, parsePacket } from "../../stack/wire/packet.js";
import { RxSegment } from "../../stack/wire/rx-segment.js";
import { summarizeOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_PSH, TCP_SYN } from "../../stack/wire/types.js";
import { ipv4WithOptions, ipv6WithExtensions, packetCorpus } from "../fuzz/corpus.js";
import { Harness } from "../helpers/vt.js";
import { ICMP_HOST_UNREACH, LINUX_SYN_V4, LINUX_SYN_V6, WINDOWS_SYN_V4 } from "./hex.js";

describe("RxSegment.parse", () => {
  it("reads what parsePacket reads from known SYNs (IPv4 and IPv6)", () => {
    for (const bytes of [LINUX_SYN_V4, LINUX_SYN_V6, WINDOWS_SYN_V4, ipv4WithOptions()]) {
      const rx = new RxSegment();
      expect(rx.parse(bytes)).toBe(true);
      const p = parsePacket(bytes);
      if (!p.ok || p.value.l4.kind !== "tcp") throw new Error("seed does not parse");
      const t = p.value.l4.tcp;
      expect({ version: rx.version, src: rx.src, dst: rx.dst }).toEqual({ version: p.value.ip.version, src: p.value.ip.src, dst: p.value.ip.dst });
      expect({ srcPort: rx.srcPort, dstPort: rx.dstPort, seq: rx.seq, ack: rx.ack, flags: rx.flags, window: rx.window, headerLength: rx.headerLength }).toEqual({ srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, ack: t.ack, flags: t.flags, window: t.window, headerLength: t.headerLength });
      expect(rx.options).toEqual(t.options);
      const s = summarizeOptions(t.options);
      expect({ mss: rx.opt.mss, wscale: rx.opt.wscale, sackOK: rx.opt.sackOK, ts: rx.opt.ts, sack: rx.opt.sack }).toEqual({ mss: s.mss, wscale: s.wscale, sackOK: s.sackOK, ts: s.ts, sack: s.sack });
    }
  });

  it("gives the payload as a view of the input, and an empty one without copying", () => {
    const b = buildTcpPacket({ src: "10.0.0.2", dst: "10.0.0.1", srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_ACK | TCP_PSH, window: 0, payload: new Uint8Array([7, 8, 9]) });
    const rx = new RxSegment();
    expect(rx.parse(b)).toBe(true);
    expect(Array.from(rx.payload)).toEqual([7, 8, 9]);
    expect(rx.payload.buffer).toBe(b.buffer);
    rx.release();
    expect(rx.payload.length).toBe(0);
  });

  it("leaves ICMP, IPv6 extension headers and every malformed packet to parsePacket", () => {
    const rx = new RxSegment();
    expect(rx.parse(ICMP_HOST_UNREACH)).toBe(false);
    expect(rx.parse(ipv6WithExtensions())).toBe(false);
    expect(rx.parse(new Uint8Array(0))).toBe(false);
    const bad = LINUX_SYN_V4.slice();
    bad[bad.length - 1] ^= 1; // TCP checksum
    expect(rx.parse(bad)).toBe(false);
    // Every seed of the fuzz corpus: taken exactly when parsePacket gives a plain TCP segment.
    for (const bytes of packetCorpus()) {
      const p = parsePacket(bytes);
      const plain = p.ok && p.value.l4.kind === "tcp" && p.value.ip.extensionHeaders.length === 0;
      expect(rx.parse(bytes)).toBe(plain);
    }
  });
});

describe("a TCP checksum the link vouches for (receive offloads)", () => {
  it("is not summed again when the device says it computed or verified it, and is verified otherwise", () => {
    const bad = LINUX_SYN_V4.slice();
    bad[bad.length - 1] ^= 1; // TCP checksum
    const rx = new RxSegment();
    expect(rx.parse(bad)).toBe(false);
    expect(rx.parse(bad, false)).toBe(false);
    expect(rx.parse(bad, true)).toBe(true);
    // The IPv4 header checksum is checked either way.
    const badIp = LINUX_SYN_V4.slice();
    badIp[10] ^= 1;
    expect(rx.parse(badIp, true)).toBe(false);
  });

  it("reaches the stack per packet: a SYN with a broken checksum is dropped unless the device vouched for it", () => {
    const h = new Harness({ profile: "linux" });
    const l = h.stack.listen({ port: 80, onAccept: () => {} });
    if (!(l instanceof Listener)) throw new Error("listen failed");
    const syn = buildTcpPacket({ src: "10.0.0.9", dst: "10.0.0.2", srcPort: 40000, dstPort: 80, seq: 7000, ack: 0, flags: TCP_SYN, window: 65535 });
    syn[syn.length - 1] ^= 1;
    h.stack.input(syn, h.now);
    h.collect();
    expect(h.take()).toEqual([]);
    expect(h.stack.stats.drops["tcp checksum"]).toBe(1);
    h.stack.input(syn, h.now, false);
    expect(h.stack.stats.drops["tcp checksum"]).toBe(2);
    h.stack.input(syn, h.now, true);
    h.collect();
    expect(h.take().map((s) => s.flags)).toEqual(["S."]);
    expect(h.stack.stats.drops["tcp checksum"]).toBe(2);
  });
});

describe("Stack.input parsing in place", () => {
  it("keeps the segment being processed intact when an event handler feeds the stack another packet", () => {
    // The final ACK of a passive open carries data, which is taken after onAccept (RFC 9293
    // §3.10.7.4: ESTABLISHED, then the seventh step). onAccept feeds a SYN of another
    // connection: parsed at the inner level, it must not replace the outer segment.
    const h = new Harness({ profile: "windows" });
    const accepted: Connection[] = [];
    const pkt = (srcPort: number, flags: number, seq: number, ack: number, payload?: Uint8Array) =>
      buildTcpPacket({ src: "10.0.0.9", dst: "10.0.0.2", srcPort, dstPort: 80, seq, ack, flags, window: 65535, payload });
    const l = h.stack.listen({
      port: 80,
      onAccept: (c) => {
        accepted.push(c);
        h.stack.input(pkt(40001, TCP_SYN, 9000, 0), h.now);
      },
    });
    if (!(l instanceof Listener)) throw new Error("listen failed");
    h.inputBytes(pkt(40000, TCP_SYN, 7000, 0));
    const [sa] = h.take();
    h.inputBytes(pkt(40000, TCP_ACK, 7001, (sa.tcp.seq + 1) >>> 0, new Uint8Array([1, 2, 3])));
    expect(accepted.length).toBe(1);
    expect(Array.from(accepted[0].read())).toEqual([1, 2, 3]);
    expect(accepted[0].rcvNxt).toBe(7004);
    // The inner SYN opened its own connection.
    expect(h.take().filter((s) => s.flags === "S.").map((s) => s.tcp.ack)).toEqual([9001]);
    expect(h.stack.connectionCount).toBe(2);
  });
});
