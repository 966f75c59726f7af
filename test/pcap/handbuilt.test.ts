// Hand-built captures (bytes assembled here, not by our writer) for the cases the public
// corpus lacks: both pcap byte orders and resolutions, multi-interface/multi-section pcapng,
// tsresol powers of two, tsoffset, SPB, obsolete PB, VLAN, SLL v2, BSD null/loop.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCapture, type Capture } from "../../device/pcap/read.js";
import { extractIp } from "../../device/pcap/link.js";
import { Bytes, concat, epochToNs, haveTshark, tsharkCommentField, ipv4Packet, ipv6Packet, pcapngBlock, pcapngOptions, tsharkFields } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "synack-pcap-hand-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function mustRead(bytes: Uint8Array): Capture {
  const r = readCapture(bytes);
  if (!r.ok) throw new Error(`${r.reason} @${r.offset}`);
  return r.value;
}

function classicPcap(le: boolean, magic: number, linkType: number, recs: Array<[number, number, Uint8Array]>): Uint8Array {
  const b = new Bytes(le).u32(magic).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(linkType);
  for (const [sec, frac, data] of recs) b.u32(sec).u32(frac).u32(data.length).u32(data.length).bytes(data);
  return b.build();
}

const eth = (type: number, payload: Uint8Array, tags: Array<[number, number]> = []): Uint8Array => {
  const b = new Bytes(false).u8(2, 0, 0, 0, 0, 1).u8(2, 0, 0, 0, 0, 2);
  for (const [tpid, tci] of tags) b.u16(tpid).u16(tci);
  return b.u16(type).bytes(payload).build();
};

describe("classic pcap, hand-built", () => {
  const v4 = ipv4Packet(7);
  const v6 = ipv6Packet(3);
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      it(`${le ? "little" : "big"}-endian, ${nano ? "nano" : "micro"}second`, () => {
        const magic = nano ? 0xa1b23c4d : 0xa1b2c3d4;
        const frac1 = nano ? 123456789 : 123456;
        const bytes = classicPcap(le, magic, 101, [
          [1700000000, frac1, v4],
          [1700000001, nano ? 999999999 : 999999, v6],
        ]);
        const c = mustRead(bytes);
        expect(c.format).toBe("pcap");
        expect(c.sections[0]!.littleEndian).toBe(le);
        expect(c.interfaces[0]!.snapLen).toBe(65535);
        expect(c.records).toHaveLength(2);
        expect(c.records[0]!.timeNs).toBe(nano ? 1700000000123456789n : 1700000000123456000n);
        expect(c.records[1]!.timeNs).toBe(nano ? 1700000001999999999n : 1700000001999999000n);
        expect(c.records[0]!.ip).toEqual(v4);
        expect(c.records[0]!.ipVersion).toBe(4);
        expect(c.records[1]!.ip).toEqual(v6);
        expect(c.records[1]!.ipVersion).toBe(6);
      });
    }
  }

  it("masks the FCS bits out of the link-type field", () => {
    const bytes = classicPcap(true, 0xa1b2c3d4, 1 | (0x1 << 26) | (4 << 28), [[1, 0, eth(0x0800, ipv4Packet(1))]]);
    const c = mustRead(bytes);
    expect(c.interfaces[0]!.linkType).toBe(1);
    expect(c.records[0]!.ip).toEqual(ipv4Packet(1));
  });

  it("reads the modified (Kuznetzov) pcap variant with 24-byte record headers", () => {
    const b = new Bytes(true).u32(0xa1b2cd34).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(101);
    const p = ipv4Packet(9);
    b.u32(5).u32(6).u32(p.length).u32(p.length).u32(3).u16(0x0800).u8(0, 0).bytes(p);
    const c = mustRead(b.build());
    expect(c.format).toBe("pcap-modified");
    expect(c.records[0]!.timeNs).toBe(5_000_006_000n);
    expect(c.records[0]!.ip).toEqual(p);
  });
});

/**
 * Two sections. Section 1 (big-endian): IDB 0 Ethernet with default µs resolution, IDB 1
 * raw IP with if_tsresol 2^-20 and if_tsoffset 100 s; NRB, ISB and an unknown custom block
 * between packets; EPBs with comments; an obsolete PB. Section 2 (little-endian): IDB SLL2
 * with nanosecond resolution, an EPB and an SPB.
 */
function twoSectionPcapng(withCustomBlock: boolean): { bytes: Uint8Array; packets: Uint8Array[] } {
  const BE = false;
  const LE = true;
  const p0 = ipv4Packet(100);
  const p1 = ipv6Packet(200);
  const p2 = ipv4Packet(300, [5, 5, 5, 5, 5, 5]);
  const p3 = ipv6Packet(400, [1]);
  const p4 = ipv4Packet(500);
  const shb = (le: boolean, userAppl: string) =>
    pcapngBlock(
      le,
      0x0a0d0d0a,
      new Bytes(le)
        .u32(0x1a2b3c4d)
        .u16(1)
        .u16(0)
        .u64(0xffffffffffffffffn)
        .bytes(pcapngOptions(le, [[4, Array.from(Buffer.from(userAppl))]]))
        .build(),
    );
  const idb = (le: boolean, linkType: number, opts: Array<[number, number[]]>) =>
    pcapngBlock(le, 1, new Bytes(le).u16(linkType).u16(0).u32(0).bytes(pcapngOptions(le, opts)).build());
  const epb = (le: boolean, ifid: number, ticks: bigint, data: Uint8Array, comment?: string) =>
    pcapngBlock(
      le,
      6,
      new Bytes(le)
        .u32(ifid)
        .u32(Number(ticks >> 32n))
        .u32(Number(ticks & 0xffffffffn))
        .u32(data.length)
        .u32(data.length)
        .bytes(data)
        .pad4()
        .bytes(comment ? pcapngOptions(le, [[1, Array.from(Buffer.from(comment))]]) : new Uint8Array())
        .build(),
    );
  const sll2 = (payload: Uint8Array) =>
    new Bytes(false).u16(payload[0]! >> 4 === 6 ? 0x86dd : 0x0800).u16(0).u32(3).u16(1).u8(4, 6).u8(2, 0, 0, 0, 0, 9, 0, 0).bytes(payload).build();

  const section1 = concat(
    shb(BE, "hand-built"),
    idb(BE, 1, []),
    // if_tsresol 0x94 = 2^-20; if_tsoffset = 100 s (8 bytes, section byte order)
    idb(BE, 101, [
      [9, [0x94]],
      [14, Array.from(new Bytes(BE).u64(100n).build())],
    ]),
    epb(BE, 0, 1_600_000_000_000_001n, eth(0x0800, p0), "first"),
    pcapngBlock(BE, 4, new Bytes(BE).u16(0).u16(0).build()), // NRB with only nrb_record_end
    epb(BE, 1, 3n * 1048576n + 524288n, p1), // 3.5 s after tsoffset
    pcapngBlock(BE, 5, new Bytes(BE).u32(0).u32(0).u32(0).build()), // ISB
    // A custom block (pcapng §4.8). Wireshark 4.0 lists it as a frame of its own; it carries
    // no packet, so we skip it. Left out of the file tshark checks.
    withCustomBlock ? pcapngBlock(BE, 0x40000bad, new Bytes(BE).u32(32473).u32(1).build()) : new Uint8Array(),
    // obsolete PB: ifid u16, drops u16, ts, caplen, len, data, options (a comment)
    pcapngBlock(
      BE,
      2,
      new Bytes(BE)
        .u16(0)
        .u16(0)
        .u32(0)
        .u32(7)
        .u32(eth(0x0800, p2).length)
        .u32(eth(0x0800, p2).length)
        .bytes(eth(0x0800, p2))
        .pad4()
        .bytes(pcapngOptions(BE, [[1, Array.from(Buffer.from("obsolete"))]]))
        .build(),
    ),
  );
  const section2 = concat(
    shb(LE, "second"),
    idb(LE, 276, [[9, [9]]]),
    epb(LE, 0, 1_700_000_000_123_456_789n, sll2(p3), "ns ✓"),
    // SPB: original length + data; interface 0; no timestamp
    pcapngBlock(LE, 3, new Bytes(LE).u32(sll2(p4).length).bytes(sll2(p4)).pad4().build()),
  );
  return { bytes: concat(section1, section2), packets: [p0, p1, p2, p3, p4] };
}

describe("pcapng, hand-built", () => {
  const { bytes, packets } = twoSectionPcapng(true);

  it("decodes sections, interfaces, resolutions, offsets, comments, PB and SPB", () => {
    const c = mustRead(bytes);
    expect(c.format).toBe("pcapng");
    expect(c.warnings).toEqual([]);
    expect(c.sections.map((s) => [s.littleEndian, s.userAppl])).toEqual([
      [false, "hand-built"],
      [true, "second"],
    ]);
    expect(c.interfaces.map((i) => [i.index, i.section, i.linkType])).toEqual([
      [0, 0, 1],
      [1, 0, 101],
      [2, 1, 276],
    ]);
    expect(c.interfaces[1]!.tsResolution).toEqual({ base: 2, exponent: 20 });
    expect(c.interfaces[1]!.tsOffsetSec).toBe(100n);
    expect(c.records).toHaveLength(5);
    const [r0, r1, r2, r3, r4] = c.records as [typeof c.records[0], typeof c.records[0], typeof c.records[0], typeof c.records[0], typeof c.records[0]];
    // µs ticks on interface 0
    expect(r0.timeNs).toBe(1_600_000_000_000_001_000n);
    expect(r0.comment).toBe("first");
    expect(r0.interface).toBe(0);
    // 2^-20 ticks: 3.5 s, plus tsoffset 100 s
    expect(r1.timeNs).toBe(103_500_000_000n);
    expect(r1.interface).toBe(1);
    expect(r1.linkType).toBe(101);
    expect(r1.comment).toBeUndefined();
    // obsolete PB, µs ticks (0 << 32 | 7)
    expect(r2.timeNs).toBe(7_000n);
    expect(r2.comment).toBe("obsolete");
    // nanosecond interface in the second (little-endian) section
    expect(r3.timeNs).toBe(1_700_000_000_123_456_789n);
    expect(r3.comment).toBe("ns ✓");
    expect(r3.interface).toBe(2);
    expect(r3.linkType).toBe(276);
    // SPB: no timestamp
    expect(r4.hasTime).toBe(false);
    expect(r4.interface).toBe(2);
    expect(c.records.map((r) => r.ip)).toEqual(packets);
  });

  it.skipIf(!haveTshark)("tshark reads the hand-built file the same way (validates the fixture)", () => {
    const plain = twoSectionPcapng(false).bytes;
    const path = join(tmp, "two-sections.pcapng");
    writeFileSync(path, plain);
    const rows = tsharkFields(path, ["frame.number", "frame.time_epoch", "frame.interface_id", "frame.protocols", tsharkCommentField()]);
    const c = mustRead(plain);
    expect(rows).toHaveLength(c.records.length);
    // The SPB (last) has no time; the others must agree to the nanosecond.
    for (let i = 0; i < 4; i++) expect(epochToNs(rows[i]![1]!)).toBe(c.records[i]!.timeNs);
    // Wireshark 4.0 numbers interfaces per section; ours are global (section 2's IDB is our 2).
    expect(rows.map((r) => Number(r[2]))).toEqual([0, 1, 0, 0, 0]);
    expect(rows.map((r) => r[3]!.split(":").slice(0, 3).join(":"))).toEqual([
      "eth:ethertype:ip",
      "raw:ipv6:tcp",
      "eth:ethertype:ip",
      "sll:ethertype:ipv6",
      "sll:ethertype:ip",
    ]);
    expect(rows.map((r) => r[4] ?? "")).toEqual(c.records.map((r) => r.comment ?? ""));
  });
});

describe("link layers", () => {
  const v4 = ipv4Packet(1);
  const v6 = ipv6Packet(2);

  it("Ethernet with one 802.1Q tag, with nested 802.1ad + 802.1Q tags, and with padding", () => {
    const one = extractIp(1, eth(0x86dd, v6, [[0x8100, 0x0064]]));
    expect(one).toEqual({ ok: true, ip: v6, version: 6 });
    const two = extractIp(1, eth(0x0800, v4, [[0x88a8, 0x0010], [0x8100, 0x0064]]));
    expect(two).toEqual({ ok: true, ip: v4, version: 4 });
    const padded = extractIp(1, concat(eth(0x0800, v4), new Uint8Array(22)));
    expect(padded.ok && padded.ip).toEqual(v4);
    const cut = extractIp(1, eth(0x8100, new Uint8Array(2)));
    expect(cut.ok).toBe(false);
  });

  it("Ethernet non-IP frames give a reason", () => {
    const arp = extractIp(1, eth(0x0806, new Uint8Array(28)));
    expect(arp).toEqual({ ok: false, reason: "Ethernet: not IP (ARP)" });
    const llc = extractIp(1, eth(46, new Uint8Array(46)));
    expect(llc.ok || llc.reason).toMatch(/802\.3 length frame/);
    expect(extractIp(1, new Uint8Array(10)).ok).toBe(false);
  });

  it("Linux cooked v1 and v2", () => {
    const sll = new Bytes(false).u16(0).u16(1).u16(6).u8(2, 0, 0, 0, 0, 1, 0, 0).u16(0x0800).bytes(v4).build();
    expect(extractIp(113, sll)).toEqual({ ok: true, ip: v4, version: 4 });
    const sll2 = new Bytes(false).u16(0x86dd).u16(0).u32(2).u16(1).u8(0, 6).u8(2, 0, 0, 0, 0, 1, 0, 0).bytes(v6).build();
    expect(extractIp(276, sll2)).toEqual({ ok: true, ip: v6, version: 6 });
    const sll2Arp = new Bytes(false).u16(0x0806).u16(0).u32(2).u16(1).u8(0, 6).u8(2, 0, 0, 0, 0, 1, 0, 0).bytes(new Uint8Array(28)).build();
    expect(extractIp(276, sll2Arp).ok).toBe(false);
  });

  it("BSD null and OpenBSD loop with either byte order and each AF_INET6 value", () => {
    for (const le of [true, false]) {
      expect(extractIp(0, concat(new Bytes(le).u32(2).build(), v4))).toEqual({ ok: true, ip: v4, version: 4 });
      expect(extractIp(108, concat(new Bytes(le).u32(2).build(), v4))).toEqual({ ok: true, ip: v4, version: 4 });
      for (const af6 of [24, 28, 30]) {
        expect(extractIp(0, concat(new Bytes(le).u32(af6).build(), v6))).toEqual({ ok: true, ip: v6, version: 6 });
        expect(extractIp(108, concat(new Bytes(le).u32(af6).build(), v6))).toEqual({ ok: true, ip: v6, version: 6 });
      }
    }
    const other = extractIp(0, concat(new Bytes(true).u32(7).build(), v4));
    expect(other.ok).toBe(false);
  });

  it("BSD null decodes from a whole file too", () => {
    const frame = concat(new Bytes(true).u32(30).build(), v6);
    const c = mustRead(classicPcap(true, 0xa1b2c3d4, 0, [[1, 2, frame]]));
    expect(c.records[0]!.ip).toEqual(v6);
    expect(c.records[0]!.linkType).toBe(0);
  });

  it("raw IP link types 101, 12, 14, 228, 229", () => {
    for (const lt of [101, 12, 14]) {
      expect(extractIp(lt, v4)).toEqual({ ok: true, ip: v4, version: 4 });
      expect(extractIp(lt, v6)).toEqual({ ok: true, ip: v6, version: 6 });
    }
    expect(extractIp(228, v4)).toEqual({ ok: true, ip: v4, version: 4 });
    expect(extractIp(229, v6)).toEqual({ ok: true, ip: v6, version: 6 });
    const mismatch = extractIp(228, v6);
    expect(mismatch.ok || mismatch.reason).toMatch(/says IPv4/);
    const junk = extractIp(101, Uint8Array.of(0x12, 0, 0));
    expect(junk.ok || junk.reason).toMatch(/version nibble is 1/);
  });

  it("unknown link types give a reason", () => {
    const r = extractIp(147, v4);
    expect(r.ok || r.reason).toMatch(/link type 147/);
  });
});
