// The receiving half (stack/tcp/receiver.ts) against a scripted peer: delayed and quick
// ACKs, out-of-order reassembly and SACK blocks, a FIN ahead of a hole, window scaling,
// timestamps and PAWS, the receive buffer, with the policies that change them per profile
// (ackPolicy, rcvBufRounding; docs/profiles.md).
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { establishScripted } from "./scripted.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import { seqAdd } from "../../stack/tcp/seq.js";
import { patternBytes } from "./pair.js";
import { brief, data, open, PEER_ISN } from "./peers.js";

import type { ProfileOverrides } from "../../stack/tcp/profiles.js";
// The corpus scripts give exact times (their kernels ran at HZ 1000, and packetdrill's
// tolerance absorbs the timer wheel): tests after a corpus script check the policies' timing
// without the wheel (timerWheel "exact"); stack/tcp/timer-wheel.ts and the kernel-diff
// reproductions test the wheel.
const NO_WHEEL: ProfileOverrides = { timerWheel: "exact" };

const ACK = TCP_ACK;

describe("receiving (RFC 9293 §3.10.7.4, RFC 5681 §4.2, RFC 2018)", () => {
  it("delays the ACK of one segment, ACKs every second one at once", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.peer({ flags: ACK, seq: peerSeq, ack: base, payload: patternBytes(1000) });
    expect(h.take()).toEqual([]);
    conn.peer({ flags: ACK, seq: peerSeq + 1000, ack: base, payload: patternBytes(1000) });
    const a = h.take();
    expect(a.map((s) => [s.flags, s.tcp.ack])).toEqual([[".", peerSeq + 2000]]);
    const t = h.now;
    conn.peer({ flags: ACK, seq: peerSeq + 2000, ack: base, payload: patternBytes(500) });
    h.advance(1000);
    const d = h.take();
    expect(d.map((s) => [s.t - t, s.tcp.ack])).toEqual([[200, peerSeq + 2500]]); // windows delayedAckMs
    expect(conn.c.rcvBuffered).toBe(2500);
  });

  it("ACKs out-of-order data at once with a SACK block and reassembles in order", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000, sackOK: true });
    const data = patternBytes(3000);
    conn.peer({ flags: ACK, seq: peerSeq + 2000, ack: base, payload: data.subarray(2000) });
    let a = h.take();
    expect(a.length).toBe(1);
    expect(a[0].tcp.ack).toBe(peerSeq);
    expect(a[0].tcp.options.find((o) => o.kind === "sack")).toEqual({ kind: "sack", blocks: [[peerSeq + 2000, peerSeq + 3000]] });
    conn.peer({ flags: ACK, seq: peerSeq + 1000, ack: base, payload: data.subarray(1000, 2000) });
    a = h.take();
    expect(a[0].tcp.options.find((o) => o.kind === "sack")).toEqual({ kind: "sack", blocks: [[peerSeq + 1000, peerSeq + 3000]] });
    expect(conn.c.rcvBuffered).toBe(0);
    // The hole fills: immediate ACK of everything, no SACK left.
    conn.peer({ flags: ACK, seq: peerSeq, ack: base, payload: data.subarray(0, 1000) });
    a = h.take();
    expect(a.map((s) => s.tcp.ack)).toEqual([peerSeq + 3000]);
    expect(a[0].tcp.options.some((o) => o.kind === "sack")).toBe(false);
    expect(Array.from(conn.c.read())).toEqual(Array.from(data));
  });

  it("holds a FIN that arrives ahead of a hole until the hole fills", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.peer({ flags: ACK | TCP_FIN, seq: peerSeq + 100, ack: base, payload: patternBytes(100) });
    expect(conn.c.state).toBe("ESTABLISHED");
    conn.peer({ flags: ACK, seq: peerSeq, ack: base, payload: patternBytes(100) });
    expect(conn.c.state).toBe("CLOSE-WAIT");
    expect(conn.c.rcvNxt).toBe(peerSeq + 201);
    expect(h.take().at(-1)!.tcp.ack).toBe(peerSeq + 201);
  });

  it("never scales the SYN's window but scales every later one (RFC 7323 §2.3)", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000, wscale: 2, window: 1000 });
    // The SYN-ACK's window (1000) is taken as is.
    expect(conn.c.sndWnd).toBe(1000);
    expect(h.sent[0].tcp.window).toBe(64240); // our SYN: unscaled
    conn.peer({ flags: ACK, seq: peerSeq, ack: base, window: 1000, payload: patternBytes(1000) });
    expect(conn.c.sndWnd).toBe(4000);
    h.advance(500);
    const ack = h.take().at(-1)!;
    // windows profile: 256 KiB buffer, shift 8; 1000 bytes unread.
    expect(ack.tcp.window).toBe((262144 - 1000) >>> 8);
  });

  it("drops a segment with an old timestamp (PAWS) and takes RTT samples from TSecr", () => {
    const { h, conn, base, peerSeq } = establishScripted({ profile: "linux", mss: 1000, ts: true, rttMs: 100 });
    expect(conn.c.tsEnabled).toBe(true);
    const tsOpt = (val: number, ecr: number): TcpOption[] => [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val, ecr }];
    conn.peer({ flags: ACK, seq: peerSeq, ack: base, payload: patternBytes(10), options: tsOpt(800, 100) });
    expect(conn.c.rcvBuffered).toBe(10);
    expect(conn.c.tsRecent).toBe(800);
    h.advance(100);
    h.take();
    conn.peer({ flags: ACK, seq: peerSeq + 10, ack: base, payload: patternBytes(10), options: tsOpt(799, 100) });
    expect(conn.c.rcvBuffered).toBe(10);
    const r = h.take();
    expect(r.length).toBe(1);
    expect(r[0].tcp.ack).toBe(peerSeq + 10);
    // RTTM: send at t, ACK echoing our TSval 40 ms later -> a 40 ms sample.
    const t = h.now;
    conn.c.send(patternBytes(10), h.now);
    h.collect();
    const out = h.take()[0];
    const tsv = (out.tcp.options.find((o) => o.kind === "ts") as { val: number }).val;
    expect(tsv).toBe(t);
    h.advance(40);
    const before = conn.c.rto.srttMs;
    conn.peer({ flags: ACK, seq: peerSeq + 10, ack: seqAdd(base, 10), options: tsOpt(900, tsv) });
    expect(conn.c.rto.srttMs).toBeCloseTo(0.875 * before + 0.125 * 40);
  });
});

describe("ACK policy: Linux quick-ACK mode (ackPolicy quickAck: linux tcp-info-last_data_recv, http-get-nonblocking-ts, nagle/https_client)", () => {
  it("linux: the first data after the handshake is ACKed at once; freebsd waits for its delayed-ACK timer", () => {
    const l = open("linux", { rttMs: 30, options: [{ kind: "mss", value: 1000 }, { kind: "sackOK" }, { kind: "wscale", shift: 8 }] });
    l.h.advance(1000);
    l.conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 1, ack: l.una, window: 300, payload: data(1000) });
    expect(l.h.take().map((s) => [s.flags, s.t, s.tcp.ack])).toEqual([[".", l.h.now, PEER_ISN + 1001]]);
    const f = open("freebsd");
    f.conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 1, ack: f.una, payload: data(100) });
    expect(f.h.take()).toEqual([]);
    f.h.advance(40);
    expect(f.h.take().length).toBe(1);
  });

  it("linux: 16 quick ACKs, then every second segment; quick again after a silence longer than the RTO", () => {
    const { h, conn, una } = open("linux");
    let seq = PEER_ISN + 1;
    const acksFor = (n: number) => {
      let acks = 0;
      for (let i = 0; i < n; i++) {
        conn.peer({ flags: TCP_ACK, seq, ack: una, payload: data(1000) });
        seq += 1000;
        acks += h.take().length;
      }
      return acks;
    };
    expect(acksFor(16)).toBe(16);
    expect(acksFor(4)).toBe(2);
    h.advance(40);
    h.take();
    h.advance(conn.c.rto.rtoMs + 1);
    expect(acksFor(2)).toBe(2);
  });

  it("linux: in interactive (pingpong) mode the data is ACKed by the delayed-ACK timer or a reply", () => {
    const { h, conn, una } = open("linux", { overrides: NO_WHEEL });
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 1, ack: una, payload: data(100) });
    expect(h.take().length).toBe(1); // quick
    h.advance(5);
    conn.c.send(data(50), h.now); // a reply within 40 ms: pingpong
    h.collect();
    h.take();
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 101, ack: una + 50, payload: data(100) });
    expect(h.take()).toEqual([]);
    h.advance(40);
    expect(h.take().map((s) => s.tcp.ack)).toEqual([PEER_ISN + 201]);
  });

  it("linux: the FIN in ESTABLISHED is ACKed by the delayed-ACK timer 40 ms later (http-get-nonblocking-ts line 29); freebsd at once", () => {
    const l = open("linux", { overrides: NO_WHEEL });
    l.conn.peer({ flags: TCP_ACK | TCP_PSH, seq: PEER_ISN + 1, ack: l.una, payload: data(785) });
    expect(l.h.take().length).toBe(1);
    l.conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 786, ack: l.una });
    expect(l.conn.c.state).toBe("CLOSE-WAIT");
    expect(l.h.take()).toEqual([]);
    const t = l.h.now;
    l.h.advance(100);
    expect(l.h.take().map((s) => [s.flags, s.t - t, s.tcp.ack])).toEqual([[".", 40, PEER_ISN + 787]]);
    const f = open("freebsd");
    f.conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: f.una });
    expect(brief(f.h.take())).toEqual([`. ${f.una}:${PEER_ISN + 2}`]);
  });
});

describe("receive buffer rounded up to the MSS (rcvBufRounding mss: freebsd tcp_mss(), SO_RCVBUF 65536 -> 65700)", () => {
  it("no window scaling: the ACK of a SYN-ACK with 3 data bytes still advertises 65535", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect();
    const syn = h.take()[0]!;
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, window: 32767, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }], payload: new Uint8Array(3) });
    const ack = h.take()[0]!;
    expect(ack.tcp.ack).toBe(4);
    expect(ack.tcp.window).toBe(65535);
    expect(conn.c.profile.rcvBufBytes).toBe(65700);
  });

  it("window scale 6: the window field is 65700 >> 6 = 1026", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect();
    const syn = h.take()[0]!;
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, window: 32767, options: [{ kind: "mss", value: 1460 }, { kind: "wscale", shift: 7 }] });
    expect(h.take()[0]!.tcp.window).toBe(1026);
  });

  it("other profiles keep their buffer as configured", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const syn = h.take()[0]!;
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }] });
    expect(conn.c.profile.rcvBufBytes).toBe(131072);
  });
});

describe("a closed or shrunken receive window still takes valid ACKs (RFC 9293 §3.10.7.4, RFC 7323 Appendix F)", () => {
  // Our buffer nearly full: the scaled window (shift 8 under windows) rounds down, so after
  // the peer's next 100 bytes our advertised right edge moves left of the one we offered.
  function nearlyFull() {
    const s = establishScripted({ mss: 1000, wscale: 0, window: 65535 });
    const { h, conn, base, peerSeq } = s;
    const fill = 262144 - 300; // leaves 300 bytes: window (300 >> 8) << 8 = 256
    for (let off = 0; off < fill; off += 1000) conn.peer({ flags: ACK, seq: peerSeq + off, ack: base, payload: patternBytes(Math.min(1000, fill - off)) });
    h.advance(500);
    h.take();
    const before = h.sent.at(-1)!.tcp;
    expect(before.window).toBe(1); // 300 bytes free: 256 in the window field's units
    const offeredEdge = conn.c.rcvOfferedEdge;
    expect(offeredEdge - (peerSeq + fill)).toBeGreaterThanOrEqual(256);
    // 100 bytes more: 200 bytes free, window field 0: the edge moves back to RCV.NXT.
    conn.peer({ flags: ACK, seq: peerSeq + fill, ack: base, payload: patternBytes(100) });
    h.advance(500);
    const zero = h.take().at(-1)!;
    expect([zero.tcp.ack, zero.tcp.window]).toEqual([peerSeq + fill + 100, 0]);
    return { ...s, fill, offeredEdge };
  }

  it("an ACK whose sequence number lies beyond the zero window but within the edge we offered acknowledges our data", () => {
    const { h, conn, base, peerSeq, fill, offeredEdge } = nearlyFull();
    conn.c.send(patternBytes(500), h.now);
    h.collect();
    expect(h.take().map((s) => s.tcp.payload.length)).toEqual([500]);
    // The peer had sent up to the old edge (those 156 bytes are lost to us); its pure ACK
    // carries SEQ = its SND.NXT, beyond our zero window, and acknowledges our 500 bytes.
    conn.peer({ flags: ACK, seq: offeredEdge, ack: base + 500 });
    expect(conn.c.sndUna).toBe(base + 500);
    // Answered as an unacceptable segment is: our ACK of RCV.NXT, the window still 0.
    const answer = h.take();
    expect(answer.map((s) => [s.flags, s.tcp.seq, s.tcp.ack, s.tcp.window])).toEqual([[".", base + 500, peerSeq + fill + 100, 0]]);
  });

  it("data beyond the closed window is not taken, only its ACK field; beyond the offered edge nothing is read", () => {
    const { h, conn, base, peerSeq, fill, offeredEdge } = nearlyFull();
    conn.c.send(patternBytes(500), h.now);
    h.collect();
    h.take();
    conn.peer({ flags: ACK, seq: peerSeq + fill + 100, ack: base + 200, payload: patternBytes(50) });
    expect(conn.c.sndUna).toBe(base + 200);
    expect(conn.c.rcvNxt).toBe(peerSeq + fill + 100);
    // Past the furthest edge we ever offered: the ACK field is not read.
    conn.peer({ flags: ACK, seq: offeredEdge + 1, ack: base + 500 });
    expect(conn.c.sndUna).toBe(base + 200);
  });
});
