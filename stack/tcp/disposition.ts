// What the handling of an arriving segment decided, as a value (after Fuchsia netstack3's
// per-state on_segment, which returns what to do rather than doing it). The checks of
// RFC 9293 §3.10.7.3 (syn-sent.ts) and of the first steps of §3.10.7.4 (arrival.ts) read
// the connection and the segment and return one of these without changing anything; the
// state's handler then carries it out. Tests drive the checks from tables: state x segment
// kind -> disposition, per profile.
//
// Most dispositions are constants (no allocation on the per-segment path); `why` and `rule`
// are the trace's text, kept apart from the drop reason code that statistics count.
import type { SegmentDropReason } from "../drops.js";

export type Disposition =
  /** Nothing decided yet: go on with the next step. */
  | { readonly kind: "continue" }
  /** Discard the segment (counted under `reason`). */
  | { readonly kind: "drop"; readonly reason: SegmentDropReason; readonly why: string; readonly rule: string }
  /** Send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and discard the segment. */
  | { readonly kind: "ack"; readonly why: string; readonly rule: string }
  /** The same, for an unacceptable segment: subject to the profile's oowAck policy. */
  | { readonly kind: "oowAck"; readonly why: string; readonly rule: string }
  /** A challenge ACK (RFC 5961), subject to the challengeAck policy; discard the segment. */
  | { readonly kind: "challengeAck"; readonly why: string; readonly rule: string }
  /** Send <SEQ=SEG.ACK><CTL=RST> and discard the segment. */
  | { readonly kind: "rst"; readonly why: string; readonly rule: string }
  /** SYN-SENT: send <SEQ=SEG.ACK><CTL=RST>, and our SYN again soon (synSentBadAck "rstAndResendSyn"). */
  | { readonly kind: "rstAndResendSyn"; readonly why: string; readonly rule: string }
  /** SYN-SENT: discard the segment (a RST), and our SYN again soon (synSentBadAck "rstAndResendSyn"). */
  | { readonly kind: "dropAndResendSyn"; readonly reason: SegmentDropReason; readonly why: string; readonly rule: string }
  /** SYN-SENT, an acceptable RST: the SYN again after a delay (synSentRst "retrySyn"). */
  | { readonly kind: "retrySyn" }
  /** The connection ends: CLOSED, with this outcome. */
  | { readonly kind: "close"; readonly outcome: "refused" | "reset" | "finished"; readonly rule: string }
  /** A SYN in the window resets the connection, answered by <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (synCheck "rfc793"). */
  | { readonly kind: "rstAckReset" }
  /** FIN-WAIT-2 after a full close (finWait2Closed "linux"): answer as for no connection (a RST), then CLOSED. */
  | { readonly kind: "closedReset" }
  /** SYN-RECEIVED: the peer's SYN again; answer with our SYN-ACK again. */
  | { readonly kind: "synAckAgain" }
  /** TIME-WAIT: the peer's FIN again; ACK it and restart the 2 MSL timer. */
  | { readonly kind: "timeWaitFin"; readonly why: string; readonly rule: string }
  /** TIME-WAIT (timeWait "freebsd"): a SYN above RCV.NXT ends this TIME-WAIT; the stack looks the SYN up again. */
  | { readonly kind: "reuse" }
  /** A duplicate left of the window: process its ACK field only, then answer (oldSegment "bsd"). */
  | { readonly kind: "oldSegmentAck" }
  /** Beyond a zero or shrunken window but within an edge already offered: process its ACK field only, then answer. */
  | { readonly kind: "closedWindowAck" }
  /** SYN-SENT: a SYN with an acceptable ACK: ESTABLISHED. */
  | { readonly kind: "established" }
  /** SYN-SENT: a SYN without ACK: SYN-RECEIVED (simultaneous open). */
  | { readonly kind: "simultaneousOpen" };

export type DispositionKind = Disposition["kind"];

export const CONTINUE: Disposition = { kind: "continue" };

export const drop = (reason: SegmentDropReason, why: string, rule: string): Disposition => ({ kind: "drop", reason, why, rule });
export const ack = (why: string, rule: string): Disposition => ({ kind: "ack", why, rule });
export const oowAck = (why: string, rule: string): Disposition => ({ kind: "oowAck", why, rule });
export const challengeAck = (why: string, rule: string): Disposition => ({ kind: "challengeAck", why, rule });
export const rst = (why: string, rule: string): Disposition => ({ kind: "rst", why, rule });
export const close = (outcome: "refused" | "reset" | "finished", rule: string): Disposition => ({ kind: "close", outcome, rule });
