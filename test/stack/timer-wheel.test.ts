// The timerWheel policy (stack/tcp/timer-wheel.ts): Linux's timer wheel, kernel/time/timer.c
// calc_wheel_index() / calc_index(), at CONFIG_HZ 250.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PROFILES, resolveProfile } from "../../stack/tcp/profiles.js";
import { timerExpiry, timerGranularityMs } from "../../stack/tcp/timer-wheel.js";

const linux = (jiffiesOffsetMs = 0) => resolveProfile("linux", { jiffiesOffsetMs });

describe("timer wheel (timerWheel linux, HZ 250)", () => {
  it("rounds the expiry up to its level's granule plus one: 200 ms -> 204, 1 s -> 1024, 2 s -> 2016, 4 s -> 4096, 60 s -> 61440 (armed at jiffy 0)", () => {
    const p = linux();
    expect([200, 1000, 2000, 4000, 60_000].map((d) => timerExpiry(p, 0, d))).toEqual([204, 1024, 2016, 4096, 61_440]);
  });
  it("the granules of the kernel's HZ 250 table: 4 ms to 252 ms, 32 ms to 2 s, 256 ms to 16 s, 2 s to 131 s", () => {
    const p = linux();
    expect([8, 248, 252, 1000, 2012, 2016, 16_000, 16_128, 120_000].map((d) => timerGranularityMs(p, d))).toEqual([4, 4, 32, 32, 32, 256, 256, 2048, 2048]);
  });
  it("where the jiffies ticks fall moves the expiry: 1 s armed at 0 fires 1000.4 ms later when the tick and the level boundary are just ahead (kd-31-0096, offset 23.6)", () => {
    expect(timerExpiry(linux(23.6), 0, 1000)).toBeCloseTo(1000.4, 9);
    expect(timerExpiry(linux(2.8), 0, 1000)).toBeCloseTo(1021.2, 9);
  });
  it("a timer never fires early, and at most one granule and one tick late", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: 200_000 }), fc.double({ min: 0, max: 16_383, noNaN: true }), (now, delay, off) => {
        const p = linux(off);
        const at = timerExpiry(p, now, delay);
        expect(at).toBeGreaterThanOrEqual(now + delay);
        expect(at - now - delay).toBeLessThanOrEqual(timerGranularityMs(p, delay) + 1000 / p.hz + 1e-6);
      }),
    );
  });
  it("timerWheel exact (every other profile) fires on time", () => {
    for (const name of ["windows", "freebsd", "rfc"] as const) {
      expect(PROFILES[name].timerWheel).toBe("exact");
      expect(timerExpiry(PROFILES[name], 12.5, 1000)).toBe(1012.5);
    }
  });
});
