// Benchmark 5 (BENCHMARKS.md): bulk transfer MB/s from synack over TUN to a kernel sink, beside
// kernel-to-kernel TCP (Node client and the same sink, inside the namespace) in the same run;
// and the receive direction: a Node sender in the namespace (the kernel's TCP) sending to a
// synack listener over TUN, with and without the TUN's receive offloads.
//
// synack keeps at most 1 MiB queued beyond what the peer acknowledged and counts the
// transfer done when every byte is acknowledged. Node writes with backpressure, ends the
// stream, and counts it done when the sink has read everything and closed its side.
// MB = 10^6 bytes.
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { Listener, Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { Runtime } from "../../device/runtime.js";
import { TunDevice } from "../../device/tun/index.js";
import { cryptoRandom } from "../../device/random.js";
import { LISTENER_JS, labSkipReason, makeNamespace, removeNamespace, runNodeInNamespace, startNodeInNamespace, stopChild } from "./lab.js";
import type { Benchmark, Metric } from "./types.js";
import type { Device } from "../../device/types.js";

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

export interface ReceiveResult extends BulkRate {
  /** sha256 of what synack received, when asked for (hash: true). */
  sha256?: string;
  /** What the sender said it sent: bytes, their sha256, and its CPU time from connect to close (µs). */
  sent: { bytes: number; sha256: string; cpuUs: number };
  /** CPU time of this process (every thread, user + system) from the accept to the FIN, µs. */
  cpuUs: number;
  /** The synack stack's drops by reason (a copy of stats.drops). */
  drops: Record<string, number>;
  /** Segments synack received (stats.rxPackets). */
  rxSegments: number;
}

/**
 * The kernel sends `total` bytes (a Node client in namespace `ns`, i.e. the kernel's TCP) to a
 * synack listener on `dev`; synack reads everything, closes when the sender's FIN arrives,
 * and the rate is measured at synack from the accepted connection to that FIN. With `hash`
 * both sides hash the bytes (sha256) for the caller to compare.
 */
export function synackReceive(
  dev: Device,
  ns: string,
  total: number,
  timeoutMs: number,
  link: { kernel: string; stack: string },
  opts: { hash?: boolean; port?: number; rcvBufBytes?: number } = {},
): Promise<ReceiveResult> {
  const port = opts.port ?? PORT;
  const stack = new Stack({ addresses: [`${link.stack}/${link.stack.includes(":") ? 64 : 24}`], random: cryptoRandom(), profile: "linux", mtu: dev.mtu });
  const rt = new Runtime(stack, dev);
  const hash = opts.hash === true ? createHash("sha256") : undefined;
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let t0 = 0;
    let elapsedMs = 0;
    let over = false;
    let sent: { bytes: number; sha256: string; cpuUs: number } | undefined;
    let cpu0 = process.cpuUsage();
    let cpuUs = 0;
    let conn: Connection | undefined;
    const finish = (err?: Error): void => {
      if (over) return;
      if (err === undefined && (sent === undefined || elapsedMs === 0)) return; // both sides must be done
      over = true;
      clearTimeout(guard);
      if (conn !== undefined && conn.state !== "CLOSED") conn.abort(rt.now());
      rt.flush();
      dev.onReceive(() => {});
      if (err) reject(err);
      else resolve({ bytes, elapsedMs, mbPerSec: bytes / elapsedMs / 1000, sent: sent!, cpuUs, drops: { ...stack.stats.drops } as Record<string, number>, rxSegments: stack.stats.rxPackets, ...(hash ? { sha256: hash.digest("hex") } : {}) });
    };
    const guard = setTimeout(() => finish(new Error(`receive incomplete after ${timeoutMs} ms (${bytes} of ${total} bytes)`)), timeoutMs);
    const take = (c: Connection): void => {
      for (;;) {
        const d = c.read();
        if (d.length === 0) return;
        bytes += d.length;
        hash?.update(d);
      }
    };
    const l = stack.listen({
      port,
      ...(opts.rcvBufBytes !== undefined ? { overrides: { rcvBufBytes: opts.rcvBufBytes } } : {}),
      onAccept: (c) => {
        conn = c;
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        take(c);
        c.events = {
          data: take,
          peerFin(c2) {
            take(c2);
            elapsedMs = performance.now() - t0;
            const cpu = process.cpuUsage(cpu0);
            cpuUs = cpu.user + cpu.system;
            if (bytes !== total) {
              finish(new Error(`the sender's FIN came after ${bytes} of ${total} bytes`));
              return;
            }
            c2.close(rt.now());
            rt.kick();
          },
          closed(_c, outcome) {
            if (elapsedMs === 0) finish(new Error(`connection ended early: ${outcome.kind}`));
            else finish();
          },
        };
      },
    });
    if (!(l instanceof Listener)) {
      clearTimeout(guard);
      reject(new Error(`listen failed: ${l.error}: ${l.detail}`));
      return;
    }
    rt.flush();
    runNodeInNamespace(ns, NODE_SEND_JS, [link.stack, String(port), String(total), hash ? "hash" : "none"], timeoutMs).then(
      (r) => {
        sent = r as { bytes: number; sha256: string; cpuUs: number };
        finish();
      },
      (e: Error) => finish(e),
    );
  });
}

// The kernel's side of the receive direction: sends `total` bytes of random data (a 1 MiB +
// 13 block over and over, so that a lost or repeated segment changes the hash), ends, and
// prints what it sent (hashed only when asked: the hash costs CPU) and its CPU time once
// synack has closed its side too.
const NODE_SEND_JS = `
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
const [host, port, totalText, hashText] = process.argv.slice(-4);
const total = Number(totalText);
const block = randomBytes(1048576 + 13);
const h = hashText === "hash" ? createHash("sha256") : undefined;
const s = net.connect({ host, port: Number(port) });
let sent = 0, at = 0, cpu0;
s.on("error", (e) => { console.error(e.message); process.exit(1); });
function pump() {
  while (sent < total) {
    const n = Math.min(65536, total - sent, block.length - at);
    const c = block.subarray(at, at + n);
    at = (at + n) % block.length;
    sent += n;
    h?.update(c);
    if (!s.write(c)) { s.once("drain", pump); return; }
  }
  s.end();
}
s.on("connect", () => { cpu0 = process.cpuUsage(); pump(); });
s.on("data", () => {});
s.on("close", () => {
  const c = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ bytes: sent, sha256: h?.digest("hex") ?? "", cpuUs: c.user + c.system }));
  process.exit(0);
});
`;

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
 * 1500-byte packet); GSO (vnetHdr, the stack's offloads off: the addon merges runs of
 * checksummed segments into one 64 KiB packet), also through the addon's writer thread; and
 * offload (vnetHdr with the offloads: the stack leaves the TCP checksum to the device and
 * hands over its own TSO packets of up to 64 KiB), also through the writer thread.
 */
const LINKS = {
  plain: { name: "sbtun2", kernel: KERNEL, stack: STACK, vnetHdr: false, txThread: false, offload: false },
  gso: { name: "sbtun3", kernel: "10.80.1.1", stack: "10.80.1.2", vnetHdr: true, txThread: false, offload: false },
  gsoThread: { name: "sbtun4", kernel: "10.80.2.1", stack: "10.80.2.2", vnetHdr: true, txThread: true, offload: false },
  offload: { name: "sbtun5", kernel: "10.80.3.1", stack: "10.80.3.2", vnetHdr: true, txThread: false, offload: true },
  offloadThread: { name: "sbtun6", kernel: "10.80.4.1", stack: "10.80.4.2", vnetHdr: true, txThread: true, offload: true },
} as const;

/**
 * The receive direction (the kernel sends, synack receives), one TUN each: plain (no
 * virtio-net header: the kernel cuts and checksums every 1500-byte packet, one read(2)
 * each); vnetHdr with the receive offloads off (the same packets behind an all-zero header);
 * and with them (TUNSETOFFLOAD: the kernel hands over TCP segments of up to 64 KiB with the
 * checksum partial, which the addon cuts and checksums). The transmit offloads are on in the
 * last two (synack's ACKs leave with the checksum left to the device).
 */
const RX_LINKS = {
  rxPlain: { name: "sbtun7", kernel: "10.80.5.1", stack: "10.80.5.2", vnetHdr: false, rxOffload: false },
  rxNoOffload: { name: "sbtun8", kernel: "10.80.6.1", stack: "10.80.6.2", vnetHdr: true, rxOffload: false },
  rxOffload: { name: "sbtun9", kernel: "10.80.7.1", stack: "10.80.7.2", vnetHdr: true, rxOffload: true },
} as const;
type RxLinkName = keyof typeof RX_LINKS;
/** synack's receive buffer in the receive direction: a window (4 MiB, scale 7) that does not limit the rate. */
const RX_BUF_BYTES = 4 * 1024 * 1024;
type LinkName = keyof typeof LINKS;

let ns: string | undefined;
let devs: Partial<Record<LinkName | RxLinkName, TunDevice>> = {};
let sink: ChildProcess | undefined;

export const bulkTransfer: Benchmark = {
  name: "bulk",
  section: 5,
  title: "Bulk transfer over TUN, both directions, vs kernel-to-kernel",
  measures:
    "one connection sending to a kernel sink in a namespace: synack over TUN (linux profile, MTU 1500; plain writes, GSO writes merged by the addon, the stack's own TSO packets with checksum offload; the last two also on the writer thread) vs Node's net.connect to the same sink over the namespace's local route, interleaved; then the receive direction, the kernel sending to a synack listener over TUN with the receive offloads, without them and plain; MB = 10^6 bytes",
  notes: [
    "bulk: kernel-to-kernel goes over the local route (loopback, MTU 65536, checksum offload, no TUN crossing); synack crosses the TUN with 1500-byte segments (plain) or packets of up to 64 KiB (GSO, offload), and computes every checksum in JavaScript except with the offload",
    "bulk: GSO = the TUN opened with IFF_VNET_HDR and the stack's offloads off; the addon writes each run of consecutive segments of the connection in one send() as one packet of up to 64 KiB marked VIRTIO_NET_HDR_GSO_TCPV4, which the kernel takes as one large segment; the engine builds and checksums every 1500-byte segment",
    "bulk: offload = the same TUN with the offloads on (the default with vnetHdr): the stack writes each run of a connection's segments as one packet of up to 64 KiB with the pseudo-header sum in the checksum field, never summing the payload, and the addon writes it with NEEDS_CSUM and the segment size (writev, or one copy on the writer thread)",
    "bulk receive: a Node client in the namespace (the kernel's TCP) sends to a synack listener (linux profile, 4 MiB receive buffer) over TUN; the rate is synack's, from the accept to the sender's FIN; CPU per MB is this process's (every thread) and the sender's (user + system, the kernel's TCP sending included), from connect to close",
    "bulk receive: rx offload = TUNSETOFFLOAD (TUN_F_CSUM | TSO4 | TSO6): the kernel hands the TUN segments of up to 64 KiB with a partial checksum, one read(2) each, and the addon cuts them into 1500-byte segments with complete checksums before JavaScript sees them; the stack still verifies every checksum and acknowledges as it would for 1500-byte packets",
  ],
  unavailable: labSkipReason,
  async setup(): Promise<void> {
    ns = makeNamespace();
    devs = {};
    for (const [key, l] of Object.entries(LINKS) as Array<[LinkName, (typeof LINKS)[LinkName]]>) {
      devs[key] = TunDevice.open({ name: l.name, netns: ns, addresses: [`${l.kernel}/24`], maxBatch: 256, vnetHdr: l.vnetHdr, txThread: l.txThread, offload: l.offload });
    }
    for (const [key, l] of Object.entries(RX_LINKS) as Array<[RxLinkName, (typeof RX_LINKS)[RxLinkName]]>) {
      devs[key] = TunDevice.open({ name: l.name, netns: ns, addresses: [`${l.kernel}/24`], maxBatch: 256, vnetHdr: l.vnetHdr, ...(l.vnetHdr ? { rxOffload: l.rxOffload } : {}) });
    }
    sink = await startNodeInNamespace(ns, LISTENER_JS, ["0.0.0.0", String(PORT), "sink"]);
  },
  async run(quick: boolean): Promise<Metric[]> {
    const total = quick ? 2_000_000 : 64_000_000;
    const timeoutMs = quick ? 20_000 : 120_000;
    const s = await synackBulk(devs.plain!, total, timeoutMs, LINKS.plain);
    const o = await synackBulk(devs.offload!, total, timeoutMs, LINKS.offload);
    const g = await synackBulk(devs.gso!, total, timeoutMs, LINKS.gso);
    const k = await nodeBulk(ns!, total, timeoutMs);
    const gt = await synackBulk(devs.gsoThread!, total, timeoutMs, LINKS.gsoThread);
    const ot = await synackBulk(devs.offloadThread!, total, timeoutMs, LINKS.offloadThread);
    // The receive direction, interleaved: with the offloads, without, plain.
    const rxOpts = { rcvBufBytes: RX_BUF_BYTES };
    const rOn = await synackReceive(devs.rxOffload!, ns!, total, timeoutMs, RX_LINKS.rxOffload, rxOpts);
    const rOff = await synackReceive(devs.rxNoOffload!, ns!, total, timeoutMs, RX_LINKS.rxNoOffload, rxOpts);
    const rPlain = await synackReceive(devs.rxPlain!, ns!, total, timeoutMs, RX_LINKS.rxPlain, rxOpts);
    const rst = devs.rxOffload!.stats();
    const rxDropped = Object.values(rst.rxOffloadDrops ?? {}).reduce((a, b) => a + b, 0);
    if (rxDropped > 0) throw new Error(`bulk receive: the receive offload path dropped ${rxDropped} reads (${JSON.stringify(rst.rxOffloadDrops)})`);
    if ((rst.rxGsoReads ?? 0) === 0) throw new Error("bulk receive: the kernel sent no GSO packets to the TUN with the receive offloads: the run does not measure them");
    const mb = total / 1e6;
    const st = devs.gso!.stats();
    const ost = devs.offload!.stats();
    const bestGso = Math.max(g.mbPerSec, gt.mbPerSec);
    const bestOffload = Math.max(o.mbPerSec, ot.mbPerSec);
    const best = Math.max(s.mbPerSec, bestGso, bestOffload);
    return [
      { key: "synackBulkMBps", label: "synack bulk over TUN (plain writes)", unit: "MB/s", value: s.mbPerSec },
      { key: "synackGsoBulkMBps", label: "synack bulk over TUN (GSO writes)", unit: "MB/s", value: g.mbPerSec },
      { key: "synackGsoThreadBulkMBps", label: "synack bulk over TUN (GSO writes, writer thread)", unit: "MB/s", value: gt.mbPerSec },
      { key: "synackOffloadBulkMBps", label: "synack bulk over TUN (offload: the stack's TSO packets, checksum left to the device)", unit: "MB/s", value: o.mbPerSec },
      { key: "synackOffloadThreadBulkMBps", label: "synack bulk over TUN (offload, writer thread)", unit: "MB/s", value: ot.mbPerSec },
      { key: "gsoSegmentsPerWrite", label: "segments per GSO write (mean, all runs so far)", unit: "segments", value: (st.txGsoSegments ?? 0) / Math.max(1, st.txGsoWrites ?? 0) },
      { key: "offloadSegmentsPerWrite", label: "segments per TSO write with offload (mean, all runs so far)", unit: "segments", value: (ost.txGsoSegments ?? 0) / Math.max(1, ost.txGsoWrites ?? 0) },
      { key: "kernelBulkMBps", label: "kernel-to-kernel bulk (local route)", unit: "MB/s", value: k.mbPerSec },
      { key: "bulkRatio", label: "synack / kernel bulk (plain writes)", unit: "x", value: s.mbPerSec / k.mbPerSec, ratio: true },
      { key: "bulkBestRatio", label: "synack / kernel bulk (best of the five)", unit: "x", value: best / k.mbPerSec, ratio: true, target: { op: ">=", value: 0.5 } },
      { key: "gsoGain", label: "synack GSO / plain writes", unit: "x", value: g.mbPerSec / s.mbPerSec, ratio: true },
      { key: "offloadGain", label: "synack offload / GSO (best of each, with and without the writer thread)", unit: "x", value: bestOffload / bestGso, ratio: true },
      { key: "rxOffloadBulkMBps", label: "kernel to synack over TUN (receive offloads: GSO reads cut in C)", unit: "MB/s", value: rOn.mbPerSec },
      { key: "rxNoOffloadBulkMBps", label: "kernel to synack over TUN (vnetHdr, receive offloads off)", unit: "MB/s", value: rOff.mbPerSec },
      { key: "rxPlainBulkMBps", label: "kernel to synack over TUN (plain)", unit: "MB/s", value: rPlain.mbPerSec },
      { key: "rxOffloadGain", label: "kernel to synack: receive offloads on / off", unit: "x", value: rOn.mbPerSec / rOff.mbPerSec, ratio: true },
      { key: "rxBulkRatio", label: "kernel to synack (receive offloads) / kernel to kernel", unit: "x", value: rOn.mbPerSec / k.mbPerSec, ratio: true },
      { key: "rxOffloadCpuPerMB", label: "synack CPU per MB received (receive offloads)", unit: "µs", value: rOn.cpuUs / mb },
      { key: "rxNoOffloadCpuPerMB", label: "synack CPU per MB received (receive offloads off)", unit: "µs", value: rOff.cpuUs / mb },
      { key: "rxOffloadSenderCpuPerMB", label: "kernel sender CPU per MB (receive offloads)", unit: "µs", value: rOn.sent.cpuUs / mb },
      { key: "rxNoOffloadSenderCpuPerMB", label: "kernel sender CPU per MB (receive offloads off)", unit: "µs", value: rOff.sent.cpuUs / mb },
      { key: "rxSegmentsPerGsoRead", label: "segments per GSO read with the receive offloads (mean, all runs so far)", unit: "segments", value: (rst.rxGsoSegments ?? 0) / Math.max(1, rst.rxGsoReads ?? 0) },
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
