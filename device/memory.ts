// An in-memory point-to-point link for virtual-time tests: two ends that are each a Device,
// with seeded loss, delay, jitter, reordering, duplication and corruption. Nothing here reads
// a clock or sets a timer: the test moves time with advance(nowMs) and asks
// nextDeliveryMs() when the next packet is due (docs/architecture.md: the tests own a virtual clock).

import type { Device, DeviceStats } from "./types.js";
import { Prng } from "./prng.js";
import { ImpairmentModel } from "./impair.js";
import type { ImpairmentOptions } from "./impair.js";

export interface MemoryLinkOptions extends ImpairmentOptions {
  /** PRNG seed; the same seed and the same calls give the same deliveries. Default 1. */
  seed?: number;
  /** Probability, per delivered copy, that one random bit is flipped. */
  corruptRate?: number;
  /** Packets longer than this are not sent (counted in tooBig and the sender's txErrors). */
  mtu?: number;
  /** Virtual time at creation; default 0. */
  startMs?: number;
}

export interface MemoryLinkCounters {
  /** Packets handed to send() on either end (including ones then lost). */
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  tooBig: number;
  /** Packets sent by or due to a closed end. */
  droppedClosed: number;
}

interface InFlight {
  deliverAtMs: number;
  /** Tie-break: equal times deliver in send order. */
  seq: number;
  to: MemoryLinkEnd;
  data: Uint8Array;
}

/** A safety net against two ends ping-ponging forever at zero delay within one advance(). */
const MAX_DELIVERIES_PER_ADVANCE = 10_000_000;

export class MemoryLinkEnd implements Device {
  private handler: ((packets: Uint8Array[]) => void) | undefined;
  private errorHandler: ((err: Error) => void) | undefined;
  private closed = false;
  private readonly counters: DeviceStats = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };
  /** The other end (set by MemoryLink). */
  peer!: MemoryLinkEnd;

  constructor(
    readonly name: string,
    readonly mtu: number,
    private readonly link: MemoryLink,
  ) {}

  onReceive(handler: (packets: Uint8Array[]) => void): void {
    this.handler = handler;
  }

  onError(handler: (err: Error) => void): void {
    // An in-memory link never fails; kept so a test can call fail().
    this.errorHandler = handler;
  }

  /** Test hook: reports `err` to the error handler, as a vanished device would. */
  fail(err: Error): void {
    this.errorHandler?.(err);
  }

  send(packets: readonly Uint8Array[]): void {
    for (const p of packets) {
      if (this.closed) {
        this.counters.txErrors++;
        this.link.noteClosedDrop();
        continue;
      }
      if (p.length > this.mtu) {
        this.counters.txErrors++;
        this.link.noteTooBig();
        continue;
      }
      this.counters.txPackets++;
      this.counters.txBytes += p.length;
      this.link.transmit(this.peer, p);
    }
  }

  /** @internal Called by the link with packets due now. */
  deliver(packets: Uint8Array[]): void {
    if (this.closed) {
      for (let i = 0; i < packets.length; i++) this.link.noteClosedDrop();
      return;
    }
    if (!this.handler) {
      this.counters.rxDropped += packets.length;
      return;
    }
    for (const p of packets) {
      this.counters.rxPackets++;
      this.counters.rxBytes += p.length;
    }
    this.handler(packets);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): DeviceStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export class MemoryLink {
  readonly a: MemoryLinkEnd;
  readonly b: MemoryLinkEnd;
  private readonly rng: Prng;
  /** Loss, delay, jitter, reordering, duplication: the model impairDevice uses in real time. */
  private readonly model: ImpairmentModel<MemoryLinkEnd>;
  private readonly corruptRate: number;
  private now: number;
  private nextSeq = 0;
  /** Sorted by (deliverAtMs, seq). */
  private readonly queue: InFlight[] = [];
  private readonly count: MemoryLinkCounters = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    tooBig: 0,
    droppedClosed: 0,
  };

  constructor(options: MemoryLinkOptions = {}) {
    this.rng = new Prng(options.seed ?? 1);
    this.model = new ImpairmentModel<MemoryLinkEnd>(options, this.rng);
    this.corruptRate = options.corruptRate ?? 0;
    this.now = options.startMs ?? 0;
    const mtu = options.mtu ?? 1500;
    this.a = new MemoryLinkEnd("mem-a", mtu, this);
    this.b = new MemoryLinkEnd("mem-b", mtu, this);
    this.a.peer = this.b;
    this.b.peer = this.a;
  }

  /** The link's virtual time: the last advance() target, or the delivery being made. */
  get nowMs(): number {
    return this.now;
  }

  counters(): MemoryLinkCounters {
    return { ...this.count };
  }

  /** Packets still in flight. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** When the next packet is due, or undefined if nothing is in flight. */
  nextDeliveryMs(): number | undefined {
    return this.queue[0]?.deliverAtMs;
  }

  /**
   * Moves virtual time to `nowMs`, delivering every packet due at or before it in time order.
   * Packets sent by a receive handler leave at the time of that delivery, so replies that
   * fall due before `nowMs` are delivered in the same call.
   */
  advance(nowMs: number): void {
    if (nowMs < this.now) throw new RangeError(`MemoryLink time cannot go back (${nowMs} < ${this.now})`);
    let deliveries = 0;
    while (this.queue.length > 0 && this.queue[0]!.deliverAtMs <= nowMs) {
      const first = this.queue.shift()!;
      const batch = [first.data];
      // Packets due at the same instant for the same end arrive as one batch, like one read.
      while (this.queue.length > 0 && this.queue[0]!.deliverAtMs === first.deliverAtMs && this.queue[0]!.to === first.to) {
        batch.push(this.queue.shift()!.data);
      }
      this.now = first.deliverAtMs;
      this.count.delivered += batch.length;
      deliveries += batch.length;
      if (deliveries > MAX_DELIVERIES_PER_ADVANCE) {
        throw new Error(`MemoryLink delivered over ${MAX_DELIVERIES_PER_ADVANCE} packets in one advance(): zero-delay loop?`);
      }
      first.to.deliver(batch);
    }
    this.now = nowMs;
  }

  /** @internal */
  noteTooBig(): void {
    this.count.tooBig++;
  }

  /** @internal */
  noteClosedDrop(): void {
    this.count.droppedClosed++;
  }

  /**
   * @internal Decides the fate of one packet. The PRNG is drawn in a fixed order (loss,
   * jitter, reorder, duplicate, corrupt per copy) so a seed replays the same fates.
   */
  transmit(to: MemoryLinkEnd, packet: Uint8Array): void {
    this.count.sent++;
    const fate = this.model.decide(this.now, to);
    if (fate.lost) {
      this.count.lost++;
      return;
    }
    const at = fate.deliverAtMs;
    if (fate.reordered) this.count.reordered++;
    const copies = fate.copies;
    if (copies === 2) this.count.duplicated++;
    for (let i = 0; i < copies; i++) {
      // Copy on send: the sender may reuse its buffer as soon as send() returns.
      const data = packet.slice();
      if (this.rng.chance(this.corruptRate) && data.length > 0) {
        const byte = this.rng.nextInt(data.length);
        const bit = this.rng.nextInt(8);
        data[byte]! ^= 1 << bit;
        this.count.corrupted++;
      }
      this.enqueue({ deliverAtMs: at, seq: this.nextSeq++, to, data });
    }
  }

  private enqueue(item: InFlight): void {
    // Binary search for the first element that sorts after `item` (seq is increasing, so
    // only the time matters for ties: equal times keep send order).
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queue[mid]!.deliverAtMs <= item.deliverAtMs) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }
}
