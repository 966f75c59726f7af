// The receiving half of a connection: segment text and FIN (RFC 9293 §3.10.7.4 sixth to
// eighth steps), the reassembly of out-of-order data, the window we advertise (receiver
// SWS avoidance), and when we send an ACK: delayed ACKs (RFC 5681 §4.2), the Linux
// quick-ACK emulation, and the rate limits on ACKs that answer bad segments.
import { TCP_ACK, TCP_FIN, type TcpOption, type TcpSegment } from "../wire/types.js";
import { ByteQueue } from "./byte-queue.js";
import { ChallengeAckLimiter } from "./challenge-ack.js";
import type { Connection } from "./connection.js";
import { outSegment } from "./out-segment.js";
import { Deadline } from "./deadlines.js";
import { segmentOptions } from "./options.js";
import { policy } from "./policy.js";
import { Reassembly } from "./reassembly.js";
import { FreebsdSackList, keepsFreebsdList } from "./sack-report.js";
import { seqAdd, seqDiff, seqGt, seqLt } from "./seq.js";
import { canReceive, isSynchronized, type TcpState } from "./state.js";

// ---------------------------------------------------------------------------------------
// Policies

export const ackPolicyPolicy = policy({
  field: "ackPolicy",
  title: "ACK policy",
  where: "RFC 9293 §3.8.6.3, RFC 5681 §4.2: when received data is acknowledged",
  choices: {
    delayed: { meaning: "every second full segment at once, else after delayedAckMs; out-of-order data and a filled hole at once; a FIN at once", source: "RFC 5681 §4.2, RFC 1122 §4.2.3.2" },
    quickAck: {
      meaning:
        "as delayed, but the first data and data after a silence longer than the RTO are ACKed at once, for up to quickAcks ACKs (fewer with a small window: RCV.WND / (2 * receive MSS), at least 2), unless the connection is interactive (pingpong: we sent data within delayedAckMs of receiving some, or the peer's FIN moved us to CLOSE-WAIT; the delayed-ACK timer firing ends it); the FIN in ESTABLISHED is ACKed like data",
      source: "Linux tcp_event_data_recv(), tcp_incr_quickack(), tcp_in_quickack_mode(), tcp_fin(); TCP_MAX_QUICKACKS 16",
    },
  },
  knobs: ["delayedAckMs", "quickAcks"],
});

export const finRepeatPolicy = policy({
  field: "finRepeat",
  title: "ACKs while our FIN is unacknowledged",
  where: "RFC 9293 §3.10.7.4: the ACKs we send in FIN-WAIT-1, CLOSING, LAST-ACK",
  choices: {
    pureAck: { meaning: "a pure ACK at SND.NXT", source: "RFC 9293 §3.10.7.4" },
    repeatFin: {
      meaning: "every ACK repeats our FIN at its own sequence number (<SEQ=FIN's><CTL=FIN,ACK>), even the ACK of the peer's FIN in a simultaneous close; challenge ACKs stay bare",
      source: "FreeBSD tcp_output() (tcp_outflags[state], SND.NXT backed off for a sent FIN); tcp_respond() for challenge ACKs",
    },
  },
});

export const oowAckPolicy = policy({
  field: "oowAck",
  title: "ACKs answering unacceptable segments",
  where: "RFC 9293 §3.10.7.4 first step: \"an acknowledgment should be sent in reply\"",
  choices: {
    always: { meaning: "every unacceptable segment is answered", source: "RFC 9293 §3.10.7.4" },
    rateLimited: {
      meaning: "at most one answer per oowAckIntervalMs per connection, so a blind flood cannot turn the stack into an ACK reflector",
      source: "Linux tcp_oow_rate_limited() (net.ipv4.tcp_invalid_ratelimit, 500 ms)",
    },
  },
  knobs: ["oowAckIntervalMs"],
});

export const challengeAckPolicy = policy({
  field: "challengeAck",
  title: "Challenge-ACK limit",
  where: "RFC 5961 §7: challenge ACKs for RSTs, SYNs and ACKs out of range",
  choices: {
    rfc5961: { meaning: "at most 10 challenge ACKs per 5 s per connection (a per-connection budget leaks nothing across connections, unlike CVE-2016-5696's global one)", source: "RFC 5961 §7 (challenge-ack.ts)" },
    linux: {
      meaning:
        "first the out-of-window interval (oowAckIntervalMs, shared with the ACKs of unacceptable segments), then the same budget; an ACK is too old (RFC 5961 §5.2) below SND.UNA - min(MAX.SND.WND, the bytes acknowledged so far, SYN included)",
      source: "Linux tcp_send_challenge_ack() -> tcp_oow_rate_limited(); tcp_ack() (max_window = min(max_window, bytes_acked))",
    },
  },
  knobs: ["oowAckIntervalMs"],
});

export const windowUpdatePolicy = policy({
  field: "windowUpdate",
  title: "Window update after a read",
  where: "RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): when the user's read makes us announce the larger window",
  choices: {
    halfWindow: {
      meaning: "when the right edge can move by min(RCV.BUFF / 2, MSS) and the peer's view of the window is below half of what it could be",
      source: "RFC 9293 §3.8.6.2.2; Linux tcp_cleanup_rbuf()",
    },
    freebsd: {
      meaning: "when the window grew by 2 MSS and by a quarter of the buffer (or the buffer is at most 8 MSS, or the window is below an eighth of it), or by half the buffer; never when the scaled window field would not change",
      source: "FreeBSD tcp_output() (\"window update\" checks against so_rcv.sb_hiwat)",
    },
  },
});

const EMPTY_BYTES = new Uint8Array(0);

// ---------------------------------------------------------------------------------------
// Pure ACKs. These need no Receiver: a connection that has received nothing since the
// handshake has none (Connection.receiver), and its ACK carries no SACK blocks.

/**
 * A pure ACK. Its sequence number is SND.MAX, not a rewound SND.NXT: the peer may already
 * hold data up to SND.MAX, and an ACK below its RCV.NXT would be unacceptable to it (BSD
 * tcp_output does the same). `bare`: never repeat the FIN (finRepeat).
 */
export function sendAck(c: Connection, now: number, why: string, rule?: string, bare = false): void {
  if (!bare && c.prof.finRepeat === "repeatFin" && (c.state === "FIN-WAIT-1" || c.state === "CLOSING" || c.state === "LAST-ACK")) {
    // finRepeat "repeatFin" (FreeBSD tcp_output()): while our FIN is unacknowledged every
    // segment carries it again, at its own sequence number.
    c.emitSeg(outSegment(c.sender.finSeq, c.rcvNxt, TCP_FIN | TCP_ACK, c.windowField(), ackOptions(c, now)), now, `${why} (FIN repeated)`, rule);
    return;
  }
  c.emitSeg(outSegment(c.sndMax, c.rcvNxt, TCP_ACK, c.windowField(), ackOptions(c, now)), now, why, rule);
}

/** Options of a pure ACK: timestamps and, with out-of-order data held, SACK blocks (Receiver.sackBlocks()). */
export function ackOptions(c: Connection, now: number): TcpOption[] {
  return segmentOptions(c.tsEnabled ? { val: c.tsVal(now), ecr: c.tsRecent } : undefined, c.rcvPart?.sackBlocks());
}

/**
 * The receive side of one connection; created when first needed (a connection in SYN-SENT,
 * or ESTABLISHED with nothing received since the handshake, has none: see
 * Connection.receiver). Its buffers are created on first use too.
 */
export class Receiver {
  private rcvQState: ByteQueue | undefined = undefined;
  private reasmState: Reassembly | undefined = undefined;
  /** Sequence number of a FIN that arrived ahead of a hole. */
  oooFinSeq: number | undefined = undefined;
  peerFinReceived = false;
  /** Segments received since our last ACK (delayed ACKs, RFC 5681 §4.2). */
  ackPending = 0;
  /** A D-SACK block (RFC 2883) for the next segment with an ACK, reporting a duplicate received. */
  dsack: [number, number] | undefined = undefined;
  /** An ACK must go out before this segment's processing ends (cleared by any ACK sent). */
  ackDue = false;
  /** Set by read() when the window grew enough; the stack flushes it at the next poll. */
  pendingWindowUpdate = false;
  /** Rate limits on the ACKs answering bad segments (oowAck, challengeAck); created on first use. */
  private limits: AnswerLimits | undefined = undefined;
  /** Challenge ACKs sent (for traces and tests). */
  challengeAcksSent = 0;
  /** ackPolicy "quickAck" state; created when first needed (other profiles never do). */
  quick: QuickAckState | undefined = undefined;
  /** sackReport "freebsd": the blocks reported (FreeBSD's tp->sackblks); created on first use. */
  private fbSack: FreebsdSackList | undefined = undefined;

  constructor(private readonly c: Connection) {}

  get rcvQ(): ByteQueue {
    return (this.rcvQState ??= new ByteQueue());
  }
  private get reasm(): Reassembly {
    return (this.reasmState ??= new Reassembly());
  }

  /** In-order received bytes the user has not read yet. */
  get buffered(): number {
    return this.rcvQState === undefined ? 0 : this.rcvQState.length;
  }
  /** No out-of-order data is held (without creating the reassembly queue to ask). */
  outOfOrderEmpty(): boolean {
    return this.reasmState === undefined || this.reasmState.empty;
  }
  /** Bytes held out of order, waiting for a hole to fill. */
  get outOfOrderBytes(): number {
    return this.reasmState === undefined ? 0 : this.reasmState.bytes;
  }

  // -------------------------------------------------------------------------------------
  // Sending ACKs

  /**
   * Every segment with an ACK that leaves tells the receiver what it told the peer
   * (Connection.ackSent() records the ACK number and the window's edges; a connection without
   * a receiver yet holds all of this in its initial state).
   */
  ackSent(): void {
    // Linux tcp_dec_quickack_mode(): an ACK that acknowledges new data uses up a quick ACK.
    const q = this.quick;
    if (this.ackPending > 0 && q !== undefined && q.quickAcks > 0) q.quickAcks--;
    // Any ACK (pure or piggybacked) satisfies a pending delayed ACK and window update.
    this.ackPending = 0;
    this.dsack = undefined;
    this.ackDue = false;
    this.pendingWindowUpdate = false;
    // sackReport "freebsd": tcp_output() drops the D-SACK blocks it just sent.
    this.fbSack?.clean(this.c.rcvNxt);
  }

  /** sackReport "freebsd" on a connection that uses SACK: FreeBSD's block list. */
  private get freebsdSack(): FreebsdSackList | undefined {
    const c = this.c;
    if (!keepsFreebsdList(c.sackEnabled, c.prof)) return undefined;
    return (this.fbSack ??= new FreebsdSackList());
  }

  /**
   * Duplicate text [start, end) below RCV.NXT was dropped (sackReport "freebsd": a D-SACK
   * block for it, tcp_input()'s todrop step).
   */
  duplicateText(start: number, end: number): boolean {
    const l = this.freebsdSack;
    if (l === undefined || !seqLt(start, end)) return false;
    l.update(this.c.rcvNxt, start, end);
    return true;
  }

  /**
   * sackReport "freebsd", after the text of a segment was taken (tcp_input(), after
   * tcp_reass()): `start`/`len` the text after trimming, `rcvNxtBefore` RCV.NXT before it,
   * `entry` the length of the queue entry that now holds it (tcp_reass()'s *tlenp).
   */
  private sackAfterText(start: number, len: number, rcvNxtBefore: number, entry: number): void {
    const l = this.freebsdSack;
    if (l === undefined || len <= 0) return;
    const rcvNxt = this.c.rcvNxt;
    if (entry === 0 && seqLt(start, rcvNxtBefore)) l.update(rcvNxt, start, seqAdd(start, len));
    else if (entry > 0 && seqGt(rcvNxt, rcvNxtBefore)) {
      // A partial overlap recorded by the todrop step stays the first block.
      const first = l.blocks[0];
      if (first !== undefined && first[1] === start) l.update(rcvNxt, first[0], first[1]);
      else l.updateDsack(rcvNxt, start, seqAdd(start, len));
    } else if (entry >= len) l.updateDsack(rcvNxt, start, seqAdd(start, len));
    else if (entry > 0) l.updateDsack(rcvNxt, start, seqAdd(start, entry));
  }

  /** The ACK answering an unacceptable segment (RFC 9293 §3.10.7.4), per the oowAck policy. */
  oowAck(now: number, why: string, rule: string): void {
    const c = this.c;
    if (c.prof.oowAck === "rateLimited") {
      const l = (this.limits ??= new AnswerLimits());
      if (now - l.lastOowAckAt < c.prof.oowAckIntervalMs) {
        c.host.dropSegment(c, now, "out-of-window ack rate-limited", "unacceptable segment: ACK rate-limited", "Linux tcp_invalid_ratelimit: one out-of-window ACK per interval");
        return;
      }
      l.lastOowAckAt = now;
    }
    this.c.sendAck(now, why, rule);
  }

  /** The out-of-window ACK limit starts afresh (Linux's timewait socket: tw_last_oow_ack_time = 0). */
  restartOowLimit(): void {
    if (this.limits !== undefined) this.limits.lastOowAckAt = -Infinity;
  }

  /** A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), subject to the challengeAck policy. */
  challengeAck(now: number, why: string, rule: string): void {
    const c = this.c;
    // challengeAck "linux": the per-socket out-of-window limit first (tcp_oow_rate_limited(),
    // tcp_invalid_ratelimit 500 ms), shared with the plain out-of-window ACKs.
    const linux = c.prof.challengeAck === "linux";
    const l = (this.limits ??= new AnswerLimits());
    if (linux && now - l.lastOowAckAt < c.prof.oowAckIntervalMs) {
      c.host.dropSegment(c, now, "out-of-window ack rate-limited", `${why}: ACK rate-limited`, "Linux tcp_oow_rate_limited: one out-of-window ACK per interval");
      return;
    }
    if (!l.challenge.allow(now)) {
      c.host.dropSegment(c, now, "challenge ack rate-limited", `${why}: challenge ACK suppressed by the rate limit`, "RFC 5961 §7");
      return;
    }
    if (linux) l.lastOowAckAt = now;
    this.challengeAcksSent++;
    // A challenge ACK is a bare ACK even where the profile repeats the FIN: FreeBSD sends it
    // with tcp_respond(), not tcp_output().
    this.c.sendAck(now, why, rule, true);
  }

  /**
   * The SACK blocks our segments report now (RFC 2018 §4), or undefined when there are none
   * to report; a D-SACK block first when one is due (RFC 2883 §4; simOpenSynAckAck).
   */
  sackBlocks(): Array<[number, number]> | undefined {
    if (!this.c.sackEnabled) return undefined;
    // RFC 2018 §3: four blocks fit in the 40 option bytes, three next to timestamps.
    const max = this.c.tsEnabled ? 3 : 4;
    if (keepsFreebsdList(true, this.c.prof)) {
      const l = this.fbSack;
      return l === undefined || l.blocks.length === 0 ? undefined : l.blocks.slice(0, max);
    }
    const d = this.dsack;
    if (this.outOfOrderEmpty()) return d === undefined ? undefined : [d];
    const blocks = this.reasm.sackBlocks(d === undefined ? max : max - 1);
    return d === undefined ? blocks : [d, ...blocks];
  }

  /** The delayed-ACK timer expired (RFC 9293 §3.8.6.3). */
  onDelAckTimer(now: number): void {
    // Linux tcp_delack_timer_handler(): a delayed ACK that had to wait for the timer means
    // the exchange is not interactive after all: leave pingpong mode.
    if (this.quick !== undefined) this.quick.pingpong = false;
    this.c.sendAck(now, "delayed ACK timer", "RFC 9293 §3.8.6.3");
  }

  // -------------------------------------------------------------------------------------
  // The window we advertise

  /**
   * Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3): after the user read,
   * announce the window only once its right edge can move by min(RCV.BUFF / 2, MSS).
   */
  noteWindowGrowth(): void {
    const c = this.c;
    if (!isSynchronized(c.state) || c.state === "TIME-WAIT" || this.peerFinReceived) return;
    const wnd = c.windowField() << c.rcvWscale;
    const edge = seqAdd(c.rcvNxt, wnd);
    const grown = seqDiff(edge, this.c.rcvAdvertisedEdge);
    // Like Linux (tcp_cleanup_rbuf), only when the peer's view of the window is below half of
    // what it could be: a reader keeping up needs no extra ACKs, the regular ones carry it.
    const peerView = seqDiff(this.c.rcvAdvertisedEdge, c.rcvNxt);
    if (c.prof.windowUpdate === "freebsd") {
      if (this.freebsdWindowUpdate(wnd, peerView)) this.pendingWindowUpdate = true;
      return;
    }
    if (grown >= Math.min(c.prof.rcvBufBytes / 2, c.mssAdvertised) && peerView < wnd / 2) this.pendingWindowUpdate = true;
  }

  /** windowUpdate "freebsd": tcp_output()'s window-update test (`recwin` now, `oldwin` the peer's view). */
  private freebsdWindowUpdate(recwin: number, oldwin: number): boolean {
    const c = this.c;
    const hiwat = c.prof.rcvBufBytes;
    const mss = c.sndMss;
    const adv = recwin > oldwin ? recwin - Math.max(0, oldwin) : 0;
    if (Math.max(0, oldwin) >> c.rcvWscale >= (adv + Math.max(0, oldwin)) >> c.rcvWscale) return false;
    if (adv >= 2 * mss && (adv >= hiwat / 4 || recwin <= hiwat / 8 || hiwat <= 8 * mss || adv >= 65535 << c.rcvWscale)) return true;
    return 2 * adv >= hiwat;
  }

  // -------------------------------------------------------------------------------------
  // Text and FIN

  /**
   * Text (and FIN) of a crossing SYN kept per the simOpenSynText policy ("queue": `withFin`;
   * "queueData"): it waits in the reassembly queue at RCV.NXT until ESTABLISHED.
   */
  queueSynText(seg: TcpSegment, withFin: boolean, now: number): void {
    const c = this.c;
    const data = seg.payload.subarray(0, Math.max(0, c.prof.rcvBufBytes));
    if (data.length > 0) this.reasm.insert(c.rcvNxt, data);
    // The FIN counts only if all the text fit (as in acceptData).
    if (withFin && seg.flags & TCP_FIN && data.length === seg.payload.length) this.oooFinSeq = seqAdd(c.rcvNxt, data.length);
    if (data.length > 0 || this.oooFinSeq !== undefined) {
      c.host.trace(c, now, "in", `crossing SYN carries ${data.length} bytes${this.oooFinSeq !== undefined ? " + FIN" : ""}: queued until ESTABLISHED`, "RFC 9293 §3.10.7.3");
    }
  }

  /**
   * SYN-RECEIVED -> ESTABLISHED: hand over what queueSynText() kept. The text is acknowledged
   * like any new data (delayed ACK, RFC 5681 §4.2; FreeBSD's tcp_reass() flush sets no
   * immediate ACK either); a queued FIN is acknowledged at once (eighth step).
   */
  deliverSynText(now: number): void {
    const c = this.c;
    if (this.outOfOrderEmpty() && this.oooFinSeq === undefined) return;
    const r = this.reasm.take(c.rcvNxt);
    for (const chunk of r.chunks) this.rcvQ.appendOwned(chunk);
    const newData = r.chunks.length > 0;
    c.rcvNxt = r.rcvNxt;
    if (this.oooFinSeq !== undefined && this.oooFinSeq === c.rcvNxt) {
      c.rcvNxt = seqAdd(c.rcvNxt, 1);
      this.peerFinReceived = true;
      this.oooFinSeq = undefined;
      c.setState("CLOSE-WAIT", now, "RFC 9293 §3.10.7.4 eighth: queued FIN of the SYN -> CLOSE-WAIT");
      this.c.sendAck(now, "ACK the queued SYN text and FIN", "RFC 9293 §3.10.7.3 / §3.10.7.4 eighth");
      if (newData) c.ev?.data?.(c);
      if ((c.state as TcpState) !== "CLOSED") c.ev?.peerFin?.(c);
      return;
    }
    if (!newData) return;
    this.ackPending++;
    if (c.prof.delayedAckMs <= 0) this.c.sendAck(now, "ACK the queued SYN text", "RFC 9293 §3.10.7.3");
    else if (c.deadline(Deadline.delAck) === Infinity) c.setDeadline(Deadline.delAck, c.timerExpiry(now, c.prof.delayedAckMs));
    c.host.rearm(c);
    c.ev?.data?.(c);
  }

  /**
   * Sixth to eighth steps: segment text and FIN (RFC 9293 §3.10.7.4). `fromSynSent`: the text
   * of the SYN-ACK that completed our open (it starts at SEG.SEQ + 1).
   */
  acceptData(seg: TcpSegment, now: number, fromSynSent: boolean): void {
    const c = this.c;
    const p = c.prof;
    let seq = fromSynSent ? seqAdd(seg.seq, 1) : seg.seq;
    let data = seg.payload;
    let fin = (seg.flags & TCP_FIN) !== 0;
    if (!canReceive(c.state) && !fromSynSent) {
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN came already; ignore the
      // text (seventh step), but answer a retransmitted FIN below.
      data = EMPTY_BYTES;
      if (!fin) return;
    }
    // Trim what we already have.
    let dsackNow = false;
    const dup = seqDiff(c.rcvNxt, seq);
    if (dup > 0) {
      if (dup >= data.length + (fin ? 1 : 0)) {
        // A duplicate: ACK at once so the sender learns where we are (RFC 9293 §3.10.7.4).
        this.duplicateText(seq, seqAdd(seq, data.length));
        this.c.sendAck(now, "duplicate segment -> ACK", "RFC 9293 §3.10.7.4 / RFC 5681 §4.2");
        return;
      }
      // tcp_input(): ACK now when a D-SACK block was added, "as the next in-sequence
      // segment will clear the DSACK block again".
      dsackNow = this.duplicateText(seq, seqAdd(seq, Math.min(dup, data.length)));
      data = dup >= data.length ? EMPTY_BYTES : data.subarray(dup);
      seq = c.rcvNxt;
    }
    // Trim to the receive window; the FIN counts only if all the text fits.
    const room = Math.max(0, p.rcvBufBytes - this.buffered) - seqDiff(seq, c.rcvNxt);
    if (data.length > room) {
      data = data.subarray(0, Math.max(0, room));
      fin = false;
    }
    const rcvNxtBefore = c.rcvNxt;
    if (seq !== c.rcvNxt) {
      // Out of order: hold it and ACK at once, a duplicate ACK for the sender's fast
      // retransmit, with SACK blocks (RFC 5681 §4.2, RFC 2018 §4).
      this.reasm.insert(seq, data);
      this.sackAfterText(seq, data.length, rcvNxtBefore, this.reasm.runLength(seq));
      if (fin) this.oooFinSeq = seqAdd(seq, data.length);
      this.c.sendAck(now, "out-of-order segment -> immediate duplicate ACK", "RFC 5681 §4.2 / RFC 9293 §3.10.7.4");
      return;
    }
    const filledHole = !this.outOfOrderEmpty();
    let newData = false;
    if (data.length > 0) {
      this.rcvQ.append(data);
      c.rcvNxt = seqAdd(c.rcvNxt, data.length);
      newData = true;
    }
    if (filledHole) {
      const r = this.reasm.take(c.rcvNxt);
      for (const chunk of r.chunks) this.rcvQ.appendOwned(chunk);
      if (r.chunks.length > 0) newData = true;
      c.rcvNxt = r.rcvNxt;
    }
    this.sackAfterText(seq, data.length, rcvNxtBefore, filledHole ? seqDiff(c.rcvNxt, seq) : data.length);
    if (!fin && this.oooFinSeq !== undefined && this.oooFinSeq === c.rcvNxt) fin = true;
    const quickAcking = p.ackPolicy === "quickAck";
    if (fin && !this.peerFinReceived) {
      // Eighth step: the FIN. It takes one sequence number and is acknowledged at once
      // (ackPolicy "quickAck": like data, see below).
      c.rcvNxt = seqAdd(c.rcvNxt, 1);
      this.peerFinReceived = true;
      this.reasmState?.clear();
      this.oooFinSeq = undefined;
      let delayFinAck = false;
      if (newData && quickAcking && !fromSynSent) this.quickAckOnData(data.length, now);
      switch (c.state) {
        case "ESTABLISHED":
          c.setState("CLOSE-WAIT", now, "RFC 9293 §3.10.7.4 eighth: FIN in ESTABLISHED -> CLOSE-WAIT");
          if (quickAcking && p.delayedAckMs > 0 && !fromSynSent) {
            // Linux tcp_fin(): CLOSE-WAIT enters interactive (pingpong) mode and only
            // schedules the ACK, so it goes with the delayed-ACK timer or a reply, unless
            // enough is unacknowledged to ACK at once (every second segment).
            (this.quick ??= new QuickAckState()).pingpong = true;
            delayFinAck = !filledHole && this.ackPending + (newData ? 1 : 0) < 2;
          }
          break;
        case "FIN-WAIT-1":
          // (Our FIN acknowledged by this very segment moved us to FIN-WAIT-2 in the fifth step.)
          c.setState("CLOSING", now, "RFC 9293 §3.10.7.4 eighth: FIN in FIN-WAIT-1 -> CLOSING");
          break;
        case "FIN-WAIT-2":
          c.enterTimeWait(now, "RFC 9293 §3.10.7.4 eighth: FIN in FIN-WAIT-2 -> TIME-WAIT");
          break;
      }
      if (delayFinAck) {
        this.ackPending++;
        if (c.deadline(Deadline.delAck) === Infinity) c.setDeadline(Deadline.delAck, c.timerExpiry(now, p.delayedAckMs));
        c.host.rearm(c);
        c.host.trace(c, now, "in", "FIN in ESTABLISHED: ACK delayed (pingpong mode)", "linux tcp_fin() / RFC 1122 §4.2.3.2");
      } else {
        this.c.sendAck(now, "ACK the FIN", "RFC 9293 §3.10.7.4 eighth: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
      }
      if (!fromSynSent) {
        if (newData) c.ev?.data?.(c);
        if ((c.state as TcpState) !== "CLOSED") c.ev?.peerFin?.(c);
      }
      return;
    }
    if (fromSynSent) {
      this.c.sendAck(now, "ACK the SYN-ACK and its data", "RFC 9293 §3.10.7.3");
      return;
    }
    if (!newData) return;
    this.ackPending++;
    const quick = quickAcking && this.quickAckOnData(data.length, now);
    // Tell the user first: a read in the callback widens the window this ACK advertises,
    // and a send in it carries the ACK (piggybacking).
    c.ev?.data?.(c);
    if ((c.state as TcpState) === "CLOSED" || this.ackPending === 0) return;
    // RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK at least every second full-sized segment and
    // within the delayed-ACK timeout; at once when the segment filled (part of) a hole.
    if (filledHole || this.ackPending >= 2 || p.delayedAckMs <= 0 || quick || dsackNow) {
      this.c.sendAck(
        now,
        filledHole ? "segment filled a hole -> immediate ACK" : quick ? "quick-ACK mode -> immediate ACK" : dsackNow ? "duplicate text reported (D-SACK) -> immediate ACK" : "ACK every second segment",
        quick ? "linux tcp_in_quickack_mode() (RFC 1122 §4.2.3.2 allows it)" : dsackNow ? "RFC 2883 §4 / freebsd tcp_input()" : "RFC 5681 §4.2",
      );
    } else if (c.deadline(Deadline.delAck) === Infinity) {
      c.setDeadline(Deadline.delAck, c.timerExpiry(now, p.delayedAckMs));
    }
  }

  /**
   * ackPolicy "quickAck" (Linux tcp_event_data_recv(), tcp_incr_quickack(),
   * tcp_in_quickack_mode()). Called for each segment of new in-order data; says whether to
   * ACK it at once. The first data, and data after a silence longer than the RTO, earn up
   * to profile.quickAcks quick ACKs (RCV.WND / (2 * receive MSS), at least 2); ackSent()
   * spends them; interactive (pingpong) connections get none.
   */
  private quickAckOnData(len: number, now: number): boolean {
    const c = this.c;
    const q = (this.quick ??= new QuickAckState());
    const first = q.rcvMss === 0;
    // tcp_measure_rcv_mss(): the largest segment seen, from an initial 536-byte guess.
    const guess = Math.min(536, c.mssAdvertised);
    q.rcvMss = Math.max(q.rcvMss, guess, Math.min(len, c.mssAdvertised));
    if (first || now - q.lastDataRecvAt > c.sender.rto.rtoMs) {
      const byWindow = Math.floor((c.windowField() << c.rcvWscale) / (2 * q.rcvMss));
      const n = Math.min(byWindow === 0 ? 2 : byWindow, c.prof.quickAcks);
      if (n > q.quickAcks) q.quickAcks = n;
    }
    q.lastDataRecvAt = now;
    return q.quickAcks > 0 && !q.pingpong;
  }
}

// The two small objects below are created only when their policy first acts: their time
// fields hold fractions and -Infinity, which V8 keeps in a separate heap box per field
// (deadlines.ts says why), so a Receiver that never needs them does not pay for the boxes.

/** Linux quick-ACK mode (ackPolicy "quickAck"), after struct inet_connection_sock's icsk_ack. */
class QuickAckState {
  /** Quick ACKs left (icsk_ack.quick). */
  quickAcks = 0;
  /** Interactive mode (inet_csk_in_pingpong_mode): no quick ACKs. */
  pingpong = false;
  /** Receive MSS estimate (icsk_ack.rcv_mss); 0 = no data received yet. */
  rcvMss = 0;
  /** When data last arrived (icsk_ack.lrcvtime). */
  lastDataRecvAt = -Infinity;
}

/** Rate limits on the ACKs that answer bad segments. */
class AnswerLimits {
  /** When the last ACK answering an out-of-window segment went out (oowAck "rateLimited", challengeAck "linux"). */
  lastOowAckAt = -Infinity;
  /** RFC 5961 §7 budget of challenge ACKs. */
  readonly challenge = new ChallengeAckLimiter();
}
