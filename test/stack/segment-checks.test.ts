// SEGMENT ARRIVES in the synchronised states, the checks before the text (RFC 9293 §3.10.7.4
// first to fifth steps, RFC 5961): RST and SYN in the window, ACK acceptability, the
// window of the sequence test, duplicates, and the limits on the ACKs that answer bad
// segments, with the policies that change them per profile (rstCheck, synCheck,
// acceptWindow, oldSegment, challengeAck, oowAck; docs/profiles.md). The same checks as
// tables: dispositions.test.ts.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import { CHALLENGE_ACK_LIMIT } from "../../stack/tcp/challenge-ack.js";
import { patternBytes } from "./pair.js";
import { establishScripted } from "./scripted.js";
import { brief, closing, FREEBSD_PEER_OPTIONS, linuxConnect, open, PEER_ISN, SERVER_ISN, simultaneousOpen, tsvalOf } from "./peers.js";

describe("RST in the window but not at RCV.NXT (rstCheck: RFC 5961 §3.2, or freebsd net.inet.tcp.insecure_rst=1)", () => {
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

  it("default (rstCheck rfc5961): challenge ACK, the connection survives", () => {
    const { h, conn } = simultaneousOpen("freebsd");
    h.advance(100);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 1 + 1000 });
    expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([[".", PEER_ISN + 1]]);
    expect(conn.outcome).toBeUndefined();
  });

  it("rstCheck rfc793 in SYN-RECEIVED (rcv-rst-syn-rcvd-via-syn-sent-right-edge-insecure): refused, nothing sent", () => {
    const { h, conn } = simultaneousOpen("freebsd", TCP_SYN, undefined, { rstCheck: "rfc793" });
    h.advance(100);
    conn.peer({ flags: TCP_RST, seq: PEER_ISN + 65700 });
    expect(h.take()).toEqual([]);
    expect(conn.outcome).toEqual({ kind: "refused" });
  });

  it("rstCheck rfc793 in ESTABLISHED: reset; outside the window still dropped", () => {
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

describe("SYN in a synchronised state (synCheck: RFC 5961 §4.2, or freebsd net.inet.tcp.insecure_syn=1: rcv-syn-*-insecure)", () => {
  it("a SYN in ESTABLISHED gets a challenge ACK and changes nothing (RFC 5961 §4.2)", () => {
    const { h, conn, base, peerSeq } = establishScripted({ mss: 1000 });
    conn.peer({ flags: TCP_SYN, seq: peerSeq + 5 });
    expect(h.take().map((s) => [s.flags, s.tcp.seq, s.tcp.ack])).toEqual([[".", base, peerSeq]]);
    expect(conn.c.state).toBe("ESTABLISHED");
  });

  it("a SYN at RCV.NXT in ESTABLISHED resets: R. <SEQ=SND.NXT><ACK=RCV.NXT> win 0, ECONNRESET (left-edge)", () => {
    const { h, conn, una } = open("freebsd", { overrides: { synCheck: "rfc793" } });
    conn.peer({ flags: TCP_SYN, seq: PEER_ISN + 1, options: FREEBSD_PEER_OPTIONS });
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

describe("ACK acceptability (RFC 5961 §5.2)", () => {
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

describe("limits on the ACKs that answer bad segments (challengeAck: RFC 5961 §7; oowAck rateLimited: linux tcp_invalid_ratelimit)", () => {
  it("rate-limits challenge ACKs per connection (RFC 5961 §7)", () => {
    const { h, conn, peerSeq } = establishScripted({ mss: 1000 });
    for (let i = 0; i < CHALLENGE_ACK_LIMIT + 5; i++) conn.peer({ flags: TCP_RST, seq: peerSeq + 1 + i });
    expect(h.take().length).toBe(CHALLENGE_ACK_LIMIT);
    h.advance(5000);
    conn.peer({ flags: TCP_RST, seq: peerSeq + 1 });
    expect(h.take().length).toBe(1);
    expect(conn.c.state).toBe("ESTABLISHED");
  });

  // tcp_validate_incoming() -> tcp_send_dupack() / challenge ACK, limited per socket by
  // tcp_oow_rate_limited() (net.ipv4.tcp_invalid_ratelimit, 500 ms).
  it("a repeated SYN-ACK 400 ms after the last answered one gets no ACK; one 600 ms after it does (kd-7-0143 frames 4-5 and 8, kd-1-0007 frames 4-10)", () => {
    const { h, conn, syn } = linuxConnect();
    h.advance(5);
    const synAck = { flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 65535, options: [{ kind: "mss", value: 1400 }] as TcpOption[] };
    conn.peer(synAck);
    expect(h.take().map((s) => s.flags)).toEqual(["."]);
    h.advance(15);
    conn.peer(synAck);
    expect(h.take().map((s) => s.flags)).toEqual(["."]);
    h.advance(400);
    conn.peer(synAck);
    expect(h.take()).toEqual([]);
    h.advance(200);
    conn.peer(synAck);
    expect(h.take().map((s) => s.flags)).toEqual(["."]);
  });

  // tcp_ack(): "do not accept ACK for bytes we never sent": an ACK below SND.UNA is too old
  // once it is more than min(max_window, bytes_acked) below, and its challenge ACK counts
  // against the same 500 ms as the rest. kd-32-0165: nothing sent, an ACK 5000 below SND.UNA
  // at 108.7 ms is answered at once (frame 5), the repeated SYN-ACK at 301.7 ms is not.
  it("linux: an ACK 5000 below SND.UNA with nothing acknowledged yet is too old; its challenge ACK silences the SYN-ACK 193 ms later (kd-32-0165)", () => {
    const { h, conn, syn } = linuxConnect();
    h.advance(100);
    const synAck = { flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1400 }] as TcpOption[] };
    conn.peer(synAck);
    h.take();
    h.advance(7);
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: syn.tcp.seq + 1 - 5000, window: 32000 });
    expect(h.take().map((s) => s.flags)).toEqual(["."]);
    h.advance(193);
    conn.peer(synAck);
    expect(h.take()).toEqual([]);
  });
});

describe("RCV.WND of the sequence-number test (acceptWindow: freebsd uses its receive buffer, 65700; freebsd rcv-rst-syn-rcvd-via-syn-sent-right-edge-*)", () => {
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

describe("a duplicate segment left of the window (oldSegment bsd: freebsd snippets/time-wait-via-closing, rcv-ack-established-outside-left)", () => {
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

describe("Which segments update TS.Recent (tsRecentUpdate; kernel-diff)", () => {
  // kd-32-0167 frames 4-5: an ACK of data never sent, TSval 126302364, is answered with an
  // ACK still echoing 126302350 (the SYN-ACK's); kd-32-0104 frames 6-7: an old ACK's TSval
  // is echoed. RFC 7323 §4.3 updates TS.Recent in both cases.
  const established = (profile: "linux" | "freebsd") => {
    const h = new Harness({ profile });
    const conn = h.connect("10.0.0.1:80");
    const [syn] = h.take();
    h.advance(5);
    const ts = (val: number) => ({ kind: "ts" as const, val, ecr: tsvalOf(syn!) });
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn!.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1400 }, ts(1000)] });
    h.take();
    return { h, conn, syn: syn!, ts };
  };
  const echoed = (h: Harness) => {
    const out = h.take();
    const t = out[out.length - 1]!.tcp.options.find((o) => o.kind === "ts");
    return t && t.kind === "ts" ? t.ecr : undefined;
  };
  it("linux: an ACK of unsent data leaves TS.Recent alone; freebsd (RFC 7323 §4.3) takes its TSval", () => {
    for (const [profile, want] of [["linux", 1000], ["freebsd", 1014]] as const) {
      const { h, conn, syn, ts } = established(profile);
      h.advance(10);
      conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: syn.tcp.seq + 5001, window: 64000, options: [{ kind: "nop" }, { kind: "nop" }, ts(1014)] });
      expect(echoed(h), profile).toBe(want);
    }
  });
  it("linux: an old ACK still updates it (kd-32-0104)", () => {
    const { h, conn, syn, ts } = established("linux");
    conn.c.send(new Uint8Array(100), h.now);
    h.collect();
    h.take();
    h.advance(5);
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: syn.tcp.seq + 101, window: 64000, options: [{ kind: "nop" }, { kind: "nop" }, ts(1010)] });
    h.advance(1);
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: syn.tcp.seq + 1 - 50, window: 64000, options: [{ kind: "nop" }, { kind: "nop" }, ts(1011)] });
    expect(conn.c.tsRecent).toBe(1011);
  });
  // Only on the fast path (header prediction): with another window than the one in force
  // tcp_rcv_established() takes the slow path, where tcp_ack() returns for an old ACK before
  // tcp_replace_ts_recent(). kd-31-0040 frames 4-5: after the SYN-ACK's window 65535, an old
  // ACK with window 64000 << 14 and TSval 609143279; the kernel's next ACK and its data
  // still echo 609143278.
  it("linux: an old ACK with a new window leaves it alone (kd-31-0040); freebsd takes it", () => {
    for (const [profile, want] of [["linux", 1000], ["freebsd", 1001]] as const) {
      const { h, conn, syn, ts } = established(profile);
      h.advance(1);
      conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: syn.tcp.seq + 1 - 5000, window: 32000, options: [{ kind: "nop" }, { kind: "nop" }, ts(1001)] });
      expect(conn.c.tsRecent, profile).toBe(want);
    }
  });
});
