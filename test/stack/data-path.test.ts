// Exact-segment checks of the data path against a scripted peer: fast retransmit, NewReno,
// RTO backoff and give-up, zero-window probing, SACK use, delayed ACKs, out-of-order
// reassembly, window scaling, timestamps/PAWS.
import { describe, expect, it } from "vitest";
import { establishScripted, PEER_ISS } from "./scripted.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, type TcpOption } from "../../stack/wire/types.js";
import { seqAdd } from "../../stack/tcp/seq.js";
import { patternBytes } from "./pair.js";

const ACK = TCP_ACK;

describe("fast retransmit and NewReno recovery (RFC 5681 §3.2, RFC 6582)", () => {
  it("three duplicate ACKs retransmit the first unacknowledged segment at once, without an RTO", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    const data = patternBytes(8000);
    conn.c.send(data, h.now);
    h.collect();
    const first = h.take();
    // Initial window: 10 segments (RFC 6928) but only 8 are needed.
    expect(first.map((s) => s.tcp.payload.length)).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
    expect(first.map((s) => s.tcp.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => base + i * 1000));
    h.advance(50);
    // Segment 2 (seq base+1000) was lost: the peer ACKs 1000 and then duplicates.
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000 });
    expect(h.take().length).toBe(0);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000 });
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000 });
    // RFC 3042 limited transmit: nothing new to send, so still quiet after two duplicates.
    expect(h.take().length).toBe(0);
    const t = h.now;
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000 });
    const rx = h.take();
    expect(rx.length).toBe(1);
    expect(rx[0].t).toBe(t);
    expect(rx[0].tcp.seq).toBe(base + 1000);
    expect(Array.from(rx[0].tcp.payload)).toEqual(Array.from(data.subarray(1000, 2000)));
    expect(conn.c.sender.fastRetransmits).toBe(1);
    expect(conn.c.sender.timeouts).toBe(0);
    // ssthresh = FlightSize/2 = 3500 (7000 outstanding), cwnd = ssthresh + 3*SMSS.
    expect(conn.c.ssthresh).toBe(3500);
    expect(conn.c.cwnd).toBe(6500);
    // The full ACK ends recovery: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 8000 });
    expect(conn.c.sndUna).toBe(base + 8000);
    expect(conn.c.cwnd).toBe(2000);
    expect(conn.c.sender.timeouts).toBe(0);
  });

  it("a partial ACK retransmits the next hole at once (RFC 6582 §3.2 step 5)", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.c.send(patternBytes(8000), h.now);
    h.collect();
    h.take();
    h.advance(50);
    // Segments 2 and 5 lost.
    for (let i = 0; i < 4; i++) conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000 });
    expect(h.take().map((s) => s.tcp.seq)).toEqual([base + 1000]);
    h.advance(50);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 4000 });
    const r = h.take();
    expect(r[0].tcp.seq).toBe(base + 4000);
    expect(r[0].tcp.payload.length).toBe(1000);
    expect(conn.c.sender.timeouts).toBe(0);
  });
});

describe("retransmission timeout (RFC 6298) and give-up (RFC 1122 R2)", () => {
  it("backs off exponentially and gives up with timedOut after the profile's data retries", () => {
    // windows: RTT 100 ms -> RTO = max(300, 100 + 4*50) = 300 ms; 5 retransmissions.
    const { h, conn, base } = establishScripted({ mss: 1000, rttMs: 100 });
    expect(conn.c.rto.rtoMs).toBe(300);
    const t0 = h.now;
    conn.c.send(patternBytes(100), h.now);
    h.collect();
    h.advance(60_000);
    const sent = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(sent.every((s) => s.tcp.seq === base)).toBe(true);
    expect(sent.map((s) => s.t - t0)).toEqual([0, 300, 900, 2100, 4500, 9300]);
    expect(conn.outcome).toEqual({ kind: "timedOut" });
    expect(conn.outcomeAt! - t0).toBe(18_900);
    expect(conn.c.state).toBe("CLOSED");
    expect(h.stack.connectionCount).toBe(0);
  });

  it("Karn: no RTT sample from a retransmitted segment; a fresh one restores the RTO", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000, rttMs: 100 });
    conn.c.send(patternBytes(100), h.now);
    h.collect();
    h.advance(300); // first RTO: retransmission, RTO backed off to 600
    expect(conn.c.rto.rtoMs).toBe(600);
    h.advance(10);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 100 });
    // The ACK could be for either transmission: no sample, the backed-off RTO stays.
    expect(conn.c.rto.rtoMs).toBe(600);
    expect(conn.c.rto.srttMs).toBe(100);
    conn.c.send(patternBytes(100), h.now);
    h.collect();
    h.advance(80);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 200 });
    expect(conn.c.rto.srttMs).toBeCloseTo(0.875 * 100 + 0.125 * 80);
    expect(conn.c.rto.rtoMs).toBe(300);
  });

  it("after a timeout, data the peer SACKed is not sent again", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000, sackOK: true, rttMs: 100 });
    expect(conn.c.sackEnabled).toBe(true);
    conn.c.send(patternBytes(8000), h.now);
    h.collect();
    h.take();
    h.advance(50);
    // Segment 2 lost; the peer holds 3..8 and says so.
    const sack: TcpOption[] = [{ kind: "nop" }, { kind: "nop" }, { kind: "sack", blocks: [[base + 2000, base + 8000]] }];
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000, options: sack });
    h.advance(300);
    const r1 = h.take();
    expect(r1.map((s) => [s.tcp.seq, s.tcp.payload.length])).toEqual([[base + 1000, 1000]]);
    expect(conn.c.sender.timeouts).toBe(1);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 2000, options: sack });
    // Everything above is SACKed: nothing more is resent; the cumulative ACK finishes it.
    expect(h.take().filter((s) => s.tcp.payload.length > 0)).toEqual([]);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 8000 });
    h.advance(5000);
    expect(h.take().filter((s) => s.tcp.payload.length > 0)).toEqual([]);
    expect(conn.c.sender.retransmits).toBe(1);
  });
});

describe("zero window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17)", () => {
  it("probes a closed window with backoff and resumes when it opens", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000, window: 3000, rttMs: 100 });
    const data = patternBytes(5000);
    conn.c.send(data, h.now);
    h.collect();
    expect(h.take().map((s) => s.tcp.payload.length)).toEqual([1000, 1000, 1000]);
    h.advance(50);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 3000, window: 0 });
    expect(h.take()).toEqual([]);
    const t0 = h.now;
    h.advance(1000);
    let probes = h.take();
    // Persist timer: RTO (300 ms), then doubling: 300, 900.
    expect(probes.map((s) => [s.t - t0, s.tcp.seq, s.tcp.payload.length])).toEqual([
      [300, base + 3000, 1],
      [900, base + 3000, 1],
    ]);
    expect(Array.from(probes[0].tcp.payload)).toEqual([data[3000]]);
    // The peer answers each probe with a zero window: probing goes on past the R2 count.
    for (let i = 0; i < 8; i++) {
      conn.peer({ flags: ACK, seq: peerSeq, ack: base + 3000, window: 0 });
      h.advance(conn.c.nextDeadline() - h.now);
    }
    probes = h.take();
    expect(probes.length).toBeGreaterThanOrEqual(8);
    expect(conn.c.state).toBe("ESTABLISHED");
    expect(conn.c.sender.zeroWindowProbes).toBeGreaterThan(conn.c.profile.dataRetries);
    // The window opens; the peer took the probe byte.
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 3001, window: 4000 });
    expect(h.take().map((s) => [s.tcp.seq, s.tcp.payload.length])).toEqual([[base + 3001, 1000]]);
    // Nagle holds the 999-byte tail until that segment is acknowledged.
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 4001, window: 4000 });
    const tail = h.take();
    expect(tail.map((s) => [s.tcp.seq, s.tcp.payload.length])).toEqual([[base + 4001, 999]]);
    expect(tail[0].tcp.flags & TCP_PSH).toBe(TCP_PSH);
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 5000 });
    expect(conn.c.sendBuffered).toBe(0);
    expect(conn.c.totalAcked).toBe(5000);
  });

  it("gives up with timedOut when probes go unanswered", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000, window: 1000, rttMs: 100 });
    conn.c.send(patternBytes(3000), h.now);
    h.collect();
    conn.peer({ flags: ACK, seq: peerSeq, ack: base + 1000, window: 0 });
    h.advance(600_000);
    expect(conn.outcome?.kind).toBe("timedOut");
    expect(conn.c.sender.zeroWindowProbes).toBe(conn.c.profile.dataRetries);
  });
});

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

void PEER_ISS;
