// One TCP connection (the TCB of RFC 9293 §3.3.1) and what it does with each arriving
// segment, timer expiry and user call. The text of RFC 9293 §3.10 sits, in order, as short
// comments above the checks that implement it.
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption, type TcpSegment } from "../wire/types.js";
import type { TimerOwner } from "../timers.js";
import type { SegmentDropReason } from "../drops.js";
import type { IcmpCause, Outcome, UnreachableReason } from "./outcome.js";
import { handshakeOptions, segmentOptions } from "./options.js";
import { synAckRtoMs, synAttempts, synModelTimeoutMs, synRtoMs, type Profile } from "./profiles.js";
import { RtoEstimator } from "./rto.js";
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt } from "./seq.js";
import { canReceive, canSend, isSynchronized, type TcpState } from "./state.js";
import type { IcmpMeaning } from "./icmp-policy.js";
import { ByteQueue } from "./byte-queue.js";
import { ChallengeAckLimiter } from "./challenge-ack.js";
import { NewReno } from "./congestion.js";
import { Reassembly } from "./reassembly.js";
import { SackScoreboard } from "./scoreboard.js";

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

export interface OutSegment {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options: TcpOption[];
  payload?: Uint8Array;
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
  /** Interface MTU for the MSS we advertise (contract §3: MSS = MTU - IP header - 20). */
  mtu: number;
  now: number;
}

const DEFAULT_MSS_V4 = 536; // RFC 9293 §3.7.1 (MUST-15)
const DEFAULT_MSS_V6 = 1220; // RFC 8200 §5: 1280 - 40 - 20
const MAX_WSCALE = 14; // RFC 7323 §2.3
const EMPTY_BYTES = new Uint8Array(0);
// What the peer's SYN offered (Connection.peerOffered).
const OFFERED_WSCALE = 1;
const OFFERED_SACK = 2;
const OFFERED_TS = 4;

export class Connection implements TimerOwner {
  readonly id: number;
  readonly version: 4 | 6;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /**
   * The profile the engine reads. Issue 8: a connection opened with the stack's profile and
   * no overrides shares that object instead of copying its ~45 fields (most of the memory of
   * a SYN-SENT connection). Nothing in the engine writes into a borrowed profile.
   */
  private prof: Profile;
  private profBorrowed: boolean;
  /** The owner's callbacks; created on first use (a pending connect often has none). */
  private ev: ConnectionEvents | undefined;
  /** Free slot for the owner (the WSK socket, a test). */
  owner: unknown;

  state: TcpState = "CLOSED";
  timerGen = 0;
  timerAt = Infinity;

  // Send sequence space (RFC 9293 §3.3.1)
  iss: number;
  sndUna: number;
  sndNxt: number;
  /** Highest sequence number sent so far (SND.NXT may fall back on retransmission). */
  sndMax: number;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  // Receive sequence space
  irs = 0;
  rcvNxt = 0;

  // Negotiated options
  /** Our window-scale shift once negotiated (0 if not). */
  rcvWscale = 0;
  /** The peer's window-scale shift once negotiated (0 if not). */
  sndWscale = 0;
  tsEnabled = false;
  tsRecent = 0;
  readonly tsOffset: number;
  sackEnabled = false;
  /** MSS we advertise. */
  mssAdvertised: number;
  /** Largest segment payload we send. */
  sndMss: number;
  /** The peer's MSS option (undefined if it sent none). */
  peerMss: number | undefined;
  pathMtu: number;

  // Handshake bookkeeping
  /** Number of SYNs (or SYN-ACKs in SYN-RECEIVED) sent so far. */
  synCount = 0;
  firstSynAt = 0;
  /** End of the last small (< MSS) new segment sent: Minshall's Nagle (profile.nagleMinshall). */
  private sndSml = 0;
  lastSynAt = 0;
  /** RST-triggered SYN retries used (windows profile). */
  rstRetries = 0;
  softError: { reason: UnreachableReason; icmp: IcmpCause } | undefined;
  outcome: Outcome | undefined;

  // Timers (absolute deadlines in ms; Infinity = not armed)
  rexmitAt = Infinity;
  /**
   * The other deadlines, created when one is first armed. Issue 8: V8 keeps a number field
   * that has held a fraction or Infinity in a separate 16-byte box per object, so six such
   * fields that a pending connect never arms cost ~150 bytes per connection. rstRetryAt,
   * connectDeadline, delAckAt, timeWaitAt, persistAt read Infinity while this is absent.
   */
  private later: LaterDeadlines | undefined;

  get rstRetryAt(): number {
    return this.later === undefined ? Infinity : this.later.rstRetryAt;
  }
  set rstRetryAt(at: number) {
    if (this.later !== undefined) this.later.rstRetryAt = at;
    else if (at !== Infinity) (this.later = new LaterDeadlines()).rstRetryAt = at;
  }
  get connectDeadline(): number {
    return this.later === undefined ? Infinity : this.later.connectDeadline;
  }
  set connectDeadline(at: number) {
    if (this.later !== undefined) this.later.connectDeadline = at;
    else if (at !== Infinity) (this.later = new LaterDeadlines()).connectDeadline = at;
  }
  get delAckAt(): number {
    return this.later === undefined ? Infinity : this.later.delAckAt;
  }
  set delAckAt(at: number) {
    if (this.later !== undefined) this.later.delAckAt = at;
    else if (at !== Infinity) (this.later = new LaterDeadlines()).delAckAt = at;
  }
  get timeWaitAt(): number {
    return this.later === undefined ? Infinity : this.later.timeWaitAt;
  }
  set timeWaitAt(at: number) {
    if (this.later !== undefined) this.later.timeWaitAt = at;
    else if (at !== Infinity) (this.later = new LaterDeadlines()).timeWaitAt = at;
  }
  get persistAt(): number {
    return this.later === undefined ? Infinity : this.later.persistAt;
  }
  set persistAt(at: number) {
    if (this.later !== undefined) this.later.persistAt = at;
    else if (at !== Infinity) (this.later = new LaterDeadlines()).persistAt = at;
  }
  /** When the last ACK answering an out-of-window segment went out (profile.oowAckIntervalMs). */
  private get lastOowAckAt(): number {
    return this.later === undefined ? -Infinity : this.later.lastOowAckAt;
  }
  private set lastOowAckAt(at: number) {
    (this.later ??= new LaterDeadlines()).lastOowAckAt = at;
  }

  /** RFC 6298 estimator; created when first needed (issue 8: a SYN-SENT connection has none). */
  private rtoState: RtoEstimator | undefined;
  /** Retransmission-timer expiries since SND.UNA last advanced (R2 counts them). */
  rexmitCount = 0;
  /** Without timestamps one segment is timed at a time (Karn, RFC 6298 §3); -1 = none. */
  private rttSeq = 0;
  private rttStart = -1;

  /** Congestion control (RFC 5681 with RFC 6582 NewReno recovery); created when first needed. */
  private ccState: NewReno | undefined;
  /** What the peer has SACKed above SND.UNA (RFC 2018), when SACK was negotiated; created when first needed. */
  private scoreboardState: SackScoreboard | undefined;
  /** Fast recovery: the next sequence number to consider for a hole retransmission (RFC 6675 HighRxt). */
  private holeNext = 0;
  /** MAX.SND.WND (RFC 5961 §5.2): the largest window the peer has offered. */
  maxSndWnd = 0;

  // Send buffer: bytes from SND.UNA (after the SYN) onwards, not yet acknowledged.
  // The buffers, reassembly queue and challenge-ACK limiter below are created on first use.
  private sendQState: ByteQueue | undefined;
  /** Total bytes acknowledged by the peer since the start. */
  totalAcked = 0;
  /** close() was called: send FIN once the send buffer has drained. */
  finQueued = false;
  /** Our FIN has been transmitted at least once (its sequence number is finSeq). */
  finSent = false;
  private finSeq = 0;
  private finAckedSignalled = false;
  // Zero-window probing (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17)
  private persistShift = 0;
  /** Probes sent since the peer last answered with an acceptable ACK. */
  probesUnanswered = 0;

  // Receive side
  private rcvQState: ByteQueue | undefined;
  private reasmState: Reassembly | undefined;
  /** Sequence number of a FIN that arrived ahead of a hole. */
  private oooFinSeq: number | undefined;
  peerFinReceived = false;
  /** Segments received since our last ACK (delayed ACKs, RFC 5681 §4.2). */
  private ackPending = 0;
  /** The ACK field of our last segment (Last.ACK.sent, RFC 7323 §4.3). */
  private lastAckSent = 0;
  /** RCV.NXT + RCV.WND as last advertised (receiver SWS avoidance, RFC 9293 §3.8.6.2.2). */
  private rcvAdvertisedEdge = 0;
  private challengeLimiterState: ChallengeAckLimiter | undefined;
  /** This connection was created by a listener (passive OPEN, RFC 9293 §3.10.7.2). */
  passive = false;

  // Counters for traces and tests
  retransmits = 0;
  fastRetransmits = 0;
  timeouts = 0;
  zeroWindowProbes = 0;
  challengeAcksSent = 0;

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

  // Data-transfer state, created on first use (issue 8: a connection in SYN-SENT holds
  // none of it). A fresh object is what the constructor used to create eagerly, so
  // creating it later changes nothing the connection does.
  get rto(): RtoEstimator {
    return (this.rtoState ??= new RtoEstimator(this.prof.initialRtoMs, this.prof.rtoMinMs, this.prof.rtoMaxMs, this.prof.rtoMinBoundsVariance));
  }
  get cc(): NewReno {
    return (this.ccState ??= new NewReno(this.iss));
  }
  private get scoreboard(): SackScoreboard {
    return (this.scoreboardState ??= new SackScoreboard());
  }
  private get sendQ(): ByteQueue {
    return (this.sendQState ??= new ByteQueue());
  }
  private get rcvQ(): ByteQueue {
    return (this.rcvQState ??= new ByteQueue());
  }
  private get reasm(): Reassembly {
    return (this.reasmState ??= new Reassembly());
  }
  private get challengeLimiter(): ChallengeAckLimiter {
    return (this.challengeLimiterState ??= new ChallengeAckLimiter());
  }

  /** Bytes queued for sending and not yet acknowledged. */
  get sendBuffered(): number {
    return this.sendQState === undefined ? 0 : this.sendQState.length;
  }
  /** In-order received bytes the user has not read yet. */
  get rcvBuffered(): number {
    return this.rcvQState === undefined ? 0 : this.rcvQState.length;
  }
  get cwnd(): number {
    return this.cc.cwnd;
  }
  get ssthresh(): number {
    return this.cc.ssthresh;
  }
  get dupAcks(): number {
    return this.cc.dupAcks;
  }
  /** No out-of-order data is held (without creating the reassembly queue to ask). */
  private outOfOrderEmpty(): boolean {
    return this.reasmState === undefined || this.reasmState.empty;
  }
  /** Bytes held out of order, waiting for a hole to fill. */
  get outOfOrderBytes(): number {
    return this.reasmState === undefined ? 0 : this.reasmState.bytes;
  }

  constructor(init: ConnectionInit, private readonly host: ConnectionHost) {
    this.id = init.id;
    this.version = init.version;
    this.localAddr = init.localAddr;
    this.localPort = init.localPort;
    this.remoteAddr = init.remoteAddr;
    this.remotePort = init.remotePort;
    this.prof = init.profile;
    this.profBorrowed = init.profileBorrowed === true;
    this.ev = undefined;
    this.iss = init.iss;
    this.sndUna = init.iss;
    this.sndNxt = init.iss;
    this.sndMax = init.iss;
    this.sndSml = init.iss;
    this.tsOffset = init.tsOffset;
    this.pathMtu = init.mtu;
    this.mssAdvertised = this.mssForMtu(init.mtu);
    this.sndMss = this.mssAdvertised;
    this.peerMss = undefined;
  }

  get tuple(): string {
    const l = this.version === 6 ? `[${this.localAddr}]` : this.localAddr;
    const r = this.version === 6 ? `[${this.remoteAddr}]` : this.remoteAddr;
    return `${l}:${this.localPort}>${r}:${this.remotePort}`;
  }

  private mssForMtu(mtu: number): number {
    if (this.prof.mssOverride > 0) return this.prof.mssOverride;
    return Math.max(8, mtu - (this.version === 6 ? 40 : 20) - 20);
  }

  private tsVal(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** The window we advertise (RFC 7323 §2.3: right-shifted by our scale outside SYNs). */
  private windowField(): number {
    const free = Math.max(0, this.prof.rcvBufBytes - this.rcvBuffered);
    return Math.min(0xffff, free >>> this.rcvWscale);
  }

  private setState(s: TcpState, now: number, rule: string): void {
    if (this.state === s) return;
    const before = this.state;
    this.state = s;
    // Only build the text when someone listens (issue 8: trace-off fast path).
    if (this.host.tracing) this.host.trace(this, now, "state", `${before} -> ${s}`, rule, before);
  }

  // ---------------------------------------------------------------------------------
  // User calls (RFC 9293 §3.10.1 - 3.10.6)

  /** OPEN call, active (RFC 9293 §3.10.1): send the SYN and enter SYN-SENT. */
  open(now: number): void {
    this.firstSynAt = now;
    if (this.prof.connectTimeoutMs > 0) this.connectDeadline = now + this.prof.connectTimeoutMs;
    this.setState("SYN-SENT", now, "RFC 9293 §3.10.1: OPEN (active) -> send SYN, enter SYN-SENT");
    this.sendSyn(now, "send SYN", "RFC 9293 §3.10.1: <SEQ=ISS><CTL=SYN>");
  }

  /**
   * Passive OPEN (RFC 9293 §3.10.7.2, a SYN for a LISTEN port): RCV.NXT = SEG.SEQ + 1,
   * IRS = SEG.SEQ, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, enter SYN-RECEIVED. Text in
   * the SYN is not kept (no TCP Fast Open); the peer sends it again.
   */
  acceptSyn(seg: TcpSegment, opt: SegmentOptionView, now: number): void {
    this.passive = true;
    this.firstSynAt = now;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.negotiate(seg, opt, now);
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    this.sndWnd = seg.window;
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = this.iss;
    if (this.prof.connectTimeoutMs > 0) this.connectDeadline = now + this.prof.connectTimeoutMs;
    this.setState("SYN-RECEIVED", now, "RFC 9293 §3.10.7.2: SYN in LISTEN -> SYN-RECEIVED");
    this.sendSynAck(now, "passive open: send SYN-ACK", "RFC 9293 §3.10.7.2: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>");
  }

  /**
   * Options of our SYN (`peerOffered` undefined) or SYN-ACK (`peerOffered`: OFFERED_* bits of
   * what the peer's SYN offered; the SYN-ACK echoes its TSval).
   */
  private synOptions(now: number, peerOffered?: number): TcpOption[] {
    const p = this.prof;
    if (p.noOptions) return [];
    if (this.synOptionsDropped) return handshakeOptions(p.optionLayout, { mss: this.mssAdvertised, sackOK: false });
    const offerWs = p.windowScaling && (peerOffered !== undefined ? (peerOffered & OFFERED_WSCALE) !== 0 : true);
    const offerSack = p.sack && (peerOffered !== undefined ? (peerOffered & OFFERED_SACK) !== 0 : true);
    const offerTs = p.timestamps && (peerOffered !== undefined ? (peerOffered & OFFERED_TS) !== 0 : true);
    return handshakeOptions(p.optionLayout, {
      mss: this.mssAdvertised,
      wscale: offerWs ? Math.min(p.windowScale, MAX_WSCALE) : undefined,
      sackOK: offerSack,
      ts: offerTs ? { val: this.tsVal(now), ecr: peerOffered !== undefined ? this.tsRecent : 0 } : undefined,
    });
  }

  private sendSyn(now: number, why: string, rule: string): void {
    this.synCount++;
    this.lastSynAt = now;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.host.emit(this, { seq: this.iss, ack: 0, flags: TCP_SYN, window: this.prof.synWindow, options: this.synOptions(now) }, now, why, rule);
    this.rexmitAt = now + synRtoMs(this.prof, this.synCount - 1);
    this.host.rearm(this);
  }

  /** What the peer's SYN offered, OFFERED_* bits (set by negotiate(); a number, not an object: issue 8). */
  private peerOffered = 0;
  /** The SYN retransmissions carry the MSS option only (profile.synDropOptionsAfter). */
  synOptionsDropped = false;

  private sendSynAck(now: number, why: string, rule: string): void {
    this.synCount++;
    this.lastSynAt = now;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    // RFC 7323 §2.2 / RFC 2018 §2: in a SYN-ACK offer only what the peer's SYN offered;
    // Linux, in a simultaneous open, re-sends its own SYN's options with the ACK bit.
    const own = !this.passive && this.prof.simOpenSynAckOptions === "own";
    const opts = this.synOptions(now, own ? OFFERED_WSCALE | OFFERED_SACK | OFFERED_TS : this.peerOffered);
    // The SYN-ACK advertises the first window (unscaled, RFC 7323 §2.2): receiver SWS
    // avoidance measures window growth from its right edge until the next ACK we send.
    this.rcvAdvertisedEdge = seqAdd(this.rcvNxt, this.prof.synWindow);
    this.lastAckSent = this.rcvNxt;
    this.host.emit(this, { seq: this.iss, ack: this.rcvNxt, flags: TCP_SYN | TCP_ACK, window: this.prof.synWindow, options: opts }, now, why, rule);
    this.rexmitAt = now + synAckRtoMs(this.prof, this.synCount - 1);
    this.host.rearm(this);
  }

  /** Queues data for sending (RFC 9293 §3.10.2 SEND). Returns bytes accepted (all, or 0 when closing). */
  send(data: Uint8Array, now: number): number {
    if (!canSend(this.state) || this.finQueued) return 0;
    if (data.length === 0) return 0;
    this.sendQ.append(data);
    this.output(now);
    return data.length;
  }

  /** Takes up to `max` bytes of in-order received data (RFC 9293 §3.10.3 RECEIVE). */
  read(max = Infinity): Uint8Array {
    if (this.rcvBuffered === 0 || max <= 0) return new Uint8Array(0);
    const out = this.rcvQ.read(max);
    this.noteWindowGrowth();
    return out;
  }

  /** Puts data back at the front of the receive buffer (a receive event declined it). */
  unread(data: Uint8Array): void {
    this.rcvQ.prepend(data);
  }

  /**
   * Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3): after the user read,
   * announce the window only once its right edge can move by min(RCV.BUFF / 2, MSS).
   */
  private noteWindowGrowth(): void {
    if (!isSynchronized(this.state) || this.state === "TIME-WAIT" || this.peerFinReceived) return;
    const wnd = this.windowField() << this.rcvWscale;
    const edge = seqAdd(this.rcvNxt, wnd);
    const grown = seqDiff(edge, this.rcvAdvertisedEdge);
    // Like Linux (tcp_cleanup_rbuf), only when the peer's view of the window is below half of
    // what it could be: a reader keeping up needs no extra ACKs, the regular ones carry it.
    const peerView = seqDiff(this.rcvAdvertisedEdge, this.rcvNxt);
    if (grown >= Math.min(this.prof.rcvBufBytes / 2, this.mssAdvertised) && peerView < wnd / 2) this.pendingWindowUpdate = true;
  }

  /** Set by read() when the window grew enough; the stack flushes it at the next poll. */
  pendingWindowUpdate = false;

  flushWindowUpdate(now: number): void {
    if (!this.pendingWindowUpdate) return;
    this.pendingWindowUpdate = false;
    if (isSynchronized(this.state) && this.state !== "TIME-WAIT") this.sendAck(now, "window update", "RFC 9293 §3.8.6.2.2: window opened");
  }

  /**
   * CLOSE call (RFC 9293 §3.10.4). In SYN-SENT the TCB is deleted without sending anything
   * (contract §3: close or cancel in SYN-SENT sends nothing; a late SYN-ACK then gets RST).
   */
  close(now: number): void {
    switch (this.state) {
      case "SYN-SENT":
      case "CLOSED":
        this.finish({ kind: "closed" }, now, "RFC 9293 §3.10.4: CLOSE in SYN-SENT -> delete TCB, send nothing");
        return;
      case "SYN-RECEIVED":
      case "ESTABLISHED":
      case "CLOSE-WAIT":
        if (this.finQueued) return;
        this.finQueued = true;
        this.host.trace(this, now, "user", "CLOSE: queue FIN after pending data", "RFC 9293 §3.10.4");
        this.output(now);
        return;
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

  /** ABORT call (RFC 9293 §3.10.5): RST in synchronised states, then CLOSED. */
  abort(now: number): void {
    if (this.state === "CLOSED") return;
    if (this.state !== "SYN-SENT" && this.state !== "TIME-WAIT") {
      // SND.MAX: after a timeout SND.NXT is rewound (go-back-N), but the peer may hold more.
      if (this.prof.abortRstAck && this.state !== "SYN-RECEIVED") {
        // What the OSes send (Linux tcp_send_active_reset, FreeBSD tcp_drop, Windows): RST with ACK.
        const full = this.prof.abortRstOptions;
        this.host.emit(this, { seq: this.sndMax, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, window: full ? this.windowField() : 0, options: full ? this.ackOptions(now) : [] }, now, "ABORT -> send RST,ACK", "RFC 9293 §3.10.5 (RST with ACK, as the profile's OS; linux: with TS/SACK options and the window)");
      } else {
        this.sendRst(this.sndMax, now, "ABORT -> send RST", "RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>");
      }
    }
    const kind = this.state === "SYN-SENT" ? "closed" : "aborted";
    this.finish({ kind }, now, "RFC 9293 §3.10.5: ABORT -> CLOSED");
  }

  // ---------------------------------------------------------------------------------
  // Output

  private sendRst(seq: number, now: number, why: string, rule: string): void {
    this.host.emit(this, { seq, ack: 0, flags: TCP_RST, window: 0, options: [] }, now, why, rule);
  }

  /** Options of a pure ACK: timestamps and, with out-of-order data held, SACK blocks. */
  private ackOptions(now: number): TcpOption[] {
    return segmentOptions(this.tsEnabled ? { val: this.tsVal(now), ecr: this.tsRecent } : undefined, this.sackBlocks());
  }

  /**
   * Options of a data segment: timestamps only, so every full segment has the same payload
   * size (SACK blocks would eat into the MSS; out-of-order arrivals are answered at once
   * with a pure ACK that carries them).
   */
  private dataOptions(now: number): TcpOption[] {
    return segmentOptions(this.tsEnabled ? { val: this.tsVal(now), ecr: this.tsRecent } : undefined);
  }

  private sackBlocks(): Array<[number, number]> | undefined {
    if (!this.sackEnabled || this.outOfOrderEmpty()) return undefined;
    // RFC 2018 §3: four blocks fit in the 40 option bytes, three next to timestamps.
    return this.reasm.sackBlocks(this.tsEnabled ? 3 : 4);
  }

  /** Every segment after the handshake leaves here, so what it told the peer is recorded once. */
  private emitSeg(seg: OutSegment, now: number, why: string, rule?: string): void {
    if (seg.flags & TCP_ACK) {
      // Linux tcp_dec_quickack_mode(): an ACK that acknowledges new data uses up a quick ACK.
      if (this.ackPending > 0 && this.later !== undefined && this.later.quickAcks > 0) this.later.quickAcks--;
      // Any ACK (pure or piggybacked) satisfies a pending delayed ACK and window update.
      this.lastAckSent = seg.ack;
      this.delAckAt = Infinity;
      this.ackPending = 0;
      this.rcvAdvertisedEdge = seqAdd(seg.ack, seg.window << this.rcvWscale);
      this.pendingWindowUpdate = false;
    }
    this.host.emit(this, seg, now, why, rule);
  }

  /**
   * A pure ACK. Its sequence number is SND.MAX, not a rewound SND.NXT: the peer may already
   * hold data up to SND.MAX, and an ACK below its RCV.NXT would be unacceptable to it (BSD
   * tcp_output does the same).
   */
  sendAck(now: number, why: string, rule?: string, bare = false): void {
    if (!bare && this.prof.repeatFinUntilAcked && (this.state === "FIN-WAIT-1" || this.state === "CLOSING" || this.state === "LAST-ACK")) {
      // FreeBSD tcp_output(): while our FIN is unacknowledged every segment carries it again,
      // at its own sequence number (profile.repeatFinUntilAcked).
      this.emitSeg({ seq: this.finSeq, ack: this.rcvNxt, flags: TCP_FIN | TCP_ACK, window: this.windowField(), options: this.ackOptions(now) }, now, `${why} (FIN repeated)`, rule);
      return;
    }
    this.emitSeg({ seq: this.sndMax, ack: this.rcvNxt, flags: TCP_ACK, window: this.windowField(), options: this.ackOptions(now) }, now, why, rule);
  }

  /** A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), subject to the §7 rate limit. */
  private challengeAck(now: number, why: string, rule: string): void {
    // Linux first applies its per-socket out-of-window limit (tcp_oow_rate_limited(),
    // tcp_invalid_ratelimit 500 ms) to challenge ACKs too, sharing it with the plain
    // out-of-window ACKs (kernel-diff: kd-7-0143, kd-1-0007).
    const gap = this.prof.oowAckIntervalMs;
    if (gap > 0 && now - this.lastOowAckAt < gap) {
      this.host.dropSegment(this, now, "out-of-window ack rate-limited", `${why}: ACK rate-limited`, "Linux tcp_oow_rate_limited: one out-of-window ACK per interval");
      return;
    }
    if (!this.challengeLimiter.allow(now)) {
      this.host.dropSegment(this, now, "challenge ack rate-limited", `${why}: challenge ACK suppressed by the rate limit`, "RFC 5961 §7");
      return;
    }
    if (gap > 0) this.lastOowAckAt = now;
    this.challengeAcksSent++;
    // A challenge ACK is a bare ACK even where the profile repeats the FIN: FreeBSD sends it
    // with tcp_respond(), not tcp_output().
    this.sendAck(now, why, rule, true);
  }

  /** Effective payload per segment (SMSS): MSS less the option bytes every segment carries. */
  private segmentPayloadMax(): number {
    return Math.max(1, this.sndMss - (this.tsEnabled ? 12 : 0));
  }

  /** RFC 5681 FlightSize: sent but not yet acknowledged (SND.MAX - SND.UNA, FIN included). */
  flightSize(): number {
    return seqDiff(this.sndMax, this.sndUna);
  }

  /** Sequence number just after the last queued data byte (the FIN's sequence number once queued). */
  private dataEnd(): number {
    return seqAdd(this.sndUna, this.sendBuffered);
  }

  /**
   * Sends what the windows allow from SND.NXT (RFC 9293 §3.8.6.2, RFC 5681 cwnd, Nagle
   * RFC 896 / RFC 9293 §3.7.4 unless TCP_NODELAY). After a timeout SND.NXT has been rewound
   * to SND.UNA and this resends (go-back-N), skipping what the peer has SACKed.
   */
  output(now: number): void {
    // Data queued during the handshake waits for ESTABLISHED (RFC 9293 §3.10.2).
    if (!isSynchronized(this.state) || this.state === "TIME-WAIT") return;
    const smss = this.segmentPayloadMax();
    const dataEnd = this.dataEnd();
    for (;;) {
      const resending = seqLt(this.sndNxt, this.sndMax);
      if (resending && this.sackEnabled) {
        const e = this.scoreboard.sackedEnd(this.sndNxt);
        if (e !== undefined) {
          this.sndNxt = seqLt(e, this.sndMax) ? e : this.sndMax;
          continue;
        }
      }
      const unsent = seqDiff(dataEnd, this.sndNxt);
      if (unsent <= 0) {
        // Everything is sent; the FIN goes once the data is out (RFC 9293 §3.10.4).
        if (unsent === 0 && this.finQueued && (!this.finSent || resending)) this.transmit(this.sndNxt, 0, true, now, resending ? "resend FIN" : "send FIN", "RFC 9293 §3.10.4");
        return;
      }
      const inWindow = seqDiff(this.sndNxt, this.sndUna);
      // RFC 3042 Limited Transmit: the first two duplicate ACKs each let one new segment out
      // beyond cwnd, so a small window still produces the three duplicates fast retransmit needs.
      const limited = !resending && !this.cc.inRecovery && this.cc.dupAcks > 0 && this.cc.dupAcks < 3 ? this.cc.dupAcks * smss : 0;
      const usable = Math.min(this.sndWnd, this.cc.cwnd + limited) - inWindow;
      let len = Math.min(unsent, smss);
      if (resending) {
        const s = this.scoreboard.nextSackedStart(this.sndNxt);
        if (s !== undefined) len = Math.min(len, seqDiff(s, this.sndNxt));
      }
      if (usable < len) {
        if (this.flightSize() === 0 && this.persistAt === Infinity) {
          // Zero (or too small) window with nothing in flight: the persist timer probes it,
          // or forces out what fits when the SWS override expires (RFC 9293 §3.8.6.1, §3.8.6.2.1).
          this.persistAt = now + this.persistTimeoutMs();
          this.host.rearm(this);
        }
        if (usable <= 0) return;
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a partial segment only if it is at least
        // half the largest window the peer offered, or all that is left to send.
        if (usable < unsent && usable < this.maxSndWnd / 2) return;
        len = usable;
      }
      // Nagle: hold a small new segment while data is unacknowledged (never a retransmission).
      // linux (profile.nagleMinshall): only while a small segment is unacknowledged.
      if (!resending && len < smss && !this.prof.nodelay && this.flightSize() > 0 &&
          (!this.prof.nagleMinshall || (seqGt(this.sndSml, this.sndUna) && seqLe(this.sndSml, this.sndNxt)))) return;
      if (!resending && len < smss) this.sndSml = seqAdd(this.sndNxt, len);
      const withFin = len === unsent && this.finQueued && (!this.finSent || resending);
      this.transmit(this.sndNxt, len, withFin, now, resending ? "resend data (go-back-N)" : withFin ? "send data + FIN" : "send data");
    }
  }

  /**
   * Puts `len` bytes starting at `seq` (and our FIN if `fin`) on the wire. SND.NXT moves on
   * when `seq` is SND.NXT; fast-recovery retransmissions of holes leave it alone.
   */
  private transmit(seq: number, len: number, fin: boolean, now: number, why: string, rule?: string): void {
    const dataEnd = this.dataEnd();
    const payload = len > 0 ? this.sendQ.slice(seqDiff(seq, this.sndUna), len) : undefined;
    let flags = TCP_ACK;
    if (len > 0 && seqAdd(seq, len) === dataEnd) flags |= TCP_PSH;
    if (fin) {
      flags |= TCP_FIN;
      if (!this.finSent) {
        this.finSent = true;
        this.finSeq = dataEnd;
        if (this.state === "ESTABLISHED") this.setState("FIN-WAIT-1", now, "RFC 9293 §3.10.4: CLOSE in ESTABLISHED -> FIN-WAIT-1");
        else if (this.state === "CLOSE-WAIT") this.setState("LAST-ACK", now, "RFC 9293 §3.10.4: CLOSE in CLOSE-WAIT -> LAST-ACK");
      }
    }
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    const fresh = seqGe(seq, this.sndMax);
    if (seq === this.sndNxt && seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    if (!fresh) this.retransmits++;
    // Karn (RFC 6298 §3): time only a segment sent for the first time. With timestamps every
    // ACK gives a sample instead (RFC 7323 §4).
    if (!this.tsEnabled && fresh && this.rttStart < 0) {
      this.rttStart = now;
      this.rttSeq = end;
    }
    // Linux tcp_event_data_sent(): data sent within the delayed-ACK time of data received is
    // a reply: the connection is interactive (pingpong), quick ACKs stop (profile.quickAcks).
    const l = this.later;
    if (len > 0 && l !== undefined && this.prof.quickAcks > 0 && now - l.lastDataRecvAt < this.prof.delayedAckMs) l.pingpong = true;
    this.emitSeg({ seq, ack: this.rcvNxt, flags, window: this.windowField(), options: this.dataOptions(now), payload }, now, why, rule);
    if (this.rexmitAt === Infinity) {
      this.rexmitAt = now + this.rto.rtoMs; // RFC 6298 §5.1
      this.host.rearm(this);
    }
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
    let seq = first || seqLt(this.holeNext, this.sndUna) ? this.sndUna : this.holeNext;
    for (;;) {
      const e = this.scoreboard.sackedEnd(seq);
      if (e === undefined) break;
      seq = e;
    }
    const limit = first ? this.sndMax : this.scoreboard.highestSacked;
    if (limit === undefined || !seqLt(seq, limit)) return false;
    let len = Math.min(this.segmentPayloadMax(), seqDiff(limit, seq));
    const next = this.scoreboard.nextSackedStart(seq);
    if (next !== undefined) len = Math.min(len, seqDiff(next, seq));
    const sent = this.resend(seq, len, now, why, rule);
    if (sent === 0) return false;
    this.holeNext = seqAdd(seq, sent);
    return true;
  }

  /** Persist / SWS-override timeout: the RTO, doubled per unanswered probe, capped (RFC 9293 §3.8.6.1). */
  private persistTimeoutMs(): number {
    return Math.min(this.prof.rtoMaxMs, this.rto.rtoMs * 2 ** this.persistShift);
  }

  // ---------------------------------------------------------------------------------
  // Segment arrival (RFC 9293 §3.10.7)

  /**
   * A segment for this connection, already matched by 4-tuple and checksum-verified.
   * Returns true when the segment ended this TIME-WAIT connection to open a new one (a SYN,
   * profile.timeWaitCheck "freebsd"): the stack looks it up again (listener or CLOSED).
   */
  onSegment(seg: TcpSegment, now: number, opt: SegmentOptionView): boolean {
    if (this.prof.dropSynFin && (seg.flags & (TCP_SYN | TCP_FIN)) === (TCP_SYN | TCP_FIN)) {
      // FreeBSD net.inet.tcp.drop_synfin: tcp_input() drops SYN+FIN in every state, before
      // the state machine sees it (r316743; rcv-syn-fin-*-dropping-enabled).
      this.host.dropSegment(this, now, "syn and fin", "SYN+FIN: drop (drop_synfin)", "freebsd net.inet.tcp.drop_synfin");
      return false;
    }
    switch (this.state) {
      case "SYN-SENT":
        this.onSegmentSynSent(seg, now, opt);
        return false;
      case "CLOSED":
        return false;
      case "TIME-WAIT":
        if (this.prof.timeWaitCheck === "freebsd") {
          const r = this.onSegmentTimeWaitBsd(seg, now);
          if (r !== "process") return r === "reuse";
        }
        this.onSegmentOther(seg, now, opt);
        return false;
      default:
        this.onSegmentOther(seg, now, opt);
        return false;
    }
  }

  /**
   * TIME-WAIT as FreeBSD's tcp_twcheck() handles it (profile.timeWaitCheck "freebsd"): none of
   * RFC 9293 §3.10.7.4's window or PAWS checks. "process" hands a RST to the ordinary steps
   * when the profile does not follow RFC 1337; "reuse" means the TCB is gone and the SYN must
   * be looked up again.
   */
  private onSegmentTimeWaitBsd(seg: TcpSegment, now: number): "done" | "reuse" | "process" {
    const f = seg.flags;
    if (f & TCP_RST) {
      if (!this.prof.rfc1337) return "process";
      this.host.dropSegment(this, now, "rst in time-wait", "RST in TIME-WAIT: drop", "RFC 1337 §3 (TW2) / FreeBSD tcp_twcheck()");
      return "done";
    }
    if ((f & (TCP_SYN | TCP_ACK)) === TCP_SYN && seqGt(seg.seq, this.rcvNxt)) {
      // A new connection request above the old sequence space: the old incarnation makes
      // way (RFC 1122 §4.2.2.13 / RFC 9293 §3.10.7.4 note; tcp_twcheck() "start over").
      this.finish({ kind: "finished" }, now, "SYN above RCV.NXT in TIME-WAIT -> delete TCB, look the SYN up again (RFC 1122 §4.2.2.13)");
      return "reuse";
    }
    if (!(f & TCP_ACK)) {
      this.host.dropSegment(this, now, "no ack in time-wait", "no ACK bit in TIME-WAIT: drop", "FreeBSD tcp_twcheck()");
      return "done";
    }
    if (f & TCP_FIN && seqAdd(seg.seq, seg.payload.length + (f & TCP_SYN ? 1 : 0) + 1) === this.rcvNxt) {
      // The peer's FIN again: our ACK of it was lost. Restart the 2 MSL timer (RFC 9293 §3.10.7.4).
      this.timeWaitAt = now + 2 * this.prof.mslMs;
      this.host.rearm(this);
    }
    if (f !== TCP_ACK || seg.payload.length > 0 || seg.seq !== this.rcvNxt || seg.ack !== this.sndNxt) {
      this.sendAck(now, "segment in TIME-WAIT (not an exact duplicate ACK) -> ACK", "FreeBSD tcp_twcheck() / RFC 9293 §3.10.7.4");
    } else {
      this.host.dropSegment(this, now, "duplicate ack in time-wait", "duplicate ACK in TIME-WAIT: drop", "FreeBSD tcp_twcheck()");
    }
    return "done";
  }

  /** RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
  private onSegmentSynSent(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const p = this.prof;
    let ackAcceptable = false;
    // First, check the ACK bit.
    if (seg.flags & TCP_ACK) {
      // If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so
      // drop the segment and return) <SEQ=SEG.ACK><CTL=RST>, and discard the segment.
      if (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt)) {
        if (seg.flags & TCP_RST) {
          this.host.dropSegment(this, now, "syn-sent: rst with unacceptable ack", "RST with unacceptable ACK: drop", "RFC 9293 §3.10.7.3: ACK not acceptable, RST set -> drop");
        } else {
          this.sendRst(seg.ack, now, "ACK not acceptable -> RST", "RFC 9293 §3.10.7.3: SEG.ACK =< ISS or > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>");
        }
        // Linux applies this to a RST+ACK with a bad ACK too (kd-7-0045, kd-7-0018).
        if (p.badAckSynRetransmitMs > 0 && this.synCount === 1 && this.rexmitAt > now + p.badAckSynRetransmitMs) {
          // Linux: "previous FIN/ACK or RST/ACK might be ignored" -> retransmit the SYN soon.
          this.rexmitAt = now + p.badAckSynRetransmitMs;
          this.host.rearm(this);
        }
        return;
      }
      // If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is acceptable.
      ackAcceptable = seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt);
      // Linux "rfc1323: paws" in SYN-SENT: a TSecr that no SYN of ours can have carried
      // means an old or forged segment: reset it, stay in SYN-SENT, schedule unchanged.
      // The upper edge allows one tick: a clock whose ms phase differs from ours (a replayed
      // kernel capture: its TSval moved 1003 in 1002.3 ms, kd-7-0085) still echoes "now".
      const ts = opt.ts;
      if (ackAcceptable && p.pawsActiveReject && p.timestamps && ts !== undefined && ts.ecr !== 0 &&
          (seqLt(ts.ecr, this.tsVal(this.firstSynAt)) || seqGt(ts.ecr, (this.tsVal(now) + 1) >>> 0))) {
        if (!(seg.flags & TCP_RST)) this.sendRst(seg.ack, now, "SYN-ACK TSecr outside our SYNs' TSvals -> RST", "linux tcp_rcv_synsent_state_process(): PAWS -> <SEQ=SEG.ACK><CTL=RST>");
        else this.host.dropSegment(this, now, "syn-sent: rst failing paws", "RST+ACK TSecr outside our SYNs' TSvals: drop", "linux tcp_rcv_synsent_state_process(): PAWS");
        return;
      }
    }
    // Second, check the RST bit.
    if (seg.flags & TCP_RST) {
      // RFC 5961 §3.2 / RFC 9293: in SYN-SENT a RST is valid if its ACK acknowledges the SYN.
      if (!ackAcceptable) {
        this.host.dropSegment(this, now, "syn-sent: rst without acceptable ack", "RST without acceptable ACK: drop", "RFC 9293 §3.10.7.3: RST without ACK in SYN-SENT is ignored");
        return;
      }
      // Windows re-sends the SYN after an acceptable RST, 500 ms apart, up to its SYN
      // retransmission count (wsk-semantics.md §4.2), then reports refused.
      if (p.rstRetryDelayMs > 0 && this.synCount < synAttempts(p)) {
        this.rstRetries++;
        this.rexmitAt = Infinity;
        this.rstRetryAt = now + p.rstRetryDelayMs;
        this.host.rearm(this);
        this.host.trace(this, now, "in", `RST: retry SYN in ${p.rstRetryDelayMs} ms`, "windows profile: RST in SYN-SENT re-sends the SYN after 500 ms");
        return;
      }
      this.finish({ kind: "refused" }, now, "RFC 9293 §3.10.7.3: RST with acceptable ACK -> connection reset (refused)");
      return;
    }
    // Third: security/compartment checks do not apply (RFC 9293 §3.10.7.3, no IPSO).
    // Fourth, check the SYN bit (only reached if the ACK is acceptable or absent and no RST).
    if (seg.flags & TCP_SYN) {
      this.irs = seg.seq;
      this.rcvNxt = seqAdd(seg.seq, 1);
      this.negotiate(seg, opt, now);
      if (ackAcceptable) {
        // SND.UNA is advanced to SEG.ACK; our SYN is acknowledged.
        this.sndUna = seg.ack;
        this.rexmitAt = Infinity;
        this.rstRetryAt = Infinity;
        this.connectDeadline = Infinity;
        this.updateSendWindow(seg, true);
        this.rttFromHandshake(now);
        this.startCongestionControl();
        this.setState("ESTABLISHED", now, "RFC 9293 §3.10.7.3: SYN with acceptable ACK -> ESTABLISHED");
        const payload = seg.payload;
        if ((payload.length > 0 || seg.flags & TCP_FIN) && p.synAckTextIgnored) {
          this.host.dropSegment(this, now, "syn-ack text ignored", `text/FIN on the SYN-ACK (${payload.length} bytes${seg.flags & TCP_FIN ? " + FIN" : ""}): dropped, the peer retransmits`, "linux tcp_rcv_state_process(): SYN-ACK payload freed (no TFO)");
          this.sendAck(now, "ACK the SYN-ACK (its text not taken)", "RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        } else if (payload.length > 0 || seg.flags & TCP_FIN) {
          // "Data or controls that were queued for transmission may be included" and data in
          // the SYN-ACK is processed from the sixth step on; one ACK covers SYN and data.
          this.acceptData(seg, now, true);
        } else {
          this.sendAck(now, "ACK the SYN-ACK", "RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        }
        this.host.rearm(this);
        this.ev?.established?.(this);
        if (this.peerFinReceived) this.ev?.peerFin?.(this);
        if (this.rcvBuffered > 0) this.ev?.data?.(this);
        return;
      }
      // Otherwise enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
      // (simultaneous open, RFC 9293 §3.5 figure 8).
      this.sndWnd = seg.window; // unscaled in a SYN (RFC 7323 §2.2)
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.queueSynText(seg, now);
      this.setState("SYN-RECEIVED", now, "RFC 9293 §3.10.7.3: SYN without ACK -> SYN-RECEIVED (simultaneous open)");
      this.synCount = 0;
      this.sendSynAck(now, "simultaneous open: send SYN-ACK", "RFC 9293 §3.10.7.3: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>");
      return;
    }
    // Fifth, if neither of the SYN or RST bits is set, then drop the segment and return.
    this.host.dropSegment(this, now, "syn-sent: no syn or rst", "neither SYN nor RST: drop", "RFC 9293 §3.10.7.3: fifth, no SYN or RST -> drop (timer keeps running)");
  }

  /**
   * Simultaneous open, SYN-SENT -> SYN-RECEIVED (RFC 9293 §3.10.7.3 fourth step): "If there
   * are other controls or text in the segment, queue them for processing after the
   * ESTABLISHED state has been reached". The text waits in the reassembly queue at
   * SEG.SEQ+1 and is neither acknowledged (the SYN-ACK says RCV.NXT = SEG.SEQ+1) nor
   * readable until then; profile.simOpenSynText says what is kept.
   */
  private queueSynText(seg: TcpSegment, now: number): void {
    const mode = this.prof.simOpenSynText;
    if (mode === "discard") {
      if (seg.payload.length > 0 || seg.flags & TCP_FIN) this.host.dropSegment(this, now, "crossing syn text discarded", "text/FIN on the crossing SYN: discarded (the peer retransmits it)", "linux profile: tcp_rcv_synsent_state_process()");
      return;
    }
    const data = seg.payload.subarray(0, Math.max(0, this.prof.rcvBufBytes));
    if (data.length > 0) this.reasm.insert(this.rcvNxt, data);
    // The FIN counts only if all the text fit (as in acceptData).
    if (mode === "queue" && seg.flags & TCP_FIN && data.length === seg.payload.length) this.oooFinSeq = seqAdd(this.rcvNxt, data.length);
    if (data.length > 0 || this.oooFinSeq !== undefined) {
      this.host.trace(this, now, "in", `crossing SYN carries ${data.length} bytes${this.oooFinSeq !== undefined ? " + FIN" : ""}: queued until ESTABLISHED`, "RFC 9293 §3.10.7.3");
    }
  }

  /**
   * SYN-RECEIVED -> ESTABLISHED: hand over what queueSynText() kept. The text is acknowledged
   * like any new data (delayed ACK, RFC 5681 §4.2; FreeBSD's tcp_reass() flush sets no
   * immediate ACK either); a queued FIN is acknowledged at once (eighth step).
   */
  private deliverSynText(now: number): void {
    if (this.outOfOrderEmpty() && this.oooFinSeq === undefined) return;
    const r = this.reasm.take(this.rcvNxt);
    for (const c of r.chunks) this.rcvQ.appendOwned(c);
    const newData = r.chunks.length > 0;
    this.rcvNxt = r.rcvNxt;
    if (this.oooFinSeq !== undefined && this.oooFinSeq === this.rcvNxt) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.peerFinReceived = true;
      this.oooFinSeq = undefined;
      this.setState("CLOSE-WAIT", now, "RFC 9293 §3.10.7.4 eighth: queued FIN of the SYN -> CLOSE-WAIT");
      this.sendAck(now, "ACK the queued SYN text and FIN", "RFC 9293 §3.10.7.3 / §3.10.7.4 eighth");
      if (newData) this.ev?.data?.(this);
      if ((this.state as TcpState) !== "CLOSED") this.ev?.peerFin?.(this);
      return;
    }
    if (!newData) return;
    this.ackPending++;
    if (this.prof.delayedAckMs <= 0) this.sendAck(now, "ACK the queued SYN text", "RFC 9293 §3.10.7.3");
    else if (this.delAckAt === Infinity) this.delAckAt = now + this.prof.delayedAckMs;
    this.host.rearm(this);
    this.ev?.data?.(this);
  }

  /** RFC 7323 §2.2-2.3, RFC 2018 §2, RFC 9293 §3.7.1: what the SYN (or SYN-ACK) negotiated. */
  private negotiate(seg: TcpSegment, opt: SegmentOptionView, now: number): void {
    const p = this.prof;
    const synAck = (seg.flags & TCP_ACK) !== 0;
    this.peerOffered = (opt.wscale !== undefined ? OFFERED_WSCALE : 0) | (opt.sackOK ? OFFERED_SACK : 0) | (opt.ts !== undefined ? OFFERED_TS : 0);
    // What our SYN (its latest copy) offered: nothing with TCP_NOOPT, only the MSS once
    // rexmit_drop_options stripped the rest.
    const weOffered = !p.noOptions && !this.synOptionsDropped;
    // Window scaling only if both sides sent the option.
    if (weOffered && p.windowScaling && opt.wscale !== undefined) {
      this.sndWscale = Math.min(opt.wscale, MAX_WSCALE);
      this.rcvWscale = Math.min(p.windowScale, MAX_WSCALE);
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.sackEnabled = weOffered && p.sack && opt.sackOK;
    if (weOffered && p.timestamps && opt.ts) {
      this.tsEnabled = true;
      this.tsRecent = opt.ts.val;
    } else {
      this.tsEnabled = false;
    }
    // MSS: the peer's option, or the default when absent (RFC 9293 §3.7.1 MUST-15).
    // linux (profile.minSndMss): an MSS option of 0 is ignored, a small one raised to
    // tcp_min_snd_mss (kernel-diff kd-7-0195: MSS 0 -> default; kd-7-0299: MSS 1 -> 48).
    const mssOpt = p.minSndMss > 0 && opt.mss === 0 ? undefined : opt.mss;
    this.peerMss = mssOpt;
    const peer = mssOpt ?? (this.version === 6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4);
    this.sndMss = Math.max(1, p.minSndMss, Math.min(peer, this.mssForMtu(this.pathMtu)));
    if (p.rcvBufRoundToMss && p.rcvBufBytes > this.sndMss) {
      // FreeBSD tcp_mss(): round the receive buffer up to a multiple of the MSS (<= sb_max).
      // Written through `profile`, not `prof`: a borrowed profile is copied first, so the
      // rounding stays this connection's own.
      const own = this.profile;
      own.rcvBufBytes = Math.min(Math.ceil(own.rcvBufBytes / this.sndMss) * this.sndMss, 2 * 1024 * 1024);
    }
    void synAck;
    void now;
  }

  private rttFromHandshake(now: number): void {
    // Karn's algorithm (RFC 6298 §3): only time a SYN that was not retransmitted.
    if (this.synCount === 1 && this.rstRetries === 0) this.rto.sample(now - this.lastSynAt);
    // RFC 6298 §5.7: if the SYN was retransmitted, RTO is at least 3 s when data transfer begins.
    else if (this.rto.rtoMs < 3000) this.rto.rtoMs = 3000;
  }

  private startCongestionControl(): void {
    // RFC 5681 §3.1 initial window (IW), with RFC 6928's 10 segments as Linux does.
    this.cc.start(this.segmentPayloadMax());
  }

  /**
   * RCV.WND for the sequence-number test (RFC 9293 §3.10.7.4 first step): the window we
   * advertise, or with profile.rcvWndFromBuffer FreeBSD's rcv_wnd, the free receive buffer
   * (sbspace(), not limited by the 16-bit window field; the advertised window never exceeds it).
   */
  private acceptanceWindow(): number {
    const advertised = this.windowField() << this.rcvWscale;
    if (!this.prof.rcvWndFromBuffer) return advertised;
    return Math.max(advertised, this.prof.rcvBufBytes - this.rcvBuffered);
  }

  /** RFC 9293 §3.10.7.4: SEGMENT ARRIVES in the other states. */
  private onSegmentOther(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const segLen = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    const rcvWnd = this.acceptanceWindow();

    if ((seg.flags & TCP_SYN) && !(seg.flags & TCP_RST) && this.state !== "SYN-RECEIVED") {
      // Fourth step, taken first: RFC 5961 §4.2 answers a SYN in a synchronised state
      // "irrespective of the sequence number" with a challenge ACK (FreeBSD and Linux check
      // the SYN before the window too). Before RFC 5961 (profile.rfc5961Syn false, FreeBSD
      // insecure_syn=1) a SYN inside the window is an error that resets the connection
      // (RFC 793 §3.9 fourth step); FreeBSD tests RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND.
      if (!this.prof.rfc5961Syn && seqInWindow(seg.seq, this.rcvNxt, seqAdd(this.rcvNxt, rcvWnd))) {
        this.host.emit(this, { seq: this.sndMax, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, window: 0, options: [] }, now, "SYN in window -> RST,ACK, connection reset", "RFC 793 §3.9 fourth step (freebsd insecure_syn=1)");
        this.finish({ kind: "reset" }, now, "RFC 793 §3.9: SYN in window -> connection reset");
        return;
      }
      this.challengeAck(now, "SYN in synchronised state -> challenge ACK", "RFC 5961 §4.2 / RFC 9293 §3.10.7.4");
      return;
    }
    // RFC 7323 §5.3 PAWS: drop a segment whose TSval is older than TS.Recent.
    if (this.tsEnabled && opt.ts && !(seg.flags & TCP_RST) && seqLt(opt.ts.val, this.tsRecent) && isSynchronized(this.state)) {
      this.sendAck(now, "PAWS: old timestamp -> ACK and drop", "RFC 7323 §5.3 R1");
      return;
    }

    // First, check sequence number (RFC 9293 §3.10.7.4 table).
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable = rcvWnd === 0 ? seg.seq === this.rcvNxt : seqInWindow(seg.seq, this.rcvNxt, seqAdd(this.rcvNxt, rcvWnd));
    } else if (rcvWnd === 0) {
      acceptable = false;
    } else {
      const last = seqAdd(seg.seq, segLen - 1);
      acceptable = seqInWindow(seg.seq, this.rcvNxt, seqAdd(this.rcvNxt, rcvWnd)) || seqInWindow(last, this.rcvNxt, seqAdd(this.rcvNxt, rcvWnd));
    }
    if (this.state === "SYN-RECEIVED" && (seg.flags & TCP_SYN) && !(seg.flags & TCP_ACK) && seg.seq === this.irs) {
      // A retransmitted SYN of the simultaneous open: answer with our SYN-ACK again.
      this.host.emit(this, { seq: this.iss, ack: this.rcvNxt, flags: TCP_SYN | TCP_ACK, window: this.prof.synWindow, options: this.synOptions(now, this.peerOffered) }, now, "retransmitted SYN -> SYN-ACK again", "RFC 9293 §3.10.7.4");
      return;
    }
    if ((seg.flags & TCP_RST) && this.state === "TIME-WAIT" && this.prof.rfc1337) {
      // RFC 1337 §3 (TW2): a RST must not cut TIME-WAIT short (TIME-WAIT assassination).
      this.host.dropSegment(this, now, "rst in time-wait", "RST in TIME-WAIT: drop", "RFC 1337 §3 (profile.rfc1337)");
      return;
    }
    if (!acceptable) {
      // If an incoming segment is not acceptable, an acknowledgment should be sent in reply
      // (unless the RST bit is set, if so drop the segment and return).
      if (seg.flags & TCP_RST) {
        this.host.dropSegment(this, now, "rst out of window", "RST out of window: drop", "RFC 9293 §3.10.7.4 / RFC 5961 §3.2");
        return;
      }
      if (this.state === "TIME-WAIT" && (seg.flags & TCP_FIN) && seqAdd(seg.seq, segLen) === this.rcvNxt) {
        // The peer's FIN again (our ACK of it was lost): ACK it and restart the 2 MSL timer
        // (RFC 9293 §3.10.7.4 eighth step, TIME-WAIT; Linux does this for a duplicate FIN).
        this.sendAck(now, "FIN retransmitted in TIME-WAIT -> ACK, restart 2MSL", "RFC 9293 §3.10.7.4");
        this.timeWaitAt = now + 2 * this.prof.mslMs;
        this.host.rearm(this);
        return;
      }
      if (this.state === "SYN-RECEIVED" && (seg.flags & TCP_SYN) && (seg.flags & TCP_ACK) && seqGt(seg.ack, this.iss) && seqLe(seg.ack, this.sndNxt)) {
        // Simultaneous open: the peer's SYN-ACK re-sends its SYN (already counted); fall through to the ACK check below.
      } else if (this.prof.oldSegmentAckProcessed && this.state !== "SYN-RECEIVED" && (seg.flags & TCP_ACK) && seqLt(seg.seq, this.rcvNxt)) {
        // A duplicate left of the window: drop its text and FIN, but process its ACK, then
        // answer (BSD "keep on processing for RST or ACK", profile.oldSegmentAckProcessed).
        // An ACK that completes CLOSING or LAST-ACK ends here without an answer, as in BSD.
        if (this.tsEnabled && opt.ts && seqGe(opt.ts.val, this.tsRecent) && seqLe(seg.seq, this.lastAckSent)) this.tsRecent = opt.ts.val;
        if (!this.processAck(seg, now, opt) || (this.state as TcpState) === "CLOSED") return;
        this.sendAck(now, "duplicate segment: ACK processed, text dropped -> ACK", "RFC 9293 §3.10.7.4 / BSD tcp_input() (Stevens vol. 2 p. 960)");
        this.output(now);
        this.host.rearm(this);
        return;
      } else {
        const gap = this.prof.oowAckIntervalMs;
        if (gap > 0 && now - this.lastOowAckAt < gap) {
          this.host.dropSegment(this, now, "out-of-window ack rate-limited", "unacceptable segment: ACK rate-limited", "Linux tcp_invalid_ratelimit: one out-of-window ACK per interval");
          return;
        }
        this.lastOowAckAt = now;
        this.sendAck(now, "unacceptable segment -> ACK", "RFC 9293 §3.10.7.4: not acceptable -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        return;
      }
    }

    // Second, check the RST bit (RFC 9293 §3.10.7.4, RFC 5961 §3.2).
    if (seg.flags & TCP_RST) {
      // Without RFC 5961 (FreeBSD insecure_rst=1) any in-window RST resets, as in RFC 793.
      if (seg.seq !== this.rcvNxt && this.prof.rfc5961Rst) {
        // RFC 5961 §3.2: in window but not exact -> challenge ACK (rate-limited, §7).
        this.challengeAck(now, "RST in window, not exact -> challenge ACK", "RFC 5961 §3.2");
        return;
      }
      if (this.state === "SYN-RECEIVED" && this.passive) {
        // "If this connection was initiated with a passive OPEN, then return this connection
        // to LISTEN state": the listener stays; this embryonic TCB is simply deleted.
        this.finish({ kind: "reset" }, now, "RFC 9293 §3.10.7.4: RST in SYN-RECEIVED (passive OPEN) -> back to LISTEN");
        return;
      }
      if (this.state === "SYN-RECEIVED") {
        // Active open that went through SYN-RECEIVED: connection refused (RFC 9293); linux
        // reports it as a reset (profile.simOpenRstOutcome).
        if (this.prof.simOpenRstOutcome === "reset") this.finish({ kind: "reset" }, now, "RST in SYN-RECEIVED (from active OPEN) -> reset (linux tcp_reset(): ECONNRESET)");
        else this.finish({ kind: "refused" }, now, "RFC 9293 §3.10.7.4: RST in SYN-RECEIVED (from active OPEN) -> refused");
        return;
      }
      if (this.state === "CLOSING" || this.state === "LAST-ACK" || this.state === "TIME-WAIT") {
        this.finish({ kind: "finished" }, now, "RFC 9293 §3.10.7.4: RST in CLOSING/LAST-ACK/TIME-WAIT -> CLOSED");
        return;
      }
      this.finish({ kind: "reset" }, now, "RFC 9293 §3.10.7.4: RST -> connection reset, CLOSED");
      return;
    }

    // Fourth, check the SYN bit: done before the sequence-number check above (RFC 5961 §4.2).

    // Fifth, check the ACK field: if the ACK bit is off, drop the segment.
    if (!(seg.flags & TCP_ACK)) {
      this.host.dropSegment(this, now, "no ack bit", "no ACK bit: drop", "RFC 9293 §3.10.7.4: fifth, ACK bit off -> drop");
      return;
    }
    // RFC 7323 §4.3: SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent -> TS.Recent = SEG.TSval
    // (in SYN-RECEIVED the last ACK we sent is the SYN-ACK's, RCV.NXT).
    if (this.tsEnabled && opt.ts && seqGe(opt.ts.val, this.tsRecent) && seqLe(seg.seq, this.state === "SYN-RECEIVED" ? this.rcvNxt : this.lastAckSent)) this.tsRecent = opt.ts.val;

    if (this.state === "SYN-RECEIVED") {
      // If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED.
      if (seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt)) {
        this.sndUna = seg.ack;
        this.rexmitAt = Infinity;
        this.connectDeadline = Infinity;
        // RFC 7323 §2.2: the window of a segment with SYN is never scaled.
        this.updateSendWindow(seg, (seg.flags & TCP_SYN) !== 0);
        this.rttFromHandshake(now);
        this.startCongestionControl();
        this.setState("ESTABLISHED", now, "RFC 9293 §3.10.7.4: SYN-RECEIVED, acceptable ACK -> ESTABLISHED");
        this.ev?.established?.(this);
        if ((this.state as TcpState) === "CLOSED") return;
        this.deliverSynText(now);
        if ((this.state as TcpState) === "CLOSED") return;
      } else {
        // If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>.
        this.host.emit(this, { seq: seg.ack, ack: 0, flags: TCP_RST, window: 0, options: [] }, now, "unacceptable ACK in SYN-RECEIVED -> RST", "RFC 9293 §3.10.7.4");
        return;
      }
    }

    if (!this.processAck(seg, now, opt)) return;
    if ((this.state as TcpState) === "CLOSED") return; // the user aborted from an event

    // Sixth/seventh: the URG bit is not used; segment text; eighth: FIN.
    if (seg.payload.length > 0 || seg.flags & TCP_FIN) {
      this.acceptData(seg, now, false);
      if ((this.state as TcpState) === "CLOSED") return;
    }
    this.output(now);
    this.host.rearm(this);
  }

  /** ESTABLISHED-and-later ACK processing (RFC 9293 §3.10.7.4 fifth step). Returns false to stop. */
  private processAck(seg: TcpSegment, now: number, opt: SegmentOptionView): boolean {
    // RFC 5961 §5.2: the ACK is acceptable only if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT
    // (SND.MAX here: SND.NXT may be rewound). Otherwise send a (rate-limited) ACK and drop
    // the segment, text included: blind data injection needs a plausible ACK.
    if (seqGt(seg.ack, this.sndMax)) {
      this.challengeAck(now, "ACK for unsent data -> ACK and drop", "RFC 9293 §3.10.7.4 / RFC 5961 §5.2");
      return false;
    }
    if (seqLt(seg.ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.challengeAck(now, "ACK older than SND.UNA - MAX.SND.WND -> challenge ACK, drop", "RFC 5961 §5.2");
      return false;
    }
    this.probesUnanswered = 0;
    if (this.sackEnabled && opt.sack) this.scoreboard.update(opt.sack, this.sndUna, this.sndMax);
    if (seqGt(seg.ack, this.sndUna)) {
      this.onNewAck(seg, now, opt);
    } else if (
      seg.ack === this.sndUna &&
      seg.payload.length === 0 &&
      !(seg.flags & (TCP_FIN | TCP_SYN)) &&
      this.flightSize() > 0 &&
      (seg.window << this.sndWscale) === this.sndWnd
    ) {
      // RFC 5681 §2: a duplicate ACK (no data, no SYN/FIN, same ACK and window, data outstanding).
      this.onDupAck(now);
    }
    // Update the send window (RFC 9293 §3.10.7.4: SND.WL1 < SEG.SEQ or (= and SND.WL2 =< SEG.ACK)).
    // ... only "if SND.UNA =< SEG.ACK =< SND.NXT": an old ACK never moves the window.
    if (seqGe(seg.ack, this.sndUna) && (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, seg.ack)))) {
      this.updateSendWindow(seg, false);
    }
    // FIN acknowledged?
    if (this.finSent && seqGt(seg.ack, this.finSeq) && !this.finAckedSignalled) {
      this.finAckedSignalled = true;
      switch (this.state) {
        case "FIN-WAIT-1":
          this.setState("FIN-WAIT-2", now, "RFC 9293 §3.10.7.4: FIN-WAIT-1, our FIN acknowledged -> FIN-WAIT-2");
          break;
        case "CLOSING":
          this.ev?.finAcked?.(this);
          this.enterTimeWait(now, "RFC 9293 §3.10.7.4: CLOSING, our FIN acknowledged -> TIME-WAIT");
          return false;
        case "LAST-ACK":
          this.ev?.finAcked?.(this);
          this.finish({ kind: "finished" }, now, "RFC 9293 §3.10.7.4: LAST-ACK, our FIN acknowledged -> CLOSED");
          return false;
      }
      this.ev?.finAcked?.(this);
      if ((this.state as TcpState) === "CLOSED") return false;
    }
    if (this.state === "TIME-WAIT" && (seg.flags & TCP_FIN)) {
      // The only thing that can arrive in TIME-WAIT is a retransmission of the remote FIN:
      // acknowledge it, and restart the 2 MSL timeout.
      this.sendAck(now, "FIN retransmitted in TIME-WAIT -> ACK, restart 2MSL", "RFC 9293 §3.10.7.4");
      this.timeWaitAt = now + 2 * this.prof.mslMs;
      this.host.rearm(this);
      return false;
    }
    return true;
  }

  private updateSendWindow(seg: TcpSegment, synSegment: boolean): void {
    // RFC 7323 §2.3: the window field of a segment with SYN is never scaled.
    this.sndWnd = synSegment ? seg.window : seg.window << this.sndWscale;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
    if (this.sndWnd > 0 && this.persistAt !== Infinity && this.sndWnd >= Math.min(this.segmentPayloadMax(), seqDiff(this.dataEnd(), this.sndNxt))) {
      // The window opened: leave persist mode (RFC 9293 §3.8.6.1); output() sends.
      // A probe byte still unacknowledged must stay covered by a timer (RFC 6298 §5.1), or
      // Nagle holds the rest behind it forever if the probe was lost (issue 9, fuzzer).
      if (this.rexmitAt === Infinity && this.flightSize() > 0) this.rexmitAt = this.persistAt;
      this.persistAt = Infinity;
      this.persistShift = 0;
    }
  }

  /** An ACK that advances SND.UNA (RFC 9293 §3.10.7.4, RFC 6298 §5, RFC 5681, RFC 6582). */
  private onNewAck(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const ack = seg.ack;
    const acked = seqDiff(ack, this.sndUna);
    // Bytes of data acknowledged (our FIN's sequence number is not data).
    const dataAcked = Math.min(acked, this.sendBuffered);
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.sendQState !== undefined) this.sendQState.consume(dataAcked);
    this.totalAcked += dataAcked;
    this.scoreboardState?.advance(ack);
    this.rexmitCount = 0;
    // RTT measurement: RFC 7323 §4.1 RTTM from TSecr on every ACK that advances SND.UNA,
    // weighted by the samples expected per RTT (RFC 7323 Appendix G); else the one timed
    // segment (Karn, RFC 6298 §3: rttStart is cleared when anything is retransmitted).
    if (this.tsEnabled && opt.ts && opt.ts.ecr !== 0) {
      const r = seqDiff(this.tsVal(now), opt.ts.ecr);
      if (r >= 0 && r <= this.prof.rtoMaxMs) {
        const expected = Math.max(1, Math.ceil((this.flightSize() + acked) / (2 * this.segmentPayloadMax())));
        this.rto.sample(r, expected);
      }
    } else if (this.rttStart >= 0 && seqGe(ack, this.rttSeq)) {
      this.rto.sample(now - this.rttStart);
      this.rttStart = -1;
    }
    const smss = this.segmentPayloadMax();
    const verdict = this.cc.onNewAck(ack, acked, this.flightSize(), smss);
    if (verdict === "partial") {
      // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment, unless this
      // recovery already resent it (with SACK the hole walk may be ahead of the ACK).
      if (!this.sackEnabled || !seqLt(ack, this.holeNext)) {
        this.holeNext = ack;
        this.retransmitHole(now, true, "partial ACK in fast recovery -> retransmit", "RFC 6582 §3.2 step 5");
      } else {
        this.retransmitHole(now, false, "partial ACK: retransmit next SACK hole", "RFC 6675 §5 (simplified)");
      }
      if (!this.cc.partialSeen) {
        // Impatient variant: reset the timer on the first partial ACK only.
        this.cc.partialSeen = true;
        this.rexmitAt = now + this.rto.rtoMs;
      }
    } else {
      // RFC 6298 §5.2 / §5.3: all data acknowledged -> stop the timer, else restart it.
      this.rexmitAt = this.flightSize() > 0 ? now + this.rto.rtoMs : Infinity;
    }
    if (this.flightSize() === 0) this.rexmitAt = Infinity;
    if (dataAcked > 0) this.ev?.acked?.(this, this.totalAcked);
  }

  /** A duplicate ACK: fast retransmit on the third (RFC 5681 §3.2), hole filling in recovery. */
  private onDupAck(now: number): void {
    const smss = this.segmentPayloadMax();
    if (this.cc.onDupAck(this.sndUna, this.flightSize(), this.sndMax, smss)) {
      this.fastRetransmits++;
      this.rttStart = -1;
      this.host.trace(this, now, "in", `3 duplicate ACKs: fast retransmit, cwnd ${this.cc.cwnd}, ssthresh ${this.cc.ssthresh}`, "RFC 5681 §3.2 / RFC 6582 §3.2");
      this.retransmitHole(now, true, "3 duplicate ACKs -> fast retransmit", "RFC 5681 §3.2 step 2");
      return;
    }
    if (this.cc.inRecovery && this.sackEnabled) {
      // Each duplicate ACK says a segment left the network: spend that on the next SACK
      // hole rather than on new data (RFC 6675 §5 step (C), simplified: no pipe estimate).
      if (this.retransmitHole(now, false, "dup ACK in recovery -> retransmit next SACK hole", "RFC 6675 §5")) this.cc.cwnd = Math.max(smss, this.cc.cwnd - smss);
    }
  }

  /** Sixth to eighth steps: segment text and FIN (RFC 9293 §3.10.7.4). */
  private acceptData(seg: TcpSegment, now: number, fromSynSent: boolean): void {
    let seq = fromSynSent ? seqAdd(seg.seq, 1) : seg.seq;
    let data = seg.payload;
    let fin = (seg.flags & TCP_FIN) !== 0;
    if (!canReceive(this.state) && !fromSynSent) {
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN came already; ignore the
      // text (seventh step), but answer a retransmitted FIN below.
      data = EMPTY_BYTES;
      if (!fin) return;
    }
    // Trim what we already have.
    const dup = seqDiff(this.rcvNxt, seq);
    if (dup > 0) {
      if (dup >= data.length + (fin ? 1 : 0)) {
        // A duplicate: ACK at once so the sender learns where we are (RFC 9293 §3.10.7.4).
        this.sendAck(now, "duplicate segment -> ACK", "RFC 9293 §3.10.7.4 / RFC 5681 §4.2");
        return;
      }
      data = dup >= data.length ? EMPTY_BYTES : data.subarray(dup);
      seq = this.rcvNxt;
    }
    // Trim to the receive window; the FIN counts only if all the text fits.
    const room = Math.max(0, this.prof.rcvBufBytes - this.rcvBuffered) - seqDiff(seq, this.rcvNxt);
    if (data.length > room) {
      data = data.subarray(0, Math.max(0, room));
      fin = false;
    }
    if (seq !== this.rcvNxt) {
      // Out of order: hold it and ACK at once, a duplicate ACK for the sender's fast
      // retransmit, with SACK blocks (RFC 5681 §4.2, RFC 2018 §4).
      this.reasm.insert(seq, data);
      if (fin) this.oooFinSeq = seqAdd(seq, data.length);
      this.sendAck(now, "out-of-order segment -> immediate duplicate ACK", "RFC 5681 §4.2 / RFC 9293 §3.10.7.4");
      return;
    }
    const filledHole = !this.outOfOrderEmpty();
    let newData = false;
    if (data.length > 0) {
      this.rcvQ.append(data);
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      newData = true;
    }
    if (filledHole) {
      const r = this.reasm.take(this.rcvNxt);
      for (const c of r.chunks) this.rcvQ.appendOwned(c);
      if (r.chunks.length > 0) newData = true;
      this.rcvNxt = r.rcvNxt;
    }
    if (!fin && this.oooFinSeq !== undefined && this.oooFinSeq === this.rcvNxt) fin = true;
    if (fin && !this.peerFinReceived) {
      // Eighth step: the FIN. It takes one sequence number and is acknowledged at once.
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.peerFinReceived = true;
      this.reasmState?.clear();
      this.oooFinSeq = undefined;
      let delayFinAck = false;
      if (newData && this.prof.quickAcks > 0 && !fromSynSent) this.quickAckOnData(data.length, now);
      switch (this.state) {
        case "ESTABLISHED":
          this.setState("CLOSE-WAIT", now, "RFC 9293 §3.10.7.4 eighth: FIN in ESTABLISHED -> CLOSE-WAIT");
          if (this.prof.quickAcks > 0 && this.prof.delayedAckMs > 0 && !fromSynSent) {
            // Linux tcp_fin(): CLOSE-WAIT enters interactive (pingpong) mode and only
            // schedules the ACK, so it goes with the delayed-ACK timer or a reply, unless
            // enough is unacknowledged to ACK at once (every second segment).
            (this.later ??= new LaterDeadlines()).pingpong = true;
            delayFinAck = !filledHole && this.ackPending + (newData ? 1 : 0) < 2;
          }
          break;
        case "FIN-WAIT-1":
          // (Our FIN acknowledged by this very segment moved us to FIN-WAIT-2 in the fifth step.)
          this.setState("CLOSING", now, "RFC 9293 §3.10.7.4 eighth: FIN in FIN-WAIT-1 -> CLOSING");
          break;
        case "FIN-WAIT-2":
          this.enterTimeWait(now, "RFC 9293 §3.10.7.4 eighth: FIN in FIN-WAIT-2 -> TIME-WAIT");
          break;
      }
      if (delayFinAck) {
        this.ackPending++;
        if (this.delAckAt === Infinity) this.delAckAt = now + this.prof.delayedAckMs;
        this.host.rearm(this);
        this.host.trace(this, now, "in", "FIN in ESTABLISHED: ACK delayed (pingpong mode)", "linux tcp_fin() / RFC 1122 §4.2.3.2");
      } else {
        this.sendAck(now, "ACK the FIN", "RFC 9293 §3.10.7.4 eighth: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
      }
      if (!fromSynSent) {
        if (newData) this.ev?.data?.(this);
        if ((this.state as TcpState) !== "CLOSED") this.ev?.peerFin?.(this);
      }
      return;
    }
    if (fromSynSent) {
      this.sendAck(now, "ACK the SYN-ACK and its data", "RFC 9293 §3.10.7.3");
      return;
    }
    if (!newData) return;
    this.ackPending++;
    const quick = this.prof.quickAcks > 0 && this.quickAckOnData(data.length, now);
    // Tell the user first: a read in the callback widens the window this ACK advertises,
    // and a send in it carries the ACK (piggybacking).
    this.ev?.data?.(this);
    if ((this.state as TcpState) === "CLOSED" || this.ackPending === 0) return;
    // RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK at least every second full-sized segment and
    // within the delayed-ACK timeout; at once when the segment filled (part of) a hole.
    if (filledHole || this.ackPending >= 2 || this.prof.delayedAckMs <= 0 || quick) {
      this.sendAck(now, filledHole ? "segment filled a hole -> immediate ACK" : quick ? "quick-ACK mode -> immediate ACK" : "ACK every second segment", quick ? "linux tcp_in_quickack_mode() (RFC 1122 §4.2.3.2 allows it)" : "RFC 5681 §4.2");
    } else if (this.delAckAt === Infinity) {
      this.delAckAt = now + this.prof.delayedAckMs;
    }
  }

  /**
   * Linux quick-ACK mode (profile.quickAcks; tcp_event_data_recv(), tcp_incr_quickack(),
   * tcp_in_quickack_mode()). Called for each segment of new in-order data; says whether
   * to ACK it at once. The first data, and data after a silence longer than the RTO, earn
   * up to profile.quickAcks quick ACKs (RCV.WND / (2 * receive MSS), at least 2); emitSeg()
   * spends them; interactive (pingpong) connections get none.
   */
  private quickAckOnData(len: number, now: number): boolean {
    const l = (this.later ??= new LaterDeadlines());
    const first = l.rcvMss === 0;
    // tcp_measure_rcv_mss(): the largest segment seen, from an initial 536-byte guess.
    const guess = Math.min(536, this.mssAdvertised);
    l.rcvMss = Math.max(l.rcvMss, guess, Math.min(len, this.mssAdvertised));
    if (first || now - l.lastDataRecvAt > this.rto.rtoMs) {
      const byWindow = Math.floor((this.windowField() << this.rcvWscale) / (2 * l.rcvMss));
      const n = Math.min(byWindow === 0 ? 2 : byWindow, this.prof.quickAcks);
      if (n > l.quickAcks) l.quickAcks = n;
    }
    l.lastDataRecvAt = now;
    return l.quickAcks > 0 && !l.pingpong;
  }

  private enterTimeWait(now: number, rule: string): void {
    this.setState("TIME-WAIT", now, rule);
    // RFC 9293 §3.10.7.4: start the 2 MSL timer; nothing of ours is left to (re)send.
    this.rexmitAt = Infinity;
    this.persistAt = Infinity;
    this.timeWaitAt = now + 2 * this.prof.mslMs;
    this.host.rearm(this);
    // The connection is over for the user; the TCB lingers to absorb retransmissions.
    this.report({ kind: "finished" });
  }

  // ---------------------------------------------------------------------------------
  // ICMP (RFC 5927 validation is done by the stack before this is called)

  onIcmp(meaning: IcmpMeaning, cause: IcmpCause, now: number): void {
    if (meaning.kind === "ignore") {
      this.host.trace(this, now, "icmp", `ignored: ${meaning.why}`, meaning.why);
      return;
    }
    if (meaning.kind === "pmtu") {
      this.lowerPathMtu(meaning.mtu, now);
      return;
    }
    const p = this.prof;
    if (this.state !== "SYN-SENT" && this.state !== "SYN-RECEIVED") {
      // RFC 9293 §3.9.2.2 / RFC 1122 §4.2.3.9: soft errors MUST NOT abort a synchronised
      // connection; remember it for the user.
      this.softError = { reason: meaning.reason, icmp: cause };
      this.host.trace(this, now, "icmp", `${meaning.reason} unreachable: remembered (synchronised state)`, "RFC 1122 §4.2.3.9");
      return;
    }
    const abort = () =>
      this.finish({ kind: "unreachable", reason: meaning.reason, icmp: cause }, now, `ICMP ${meaning.reason} unreachable in ${this.state} -> abort`);
    if (p.failConnectOnIcmpError) {
      abort();
      return;
    }
    switch (p.icmpPolicy) {
      case "ignore":
        this.host.trace(this, now, "icmp", "ignored (TCP_FAIL_CONNECT_ON_ICMP_ERROR off)", "windows profile: ICMP in SYN-SENT is ignored");
        return;
      case "abort":
        if (meaning.hardLinux) abort();
        return;
      case "hardAbort":
        if (meaning.hardFreebsd) abort();
        else this.host.trace(this, now, "icmp", "soft error ignored", "freebsd profile: soft ICMP errors do not abort SYN-SENT");
        return;
      case "hardAbortSoftRemember":
        if (meaning.hardRfc1122) abort();
        else {
          this.softError = { reason: meaning.reason, icmp: cause };
          this.host.trace(this, now, "icmp", "soft error remembered", "RFC 1122 §4.2.3.9: soft error, report at give-up");
        }
        return;
    }
  }

  /** ICMP fragmentation-needed / packet-too-big: lower the path MTU and the MSS (RFC 1191, RFC 8201). */
  private lowerPathMtu(mtu: number, now: number): void {
    const min = this.version === 6 ? 1280 : 68;
    const newMtu = Math.max(min, mtu);
    if (mtu <= 0 || newMtu >= this.pathMtu) {
      this.host.trace(this, now, "icmp", `path MTU ${mtu} not lower than ${this.pathMtu}: ignored`, "RFC 1191 §6.1 / RFC 8201 §4");
      return;
    }
    this.pathMtu = newMtu;
    const mss = this.mssForMtu(newMtu);
    if (this.state === "SYN-SENT" && (this.version === 6 || this.prof.pmtuLowersSynMssV4)) this.mssAdvertised = mss;
    this.sndMss = Math.min(this.sndMss, mss);
    this.host.trace(this, now, "icmp", `path MTU -> ${newMtu}, MSS -> ${mss}`, "RFC 1191 / RFC 8201: lower the MSS");
  }

  // ---------------------------------------------------------------------------------
  // Timers

  nextDeadline(): number {
    const l = this.later;
    if (l === undefined) return this.rexmitAt;
    return Math.min(this.rexmitAt, l.rstRetryAt, l.connectDeadline, l.delAckAt, l.timeWaitAt, l.persistAt);
  }

  onTimer(now: number): void {
    if (this.state === "CLOSED") return;
    if (now >= this.timeWaitAt) {
      this.timeWaitAt = Infinity;
      this.finish({ kind: "finished" }, now, "RFC 9293 §3.10.8: TIME-WAIT timeout -> delete TCB");
      return;
    }
    if (now >= this.connectDeadline) {
      this.connectDeadline = Infinity;
      this.giveUp(now, "connection timeout (R2 / TCP_KEEPINIT) expired");
      return;
    }
    if (now >= this.rstRetryAt) {
      this.rstRetryAt = Infinity;
      this.host.trace(this, now, "timer", "RST retry timer: re-send SYN", "windows profile: SYN again 500 ms after RST");
      this.sendSyn(now, "re-send SYN after RST", "windows profile: RST retry");
    }
    if (now >= this.rexmitAt) {
      this.rexmitAt = Infinity;
      this.onRexmitTimer(now);
      if ((this.state as TcpState) === "CLOSED") return;
    }
    if (now >= this.delAckAt) {
      this.delAckAt = Infinity;
      // Linux tcp_delack_timer_handler(): a delayed ACK that had to wait for the timer means
      // the exchange is not interactive after all: leave pingpong mode.
      if (this.later !== undefined) this.later.pingpong = false;
      this.sendAck(now, "delayed ACK timer", "RFC 9293 §3.8.6.3");
    }
    if (now >= this.persistAt) {
      this.persistAt = Infinity;
      this.probeZeroWindow(now);
    }
  }

  private onRexmitTimer(now: number): void {
    const p = this.prof;
    if (this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") {
      // Linux counts tcp_syn_linear_timeouts in SYN-SENT only: after a simultaneous open the
      // SYN-ACK goes 1 + tcp_syn_retries times (tcp_write_timeout()).
      const attempts = this.state === "SYN-RECEIVED" && !this.passive && p.synBackoff === "linux" ? 1 + Math.max(0, p.synRetries) : synAttempts(p);
      if (this.synCount >= attempts) {
        this.giveUp(now, `no answer after ${this.synCount} SYN${this.synCount > 1 ? "s" : ""}`);
        return;
      }
      // Linux tcp_write_timeout(): the attempt also expires by time, at the first expiry
      // after a retransmission once now - first SYN >= tcp_model_timeout (profiles.ts).
      if (this.state === "SYN-SENT" && this.synCount > 1 && now - this.firstSynAt >= synModelTimeoutMs(p)) {
        this.giveUp(now, `no answer after ${this.synCount} SYNs in ${now - this.firstSynAt} ms (tcp_model_timeout)`);
        return;
      }
      this.host.trace(this, now, "timer", `SYN retransmission timer expired (#${this.synCount})`, "RFC 6298 §5.4-5.6 / profile SYN schedule");
      if (this.state === "SYN-SENT") {
        const after = p.synDropOptionsAfter;
        if (after > 0 && this.synCount >= after && !this.synOptionsDropped && !p.noOptions) {
          // FreeBSD rexmit_drop_options: maybe a middlebox drops SYNs with options; from the
          // SYN after the third on, offer none but the MSS (and use none if it works).
          this.synOptionsDropped = true;
          this.host.trace(this, now, "timer", `${this.synCount} SYNs unanswered: retransmit without window scale, SACK-permitted, timestamps`, "freebsd net.inet.tcp.rexmit_drop_options");
        }
        this.sendSyn(now, "retransmit SYN", "RFC 6298 §5.4: retransmit the earliest unacknowledged segment");
      }
      else this.sendSynAck(now, "retransmit SYN-ACK", "RFC 6298 §5.4");
      return;
    }
    if (this.flightSize() === 0 || this.state === "TIME-WAIT") return;
    if (this.sndWnd === 0) {
      // The peer's window is closed: what is outstanding cannot be accepted now. Probe the
      // window instead (RFC 9293 §3.8.6.1); probing does not count as retransmission.
      this.sndNxt = this.sndUna;
      this.probeZeroWindow(now);
      return;
    }
    // Data retransmission give-up, R2 of RFC 1122 §4.2.3.5 counted in retransmissions: the
    // timer expiring after profile.dataRetries retransmissions of the same data ends the
    // connection (windows 5, linux 15, freebsd 12, rfc 8; see profiles.ts).
    if (this.rexmitCount >= p.dataRetries) {
      this.giveUp(now, `R2: ${this.rexmitCount} retransmissions of SND.UNA unanswered (RFC 1122 §4.2.3.5)`);
      return;
    }
    this.rexmitCount++;
    this.timeouts++;
    this.host.trace(this, now, "timer", `retransmission timer expired (#${this.rexmitCount}), RTO ${this.rto.rtoMs} ms`, "RFC 6298 §5.4-5.6");
    // RFC 5681 §3.1 eq. 4 (ssthresh from FlightSize on the first timeout), cwnd = loss window.
    this.cc.onTimeout(this.flightSize(), this.sndMax, this.segmentPayloadMax(), this.rexmitCount === 1);
    // RFC 6298 §5.5: back off the timer.
    this.rto.backoff();
    // RFC 2018 §8: the receiver may renege on SACKed data. We keep the scoreboard for the
    // first timeout (as Linux does) and drop it when the timeout repeats.
    if (this.rexmitCount > 1) this.scoreboardState?.clear();
    // Go back to SND.UNA (RFC 6298 §5.4 resends the earliest segment; the rest follows as
    // the loss window grows, skipping SACKed data).
    this.sndNxt = this.sndUna;
    this.holeNext = this.sndUna;
    this.rttStart = -1;
    this.rexmitAt = Infinity;
    this.output(now);
    // RFC 6298 §5.6: restart the timer with the backed-off RTO.
    if (this.rexmitAt === Infinity) this.rexmitAt = now + this.rto.rtoMs;
  }

  /**
   * Persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17). With a zero window: send one
   * byte at SND.UNA (or the FIN) as a probe; probing goes on as long as the peer answers,
   * and gives up like R2 after profile.dataRetries unanswered probes. With a small non-zero
   * window it is the SWS override timeout: send what fits (RFC 9293 §3.8.6.2.1).
   */
  private probeZeroWindow(now: number): void {
    this.persistAt = Infinity;
    if (!isSynchronized(this.state) || this.state === "TIME-WAIT") return;
    const unsentFromUna = this.sendBuffered;
    const finPending = this.finQueued && !(this.finSent && seqGt(this.sndUna, this.finSeq));
    if (unsentFromUna === 0 && !finPending) return;
    if (this.sndWnd > 0) {
      const avail = seqDiff(this.dataEnd(), this.sndNxt);
      const len = Math.min(avail, this.segmentPayloadMax(), this.sndWnd - seqDiff(this.sndNxt, this.sndUna));
      if (len > 0) this.transmit(this.sndNxt, len, false, now, "SWS override timeout -> send what fits", "RFC 9293 §3.8.6.2.1");
      this.persistShift = 0;
      this.output(now);
      return;
    }
    if (this.probesUnanswered >= this.prof.dataRetries) {
      this.giveUp(now, `${this.probesUnanswered} zero-window probes unanswered`);
      return;
    }
    this.probesUnanswered++;
    this.zeroWindowProbes++;
    if (this.prof.zeroWindowProbe === "ackBelowUna") {
      // Linux tcp_xmit_probe_skb(): an old sequence number makes the segment unacceptable to
      // the receiver, which must answer with an ACK carrying its window (RFC 9293 §3.10.7.4);
      // nothing is sent into the closed window.
      this.emitSeg({ seq: seqAdd(this.sndUna, -1), ack: this.rcvNxt, flags: TCP_ACK, window: this.windowField(), options: this.ackOptions(now) }, now, "zero-window probe (empty, SND.UNA-1)", "RFC 9293 §3.8.6.1 / linux tcp_xmit_probe_skb()");
    } else if (unsentFromUna > 0) this.transmit(this.sndUna, 1, false, now, "zero-window probe (1 byte)", "RFC 9293 §3.8.6.1");
    else this.transmit(this.sndUna, 0, true, now, "zero-window probe (FIN)", "RFC 9293 §3.8.6.1");
    // The probe is timed by the persist timer, not the retransmission timer.
    this.rexmitAt = Infinity;
    this.persistShift++;
    this.persistAt = now + this.persistTimeoutMs();
    this.host.rearm(this);
  }

  private giveUp(now: number, why: string): void {
    // RFC 1122 §4.2.3.9: a remembered soft error is reported instead of a bare timeout.
    const outcome: Outcome = this.softError ? { kind: "timedOut", softError: this.softError } : { kind: "timedOut" };
    this.finish(outcome, now, `${why} -> give up`);
  }

  // ---------------------------------------------------------------------------------

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
    this.rexmitAt = this.rstRetryAt = this.connectDeadline = this.delAckAt = this.timeWaitAt = this.persistAt = Infinity;
    this.host.trace(this, now, "outcome", `${before} -> CLOSED: ${outcome.kind}`, rule, before, outcome);
    this.host.release(this);
    this.report(outcome);
  }
}

/** Connection deadlines other than the retransmission timer (see Connection.later). */
class LaterDeadlines {
  rstRetryAt = Infinity;
  connectDeadline = Infinity;
  delAckAt = Infinity;
  timeWaitAt = Infinity;
  persistAt = Infinity;
  lastOowAckAt = -Infinity;
  // Linux quick-ACK mode (profile.quickAcks); kept here, not in the TCB, since a connection
  // that never receives data needs none of it.
  /** Quick ACKs left (icsk_ack.quick). */
  quickAcks = 0;
  /** Interactive mode (inet_csk_in_pingpong_mode): no quick ACKs. */
  pingpong = false;
  /** Receive MSS estimate (icsk_ack.rcv_mss); 0 = no data received yet. */
  rcvMss = 0;
  /** When data last arrived (icsk_ack.lrcvtime). */
  lastDataRecvAt = -Infinity;
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
