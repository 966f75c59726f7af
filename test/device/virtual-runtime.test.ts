// The shared virtual-time driver (device/virtual-runtime.ts): timers run at their exact
// deadlines however far the clock jumps, the clock never moves back, and step() stops at
// a limit when nothing is due before it.
import { describe, expect, it } from "vitest";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { VirtualRuntime } from "../../device/virtual-runtime.js";

function blackHoled(): { vt: VirtualRuntime; sent: number[]; afterTimers: number[]; conn: Connection } {
  const stack = new Stack({ addresses: ["10.0.0.2/24"], profile: "windows7", random: seededRandom(7) });
  const sent: number[] = [];
  const afterTimers: number[] = [];
  const vt = new VirtualRuntime(stack, { onOutput: (_b, t) => sent.push(t), afterTimers: () => afterTimers.push(vt.nowMs) });
  const conn = stack.connect({ remote: { addr: "10.0.0.1", port: 80 } }, vt.nowMs);
  if (!(conn instanceof Connection)) throw new Error("connect failed");
  vt.collect();
  return { vt, sent, afterTimers, conn };
}

describe("VirtualRuntime", () => {
  it("runs every SYN retransmission at its own deadline when the clock jumps past all of them (windows7: 0, 3, 9 s; give-up at 21 s)", () => {
    const { vt, sent, conn } = blackHoled();
    let closedAt: number | undefined;
    conn.events = { closed: () => (closedAt = vt.nowMs) };
    vt.advanceTo(60_000);
    expect(sent).toEqual([0, 3000, 9000]);
    expect(closedAt).toBe(21_000);
    expect(vt.nowMs).toBe(60_000);
  });

  it("never moves the clock back", () => {
    const { vt } = blackHoled();
    vt.advanceTo(5000);
    vt.advanceTo(1000);
    expect(vt.nowMs).toBe(5000);
    vt.advance(10);
    expect(vt.nowMs).toBe(5010);
  });

  it("step() goes to the next deadline, or to the limit when nothing is due before it", () => {
    const { vt, sent } = blackHoled();
    expect(vt.step(Infinity)).toBe(true);
    expect(vt.nowMs).toBe(3000);
    expect(sent).toEqual([0, 3000]);
    expect(vt.step(4000)).toBe(false);
    expect(vt.nowMs).toBe(4000);
    expect(sent).toEqual([0, 3000]);
  });

  it("runWhile() stops when the condition fails, without moving past the last deadline it ran", () => {
    const { vt, sent } = blackHoled();
    vt.runWhile(() => sent.length < 2);
    expect(sent).toEqual([0, 3000]);
    expect(vt.nowMs).toBe(3000);
  });

  it("gives the application its turn after each batch of timers", () => {
    const { vt, afterTimers } = blackHoled();
    vt.advanceTo(10_000);
    expect(afterTimers).toEqual([3000, 9000, 10_000]);
  });
});
