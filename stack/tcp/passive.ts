// The passive side of opening (RFC 9293 §3.10.7.2, SEGMENT ARRIVES in LISTEN, and the
// SYN-RECEIVED connections a listener holds): what each OS does with a segment a listener
// cannot use, the SYN-ACK's window and options, how many SYN-ACKs it sends, and what a full
// accept queue or a flood of SYNs does. The stack's listener (stack.ts) and the SYN-RECEIVED
// arrival step (arrival.ts) ask these policies; handshake.ts sends the SYN-ACK.
import { TCP_ACK, TCP_RST, TCP_SYN } from "../wire/types.js";
import type { TcpOption, TcpSegment } from "../wire/types.js";
import type { StackDropReason } from "../drops.js";
import { synFinDropped } from "./arrival.js";
import type { Connection, SegmentOptionView } from "./connection.js";
import { outSegment } from "./out-segment.js";
import { windowsSynAckOptions, type HandshakeOptionValues } from "./options.js";
import { policy } from "./policy.js";
import type { Profile } from "./profiles.js";

// ---------------------------------------------------------------------------------------
// Policies

export const listenSynAckPolicy = policy({
  field: "listenSynAck",
  title: "SYN-ACK to a listener",
  where: "RFC 9293 §3.10.7.2 second step: an ACK (here with SYN) in LISTEN",
  choices: {
    rst: { meaning: "<SEQ=SEG.ACK><CTL=RST>, as for any ACK in LISTEN", source: "RFC 9293 §3.10.7.2; Linux tcp_rcv_state_process() (TCP_LISTEN: th->ack -> reset)" },
    drop: { meaning: "dropped without an answer (a bare ACK still gets the RST)", source: "FreeBSD tcp_input() (\"SYN|ACK invalid, segment rejected\", no RST)" },
  },
});

export const synAckOptionsPolicy = policy({
  field: "synAckOptions",
  title: "SYN-ACK options of a passive open",
  where: "RFC 9293 §3.10.7.2 (send the SYN-ACK), RFC 7323 §2.2 and §3.2, RFC 2018 §2: which of the SYN's options the SYN-ACK answers, in what order",
  choices: {
    offered: { meaning: "each option the peer's SYN offered and the profile enables, in the profile's SYN layout", source: "RFC 7323 §2.2, §3.2; RFC 2018 §2; Linux tcp_make_synack(), FreeBSD syncache_respond()" },
    windows: {
      meaning: "as offered, but timestamps are answered (and used) whenever the SYN carries them, though Windows never offers them itself; with timestamps the layout is mss; nop, wscale; sackOK, TS",
      source: "capture pcaps/tcp-handshake-nano.pcap (an Azure server's SYN-ACK: mss 1440, nop, wscale 8, sackOK, TS; window 8192); p0f.fp [tcp:response] Windows 7 or 8",
    },
  },
  knobs: ["timestamps"],
});

export const synAckWindowRoundingPolicy = policy({
  field: "synAckWindowRounding",
  title: "SYN-ACK window of a passive open",
  where: "RFC 9293 §3.10.7.2: the window field of the SYN-ACK (never scaled, RFC 7323 §2.2)",
  choices: {
    none: { meaning: "the synAckWindow knob as is", source: "captures of each OS's SYN-ACK" },
    linux: {
      meaning: "the receive space (rcvBufBytes / 2) rounded down to a multiple of the MSS we advertise less the timestamp option when timestamps are used, at most 65535: 65160 with timestamps, 64240 without at MSS 1460",
      source: "Linux tcp_openreq_init_rwin(), tcp_select_initial_window() (tcp_adv_win_scale 1); the kernel's SYN-ACK measured in the lab",
    },
  },
  knobs: ["synAckWindow", "rcvBufBytes"],
});

export const acceptQueueFullPolicy = policy({
  field: "acceptQueueFull",
  title: "Full accept queue",
  where: "a SYN, or the handshake's final ACK, for a listener whose queue of connections not yet accepted is full (RFC 9293 leaves it to the implementation)",
  choices: {
    dropSyn: {
      meaning: "the SYN is dropped; a final ACK is dropped too, the connection stays in SYN-RECEIVED and its SYN-ACK retransmissions bring the peer's ACK again",
      source: "Linux tcp_conn_request() (sk_acceptq_is_full -> drop), tcp_check_req() listen_overflow with tcp_abort_on_overflow 0",
    },
    rstFinalAck: {
      meaning: "the SYN is answered; the final ACK gets <SEQ=SEG.ACK><CTL=RST> and the connection is dropped",
      source: "FreeBSD sonewconn() fails, syncache_expand() / tcp_input() with net.inet.tcp.syncache.rst_on_sock_fail 1",
    },
    rstSyn: {
      meaning: "the SYN is refused: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>; a final ACK that finds the queue full gets <SEQ=SEG.ACK><CTL=RST>",
      source: "Winsock listen(): \"If a connection request arrives and the queue is full, the client will receive an error with an indication of WSAECONNREFUSED\"",
    },
  },
});

export const halfOpenFullPolicy = policy({
  field: "halfOpenFull",
  title: "Half-open connections of a listener (SYN flood)",
  where: "RFC 4987 §3.3-3.4: a SYN for a listener that already holds halfOpenLimit connections in SYN-RECEIVED",
  choices: {
    dropOldest: {
      meaning: "the oldest SYN-RECEIVED connection of the listener is dropped silently and the new SYN answered; a flood of spoofed SYNs cannot keep a real client's handshake from completing within the time halfOpenLimit SYNs take to arrive. No SYN cookies",
      source: "RFC 4987 §3.4 (SYN cache); FreeBSD syncache_add() drops the oldest entry of a full bucket. Linux and FreeBSD send SYN cookies past their limit instead (tcp_syncookies 1, net.inet.tcp.syncookies 1): not modelled",
    },
  },
  knobs: ["halfOpenLimit"],
});

// ---------------------------------------------------------------------------------------
// Conditional accept: the listener's owner decides on a SYN before it is answered

/** A SYN a conditional-accept listener asks its owner about (ListenOptions.inspect). */
export interface SynRequest {
  /** Names the request in Listener.decide() and ListenOptions.onAbort. */
  readonly id: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
}

/** "accept": answer the SYN now; "reject": refuse it (RST,ACK); "hold": keep it unanswered until Listener.decide(). */
export type SynVerdict = "accept" | "reject" | "hold";

/** What the engine keeps of a SYN it has not answered yet (copied: arriving segments are parsed in place). */
export interface HeldSyn {
  req: SynRequest;
  version: 4 | 6;
  seq: number;
  window: number;
  opt: SegmentOptionView;
}

/** The held SYN as the segment acceptSyn() reads (its sequence number and window; no options, no data). */
export function synSegment(h: HeldSyn): TcpSegment {
  const r = h.req;
  return { srcPort: r.remotePort, dstPort: r.localPort, seq: h.seq, ack: 0, headerLength: 20, flags: TCP_SYN, reserved: 0, window: h.window, checksum: 0, urgent: 0, options: [], payload: EMPTY };
}
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------
// The listener

/** The listener a SYN-RECEIVED connection came from (Connection.origin). */
export interface PassiveOrigin {
  /** The queue of connections established but not yet accepted is full. */
  acceptQueueFull(): boolean;
}

/** A listener's half-open connections (stack.ts Listener). */
export interface HalfOpenSet {
  readonly halfOpen: Set<Connection>;
  halfOpenDropped: number;
}

/**
 * SEGMENT ARRIVES in LISTEN (RFC 9293 §3.10.7.2), first to fourth step, with the profile's
 * policies: "open" (a SYN to answer), "rst" (<SEQ=SEG.ACK><CTL=RST>, or RST,ACK for a
 * refused SYN: the CLOSED rules), or the reason the segment is dropped.
 */
export function listenDisposition(p: Profile, flags: number, origin: PassiveOrigin): "open" | "rst" | StackDropReason {
  // First, check for a RST: an incoming RST should be ignored.
  if (flags & TCP_RST) return "rst for a listener";
  // Second, check for an ACK: any acknowledgment is bad here (listenSynAck "drop": not a SYN-ACK).
  if (flags & TCP_ACK) return flags & TCP_SYN && p.listenSynAck === "drop" ? "listener: syn-ack" : "rst";
  // Third, check for a SYN; anything else is dropped (fourth).
  if (!(flags & TCP_SYN)) return "listener: segment without SYN";
  if (synFinDropped(p, flags)) return "listener: syn and fin";
  if (p.acceptQueueFull !== "rstFinalAck" && origin.acceptQueueFull()) return p.acceptQueueFull === "dropSyn" ? "listener: accept queue full" : "rst";
  return "open";
}

/**
 * halfOpenFull: before a new SYN-RECEIVED connection, the listener makes room when it holds
 * halfOpenLimit already. Returns true when a connection was dropped.
 */
export function makeRoomForSyn(l: HalfOpenSet, p: Profile, now: number): boolean {
  if (l.halfOpen.size < Math.max(1, p.halfOpenLimit)) return false;
  switch (p.halfOpenFull) {
    case "dropOldest": {
      const oldest = l.halfOpen.values().next().value as Connection;
      l.halfOpen.delete(oldest);
      l.halfOpenDropped++;
      oldest.finish({ kind: "timedOut" }, now, `listener holds ${p.halfOpenLimit} half-open connections: the oldest dropped for a new SYN (RFC 4987 §3.4)`);
      return true;
    }
  }
}

/** synAckOptions "windows": this passive open answers (and uses) timestamps the SYN offers, though the profile never offers them. */
export function answersTimestamps(c: Connection): boolean {
  return c.passive && c.prof.synAckOptions === "windows";
}

/** The SYN-ACK's options in the passive open's layout (synAckOptions), or undefined for the profile's SYN layout. */
export function synAckLayout(c: Connection, v: HandshakeOptionValues): TcpOption[] | undefined {
  return c.passive && c.prof.synAckOptions === "windows" && v.ts !== undefined ? windowsSynAckOptions(v) : undefined;
}

/**
 * The handshake's final ACK arrived (acceptable) while the accept queue is full: the
 * acceptQueueFull policy. Returns true when the segment was handled here (dropped, or
 * answered with a RST and the connection ended).
 */
export function finalAckQueueFull(c: Connection, ack: number, now: number): boolean {
  if (c.origin === undefined || !c.origin.acceptQueueFull()) return false;
  if (c.prof.acceptQueueFull === "dropSyn") {
    c.host.dropSegment(c, now, "final ack: accept queue full", "accept queue full: final ACK dropped, SYN-ACK retransmission goes on", "linux tcp_check_req() listen_overflow");
    return true;
  }
  c.host.emit(c, outSegment(ack, 0, TCP_RST, 0, []), now, "accept queue full: final ACK -> RST", c.prof.acceptQueueFull === "rstFinalAck" ? "freebsd syncache_expand(): sonewconn() failed, rst_on_sock_fail" : "windows: a full backlog refuses the connection");
  c.finish({ kind: "reset" }, now, "accept queue full: connection dropped");
  return true;
}

/** The window field of a passive open's SYN-ACK (synAckWindowRounding). */
export function synAckWindow(c: Connection): number {
  const p: Profile = c.prof;
  if (p.synAckWindowRounding === "none") return p.synAckWindow;
  // tcp_openreq_init_rwin(): the MSS less the timestamp option; tcp_select_initial_window():
  // the space rounded down to a multiple of it, at most U16_MAX.
  const mss = Math.max(1, c.mssAdvertised - (c.tsEnabled ? 12 : 0));
  const space = Math.floor(p.rcvBufBytes / 2);
  return Math.min(space > mss ? space - (space % mss) : space, 65535);
}
