// Link impairment in user space: loss, delay, jitter, reordering and duplication between a
// stack and any real Device, with real timers. This is what `tc netem` would do on the
// kernel side of the TUN; the lab machine's kernel has no sch_netem ("Specified qdisc kind
// is unknown"), so the load tests impair the packets here instead (docs/robustness.md).
//
// The fate of each packet (lost? when delivered? reordered? duplicated?) is decided by
// ImpairmentModel, which the virtual-time MemoryLink (device/memory.ts) uses too, drawn from
// the seeded Prng (device/prng.ts): the same seed and packet sequence give the same fates.
// Real timing then depends on the event loop (Node timers have 1 ms granularity).

import { performance } from "node:perf_hooks";
import { Prng } from "./prng.js";
import type { Device, DeviceStats } from "./types.js";

export interface ImpairmentOptions {
  /** Probability that a packet is dropped. */
  lossRate?: number;
  /** One-way delay. */
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs). Jitter alone never reorders (FIFO is kept). */
  jitterMs?: number;
  /** Probability that a packet is held back by reorderDelayMs so later packets overtake it. */
  reorderRate?: number;
  /** Hold-back for reordered packets; default max(1, delayMs). */
  reorderDelayMs?: number;
  /** Probability that a packet is delivered twice (the copy right after the original). */
  duplicateRate?: number;
}

/** What happens to one packet. */
export type PacketFate =
  | { lost: true }
  | { lost: false; deliverAtMs: number; reordered: boolean; copies: 1 | 2 };

/**
 * The impairment model shared by MemoryLink (virtual time) and impairDevice (real time).
 * Per destination (`key`) the in-order packets keep FIFO order; a reordered packet is
 * delivered reorderDelayMs late and does not hold up the ones behind it.
 *
 * The Prng is drawn in a fixed order (loss; jitter if jitterMs > 0; reorder; duplicate),
 * always the same number of draws for a packet that is not lost, so a seed replays.
 */
export class ImpairmentModel<K = unknown> {
  private readonly lossRate: number;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly reorderRate: number;
  private readonly reorderDelayMs: number;
  private readonly duplicateRate: number;
  /** Latest in-order delivery time per destination, so jitter keeps the link FIFO. */
  private readonly lastInOrderMs = new Map<K, number>();

  constructor(
    options: ImpairmentOptions,
    private readonly rng: Prng,
  ) {
    this.lossRate = options.lossRate ?? 0;
    this.delayMs = options.delayMs ?? 0;
    this.jitterMs = options.jitterMs ?? 0;
    this.reorderRate = options.reorderRate ?? 0;
    this.reorderDelayMs = options.reorderDelayMs ?? Math.max(1, this.delayMs);
    this.duplicateRate = options.duplicateRate ?? 0;
    for (const [name, p] of [["lossRate", this.lossRate], ["reorderRate", this.reorderRate], ["duplicateRate", this.duplicateRate]] as const) {
      if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${p}`);
    }
    for (const [name, v] of [["delayMs", this.delayMs], ["jitterMs", this.jitterMs], ["reorderDelayMs", this.reorderDelayMs]] as const) {
      if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
    }
  }

  /** Decides the fate of one packet sent at `nowMs` towards `key`. */
  decide(nowMs: number, key: K): PacketFate {
    if (this.rng.chance(this.lossRate)) return { lost: true };
    const jitter = this.jitterMs > 0 ? this.rng.next() * this.jitterMs : 0;
    let at = nowMs + this.delayMs + jitter;
    const reordered = this.rng.chance(this.reorderRate);
    if (reordered) {
      at += this.reorderDelayMs;
    } else {
      at = Math.max(at, this.lastInOrderMs.get(key) ?? -Infinity);
      this.lastInOrderMs.set(key, at);
    }
    const copies = this.rng.chance(this.duplicateRate) ? 2 : 1;
    return { lost: false, deliverAtMs: at, reordered, copies };
  }
}

export interface ImpairDeviceOptions extends ImpairmentOptions {
  /** PRNG seed. Each direction has its own generator (derived from the seed), so the fates of
   * the packets of one direction depend only on that direction's packet sequence. */
  seed: number;
  /** Which packets are impaired: received from the device ("in"), sent to it ("out"), or both (default). */
  direction?: "both" | "in" | "out";
  /** Milliseconds on a monotonic clock (default performance.now()); for tests. */
  clock?: () => number;
}

export interface ImpairDirectionCounters {
  /** Packets that entered the impairment in this direction. */
  packets: number;
  lost: number;
  /** Extra copies delivered. */
  duplicated: number;
  reordered: number;
  /** Packets (copies included) held on a timer rather than passed through at once. */
  delayed: number;
  /** Packets (copies included) handed on. */
  delivered: number;
  /** Packets still held when the device closed or failed (never delivered). */
  discarded: number;
}

export interface ImpairedDevice extends Device {
  /** Counters per direction: "in" = device -> stack, "out" = stack -> device. */
  counters(): { in: ImpairDirectionCounters; out: ImpairDirectionCounters };
  /** Packets held on timers right now (both directions). */
  readonly held: number;
}

interface Held {
  atMs: number;
  seq: number;
  data: Uint8Array;
}

const zeroCounters = (): ImpairDirectionCounters => ({ packets: 0, lost: 0, duplicated: 0, reordered: 0, delayed: 0, delivered: 0, discarded: 0 });

/** One direction: the model, a time-ordered queue of held packets and one timer. */
class ImpairedPath {
  readonly count = zeroCounters();
  private readonly model: ImpairmentModel<0> | undefined;
  /** Sorted by (atMs, seq): equal times deliver in the order they were sent. */
  private readonly queue: Held[] = [];
  private nextSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Infinity;
  stopped = false;

  constructor(
    opts: ImpairDeviceOptions | undefined,
    seed: number,
    private readonly clock: () => number,
    private readonly deliver: (packets: Uint8Array[]) => void,
  ) {
    this.model = opts ? new ImpairmentModel<0>(opts, new Prng(seed)) : undefined;
  }

  get held(): number {
    return this.queue.length;
  }

  /** Packets entering this direction. `packets` may be views into a reused buffer. */
  push(packets: readonly Uint8Array[]): void {
    if (this.stopped) return;
    const model = this.model;
    if (!model) {
      this.count.packets += packets.length;
      this.count.delivered += packets.length;
      this.deliver(packets as Uint8Array[]);
      return;
    }
    const now = this.clock();
    const now_: Uint8Array[] = [];
    for (const p of packets) {
      this.count.packets++;
      const fate = model.decide(now, 0);
      if (fate.lost) {
        this.count.lost++;
        continue;
      }
      if (fate.reordered) this.count.reordered++;
      if (fate.copies === 2) this.count.duplicated++;
      for (let i = 0; i < fate.copies; i++) {
        // Pass through only what is due now and cannot overtake a held packet (FIFO).
        if (fate.deliverAtMs <= now && this.queue.length === 0) now_.push(p);
        else {
          // Copy: the device's receive buffer (and the sender's) may be reused after this call.
          this.count.delayed++;
          this.enqueue({ atMs: fate.deliverAtMs, seq: this.nextSeq++, data: p.slice() });
        }
      }
    }
    if (now_.length > 0) {
      this.count.delivered += now_.length;
      this.deliver(now_);
    }
    this.rearm();
  }

  private enqueue(h: Held): void {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queue[mid]!.atMs <= h.atMs) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, h);
  }

  private rearm(): void {
    if (this.stopped) return;
    const first = this.queue[0];
    if (!first) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAtMs = Infinity;
      return;
    }
    if (this.timer && this.timerAtMs <= first.atMs) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAtMs = first.atMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAtMs = Infinity;
      this.fire();
    }, Math.max(0, Math.ceil(first.atMs - this.clock())));
  }

  private fire(): void {
    if (this.stopped) return;
    const now = this.clock();
    const due: Uint8Array[] = [];
    // Everything due by now goes out as one batch, in (time, send) order, like one read.
    while (this.queue.length > 0 && this.queue[0]!.atMs <= now) due.push(this.queue.shift()!.data);
    if (due.length > 0) {
      this.count.delivered += due.length;
      this.deliver(due);
    }
    this.rearm();
  }

  /** Drops what is held and stops the timer. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAtMs = Infinity;
    this.count.discarded += this.queue.length;
    this.queue.length = 0;
  }
}

/**
 * Wraps `dev` so that packets in the chosen direction(s) are lost, delayed, jittered,
 * reordered and duplicated as `opts` says, with real timers. Packets that are held are
 * copied (receive buffers are reused after the callback). When the device fails or is
 * closed, held packets are discarded and no timer is left running.
 */
export function impairDevice(dev: Device, opts: ImpairDeviceOptions): ImpairedDevice {
  const direction = opts.direction ?? "both";
  const clock = opts.clock ?? (() => performance.now());
  let handler: ((packets: Uint8Array[]) => void) | undefined;
  let closed = false;
  // Two generators from one seed: the golden-ratio offset gives an unrelated splitmix stream.
  const inbound = new ImpairedPath(direction !== "out" ? opts : undefined, opts.seed >>> 0, clock, (pkts) => handler?.(pkts));
  const outbound = new ImpairedPath(direction !== "in" ? opts : undefined, (opts.seed ^ 0x9e3779b9) >>> 0, clock, (pkts) => {
    if (!closed) dev.send(pkts);
  });
  dev.onReceive((pkts) => inbound.push(pkts));
  return {
    get name() {
      return dev.name;
    },
    get mtu() {
      return dev.mtu;
    },
    get held() {
      return inbound.held + outbound.held;
    },
    onReceive(h) {
      handler = h;
    },
    onError(h) {
      dev.onError((err) => {
        inbound.stop();
        outbound.stop();
        h(err);
      });
    },
    send(packets) {
      if (closed) return;
      outbound.push(packets);
    },
    stats(): DeviceStats {
      return dev.stats();
    },
    counters() {
      return { in: { ...inbound.count }, out: { ...outbound.count } };
    },
    async close() {
      if (closed) return;
      closed = true;
      inbound.stop();
      outbound.stop();
      await dev.close();
    },
  };
}
