// Closing: graceful (active, passive, simultaneous), TIME-WAIT, FIN retransmission,
// abortive close, RST after ESTABLISHED and the RFC 5961 checks, between two real stacks
// or against a scripted peer.
import { describe, expect, it } from "vitest";
import { Pair, patternBytes } from "./pair.js";
import { establishScripted } from "./scripted.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { CHALLENGE_ACK_LIMIT } from "../../stack/tcp/challenge-ack.js";

const MSL_LINUX = 30_000;

function lossless(): Pair {
  return new Pair({ seed: 7, delayMs: 10 });
}

describe("graceful close between two stacks (RFC 9293 §3.6)", () => {
  it("active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2 MSL; the peer goes CLOSE-WAIT, LAST-ACK, CLOSED", () => {
    const p = lossless();
    const { client, server } = p.establish();
    const events: string[] = [];
    client.events = { ...client.events, finAcked: () => events.push("client finAcked") };
    server.events = { ...server.events, peerFin: () => events.push("server peerFin") };
    const mark = p.captured.length;
    client.close(p.now);
    expect(client.state).toBe("FIN-WAIT-1");
    p.run(p.now + 1000);
    expect(client.state).toBe("FIN-WAIT-2");
    expect(server.state).toBe("CLOSE-WAIT");
    expect(events).toEqual(["server peerFin", "client finAcked"]);
    server.close(p.now);
    expect(server.state).toBe("LAST-ACK");
    p.run(p.now + 1000);
    expect(p.describe(mark)).toEqual(["client F.", "server .", "server F.", "client ."]);
    expect(server.state).toBe("CLOSED");
    expect(p.serverOutcome).toEqual({ kind: "finished" });
    expect(client.state).toBe("TIME-WAIT");
    expect(p.clientOutcome).toEqual({ kind: "finished" });
    // TIME-WAIT lasts exactly 2 MSL from the FIN's arrival.
    const finAt = p.captured.filter((c) => c.from === "client").at(-1)!.t;
    p.run(finAt + 2 * MSL_LINUX - 1);
    expect(client.state).toBe("TIME-WAIT");
    expect(p.client.connectionCount).toBe(1);
    p.run(finAt + 2 * MSL_LINUX);
    expect(client.state).toBe("CLOSED");
    expect(p.client.connectionCount).toBe(0);
    expect(p.server.connectionCount).toBe(0);
    expect(p.describe(mark).length).toBe(4);
  });

  it("passive close: the peer's FIN first, then ours from CLOSE-WAIT", () => {
    const p = lossless();
    const { client, server } = p.establish();
    const mark = p.captured.length;
    let fin = 0;
    client.events = { ...client.events, peerFin: () => fin++ };
    server.close(p.now);
    p.run(p.now + 1000);
    expect(client.state).toBe("CLOSE-WAIT");
    expect(fin).toBe(1);
    client.close(p.now);
    p.run(p.now + 1000);
    expect(p.describe(mark)).toEqual(["server F.", "client .", "client F.", "server ."]);
    expect(client.state).toBe("CLOSED");
    expect(p.clientOutcome).toEqual({ kind: "finished" });
    expect(server.state).toBe("TIME-WAIT");
    p.run(p.now + 2 * MSL_LINUX);
    expect(server.state).toBe("CLOSED");
  });

  it("simultaneous close: both FIN-WAIT-1 -> CLOSING -> TIME-WAIT", () => {
    const p = lossless();
    const { client, server } = p.establish();
    const mark = p.captured.length;
    const states: string[] = [];
    client.close(p.now);
    server.close(p.now);
    p.run(p.now + 10, () => {
      if (client.state === "CLOSING" && !states.includes("client CLOSING")) states.push("client CLOSING");
      if (server.state === "CLOSING" && !states.includes("server CLOSING")) states.push("server CLOSING");
      return false;
    });
    expect(states).toEqual(["client CLOSING", "server CLOSING"]);
    p.run(p.now + 1000);
    expect(p.describe(mark)).toEqual(["client F.", "server F.", "client .", "server ."]);
    expect(client.state).toBe("TIME-WAIT");
    expect(server.state).toBe("TIME-WAIT");
    p.run(p.now + 2 * MSL_LINUX);
    expect(p.client.connectionCount + p.server.connectionCount).toBe(0);
  });

  it("the FIN follows queued data, and data sent before close arrives before peerFin", () => {
    const p = lossless();
    const { client, server } = p.establish();
    const got: string[] = [];
    let bytes = 0;
    server.events = {
      ...server.events,
      data: (c) => {
        bytes += c.read().length;
        got.push("data");
      },
      peerFin: () => got.push("fin"),
    };
    client.send(patternBytes(5000), p.now);
    client.close(p.now);
    p.run(p.now + 1000);
    expect(bytes).toBe(5000);
    expect(got.at(-1)).toBe("fin");
    expect(got.filter((g) => g === "fin").length).toBe(1);
    expect(client.state).toBe("FIN-WAIT-2");
  });
});

describe("close against a scripted peer", () => {
  it("retransmits a lost FIN after the RTO", () => {
    const { h, conn, base } = establishScripted({ mss: 1000, rttMs: 100 });
    conn.c.close(h.now);
    h.collect();
    const t0 = h.now;
    h.advance(1000);
    const fins = h.take().filter((s) => s.tcp.flags & TCP_FIN);
    expect(fins.map((s) => [s.t - t0, s.tcp.seq])).toEqual([
      [0, base],
      [300, base],
      [900, base],
    ]);
  });

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

describe("abortive close and RST (RFC 9293 §3.10.5, §3.10.7.4; RFC 5961)", () => {
  it("abort sends RST (with ACK, as the profile's OS does); the peer's outcome is reset, ours aborted", () => {
    const p = lossless();
    const { client, server } = p.establish();
    const mark = p.captured.length;
    server.abort(p.now);
    expect(server.outcome).toEqual({ kind: "aborted" });
    p.run(p.now + 1000);
    expect(p.describe(mark)).toEqual(["server R."]);
    expect(p.captured[mark].tcp.seq).toBe(server.sndMax);
    expect(p.captured[mark].tcp.ack).toBe(server.rcvNxt);
    expect(client.state).toBe("CLOSED");
    expect(p.clientOutcome).toEqual({ kind: "reset" });
    expect(p.client.connectionCount).toBe(0);
  });

  it("RST after ESTABLISHED with data outstanding gives outcome reset", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.c.send(patternBytes(3000), h.now);
    h.collect();
    conn.peer({ flags: TCP_RST, seq: peerSeq });
    expect(conn.outcome).toEqual({ kind: "reset" });
    expect(conn.c.state).toBe("CLOSED");
    void base;
  });

  it("an in-window RST with the wrong sequence number gets a challenge ACK; the connection survives", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.peer({ flags: TCP_RST, seq: peerSeq + 100 });
    const a = h.take();
    expect(a.map((s) => [s.flags, s.tcp.seq, s.tcp.ack])).toEqual([[".", base, peerSeq]]);
    expect(conn.c.state).toBe("ESTABLISHED");
    expect(conn.outcome).toBeUndefined();
    // Data still flows.
    conn.c.send(patternBytes(10), h.now);
    h.collect();
    expect(h.take().map((s) => s.tcp.payload.length)).toEqual([10]);
    // An out-of-window RST is dropped silently.
    conn.peer({ flags: TCP_RST, seq: peerSeq + 10_000_000 });
    expect(h.take()).toEqual([]);
    expect(conn.c.state).toBe("ESTABLISHED");
    // The exact one resets.
    conn.peer({ flags: TCP_RST, seq: peerSeq });
    expect(conn.outcome).toEqual({ kind: "reset" });
  });

  it("rate-limits challenge ACKs per connection (RFC 5961 §7)", () => {
    const { h, conn, peerSeq } = establishScripted({ mss: 1000 });
    for (let i = 0; i < CHALLENGE_ACK_LIMIT + 5; i++) conn.peer({ flags: TCP_RST, seq: peerSeq + 1 + i });
    expect(h.take().length).toBe(CHALLENGE_ACK_LIMIT);
    h.advance(5000);
    conn.peer({ flags: TCP_RST, seq: peerSeq + 1 });
    expect(h.take().length).toBe(1);
    expect(conn.c.state).toBe("ESTABLISHED");
  });

  it("a SYN in ESTABLISHED gets a challenge ACK and changes nothing (RFC 5961 §4.2)", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.peer({ flags: TCP_SYN, seq: peerSeq + 5 });
    expect(h.take().map((s) => [s.flags, s.tcp.seq, s.tcp.ack])).toEqual([[".", base, peerSeq]]);
    expect(conn.c.state).toBe("ESTABLISHED");
  });

  it("rejects data whose ACK is outside SND.UNA - MAX.SND.WND .. SND.NXT (RFC 5961 §5.2)", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    let data = 0;
    conn.c.events.data = () => data++;
    conn.peer({ flags: TCP_ACK, seq: peerSeq, ack: (base - 70_000) >>> 0, payload: patternBytes(100) });
    conn.peer({ flags: TCP_ACK, seq: peerSeq, ack: base + 5000, payload: patternBytes(100) });
    expect(data).toBe(0);
    expect(conn.c.rcvBuffered).toBe(0);
    expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([
      [".", peerSeq],
      [".", peerSeq],
    ]);
    // An ACK just below SND.UNA (within MAX.SND.WND) is fine: the data is taken.
    conn.peer({ flags: TCP_ACK, seq: peerSeq, ack: base - 10, payload: patternBytes(100) });
    expect(conn.c.rcvBuffered).toBe(100);
  });
});
