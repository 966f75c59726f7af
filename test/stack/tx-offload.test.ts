// Transmit offloads (Stack.setTxOffloads, stack/wire/offload.ts): with checksum offload every
// TCP packet leaves with the pseudo-header sum in its checksum field; with segmentation
// offload a connection's consecutive data segments leave as one large packet. What the
// device makes of them (the rules of the virtio-net header) must be exactly the segments a
// stack without offloads sends. All in virtual time.
import { describe, expect, it } from "vitest";
import { Runtime } from "../../device/runtime.js";
import type { Device, DeviceStats } from "../../device/types.js";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { TX_CSUM_PARTIAL, TX_GSO_SIZE, type PacketBatch } from "../../stack/outbox.js";
import { ipBytes } from "../../stack/wire/addr.js";
import { foldChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.js";
import { completeTcpChecksum, segmentFitsPacket, splitTcpSegments } from "../../stack/wire/offload.js";
import { buildTcpPacket, parsePacket, writeTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_PSH, TCP_SYN, type TcpPacketSpec } from "../../stack/wire/types.js";

/** The packets of a batch as the device puts them on the wire (completed, TSO packets cut). */
function onTheWire(b: PacketBatch): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < b.count; i++) {
    const p = b.data.slice(at, at + b.lengths[i]);
    at += b.lengths[i];
    const m = b.meta[i];
    if (m & TX_GSO_SIZE) out.push(...splitTcpSegments(p, m & TX_GSO_SIZE));
    else {
      if (m & TX_CSUM_PARTIAL) completeTcpChecksum(p);
      out.push(p);
    }
  }
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >> 9)) & 0xff;
  return b;
}

function tcpOf(p: Uint8Array): { seq: number; flags: number; payload: number; v4: boolean; t: number } {
  const v4 = p[0] >> 4 === 4;
  const t = v4 ? (p[0] & 15) * 4 : 40;
  const hdr = t + (p[t + 12] >> 4) * 4;
  return { seq: ((p[t + 4] << 24) | (p[t + 5] << 16) | (p[t + 6] << 8) | p[t + 7]) >>> 0, flags: p[t + 13], payload: p.length - hdr, v4, t };
}

interface Round {
  plain: Uint8Array[];
  offloaded: Uint8Array[];
  batches: PacketBatch[];
}

/**
 * The same script against two stacks of the same seed, one with the offloads: connect, the
 * peer's SYN-ACK (MSS 1460, timestamps, SACK, window scale), then `sends` of data with the
 * peer acknowledging everything after each round.
 */
function script(family: 4 | 6, sends: number[], split?: "ack" | "data"): Round[] {
  const local = family === 4 ? "10.0.0.2" : "fd00::2";
  const peer = family === 4 ? "10.0.0.1" : "fd00::1";
  const mk = (offload: boolean): Stack => {
    const s = new Stack({ addresses: [`${local}/${family === 4 ? 24 : 64}`], random: seededRandom(11), profile: "linux" });
    s.setTxOffloads({ tcpChecksum: offload, tcpSegmentation: offload });
    return s;
  };
  const a = mk(false);
  const b = mk(true);
  const ca = a.connect({ remote: { addr: peer, port: 80 } }, 0) as Connection;
  const cb = b.connect({ remote: { addr: peer, port: 80 } }, 0) as Connection;
  expect(ca).toBeInstanceOf(Connection);
  const rounds: Round[] = [];
  const take = (now: number): void => {
    const batch = b.pollBatch(now);
    const copy: PacketBatch = { data: batch.data.slice(), lengths: batch.lengths.slice(0, batch.count), meta: batch.meta.slice(0, batch.count), count: batch.count };
    rounds.push({ plain: a.poll(now), offloaded: onTheWire(copy), batches: [copy] });
  };
  take(0);
  const isn = 7000;
  let peerSeq = isn + 1;
  let peerTs = 1000;
  const fromPeer = (spec: Omit<TcpPacketSpec, "src" | "dst" | "srcPort" | "dstPort">, now: number): void => {
    const full: TcpPacketSpec = { src: peer, dst: local, srcPort: 80, dstPort: ca.localPort, ...spec };
    a.input(buildTcpPacket(full), now);
    b.input(buildTcpPacket(full), now);
  };
  fromPeer({ seq: isn, ack: (ca.sndNxt + 0) >>> 0, flags: TCP_SYN | TCP_ACK, window: 65535, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: peerTs, ecr: ca.tsVal(1) }, { kind: "nop" }, { kind: "wscale", shift: 9 }] }, 1);
  take(1);
  let now = 2;
  for (const n of sends) {
    ca.send(pattern(n, now), now);
    cb.send(pattern(n, now), now);
    if (split) {
      // Before the output is taken, the peer acknowledges what was sent (and with "data"
      // sends 100 bytes): the segments the opened window lets out carry another TSval (and
      // acknowledgment number and window), so they must not join the packet of the first ones.
      peerTs += 1;
      const data = split === "data" ? pattern(100, now) : undefined;
      fromPeer({ seq: peerSeq, ack: ca.sndNxt >>> 0, flags: data ? TCP_ACK | TCP_PSH : TCP_ACK, window: 8192, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: peerTs, ecr: ca.tsVal(now) }], payload: data }, now + 1);
      peerSeq += data ? data.length : 0;
    }
    take(now + (split !== undefined ? 1 : 0));
    now += 3;
    peerTs += 3;
    fromPeer({ seq: peerSeq, ack: ca.sndNxt >>> 0, flags: TCP_ACK, window: 8192, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: peerTs, ecr: ca.tsVal(now) }] }, now);
    take(now);
    now += 3;
  }
  return rounds;
}

describe("transmit checksum offload (writeTcpPacket partial)", () => {
  for (const [src, dst] of [["10.0.0.2", "10.0.0.1"], ["fd00::2", "fd00::1"]]) {
    it(`leaves the pseudo-header sum, which the device's sum turns into the full checksum (${src})`, () => {
      for (const n of [0, 1, 1447, 1448]) {
        const spec: TcpPacketSpec = { src, dst, srcPort: 40000, dstPort: 443, seq: 0xfffffff0, ack: 12345, flags: TCP_ACK | TCP_PSH, window: 501, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 77, ecr: 88 }], payload: pattern(n, 3) };
        const full = buildTcpPacket(spec);
        const partial = new Uint8Array(full.length);
        expect(writeTcpPacket(spec, partial, 0, true)).toBe(full.length);
        const t = src.includes(":") ? 40 : 20;
        const expected = foldChecksum(pseudoHeaderSum(src.includes(":") ? 6 : 4, ipBytes(src), ipBytes(dst), 6, full.length - t));
        expect((partial[t + 16] << 8) | partial[t + 17]).toBe(expected);
        // Everything else is the same, and the device's completion is the full checksum.
        expect(partial.subarray(0, t + 16)).toEqual(full.subarray(0, t + 16));
        expect(partial.subarray(t + 18)).toEqual(full.subarray(t + 18));
        expect(parsePacket(partial).ok).toBe(false);
        completeTcpChecksum(partial);
        expect(partial).toEqual(full);
      }
    });
  }
});

describe("transmit segmentation offload (Stack.setTxOffloads)", () => {
  for (const family of [4, 6] as const) {
    it(`IPv${family}: the large packets split into exactly the segments a stack without offloads sends`, () => {
      // The second script's rounds end with the last data queued: runs ending in a short
      // segment with PSH. In the third, segments with other timestamps, acknowledgment
      // numbers and windows meet in one batch.
      const rounds = [...script(family, [300_000, 1000, 5000, 70_000, 1, 1, 1, 1]), ...script(family, [20_000, 5000, 3000]), ...script(family, [20_000, 30_000, 40_000], "ack"), ...script(family, [20_000, 30_000, 40_000], "data")];
      let tso = 0;
      let segments = 0;
      for (const r of rounds) {
        expect(r.offloaded).toEqual(r.plain);
        segments += r.plain.length;
        for (const b of r.batches) {
          let at = 0;
          for (let i = 0; i < b.count; i++) {
            const p = b.data.subarray(at, at + b.lengths[i]);
            at += b.lengths[i];
            // Every packet is left to the device's checksum; none is over 64 KiB.
            expect(b.meta[i] & TX_CSUM_PARTIAL).toBe(TX_CSUM_PARTIAL);
            expect(p.length).toBeLessThanOrEqual(65535);
            const gso = b.meta[i] & TX_GSO_SIZE;
            if (gso === 0) continue;
            tso++;
            const t = tcpOf(p);
            // The segment size is the connection's (the MSS, 1460 or what a 1500-byte MTU
            // leaves under IPv6, less 12 bytes of timestamps), and the checksum field holds
            // the pseudo-header sum of the whole packet.
            expect(gso).toBe(family === 4 ? 1448 : 1428);
            expect(t.payload).toBeGreaterThan(gso);
            const v = family === 4 ? p.subarray(12, 16) : p.subarray(8, 24);
            const w = family === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
            expect((p[t.t + 16] << 8) | p[t.t + 17]).toBe(foldChecksum(pseudoHeaderSum(family, v, w, 6, p.length - t.t)));
          }
        }
      }
      // The script must have made large packets: the congestion window grows round by
      // round, and each round's segments leave together.
      expect(tso).toBeGreaterThan(3);
      expect(segments).toBeGreaterThan(100);
    });
  }

  it("joins a segment only when its hop limit, acknowledgment number, window and options are the packet's", () => {
    for (const [src, dst] of [["10.0.0.2", "10.0.0.1"], ["fd00::2", "fd00::1"]]) {
      const options = [{ kind: "nop" as const }, { kind: "nop" as const }, { kind: "ts" as const, val: 5, ecr: 6 }];
      const p = buildTcpPacket({ src, dst, ttl: 64, srcPort: 1, dstPort: 2, seq: 9, ack: 0x80000001, flags: TCP_ACK, window: 300, options, payload: pattern(100, 1) });
      expect(segmentFitsPacket(p, 0, 64, 0x80000001 | 0, 300, [...options])).toBe(true);
      expect(segmentFitsPacket(p, 0, 63, 0x80000001 | 0, 300, options)).toBe(false);
      expect(segmentFitsPacket(p, 0, 64, 0x80000002 | 0, 300, options)).toBe(false);
      expect(segmentFitsPacket(p, 0, 64, 0x80000001 | 0, 301, options)).toBe(false);
      expect(segmentFitsPacket(p, 0, 64, 0x80000001 | 0, 300, [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 5, ecr: 7 }])).toBe(false);
      expect(segmentFitsPacket(p, 0, 64, 0x80000001 | 0, 300, [])).toBe(false);
    }
  });

  it("a TSO packet splits by the virtio-net rules: seq steps of gso_size, PSH on the last only, each checksum complete", () => {
    const payload = pattern(3 * 1000 + 17, 9);
    const big = buildTcpPacket({ src: "10.0.0.2", dst: "10.0.0.1", srcPort: 5, dstPort: 6, seq: 0xffffff00, ack: 1, flags: TCP_ACK | TCP_PSH, window: 100, payload });
    const segs = splitTcpSegments(big, 1000);
    expect(segs.map((s) => tcpOf(s).payload)).toEqual([1000, 1000, 1000, 17]);
    expect(segs.map((s) => tcpOf(s).seq)).toEqual([0xffffff00, (0xffffff00 + 1000) >>> 0, (0xffffff00 + 2000) >>> 0, (0xffffff00 + 3000) >>> 0]);
    expect(segs.map((s) => tcpOf(s).flags)).toEqual([TCP_ACK, TCP_ACK, TCP_ACK, TCP_ACK | TCP_PSH]);
    for (let i = 0; i < segs.length; i++) {
      const p = parsePacket(segs[i]);
      expect(p.ok).toBe(true);
      if (p.ok && p.value.l4.kind === "tcp") expect(p.value.l4.tcp.payload).toEqual(payload.subarray(i * 1000, i * 1000 + segs[i].length - 40));
    }
  });

  it("poll() gives complete packets whatever the offloads; a trace sees complete, unjoined packets", () => {
    const rounds = script(4, [100_000]);
    for (const r of rounds) for (const p of r.plain) expect(parsePacket(p).ok).toBe(true);
    // poll() on the offloaded stack: the same as the plain one.
    const s = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(3), profile: "linux" });
    const p = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(3), profile: "linux" });
    s.setTxOffloads({ tcpChecksum: true, tcpSegmentation: true });
    const traced: Uint8Array[] = [];
    s.setTrace((e) => {
      if (e.kind === "out" && e.bytes) traced.push(e.bytes);
    });
    s.connect({ remote: { addr: "10.0.0.1", port: 80 } }, 0);
    p.connect({ remote: { addr: "10.0.0.1", port: 80 } }, 0);
    const got = s.poll(0);
    expect(got).toEqual(p.poll(0));
    expect(traced).toEqual(got);
    expect(parsePacket(traced[0]).ok).toBe(true);
  });
});

describe("Runtime and a device's offloads", () => {
  function device(offloads: Device["offloads"], seen: Array<{ meta: Int32Array | undefined; packets: Uint8Array[] }>): Device {
    const stats: DeviceStats = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };
    return {
      name: "off",
      mtu: 1500,
      offloads,
      onReceive() {},
      onError() {},
      send() {
        throw new Error("send() is not used with sendBatch");
      },
      sendBatch(data, lengths, count, meta) {
        const packets: Uint8Array[] = [];
        let at = 0;
        for (let i = 0; i < count; i++) {
          packets.push(data.slice(at, at + lengths[i]));
          at += lengths[i];
        }
        seen.push({ meta: meta?.slice(0, count), packets });
      },
      stats: () => stats,
      close: async () => {},
    };
  }

  it("turns the stack's offloads on only for a device that has them, and then hands over meta", () => {
    const seenOff: Array<{ meta: Int32Array | undefined; packets: Uint8Array[] }> = [];
    const seenPlain: Array<{ meta: Int32Array | undefined; packets: Uint8Array[] }> = [];
    const s1 = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(2) });
    const s2 = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(2) });
    const r1 = new Runtime(s1, device({ txTcpChecksum: true, txTcpSegmentation: true }, seenOff), { clock: () => 0 });
    const r2 = new Runtime(s2, device(undefined, seenPlain), { clock: () => 0 });
    expect(s1.txOffloads).toEqual({ tcpChecksum: true, tcpSegmentation: true });
    expect(s2.txOffloads).toEqual({ tcpChecksum: false, tcpSegmentation: false });
    s1.connect({ remote: { addr: "10.0.0.1", port: 80 } }, 0);
    s2.connect({ remote: { addr: "10.0.0.1", port: 80 } }, 0);
    r1.flush(0);
    r2.flush(0);
    void r1.close();
    void r2.close();
    expect(seenPlain).toHaveLength(1);
    expect(seenPlain[0].meta).toBeUndefined();
    expect(parsePacket(seenPlain[0].packets[0]).ok).toBe(true);
    expect(seenOff).toHaveLength(1);
    expect(Array.from(seenOff[0].meta!)).toEqual([TX_CSUM_PARTIAL]);
    const syn = seenOff[0].packets[0].slice();
    expect(parsePacket(syn).ok).toBe(false);
    completeTcpChecksum(syn);
    expect(syn).toEqual(seenPlain[0].packets[0]);
  });
});
