// Writer round trips through our reader and through tshark.

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCapture, readCaptureFile, type Capture } from "../../device/pcap/read.js";
import { PcapWriter, PcapngWriter } from "../../device/pcap/write.js";
import { msToNs, nsToMs, nsToTicks, ticksToNs } from "../../device/pcap/format.js";
import { epochToNs, haveTshark, ipv4Packet, ipv6Packet, tsharkCommentField, tsharkFields } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "synack-pcap-write-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function mustRead(bytes: Uint8Array): Capture {
  const r = readCapture(bytes);
  if (!r.ok) throw new Error(`${r.reason} @${r.offset}`);
  return r.value;
}

const T0 = 1_732_457_123_456_789_123n; // an epoch time with all nine fractional digits set
const packets: Array<{ t: bigint; p: Uint8Array; comment?: string; dir?: "in" | "out" }> = [
  { t: T0, p: ipv4Packet(1), comment: "SynSent: send SYN iss=1000 rto=1000ms", dir: "out" },
  { t: T0 + 1n, p: ipv6Packet(2, [1, 2, 3, 4, 5]), dir: "in" },
  { t: T0 + 1_000_000_007n, p: ipv4Packet(3, new Array(1400).fill(0xab)), comment: "retransmit #1 (RFC 6298 §5.5) ✓ ünïcode" },
  { t: T0 + 2_000_000_000n, p: ipv4Packet(4, [1]), comment: "" },
  { t: 5n, p: ipv6Packet(5) },
];

function fill<W extends PcapngWriter | PcapWriter>(w: W): W {
  for (const x of packets) w.write(x.t, x.p, x.comment, x.dir);
  return w;
}

describe("PcapngWriter", () => {
  it("round-trips packets, nanosecond times, comments and directions", () => {
    const c = mustRead(fill(new PcapngWriter()).toBytes());
    expect(c.format).toBe("pcapng");
    expect(c.sections[0]!.userAppl).toBe("synack");
    expect(c.interfaces).toHaveLength(1);
    expect(c.interfaces[0]!.linkType).toBe(101);
    expect(c.interfaces[0]!.tsResolution).toEqual({ base: 10, exponent: 9 });
    expect(c.warnings).toEqual([]);
    expect(c.records.map((r) => r.timeNs)).toEqual(packets.map((x) => x.t));
    expect(c.records.map((r) => r.ip)).toEqual(packets.map((x) => x.p));
    expect(c.records.map((r) => r.data)).toEqual(packets.map((x) => x.p));
    // An empty comment is not written.
    expect(c.records.map((r) => r.comment)).toEqual(packets.map((x) => (x.comment ? x.comment : undefined)));
    expect(c.records.map((r) => r.direction)).toEqual(packets.map((x) => x.dir));
  });

  it("accepts number nanoseconds, rejects negative times, and refuses writes after close", () => {
    const w = new PcapngWriter();
    w.write(1500, ipv4Packet(1));
    expect(() => w.write(-1n, ipv4Packet(1))).toThrow(RangeError);
    w.close();
    expect(() => w.write(1n, ipv4Packet(1))).toThrow(/closed/);
    expect(mustRead(w.toBytes()).records[0]!.timeNs).toBe(1500n);
  });

  it("streams to a file in large writes, same bytes as in memory", () => {
    const path = join(tmp, "stream.pcapng");
    const w = new PcapngWriter().open(path);
    const mem = new PcapngWriter();
    // Enough packets to pass the flush threshold several times.
    for (let i = 0; i < 2000; i++) {
      const p = ipv4Packet(i & 0xffff, new Array(400).fill(i & 0xff));
      w.write(T0 + BigInt(i) * 1000n, p, `pkt ${i}`);
      mem.write(T0 + BigInt(i) * 1000n, p, `pkt ${i}`);
    }
    expect(() => w.toBytes()).toThrow(/streams to/);
    // Buffered: part is on disk already (flushed at the threshold), the tail is not yet.
    const before = statSync(path).size;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(mem.toBytes().length);
    expect(before % 4).toBe(0);
    w.close();
    const onDisk = new Uint8Array(readFileSync(path));
    const inMemory = mem.toBytes();
    expect(onDisk.length).toBe(inMemory.length);
    expect(Buffer.compare(onDisk, inMemory)).toBe(0); // (toEqual on a megabyte is slow)
    const r = readCaptureFile(path);
    expect(r.ok && r.value.records.length).toBe(2000);
    expect(r.ok && r.value.records[1999]!.comment).toBe("pkt 1999");
  });

  it.skipIf(!haveTshark)("tshark opens the file and shows times, comments and directions", () => {
    const path = join(tmp, "trace.pcapng");
    fill(new PcapngWriter()).open(path).close();
    const field = tsharkCommentField();
    const rows = tsharkFields(path, ["frame.number", "frame.time_epoch", "frame.protocols", field, "frame.packet_flags_direction"]);
    expect(rows).toHaveLength(packets.length);
    rows.forEach((row, i) => {
      expect(epochToNs(row[1]!)).toBe(packets[i]!.t);
      expect(row[2]).toMatch(packets[i]!.p[0]! >> 4 === 4 ? /^raw:ip/ : /^raw:ipv6/);
      expect(row[3] ?? "").toBe(packets[i]!.comment ?? "");
    });
    // epb_flags direction: 1 = inbound, 2 = outbound.
    // tshark 4.0 prints it as hex ("0x00000002"); older versions may print decimal.
    expect(rows.map((r) => (r[4] ? Number(r[4]) : 0))).toEqual([2, 1, 0, 0, 0]);
  });
});

describe("PcapWriter", () => {
  for (const nanosecond of [false, true]) {
    it(`round-trips packets and ${nanosecond ? "nano" : "micro"}second times`, () => {
      const c = mustRead(fill(new PcapWriter({ nanosecond })).toBytes());
      expect(c.format).toBe("pcap");
      expect(c.interfaces[0]!.linkType).toBe(101);
      expect(c.interfaces[0]!.tsResolution.exponent).toBe(nanosecond ? 9 : 6);
      const expected = packets.map((x) => (nanosecond ? x.t : (x.t / 1000n) * 1000n));
      expect(c.records.map((r) => r.timeNs)).toEqual(expected);
      expect(c.records.map((r) => r.ip)).toEqual(packets.map((x) => x.p));
      expect(c.records.every((r) => r.comment === undefined)).toBe(true);
    });
  }

  it("truncates to the snaplen but keeps the original length", () => {
    const w = new PcapWriter({ snapLen: 30 });
    const p = ipv4Packet(1, new Array(100).fill(1));
    w.write(1n, p);
    const r = mustRead(w.toBytes()).records[0]!;
    expect(r.caplen).toBe(30);
    expect(r.origLen).toBe(120);
    expect(r.data).toEqual(p.subarray(0, 30));
  });

  it.skipIf(!haveTshark)("tshark opens classic pcap in both resolutions", () => {
    for (const nanosecond of [false, true]) {
      const path = join(tmp, `trace-${nanosecond ? "ns" : "us"}.pcap`);
      fill(new PcapWriter({ nanosecond })).open(path).close();
      const rows = tsharkFields(path, ["frame.time_epoch", "frame.len"]);
      expect(rows.map((r) => epochToNs(r[0]!))).toEqual(packets.map((x) => (nanosecond ? x.t : (x.t / 1000n) * 1000n)));
      expect(rows.map((r) => Number(r[1]))).toEqual(packets.map((x) => x.p.length));
    }
  });
});

describe("time helpers", () => {
  it("tick conversions for powers of 10 and 2", () => {
    expect(ticksToNs(1234n, { base: 10, exponent: 6 })).toBe(1_234_000n);
    expect(ticksToNs(1234n, { base: 10, exponent: 12 })).toBe(1n);
    expect(ticksToNs(1n << 30n, { base: 2, exponent: 30 })).toBe(1_000_000_000n);
    expect(nsToTicks(1_234_000n, { base: 10, exponent: 6 })).toBe(1234n);
    expect(nsToTicks(1_000_000_000n, { base: 2, exponent: 10 })).toBe(1024n);
  });

  it("msToNs keeps sub-millisecond digits; nsToMs inverts it", () => {
    expect(msToNs(1.5)).toBe(1_500_000n);
    expect(msToNs(1000.000001)).toBe(1_000_000_001n);
    expect(msToNs(1_732_457_123_456.25)).toBe(1_732_457_123_456_250_000n);
    expect(nsToMs(1_500_000n)).toBe(1.5);
  });
});
