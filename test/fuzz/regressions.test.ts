// What the Stack.input fuzzer found in the engine (docs/robustness.md "What broke"), kept
// as fixed-seed cases. The parser corner case it met lives with its parser's tests
// (test/wire/tcp-options.test.ts).
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { seqAdd } from "../../stack/tcp/seq.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { StackFuzzer } from "./targets.js";
import { Rng } from "./mutate.js";
import { Deadline } from "../../stack/tcp/deadlines.js";

function established(window = 65535) {
  const h = new Harness({ profile: "windows" });
  const conn = h.connect("10.0.0.1:80");
  const [syn] = h.take();
  conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 1000, ack: seqAdd(syn.tcp.seq, 1), window, options: [{ kind: "mss", value: 1460 }] });
  h.take();
  return { h, conn };
}

describe("found by the Stack.input fuzzer", () => {
  it("drops decided by a connection (RST out of window, no ACK bit...) are counted in stats.drops, not only traced", () => {
    const { h, conn } = established();
    const dropped0 = h.stack.stats.rxDropped;
    conn.peer({ flags: TCP_RST, seq: seqAdd(conn.c.rcvNxt, 0x40000000) });
    conn.peer({ flags: 0, seq: conn.c.rcvNxt });
    expect(h.stack.stats.drops["rst out of window"]).toBe(1);
    expect(h.stack.stats.drops["no ack bit"]).toBe(1);
    expect(h.stack.stats.rxDropped).toBe(dropped0 + 2);
    const traced = h.trace.filter((e) => e.kind === "drop").length;
    expect(traced).toBe(h.stack.stats.rxDropped);
  });

  it("a zero-window probe left unacknowledged when the window reopens stays covered by the retransmission timer", () => {
    // Before the fix the window update cancelled the persist timer while the probe byte was
    // in flight, Nagle held the rest behind it, and no timer was left: the connection hung.
    const { h, conn } = established(0);
    expect(conn.c.sndWnd).toBe(0);
    conn.c.send(new Uint8Array(200).fill(1), h.now);
    h.collect();
    expect(h.take().filter((s) => s.tcp.payload.length > 0)).toEqual([]);
    h.advanceTo(conn.c.deadline(Deadline.persist));
    const [probe] = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(probe.tcp.payload.length).toBe(1);
    // The peer opens its window without acknowledging the probe byte (it was lost).
    conn.peer({ flags: TCP_ACK, seq: conn.c.rcvNxt, ack: conn.c.sndUna, window: 1000 });
    expect(conn.c.sndWnd).toBe(1000);
    expect(Number.isFinite(conn.c.nextDeadline())).toBe(true);
    expect(conn.c.timerAt).toBeLessThanOrEqual(conn.c.nextDeadline());
    h.advance(120_000);
    const data = h.take().filter((s) => s.tcp.payload.length > 0);
    expect(data.length).toBeGreaterThan(0);
    expect(data.reduce((n, s) => Math.max(n, s.tcp.payload.length), 0)).toBe(200);
  });

  it("a fixed-seed Stack.input pass stays clean (replays the seeds that found the bugs)", () => {
    for (const seed of [4201612615, 2330035131]) {
      const f = new StackFuzzer(new Rng(seed));
      for (let i = 0; i < 3000; i++) f.step();
      expect(f.inputs).toBeGreaterThan(2000);
    }
  });
});
