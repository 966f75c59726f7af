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

export function synackBulk(dev: TunDevice, total: number, timeoutMs: number, link: { kernel: string; stack: string } = { kernel: KERNEL, stack: STACK }): Promise<BulkRate> {
  const stack = new Stack({ addresses: [`${link.stack}/24`], random: cryptoRandom(), profile: "linux", mtu: dev.mtu });
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
    const r = stack.connect({ remote: { addr: link.kernel, port: PORT } }, rt.now());
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

/**
 * The TUN devices of the bulk lab, one per way of writing: plain (one write(2) per
 * 1500-byte packet), GSO (vnetHdr: runs of segments written as one 64 KiB packet), and
 * GSO through the addon's writer thread.
 */
const LINKS = {
  plain: { name: "sbtun2", kernel: KERNEL, stack: STACK, vnetHdr: false, txThread: false },
  gso: { name: "sbtun3", kernel: "10.80.1.1", stack: "10.80.1.2", vnetHdr: true, txThread: false },
  gsoThread: { name: "sbtun4", kernel: "10.80.2.1", stack: "10.80.2.2", vnetHdr: true, txThread: true },
} as const;
type LinkName = keyof typeof LINKS;

let ns: string | undefined;
let devs: Partial<Record<LinkName, TunDevice>> = {};
let sink: ChildProcess | undefined;

export const bulkTransfer: Benchmark = {
  name: "bulk",
  section: 5,
  title: "Bulk transfer over TUN vs kernel-to-kernel",
  measures:
    "one connection sending to a kernel sink in a namespace: synack over TUN (linux profile, MTU 1500; plain writes, GSO writes, GSO writes on the writer thread) vs Node's net.connect to the same sink over the namespace's local route, interleaved; MB = 10^6 bytes",
  notes: [
    "bulk: kernel-to-kernel goes over the local route (loopback, MTU 65536, checksum offload, no TUN crossing); synack crosses the TUN with 1500-byte segments and computes every checksum in JavaScript",
    "bulk: GSO = the TUN opened with IFF_VNET_HDR; the addon writes each run of consecutive segments of the connection in one send() as one packet of up to 64 KiB marked VIRTIO_NET_HDR_GSO_TCPV4, which the kernel takes as one large segment; the engine is unchanged and still builds and checksums every 1500-byte segment",
  ],
  unavailable: labSkipReason,
  async setup(): Promise<void> {
    ns = makeNamespace();
    devs = {};
    for (const [key, l] of Object.entries(LINKS) as Array<[LinkName, (typeof LINKS)[LinkName]]>) {
      devs[key] = TunDevice.open({ name: l.name, netns: ns, addresses: [`${l.kernel}/24`], maxBatch: 256, vnetHdr: l.vnetHdr, txThread: l.txThread });
    }
    sink = await startNodeInNamespace(ns, LISTENER_JS, ["0.0.0.0", String(PORT), "sink"]);
  },
  async run(quick: boolean): Promise<Metric[]> {
    const total = quick ? 2_000_000 : 64_000_000;
    const timeoutMs = quick ? 20_000 : 120_000;
    const s = await synackBulk(devs.plain!, total, timeoutMs, LINKS.plain);
    const g = await synackBulk(devs.gso!, total, timeoutMs, LINKS.gso);
    const k = await nodeBulk(ns!, total, timeoutMs);
    const gt = await synackBulk(devs.gsoThread!, total, timeoutMs, LINKS.gsoThread);
    const st = devs.gso!.stats();
    const best = Math.max(s.mbPerSec, g.mbPerSec, gt.mbPerSec);
    return [
      { key: "synackBulkMBps", label: "synack bulk over TUN (plain writes)", unit: "MB/s", value: s.mbPerSec },
      { key: "synackGsoBulkMBps", label: "synack bulk over TUN (GSO writes)", unit: "MB/s", value: g.mbPerSec },
      { key: "synackGsoThreadBulkMBps", label: "synack bulk over TUN (GSO writes, writer thread)", unit: "MB/s", value: gt.mbPerSec },
      { key: "gsoSegmentsPerWrite", label: "segments per GSO write (mean, all runs so far)", unit: "segments", value: (st.txGsoSegments ?? 0) / Math.max(1, st.txGsoWrites ?? 0) },
      { key: "kernelBulkMBps", label: "kernel-to-kernel bulk (local route)", unit: "MB/s", value: k.mbPerSec },
      { key: "bulkRatio", label: "synack / kernel bulk (plain writes)", unit: "x", value: s.mbPerSec / k.mbPerSec, ratio: true },
      { key: "bulkBestRatio", label: "synack / kernel bulk (best of the three)", unit: "x", value: best / k.mbPerSec, ratio: true, target: { op: ">=", value: 0.5 } },
      { key: "gsoGain", label: "synack GSO / plain writes", unit: "x", value: g.mbPerSec / s.mbPerSec, ratio: true },
    ];
  },
  async teardown(): Promise<void> {
    await stopChild(sink);
    sink = undefined;
    for (const d of Object.values(devs)) await d?.close();
    devs = {};
    removeNamespace(ns);
    ns = undefined;
  },
};
