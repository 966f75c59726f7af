// Two in-process devices joined back to back, in real time: what one end sends the other
// receives on the next turn of the event loop. `synack listen --sim` puts a second synack
// stack (the simulated client) on the far end. A simulation, and every output using it says so.
import type { Device, DeviceStats } from "../../device/types.js";

class PipeEnd implements Device {
  private handler: ((packets: Uint8Array[]) => void) | undefined;
  private closed = false;
  peer!: PipeEnd;
  private readonly counters: DeviceStats = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };

  constructor(
    readonly name: string,
    readonly mtu: number,
  ) {}

  onReceive(handler: (packets: Uint8Array[]) => void): void {
    this.handler = handler;
  }

  onError(_handler: (err: Error) => void): void {
    // An in-process pipe does not fail.
  }

  send(packets: readonly Uint8Array[]): void {
    if (this.closed) return;
    const copies = packets.map((p) => p.slice());
    this.counters.txPackets += copies.length;
    for (const p of copies) this.counters.txBytes += p.length;
    setImmediate(() => this.peer.deliver(copies));
  }

  private deliver(packets: Uint8Array[]): void {
    if (this.closed || !this.handler) {
      this.counters.rxDropped += packets.length;
      return;
    }
    this.counters.rxPackets += packets.length;
    for (const p of packets) this.counters.rxBytes += p.length;
    this.handler(packets);
  }

  stats(): DeviceStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Two devices whose packets reach each other. */
export function devicePipe(mtu = 1500): [Device, Device] {
  const a = new PipeEnd("pipe-a", mtu);
  const b = new PipeEnd("pipe-b", mtu);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
