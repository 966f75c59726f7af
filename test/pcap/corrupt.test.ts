// Truncated and corrupt captures: the reader must never throw, must say what is wrong and
// where, and must keep the complete records before a cut last record.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readCapture, type Capture, type ReadResult } from "../../device/pcap/read.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import { Prng } from "../../device/prng.js";
import { Bytes, captureFiles, concat, havePcaps, ipv4Packet, pcapPath, pcapngBlock } from "./helpers.js";

function safeRead(bytes: Uint8Array): ReadResult {
  // Any exception is a test failure, reported with the input size to reproduce it.
  try {
    return readCapture(bytes);
  } catch (e) {
    throw new Error(`readCapture threw on ${bytes.length} bytes: ${(e as Error).stack}`);
  }
}

function expectError(r: ReadResult, reason: RegExp, offset: number): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.reason).toMatch(reason);
  expect(r.offset).toBe(offset);
}

/** A cut file is either a clean prefix (same records, warning if cut inside one) or an error. */
function checkCut(full: Capture, bytes: Uint8Array, cut: number): boolean {
  const r = safeRead(bytes.subarray(0, cut));
  if (!r.ok) {
    expect(r.reason.length).toBeGreaterThan(5);
    expect(Number.isInteger(r.offset)).toBe(true);
    expect(r.offset).toBeGreaterThanOrEqual(0);
    expect(r.offset).toBeLessThanOrEqual(cut);
    return false;
  }
  const got = r.value.records;
  expect(got.length).toBeLessThanOrEqual(full.records.length);
  // Same file bytes, so equal records sit at the same offsets (cheap check; expect() per
  // record over hundreds of cuts of a 4000-packet file is far too slow).
  const differing = got.findIndex((rec, i) => {
    const want = full.records[i]!;
    return rec.timeNs !== want.timeNs || rec.data.byteOffset !== want.data.byteOffset || rec.data.length !== want.data.length;
  });
  expect(differing).toBe(-1);
  if (got.length < full.records.length) {
    // Either the cut fell exactly on a record boundary, or a warning names the cut record.
    const endOfLast = got.length ? got[got.length - 1]!.data.byteOffset + got[got.length - 1]!.data.length : 0;
    if (r.value.warnings.length) {
      const w = r.value.warnings[0]!;
      expect(w.reason).toMatch(/cut short/);
      expect(w.offset).toBeGreaterThanOrEqual(0);
      expect(w.offset).toBeLessThan(cut);
    } else if (full.format === "pcap") {
      // No warning: the cut fell exactly after a record (or after the file header).
      expect(cut).toBe(got.length ? endOfLast : 24);
    } else {
      // pcapng: after a block boundary at or past the last whole packet block.
      expect(cut).toBeGreaterThanOrEqual(endOfLast);
    }
  }
  return r.value.warnings.length > 0;
}

describe.skipIf(!havePcaps)("truncated public captures", () => {
  const files = captureFiles();
  it.each(files.length ? files : ["(none)"])("%s cut at many offsets", (f) => {
    const bytes = new Uint8Array(readFileSync(pcapPath(f)));
    const full = readCapture(bytes);
    expect(full.ok).toBe(true);
    if (!full.ok) return;
    const cuts = new Set<number>();
    if (bytes.length <= 4096) for (let i = 0; i < bytes.length; i++) cuts.add(i);
    else {
      for (let i = 0; i < 200; i++) cuts.add(i);
      const rng = new Prng(bytes.length);
      for (let i = 0; i < 200; i++) cuts.add(rng.nextInt(bytes.length));
      cuts.add(bytes.length - 1);
    }
    let warned = 0;
    for (const cut of cuts) if (checkCut(full.value, bytes, cut)) warned++;
    // Most cuts land inside a record and must be reported.
    expect(warned).toBeGreaterThan(0);
  });

  it.each(files.length ? files : ["(none)"])("%s with flipped length fields", (f) => {
    const orig = new Uint8Array(readFileSync(pcapPath(f)));
    const full = readCapture(orig);
    if (!full.ok) throw new Error(full.reason);
    const isNg = full.value.format === "pcapng";
    let errors = 0;
    for (const rec of full.value.records.slice(0, 6)) {
      // pcap: caplen is 8 bytes into the 16-byte record header; pcapng: block length at +4 of the EPB.
      const recordAt = rec.data.byteOffset - (isNg ? 28 : 16);
      const fieldAt = recordAt + (isNg ? 4 : 8);
      for (const value of [0, 7, 13, rec.caplen + 1, 0x7fffffff, 0xffffffff]) {
        const bytes = orig.slice();
        new DataView(bytes.buffer).setUint32(fieldAt, value, full.value.sections[0]!.littleEndian);
        const r = safeRead(bytes);
        if (!r.ok) {
          errors++;
          expect(r.offset).toBeGreaterThanOrEqual(recordAt);
          expect(r.offset).toBeLessThanOrEqual(bytes.length);
          expect(r.reason).toMatch(/offset \d+/);
        } else {
          expect(r.value.records.length).toBeGreaterThanOrEqual(rec.index);
        }
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it.each(files.length ? files : ["(none)"])("%s with random byte corruption never throws", (f) => {
    const orig = new Uint8Array(readFileSync(pcapPath(f)));
    const rng = new Prng(orig.length * 7 + 1);
    for (let n = 0; n < 150; n++) {
      const bytes = orig.slice(0, Math.min(orig.length, 8192));
      // Hit the header area hard: that is where the lengths are.
      const flips = 1 + rng.nextInt(4);
      for (let k = 0; k < flips; k++) {
        const at = rng.chance(0.5) ? rng.nextInt(Math.min(bytes.length, 64)) : rng.nextInt(bytes.length);
        bytes[at] = rng.nextInt(256);
      }
      const r = safeRead(bytes);
      if (!r.ok) {
        expect(r.reason).toMatch(/./);
        expect(r.offset).toBeGreaterThanOrEqual(0);
        expect(r.offset).toBeLessThanOrEqual(bytes.length);
      }
    }
  });
});

describe("specific corruptions", () => {
  it("empty and tiny files, unknown magic", () => {
    expectError(safeRead(new Uint8Array()), /too short/, 0);
    expectError(safeRead(Uint8Array.of(0xd4, 0xc3)), /too short/, 0);
    expectError(safeRead(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), /unknown capture magic 0x01020304/, 0);
    expectError(safeRead(Uint8Array.of(0xd4, 0xc3, 0xb2, 0xa1, 2, 0)), /pcap file header is cut short: 6 bytes/, 0);
  });

  const pcapHeader = new Bytes(true).u32(0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(101).build();
  const p = ipv4Packet(1);

  it("pcap: bad version, giant caplen, truncated record header and body", () => {
    const badVersion = pcapHeader.slice();
    badVersion[4] = 3;
    expectError(safeRead(badVersion), /unsupported pcap version 3\.4/, 4);

    const giant = concat(pcapHeader, new Bytes(true).u32(1).u32(0).u32(0xfffffff0).u32(10).build());
    expectError(safeRead(giant), /pcap record at offset 24 has caplen 4294967280/, 24);

    const good = new Bytes(true).u32(1).u32(0).u32(p.length).u32(p.length).bytes(p).build();
    const cutHeader = safeRead(concat(pcapHeader, good, good.subarray(0, 10)));
    expect(cutHeader.ok).toBe(true);
    if (cutHeader.ok) {
      expect(cutHeader.value.records).toHaveLength(1);
      expect(cutHeader.value.warnings).toEqual([{ reason: "pcap record header at offset 64 is cut short (10 of 16 bytes)", offset: 64 }]);
    }
    const cutBody = safeRead(concat(pcapHeader, good, good.subarray(0, 20)));
    expect(cutBody.ok && cutBody.value.warnings[0]).toEqual({
      reason: `pcap record at offset 64 is cut short: caplen ${p.length} but only 4 bytes left`,
      offset: 64,
    });
  });

  // A valid writer-made pcapng to corrupt: SHB at 0, IDB, then EPBs.
  const w = new PcapngWriter();
  w.write(1_000_000_000n, p, "hello");
  w.write(2_000_000_000n, p);
  const ng = w.toBytes();
  const view = () => new DataView(ng.buffer.slice(0));
  const shbLen = new DataView(ng.buffer).getUint32(4, true);
  const idbLen = new DataView(ng.buffer).getUint32(shbLen + 4, true);
  const epbAt = shbLen + idbLen;
  const epbLen = new DataView(ng.buffer).getUint32(epbAt + 4, true);

  function mutated(f: (v: DataView) => void): Uint8Array {
    const v = view();
    f(v);
    return new Uint8Array(v.buffer);
  }

  it("pcapng: the writer output is valid to start with", () => {
    const r = safeRead(ng);
    expect(r.ok && r.value.records.length).toBe(2);
  });

  it("pcapng: block length 7, 13, past the end, trailing mismatch", () => {
    expectError(safeRead(mutated((v) => v.setUint32(epbAt + 4, 7, true))), new RegExp(`block at offset ${epbAt} has length 7 \\(< 12\\)`), epbAt);
    expectError(safeRead(mutated((v) => v.setUint32(epbAt + 4, 13, true))), /has length 13, not a multiple of 4/, epbAt);
    expectError(safeRead(mutated((v) => v.setUint32(epbAt + 4, 16, true))), /Enhanced Packet Block at offset \d+ has length 16 \(< 32\)/, epbAt);
    expectError(
      safeRead(mutated((v) => v.setUint32(epbAt + epbLen - 4, epbLen + 4, true))),
      new RegExp(`trailing length ${epbLen + 4} does not match leading length ${epbLen}`),
      epbAt + epbLen - 4,
    );
    // A length running past the end of the file looks like a cut last record: warning, rest kept.
    const past = safeRead(mutated((v) => v.setUint32(epbAt + 4, 0x10000, true)));
    expect(past.ok).toBe(true);
    if (past.ok) {
      expect(past.value.records).toHaveLength(0);
      expect(past.value.warnings[0]!.offset).toBe(epbAt);
      expect(past.value.warnings[0]!.reason).toMatch(/cut short: length 65536/);
    }
  });

  it("pcapng: bad byte-order magic, wrong version, no SHB first, SHB cut short", () => {
    expectError(safeRead(mutated((v) => v.setUint32(8, 0x11223344, true))), /bad byte-order magic 0x11223344/, 8);
    expectError(safeRead(mutated((v) => v.setUint16(12, 2, true))), /unsupported version 2\.0/, 12);
    expectError(safeRead(ng.subarray(0, 10)), /Section Header Block at offset 0 is cut short/, 0);
    expectError(safeRead(ng.subarray(0, 20)), /Section Header Block at offset 0 is cut short: length \d+ but only 20/, 0);
    // an IDB-first file is recognised as nothing: its first word is not a magic
    expectError(safeRead(ng.subarray(shbLen)), /unknown capture magic/, 0);
  });

  it("pcapng: EPB on an undefined interface, caplen beyond block, option overrun", () => {
    expectError(safeRead(mutated((v) => v.setUint32(epbAt + 8, 5, true))), /uses interface 5 but the section defines 1/, epbAt + 8);
    expectError(safeRead(mutated((v) => v.setUint32(epbAt + 20, 1000, true))), /captured length 1000, more than its block holds/, epbAt + 20);
    // The comment option follows the padded packet data: make its length overrun.
    const optAt = epbAt + 28 + ((p.length + 3) & ~3);
    expectError(safeRead(mutated((v) => v.setUint16(optAt + 2, 500, true))), new RegExp(`option 1 at offset ${optAt} has length 500`), optAt);
  });

  it("pcapng: SPB before any interface, tsresol beyond 64 bits", () => {
    const shb = ng.subarray(0, shbLen);
    const spb = pcapngBlock(true, 3, new Bytes(true).u32(p.length).bytes(p).build());
    expectError(safeRead(concat(shb, spb)), /Simple Packet Block at offset \d+ comes before any interface/, shbLen);
    const idb = pcapngBlock(true, 1, new Bytes(true).u16(101).u16(0).u32(0).u16(9).u16(1).u8(30, 0, 0, 0).u16(0).u16(0).build());
    expectError(safeRead(concat(shb, idb)), /if_tsresol 10\^-30/, shbLen);
  });

  it("pcapng: a cut after complete blocks keeps them and warns about the rest", () => {
    const r = safeRead(ng.subarray(0, epbAt + epbLen + 6));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.records).toHaveLength(1);
      expect(r.value.records[0]!.comment).toBe("hello");
      expect(r.value.warnings).toEqual([{ reason: expect.stringMatching(/block header at offset \d+ is cut short \(6 bytes\)/), offset: epbAt + epbLen }]);
    }
  });
});
