// Simultaneous open (RFC 9293 §3.5 figure 8): our SYN crosses the peer's, SYN-SENT goes to
// SYN-RECEIVED, and the policies that change it per profile (simOpenSynText,
// simOpenRstOutcome, the SYN-ACK schedule of synBackoff linux; docs/profiles.md). Where a
// case comes from a packetdrill script or a kernel-diff capture (docs/kernel-diff.md), its
// name says which.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { data, linuxConnect, PEER_ISN, SERVER_ISN, simultaneousOpen } from "./peers.js";

const TEXT = new Uint8Array([1, 2, 3]);

/** The times are the capture's, to within the kernel's send latency after a tick. */
const near = (ours: number[], kernel: number[]) => {
  expect(ours.length).toBe(kernel.length);
  ours.forEach((t, k) => expect(Math.abs(t - kernel[k]!)).toBeLessThan(0.5));
};

describe("text on the peer's SYN in a simultaneous open (simOpenSynText; RFC 9293 §3.10.7.3: queue it until ESTABLISHED; freebsd suite)", () => {
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

describe("RST in SYN-RECEIVED after a simultaneous open (simOpenRstOutcome; kernel-diff)", () => {
  // tcp_reset(): ECONNREFUSED only in SYN-SENT; in SYN-RECV (reached by a simultaneous open)
  // the error is ECONNRESET.
  it("RST at RCV.NXT in SYN-RECEIVED after a simultaneous open: outcome reset, not refused (kd-7-0142: connect() ECONNRESET)", () => {
    const { h, conn } = linuxConnect();
    h.advance(1);
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 64000, options: [{ kind: "mss", value: 1400 }] });
    expect(conn.c.state).toBe("SYN-RECEIVED");
    h.take();
    conn.peer({ flags: TCP_RST, seq: SERVER_ISN + 1 });
    expect(conn.outcome).toEqual({ kind: "reset" });
    expect(conn.c.state).toBe("CLOSED");
  });

  it("the freebsd profile keeps RFC 9293's refused there", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect("10.0.0.1:80");
    h.take();
    h.advance(1);
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 64000, options: [{ kind: "mss", value: 1400 }] });
    expect(conn.c.state).toBe("SYN-RECEIVED");
    conn.peer({ flags: TCP_RST, seq: SERVER_ISN + 1 });
    expect(conn.outcome?.kind).toBe("refused");
  });
});

describe("SYN-ACK retransmission after a simultaneous open (synBackoff linux; kernel-diff)", () => {
  // tcp_rcv_synsent_state_process(): the crossing SYN is answered by tcp_send_synack(),
  // which re-arms nothing: the timer the SYN armed fires on, and tcp_retransmit_timer() in
  // TCP_SYN_RECV retransmits the SYN-ACK and doubles the timeout (tcp_syn_linear_timeouts is
  // for SYN-SENT only); tcp_write_timeout() counts SYN and SYN-ACK retransmissions together
  // against tcp_syn_retries.
  it("after a simultaneous open the SYN's timer runs on: SYN-ACKs 1 s after the SYN, then 2 s, give-up 4 s later (kd-31-0096: SYN at 0, crossing SYN at 1.2, SYN-ACKs at 1.2, 1000.4, 3016.4; ETIMEDOUT after 7145 ms; kd-7-0138 alike)", () => {
    const { h, conn, syn } = linuxConnect({ synRetries: 2, synLinearTimeouts: 0, jiffiesOffsetMs: 23.6 }, "[fd00::1]:80");
    h.advance(1.2);
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 64000, options: [{ kind: "mss", value: 65535 }, { kind: "sackOK" }] });
    expect(conn.c.state).toBe("SYN-RECEIVED");
    h.advanceTo(5000);
    near(h.sent.filter((s) => s.flags === "S.").map((s) => s.t), [1.2, 1000.4, 3016.4]);
    expect(syn.flags).toBe("S");
    h.advanceTo(10_000);
    expect(h.sent.filter((s) => s.flags === "S.").length).toBe(3);
    expect(conn.outcome).toEqual({ kind: "timedOut" });
    expect(Math.abs(conn.outcomeAt! - 7145)).toBeLessThan(2);
  });
});

describe("The peer's SYN-ACK after a simultaneous open (simOpenSynAckAck; kernel-diff)", () => {
  // The kernel answers the SYN-ACK that completes its SYN-RECEIVED at once: its SYN is below
  // RCV.NXT (tcp_data_queue(): duplicate, quick ACK), with a D-SACK block for it when SACK
  // is on. kd-32-0050 frames 4-5: SYN-ACK at 108.3 ms, ACK seq 1 ack 1 at 108.4 ms;
  // kd-31-0351 frames 4-5: the ACK carries SLE=0 SRE=1 (relative).
  const crossing = (sackOK: boolean) => {
    const { h, conn, syn } = linuxConnect();
    h.advance(100);
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 1024, options: [{ kind: "mss", value: 1400 }, ...(sackOK ? [{ kind: "sackOK" } as const] : [])] });
    expect(conn.c.state).toBe("SYN-RECEIVED");
    h.take();
    h.advance(1);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }, ...(sackOK ? [{ kind: "sackOK" } as const] : [])] });
    return { h, conn, syn };
  };
  it("linux, no SACK: ESTABLISHED and a bare ACK at once (kd-32-0050)", () => {
    const { h, conn, syn } = crossing(false);
    expect(conn.c.state).toBe("ESTABLISHED");
    const out = h.take();
    expect(out.map((s) => s.flags)).toEqual(["."]);
    expect(out[0]!.tcp.seq).toBe(syn.tcp.seq + 1);
    expect(out[0]!.tcp.ack).toBe(SERVER_ISN + 1);
    expect(out[0]!.options).toBe("");
  });
  it("linux with SACK: the ACK carries a D-SACK block for the repeated SYN (kd-31-0351)", () => {
    const { h } = crossing(true);
    const out = h.take();
    expect(out.map((s) => s.flags)).toEqual(["."]);
    expect(out[0]!.tcp.options).toContainEqual({ kind: "sack", blocks: [[SERVER_ISN, SERVER_ISN + 1]] });
    // Reported once: the next ACK has no block.
    h.advance(300);
    expect(h.take().every((s) => !s.options.includes("sack"))).toBe(true);
  });
  it("the other profiles send nothing for it (RFC 9293 §3.10.7.4)", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect("10.0.0.1:80");
    const [syn] = h.take();
    h.advance(100);
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 1024, options: [{ kind: "mss", value: 1400 }] });
    h.take();
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: SERVER_ISN, ack: syn!.tcp.seq + 1, window: 64000, options: [{ kind: "mss", value: 1460 }] });
    expect(conn.c.state).toBe("ESTABLISHED");
    expect(h.take()).toEqual([]);
  });
});

describe("window scale after a simultaneous open whose SYN had none (simOpenWscale; kernel-diff)", () => {
  // tcp_rcv_synsent_state_process() clears rcv_wscale only on the SYN-ACK path: after a
  // crossing SYN without the option the kernel keeps advertising its window shifted by the
  // 10 its own SYN offered. kd-42-0058: the server's SYN (MSS, sackOK, TS, no window scale)
  // at 4.3 ms, the kernel's ACKs and data with Win=63 (64512 >> 10), and it takes the
  // server's 1400-byte segments anyway (frames 9-12).
  const crossing = (profile: "linux" | "freebsd") => {
    const h = new Harness({ profile });
    const conn = h.connect("10.0.0.1:80");
    const [syn] = h.take();
    h.advance(4);
    conn.peer({ flags: TCP_SYN, seq: SERVER_ISN, window: 65535, options: [{ kind: "mss", value: 1400 }, { kind: "sackOK" }] });
    h.take();
    h.advance(1);
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: syn!.tcp.seq + 1, window: 64000 });
    expect(conn.c.state).toBe("ESTABLISHED");
    return { h, conn, una: syn!.tcp.seq + 1 };
  };
  it("linux: our window stays scaled by our SYN's shift (kd-42-0058: Win=63); the peer's is taken unscaled", () => {
    const { h, conn, una } = crossing("linux");
    expect(conn.c.rcvWscale).toBe(conn.c.profile.windowScale);
    expect(conn.c.sndWscale).toBe(0);
    expect(conn.c.sndWnd).toBe(64000);
    conn.c.send(data(100), h.now);
    h.collect();
    const [d] = h.take();
    expect(d!.tcp.window).toBe(Math.floor(conn.c.profile.rcvBufBytes / 2 ** conn.c.profile.windowScale));
    // 1400 bytes from the peer are taken: the real window is the scaled one.
    h.advance(10);
    conn.peer({ flags: TCP_ACK, seq: SERVER_ISN + 1, ack: una + 100, window: 64000, payload: data(1400) });
    expect(conn.c.rcvNxt).toBe(SERVER_ISN + 1 + 1400);
  });
  it("freebsd: no scaling either way (RFC 7323 §2.2)", () => {
    const { conn } = crossing("freebsd");
    expect([conn.c.rcvWscale, conn.c.sndWscale]).toEqual([0, 0]);
  });
});
