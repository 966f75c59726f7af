// impairDevice: seeded loss, delay, jitter, reordering and duplication with real timers
// (here Vitest's fake timers, so the test is exact and fast) in front of any Device.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ImpairmentModel, impairDevice, type ImpairDeviceOptions } from "../../device/impair.js";
import { MemoryLink } from "../../device/memory.js";
import { Prng } from "../../device/prng.js";
import type { Device, DeviceStats } from "../../device/types.js";

/** A device the test drives: `inject` is a packet from the link, `sent` what was sent to it. */
class FakeDevice implements Device {
  readonly name = "fake0";
  readonly mtu = 1500;
  handler: ((p: Uint8Array[]) => void) | undefined;
  errorHandler: ((e: Error) => void) | undefined;
  sent: Uint8Array[][] = [];
  closed = false;
  onReceive(h: (p: Uint8Array[]) => void): void {
    this.handler = h;
  }
  onError(h: (e: Error) => void): void {
    this.errorHandler = h;
  }
  send(p: readonly Uint8Array[]): void {
    this.sent.push(p.map((x) => x.slice()));
  }
  stats(): DeviceStats {
    return { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** Delivers packets from one reused buffer, as the TUN device does. */
  inject(values: number[]): void {
    const buf = new Uint8Array(values.length * 4);
    const views = values.map((v, i) => {
      new DataView(buf.buffer).setUint32(i * 4, v);
      return buf.subarray(i * 4, i * 4 + 4);
    });
    this.handler?.(views);
    buf.fill(0xee); // the buffer is reused after the callback
  }
}

const id = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset, 4).getUint32(0);

function setup(opts: Omit<ImpairDeviceOptions, "clock">) {
  const dev = new FakeDevice();
  const imp = impairDevice(dev, { ...opts, clock: () => Date.now() });
  const got: Array<{ t: number; id: number }> = [];
  imp.onReceive((pkts) => {
    for (const p of pkts) got.push({ t: Date.now(), id: id(p) });
  });
  return { dev, imp, got };
}

describe("impairDevice", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("with no impairment passes packets through at once in both directions, without copying", () => {
    const dev = new FakeDevice();
    const imp = impairDevice(dev, { seed: 1, clock: () => Date.now() });
    const seen: Uint8Array[] = [];
    imp.onReceive((p) => seen.push(...p));
    dev.inject([1, 2, 3]);
    expect(seen.length).toBe(3);
    // Same views (and so the reused buffer's new contents): nothing was held.
    expect(seen.every((p) => p[0] === 0xee)).toBe(true);
    const out = [new Uint8Array([9, 9, 9, 9])];
    imp.send(out);
    expect(dev.sent).toEqual([[new Uint8Array([9, 9, 9, 9])]]);
    expect(vi.getTimerCount()).toBe(0);
    expect(imp.counters().in).toMatchObject({ packets: 3, delivered: 3, delayed: 0, lost: 0 });
  });

  it("delays by delayMs on real timers, copying what it holds", () => {
    const { dev, imp, got } = setup({ seed: 7, delayMs: 20 });
    dev.inject([10, 11]);
    expect(got).toEqual([]);
    expect(imp.held).toBe(2);
    vi.advanceTimersByTime(19);
    expect(got).toEqual([]);
    vi.advanceTimersByTime(1);
    // The source buffer was overwritten with 0xee after the callback: the copies survived.
    expect(got).toEqual([
      { t: 1020, id: 10 },
      { t: 1020, id: 11 },
    ]);
    expect(imp.held).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // Outbound too: the caller may reuse its buffer after send().
    const buf = new Uint8Array([0, 0, 0, 42]);
    imp.send([buf]);
    buf.fill(0);
    expect(dev.sent).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(dev.sent.map((b) => b.map(id))).toEqual([[42]]);
  });

  it("loses about lossRate of the packets, and the counters add up", () => {
    const { dev, imp, got } = setup({ seed: 3, lossRate: 0.05, delayMs: 5 });
    for (let i = 0; i < 20_000; i += 100) dev.inject(Array.from({ length: 100 }, (_, k) => i + k));
    vi.advanceTimersByTime(10);
    const c = imp.counters().in;
    expect(c.packets).toBe(20_000);
    expect(c.lost).toBeGreaterThan(0.04 * 20_000);
    expect(c.lost).toBeLessThan(0.06 * 20_000);
    expect(c.delivered).toBe(20_000 - c.lost);
    expect(got.length).toBe(c.delivered);
    // Without jitter or reordering the order is kept.
    expect(got.map((g) => g.id)).toEqual([...got.map((g) => g.id)].sort((a, b) => a - b));
  });

  it("jitter alone never reorders; every packet arrives within [delay, delay + jitter]", () => {
    const { dev, got } = setup({ seed: 5, delayMs: 20, jitterMs: 10 });
    for (let i = 0; i < 500; i++) {
      dev.inject([i]);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(40);
    expect(got.length).toBe(500);
    expect(got.map((g) => g.id)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    got.forEach((g) => {
      const sentAt = 1000 + g.id;
      // ceil to the 1 ms timer; FIFO may push a packet behind a slower predecessor, by < jitter.
      expect(g.t - sentAt).toBeGreaterThanOrEqual(20);
      expect(g.t - sentAt).toBeLessThanOrEqual(31);
    });
  });

  it("reordering lets later packets overtake; duplication delivers extra copies", () => {
    const { dev, imp, got } = setup({ seed: 9, delayMs: 20, reorderRate: 0.1, duplicateRate: 0.05 });
    for (let i = 0; i < 1000; i++) {
      dev.inject([i]);
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(100);
    const c = imp.counters().in;
    expect(c.reordered).toBeGreaterThan(50);
    expect(c.reordered).toBeLessThan(150);
    expect(c.duplicated).toBeGreaterThan(20);
    expect(c.duplicated).toBeLessThan(80);
    expect(got.length).toBe(1000 + c.duplicated);
    let inversions = 0;
    for (let i = 1; i < got.length; i++) if (got[i].id < got[i - 1].id) inversions++;
    expect(inversions).toBeGreaterThan(0);
    // Every packet arrived at least once, none invented.
    expect(new Set(got.map((g) => g.id)).size).toBe(1000);
  });

  it("the same seed gives the same fates; another seed other fates", () => {
    const run = (seed: number) => {
      const { dev, got } = setup({ seed, lossRate: 0.1, delayMs: 3, jitterMs: 4, reorderRate: 0.1, duplicateRate: 0.1 });
      for (let i = 0; i < 300; i++) {
        dev.inject([i]);
        vi.advanceTimersByTime(1);
      }
      vi.advanceTimersByTime(50);
      return got.map((g) => `${g.id}@${g.t - 1000}`);
    };
    const a = run(42);
    vi.setSystemTime(1000);
    const b = run(42);
    vi.setSystemTime(1000);
    const c = run(43);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("direction 'in' impairs only received packets; 'out' only sent ones", () => {
    const a = setup({ seed: 1, delayMs: 50, direction: "in" });
    a.imp.send([new Uint8Array([0, 0, 0, 1])]);
    expect(a.dev.sent.length).toBe(1);
    a.dev.inject([2]);
    expect(a.got).toEqual([]);
    const b = setup({ seed: 1, delayMs: 50, direction: "out" });
    b.dev.inject([3]);
    expect(b.got.map((g) => g.id)).toEqual([3]);
    b.imp.send([new Uint8Array([0, 0, 0, 4])]);
    expect(b.dev.sent.length).toBe(0);
    vi.advanceTimersByTime(50);
    expect(b.dev.sent.length).toBe(1);
  });

  it("close() discards what is held, leaves no timer and closes the device", async () => {
    const { dev, imp, got } = setup({ seed: 1, delayMs: 50 });
    dev.inject([1, 2]);
    imp.send([new Uint8Array(4)]);
    expect(vi.getTimerCount()).toBe(2);
    await imp.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(dev.closed).toBe(true);
    vi.advanceTimersByTime(100);
    expect(got).toEqual([]);
    expect(dev.sent).toEqual([]);
    expect(imp.counters().in.discarded + imp.counters().out.discarded).toBe(3);
    imp.send([new Uint8Array(4)]); // after close: dropped quietly
    expect(dev.sent).toEqual([]);
  });

  it("a device failure is passed on once; held packets are discarded and timers stopped", () => {
    const { dev, imp, got } = setup({ seed: 1, delayMs: 50 });
    const errors: Error[] = [];
    imp.onError((e) => errors.push(e));
    dev.inject([1]);
    dev.errorHandler!(new Error("gone"));
    expect(errors.map((e) => e.message)).toEqual(["gone"]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(got).toEqual([]);
    expect(imp.counters().in.discarded).toBe(1);
  });

  it("rejects rates outside [0, 1] and negative delays", () => {
    expect(() => impairDevice(new FakeDevice(), { seed: 1, lossRate: 1.5 })).toThrow(RangeError);
    expect(() => impairDevice(new FakeDevice(), { seed: 1, delayMs: -1 })).toThrow(RangeError);
  });
});

describe("ImpairmentModel (shared with MemoryLink)", () => {
  it("is deterministic per seed and keeps in-order packets FIFO per destination", () => {
    const opts = { lossRate: 0.2, delayMs: 10, jitterMs: 30, reorderRate: 0.2, duplicateRate: 0.1 };
    const m1 = new ImpairmentModel<string>(opts, new Prng(11));
    const m2 = new ImpairmentModel<string>(opts, new Prng(11));
    const last = new Map<string, number>();
    for (let t = 0; t < 2000; t++) {
      const key = t % 2 ? "a" : "b";
      const f = m1.decide(t, key);
      expect(m2.decide(t, key)).toEqual(f);
      if (f.lost) continue;
      expect(f.deliverAtMs).toBeGreaterThanOrEqual(t + 10);
      if (!f.reordered) {
        expect(f.deliverAtMs).toBeGreaterThanOrEqual(last.get(key) ?? 0);
        last.set(key, f.deliverAtMs);
      }
    }
  });

  it("MemoryLink still replays a seed exactly (it now uses the shared model)", () => {
    const run = () => {
      const link = new MemoryLink({ seed: 5, lossRate: 0.1, delayMs: 5, jitterMs: 5, reorderRate: 0.1, duplicateRate: 0.1 });
      const got: number[] = [];
      link.b.onReceive((p) => got.push(...p.map(id)));
      for (let i = 0; i < 500; i++) {
        link.a.send([new Uint8Array([0, 0, i >> 8, i & 0xff])]);
        link.advance(i + 1);
      }
      link.advance(1000);
      return { got, c: link.counters() };
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(a.c.lost).toBeGreaterThan(20);
    expect(a.c.reordered).toBeGreaterThan(20);
    expect(a.c.duplicated).toBeGreaterThan(20);
    expect(a.got.length).toBe(500 - a.c.lost + a.c.duplicated);
  });
});
