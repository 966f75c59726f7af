// Opening a connection: our SYN and SYN-ACK and their options, what the peer's SYN
// negotiates, the passive OPEN (RFC 9293 §3.10.7.2), and the retransmission of SYN and
// SYN-ACK with each profile's schedule (RFC 6298 §5 and what the OSes do instead).
// The arrival of the answer is in syn-sent.ts (SYN-SENT) and arrival.ts (SYN-RECEIVED).
import { TCP_ACK, TCP_SYN, type TcpOption, type TcpSegment } from "../wire/types.js";
import type { Connection, SegmentOptionView } from "./connection.js";
import { outSegment } from "./out-segment.js";
import { Deadline } from "./deadlines.js";
import { handshakeOptions } from "./options.js";
import { answersTimestamps, synAckLayout, synAckWindow, type PassiveOrigin } from "./passive.js";
import { policy } from "./policy.js";
import type { Profile } from "./profiles.js";
import { RTO_AT_LEAST_3S } from "./rto.js";
import { seqAdd, seqDiff, seqGt } from "./seq.js";
import { joinTime, splitTime, timeWords } from "./time-words.js";

/**
 * What only the handshake needs: the SYN schedule's times and counts, and a passive
 * connection's listener. A Connection holds one (Connection.hs) from its creation until it
 * enters ESTABLISHED; then it is dropped, so an ESTABLISHED connection does not carry the two
 * times (each a 16-byte heap box, deadlines.ts says why) nor these fields (BENCHMARKS.md,
 * phase 4: the kept-open engine benchmark is bound by the garbage collector copying them).
 */
export class HandshakeState {
  // firstSynAt and lastSynAt, as two int32 halves each (time-words.ts: no heap boxes).
  private firstSynAtW0 = 0;
  private firstSynAtW1 = 0;
  private lastSynAtW0 = 0;
  private lastSynAtW1 = 0;
  /** SYNs sent before a simultaneous open (synBackoff "linux": the SYN's timer and back-off go on). */
  simOpenSyns = 0;
  /** RST-triggered SYN retries used (synSentRst "retrySyn"). */
  rstRetries = 0;
  /** The listener a passive connection came from, while it is in SYN-RECEIVED (passive.ts). */
  origin: PassiveOrigin | undefined = undefined;

  /** When the first SYN went out (active) or the peer's SYN came (passive). */
  get firstSynAt(): number { return joinTime(this.firstSynAtW0, this.firstSynAtW1); }
  set firstSynAt(t: number) { splitTime(t); this.firstSynAtW0 = timeWords[0]; this.firstSynAtW1 = timeWords[1]; }
  /** When the latest SYN or SYN-ACK went out: what the handshake's RTT sample is timed from. */
  get lastSynAt(): number { return joinTime(this.lastSynAtW0, this.lastSynAtW1); }
  set lastSynAt(t: number) { splitTime(t); this.lastSynAtW0 = timeWords[0]; this.lastSynAtW1 = timeWords[1]; }
}

// ---------------------------------------------------------------------------------------
// Policies

export const synBackoffPolicy = policy({
  field: "synBackoff",
  title: "SYN retransmission schedule",
  where: "RFC 6298 §5.5 (back off the timer) and RFC 1122 §4.2.3.5 (R2) for the SYN and SYN-ACK",
  choices: {
    doubling: { meaning: "SYN k waits initialRtoMs * 2^k; 1 + synRetries SYNs, then give up", source: "RFC 6298 §5.5" },
    linux: {
      meaning: "the first synLinearTimeouts + 1 waits stay at initialRtoMs, then doubling; 1 + synRetries + synLinearTimeouts SYNs, and also give up at the first expiry past tcp_model_timeout; after a simultaneous open the SYN's timer runs on and each expiry retransmits the SYN-ACK with the timeout doubled, SYN and SYN-ACK retransmissions together stopping at synRetries",
      source: "Linux tcp_retransmit_timer() (tcp_syn_linear_timeouts), tcp_write_timeout(), tcp_model_timeout(), tcp_rcv_synsent_state_process() -> tcp_send_synack()",
    },
    freebsd: { meaning: "the first SYN waits initialRtoMs, SYN k after it initialRtoMs * 2^k + rexmitSlopMs; 1 + synRetries SYNs", source: "FreeBSD tcp_timer_rexmt(): TCPT_RANGESET(TCP_REXMTVAL * tcp_backoff[shift] + rexmit_slop)" },
    windows: {
      meaning:
        "as doubling (each wait capped at rtoMaxMs); when the last SYN went out less than synGiveUpMs after the first, the attempt ends synGiveUpMs after the first SYN at the latest (docs/decisions.md, \"Windows SYN schedule\")",
      source: "measured: Windows 10/11 InitialRto 1 s, MaxSynRetransmissions 4: SYNs at 0, 1, 3, 7, 15 s, give-up at 21 s; 2 -> 7 s, 6 -> 123 s; Windows 7: SYNs at 0, 3, 9 s, give-up at 21 s",
    },
  },
  knobs: ["initialRtoMs", "synRetries", "synLinearTimeouts", "rexmitSlopMs", "rtoMaxMs", "synGiveUpMs", "connectTimeoutMs", "synDropOptionsAfter", "synRetriesLimit"],
});

export const lastSynWscalePolicy = policy({
  field: "lastSynWscale",
  title: "Window scale on the last SYN",
  where: "RFC 7323 §2.2 (window scaling is used only if both SYNs carry the option): the last retransmission the SYN count allows",
  choices: {
    keep: { meaning: "every SYN carries the same options", source: "RFC 6298 §5.4 (retransmit the same segment); Windows 10/11, Linux captures" },
    drop: {
      meaning: "the last SYN the count allows (by timer or after a RST) goes without the window-scale option, in case a middlebox drops SYNs carrying it; scaling is then off for the connection",
      source: "Windows 7 captures (pcaps nowebaccess2, sv.base64-decode-5885: the third SYN is mss,nop,nop,sackOK)",
    },
  },
});

export const synWindowRulePolicy = policy({
  field: "synWindowRule",
  title: "The window of our SYN",
  where: "RFC 9293 §3.10.1, RFC 7323 §2.2: the (never scaled) window field of the SYN and SYN-ACK",
  choices: {
    fixed: { meaning: "synWindow, whatever the MSS", source: "captures of each OS at MSS 1460" },
    windows: {
      meaning: "44 times the MSS we advertise, at most 65535: 64240 at MSS 1460, 63360 at 1440, 65535 on a loopback-sized MTU (MSS 65495)",
      source: "p0f signatures of Windows 10 SYNs (mss*44 at MSS 1250-1460, Trustable_p0f dataset); Windows 10/11 captures at MSS 1460; Windows 10 1809 loopback (65535, MSS 65495, wscale 8)",
    },
    linux: {
      meaning: "the largest multiple of the MSS we advertise that fits the initial receive space (rcvBufBytes / 2), at most 65535, on the SYN and on the SYN-ACK of a simultaneous open, which re-sends the SYN (64240 for MSS 1460, 64800 for 1440, 65495 on loopback); a passive open's SYN-ACK: synAckWindowRounding",
      source: "Linux tcp_select_initial_window() (rounddown(space, mss)), called by tcp_connect_init() with tp->advmss; space = tcp_full_space() = tcp_win_from_space(sk_rcvbuf) at the default scaling ratio of 50%; checked on Linux 6.18 in a namespace pair",
    },
  },
  knobs: ["synWindow", "rcvBufBytes"],
});

export const simOpenSynAckOptionsPolicy = policy({
  field: "simOpenSynAckOptions",
  title: "SYN-ACK options after a simultaneous open",
  where: "RFC 9293 §3.10.7.3 fourth step: the SYN-ACK of SYN-SENT -> SYN-RECEIVED",
  choices: {
    offered: { meaning: "only the options the peer's SYN offered (window scale, SACK-permitted, timestamps)", source: "RFC 7323 §2.2, RFC 2018 §2; FreeBSD" },
    own: { meaning: "our SYN's options again, with the ACK bit", source: "Linux tcp_send_synack() (re-sends its SYN)" },
  },
});

export const simOpenWscalePolicy = policy({
  field: "simOpenWscale",
  title: "Window scale after a simultaneous open without the peer's",
  where: "RFC 7323 §2.2: a SYN without the window-scale option turns scaling off both ways",
  choices: {
    rfc7323: { meaning: "no scaling either way: our window is advertised unscaled", source: "RFC 7323 §2.2" },
    linux: {
      meaning: "the peer's SYN (not a SYN-ACK) without the option: its windows are taken unscaled, but ours stay shifted by the scale our SYN offered (a window of 64512 is advertised as 63 with shift 10)",
      source: "Linux tcp_rcv_synsent_state_process(): only the SYN-ACK path clears rcv_wscale when the peer did not offer window scaling",
    },
  },
});

/**
 * simOpenWscale "linux": after a crossing SYN without the window-scale option, our window
 * stays scaled by what our SYN offered (call after negotiate()).
 */
export function simOpenKeepOwnScale(c: Connection, opt: SegmentOptionView): void {
  const p = c.prof;
  if (p.simOpenWscale !== "linux" || opt.wscale !== undefined) return;
  if (p.noOptions || c.synOptionsDropped || !p.windowScaling || c.synWscaleDropped) return;
  c.rcvWscale = Math.min(p.windowScale, MAX_WSCALE);
}

export const peerMssPolicy = policy({
  field: "peerMss",
  title: "The peer's MSS option",
  where: "RFC 9293 §3.7.1: the send MSS from the peer's SYN (the RFC sets no lower bound)",
  choices: {
    rfc9293: { meaning: "the option as given (at least 1 byte), or the default 536 / 1220 without one", source: "RFC 9293 §3.7.1 (MUST-15), RFC 8200 §5" },
    linux: { meaning: "an MSS option of 0 counts as absent (the default applies); a smaller one is raised to minSndMss", source: "Linux tcp_parse_options(), tcp_mtu_to_mss() with net.ipv4.tcp_min_snd_mss" },
    freebsd: { meaning: "an MSS option of 0 counts as absent (the default applies); a smaller one is raised to minSndMss, then limited by our own path MTU", source: "FreeBSD tcp_mss_update() (\"Prevent DoS attack with too small MSS\", net.inet.tcp.minmss = TCP_MINMSS 216)" },
    windows: {
      meaning: "an option below the family's default send MSS (536 IPv4, 1220 IPv6), 0 included, is raised to it, then limited by our own path MTU",
      source: "inferred from Windows' minimum path MTU (IPV4_MINIMUM_MTU 576, IPv6 1280; ws2ipdef.h): no public capture shows Windows answering a tiny MSS (docs/decisions.md)",
    },
  },
  knobs: ["minSndMss"],
});

export const rcvBufRoundingPolicy = policy({
  field: "rcvBufRounding",
  title: "Receive buffer rounding",
  where: "after the handshake: the buffer our window is advertised from",
  choices: {
    none: { meaning: "rcvBufBytes as configured", source: "RFC 9293 §3.8.6" },
    mss: { meaning: "rounded up to a multiple of the send MSS, at most 2 MB", source: "FreeBSD tcp_mss() (sbreserve to a multiple of the MSS, kern.ipc.maxsockbuf)" },
  },
  knobs: ["rcvBufBytes"],
});

// ---------------------------------------------------------------------------------------
// SYN schedule (synBackoff)

/**
 * The retransmission timeout that follows SYN number `k` (k = 0 for the first SYN): the
 * time from sending SYN k until the next SYN, or until give-up after the last one.
 */
export function synRtoMs(p: Profile, k: number, initialRtoMs = p.initialRtoMs): number {
  let rto: number;
  switch (p.synBackoff) {
    case "doubling":
    case "windows":
      // RFC 6298 §5.5: RTO <- 2 * RTO on each expiry (Windows: capped at 60 s, rtoMaxMs).
      rto = initialRtoMs * 2 ** k;
      break;
    case "linux":
      // tcp_syn_linear_timeouts: the first N+1 waits stay at the initial RTO, then doubling
      // resumes (net/ipv4/tcp_timer.c; SYNs at 0,1,2,3,4,5,7,11,19,35,67 s with N = 4).
      rto = k <= p.synLinearTimeouts ? initialRtoMs : initialRtoMs * 2 ** (k - p.synLinearTimeouts);
      break;
    case "freebsd":
      // FreeBSD: the first SYN waits t_rxtcur = rexmit_initial; later waits are
      // TCP_REXMTVAL * tcp_backoff[shift] + rexmit_slop (TCPT_RANGESET), capped at REXMTMAX.
      rto = k === 0 ? initialRtoMs : initialRtoMs * 2 ** k + p.rexmitSlopMs;
      break;
  }
  return Math.min(rto, p.rtoMaxMs);
}

/**
 * Linux tcp_write_timeout() in SYN-SENT: besides the count, the attempt also expires at the
 * first timer expiry (after at least one retransmission) once now - first SYN reaches
 * tcp_model_timeout(tcp_syn_retries, initial RTO): the time the classic doubling schedule
 * would take, (2^(retries+1) - 1) * RTO, linear beyond TCP_RTO_MAX. With
 * tcp_syn_linear_timeouts this ends the attempt before the count does (retries 2, linear 4:
 * 7 s, not 11 s; kernel-diff kd-7-0001). Infinity for the other schedules (count only).
 */
export function synModelTimeoutMs(p: Profile, initialRtoMs = p.initialRtoMs): number {
  if (p.synBackoff !== "linux") return Infinity;
  const boundary = Math.max(0, p.synRetries);
  const thresh = Math.floor(Math.log2(p.rtoMaxMs / initialRtoMs));
  if (boundary <= thresh) return (2 ** (boundary + 1) - 1) * initialRtoMs;
  return (2 ** (thresh + 1) - 1) * initialRtoMs + (boundary - thresh) * p.rtoMaxMs;
}

/**
 * The timeout after SYN-ACK number `k` (k = 0 for the first). Linux applies
 * tcp_syn_linear_timeouts in SYN-SENT only (tcp_retransmit_timer()): a SYN-ACK, also the
 * one after a simultaneous open, backs off by plain doubling (kernel-diff kd-7-0138:
 * SYN-ACKs at 0.8, 1025, 3041 ms). Other schedules: as for the SYN.
 */
export function synAckRtoMs(p: Profile, k: number, initialRtoMs = p.initialRtoMs): number {
  if (p.synBackoff !== "linux") return synRtoMs(p, k, initialRtoMs);
  return Math.min(initialRtoMs * 2 ** k, p.rtoMaxMs);
}

/**
 * synBackoff "windows": when the SYN timer after the last SYN the count allows fires. The
 * wait is the doubling one (capped at rtoMaxMs), but if the last SYN went out less than
 * synGiveUpMs after the first, the attempt ends synGiveUpMs after the first SYN at the
 * latest. This one rule gives every measured Windows give-up: InitialRto 1 s with
 * MaxSynRetransmissions 4 -> 21 s (not the 31 s of plain doubling), 2 -> 7 s, 6 -> 123 s
 * (1+2+4+8+16+32+60), 8 -> 243 s; Windows 7's 3 s with 2 -> 21 s (docs/decisions.md).
 */
export function lastSynTimerAt(p: Profile, firstSynAt: number, now: number, waitMs: number): number {
  const at = now + waitMs;
  if (p.synBackoff !== "windows" || p.synGiveUpMs <= 0) return at;
  const limit = firstSynAt + p.synGiveUpMs;
  return now < limit ? Math.min(at, limit) : at;
}

/** Total SYN transmissions allowed (first SYN plus retransmissions). */
export function synAttempts(p: Profile): number {
  const retries = p.synBackoff === "linux" ? p.synRetries + p.synLinearTimeouts : p.synRetries;
  return 1 + Math.max(0, retries);
}

// ---------------------------------------------------------------------------------------
// SYN and SYN-ACK

const DEFAULT_MSS_V4 = 536; // RFC 9293 §3.7.1 (MUST-15)
const DEFAULT_MSS_V6 = 1220; // RFC 8200 §5: 1280 - 40 - 20
export const MAX_WSCALE = 14; // RFC 7323 §2.3

/** What the peer's SYN offered (Connection.peerOffered): bits, so the TCB holds a number, not an object. */
export const OFFERED_WSCALE = 1;
export const OFFERED_SACK = 2;
export const OFFERED_TS = 4;

/** OPEN call, active (RFC 9293 §3.10.1): send the SYN and enter SYN-SENT. */
export function open(c: Connection, now: number): void {
  c.handshake.firstSynAt = now;
  if (c.prof.connectTimeoutMs > 0) c.setDeadline(Deadline.connect, c.timerExpiry(now, c.prof.connectTimeoutMs));
  c.setState("SYN-SENT", now, "RFC 9293 §3.10.1: OPEN (active) -> send SYN, enter SYN-SENT");
  sendSyn(c, now, "send SYN", "RFC 9293 §3.10.1: <SEQ=ISS><CTL=SYN>");
}

/**
 * Passive OPEN (RFC 9293 §3.10.7.2, a SYN for a LISTEN port): RCV.NXT = SEG.SEQ + 1,
 * IRS = SEG.SEQ, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, enter SYN-RECEIVED. Text in
 * the SYN is not kept (no TCP Fast Open); the peer sends it again.
 */
export function acceptSyn(c: Connection, seg: TcpSegment, opt: SegmentOptionView, now: number, mode: PassiveOpenMode = "entry"): void {
  c.passive = true;
  c.handshake.firstSynAt = now;
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvOfferedEdge = c.rcvNxt;
  negotiate(c, opt);
  // RFC 7323 §2.2: the window of a SYN is never scaled.
  c.sndWnd = seg.window;
  const s = c.sender;
  s.maxSndWnd = seg.window;
  s.sndWl1 = seg.seq;
  s.sndWl2 = c.iss;
  if (c.prof.connectTimeoutMs > 0) c.setDeadline(Deadline.connect, c.timerExpiry(now, c.prof.connectTimeoutMs));
  c.setState("SYN-RECEIVED", now, mode === "restore" ? "RFC 4987 §3.6: a valid SYN cookie ACK rebuilds the SYN-RECEIVED state" : "RFC 9293 §3.10.7.2: SYN in LISTEN -> SYN-RECEIVED");
  if (mode === "entry") sendSynAck(c, now, "passive open: send SYN-ACK", "RFC 9293 §3.10.7.2: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>");
  else if (mode === "cookie") emitSynAck(c, now, "SYN cookie SYN-ACK: nothing kept", "RFC 4987 §3.6 (halfOpenFull, passive.ts)");
  else {
    // The SYN-ACK went out from no state: what it told the peer is rebuilt, nothing is sent,
    // and no SYN-ACK was timed (synCount 0: no RTT sample, as Linux has no snt_synack then).
    synAckWindowState(c);
    c.sndNxt = seqAdd(c.iss, 1);
    c.sndMax = c.sndNxt;
  }
}

/**
 * How acceptSyn() opens: "entry" keeps a SYN-RECEIVED connection and sends the SYN-ACK with
 * its retransmissions; "cookie" sends one SYN-ACK (its ISS a SYN cookie) from a connection the
 * caller then forgets; "restore" rebuilds the connection a cookie ACK proves (RFC 4987 §3.6).
 */
export type PassiveOpenMode = "entry" | "cookie" | "restore";

/** The window field of our SYN and SYN-ACK (synWindowRule). */
export function synWindowOf(c: Connection): number {
  const p = c.prof;
  if (p.synWindowRule === "fixed") return p.synWindow;
  if (p.synWindowRule === "linux") {
    // tcp_select_initial_window(): space = tcp_full_space(); if (space > mss) space =
    // rounddown(space, mss); the window field carries at most U16_MAX.
    const mss = c.mssAdvertised;
    let space = Math.floor(p.rcvBufBytes / 2);
    if (mss > 0 && space > mss) space -= space % mss;
    return Math.min(space, 0xffff);
  }
  // "windows": 44 segments of the MSS we advertise (64240 = 44 x 1460), within the 16-bit
  // field: a loopback-sized MSS (65495) gives 65535.
  return Math.min(44 * c.mssAdvertised, 65535);
}

/**
 * Options of our SYN (`peerOffered` undefined) or SYN-ACK (`peerOffered`: OFFERED_* bits of
 * what the peer's SYN offered; the SYN-ACK echoes its TSval).
 */
export function synOptions(c: Connection, now: number, peerOffered?: number): TcpOption[] {
  const p = c.prof;
  if (p.noOptions) return [];
  if (c.synOptionsDropped) return handshakeOptions(p.optionLayout, { mss: c.mssAdvertised, sackOK: false });
  const offerWs = p.windowScaling && !c.synWscaleDropped && (peerOffered !== undefined ? (peerOffered & OFFERED_WSCALE) !== 0 : true);
  const offerSack = p.sack && (peerOffered !== undefined ? (peerOffered & OFFERED_SACK) !== 0 : true);
  // synAckOptions (passive.ts): a Windows passive open answers timestamps it never offers.
  const offerTs = (p.timestamps || answersTimestamps(c)) && (peerOffered !== undefined ? (peerOffered & OFFERED_TS) !== 0 : true);
  const v = {
    mss: c.mssAdvertised,
    wscale: offerWs ? Math.min(p.windowScale, MAX_WSCALE) : undefined,
    sackOK: offerSack,
    ts: offerTs ? { val: c.tsVal(now), ecr: peerOffered !== undefined ? c.tsRecent : 0 } : undefined,
  };
  return synAckLayout(c, v) ?? handshakeOptions(p.optionLayout, v);
}

/** <SEQ=ISS><CTL=SYN>, and its retransmission timer (synBackoff). */
export function sendSyn(c: Connection, now: number, why: string, rule: string): void {
  const p = c.prof;
  c.synCount++;
  c.handshake.lastSynAt = now;
  c.sndNxt = seqAdd(c.iss, 1);
  c.sndMax = c.sndNxt;
  const last = c.synCount >= synAttempts(p);
  if (last && c.synCount > 1 && p.lastSynWscale === "drop" && p.windowScaling && !c.synWscaleDropped) {
    // lastSynWscale "drop" (Windows 7): the last SYN goes without the window-scale option;
    // said in the SYN's own note, not one of its own.
    c.synWscaleDropped = true;
    why = `${why}, the last one without window scale`;
    rule = `${rule}; lastSynWscale drop`;
  }
  c.host.emit(c, outSegment(c.iss, 0, TCP_SYN, synWindowOf(c), synOptions(c, now)), now, why, rule);
  const wait = synRtoMs(p, c.synCount - 1);
  // On the profile's timer wheel (timerWheel): the expiry as the kernel would fire it.
  c.rexmitAt = c.timerExpiry(now, (last ? lastSynTimerAt(p, c.handshake.firstSynAt, now, wait) : now + wait) - now);
  c.host.rearm(c);
}

/** <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, and its retransmission timer. */
export function sendSynAck(c: Connection, now: number, why: string, rule: string): void {
  c.synCount++;
  c.handshake.lastSynAt = now;
  emitSynAck(c, now, why, rule);
  c.rexmitAt = c.timerExpiry(now, synAckRtoMs(c.prof, c.synCount - 1));
  c.host.rearm(c);
}

/**
 * synBackoff "linux", simultaneous open: the SYN-ACK goes out and the timer the SYN armed
 * runs on (tcp_rcv_synsent_state_process() calls tcp_send_synack(), which re-arms nothing):
 * when it expires, tcp_retransmit_timer() retransmits the SYN-ACK and doubles the timeout
 * in force (no linear timeouts outside SYN-SENT). Counted with the SYNs (icsk_retransmits).
 */
export function sendSimOpenSynAck(c: Connection, now: number, why: string, rule: string): void {
  c.handshake.simOpenSyns = c.synCount;
  // handshakeRtt "linux": the SYN-ACK is timed (its skb's transmit time), not the SYN.
  if (c.prof.handshakeRtt === "linux") c.handshake.lastSynAt = now;
  emitSynAck(c, now, why, rule);
}

/** The timeout after the SYN-ACK retransmission that made synCount what it is (sendSimOpenSynAck). */
function simOpenSynAckRtoMs(c: Connection): number {
  const p = c.prof;
  return Math.min(synRtoMs(p, c.handshake.simOpenSyns - 1) * 2 ** (c.synCount - c.handshake.simOpenSyns), p.rtoMaxMs);
}

function emitSynAck(c: Connection, now: number, why: string, rule: string): void {
  c.sndNxt = seqAdd(c.iss, 1);
  c.sndMax = c.sndNxt;
  // RFC 7323 §2.2 / RFC 2018 §2: in a SYN-ACK offer only what the peer's SYN offered;
  // simOpenSynAckOptions "own" (Linux), in a simultaneous open: our own SYN's options.
  const own = !c.passive && c.prof.simOpenSynAckOptions === "own";
  const opts = synOptions(c, now, own ? OFFERED_WSCALE | OFFERED_SACK | OFFERED_TS : c.peerOffered);
  // The SYN-ACK advertises the first window (unscaled, RFC 7323 §2.2): receiver SWS
  // avoidance measures window growth from its right edge until the next ACK we send, and
  // in SYN-RECEIVED it is RCV.WND (arrival.ts acceptanceWindow).
  const window = synAckWindowState(c);
  c.host.emit(c, outSegment(c.iss, c.rcvNxt, TCP_SYN | TCP_ACK, window, opts), now, why, rule);
}

/** The SYN-ACK's window, and what advertising it means for the receive side (emitSynAck). */
function synAckWindowState(c: Connection): number {
  const window = synAckWindowOf(c);
  c.rcvAdvertisedEdge = seqAdd(c.rcvNxt, window);
  if (seqGt(c.rcvAdvertisedEdge, c.rcvOfferedEdge)) c.rcvOfferedEdge = c.rcvAdvertisedEdge;
  c.lastAckSent = c.rcvNxt;
  return window;
}

/** The peer's SYN again in SYN-RECEIVED: the same SYN-ACK again, timers untouched (RFC 9293 §3.10.7.4). */
export function resendSynAck(c: Connection, now: number): void {
  c.host.emit(c, outSegment(c.iss, c.rcvNxt, TCP_SYN | TCP_ACK, synAckWindowOf(c), synOptions(c, now, c.peerOffered)), now, "retransmitted SYN -> SYN-ACK again", "RFC 9293 §3.10.7.4");
}

/** The SYN-ACK's window: a passive open's per synAckWindowRounding, after a simultaneous open our SYN's. */
function synAckWindowOf(c: Connection): number {
  return c.passive ? synAckWindow(c) : synWindowOf(c);
}

/** RFC 7323 §2.2-2.3, RFC 2018 §2, RFC 9293 §3.7.1: what the peer's SYN (or SYN-ACK) negotiated. */
export function negotiate(c: Connection, opt: SegmentOptionView): void {
  const p = c.prof;
  c.peerOffered = (opt.wscale !== undefined ? OFFERED_WSCALE : 0) | (opt.sackOK ? OFFERED_SACK : 0) | (opt.ts !== undefined ? OFFERED_TS : 0);
  // What our SYN (its latest copy) offered: nothing with TCP_NOOPT, only the MSS once
  // rexmit_drop_options stripped the rest.
  const weOffered = !p.noOptions && !c.synOptionsDropped;
  // Window scaling only if both sides sent the option (our latest SYN may have gone
  // without it: lastSynWscale "drop").
  if (weOffered && p.windowScaling && !c.synWscaleDropped && opt.wscale !== undefined) {
    c.sndWscale = Math.min(opt.wscale, MAX_WSCALE);
    c.rcvWscale = Math.min(p.windowScale, MAX_WSCALE);
  } else {
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.sackEnabled = weOffered && p.sack && opt.sackOK;
  if (weOffered && (p.timestamps || answersTimestamps(c)) && opt.ts) {
    c.tsEnabled = true;
    c.tsRecent = opt.ts.val;
  } else {
    c.tsEnabled = false;
  }
  // MSS: the peer's option, or the default when absent (RFC 9293 §3.7.1 MUST-15). The
  // peerMss policy: "rfc9293" takes any option as given; the others ignore an MSS of 0 and
  // raise a small one to a floor (linux: after our own MTU's limit, as tcp_mtu_to_mss();
  // freebsd and windows: before it, as tcp_mss_update()).
  const policyMss = p.peerMss;
  const mssOpt = policyMss !== "rfc9293" && opt.mss === 0 ? undefined : opt.mss;
  c.sender.peerMss = mssOpt;
  const familyDefault = c.version === 6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
  const peer = mssOpt ?? familyDefault;
  const ours = c.mssForMtu(c.pathMtu);
  if (policyMss === "linux") c.sndMss = Math.max(1, p.minSndMss, Math.min(peer, ours));
  else {
    const floor = policyMss === "windows" ? familyDefault : policyMss === "freebsd" ? p.minSndMss : 1;
    c.sndMss = Math.max(1, Math.min(Math.max(peer, floor), ours));
  }
  if (p.rcvBufRounding === "mss" && p.rcvBufBytes > c.sndMss) {
    // Written through `profile`, not `prof`: a borrowed profile is copied first, so the
    // rounding stays this connection's own.
    const own = c.profile;
    own.rcvBufBytes = Math.min(Math.ceil(own.rcvBufBytes / c.sndMss) * c.sndMss, 2 * 1024 * 1024);
  }
}

export const handshakeRttPolicy = policy({
  field: "handshakeRtt",
  title: "RTT sample of the handshake",
  where: "RFC 6298 §3, §5.7: the first RTT measurement, from the segment that completes the handshake",
  choices: {
    karn: { meaning: "only a SYN (or SYN-ACK) sent once is timed, from its transmission; otherwise no sample and an RTO of at least 3 s", source: "RFC 6298 §3 (Karn), §5.7" },
    linux: {
      meaning:
        "as karn, but after a simultaneous open the SYN-ACK is timed, not the SYN (it is not a retransmission); a retransmitted SYN or SYN-ACK is timed by the TSecr of the segment acknowledging it when timestamps are on and TSecr is not 0 (at least 1 ms); with no sample the RTO is 3 s",
      source: "Linux tcp_ack_update_rtt() (tcp_rtt_tsopt_us()), tcp_send_synack(), tcp_init_metrics() (TCP_TIMEOUT_FALLBACK)",
    },
  },
});

/**
 * The first RTT sample, or the RTO that data transfer starts with. `ecr`: the TSecr of the
 * segment that acknowledged our SYN (or SYN-ACK), if it had timestamps.
 */
export function rttFromHandshake(c: Connection, now: number, ecr?: number): void {
  // Restored from a SYN cookie: no SYN-ACK was timed; the RTO stays the initial one.
  if (c.synCount === 0) return;
  // Karn's algorithm (RFC 6298 §3): only time a SYN that was not retransmitted; otherwise
  // RFC 6298 §5.7: the RTO is at least 3 s when data transfer begins. handshakeRtt "linux":
  // tcp_ack_update_rtt() takes the timestamp echo instead (tcp_rtt_tsopt_us(): whole ms, at
  // least 1; none for an echo ahead of the clock).
  let measured = RTO_AT_LEAST_3S;
  if (c.synCount === 1 && c.handshake.rstRetries === 0) measured = now - c.handshake.lastSynAt;
  else if (c.prof.handshakeRtt === "linux" && c.tsEnabled && ecr !== undefined && ecr !== 0) {
    const r = seqDiff(c.tsVal(now), ecr);
    if (r >= 0 && r <= c.prof.rtoMaxMs) measured = Math.max(1, r);
  }
  c.sender.fromHandshake(measured);
}

/** The retransmission timer expired in SYN-SENT or SYN-RECEIVED. */
export function onSynTimer(c: Connection, now: number): void {
  const p = c.prof;
  // Linux counts tcp_syn_linear_timeouts in SYN-SENT only: after a simultaneous open the SYN
  // and SYN-ACK retransmissions together stop at tcp_syn_retries (tcp_write_timeout()).
  // A passive open sends 1 + synAckRetries SYN-ACKs, then drops the half-open connection.
  const simOpen = c.state === "SYN-RECEIVED" && !c.passive && p.synBackoff === "linux";
  const attempts = c.passive ? 1 + Math.max(0, p.synAckRetries) : simOpen ? 1 + Math.max(0, p.synRetries) : synAttempts(p);
  if (c.synCount >= attempts) {
    c.giveUp(now, `no answer after ${c.synCount} SYN${c.synCount > 1 ? "s" : ""}`);
    return;
  }
  // Linux tcp_write_timeout(): the attempt also expires by time, at the first expiry
  // after a retransmission once now - first SYN >= tcp_model_timeout (synModelTimeoutMs);
  // retransmits_timed_out() applies in SYN-RECV as in SYN-SENT.
  if ((c.state === "SYN-SENT" || simOpen) && c.synCount > 1 && now - c.handshake.firstSynAt >= synModelTimeoutMs(p)) {
    c.giveUp(now, `no answer after ${c.synCount} SYNs in ${now - c.handshake.firstSynAt} ms (tcp_model_timeout)`);
    return;
  }
  if (simOpen) {
    c.host.trace(c, now, "timer", `SYN retransmission timer expired (#${c.synCount}): SYN-ACK again`, "linux tcp_retransmit_timer() in SYN-RECV");
    c.synCount++;
    c.handshake.lastSynAt = now;
    emitSynAck(c, now, "retransmit SYN-ACK", "RFC 6298 §5.4 (linux: the SYN's timer, doubled)");
    c.rexmitAt = c.timerExpiry(now, simOpenSynAckRtoMs(c));
    c.host.rearm(c);
    return;
  }
  c.host.trace(c, now, "timer", `SYN retransmission timer expired (#${c.synCount})`, "RFC 6298 §5.4-5.6 / profile SYN schedule");
  if (c.state === "SYN-SENT") {
    const after = p.synDropOptionsAfter;
    if (after > 0 && c.synCount >= after && !c.synOptionsDropped && !p.noOptions) {
      // FreeBSD rexmit_drop_options: maybe a middlebox drops SYNs with options; from the
      // SYN after the third on, offer none but the MSS (and use none if it works).
      c.synOptionsDropped = true;
      c.host.trace(c, now, "timer", `${c.synCount} SYNs unanswered: retransmit without window scale, SACK-permitted, timestamps`, "freebsd net.inet.tcp.rexmit_drop_options");
    }
    sendSyn(c, now, "retransmit SYN", "RFC 6298 §5.4: retransmit the earliest unacknowledged segment");
  } else sendSynAck(c, now, "retransmit SYN-ACK", "RFC 6298 §5.4");
}

/** The synSentRst "retrySyn" timer expired: the same SYN again. */
export function onRstRetryTimer(c: Connection, now: number): void {
  c.host.trace(c, now, "timer", "RST retry timer: re-send SYN", "synSentRst retrySyn: SYN again rstRetryDelayMs after the RST");
  sendSyn(c, now, "re-send SYN after RST", "synSentRst retrySyn");
}
