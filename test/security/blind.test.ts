// Blind (off-path) attacks on a pending and an established connection, RFC 5961 and
// RFC 9293 §3.10.7.3-4, and ICMP errors quoting the wrong sequence number (RFC 5927).
// The attacker knows the 4-tuple but not the sequence numbers: its guesses are sampled over
// the whole 2^32 space (10 000 seeded random values) plus the edges of the windows. Each
// guess must be dropped or answered exactly as the RFCs say, and the connection must then
// still complete its handshake / still move data.
import { describe, expect, it } from "vitest";
import { Conn, Harness, type Sent } from "../helpers/vt.js";
import { seededRandom } from "../../stack/random.js";
import { seqAdd, seqDiff, seqGt, seqInWindow, seqLe, seqLt } from "../../stack/tcp/seq.js";
import { CHALLENGE_ACK_LIMIT, CHALLENGE_ACK_PERIOD_MS } from "../../stack/tcp/challenge-ack.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";

const SAMPLES = 10_000;

/** 10 000 seeded uniform 32-bit values (the attacker's guesses). */
function guesses(seed: number, n = SAMPLES): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => r.nextUint32());
}

/** Values around `x` (x-2 .. x+2) and the far side of the sequence space. */
function around(x: number): number[] {
  return [-2, -1, 0, 1, 2, 0x7fffffff, 0x80000000, 0x80000001].map((d) => seqAdd(x, d));
}

/** A pending connection: SYN sent, no answer yet. */
function pending(profile: ProfileName, seed = 1): { h: Harness; conn: Conn; iss: number } {
  const h = new Harness({ profile, seed });
  const conn = h.connect("10.0.0.1:80");
  const [syn] = h.take();
  expect(syn.flags).toBe("S");
  return { h, conn, iss: syn.tcp.seq };
}

/** An established connection; the peer's ISS sits just below 2^32 so tests cross the wrap. */
function established(profile: ProfileName, seed = 1): { h: Harness; conn: Conn; irs: number } {
  const { h, conn, iss } = pending(profile, seed);
  const irs = 0xffffff00;
  conn.peer({ flags: TCP_SYN | TCP_ACK, seq: irs, ack: seqAdd(iss, 1), options: [{ kind: "mss", value: 1460 }, { kind: "wscale", shift: 7 }, { kind: "sackOK" }, ...tsOpt(conn, 100)] });
  expect(conn.c.state).toBe("ESTABLISHED");
  expect(h.take().map((s) => s.flags)).toEqual(["."]);
  return { h, conn, irs };
}

/** A plausible TSval when timestamps are on (the attacker's best case: PAWS lets it pass). */
function tsOpt(conn: Conn, val: number): TcpOption[] {
  return conn.c.profile.timestamps ? [{ kind: "ts", val, ecr: 0 }] : [];
}

/** The receive window we advertise, in bytes (RFC 7323 §2.3: scaled outside SYNs). */
function rcvWnd(conn: Conn, h: Harness): number {
  const lastAck = [...h.sent].reverse().find((s) => s.tcp.flags & TCP_ACK && !(s.tcp.flags & TCP_SYN))!;
  return lastAck.tcp.window << conn.c.rcvWscale;
}

/** The form of every challenge / duplicate ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, no data. */
function expectPureAck(s: Sent, conn: Conn): void {
  expect(s.flags).toBe(".");
  expect(s.tcp.seq).toBe(conn.c.sndMax);
  expect(s.tcp.ack).toBe(conn.c.rcvNxt);
  expect(s.tcp.payload.length).toBe(0);
}

/** The peer, honest: data at RCV.NXT acknowledging everything. */
function honestData(conn: Conn, data: Uint8Array, tsVal = 1_000_000): void {
  conn.peer({ flags: TCP_ACK | TCP_PSH, seq: conn.c.rcvNxt, ack: conn.c.sndNxt, payload: data, options: tsOpt(conn, tsVal) });
}

/** Data still flows both ways after an attack. */
function expectStillTransfers(h: Harness, conn: Conn): void {
  expect(conn.c.state).toBe("ESTABLISHED");
  h.take();
  const before = conn.c.rcvNxt;
  honestData(conn, new TextEncoder().encode("hello"));
  expect(conn.c.rcvNxt).toBe(seqAdd(before, 5));
  expect(new TextDecoder().decode(conn.c.read())).toBe("hello");
  const sndBefore = conn.c.sndNxt;
  expect(conn.c.send(new TextEncoder().encode("world"), h.now)).toBe(5);
  h.collect();
  const out = h.take().filter((s) => s.tcp.payload.length > 0);
  expect(out.length).toBe(1);
  expect(out[0].tcp.seq).toBe(sndBefore);
  expect(new TextDecoder().decode(out[0].tcp.payload)).toBe("world");
  conn.peer({ flags: TCP_ACK, seq: conn.c.rcvNxt, ack: seqAdd(sndBefore, 5), options: tsOpt(conn, 1_000_001) });
  expect(conn.c.sndUna).toBe(seqAdd(sndBefore, 5));
  expect(conn.outcome).toBeUndefined();
}

// ---------------------------------------------------------------------------------

describe("blind attacks on a pending connection (SYN-SENT, RFC 9293 §3.10.7.3)", () => {
  for (const profile of ["linux", "windows"] as ProfileName[]) {
    describe(profile, () => {
      it(`spoofed RST without ACK, ${SAMPLES} sequence numbers: all dropped silently`, () => {
        const { h, conn, iss } = pending(profile);
        for (const seq of [...guesses(11), ...around(iss), ...around(0)]) conn.peer({ flags: TCP_RST, seq });
        expect(h.take()).toEqual([]);
        expect(conn.c.state).toBe("SYN-SENT");
        expect(h.stack.stats.rxDropped).toBe(SAMPLES + 16);
      });

      it(`spoofed RST+ACK with ${SAMPLES} wrong ACK numbers: dropped; only SEG.ACK = ISS+1 is acceptable`, () => {
        const { h, conn, iss } = pending(profile);
        let tried = 0;
        for (const ack of [...guesses(12), ...around(iss), ...around(seqAdd(iss, 1))]) {
          if (ack === seqAdd(iss, 1)) continue; // the one acceptable value, tested below
          conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack });
          tried++;
        }
        expect(tried).toBeGreaterThanOrEqual(SAMPLES);
        // "If the RST bit is set [and the ACK is not acceptable], drop the segment and return."
        expect(h.take()).toEqual([]);
        expect(conn.c.state).toBe("SYN-SENT");
        expect(conn.outcome).toBeUndefined();
      });

      it(`spoofed SYN-ACK / ACK / data with ${SAMPLES} wrong ACK numbers: each answered <SEQ=SEG.ACK><CTL=RST>, the connection waits on`, () => {
        const { h, conn, iss } = pending(profile);
        const r = seededRandom(13);
        const acks = [...guesses(14), ...around(iss), seqAdd(iss, 2)].filter((a) => a !== seqAdd(iss, 1));
        const kinds = [TCP_SYN | TCP_ACK, TCP_ACK, TCP_ACK | TCP_PSH];
        for (let i = 0; i < acks.length; i++) {
          const flags = kinds[i % 3];
          conn.peer({ flags, seq: r.nextUint32(), ack: acks[i], payload: flags & TCP_PSH ? new Uint8Array([1, 2, 3]) : undefined });
          const out = h.take();
          // RFC 9293 §3.10.7.3: SEG.ACK =< ISS or SEG.ACK > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>.
          expect(out.length).toBe(1);
          expect(out[0].flags).toBe("R");
          expect(out[0].tcp.seq).toBe(acks[i]);
          expect(conn.c.state).toBe("SYN-SENT");
        }
        expect(conn.c.rcvBuffered).toBe(0);
      });

      it("spoofed data and ACKs without SYN that do acknowledge the SYN: dropped (fifth check)", () => {
        const { h, conn, iss } = pending(profile);
        for (const seq of guesses(15, 1000)) conn.peer({ flags: TCP_ACK | TCP_PSH, seq, ack: seqAdd(iss, 1), payload: new Uint8Array([9]) });
        for (const seq of guesses(16, 1000)) conn.peer({ flags: TCP_PSH, seq, payload: new Uint8Array([9]) });
        expect(h.take()).toEqual([]);
        expect(conn.c.state).toBe("SYN-SENT");
        expect(conn.c.rcvBuffered).toBe(0);
      });

      it("after all of that the real SYN-ACK completes the handshake, and the SYN schedule was not disturbed", () => {
        const { h, conn, iss } = pending(profile);
        const undisturbed = pending(profile);
        for (const v of guesses(17, 3000)) {
          conn.peer({ flags: TCP_RST, seq: v });
          if (v !== seqAdd(iss, 1)) conn.peer({ flags: TCP_RST | TCP_ACK, seq: v, ack: v });
          if (v !== seqAdd(iss, 1)) conn.peer({ flags: TCP_SYN | TCP_ACK, seq: v, ack: v });
        }
        h.advanceTo(5000);
        undisturbed.h.advanceTo(5000);
        const synTimes = (x: Harness) => x.sent.filter((s) => s.flags === "S").map((s) => s.t);
        if (profile === "linux") {
          // Linux re-sends the SYN 8 ms after its first bad-ACK RST (badAckSynRetransmitMs, as
          // the kernel does; the timer wheel fires it up to a tick later); that is one
          // retransmission early, and the schedule goes on from it (1 s waits, each fired by
          // the wheel up to 36 ms late), nothing more.
          const linux = synTimes(h);
          expect(linux[0]).toBe(0);
          expect(linux[1]).toBeGreaterThan(8);
          expect(linux[1]).toBeLessThanOrEqual(12);
          for (let k = 2; k < linux.length; k++) expect(linux[k] - linux[k - 1]).toBeGreaterThanOrEqual(1000);
          for (let k = 2; k < linux.length; k++) expect(linux[k] - linux[k - 1]).toBeLessThanOrEqual(1036);
          expect(linux.length).toBe(synTimes(undisturbed.h).length + 1);
        } else {
          expect(synTimes(h)).toEqual(synTimes(undisturbed.h));
        }
        h.take();
        conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 777, ack: seqAdd(iss, 1), options: [{ kind: "mss", value: 1460 }] });
        expect(conn.c.state).toBe("ESTABLISHED");
        expect(conn.establishedAt).toBe(5000);
        const ack = h.take();
        expect(ack.length).toBe(1);
        expect(ack[0].flags).toBe(".");
        expect(ack[0].tcp.ack).toBe(778);
      });
    });
  }

  it("control: the one acceptable RST (SEG.ACK = ISS+1) does end the connect (linux: refused at once)", () => {
    const { conn, iss } = pending("linux");
    conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack: seqAdd(iss, 1) });
    expect(conn.outcome).toEqual({ kind: "refused" });
  });

  it("documented RFC 9293 behaviour, not a defence: a spoofed SYN without ACK turns SYN-SENT into SYN-RECEIVED (simultaneous open)", () => {
    // RFC 9293 §3.10.7.3 fourth step / §3.5 figure 8. RFC 5961 does not cover SYN-SENT; an
    // off-path attacker that guesses the 4-tuple (the ephemeral port is random, RFC 6056)
    // needs no sequence number here. Linux and FreeBSD behave the same. See docs/robustness.md.
    const { h, conn, iss } = pending("linux");
    conn.peer({ flags: TCP_SYN, seq: 123456 });
    expect(conn.c.state).toBe("SYN-RECEIVED");
    const [synAck] = h.take();
    expect(synAck.flags).toBe("S.");
    expect(synAck.tcp.seq).toBe(iss);
    expect(synAck.tcp.ack).toBe(123457);
  });
});

// ---------------------------------------------------------------------------------

describe("blind attacks on an established connection (RFC 5961, RFC 9293 §3.10.7.4)", () => {
  for (const profile of ["windows", "linux"] as ProfileName[]) {
    describe(profile, () => {
      it(`spoofed RST, ${SAMPLES} sequence numbers outside the window: dropped silently`, () => {
        const { h, conn } = established(profile);
        const wnd = rcvWnd(conn, h);
        expect(wnd).toBeGreaterThan(0);
        const rcvNxt = conn.c.rcvNxt;
        const outside = [...guesses(21), ...around(rcvNxt), seqAdd(rcvNxt, wnd), seqAdd(rcvNxt, wnd + 1)].filter((s) => !seqInWindow(s, rcvNxt, seqAdd(rcvNxt, wnd)));
        expect(outside.length).toBeGreaterThanOrEqual(SAMPLES);
        const dropped0 = h.stack.stats.rxDropped;
        for (const seq of outside) conn.peer({ flags: TCP_RST, seq });
        for (const seq of outside.slice(0, 1000)) conn.peer({ flags: TCP_RST | TCP_ACK, seq, ack: conn.c.sndNxt });
        // RFC 5961 §3.2: "If the RST bit is set and the sequence number is outside the
        // current receive window, silently drop the segment."
        expect(h.take()).toEqual([]);
        expect(conn.c.state).toBe("ESTABLISHED");
        expect(h.stack.stats.rxDropped - dropped0).toBe(outside.length + 1000);
        expectStillTransfers(h, conn);
      });

      it("spoofed RST inside the window but not at RCV.NXT: challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, connection survives", () => {
        const { h, conn } = established(profile);
        const wnd = rcvWnd(conn, h);
        const rcvNxt = conn.c.rcvNxt;
        const r = seededRandom(22);
        const inside = [seqAdd(rcvNxt, 1), seqAdd(rcvNxt, 2), seqAdd(rcvNxt, wnd - 1), seqAdd(rcvNxt, wnd >>> 1)];
        for (let i = 0; i < 46; i++) inside.push(seqAdd(rcvNxt, 1 + (r.nextUint32() % (wnd - 1))));
        // Spaced out so the RFC 5961 §7 rate limit does not apply: each one is answered.
        const gapMs = Math.ceil(CHALLENGE_ACK_PERIOD_MS / CHALLENGE_ACK_LIMIT) + 1;
        for (const seq of inside) {
          h.advance(gapMs);
          h.take();
          conn.peer({ flags: TCP_RST, seq });
          const out = h.take();
          expect(out.length).toBe(1);
          expectPureAck(out[0], conn);
          expect(conn.c.state).toBe("ESTABLISHED");
        }
        expectStillTransfers(h, conn);
      });

      it(`challenge ACKs are rate-limited (RFC 5961 §7): a burst of in-window RSTs gets at most ${CHALLENGE_ACK_LIMIT} per ${CHALLENGE_ACK_PERIOD_MS} ms`, () => {
        const { h, conn } = established(profile);
        const rcvNxt = conn.c.rcvNxt;
        for (let i = 0; i < 1000; i++) conn.peer({ flags: TCP_RST, seq: seqAdd(rcvNxt, 1 + (i % 1000)) });
        const burst = h.take();
        // Linux limits per socket first (tcp_oow_rate_limited, one per 500 ms), then RFC 5961 §7.
        expect(burst.length).toBe(profile === "linux" ? 1 : CHALLENGE_ACK_LIMIT);
        for (const s of burst) expectPureAck(s, conn);
        h.advance(CHALLENGE_ACK_PERIOD_MS);
        h.take();
        conn.peer({ flags: TCP_RST, seq: seqAdd(rcvNxt, 5) });
        expect(h.take().length).toBe(1);
        expect(conn.c.state).toBe("ESTABLISHED");
      });

      it("control: the RST at exactly RCV.NXT resets the connection", () => {
        const { conn } = established(profile);
        conn.peer({ flags: TCP_RST, seq: conn.c.rcvNxt });
        expect(conn.outcome).toEqual({ kind: "reset" });
      });

      it(`spoofed SYN with ${SAMPLES} sequence numbers: never resets; answered only by ACKs of the right form (RFC 5961 §4.2)`, () => {
        const { h, conn } = established(profile);
        const rcvNxt = conn.c.rcvNxt;
        const sndNxt = conn.c.sndNxt;
        const seqs = [...guesses(23), ...around(rcvNxt)];
        let answers = 0;
        for (const seq of seqs) {
          conn.peer({ flags: TCP_SYN, seq, options: [{ kind: "mss", value: 1460 }] });
          const out = h.take();
          expect(out.length).toBeLessThanOrEqual(1);
          for (const s of out) expectPureAck(s, conn);
          answers += out.length;
        }
        for (const seq of seqs.slice(0, 2000)) conn.peer({ flags: TCP_SYN | TCP_ACK, seq, ack: sndNxt });
        for (const s of h.take()) expectPureAck(s, conn);
        expect(answers).toBeGreaterThan(0);
        expect(conn.c.rcvNxt).toBe(rcvNxt);
        expect(conn.c.state).toBe("ESTABLISHED");
        expectStillTransfers(h, conn);
      });

      it(`spoofed data at RCV.NXT with ${SAMPLES} ACK numbers: accepted only if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT (RFC 5961 §5.2; linux: MAX.SND.WND at most the bytes acknowledged, challengeAck)`, () => {
        const { h, conn } = established(profile);
        let accepted = 0;
        let refused = 0;
        // Linux tcp_ack(): "do not accept ACK for bytes we never sent" (min(max_window, bytes_acked)).
        const wnd = () => (conn.c.profile.challengeAck === "linux" ? Math.min(conn.c.maxSndWnd, seqDiff(conn.c.sndUna, conn.c.iss)) : conn.c.maxSndWnd);
        const acks = [...guesses(24), ...around(conn.c.sndUna), seqAdd(conn.c.sndUna, -wnd()), seqAdd(conn.c.sndUna, -wnd() - 1)];
        for (const ack of acks) {
          const rcvNxt = conn.c.rcvNxt;
          const lo = seqAdd(conn.c.sndUna, -wnd());
          const plausible = !seqLt(ack, lo) && seqLe(ack, conn.c.sndMax);
          conn.peer({ flags: TCP_ACK | TCP_PSH, seq: rcvNxt, ack, payload: new Uint8Array([0x66]), options: tsOpt(conn, 200) });
          if (plausible) {
            expect(conn.c.rcvNxt).toBe(seqAdd(rcvNxt, 1));
            accepted++;
          } else {
            expect(conn.c.rcvNxt).toBe(rcvNxt);
            refused++;
          }
          for (const s of h.take()) expectPureAck(s, conn);
        }
        expect(refused).toBeGreaterThanOrEqual(SAMPLES - 5);
        expect(accepted).toBeGreaterThanOrEqual(3); // the edges inside the range
        expect(conn.c.rcvBuffered).toBe(accepted);
        conn.c.read();
        expectStillTransfers(h, conn);
      });

      it(`spoofed data with a valid ACK and ${SAMPLES} sequence numbers: nothing is delivered; in-window guesses are only queued`, () => {
        const { h, conn } = established(profile);
        const wnd = rcvWnd(conn, h);
        const rcvNxt = conn.c.rcvNxt;
        // Edges: just past RCV.NXT (in window, out of order), the last window byte, just past
        // the window, wholly old text, and the far side of the space.
        // (In-window guesses are kept clear of RCV.NXT: queued text that the honest "hello"
        // below would make contiguous is, per RFC 9293, delivered with it.)
        const edges = [seqAdd(rcvNxt, 100), seqAdd(rcvNxt, wnd - 1), seqAdd(rcvNxt, wnd), seqAdd(rcvNxt, -10), seqAdd(rcvNxt, -20), seqAdd(rcvNxt, 0x80000000)];
        let inWindow = 0;
        for (const seq of [...guesses(25), ...edges]) {
          if (seqInWindow(seq, rcvNxt, seqAdd(rcvNxt, wnd))) inWindow++;
          conn.peer({ flags: TCP_ACK | TCP_PSH, seq, ack: conn.c.sndNxt, payload: new Uint8Array(10).fill(0x77), options: tsOpt(conn, 300) });
          for (const s of h.take()) expectPureAck(s, conn);
        }
        // RFC 9293 §3.10.7.4 first check: text outside the window is not accepted; text in the
        // window past RCV.NXT is held for reassembly, never handed to the user out of order.
        expect(conn.c.rcvNxt).toBe(rcvNxt);
        expect(conn.c.rcvBuffered).toBe(0);
        expect(inWindow).toBe(2); // 10 000 uniform guesses over 2^32 miss a 64 KiB window
        expectStillTransfers(h, conn);
      });
    });
  }
});

// ---------------------------------------------------------------------------------

describe("ICMP errors quoting the wrong sequence number are ignored (RFC 5927 §4.1)", () => {
  function quoting(conn: Conn, seq: number, localPort = conn.c.localPort): Uint8Array {
    const c = conn.c;
    return buildTcpPacket({ src: c.localAddr, dst: c.remoteAddr, srcPort: localPort, dstPort: c.remotePort, seq, ack: 0, flags: TCP_SYN, window: 0 });
  }

  it(`SYN-SENT (linux, which aborts on ICMP): port unreachable quoting ${SAMPLES} wrong sequence numbers is ignored`, () => {
    const { h, conn, iss } = pending("linux");
    // linux takes SND.NXT (ISS+1) as in flight as well (tcp_v4_err() between(), inclusive;
    // docs/kernel-diff.md icmp-quote-snd-nxt), so that one is not a wrong number here.
    const seqs = [...guesses(31), ...around(iss)].filter((s) => s !== iss && s !== seqAdd(iss, 1));
    for (const seq of seqs) conn.icmp(3, 3, { original: quoting(conn, seq) });
    for (const seq of seqs.slice(0, 2000)) conn.icmp(3, 1, { original: quoting(conn, seq), from: "10.0.0.254" });
    expect(conn.c.state).toBe("SYN-SENT");
    expect(conn.outcome).toBeUndefined();
    expect(h.stack.stats.drops["icmp quotes a sequence number not in flight"]).toBe(seqs.length + 2000);
    expect(h.stack.stats.icmpAccepted).toBe(0);
    // Wrong local port: no connection matches.
    conn.icmp(3, 3, { original: quoting(conn, iss, conn.c.localPort ^ 1) });
    expect(h.stack.stats.drops["icmp for no connection"]).toBe(1);
    expect(conn.c.state).toBe("SYN-SENT");
    // The connection still completes.
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 5, ack: seqAdd(iss, 1) });
    expect(conn.c.state).toBe("ESTABLISHED");
  });

  it("control: the same error quoting the SYN's own sequence number aborts (linux)", () => {
    const { conn, iss } = pending("linux");
    conn.icmp(3, 3, { original: quoting(conn, iss) });
    expect(conn.outcome).toMatchObject({ kind: "unreachable", reason: "port" });
  });

  for (const [family, remote, type, code] of [
    ["IPv4 fragmentation needed", "10.0.0.1:80", 3, 4],
    ["ICMPv6 packet too big", "[fd00::1]:80", 2, 0],
  ] as const) {
    it(`ESTABLISHED with data in flight: ${family} quoting a sequence number outside SND.UNA..SND.NXT leaves the path MTU alone`, () => {
      const h = new Harness({ profile: "windows" });
      const conn = h.connect(remote);
      const [syn] = h.take();
      conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 1, ack: seqAdd(syn.tcp.seq, 1), options: [{ kind: "mss", value: 1460 }] });
      conn.c.send(new Uint8Array(1000), h.now);
      h.collect();
      const una = conn.c.sndUna;
      const nxt = conn.c.sndNxt;
      expect(seqGt(nxt, una)).toBe(true);
      const mtu0 = conn.c.pathMtu;
      const from = remote.startsWith("[") ? "fd00::fe" : "10.0.0.254";
      let tried = 0;
      for (const seq of [...guesses(32, 3000), seqAdd(una, -1), nxt, seqAdd(nxt, 1)]) {
        if (seqInWindow(seq, una, nxt)) continue;
        conn.icmp(type, code, { original: quoting(conn, seq), mtu: 1280, from });
        tried++;
      }
      expect(tried).toBeGreaterThan(2990);
      expect(conn.c.pathMtu).toBe(mtu0);
      expect(conn.c.state).toBe("ESTABLISHED");
      // Hard errors quoting a wrong sequence number do not touch the connection either.
      for (const seq of guesses(33, 1000)) if (!seqInWindow(seq, una, nxt)) conn.icmp(remote.startsWith("[") ? 1 : 3, remote.startsWith("[") ? 4 : 3, { original: quoting(conn, seq), from });
      expect(conn.c.softError).toBeUndefined();
      expect(conn.c.state).toBe("ESTABLISHED");
      // Control: quoting SND.UNA (in flight) is believed.
      conn.icmp(type, code, { original: quoting(conn, una), mtu: 1280, from });
      expect(mtu0).toBe(1500);
      expect(conn.c.pathMtu).toBe(1280);
    });
  }
});
