// Engine gaps the whole-corpus packetdrill run found (docs/conformance.md "Whole corpus"),
// fixed per profile as the OSes behave. Each case mirrors lines of the scripts named in
// its title; the profile knobs are in stack/tcp/profiles.ts.
import { describe, expect, it } from "vitest";
import { Harness, type Conn, type Sent } from "../helpers/vt.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import { RtoEstimator } from "../../stack/tcp/rto.js";
import { Deadline } from "../../stack/tcp/deadlines.js";

const PEER_ISN = 1000;
// The FreeBSD suite's SYN-ACK: <mss 1460,sackOK,eol,eol> (no window scale, no timestamps).
const FREEBSD_SYNACK_OPTIONS: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "eol" }, { kind: "eol" }];

interface Open {
  h: Harness;
  conn: Conn;
  /** Our ISS + 1: the first sequence number after the SYN. */
  una: number;
}

/** Connect and complete the handshake after `rttMs`; returns with nothing left to take. */
function open(profile: ProfileName, o: { rttMs?: number; window?: number; options?: TcpOption[]; overrides?: ProfileOverrides } = {}): Open {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", o.overrides ? { overrides: o.overrides } : {});
  const [syn] = h.take();
  h.advance(o.rttMs ?? 100);
  const una = (syn!.tcp.seq + 1) >>> 0;
  conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISN, ack: una, window: o.window ?? 32767, options: o.options ?? FREEBSD_SYNACK_OPTIONS });
  expect(conn.c.state).toBe("ESTABLISHED");
  h.take();
  return { h, conn, una };
}

const brief = (s: Sent[]) => s.map((x) => `${x.flags} ${x.tcp.seq}:${x.tcp.ack}${x.tcp.payload.length ? ` (${x.tcp.payload.length})` : ""}`);

/** A simultaneous close (snippets/closing): our FIN, then the peer's FIN not acknowledging it -> CLOSING. */
function closing(profile: ProfileName, overrides?: ProfileOverrides): Open & { ackOfFin: Sent } {
  const r = open(profile, { overrides });
  r.h.advance(100);
  r.conn.c.close(r.h.now);
  r.h.collect();
  expect(brief(r.h.take())).toEqual([`F. ${r.una}:${PEER_ISN + 1}`]);
  r.h.advance(100);
  r.conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: r.una });
  expect(r.conn.c.state).toBe("CLOSING");
  const [ackOfFin] = r.h.take();
  return { ...r, ackOfFin: ackOfFin! };
}

/** FIN-WAIT-1 -> TIME-WAIT via shutdown (rcv-*-time-wait-using-shutdown): the peer's FIN,ACK acknowledges ours. */
function timeWait(profile: ProfileName, overrides?: ProfileOverrides): Open {
  const r = open(profile, { overrides });
  r.h.advance(100);
  r.conn.c.close(r.h.now);
  r.h.collect();
  expect(brief(r.h.take())).toEqual([`F. ${r.una}:${PEER_ISN + 1}`]);
  r.h.advance(100);
  r.conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: r.una + 1 });
  expect(r.conn.c.state).toBe("TIME-WAIT");
  expect(brief(r.h.take())).toEqual([`. ${r.una + 1}:${PEER_ISN + 2}`]);
  r.h.advance(100);
  return r;
}

describe("repeatFinUntilAcked: FreeBSD repeats the unacknowledged FIN on every ACK (snippets/closing, rcv-rst-closing, rcv-syn-closing)", () => {
  it("freebsd: the ACK of the peer's FIN in CLOSING is F. at the FIN's own sequence number", () => {
    const { ackOfFin, una } = closing("freebsd");
    expect([ackOfFin.flags, ackOfFin.tcp.seq, ackOfFin.tcp.ack]).toEqual(["F.", una, PEER_ISN + 2]);
  });

  it("linux and rfc: a pure ACK at SND.NXT (RFC 9293 §3.10.7.4 eighth step)", () => {
    for (const p of ["linux", "rfc"] as const) {
      const { ackOfFin, una } = closing(p);
      expect([ackOfFin.flags, ackOfFin.tcp.seq, ackOfFin.tcp.ack]).toEqual([".", una + 1, PEER_ISN + 2]);
    }
  });

  it("freebsd: a challenge ACK in CLOSING stays bare (tcp_respond; rcv-syn-closing-outside-right-secure)", () => {
    const { h, conn, una } = closing("freebsd");
    h.advance(100);
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 65702, options: FREEBSD_SYNACK_OPTIONS });
    expect(brief(h.take())).toEqual([`. ${una + 1}:${PEER_ISN + 2}`]);
    expect(conn.c.state).toBe("CLOSING");
  });

  it("freebsd: data received in FIN-WAIT-1 is ACKed with the FIN again", () => {
    const { h, conn, una } = open("freebsd");
    conn.c.close(h.now);
    h.collect();
    h.take();
    conn.peer({ flags: TCP_ACK | TCP_PSH, seq: PEER_ISN + 1, ack: una, payload: new Uint8Array(10) });
    h.advance(100); // delayed ACK
    expect(brief(h.take())).toEqual([`F. ${una}:${PEER_ISN + 11}`]);
    expect(conn.c.state).toBe("FIN-WAIT-1");
  });
});

describe("oldSegmentAckProcessed: FreeBSD processes the ACK of a duplicate segment (snippets/time-wait-via-closing)", () => {
  it("freebsd: the peer's FIN,ACK again, now acknowledging our FIN, moves CLOSING to TIME-WAIT without an answer", () => {
    const { h, conn, una } = closing("freebsd");
    h.advance(100);
    conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: una + 1 });
    expect(conn.c.state).toBe("TIME-WAIT");
    expect(h.take()).toEqual([]);
  });

  it("rfc: the duplicate is unacceptable, answered and dropped; CLOSING waits for an ACK in the window", () => {
    const { h, conn, una } = closing("rfc");
    h.advance(100);
    conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: una + 1 });
    expect(conn.c.state).toBe("CLOSING");
    expect(brief(h.take())).toEqual([`. ${una + 1}:${PEER_ISN + 2}`]);
  });

  it("freebsd: an old pure ACK in ESTABLISHED is still answered with an ACK (rcv-ack-established-outside-left)", () => {
    const { h, conn, una } = open("freebsd");
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN, ack: una });
    expect(brief(h.take())).toEqual([`. ${una}:${PEER_ISN + 1}`]);
    expect(conn.c.state).toBe("ESTABLISHED");
  });
});

describe("rfc1337: RST in TIME-WAIT (rcv-rst-time-wait, rcv-rst-ack-time-wait)", () => {
  it("freebsd: an exact RST (and RST,ACK) is ignored, TIME-WAIT lasts its 2 MSL", () => {
    const { h, conn, una } = timeWait("freebsd");
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 2 });
    conn.peer({ flags: TCP_RST | TCP_ACK, seq: PEER_ISN + 2, ack: una + 1 });
    expect(conn.c.state).toBe("TIME-WAIT");
    expect(h.take()).toEqual([]);
    h.advance(2 * conn.c.profile.mslMs);
    expect(conn.c.state).toBe("CLOSED");
  });

  it("linux (tcp_rfc1337 = 0): an exact RST deletes the TIME-WAIT TCB; with rfc1337 it is ignored", () => {
    const a = timeWait("linux");
    a.conn.peer({ flags: TCP_RST, seq: PEER_ISN + 2 });
    expect(a.conn.c.state).toBe("CLOSED");
    const b = timeWait("linux", { timeWait: "rfc1337" });
    b.conn.peer({ flags: TCP_RST, seq: PEER_ISN + 2 });
    expect(b.conn.c.state).toBe("TIME-WAIT");
    expect(b.h.take()).toEqual([]);
  });
});

describe("timeWaitCheck freebsd: tcp_twcheck() (rcv-ack-time-wait, rcv-fin-time-wait)", () => {
  it("an ACK above RCV.NXT is answered with an ACK (middle, right edge); rfc stays silent", () => {
    const f = timeWait("freebsd");
    f.conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 3, ack: f.una + 1 });
    expect(brief(f.h.take())).toEqual([`. ${f.una + 1}:${PEER_ISN + 2}`]);
    const r = timeWait("rfc");
    r.conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 3, ack: r.una + 1 });
    expect(r.h.take()).toEqual([]);
  });

  it("an exact duplicate ACK gets nothing; the same with PSH, or an old one, gets an ACK (no window check)", () => {
    const { h, conn, una } = timeWait("freebsd");
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 2, ack: una + 1 });
    expect(h.take()).toEqual([]);
    conn.peer({ flags: TCP_ACK | TCP_PSH, seq: PEER_ISN + 2, ack: una + 1 });
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 1, ack: una + 1 });
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 2 + 70_000, ack: una + 1 });
    expect(h.take().length).toBe(3);
    expect(conn.c.state).toBe("TIME-WAIT");
  });

  it("a FIN without ACK is dropped silently, inside or outside the window (outside-left/right, middle)", () => {
    const { h, conn } = timeWait("freebsd");
    for (const seq of [PEER_ISN + 1, PEER_ISN + 3, PEER_ISN + 2 + 70_000]) conn.peer({ flags: TCP_FIN, seq });
    expect(h.take()).toEqual([]);
    expect(conn.c.state).toBe("TIME-WAIT");
  });

  it("a retransmitted FIN,ACK is ACKed and restarts the 2 MSL timer", () => {
    const { h, conn, una } = timeWait("freebsd");
    const msl2 = 2 * conn.c.profile.mslMs;
    h.advance(msl2 / 2);
    conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISN + 1, ack: una + 1 });
    expect(brief(h.take())).toEqual([`. ${una + 1}:${PEER_ISN + 2}`]);
    expect(conn.c.deadline(Deadline.timeWait)).toBe(h.now + msl2);
    h.advance(msl2 - 1);
    expect(conn.c.state).toBe("TIME-WAIT");
    h.advance(1);
    expect(conn.c.state).toBe("CLOSED");
  });

  it("a SYN above RCV.NXT ends TIME-WAIT and is looked up again: with no listener it gets the CLOSED answer", () => {
    const { h, conn } = timeWait("freebsd");
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 5000 });
    expect(conn.c.state).toBe("CLOSED");
    expect([...h.stack.connections()].length).toBe(0);
    const out = h.take();
    expect(out.map((s) => [s.flags, s.tcp.ack])).toEqual([["R.", PEER_ISN + 5001]]);
  });

  it("... and with a listener on the port, the SYN opens the new incarnation (RFC 1122 §4.2.2.13)", () => {
    const { h, conn } = timeWait("freebsd");
    h.stack.listen({ port: conn.c.localPort, onAccept: () => {} });
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 5000, options: FREEBSD_SYNACK_OPTIONS });
    expect(conn.c.state).toBe("CLOSED");
    expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([["S.", PEER_ISN + 5001]]);
    expect([...h.stack.connections()].map((c) => c.state)).toEqual(["SYN-RECEIVED"]);
  });

  it("a SYN at or below RCV.NXT does not end TIME-WAIT (it has no ACK: dropped)", () => {
    const { h, conn } = timeWait("freebsd");
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 2 });
    expect(conn.c.state).toBe("TIME-WAIT");
    expect(h.take()).toEqual([]);
  });
});

describe("rfc5961Syn false: FreeBSD net.inet.tcp.insecure_syn=1 (rcv-syn-*-insecure)", () => {
  it("a SYN at RCV.NXT in ESTABLISHED resets: R. <SEQ=SND.NXT><ACK=RCV.NXT> win 0, ECONNRESET (left-edge)", () => {
    const { h, conn, una } = open("freebsd", { overrides: { synCheck: "rfc793" } });
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 1, options: FREEBSD_SYNACK_OPTIONS });
    expect(h.take().map((s) => [s.flags, s.tcp.seq, s.tcp.ack, s.tcp.window])).toEqual([["R.", una, PEER_ISN + 1, 0]]);
    expect(conn.outcome).toEqual({ kind: "reset" });
  });

  it("the window is the receive buffer (65700): RCV.NXT+65699 resets, RCV.NXT+65700 and RCV.NXT-1 get a challenge ACK", () => {
    const a = open("freebsd", { overrides: { synCheck: "rfc793" } });
    a.conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 1 + 65700 });
    a.conn.peer({ flags: TCP_SYN, seq: PEER_ISN });
    expect(brief(a.h.take())).toEqual([`. ${a.una}:${PEER_ISN + 1}`, `. ${a.una}:${PEER_ISN + 1}`]);
    expect(a.conn.c.state).toBe("ESTABLISHED");
    a.conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 1 + 65699 });
    expect(a.conn.outcome).toEqual({ kind: "reset" });
  });

  it("in CLOSING the RST's sequence number is SND.NXT after the FIN (rcv-syn-closing-left-edge-insecure)", () => {
    const { h, conn, una } = closing("freebsd", { synCheck: "rfc793" });
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 2 });
    expect(h.take().map((s) => [s.flags, s.tcp.seq, s.tcp.ack])).toEqual([["R.", una + 1, PEER_ISN + 2]]);
    expect(conn.outcome).toEqual({ kind: "reset" });
  });

  it("default (RFC 5961 §4.2): a challenge ACK in the window or out, the connection lives", () => {
    const { h, conn, una } = open("freebsd");
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 1 });
    expect(brief(h.take())).toEqual([`. ${una}:${PEER_ISN + 1}`]);
    expect(conn.c.state).toBe("ESTABLISHED");
  });
});

describe("quickAcks: Linux quick-ACK mode (tcp-info-last_data_recv, http-get-nonblocking-ts, nagle/https_client)", () => {

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
    const { h, conn, una } = open("linux");
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
    const l = open("linux");
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

describe("zeroWindowProbe + rtoMinBoundsVariance: Linux probes with an empty ACK at SND.UNA-1 after SRTT + 200 ms (tcp-info-rwnd-limited)", () => {
  it("RtoEstimator: with a 10 ms sample Linux's RTO is 210 ms, RFC 6298's 200 ms", () => {
    const linux = new RtoEstimator(1000, 200, 120_000, true);
    const rfc = new RtoEstimator(1000, 200, 120_000);
    linux.sample(10);
    rfc.sample(10);
    expect([linux.rtoMs, rfc.rtoMs]).toEqual([210, 200]);
    // A long path: both give SRTT + 4*RTTVAR.
    const a = new RtoEstimator(1000, 200, 120_000, true);
    const b = new RtoEstimator(1000, 200, 120_000);
    a.sample(100);
    b.sample(100);
    expect([a.rtoMs, b.rtoMs]).toEqual([300, 300]);
  });

  it("linux: zero window on the SYN-ACK; the window opens 200 ms after the write, before the 210 ms probe: the data goes out whole", () => {
    const { h, conn, una } = open("linux", { rttMs: 10, window: 0, options: [{ kind: "mss", value: 1000 }, { kind: "sackOK" }] });
    conn.c.send(data(1000), h.now);
    h.collect();
    expect(h.take()).toEqual([]);
    h.advance(200);
    expect(h.take()).toEqual([]);
    conn.peer({ flags: TCP_ACK, seq: PEER_ISN + 1, ack: una, window: 2000 });
    expect(h.take().map((s) => [s.flags, s.tcp.seq, s.tcp.payload.length])).toEqual([["P.", una, 1000]]);
  });

  it("linux: the probe is an empty ACK at SND.UNA-1 after 210 ms, then backs off; freebsd sends one byte", () => {
    const { h, conn, una } = open("linux", { rttMs: 10, window: 0, options: [{ kind: "mss", value: 1000 }] });
    const t0 = h.now;
    conn.c.send(data(1000), h.now);
    h.collect();
    h.advance(700);
    const probes = h.take();
    expect(probes.map((s) => [s.flags, s.tcp.seq, s.tcp.payload.length, s.t - t0])).toEqual([
      [".", (una - 1) >>> 0, 0, 210],
      [".", (una - 1) >>> 0, 0, 630],
    ]);
    expect(conn.c.sndNxt).toBe(una);
    const f = open("freebsd", { rttMs: 10, window: 0 });
    f.conn.c.send(data(1000), f.h.now);
    f.h.collect();
    f.h.advance(1000);
    const [p] = f.h.take();
    expect([p!.tcp.seq, p!.tcp.payload.length]).toEqual([f.una, 1]);
  });
});

function data(n: number): Uint8Array {
  return new Uint8Array(n);
}
