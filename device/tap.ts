// A capture tap: wraps any Device and records every packet that crosses it, both ways, into
// a capture writer (pcapng keeps the direction in epb_flags and the engine's decision trace
// in opt_comment). The wrapped device behaves exactly like the original.

import type { Device, DeviceStats } from "./types.js";
import { msToNs } from "./pcap/format.js";
import type { PacketDirection, PacketWriter } from "./pcap/write.js";

export type TapDirection = PacketDirection;

/**
 * Clock for the tap. A bigint is nanoseconds since the epoch (e.g. process.hrtime.bigint()
 * offset to the epoch); a number is milliseconds, the project's `nowMs` convention (virtual
 * clocks, performance.timeOrigin + performance.now()), converted with msToNs.
 */
export type TapClock = () => bigint | number;

export type TapTrace = (packet: Uint8Array, dir: TapDirection) => string | undefined;

function nowNs(clock: TapClock): bigint {
  const t = clock();
  return typeof t === "bigint" ? t : msToNs(t);
}

/**
 * Returns a Device that forwards to `dev` and writes each received ("in") and sent ("out")
 * packet to `writer`, with `trace(packet, dir)` as the packet comment when given. The writer
 * serialises each packet during the call, which is the copy the Device contract asks for
 * (receive buffers are only valid during the handler call).
 */
export function tapDevice(dev: Device, writer: PacketWriter, clock: TapClock, trace?: TapTrace): Device {
  const record = (packets: readonly Uint8Array[], dir: TapDirection): void => {
    for (const p of packets) {
      const comment = trace?.(p, dir);
      writer.write(nowNs(clock), p, comment, dir);
    }
  };
  return {
    get name(): string {
      return dev.name;
    },
    get mtu(): number {
      return dev.mtu;
    },
    onReceive(handler: (packets: Uint8Array[]) => void): void {
      dev.onReceive((packets) => {
        // Record before handing over: the handler may consume (and the device reuse) the buffers.
        record(packets, "in");
        handler(packets);
      });
    },
    onError(handler: (err: Error) => void): void {
      dev.onError(handler);
    },
    send(packets: readonly Uint8Array[]): void {
      record(packets, "out");
      dev.send(packets);
    },
    stats(): DeviceStats {
      return dev.stats();
    },
    close(): Promise<void> {
      return dev.close();
    },
  };
}
