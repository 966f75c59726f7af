// The engine's timer structure (stack/timers.ts, rewritten for the benchmarks' timer target as near heap + far
// buckets) against a naive model: same owners popped in the same order, same deadlines.
import { describe, expect, it } from "vitest";
import { TimerHeap, type TimerOwner } from "../../stack/timers.js";
import { seededRandom } from "../../stack/random.js";

class Owner implements TimerOwner {
  timerGen = 0;
  timerAt = Infinity;
  constructor(readonly id: number) {}
}

/** The obvious implementation: earliest deadline first, ties in arming order. */
class Model {
  private readonly armed = new Map<number, { at: number; seq: number }>();
  private seq = 0;
  arm(id: number, at: number): void {
    const cur = this.armed.get(id);
    if (cur && cur.at === at) return;
    if (at === Infinity) this.armed.delete(id);
    else this.armed.set(id, { at, seq: this.seq++ });
  }
  private min(): [number, { at: number; seq: number }] | undefined {
    let best: [number, { at: number; seq: number }] | undefined;
    for (const e of this.armed) if (!best || e[1].at < best[1].at || (e[1].at === best[1].at && e[1].seq < best[1].seq)) best = e;
    return best;
  }
  peek(): number | undefined {
    return this.min()?.[1].at;
  }
  popDue(now: number): number | undefined {
    const m = this.min();
    if (!m || m[1].at > now) return undefined;
    this.armed.delete(m[0]);
    return m[0];
  }
  get size(): number {
    return this.armed.size;
  }
}

describe("TimerHeap (near heap + far buckets)", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`matches the model over 20 000 random operations (seed ${seed})`, () => {
      const rnd = seededRandom(seed);
      const r = (n: number) => rnd.nextUint32() % n;
      const heap = new TimerHeap<Owner>(4);
      const model = new Model();
      const owners = Array.from({ length: 300 }, (_, i) => new Owner(i));
      let now = 0;
      let pops = 0;
      for (let step = 0; step < 20_000; step++) {
        const op = r(10);
        if (op < 5) {
          const o = owners[r(owners.length)];
          // Coarse deadlines make ties common; some in the past, some far ahead.
          const at = r(4) === 0 ? now + r(5) : now + r(3) * 7 + (r(2) ? r(100_000) / 8 : r(40));
          heap.arm(o, at);
          model.arm(o.id, at);
        } else if (op < 7) {
          const o = owners[r(owners.length)];
          heap.cancel(o);
          model.arm(o.id, Infinity);
        } else if (op < 9) {
          now += r(3) === 0 ? r(20_000) : r(50);
          for (;;) {
            const a = heap.popDue(now);
            const b = model.popDue(now);
            expect(a?.id).toBe(b);
            if (a === undefined) break;
            expect(a.timerAt).toBe(Infinity);
            pops++;
          }
        } else {
          expect(heap.peek()).toBe(model.peek());
        }
        expect(heap.liveCount).toBe(model.size);
      }
      expect(pops).toBeGreaterThan(1000);
      // Memory stays bounded by the sweep: stale entries never exceed 4x live (+ slack).
      expect(heap.size).toBeLessThanOrEqual(Math.max(1024, 4 * heap.liveCount) + 2);
    });
  }

  it("fires equal deadlines in arming order, also across far buckets", () => {
    const heap = new TimerHeap<Owner>();
    const os = Array.from({ length: 6 }, (_, i) => new Owner(i));
    heap.arm(os[3], 5000);
    heap.arm(os[1], 5000);
    heap.arm(os[5], 10);
    heap.arm(os[0], 5000);
    expect(heap.popDue(20)?.id).toBe(5);
    heap.arm(os[2], 5000); // armed after the others, same deadline
    const order: number[] = [];
    for (let o = heap.popDue(6000); o; o = heap.popDue(6000)) order.push(o.id);
    expect(order).toEqual([3, 1, 0, 2]);
    expect(heap.peek()).toBeUndefined();
  });
});
