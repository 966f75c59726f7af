// Replay verdicts that mean what they say: the connect compared with the connect, the
// connection's end with the connection's end; the SYN's window and options always
// compared; a client still connecting when the capture ended compared as such; a connect
// the application cancelled replayed as cancelled (src/replay/verdict.ts, compare.ts).
import { describe, expect, it } from "vitest";
import { replayActiveOpen } from "../../src/replay/replay.js";
import { driveReplay, type DriveResult } from "../../src/replay/drive.js";
import { planReplay, recordedSides } from "../../src/replay/setup.js";
import { buildPeerScript } from "../../src/replay/peer-script.js";
import { classifyReplayed, judge } from "../../src/replay/verdict.js";
import { buildIcmpError, buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import { C, LINUX_SYN, WINDOWS_SYN, client, openOf, opensOf, server } from "../helpers/replay-open.js";

const SYNACK: TcpOption[] = [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 7, ecr: 1000 }, { kind: "nop" }, { kind: "wscale", shift: 7 }];
const data = new TextEncoder().encode("0123456789");

/** Handshake and 10 bytes from a Linux client, then `tail`. */
function linuxThen(tail: Array<[number, Uint8Array]>) {
  return openOf([
    [0, client({ flags: TCP_SYN, options: LINUX_SYN })],
    [10, server({ flags: TCP_SYN | TCP_ACK, options: SYNACK })],
    [10.1, client({ flags: TCP_ACK, seq: 101, ack: 5001, window: 502 })],
    [12, client({ flags: TCP_ACK | TCP_PSH, seq: 101, ack: 5001, payload: data })],
    [22, server({ flags: TCP_ACK, seq: 5001, ack: 111 })],
    ...tail,
  ]);
}

const unexplained = (diffs: Array<{ explained?: string; field: string }>) => diffs.filter((d) => !d.explained).map((d) => d.field);

describe("the connect with the connect, the end with the end", () => {
  it("a RST from the server after the client's FIN ends a close already under way: established and closed on both sides", () => {
    const open = linuxThen([
      [30, client({ flags: TCP_ACK | TCP_FIN, seq: 111, ack: 5001 })],
      [40, server({ flags: TCP_RST | TCP_ACK, seq: 5001, ack: 112 })],
    ]);
    const h = replayActiveOpen(open, { profile: "linux" });
    expect(h.recorded).toMatchObject({ outcome: "established", connect: "established", end: "closed" });
    // The engine reports the RST as a reset; in FIN-WAIT it only ends our close.
    expect(h.replayed).toMatchObject({ outcome: "established", connect: "established", end: "closed", status: "STATUS_SUCCESS" });
    expect(h.diffs.filter((d) => d.field === "outcome" || d.field === "end")).toEqual([]);
    expect(h.match).toBe(true);
  });

  it("after a simultaneous open the client's abort (its only segment after its SYN-ACK) is its end: aborted by the client (kd-32-0163)", () => {
    const open = openOf([
      [0, client({ flags: TCP_SYN, options: LINUX_SYN })],
      [14, server({ flags: TCP_SYN, options: [{ kind: "mss", value: 1400 }] })],
      [14.1, client({ flags: TCP_SYN | TCP_ACK, ack: 5001, options: LINUX_SYN })],
      [15, server({ flags: TCP_ACK, seq: 5001, ack: 101 })],
      [420, client({ flags: TCP_RST | TCP_ACK, seq: 101, ack: 5001 })],
    ]);
    const h = replayActiveOpen(open, { profile: "linux" });
    expect(h.recorded).toMatchObject({ outcome: "established", end: "aborted by the client" });
  });

  it("a RST from the server before the client's FIN is a reset on both sides", () => {
    const open = linuxThen([[25, server({ flags: TCP_RST | TCP_ACK, seq: 5001, ack: 111 })]]);
    const h = replayActiveOpen(open, { profile: "linux" });
    expect(h.recorded).toMatchObject({ outcome: "reset", connect: "established", end: "reset by the server" });
    expect(h.replayed).toMatchObject({ outcome: "reset", connect: "established", end: "reset by the server", status: "STATUS_CONNECTION_RESET" });
    expect(h.match).toBe(true);
  });

  it("ends that differ are a difference of the end, not of the connect", () => {
    const open = linuxThen([
      [30, client({ flags: TCP_ACK | TCP_FIN, seq: 111, ack: 5001 })],
      [40, server({ flags: TCP_ACK | TCP_FIN, seq: 5001, ack: 112 })],
      [40.1, client({ flags: TCP_ACK, seq: 112, ack: 5002 })],
    ]);
    const sides = recordedSides(open);
    const setup = planReplay(open, sides, { profile: "linux" });
    const run = driveReplay(open, setup, buildPeerScript(open)) as DriveResult;
    expect(judge(open, sides, setup, run, classifyReplayed(run)).diffs).toEqual([]);
    // The same run, had the engine been reset in ESTABLISHED: the end differs.
    const states = run.states.filter((s) => s.state === "ESTABLISHED" || s.state === "SYN-SENT");
    const reset: DriveResult = { ...run, engineOutcome: { kind: "reset" }, outcomeAt: 25, states, finalState: "CLOSED" };
    const j = judge(open, sides, setup, reset, classifyReplayed(reset));
    expect(j.diffs).toEqual([{ t: open.endMs, field: "end", recorded: "closed", replayed: "reset by the server", explained: undefined }]);
  });
});

describe("the SYN is compared without --strict", () => {
  const windows7 = () =>
    openOf([
      [0, client({ flags: TCP_SYN, window: 8192, options: [{ kind: "mss", value: 1460 }, { kind: "nop" }, { kind: "wscale", shift: 2 }, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }], ttl: 128 })],
      [20, server({ flags: TCP_SYN | TCP_ACK, options: [{ kind: "mss", value: 1460 }] })],
      [20.1, client({ flags: TCP_ACK, seq: 101, ack: 5001, window: 64240, ttl: 128 })],
    ]);
  it("a Windows 7 SYN (window 8192, window scale 2) is inferred windows7 and matches", () => {
    const h = replayActiveOpen(windows7());
    expect(h.profile).toBe("windows7");
    expect(h.diffs).toEqual([]);
    expect(h.match).toBe(true);
  });
  it("a Windows 7 SYN replayed as windows (Windows 10 and later): the SYN differs, explained by the profile", () => {
    const h = replayActiveOpen(windows7(), { profile: "windows" });
    expect(h.profile).toBe("windows");
    const syn = h.diffs.filter((d) => d.frame === 1);
    const because = "explained by profile: the recorded client looks like windows7, replayed as windows";
    expect(syn.map((d) => [d.field, d.recorded, d.replayed, d.explained])).toEqual([
      ["window", "8192", "64240", because],
      ["options", "mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,wscale 8,nop,nop,sackOK", because],
    ]);
  });
  it("a Windows 10 SYN (window 64240) replayed as windows7: a finding about windows7's SYN is not claimed, the profile explains it", () => {
    const w10 = openOf([
      [0, client({ flags: TCP_SYN, window: 64240, options: WINDOWS_SYN, ttl: 128 })],
      [20, server({ flags: TCP_SYN | TCP_ACK, options: [{ kind: "mss", value: 1460 }] })],
      [20.1, client({ flags: TCP_ACK, seq: 101, ack: 5001, window: 1026, ttl: 128 })],
    ]);
    expect(replayActiveOpen(w10).diffs).toEqual([]);
    const h = replayActiveOpen(w10, { profile: "windows7" });
    expect(h.diffs.find((d) => d.field === "window")).toMatchObject({ recorded: "64240", replayed: "8192", explained: "explained by profile: the recorded client looks like windows, replayed as windows7" });
  });
  it("replayed as another OS's profile, the same differences are explained by the profile", () => {
    const h = replayActiveOpen(windows7(), { profile: "linux" });
    expect(h.diffs.find((d) => d.field === "window")!.explained).toMatch(/^explained by profile: the recorded client looks like windows7, replayed as linux/);
  });
  it("Linux: the window and window scale follow the host's buffers; only the option layout is the OS's", () => {
    const old = openOf([
      [0, client({ flags: TCP_SYN, window: 29200, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 1000, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 9 }] })],
      [10, server({ flags: TCP_RST | TCP_ACK, seq: 0, ack: 101, window: 0 })],
    ]);
    const h = replayActiveOpen(old, { profile: "linux" });
    expect(h.diffs.find((d) => d.field === "window")!.explained).toMatch(/not the 64240 a current kernel with default buffers offers for MSS 1460/);
    expect(h.diffs.find((d) => d.field === "options")!.explained).toMatch(/window scale 9 follows its largest receive buffer/);
    expect(h.match).toBe(true);
    // The default SYN of a current kernel: nothing to say.
    const now = openOf([
      [0, client({ flags: TCP_SYN, window: 64240, options: LINUX_SYN })],
      [10, server({ flags: TCP_RST | TCP_ACK, seq: 0, ack: 101, window: 0 })],
    ]);
    expect(replayActiveOpen(now, { profile: "linux" }).diffs).toEqual([]);
  });
});

describe("a client still connecting when the capture ends", () => {
  const synIcmp = (extra: Array<[number, Uint8Array]> = []) =>
    opensOf([
      [0, client({ flags: TCP_SYN, options: WINDOWS_SYN, ttl: 128 })],
      [1, buildIcmpError({ src: "10.0.0.254", dst: C, type: 3, code: 1, original: client({ flags: TCP_SYN, options: WINDOWS_SYN, ttl: 128 }) })],
      ...extra,
    ])[0]!;

  it("after an ICMP error its profile ignores, with the capture over before the next SYN was due: incomplete (capture ended), not unreachable", () => {
    const h = replayActiveOpen(synIcmp(), { profile: "windows" });
    expect(h.recorded.outcome).toBe("incomplete");
    expect(h.recorded.detail).toMatch(/^capture ended 0\.0 ms after the ICMP error at frame 2, before the next SYN was due \(the windows profile ignores the error and sends it at \d+\.\d ms\)$/);
    expect(h.recorded.connect).toBe("incomplete");
    expect(h.replayed.connect).toBe("incomplete");
    expect(h.diffs.filter((d) => d.field === "outcome")).toEqual([]);
    expect(h.match).toBe(true);
  });

  it("windows7 and windows: the next SYN is due at their own initial RTO (3 s, 1 s); the capture over before it: incomplete (capture ended)", () => {
    for (const [profile, next] of [
      ["windows7", 3000],
      ["windows", 1000],
    ] as const) {
      const h = replayActiveOpen(synIcmp(), { profile });
      expect(h.recorded.outcome, profile).toBe("incomplete");
      expect(h.recorded.detail).toMatch(new RegExp(`before the next SYN was due \\(the ${profile} profile ignores the error and sends it at ${next}\\.0 ms\\)$`));
      expect([h.recorded.connect, h.replayed.connect]).toEqual(["incomplete", "incomplete"]);
      expect(h.match).toBe(true);
    }
  });

  it("SYNs that went on through ICMP errors: the schedule is compared (windows7 matches a 0, 3 s recording; windows sends its second SYN at 1 s)", () => {
    const syn = client({ flags: TCP_SYN, options: WINDOWS_SYN, ttl: 128, window: 8192 });
    const icmp = buildIcmpError({ src: "10.0.0.254", dst: C, type: 3, code: 1, original: syn });
    const open = opensOf([
      [0, syn],
      [40, icmp],
      [3000, syn],
      [3040, icmp],
    ])[0]!;
    const w7 = replayActiveOpen(open, { profile: "windows7" });
    expect([w7.recorded.outcome, w7.replayed.outcome, w7.replayed.status]).toEqual(["timeout", "timeout", "STATUS_IO_TIMEOUT"]);
    expect(w7.diffs.filter((d) => !d.explained)).toEqual([]);
    // Replayed as windows, the recorded SYN (window 8192) is not one it models: explained by the profile.
    const w = replayActiveOpen(open, { profile: "windows" });
    expect(w.diffs.find((d) => d.field === "time")).toMatchObject({ recorded: "3000.0 ms", replayed: "1000.0 ms", explained: "explained by profile: the recorded client looks like windows7, replayed as windows" });
  });

  it("under a profile that aborts on the error, the recording is unreachable on both sides", () => {
    const h = replayActiveOpen(synIcmp(), { profile: "linux" });
    expect(h.recorded.outcome).toBe("unreachable");
    expect(h.replayed.outcome).toBe("unreachable");
  });

  it("when the capture went on past the next SYN and none came, the client gave up: unreachable, and windows differs", () => {
    // Another connection's packet 10 s later: the capture did not end.
    const later = buildTcpPacket({ src: "10.0.0.7", dst: "10.0.0.8", srcPort: 1, dstPort: 2, seq: 1, ack: 0, flags: TCP_ACK, window: 1, options: [] });
    const h = replayActiveOpen(synIcmp([[10_000, later]]), { profile: "windows" });
    expect(h.recorded.outcome).toBe("unreachable");
    expect(h.replayed.connect).toBe("timeout");
    expect(unexplained(h.diffs)).toContain("outcome");
  });
});

describe("an ACK the recorded client sent just before its TCP took in data already captured", () => {
  const handshake: Array<[number, Uint8Array]> = [
    [0, client({ flags: TCP_SYN, options: LINUX_SYN })],
    [10, server({ flags: TCP_SYN | TCP_ACK, options: [{ kind: "mss", value: 1460 }] })],
    [10.1, client({ flags: TCP_ACK, seq: 101, ack: 5001 })],
    [20, server({ flags: TCP_ACK | TCP_PSH, seq: 5001, ack: 101, payload: new Uint8Array(100) })],
  ];
  it("within the send-time tolerance of the data's capture: explained by the capture", () => {
    const h = replayActiveOpen(openOf([...handshake, [21.5, client({ flags: TCP_ACK | TCP_PSH, seq: 101, ack: 5001, payload: new Uint8Array(10) })]]), { profile: "linux" });
    const d = h.diffs.find((x) => x.field === "ack")!;
    expect(d).toMatchObject({ recorded: "1", replayed: "101" });
    expect(d.explained).toMatch(/^explained by capture: the server's bytes up to 101 were captured 1\.5 ms before this segment/);
  });
  it("long after the data was captured: a difference", () => {
    const h = replayActiveOpen(openOf([...handshake, [400, client({ flags: TCP_ACK | TCP_PSH, seq: 101, ack: 5001, payload: new Uint8Array(10) })]]), { profile: "linux" });
    expect(h.diffs.find((x) => x.field === "ack")).toMatchObject({ recorded: "1", replayed: "101", explained: undefined });
    expect(h.match).toBe(false);
  });
});

describe("a connect the application cancelled", () => {
  const lone = () => openOf([[0, client({ flags: TCP_SYN, options: WINDOWS_SYN, ttl: 128 })]]);
  it("is replayed as cancelled and compared as such", () => {
    const h = replayActiveOpen(lone(), { profile: "windows", cancelAfterMs: 300 });
    expect(h.recorded).toMatchObject({ outcome: "cancelled", connect: "cancelled" });
    expect(h.recorded.detail).toMatch(/the application cancelled the connect after 300 ms/);
    expect(h.replayed).toMatchObject({ outcome: "cancelled", status: "STATUS_CANCELLED" });
    expect(h.trace.some((e) => e.kind === "outcome" && e.outcome?.kind === "cancelled" && e.t === 300)).toBe(true);
    expect(h.match).toBe(true);
  });
  it("without the cancel, the same recording is a timeout on both sides", () => {
    const h = replayActiveOpen(lone(), { profile: "windows" });
    expect(h.recorded.outcome).toBe("timeout");
    expect(h.replayed.outcome).toBe("timeout");
  });
  it("a cancel the recording contradicts (the client established before it) is a difference, not a rewrite", () => {
    const open = linuxThen([[30, client({ flags: TCP_ACK | TCP_FIN, seq: 111, ack: 5001 })]]);
    const h = replayActiveOpen(open, { profile: "linux", cancelAfterMs: 5 });
    expect(h.recorded.outcome).toBe("established");
    expect(h.replayed.connect).toBe("cancelled");
    expect(unexplained(h.diffs)).toContain("outcome");
  });
});
