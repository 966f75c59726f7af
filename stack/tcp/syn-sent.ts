// SEGMENT ARRIVES in SYN-SENT (RFC 9293 §3.10.7.3), the active opener waiting for an
// answer to its SYN, with every way the profiles' operating systems depart from it.
//
// synSentDisposition() runs the RFC's five steps in order and returns what to do
// (disposition.ts) without changing the connection; onSegmentSynSent() carries it out. The
// policies below (synSentBadAck, synSentPaws, synSentRst, synAckText, simOpenSynText) are
// chosen per profile in profiles.ts; docs/profiles.md lists which profile picks what.
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from "../wire/types.js";
import type { Connection, SegmentOptionView } from "./connection.js";
import { SYN_FIN, synFinDropped } from "./arrival.js";
import { Deadline } from "./deadlines.js";
import { close, drop, rst, type Disposition } from "./disposition.js";
import { negotiate, rttFromHandshake, sendSimOpenSynAck, sendSynAck, simOpenKeepOwnScale, synAttempts } from "./handshake.js";
import { policy } from "./policy.js";
import { seqAdd, seqGt, seqLe, seqLt } from "./seq.js";

// ---------------------------------------------------------------------------------------
// Policies

export const synSentBadAckPolicy = policy({
  field: "synSentBadAck",
  title: "SYN-SENT unacceptable-ACK policy",
  where: "RFC 9293 §3.10.7.3 first step: SEG.ACK =< ISS or SEG.ACK > SND.NXT",
  choices: {
    rst: { meaning: "answer <SEQ=SEG.ACK><CTL=RST> (nothing for a RST), keep the SYN schedule", source: "RFC 9293 §3.10.7.3" },
    rstAndResendSyn: {
      meaning: "the same, and if only the first SYN went out, send it again badAckSynRetransmitMs later: the answer may have been to an old connection's FIN or RST",
      source: "Linux tcp_rcv_synsent_state_process() (\"previous FIN/ACK or RST/ACK might be ignored\"), TCP_TIMEOUT_MIN",
    },
  },
  knobs: ["badAckSynRetransmitMs"],
});

export const synSentPawsPolicy = policy({
  field: "synSentPaws",
  title: "SYN-SENT timestamp check (PAWS)",
  where: "RFC 9293 §3.10.7.3 first step, after the ACK check; RFC 7323 §5.5 leaves it open",
  choices: {
    none: { meaning: "no timestamp check in SYN-SENT", source: "RFC 7323 §5.5" },
    reject: {
      meaning: "a SYN-ACK (or RST+ACK) whose TSecr is non-zero and no SYN of ours carried (outside [TSval of the first SYN, TSval now + 1]) gets <SEQ=SEG.ACK><CTL=RST> (a RST is dropped); the SYN schedule goes on",
      source: "Linux tcp_rcv_synsent_state_process() \"rfc1323: paws\" (PAWSACTIVEREJECTED)",
    },
  },
});

export const synSentRstPolicy = policy({
  field: "synSentRst",
  title: "SYN-SENT RST policy",
  where: "RFC 9293 §3.10.7.3 second step: a RST whose ACK acknowledges our SYN",
  choices: {
    refuse: { meaning: "the connection is refused at once (outcome refused)", source: "RFC 9293 §3.10.7.3; Linux tcp_reset(), FreeBSD tcp_input()" },
    retrySyn: {
      meaning: "the same SYN again rstRetryDelayMs after the RST arrived, while SYN retransmissions are left (synRetries); the RST after the last one refuses the connection",
      source: "Windows: the SYN 503-528 ms after each RST in pcaps gnutella (Windows 10), 499-500 ms in nowebaccess2 (Windows 7); 500 ms in libuv, Go fd_windows.go, OpenJDK net_util_md.c",
    },
  },
  knobs: ["rstRetryDelayMs", "synRetries"],
});

export const synAckTextPolicy = policy({
  field: "synAckText",
  title: "Text on the SYN-ACK",
  where: "RFC 9293 §3.10.7.3 fourth step: data or FIN on the SYN-ACK that completes our open",
  choices: {
    accept: { meaning: "processed from the sixth step on; one ACK covers SYN and data", source: "RFC 9293 §3.10.7.3" },
    ignore: {
      meaning: "dropped (counted): the ACK says IRS+1 and the peer retransmits them",
      source: "Linux without TCP Fast Open: tcp_rcv_state_process() frees the segment after tcp_rcv_synsent_state_process()",
    },
  },
});

export const simOpenSynTextPolicy = policy({
  field: "simOpenSynText",
  title: "Text on a crossing SYN (simultaneous open)",
  where: "RFC 9293 §3.10.7.3 fourth step: a SYN without ACK moves SYN-SENT to SYN-RECEIVED",
  choices: {
    queue: { meaning: "text and FIN are queued and processed once ESTABLISHED", source: "RFC 9293 §3.10.7.3" },
    queueData: { meaning: "the text is queued and delivered once ESTABLISHED; the FIN is lost", source: "FreeBSD (tcp_reass() queue; freebsd suite rcv-syn-with-data-syn-sent, rcv-syn-fin-with-data-syn-sent)" },
    discard: { meaning: "text and FIN are discarded; the peer retransmits them", source: "Linux tcp_rcv_synsent_state_process() (\"discard packet for sanity\")" },
  },
});

// ---------------------------------------------------------------------------------------
// Dispositions with fixed text (constants: the per-segment path allocates none)

const BAD_ACK_RST_DROP = drop("syn-sent: rst with unacceptable ack", "RST with unacceptable ACK: drop", "RFC 9293 §3.10.7.3: ACK not acceptable, RST set -> drop");
const BAD_ACK_RST = rst("ACK not acceptable -> RST", "RFC 9293 §3.10.7.3: SEG.ACK =< ISS or > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>");
const BAD_ACK_RST_DROP_RESEND: Disposition = { kind: "dropAndResendSyn", reason: "syn-sent: rst with unacceptable ack", why: "RST with unacceptable ACK: drop", rule: "RFC 9293 §3.10.7.3: ACK not acceptable, RST set -> drop" };
const BAD_ACK_RST_RESEND: Disposition = { kind: "rstAndResendSyn", why: "ACK not acceptable -> RST", rule: "RFC 9293 §3.10.7.3: SEG.ACK =< ISS or > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>" };
const PAWS_RST = rst("SYN-ACK TSecr outside our SYNs' TSvals -> RST", "linux tcp_rcv_synsent_state_process(): PAWS -> <SEQ=SEG.ACK><CTL=RST>");
const PAWS_DROP = drop("syn-sent: rst failing paws", "RST+ACK TSecr outside our SYNs' TSvals: drop", "linux tcp_rcv_synsent_state_process(): PAWS");
const RST_NO_ACK = drop("syn-sent: rst without acceptable ack", "RST without acceptable ACK: drop", "RFC 9293 §3.10.7.3: RST without ACK in SYN-SENT is ignored");
const RETRY_SYN: Disposition = { kind: "retrySyn" };
const REFUSED = close("refused", "RFC 9293 §3.10.7.3: RST with acceptable ACK -> connection reset (refused)");
const ESTABLISHED: Disposition = { kind: "established" };
const SIMULTANEOUS_OPEN: Disposition = { kind: "simultaneousOpen" };
const NO_SYN_OR_RST = drop("syn-sent: no syn or rst", "neither SYN nor RST: drop", "RFC 9293 §3.10.7.3: fifth, no SYN or RST -> drop (timer keeps running)");

// ---------------------------------------------------------------------------------------
// The five steps

/** What a segment arriving in SYN-SENT calls for (RFC 9293 §3.10.7.3); changes nothing. */
export function synSentDisposition(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): Disposition {
  const p = c.prof;
  // Before the state machine: synFin policy (arrival.ts).
  if (synFinDropped(p, seg.flags)) return SYN_FIN;
  let ackAcceptable = false;
  // First, check the ACK bit.
  if (seg.flags & TCP_ACK) {
    // If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so
    // drop the segment and return) <SEQ=SEG.ACK><CTL=RST>, and discard the segment.
    if (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndNxt)) {
      // synSentBadAck "rstAndResendSyn" (Linux) applies to a RST+ACK with a bad ACK too:
      // the SYN goes again soon if only the first one went out and its timer is later.
      const resend = p.synSentBadAck === "rstAndResendSyn" && c.synCount === 1 && c.rexmitAt > now + p.badAckSynRetransmitMs;
      if (seg.flags & TCP_RST) return resend ? BAD_ACK_RST_DROP_RESEND : BAD_ACK_RST_DROP;
      return resend ? BAD_ACK_RST_RESEND : BAD_ACK_RST;
    }
    // If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is acceptable.
    ackAcceptable = seqLt(c.sndUna, seg.ack) && seqLe(seg.ack, c.sndNxt);
    // synSentPaws "reject" (Linux): a TSecr that no SYN of ours can have carried means an
    // old or forged segment: reset it, stay in SYN-SENT, schedule unchanged. The upper edge
    // allows one tick: a clock whose ms phase differs from ours (a replayed kernel capture
    // whose TSval moved 1003 in 1002.3 ms) still echoes "now".
    const ts = opt.ts;
    if (
      ackAcceptable &&
      p.synSentPaws === "reject" &&
      p.timestamps &&
      ts !== undefined &&
      ts.ecr !== 0 &&
      (seqLt(ts.ecr, c.tsVal(c.handshake.firstSynAt)) || seqGt(ts.ecr, (c.tsVal(now) + 1) >>> 0))
    ) {
      return seg.flags & TCP_RST ? PAWS_DROP : PAWS_RST;
    }
  }
  // Second, check the RST bit.
  if (seg.flags & TCP_RST) {
    // RFC 5961 §3.2 / RFC 9293: in SYN-SENT a RST is valid only if its ACK acknowledges the SYN.
    if (!ackAcceptable) return RST_NO_ACK;
    // "If the ACK was acceptable, then signal to the user 'error: connection reset', drop
    // the segment, enter CLOSED state": synSentRst "refuse". "retrySyn" (Windows): the SYN
    // again while SYN retransmissions are left.
    if (p.synSentRst === "retrySyn" && c.synCount < synAttempts(p)) return RETRY_SYN;
    return REFUSED;
  }
  // Third: security/compartment checks do not apply (RFC 9293 §3.10.7.3, no IPSO).
  // Fourth, check the SYN bit (reached only if the ACK is acceptable or absent and no RST).
  if (seg.flags & TCP_SYN) return ackAcceptable ? ESTABLISHED : SIMULTANEOUS_OPEN;
  // Fifth, if neither of the SYN or RST bits is set, then drop the segment and return.
  return NO_SYN_OR_RST;
}

/** A segment for a connection in SYN-SENT: decide, then do it. */
export function onSegmentSynSent(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
  const d = synSentDisposition(c, seg, opt, now);
  const p = c.prof;
  switch (d.kind) {
    case "drop":
      c.host.dropSegment(c, now, d.reason, d.why, d.rule);
      return;
    case "rst":
      c.sendRst(seg.ack, now, d.why, d.rule);
      return;
    case "dropAndResendSyn":
      c.host.dropSegment(c, now, d.reason, d.why, d.rule);
      resendSynSoon(c, now);
      return;
    case "rstAndResendSyn":
      c.sendRst(seg.ack, now, d.why, d.rule);
      resendSynSoon(c, now);
      return;
    case "retrySyn":
      c.handshake.rstRetries++;
      c.rexmitAt = Infinity;
      c.setDeadline(Deadline.rstRetry, c.timerExpiry(now, p.rstRetryDelayMs));
      c.host.rearm(c);
      c.host.trace(c, now, "in", `RST: retry SYN in ${p.rstRetryDelayMs} ms`, "synSentRst retrySyn: RST in SYN-SENT re-sends the SYN after rstRetryDelayMs");
      return;
    case "close":
      c.finish({ kind: d.outcome }, now, d.rule);
      return;
    case "established":
      enterEstablished(c, seg, opt, now);
      return;
    case "simultaneousOpen":
      enterSynReceived(c, seg, opt, now);
      return;
    default:
      throw new Error(`SYN-SENT: unexpected disposition ${d.kind}`);
  }
}

/** synSentBadAck "rstAndResendSyn": the next SYN badAckSynRetransmitMs from now. */
function resendSynSoon(c: Connection, now: number): void {
  c.rexmitAt = c.timerExpiry(now, c.prof.badAckSynRetransmitMs);
  c.host.rearm(c);
}

/** The SYN and the state the peer's SYN sets (RFC 9293 §3.10.7.3 fourth step, both cases). */
function takeSyn(c: Connection, seg: TcpSegment, opt: SegmentOptionView): void {
  // RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ.
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvOfferedEdge = c.rcvNxt;
  negotiate(c, opt);
}

/**
 * "SND.UNA should be advanced to equal SEG.ACK ... If SND.UNA > ISS (our SYN has been ACKed),
 * change the connection state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT>
 * <CTL=ACK> and send it. Data or controls that were queued for transmission may be included."
 */
function enterEstablished(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
  takeSyn(c, seg, opt);
  c.sndUna = seg.ack;
  c.rexmitAt = Infinity;
  c.setDeadline(Deadline.rstRetry, Infinity);
  c.setDeadline(Deadline.connect, Infinity);
  c.updateSendWindow(seg, true);
  rttFromHandshake(c, now, opt.ts?.ecr);
  c.hs = undefined; // the handshake's state is not needed from here on
  c.sender.startCongestionControl();
  c.setState("ESTABLISHED", now, "RFC 9293 §3.10.7.3: SYN with acceptable ACK -> ESTABLISHED");
  const payload = seg.payload;
  if ((payload.length > 0 || seg.flags & TCP_FIN) && c.prof.synAckText === "ignore") {
    c.host.dropSegment(c, now, "syn-ack text ignored", `text/FIN on the SYN-ACK (${payload.length} bytes${seg.flags & TCP_FIN ? " + FIN" : ""}): dropped, the peer retransmits`, "linux tcp_rcv_state_process(): SYN-ACK payload freed (no TFO)");
    c.sendAck(now, "ACK the SYN-ACK (its text not taken)", "RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
  } else if (payload.length > 0 || seg.flags & TCP_FIN) {
    // Data in the SYN-ACK is processed from the sixth step on; one ACK covers SYN and data.
    c.receiver.acceptData(seg, now, true);
  } else {
    c.sendAck(now, "ACK the SYN-ACK", "RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
  }
  c.host.rearm(c);
  // Each callback may replace the events object: read it again before each.
  c.ev?.established?.(c);
  if (c.peerFinReceived) c.ev?.peerFin?.(c);
  if (c.rcvBuffered > 0) c.ev?.data?.(c);
}

/**
 * "Otherwise enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
 * and send it" (simultaneous open, RFC 9293 §3.5 figure 8). "If there are other controls
 * or text in the segment, queue them for processing after the ESTABLISHED state has been
 * reached": see queueSynText().
 */
function enterSynReceived(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
  takeSyn(c, seg, opt);
  // A RST's SYN retry (synSentRst "retrySyn") belongs to SYN-SENT: the crossing SYN ends it,
  // as ESTABLISHED does (enterEstablished); fired later it would send a bare SYN again.
  c.setDeadline(Deadline.rstRetry, Infinity);
  simOpenKeepOwnScale(c, opt);
  c.sndWnd = seg.window; // unscaled in a SYN (RFC 7323 §2.2)
  c.sender.sndWl1 = seg.seq;
  c.sender.sndWl2 = seg.ack;
  queueSynText(c, seg, now);
  c.setState("SYN-RECEIVED", now, "RFC 9293 §3.10.7.3: SYN without ACK -> SYN-RECEIVED (simultaneous open)");
  if (c.prof.synBackoff === "linux") {
    sendSimOpenSynAck(c, now, "simultaneous open: send SYN-ACK (the SYN's timer runs on)", "RFC 9293 §3.10.7.3: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; linux tcp_send_synack()");
    return;
  }
  c.synCount = 0;
  sendSynAck(c, now, "simultaneous open: send SYN-ACK", "RFC 9293 §3.10.7.3: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>");
}

/**
 * The text (and FIN) of a crossing SYN, per the simOpenSynText policy. Kept text waits in
 * the reassembly queue at SEG.SEQ+1: neither acknowledged (the SYN-ACK says RCV.NXT =
 * SEG.SEQ+1) nor readable until ESTABLISHED (Receiver.deliverSynText()).
 */
function queueSynText(c: Connection, seg: TcpSegment, now: number): void {
  const mode = c.prof.simOpenSynText;
  if (mode === "discard") {
    if (seg.payload.length > 0 || seg.flags & TCP_FIN) c.host.dropSegment(c, now, "crossing syn text discarded", "text/FIN on the crossing SYN: discarded (the peer retransmits it)", "linux profile: tcp_rcv_synsent_state_process()");
    return;
  }
  c.receiver.queueSynText(seg, mode === "queue", now);
}
