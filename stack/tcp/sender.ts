// The sending half of a connection: what may go out and when (the send window, congestion
// control, Nagle and sender SWS avoidance), what an arriving ACK acknowledges, and
// retransmission: the RTO timer (RFC 6298), fast retransmit and recovery (RFC 5681,
// RFC 6582, RFC 6675 simplified) and zero-window probing (RFC 9293 §3.8.6.1).
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type TcpOption, type TcpSegment } from "../wire/types.js";
import { ByteQueue } from "./byte-queue.js";
import { NewReno } from "./congestion.js";
import type { Connection, SegmentOptionView } from "./connection.js";
import { outSegment } from "./out-segment.js";
import { Deadline } from "./deadlines.js";
import { segmentOptions } from "./options.js";
import { policy } from "./policy.js";
import { RtoEstimator } from "./rto.js";
import { SackScoreboard } from "./scoreboard.js";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.js";
import { isSynchronized } from "./state.js";
import { joinTime, splitTime, timeWords } from "./time-words.js";

// ---------------------------------------------------------------------------------------
// Policies

export const naglePolicy = policy({
  field: "nagle",
  title: "Nagle's algorithm",
  where: "RFC 9293 §3.7.4 (RFC 896): when a small segment may go out (unless nodelay, TCP_NODELAY)",
  choices: {
    rfc896: { meaning: "a small segment waits while any data is unacknowledged", source: "RFC 896, RFC 9293 §3.7.4" },
    minshall: { meaning: "a small segment waits only while an earlier small segment is unacknowledged (100 bytes with MSS 48 go out as 48+48+4 at once)", source: "Linux tcp_nagle_check() / tcp_minshall_check()" },
  },
  knobs: ["nodelay"],
});

export const sackOnDataPolicy = policy({
  field: "sackOnData",
  title: "SACK blocks on data and FIN segments",
  where: "RFC 2018 §4: which of our segments carry the SACK option while out-of-order data is held",
  choices: {
    pureAcks: { meaning: "pure ACKs only; data segments carry timestamps alone, so every full segment has the same payload", source: "RFC 2018 §4 (SHOULD)" },
    every: {
      meaning: "every segment with the ACK bit, data and FIN included; a data segment's payload shrinks by the option's bytes (4 + 8 per block) so the segment still fits the MSS",
      source: "Linux tcp_established_options() (SACK blocks whenever rx_opt.num_sacks), tcp_current_mss()",
    },
  },
});

export const zeroWindowProbePolicy = policy({
  field: "zeroWindowProbe",
  title: "Zero-window probe",
  where: "RFC 9293 §3.8.6.1 (the probe's form is left open)",
  choices: {
    oneByte: { meaning: "one byte of new data beyond the window (or the FIN)", source: "RFC 1122 §4.2.2.17; BSD, Windows" },
    ackBelowUna: {
      meaning: "an empty ACK with SEG.SEQ = SND.UNA - 1, which the receiver finds unacceptable and answers with an ACK carrying its window; nothing is sent into the closed window",
      source: "Linux tcp_xmit_probe_skb()",
    },
  },
  knobs: ["dataRetries"],
});

export const rtoFormulaPolicy = policy({
  field: "rtoFormula",
  title: "RTO formula",
  where: "RFC 6298 §2.3-2.4: RTO from SRTT and RTTVAR",
  choices: {
    rfc6298: { meaning: "RTO = max(rtoMinMs, SRTT + max(G, 4 * RTTVAR))", source: "RFC 6298 §2.3, §2.4" },
    linux: { meaning: "RTO = SRTT + max(4 * RTTVAR, rtoMinMs): the minimum bounds the variance term (a 10 ms path waits 210 ms, not 200)", source: "Linux tcp_set_rto() / tcp_rtt_estimator()" },
  },
  knobs: ["rtoMinMs", "rtoMaxMs", "initialRtoMs"],
});

// Sender.finBits
const FIN_QUEUED = 1;
const FIN_SENT = 2;
const FIN_ACKED_SIGNALLED = 4;

/** Sender.fromHandshake(): nothing yet. */
const NO_HANDSHAKE_RTT = -1;
splitTime(NO_HANDSHAKE_RTT);
const NO_HANDSHAKE_RTT_W0 = timeWords[0];
const NO_HANDSHAKE_RTT_W1 = timeWords[1];

/**
 * What a sender needs only once it has lost a segment or met a zero window: the hole walk
 * of fast recovery, the persist back-off and the counters. Created by the first write of a
 * non-zero value, so an ESTABLISHED connection that never lost anything carries one field for
 * these seven (56 bytes less; the kept-open engine benchmark is bound by the garbage
 * collector copying its connections).
 */
class Losses {
  holeNext = 0;
  persistShift = 0;
  probesUnanswered = 0;
  retransmits = 0;
  fastRetransmits = 0;
  timeouts = 0;
  zeroWindowProbes = 0;
}

export const tailLossProbePolicy = policy({
  field: "tailLossProbe",
  title: "Tail loss probe",
  where: "RFC 8985 §7: a probe before the RTO when the last segments sent are not acknowledged",
  choices: {
    none: { meaning: "none: the retransmission timer alone recovers a lost tail", source: "RFC 6298 (RFC 8985 is optional)" },
    linux: {
      meaning:
        "with SACK and outside recovery, the timer after a send or an ACK of new data is a probe timeout: 2 SRTT + 2 ms (+ rtoMinMs instead of 2 ms with one segment out; initialRtoMs without an RTT sample), never later than the RTO. The probe sends one new segment if the window allows (Nagle and cwnd aside), else retransmits the last segment sent; one probe until an ACK covers it; the RTO restarts from the probe",
      source: "Linux tcp_schedule_loss_probe(), tcp_send_loss_probe(), tcp_process_tlp_ack(); tcp_rearm_rto()",
    },
  },
});

export const rttSamplePolicy = policy({
  field: "rttSample",
  title: "RTT samples",
  where: "RFC 6298 §2-3, RFC 7323 §4: which ACKs give an RTT measurement, and its weight",
  choices: {
    rfc7323: {
      meaning: "with timestamps, every ACK that advances SND.UNA: now - TSecr (whole ms), the gains divided by the samples expected per RTT; without, one segment timed at a time (Karn)",
      source: "RFC 7323 §4.1 and Appendix G; RFC 6298 §3",
    },
    linux: {
      meaning:
        "every ACK that advances SND.UNA: the time since the oldest segment it newly acknowledges was sent (sub-ms); if a retransmitted one is among them, now - TSecr (whole ms, at least 1) when timestamps are on, else none; gains 1/8 and 1/4 per sample",
      source: "Linux tcp_clean_rtx_queue(), tcp_ack_update_rtt(), tcp_rtt_estimator()",
    },
  },
});

/**
 * What the linux policies keep of the segments sent (rttSample, tailLossProbe "linux"):
 * created with the first data sent.
 */
interface TlpState {
  /** When the retransmission timer would fire were no probe armed (tcp_rto_delta_us()). */
  rtoAt: number;
  /** The expiry of the armed probe timer (Connection.rexmitAt), NaN when none is armed. */
  probeAt: number;
  /** SND.NXT when the last probe went, while it is unacknowledged (tlp_high_seq); -1 = none. */
  highSeq: number;
  /** That probe was a retransmission (tlp_retrans). */
  retrans: boolean;
  /** Where the last new segment started: a probe retransmits from there (the last skb). */
  lastSeq: number;
  /** Ends of the new segments sent and not yet acknowledged (Linux packets_out). */
  segEnds: number[];
  /** When each of them was last sent; -1 once retransmitted (TCPCB_RETRANS: no RTT sample). */
  segAt: number[];
  /** The first entry of segEnds/segAt still outstanding (acknowledged ones are dropped in bulk). */
  segHead: number;
}

/** Drops the segments `ack` covers from the log; returns how many went and whether one was retransmitted. */
function ackSegments(t: TlpState, ack: number): { n: number; first: number; retransmitted: boolean } {
  const ends = t.segEnds;
  const first = t.segHead < ends.length ? t.segAt[t.segHead]! : -1;
  let i = t.segHead;
  let retransmitted = false;
  while (i < ends.length && seqLe(ends[i]!, ack)) {
    if (t.segAt[i]! < 0) retransmitted = true;
    i++;
  }
  const n = i - t.segHead;
  t.segHead = i;
  if (i === ends.length) {
    ends.length = 0;
    t.segAt.length = 0;
    t.segHead = 0;
  } else if (i > 64 && i * 2 > ends.length) {
    ends.splice(0, i);
    t.segAt.splice(0, i);
    t.segHead = 0;
  }
  return { n, first, retransmitted };
}

/**
 * The send side of one connection; created when first needed (a connection in SYN-SENT
 * has none: see Connection.sender). Its estimator, congestion state, scoreboard and buffer
 * are created on first use too.
 */
export class Sender {
  // The send window's bookkeeping besides SND.WND (Connection.sndWnd), here rather than in the
  // Connection because a connection in SYN-SENT has no use for it (the memory benchmark:
  // heap per SYN-SENT connection). SND.WL1 and SND.WL2 are int32, as the Connection's
  // sequence variables (see there).
  private sndWl1I32 = 0;
  private sndWl2I32 = 0;
  /** MAX.SND.WND (RFC 5961 §5.2): the largest window the peer has offered. */
  maxSndWnd = 0;
  /** The peer's MSS option (undefined if it sent none). */
  peerMss: number | undefined = undefined;
  private sendQState: ByteQueue | undefined = undefined;
  private rtoState: RtoEstimator | undefined = undefined;
  /** handshakeRtt (below), as two int32 halves (time-words.ts: no heap box). */
  private handshakeRttW0 = NO_HANDSHAKE_RTT_W0;
  private handshakeRttW1 = NO_HANDSHAKE_RTT_W1;
  private ccState: NewReno | undefined = undefined;
  /** The SMSS to start `cc` with when it is made (-1: startCongestionControl() not called yet). */
  private ccStartSmss = -1;
  private scoreboardState: SackScoreboard | undefined = undefined;
  /** Total bytes acknowledged by the peer since the start. */
  totalAcked = 0;
  /** finSeq (below), int32 as SND.WL1. */
  private finSeqI32 = 0;
  /**
   * finQueued, finSent and finAckedSignalled (below) as bits: two fields fewer in every
   * ESTABLISHED connection, which the kept engine benchmark's garbage collector copies
   * (BENCHMARKS.md, phase 5).
   */
  private finBits = 0;
  /** Retransmission-timer expiries since SND.UNA last advanced (R2 counts them). */
  rexmitCount = 0;
  /** Without timestamps one segment is timed at a time (Karn, RFC 6298 §3); rttStart -1 = none. rttSeq int32, as SND.WL1. */
  private rttSeqI32 = 0;
  private rttStart = -1;
  /** End of the last small (< MSS) new segment sent (nagle "minshall"); int32, like NewReno.recover. */
  private sndSml: number;
  /** Loss recovery and zero-window probing; created by the first non-zero write (see Losses). */
  private lossState: Losses | undefined = undefined;
  /** tailLossProbe / rttSample "linux" state (undefined for other profiles, or before data is sent). */
  private tlp: TlpState | undefined = undefined;

  constructor(private readonly c: Connection) {
    this.sndSml = c.iss | 0;
  }

  /** close() was called: send FIN once the send buffer has drained. */
  get finQueued(): boolean { return (this.finBits & FIN_QUEUED) !== 0; }
  set finQueued(v: boolean) { this.finBits = v ? this.finBits | FIN_QUEUED : this.finBits & ~FIN_QUEUED; }
  /** Our FIN has been transmitted at least once (its sequence number is finSeq). */
  get finSent(): boolean { return (this.finBits & FIN_SENT) !== 0; }
  set finSent(v: boolean) { this.finBits = v ? this.finBits | FIN_SENT : this.finBits & ~FIN_SENT; }
  /** The acknowledgment of our FIN has been acted on (once: arrival.ts). */
  get finAckedSignalled(): boolean { return (this.finBits & FIN_ACKED_SIGNALLED) !== 0; }
  set finAckedSignalled(v: boolean) { this.finBits = v ? this.finBits | FIN_ACKED_SIGNALLED : this.finBits & ~FIN_ACKED_SIGNALLED; }
  /** The sequence number of our FIN. */
  get finSeq(): number { return this.finSeqI32 >>> 0; }
  set finSeq(v: number) { this.finSeqI32 = v | 0; }
  private get rttSeq(): number { return this.rttSeqI32 >>> 0; }
  private set rttSeq(v: number) { this.rttSeqI32 = v | 0; }
  /** SND.WL1: segment sequence number used for the last window update. */
  get sndWl1(): number { return this.sndWl1I32 >>> 0; }
  set sndWl1(v: number) { this.sndWl1I32 = v | 0; }
  /** SND.WL2: segment acknowledgment number used for the last window update. */
  get sndWl2(): number { return this.sndWl2I32 >>> 0; }
  set sndWl2(v: number) { this.sndWl2I32 = v | 0; }

  /** The handshake's word for `rto` while it is not made yet (see fromHandshake()): an RTT in ms with fractions. */
  private get handshakeRtt(): number { return joinTime(this.handshakeRttW0, this.handshakeRttW1); }
  private set handshakeRtt(t: number) { splitTime(t); this.handshakeRttW0 = timeWords[0]; this.handshakeRttW1 = timeWords[1]; }

  // Loss recovery and probing state, read as 0 until a loss or probe first writes it.
  /** Fast recovery: the next sequence number to consider for a hole retransmission (RFC 6675 HighRxt). */
  private get holeNext(): number { return this.lossState === undefined ? 0 : this.lossState.holeNext; }
  private set holeNext(v: number) { if (v !== 0 || this.lossState !== undefined) this.losses.holeNext = v; }
  /** Persist timer back-off: doublings since the peer last answered (RFC 9293 §3.8.6.1). */
  private get persistShift(): number { return this.lossState === undefined ? 0 : this.lossState.persistShift; }
  private set persistShift(v: number) { if (v !== 0 || this.lossState !== undefined) this.losses.persistShift = v; }
  /** Zero-window probes sent since the peer last answered with an acceptable ACK. */
  get probesUnanswered(): number { return this.lossState === undefined ? 0 : this.lossState.probesUnanswered; }
  set probesUnanswered(v: number) { if (v !== 0 || this.lossState !== undefined) this.losses.probesUnanswered = v; }
  // Counters for traces and tests
  get retransmits(): number { return this.lossState === undefined ? 0 : this.lossState.retransmits; }
  get fastRetransmits(): number { return this.lossState === undefined ? 0 : this.lossState.fastRetransmits; }
  get timeouts(): number { return this.lossState === undefined ? 0 : this.lossState.timeouts; }
  get zeroWindowProbes(): number { return this.lossState === undefined ? 0 : this.lossState.zeroWindowProbes; }
  private get losses(): Losses {
    return (this.lossState ??= new Losses());
  }

  /**
   * RFC 6298 estimator, created on first use (a timer armed for data, an RTT sample, someone
   * asking); what the handshake measured is applied then, so it is in the state it would have
   * had if made at ESTABLISHED (an idle ESTABLISHED connection carries 88 bytes less).
   */
  get rto(): RtoEstimator {
    if (this.rtoState === undefined) {
      const p = this.c.prof;
      this.rtoState = new RtoEstimator(p.initialRtoMs, p.rtoMinMs, p.rtoMaxMs, p.rtoFormula === "linux");
      if (this.handshakeRtt !== NO_HANDSHAKE_RTT) this.rtoState.fromHandshake(this.handshakeRtt);
    }
    return this.rtoState;
  }

  /**
   * What the handshake tells the estimator (RtoEstimator.fromHandshake()): applied now if the
   * estimator exists, else when it is made.
   */
  fromHandshake(rttOrRule: number): void {
    if (this.rtoState !== undefined) this.rtoState.fromHandshake(rttOrRule);
    else this.handshakeRtt = rttOrRule;
  }
  /**
   * Congestion control (RFC 5681 with RFC 6582 NewReno recovery), created on first use: at
   * the first segment sent or acknowledged after the handshake, started with the SMSS that
   * startCongestionControl() recorded at ESTABLISHED, so it is in the state it would have had
   * if made then (an idle ESTABLISHED connection carries 64 bytes less).
   */
  get cc(): NewReno {
    if (this.ccState === undefined) {
      this.ccState = new NewReno(this.c.iss);
      if (this.ccStartSmss >= 0) this.ccState.start(this.ccStartSmss);
    }
    return this.ccState;
  }
  /** What the peer has SACKed above SND.UNA (RFC 2018), when SACK was negotiated. */
  private get scoreboard(): SackScoreboard {
    return (this.scoreboardState ??= new SackScoreboard());
  }
  private get sendQ(): ByteQueue {
    return (this.sendQState ??= new ByteQueue());
  }

  /** Bytes queued for sending and not yet acknowledged. */
  get buffered(): number {
    return this.sendQState === undefined ? 0 : this.sendQState.length;
  }

  /** Queues data (SEND, RFC 9293 §3.10.2) and sends what may go. */
  queue(data: Uint8Array, now: number): void {
    this.sendQ.append(data);
    this.output(now);
  }

  /** RFC 5681 §3.1 initial window, with RFC 6928's 10 segments as Linux does (see `cc`). */
  startCongestionControl(): void {
    const smss = this.segmentPayloadMax();
    if (this.ccState !== undefined) this.ccState.start(smss);
    else this.ccStartSmss = smss;
  }

  /** Effective payload per segment (SMSS): MSS less the option bytes every segment carries. */
  segmentPayloadMax(): number {
    return Math.max(1, this.c.sndMss - (this.c.tsEnabled ? 12 : 0));
  }

  /** Sequence number just after the last queued data byte (the FIN's sequence number once queued). */
  dataEnd(): number {
    return seqAdd(this.c.sndUna, this.buffered);
  }

  /**
   * Options of a data or FIN segment: timestamps, and SACK blocks only under sackOnData
   * "every" (otherwise every full segment carries the same payload; SACK goes in pure ACKs).
   */
  private dataOptions(now: number): TcpOption[] {
    const c = this.c;
    const ts = c.tsEnabled ? { val: c.tsVal(now), ecr: c.tsRecent } : undefined;
    return segmentOptions(ts, c.prof.sackOnData === "every" ? c.rcvPart?.sackBlocks() : undefined);
  }

  /**
   * The payload one segment may carry now: segmentPayloadMax() less the SACK option a data
   * segment carries under sackOnData "every" (tcp_current_mss(): 4 bytes + 8 per block).
   */
  private sendPayloadMax(): number {
    const c = this.c;
    const base = this.segmentPayloadMax();
    if (c.prof.sackOnData !== "every") return base;
    const n = c.rcvPart?.sackBlocks()?.length ?? 0;
    return n === 0 ? base : Math.max(1, base - 4 - 8 * n);
  }

  // -------------------------------------------------------------------------------------
  // Output

  /**
   * Sends what the windows allow from SND.NXT (RFC 9293 §3.8.6.2, RFC 5681 cwnd, Nagle
   * RFC 896 / RFC 9293 §3.7.4 unless nodelay). After a timeout SND.NXT has been rewound to
   * SND.UNA and this resends (go-back-N), skipping what the peer has SACKed.
   */
  output(now: number): void {
    const c = this.c;
    if (c.prof.tailLossProbe !== "linux") return this.fill(now);
    // tailLossProbe "linux": new data sent re-arms the probe (tcp_write_xmit() ends with
    // tcp_schedule_loss_probe(), the RTO due from the earlier sends).
    const before = c.sndMax;
    this.fill(now);
    if (c.sndMax !== before) this.scheduleProbe(now, false);
  }

  /** output() without the loss probe: sends what may go. */
  private fill(now: number): void {
    const c = this.c;
    const p = c.prof;
    // Data queued during the handshake waits for ESTABLISHED (RFC 9293 §3.10.2).
    if (!isSynchronized(c.state) || c.state === "TIME-WAIT") return;
    const smss = this.sendPayloadMax();
    const dataEnd = this.dataEnd();
    for (;;) {
      const resending = seqLt(c.sndNxt, c.sndMax);
      if (resending && c.sackEnabled) {
        const e = this.scoreboard.sackedEnd(c.sndNxt);
        if (e !== undefined) {
          c.sndNxt = seqLt(e, c.sndMax) ? e : c.sndMax;
          continue;
        }
      }
      const unsent = seqDiff(dataEnd, c.sndNxt);
      if (unsent <= 0) {
        // Everything is sent; the FIN goes once the data is out (RFC 9293 §3.10.4).
        if (unsent === 0 && this.finQueued && (!this.finSent || resending)) this.transmit(c.sndNxt, 0, true, now, resending ? "resend FIN" : "send FIN", "RFC 9293 §3.10.4");
        return;
      }
      const inWindow = seqDiff(c.sndNxt, c.sndUna);
      // RFC 3042 Limited Transmit: the first two duplicate ACKs each let one new segment out
      // beyond cwnd, so a small window still produces the three duplicates fast retransmit needs.
      const limited = !resending && !this.cc.inRecovery && this.cc.dupAcks > 0 && this.cc.dupAcks < 3 ? this.cc.dupAcks * smss : 0;
      const usable = Math.min(c.sndWnd, this.cc.cwnd + limited) - inWindow;
      let len = Math.min(unsent, smss);
      if (resending) {
        const s = this.scoreboard.nextSackedStart(c.sndNxt);
        if (s !== undefined) len = Math.min(len, seqDiff(s, c.sndNxt));
      }
      if (usable < len) {
        if (this.c.flightSize() === 0 && c.deadline(Deadline.persist) === Infinity) {
          // Zero (or too small) window with nothing in flight: the persist timer probes it,
          // or forces out what fits when the SWS override expires (RFC 9293 §3.8.6.1, §3.8.6.2.1).
          c.setDeadline(Deadline.persist, c.timerExpiry(now, this.persistTimeoutMs()));
          c.host.rearm(c);
        }
        if (usable <= 0) return;
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a partial segment only if it is at least
        // half the largest window the peer offered, or all that is left to send.
        if (usable < unsent && usable < this.maxSndWnd / 2) return;
        len = usable;
      }
      // Nagle: hold a small new segment while data is unacknowledged (never a retransmission);
      // nagle "minshall": only while a small segment is unacknowledged.
      if (!resending && len < smss && !p.nodelay && this.c.flightSize() > 0 &&
          (p.nagle === "rfc896" || (seqGt(this.sndSml, c.sndUna) && seqLe(this.sndSml, c.sndNxt)))) return;
      if (!resending && len < smss) this.sndSml = seqAdd(c.sndNxt, len) | 0;
      const withFin = len === unsent && this.finQueued && (!this.finSent || resending);
      this.transmit(c.sndNxt, len, withFin, now, resending ? "resend data (go-back-N)" : withFin ? "send data + FIN" : "send data");
    }
  }

  /**
   * Puts `len` bytes starting at `seq` (and our FIN if `fin`) on the wire. SND.NXT moves on
   * when `seq` is SND.NXT; fast-recovery retransmissions of holes leave it alone.
   */
  private transmit(seq: number, len: number, fin: boolean, now: number, why: string, rule?: string): void {
    const c = this.c;
    const p = c.prof;
    const dataEnd = this.dataEnd();
    const payload = len > 0 ? this.sendQ.slice(seqDiff(seq, c.sndUna), len) : undefined;
    let flags = TCP_ACK;
    if (len > 0 && seqAdd(seq, len) === dataEnd) flags |= TCP_PSH;
    if (fin) {
      flags |= TCP_FIN;
      if (!this.finSent) {
        this.finSent = true;
        this.finSeq = dataEnd;
        if (c.state === "ESTABLISHED") c.setState("FIN-WAIT-1", now, "RFC 9293 §3.10.4: CLOSE in ESTABLISHED -> FIN-WAIT-1");
        else if (c.state === "CLOSE-WAIT") c.setState("LAST-ACK", now, "RFC 9293 §3.10.4: CLOSE in CLOSE-WAIT -> LAST-ACK");
      }
    }
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    const fresh = seqGe(seq, c.sndMax);
    if (seq === c.sndNxt && seqGt(end, c.sndNxt)) c.sndNxt = end;
    if (seqGt(end, c.sndMax)) c.sndMax = end;
    if (!fresh) this.losses.retransmits++;
    // Karn (RFC 6298 §3): time only a segment sent for the first time. With timestamps every
    // ACK gives a sample instead (RFC 7323 §4).
    if (!c.tsEnabled && fresh && this.rttStart < 0) {
      this.rttStart = now;
      this.rttSeq = end;
    }
    // ackPolicy "quickAck" (Linux tcp_event_data_sent()): data sent within the delayed-ACK
    // time of data received is a reply: the connection is interactive (pingpong), quick
    // ACKs stop.
    const q = c.rcvPart?.quick;
    if (len > 0 && q !== undefined && p.ackPolicy === "quickAck" && now - q.lastDataRecvAt < p.delayedAckMs) q.pingpong = true;
    c.emitSeg(outSegment(seq, c.rcvNxt, flags, c.windowField(), this.dataOptions(now), payload), now, why, rule);
    if (p.tailLossProbe === "linux" || p.rttSample === "linux") {
      const t = (this.tlp ??= { rtoAt: Infinity, probeAt: NaN, highSeq: -1, retrans: false, lastSeq: seq, segEnds: [], segAt: [], segHead: 0 });
      if (fresh) {
        t.lastSeq = seq;
        t.segEnds.push(end);
        t.segAt.push(now);
      } else {
        // A retransmission: the segments it covers are timed no more.
        for (let i = t.segHead; i < t.segEnds.length; i++) {
          const start = i === t.segHead ? c.sndUna : t.segEnds[i - 1]!;
          if (!seqLt(start, end)) break;
          if (seqLt(seq, t.segEnds[i]!)) t.segAt[i] = -1;
        }
      }
      if (c.rexmitAt === Infinity) t.rtoAt = now + this.rto.rtoMs;
    }
    if (c.rexmitAt === Infinity) {
      c.rexmitAt = c.timerExpiry(now, this.rto.rtoMs); // RFC 6298 §5.1
      c.host.rearm(c);
    }
  }

  /**
   * tailLossProbe "linux" (RFC 8985 §7.2; Linux tcp_schedule_loss_probe()): arm the probe
   * timer in place of the retransmission timer when the connection may probe: SACK on, data
   * out, no recovery or timeout under way. PTO = 2 SRTT + 2 ms, or 2 SRTT + rtoMinMs with one
   * segment out (a delayed ACK), or initialRtoMs without an RTT sample; never later than the
   * RTO: with `advancing` (an ACK of new data restarts the RTO) RTO from now, else when it
   * is due from the earlier sends (tcp_rto_delta_us()).
   */
  private scheduleProbe(now: number, advancing: boolean): void {
    const c = this.c;
    const t = this.tlp;
    if (t === undefined || c.prof.tailLossProbe !== "linux" || !c.sackEnabled || this.c.flightSize() === 0 || this.cc.inRecovery || this.rexmitCount > 0 || c.deadline(Deadline.persist) !== Infinity) return;
    if (!isSynchronized(c.state) || c.state === "TIME-WAIT") return;
    const p = c.prof;
    const rto = this.rto;
    const packetsOut = Math.max(1, t.segEnds.length - t.segHead);
    let pto = rto.hasSample ? 2 * rto.srttMs + (packetsOut === 1 ? p.rtoMinMs : 2) : p.initialRtoMs;
    if (advancing) t.rtoAt = now + rto.rtoMs;
    const rtoDelta = t.rtoAt - now;
    if (rtoDelta > 0) pto = Math.min(pto, rtoDelta);
    c.rexmitAt = t.probeAt = c.timerExpiry(now, pto);
    c.host.rearm(c);
  }

  /**
   * The probe timer fired (Linux tcp_send_loss_probe()): one new segment if the window takes
   * it, else the last segment sent again; SND.NXT noted so only one probe goes per tail
   * (tlp_high_seq); the RTO restarts from now. If a probe is still unanswered, the RTO is
   * re-armed for when it was due instead.
   */
  private onProbeTimer(now: number): void {
    const c = this.c;
    const t = this.tlp!;
    t.probeAt = NaN;
    // tcp_rearm_rto(): the rest of the RTO, at least one jiffy (usecs_to_jiffies(max(delta, 1))).
    const rest = Math.max(t.rtoAt - now, 0.001);
    if (t.highSeq >= 0) {
      c.rexmitAt = c.timerExpiry(now, rest);
      return;
    }
    const smss = this.sendPayloadMax();
    const unsent = seqDiff(this.dataEnd(), c.sndNxt);
    let sent = false;
    if (unsent > 0 && c.sndNxt === c.sndMax) {
      // tcp_snd_wnd_test(): the segment must fit the peer's window; cwnd and Nagle do not count.
      const len = Math.min(unsent, smss);
      if (seqLe(seqAdd(c.sndNxt, len), seqAdd(c.sndUna, c.sndWnd))) {
        const withFin = len === unsent && this.finQueued && !this.finSent;
        this.transmit(c.sndNxt, len, withFin, now, "tail loss probe: new data", "RFC 8985 §7.3 / linux tcp_send_loss_probe()");
        t.retrans = false;
        sent = true;
      }
    }
    if (!sent) {
      const from = seqLt(t.lastSeq, c.sndUna) ? c.sndUna : t.lastSeq;
      sent = this.resend(from, smss, now, "tail loss probe: retransmit the last segment", "RFC 8985 §7.3 / linux tcp_send_loss_probe()") > 0;
      t.retrans = true;
    }
    if (!sent) {
      c.rexmitAt = c.timerExpiry(now, rest);
      return;
    }
    t.highSeq = c.sndMax;
  }

  /**
   * An ACK while a probe is unacknowledged (Linux tcp_process_tlp_ack()): one that covers the
   * probe's SND.NXT ends the episode when the probe was new data or the ACK went beyond it;
   * one that stops at it ends it only as a pure duplicate (original and probe both arrived).
   * The congestion window reduction Linux makes when the ACK goes beyond a retransmitted
   * probe (a loss the probe repaired) is not modelled.
   */
  private tlpAck(seg: TcpSegment, advanced: boolean): void {
    const t = this.tlp;
    if (t === undefined || t.highSeq < 0 || seqLt(seg.ack, t.highSeq)) return;
    if (!t.retrans || seqGt(seg.ack, t.highSeq) || (!advanced && seg.payload.length === 0 && (seg.window << this.c.sndWscale) === this.c.sndWnd)) t.highSeq = -1;
  }

  /**
   * Retransmits `maxLen` bytes at `seq` (less if the data ends sooner), with the FIN when it
   * is next. Returns the sequence space sent (0 if there was nothing there).
   */
  private resend(seq: number, maxLen: number, now: number, why: string, rule: string): number {
    const avail = seqDiff(this.dataEnd(), seq);
    const len = Math.max(0, Math.min(maxLen, avail));
    const fin = this.finSent && seqAdd(seq, len) === this.finSeq;
    if (len === 0 && !fin) return 0;
    this.transmit(seq, len, fin, now, why, rule);
    return len + (fin ? 1 : 0);
  }

  /**
   * Fast recovery: retransmits the next hole at or after `holeNext`. With `first` set it is
   * the fast retransmit of SND.UNA itself; otherwise (SACK only) only holes below the highest
   * SACKed byte count as lost (RFC 6675 §4 IsLost, simplified). Returns true if it sent.
   */
  private retransmitHole(now: number, first: boolean, why: string, rule: string): boolean {
    const c = this.c;
    let seq = first || seqLt(this.holeNext, c.sndUna) ? c.sndUna : this.holeNext;
    for (;;) {
      const e = this.scoreboard.sackedEnd(seq);
      if (e === undefined) break;
      seq = e;
    }
    const limit = first ? c.sndMax : this.scoreboard.highestSacked;
    if (limit === undefined || !seqLt(seq, limit)) return false;
    let len = Math.min(this.sendPayloadMax(), seqDiff(limit, seq));
    const next = this.scoreboard.nextSackedStart(seq);
    if (next !== undefined) len = Math.min(len, seqDiff(next, seq));
    const sent = this.resend(seq, len, now, why, rule);
    if (sent === 0) return false;
    this.holeNext = seqAdd(seq, sent);
    return true;
  }

  // -------------------------------------------------------------------------------------
  // Arriving ACKs (RFC 9293 §3.10.7.4 fifth step, after the acceptability checks)

  /** An acceptable ACK: what it acknowledges, duplicate ACKs, and the send window. */
  onAck(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const c = this.c;
    this.probesUnanswered = 0;
    if (c.sackEnabled && opt.sack) this.scoreboard.update(opt.sack, c.sndUna, c.sndMax);
    const advanced = seqGt(seg.ack, c.sndUna);
    if (this.tlp !== undefined) this.tlpAck(seg, advanced);
    if (advanced) {
      this.onNewAck(seg, now, opt);
    } else if (
      seg.ack === c.sndUna &&
      seg.payload.length === 0 &&
      !(seg.flags & (TCP_FIN | TCP_SYN)) &&
      this.c.flightSize() > 0 &&
      seg.window << c.sndWscale === c.sndWnd
    ) {
      // RFC 5681 §2: a duplicate ACK (no data, no SYN/FIN, same ACK and window, data outstanding).
      this.onDupAck(now);
    }
    // Update the send window (RFC 9293 §3.10.7.4: SND.WL1 < SEG.SEQ or (= and SND.WL2 =< SEG.ACK)),
    // only "if SND.UNA =< SEG.ACK =< SND.NXT": an old ACK never moves the window.
    if (seqGe(seg.ack, c.sndUna) && (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, seg.ack)))) {
      c.updateSendWindow(seg, false);
    }
  }

  /** The window opened while the persist timer ran: leave persist mode (RFC 9293 §3.8.6.1). */
  windowOpened(): void {
    const c = this.c;
    // A probe byte still unacknowledged must stay covered by a timer (RFC 6298 §5.1), or
    // Nagle holds the rest behind it forever if the probe was lost (found by the fuzzer).
    if (c.rexmitAt === Infinity && this.c.flightSize() > 0) c.rexmitAt = c.deadline(Deadline.persist);
    c.setDeadline(Deadline.persist, Infinity);
    this.persistShift = 0;
  }

  /** An ACK that advances SND.UNA (RFC 9293 §3.10.7.4, RFC 6298 §5, RFC 5681, RFC 6582). */
  private onNewAck(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const c = this.c;
    const ack = seg.ack;
    const acked = seqDiff(ack, c.sndUna);
    // Bytes of data acknowledged (our FIN's sequence number is not data).
    const dataAcked = Math.min(acked, this.buffered);
    c.sndUna = ack;
    if (seqLt(c.sndNxt, ack)) c.sndNxt = ack;
    if (this.sendQState !== undefined) this.sendQState.consume(dataAcked);
    this.totalAcked += dataAcked;
    this.scoreboardState?.advance(ack);
    this.rexmitCount = 0;
    // RTT measurement: RFC 7323 §4.1 RTTM from TSecr on every ACK that advances SND.UNA,
    // weighted by the samples expected per RTT (RFC 7323 Appendix G); else the one timed
    // segment (Karn, RFC 6298 §3: rttStart is cleared when anything is retransmitted).
    // rttSample "linux": from the send time of the oldest segment newly acknowledged.
    const t = this.tlp;
    if (t !== undefined && c.prof.rttSample === "linux") {
      const a = ackSegments(t, ack);
      if (a.n > 0 && !a.retransmitted) this.rto.sample(now - a.first);
      else if (a.n > 0 && c.tsEnabled && opt.ts && opt.ts.ecr !== 0) {
        const r = seqDiff(c.tsVal(now), opt.ts.ecr);
        if (r >= 0 && r <= c.prof.rtoMaxMs) this.rto.sample(Math.max(1, r));
      }
    } else if (c.tsEnabled && opt.ts && opt.ts.ecr !== 0) {
      const r = seqDiff(c.tsVal(now), opt.ts.ecr);
      if (r >= 0 && r <= c.prof.rtoMaxMs) {
        const expected = Math.max(1, Math.ceil((this.c.flightSize() + acked) / (2 * this.segmentPayloadMax())));
        this.rto.sample(r, expected);
      }
    } else if (this.rttStart >= 0 && seqGe(ack, this.rttSeq)) {
      this.rto.sample(now - this.rttStart);
      this.rttStart = -1;
    }
    const smss = this.segmentPayloadMax();
    const verdict = this.cc.onNewAck(ack, acked, this.c.flightSize(), smss);
    if (verdict === "partial") {
      // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment, unless this
      // recovery already resent it (with SACK the hole walk may be ahead of the ACK).
      if (!c.sackEnabled || !seqLt(ack, this.holeNext)) {
        this.holeNext = ack;
        this.retransmitHole(now, true, "partial ACK in fast recovery -> retransmit", "RFC 6582 §3.2 step 5");
      } else {
        this.retransmitHole(now, false, "partial ACK: retransmit next SACK hole", "RFC 6675 §5 (simplified)");
      }
      if (!this.cc.partialSeen) {
        // Impatient variant: reset the timer on the first partial ACK only.
        this.cc.partialSeen = true;
        c.rexmitAt = c.timerExpiry(now, this.rto.rtoMs);
      }
    } else {
      // RFC 6298 §5.2 / §5.3: all data acknowledged -> stop the timer, else restart it.
      c.rexmitAt = this.c.flightSize() > 0 ? c.timerExpiry(now, this.rto.rtoMs) : Infinity;
      if (t !== undefined) {
        // tailLossProbe "linux" (tcp_set_xmit_timer()): the probe instead, if it may go.
        t.probeAt = NaN;
        ackSegments(t, ack);
        t.rtoAt = now + this.rto.rtoMs;
        if (c.prof.tailLossProbe === "linux") this.scheduleProbe(now, true);
      }
    }
    if (this.c.flightSize() === 0) c.rexmitAt = Infinity;
    if (dataAcked > 0) c.ev?.acked?.(c, this.totalAcked);
  }

  /** A duplicate ACK: fast retransmit on the third (RFC 5681 §3.2), hole filling in recovery. */
  private onDupAck(now: number): void {
    const c = this.c;
    const smss = this.segmentPayloadMax();
    if (this.cc.onDupAck(c.sndUna, this.c.flightSize(), c.sndMax, smss)) {
      this.losses.fastRetransmits++;
      this.rttStart = -1;
      c.host.trace(c, now, "in", `3 duplicate ACKs: fast retransmit, cwnd ${this.cc.cwnd}, ssthresh ${this.cc.ssthresh}`, "RFC 5681 §3.2 / RFC 6582 §3.2");
      this.retransmitHole(now, true, "3 duplicate ACKs -> fast retransmit", "RFC 5681 §3.2 step 2");
      return;
    }
    if (this.cc.inRecovery && c.sackEnabled) {
      // Each duplicate ACK says a segment left the network: spend that on the next SACK
      // hole rather than on new data (RFC 6675 §5 step (C), simplified: no pipe estimate).
      if (this.retransmitHole(now, false, "dup ACK in recovery -> retransmit next SACK hole", "RFC 6675 §5")) this.cc.cwnd = Math.max(smss, this.cc.cwnd - smss);
    }
  }

  // -------------------------------------------------------------------------------------
  // Timers

  /** Persist / SWS-override timeout: the RTO, doubled per unanswered probe, capped (RFC 9293 §3.8.6.1). */
  private persistTimeoutMs(): number {
    return Math.min(this.c.prof.rtoMaxMs, this.rto.rtoMs * 2 ** this.persistShift);
  }

  /** The retransmission timer expired in a synchronised state (RFC 6298 §5.4-5.7). */
  onRexmitTimer(now: number, firedAt = now): void {
    const c = this.c;
    if (this.c.flightSize() === 0 || c.state === "TIME-WAIT") return;
    const t = this.tlp;
    if (t !== undefined) {
      if (firedAt === t.probeAt) return this.onProbeTimer(now);
      // A timeout ends the probe episode (tcp_enter_loss()).
      t.highSeq = -1;
      t.probeAt = NaN;
    }
    if (c.sndWnd === 0) {
      // The peer's window is closed: what is outstanding cannot be accepted now. Probe the
      // window instead (RFC 9293 §3.8.6.1); probing does not count as retransmission.
      c.sndNxt = c.sndUna;
      this.probeZeroWindow(now);
      return;
    }
    // Data retransmission give-up, R2 of RFC 1122 §4.2.3.5 counted in retransmissions: the
    // timer expiring after profile.dataRetries retransmissions of the same data ends the
    // connection (windows 5, linux 15, freebsd 12, rfc 8; see profiles.ts).
    if (this.rexmitCount >= c.prof.dataRetries) {
      c.giveUp(now, `R2: ${this.rexmitCount} retransmissions of SND.UNA unanswered (RFC 1122 §4.2.3.5)`);
      return;
    }
    this.rexmitCount++;
    this.losses.timeouts++;
    c.host.trace(c, now, "timer", `retransmission timer expired (#${this.rexmitCount}), RTO ${this.rto.rtoMs} ms`, "RFC 6298 §5.4-5.6");
    // RFC 5681 §3.1 eq. 4 (ssthresh from FlightSize on the first timeout), cwnd = loss window.
    this.cc.onTimeout(this.c.flightSize(), c.sndMax, this.segmentPayloadMax(), this.rexmitCount === 1);
    // RFC 6298 §5.5: back off the timer.
    this.rto.backoff();
    // RFC 2018 §8: the receiver may renege on SACKed data. We keep the scoreboard for the
    // first timeout (as Linux does) and drop it when the timeout repeats.
    if (this.rexmitCount > 1) this.scoreboardState?.clear();
    // Go back to SND.UNA (RFC 6298 §5.4 resends the earliest segment; the rest follows as
    // the loss window grows, skipping SACKed data).
    c.sndNxt = c.sndUna;
    this.holeNext = c.sndUna;
    this.rttStart = -1;
    c.rexmitAt = Infinity;
    this.output(now);
    // RFC 6298 §5.6: restart the timer with the backed-off RTO.
    if (c.rexmitAt === Infinity) c.rexmitAt = c.timerExpiry(now, this.rto.rtoMs);
  }

  /**
   * Persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17). With a zero window: send a probe
   * (zeroWindowProbe policy); probing goes on as long as the peer answers, and gives up like
   * R2 after profile.dataRetries unanswered probes. With a small non-zero window it is the
   * SWS override timeout: send what fits (RFC 9293 §3.8.6.2.1).
   */
  probeZeroWindow(now: number): void {
    const c = this.c;
    c.setDeadline(Deadline.persist, Infinity);
    if (!isSynchronized(c.state) || c.state === "TIME-WAIT") return;
    const unsentFromUna = this.buffered;
    const finPending = this.finQueued && !(this.finSent && seqGt(c.sndUna, this.finSeq));
    if (unsentFromUna === 0 && !finPending) return;
    if (c.sndWnd > 0) {
      const avail = seqDiff(this.dataEnd(), c.sndNxt);
      const len = Math.min(avail, this.segmentPayloadMax(), c.sndWnd - seqDiff(c.sndNxt, c.sndUna));
      if (len > 0) this.transmit(c.sndNxt, len, false, now, "SWS override timeout -> send what fits", "RFC 9293 §3.8.6.2.1");
      this.persistShift = 0;
      this.output(now);
      return;
    }
    if (this.probesUnanswered >= c.prof.dataRetries) {
      c.giveUp(now, `${this.probesUnanswered} zero-window probes unanswered`);
      return;
    }
    this.probesUnanswered++;
    this.losses.zeroWindowProbes++;
    if (c.prof.zeroWindowProbe === "ackBelowUna") {
      // Linux tcp_xmit_probe_skb(): an old sequence number makes the segment unacceptable to
      // the receiver, which must answer with an ACK carrying its window (RFC 9293 §3.10.7.4);
      // nothing is sent into the closed window.
      c.emitSeg(outSegment(seqAdd(c.sndUna, -1), c.rcvNxt, TCP_ACK, c.windowField(), c.ackOptions(now)), now, "zero-window probe (empty, SND.UNA-1)", "RFC 9293 §3.8.6.1 / linux tcp_xmit_probe_skb()");
    } else if (unsentFromUna > 0) this.transmit(c.sndUna, 1, false, now, "zero-window probe (1 byte)", "RFC 9293 §3.8.6.1");
    else this.transmit(c.sndUna, 0, true, now, "zero-window probe (FIN)", "RFC 9293 §3.8.6.1");
    // The probe is timed by the persist timer, not the retransmission timer.
    c.rexmitAt = Infinity;
    this.persistShift++;
    c.setDeadline(Deadline.persist, c.timerExpiry(now, this.persistTimeoutMs()));
    c.host.rearm(c);
  }
}
