// The replay's steps one by one (src/replay/setup.ts, peer-script.ts, drive.ts, compare.ts,
// verdict.ts), on small hand-built captures: each step's own rule, without going through
// the whole pipeline.
import { describe, expect, it } from "vitest";
import { C, LINUX_SYN, WINDOWS_SYN, client, openOf, server } from "../helpers/replay-open.js";
import { planReplay, recordedSides } from "../../src/replay/setup.js";
import { buildPeerScript, SequenceMapping } from "../../src/replay/peer-script.js";
import { driveReplay, type DriveResult } from "../../src/replay/drive.js";
import { Explanations, comparePair, lcsPairs, selectCompared, type Seg } from "../../src/replay/compare.js";
import { classifyReplayed, judge, toRecordedOutcome } from "../../src/replay/verdict.js";
import { buildIcmpError, parsePacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";

/** A Linux client: handshake, 10 bytes of data, FIN both ways. */
const established = () =>
  openOf([
    [0, client({ flags: TCP_SYN, options: LINUX_SYN })],
    [10, server({ flags: TCP_SYN | TCP_ACK, options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 7, ecr: 1000 }, { kind: "nop" }, { kind: "wscale", shift: 7 }] })],
    [10.1, client({ flags: TCP_ACK, seq: 101, ack: 5001, window: 502 })],
    [12, client({ flags: TCP_ACK | TCP_PSH, seq: 101, ack: 5001, payload: new TextEncoder().encode("0123456789") })],
    [22, server({ flags: TCP_ACK, seq: 5001, ack: 111 })],
    [30, client({ flags: TCP_ACK | TCP_FIN, seq: 111, ack: 5001 })],
    [40, server({ flags: TCP_ACK | TCP_FIN, seq: 5001, ack: 112 })],
    [40.1, client({ flags: TCP_ACK, seq: 112, ack: 5002 })],
  ]);

/** A Windows client refused once; the capture stops after the first RST. */
const refusedOnce = () =>
  openOf([
    [0, client({ flags: TCP_SYN, options: WINDOWS_SYN, window: 64240 })],
    [1, server({ flags: TCP_RST | TCP_ACK, seq: 0, ack: 101, window: 0 })],
  ]);

describe("step 1: the recorded sides", () => {
  it("splits client and server segments and finds the server's ISN", () => {
    const open = established();
    const sides = recordedSides(open);
    expect(sides.client.map((e) => e.t)).toEqual([0, 10.1, 12, 30, 40.1]);
    expect(sides.server).toHaveLength(3);
    expect(sides.irs).toBe(5000);
    expect(sides.tfo).toBe(false);
  });
  it("recognises TCP Fast Open from data on the SYN", () => {
    const open = openOf([[0, client({ flags: TCP_SYN, options: LINUX_SYN, payload: new Uint8Array([1, 2, 3]) })]]);
    expect(recordedSides(open).tfo).toBe(true);
  });
});

describe("step 2: the replay's set-up", () => {
  it("infers the profile from the SYN's option order; a faithful model explains nothing", () => {
    const open = established();
    const s = planReplay(open, recordedSides(open));
    expect([s.profile, s.profileSource, s.explainProfile]).toEqual(["linux", "inferred", undefined]);
    expect(s.overrides).toEqual({ nodelay: true });
  });
  it("a given profile that does not model the recorded OS explains the differences it causes", () => {
    const open = established();
    const s = planReplay(open, recordedSides(open), { profile: "windows" });
    expect(s.profileSource).toBe("given");
    expect(s.explainProfile).toMatch(/looks like linux, replayed as windows/);
  });
  it("--strict copies the recorded SYN and sizes the receive buffer for the first window", () => {
    const open = established();
    const s = planReplay(open, recordedSides(open), { strict: true });
    expect(s.overrides).toMatchObject({ synWindow: 64240, timestamps: true, sack: true, windowScaling: true, windowScale: 7, mssOverride: 1460, optionLayout: "linux", rcvBufBytes: 502 * 2 ** 7 });
    expect(s.notes).toEqual([]);
  });
});

describe("step 3: the peer's script", () => {
  it("times an answer to a SYN from that SYN, and remembers the last SYN's answer", () => {
    const open = refusedOnce();
    const script = buildPeerScript(open);
    expect(script.steps).toHaveLength(1);
    expect(script.steps[0]!.answersSyn).toEqual({ n: 1, delay: 1 });
    expect(script.lastSynAnswer.ev).toBe(script.steps[0]!.ev);
    expect(script.lastSynAnswer.delay).toBe(1);
  });
  it("events after the handshake keep their recorded time", () => {
    const script = buildPeerScript(established());
    expect(script.steps.map((s) => [s.t, s.answersSyn?.n])).toEqual([
      [10, 1],
      [10.1, undefined],
      [12, undefined],
      [22, undefined],
      [30, undefined],
      [40, undefined],
      [40.1, undefined],
    ]);
  });
  it("moves acknowledgment numbers, SACK blocks and TS echoes into our spaces; leaves the server's sequence numbers", () => {
    const open = established();
    const m = new SequenceMapping(open, 100 + 7000, 50_000, 1000);
    const seg = open.events[1]!;
    if (seg.kind !== "tcp") throw new Error("expected the SYN-ACK");
    const p = parsePacket(m.segment({ ...seg, options: [...seg.options, { kind: "sack", blocks: [[120, 130]] }] }) as Uint8Array);
    if (!p.ok || p.value.l4.kind !== "tcp") throw new Error("not TCP");
    const t = p.value.l4.tcp;
    expect([t.seq, t.ack]).toEqual([5000, 101 + 7000]);
    expect(t.options.find((o) => o.kind === "ts")).toEqual({ kind: "ts", val: 7, ecr: 50_000 });
    expect(t.options.find((o) => o.kind === "sack")).toEqual({ kind: "sack", blocks: [[7120, 7130]] });
  });
  it("rewrites the sequence number an ICMP error quotes", () => {
    const open = openOf([
      [0, client({ flags: TCP_SYN, options: LINUX_SYN })],
      [5, buildIcmpError({ src: "10.0.0.254", dst: C, type: 3, code: 1, original: client({ flags: TCP_SYN, options: LINUX_SYN }) })],
    ]);
    const icmp = open.events[1]!;
    if (icmp.kind !== "icmp") throw new Error("expected the ICMP error");
    const bytes = new SequenceMapping(open, 900, undefined, undefined).icmp(icmp) as Uint8Array;
    const p = parsePacket(bytes);
    if (!p.ok || p.value.l4.kind !== "icmp") throw new Error("not ICMP");
    expect(p.value.l4.icmp.quote?.seq).toBe(900);
  });
});

describe("step 4: driving the stack", () => {
  it("plays a refused connect through: a Windows stack re-sends its SYN after the RST, answered the same way after the capture", () => {
    const open = refusedOnce();
    const sides = recordedSides(open);
    const run = driveReplay(open, planReplay(open, sides), buildPeerScript(open)) as DriveResult;
    expect(run.kind).toBe("driven");
    expect(run.engineOutcome?.kind).toBe("refused");
    expect(run.stillConnecting).toBe(false);
    // windows: 4 RST retries (5 SYNs); the capture shows the first SYN only.
    expect(run.continuedAfterCapture).toBe(4);
    expect(run.sent.length).toBe(5);
    expect(run.injectionDiffs).toEqual([]);
  });
  it("redoes the application's data and close: the bytes and the FIN go out, the connection finishes", () => {
    const open = established();
    const run = driveReplay(open, planReplay(open, recordedSides(open)), buildPeerScript(open)) as DriveResult;
    expect(run.establishedAt).toBeCloseTo(10, 5);
    const flags = run.sent.map((p) => {
      const q = parsePacket(p.bytes);
      return q.ok && q.value.l4.kind === "tcp" ? [q.value.l4.tcp.flags & (TCP_SYN | TCP_FIN), q.value.l4.tcp.payload.length] : [];
    });
    expect(flags).toContainEqual([0, 10]);
    expect(flags).toContainEqual([TCP_FIN, 0]);
    expect(run.finalState).toBe("TIME-WAIT");
  });
});

describe("step 5: comparing segments", () => {
  const seg = (o: Partial<Seg>): Seg => ({ t: 0, flags: TCP_ACK, seq: 1, ack: 5001, len: 0, window: 502, options: [], handshake: false, ...o });
  it("pairs segments by a longest common subsequence", () => {
    expect(lcsPairs(["a", "b", "c", "d"], ["a", "c", "d", "e"])).toEqual([
      [0, 0],
      [2, 1],
      [3, 2],
    ]);
  });
  it("compares the handshake ACK but not later pure ACKs", () => {
    const segs = [seg({ flags: TCP_SYN, seq: 0, t: 0 }), seg({ t: 10 }), seg({ t: 20, len: 10 }), seg({ t: 30 })];
    const sel = selectCompared(segs, [10], 5000);
    expect(sel.map((s) => s.t)).toEqual([0, 10, 20]);
    expect(sel.map((s) => s.handshake)).toEqual([true, true, false]);
  });
  it("a late segment is a time difference; explained only when the profile does not model the recorded OS", () => {
    const open = established();
    const sides = recordedSides(open);
    const faithful = new Explanations(planReplay(open, sides), sides);
    const other = new Explanations(planReplay(open, sides, { profile: "windows" }), sides);
    const [d] = comparePair(seg({ t: 100 }), seg({ t: 300 }), false, 5000, 100, 100, faithful);
    expect(d).toMatchObject({ field: "time", recorded: "100.0 ms", replayed: "300.0 ms", explained: undefined });
    expect(comparePair(seg({ t: 100 }), seg({ t: 300 }), false, 5000, 100, 100, other)[0]!.explained).toMatch(/replayed as windows/);
    expect(comparePair(seg({ t: 100 }), seg({ t: 110 }), false, 5000, 100, 100, faithful)).toEqual([]);
  });
});

describe("step 6: the verdict", () => {
  it("names engine outcomes in the replay's vocabulary", () => {
    expect(toRecordedOutcome({ kind: "reset" }, false)).toBe("refused");
    expect(toRecordedOutcome({ kind: "reset" }, true)).toBe("reset");
    expect(toRecordedOutcome({ kind: "timedOut" }, false)).toBe("timeout");
    expect(toRecordedOutcome({ kind: "finished" }, true)).toBe("established");
    expect(toRecordedOutcome(undefined, false)).toBe("incomplete");
  });
  it("classifies a driven run and reports a differing outcome, explained or not", () => {
    const open = refusedOnce();
    const sides = recordedSides(open);
    const setup = planReplay(open, sides);
    const run = driveReplay(open, setup, buildPeerScript(open)) as DriveResult;
    const v = classifyReplayed(run);
    expect(v.outcome).toBe("refused");
    expect(v.detail).toMatch(/^refused at \d+\.\d ms \(after the capture: the server's last answer repeated for 4 more SYN\(s\)\)$/);
    expect(judge(open, sides, setup, run, v).diffs).toEqual([]);
    expect(judge(open, sides, setup, run, { ...v, outcome: "timeout" }).diffs).toEqual([{ t: open.endMs, field: "outcome", recorded: "refused", replayed: "timeout", explained: undefined }]);
  });
});
