// What the peer told us it holds above SND.UNA through SACK blocks (RFC 2018, RFC 6675 §3
// "scoreboard"). The sender uses it to skip data the peer already has when it resends
// after a timeout and to find the holes to fill during fast recovery.
import { seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.js";

export class SackScoreboard {
  /** Sorted, disjoint [start, end) ranges, all above SND.UNA. */
  private ranges: Array<[number, number]> = [];

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** Bytes the peer has SACKed. */
  get sackedBytes(): number {
    let n = 0;
    for (const [a, b] of this.ranges) n += seqDiff(b, a);
    return n;
  }

  /** End of the highest SACKed range (undefined when nothing is SACKed). */
  get highestSacked(): number | undefined {
    return this.ranges.length > 0 ? this.ranges[this.ranges.length - 1][1] : undefined;
  }

  clear(): void {
    this.ranges = [];
  }

  /**
   * Records the SACK blocks of an arriving ACK. Blocks not strictly inside
   * (SND.UNA, SND.MAX] are ignored (RFC 2018 §4 D-SACK-like or bogus blocks; RFC 6675 §4
   * only counts blocks above the cumulative ACK).
   */
  update(blocks: ReadonlyArray<readonly [number, number]>, sndUna: number, sndMax: number): void {
    for (const [l, r] of blocks) {
      if (!seqLt(l, r) || !seqGt(r, sndUna) || seqGt(r, sndMax)) continue;
      this.add(seqLt(l, sndUna) ? sndUna : l, r);
    }
  }

  private add(l: number, r: number): void {
    const out: Array<[number, number]> = [];
    let placed = false;
    for (const [a, b] of this.ranges) {
      if (seqLt(b, l)) out.push([a, b]);
      else if (seqGt(a, r)) {
        if (!placed) {
          out.push([l, r]);
          placed = true;
        }
        out.push([a, b]);
      } else {
        // Overlapping or adjacent: merge into the new range.
        if (seqLt(a, l)) l = a;
        if (seqGt(b, r)) r = b;
      }
    }
    if (!placed) out.push([l, r]);
    this.ranges = out;
  }

  /** Forgets what the cumulative ACK now covers. */
  advance(sndUna: number): void {
    let k = 0;
    while (k < this.ranges.length && seqLe(this.ranges[k][1], sndUna)) k++;
    if (k > 0) this.ranges.splice(0, k);
    if (this.ranges.length > 0 && seqLt(this.ranges[0][0], sndUna)) this.ranges[0][0] = sndUna;
  }

  /** If `seq` lies in a SACKed range, that range's end; otherwise undefined. */
  sackedEnd(seq: number): number | undefined {
    for (const [a, b] of this.ranges) {
      if (seqGt(a, seq)) return undefined;
      if (seqGe(seq, a) && seqLt(seq, b)) return b;
    }
    return undefined;
  }

  /** Start of the first SACKed range after `seq` (undefined when there is none). */
  nextSackedStart(seq: number): number | undefined {
    for (const [a] of this.ranges) if (seqGt(a, seq)) return a;
    return undefined;
  }
}
