// SEGMENT ARRIVES in SYN-RECEIVED and the synchronised states (RFC 9293 §3.10.7.4), step by
// step in the RFC's order, with the policies that change a step (each described below and
// chosen per profile in profiles.ts; docs/profiles.md has the table).
//
// arrivalDisposition() runs the checks up to the fifth step's ACK-bit test and returns what
// to do (disposition.ts) without changing the connection. onSegmentArrival() carries that
// out and, for a segment that passed, goes on with the fifth step (the ACK), the sixth and
// seventh (text, receiver.ts) and the eighth (FIN, receiver.ts).
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpSegment } from "../wire/types.js";
import type { Connection, SegmentOptionView } from "./connection.js";
import { outSegment } from "./out-segment.js";
import { Deadline } from "./deadlines.js";
import { CONTINUE, ack, challengeAck, close, drop, oowAck, type Disposition } from "./disposition.js";
import { resendSynAck, rttFromHandshake } from "./handshake.js";
import { finalAckQueueFull } from "./passive.js";
import { policy } from "./policy.js";
import type { Profile } from "./profiles.js";
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt } from "./seq.js";
import { isSynchronized, type TcpState } from "./state.js";

// ---------------------------------------------------------------------------------------
// Policies

export const synFinPolicy = policy({
  field: "synFin",
  title: "SYN and FIN together",
  where: "before the state machine, every state",
  choices: {
    process: { meaning: "processed like any segment (RFC 9293 has no special rule)", source: "RFC 9293 §3.10.7" },
    drop: { meaning: "dropped silently in every state", source: "FreeBSD tcp_input() with net.inet.tcp.drop_synfin=1" },
  },
});

export const timeWaitPolicy = policy({
  field: "timeWait",
  title: "TIME-WAIT policy",
  where: "RFC 9293 §3.10.7.4 in TIME-WAIT",
  choices: {
    rfc9293: { meaning: "the steps as in the other states: an exact RST (SEG.SEQ = RCV.NXT) ends TIME-WAIT; only a retransmitted FIN is answered (ACK, 2 MSL restarted)", source: "RFC 9293 §3.10.7.4; Linux with net.ipv4.tcp_rfc1337=0" },
    rfc1337: { meaning: "the same, but every RST is ignored, so the 2 MSL quarantine cannot be cut short (TIME-WAIT assassination)", source: "RFC 1337 §3 (remedy TW2); Linux with net.ipv4.tcp_rfc1337=1" },
    freebsd: {
      meaning: "no window or PAWS check: every RST is ignored; a segment without ACK is dropped; a SYN above RCV.NXT ends TIME-WAIT and is looked up again (a listener may take it); every other segment but an exact duplicate ACK is ACKed; a FIN ending at RCV.NXT restarts the 2 MSL timer",
      source: "FreeBSD tcp_twcheck(); RFC 1122 §4.2.2.13 (reuse)",
    },
  },
  knobs: ["mslMs"],
});

export const synCheckPolicy = policy({
  field: "synCheck",
  title: "SYN in a synchronised state",
  where: "RFC 9293 §3.10.7.4 fourth step",
  choices: {
    rfc5961: { meaning: "a challenge ACK, whatever the sequence number; the connection lives", source: "RFC 5961 §4.2, RFC 9293 §3.10.7.4" },
    rfc793: { meaning: "a SYN with RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND resets the connection (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, outcome reset); one outside gets the challenge ACK", source: "RFC 793 §3.9; FreeBSD net.inet.tcp.insecure_syn=1" },
  },
});

export const rstCheckPolicy = policy({
  field: "rstCheck",
  title: "RST in the window",
  where: "RFC 9293 §3.10.7.4 second step",
  choices: {
    rfc5961: { meaning: "only a RST at exactly RCV.NXT resets; another in the window gets a challenge ACK", source: "RFC 5961 §3.2, RFC 9293 §3.10.7.4" },
    rfc793: { meaning: "any RST in the window resets", source: "RFC 793 §3.9; FreeBSD net.inet.tcp.insecure_rst=1" },
  },
});

export const acceptWindowPolicy = policy({
  field: "acceptWindow",
  title: "RCV.WND of the sequence-number test",
  where: "RFC 9293 §3.10.7.4 first step",
  choices: {
    advertised: { meaning: "the window we advertise (at most 65535 << our window scale)", source: "RFC 9293 §3.10.7.4" },
    receiveBuffer: {
      meaning: "the larger of that and the free receive buffer, which exceeds the advertisable window when the buffer was rounded up (65700) without window scaling",
      source: "FreeBSD tcp_input(): rcv_wnd = max(sbspace(), rcv_adv - rcv_nxt)",
    },
  },
});

export const oldSegmentPolicy = policy({
  field: "oldSegment",
  title: "ACK field of a duplicate segment",
  where: "RFC 9293 §3.10.7.4 first step: a segment wholly left of the window",
  choices: {
    rfc9293: { meaning: "answered with an ACK and dropped; its ACK field is not read", source: "RFC 9293 §3.10.7.4" },
    bsd: {
      meaning: "its text and FIN are dropped but its ACK field is processed, then it is answered (an ACK that completes CLOSING or LAST-ACK ends there without an answer): the peer's retransmitted FIN,ACK moves CLOSING to TIME-WAIT",
      source: "BSD tcp_input() \"keep on processing for RST or ACK\" (Stevens, TCP/IP Illustrated vol. 2, p. 960)",
    },
  },
});

export const simOpenRstOutcomePolicy = policy({
  field: "simOpenRstOutcome",
  title: "RST after a simultaneous open",
  where: "RFC 9293 §3.10.7.4 second step: a RST in SYN-RECEIVED reached from SYN-SENT",
  choices: {
    refused: { meaning: "outcome refused (\"the connection was refused\")", source: "RFC 9293 §3.10.7.4" },
    reset: { meaning: "outcome reset: the kernel gives ECONNREFUSED in SYN-SENT only, ECONNRESET in SYN-RECV", source: "Linux tcp_reset()" },
  },
});

export const simOpenSynAckAckPolicy = policy({
  field: "simOpenSynAckAck",
  title: "The peer's SYN-ACK after a simultaneous open",
  where: "RFC 9293 §3.10.7.4 fifth step: the SYN-ACK whose ACK takes SYN-RECEIVED (reached from SYN-SENT) to ESTABLISHED",
  choices: {
    none: { meaning: "ESTABLISHED; nothing is sent for the SYN it repeats", source: "RFC 9293 §3.10.7.4" },
    dupAck: {
      meaning: "ESTABLISHED, then an ACK at once: its SYN is a duplicate below RCV.NXT; with SACK the ACK carries a D-SACK block for that SYN's sequence number",
      source: "Linux tcp_validate_incoming() (lets this SYN-ACK pass), tcp_data_queue() (a segment wholly below rcv_nxt: tcp_dsack_set(), quick ACK); kd-32-0050, kd-31-0351",
    },
  },
});

export const tsRecentUpdatePolicy = policy({
  field: "tsRecentUpdate",
  title: "Which segments update TS.Recent",
  where: "RFC 7323 §4.3 step 1 in the synchronised states: the TSval our next TSecr echoes",
  choices: {
    rfc7323: { meaning: "every segment that passed the sequence checks with SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, before its ACK field is looked at", source: "RFC 7323 §4.3" },
    notAckAhead: {
      meaning:
        "as rfc7323, but not from a segment acknowledging data not yet sent (SEG.ACK > SND.NXT), and from an old ACK (SEG.ACK < SND.UNA) only when it would take Linux's fast path: SEG.SEQ = RCV.NXT, ACK (and PSH) alone, no SACK blocks, the window field the one expected (SND.WND unchanged)",
      source:
        "Linux tcp_rcv_established(): the fast path (header prediction, tcp_store_ts_recent() before tcp_ack()) requires ack_seq not after snd_nxt; in the slow path tcp_ack() returns for an ACK after snd_nxt and for one before snd_una (old_ack) before tcp_replace_ts_recent(); kd-32-0167 frames 4-5 (unsent data: not updated), kd-32-0104 frames 6-7 (an old ACK, fast path: updated), kd-31-0040 frames 4-5 (an old ACK with a new window, slow path: not updated)",
    },
  },
});

export const finWait2ClosedPolicy = policy({
  field: "finWait2Closed",
  title: "FIN-WAIT-2 after the user's full close",
  where: "RFC 9293 §3.10.7.4 in FIN-WAIT-2 once the user closed both directions (close(now, true)): a SYN or a RST in the window",
  choices: {
    rfc9293: { meaning: "as any FIN-WAIT-2: a SYN is answered with a challenge ACK, a RST must be exact (RFC 5961)", source: "RFC 9293 §3.10.7.4, RFC 5961 §3.2, §4.2" },
    linux: {
      meaning:
        "as Linux's FIN-WAIT-2 timewait socket, which an orphaned connection becomes once its FIN is acknowledged: a SYN at or beyond RCV.NXT in the window is answered as for no connection (<SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>) and the connection ends; a RST in the window ends it silently; its out-of-window ACK limit starts afresh",
      source: "Linux tcp_rcv_state_process() (tcp_time_wait(sk, TCP_FIN_WAIT2, ...) for an orphan; tw_last_oow_ack_time = 0), tcp_timewait_state_process() (TCP_TW_RST), tcp_v4_send_reset()",
    },
  },
});

export const dataAfterClosePolicy = policy({
  field: "dataAfterClose",
  title: "New data after the user's full close",
  where: "RFC 9293 §3.10.7.4 seventh step in FIN-WAIT-1/2 (and CLOSING/LAST-ACK), after a CLOSE that also ends reading (close(now, true))",
  choices: {
    deliver: { meaning: "the text is taken and acknowledged as RFC 9293 says for FIN-WAIT", source: "RFC 9293 §3.10.7.4" },
    abort: {
      meaning: "data beyond RCV.NXT aborts the connection (outcome reset) and is answered by <SEQ=SEG.ACK><CTL=RST>",
      source: "RFC 1122 §4.2.2.13 (SHOULD send a RST: the data is lost); Linux tcp_rcv_state_process() (LINUX_MIB_TCPABORTONDATA, tcp_reset(), tcp_v4_send_reset())",
    },
  },
});

// ---------------------------------------------------------------------------------------
// Dispositions with fixed text

/** synFin "drop": the disposition of a SYN+FIN in any state (syn-sent.ts uses it too). */
export const SYN_FIN = drop("syn and fin", "SYN+FIN: drop (drop_synfin)", "freebsd net.inet.tcp.drop_synfin");

/** synFin "drop" (FreeBSD drop_synfin): tcp_input() drops SYN+FIN before the state machine. */
export function synFinDropped(p: Profile, flags: number): boolean {
  return p.synFin === "drop" && (flags & (TCP_SYN | TCP_FIN)) === (TCP_SYN | TCP_FIN);
}
const PAWS = ack("PAWS: old timestamp -> ACK and drop", "RFC 7323 §5.3 R1");
const SYN_ACK_AGAIN: Disposition = { kind: "synAckAgain" };
const RST_IN_TIME_WAIT = drop("rst in time-wait", "RST in TIME-WAIT: drop", "RFC 1337 §3 (timeWait \"rfc1337\")");
const RST_OUT_OF_WINDOW = drop("rst out of window", "RST out of window: drop", "RFC 9293 §3.10.7.4 / RFC 5961 §3.2");
const TIME_WAIT_FIN: Disposition = { kind: "timeWaitFin", why: "FIN retransmitted in TIME-WAIT -> ACK, restart 2MSL", rule: "RFC 9293 §3.10.7.4" };
const OLD_SEGMENT_ACK: Disposition = { kind: "oldSegmentAck" };
const CLOSED_WINDOW_ACK: Disposition = { kind: "closedWindowAck" };
const UNACCEPTABLE = oowAck("unacceptable segment -> ACK", "RFC 9293 §3.10.7.4: not acceptable -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
const RST_NOT_EXACT = challengeAck("RST in window, not exact -> challenge ACK", "RFC 5961 §3.2");
const RST_PASSIVE_SYN_RECEIVED = close("reset", "RFC 9293 §3.10.7.4: RST in SYN-RECEIVED (passive OPEN) -> back to LISTEN");
const RST_SIM_OPEN_RESET = close("reset", "RST in SYN-RECEIVED (from active OPEN) -> reset (linux tcp_reset(): ECONNRESET)");
const RST_SIM_OPEN_REFUSED = close("refused", "RFC 9293 §3.10.7.4: RST in SYN-RECEIVED (from active OPEN) -> refused");
const RST_CLOSING = close("finished", "RFC 9293 §3.10.7.4: RST in CLOSING/LAST-ACK/TIME-WAIT -> CLOSED");
const RST_RESET = close("reset", "RFC 9293 §3.10.7.4: RST -> connection reset, CLOSED");
const SYN_IN_WINDOW_RESET: Disposition = { kind: "rstAckReset" };
const CLOSED_RESET: Disposition = { kind: "closedReset" };
const CLOSED_RST = close("finished", "RST in the window after a full close, FIN-WAIT-2 -> CLOSED (Linux tcp_timewait_state_process())");
const SYN_CHALLENGE = challengeAck("SYN in synchronised state -> challenge ACK", "RFC 5961 §4.2 / RFC 9293 §3.10.7.4");
const NO_ACK = drop("no ack bit", "no ACK bit: drop", "RFC 9293 §3.10.7.4: fifth, ACK bit off -> drop");
// timeWait "freebsd" (tcp_twcheck())
const BSD_TW_RST = drop("rst in time-wait", "RST in TIME-WAIT: drop", "RFC 1337 §3 (TW2) / FreeBSD tcp_twcheck()");
const BSD_TW_REUSE: Disposition = { kind: "reuse" };
const BSD_TW_NO_ACK = drop("no ack in time-wait", "no ACK bit in TIME-WAIT: drop", "FreeBSD tcp_twcheck()");
const BSD_TW_FIN: Disposition = { kind: "timeWaitFin", why: "segment in TIME-WAIT (not an exact duplicate ACK) -> ACK", rule: "FreeBSD tcp_twcheck() / RFC 9293 §3.10.7.4" };
const BSD_TW_ACK = ack("segment in TIME-WAIT (not an exact duplicate ACK) -> ACK", "FreeBSD tcp_twcheck() / RFC 9293 §3.10.7.4");
const BSD_TW_DUP_ACK = drop("duplicate ack in time-wait", "duplicate ACK in TIME-WAIT: drop", "FreeBSD tcp_twcheck()");

// ---------------------------------------------------------------------------------------
// The checks (first to fifth step, up to the ACK bit)

/**
 * RCV.WND for the sequence-number test (first step): the window we advertise, or under
 * acceptWindow "receiveBuffer" the free receive buffer when that is larger.
 */
export function acceptanceWindow(c: Connection): number {
  // SYN-RECEIVED of a passive open: the window our SYN-ACK advertised (unscaled, RFC 7323
  // §2.2), the only one the peer has seen (Linux tcp_check_req(): tcp_synack_window();
  // FreeBSD syncache_chkrst(): sc_wnd). After a simultaneous open the TCB's own window
  // applies, as below (FreeBSD: a tcpcb, not the syncache).
  if (c.passive && c.state === "SYN-RECEIVED") return seqDiff(c.rcvAdvertisedEdge, c.rcvNxt);
  const advertised = c.windowField() << c.rcvWscale;
  if (c.prof.acceptWindow === "advertised") return advertised;
  return Math.max(advertised, c.prof.rcvBufBytes - c.rcvBuffered);
}

/** What a segment arriving in SYN-RECEIVED or a synchronised state calls for; changes nothing. */
export function arrivalDisposition(c: Connection, seg: TcpSegment, opt: SegmentOptionView): Disposition {
  const p = c.prof;
  const f = seg.flags;
  const state = c.state;
  // Before the state machine: synFin policy.
  if (synFinDropped(p, f)) return SYN_FIN;
  if (state === "TIME-WAIT" && p.timeWait === "freebsd") return timeWaitFreebsd(c, seg);

  const segLen = seg.payload.length + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);
  const rcvWnd = acceptanceWindow(c);
  // RFC 5961 §4.2: a SYN in a synchronised state is answered "irrespective of the sequence
  // number" in the fourth step: it skips the first step's checks (FreeBSD and Linux test the
  // SYN before the window too). In SYN-RECEIVED the SYN is the peer's own, checked below.
  const synToFourth = (f & TCP_SYN) !== 0 && !(f & TCP_RST) && state !== "SYN-RECEIVED";
  // finWait2Closed "linux": Linux's FIN-WAIT-2 timewait socket checks the window first, then
  // a RST kills it and a SYN at or beyond RCV.NXT gets a RST as for no connection.
  if (state === "FIN-WAIT-2" && c.rcvClosed && p.finWait2Closed === "linux" && f & (TCP_SYN | TCP_RST) && !(c.tsEnabled && opt.ts && seqLt(opt.ts.val, c.tsRecent))) {
    const inWindow = seqInWindow(seg.seq, c.rcvNxt, seqAdd(c.rcvNxt, Math.max(1, rcvWnd))) || (segLen > 0 && seqInWindow(seqAdd(seg.seq, segLen - 1), c.rcvNxt, seqAdd(c.rcvNxt, Math.max(1, rcvWnd))));
    if (inWindow && f & TCP_RST) return CLOSED_RST;
    if (inWindow && seqGe(seg.seq, c.rcvNxt)) return CLOSED_RESET;
  }

  // First, check sequence number.
  if (!synToFourth) {
    // RFC 7323 §5.3 R1 (PAWS), before the window test: a segment whose TSval is older than
    // TS.Recent is answered with an ACK and dropped (a RST is exempt, RFC 7323 §5.3).
    if (c.tsEnabled && opt.ts && !(f & TCP_RST) && seqLt(opt.ts.val, c.tsRecent) && isSynchronized(state)) return PAWS;
    // The acceptability table: zero-length segments against the window's left edge (or
    // within it), others by their first or last byte; nothing fits a zero window.
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable = rcvWnd === 0 ? seg.seq === c.rcvNxt : seqInWindow(seg.seq, c.rcvNxt, seqAdd(c.rcvNxt, rcvWnd));
    } else if (rcvWnd === 0) {
      acceptable = false;
    } else {
      const last = seqAdd(seg.seq, segLen - 1);
      acceptable = seqInWindow(seg.seq, c.rcvNxt, seqAdd(c.rcvNxt, rcvWnd)) || seqInWindow(last, c.rcvNxt, seqAdd(c.rcvNxt, rcvWnd));
    }
    // SYN-RECEIVED: a retransmission of the peer's SYN is answered with our SYN-ACK again.
    if (state === "SYN-RECEIVED" && f & TCP_SYN && !(f & TCP_ACK) && seg.seq === c.irs) return SYN_ACK_AGAIN;
    // timeWait "rfc1337": every RST in TIME-WAIT is ignored, in the window or not.
    if (f & TCP_RST && state === "TIME-WAIT" && p.timeWait === "rfc1337") return RST_IN_TIME_WAIT;
    if (!acceptable) {
      // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
      // (unless the RST bit is set, if so drop the segment and return)".
      if (f & TCP_RST) return RST_OUT_OF_WINDOW;
      // TIME-WAIT: the peer's FIN again (our ACK of it was lost): ACK it and restart the 2
      // MSL timer (eighth step, TIME-WAIT; Linux does this for a duplicate FIN).
      if (state === "TIME-WAIT" && f & TCP_FIN && seqAdd(seg.seq, segLen) === c.rcvNxt) return TIME_WAIT_FIN;
      // Simultaneous open: the peer's SYN-ACK re-sends its SYN (already counted); its ACK is
      // what matters: on to the checks below.
      const simOpenSynAck = state === "SYN-RECEIVED" && f & TCP_SYN && f & TCP_ACK && seqGt(seg.ack, c.iss) && seqLe(seg.ack, c.sndNxt);
      if (!simOpenSynAck) {
        // oldSegment "bsd": a duplicate left of the window still has its ACK field read.
        if (p.oldSegment === "bsd" && state !== "SYN-RECEIVED" && f & TCP_ACK && seqLt(seg.seq, c.rcvNxt)) return OLD_SEGMENT_ACK;
        // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
        // should be made to accept valid ACKs" (RFC 9293 §3.10.7.4). A segment that starts
        // within the furthest edge we ever offered (a window that closed, or shrank by the
        // window scale's rounding: RFC 9293 §3.8.6, RFC 7323 Appendix F) still has its ACK
        // field read: else two peers whose windows both closed never learn that their data
        // arrived, and neither window opens again.
        if (state !== "SYN-RECEIVED" && f & TCP_ACK && seqGe(seg.seq, c.rcvNxt) && seqLe(seg.seq, c.rcvOfferedEdge)) return CLOSED_WINDOW_ACK;
        return UNACCEPTABLE;
      }
    }
  }

  // Second, check the RST bit (RFC 9293 §3.10.7.4, RFC 5961 §3.2).
  if (f & TCP_RST) {
    // rstCheck "rfc5961": in the window but not exact -> challenge ACK (rate-limited, §7);
    // "rfc793" (FreeBSD insecure_rst=1): any in-window RST resets.
    if (seg.seq !== c.rcvNxt && p.rstCheck === "rfc5961") return RST_NOT_EXACT;
    // SYN-RECEIVED: "If this connection was initiated with a passive OPEN, then return this
    // connection to LISTEN state": the listener stays; this embryonic TCB is deleted.
    if (state === "SYN-RECEIVED" && c.passive) return RST_PASSIVE_SYN_RECEIVED;
    // From an active OPEN (simultaneous open): "the connection was refused"; simOpenRstOutcome.
    if (state === "SYN-RECEIVED") return p.simOpenRstOutcome === "reset" ? RST_SIM_OPEN_RESET : RST_SIM_OPEN_REFUSED;
    if (state === "CLOSING" || state === "LAST-ACK" || state === "TIME-WAIT") return RST_CLOSING;
    return RST_RESET;
  }

  // Third, check security: no IPSO/compartments (RFC 9293 §3.10.7.4), nothing to do.

  // Fourth, check the SYN bit (a SYN sent here by the first step, RFC 5961 §4.2).
  if (synToFourth) {
    // synCheck "rfc793" (FreeBSD insecure_syn=1): a SYN in the window is an error that resets
    // the connection; FreeBSD tests RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND.
    if (p.synCheck === "rfc793" && seqInWindow(seg.seq, c.rcvNxt, seqAdd(c.rcvNxt, rcvWnd))) return SYN_IN_WINDOW_RESET;
    return SYN_CHALLENGE;
  }

  // Fifth, check the ACK field: "if the ACK bit is off, drop the segment and return".
  if (!(f & TCP_ACK)) return NO_ACK;
  return CONTINUE;
}

/**
 * TIME-WAIT under timeWait "freebsd" (FreeBSD tcp_twcheck()): none of RFC 9293 §3.10.7.4's
 * window or PAWS checks.
 */
function timeWaitFreebsd(c: Connection, seg: TcpSegment): Disposition {
  const f = seg.flags;
  // RFC 1337 §3 (TW2): no RST cuts TIME-WAIT short.
  if (f & TCP_RST) return BSD_TW_RST;
  // A new connection request above the old sequence space: the old incarnation makes way
  // (RFC 1122 §4.2.2.13 / RFC 9293 §3.10.7.4 note; tcp_twcheck() "start over").
  if ((f & (TCP_SYN | TCP_ACK)) === TCP_SYN && seqGt(seg.seq, c.rcvNxt)) return BSD_TW_REUSE;
  if (!(f & TCP_ACK)) return BSD_TW_NO_ACK;
  // The peer's FIN again (our ACK of it was lost): restart the 2 MSL timer, and ACK.
  if (f & TCP_FIN && seqAdd(seg.seq, seg.payload.length + (f & TCP_SYN ? 1 : 0) + 1) === c.rcvNxt) return BSD_TW_FIN;
  // Every segment but an exact duplicate ACK is ACKed.
  if (f !== TCP_ACK || seg.payload.length > 0 || seg.seq !== c.rcvNxt || seg.ack !== c.sndNxt) return BSD_TW_ACK;
  return BSD_TW_DUP_ACK;
}

// ---------------------------------------------------------------------------------------
// Carrying it out, and the steps after the checks

/**
 * A segment for a connection in SYN-RECEIVED or a synchronised state. Returns true when
 * the segment ended this TIME-WAIT connection to open a new one (timeWait "freebsd"): the
 * stack looks it up again (listener or CLOSED).
 */
export function onSegmentArrival(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): boolean {
  const d = arrivalDisposition(c, seg, opt);
  switch (d.kind) {
    case "continue":
      fifthStepOn(c, seg, opt, now);
      return false;
    case "drop":
      c.host.dropSegment(c, now, d.reason, d.why, d.rule);
      return false;
    case "ack":
      c.sendAck(now, d.why, d.rule);
      return false;
    case "oowAck":
      c.receiver.oowAck(now, d.why, d.rule);
      return false;
    case "challengeAck":
      c.receiver.challengeAck(now, d.why, d.rule);
      return false;
    case "close":
      c.finish({ kind: d.outcome }, now, d.rule);
      return false;
    case "synAckAgain":
      resendSynAck(c, now);
      return false;
    case "timeWaitFin":
      restartTimeWait(c, now, d.why, d.rule);
      return false;
    case "oldSegmentAck":
      oldSegmentAck(c, seg, opt, now);
      return false;
    case "closedWindowAck":
      closedWindowAck(c, seg, opt, now);
      return false;
    case "rstAckReset":
      c.host.emit(c, outSegment(c.sndMax, c.rcvNxt, TCP_RST | TCP_ACK, 0, []), now, "SYN in window -> RST,ACK, connection reset", "RFC 793 §3.9 fourth step (freebsd insecure_syn=1)");
      c.finish({ kind: "reset" }, now, "RFC 793 §3.9: SYN in window -> connection reset");
      return false;
    case "reuse":
      c.finish({ kind: "finished" }, now, "SYN above RCV.NXT in TIME-WAIT -> delete TCB, look the SYN up again (RFC 1122 §4.2.2.13)");
      return true;
    case "closedReset": {
      // As for a segment that finds no connection (RFC 9293 §3.10.7.1).
      const rst = seg.flags & TCP_ACK ? outSegment(seg.ack, 0, TCP_RST, 0, []) : outSegment(0, seqAdd(seg.seq, seg.payload.length + 1 + (seg.flags & TCP_FIN ? 1 : 0)), TCP_RST | TCP_ACK, 0, []);
      c.host.emit(c, rst, now, "SYN after a full close, FIN-WAIT-2 -> RST as for no connection", "Linux tcp_timewait_state_process() (TCP_TW_RST)");
      c.finish({ kind: "finished" }, now, "FIN-WAIT-2 after a full close: a SYN ends it (Linux tcp_timewait_state_process())");
      return false;
    }
    default:
      throw new Error(`${c.state}: unexpected disposition ${d.kind}`);
  }
}

/** TIME-WAIT: the peer's FIN again: ACK it and restart the 2 MSL timer (RFC 9293 §3.10.7.4). */
function restartTimeWait(c: Connection, now: number, why: string, rule: string): void {
  c.sendAck(now, why, rule);
  c.setDeadline(Deadline.timeWait, c.timerExpiry(now, 2 * c.prof.mslMs));
  c.host.rearm(c);
}

/**
 * oldSegment "bsd": a duplicate left of the window: its text and FIN are dropped, its ACK
 * is processed, then it is answered ("send an ACK to resynchronize and drop any data, but
 * keep on processing for RST or ACK"). An ACK that completes CLOSING or LAST-ACK ends there
 * without an answer, as in BSD.
 */
function oldSegmentAck(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
  const r = c.receiver;
  if (c.tsEnabled && opt.ts && seqGe(opt.ts.val, c.tsRecent) && seqLe(seg.seq, c.lastAckSent)) c.tsRecent = opt.ts.val;
  if (!processAck(c, seg, opt, now) || (c.state as TcpState) === "CLOSED") return;
  // The dropped text is duplicate data (sackReport "freebsd": a D-SACK block for it).
  r.duplicateText(seg.seq, seqAdd(seg.seq, Math.min(seg.payload.length, seqDiff(c.rcvNxt, seg.seq))));
  c.sendAck(now, "duplicate segment: ACK processed, text dropped -> ACK", "RFC 9293 §3.10.7.4 / BSD tcp_input() (Stevens vol. 2 p. 960)");
  c.sender.output(now);
  c.host.rearm(c);
}

/**
 * A segment beyond a zero or shrunken window, within the edge we offered: its ACK field is
 * read (RFC 9293 §3.10.7.4, "special allowance ... to accept valid ACKs"), its text and FIN
 * are dropped (the peer sends them again once the window opens), and it is answered with
 * <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> as an unacceptable segment is.
 */
function closedWindowAck(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
  if (!processAck(c, seg, opt, now) || (c.state as TcpState) === "CLOSED") return;
  c.sendAck(now, "beyond the closed window: ACK processed, text dropped -> ACK", "RFC 9293 §3.10.7.4");
  c.sender.output(now);
  c.host.rearm(c);
}

/**
 * Whether Linux's header prediction would take the segment (tcp_rcv_established(): pred_flags
 * and seq == rcv_nxt): ACK and PSH alone, the header of a segment with timestamps and no other
 * option, the window field that leaves SND.WND as it is, the next sequence number.
 */
function fastPath(c: Connection, seg: TcpSegment, opt: SegmentOptionView): boolean {
  return (seg.flags & ~TCP_PSH) === TCP_ACK && seg.seq === c.rcvNxt && opt.sack === undefined && seg.window << c.sndWscale === c.sndWnd;
}

/** The fifth step (the ACK field) for a segment that passed the checks, then text and FIN. */
function fifthStepOn(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
  // RFC 7323 §4.3: SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent -> TS.Recent =
  // SEG.TSval (in SYN-RECEIVED the last ACK we sent is the SYN-ACK's, RCV.NXT).
  // tsRecentUpdate "notAckAhead" (Linux): not from a segment acknowledging unsent data.
  const ackOk = c.prof.tsRecentUpdate !== "notAckAhead" || c.state === "SYN-RECEIVED" || (seqLe(seg.ack, c.sndMax) && (seqGe(seg.ack, c.sndUna) || fastPath(c, seg, opt)));
  if (ackOk && c.tsEnabled && opt.ts && seqGe(opt.ts.val, c.tsRecent) && seqLe(seg.seq, c.state === "SYN-RECEIVED" ? c.rcvNxt : c.lastAckSent)) c.tsRecent = opt.ts.val;

  if (c.state === "SYN-RECEIVED") {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
    // processing"; otherwise "form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it".
    if (!(seqLt(c.sndUna, seg.ack) && seqLe(seg.ack, c.sndNxt))) {
      c.host.emit(c, outSegment(seg.ack, 0, TCP_RST, 0, []), now, "unacceptable ACK in SYN-RECEIVED -> RST", "RFC 9293 §3.10.7.4");
      return;
    }
    // A full accept queue (passive.ts acceptQueueFull): the ACK dropped, or RST.
    if (c.handshake.origin !== undefined && finalAckQueueFull(c, seg.ack, now)) return;
    c.sndUna = seg.ack;
    c.rexmitAt = Infinity;
    c.setDeadline(Deadline.connect, Infinity);
    // RFC 7323 §2.2: the window of a segment with SYN is never scaled.
    c.updateSendWindow(seg, (seg.flags & TCP_SYN) !== 0);
    rttFromHandshake(c, now, opt.ts?.ecr);
    c.hs = undefined; // the handshake's state (and the listener) is not needed from here on
    c.sender.startCongestionControl();
    c.setState("ESTABLISHED", now, "RFC 9293 §3.10.7.4: SYN-RECEIVED, acceptable ACK -> ESTABLISHED");
    // simOpenSynAckAck "dupAck": the SYN-ACK's SYN is a duplicate: ACK it (D-SACK with SACK).
    if (seg.flags & TCP_SYN && c.prof.simOpenSynAckAck === "dupAck") {
      const r = c.receiver;
      r.ackDue = true;
      if (c.sackEnabled) r.dsack = [seg.seq, seqAdd(seg.seq, 1)];
    }
    c.ev?.established?.(c);
    if ((c.state as TcpState) === "CLOSED") return;
    c.receiver.deliverSynText(now);
    if ((c.state as TcpState) === "CLOSED") return;
  }

  if (!processAck(c, seg, opt, now)) return;
  if ((c.state as TcpState) === "CLOSED") return; // the user aborted from an event

  // Seventh step after a full close (dataAfterClose "abort"): new data cannot be read by
  // anyone; abort and answer it with <SEQ=SEG.ACK><CTL=RST> (RFC 1122 §4.2.2.13).
  if (seg.payload.length > 0 && c.rcvClosed && c.prof.dataAfterClose === "abort" && seqGt(seqAdd(seg.seq, seg.payload.length), c.rcvNxt)) {
    const st = c.state as TcpState;
    if (st === "FIN-WAIT-1" || st === "FIN-WAIT-2" || ((st === "CLOSING" || st === "LAST-ACK") && seqLt(seg.seq, c.rcvNxt))) {
      c.host.emit(c, outSegment(seg.ack, 0, TCP_RST, 0, []), now, "new data after close() -> RST, abort", "RFC 1122 §4.2.2.13; Linux tcp_rcv_state_process() (TCPABORTONDATA)");
      c.finish({ kind: "reset" }, now, "new data after a full close: connection aborted (Linux tcp_reset())");
      return;
    }
  }
  // Sixth: the URG bit is not used. Seventh: segment text. Eighth: FIN (receiver.ts).
  if (seg.payload.length > 0 || seg.flags & TCP_FIN) {
    c.receiver.acceptData(seg, now, false);
    if ((c.state as TcpState) === "CLOSED") return;
  }
  c.sender.output(now);
  // An ACK still due (simOpenSynAckAck) goes out now, unless a data segment carried it.
  if (c.rcvPart?.ackDue) c.sendAck(now, "duplicate SYN on the SYN-ACK after a simultaneous open -> ACK", "Linux tcp_data_queue(): a segment below RCV.NXT is ACKed at once (D-SACK, RFC 2883)");
  c.host.rearm(c);
}

/**
 * The fifth step for ESTABLISHED and the later states: is the ACK acceptable (RFC 5961
 * §5.2), what it acknowledges (sender.ts), and what our FIN being acknowledged does to the
 * state. Returns false when processing of the segment stops here.
 */
function processAck(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): boolean {
  // RFC 5961 §5.2: the ACK is acceptable only if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT
  // (SND.MAX here: SND.NXT may be rewound). Otherwise send a (rate-limited) ACK and drop
  // the segment, text included: blind data injection needs a plausible ACK.
  if (seqGt(seg.ack, c.sndMax)) {
    c.receiver.challengeAck(now, "ACK for unsent data -> ACK and drop", "RFC 9293 §3.10.7.4 / RFC 5961 §5.2");
    return false;
  }
  // challengeAck "linux": "do not accept ACK for bytes we never sent": the bound is at most
  // what was acknowledged so far (tcp_ack(): min(max_window, bytes_acked)).
  const oldest = c.prof.challengeAck === "linux" ? Math.min(c.maxSndWnd, seqDiff(c.sndUna, c.iss)) : c.maxSndWnd;
  if (seqLt(seg.ack, seqAdd(c.sndUna, -oldest))) {
    c.receiver.challengeAck(now, "ACK older than SND.UNA - MAX.SND.WND -> challenge ACK, drop", "RFC 5961 §5.2");
    return false;
  }
  const s = c.sender;
  s.onAck(seg, now, opt);
  // Our FIN acknowledged?
  if (s.finSent && seqGt(seg.ack, s.finSeq) && !s.finAckedSignalled) {
    s.finAckedSignalled = true;
    switch (c.state) {
      case "FIN-WAIT-1":
        c.setState("FIN-WAIT-2", now, "RFC 9293 §3.10.7.4: FIN-WAIT-1, our FIN acknowledged -> FIN-WAIT-2");
        // finWait2Closed "linux": the timewait socket starts its out-of-window ACK limit
        // afresh (tcp_time_wait(): tw_last_oow_ack_time = 0).
        if (c.rcvClosed && c.prof.finWait2Closed === "linux") c.rcvPart?.restartOowLimit();
        break;
      case "CLOSING":
        c.ev?.finAcked?.(c);
        c.enterTimeWait(now, "RFC 9293 §3.10.7.4: CLOSING, our FIN acknowledged -> TIME-WAIT");
        return false;
      case "LAST-ACK":
        c.ev?.finAcked?.(c);
        c.finish({ kind: "finished" }, now, "RFC 9293 §3.10.7.4: LAST-ACK, our FIN acknowledged -> CLOSED");
        return false;
    }
    c.ev?.finAcked?.(c);
    if ((c.state as TcpState) === "CLOSED") return false;
  }
  if (c.state === "TIME-WAIT" && seg.flags & TCP_FIN) {
    // "The only thing that can arrive in this state is a retransmission of the remote FIN.
    // Acknowledge it, and restart the 2 MSL timeout."
    restartTimeWait(c, now, "FIN retransmitted in TIME-WAIT -> ACK, restart 2MSL", "RFC 9293 §3.10.7.4");
    return false;
  }
  return true;
}
