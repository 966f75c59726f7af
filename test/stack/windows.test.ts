// The two Windows profiles in virtual time: `windows` (Windows 10 22H2 / 11 / Server 2022)
// and `windows7` (Windows 7, and Windows 10 before the 1 s initial RTO). Every number here
// is a measurement or an inference docs/decisions.md ("Windows SYN schedule", "The peer's
// MSS", "Loopback") names.
import { describe, expect, it } from "vitest";
import { Harness, type Conn, type Sent } from "../helpers/vt.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";

const syns = (h: Harness): Sent[] => h.sent.filter((s) => s.flags === "S");
const synTimes = (h: Harness): number[] => syns(h).map((s) => s.t / 1000);

/** A black hole: nothing ever answers. */
function blackHole(profile: ProfileName, overrides?: ProfileOverrides): { h: Harness; conn: Conn } {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", { overrides });
  h.advanceTo(400_000);
  return { h, conn };
}

describe("windows: the SYN schedule, defaults and MaxSynRetransmissions overrides", () => {
  // Measured: SYNs at +0, 1.004, 3.006, 7.008, 15.012 s (Windows 10 22H2 capture); the
  // give-ups 7.0 / 21.0 / 123.0 s and "over 150 s" for 2 / 4 / 6 / 8 (windows-latest runners).
  const cases: Array<{ n?: number; syns: number[]; failAt: number }> = [
    { syns: [0, 1, 3, 7, 15], failAt: 21 },
    { n: 2, syns: [0, 1, 3], failAt: 7 },
    { n: 4, syns: [0, 1, 3, 7, 15], failAt: 21 },
    { n: 6, syns: [0, 1, 3, 7, 15, 31, 63], failAt: 123 },
    { n: 8, syns: [0, 1, 3, 7, 15, 31, 63, 123, 183], failAt: 243 },
  ];
  for (const k of cases) {
    it(`${k.n === undefined ? "defaults" : `synRetries ${k.n}`}: SYNs at ${k.syns.join(", ")} s, timedOut at ${k.failAt} s`, () => {
      const { h, conn } = blackHole("windows", k.n === undefined ? undefined : { synRetries: k.n });
      expect(synTimes(h)).toEqual(k.syns);
      expect(conn.outcome).toEqual({ kind: "timedOut" });
      expect(conn.outcomeAt).toBe(k.failAt * 1000);
      // Retransmitted SYNs are identical: same ISS, window and options.
      const [first, ...rest] = syns(h);
      for (const s of rest) expect([s.tcp.seq, s.tcp.window, s.options]).toEqual([first!.tcp.seq, first!.tcp.window, first!.options]);
      expect(h.stack.pendingTimers).toBe(0);
    });
  }

  it("the SYN: mss 1460,nop,wscale 8,nop,nop,sackOK, window 64240, TTL 128, no timestamps", () => {
    const h = new Harness({ profile: "windows" });
    h.connect();
    const [syn] = h.take();
    expect(syn!.options).toBe("mss 1460,nop,wscale 8,nop,nop,sackOK");
    expect(syn!.tcp.window).toBe(64240);
    expect(syn!.pkt.ip.ttl).toBe(128);
  });

  it("the final ACK carries no options (no timestamps offered)", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect();
    const [syn] = h.take();
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 100, ack: syn!.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 7 }, { kind: "sackOK" }, { kind: "ts", val: 1, ecr: 0 }] });
    const [ack] = h.take();
    expect([ack!.flags, ack!.options]).toEqual([".", ""]);
  });

  it("TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS (synRetries 0): one SYN, timedOut one initial RTO later", () => {
    const { h, conn } = blackHole("windows", { synRetries: 0, synSentRst: "refuse" });
    expect(synTimes(h)).toEqual([0]);
    expect(conn.outcomeAt).toBe(1000);
  });

  it("early Windows 10 (InitialRto 3000, MaxSynRetransmissions 2, as in pcaps gnutella): SYNs at 0, 3, 9 s, timedOut at 21 s", () => {
    const { h, conn } = blackHole("windows", { initialRtoMs: 3000, synRetries: 2 });
    expect(synTimes(h)).toEqual([0, 3, 9]);
    expect(conn.outcomeAt).toBe(21_000);
    expect(syns(h).every((s) => s.options === "mss 1460,nop,wscale 8,nop,nop,sackOK")).toBe(true);
  });

  it("ICMP errors are ignored in SYN-SENT: the schedule does not change", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect();
    for (const t of [40, 1040, 3040, 7040, 15040]) {
      h.advanceTo(t);
      conn.icmp(3, 13, { original: syns(h).at(-1)!.bytes, from: "10.0.0.254" });
    }
    h.advanceTo(60_000);
    expect(synTimes(h)).toEqual([0, 1, 3, 7, 15]);
    expect([conn.outcome, conn.outcomeAt]).toEqual([{ kind: "timedOut" }, 21_000]);
  });

  it("TCP_FAIL_CONNECT_ON_ICMP_ERROR: the first ICMP error fails the connect", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect("10.0.0.1:80", { overrides: { failConnectOnIcmpError: true } });
    h.advanceTo(40);
    conn.icmp(3, 1, { from: "10.0.0.254" });
    expect(conn.outcome).toMatchObject({ kind: "unreachable", reason: "host" });
    expect(conn.outcomeAt).toBe(40);
  });
});

describe("windows7: the old schedule and its SYN", () => {
  it("SYNs at 0, 3, 9 s, timedOut at 21 s; window 8192, wscale 2; the last SYN without the window-scale option", () => {
    const { h, conn } = blackHole("windows7");
    expect(synTimes(h)).toEqual([0, 3, 9]);
    expect([conn.outcome, conn.outcomeAt]).toEqual([{ kind: "timedOut" }, 21_000]);
    expect(syns(h).map((s) => [s.tcp.window, s.options])).toEqual([
      [8192, "mss 1460,nop,wscale 2,nop,nop,sackOK"],
      [8192, "mss 1460,nop,wscale 2,nop,nop,sackOK"],
      [8192, "mss 1460,nop,nop,sackOK"],
    ]);
    expect(new Set(syns(h).map((s) => s.tcp.seq)).size).toBe(1);
  });

  it("a SYN-ACK to the wscale-less SYN: no window scaling, even if the SYN-ACK offers it", () => {
    const h = new Harness({ profile: "windows7" });
    const conn = h.connect();
    h.advanceTo(9000);
    const last = syns(h).at(-1)!;
    expect(last.options).toBe("mss 1460,nop,nop,sackOK");
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 100, ack: last.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 7 }, { kind: "sackOK" }] });
    expect(conn.c.state).toBe("ESTABLISHED");
    expect([conn.c.sndWscale, conn.c.rcvWscale, conn.c.sackEnabled]).toEqual([0, 0, true]);
  });

  it("a SYN-ACK to an earlier SYN: window scaling as offered", () => {
    const h = new Harness({ profile: "windows7" });
    const conn = h.connect();
    h.advanceTo(3000);
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 100, ack: syns(h)[0]!.tcp.seq + 1, options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 7 }] });
    expect([conn.c.sndWscale, conn.c.rcvWscale]).toEqual([7, 2]);
  });
});

describe("RST in SYN-SENT: the same SYN again 500 ms after the RST's arrival, then refused", () => {
  /** The peer answers every SYN with a RST+ACK `rttMs` later; returns the SYN times and the RST times. */
  function closedPort(profile: ProfileName, rttMs: number, overrides?: ProfileOverrides) {
    const h = new Harness({ profile });
    const conn = h.connect("10.0.0.1:80", { overrides });
    const rstAt: number[] = [];
    for (let i = 0; i < 20 && conn.outcome === undefined; i++) {
      const syn = syns(h).at(-1)!;
      h.advanceTo(syn.t + rttMs);
      conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1 });
      rstAt.push(h.now);
      // The next SYN is due rstRetryDelayMs after the RST arrived.
      if (conn.outcome === undefined) h.advanceTo(h.now + 500);
    }
    return { h, conn, synAt: syns(h).map((s) => s.t), rstAt };
  }

  it("windows: 5 SYNs, each 500 ms after the RST before it; refused at the fifth RST (about 2 s)", () => {
    const { h, conn, synAt, rstAt } = closedPort("windows", 0);
    expect(synAt).toEqual([0, 500, 1000, 1500, 2000]);
    expect([conn.outcome, conn.outcomeAt]).toEqual([{ kind: "refused" }, 2000]);
    expect(rstAt).toHaveLength(5);
    expect(new Set(syns(h).map((s) => s.options)).size).toBe(1);
  });

  it("windows: a crossing SYN after the RST ends the retry (no bare SYN from SYN-RECEIVED or later)", () => {
    const h = new Harness({ profile: "windows" });
    const conn = h.connect("10.0.0.1:80");
    const syn = syns(h)[0]!;
    conn.peer({ flags: TCP_RST | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1 });
    h.advanceTo(100);
    conn.peer({ flags: TCP_SYN, seq: 5000, ack: 0, options: [{ kind: "mss", value: 1460 }] });
    expect(conn.c.state).toBe("SYN-RECEIVED");
    h.advanceTo(2000); // past the retry's 500 ms
    expect(syns(h)).toHaveLength(1);
    // The SYN-ACK of the simultaneous open, and its retransmission 1 s later.
    expect(h.sent.map((s) => [s.t, s.flags])).toEqual([[0, "S"], [100, "S."], [1100, "S."]]);
  });

  it("windows, 30 ms round trip: the delay counts from the RST's arrival", () => {
    const { conn, synAt, rstAt } = closedPort("windows", 30);
    expect(rstAt).toEqual([30, 560, 1090, 1620, 2150]);
    expect(synAt.slice(1).map((t, i) => t - rstAt[i]!)).toEqual([500, 500, 500, 500]);
    expect(conn.outcomeAt).toBe(2150);
  });

  it("windows with NO_SYN_RETRANSMISSIONS: refused at the first RST", () => {
    const { conn, synAt } = closedPort("windows", 0, { synRetries: 0, synSentRst: "refuse" });
    expect(synAt).toEqual([0]);
    expect([conn.outcome, conn.outcomeAt]).toEqual([{ kind: "refused" }, 0]);
  });

  it("early Windows 10 (synRetries 2, as in pcaps gnutella): 3 SYNs, refused at the third RST", () => {
    const { conn, synAt, rstAt } = closedPort("windows", 180, { initialRtoMs: 3000, synRetries: 2 });
    expect(synAt).toEqual([0, 680, 1360]);
    expect(rstAt).toEqual([180, 860, 1540]);
    expect(conn.outcomeAt).toBe(1540);
  });

  it("windows7: 3 SYNs 500 ms after each RST, the third without the window-scale option; refused at about 1 s", () => {
    const { h, conn, synAt } = closedPort("windows7", 0);
    expect(synAt).toEqual([0, 500, 1000]);
    expect(syns(h).map((s) => s.options)).toEqual(["mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,nop,sackOK"]);
    expect([conn.outcome, conn.outcomeAt]).toEqual([{ kind: "refused" }, 1000]);
  });
});

describe("loopback-sized MTU (Windows 10 1809 loopback: window 65535, MSS 65495, wscale 8)", () => {
  it("windows on a 65535-byte MTU: MSS 65495, window 65535, wscale 8", () => {
    const h = new Harness({ profile: "windows", mtu: 65535 });
    h.connect();
    const [syn] = h.take();
    expect(syn!.options).toBe("mss 65495,nop,wscale 8,nop,nop,sackOK");
    expect(syn!.tcp.window).toBe(65535);
  });
  it("windows: 44 segments of the MSS, at most 65535 (1460 -> 64240, 1440 -> 63360, 1360 -> 59840, 8960 -> 65535)", () => {
    for (const [mtu, win] of [
      [1500, 64240],
      [1480, 63360],
      [1400, 59840],
      [9000, 65535],
    ] as const) {
      const h = new Harness({ profile: "windows", mtu });
      h.connect();
      expect(h.take()[0]!.tcp.window).toBe(win);
    }
  });
  it("windows7 keeps 8192 whatever the MTU", () => {
    const h = new Harness({ profile: "windows7", mtu: 65535 });
    h.connect();
    const [syn] = h.take();
    expect([syn!.tcp.window, syn!.options]).toEqual([8192, "mss 65495,nop,wscale 2,nop,nop,sackOK"]);
  });
});

describe("the peer's MSS: each profile's floor", () => {
  /** The send MSS after a SYN-ACK carrying `mss` (undefined: no option). */
  function sendMss(profile: ProfileName, mss: number | undefined, remote = "10.0.0.1:80"): Conn {
    const h = new Harness({ profile });
    const conn = h.connect(remote);
    const [syn] = h.take();
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 100, ack: syn!.tcp.seq + 1, options: mss === undefined ? [] : [{ kind: "mss", value: mss }] });
    expect(conn.c.state).toBe("ESTABLISHED");
    return conn;
  }
  const cases: Array<[ProfileName, number | undefined, number, number]> = [
    // profile, option, IPv4 send MSS, IPv6 send MSS
    ["windows", 1, 536, 1220],
    ["windows", 0, 536, 1220],
    ["windows", 600, 600, 1220],
    ["windows", undefined, 536, 1220],
    ["windows7", 1, 536, 1220],
    ["linux", 1, 48, 48],
    ["linux", 0, 536, 1220],
    ["freebsd", 1, 216, 216],
    ["freebsd", 0, 536, 1220],
    ["freebsd", 300, 300, 300],
    ["rfc", 1, 1, 1],
    ["rfc", 0, 1, 1],
  ];
  for (const [profile, opt, v4, v6] of cases) {
    it(`${profile}: MSS option ${opt ?? "absent"} -> ${v4} (IPv4), ${v6} (IPv6)`, () => {
      expect(sendMss(profile, opt).c.sndMss).toBe(v4);
      expect(sendMss(profile, opt, "[fd00::1]:80").c.sndMss).toBe(v6);
    });
  }
  it("windows, MSS 1: a 3200-byte send goes out in 536-byte segments (7), not 3200 one-byte ones", () => {
    const conn = sendMss("windows", 1);
    const h = conn.h;
    h.take();
    conn.c.send(new Uint8Array(3200), h.now);
    h.collect();
    for (let i = 0; i < 20 && conn.c.sndUna !== conn.c.sndNxt; i++) {
      const data = h.take().filter((s) => s.tcp.payload.length > 0);
      if (data.length === 0) break;
      conn.peer({ flags: TCP_ACK, seq: 101, ack: data.at(-1)!.tcp.seq + data.at(-1)!.tcp.payload.length, window: 65535 });
    }
    const sizes = h.sent.filter((s) => s.tcp.payload.length > 0).map((s) => s.tcp.payload.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(3200);
    expect(Math.max(...sizes)).toBe(536);
    expect(sizes).toHaveLength(Math.ceil(3200 / 536));
  });
});
