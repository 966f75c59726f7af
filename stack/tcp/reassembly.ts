// Out-of-order segments waiting for the hole before them to fill (RFC 9293 §3.10.7.4
// seventh step: "segments with higher beginning sequence numbers ... may be held for later
// processing"), and the SACK blocks that describe them (RFC 2018 §4).
//
// Blocks are kept sorted and non-overlapping (adjacent blocks may stay separate, so a run
// of in-sequence arrivals after one loss never re-copies what is already held). Every block
// lies inside the receive window, so plain modular comparisons order them.
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.js";

interface Block {
  seq: number;
  data: Uint8Array;
}

function endOf(b: Block): number {
  return seqAdd(b.seq, b.data.length);
}

export class Reassembly {
  private blocks: Block[] = [];
  /** Start sequence numbers of the most recently received segments, newest first (RFC 2018 §4). */
  private recent: number[] = [];
  private held = 0;

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  /** Bytes held out of order. */
  get bytes(): number {
    return this.held;
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  /** Highest sequence number held + 1 (undefined when empty). */
  get highestEnd(): number | undefined {
    const b = this.blocks[this.blocks.length - 1];
    return b ? endOf(b) : undefined;
  }

  clear(): void {
    this.blocks = [];
    this.recent = [];
    this.held = 0;
  }

  /** Index of the first block whose end is beyond `seq`. */
  private lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqGt(endOf(this.blocks[mid]), seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Holds `data` (sequence `seq`, already trimmed to the receive window and above RCV.NXT).
   * The bytes are copied. Overlaps with held blocks are merged.
   */
  insert(seq: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.noteRecent(seq);
    const end = seqAdd(seq, data.length);
    const i = this.lowerBound(seq);
    let j = i;
    while (j < this.blocks.length && seqLt(this.blocks[j].seq, end)) j++;
    if (j === i) {
      this.blocks.splice(i, 0, { seq, data: data.slice() });
      this.held += data.length;
      return;
    }
    const first = this.blocks[i];
    const last = this.blocks[j - 1];
    if (j === i + 1 && seqLe(first.seq, seq) && seqGe(endOf(first), end)) return; // a duplicate
    const start = seqLt(first.seq, seq) ? first.seq : seq;
    const stop = seqGt(endOf(last), end) ? endOf(last) : end;
    const merged = new Uint8Array(seqDiff(stop, start));
    let removed = 0;
    for (let k = i; k < j; k++) {
      const b = this.blocks[k];
      merged.set(b.data, seqDiff(b.seq, start));
      removed += b.data.length;
    }
    merged.set(data, seqDiff(seq, start));
    this.blocks.splice(i, j - i, { seq: start, data: merged });
    this.held += merged.length - removed;
  }

  private noteRecent(seq: number): void {
    const k = this.recent.indexOf(seq);
    if (k >= 0) this.recent.splice(k, 1);
    this.recent.unshift(seq);
    if (this.recent.length > 8) this.recent.length = 8;
  }

  /**
   * The length of the run of held data (blocks that overlap or touch) around `seq`, 0 when
   * nothing is held there: the queue entry FreeBSD's tcp_reass() reports for a segment
   * (sack-report.ts).
   */
  runLength(seq: number): number {
    const i = this.lowerBound(seq);
    const b = this.blocks[i];
    if (b === undefined || seqGt(b.seq, seq)) return 0;
    let lo = i;
    while (lo > 0 && endOf(this.blocks[lo - 1]) === this.blocks[lo].seq) lo--;
    let hi = i;
    while (hi + 1 < this.blocks.length && this.blocks[hi + 1].seq === endOf(this.blocks[hi])) hi++;
    return seqDiff(endOf(this.blocks[hi]), this.blocks[lo].seq);
  }

  /**
   * Removes the data that now continues the in-order stream at `rcvNxt` and returns it
   * (views into held blocks, in order), with the new RCV.NXT.
   */
  take(rcvNxt: number): { chunks: Uint8Array[]; rcvNxt: number } {
    const chunks: Uint8Array[] = [];
    let k = 0;
    while (k < this.blocks.length && seqLe(this.blocks[k].seq, rcvNxt)) {
      const b = this.blocks[k];
      const end = endOf(b);
      if (seqGt(end, rcvNxt)) {
        chunks.push(b.data.subarray(seqDiff(rcvNxt, b.seq)));
        rcvNxt = end;
      }
      this.held -= b.data.length;
      k++;
    }
    if (k > 0) this.blocks.splice(0, k);
    return { chunks, rcvNxt };
  }

  /**
   * SACK blocks (RFC 2018 §4): the block holding the most recently received segment first,
   * then the blocks of the other recent arrivals, then the rest in sequence order.
   * Adjacent held blocks are reported as one.
   */
  sackBlocks(max: number): Array<[number, number]> {
    if (this.blocks.length === 0 || max <= 0) return [];
    const ranges: Array<[number, number]> = [];
    for (const b of this.blocks) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === b.seq) last[1] = endOf(b);
      else ranges.push([b.seq, endOf(b)]);
    }
    const out: Array<[number, number]> = [];
    const used = new Set<number>();
    for (const s of this.recent) {
      const r = ranges.findIndex(([lo, hi]) => seqLe(lo, s) && seqLt(s, hi));
      if (r >= 0 && !used.has(r)) {
        used.add(r);
        out.push(ranges[r]);
        if (out.length === max) return out;
      }
    }
    for (let r = 0; r < ranges.length && out.length < max; r++) if (!used.has(r)) out.push(ranges[r]);
    return out;
  }
}
