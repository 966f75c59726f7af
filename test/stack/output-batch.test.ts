// The stack's output as a packed batch (Stack.pollBatch / takeOutputBatch, stack/outbox.ts)
// carries exactly the packets poll() gives, and the Runtime hands it to a device that writes
// batches (Device.sendBatch) instead of calling send().
import { describe, expect, it } from "vitest";
import { Runtime } from "../../device/runtime.js";
import type { Device, DeviceStats } from "../../device/types.js";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import type { PacketBatch } from "../../stack/outbox.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";

function unpack(b: Pick<PacketBatch, "data" | "lengths" | "count">): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < b.count; i++) {
    out.push(b.data.slice(at, at + b.lengths[i]));
    at += b.lengths[i];
  }
  return out;
}

/** The same run twice (same seed): `n` connects, a SYN-ACK with data for each, then RSTs. */
function run(n: number, take: (s: Stack, now: number) => Uint8Array[]): Uint8Array[][] {
  const s = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(5), profile: "linux" });
  const conns: Connection[] = [];
  for (let i = 0; i < n; i++) {
    const c = s.connect({ remote: { addr: "10.0.0.1", port: 1000 + i } }, 0);
    if (!(c instanceof Connection)) throw new Error(c.error);
    conns.push(c);
  }
  const rounds = [take(s, 0)];
  for (const c of conns) {
    s.input(buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: c.remotePort, dstPort: c.localPort, seq: 500, ack: c.sndNxt, flags: TCP_SYN | TCP_ACK, window: 65535, options: [{ kind: "mss", value: 1460 }], payload: new Uint8Array(100).fill(7) }), 1);
  }
  rounds.push(take(s, 1));
  for (const c of conns) c.send(new Uint8Array(3000).fill(9), 2);
  rounds.push(take(s, 2));
  for (const c of conns) c.abort(3);
  rounds.push(take(s, 3));
  return rounds;
}

describe("Stack.pollBatch", () => {
  it("gives the packets poll() gives, in order, also when the batch outgrows its buffers", () => {
    // 300 connections: 300 SYNs, then 300 ACKs, then 600 data segments (more than the
    // initial 64 lengths and 16 KB), then 300 RSTs.
    const arrays = run(300, (s, now) => s.poll(now));
    const batches = run(300, (s, now) => unpack(s.pollBatch(now)));
    expect(arrays.map((r) => r.length)).toEqual([300, 300, 900, 300]);
    expect(batches).toEqual(arrays);
  });

  it("is empty after it was taken", () => {
    const s = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(1) });
    s.connect({ remote: { addr: "10.0.0.1", port: 80 } }, 0);
    expect(s.takeOutputBatch().count).toBe(1);
    expect(s.takeOutputBatch().count).toBe(0);
    expect(s.takeOutput()).toEqual([]);
  });
});

describe("Runtime with a device that writes batches", () => {
  it("hands the stack's batch to sendBatch and never calls send", () => {
    const written: Uint8Array[] = [];
    let sendCalls = 0;
    const stats: DeviceStats = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };
    const dev: Device = {
      name: "batch",
      mtu: 1500,
      onReceive() {},
      onError() {},
      send() {
        sendCalls++;
      },
      sendBatch(data, lengths, count) {
        written.push(...unpack({ data, lengths, count }));
      },
      stats: () => stats,
      close: async () => {},
    };
    const s = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(2) });
    const rt = new Runtime(s, dev, { clock: () => 0 });
    for (let i = 0; i < 3; i++) s.connect({ remote: { addr: "10.0.0.1", port: 80 + i } }, 0);
    rt.flush(0);
    void rt.close();
    expect(sendCalls).toBe(0);
    expect(written.map((p) => p[33] & 0x3f)).toEqual([TCP_SYN, TCP_SYN, TCP_SYN]);
  });
});
