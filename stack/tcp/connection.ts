// One TCP connection: its TCB (RFC 9293 §3.3.1), the user calls (§3.10.1-3.10.6), and the
// dispatch of arriving segments, timers and ICMP errors to the parts that handle them:
//
//   handshake.ts  SYN and SYN-ACK, negotiation, passive OPEN, SYN retransmission
//   syn-sent.ts   SEGMENT ARRIVES in SYN-SENT (§3.10.7.3)
//   arrival.ts    SEGMENT ARRIVES in the other states (§3.10.7.4), in step order
//   sender.ts     output, Nagle/SWS, ACK processing, retransmission, persist, congestion
//   receiver.ts   text, reassembly, FIN, the window we advertise, when we ACK
//   icmp.ts       ICMP errors; deadlines.ts: the timers besides retransmission
//
// Where a profile's OS departs from the RFCs, the step asks a named policy (policy.ts);
// docs/profiles.md lists them all, per profile. The parts import only types from this
// file (Connection, SegmentOptionView, OutSegment): at run time the imports go one way,
// from here to the parts, which reach each other through the connection.
//
// Why this file is about 640 lines: the TCB is here and only here, and about 150 of those
// lines are its storage (the sequence variables kept as int32 behind unsigned accessors and
// the yes/no state in one bit field, each explained where it is declared: they keep a
// pending connection near 480 bytes, BENCHMARKS.md). The rest is the user calls and the
// dispatch to the parts; no SEGMENT ARRIVES step is handled here.
import type { TcpOption, TcpSegment } from "../wire/types.js";
import { TCP_ACK, TCP_RST } from "../wire/types.js";
import type { SegmentDropReason } from "../drops.js";
import type { TimerOwner } from "../timers.js";
import { onSegmentArrival } from "./arrival.js";
import { Deadline, newDeadlines, type DeadlineIndex } from "./deadlines.js";
import { acceptSyn, HandshakeState, onRstRetryTimer, onSynTimer, open, type PassiveOpenMode } from "./handshake.js";
import { onIcmp } from "./icmp.js";
import type { IcmpMeaning } from "./icmp-meaning.js";
import type { IcmpCause, Outcome, UnreachableReason } from "./outcome.js";
import { policy } from "./policy.js";
import type { Profile } from "./profiles.js";
import { ackOptions, Receiver, sendAck } from "./receiver.js";
import type { RtoEstimator } from "./rto.js";
import { Sender } from "./sender.js";
import { seqAdd, seqDiff, seqGt } from "./seq.js";
import { timerExpiry } from "./timer-wheel.js";
import { INFINITY_W0, INFINITY_W1, joinTime, splitTime, timeWords } from "./time-words.js";
import { canSend, isSynchronized, type TcpState } from "./state.js";
import { onSegmentSynSent } from "./syn-sent.js";
import { outSegment, type OutSegment } from "./out-segment.js";

export type { OutSegment } from "./out-segment.js";

/** What a connection needs from the stack that owns it. */
export interface ConnectionHost {
  /** Puts a segment of this connection on the wire. */
  emit(conn: Connection, seg: OutSegment, now: number, why: string, rule?: string): void;
  /** Records a decision in the trace (cheap no-op when nobody listens). */
  trace(conn: Connection, now: number, kind: "in" | "timer" | "state" | "outcome" | "icmp" | "user", decision: string, rule?: string, stateBefore?: string, outcome?: Outcome): void;
  /** The connection discarded the segment (or part of it): counted under `reason`, traced with `decision`. */
  dropSegment(conn: Connection, now: number, reason: SegmentDropReason, decision: string, rule: string): void;
  /** The connection's earliest deadline changed. */
  rearm(conn: Connection): void;
  /** The connection reached CLOSED and must leave the demultiplexing table. */
  release(conn: Connection): void;
  readonly tracing: boolean;
}

/** Callbacks from the engine to the connection's owner (the WSK facade, tests). */
export interface ConnectionEvents {
  /** The handshake completed (SYN-SENT/SYN-RECEIVED -> ESTABLISHED). */
  established?(conn: Connection): void;
  /** The connection ended; `outcome` says how. Called exactly once. */
  closed?(conn: Connection, outcome: Outcome): void;
  /** New in-order data is readable. */
  data?(conn: Connection): void;
  /** The peer sent FIN: no more data will arrive. */
  peerFin?(conn: Connection): void;
  /** Bytes of our data were acknowledged (cumulative count since the start). */
  acked?(conn: Connection, totalAcked: number): void;
  /** Our FIN was acknowledged (graceful disconnect of our direction is complete). */
  finAcked?(conn: Connection): void;
}

export interface ConnectionInit {
  id: number;
  version: 4 | 6;
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  profile: Profile;
  /**
   * `profile` is someone else's object (the stack's own profile): the connection must not
   * write into it, and copies it on first outside access (see Connection.profile).
   */
  profileBorrowed?: boolean;
  iss: number;
  /** Offset added to the millisecond clock for TSval (RFC 7323 §5.4 allows per-connection offsets). */
  tsOffset: number;
  /** Interface MTU, for the MSS we advertise (MTU - IP header - 20, RFC 9293 §3.7.1). */
  mtu: number;
}

/** The option values of an arriving segment, summarised once by the stack. */
export interface SegmentOptionView {
  mss?: number;
  wscale?: number;
  sackOK: boolean;
  ts?: { val: number; ecr: number };
  /** SACK blocks of the segment (RFC 2018), if any. */
  sack?: Array<[number, number]>;
}

export const abortRstPolicy = policy({
  field: "abortRst",
  title: "RST of an ABORT",
  where: "RFC 9293 §3.10.5: ABORT in a synchronised state",
  choices: {
    rst: { meaning: "<SEQ=SND.NXT><CTL=RST>", source: "RFC 9293 §3.10.5" },
    rstAck: { meaning: "<SEQ=SND.MAX><ACK=RCV.NXT><CTL=RST,ACK>, window 0, no options", source: "FreeBSD tcp_drop(), Windows" },
    rstAckFull: { meaning: "the same RST,ACK built like any other segment: timestamps, SACK blocks when out-of-order data is held, the current window", source: "Linux tcp_send_active_reset() via tcp_transmit_skb()" },
  },
});

const NO_OPTIONS: TcpOption[] = [];

// Connection.bits
const TS_ENABLED = 1;
const SACK_ENABLED = 2;
const SYN_OPTIONS_DROPPED = 4;
const PASSIVE = 8;
const PROF_BORROWED = 16;
const SYN_WSCALE_DROPPED = 32;
const RCV_CLOSED = 64;
/** peerOffered (OFFERED_* of handshake.ts) sits in bits 8 to 15. */
const PEER_OFFERED_SHIFT = 8;

export class Connection implements TimerOwner {
  // ---------------------------------------------------------------------------------
  // The TCB (RFC 9293 §3.3.1): every field of a connection is declared here. The sending
  // and receiving halves (Sender, Receiver) hold theirs and are created when first needed,
  // so that a connection waiting in SYN-SENT, the most numerous kind, carries only this.

  readonly id: number;
  readonly version: 4 | 6;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** Free slot for the owner (the WSK socket, a test). */
  owner: unknown = undefined;
  /** @internal The owner's callbacks (see `events`); absent until set. */
  ev: ConnectionEvents | undefined = undefined;
  /**
   * @internal The profile the engine reads (outsiders use `profile`). A connection opened
   * with the stack's profile and no overrides shares that object (`profBorrowed`) instead of
   * copying its fields, most of the memory of a SYN-SENT connection otherwise; nothing in
   * the engine writes into a borrowed profile.
   */
  prof: Profile;

  state: TcpState = "CLOSED";
  /** TimerOwner: the stack's timer heap entry. */
  timerGen = 0;
  // timerAt, as two int32 halves (time-words.ts: one heap box less per connection).
  private timerAtW0 = INFINITY_W0;
  private timerAtW1 = INFINITY_W1;

  // Send and receive sequence space: the 32-bit sequence variables (RFC 9293 §3.3.1) are
  // read and written as unsigned numbers through the accessors below, and kept as int32
  // (see there). SND.WL1, SND.WL2 and MAX.SND.WND are the Sender's (a connection in SYN-SENT
  // has no use for them).
  private issI32: number;
  private sndUnaI32: number;
  private sndNxtI32: number;
  private sndMaxI32: number;
  private irsI32 = 0;
  private rcvNxtI32 = 0;
  private tsRecentI32 = 0;
  // What our last ACK told the peer (see ackSent()): here, not in the Receiver, so that an
  // ESTABLISHED connection that has received nothing has no Receiver (BENCHMARKS.md, phase 4).
  private lastAckSentI32 = 0;
  private rcvAdvertisedEdgeI32 = 0;
  private rcvOfferedEdgeI32 = 0;
  sndWnd = 0;

  // What the handshake negotiated
  /** Our window-scale shift once negotiated (0 if not). */
  rcvWscale = 0;
  /** The peer's window-scale shift once negotiated (0 if not). */
  sndWscale = 0;
  readonly tsOffset: number;
  /** MSS we advertise. */
  mssAdvertised: number;
  /** Largest segment payload we send. */
  sndMss: number;
  pathMtu: number;

  // The handshake (handshake.ts)
  /** Number of SYNs (or SYN-ACKs in SYN-RECEIVED) sent so far; kept after the handshake (a count users read). */
  synCount = 0;
  /**
   * @internal What only the handshake needs (handshake.ts, HandshakeState), dropped on
   * entering ESTABLISHED: its two times are heap boxes (deadlines.ts says why), and an
   * ESTABLISHED connection is what the garbage collector copies (BENCHMARKS.md, phase 4).
   */
  hs: HandshakeState | undefined = new HandshakeState();
  /** The yes/no state of the connection and what the peer's SYN offered, as bits (see the accessors). */
  private bits = 0;

  // Timers: the retransmission deadline (rexmitAt, as two int32 halves: time-words.ts), and
  // the others in a lazily created array (deadlines.ts explains why).
  private rexmitAtW0 = INFINITY_W0;
  private rexmitAtW1 = INFINITY_W1;
  private later: number[] | undefined = undefined;

  /** @internal The halves, created when first needed (see `sender`, `receiver`). */
  sndPart: Sender | undefined = undefined;
  rcvPart: Receiver | undefined = undefined;

  // How it ended
  softError: { reason: UnreachableReason; icmp: IcmpCause } | undefined = undefined;
  outcome: Outcome | undefined = undefined;

  constructor(init: ConnectionInit, readonly host: ConnectionHost) {
    this.id = init.id;
    this.version = init.version;
    this.localAddr = init.localAddr;
    this.localPort = init.localPort;
    this.remoteAddr = init.remoteAddr;
    this.remotePort = init.remotePort;
    this.prof = init.profile;
    if (init.profileBorrowed === true) this.bits = PROF_BORROWED;
    this.issI32 = init.iss | 0;
    this.sndUnaI32 = this.issI32;
    this.sndNxtI32 = this.issI32;
    this.sndMaxI32 = this.issI32;
    this.tsOffset = init.tsOffset;
    this.pathMtu = init.mtu;
    this.mssAdvertised = this.mssForMtu(init.mtu);
    this.sndMss = this.mssAdvertised;
  }

  // ---------------------------------------------------------------------------------
  // Sequence variables
  //
  // A uint32 of 2^31 or more is not a small integer to V8: stored in a field, it takes a
  // 16-byte heap box of its own, allocated anew on every write from optimized code. As
  // int32 (`| 0`, the same 32 bits) it is stored inline. The accessors give the unsigned
  // value, so nothing outside sees the difference. Measured on the engine benchmark: about
  // 8 boxes fewer per connection, which the garbage collector no longer copies.

  /** ISS: initial send sequence number. */
  get iss(): number { return this.issI32 >>> 0; }
  set iss(v: number) { this.issI32 = v | 0; }
  /** SND.UNA: oldest unacknowledged sequence number. */
  get sndUna(): number { return this.sndUnaI32 >>> 0; }
  set sndUna(v: number) { this.sndUnaI32 = v | 0; }
  /** SND.NXT: next sequence number to be sent. */
  get sndNxt(): number { return this.sndNxtI32 >>> 0; }
  set sndNxt(v: number) { this.sndNxtI32 = v | 0; }
  /** Highest sequence number sent so far (SND.NXT may fall back on retransmission). */
  get sndMax(): number { return this.sndMaxI32 >>> 0; }
  set sndMax(v: number) { this.sndMaxI32 = v | 0; }
  /** IRS: initial receive sequence number. */
  get irs(): number { return this.irsI32 >>> 0; }
  set irs(v: number) { this.irsI32 = v | 0; }
  /** RCV.NXT: next sequence number expected. */
  get rcvNxt(): number { return this.rcvNxtI32 >>> 0; }
  set rcvNxt(v: number) { this.rcvNxtI32 = v | 0; }
  /** TS.Recent (RFC 7323 §4.3): the peer's timestamp to echo. */
  get tsRecent(): number { return this.tsRecentI32 >>> 0; }
  set tsRecent(v: number) { this.tsRecentI32 = v | 0; }
  /** The ACK field of our last segment (Last.ACK.sent, RFC 7323 §4.3). */
  get lastAckSent(): number { return this.lastAckSentI32 >>> 0; }
  set lastAckSent(v: number) { this.lastAckSentI32 = v | 0; }
  /** RCV.NXT + RCV.WND as last advertised (receiver SWS avoidance, RFC 9293 §3.8.6.2.2). */
  get rcvAdvertisedEdge(): number { return this.rcvAdvertisedEdgeI32 >>> 0; }
  set rcvAdvertisedEdge(v: number) { this.rcvAdvertisedEdgeI32 = v | 0; }
  /**
   * The furthest right edge ever advertised (set to RCV.NXT when the peer's SYN arrives).
   * A scaled window rounds down, so a later advertisement can end left of an earlier one
   * (RFC 7323 Appendix F); the peer may already have sent up to the earlier edge.
   */
  get rcvOfferedEdge(): number { return this.rcvOfferedEdgeI32 >>> 0; }
  set rcvOfferedEdge(v: number) { this.rcvOfferedEdgeI32 = v | 0; }

  // ---------------------------------------------------------------------------------
  // Times kept as two int32 halves (time-words.ts)

  /** TimerOwner: the deadline the stack's timer heap holds for this connection (ms; Infinity = none). */
  get timerAt(): number { return joinTime(this.timerAtW0, this.timerAtW1); }
  set timerAt(t: number) { splitTime(t); this.timerAtW0 = timeWords[0]; this.timerAtW1 = timeWords[1]; }
  /** The retransmission deadline (ms; Infinity = not armed). */
  get rexmitAt(): number { return joinTime(this.rexmitAtW0, this.rexmitAtW1); }
  set rexmitAt(t: number) { splitTime(t); this.rexmitAtW0 = timeWords[0]; this.rexmitAtW1 = timeWords[1]; }

  // ---------------------------------------------------------------------------------
  // Yes/no state, in `bits`: one field instead of separate booleans and a number, 40 bytes less
  // per connection (the memory benchmark: heap per SYN-SENT connection).

  /** Timestamps (RFC 7323) were negotiated. */
  get tsEnabled(): boolean { return (this.bits & TS_ENABLED) !== 0; }
  set tsEnabled(v: boolean) { this.setBit(TS_ENABLED, v); }
  /** SACK (RFC 2018) was negotiated. */
  get sackEnabled(): boolean { return (this.bits & SACK_ENABLED) !== 0; }
  set sackEnabled(v: boolean) { this.setBit(SACK_ENABLED, v); }
  /** The SYN retransmissions carry the MSS option only (profile.synDropOptionsAfter). */
  get synOptionsDropped(): boolean { return (this.bits & SYN_OPTIONS_DROPPED) !== 0; }
  set synOptionsDropped(v: boolean) { this.setBit(SYN_OPTIONS_DROPPED, v); }
  /** Our latest SYN went without the window-scale option (profile.lastSynWscale "drop"). */
  get synWscaleDropped(): boolean { return (this.bits & SYN_WSCALE_DROPPED) !== 0; }
  set synWscaleDropped(v: boolean) { this.setBit(SYN_WSCALE_DROPPED, v); }
  /** This connection was created by a listener (passive OPEN, RFC 9293 §3.10.7.2). */
  get passive(): boolean { return (this.bits & PASSIVE) !== 0; }
  set passive(v: boolean) { this.setBit(PASSIVE, v); }
  /** The user closed both directions (close(now, true)): it reads nothing more (dataAfterClose). */
  get rcvClosed(): boolean { return (this.bits & RCV_CLOSED) !== 0; }
  /** `prof` is the stack's own object, not this connection's copy (see `profile`). */
  private get profBorrowed(): boolean { return (this.bits & PROF_BORROWED) !== 0; }
  private set profBorrowed(v: boolean) { this.setBit(PROF_BORROWED, v); }
  /** @internal What the peer's SYN offered: OFFERED_* bits of handshake.ts. */
  get peerOffered(): number { return (this.bits >>> PEER_OFFERED_SHIFT) & 0xff; }
  set peerOffered(v: number) { this.bits = (this.bits & ~(0xff << PEER_OFFERED_SHIFT)) | ((v & 0xff) << PEER_OFFERED_SHIFT); }

  private setBit(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  // ---------------------------------------------------------------------------------
  // Access

  /**
   * The profile this connection runs with. Reading it from outside gives the connection its
   * own copy first when the profile was borrowed: owners write per-connection settings into
   * it (the WSK provider's TCP_NODELAY, the conformance runner's live sysctls), and those
   * must not reach the stack's profile. The engine itself reads `prof`, never copying.
   */
  get profile(): Profile {
    if (this.profBorrowed) {
      this.prof = { ...this.prof };
      this.profBorrowed = false;
    }
    return this.prof;
  }

  /** IP TTL / hop limit for this connection's packets (read without copying the profile). */
  get ttl(): number {
    return this.prof.ttl;
  }

  get events(): ConnectionEvents {
    return (this.ev ??= {});
  }
  set events(e: ConnectionEvents) {
    this.ev = e;
  }

  /** The sending half (created on first use: a fresh one is what a new connection starts with). */
  get sender(): Sender {
    return (this.sndPart ??= new Sender(this));
  }
  /** The receiving half (created on first use). */
  get receiver(): Receiver {
    return (this.rcvPart ??= new Receiver(this));
  }

  get tuple(): string {
    const l = this.version === 6 ? `[${this.localAddr}]` : this.localAddr;
    const r = this.version === 6 ? `[${this.remoteAddr}]` : this.remoteAddr;
    return `${l}:${this.localPort}>${r}:${this.remotePort}`;
  }

  /** @internal The handshake's state (handshake.ts); only a connection that has not reached ESTABLISHED has it. */
  get handshake(): HandshakeState {
    const h = this.hs;
    if (h === undefined) throw new Error(`connection ${this.id}: no handshake state in ${this.state}`);
    return h;
  }

  // What the halves hold, read without creating them.
  /** Bytes queued for sending and not yet acknowledged. */
  get sendBuffered(): number {
    return this.sndPart === undefined ? 0 : this.sndPart.buffered;
  }
  /** In-order received bytes the user has not read yet. */
  get rcvBuffered(): number {
    return this.rcvPart === undefined ? 0 : this.rcvPart.buffered;
  }
  get peerFinReceived(): boolean {
    return this.rcvPart !== undefined && this.rcvPart.peerFinReceived;
  }
  /** Set by read() when the window grew enough; the stack flushes it at the next poll. */
  get pendingWindowUpdate(): boolean {
    return this.rcvPart !== undefined && this.rcvPart.pendingWindowUpdate;
  }
  get finQueued(): boolean {
    return this.sndPart !== undefined && this.sndPart.finQueued;
  }
  get finSent(): boolean {
    return this.sndPart !== undefined && this.sndPart.finSent;
  }
  /** Total bytes acknowledged by the peer since the start. */
  get totalAcked(): number {
    return this.sndPart === undefined ? 0 : this.sndPart.totalAcked;
  }
  // Read through the sender, which they create when first read, as when the engine first
  // needs them. The halves' counters are read there (conn.sender.retransmits, ...).
  get rto(): RtoEstimator {
    return this.sender.rto;
  }
  /** MAX.SND.WND (RFC 5961 §5.2): the largest window the peer has offered (the Sender's). */
  get maxSndWnd(): number {
    return this.sndPart === undefined ? 0 : this.sndPart.maxSndWnd;
  }
  /** The peer's MSS option (undefined if it sent none or no SYN came yet; the Sender's). */
  get peerMss(): number | undefined {
    return this.sndPart === undefined ? undefined : this.sndPart.peerMss;
  }
  get cwnd(): number {
    return this.sender.cc.cwnd;
  }
  get ssthresh(): number {
    return this.sender.cc.ssthresh;
  }
  /** RFC 5681 FlightSize: sent but not yet acknowledged (SND.MAX - SND.UNA, FIN included). */
  flightSize(): number {
    return seqDiff(this.sndMax, this.sndUna);
  }

  // ---------------------------------------------------------------------------------
  // Deadlines (deadlines.ts)

  /** A deadline besides the retransmission timer (Infinity when not armed). */
  deadline(d: DeadlineIndex): number {
    return this.later === undefined ? Infinity : this.later[d];
  }
  /** Arms (or, with Infinity, disarms) a deadline; the caller rearms the stack's timer. */
  setDeadline(d: DeadlineIndex, at: number): void {
    if (this.later !== undefined) this.later[d] = at;
    else if (at !== Infinity) (this.later = newDeadlines())[d] = at;
  }
  /** When a timer armed at `now` for `delayMs` fires (the timerWheel policy, timer-wheel.ts). */
  timerExpiry(now: number, delayMs: number): number {
    return timerExpiry(this.prof, now, delayMs);
  }

  /** When this connection wants to be woken: its earliest deadline. */
  nextDeadline(): number {
    const l = this.later;
    if (l === undefined) return this.rexmitAt;
    return Math.min(this.rexmitAt, l[0], l[1], l[2], l[3], l[4]);
  }

  // ---------------------------------------------------------------------------------
  // Helpers the parts share

  /** @internal */
  mssForMtu(mtu: number): number {
    if (this.prof.mssOverride > 0) return this.prof.mssOverride;
    return Math.max(8, mtu - (this.version === 6 ? 40 : 20) - 20);
  }

  /** @internal Our TSval at `now` (RFC 7323 §4.1: the millisecond clock plus this connection's offset). */
  tsVal(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** @internal The window we advertise (RFC 7323 §2.3: right-shifted by our scale outside SYNs). */
  windowField(): number {
    const free = Math.max(0, this.prof.rcvBufBytes - this.rcvBuffered);
    return Math.min(0xffff, free >>> this.rcvWscale);
  }

  /** @internal */
  setState(s: TcpState, now: number, rule: string): void {
    if (this.state === s) return;
    const before = this.state;
    this.state = s;
    // The text is built only when someone listens: connections change state on the fast path.
    if (this.host.tracing) this.host.trace(this, now, "state", `${before} -> ${s}`, rule, before);
  }

  /** @internal <SEQ=seq><CTL=RST>. */
  sendRst(seq: number, now: number, why: string, rule: string): void {
    this.host.emit(this, outSegment(seq, 0, TCP_RST, 0, NO_OPTIONS), now, why, rule);
  }

  /** @internal Every segment after the handshake leaves here, so what it told the peer is recorded once. */
  emitSeg(seg: OutSegment, now: number, why: string, rule?: string): void {
    if (seg.flags & TCP_ACK) this.ackSent(seg);
    this.host.emit(this, seg, now, why, rule);
  }

  /** A segment with ACK goes out: what it told the peer, and that it satisfies a pending delayed ACK. */
  private ackSent(seg: OutSegment): void {
    this.lastAckSent = seg.ack >>> 0;
    this.setDeadline(Deadline.delAck, Infinity);
    this.rcvAdvertisedEdge = seqAdd(seg.ack, seg.window << this.rcvWscale);
    if (seqGt(this.rcvAdvertisedEdge, this.rcvOfferedEdge)) this.rcvOfferedEdge = this.rcvAdvertisedEdge;
    // The receiver's own ACK state (quick ACKs, a pending ACK, D-SACK); without a receiver
    // it is in its initial state already.
    this.rcvPart?.ackSent();
  }

  /** @internal A pure ACK (receiver.ts sendAck()), without making the Receiver when there is none. */
  sendAck(now: number, why: string, rule?: string, bare = false): void {
    sendAck(this, now, why, rule, bare);
  }

  /** @internal Options of a pure ACK (receiver.ts ackOptions()). */
  ackOptions(now: number): TcpOption[] {
    return ackOptions(this, now);
  }

  /**
   * @internal The send window from a segment (RFC 9293 §3.10.7.4; RFC 7323 §2.3: the window
   * field of a segment with SYN is never scaled).
   */
  updateSendWindow(seg: TcpSegment, synSegment: boolean): void {
    const s = this.sender;
    this.sndWnd = synSegment ? seg.window : seg.window << this.sndWscale;
    s.sndWl1 = seg.seq;
    s.sndWl2 = seg.ack;
    if (this.sndWnd > s.maxSndWnd) s.maxSndWnd = this.sndWnd;
    if (this.sndWnd > 0 && this.deadline(Deadline.persist) !== Infinity) {
      if (this.sndWnd >= Math.min(s.segmentPayloadMax(), seqDiff(s.dataEnd(), this.sndNxt))) s.windowOpened();
    }
  }

  /** @internal Our FIN was acknowledged in CLOSING, or the peer's FIN came in FIN-WAIT-2. */
  enterTimeWait(now: number, rule: string): void {
    this.setState("TIME-WAIT", now, rule);
    // RFC 9293 §3.10.7.4: start the 2 MSL timer; nothing of ours is left to (re)send.
    this.rexmitAt = Infinity;
    this.setDeadline(Deadline.persist, Infinity);
    this.setDeadline(Deadline.timeWait, this.timerExpiry(now, 2 * this.prof.mslMs));
    this.host.rearm(this);
    // The connection is over for the user; the TCB lingers to absorb retransmissions.
    this.report({ kind: "finished" });
  }

  /** @internal Retransmissions (or probes) unanswered: give up (RFC 1122 §4.2.3.5 R2). */
  giveUp(now: number, why: string): void {
    // RFC 1122 §4.2.3.9: a remembered soft error is reported instead of a bare timeout.
    const outcome: Outcome = this.softError ? { kind: "timedOut", softError: this.softError } : { kind: "timedOut" };
    this.finish(outcome, now, `${why} -> give up`);
  }

  /** Reports the user-visible outcome once (the TCB may live on, e.g. in TIME-WAIT). */
  private report(outcome: Outcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.ev?.closed?.(this, outcome);
  }

  /** Ends the connection: CLOSED, timers off, out of the table, outcome reported once. */
  finish(outcome: Outcome, now: number, rule: string): void {
    if (this.state === "CLOSED" && this.outcome) return;
    const before = this.state;
    this.state = "CLOSED";
    this.rexmitAt = Infinity;
    if (this.later !== undefined) this.later.fill(Infinity);
    this.host.trace(this, now, "outcome", `${before} -> CLOSED: ${outcome.kind}`, rule, before, outcome);
    this.host.release(this);
    this.report(outcome);
  }

  // ---------------------------------------------------------------------------------
  // User calls (RFC 9293 §3.10.1 - 3.10.6)

  /** OPEN call, active (RFC 9293 §3.10.1): send the SYN and enter SYN-SENT. */
  open(now: number): void {
    open(this, now);
  }

  /** Passive OPEN: the listener's SYN (RFC 9293 §3.10.7.2); see handshake.ts. */
  acceptSyn(seg: TcpSegment, opt: SegmentOptionView, now: number, mode?: PassiveOpenMode): void {
    acceptSyn(this, seg, opt, now, mode);
  }

  /** Queues data for sending (RFC 9293 §3.10.2 SEND). Returns bytes accepted (all, or 0 when closing). */
  send(data: Uint8Array, now: number): number {
    if (!canSend(this.state) || this.finQueued) return 0;
    if (data.length === 0) return 0;
    this.sender.queue(data, now);
    return data.length;
  }

  /** Takes up to `max` bytes of in-order received data (RFC 9293 §3.10.3 RECEIVE). */
  read(max = Infinity): Uint8Array {
    if (this.rcvBuffered === 0 || max <= 0) return new Uint8Array(0);
    const r = this.receiver;
    const out = r.rcvQ.read(max);
    r.noteWindowGrowth();
    return out;
  }

  /** Puts data back at the front of the receive buffer (a receive event declined it). */
  unread(data: Uint8Array): void {
    this.receiver.rcvQ.prepend(data);
  }

  /** Sends the window update read() asked for (receiver SWS avoidance, RFC 9293 §3.8.6.2.2). */
  flushWindowUpdate(now: number): void {
    const r = this.rcvPart;
    if (r === undefined || !r.pendingWindowUpdate) return;
    r.pendingWindowUpdate = false;
    if (isSynchronized(this.state) && this.state !== "TIME-WAIT") this.sendAck(now, "window update", "RFC 9293 §3.8.6.2.2: window opened");
  }

  /**
   * CLOSE call (RFC 9293 §3.10.4). In SYN-SENT the TCB is deleted without sending anything:
   * no SYN-ACK has come, so there is nothing to acknowledge or finish (a late SYN-ACK then
   * finds no connection and gets a RST, RFC 9293 §3.10.7.1). `full`: the user will read
   * nothing more either (a socket's close(), not shutdown(SHUT_WR) or WSK's graceful
   * disconnect); new data after it is then the dataAfterClose policy's.
   */
  close(now: number, full = false): void {
    if (full) this.setBit(RCV_CLOSED, true);
    switch (this.state) {
      case "SYN-SENT":
      case "CLOSED":
        this.finish({ kind: "closed" }, now, "RFC 9293 §3.10.4: CLOSE in SYN-SENT -> delete TCB, send nothing");
        return;
      case "SYN-RECEIVED":
      case "ESTABLISHED":
      case "CLOSE-WAIT": {
        const s = this.sender;
        if (s.finQueued) return;
        s.finQueued = true;
        this.host.trace(this, now, "user", "CLOSE: queue FIN after pending data", "RFC 9293 §3.10.4");
        s.output(now);
        return;
      }
      default:
        return; // already closing
    }
  }

  /** Cancels a pending connect (IoCancelIrp on WskConnect): like CLOSE in SYN-SENT. */
  cancel(now: number): void {
    if (this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") {
      if (this.state === "SYN-RECEIVED") this.sendRst(this.sndNxt, now, "cancel in SYN-RECEIVED -> RST", "RFC 9293 §3.10.5");
      this.finish({ kind: "cancelled" }, now, "connect cancelled: delete TCB, send nothing");
    }
  }

  /** ABORT call (RFC 9293 §3.10.5): RST in synchronised states (abortRst policy), then CLOSED. */
  abort(now: number): void {
    if (this.state === "CLOSED") return;
    if (this.state !== "SYN-SENT" && this.state !== "TIME-WAIT") {
      // SND.MAX: after a timeout SND.NXT is rewound (go-back-N), but the peer may hold more.
      const form = this.prof.abortRst;
      if (form !== "rst" && this.state !== "SYN-RECEIVED") {
        const full = form === "rstAckFull";
        this.host.emit(this, outSegment(this.sndMax, this.rcvNxt, TCP_RST | TCP_ACK, full ? this.windowField() : 0, full ? this.ackOptions(now) : []), now, "ABORT -> send RST,ACK", "RFC 9293 §3.10.5 (RST with ACK, as the profile's OS; linux: with TS/SACK options and the window)");
      } else {
        this.sendRst(this.sndMax, now, "ABORT -> send RST", "RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>");
      }
    }
    const kind = this.state === "SYN-SENT" ? "closed" : "aborted";
    this.finish({ kind }, now, "RFC 9293 §3.10.5: ABORT -> CLOSED");
  }

  // ---------------------------------------------------------------------------------
  // Arrivals and timers

  /**
   * A segment for this connection, already matched by 4-tuple and checksum-verified.
   * Returns true when the segment ended this TIME-WAIT connection to open a new one (a SYN,
   * timeWait "freebsd"): the stack looks it up again (listener or CLOSED).
   */
  onSegment(seg: TcpSegment, now: number, opt: SegmentOptionView): boolean {
    switch (this.state) {
      case "SYN-SENT":
        onSegmentSynSent(this, seg, opt, now);
        return false;
      case "CLOSED":
        return false;
      default:
        return onSegmentArrival(this, seg, opt, now);
    }
  }

  /** An ICMP error about this connection, its quote already checked (icmp.ts). */
  onIcmp(meaning: IcmpMeaning, cause: IcmpCause, now: number): void {
    onIcmp(this, meaning, cause, now);
  }

  /** Runs whatever is due at `now`. */
  onTimer(now: number): void {
    if (this.state === "CLOSED") return;
    if (now >= this.deadline(Deadline.timeWait)) {
      this.setDeadline(Deadline.timeWait, Infinity);
      this.finish({ kind: "finished" }, now, "RFC 9293 §3.10.8: TIME-WAIT timeout -> delete TCB");
      return;
    }
    if (now >= this.deadline(Deadline.connect)) {
      this.setDeadline(Deadline.connect, Infinity);
      this.giveUp(now, "connection timeout (R2 / TCP_KEEPINIT) expired");
      return;
    }
    if (now >= this.deadline(Deadline.rstRetry)) {
      this.setDeadline(Deadline.rstRetry, Infinity);
      onRstRetryTimer(this, now);
    }
    if (now >= this.rexmitAt) {
      const firedAt = this.rexmitAt;
      this.rexmitAt = Infinity;
      if (this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") onSynTimer(this, now);
      else this.sender.onRexmitTimer(now, firedAt);
      if ((this.state as TcpState) === "CLOSED") return;
    }
    if (now >= this.deadline(Deadline.delAck)) {
      this.setDeadline(Deadline.delAck, Infinity);
      this.receiver.onDelAckTimer(now);
    }
    if (now >= this.deadline(Deadline.persist)) {
      this.setDeadline(Deadline.persist, Infinity);
      this.sender.probeZeroWindow(now);
    }
  }
}
