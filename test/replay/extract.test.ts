// The active-open extractor on a hand-built busy capture: interleaved connections, a
// retransmitted SYN, ICMP errors quoting one connection, a simultaneous open, a reused
// 4-tuple with a new ISN, and a server checksum the sender's NIC would have filled in.
import { describe, expect, it } from "vitest";
import { readCapture } from "../../device/pcap/read.js";
import { PcapWriter } from "../../device/pcap/write.js";
import { extractActiveOpens } from "../../src/replay/extract.js";
import { buildIcmpError, buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_RST, TCP_SYN, type TcpPacketSpec } from "../../stack/wire/types.js";

const C = "10.0.0.2";
const S = "10.0.0.1";
const tcp = (o: Partial<TcpPacketSpec> & { srcPort: number; dstPort: number; flags: number }): Uint8Array =>
  buildTcpPacket({ src: C, dst: S, seq: 0, ack: 0, window: 1000, ...o });
const fromServer = (o: Partial<TcpPacketSpec> & { srcPort: number; dstPort: number; flags: number }): Uint8Array => tcp({ src: S, dst: C, ...o });

function capture(packets: Array<[number, Uint8Array]>): ReturnType<typeof extractActiveOpens> {
  const w = new PcapWriter();
  for (const [ms, p] of packets) w.write(BigInt(ms) * 1_000_000n + 1_700_000_000_000_000_000n, p);
  const r = readCapture(w.toBytes());
  if (!r.ok) throw new Error(r.reason);
  return extractActiveOpens(r.value);
}

describe("extractActiveOpens", () => {
  it("separates interleaved connections and classifies each", () => {
    const synA = tcp({ srcPort: 40001, dstPort: 80, seq: 100, flags: TCP_SYN });
    const bad = fromServer({ srcPort: 80, dstPort: 40001, seq: 900, ack: 101, flags: TCP_SYN | TCP_ACK });
    const broken = Uint8Array.from(bad);
    broken[20 + 16] ^= 0xff; // TCP checksum wrong, as on the capturing host with offload
    const x = capture([
      [0, synA],
      [1, tcp({ srcPort: 40002, dstPort: 81, seq: 500, flags: TCP_SYN })],
      [2, tcp({ srcPort: 40003, dstPort: 82, seq: 700, flags: TCP_SYN })],
      [3, buildIcmpError({ src: "10.0.0.254", dst: C, type: 3, code: 1, original: tcp({ srcPort: 40003, dstPort: 82, seq: 700, flags: TCP_SYN }) })],
      [4, broken],
      [5, fromServer({ srcPort: 81, dstPort: 40002, seq: 0, ack: 501, flags: TCP_RST | TCP_ACK })],
      [6, tcp({ srcPort: 40001, dstPort: 80, seq: 101, ack: 901, flags: TCP_ACK })],
      [1000, tcp({ srcPort: 40004, dstPort: 83, seq: 50, flags: TCP_SYN })],
      [2000, tcp({ srcPort: 40004, dstPort: 83, seq: 50, flags: TCP_SYN })],
      // simultaneous open: a bare SYN back, our SYN-ACK, their ACK
      [2100, tcp({ srcPort: 40005, dstPort: 84, seq: 10, flags: TCP_SYN })],
      [2101, fromServer({ srcPort: 84, dstPort: 40005, seq: 77, flags: TCP_SYN })],
      [2102, tcp({ srcPort: 40005, dstPort: 84, seq: 10, ack: 78, flags: TCP_SYN | TCP_ACK })],
      [2103, fromServer({ srcPort: 84, dstPort: 40005, seq: 78, ack: 11, flags: TCP_ACK })],
      // a reused 4-tuple with a new ISN starts a new attempt
      [3000, tcp({ srcPort: 40002, dstPort: 81, seq: 9000, flags: TCP_SYN })],
    ]);
    const by = (port: number) => x.opens.filter((o) => o.client.port === port);
    expect(x.opens).toHaveLength(6);
    expect(by(40001)[0]!.outcome).toBe("established");
    expect(by(40001)[0]!.events).toHaveLength(3);
    expect(by(40002)[0]!.outcome).toBe("refused");
    expect(by(40002)[1]!.iss).toBe(9000);
    expect(by(40002)[1]!.outcome).toBe("timeout");
    expect(by(40003)[0]!.outcome).toBe("unreachable");
    expect(by(40003)[0]!.icmp).toMatchObject({ type: 3, code: 1, from: "10.0.0.254" });
    const t = by(40004)[0]!;
    expect(t.outcome).toBe("timeout");
    expect(t.events.map((e) => e.t)).toEqual([0, 1000]);
    expect(by(40005)[0]!.outcome).toBe("established");
    expect(by(40005)[0]!.events.map((e) => e.dir)).toEqual(["c2s", "s2c", "c2s", "s2c"]);
  });

  // Kernel-diff captures where the recorded end was misread (docs/kernel-diff.md).
  describe("the server's RST ends the connection only when the client would take it", () => {
    const open = (extra: Array<[number, Uint8Array]>, clientWscale?: number) =>
      capture([
        [0, tcp({ srcPort: 40010, dstPort: 90, seq: 100, flags: TCP_SYN, options: clientWscale !== undefined ? [{ kind: "wscale", shift: clientWscale }] : [] })],
        [1, fromServer({ srcPort: 90, dstPort: 40010, seq: 500, ack: 101, flags: TCP_SYN | TCP_ACK, options: clientWscale !== undefined ? [{ kind: "wscale", shift: 2 }] : [] })],
        [2, tcp({ srcPort: 40010, dstPort: 90, seq: 101, ack: 501, window: 63, flags: TCP_ACK })],
        ...extra,
      ]).opens[0]!;
    it("a RST at RCV.NXT after out-of-order data: reset (kd-31-0031: data at 1001, then RST at 1)", () => {
      const o = open([
        [3, fromServer({ srcPort: 90, dstPort: 40010, seq: 1501, ack: 101, flags: TCP_ACK, payload: new Uint8Array(1) })],
        [4, tcp({ srcPort: 40010, dstPort: 90, seq: 101, ack: 501, window: 63, flags: TCP_ACK })],
        [5, fromServer({ srcPort: 90, dstPort: 40010, seq: 501, flags: TCP_RST })],
      ]);
      expect(o.outcome).toBe("reset");
    });
    it("a RST far beyond the window the client advertised is not one it takes (kd-31-0018: seq RCV.NXT + 2^29)", () => {
      const o = open([[3, fromServer({ srcPort: 90, dstPort: 40010, seq: 501 + 0x20000000, flags: TCP_RST })]], 10);
      expect(o.outcome).toBe("established");
    });
    it("a RST after the client's own RST finds no connection (kd-31-0000: the client aborted first)", () => {
      const o = open([
        [3, tcp({ srcPort: 40010, dstPort: 90, seq: 101, ack: 501, flags: TCP_RST | TCP_ACK })],
        [4, fromServer({ srcPort: 90, dstPort: 40010, seq: 501, ack: 101, flags: TCP_RST | TCP_ACK })],
      ]);
      expect(o.outcome).toBe("established");
    });
  });

  it("a simultaneous open never completed, the client still retransmitting its SYN-ACK: timeout (kd-31-0096)", () => {
    const x = capture([
      [0, tcp({ srcPort: 40020, dstPort: 91, seq: 10, flags: TCP_SYN })],
      [1, fromServer({ srcPort: 91, dstPort: 40020, seq: 77, flags: TCP_SYN })],
      [2, tcp({ srcPort: 40020, dstPort: 91, seq: 10, ack: 78, flags: TCP_SYN | TCP_ACK })],
      [1000, tcp({ srcPort: 40020, dstPort: 91, seq: 10, ack: 78, flags: TCP_SYN | TCP_ACK })],
    ]);
    expect(x.opens[0]!.outcome).toBe("timeout");
  });

  it("a simultaneous open ended by a RST at RCV.NXT in SYN-RECEIVED: refused (kd-32-0031: the kernel's connect() fails ECONNRESET); not when the client's SYN-ACK goes on", () => {
    const open = (port: number, more: Array<[number, Uint8Array]>) =>
      capture([
        [0, tcp({ srcPort: port, dstPort: 92, seq: 10, flags: TCP_SYN })],
        [100, fromServer({ srcPort: 92, dstPort: port, seq: 77, flags: TCP_SYN })],
        [101, tcp({ srcPort: port, dstPort: 92, seq: 10, ack: 78, flags: TCP_SYN | TCP_ACK })],
        ...more,
      ]).opens[0]!;
    const reset = open(40021, [[102, fromServer({ srcPort: 92, dstPort: 40021, seq: 78, flags: TCP_RST })]]);
    expect(reset.outcome).toBe("refused");
    expect(reset.outcomeDetail).toMatch(/SYN-RECEIVED after a simultaneous open/);
    // Not at RCV.NXT: not taken (the client retransmits its SYN-ACK).
    const wrong = open(40022, [
      [102, fromServer({ srcPort: 92, dstPort: 40022, seq: 5000, flags: TCP_RST })],
      [1101, tcp({ srcPort: 40022, dstPort: 92, seq: 10, ack: 78, flags: TCP_SYN | TCP_ACK })],
    ]);
    expect(wrong.outcome).toBe("timeout");
  });

  it("after a simultaneous open whose last client segment is its SYN-ACK, a RST beyond that SYN-ACK's window is not a reset (kd-52-0358: RCV.NXT + 2^29)", () => {
    const open = (port: number, rstSeq: number) =>
      capture([
        [0, tcp({ srcPort: port, dstPort: 93, seq: 10, flags: TCP_SYN })],
        [1, fromServer({ srcPort: 93, dstPort: port, seq: 77, flags: TCP_SYN })],
        [2, tcp({ srcPort: port, dstPort: 93, seq: 10, ack: 78, window: 64800, flags: TCP_SYN | TCP_ACK })],
        [3, fromServer({ srcPort: 93, dstPort: port, seq: 78, ack: 11, flags: TCP_ACK })],
        [404, fromServer({ srcPort: 93, dstPort: port, seq: rstSeq, flags: TCP_RST })],
      ]).opens[0]!;
    expect(open(40023, 78 + 0x20000000).outcome).toBe("established");
    expect(open(40024, 78).outcome).toBe("reset");
  });
});
