// TIME-WAIT (RFC 9293 §3.10.7.4, §3.4.2): a retransmitted FIN, RSTs, and the timeWait policy
// (rfc9293, rfc1337, freebsd's tcp_twcheck(); docs/profiles.md). The FreeBSD cases mirror
// lines of the freebsd suite's scripts named in their groups.
import { describe, expect, it } from "vitest";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { Deadline } from "../../stack/tcp/deadlines.js";
import { establishScripted } from "./scripted.js";
import { brief, FREEBSD_PEER_OPTIONS, PEER_ISN, timeWait } from "./peers.js";

describe("a retransmitted FIN in TIME-WAIT (RFC 9293 §3.10.7.4)", () => {
  it("a retransmitted FIN in TIME-WAIT is ACKed again and restarts the 2 MSL timer", () => {
    const { h, conn, base, peerSeq } = establishScripted({ profile: "windows", mss: 1000 });
    const msl = conn.c.profile.mslMs;
    conn.c.close(h.now);
    h.collect();
    h.advance(10);
    conn.peer({ flags: TCP_ACK | TCP_FIN, seq: peerSeq, ack: base + 1 });
    expect(conn.c.state).toBe("TIME-WAIT");
    h.take();
    h.advance(1000);
    conn.peer({ flags: TCP_ACK | TCP_FIN, seq: peerSeq, ack: base + 1 });
    const a = h.take();
    expect(a.map((s) => [s.flags, s.tcp.seq, s.tcp.ack])).toEqual([[".", base + 1, peerSeq + 1]]);
    const restart = h.now;
    h.advanceTo(restart + 2 * msl - 1);
    expect(conn.c.state).toBe("TIME-WAIT");
    h.advanceTo(restart + 2 * msl);
    expect(conn.c.state).toBe("CLOSED");
    expect(conn.outcome).toEqual({ kind: "finished" });
  });
});

describe("RST in TIME-WAIT (timeWait rfc9293 / rfc1337 / freebsd: freebsd rcv-rst-time-wait, rcv-rst-ack-time-wait)", () => {
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

describe("timeWait freebsd: tcp_twcheck() (freebsd rcv-ack-time-wait, rcv-fin-time-wait)", () => {
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
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 5000, options: FREEBSD_PEER_OPTIONS });
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
