// Scripted peers that take one connection of the stack to a given state, in virtual time,
// for the tests of this folder. Two conventions, after where the tests came from: the
// FreeBSD packetdrill suite's peer (ISN 1000, SYN-ACK <mss 1460,sackOK,eol,eol>) and the
// Linux kernel of the differential rig (docs/kernel-diff.md; server ISN 7000).
import { expect } from "vitest";
import { Harness, type Conn, type Sent } from "../helpers/vt.js";
import { TCP_ACK, TCP_FIN, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";

// ---------------------------------------------------------------------------------------
// The FreeBSD suite's peer

export const PEER_ISN = 1000;
/** The FreeBSD suite's SYN and SYN-ACK options: <mss 1460,sackOK,eol,eol> (no window scale, no timestamps). */
export const FREEBSD_PEER_OPTIONS: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "eol" }, { kind: "eol" }];

export interface Open {
  h: Harness;
  conn: Conn;
  /** Our ISS + 1: the first sequence number after the SYN. */
  una: number;
}

/** Connect and complete the handshake after `rttMs`; returns with nothing left to take. */
export function open(profile: ProfileName, o: { rttMs?: number; window?: number; options?: TcpOption[]; overrides?: ProfileOverrides } = {}): Open {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", o.overrides ? { overrides: o.overrides } : {});
  const [syn] = h.take();
  h.advance(o.rttMs ?? 100);
  const una = (syn!.tcp.seq + 1) >>> 0;
  conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISN, ack: una, window: o.window ?? 32767, options: o.options ?? FREEBSD_PEER_OPTIONS });
  expect(conn.c.state).toBe("ESTABLISHED");
  h.take();
  return { h, conn, una };
}

/** "F. seq:ack (len)" per segment. */
export const brief = (s: Sent[]) => s.map((x) => `${x.flags} ${x.tcp.seq}:${x.tcp.ack}${x.tcp.payload.length ? ` (${x.tcp.payload.length})` : ""}`);

/** open(), then our FIN 100 ms later (FIN-WAIT-1), then 100 ms more. */
function finWait1(profile: ProfileName, overrides?: ProfileOverrides): Open {
  const r = open(profile, { overrides });
  r.h.advance(100);
  r.conn.c.close(r.h.now);
  r.h.collect();
  expect(brief(r.h.take())).toEqual([`F. ${r.una}:${PEER_ISN + 1}`]);
  r.h.advance(100);
  return r;
}

/** A simultaneous close (snippets/closing): our FIN, then the peer's FIN not acknowledging it -> CLOSING. */
export function closing(profile: ProfileName, overrides?: ProfileOverrides): Open & { ackOfFin: Sent } {
  const r = finWait1(profile, overrides);
  r.conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: r.una });
  expect(r.conn.c.state).toBe("CLOSING");
  const [ackOfFin] = r.h.take();
  return { ...r, ackOfFin: ackOfFin! };
}

/** FIN-WAIT-1 -> TIME-WAIT via shutdown (rcv-*-time-wait-using-shutdown): the peer's FIN,ACK acknowledges ours. */
export function timeWait(profile: ProfileName, overrides?: ProfileOverrides): Open {
  const r = finWait1(profile, overrides);
  r.conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: r.una + 1 });
  expect(r.conn.c.state).toBe("TIME-WAIT");
  expect(brief(r.h.take())).toEqual([`. ${r.una + 1}:${PEER_ISN + 2}`]);
  r.h.advance(100);
  return r;
}

/** Connects, then crosses our SYN with the peer's (optionally carrying text and/or FIN). */
export function simultaneousOpen(profile: ProfileName, synFlags = TCP_SYN, payload?: Uint8Array, overrides?: ProfileOverrides): { h: Harness; conn: Conn; syn: Sent; synAck: Sent } {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", overrides ? { overrides } : {});
  const [syn] = h.take();
  h.advance(100);
  conn.peer({ flags: synFlags, seq: PEER_ISN, window: 32767, options: FREEBSD_PEER_OPTIONS, payload });
  const [synAck] = h.take();
  return { h, conn, syn: syn!, synAck: synAck! };
}

export function data(n: number): Uint8Array {
  return new Uint8Array(n);
}

// ---------------------------------------------------------------------------------------
// The Linux kernel of the differential rig

export const SERVER_ISN = 7000;

export function tsvalOf(s: Sent): number {
  const ts = s.tcp.options.find((o) => o.kind === "ts");
  if (!ts || ts.kind !== "ts") throw new Error("no timestamp option");
  return ts.val;
}

export function linuxConnect(overrides: object = {}, remote = "10.0.0.1:80"): { h: Harness; conn: Conn; syn: Sent } {
  const h = new Harness({ profile: "linux" });
  const conn = h.connect(remote, { overrides });
  const [syn] = h.take();
  return { h, conn, syn: syn! };
}

/** linuxConnect(), and the SYN-ACK 5 ms later. */
export function linuxEstablished(options: TcpOption[] = [], window = 64000): { h: Harness; conn: Conn; syn: Sent } {
  const r = linuxConnect();
  r.h.advance(5);
  r.conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: r.syn.tcp.seq + 1, window, options });
  r.h.take();
  return r;
}

/** When the SYNs went out, in ms. */
export const synTimesMs = (h: Harness) => h.sent.filter((s) => s.flags === "S").map((s) => s.t);
