// RFC 9293 §3.10.7.3 (SYN-SENT) and the SYN-RECEIVED path, per profile, in virtual time.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";

const synTimes = (h: Harness) => h.sent.filter((s) => s.flags === "S").map((s) => s.t / 1000);

describe("SYN retransmission schedule and give-up, per profile (contract §3)", () => {
  const cases: Array<{ profile: ProfileName; overrides?: object; syns: number[]; failAt: number; name: string }> = [
    { name: "windows", profile: "windows", syns: [0, 3, 9], failAt: 21 },
    { name: "linux (tcp_syn_linear_timeouts 4)", profile: "linux", syns: [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67], failAt: 131 },
    { name: "linux (linear timeouts 0)", profile: "linux", overrides: { synLinearTimeouts: 0 }, syns: [0, 1, 3, 7, 15, 31, 63], failAt: 127 },
    { name: "freebsd (keepinit 75 s)", profile: "freebsd", syns: [0, 1, 3.2, 7.4, 15.6, 31.8, 64], failAt: 75 },
    { name: "rfc (R2 = 180 s)", profile: "rfc", syns: [0, 1, 3, 7, 15, 31, 63, 127], failAt: 180 },
  ];
  for (const c of cases) {
    it(`${c.name}: SYNs at ${c.syns.join(",")} s, timedOut at ${c.failAt} s`, () => {
      const h = new Harness({ profile: c.profile });
      const conn = h.connect("10.0.0.1:80", { overrides: c.overrides });
      h.advanceTo(400_000);
      expect(synTimes(h)).toEqual(c.syns);
      expect(conn.outcome).toEqual({ kind: "timedOut" });
      expect(conn.outcomeAt).toBe(c.failAt * 1000);
      // Every SYN is the same segment: same ISS, same options.
      const first = h.sent[0];
      for (const s of h.sent) {
        expect(s.tcp.seq).toBe(first.tcp.seq);
        expect(s.options.replace(/TS val \d+/, "TS")).toBe(first.options.replace(/TS val \d+/, "TS"));
      }
      expect(h.stack.connectionCount).toBe(0);
      expect(h.stack.pendingTimers).toBe(0);
    });
  }
  it("SIO_TCP_INITIAL_RTO-style overrides: initial RTO 1 s, 4 SYN retries on windows", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect("10.0.0.1:80", { overrides: { initialRtoMs: 1000, synRetries: 4 } });
    h.advanceTo(100_000);
    expect(synTimes(h)).toEqual([0, 1, 3, 7, 15]);
    expect(conn.outcomeAt).toBe(31_000);
  });
  it("no SYN retransmissions at all (synRetries 0): timedOut after one initial RTO", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect("10.0.0.1:80", { overrides: { synRetries: 0, synLinearTimeouts: 0 } });
    h.advanceTo(10_000);
    expect(synTimes(h)).toEqual([0]);
    expect(conn.outcomeAt).toBe(1000);
  });
});

describe("SYN option layouts (contract §3)", () => {
  const cases: Array<[ProfileName, string, string, number, RegExp]> = [
    ["windows", "10.0.0.1:80", "v4", 64240, /^mss 1460,nop,wscale 8,nop,nop,sackOK$/],
    ["windows", "[fd00::1]:80", "v6", 64240, /^mss 1440,nop,wscale 8,nop,nop,sackOK$/],
    ["linux", "10.0.0.1:80", "v4", 64240, /^mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale 7$/],
    ["freebsd", "10.0.0.1:80", "v4", 65535, /^mss 1460,nop,wscale 6,sackOK,TS val \d+ ecr 0$/],
    ["freebsd", "[fd00::1]:80", "v6", 65535, /^mss 1440,nop,wscale 6,sackOK,TS val \d+ ecr 0$/],
    ["rfc", "10.0.0.1:80", "v4", 65535, /^mss 1460,nop,wscale 7,sackOK,TS val \d+ ecr 0$/],
  ];
  for (const [profile, remote, fam, win, re] of cases) {
    it(`${profile} ${fam}: ${re.source}`, () => {
      const h = new Harness({ profile });
      h.connect(remote);
      const [syn] = h.take();
      expect(syn.flags).toBe("S");
      expect(syn.tcp.window).toBe(win);
      expect(syn.options).toMatch(re);
      expect(syn.tcp.ack).toBe(0);
      expect(syn.tcp.payload.length).toBe(0);
    });
  }
  it("freebsd without SACK: two NOPs where SACK-permitted was", () => {
    const h = new Harness({ profile: "freebsd" });
    h.connect("[fd00::1]:80", { overrides: { sack: false } });
    expect(h.take()[0].options).toMatch(/^mss 1440,nop,wscale 6,nop,nop,TS val \d+ ecr 0$/);
  });
  it("freebsd without SACK, window scaling and timestamps: only the MSS", () => {
    const h = new Harness({ profile: "freebsd" });
    h.connect("10.0.0.1:80", { overrides: { sack: false, windowScaling: false, timestamps: false } });
    expect(h.take()[0].options).toBe("mss 1460");
  });
  it("TCP_NOOPT: a 20-byte header with no options", () => {
    const h = new Harness({ profile: "freebsd" });
    h.connect("[fd00::1]:80", { overrides: { noOptions: true } });
    const [syn] = h.take();
    expect(syn.tcp.options).toEqual([]);
    expect(syn.tcp.headerLength).toBe(20);
  });
  it("MSS follows the MTU: 72 -> 32 (v4), 1280 -> 1220 (v6)", () => {
    const h4 = new Harness({ profile: "freebsd", mtu: 72 });
    h4.connect("10.0.0.1:80");
    expect(h4.take()[0].options).toMatch(/^mss 32,/);
    const h6 = new Harness({ profile: "freebsd", mtu: 1280 });
    h6.connect("[fd00::1]:80");
    expect(h6.take()[0].options).toMatch(/^mss 1220,/);
  });
});

describe("SYN-SENT: segment arrival (RFC 9293 §3.10.7.3)", () => {
  for (const profile of ["windows", "linux", "freebsd", "rfc"] as ProfileName[]) {
    describe(`profile ${profile}`, () => {
      it("SYN-ACK with ACK = ISS+1 -> ESTABLISHED and one bare ACK", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        h.advance(10);
        conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 7000, ack: syn.tcp.seq + 1, window: 29200, options: [{ kind: "mss", value: 1400 }] });
        const out = h.take();
        expect(out.map((s) => s.flags)).toEqual(["."]);
        expect(out[0].tcp.seq).toBe((syn.tcp.seq + 1) >>> 0);
        expect(out[0].tcp.ack).toBe(7001);
        expect(out[0].tcp.options).toEqual([]); // peer offered no TS: none on the ACK
        expect(conn.c.state).toBe("ESTABLISHED");
        expect(conn.establishedAt).toBe(10);
        expect(conn.c.sndMss).toBe(1400);
        expect(conn.c.sndWscale).toBe(0);
        expect(conn.c.rcvWscale).toBe(0);
        // No retransmission after establishment.
        h.advance(200_000);
        expect(h.take().filter((s) => s.flags === "S")).toEqual([]);
      });

      it("SYN-ACK with ACK = ISS (left of window) -> RST <SEQ=SEG.ACK>, still SYN-SENT, SYN retransmitted on time", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        h.advance(100);
        conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 7000, ack: syn.tcp.seq });
        const [rst] = h.take();
        expect(rst.flags).toBe("R");
        expect(rst.tcp.seq).toBe(syn.tcp.seq);
        expect(rst.tcp.options).toEqual([]);
        expect(rst.tcp.window).toBe(0);
        expect(conn.c.state).toBe("SYN-SENT");
        h.advanceTo(conn.c.profile.initialRtoMs);
        const again = h.take();
        // Linux re-sends the SYN 2 jiffies after such a RST (TCP_TIMEOUT_MIN; 8 ms at HZ 250).
        const at = profile === "linux" ? 108 : conn.c.profile.initialRtoMs;
        expect(again.map((s) => [s.flags, s.t])).toEqual([["S", at]]);
      });

      it("SYN-ACK with ACK = ISS+2 (beyond SND.NXT) -> RST <SEQ=ISS+2>", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 7000, ack: syn.tcp.seq + 2 });
        const [rst] = h.take();
        expect([rst.flags, rst.tcp.seq]).toEqual(["R", (syn.tcp.seq + 2) >>> 0]);
        expect(conn.c.state).toBe("SYN-SENT");
      });

      it("bare ACK with unacceptable ACK -> RST, state unchanged", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        conn.peer({ flags: TCP_ACK, seq: 3738406957, ack: 1116180385 });
        const out = h.take();
        expect(out.map((s) => [s.flags, s.tcp.seq])).toEqual([["R", 1116180385]]);
        expect(conn.c.state).toBe("SYN-SENT");
        void syn;
      });

      it("RST without ACK -> ignored", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        h.take();
        conn.peer({ flags: TCP_RST, seq: 0 });
        expect(h.take()).toEqual([]);
        expect(conn.c.state).toBe("SYN-SENT");
        expect(conn.outcome).toBeUndefined();
      });

      it("RST+ACK with unacceptable ACK -> dropped, no reply", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack: syn.tcp.seq + 2 });
        expect(h.take()).toEqual([]);
        expect(conn.c.state).toBe("SYN-SENT");
      });

      it("FIN+ACK with an acceptable ACK but no SYN -> dropped; the SYN timer keeps running", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        h.advance(100);
        conn.peer({ flags: TCP_FIN | TCP_ACK, seq: 7000, ack: syn.tcp.seq + 1 });
        expect(h.take()).toEqual([]);
        h.advanceTo(conn.c.profile.initialRtoMs);
        expect(h.take().map((s) => [s.flags, s.t])).toEqual([["S", conn.c.profile.initialRtoMs]]);
      });

      it("simultaneous open: SYN -> SYN-ACK with our ISS, then ACK -> ESTABLISHED", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        conn.peer({ flags: TCP_SYN, seq: 3000, options: [{ kind: "mss", value: 1440 }, { kind: "sackOK" }, { kind: "eol" }, { kind: "eol" }] });
        const [synack] = h.take();
        expect(synack.flags).toBe("S.");
        expect(synack.tcp.seq).toBe(syn.tcp.seq);
        expect(synack.tcp.ack).toBe(3001);
        if (profile === "linux") {
          // Linux re-sends its own SYN (all its options) with the ACK bit (tcp_send_synack).
          expect(synack.options).toMatch(/^mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale 7$/);
        } else {
          // Only the options the peer offered: MSS and SACK-permitted.
          expect(synack.options).not.toMatch(/wscale|TS/);
          expect(synack.options).toMatch(/^mss 1460/);
          expect(synack.options).toMatch(/sackOK/);
        }
        expect(conn.c.state).toBe("SYN-RECEIVED");
        conn.peer({ flags: TCP_ACK, seq: 3001, ack: syn.tcp.seq + 1 });
        expect(conn.c.state).toBe("ESTABLISHED");
        expect(conn.establishedAt).toBe(0);
        expect(h.take()).toEqual([]);
      });

      it("close in SYN-SENT sends nothing; a late SYN-ACK gets RST <SEQ=SEG.ACK>", () => {
        const h = new Harness({ profile });
        const conn = h.connect();
        const [syn] = h.take();
        conn.c.close(h.now);
        h.collect();
        expect(h.take()).toEqual([]);
        expect(conn.outcome).toEqual({ kind: "closed" });
        h.advance(100);
        conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 7000, ack: syn.tcp.seq + 1 });
        const [rst] = h.take();
        expect(rst.flags).toBe("R");
        expect(rst.tcp.seq).toBe((syn.tcp.seq + 1) >>> 0);
        expect(h.stack.connectionCount).toBe(0);
        h.advance(400_000);
        expect(h.take()).toEqual([]);
      });
    });
  }

  it("linux: acceptable RST -> refused at once", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const [syn] = h.take();
    h.advance(1);
    conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1 });
    expect(conn.outcome).toEqual({ kind: "refused" });
    expect(conn.outcomeAt).toBe(1);
    expect(h.take()).toEqual([]);
  });

  it("windows: acceptable RST -> SYN again after 500 ms, twice, then refused (about 1 s)", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect();
    const rstFor = () => {
      const syn = h.take().find((s) => s.flags === "S")!;
      conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1 });
      return syn.t;
    };
    expect(rstFor()).toBe(0);
    h.advanceTo(500);
    expect(rstFor()).toBe(500);
    h.advanceTo(1000);
    expect(rstFor()).toBe(1000);
    expect(conn.outcome).toEqual({ kind: "refused" });
    expect(conn.outcomeAt).toBe(1000);
    h.advance(60_000);
    expect(h.take()).toEqual([]);
  });

  it("SYN-ACK carrying data: one ACK covers SYN and data, data readable", () => {
    const h = new Harness({ profile: "freebsd" });
    const conn = h.connect();
    const [syn] = h.take();
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1, payload: new TextEncoder().encode("abc") });
    const out = h.take();
    expect(out.map((s) => [s.flags, s.tcp.ack])).toEqual([[".", 4]]);
    expect(new TextDecoder().decode(conn.c.read())).toBe("abc");
  });

  it("negotiates window scale, SACK and timestamps when the SYN-ACK offers them", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const [syn] = h.take();
    const ts = syn.tcp.options.find((o) => o.kind === "ts") as { val: number };
    conn.peer({
      flags: TCP_SYN | TCP_ACK,
      seq: 100,
      ack: syn.tcp.seq + 1,
      window: 65160,
      options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 700, ecr: ts.val }, { kind: "nop" }, { kind: "wscale", shift: 9 }],
    });
    const [ack] = h.take();
    expect(conn.c.sndWscale).toBe(9);
    expect(conn.c.rcvWscale).toBe(7);
    expect(conn.c.sackEnabled).toBe(true);
    expect(conn.c.tsEnabled).toBe(true);
    expect(ack.options).toMatch(/^nop,nop,TS val \d+ ecr 700$/);
    expect(conn.c.sndWnd).toBe(65160); // the SYN-ACK's window is never scaled (RFC 7323 §2.2)
    expect(ack.tcp.window).toBe(131072 >> 7);
  });

  it("window scale above 14 is clamped to 14 (RFC 7323 §2.3)", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect();
    const [syn] = h.take();
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 100, ack: syn.tcp.seq + 1, options: [{ kind: "nop" }, { kind: "wscale", shift: 15 }] });
    expect(conn.c.sndWscale).toBe(14);
  });
});

describe("sequence numbers near 2^32", () => {
  for (const iss of [0xffffffff, 0xfffffff6, 0xfffffffe]) {
    it(`ISS ${iss.toString(16)}: handshake, bad-ACK RST and data across the wrap`, () => {
      const h = new Harness({ profile: "linux" });
      const conn = h.connect("10.0.0.1:80", { iss });
      const [syn] = h.take();
      expect(syn.tcp.seq).toBe(iss);
      // ACK = ISS is unacceptable even across the wrap.
      conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0xfffffffa, ack: iss });
      expect(h.take().map((s) => [s.flags, s.tcp.seq])).toEqual([["R", iss]]);
      conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 0xfffffffa, ack: (iss + 1) >>> 0 });
      expect(conn.c.state).toBe("ESTABLISHED");
      const [ack] = h.take();
      expect(ack.tcp.seq).toBe((iss + 1) >>> 0);
      expect(ack.tcp.ack).toBe(0xfffffffb);
      // 20 bytes from the peer cross 2^32.
      conn.peer({ flags: TCP_ACK, seq: 0xfffffffb, ack: (iss + 1) >>> 0, payload: new Uint8Array(20).fill(7) });
      h.advance(1000);
      const acks = h.take();
      expect(acks.at(-1)!.tcp.ack).toBe((0xfffffffb + 20) >>> 0);
      expect(conn.c.read().length).toBe(20);
      // Our data crosses the wrap too.
      conn.c.send(new Uint8Array(10).fill(1), h.now);
      h.collect();
      const [data] = h.take();
      expect(data.tcp.seq).toBe((iss + 1) >>> 0);
      conn.peer({ flags: TCP_ACK, seq: (0xfffffffb + 20) >>> 0, ack: (iss + 11) >>> 0 });
      expect(conn.c.sndUna).toBe((iss + 11) >>> 0);
      expect(conn.c.sendBuffered).toBe(0);
    });
  }
});

describe("segments to closed ports (RFC 9293 §3.10.7.1)", () => {
  it("SYN without ACK -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; with ACK -> <SEQ=SEG.ACK><CTL=RST>; RST -> nothing", async () => {
    const { buildTcpPacket } = await import("../../stack/wire/packet.js");
    const h = new Harness({ profile: "linux" });
    h.inputBytes(buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: 1234, dstPort: 80, seq: 100, ack: 0, flags: TCP_SYN, window: 1000 }));
    h.inputBytes(buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: 1234, dstPort: 80, seq: 100, ack: 555, flags: TCP_ACK, window: 1000, payload: new Uint8Array(5) }));
    h.inputBytes(buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: 1234, dstPort: 80, seq: 100, ack: 555, flags: TCP_RST, window: 1000 }));
    const out = h.take();
    expect(out.map((s) => [s.flags, s.tcp.seq, s.tcp.ack])).toEqual([
      ["R.", 0, 101],
      ["R", 555, 0],
    ]);
    expect(h.stack.stats.drops["rst for no connection"]).toBe(1);
  });
});

describe("routing", () => {
  it("no on-link prefix and no gateway -> noRoute", () => {
    const h = new Harness();
    const r = h.stack.connect({ remote: { addr: "192.0.2.1", port: 80 } }, 0);
    expect(r).toMatchObject({ error: "noRoute" });
  });
  it("a gateway makes off-link destinations reachable", () => {
    const h = new Harness({ gateway4: "10.0.0.1" });
    const conn = h.connect("192.0.2.1:80");
    expect(conn.c.localAddr).toBe("10.0.0.2");
  });
  it("IPv6 remote picks the IPv6 local address", () => {
    const h = new Harness();
    const conn = h.connect("[fd00::1]:443");
    expect(conn.c.localAddr).toBe("fd00::2");
    expect(h.take()[0].pkt.ip.version).toBe(6);
  });
});
