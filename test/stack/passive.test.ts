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
  const seg = (flags: number, x: { seq?: number; ack?: number; srcPort?: number; src?: string; options?: TcpOption[]; payload?: Uint8Array } = {}) =>
    h.inputBytes(buildTcpPacket({ src: x.src ?? "10.0.0.9", dst: "10.0.0.2", srcPort: x.srcPort ?? 40000, dstPort: 80, seq: x.seq ?? 7000, ack: x.ack ?? 0, flags, window: 65535, options: x.options ?? [], payload: x.payload }));
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

describe("SYN flood: the half-open limit drops the oldest", () => {
  it("a flood of spoofed SYNs does not stop a real client's handshake; the listener never holds more than halfOpenLimit", () => {
    const { h, l, accepted, seg, handshake } = listening("linux", { overrides: { halfOpenLimit: 16 } });
    for (let i = 0; i < 500; i++) seg(TCP_SYN, { src: `10.0.0.${100 + (i % 100)}`, srcPort: 1024 + i, options: LINUX_SYN });
    expect(l.halfOpen.size).toBe(16);
    expect(l.halfOpenDropped).toBe(484);
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
