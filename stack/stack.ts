// The Stack: demultiplexing, listeners, ICMP routing, timers and output. Pure and
// deterministic (docs/architecture.md): time comes in as `now` (ms), randomness through `random`;
// packets go in through input() and out through poll()/takeOutput() (or, packed for a
// device that writes batches, pollBatch()/takeOutputBatch()).
//
// Longer than 600 lines on purpose: it is one object that owns the connection table, the
// listeners, the timer heap, the outbox and the statistics, and the path of an arriving
// packet through it (parse, the segment's connection or listener or the CLOSED rules of
// RFC 9293 §3.10.7.1-2, an ICMP error's checks of RFC 5927) reads best in one place. What
// stands apart is elsewhere: addresses and routing (addressing.ts), ports (ports.ts), the
// outbox (outbox.ts), the connection itself (tcp/).
import { canonicalIp } from "./wire/addr.js";
import { Addressing, isUnspecified, type LocalAddress, type RouteResult } from "./addressing.js";
import { Ports, type PortBinding } from "./ports.js";
import { ConnectionTable } from "./demux.js";
import { describePacket, describeTcpSegment, maxTcpPacketLength, parsePacket, writeTcpPacket } from "./wire/packet.js";
import { Outbox, TX_CSUM_PARTIAL, type PacketBatch } from "./outbox.js";
import { completeTcpChecksum, segmentFitsPacket, setTcpPacketLength, tcpHeaderStart } from "./wire/offload.js";
import { RxSegment } from "./wire/rx-segment.js";
import { summarizeOptions } from "./wire/tcp-options.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type IcmpMessage, type Packet, type TcpPacketSpec, type TcpSegment } from "./wire/types.js";
import { Connection, type ConnectionHost, type OutSegment, type SegmentOptionView } from "./tcp/connection.js";
import { icmpMeaning } from "./tcp/icmp-meaning.js";
import { icmpFilteredOut, quoteInFlight } from "./tcp/icmp.js";
import { rfc6528Isn } from "./tcp/isn.js";
import { admitSyn, cookieAckChecked, listenDisposition, synSegment, type HeldSyn, type PassiveOrigin, type SynRequest, type SynVerdict } from "./tcp/passive.js";
import { freebsdCookie, freebsdCookieLookup, freebsdTsOffset, linuxCookie, linuxCookieMss, linuxCookieTsClock, linuxDecodeTsOptions, linuxMssIndex, linuxTsOffset, linuxTsOptionBits, type CookieOptions } from "./tcp/syncookie.js";
import { dropsBadOptions } from "./tcp/options.js";
import { resolveProfile, type Profile, type ProfileName, type ProfileOverrides } from "./tcp/profiles.js";
import { seqAdd } from "./tcp/seq.js";
import { TimerHeap } from "./timers.js";
import type { RandomSource } from "./random.js";
import type { TraceEvent, TraceSink } from "./trace.js";
import type { Outcome } from "./tcp/outcome.js";
import type { DeviceDropReason, DropReason, SegmentDropReason, StackDropReason } from "./drops.js";
import type { PacketError } from "./wire/types.js";

export type { LocalAddress, PortBinding, RouteResult, SynRequest, SynVerdict };

export interface StackConfig {
  addresses: Array<LocalAddress | string>;
  /** Default gateways: destinations off-link are reachable only through them. */
  gateway4?: string;
  gateway6?: string;
  /** Link MTU in bytes (default 1500). */
  mtu?: number;
  profile?: ProfileName | Profile;
  random: RandomSource;
  /** Secret for RFC 6528 ISNs and RFC 6056 ports; 16 bytes (drawn from `random` if absent). */
  isnSecret?: Uint8Array;
  /** Answer segments to closed ports with RST (RFC 9293 §3.10.7.1); default true. */
  rstForClosedPorts?: boolean;
  trace?: TraceSink;
}

export interface StackStats {
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  /** Drop counts by reason code ("tcp checksum", "not for us", "rst out of window", ...; see drops.ts). */
  drops: Partial<Record<DropReason, number>>;
  rstSent: number;
  icmpAccepted: number;
  icmpIgnored: number;
  connectionsOpened: number;
  connectionsLive: number;
  /** SYN-RECEIVED connections a listener dropped to answer a newer SYN (tcp/passive.ts halfOpenFull). */
  halfOpenDropped: number;
  /** SYN-ACKs sent with a SYN cookie and nothing kept (halfOpenFull "linux", "freebsd"; RFC 4987 §3.6). */
  synCookiesSent: number;
  /** ACKs for no connection whose SYN cookie checked: connections rebuilt from it. */
  synCookiesAccepted: number;
  /** ACKs for no connection looked at as a SYN cookie that did not check (answered as any ACK in LISTEN: RST). */
  synCookiesFailed: number;
}

export type ConnectError =
  | { error: "invalidAddress"; detail: string }
  | { error: "familyMismatch"; detail: string }
  | { error: "addressNotOwned"; detail: string }
  | { error: "addressInUse"; detail: string }
  | { error: "portsExhausted"; detail: string }
  | { error: "noRoute"; detail: string };

export interface Endpoint {
  addr: string;
  port: number;
}

export interface ConnectOptions {
  remote: Endpoint;
  /** Local address and/or port; a port from `bindPort` is honoured as is. */
  local?: { addr?: string; port?: number };
  profile?: ProfileName | Profile;
  overrides?: ProfileOverrides;
  /** Fixes the initial send sequence number (replay --strict, tests); default RFC 6528. */
  iss?: number;
  /** Fixes the offset of our TSval clock (replay --strict, tests); default random. */
  tsOffset?: number;
}

export interface ListenOptions {
  port: number;
  /** Local address to listen on; default: every address of the stack. */
  addr?: string;
  profile?: ProfileName | Profile;
  overrides?: ProfileOverrides;
  /**
   * A passively opened connection reached ESTABLISHED. Set its `events` here: data that
   * came with the handshake's final ACK is announced right after this returns.
   */
  onAccept(conn: Connection): void;
  /**
   * The owner's queue of connections established but not yet accepted: when `queued`
   * reaches `capacity`, SYNs and final ACKs get the profile's acceptQueueFull treatment
   * (tcp/passive.ts). Absent: no limit (every connection goes to onAccept at once).
   */
  acceptQueue?: AcceptQueue;
  /**
   * Conditional accept: asked about each new SYN before it is answered (tcp/passive.ts,
   * SynRequest). "accept" answers it, "reject" refuses it with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>,
   * "hold" keeps it unanswered until Listener.decide(). Absent: every SYN is answered.
   */
  inspect?(req: SynRequest): SynVerdict;
  /** A request inspect() held or accepted ended before its handshake completed (dropped here or reset by the peer). */
  onAbort?(id: number): void;
}

/** What a listener reads of its owner's accept queue. */
export interface AcceptQueue {
  readonly queued: number;
  readonly capacity: number;
}

const tupleKey = (remote: string, remotePort: number, local: string, localPort: number): string => `${remote} ${remotePort} ${local} ${localPort}`;

/** A LISTEN "socket" (RFC 9293 §3.10.1 passive OPEN): answers SYNs on its port. */
export class Listener implements PassiveOrigin {
  closed = false;
  /** Connections accepted so far. */
  accepted = 0;
  /** Its connections in SYN-RECEIVED, oldest first (at most profile.halfOpenLimit). */
  readonly halfOpen = new Set<Connection>();
  /** Half-open connections dropped for a newer SYN (halfOpenFull "dropOldest", "freebsd"). */
  halfOpenDropped = 0;
  /** When a SYN last found the half-open set full (tcp/passive.ts HalfOpenSet). */
  lastOverflowAt = -Infinity;
  /** halfOpenFull "freebsd": SYNs get cookie SYN-ACKs only until then. */
  cookiesOnlyUntil = -Infinity;
  /** SYN cookies sent, ACKs rebuilt from one, and cookie ACKs that failed the check (StackStats). */
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesFailed = 0;
  /** SYNs refused or dropped, and final ACKs dropped or reset, for a full accept queue. */
  queueFullTurnedAway = 0;
  acceptQueue: AcceptQueue | undefined = undefined;
  /** Conditional accept (ListenOptions.inspect, onAbort). */
  inspect: ((req: SynRequest) => SynVerdict) | undefined = undefined;
  onAbort: ((id: number) => void) | undefined = undefined;
  /** SYNs inspect() held, unanswered, oldest first (by SynRequest.id), and their ids by connection tuple. */
  readonly held = new Map<number, HeldSyn>();
  private readonly heldIds = new Map<string, number>();
  constructor(
    readonly port: number,
    readonly addr: string | undefined,
    /**
     * The profile of the connections its SYNs open, lent to each (never written through).
     * Its owner may replace it: options set on a listening socket apply to later SYNs.
     */
    public profile: Profile,
    readonly onAccept: (conn: Connection) => void,
    private readonly stack: Stack,
  ) {}

  /** Stops listening; connections already opened live on. */
  close(): void {
    this.stack.unlisten(this);
  }

  /**
   * The owner's decision on a held SYN: "accept" answers it now (SYN-ACK), "reject" refuses
   * it (RST,ACK). False when no SYN is held under that id (decided already, or aborted).
   */
  decide(id: number, verdict: "accept" | "reject", now: number): boolean {
    return this.stack.decideHeld(this, id, verdict, now);
  }

  /** Stops listening and refuses every held SYN (RST,ACK); connections already opened live on. */
  closeRefusingHeld(now: number): void {
    this.close();
    for (const id of [...this.held.keys()]) this.stack.decideHeld(this, id, "reject", now);
  }

  /** @internal The stack holds a SYN for the owner's decision. */
  hold(syn: HeldSyn): void {
    this.held.set(syn.req.id, syn);
    this.heldIds.set(tupleKey(syn.req.remoteAddr, syn.req.remotePort, syn.req.localAddr, syn.req.localPort), syn.req.id);
  }

  /** @internal Takes a held SYN out (decided, withdrawn or pushed out). */
  unhold(id: number): HeldSyn | undefined {
    const h = this.held.get(id);
    if (h) {
      this.held.delete(id);
      this.heldIds.delete(tupleKey(h.req.remoteAddr, h.req.remotePort, h.req.localAddr, h.req.localPort));
    }
    return h;
  }

  /** @internal The id of the SYN held for this connection tuple, if any. */
  heldId(remote: string, remotePort: number, local: string, localPort: number): number | undefined {
    return this.heldIds.get(tupleKey(remote, remotePort, local, localPort));
  }

  acceptQueueFull(): boolean {
    const q = this.acceptQueue;
    const full = q !== undefined && q.queued >= q.capacity;
    if (full) this.queueFullTurnedAway++;
    return full;
  }
}

export class Stack implements ConnectionHost {
  readonly addresses: LocalAddress[];
  readonly mtu: number;
  readonly profile: Profile;
  private readonly random: RandomSource;
  private readonly secret: Uint8Array;
  private readonly rstForClosedPorts: boolean;
  private traceSink: TraceSink | undefined;

  private readonly conns = new ConnectionTable<Connection>();
  private readonly addressing: Addressing;
  private readonly ports: Ports;
  private readonly timers = new TimerHeap<Connection>();
  /** Packets produced and not yet taken (outbox.ts). */
  private readonly outbox = new Outbox();
  private nextId = 1;
  /** Conditional accept: the id of the next inspected SYN (SynRequest.id). */
  private nextInspectId = 1;
  private lastNow = 0;
  private readonly windowUpdates = new Set<Connection>();
  private readonly listeners = new Map<number, Listener[]>();
  /** Transmit offloads of the device the output goes to (setTxOffloads). */
  private txCsumPartial = false;
  private txTso = false;
  /**
   * TSO: `runConn` is set while the last packet in the outbox is a data segment of that
   * connection that its next segment may extend (emit()): it starts at outbox.data[runAt],
   * has segments of `runMss` payload bytes so far, and ends before sequence number
   * `runNext` (int32). Its IP length and pseudo-header sum are written once, when the run
   * ends (endRun()).
   */
  private runConn: Connection | undefined = undefined;
  /** The run's packet has grown since its lengths were last written (endRun()). */
  private runGrown = false;
  private runAt = 0;
  private runMss = 0;
  private runNext = 0;
  /** Reused by emit() (see there). */
  private readonly emitSpec: TcpPacketSpec = { src: "", dst: "", ttl: 64, srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, options: undefined, payload: undefined };

  readonly stats: StackStats = {
    rxPackets: 0,
    txPackets: 0,
    rxDropped: 0,
    drops: {},
    rstSent: 0,
    icmpAccepted: 0,
    icmpIgnored: 0,
    halfOpenDropped: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
    synCookiesFailed: 0,
    connectionsOpened: 0,
    connectionsLive: 0,
  };

  constructor(cfg: StackConfig) {
    this.addressing = new Addressing(cfg.addresses, cfg.gateway4 ? canonicalIp(cfg.gateway4) : undefined, cfg.gateway6 ? canonicalIp(cfg.gateway6) : undefined);
    this.addresses = this.addressing.addresses;
    this.mtu = cfg.mtu ?? 1500;
    this.profile = resolveProfile(cfg.profile ?? "windows");
    this.random = cfg.random;
    this.secret = cfg.isnSecret ?? randomSecret(cfg.random);
    this.ports = new Ports(this.random, this.secret);
    this.rstForClosedPorts = cfg.rstForClosedPorts ?? true;
    this.traceSink = cfg.trace;
  }

  get tracing(): boolean {
    return this.traceSink !== undefined;
  }

  /**
   * What the device the output goes to does itself (the Runtime passes on Device.offloads):
   * with `tcpChecksum` every TCP packet leaves with its checksum field holding the
   * pseudo-header sum for the device to complete (the payload is never summed here); with
   * `tcpSegmentation` too, consecutive data segments of one connection produced together
   * leave as ONE packet of up to 64 KiB for the device to cut into the same segments (the
   * batch's meta gives the segment size). The connection's segments, their sizes, flags and
   * accounting are the same either way; only how they are handed over changes. Packets taken
   * with poll()/takeOutput() come out complete whatever this says (wire/offload.ts); the
   * offloads reach only pollBatch()/takeOutputBatch(), whose meta the device must honour.
   * While a trace sink is set no segments are joined, and traced packets carry complete checksums.
   */
  setTxOffloads(o: { tcpChecksum: boolean; tcpSegmentation: boolean }): void {
    this.txCsumPartial = o.tcpChecksum;
    this.txTso = o.tcpChecksum && o.tcpSegmentation;
    this.endRun();
  }

  /** The transmit offloads in use (setTxOffloads). */
  get txOffloads(): { tcpChecksum: boolean; tcpSegmentation: boolean } {
    return { tcpChecksum: this.txCsumPartial, tcpSegmentation: this.txTso };
  }

  setTrace(sink: TraceSink | undefined): void {
    this.traceSink = sink;
  }

  /** Live connections (including TIME-WAIT). */
  get connectionCount(): number {
    return this.conns.size;
  }

  connections(): IterableIterator<Connection> {
    return this.conns.values();
  }

  /** Timers with a live deadline. */
  get pendingTimers(): number {
    return this.timers.liveCount;
  }

  /** Ports held by bindings. */
  get boundPorts(): number {
    return this.ports.bound;
  }

  ownsAddress(addr: string): boolean {
    return this.addressing.owns(addr);
  }

  // -------------------------------------------------------------------------------
  // Routing and ports (addressing.ts, ports.ts)

  /** The local address to use towards `remote` (RFC 1122 §3.3.4.3 source selection, simplified). */
  route(remote: string): RouteResult {
    return this.addressing.route(remote);
  }

  /**
   * Reserves a local port (WskBind). Port 0 picks an ephemeral port at random from the
   * profile's range (RFC 6056 §3.3.1, Algorithm 1: the remote is not known yet).
   */
  bindPort(version: 4 | 6, addr: string | undefined, port: number, profile: Profile = this.profile): PortBinding | ConnectError {
    if (addr !== undefined) {
      const c = canonicalIp(addr);
      if (!c) return { error: "invalidAddress", detail: `invalid address ${addr}` };
      if ((c.includes(":") ? 6 : 4) !== version) return { error: "familyMismatch", detail: `${addr} is not IPv${version}` };
      if (!this.ownsAddress(c)) return { error: "addressNotOwned", detail: `${addr} is not an address of this stack` };
      addr = c;
    }
    if (port < 0 || port > 65535 || !Number.isInteger(port)) return { error: "invalidAddress", detail: `invalid port ${port}` };
    if (port !== 0) {
      if (!this.ports.free(version, addr, port)) return { error: "addressInUse", detail: `port ${port} is in use` };
      return this.ports.add(version, addr, port);
    }
    const p = this.ports.pickForBind(version, addr, profile);
    if (p === undefined) return { error: "portsExhausted", detail: `no free port in ${profile.ephemeralLow}-${profile.ephemeralHigh}` };
    return this.ports.add(version, addr, p);
  }

  releasePort(b: PortBinding): void {
    this.ports.release(b);
  }

  // -------------------------------------------------------------------------------
  // Opening connections

  /**
   * Active OPEN (RFC 9293 §3.10.1). Sends the SYN at once (into the outbox) and returns the
   * connection in SYN-SENT, or an error when the call cannot even start.
   */
  connect(opts: ConnectOptions, now: number): Connection | ConnectError {
    this.lastNow = now;
    const info = this.addressing.remoteInfo(opts.remote.addr);
    if (!info) return { error: "invalidAddress", detail: `invalid remote address ${opts.remote.addr}` };
    const remoteAddr = info.canonical;
    const rp = opts.remote.port;
    if (!Number.isInteger(rp) || rp < 1 || rp > 65535) return { error: "invalidAddress", detail: `invalid remote port ${rp}` };
    const version: 4 | 6 = info.version;
    if (info.unspecified) return { error: "invalidAddress", detail: "remote address is unspecified" };
    // Without a profile or overrides the connection borrows the stack's profile instead of
    // a copy of it (most of a pending connection's memory otherwise; the Connection copies
    // it itself if anyone may write to it).
    const borrowed = opts.profile === undefined && opts.overrides === undefined;
    const profile = borrowed ? this.profile : resolveProfile(opts.profile ?? this.profile, opts.overrides);

    let localAddr: string;
    if (opts.local?.addr !== undefined && !isUnspecified(opts.local.addr)) {
      const c = canonicalIp(opts.local.addr);
      if (!c) return { error: "invalidAddress", detail: `invalid local address ${opts.local.addr}` };
      if ((c.includes(":") ? 6 : 4) !== version) return { error: "familyMismatch", detail: `local ${c} and remote ${remoteAddr} differ in family` };
      if (!this.ownsAddress(c)) return { error: "addressNotOwned", detail: `${c} is not an address of this stack` };
      localAddr = c;
      const r = this.addressing.routeParsed(info);
      if (!r.ok) return { error: "noRoute", detail: r.detail };
    } else {
      const r = this.addressing.routeParsed(info);
      if (!r.ok) return { error: "noRoute", detail: r.detail };
      localAddr = r.local;
    }
    let localPort = opts.local?.port ?? 0;
    if (localPort === 0) {
      // A picked port's 4-tuple is free (pickForConnect() looked it up): no second lookup.
      const p = this.ports.pickForConnect(profile, localAddr, remoteAddr, rp, this.conns);
      if (p === undefined) return { error: "portsExhausted", detail: `no free port in ${profile.ephemeralLow}-${profile.ephemeralHigh}` };
      localPort = p;
    } else if (this.conns.has(remoteAddr, rp, localAddr, localPort)) return { error: "addressInUse", detail: `4-tuple ${localAddr}:${localPort} -> ${remoteAddr}:${rp} is in use` };

    const conn = new Connection(
      {
        id: this.nextId++,
        version,
        localAddr,
        localPort,
        remoteAddr,
        remotePort: rp,
        profile,
        profileBorrowed: borrowed,
        iss: opts.iss !== undefined ? opts.iss >>> 0 : rfc6528Isn(this.secret, now, localAddr, localPort, remoteAddr, rp),
        tsOffset: opts.tsOffset !== undefined ? opts.tsOffset >>> 0 : profile.timestamps ? this.random.nextUint32() : 0,
        mtu: this.mtu,
      },
      this,
    );
    this.conns.add(conn);
    this.stats.connectionsOpened++;
    this.stats.connectionsLive = this.conns.size;
    conn.open(now);
    return conn;
  }

  /**
   * Passive OPEN (RFC 9293 §3.10.1): listen on `port`. Each SYN that arrives for it creates
   * a connection in SYN-RECEIVED (§3.10.7.2); `onAccept` sees it once ESTABLISHED.
   */
  listen(opts: ListenOptions): Listener | ConnectError {
    const port = opts.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: "invalidAddress", detail: `invalid port ${port}` };
    let addr: string | undefined;
    if (opts.addr !== undefined && !isUnspecified(opts.addr)) {
      const c = canonicalIp(opts.addr);
      if (!c) return { error: "invalidAddress", detail: `invalid address ${opts.addr}` };
      if (!this.ownsAddress(c)) return { error: "addressNotOwned", detail: `${c} is not an address of this stack` };
      addr = c;
    }
    const list = this.listeners.get(port) ?? [];
    if (list.some((l) => l.addr === undefined || addr === undefined || l.addr === addr)) return { error: "addressInUse", detail: `port ${port} already has a listener` };
    const l = new Listener(port, addr, resolveProfile(opts.profile ?? this.profile, opts.overrides), opts.onAccept, this);
    l.acceptQueue = opts.acceptQueue;
    l.inspect = opts.inspect;
    l.onAbort = opts.onAbort;
    list.push(l);
    this.listeners.set(port, list);
    return l;
  }

  unlisten(l: Listener): void {
    l.closed = true;
    const list = this.listeners.get(l.port);
    if (!list) return;
    const i = list.indexOf(l);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(l.port);
  }

  private findListener(local: string, port: number): Listener | undefined {
    const list = this.listeners.get(port);
    if (!list) return undefined;
    return list.find((l) => l.addr === local) ?? list.find((l) => l.addr === undefined);
  }

  /**
   * RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN, with the profile's passive policies
   * (tcp/passive.ts): a SYN-ACK, a SYN+FIN, a full accept queue, too many half-open
   * connections.
   */
  private inputListen(l: Listener, remote: string, local: string, version: 4 | 6, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
    // A conditional-accept listener: a RST or a retransmitted SYN for a held request.
    if (l.held.size > 0 && this.heldSegment(l, remote, local, seg, now)) return;
    // An ACK that may bring back a SYN cookie (halfOpenFull).
    if ((seg.flags & (TCP_ACK | TCP_SYN | TCP_RST)) === TCP_ACK && l.inspect === undefined && cookieAckChecked(l, l.profile, now) && this.cookieAck(l, remote, local, version, seg, opt, now)) return;
    // What the listener does with the segment: the RFC's steps and the profile's passive
    // policies (tcp/passive.ts).
    const d = listenDisposition(l.profile, seg.flags, l);
    if (d !== "open") {
      if (d === "rst") this.answerClosed(remote, local, seg, now);
      else this.dropPacket(d, now);
      return;
    }
    // A copy: the connection is new, and `opt` may be refilled by the next packet.
    const syn: HeldSyn = {
      req: { id: 0, localAddr: local, localPort: seg.dstPort, remoteAddr: remote, remotePort: seg.srcPort },
      version,
      seq: seg.seq,
      window: seg.window,
      opt: { mss: opt.mss, wscale: opt.wscale, sackOK: opt.sackOK, ts: opt.ts === undefined ? undefined : { val: opt.ts.val, ecr: opt.ts.ecr } },
    };
    if (l.inspect) {
      // Conditional accept: the owner decides before anything is sent.
      syn.req = { ...syn.req, id: this.nextInspectId++ };
      const v = l.inspect(syn.req);
      if (v === "reject" || l.closed) return this.refuseSyn(syn, now, "conditional accept: SYN rejected -> RST,ACK");
      if (v === "hold") return this.holdSyn(l, syn, now);
    }
    this.openPassive(l, syn, now);
  }

  /**
   * A SYN the listener answers (RFC 9293 §3.10.7.2): a new SYN-RECEIVED connection, or, when
   * the profile's halfOpenFull says so, a SYN-ACK with a SYN cookie and nothing kept.
   */
  private openPassive(l: Listener, syn: HeldSyn, now: number): void {
    const p = l.profile;
    const { mode, dropped } = admitSyn(l, p, now, l.inspect !== undefined);
    if (dropped) this.stats.halfOpenDropped++;
    if (mode === "cookie") return this.sendCookieSynAck(l, syn, now);
    const r = syn.req;
    // freebsd: the ISS is a cookie too, so an ACK still finds its way after the entry is gone.
    const iss = p.halfOpenFull === "freebsd" ? freebsdCookie(this.secret, r, syn.seq, now, freebsdCookieOptions(p, syn)) : rfc6528Isn(this.secret, now, r.localAddr, r.localPort, r.remoteAddr, r.remotePort);
    const conn = this.newPassive(l, r, syn.version, iss, this.passiveTsOffset(p, r), l.inspect !== undefined ? r.id : undefined);
    conn.acceptSyn(synSegment(syn), syn.opt, now);
    if (conn.state !== "CLOSED") this.rearm(conn);
  }

  /** The TSval offset of a passive connection: a keyed hash of its addresses (linux) or tuple (freebsd), as cookies need; random otherwise. */
  private passiveTsOffset(p: Profile, r: SynRequest): number {
    if (!p.timestamps && p.synAckOptions !== "windows") return 0;
    if (p.halfOpenFull === "linux") return linuxTsOffset(this.secret, r.localAddr, r.remoteAddr);
    if (p.halfOpenFull === "freebsd") return freebsdTsOffset(this.secret, r);
    return p.timestamps ? this.random.nextUint32() : 0;
  }

  /** A passively opened connection in the stack's table, tied to its listener (halfOpen, onAccept, onAbort). */
  private newPassive(l: Listener, r: SynRequest, version: 4 | 6, iss: number, tsOffset: number, inspected: number | undefined): Connection {
    const conn = new Connection(
      {
        id: this.nextId++,
        version,
        localAddr: r.localAddr,
        localPort: r.localPort,
        remoteAddr: r.remoteAddr,
        remotePort: r.remotePort,
        profile: l.profile,
        profileBorrowed: true,
        iss,
        tsOffset,
        mtu: this.mtu,
      },
      this,
    );
    this.conns.add(conn);
    this.stats.connectionsOpened++;
    this.stats.connectionsLive = this.conns.size;
    conn.handshake.origin = l;
    l.halfOpen.add(conn);
    // An inspected request that ends before ESTABLISHED is reported to the owner (onAbort).
    let established = false;
    conn.events = {
      established: (c) => {
        established = true;
        l.halfOpen.delete(c);
        if (l.closed) {
          c.abort(this.lastNow);
          return;
        }
        l.accepted++;
        l.onAccept(c);
      },
      closed: (c) => {
        l.halfOpen.delete(c);
        if (inspected !== undefined && !established && !l.closed) l.onAbort?.(inspected);
      },
    };
    return conn;
  }

  /**
   * halfOpenFull "linux" / "freebsd" (tcp/passive.ts): the SYN is answered with a SYN-ACK
   * whose ISS is a SYN cookie (RFC 4987 §3.6, tcp/syncookie.ts), and nothing is kept. The
   * SYN-ACK is built by a connection that is never entered in the table.
   */
  private sendCookieSynAck(l: Listener, syn: HeldSyn, now: number): void {
    const p = l.profile;
    const r = syn.req;
    let opt = syn.opt;
    let iss: number;
    let tsOffset = this.passiveTsOffset(p, r);
    if (p.halfOpenFull === "linux") {
      // tcp_conn_request(): the peer's MSS (536 without the option) as msstab rounds it.
      iss = linuxCookie(this.secret, r, syn.seq, now, linuxMssIndex(opt.mss ?? 536));
      if (opt.ts === undefined || !p.timestamps) {
        // Without timestamps the cookie cannot carry window scale or SACK: the SYN-ACK offers
        // neither (tcp_clear_options()).
        opt = { mss: opt.mss, wscale: undefined, sackOK: false, ts: undefined };
      } else {
        // cookie_init_timestamp(): the TSval's low 6 bits carry the peer's window scale and SACK.
        const bits = linuxTsOptionBits(p.windowScaling && opt.wscale !== undefined ? Math.min(opt.wscale, 14) : undefined, p.sack && opt.sackOK);
        const clock = Math.floor(now);
        tsOffset = (tsOffset - (clock - linuxCookieTsClock(clock, bits))) >>> 0;
      }
    } else {
      iss = freebsdCookie(this.secret, r, syn.seq, now, freebsdCookieOptions(p, syn));
    }
    const conn = new Connection(
      { id: this.nextId++, version: syn.version, localAddr: r.localAddr, localPort: r.localPort, remoteAddr: r.remoteAddr, remotePort: r.remotePort, profile: l.profile, profileBorrowed: true, iss, tsOffset, mtu: this.mtu },
      this,
    );
    conn.acceptSyn(synSegment(syn), opt, now, "cookie");
    l.synCookiesSent++;
    this.stats.synCookiesSent++;
  }

  /**
   * An ACK for no connection at a listener that sent SYN cookies lately (tcp/passive.ts
   * cookieAckChecked): if the cookie checks (SEG.ACK - 1 is our ISS for SEG.SEQ - 1 and this
   * tuple), the connection is rebuilt from it and the ACK, with any data, processed by it.
   * Returns false when the segment is left to the LISTEN rules (a failed cookie: RST).
   */
  private cookieAck(l: Listener, remote: string, local: string, version: 4 | 6, seg: TcpSegment, opt: SegmentOptionView, now: number): boolean {
    const p = l.profile;
    const r: SynRequest = { id: 0, localAddr: local, localPort: seg.dstPort, remoteAddr: remote, remotePort: seg.srcPort };
    const iss = (seg.ack - 1) >>> 0;
    const irs = (seg.seq - 1) >>> 0;
    let carried: CookieOptions | undefined;
    let tsOffset = this.passiveTsOffset(p, r);
    let why = "";
    if (p.halfOpenFull === "linux") {
      const mss = linuxCookieMss(this.secret, r, iss, irs, now);
      if (mss === 0) why = "SYN cookie does not check (cookie_v4_check: SYNCOOKIESFAILED)";
      else if (opt.ts === undefined) carried = { mss, wscale: undefined, sackOK: false };
      else {
        // cookie_timestamp_decode(): the options from TSecr less our offset; an option this
        // profile does not use means the cookie was not ours.
        const o = linuxDecodeTsOptions(opt.ts.ecr !== 0 ? (opt.ts.ecr - tsOffset) >>> 0 : 0);
        if (!p.timestamps || (o.sackOK && !p.sack) || (o.wscale !== undefined && !p.windowScaling)) why = "SYN cookie ACK's TSecr names options this profile does not use (cookie_timestamp_decode)";
        else carried = { mss, ...o };
      }
    } else {
      carried = freebsdCookieLookup(this.secret, r, iss, irs, now);
      if (!carried) why = "SYN cookie does not check (syncookie_lookup: probably spoofed)";
    }
    if (!carried) {
      l.synCookiesFailed++;
      this.stats.synCookiesFailed++;
      if (this.traceSink) this.traceSink({ t: now, kind: "state", tuple: `${local}:${seg.dstPort}>${remote}:${seg.srcPort}`, decision: why, rule: "RFC 4987 §3.6 (halfOpenFull)" });
      return false;
    }
    // A full accept queue: the profile's acceptQueueFull for a final ACK (linux drops it, the
    // peer's retransmission brings the cookie again; the others reset).
    if (l.acceptQueueFull()) {
      if (p.acceptQueueFull === "dropSyn") this.dropPacket("listener: accept queue full", now);
      else this.answerClosed(remote, local, seg, now);
      return true;
    }
    l.synCookiesAccepted++;
    this.stats.synCookiesAccepted++;
    const conn = this.newPassive(l, r, version, iss, tsOffset, undefined);
    // The SYN as the cookie remembers it: their ISN, the MSS from the table, window scale and
    // SACK as carried, timestamps if this ACK has them (TS.Recent its TSval).
    const synOpt: SegmentOptionView = { mss: carried.mss, wscale: carried.wscale, sackOK: carried.sackOK, ts: opt.ts === undefined ? undefined : { val: opt.ts.val, ecr: 0 } };
    const syn: HeldSyn = { req: r, version, seq: irs, window: seg.window, opt: synOpt };
    conn.acceptSyn(synSegment(syn), synOpt, now, "restore");
    conn.onSegment(seg, now, opt);
    if (conn.state !== "CLOSED") this.rearm(conn);
    return true;
  }

  /** inspect() said "hold": the SYN waits unanswered; past halfOpenLimit the oldest held one is dropped (as a SYN flood drops the oldest half-open connection). */
  private holdSyn(l: Listener, syn: HeldSyn, now: number): void {
    if (l.held.size >= Math.max(1, l.profile.halfOpenLimit)) {
      const [oldest] = l.held.keys();
      l.unhold(oldest!);
      this.stats.halfOpenDropped++;
      l.onAbort?.(oldest!);
    }
    l.hold(syn);
    this.traceNote(now, "conditional accept: SYN held, unanswered, until the owner decides", syn);
  }

  /**
   * A segment for a request the listener holds: a retransmitted SYN is dropped (the owner
   * is still deciding), a RST at SEG.SEQ = the SYN's + 1 withdraws the request. Returns
   * true when the segment was handled here.
   */
  private heldSegment(l: Listener, remote: string, local: string, seg: TcpSegment, now: number): boolean {
    const id = l.heldId(remote, seg.srcPort, local, seg.dstPort);
    if (id === undefined) return false;
    if (seg.flags & TCP_RST) {
      if (seg.seq !== seqAdd(l.held.get(id)!.seq, 1)) return false;
      l.unhold(id);
      this.dropPacket("rst for a listener", now);
      l.onAbort?.(id);
      return true;
    }
    if (seg.flags & TCP_SYN && !(seg.flags & TCP_ACK)) {
      this.dropPacket("listener: syn held for inspection", now);
      return true;
    }
    return false;
  }

  /** Listener.decide(). */
  decideHeld(l: Listener, id: number, verdict: "accept" | "reject", now: number): boolean {
    const syn = l.unhold(id);
    if (!syn) return false;
    this.lastNow = Math.max(this.lastNow, now);
    if (verdict === "reject" || l.closed) this.refuseSyn(syn, now, "conditional accept: held SYN rejected -> RST,ACK");
    else this.openPassive(l, syn, now);
    return true;
  }

  /** <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK> to a SYN the listener's owner turned down. */
  private refuseSyn(syn: HeldSyn, now: number, why: string): void {
    const r = syn.req;
    this.sendRst(r.localAddr, r.remoteAddr, r.localPort, r.remotePort, 0, seqAdd(syn.seq, 1), TCP_RST | TCP_ACK, now, why, "RFC 9293 §3.10.7.1 (a refused SYN gets the CLOSED answer)");
  }

  private traceNote(now: number, decision: string, syn: HeldSyn): void {
    if (!this.traceSink) return;
    const r = syn.req;
    this.traceSink({ t: now, kind: "state", tuple: `${r.localAddr}:${r.localPort}>${r.remoteAddr}:${r.remotePort}`, decision, rule: "conditional accept (ListenOptions.inspect)" });
  }

  // -------------------------------------------------------------------------------
  // ConnectionHost

  emit(conn: Connection, seg: OutSegment, now: number, why: string, rule?: string): void {
    const payload = seg.payload;
    if (this.runConn === conn && payload !== undefined && (seg.seq | 0) === this.runNext && payload.length <= this.runMss &&
        (seg.flags === TCP_ACK || seg.flags === (TCP_ACK | TCP_PSH)) && this.traceSink === undefined && this.extendRun(conn, seg, payload)) {
      this.stats.txPackets++;
      return;
    }
    const spec = this.specOf(conn, seg, payload);
    const at = this.send(spec);
    spec.options = undefined;
    spec.payload = undefined; // do not keep the segment's data alive
    if (seg.flags & TCP_RST) this.stats.rstSent++;
    // TSO: a data segment with ACK alone may start a run the next ones extend.
    if (this.txTso && seg.flags === TCP_ACK && payload !== undefined && payload.length > 0 && this.traceSink === undefined) {
      this.runConn = conn;
      this.runAt = at;
      this.runMss = payload.length;
      this.runNext = (seg.seq + payload.length) | 0;
    }
    if (this.traceSink) {
      const { bytes, packet } = this.tracedOutput(at);
      this.traceSink({ t: now, kind: "out", conn: conn.id, tuple: conn.tuple, stateAfter: conn.state, decision: why, rule, packet, bytes });
    }
  }

  trace(conn: Connection, now: number, kind: TraceEvent["kind"], decision: string, rule?: string, stateBefore?: string, outcome?: Outcome): void {
    if (!this.traceSink) return;
    this.traceSink({ t: now, kind, conn: conn.id, tuple: conn.tuple, stateBefore, stateAfter: conn.state, decision, rule, outcome });
  }

  dropSegment(conn: Connection, now: number, reason: SegmentDropReason, decision: string, rule: string): void {
    // Every drop is counted and traced, also those a connection decides (RST out of window,
    // no ACK bit, a suppressed challenge ACK...): counted by code, traced with the text.
    this.count(reason);
    if (!this.traceSink) return;
    this.traceSink({ t: now, kind: "drop", conn: conn.id, tuple: conn.tuple, stateAfter: conn.state, decision, rule, reason });
  }

  private count(reason: DropReason): void {
    this.stats.rxDropped++;
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
  }

  rearm(conn: Connection): void {
    if (conn.state === "CLOSED") {
      this.timers.cancel(conn);
      return;
    }
    this.timers.arm(conn, conn.nextDeadline());
  }

  release(conn: Connection): void {
    this.conns.delete(conn);
    this.timers.cancel(conn);
    this.windowUpdates.delete(conn);
    this.stats.connectionsLive = this.conns.size;
  }

  /**
   * The segment as a packet spec: one spec object, refilled per segment (no per-packet
   * allocation for it); writeTcpPacket only reads it. Every field it reads is set here each
   * time. The caller clears `options` and `payload` afterwards.
   */
  private specOf(conn: Connection, seg: OutSegment, payload: Uint8Array | undefined): TcpPacketSpec {
    const spec = this.emitSpec;
    spec.src = conn.localAddr;
    spec.dst = conn.remoteAddr;
    spec.ttl = conn.ttl;
    spec.srcPort = conn.localPort;
    spec.dstPort = conn.remotePort;
    spec.seq = seg.seq;
    spec.ack = seg.ack;
    spec.flags = seg.flags;
    spec.window = seg.window;
    spec.options = seg.options;
    spec.payload = payload;
    return spec;
  }

  /** Builds the packet into the outbox; returns where it starts (outbox.data). */
  private send(spec: TcpPacketSpec): number {
    const box = this.outbox;
    this.endRun();
    box.reserve(maxTcpPacketLength(spec.payload ? spec.payload.length : 0));
    const at = box.bytes;
    const partial = this.txCsumPartial;
    box.commit(writeTcpPacket(spec, box.data, at, partial), partial ? TX_CSUM_PARTIAL : 0);
    this.stats.txPackets++;
    return at;
  }

  /**
   * TSO: appends the next segment of the run (the outbox's last packet) to it, when its
   * headers would be those of the run's (RFC 9293 §3.1: all but the sequence number, flags
   * and checksum; segmentFitsPacket) and the packet stays within 64 KiB. The device cuts the packet back into the
   * same segments (wire/offload.ts splitTcpSegments): each of `runMss` payload bytes, the
   * last one possibly shorter, PSH only on the last. Returns false, having changed nothing,
   * when the segment must go alone.
   */
  private extendRun(conn: Connection, seg: OutSegment, payload: Uint8Array): boolean {
    const box = this.outbox;
    const length = box.bytes - this.runAt + payload.length;
    // IPv4 total length, IPv6 payload length: 16 bits (no jumbograms).
    if (length > 0xffff) return false;
    if (!segmentFitsPacket(box.data, this.runAt, conn.ttl, seg.ack, seg.window, seg.options)) return false;
    box.reserve(payload.length);
    const d = box.data;
    d.set(payload, box.bytes);
    box.bytes += payload.length;
    box.lengths[box.count - 1] += payload.length;
    box.meta[box.count - 1] = TX_CSUM_PARTIAL | this.runMss;
    this.runGrown = true;
    this.runNext = (this.runNext + payload.length) | 0;
    if (seg.flags & TCP_PSH) {
      d[this.runAt + tcpHeaderStart(d, this.runAt) + 13] |= TCP_PSH;
    }
    // Only the last segment may be short, and PSH ends the run.
    if (payload.length < this.runMss || seg.flags & TCP_PSH) this.endRun();
    return true;
  }

  /** Ends the TSO run: its packet's IP length and pseudo-header sum say what it grew to. */
  private endRun(): void {
    if (this.runGrown) {
      const box = this.outbox;
      setTcpPacketLength(box.data, this.runAt, box.bytes - this.runAt);
      this.runGrown = false;
    }
    this.runConn = undefined;
  }

  // -------------------------------------------------------------------------------
  // Input

  /** Copy of the packet being processed, kept only while tracing (input buffers are reused). */
  private inBytes: Uint8Array | undefined;

  /** A packet dropped before any connection saw it: counted under `reason`; `text` (default: the code) for the trace. */
  private dropPacket(reason: StackDropReason | PacketError | DeviceDropReason, now: number, packet?: string, text: string = reason): void {
    this.count(reason);
    if (this.traceSink) this.traceSink({ t: now, kind: "drop", decision: `drop: ${text}`, packet, bytes: this.inBytes, reason });
  }

  /**
   * A read the device dropped before it became a packet (a TUN with receive offloads: a
   * malformed virtio-net header or GSO packet). Counted in `stats.rxPackets` and
   * `stats.drops` under its reason, and traced with the bytes, like the stack's own drops.
   */
  deviceDrop(reason: DeviceDropReason, bytes: Uint8Array, now: number): void {
    this.lastNow = now;
    this.stats.rxPackets++;
    this.inBytes = this.traceSink ? bytes.slice() : undefined;
    this.dropPacket(reason, now, undefined, `${reason}: dropped by the device`);
  }

  /**
   * An IP packet from the link. Never throws on bad input: every rejection is counted in
   * `stats.drops` by reason and traced. The bytes are not retained (views are copied).
   * `tcpChecksumValid`: the link computed or verified this packet's TCP checksum itself
   * (a device with receive offloads says so per packet), so it is not summed again
   * (RFC 9293 §3.1); every other packet's checksum is verified.
   */
  input(bytes: Uint8Array, now: number, tcpChecksumValid = false): void {
    this.lastNow = now;
    this.stats.rxPackets++;
    this.inBytes = this.traceSink ? bytes.slice() : undefined;
    // The common case, a well-formed TCP segment, is parsed in place (rx-segment.ts;
    // parsePacket() allocated about 1.9 KB per SYN-ACK); parsePacket() takes the rest.
    if (this.inputInPlace(bytes, now, tcpChecksumValid)) return;
    const parsed = parsePacket(bytes);
    if (!parsed.ok) {
      this.dropPacket(parsed.reason, now);
      return;
    }
    const pkt = parsed.value;
    if (!this.ownsAddress(pkt.ip.dst)) {
      // Multicast chatter (MLD reports, router/neighbour solicitations) and stray packets.
      this.dropPacket(pkt.ip.version === 6 && pkt.l4.kind === "icmp" ? "icmpv6 not for us" : "not for us", now);
      return;
    }
    switch (pkt.l4.kind) {
      case "tcp":
        this.inputTcp(pkt.ip.src, pkt.ip.dst, pkt.ip.version, pkt.l4.tcp, summarizeOptions(pkt.l4.tcp.options), now);
        return;
      case "icmp":
        this.inputIcmp(pkt, pkt.l4.icmp, now);
        return;
      default:
        this.dropPacket("protocol not handled", now, undefined, `protocol ${pkt.l4.protocol} not handled`);
    }
  }

  /** Reused to parse arriving segments in place, one per nesting level of input() (see there). */
  private readonly rx: RxSegment[] = [];
  private rxDepth = 0;

  /** input() for a TCP segment RxSegment can parse; false (nothing done) for any other packet. */
  private inputInPlace(bytes: Uint8Array, now: number, tcpChecksumValid: boolean): boolean {
    // An event handler may feed this stack a packet from inside input(): each nesting level
    // parses into an RxSegment of its own, so the outer segment stays intact.
    const depth = this.rxDepth;
    const rx = (this.rx[depth] ??= new RxSegment());
    if (!rx.parse(bytes, tcpChecksumValid)) return false;
    if (!this.ownsAddress(rx.dst)) {
      this.dropPacket("not for us", now);
      return true;
    }
    this.rxDepth = depth + 1;
    try {
      this.inputTcp(rx.src, rx.dst, rx.version, rx, rx.opt, now);
    } finally {
      this.rxDepth = depth;
      rx.release();
    }
    return true;
  }

  /** A TCP segment for one of our addresses, from `src` (the remote) to `dst` (ours). */
  private inputTcp(src: string, dst: string, version: 4 | 6, seg: TcpSegment, opt: SegmentOptionView, now: number): void {
    const conn = this.conns.get(src, seg.srcPort, dst, seg.dstPort);
    if (this.traceSink) this.traceSink({ t: now, kind: "in", conn: conn?.id, tuple: conn?.tuple, stateBefore: conn?.state, decision: conn ? "segment for connection" : "segment for no connection", packet: describeTcpSegment(src, dst, seg), bytes: this.inBytes });
    // Malformed options (RFC 9293 §3.2): the receiving profile's badOptions policy. (Only
    // parsePacket() keeps such a segment: RxSegment leaves it to that path.)
    if (seg.optionError !== undefined && dropsBadOptions(this.badOptionsProfile(conn, dst, seg), seg.options)) {
      this.dropPacket(seg.optionError, now, undefined, `${seg.optionError}: segment dropped (badOptions policy)`);
      return;
    }
    if (!conn) {
      const l = this.listeners.size > 0 ? this.findListener(dst, seg.dstPort) : undefined;
      if (l) this.inputListen(l, src, dst, version, seg, opt, now);
      else this.answerClosed(src, dst, seg, now);
      return;
    }
    if (conn.onSegment(seg, now, opt)) {
      // A SYN ended a TIME-WAIT connection (timeWait "freebsd"): the old TCB is
      // gone, so the SYN is for no connection now (a listener or the CLOSED rules).
      const l = this.listeners.size > 0 ? this.findListener(dst, seg.dstPort) : undefined;
      if (l) this.inputListen(l, src, dst, version, seg, opt, now);
      else this.answerClosed(src, dst, seg, now);
      return;
    }
    if (conn.pendingWindowUpdate) this.windowUpdates.add(conn);
    if (conn.state !== "CLOSED") this.rearm(conn);
  }

  /** The profile that receives a segment: its connection's, a listener's, or the stack's. */
  private badOptionsProfile(conn: Connection | undefined, dst: string, seg: TcpSegment): Profile {
    if (conn) return conn.prof;
    const l = this.listeners.size > 0 ? this.findListener(dst, seg.dstPort) : undefined;
    return l ? l.profile : this.profile;
  }

  /** RFC 9293 §3.10.7.1: segment for a CLOSED (non-existent) connection. */
  private answerClosed(src: string, dst: string, seg: TcpSegment, now: number): void {
    // An incoming segment containing a RST is discarded.
    if (seg.flags & TCP_RST) {
      this.dropPacket("rst for no connection", now);
      return;
    }
    if (!this.rstForClosedPorts) {
      this.dropPacket("no connection", now);
      return;
    }
    let out: { seq: number; ack: number; flags: number };
    if (seg.flags & TCP_ACK) {
      // If the ACK bit is on: <SEQ=SEG.ACK><CTL=RST>
      out = { seq: seg.ack, ack: 0, flags: TCP_RST };
    } else {
      // If the ACK bit is off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
      const len = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
      out = { seq: 0, ack: seqAdd(seg.seq, len), flags: TCP_RST | TCP_ACK };
    }
    this.sendRst(dst, src, seg.dstPort, seg.srcPort, out.seq, out.ack, out.flags, now, "no connection -> RST", "RFC 9293 §3.10.7.1: segment to CLOSED -> RST");
  }

  /** A RST (or RST,ACK) that belongs to no connection. */
  private sendRst(src: string, dst: string, srcPort: number, dstPort: number, seq: number, ack: number, flags: number, now: number, decision: string, rule: string): void {
    const at = this.send({ src, dst, ttl: this.profile.ttl, srcPort, dstPort, seq, ack, flags, window: 0 });
    this.stats.rstSent++;
    if (this.traceSink) {
      const { bytes, packet } = this.tracedOutput(at);
      this.traceSink({ t: now, kind: "out", decision, rule, packet, bytes });
    }
  }

  /**
   * The outbox's last packet (from `at`) as the trace shows it: a copy, with its checksum
   * completed when the device was left to do it (setTxOffloads), and its description.
   */
  private tracedOutput(at: number): { bytes: Uint8Array; packet: string | undefined } {
    const bytes = this.outbox.data.slice(at, this.outbox.bytes);
    if (this.txCsumPartial) completeTcpChecksum(bytes);
    const p = parsePacket(bytes);
    return { bytes, packet: p.ok ? describePacket(p.value) : undefined };
  }

  private inputIcmp(pkt: Packet, icmp: IcmpMessage, now: number): void {
    const q = icmp.quote;
    if (!q || q.protocol !== 6 || q.srcPort === undefined || q.dstPort === undefined || q.seq === undefined) {
      this.stats.icmpIgnored++;
      this.dropPacket(icmp.version === 6 ? "icmpv6 not about tcp" : "icmp not about tcp", now, describePacket(pkt));
      return;
    }
    // RFC 5927 §4.1: the quoted 4-tuple must match a connection ...
    const conn = this.conns.get(q.dst, q.dstPort, q.src, q.srcPort);
    if (!conn) {
      this.stats.icmpIgnored++;
      this.dropPacket("icmp for no connection", now, describePacket(pkt));
      return;
    }
    // ... and quote a sequence number in flight (icmpQuote policy).
    if (!quoteInFlight(conn, q.seq)) {
      this.stats.icmpIgnored++;
      this.trace(conn, now, "icmp", `quoted seq ${q.seq} outside SND.UNA..SND.NXT: ignored`, "RFC 5927 §4.1");
      this.dropPacket("icmp quotes a sequence number not in flight", now, describePacket(pkt));
      return;
    }
    if (icmpFilteredOut(conn, icmp)) {
      this.stats.icmpIgnored++;
      this.trace(conn, now, "icmp", `ICMP type ${icmp.type} code ${icmp.code}: ignored`, "linux tcp_v4_err() / icmp_unreach()");
      this.dropPacket("icmp ignored by the profile", now, describePacket(pkt));
      return;
    }
    this.stats.icmpAccepted++;
    const meaning = icmpMeaning(icmp);
    if (this.traceSink) this.traceSink({ t: now, kind: "icmp", conn: conn.id, tuple: conn.tuple, stateBefore: conn.state, decision: `ICMP${icmp.version === 6 ? "v6" : ""} type ${icmp.type} code ${icmp.code}`, packet: describePacket(pkt), bytes: this.inBytes });
    conn.onIcmp(meaning, { version: icmp.version, type: icmp.type, code: icmp.code, from: pkt.ip.src }, now);
    if (conn.state !== "CLOSED") this.rearm(conn);
  }

  // -------------------------------------------------------------------------------
  // Time and output

  /** The earliest time poll() has work to do, or undefined when idle. */
  nextDeadline(): number | undefined {
    if (this.outbox.count > 0 || this.windowUpdates.size > 0) return this.lastNow;
    return this.timers.peek();
  }

  /** Runs every timer due at `now`, then returns (and clears) the packets to send. */
  poll(now: number): Uint8Array[] {
    this.runTimers(now);
    return this.takeOutput();
  }

  /**
   * poll() for a device that writes packed batches (Device.sendBatch): the packets stay in
   * the stack's own buffer, which the next call into the stack may overwrite, so the caller
   * writes (or copies) them at once.
   */
  pollBatch(now: number): PacketBatch {
    this.runTimers(now);
    return this.takeOutputBatch();
  }

  private runTimers(now: number): void {
    this.lastNow = now;
    for (const c of this.windowUpdates) c.flushWindowUpdate(now);
    this.windowUpdates.clear();
    for (;;) {
      const c = this.timers.popDue(now);
      if (!c) break;
      c.onTimer(now);
      if (c.state !== "CLOSED") this.rearm(c);
    }
  }

  /** Packets produced so far (by input(), connect() or user calls), without running timers. */
  takeOutput(): Uint8Array[] {
    this.endRun();
    if (this.outbox.count === 0) return EMPTY;
    return this.outbox.takeArrays();
  }

  /** takeOutput() as a packed batch, valid until the next call into the stack (see pollBatch). */
  takeOutputBatch(): PacketBatch {
    const box = this.outbox;
    const batch = this.batch;
    this.endRun();
    batch.data = box.data;
    batch.lengths = box.lengths;
    batch.meta = box.meta;
    batch.count = box.count;
    box.clear();
    return batch;
  }

  private readonly batch: { data: Uint8Array; lengths: Int32Array; meta: Int32Array; count: number } = { data: new Uint8Array(0), lengths: new Int32Array(0), meta: new Int32Array(0), count: 0 };

  /** Marks a connection whose window reopened after read() (flushed by the next poll). */
  noteRead(conn: Connection): void {
    if (conn.pendingWindowUpdate) this.windowUpdates.add(conn);
  }
}

const EMPTY: Uint8Array[] = [];

function randomSecret(rnd: RandomSource): Uint8Array {
  const s = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const v = rnd.nextUint32();
    s[i] = v & 0xff;
    s[i + 1] = (v >>> 8) & 0xff;
    s[i + 2] = (v >>> 16) & 0xff;
    s[i + 3] = v >>> 24;
  }
  return s;
}

/** What a freebsd cookie encodes of a SYN: the MSS option (0 if absent), window scale and SACK if both sides use them. */
function freebsdCookieOptions(p: Profile, syn: HeldSyn): CookieOptions {
  const o = syn.opt;
  return { mss: o.mss ?? 0, wscale: p.windowScaling && !p.noOptions && o.wscale !== undefined ? Math.min(o.wscale, 14) : undefined, sackOK: p.sack && !p.noOptions && o.sackOK };
}
