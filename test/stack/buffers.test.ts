// The byte queue (send/receive buffers), the reassembly queue and the SACK scoreboard.
import { describe, expect, it } from "vitest";
import { ByteQueue } from "../../stack/tcp/byte-queue.js";
import { Reassembly } from "../../stack/tcp/reassembly.js";
import { SackScoreboard } from "../../stack/tcp/scoreboard.js";
import { patternBytes } from "./pair.js";

describe("ByteQueue", () => {
  it("slices, consumes and reads across small and large chunks", () => {
    const q = new ByteQueue();
    const all = patternBytes(100_000);
    // Mixed sizes: small appends share blocks, big ones are their own chunk.
    const cuts = [0, 10, 500, 600, 40_000, 40_001, 70_000, 100_000];
    for (let i = 0; i + 1 < cuts.length; i++) q.append(all.subarray(cuts[i], cuts[i + 1]));
    expect(q.length).toBe(100_000);
    for (const [off, len] of [[0, 5], [5, 1000], [39_990, 20], [60_000, 15_000], [99_990, 100]] as const) {
      expect(Array.from(q.slice(off, len))).toEqual(Array.from(all.subarray(off, Math.min(off + len, 100_000))));
    }
    q.consume(555);
    expect(Array.from(q.slice(0, 10))).toEqual(Array.from(all.subarray(555, 565)));
    const r = q.read(50_000);
    expect(Array.from(r)).toEqual(Array.from(all.subarray(555, 50_555)));
    q.prepend(all.subarray(50_000, 50_555));
    expect(Array.from(q.read(Infinity))).toEqual(Array.from(all.subarray(50_000)));
    expect(q.length).toBe(0);
  });

  it("the caller may reuse its buffer after append", () => {
    const q = new ByteQueue();
    const b = new Uint8Array([1, 2, 3]);
    q.append(b);
    b[0] = 9;
    expect(Array.from(q.read(3))).toEqual([1, 2, 3]);
  });
});

describe("Reassembly", () => {
  it("merges overlaps, keeps adjacency, reports recent blocks first and hands back in order", () => {
    const r = new Reassembly();
    const d = patternBytes(1000);
    r.insert(300, d.subarray(300, 400));
    r.insert(600, d.subarray(600, 700));
    r.insert(350, d.subarray(350, 450)); // overlaps the first
    r.insert(450, d.subarray(450, 500)); // adjacent
    expect(r.bytes).toBe(300);
    expect(r.sackBlocks(4)).toEqual([[300, 500], [600, 700]]);
    r.insert(600, d.subarray(600, 700)); // duplicate: most recent now
    expect(r.sackBlocks(4)).toEqual([[600, 700], [300, 500]]);
    expect(r.take(200).chunks).toEqual([]);
    const t = r.take(300);
    expect(t.rcvNxt).toBe(500);
    expect(Array.from(Buffer.concat(t.chunks))).toEqual(Array.from(d.subarray(300, 500)));
    expect(r.sackBlocks(4)).toEqual([[600, 700]]);
  });

  it("works across the sequence-number wrap", () => {
    const r = new Reassembly();
    r.insert(0xfffffff0, patternBytes(0x20));
    const t = r.take(0xfffffff0);
    expect(t.rcvNxt).toBe(0x10);
  });
});

describe("SackScoreboard", () => {
  it("merges blocks, ignores bogus ones and forgets what the cumulative ACK covers", () => {
    const s = new SackScoreboard();
    s.update([[2000, 3000], [5000, 6000], [100, 200], [9000, 12000]], 1000, 10000);
    expect(s.sackedEnd(2500)).toBe(3000);
    expect(s.sackedEnd(9500)).toBeUndefined(); // beyond SND.MAX: ignored
    s.update([[3000, 5000]], 1000, 10000);
    expect(s.sackedEnd(2000)).toBe(6000);
    expect(s.nextSackedStart(1000)).toBe(2000);
    expect(s.sackedBytes).toBe(4000);
    s.advance(2500);
    expect(s.sackedEnd(2500)).toBe(6000);
    s.advance(7000);
    expect(s.empty).toBe(true);
  });
});
