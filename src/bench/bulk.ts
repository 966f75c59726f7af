// Benchmark 5 (BENCHMARKS.md): bulk transfer MB/s from synack over TUN to a kernel sink, beside
// kernel-to-kernel TCP (Node client and the same sink, inside the namespace) in the same run.
//
// synack keeps at most 1 MiB queued beyond what the peer acknowledged and counts the
// transfer done when every byte is acknowledged. Node writes with backpressure, ends the
// stream, and counts it done when the sink has read everything and closed its side.
// MB = 10^6 bytes.
import type { ChildProcess } from "node:child_process";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { Runtime } from "../../device/runtime.js";
import { TunDevice } from "../../device/tun/index.js";
import { cryptoRandom } from "../../device/random.js";
import { LISTENER_JS, labSkipReason, makeNamespace, removeNamespace, runNodeInNamespace, startNodeInNamespace, stopChild } from "./lab.js";
import type { Benchmark, Metric } from "./types.js";

const KERNEL = "10.80.0.1";
const STACK = "10.80.0.2";
const PORT = 9090;
const CHUNK = 64 * 1024;
const MAX_QUEUED = 1024 * 1024;

export interface BulkRate {
  bytes: number;
  elapsedMs: number;
  mbPerSec: number;
}

export function synackBulk(dev: TunDevice, total: number, timeoutMs: number): Promise<BulkRate> {
  const stack = new Stack({ addresses: [`${STACK}/24`], random: cryptoRandom(), profile: "linux", mtu: dev.mtu });
  const rt = new Runtime(stack, dev);
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  return new Promise((resolve, reject) => {
    let queued = 0;
    let t0 = 0;
    let over = false;
    const end = (err?: Error): void => {
      if (over) return;
      over = true;
      clearTimeout(guard);
      const elapsedMs = performance.now() - t0;
      conn.abort(rt.now());
      rt.flush();
      dev.onReceive(() => {});
      if (err) reject(err);
      else resolve({ bytes: total, elapsedMs, mbPerSec: total / elapsedMs / 1000 });
    };
    const guard = setTimeout(() => end(new Error(`bulk transfer incomplete after ${timeoutMs} ms (${conn.totalAcked} of ${total} bytes acknowledged)`)), timeoutMs);
    const fill = (c: Connection): void => {
      const now = rt.now();
      while (queued < total && queued - c.totalAcked < MAX_QUEUED) {
        const n = Math.min(CHUNK, total - queued);
        c.send(n === CHUNK ? chunk : chunk.subarray(0, n), now);
        queued += n;
      }
      rt.kick();
    };
    const r = stack.connect({ remote: { addr: KERNEL, port: PORT } }, rt.now());
    if (!(r instanceof Connection)) {
      reject(new Error(`connect failed: ${r.error}: ${r.detail}`));
      return;
    }
    const conn = r;
    conn.events = {
      established(c) {
        t0 = performance.now();
        fill(c);
      },
      acked(c, totalAcked) {
        if (totalAcked >= total) end();
        else fill(c);
      },
      closed(_c, outcome) {
        if (!over) end(new Error(`connection ended early: ${outcome.kind}`));
      },
    };
    rt.flush();
  });
}

const NODE_BULK_JS = `
import net from "node:net";
const [host, port, totalText] = process.argv.slice(-3);
const total = Number(totalText);
const chunk = Buffer.alloc(${CHUNK}, 0x5a);
const s = net.connect({ host, port: Number(port) });
let t0 = 0, sent = 0;
s.on("error", (e) => { console.error(e.message); process.exit(1); });
function pump() {
  while (sent < total) {
    const n = Math.min(chunk.length, total - sent);
    sent += n;
    if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { s.once("drain", pump); return; }
  }
  s.end();
}
s.on("connect", () => { t0 = performance.now(); pump(); });
s.on("data", () => {});
s.on("close", () => { console.log(JSON.stringify({ bytes: total, elapsedMs: performance.now() - t0 })); process.exit(0); });
`;

export async function nodeBulk(ns: string, total: number, timeoutMs: number): Promise<BulkRate> {
  const r = (await runNodeInNamespace(ns, NODE_BULK_JS, [KERNEL, String(PORT), String(total)], timeoutMs)) as { bytes: number; elapsedMs: number };
  return { ...r, mbPerSec: r.bytes / r.elapsedMs / 1000 };
}

let ns: string | undefined;
let dev: TunDevice | undefined;
let sink: ChildProcess | undefined;

export const bulkTransfer: Benchmark = {
  name: "bulk",
  section: 5,
  title: "Bulk transfer over TUN vs kernel-to-kernel",
  measures:
    "one connection sending to a kernel sink in a namespace: synack over TUN (linux profile, MTU 1500) vs Node's net.connect to the same sink over the namespace's local route; MB = 10^6 bytes",
  notes: [
    "bulk: kernel-to-kernel goes over the local route (loopback, MTU 65536, checksum offload, no TUN crossing); synack crosses the TUN twice per round trip with 1500-byte packets and computes every checksum in JavaScript",
  ],
  unavailable: labSkipReason,
  async setup(): Promise<void> {
    ns = makeNamespace();
    dev = TunDevice.open({ name: "sbtun2", netns: ns, addresses: [`${KERNEL}/24`], maxBatch: 256 });
    sink = await startNodeInNamespace(ns, LISTENER_JS, [KERNEL, String(PORT), "sink"]);
  },
  async run(quick: boolean): Promise<Metric[]> {
    const total = quick ? 2_000_000 : 64_000_000;
    const timeoutMs = quick ? 20_000 : 120_000;
    const s = await synackBulk(dev!, total, timeoutMs);
    const k = await nodeBulk(ns!, total, timeoutMs);
    return [
      { key: "synackBulkMBps", label: "synack bulk over TUN", unit: "MB/s", value: s.mbPerSec },
      { key: "kernelBulkMBps", label: "kernel-to-kernel bulk (local route)", unit: "MB/s", value: k.mbPerSec },
      { key: "bulkRatio", label: "synack / kernel bulk", unit: "x", value: s.mbPerSec / k.mbPerSec, ratio: true, target: { op: ">=", value: 0.5 } },
    ];
  },
  async teardown(): Promise<void> {
    await stopChild(sink);
    sink = undefined;
    await dev?.close();
    dev = undefined;
    removeNamespace(ns);
    ns = undefined;
  },
};
