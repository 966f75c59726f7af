// Drives a Stack in virtual time: the counterpart of device/runtime.ts, which drives one
// with a device and real timers. Time is a number the caller moves; every timer runs at
// its exact deadline, in order, however far the clock jumps, so a 127 s SYN give-up takes
// microseconds and the same inputs give the same packets at the same times
// (docs/architecture.md, "A pure engine, a thin I/O shell"). The scripted engine tests
// (test/helpers/vt.ts), the packetdrill runner (src/conformance/runner.ts) and the replay
// (src/replay/replay.ts) all move time through this one loop.
import type { Stack } from "../stack/stack.js";

export interface VirtualRuntimeOptions {
  /** Virtual time to start at, in ms (default 0). */
  startMs?: number;
  /** Every packet the stack sends, with the virtual time it was sent at. */
  onOutput?: (bytes: Uint8Array, nowMs: number) => void;
  /**
   * The application's turn: called after each batch of timers has run (and after the final
   * poll of advanceTo), e.g. to read received data or complete system calls.
   */
  afterTimers?: () => void;
}

export class VirtualRuntime {
  /** The virtual clock, in ms. Only moves forwards. */
  nowMs: number;
  private readonly onOutput: (bytes: Uint8Array, nowMs: number) => void;
  private readonly afterTimers: () => void;

  constructor(
    readonly stack: Stack,
    o: VirtualRuntimeOptions = {},
  ) {
    this.nowMs = o.startMs ?? 0;
    this.onOutput = o.onOutput ?? (() => undefined);
    this.afterTimers = o.afterTimers ?? (() => undefined);
  }

  /** Hands what the stack has queued (after a user call or an input) to onOutput. */
  collect(): void {
    for (const b of this.stack.takeOutput()) this.onOutput(b, this.nowMs);
  }

  /** Feeds one datagram to the stack at the current time and collects what it answers. */
  input(bytes: Uint8Array): void {
    this.stack.input(bytes, this.nowMs);
    this.collect();
  }

  /**
   * Moves the clock to `tMs`, running every timer due on the way at its own deadline.
   * A time in the past leaves the clock where it is (the stack is still polled).
   */
  advanceTo(tMs: number): void {
    for (;;) {
      const d = this.stack.nextDeadline();
      if (d === undefined || d > tMs) break;
      this.nowMs = Math.max(this.nowMs, d);
      this.poll();
    }
    if (tMs > this.nowMs) this.nowMs = tMs;
    this.poll();
  }

  advance(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }

  /** The stack's next deadline (undefined when it has no timer armed). */
  nextDeadline(): number | undefined {
    return this.stack.nextDeadline();
  }

  /**
   * Moves to the stack's next deadline if it is at or before `limitMs` and returns true;
   * otherwise moves to `limitMs` (when finite and ahead) and returns false: nothing can
   * happen before the limit.
   */
  step(limitMs: number): boolean {
    const d = this.stack.nextDeadline();
    if (d === undefined || d > limitMs) {
      if (limitMs > this.nowMs && Number.isFinite(limitMs)) this.advanceTo(limitMs);
      return false;
    }
    this.advanceTo(Math.max(d, this.nowMs));
    return true;
  }

  /**
   * Moves from deadline to deadline while `keepGoing()` holds and the next deadline is at
   * or before `limitMs`; does not move past the last deadline it ran.
   */
  runWhile(keepGoing: () => boolean, limitMs = Infinity): void {
    while (keepGoing()) {
      const d = this.stack.nextDeadline();
      if (d === undefined || d > limitMs) return;
      this.advanceTo(d);
    }
  }

  private poll(): void {
    for (const b of this.stack.poll(this.nowMs)) this.onOutput(b, this.nowMs);
    this.afterTimers();
  }
}
