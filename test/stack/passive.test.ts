// The passive side per profile (stack/tcp/passive.ts): the SYN-ACK's window and options,
// its retransmission schedule, SYN-RECEIVED's window, segments a listener drops, a full
// accept queue, and a flood of SYNs against the half-open limit. Virtual time.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { Listener, type AcceptQueue } from "../../stack/stack.js";
import type { Connection } from "../../stack/tcp/connection.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";

const LINUX_SYN: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 100, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 7 }];
const NO_TS_SYN: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 8 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }];

function listening(profile: ProfileName, o: { overrides?: ProfileOverrides; acceptQueue?: AcceptQueue } = {}) {
  const h = new Harness({ profile });
  const accepted: Connection[] = [];
  const l = h.stack.listen({ port: 80, overrides: o.overrides, acceptQueue: o.acceptQueue, onAccept: (c) => accepted.push(c) });
  if (!(l instanceof Listener)) throw new Error("listen failed");
  const seg = (flags: number, x: { seq?: number; ack?: number; srcPort?: number; src?: string; dst?: string; options?: TcpOption[]; payload?: Uint8Array } = {}) =>
    h.inputBytes(buildTcpPacket({ src: x.src ?? "10.0.0.9", dst: x.dst ?? "10.0.0.2", srcPort: x.srcPort ?? 40000, dstPort: 80, seq: x.seq ?? 7000, ack: x.ack ?? 0, flags, window: 65535, options: x.options ?? [], payload: x.payload }));
  /** SYN from `srcPort`, its SYN-ACK, and the final ACK; returns the SYN-ACK's ISS. */
  const handshake = (srcPort: number) => {
    seg(TCP_SYN, { srcPort, options: LINUX_SYN });
    const sa = h.take().find((s) => s.flags === "S." && s.tcp.dstPort === srcPort);
    if (!sa) throw new Error("no SYN-ACK");
    seg(TCP_ACK, { srcPort, seq: 7001, ack: (sa.tcp.seq + 1) >>> 0 });
    return sa.tcp.seq;
  };
  return { h, l, accepted, seg, handshake };
}

describe("SYN-ACK window and options per profile", () => {
  const cases: Array<[ProfileName, TcpOption[], number, string]> = [
    // pcaps/tcp-handshake-nano.pcap: an Azure (Windows) server's SYN-ACK.
    ["windows", LINUX_SYN, 8192, "mss 1460,nop,wscale 8,sackOK,TS"],
    ["windows", NO_TS_SYN, 8192, "mss 1460,nop,wscale 8,nop,nop,sackOK"],
    // The Linux kernel's SYN-ACK at MTU 1500: 45 * 1448 with timestamps, 44 * 1460 without.
    ["linux", LINUX_SYN, 65160, "mss 1460,sackOK,TS"],
    ["linux", NO_TS_SYN, 64240, "mss 1460,nop,nop,sackOK,nop,wscale 7"],
    ["freebsd", LINUX_SYN, 65535, "mss 1460,nop,wscale 6,sackOK,TS"],
  ];
  for (const [profile, syn, window, options] of cases) {
    it(`${profile}, SYN ${syn.some((o) => o.kind === "ts") ? "with" : "without"} timestamps: window ${window}, ${options}`, () => {
      const { h, seg } = listening(profile);
      seg(TCP_SYN, { options: syn });
      const [sa] = h.take();
      expect(sa.flags).toBe("S.");
      expect(sa.tcp.window).toBe(window);
      expect(sa.options.startsWith(options)).toBe(true);
    });
  }

  it("windows answers timestamps it never offers, and uses them on the connection", () => {
    const { h, accepted, handshake } = listening("windows");
    handshake(40000);
    expect(accepted[0].tsEnabled).toBe(true);
    expect(h.stack.connect({ remote: { addr: "10.0.0.9", port: 80 } }, h.now)).toBeDefined();
    h.collect();
    expect(h.take().at(-1)!.options).not.toContain("TS");
  });
});

describe("SYN-ACK retransmission per profile, then the half-open connection is dropped silently", () => {
  const cases: Array<[ProfileName, number[], number]> = [
    ["windows", [0, 1000, 3000], 7000], // TcpMaxConnectResponseRetransmissions 2, from the 1 s initial RTO
    ["windows7", [0, 3000, 9000], 21_000], // the same from Windows 7's 3 s
    ["linux", [0, 1000, 3000, 7000, 15_000, 31_000], 63_000], // tcp_synack_retries 5
    ["freebsd", [0, 1000, 3200, 7400], 15_600], // SYNCACHE_MAXREXMTS 3, rexmit_slop 200 ms
  ];
  for (const [profile, times, dropAt] of cases) {
    it(`${profile}: SYN-ACKs at ${times.join(", ")} ms, dropped at ${dropAt} ms`, () => {
      // The schedule itself: linux's timers otherwise fire on the kernel's timer wheel, each
      // later by its level's granule (timerWheel, stack/tcp/timer-wheel.ts).
      const { h, seg } = listening(profile, profile === "linux" ? { overrides: { timerWheel: "exact" } } : {});
      seg(TCP_SYN, { options: LINUX_SYN });
      h.advance(dropAt - 1);
      expect(h.stack.connectionCount).toBe(1);
      h.advance(1);
      expect(h.stack.connectionCount).toBe(0);
      h.advance(200_000);
      const sent = h.take();
      expect(sent.map((s) => s.flags)).toEqual(times.map(() => "S."));
      expect(sent.map((s) => s.t)).toEqual(times);
    });
  }
});

describe("SYN-RECEIVED of a passive open: RCV.WND is the SYN-ACK's window", () => {
  it("freebsd: a RST at RCV.NXT + 65535 is outside (the syncache's 65535), at + 65534 it resets", () => {
    const { h, seg } = listening("freebsd", { overrides: { rstCheck: "rfc793" } });
    seg(TCP_SYN, { options: NO_TS_SYN });
    h.take();
    seg(TCP_RST, { seq: 7001 + 65535 });
    expect(h.stack.connectionCount).toBe(1);
    seg(TCP_RST, { seq: 7001 + 65534 });
    expect(h.stack.connectionCount).toBe(0);
    expect(h.take()).toEqual([]);
  });
});

describe("segments a listener drops", () => {
  it("a SYN-ACK: freebsd drops it, linux answers <SEQ=SEG.ACK><CTL=RST>", () => {
    for (const [profile, answer] of [["freebsd", []], ["linux", [["R", 5555]]]] as const) {
      const { h, seg } = listening(profile);
      seg(TCP_SYN | TCP_ACK, { ack: 5555 });
      expect(h.take().map((s) => [s.flags, s.tcp.seq])).toEqual(answer);
      expect(h.stack.stats.drops["listener: syn-ack"] ?? 0).toBe(answer.length === 0 ? 1 : 0);
    }
  });

  it("a SYN+FIN with drop_synfin (synFin \"drop\"): no SYN-ACK, no half-open connection", () => {
    const { h, seg } = listening("freebsd", { overrides: { synFin: "drop" } });
    seg(TCP_SYN | TCP_FIN);
    expect(h.take()).toEqual([]);
    expect(h.stack.connectionCount).toBe(0);
    seg(TCP_SYN);
    expect(h.take().map((s) => s.flags)).toEqual(["S."]);
  });
});

describe("full accept queue per profile", () => {
  it("linux: the SYN is dropped; a final ACK is dropped, the SYN-ACK retransmitted, and the next ACK accepted once there is room", () => {
    const q = { queued: 1, capacity: 1 };
    const { h, l, accepted, seg } = listening("linux", { acceptQueue: q, overrides: { timerWheel: "exact" } });
    seg(TCP_SYN, { options: LINUX_SYN });
    expect(h.take()).toEqual([]);
    expect(h.stack.stats.drops["listener: accept queue full"]).toBe(1);
    // Room at SYN time, none at the final ACK.
    q.queued = 0;
    seg(TCP_SYN, { srcPort: 40001, options: LINUX_SYN });
    const [sa] = h.take();
    q.queued = 1;
    seg(TCP_ACK, { srcPort: 40001, seq: 7001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(accepted.length).toBe(0);
    expect(h.take()).toEqual([]);
    h.advance(1000);
    expect(h.take().map((s) => s.flags)).toEqual(["S."]);
    q.queued = 0;
    seg(TCP_ACK, { srcPort: 40001, seq: 7001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(accepted.length).toBe(1);
    expect(l.queueFullTurnedAway).toBe(2);
  });

  it("freebsd: the SYN is answered, the final ACK gets <SEQ=SEG.ACK><CTL=RST>", () => {
    const { h, accepted, seg } = listening("freebsd", { acceptQueue: { queued: 5, capacity: 5 } });
    seg(TCP_SYN, { options: LINUX_SYN });
    const [sa] = h.take();
    expect(sa.flags).toBe("S.");
    seg(TCP_ACK, { seq: 7001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(h.take().map((s) => [s.flags, s.tcp.seq])).toEqual([["R", (sa.tcp.seq + 1) >>> 0]]);
    expect(accepted.length).toBe(0);
    expect(h.stack.connectionCount).toBe(0);
  });

  it("windows: the SYN is refused with RST,ACK (Winsock: WSAECONNREFUSED)", () => {
    const { h, seg } = listening("windows", { acceptQueue: { queued: 2, capacity: 2 } });
    seg(TCP_SYN, { options: NO_TS_SYN });
    expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([["R.", 7001]]);
    expect(h.stack.connectionCount).toBe(0);
  });
});

describe("SYN flood, windows (and rfc): the half-open limit drops the oldest", () => {
  it("a flood of spoofed SYNs does not stop a real client's handshake; the listener never holds more than halfOpenLimit", () => {
    const { h, l, accepted, seg, handshake } = listening("windows", { overrides: { halfOpenLimit: 16 } });
    for (let i = 0; i < 500; i++) seg(TCP_SYN, { src: `10.0.0.${100 + (i % 100)}`, srcPort: 1024 + i, options: LINUX_SYN });
    expect(l.halfOpen.size).toBe(16);
    expect(l.halfOpenDropped).toBe(484);
    expect(h.stack.stats.synCookiesSent).toBe(0);
    handshake(50000);
    expect(accepted.map((c) => c.remotePort)).toEqual([50000]);
    // More flood while a second client is mid-handshake: 15 SYNs fit beside it.
    seg(TCP_SYN, { srcPort: 50001, options: LINUX_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50001)!;
    for (let i = 0; i < 15; i++) seg(TCP_SYN, { src: "10.0.0.77", srcPort: 2000 + i, options: LINUX_SYN });
    seg(TCP_ACK, { srcPort: 50001, seq: 7001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(accepted.map((c) => c.remotePort)).toEqual([50000, 50001]);
    expect(h.stack.connectionCount).toBe(2 + 16 - 1);
  });

  it("a real client whose final ACK is lost and whose connection the flood pushes out is reset when its data arrives (no SYN cookies)", () => {
    const { h, l, accepted, seg } = listening("windows", { overrides: { halfOpenLimit: 16 } });
    seg(TCP_SYN, { srcPort: 50000, options: LINUX_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    for (let i = 0; i < 16; i++) seg(TCP_SYN, { src: "10.0.0.77", srcPort: 2000 + i, options: LINUX_SYN });
    expect(l.halfOpenDropped).toBe(1);
    seg(TCP_ACK | 0x08, { srcPort: 50000, seq: 7001, ack: (sa.tcp.seq + 1) >>> 0, payload: new TextEncoder().encode("hello") });
    expect(accepted).toEqual([]);
    const [rst] = h.take().filter((s) => s.tcp.dstPort === 50000);
    expect(rst.flags).toBe("R");
    expect(rst.tcp.seq).toBe((sa.tcp.seq + 1) >>> 0);
  });
});

/** An ACK carrying data, the client's first segment after a handshake whose final ACK was lost. */
const DATA = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
const PSH = 0x08;

describe("SYN flood, linux: SYN cookies once the half-open set is full (net.ipv4.tcp_syncookies 1)", () => {
  const flood = (seg: ReturnType<typeof listening>["seg"], n: number, base = 1024) => {
    for (let i = 0; i < n; i++) seg(TCP_SYN, { src: `10.0.0.${100 + (i % 100)}`, srcPort: base + i, options: LINUX_SYN });
  };

  it("the flood fills the half-open set, nothing is pushed out, and every SYN past it gets one cookie SYN-ACK with nothing kept", () => {
    const { h, l, seg } = listening("linux", { overrides: { halfOpenLimit: 16 } });
    flood(seg, 500);
    expect(l.halfOpen.size).toBe(16);
    expect(l.halfOpenDropped).toBe(0);
    expect(h.stack.connectionCount).toBe(16);
    expect(h.stack.stats.synCookiesSent).toBe(484);
    const out = h.take();
    expect(out.filter((s) => s.flags === "S.").length).toBe(500);
    // The cookie SYN-ACKs are not retransmitted; the 16 kept ones are.
    h.advance(1500);
    expect(h.take().filter((s) => s.flags === "S.").length).toBe(16);
  });

  it("a real client whose final ACK is lost becomes a connection when its first data segment arrives: MSS, window scale, SACK and timestamps as the cookie carried them", () => {
    const { h, l, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 16 } });
    flood(seg, 100);
    h.take();
    const syn: TcpOption[] = [{ kind: "mss", value: 1448 }, { kind: "sackOK" }, { kind: "ts", val: 5000, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 9 }];
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: syn });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    expect(sa.flags).toBe("S.");
    expect(sa.options).toBe("mss 1460,sackOK,TS val " + sa.options.split("TS val ")[1]!.split(" ")[0] + " ecr 5000,nop,wscale 7");
    expect(l.halfOpen.size).toBe(16);
    // The final ACK is lost; the data comes 300 ms later and echoes the SYN-ACK's TSval.
    const tsval = sa.tcp.options.find((o) => o.kind === "ts")!;
    h.advance(300);
    seg(TCP_ACK | PSH, { srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0, payload: DATA, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 5300, ecr: tsval.kind === "ts" ? tsval.val : 0 }] });
    expect(accepted.map((c) => c.remotePort)).toEqual([50000]);
    const c = accepted[0];
    expect(c.state).toBe("ESTABLISHED");
    expect(new TextDecoder().decode(c.read())).toBe("GET / HTTP/1.0\r\n\r\n");
    expect(c.sndMss).toBe(1440); // msstab rounds 1448 down to 1440
    expect(c.sndWscale).toBe(9);
    expect(c.rcvWscale).toBe(7);
    expect(c.sackEnabled).toBe(true);
    expect(c.tsEnabled).toBe(true);
    expect(h.stack.stats.synCookiesAccepted).toBe(1);
    // Its ACK of the data carries timestamps that do not go back from the SYN-ACK's TSval.
    h.advance(200);
    const ack = h.take().find((s) => s.tcp.dstPort === 50000)!;
    expect(ack.tcp.ack).toBe((90001 + DATA.length) >>> 0);
    const ts = ack.tcp.options.find((o) => o.kind === "ts")!;
    expect(ts.kind === "ts" && tsval.kind === "ts" && ((ts.val - tsval.val) | 0) >= 0).toBe(true);
  });

  it("the SYN-ACK's TSval carries the client's window scale and SACK-permitted in its low 6 bits", () => {
    const { h, seg } = listening("linux", { overrides: { halfOpenLimit: 1 } });
    seg(TCP_SYN, { srcPort: 1000, options: LINUX_SYN });
    const offer = (opts: TcpOption[], port: number) => {
      seg(TCP_SYN, { srcPort: port, options: opts });
      const sa = h.take().find((s) => s.tcp.dstPort === port)!;
      const ts = sa.tcp.options.find((o) => o.kind === "ts");
      return ts && ts.kind === "ts" ? ts.val : undefined;
    };
    h.take();
    const a = offer([{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 1, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 7 }], 2000);
    const b = offer([{ kind: "mss", value: 1460 }, { kind: "ts", val: 1, ecr: 0 }], 2000);
    // The offset (a keyed hash of the address pair) is the same for both: the bits differ as
    // wscale 7 + SACK (0x17) and no wscale, no SACK (0x0f) do.
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect((a! - b!) & 0x3f).toBe((0x17 - 0x0f) & 0x3f);
  });

  it("without timestamps the cookie SYN-ACK offers only the MSS: window scale and SACK are lost, the MSS is rounded down to the table", () => {
    const { h, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 1 } });
    seg(TCP_SYN, { srcPort: 1000, options: LINUX_SYN });
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: [{ kind: "mss", value: 1400 }, { kind: "nop" }, { kind: "wscale", shift: 8 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }] });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    expect(sa.options).toBe("mss 1460");
    expect(sa.tcp.window).toBe(64240);
    seg(TCP_ACK | PSH, { srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0, payload: DATA });
    const c = accepted[0];
    expect(c?.state).toBe("ESTABLISHED");
    expect(c.sndMss).toBe(1300);
    expect([c.sndWscale, c.rcvWscale, c.sackEnabled, c.tsEnabled]).toEqual([0, 0, false, false]);
    expect(c.rcvBuffered).toBe(DATA.length);
  });

  it("an MSS below the table's first entry comes back as 536", () => {
    const { h, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 1 } });
    seg(TCP_SYN, { srcPort: 1000, options: LINUX_SYN });
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: [{ kind: "mss", value: 500 }] });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    seg(TCP_ACK, { srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(accepted[0]?.sndMss).toBe(536);
  });

  it("a forged cookie, a cookie for another port or sequence number, and one two minutes old get <SEQ=SEG.ACK><CTL=RST> and are counted", () => {
    const { h, l, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 4 } });
    flood(seg, 10);
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: NO_TS_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    const good = (sa.tcp.seq + 1) >>> 0;
    seg(TCP_ACK, { srcPort: 50000, seq: 90001, ack: (good + 1) >>> 0 }); // forged: off by one
    seg(TCP_ACK, { srcPort: 50001, seq: 90001, ack: good }); // another port
    // Another sequence number: Linux adds their ISN into the cookie, so one a few off only
    // shifts the MSS index (__cookie_v4_check()); farther off it fails.
    seg(TCP_ACK, { srcPort: 50000, seq: 190001, ack: good });
    const rsts = h.take().filter((s) => s.flags === "R");
    expect(rsts.map((r) => r.tcp.seq)).toEqual([(good + 1) >>> 0, good, good]);
    expect(l.synCookiesFailed).toBe(3);
    expect(accepted).toEqual([]);
    // Two minutes later (a fresh flood keeps the overflow recent) the same cookie fails too.
    h.advance(121_000);
    flood(seg, 10, 3000);
    seg(TCP_ACK, { srcPort: 50000, seq: 90001, ack: good });
    expect(h.take().filter((s) => s.flags === "R").map((r) => r.tcp.seq)).toEqual([good]);
    expect(h.stack.stats.synCookiesFailed).toBe(4);
    expect(accepted).toEqual([]);
  });

  it("a valid cookie a minute old still opens; none is looked at two minutes after the last overflow", () => {
    const { h, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 4 } });
    flood(seg, 5);
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: NO_TS_SYN });
    seg(TCP_SYN, { srcPort: 50001, seq: 91000, options: NO_TS_SYN });
    const out = h.take();
    const ack = (port: number) => (out.find((s) => s.tcp.dstPort === port)!.tcp.seq + 1) >>> 0;
    h.advance(59_000);
    seg(TCP_ACK, { srcPort: 50000, seq: 90001, ack: ack(50000) });
    expect(accepted.map((c) => c.remotePort)).toEqual([50000]);
    h.advance(62_000); // 121 s after the last cookie: no recent overflow, the ACK is just an ACK
    seg(TCP_ACK, { srcPort: 50001, seq: 91001, ack: ack(50001) });
    expect(h.take().filter((s) => s.flags === "R").length).toBe(1);
    expect(h.stack.stats.synCookiesFailed).toBe(0);
  });

  it("over IPv6 as over IPv4 (net/ipv6/syncookies.c uses the same scheme); a failed cookie is traced with its reason", () => {
    const { h, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 1 } });
    const v6 = { src: "fd00::9", dst: "fd00::2" };
    seg(TCP_SYN, { ...v6, srcPort: 1000, options: LINUX_SYN });
    seg(TCP_SYN, { ...v6, srcPort: 50000, seq: 90000, options: NO_TS_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    expect(h.stack.stats.synCookiesSent).toBe(1);
    seg(TCP_ACK, { ...v6, srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 2) >>> 0 });
    expect(h.take().map((s) => s.flags)).toEqual(["R"]);
    expect(h.trace.some((e) => e.decision.startsWith("SYN cookie does not check"))).toBe(true);
    seg(TCP_ACK, { ...v6, srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(accepted.map((c) => [c.version, c.remoteAddr, c.state])).toEqual([[6, "fd00::9", "ESTABLISHED"]]);
    expect(accepted[0].sndMss).toBe(1440); // 1460 from the table, capped by our IPv6 MSS (1440)
  });

  it("a valid cookie that finds the accept queue full is dropped, not reset (the client's retransmission tries again)", () => {
    const q = { queued: 0, capacity: 1 };
    const { h, accepted, seg } = listening("linux", { overrides: { halfOpenLimit: 1 }, acceptQueue: q });
    seg(TCP_SYN, { srcPort: 1000, options: NO_TS_SYN });
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: NO_TS_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    q.queued = 1;
    seg(TCP_ACK | PSH, { srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0, payload: DATA });
    expect(h.take()).toEqual([]);
    expect(h.stack.stats.drops["listener: accept queue full"]).toBe(1);
    q.queued = 0;
    seg(TCP_ACK | PSH, { srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0, payload: DATA });
    expect(accepted.map((c) => c.remotePort)).toEqual([50000]);
  });
});

describe("SYN flood, freebsd: the syncache drops its oldest entry and overflows to SYN cookies (net.inet.tcp.syncookies 1)", () => {
  it("a real client pushed out of the full syncache, whose final ACK is lost, gets in with its data: its ISS was a cookie", () => {
    const { h, l, accepted, seg } = listening("freebsd", { overrides: { halfOpenLimit: 16 } });
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: LINUX_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    for (let i = 0; i < 100; i++) seg(TCP_SYN, { src: `10.0.0.${100 + (i % 100)}`, srcPort: 1024 + i, options: LINUX_SYN });
    // The 17th SYN overflowed: the oldest (the client's) dropped, then 16 s of cookies only.
    expect(l.halfOpenDropped).toBe(1);
    expect(l.halfOpen.size).toBe(16);
    expect(h.stack.stats.synCookiesSent).toBe(100 - 16);
    h.take();
    h.advance(2000);
    seg(TCP_ACK | PSH, { srcPort: 50000, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0, payload: DATA, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 2100, ecr: 1 }] });
    const c = accepted[0];
    expect(c?.remotePort).toBe(50000);
    expect(new TextDecoder().decode(c.read())).toBe("GET / HTTP/1.0\r\n\r\n");
    // tcp_sc_msstab / tcp_sc_wstab: 1460 and 7 are in the tables; SACK carried; timestamps from the ACK.
    expect([c.peerMss, c.sndWscale, c.sackEnabled, c.tsEnabled]).toEqual([1460, 7, true, true]);
    expect(h.stack.stats.synCookiesAccepted).toBe(1);
  });

  it("a forged cookie is reset and counted; a genuine one made more than 32 s ago (both secrets replaced since) is too", () => {
    const { h, l, accepted, seg } = listening("freebsd", { overrides: { halfOpenLimit: 2 } });
    const fill = (base: number) => {
      for (let i = 0; i < 3; i++) seg(TCP_SYN, { src: "10.0.0.77", srcPort: base + i, options: NO_TS_SYN });
    };
    fill(1000);
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: NO_TS_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    const good = (sa.tcp.seq + 1) >>> 0;
    seg(TCP_ACK, { srcPort: 50000, seq: 90001, ack: (good ^ 0x100) >>> 0 });
    expect(h.take().filter((s) => s.flags === "R").map((r) => r.tcp.seq)).toEqual([(good ^ 0x100) >>> 0]);
    expect(l.synCookiesFailed).toBe(1);
    h.advance(33_000);
    fill(2000); // a fresh overflow: cookie ACKs are looked at again
    seg(TCP_ACK, { srcPort: 50000, seq: 90001, ack: good });
    expect(h.take().filter((s) => s.flags === "R").map((r) => r.tcp.seq)).toEqual([good]);
    expect(l.synCookiesFailed).toBe(2);
    expect(accepted).toEqual([]);
  });

  it("without an overflow in the last 16 s an ACK for no entry is not looked at as a cookie: RST, as syncache_expand() says", () => {
    const { h, l, seg } = listening("freebsd");
    seg(TCP_SYN, { srcPort: 50000, seq: 90000, options: NO_TS_SYN });
    const sa = h.take().find((s) => s.tcp.dstPort === 50000)!;
    // The same cookie from another port: no entry, no recent overflow.
    seg(TCP_ACK, { srcPort: 50001, seq: 90001, ack: (sa.tcp.seq + 1) >>> 0 });
    expect(h.take().map((s) => s.flags)).toEqual(["R"]);
    expect(l.synCookiesFailed).toBe(0);
  });
});

describe("accepted connections do not share the listener's profile object", () => {
  it("an option set on one accepted connection stays its own; the listener's profile can be replaced for later SYNs", () => {
    const { h, l, accepted, handshake } = listening("linux");
    handshake(40000);
    handshake(40001);
    accepted[0].profile.nodelay = true;
    expect(accepted[1].profile.nodelay).toBe(false);
    expect(l.profile.nodelay).toBe(false);
    l.profile = { ...l.profile, mssOverride: 1100 };
    const { seg } = { seg: (port: number) => h.inputBytes(buildTcpPacket({ src: "10.0.0.9", dst: "10.0.0.2", srcPort: port, dstPort: 80, seq: 1, ack: 0, flags: TCP_SYN, window: 65535, options: LINUX_SYN })) };
    seg(40002);
    expect(h.take().at(-1)!.options).toContain("mss 1100");
  });
});
