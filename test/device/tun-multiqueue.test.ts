// A multi-queue TUN (TunOpenOptions.queues) against the real kernel, in namespaces the
// test creates: every queue is read, each flow's packets are written through one queue
// (and one writer thread) so they reach the kernel in order, nothing is dropped, and
// close() writes what every queue still holds. Plus the option's argument errors.
import dgram from "node:dgram";
import { afterAll, describe, expect, it } from "vitest";
import { createNetns, deleteNetns, labUnavailableReason, netnsExec, withNetns } from "../../device/netns.js";
import { TunDevice } from "../../device/tun/index.js";
import { loadAddon } from "../../device/tun/native.js";
import { parseSnmpPairs } from "../../src/bench/kernel-counters.js";
import { synackConnectRun } from "../../src/bench/connects.js";
import { ipv4Packet, parseIp, rd16, rd32 } from "./tun-packets.js";

const labWhy = labUnavailableReason();
let addonWhy: string | undefined;
try {
  loadAddon();
} catch (err) {
  addonWhy = (err as Error).message;
}

let nsCounter = 0;
const made: string[] = [];
function newNamespace(): string {
  const name = `synack-mq-${process.pid}-${nsCounter++}`;
  createNetns(name);
  made.push(name);
  return name;
}
afterAll(() => {
  for (const ns of made) deleteNetns(ns);
});

/** UDP/IPv4 datagram (RFC 768; checksum 0 = none, allowed over IPv4) carrying flow and sequence numbers. */
function udp4(src: string, dst: string, srcPort: number, dstPort: number, flow: number, seq: number): Uint8Array {
  const u = new Uint8Array(8 + 8);
  const v = new DataView(u.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, u.length);
  v.setUint32(8, flow);
  v.setUint32(12, seq);
  return ipv4Packet(src, dst, 17, u);
}

/** The namespace's UDP counters (/proc/net/snmp read inside it). */
function udpCounters(ns: string): Record<string, number> {
  return parseSnmpPairs(netnsExec(ns, "cat", ["/proc/net/snmp"]));
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe.skipIf(addonWhy !== undefined)(`TUN queues option: argument errors${addonWhy ? ` (${addonWhy})` : ""}`, () => {
  // The options are checked before anything is opened, so these need no privileges.
  for (const queues of [0, -1, 1.5, 257, Number.NaN, "2", null]) {
    it(`queues: ${typeof queues === "string" ? JSON.stringify(queues) : String(queues)} is refused with one line`, () => {
      let err: (Error & { code?: string }) | undefined;
      try {
        TunDevice.open({ name: "synmq0", queues: queues as number });
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code).toBe("EINVAL");
      expect(err?.message).toBe("queues must be a whole number from 1 to 256");
    });
  }

  it("queues > 1 with multiQueue: false is refused", () => {
    expect(() => TunDevice.open({ name: "synmq0", queues: 2, multiQueue: false })).toThrow(
      "queues > 1 needs a multi-queue device: leave multiQueue unset or true",
    );
  });
});

describe.skipIf(labWhy !== undefined || addonWhy !== undefined)(`multi-queue TUN against the kernel (${labWhy ?? addonWhy ?? "root"})`, () => {
  const KERNEL = "10.72.0.1";
  const STACK = "10.72.0.2";
  const FLOWS = 16;
  const PER_FLOW = 6;
  const ROUNDS = 10;

  for (const txThread of [false, true]) {
    it(`queues: 2${txThread ? " with a writer thread each" : ""}: each flow's datagrams reach the kernel in order, its answers come back on every queue, nothing is dropped`, async () => {
      const ns = newNamespace();
      const dev = TunDevice.open({ name: "synmq1", netns: ns, addresses: [`${KERNEL}/24`], queues: 2, txThread });
      // dgram creates its socket at bind(), after resolving the address: with a lookup
      // that answers at once, that happens inside withNetns, so in the namespace.
      const server = dgram.createSocket({ type: "udp4", lookup: (addr, _opts, cb) => cb(null, addr, 4) });
      try {
        expect(dev.queues).toBe(2);
        expect(dev.txThread).toBe(txThread);
        // The kernel side: a UDP socket in the namespace that records each flow's sequence
        // numbers in the order the kernel delivered them, and echoes every datagram.
        const seen = new Map<number, number[]>();
        server.on("message", (msg, rinfo) => {
          const flow = msg.readUInt32BE(0);
          const list = seen.get(flow) ?? [];
          list.push(msg.readUInt32BE(4));
          seen.set(flow, list);
          server.send(msg, rinfo.port, rinfo.address);
        });
        await new Promise<void>((resolve) => withNetns(ns, () => server.bind(7000, "0.0.0.0", resolve)));
        const echoes = new Map<number, number[]>();
        dev.onReceive((batch) => {
          for (const p of batch) {
            const ip = parseIp(p);
            if (ip?.protocol !== 17 || rd16(ip.payload, 0) !== 7000) continue;
            const flow = rd32(ip.payload, 8);
            const list = echoes.get(flow) ?? [];
            list.push(rd32(ip.payload, 12));
            echoes.set(flow, list);
          }
        });
        const before = udpCounters(ns);
        // Each round: PER_FLOW datagrams of every flow, interleaved, in ONE send().
        for (let round = 0; round < ROUNDS; round++) {
          const batch: Uint8Array[] = [];
          for (let k = 0; k < PER_FLOW; k++) {
            for (let f = 0; f < FLOWS; f++) batch.push(udp4(STACK, KERNEL, 40000 + f, 7000, f, round * PER_FLOW + k));
          }
          dev.send(batch);
          const want = (round + 1) * PER_FLOW * FLOWS;
          await until(() => [...echoes.values()].reduce((n, l) => n + l.length, 0) >= want, 5000);
        }
        const total = FLOWS * PER_FLOW * ROUNDS;
        const inOrder = Array.from({ length: PER_FLOW * ROUNDS }, (_, i) => i);
        for (let f = 0; f < FLOWS; f++) {
          expect(seen.get(f), `flow ${f} as the kernel delivered it`).toEqual(inOrder);
          expect(echoes.get(f), `flow ${f} as read back`).toEqual(inOrder);
        }
        const after = udpCounters(ns);
        expect((after["UdpInErrors"] ?? 0) - (before["UdpInErrors"] ?? 0)).toBe(0);
        expect((after["UdpRcvbufErrors"] ?? 0) - (before["UdpRcvbufErrors"] ?? 0)).toBe(0);
        const s = dev.stats();
        expect(s).toMatchObject({ txPackets: total, txErrors: 0, rxDropped: 0 });
        // Both queues carried writes, and the kernel answered on both (it sends a flow's
        // packets to the queue that flow was written on).
        expect(s.txQueuePackets).toHaveLength(2);
        expect(s.txQueuePackets![0]! + s.txQueuePackets![1]!).toBe(total);
        expect(Math.min(...s.txQueuePackets!)).toBeGreaterThan(0);
        expect(s.rxQueuePackets![0]! + s.rxQueuePackets![1]!).toBe(s.rxPackets);
        expect(Math.min(...s.rxQueuePackets!)).toBeGreaterThan(0);
      } finally {
        server.close();
        await dev.close();
      }
    });
  }

  it("queues: 2 with writer threads: the stack's connections complete (SYN, ACK, RST of one connection through one queue)", async () => {
    const ns = newNamespace();
    const dev = TunDevice.open({ name: "synmq2", netns: ns, addresses: ["10.71.0.1/24"], queues: 2, txThread: true, maxBatch: 256 });
    const net = await import("node:net");
    const server = withNetns(ns, () => net.createServer((sock) => sock.destroy()));
    server.on("error", () => {});
    try {
      await new Promise<void>((resolve) => withNetns(ns, () => server.listen({ port: 8080, backlog: 1024 }, resolve)));
      const r = await synackConnectRun(dev, { durationMs: 20_000, maxConnects: 400, inFlight: 16, address: "10.71.0.2/24", remote: { addr: "10.71.0.1", port: 8080 } });
      expect(r).toMatchObject({ completed: 400, failed: 0 });
      const s = dev.stats();
      expect(s.txErrors).toBe(0);
      expect(s.txQueuePackets![0]! + s.txQueuePackets![1]!).toBe(s.txPackets);
      expect(Math.min(...s.txQueuePackets!)).toBeGreaterThan(0);
      expect(s.rxQueuePackets![0]! + s.rxQueuePackets![1]!).toBe(s.rxPackets);
    } finally {
      server.close();
      await dev.close();
    }
  });

  it("close() writes what every queue's writer still holds before it returns", async () => {
    const ns = newNamespace();
    const dev = TunDevice.open({ name: "synmq3", netns: ns, addresses: ["10.70.0.1/24"], queues: 2, txThread: true });
    const before = udpCounters(ns);
    const n = 3000;
    // Nothing listens on port 9: the kernel counts each datagram it got as UdpNoPorts.
    dev.send(Array.from({ length: n }, (_, i) => udp4("10.70.0.2", "10.70.0.1", 40000 + (i % 64), 9, i % 64, i)));
    await dev.close();
    const s = dev.stats();
    expect(s).toMatchObject({ txPackets: n, txErrors: 0 });
    expect(s.txQueuePackets![0]! + s.txQueuePackets![1]!).toBe(n);
    expect(Math.min(...s.txQueuePackets!)).toBeGreaterThan(0);
    const after = udpCounters(ns);
    expect((after["UdpNoPorts"] ?? 0) - (before["UdpNoPorts"] ?? 0)).toBe(n);
  });
});
