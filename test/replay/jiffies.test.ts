// The jiffies offset the replay infers from a kernel capture (src/replay/jiffies.ts), for the
// linux profile's timer wheel (stack/tcp/timer-wheel.ts).
import { describe, expect, it } from "vitest";
import { inferJiffiesOffset, timerObservations } from "../../src/replay/jiffies.js";
import type { RecordedSegment } from "../../src/replay/extract.js";
import { resolveProfile } from "../../stack/tcp/profiles.js";
import { timerExpiry } from "../../stack/tcp/timer-wheel.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";

const seg = (t: number, flags: number): RecordedSegment => ({ kind: "tcp", dir: "c2s", t, frame: 0, flags, seq: 0, ack: 0, window: 0, options: [], payload: new Uint8Array(0), reserved: 0, tos: 0, ttl: 64 });
const linux = resolveProfile("linux", { synRetries: 2, synLinearTimeouts: 4 });

describe("jiffies offset from a capture", () => {
  it("the SYN schedule of kd-31-0131 (0, 1021.2, 2045.2, 3069.2, 4093.2, 5117.2): every retransmission on the wheel's ticks", () => {
    const syns = [0, 1021.2, 2045.2, 3069.2, 4093.2, 5117.2].map((t) => seg(t, TCP_SYN));
    const obs = timerObservations(syns, linux);
    expect(obs.map((o) => o.delayMs)).toEqual([1000, 1000, 1000, 1000, 1000]);
    const off = inferJiffiesOffset(obs, linux)!;
    const p = resolveProfile(linux, { jiffiesOffsetMs: off });
    for (const o of obs) expect(Math.abs(timerExpiry(p, o.armedAt, o.delayMs) - o.firedAt)).toBeLessThan(0.2);
  });
  it("a SYN re-sent after the RST answering a bad SYN-ACK counts from the RST, and the schedule goes on from it (kd-31-0017: RST at 101.8, SYNs at 111.0, 1131.0, 2155.0)", () => {
    const client = [seg(0, TCP_SYN), seg(101.8, TCP_RST), seg(111.0, TCP_SYN), seg(1131.0, TCP_SYN), seg(2155.0, TCP_SYN)];
    const obs = timerObservations(client, linux);
    expect(obs.map((o) => [o.armedAt, o.delayMs])).toEqual([[101.8, 8], [111.0, 1000], [1131.0, 1000]]);
    const off = inferJiffiesOffset(obs, linux)!;
    const p = resolveProfile(linux, { jiffiesOffsetMs: off });
    for (const o of obs) expect(Math.abs(timerExpiry(p, o.armedAt, o.delayMs) - o.firedAt)).toBeLessThan(0.5);
  });
  it("after a simultaneous open the SYN-ACK retransmissions continue the SYN's chain (kd-31-0096: SYN at 0, SYN-ACKs at 1.2, 1000.4, 3016.4)", () => {
    const client = [seg(0, TCP_SYN), seg(1.2, TCP_SYN | TCP_ACK), seg(1000.4, TCP_SYN | TCP_ACK), seg(3016.4, TCP_SYN | TCP_ACK)];
    const obs = timerObservations(client, linux);
    expect(obs.map((o) => [o.armedAt, o.delayMs])).toEqual([[0, 1000], [1000.4, 2000]]);
    expect(inferJiffiesOffset(obs, linux)).toBe(23.6);
  });
  it("nothing to go by: no offset; a profile without the wheel: none", () => {
    expect(inferJiffiesOffset(timerObservations([seg(0, TCP_SYN)], linux), linux)).toBeUndefined();
    const freebsd = resolveProfile("freebsd");
    expect(inferJiffiesOffset([{ armedAt: 0, delayMs: 1000, firedAt: 1010 }], freebsd)).toBeUndefined();
  });
});
