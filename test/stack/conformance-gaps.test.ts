// Engine behaviour the packetdrill runner found missing (docs/conformance.md): text on the
// crossing SYN of a simultaneous open, FreeBSD's insecure_rst / drop_synfin /
// rexmit_drop_options tunables, and FreeBSD's RST window (its receive buffer, 65700, not
// the 65535 it can advertise). Each case mirrors a line of a FreeBSD suite script.
import { describe, expect, it } from "vitest";
import { Harness, type Conn, type Sent } from "../helpers/vt.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";

const PEER_ISN = 1000;
// rcv-syn-with-data-syn-sent: <mss 1460,sackOK,eol,eol> (no window scale, no timestamps).
const PEER_SYN_OPTIONS: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "eol" }, { kind: "eol" }];
const TEXT = new Uint8Array([1, 2, 3]);

/** Connects, then crosses our SYN with the peer's (optionally carrying text and/or FIN). */
function simultaneousOpen(profile: ProfileName, synFlags = TCP_SYN, payload?: Uint8Array, overrides?: ProfileOverrides): { h: Harness; conn: Conn; syn: Sent; synAck: Sent } {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", overrides ? { overrides } : {});
  const [syn] = h.take();
  h.advance(100);
  conn.peer({ flags: synFlags, seq: PEER_ISN, window: 32767, options: PEER_SYN_OPTIONS, payload });
  const [synAck] = h.take();
  return { h, conn, syn: syn!, synAck: synAck! };
}

describe("text on the peer's SYN in a simultaneous open (RFC 9293 §3.10.7.3: queue it until ESTABLISHED)", () => {
  it("freebsd (rcv-syn-with-data-syn-sent): SYN-ACK acks only the SYN; the text is readable after the ACK, acknowledged by the delayed ACK", () => {
    const { h, conn, syn, synAck } = simultaneousOpen("freebsd", TCP_SYN, TEXT);
    expect(synAck.flags).toBe("S.");
    expect(synAck.tcp.ack).toBe(PEER_ISN + 1);
    expect(conn.c.state).toBe("SYN-RECEIVED");
    expect(conn.c.rcvBuffered).toBe(0);
    expect(conn.c.read().length).toBe(0);
    let dataEvents = 0;
    conn.c.events.data = () => dataEvents++;
    h.advance(100);
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 4, ack: syn.tcp.seq + 1, window: 65535 });
    expect(conn.c.state).toBe("ESTABLISHED");
    expect(conn.c.rcvNxt).toBe(PEER_ISN + 4);
    expect(dataEvents).toBe(1);
    expect(Array.from(conn.c.read(100))).toEqual([1, 2, 3]);
    // Reading 3 bytes is no reason for a window update; the delayed ACK (40 ms) acks the text.
    h.advance(0);
    expect(h.take()).toEqual([]);
    h.advance(40);
    const [ack] = h.take();
    expect([ack?.flags, ack?.tcp.ack, ack?.t]).toEqual([".", PEER_ISN + 4, 240]);
  });

  it("freebsd (rcv-syn-fin-with-data-syn-sent-dropping-disabled): the FIN on the SYN is lost, the text is kept", () => {
    const { h, conn, syn, synAck } = simultaneousOpen("freebsd", TCP_SYN | TCP_FIN, TEXT);
    expect(synAck.tcp.ack).toBe(PEER_ISN + 1);
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 4, ack: syn.tcp.seq + 1 });
    expect(conn.c.state).toBe("ESTABLISHED");
    expect(conn.c.peerFinReceived).toBe(false);
    expect(conn.c.rcvBuffered).toBe(3);
    // close() at once: the FIN carries the acknowledgment of the text (ack 4), no separate ACK.
    conn.c.close(h.now);
    h.collect();
    const out = h.take();
    expect(out.map((s) => [s.flags, s.tcp.ack])).toEqual([["F.", PEER_ISN + 4]]);
  });

  for (const profile of ["rfc", "windows"] as const) {
    it(`${profile}: text and FIN are both queued; the ACK that completes the handshake delivers them -> CLOSE-WAIT, FIN acked at once`, () => {
      const { h, conn, syn, synAck } = simultaneousOpen(profile, TCP_SYN | TCP_FIN, TEXT);
      expect(synAck.tcp.ack).toBe(PEER_ISN + 1);
      expect(conn.c.state).toBe("SYN-RECEIVED");
      let fin = 0;
      conn.c.events.peerFin = () => fin++;
      conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 5, ack: syn.tcp.seq + 1 });
      expect(conn.c.state).toBe("CLOSE-WAIT");
      expect(fin).toBe(1);
      expect(Array.from(conn.c.read())).toEqual([1, 2, 3]);
      expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([[".", PEER_ISN + 5]]);
    });
  }

  it("linux: discards the text (tcp_rcv_synsent_state_process); the peer has to send it again", () => {
    const { h, conn, syn, synAck } = simultaneousOpen("linux", TCP_SYN, TEXT);
    expect(synAck.tcp.ack).toBe(PEER_ISN + 1);
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 1, ack: syn.tcp.seq + 1 });
    expect(conn.c.state).toBe("ESTABLISHED");
    expect(conn.c.rcvBuffered).toBe(0);
    expect(conn.c.rcvNxt).toBe(PEER_ISN + 1);
    expect(conn.c.receiver.outOfOrderBytes).toBe(0);
    h.advance(1000);
    expect(h.take().filter((s) => s.tcp.payload.length > 0 || s.flags !== ".")).toEqual([]);
  });
});

describe("RST in window but not at RCV.NXT (RFC 5961 §3.2 vs FreeBSD net.inet.tcp.insecure_rst=1)", () => {
  it("default (rfc5961Rst): challenge ACK, the connection survives", () => {
    const { h, conn } = simultaneousOpen("freebsd");
    h.advance(100);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 1000 });
    expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([[".", PEER_ISN + 1]]);
    expect(conn.outcome).toBeUndefined();
  });

  it("rfc5961Rst: false in SYN-RECEIVED (rcv-rst-syn-rcvd-via-syn-sent-right-edge-insecure): refused, nothing sent", () => {
    const { h, conn } = simultaneousOpen("freebsd", TCP_SYN, undefined, { rstCheck: "rfc793" });
    h.advance(100);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 65700 });
    expect(h.take()).toEqual([]);
    expect(conn.outcome).toEqual({ kind: "refused" });
  });

  it("rfc5961Rst: false in ESTABLISHED: reset; outside the window still dropped", () => {
    const h = new Harness({ profile: "rfc" });
    const conn = h.connect("10.0.0.1:80", { overrides: { rstCheck: "rfc793" } });
    const [syn] = h.take();
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISN, ack: syn!.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }] });
    h.take();
    expect(conn.c.state).toBe("ESTABLISHED");
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 70_000 });
    expect(conn.outcome).toBeUndefined();
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 500 });
    expect(conn.outcome).toEqual({ kind: "reset" });
    expect(h.take()).toEqual([]);
  });
});

describe("sequence window of the acceptability test: freebsd uses its receive buffer (65700), others the advertised window", () => {
  it("freebsd, no window scale (rcv-rst-syn-rcvd-via-syn-sent-right-edge-secure): RST at RCV.NXT+65699 is in window -> challenge ACK; +65700 is not", () => {
    const { h, conn, synAck } = simultaneousOpen("freebsd");
    expect(synAck.tcp.window).toBe(65535);
    expect(conn.c.profile.rcvBufBytes).toBe(65700);
    h.advance(100);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 65700 });
    expect(h.take()).toEqual([]);
    conn.peer({ flags: TCP_RST | TCP_ACK, seq: PEER_ISN + 1 + 65699, ack: 12345 });
    const out = h.take();
    expect(out.map((s) => [s.flags, s.tcp.ack, s.tcp.window])).toEqual([[".", PEER_ISN + 1, 65535]]);
    expect(conn.outcome).toBeUndefined();
  });

  it("rfc profile keeps RFC 9293: the window is what was advertised (65535 without scaling), a RST beyond it is dropped", () => {
    const { h, conn } = simultaneousOpen("rfc");
    expect(conn.c.profile.rcvBufBytes).toBe(131072);
    h.advance(100);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 65600 });
    expect(h.take()).toEqual([]);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 65534 });
    expect(h.take().map((s) => s.flags)).toEqual(["."]);
  });
});

describe("net.inet.tcp.drop_synfin=1 (knob dropSynFin)", () => {
  it("SYN+FIN in SYN-SENT is dropped: no SYN-ACK, the SYN is retransmitted on time (rcv-syn-fin-*-dropping-enabled)", () => {
    const { h, conn, synAck } = simultaneousOpen("freebsd", TCP_SYN | TCP_FIN, TEXT, { synFin: "drop" });
    expect(synAck).toBeUndefined();
    expect(conn.c.state).toBe("SYN-SENT");
    h.advanceTo(1000);
    expect(h.take().map((s) => [s.flags, s.t])).toEqual([["S", 1000]]);
  });

  it("default: the same SYN+FIN moves SYN-SENT to SYN-RECEIVED", () => {
    const { conn, synAck } = simultaneousOpen("freebsd", TCP_SYN | TCP_FIN);
    expect(synAck.flags).toBe("S.");
    expect(conn.c.state).toBe("SYN-RECEIVED");
  });
});

describe("net.inet.tcp.rexmit_drop_options=1 (knob synDropOptionsAfter = 3)", () => {
  it("the 4th and later SYNs carry the MSS only; a SYN-ACK with options then negotiates none of them", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect("10.0.0.1:80", { overrides: { synDropOptionsAfter: 3 } });
    h.advanceTo(20_000);
    const syns = h.take().filter((s) => s.flags === "S");
    expect(syns.length).toBeGreaterThanOrEqual(5);
    for (const s of syns.slice(0, 3)) expect(s.options).toMatch(/^mss 1460,nop,wscale 6,sackOK,TS val \d+ ecr 0$/);
    for (const s of syns.slice(3)) expect(s.options).toBe("mss 1460");
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISN, ack: syns[0]!.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 7 }, { kind: "sackOK" }, { kind: "ts", val: 5, ecr: 0 }] });
    expect(conn.c.state).toBe("ESTABLISHED");
    expect([conn.c.sndWscale, conn.c.rcvWscale, conn.c.tsEnabled, conn.c.sackEnabled]).toEqual([0, 0, false, false]);
    expect(h.take()[0]!.options).toBe("");
  });

  it("default: every retransmitted SYN keeps its options", () => {
    const h = new Harness({ profile: "freebsd" });
    h.connect();
    h.advanceTo(20_000);
    const syns = h.take().filter((s) => s.flags === "S");
    expect(syns.length).toBeGreaterThanOrEqual(5);
    for (const s of syns) expect(s.options).toMatch(/^mss 1460,nop,wscale 6,sackOK,TS val \d+ ecr 0$/);
  });
});
