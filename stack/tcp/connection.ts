// One TCP connection (the TCB of RFC 9293 §3.3.1) and what it does with each arriving
// segment, timer expiry and user call. The text of RFC 9293 §3.10 sits, in order, as short
// comments above the checks that implement it.
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption, type TcpSegment } from "../wire/types.js";
import type { TimerOwner } from "../timers.js";
import type { IcmpCause, Outcome, UnreachableReason } from "./outcome.js";
import { handshakeOptions, segmentOptions } from "./options.js";
import { synAttempts, synRtoMs, type Profile } from "./profiles.js";
import { RtoEstimator } from "./rto.js";
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt } from "./seq.js";
import { canReceive, canSend, isSynchronized, type TcpState } from "./state.js";
import type { IcmpMeaning } from "./icmp-policy.js";

/** What a connection needs from the stack that owns it. */
export interface ConnectionHost {
  /** Puts a segment of this connection on the wire. */
  emit(conn: Connection, seg: OutSegment, now: number, why: string, rule?: string): void;
  /** Records a decision in the trace (cheap no-op when nobody listens). */
  trace(conn: Connection, now: number, kind: "in" | "timer" | "drop" | "state" | "outcome" | "icmp" | "user", decision: string, rule?: string, stateBefore?: string): void;
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

export class Connection implements TimerOwner {
  readonly id: number;
  readonly version: 4 | 6;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly profile: Profile;
  events: ConnectionEvents = {};
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
  lastSynAt = 0;
  /** RST-triggered SYN retries used (windows profile). */
  rstRetries = 0;
  softError: { reason: UnreachableReason; icmp: IcmpCause } | undefined;
  outcome: Outcome | undefined;

  // Timers (absolute deadlines in ms; Infinity = not armed)
  rexmitAt = Infinity;
  rstRetryAt = Infinity;
  connectDeadline = Infinity;
  delAckAt = Infinity;
  timeWaitAt = Infinity;
  persistAt = Infinity;

  readonly rto: RtoEstimator;
  /** Consecutive retransmissions of the oldest unacknowledged data. */
  rexmitCount = 0;
  /** Send time of the segment being timed (Karn's algorithm), or -1. */
  private rttSeq = 0;
  private rttStart = -1;

  // Congestion control (RFC 5681)
  cwnd = 0;
  ssthresh = 0xffffffff;
  dupAcks = 0;
  private recover = 0;
  private inRecovery = false;

  // Send buffer: bytes from SND.UNA (after the SYN) onwards, not yet acknowledged.
  private sendChunks: Uint8Array[] = [];
  private sendOffset = 0; // bytes of sendChunks[0] already acknowledged
  sendBuffered = 0;
  /** Total bytes acknowledged by the peer since the start. */
  totalAcked = 0;
  /** close() was called: send FIN once the send buffer has drained. */
  finQueued = false;
  finSent = false;
  private finSeq = 0;
  private finAckedSignalled = false;

  // Receive side
  private rcvChunks: Uint8Array[] = [];
  rcvBuffered = 0;
  private ooo: Array<{ seq: number; data: Uint8Array; fin: boolean }> = [];
  peerFinReceived = false;
  private ackPending = 0; // full-sized segments received since our last ACK

  constructor(init: ConnectionInit, private readonly host: ConnectionHost) {
    this.id = init.id;
    this.version = init.version;
    this.localAddr = init.localAddr;
    this.localPort = init.localPort;
    this.remoteAddr = init.remoteAddr;
    this.remotePort = init.remotePort;
    this.profile = init.profile;
    this.iss = init.iss;
    this.sndUna = init.iss;
    this.sndNxt = init.iss;
    this.sndMax = init.iss;
    this.tsOffset = init.tsOffset;
    this.pathMtu = init.mtu;
    this.mssAdvertised = this.mssForMtu(init.mtu);
    this.sndMss = this.mssAdvertised;
    this.peerMss = undefined;
    this.rto = new RtoEstimator(this.profile.initialRtoMs, this.profile.rtoMinMs, this.profile.rtoMaxMs);
  }

  get tuple(): string {
    const l = this.version === 6 ? `[${this.localAddr}]` : this.localAddr;
    const r = this.version === 6 ? `[${this.remoteAddr}]` : this.remoteAddr;
    return `${l}:${this.localPort}>${r}:${this.remotePort}`;
  }

  private mssForMtu(mtu: number): number {
    if (this.profile.mssOverride > 0) return this.profile.mssOverride;
    return Math.max(8, mtu - (this.version === 6 ? 40 : 20) - 20);
  }

  private tsVal(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** The window we advertise (RFC 7323 §2.3: right-shifted by our scale outside SYNs). */
  private windowField(): number {
    const free = Math.max(0, this.profile.rcvBufBytes - this.rcvBuffered);
    return Math.min(0xffff, free >>> this.rcvWscale);
  }

  private setState(s: TcpState, now: number, rule: string): void {
    if (this.state === s) return;
    const before = this.state;
    this.state = s;
    this.host.trace(this, now, "state", `${before} -> ${s}`, rule, before);
  }

  // ---------------------------------------------------------------------------------
  // User calls (RFC 9293 §3.10.1 - 3.10.6)

  /** OPEN call, active (RFC 9293 §3.10.1): send the SYN and enter SYN-SENT. */
  open(now: number): void {
    this.firstSynAt = now;
    if (this.profile.connectTimeoutMs > 0) this.connectDeadline = now + this.profile.connectTimeoutMs;
    this.setState("SYN-SENT", now, "RFC 9293 §3.10.1: OPEN (active) -> send SYN, enter SYN-SENT");
    this.sendSyn(now, "send SYN", "RFC 9293 §3.10.1: <SEQ=ISS><CTL=SYN>");
  }

  private synOptions(now: number, peerOffered?: { wscale: boolean; sackOK: boolean; ts: boolean }): TcpOption[] {
    const p = this.profile;
    if (p.noOptions) return [];
    const offerWs = p.windowScaling && (peerOffered ? peerOffered.wscale : true);
    const offerSack = p.sack && (peerOffered ? peerOffered.sackOK : true);
    const offerTs = p.timestamps && (peerOffered ? peerOffered.ts : true);
    return handshakeOptions(p.optionLayout, {
      mss: this.mssAdvertised,
      wscale: offerWs ? Math.min(p.windowScale, MAX_WSCALE) : undefined,
      sackOK: offerSack,
      ts: offerTs ? { val: this.tsVal(now), ecr: peerOffered ? this.tsRecent : 0 } : undefined,
    });
  }

  private sendSyn(now: number, why: string, rule: string): void {
    this.synCount++;
    this.lastSynAt = now;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.host.emit(this, { seq: this.iss, ack: 0, flags: TCP_SYN, window: this.profile.synWindow, options: this.synOptions(now) }, now, why, rule);
    this.rexmitAt = now + synRtoMs(this.profile, this.synCount - 1);
    this.host.rearm(this);
  }

  private peerOffered = { wscale: false, sackOK: false, ts: false };

  private sendSynAck(now: number, why: string, rule: string): void {
    this.synCount++;
    this.lastSynAt = now;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    // RFC 7323 §2.2 / RFC 2018 §2: in a SYN-ACK offer only what the peer's SYN offered.
    const opts = this.synOptions(now, this.peerOffered);
    this.host.emit(this, { seq: this.iss, ack: this.rcvNxt, flags: TCP_SYN | TCP_ACK, window: this.profile.synWindow, options: opts }, now, why, rule);
    this.rexmitAt = now + synRtoMs(this.profile, this.synCount - 1);
    this.host.rearm(this);
  }

  /** Queues data for sending (RFC 9293 §3.10.2 SEND). Returns bytes accepted. */
  send(data: Uint8Array, now: number): number {
    if (!canSend(this.state) || this.finQueued) return 0;
    if (data.length === 0) return 0;
    this.sendChunks.push(data.slice());
    this.sendBuffered += data.length;
    this.output(now);
    return data.length;
  }

  /** Takes up to `max` bytes of in-order received data (RFC 9293 §3.10.3 RECEIVE). */
  read(max = Infinity): Uint8Array {
    if (this.rcvBuffered === 0 || max <= 0) return new Uint8Array(0);
    const n = Math.min(max, this.rcvBuffered);
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.rcvChunks[0];
      const take = Math.min(c.length, n - off);
      out.set(c.subarray(0, take), off);
      off += take;
      if (take === c.length) this.rcvChunks.shift();
      else this.rcvChunks[0] = c.subarray(take);
    }
    const wasClosed = this.windowField() === 0;
    this.rcvBuffered -= n;
    // RFC 9293 §3.8.6.2.2: tell the peer when a closed window opens (receiver SWS avoidance aside).
    if (wasClosed && this.windowField() > 0 && isSynchronized(this.state)) this.pendingWindowUpdate = true;
    return out;
  }

  /** Puts data back at the front of the receive buffer (a receive event declined it). */
  unread(data: Uint8Array): void {
    if (data.length === 0) return;
    this.rcvChunks.unshift(data.slice());
    this.rcvBuffered += data.length;
  }

  /** Set by read() when the window reopened; the stack flushes it at the next poll. */
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
      this.sendRst(this.sndNxt, now, "ABORT -> send RST", "RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>");
    }
    const kind = this.state === "SYN-SENT" ? "closed" : "aborted";
    this.finish({ kind }, now, "RFC 9293 §3.10.5: ABORT -> CLOSED");
  }

  // ---------------------------------------------------------------------------------
  // Output

  private sendRst(seq: number, now: number, why: string, rule: string): void {
    this.host.emit(this, { seq, ack: 0, flags: TCP_RST, window: 0, options: [] }, now, why, rule);
  }

  private ackOptions(now: number): TcpOption[] {
    return segmentOptions(this.tsEnabled ? { val: this.tsVal(now), ecr: this.tsRecent } : undefined, this.sackBlocks());
  }

  private sackBlocks(): Array<[number, number]> | undefined {
    if (!this.sackEnabled || this.ooo.length === 0) return undefined;
    // RFC 2018 §4: report the most recent out-of-order blocks, up to 3 with timestamps.
    const max = this.tsEnabled ? 3 : 4;
    const blocks: Array<[number, number]> = [];
    for (const b of this.ooo) {
      const end = seqAdd(b.seq, b.data.length + (b.fin ? 1 : 0));
      const last = blocks[blocks.length - 1];
      if (last && last[1] === b.seq) last[1] = end;
      else blocks.push([b.seq, end]);
    }
    return blocks.slice(0, max);
  }

  sendAck(now: number, why: string, rule?: string): void {
    this.delAckAt = Infinity;
    this.ackPending = 0;
    this.host.emit(this, { seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_ACK, window: this.windowField(), options: this.ackOptions(now) }, now, why, rule);
  }

  /** Effective payload per segment: MSS less the option bytes every segment carries. */
  private segmentPayloadMax(): number {
    return Math.max(1, this.sndMss - (this.tsEnabled ? 12 : 0));
  }

  private bytesInFlight(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  /** Sends what the windows allow (RFC 9293 §3.8.6.2, RFC 5681, Nagle RFC 896 unless TCP_NODELAY). */
  output(now: number): void {
    if (!isSynchronized(this.state) && this.state !== "SYN-RECEIVED") return;
    if (this.state === "SYN-RECEIVED") return;
    const mss = this.segmentPayloadMax();
    // Offset of SND.NXT into the send buffer.
    for (;;) {
      const sentUnacked = seqDiff(this.sndNxt, this.sndUna) - (this.finSent && seqGt(this.sndNxt, this.finSeq) ? 1 : 0);
      const unsent = this.sendBuffered - sentUnacked;
      const wnd = Math.min(this.sndWnd, this.cwnd);
      const usable = wnd - this.bytesInFlight();
      if (unsent > 0 && !this.finSentAtNxt()) {
        let len = Math.min(unsent, mss);
        if (usable < len) {
          // Zero window: persist timer (RFC 9293 §3.8.6.1).
          if (this.sndWnd === 0 && this.bytesInFlight() === 0) {
            if (this.persistAt === Infinity) {
              this.persistAt = now + this.rto.rtoMs;
              this.host.rearm(this);
            }
            return;
          }
          if (usable <= 0) return;
          // Send a partial segment only if it would be all that is left (SWS avoidance, RFC 9293 §3.8.6.2.1).
          if (usable < unsent && usable < mss) return;
          len = usable;
        }
        // Nagle (RFC 9293 §3.7.4): hold a small segment while data is unacknowledged.
        if (!this.profile.nodelay && len < mss && this.bytesInFlight() > 0) return;
        const payload = this.sendSlice(sentUnacked, len);
        const last = len === unsent;
        let flags = TCP_ACK | (last ? TCP_PSH : 0);
        const withFin = last && this.finQueued && !this.finSent;
        if (withFin) flags |= TCP_FIN;
        this.transmit(this.sndNxt, flags, payload, now, withFin ? "send data + FIN" : "send data");
        continue;
      }
      if (unsent === 0 && this.finQueued && !this.finSent) {
        this.transmit(this.sndNxt, TCP_ACK | TCP_FIN, undefined, now, "send FIN");
      }
      return;
    }
  }

  private finSentAtNxt(): boolean {
    return this.finSent && !seqLt(this.sndNxt, seqAdd(this.finSeq, 1));
  }

  /** Copies `len` bytes starting `off` bytes after SND.UNA out of the send buffer. */
  private sendSlice(off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let skip = off + this.sendOffset;
    let w = 0;
    for (let i = 0; i < this.sendChunks.length && w < len; i++) {
      const c = this.sendChunks[i];
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const take = Math.min(c.length - skip, len - w);
      out.set(c.subarray(skip, skip + take), w);
      w += take;
      skip = 0;
    }
    return out;
  }

  private transmit(seq: number, flags: number, payload: Uint8Array | undefined, now: number, why: string): void {
    const len = (payload?.length ?? 0) + (flags & TCP_FIN ? 1 : 0);
    if (flags & TCP_FIN) {
      if (!this.finSent) {
        this.finSent = true;
        this.finSeq = seqAdd(seq, payload?.length ?? 0);
        if (this.state === "ESTABLISHED") this.setState("FIN-WAIT-1", now, "RFC 9293 §3.10.4: CLOSE in ESTABLISHED -> FIN-WAIT-1");
        else if (this.state === "CLOSE-WAIT") this.setState("LAST-ACK", now, "RFC 9293 §3.10.4: CLOSE in CLOSE-WAIT -> LAST-ACK");
      }
    }
    const end = seqAdd(seq, len);
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    // Karn: time only segments sent for the first time (RFC 6298 §3).
    if (this.rttStart < 0 && seq === this.sndMax - len && len > 0) {
      this.rttStart = now;
      this.rttSeq = end;
    }
    this.delAckAt = Infinity;
    this.ackPending = 0;
    this.host.emit(this, { seq, ack: this.rcvNxt, flags, window: this.windowField(), options: this.ackOptions(now), payload }, now, why);
    if (this.rexmitAt === Infinity && len > 0) {
      this.rexmitAt = now + this.rto.rtoMs; // RFC 6298 §5.1
      this.host.rearm(this);
    }
  }

  // ---------------------------------------------------------------------------------
  // Segment arrival (RFC 9293 §3.10.7)

  /** A segment for this connection, already matched by 4-tuple and checksum-verified. */
  onSegment(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    switch (this.state) {
      case "SYN-SENT":
        this.onSegmentSynSent(seg, now, opt);
        break;
      case "CLOSED":
        break;
      default:
        this.onSegmentOther(seg, now, opt);
        break;
    }
  }

  /** RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
  private onSegmentSynSent(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const p = this.profile;
    let ackAcceptable = false;
    // First, check the ACK bit.
    if (seg.flags & TCP_ACK) {
      // If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so
      // drop the segment and return) <SEQ=SEG.ACK><CTL=RST>, and discard the segment.
      if (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt)) {
        if (seg.flags & TCP_RST) {
          this.host.trace(this, now, "drop", "RST with unacceptable ACK: drop", "RFC 9293 §3.10.7.3: ACK not acceptable, RST set -> drop");
          return;
        }
        this.sendRst(seg.ack, now, "ACK not acceptable -> RST", "RFC 9293 §3.10.7.3: SEG.ACK =< ISS or > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>");
        return;
      }
      // If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is acceptable.
      ackAcceptable = seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt);
    }
    // Second, check the RST bit.
    if (seg.flags & TCP_RST) {
      // RFC 5961 §3.2 / RFC 9293: in SYN-SENT a RST is valid if its ACK acknowledges the SYN.
      if (!ackAcceptable) {
        this.host.trace(this, now, "drop", "RST without acceptable ACK: drop", "RFC 9293 §3.10.7.3: RST without ACK in SYN-SENT is ignored");
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
        if (payload.length > 0 || seg.flags & TCP_FIN) {
          // "Data or controls that were queued for transmission may be included" and data in
          // the SYN-ACK is processed from the sixth step on; one ACK covers SYN and data.
          this.acceptData(seg, now, true);
        } else {
          this.sendAck(now, "ACK the SYN-ACK", "RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        }
        this.host.rearm(this);
        this.events.established?.(this);
        if (this.peerFinReceived) this.events.peerFin?.(this);
        if (this.rcvBuffered > 0) this.events.data?.(this);
        return;
      }
      // Otherwise enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
      // (simultaneous open, RFC 9293 §3.5 figure 8).
      this.sndWnd = seg.window; // unscaled in a SYN (RFC 7323 §2.2)
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.setState("SYN-RECEIVED", now, "RFC 9293 §3.10.7.3: SYN without ACK -> SYN-RECEIVED (simultaneous open)");
      this.synCount = 0;
      this.sendSynAck(now, "simultaneous open: send SYN-ACK", "RFC 9293 §3.10.7.3: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>");
      return;
    }
    // Fifth, if neither of the SYN or RST bits is set, then drop the segment and return.
    this.host.trace(this, now, "drop", "neither SYN nor RST: drop", "RFC 9293 §3.10.7.3: fifth, no SYN or RST -> drop (timer keeps running)");
  }

  /** RFC 7323 §2.2-2.3, RFC 2018 §2, RFC 9293 §3.7.1: what the SYN (or SYN-ACK) negotiated. */
  private negotiate(seg: TcpSegment, opt: SegmentOptionView, now: number): void {
    const p = this.profile;
    const synAck = (seg.flags & TCP_ACK) !== 0;
    this.peerOffered = { wscale: opt.wscale !== undefined, sackOK: opt.sackOK, ts: opt.ts !== undefined };
    const weOffered = !p.noOptions;
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
    this.peerMss = opt.mss;
    const peer = opt.mss ?? (this.version === 6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4);
    this.sndMss = Math.max(1, Math.min(peer, this.mssForMtu(this.pathMtu)));
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
    const smss = this.segmentPayloadMax();
    this.cwnd = Math.min(10 * smss, Math.max(2 * smss, 14600));
    this.ssthresh = 0x7fffffff;
  }

  /** RFC 9293 §3.10.7.4: SEGMENT ARRIVES in the other states. */
  private onSegmentOther(seg: TcpSegment, now: number, opt: SegmentOptionView): void {
    const segLen = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    const rcvWnd = this.windowField() << this.rcvWscale;

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
      this.host.emit(this, { seq: this.iss, ack: this.rcvNxt, flags: TCP_SYN | TCP_ACK, window: this.profile.synWindow, options: this.synOptions(now, this.peerOffered) }, now, "retransmitted SYN -> SYN-ACK again", "RFC 9293 §3.10.7.4");
      return;
    }
    if (!acceptable) {
      // If an incoming segment is not acceptable, an acknowledgment should be sent in reply
      // (unless the RST bit is set, if so drop the segment and return).
      if (seg.flags & TCP_RST) {
        this.host.trace(this, now, "drop", "RST out of window: drop", "RFC 9293 §3.10.7.4 / RFC 5961 §3.2");
        return;
      }
      if (this.state === "SYN-RECEIVED" && (seg.flags & TCP_SYN) && (seg.flags & TCP_ACK) && seqGt(seg.ack, this.iss) && seqLe(seg.ack, this.sndNxt)) {
        // Simultaneous open: the peer's SYN-ACK re-sends its SYN (already counted); fall through to the ACK check below.
      } else {
        this.sendAck(now, "unacceptable segment -> ACK", "RFC 9293 §3.10.7.4: not acceptable -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
        return;
      }
    }

    // Second, check the RST bit (RFC 9293 §3.10.7.4, RFC 5961 §3.2).
    if (seg.flags & TCP_RST) {
      if (seg.seq !== this.rcvNxt) {
        // RFC 5961 §3.2: in window but not exact -> challenge ACK.
        this.sendAck(now, "RST in window, not exact -> challenge ACK", "RFC 5961 §3.2");
        return;
      }
      if (this.state === "SYN-RECEIVED") {
        // Active open that went through SYN-RECEIVED: connection refused.
        this.finish({ kind: "refused" }, now, "RFC 9293 §3.10.7.4: RST in SYN-RECEIVED (from active OPEN) -> refused");
        return;
      }
      if (this.state === "CLOSING" || this.state === "LAST-ACK" || this.state === "TIME-WAIT") {
        this.finish({ kind: "finished" }, now, "RFC 9293 §3.10.7.4: RST in CLOSING/LAST-ACK/TIME-WAIT -> CLOSED");
        return;
      }
      this.finish({ kind: "reset" }, now, "RFC 9293 §3.10.7.4: RST -> connection reset, CLOSED");
      return;
    }

    // Fourth, check the SYN bit: a SYN in a synchronised state -> challenge ACK (RFC 5961 §4).
    if ((seg.flags & TCP_SYN) && this.state !== "SYN-RECEIVED") {
      this.sendAck(now, "SYN in synchronised state -> challenge ACK", "RFC 5961 §4.2 / RFC 9293 §3.10.7.4");
      return;
    }

    // Fifth, check the ACK field: if the ACK bit is off, drop the segment.
    if (!(seg.flags & TCP_ACK)) {
      this.host.trace(this, now, "drop", "no ACK bit: drop", "RFC 9293 §3.10.7.4: fifth, ACK bit off -> drop");
      return;
    }
    // RFC 7323 §4.3: update TS.Recent when the segment covers RCV.NXT (Last.ACK.sent).
    if (this.tsEnabled && opt.ts && seqLe(seg.seq, this.rcvNxt)) this.tsRecent = opt.ts.val;

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
        this.events.established?.(this);
      } else {
        // If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>.
        this.host.emit(this, { seq: seg.ack, ack: 0, flags: TCP_RST, window: 0, options: [] }, now, "unacceptable ACK in SYN-RECEIVED -> RST", "RFC 9293 §3.10.7.4");
        return;
      }
    }

    if (!this.processAck(seg, now)) return;

    // Sixth/seventh: the URG bit is not used; segment text; eighth: FIN.
    if (seg.payload.length > 0 || seg.flags & TCP_FIN) {
      this.acceptData(seg, now, false);
    }
    this.output(now);
    this.host.rearm(this);
  }

  /** ESTABLISHED-and-later ACK processing (RFC 9293 §3.10.7.4 fifth step). Returns false to stop. */
  private processAck(seg: TcpSegment, now: number): boolean {
    if (seqGt(seg.ack, this.sndMax)) {
      // If the ACK acks something not yet sent (SEG.ACK > SND.NXT), send an ACK, drop the segment.
      this.sendAck(now, "ACK for unsent data -> ACK and drop", "RFC 9293 §3.10.7.4 / RFC 5961 §5.2");
      return false;
    }
    // RFC 5961 §5.2: ignore ACKs older than SND.UNA - MAX.SND.WND (blind data injection).
    if (seqLt(seg.ack, seqAdd(this.sndUna, -Math.max(this.sndWnd, 65535)))) {
      this.sendAck(now, "ACK too old -> challenge ACK", "RFC 5961 §5.2");
      return false;
    }
    const dataLen = seg.payload.length;
    if (seqGt(seg.ack, this.sndUna)) {
      const acked = seqDiff(seg.ack, this.sndUna);
      this.onNewAck(seg.ack, acked, now);
    } else if (seg.ack === this.sndUna && dataLen === 0 && !(seg.flags & (TCP_FIN | TCP_SYN)) && this.bytesInFlight() > 0 && (seg.window << this.sndWscale) === this.sndWnd) {
      // RFC 5681 §2 duplicate ACK.
      this.onDupAck(now);
    }
    // Update the send window (RFC 9293 §3.10.7.4: SND.WL1 < SEG.SEQ or (= and SND.WL2 =< SEG.ACK)).
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, seg.ack))) {
      this.updateSendWindow(seg, false);
    }
    // FIN acknowledged?
    if (this.finSent && seqGt(seg.ack, this.finSeq) && !this.finAckedSignalled) {
      this.finAckedSignalled = true;
      this.events.finAcked?.(this);
      switch (this.state) {
        case "FIN-WAIT-1":
          this.setState("FIN-WAIT-2", now, "RFC 9293 §3.10.7.4: FIN-WAIT-1, our FIN acknowledged -> FIN-WAIT-2");
          break;
        case "CLOSING":
          this.enterTimeWait(now);
          return false;
        case "LAST-ACK":
          this.finish({ kind: "finished" }, now, "RFC 9293 §3.10.7.4: LAST-ACK, our FIN acknowledged -> CLOSED");
          return false;
      }
    }
    if (this.state === "TIME-WAIT" && (seg.flags & TCP_FIN)) {
      // The only thing that can arrive in TIME-WAIT is a retransmission of the remote FIN:
      // acknowledge it, and restart the 2 MSL timeout.
      this.sendAck(now, "FIN retransmitted in TIME-WAIT -> ACK, restart 2MSL", "RFC 9293 §3.10.7.4");
      this.timeWaitAt = now + 2 * this.profile.mslMs;
      this.host.rearm(this);
      return false;
    }
    return true;
  }

  private updateSendWindow(seg: TcpSegment, synSegment: boolean): void {
    this.sndWnd = synSegment ? seg.window : seg.window << this.sndWscale;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (this.sndWnd > 0 && this.persistAt !== Infinity) this.persistAt = Infinity;
  }

  private onNewAck(ack: number, acked: number, now: number): void {
    // Bytes of data acknowledged (exclude our FIN's sequence number).
    let dataAcked = acked;
    if (this.finSent && seqGt(ack, this.finSeq)) dataAcked -= 1;
    dataAcked = Math.min(dataAcked, this.sendBuffered);
    this.sndUna = ack;
    if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
    this.dropSent(dataAcked);
    this.totalAcked += dataAcked;
    // RTT sample (Karn: rttStart is reset on retransmission).
    if (this.rttStart >= 0 && seqGe(ack, this.rttSeq)) {
      this.rto.sample(now - this.rttStart);
      this.rttStart = -1;
    }
    this.rexmitCount = 0;
    // Congestion control (RFC 5681 §3.1, §3.2; RFC 6582 partial ACK handling simplified).
    const smss = this.segmentPayloadMax();
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        this.cwnd = this.ssthresh;
      } else {
        // Partial ACK: retransmit the next unacknowledged segment (RFC 6582 §3.2 step 5).
        this.retransmitFirst(now, "partial ACK in fast recovery -> retransmit");
        this.cwnd = Math.max(smss, this.cwnd - dataAcked + smss);
      }
    } else if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(dataAcked, smss);
    } else {
      this.cwnd += Math.max(1, Math.floor((smss * smss) / this.cwnd));
    }
    this.dupAcks = 0;
    // RFC 6298 §5.2/5.3: all data acked -> stop the timer, else restart it.
    this.rexmitAt = this.bytesInFlight() > 0 ? now + this.rto.rtoMs : Infinity;
    if (dataAcked > 0) this.events.acked?.(this, this.totalAcked);
  }

  private onDupAck(now: number): void {
    this.dupAcks++;
    const smss = this.segmentPayloadMax();
    if (this.dupAcks === 3 && !this.inRecovery) {
      // RFC 5681 §3.2 fast retransmit.
      this.ssthresh = Math.max(Math.floor(this.bytesInFlight() / 2), 2 * smss);
      this.recover = this.sndMax;
      this.inRecovery = true;
      this.retransmitFirst(now, "3 duplicate ACKs -> fast retransmit");
      this.cwnd = this.ssthresh + 3 * smss;
    } else if (this.inRecovery) {
      this.cwnd += smss;
    }
  }

  fastRetransmits = 0;
  retransmits = 0;

  private retransmitFirst(now: number, why: string): void {
    this.retransmits++;
    if (why.startsWith("3 duplicate")) this.fastRetransmits++;
    this.rttStart = -1;
    const unacked = this.sendBuffered;
    const len = Math.min(unacked, this.segmentPayloadMax());
    const withFin = this.finSent && len === unacked;
    if (len === 0 && !withFin) return;
    const payload = len > 0 ? this.sendSlice(0, len) : undefined;
    this.host.emit(
      this,
      { seq: this.sndUna, ack: this.rcvNxt, flags: TCP_ACK | (withFin ? TCP_FIN : 0) | (len > 0 && len === unacked ? TCP_PSH : 0), window: this.windowField(), options: this.ackOptions(now), payload },
      now,
      why,
      "RFC 5681 §3.2 / RFC 6298 §5.4",
    );
  }

  private dropSent(n: number): void {
    this.sendBuffered -= n;
    while (n > 0 && this.sendChunks.length > 0) {
      const avail = this.sendChunks[0].length - this.sendOffset;
      if (n >= avail) {
        n -= avail;
        this.sendChunks.shift();
        this.sendOffset = 0;
      } else {
        this.sendOffset += n;
        n = 0;
      }
    }
  }

  /** Sixth to eighth steps: segment text and FIN (RFC 9293 §3.10.7.4). */
  private acceptData(seg: TcpSegment, now: number, fromSynSent: boolean): void {
    let seq = fromSynSent ? seqAdd(seg.seq, 1) : seg.seq;
    let data = seg.payload;
    const fin = (seg.flags & TCP_FIN) !== 0;
    if (!canReceive(this.state) && !fromSynSent) {
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: ignore segment text.
      if (!fin) return;
      data = new Uint8Array(0);
    }
    // Trim what we already have.
    const dup = seqDiff(this.rcvNxt, seq);
    if (dup > 0) {
      if (dup >= data.length + (fin ? 1 : 0)) {
        this.sendAck(now, "duplicate segment -> ACK", "RFC 9293 §3.10.7.4");
        return;
      }
      data = data.subarray(Math.min(dup, data.length));
      seq = this.rcvNxt;
    }
    // Trim to the receive window.
    const room = Math.max(0, this.profile.rcvBufBytes - this.rcvBuffered);
    let finOk = fin;
    if (data.length > room) {
      data = data.subarray(0, room);
      finOk = false;
    }
    if (seq !== this.rcvNxt) {
      // Out of order: keep it for reassembly and send a duplicate ACK (RFC 5681 §4.2).
      this.insertOoo(seq, data.slice(), finOk);
      this.sendAck(now, "out-of-order segment -> duplicate ACK", "RFC 5681 §4.2 / RFC 9293 §3.10.7.4");
      return;
    }
    let newData = false;
    if (data.length > 0) {
      this.rcvChunks.push(data.slice());
      this.rcvBuffered += data.length;
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      newData = true;
    }
    let gotFin = finOk;
    // Pull contiguous out-of-order data.
    while (this.ooo.length > 0 && !gotFin) {
      const b = this.ooo[0];
      const d = seqDiff(this.rcvNxt, b.seq);
      if (d < 0) break;
      this.ooo.shift();
      if (d < b.data.length) {
        const rest = b.data.subarray(d);
        this.rcvChunks.push(rest);
        this.rcvBuffered += rest.length;
        this.rcvNxt = seqAdd(this.rcvNxt, rest.length);
        newData = true;
      }
      if (b.fin) gotFin = true;
    }
    if (gotFin && !this.peerFinReceived) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.peerFinReceived = true;
      this.ooo = [];
      switch (this.state) {
        case "ESTABLISHED":
          this.setState("CLOSE-WAIT", now, "RFC 9293 §3.10.7.4 eighth: FIN in ESTABLISHED -> CLOSE-WAIT");
          break;
        case "FIN-WAIT-1":
          if (this.finSent && seqGt(this.sndUna, this.finSeq)) this.enterTimeWait(now);
          else this.setState("CLOSING", now, "RFC 9293 §3.10.7.4 eighth: FIN in FIN-WAIT-1 -> CLOSING");
          break;
        case "FIN-WAIT-2":
          this.enterTimeWait(now);
          break;
      }
      this.sendAck(now, "ACK the FIN", "RFC 9293 §3.10.7.4 eighth: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>");
      if (!fromSynSent) {
        if (newData) this.events.data?.(this);
        this.events.peerFin?.(this);
      }
      return;
    }
    if (fromSynSent) {
      this.sendAck(now, "ACK the SYN-ACK and its data", "RFC 9293 §3.10.7.3");
      return;
    }
    // RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: delayed ACK, at least every second full segment.
    this.ackPending++;
    if (this.ackPending >= 2 || this.ooo.length > 0 || this.profile.delayedAckMs <= 0) {
      this.sendAck(now, "ACK data", "RFC 9293 §3.8.6.3: ACK at least every second full segment");
    } else if (this.delAckAt === Infinity) {
      this.delAckAt = now + this.profile.delayedAckMs;
    }
    if (newData) this.events.data?.(this);
  }

  private insertOoo(seq: number, data: Uint8Array, fin: boolean): void {
    if (data.length === 0 && !fin) return;
    let i = 0;
    while (i < this.ooo.length && seqLt(this.ooo[i].seq, seq)) i++;
    if (i < this.ooo.length && this.ooo[i].seq === seq && this.ooo[i].data.length >= data.length) return;
    this.ooo.splice(i, 0, { seq, data, fin });
    if (this.ooo.length > 1024) this.ooo.pop();
  }

  private enterTimeWait(now: number): void {
    this.setState("TIME-WAIT", now, "RFC 9293 §3.10.7.4: enter TIME-WAIT, 2 MSL timer");
    this.rexmitAt = Infinity;
    this.timeWaitAt = now + 2 * this.profile.mslMs;
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
    const p = this.profile;
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
    if (this.state === "SYN-SENT") this.mssAdvertised = mss;
    this.sndMss = Math.min(this.sndMss, mss);
    this.host.trace(this, now, "icmp", `path MTU -> ${newMtu}, MSS -> ${mss}`, "RFC 1191 / RFC 8201: lower the MSS");
  }

  // ---------------------------------------------------------------------------------
  // Timers

  nextDeadline(): number {
    return Math.min(this.rexmitAt, this.rstRetryAt, this.connectDeadline, this.delAckAt, this.timeWaitAt, this.persistAt);
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
      this.sendAck(now, "delayed ACK timer", "RFC 9293 §3.8.6.3");
    }
    if (now >= this.persistAt) {
      this.persistAt = Infinity;
      this.probeZeroWindow(now);
    }
  }

  private onRexmitTimer(now: number): void {
    const p = this.profile;
    if (this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") {
      if (this.synCount >= synAttempts(p)) {
        this.giveUp(now, `no answer after ${this.synCount} SYN${this.synCount > 1 ? "s" : ""}`);
        return;
      }
      this.host.trace(this, now, "timer", `SYN retransmission timer expired (#${this.synCount})`, "RFC 6298 §5.4-5.6 / profile SYN schedule");
      if (this.state === "SYN-SENT") this.sendSyn(now, "retransmit SYN", "RFC 6298 §5.4: retransmit the earliest unacknowledged segment");
      else this.sendSynAck(now, "retransmit SYN-ACK", "RFC 6298 §5.4");
      return;
    }
    if (this.bytesInFlight() === 0) return;
    // Data retransmission give-up: R2 (RFC 1122 §4.2.3.5), counted like Linux tcp_retries2 = 15.
    if (this.rexmitCount >= 15) {
      this.finish({ kind: "timedOut" }, now, "RFC 1122 §4.2.3.5: R2 exceeded for data -> give up");
      return;
    }
    this.rexmitCount++;
    this.host.trace(this, now, "timer", `retransmission timer expired (#${this.rexmitCount})`, "RFC 6298 §5.4-5.6");
    // RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = 1 SMSS (loss window).
    const smss = this.segmentPayloadMax();
    this.ssthresh = Math.max(Math.floor(this.bytesInFlight() / 2), 2 * smss);
    this.cwnd = smss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.rto.backoff();
    // Go back to SND.UNA: everything after it is resent as the window allows.
    this.sndNxt = this.sndUna;
    if (this.finSent && seqLe(this.sndUna, this.finSeq)) this.finSent = false;
    this.rttStart = -1;
    this.rexmitAt = Infinity;
    this.retransmits++;
    this.output(now);
    if (this.rexmitAt === Infinity) this.rexmitAt = now + this.rto.rtoMs;
  }

  private probeZeroWindow(now: number): void {
    if (this.sendBuffered === 0 || this.sndWnd > 0) return;
    // RFC 9293 §3.8.6.1: probe with one byte beyond the window; back off like the RTO.
    const seq = this.sndNxt;
    const sentUnacked = seqDiff(this.sndNxt, this.sndUna);
    const payload = this.sendSlice(sentUnacked, 1);
    this.host.emit(this, { seq, ack: this.rcvNxt, flags: TCP_ACK, window: this.windowField(), options: this.ackOptions(now), payload }, now, "zero-window probe", "RFC 9293 §3.8.6.1");
    this.rto.backoff();
    this.persistAt = now + this.rto.rtoMs;
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
    this.events.closed?.(this, outcome);
  }

  /** Ends the connection: CLOSED, timers off, out of the table, outcome reported once. */
  finish(outcome: Outcome, now: number, rule: string): void {
    if (this.state === "CLOSED" && this.outcome) return;
    const before = this.state;
    this.state = "CLOSED";
    this.rexmitAt = this.rstRetryAt = this.connectDeadline = this.delAckAt = this.timeWaitAt = this.persistAt = Infinity;
    this.host.trace(this, now, "outcome", `${before} -> CLOSED: ${outcome.kind}`, rule, before);
    this.host.release(this);
    this.report(outcome);
  }
}

/** The option values of an arriving segment, summarised once by the stack. */
export interface SegmentOptionView {
  mss?: number;
  wscale?: number;
  sackOK: boolean;
  ts?: { val: number; ecr: number };
}
