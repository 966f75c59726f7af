// Binds a Stack to a Device and to real time. This is the only place with real timers
// (docs/architecture.md): one Node timer, re-armed to the stack's next deadline after every batch of
// input and every user call; packets are read in batches and written in batches.
import { performance } from "node:perf_hooks";
import type { Stack } from "../stack/stack.js";
import { isDeviceDropReason } from "../stack/drops.js";
import type { Device } from "./types.js";

export interface RuntimeOptions {
  /** Milliseconds on a monotonic clock; default performance.now() relative to start. */
  clock?: () => number;
  /** Called when the device fails (e.g. the TUN interface was deleted). */
  onDeviceError?: (err: Error) => void;
}

export class Runtime {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private kickScheduled = false;
  private closed = false;
  private closing = false;
  private readonly closeListeners: Array<() => void> = [];
  private readonly t0 = performance.now();
  readonly clock: () => number;
  /** Set once when the device reported an error. */
  deviceError: Error | undefined;
  private readonly deviceErrorListeners: Array<(err: Error) => void> = [];

  /** Whether the stack leaves checksums (and segmentation) to the device (Device.offloads). */
  private readonly offloaded: boolean;

  constructor(readonly stack: Stack, readonly device: Device, private readonly opts: RuntimeOptions = {}) {
    this.clock = opts.clock ?? (() => performance.now() - this.t0);
    // The stack leaves work to the device only if it can say so per packet (sendBatch's meta).
    const off = device.offloads;
    this.offloaded = off !== undefined && off.txTcpChecksum && device.sendBatch !== undefined;
    stack.setTxOffloads({ tcpChecksum: this.offloaded, tcpSegmentation: this.offloaded && off!.txTcpSegmentation });
    device.onReceive((packets, tcpChecksummed) => {
      if (this.closed) return;
      const now = this.clock();
      // The stack copies what it keeps, so the device may reuse its buffers afterwards. A
      // packet whose TCP checksum the device computed or verified (receive offloads) is not
      // summed again; every other one is verified by the stack.
      if (tcpChecksummed === undefined) for (let i = 0; i < packets.length; i++) stack.input(packets[i], now);
      else for (let i = 0; i < packets.length; i++) stack.input(packets[i], now, tcpChecksummed[i] === 1);
      // The answers go out now, before any promise continuation of the owners runs: one
      // that closes the runtime in this tick must not swallow them (a handshake's final
      // ACK, for instance).
      this.flush(now);
    });
    // What the device dropped itself is counted and traced in the stack like its own drops.
    device.onDrop?.((reason, packet) => {
      if (this.closed || !isDeviceDropReason(reason)) return;
      stack.deviceDrop(reason, packet, this.clock());
    });
    device.onError((err) => {
      // A device reports its failure once; later packets from the stack go nowhere.
      if (this.deviceError) return;
      this.deviceError = err;
      this.opts.onDeviceError?.(err);
      for (const h of this.deviceErrorListeners.splice(0)) h(err);
      // Whatever the listeners did (e.g. WskProvider.failAll) may have changed the timers.
      this.flush();
    });
  }

  /**
   * Adds a listener for the device's failure (e.g. `() => provider.failAll()`, so pending
   * IRPs complete when the TUN interface is deleted). Called at once if it already failed.
   */
  onDeviceError(handler: (err: Error) => void): void {
    if (this.deviceError) {
      handler(this.deviceError);
      return;
    }
    this.deviceErrorListeners.push(handler);
  }

  /** Current time on the stack's clock. */
  now(): number {
    return this.clock();
  }

  /**
   * Runs due timers, sends pending output and re-arms the single timer. Call it after any
   * user call into the stack (or use kick() to coalesce several calls in one tick).
   */
  flush(now = this.clock()): void {
    if (this.closed) return;
    const dev = this.device;
    if (dev.sendBatch !== undefined) {
      const b = this.stack.pollBatch(now);
      if (b.count > 0 && !this.deviceError) {
        if (this.offloaded) dev.sendBatch(b.data, b.lengths, b.count, b.meta);
        else dev.sendBatch(b.data, b.lengths, b.count);
      }
    } else {
      const out = this.stack.poll(now);
      if (out.length > 0 && !this.deviceError) dev.send(out);
    }
    this.rearm(now);
  }

  /** Schedules a flush at the end of the current tick (coalesces many user calls). */
  kick(): void {
    if (this.kickScheduled || this.closed) return;
    this.kickScheduled = true;
    queueMicrotask(() => {
      this.kickScheduled = false;
      this.flush();
    });
  }

  private rearm(now: number): void {
    const d = this.stack.nextDeadline();
    if (d === undefined) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && d === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = d;
    // Node timers have 1 ms granularity; fire at or just after the deadline.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.flush();
    }, Math.max(0, Math.ceil(d - now)));
  }

  /**
   * Adds a handler run once at the start of close(), before the device closes (e.g.
   * `() => provider.shutdown()`, so every pending IRP completes and connections are reset).
   * What it sends still leaves through the device.
   */
  onClose(handler: () => void): void {
    if (this.closing) {
      handler();
      return;
    }
    this.closeListeners.push(handler);
  }

  /**
   * Runs the close handlers, sends what they produced, stops the timer and closes the
   * device. Afterwards nothing of the runtime keeps the process alive. Harmless to repeat.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const h of this.closeListeners.splice(0)) h();
    this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.device.close();
  }
}
