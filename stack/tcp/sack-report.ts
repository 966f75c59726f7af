// The SACK blocks a receiver reports (RFC 2018 §4), and the D-SACK block for duplicate data
// (RFC 2883 §4) under the sackReport policy "freebsd": FreeBSD keeps the list of blocks it
// reports (tp->sackblks) and updates it on each data segment with tcp_update_sack_list()
// and tcp_update_dsack_list() (sys/netinet/tcp_sack.c), called from tcp_input() as the
// receiver below does; tcp_output() drops the D-SACK blocks once sent
// (tcp_clean_dsack_blocks()). The functions follow FreeBSD's step for step, so the blocks
// come in FreeBSD's order, merged as FreeBSD merges them. The "rfc2018" choice builds the
// blocks from the reassembly queue instead (reassembly.ts).
import { policy } from "./policy.js";
import type { Profile } from "./profiles.js";
import { seqGe, seqGt, seqLe, seqLt } from "./seq.js";

export const sackReportPolicy = policy({
  field: "sackReport",
  title: "SACK blocks we send",
  where: "RFC 2018 §4: which blocks an ACK reports, in what order; RFC 2883 §4: reporting duplicate data",
  choices: {
    rfc2018: { meaning: "the out-of-order queue's blocks, the one holding the most recent arrival first, then the other recent arrivals, then the rest in sequence order; no D-SACK", source: "RFC 2018 §4" },
    freebsd: {
      meaning:
        "a kept list of blocks: the newest arrival's block first, blocks merged as they grow and dropped once below RCV.NXT; duplicate data (below RCV.NXT or already held) is reported first as a D-SACK block, in the next ACK only",
      source: "FreeBSD tcp_update_sack_list(), tcp_update_dsack_list(), tcp_clean_dsack_blocks() (tcp_sack.c), called from tcp_input() and tcp_output(); RFC 2883 §4",
    },
  },
});

/** sackReport "freebsd" applies: the connection uses SACK and the profile keeps FreeBSD's list. */
export function keepsFreebsdList(sackEnabled: boolean, p: Pick<Profile, "sackReport">): boolean {
  return sackEnabled && p.sackReport === "freebsd";
}

/** MAX_SACK_BLKS: the most blocks FreeBSD keeps. */
const MAX_SACK_BLKS = 6;

type Block = [start: number, end: number];

const seqMax = (a: number, b: number) => (seqGt(a, b) ? a : b);
const seqMin = (a: number, b: number) => (seqLt(a, b) ? a : b);

/** FreeBSD's tp->sackblks and the functions that maintain it. */
export class FreebsdSackList {
  blocks: Block[] = [];

  /** tcp_update_sack_list(): new valid data (or a duplicate range below RCV.NXT) arrived. */
  update(rcvNxt: number, rcvStart: number, rcvEnd: number): void {
    // The first reported block must be the most recent one; the others follow in the order
    // they arrived (RFC 2018 §4).
    let head: Block;
    if (rcvStart === rcvEnd && this.blocks.length >= 1 && rcvEnd === this.blocks[0][1]) head = [this.blocks[0][0], this.blocks[0][1]];
    else head = [rcvStart, rcvEnd];
    const saved: Block[] = [];
    for (const [s0, e0] of this.blocks) {
      let start = s0;
      let end = e0;
      if (seqGe(start, end) || seqLe(start, rcvNxt)) continue; // discard
      if (seqLe(head[0], end) && seqGe(head[1], start)) {
        // Merge this block into head (or, for a smaller D-SACK, keep the larger one).
        if (head[0] === end) head[0] = start;
        else if (head[1] === start) head[1] = end;
        else {
          if (seqLt(head[0], start)) [start, head[0]] = [head[0], start];
          if (seqGt(head[1], end)) [end, head[1]] = [head[1], end];
          if (head[0] !== start || head[1] !== end) {
            const last = saved[saved.length - 1];
            if (last !== undefined && seqGe(last[0], start) && seqLe(last[1], end)) saved.pop();
            saved.push([start, end]);
          }
        }
      } else {
        // This block supersedes the prior one if it covers it.
        const last = saved[saved.length - 1];
        if (last !== undefined && seqGe(last[0], start) && seqLe(last[1], end)) saved.pop();
        saved.push([start, end]);
      }
    }
    const out: Block[] = [];
    if (seqLt(rcvStart, rcvEnd)) {
      out.push(head);
      if (saved.length >= MAX_SACK_BLKS) saved.pop();
    } else if (rcvStart === rcvEnd && this.blocks.length > 0 && rcvStart === this.blocks[0][1]) {
      out.push(this.blocks[0]);
    }
    this.blocks = out.concat(saved);
  }

  /** tcp_update_dsack_list(): report the overlap of [rcvStart, rcvEnd) with what is held as a D-SACK block first. */
  updateDsack(rcvNxt: number, rcvStart: number, rcvEnd: number): void {
    const list = this.blocks;
    let saved0: Block =
      seqLt(rcvEnd, rcvNxt) || (rcvEnd === rcvNxt && list.length > 0 && list[0][1] === rcvNxt) ? [rcvStart, rcvEnd] : [0, 0];
    let head: Block = [0, 0];
    const mid: Block = [rcvStart, rcvEnd];
    let identical = false;
    for (const [start, end] of list) {
      if (seqLt(rcvEnd, start)) continue; // the segment lies left of the block
      if (seqGt(rcvStart, end)) continue; // right of it
      if (seqGt(rcvNxt, end)) {
        if (seqMax(rcvStart, start) !== seqMin(rcvEnd, end) && (seqGt(head[0], seqMax(rcvStart, start)) || head[0] === head[1])) {
          head = [seqMax(rcvStart, start), seqMin(rcvEnd, end)];
        }
        continue;
      }
      if ((head[0] === head[1] || seqLt(start, head[0])) && seqGt(end, rcvStart) && seqLe(start, rcvEnd)) head = [start, end];
      mid[0] = seqMin(mid[0], start);
      mid[1] = seqMax(mid[1], end);
      if (mid[0] === start && mid[1] === end) identical = true;
    }
    if (seqLt(head[0], head[1])) saved0 = [seqMax(rcvStart, head[0]), seqMin(rcvEnd, head[1])];
    const saved: Block[] = [saved0];
    // Second, if not acknowledged, the block that holds the D-SACK range, unless identical.
    if ((seqLt(rcvNxt, mid[1]) && !(mid[0] === saved0[0] && mid[1] === saved0[1])) || identical) saved.push([mid[0], mid[1]]);
    for (const b of list) {
      if (saved.length >= MAX_SACK_BLKS) break;
      if ((seqLt(b[1], mid[0]) || seqGt(b[0], mid[1])) && seqGt(b[0], rcvNxt)) saved.push(b);
    }
    // A stale (empty) first entry is left out.
    this.blocks = saved.filter(([s, e]) => seqLt(s, e));
  }

  /** tcp_clean_dsack_blocks(), after each segment sent: blocks at or below RCV.NXT go. */
  clean(rcvNxt: number): void {
    if (this.blocks.length === 0) return;
    this.blocks = this.blocks.filter(([s, e]) => !(seqGe(s, e) || seqLe(s, rcvNxt)));
  }

  clear(): void {
    this.blocks = [];
  }
}
