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
import { FREEBSD_COOKIE_LIFETIME_MS, LINUX_COOKIE_VALID_MS } from "./syncookie.js";
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
  where: "RFC 4987 §3.3-3.6: a SYN for a listener that already holds halfOpenLimit connections in SYN-RECEIVED, and an ACK for a listener that matches none of them",
  choices: {
    dropOldest: {
      meaning:
        "the oldest SYN-RECEIVED connection of the listener is dropped silently and the new SYN answered; an ACK for no connection gets <SEQ=SEG.ACK><CTL=RST>. No SYN cookies: a real client whose final ACK is lost while a flood pushes its connection out is reset when its data arrives",
      source: "RFC 4987 §3.4 (SYN cache), synack's choice for windows: Microsoft documents no SYN cookies, and what Vista and later do past their limit is not documented (docs/wsk.md)",
    },
    linux: {
      meaning:
        "below halfOpenLimit a SYN opens a SYN-RECEIVED connection, none is ever pushed out; at the limit the SYN is answered once with a SYN cookie and nothing is kept (MSS as one of 536, 1300, 1440, 1460; window scale and SACK-permitted in the TSval's low 6 bits, lost without timestamps). For two minutes after the last cookie, an ACK for no connection whose cookie checks (SEG.ACK - 1, SEG.SEQ - 1, counter at most a minute old) becomes an ESTABLISHED connection with the data it carries; one that fails gets <SEQ=SEG.ACK><CTL=RST>, and a valid one that finds the accept queue full is dropped. TSval offsets are a keyed hash of the address pair",
      source: "Linux tcp_conn_request() / tcp_syn_flood_action() with net.ipv4.tcp_syncookies 1; net/ipv4/syncookies.c __cookie_v4_init_sequence(), cookie_v4_check(), cookie_init_timestamp(), cookie_timestamp_decode(); tcp_synq_no_recent_overflow(); secure_tcp_ts_off()",
    },
    freebsd: {
      meaning:
        "every SYN-ACK's ISS is a SYN cookie (MSS index of 8, window-scale index of 8, SACK, the secret's parity; each of two secrets replaced every 16 s); at halfOpenLimit the oldest half-open connection is dropped for the new SYN and for the next 16 s SYNs get cookie SYN-ACKs only. Within 16 s of such an overflow an ACK for no connection whose cookie checks becomes an ESTABLISHED connection (timestamps if the ACK has them); one that fails gets <SEQ=SEG.ACK><CTL=RST>. TSval offsets are a keyed hash of the 4-tuple",
      source: "FreeBSD tcp_syncache.c with net.inet.tcp.syncookies 1: syncache_add(), syncache_insert() (bucket overflow: syncache_pause(), drop the oldest), syncookie_generate(), syncache_expand() / syncookie_lookup() (SYNCOOKIE_LIFETIME 16 s), tcp_new_ts_offset(); the cache's 512 buckets of 30 are modelled as one set of halfOpenLimit per listener, the pause as a fixed 16 s",
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

/** A listener's half-open connections and its SYN-flood state (stack.ts Listener). */
export interface HalfOpenSet {
  readonly halfOpen: Set<Connection>;
  halfOpenDropped: number;
  /** When a SYN last found the half-open set full (halfOpenFull "linux", "freebsd"); -Infinity: never. */
  lastOverflowAt: number;
  /** halfOpenFull "freebsd": SYNs get cookie SYN-ACKs only until then (syncache_pause()). */
  cookiesOnlyUntil: number;
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
 * halfOpenFull: how the listener answers a SYN it will answer: "entry" (a SYN-RECEIVED
 * connection, after making room if the profile does) or "cookie" (a SYN-ACK whose ISS is a
 * SYN cookie, nothing kept: syncookie.ts). `conditional`: a conditional-accept listener,
 * whose owner decides on each SYN before it is answered, keeps every request it accepted
 * (dropOldest at the limit, no cookies). Returns the mode and whether a connection was dropped.
 */
export function admitSyn(l: HalfOpenSet, p: Profile, now: number, conditional: boolean): { mode: "entry" | "cookie"; dropped: boolean } {
  const full = l.halfOpen.size >= Math.max(1, p.halfOpenLimit);
  if (p.halfOpenFull === "dropOldest" || conditional) return { mode: "entry", dropped: full && dropOldest(l, p, now) };
  if (p.halfOpenFull === "linux") {
    // tcp_conn_request(): inet_csk_reqsk_queue_is_full() -> tcp_syn_flood_action() -> cookie;
    // cookie_init_sequence() -> tcp_synq_overflow() notes the time.
    if (!full) return { mode: "entry", dropped: false };
    l.lastOverflowAt = now;
    return { mode: "cookie", dropped: false };
  }
  // freebsd: syncache_cookiesonly() while paused; otherwise syncache_insert(), which on
  // overflow pauses the cache, notes the time and drops the bucket's oldest entry.
  if (now < l.cookiesOnlyUntil) return { mode: "cookie", dropped: false };
  if (!full) return { mode: "entry", dropped: false };
  l.lastOverflowAt = now;
  l.cookiesOnlyUntil = now + FREEBSD_COOKIE_LIFETIME_MS;
  return { mode: "entry", dropped: dropOldest(l, p, now) };
}

function dropOldest(l: HalfOpenSet, p: Profile, now: number): boolean {
  const oldest = l.halfOpen.values().next().value as Connection | undefined;
  if (!oldest) return false;
  l.halfOpen.delete(oldest);
  l.halfOpenDropped++;
  oldest.finish({ kind: "timedOut" }, now, `listener holds ${p.halfOpenLimit} half-open connections: the oldest dropped for a new SYN (RFC 4987 §3.4)`);
  return true;
}

/**
 * halfOpenFull: is an ACK for no connection looked at as a SYN cookie now? linux: within two
 * minutes of the last cookie (tcp_synq_no_recent_overflow()); freebsd: while SYNs get cookies
 * only, or within 16 s of an overflow (syncache_expand()); dropOldest: never.
 */
export function cookieAckChecked(l: HalfOpenSet, p: Profile, now: number): boolean {
  switch (p.halfOpenFull) {
    case "dropOldest":
      return false;
    case "linux":
      return now - l.lastOverflowAt <= LINUX_COOKIE_VALID_MS;
    case "freebsd":
      return now < l.cookiesOnlyUntil || now - l.lastOverflowAt <= FREEBSD_COOKIE_LIFETIME_MS;
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
  const origin = c.handshake.origin;
  if (origin === undefined || !origin.acceptQueueFull()) return false;
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
