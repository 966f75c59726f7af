// The sending half (stack/tcp/sender.ts) against a scripted peer: fast retransmit and
// NewReno, RTO backoff and give-up, zero-window probing, SACK use, segment size and the
// initial window, with the policies that change them per profile (zeroWindowProbe,
// rtoFormula, peerMss, nagle; docs/profiles.md).
import { describe, expect, it } from "vitest";
import { establishScripted } from "./scripted.js";
import { TCP_ACK, TCP_PSH, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import { RtoEstimator } from "../../stack/tcp/rto.js";
import { patternBytes } from "./pair.js";
import { data, linuxConnect, linuxEstablished, open, PEER_ISN, SERVER_ISN, tsvalOf } from "./peers.js";
import { Harness } from "../helpers/vt.js";
import { seqAdd } from "../../stack/tcp/seq.js";
import { Deadline } from "../../stack/tcp/deadlines.js";

import type { ProfileOverrides } from "../../stack/tcp/profiles.js";
// The corpus scripts give exact times (their kernels ran at HZ 1000, and packetdrill's
// tolerance absorbs the timer wheel): tests after a corpus script check the policies' timing
// without the wheel (timerWheel "exact"); stack/tcp/timer-wheel.ts and the kernel-diff
// reproductions test the wheel.
const NO_WHEEL: ProfileOverrides = { timerWheel: "exact" };

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

  it("a probe left unacknowledged when the window reopens stays covered by the retransmission timer (RFC 6298 §5.1; found by the Stack.input fuzzer)", () => {
    // Before the fix the window update cancelled the persist timer while the probe byte was
    // in flight, Nagle held the rest behind it, and no timer was left: the connection hung.
    const h = new Harness({ profile: "windows" });
    const conn = h.connect("10.0.0.1:80");
    const [syn] = h.take();
    conn.peer({ flags: TCP_SYN | ACK, seq: 1000, ack: seqAdd(syn.tcp.seq, 1), window: 0, options: [{ kind: "mss", value: 1460 }] });
    h.take();
    expect(conn.c.sndWnd).toBe(0);
    conn.c.send(new Uint8Array(200).fill(1), h.now);
    h.collect();
    expect(h.take().filter((s) => s.tcp.payload.length > 0)).toEqual([]);
    h.advanceTo(conn.c.deadline(Deadline.persist));
    const [probe] = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(probe.tcp.payload.length).toBe(1);
    // The peer opens its window without acknowledging the probe byte (it was lost).
    conn.peer({ flags: ACK, seq: conn.c.rcvNxt, ack: conn.c.sndUna, window: 1000 });
    expect(conn.c.sndWnd).toBe(1000);
    expect(Number.isFinite(conn.c.nextDeadline())).toBe(true);
    expect(conn.c.timerAt).toBeLessThanOrEqual(conn.c.nextDeadline());
    h.advance(120_000);
    const data = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(data.length).toBeGreaterThan(0);
    expect(data.reduce((n, s) => Math.max(n, s.tcp.payload.length), 0)).toBe(200);
  });
});

describe("zero-window probe and RTO under the linux profile (zeroWindowProbe ackBelowUna, rtoFormula linux: linux tcp-info-rwnd-limited; kernel-diff)", () => {
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
    const { h, conn, una } = open("linux", { rttMs: 10, window: 0, options: [{ kind: "mss", value: 1000 }], overrides: NO_WHEEL });
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

  // tcp_probe_timer(): a zero window from the SYN-ACK with data queued: the kernel probes
  // (a segment with SEQ = SND.UNA-1) after the RTO.
  it("a zero window on the SYN-ACK and data queued: a window probe <SEQ=SND.UNA-1> follows within about 250 ms (kd-7-0017 frame 4 at 265 ms; kd-7-0062 frame 7)", () => {
    const { h, conn } = linuxEstablished([{ kind: "mss", value: 1460 }], 0);
    conn.c.send(new Uint8Array(100), h.now);
    h.collect();
    h.advance(400);
    const probes = h.take().filter((s) => s.flags === "." && s.tcp.payload.length === 0 && s.tcp.seq === ((conn.c.iss + 0) >>> 0));
    expect(probes.length).toBeGreaterThan(0);
    expect(probes[0]!.t).toBeLessThan(350);
  });
});

describe("segment size and initial window under the linux profile (peerMss linux, nagle minshall; kernel-diff)", () => {
  // tcp_mss_clamp / tcp_sync_mss(): the send MSS never goes below tcp_min_snd_mss (48).
  it("an MSS option of 1 on the SYN-ACK: segments of 48 bytes (kd-7-0299: 100 bytes as 48+48+4)", () => {
    const { h, conn, syn } = linuxConnect();
    h.advance(1);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1 }] });
    h.take();
    conn.c.send(new Uint8Array(100), h.now);
    h.collect();
    expect(h.take().map((s) => s.tcp.payload.length)).toEqual([48, 48, 4]);
  });

  // tcp_init_cwnd(): TCP_INIT_CWND = 10 segments, not RFC 6928's min(10*MSS, max(2*MSS, 14600))
  // bytes. The engine does this already; kept as a regression test of the kernel's behaviour.
  it("initial window with MSS 48: 10 segments (480 bytes) before the first ACK (kd-7-0246 frames 4-13)", () => {
    const { h, conn, syn } = linuxConnect();
    h.advance(20);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "sackOK" }, { kind: "mss", value: 48 }] });
    h.take();
    conn.c.send(new Uint8Array(2000), h.now);
    h.collect();
    const data = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(data.length).toBe(10);
    expect(data.every((s) => s.tcp.payload.length === 48)).toBe(true);
  });
});

describe("SACK blocks on data and FIN segments (sackOnData; kernel-diff)", () => {
  // The kernel's FIN and data segments carry the SACK blocks of the out-of-order data it
  // holds (tcp_established_options()), and the payload shrinks to leave them room
  // (tcp_current_mss()): kd-31-0142 frame 9 (FIN, ACK with SLE=1001 SRE=1002), kd-31-0233
  // frame 7 (100 bytes of data with a SACK block).
  const held = (profile: "linux" | "windows") => {
    const { h, conn, syn } = profile === "linux" ? linuxConnect() : (() => {
      const h = new Harness({ profile });
      const conn = h.connect("10.0.0.1:80");
      const [syn] = h.take();
      return { h, conn, syn: syn! };
    })();
    h.advance(5);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1000 }, { kind: "sackOK" }] });
    h.take();
    // One byte 1000 bytes ahead of RCV.NXT: held out of order.
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1001, ack: syn.tcp.seq + 1, window: 64000, payload: data(1) });
    h.take();
    return { h, conn };
  };
  const block = [[SERVER_ISN + 1001, SERVER_ISN + 1002]];
  it("linux: a full data segment carries the block and 12 bytes less payload; the FIN carries it", () => {
    const { h, conn } = held("linux");
    conn.c.send(data(1500), h.now);
    conn.c.close(h.now);
    h.collect();
    const out = h.take().filter((s) => s.tcp.payload.length > 0 || s.flags.includes("F"));
    expect(out.map((s) => s.tcp.payload.length)).toEqual([988, 512, 0]);
    for (const s of out) expect(s.tcp.options).toContainEqual({ kind: "sack", blocks: block });
    expect(out[2]!.flags).toContain("F");
  });
  it("windows: SACK blocks in pure ACKs only; a data segment is a full MSS (Nagle holds the rest)", () => {
    const { h, conn } = held("windows");
    conn.c.send(data(1500), h.now);
    h.collect();
    const out = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(out.map((s) => s.tcp.payload.length)).toEqual([1000]);
    for (const s of out) expect(s.options).not.toContain("sack");
  });
});

describe("tail loss probe (tailLossProbe linux, RFC 8985 §7; handshakeRtt, rttSample linux; kernel-diff)", () => {
  // kd-32-0304: SYN at 0, the server's crossing SYN (sackOK, TS) at 112.5 ms, our SYN-ACK at
  // once, its ACK 0.9 ms later; 2000 bytes go as 1448 + 552 at 113.7 ms and the kernel sends
  // the last segment again at 119.3 ms (frame 7), 5.6 ms later: PTO = 2 SRTT + 2 ms with
  // SRTT 0.9 ms (the SYN-ACK timed, tcp_send_synack() is no retransmission), one jiffy,
  // fired on the wheel's next tick (tcp_schedule_loss_probe(), tcp_send_loss_probe()).
  const simOpen = (profile: "linux" | "windows" = "linux") => {
    const h = new Harness({ profile });
    const conn = h.connect("10.0.0.1:80", { overrides: { jiffiesOffsetMs: 0 } });
    const [syn] = h.take();
    const iss = syn!.tcp.seq;
    h.advanceTo(112.5);
    const ts = (val: number, ecr: number): TcpOption => ({ kind: "ts", val, ecr });
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 1024, options: [{ kind: "nop" }, { kind: "sackOK" }, { kind: "nop" }, ts(5000, profile === "linux" ? tsvalOf(syn!) : 0), { kind: "mss", value: 1460 }] });
    const [synAck] = h.take();
    h.advanceTo(113.4);
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: iss + 1, window: 64000, options: [{ kind: "nop" }, { kind: "nop" }, ts(5001, profile === "linux" ? tsvalOf(synAck!) : 0)] });
    expect(conn.c.state).toBe("ESTABLISHED");
    h.take();
    return { h, conn, una: iss + 1 };
  };

  it("linux: the last segment again 2 SRTT + 2 ms after the send, on the next jiffy (kd-32-0304 frame 7: 5.6 ms later)", () => {
    const { h, conn, una } = simOpen();
    expect(conn.c.rto.srttMs).toBeCloseTo(0.9, 5);
    h.advanceTo(113.7);
    conn.c.send(data(2000), h.now);
    h.collect();
    expect(h.take().map((s) => [s.tcp.seq - una, s.tcp.payload.length])).toEqual([[0, 1448], [1448, 552]]);
    h.advanceTo(150);
    const probe = h.take();
    expect(probe.map((s) => [s.flags, s.tcp.seq - una, s.tcp.payload.length])).toEqual([["P.", 1448, 552]]);
    // 2 x 0.9 + 2 = 3.8 ms: one jiffy (4 ms at HZ 250) from tick 28, fired at tick 30.
    expect(probe[0]!.t).toBe(120);
    expect(Math.abs(probe[0]!.t - 119.3)).toBeLessThan(2);
    expect(conn.c.sender.retransmits).toBe(1);
    expect(conn.c.sender.timeouts).toBe(0);
  });

  it("linux: one probe per tail; unanswered, the retransmission timer follows from the probe (RTO restarted, not backed off first)", () => {
    const { h, conn, una } = simOpen();
    h.advanceTo(113.7);
    conn.c.send(data(2000), h.now);
    h.collect();
    h.take();
    h.advanceTo(700);
    const out = h.take().map((s) => [s.tcp.seq - una, s.tcp.payload.length, s.t]);
    // The probe at 120, then the RTO (SRTT + 200 ms, rounded on the wheel) from SND.UNA.
    expect(out[0]).toEqual([1448, 552, 120]);
    expect(out[1]!.slice(0, 2)).toEqual([0, 1448]);
    expect(out[1]![2]).toBeGreaterThanOrEqual(120 + 200);
    expect(out[1]![2]).toBeLessThan(120 + 210);
    expect(conn.c.sender.timeouts).toBe(1);
  });

  it("linux: with new data the window takes, the probe sends new data, not a retransmission (kd-41-0301 frame 29: the next new segment 12.4 ms after the last)", () => {
    const { h, conn, una } = simOpen();
    h.advanceTo(113.7);
    // More than the initial window of 10 segments.
    conn.c.send(data(20_000), h.now);
    h.collect();
    const first = h.take();
    expect(first.length).toBe(10);
    h.advanceTo(150);
    const probe = h.take();
    expect(probe.map((s) => [s.tcp.seq - una, s.tcp.payload.length])).toEqual([[10 * 1448, 1448]]);
    expect(conn.c.sender.retransmits).toBe(0);
  });

  it("linux: no probe without SACK; windows: none at all, the RTO retransmits", () => {
    const w = simOpen("windows");
    w.h.advanceTo(113.7);
    w.conn.c.send(data(2000), w.h.now);
    w.h.collect();
    w.h.take();
    w.h.advanceTo(150);
    expect(w.h.take()).toEqual([]);
    const { h, conn, syn } = linuxConnect();
    h.advance(1);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }] });
    h.take();
    conn.c.send(data(2000), h.now);
    h.collect();
    h.take();
    h.advance(150);
    expect(h.take()).toEqual([]);
  });

  it("linux: one segment out: PTO 2 SRTT + rtoMinMs, capped by the RTO, so the probe goes when the RTO would and the next timeout is not doubled", () => {
    const { h, conn, syn } = linuxConnect({ jiffiesOffsetMs: 0 });
    h.advance(10);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }] });
    h.take();
    const t0 = h.now;
    conn.c.send(data(100), h.now);
    h.collect();
    h.take();
    h.advance(1000);
    const out = h.take().map((s) => s.t - t0);
    // RTO = SRTT + 200 = 210 ms; the probe at the RTO's time (on the wheel), the RTO 210 ms
    // after it, then the doubled one.
    expect(out.length).toBe(3);
    expect(out[0]).toBeGreaterThanOrEqual(210);
    expect(out[0]).toBeLessThan(218);
    expect(out[1]! - out[0]!).toBeGreaterThanOrEqual(210);
    expect(out[1]! - out[0]!).toBeLessThan(218);
    expect(out[2]! - out[1]!).toBeGreaterThanOrEqual(420);
  });

  // rttSample "linux": every ACK of new data is one sample, the time since the oldest newly
  // acknowledged segment was sent, SRTT moving by 1/8 each (tcp_rtt_estimator()), not by
  // 1/8 divided by the samples per RTT. kd-31-0304: after a retransmitted SYN (no sample),
  // ACKs at 0.9, 1.8, 2.6 and 3.2 ms after the sends take SRTT to about 1.5 ms, so the probe
  // after the ACK at 1021.6 ms waits 2 jiffies and the next ACK (1029.7 ms) comes first.
  it("linux: SRTT from the send times of the segments, 1/8 per ACK (kd-31-0304)", () => {
    const { h, conn, syn } = linuxConnect();
    h.advance(5);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 64 }, { kind: "sackOK" }] });
    h.take();
    expect(conn.c.rto.srttMs).toBe(5);
    conn.c.send(data(640), h.now);
    h.collect();
    const sent = h.take();
    expect(sent.length).toBe(10);
    let srtt = 5;
    for (const [i, rtt] of [0.9, 1.8, 2.6, 3.2].entries()) {
      h.advanceTo(sent[0]!.t + rtt);
      conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: sent[i]!.tcp.seq + 64, window: 64000 });
      srtt += (rtt - srtt) / 8;
      expect(conn.c.rto.srttMs).toBeCloseTo(srtt, 6);
    }
  });

  it("handshakeRtt linux: a retransmitted SYN is timed by the SYN-ACK's TSecr (at least 1 ms); without timestamps no sample and an RTO of 3 s", () => {
    const r = linuxConnect();
    r.h.advance(1100);
    const [again] = r.h.take();
    expect(again!.flags).toBe("S");
    // The SYN-ACK echoes the first SYN's TSval, 1107 ms before: the sample is the echo's age.
    r.h.advanceTo(1107);
    r.conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: r.syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }, { kind: "ts", val: 1, ecr: tsvalOf(r.syn) }] });
    expect(r.conn.c.rto.srttMs).toBe(1107);
    const e = linuxConnect();
    e.h.advance(1025);
    const [again2] = e.h.take();
    e.h.advanceTo(Math.floor(again2!.t) + 7);
    e.conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: e.syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }, { kind: "ts", val: 1, ecr: tsvalOf(again2!) }] });
    expect(e.conn.c.rto.srttMs).toBe(7);
    const n = linuxConnect();
    n.h.advance(1100);
    n.h.take();
    n.h.advance(7);
    n.conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: n.syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }] });
    expect(n.conn.c.rto.hasSample).toBe(false);
    expect(n.conn.c.rto.rtoMs).toBe(3000);
  });
});
