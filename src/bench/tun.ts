// Benchmark 4b (BENCHMARKS.md): packets per second through the TUN device, write and read,
// 64-byte payloads, with the device's batching (writeBatch, batched reads).
//
//  - write: ICMP echo requests (64 data bytes) to an address on the TUN's subnet that no
//    one owns; the kernel, which does not forward, drops them after taking them in.
//  - read: the read path alone. 8192 echo requests to the kernel's own address are written
//    in one go, without returning to the event loop, so nothing is read meanwhile: the
//    kernel answers each inside the write call (its ICMP work is done by then) and queues
//    the replies on the TUN (txqueuelen raised to hold them all). The clock then runs
//    from the end of the writes to the last reply read: read(2) calls, the addon's
//    batches and the JavaScript callback with its packet views, nothing else.
//  - echo round trip: 1024 requests kept in flight, each batch of replies read answered
//    by as many new requests. Each packet read also costs one write and the kernel's ICMP
//    processing on the same 2 cores, so this is a round trip, not a read rate (it is
//    what BENCHMARKS.md reported as "TUN read" before the second optimisation pass).
import { internetChecksum } from "../../stack/wire/checksum.js";
import { writeIpv4Header } from "../../stack/wire/ipv4.js";
import { ipBytes } from "../../stack/wire/addr.js";
import { TunDevice } from "../../device/tun/index.js";
import { ip } from "../../device/netns.js";
import { labSkipReason, makeNamespace, removeNamespace, sleep } from "./lab.js";
import type { Benchmark, Metric } from "./types.js";

const KERNEL = "10.78.0.1";
const STACK = "10.78.0.2";
const NOBODY = "10.78.0.99";
const PAYLOAD = 64;
/** Replies queued per read measurement; the TUN's queue is made long enough to hold them. */
const DRAIN_PACKETS = 8192;

/** An IPv4 ICMP echo request from STACK with a 64-byte payload. */
export function echoRequest(dst: string, id: number, seq: number): Uint8Array {
  const icmpLen = 8 + PAYLOAD;
  const p = new Uint8Array(20 + icmpLen);
  writeIpv4Header(p, 0, { src: ipBytes(STACK), dst: ipBytes(dst), protocol: 1, ttl: 64 }, icmpLen);
  p[20] = 8; // echo request (RFC 792)
  p[24] = id >> 8;
  p[25] = id & 0xff;
  p[26] = seq >> 8;
  p[27] = seq & 0xff;
  for (let i = 0; i < PAYLOAD; i++) p[28 + i] = i;
  const c = internetChecksum(p, 20, p.length);
  p[22] = c >> 8;
  p[23] = c & 0xff;
  return p;
}

let ns: string | undefined;
let dev: TunDevice | undefined;

async function measureWrite(ms: number): Promise<number> {
  const d = dev!;
  const batch: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) batch.push(echoRequest(NOBODY, 1, i));
  const s0 = d.stats();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let k = 0; k < 16; k++) d.send(batch);
    t = performance.now();
  }
  const s1 = d.stats();
  const ok = s1.txPackets - s0.txPackets;
  return (ok / (t - t0)) * 1000;
}

/**
 * Reads/s of the TUN read path alone: DRAIN_PACKETS echo replies are queued by the kernel
 * first (see the top of this file), then timed from the first moment they can be read to
 * the last one read. Repeated for `ms`; the rate is total replies / total drain time.
 */
async function measureDrain(ms: number): Promise<{ perSec: number; meanBatch: number }> {
  const d = dev!;
  const reqs: Uint8Array[][] = [];
  for (let i = 0; i < DRAIN_PACKETS; i += 256) {
    const b: Uint8Array[] = [];
    for (let k = 0; k < 256; k++) b.push(echoRequest(KERNEL, 3, i + k));
    reqs.push(b);
  }
  let replies = 0;
  let lastRead = 0;
  d.onReceive((packets) => {
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i];
      if (p.length >= 28 && p[9] === 1 && p[20] === 0) replies++;
    }
    lastRead = performance.now();
  });
  await sleep(20);
  let totalReplies = 0;
  let totalMs = 0;
  let batches = 0;
  let packets = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    replies = 0;
    const sent0 = d.stats().txPackets;
    for (const b of reqs) d.send(b);
    const t0 = performance.now();
    const s0 = d.stats();
    const expected = s0.txPackets - sent0;
    // Let the loop read; give up on a round after 2 s (replies lost: counted as read so far).
    while (replies < expected && performance.now() - t0 < 2000) await new Promise((r) => setImmediate(r));
    const s1 = d.stats();
    if (replies > 0) {
      totalReplies += replies;
      totalMs += lastRead - t0;
    }
    batches += s1.rxBatches - s0.rxBatches;
    packets += s1.rxPackets - s0.rxPackets;
  }
  d.onReceive(() => {});
  return { perSec: totalMs > 0 ? (totalReplies / totalMs) * 1000 : 0, meanBatch: batches > 0 ? packets / batches : 0 };
}

async function measureEcho(ms: number): Promise<{ perSec: number; meanBatch: number }> {
  const d = dev!;
  const reqs: Uint8Array[] = [];
  for (let i = 0; i < 4096; i++) reqs.push(echoRequest(KERNEL, 2, i));
  let replies = 0;
  let next = 0;
  let stop = false;
  const out: Uint8Array[] = [];
  d.onReceive((packets) => {
    let n = 0;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i];
      if (p.length >= 28 && p[9] === 1 && p[20] === 0) n++; // echo reply
    }
    replies += n;
    if (stop) return;
    out.length = 0;
    for (let i = 0; i < n; i++) out.push(reqs[next++ & 4095]);
    if (out.length > 0) d.send(out);
  });
  await sleep(20);
  const s0 = d.stats();
  const r0 = replies;
  const t0 = performance.now();
  const first: Uint8Array[] = [];
  for (let i = 0; i < 1024; i++) first.push(reqs[next++ & 4095]);
  d.send(first);
  await sleep(ms);
  const t1 = performance.now();
  const got = replies - r0;
  const s1 = d.stats();
  stop = true;
  await sleep(50);
  d.onReceive(() => {});
  const batches = s1.rxBatches - s0.rxBatches;
  return { perSec: (got / (t1 - t0)) * 1000, meanBatch: batches > 0 ? (s1.rxPackets - s0.rxPackets) / batches : 0 };
}

export const tunPackets: Benchmark = {
  name: "tun",
  section: 4,
  title: "TUN device packets/s",
  measures:
    "64-byte-payload ICMP echo packets through the TUN addon in a namespace: writes the kernel drops; reads of 8192 echo replies the kernel queued beforehand; and echo round trips (1024 requests in flight, each reply answered by a new request)",
  notes: [
    "tun: write = packets the kernel took per second (writeBatch of 256)",
    `tun: read = queued echo replies read per second (${DRAIN_PACKETS} per round, timed from the end of the writes to the last read; the kernel's ICMP work is done before the clock starts), batched reads (maxBatch 256)`,
    "tun: echo round trip = replies read per second with 1024 requests in flight; each also costs a write and the kernel's ICMP work on the same 2 cores (no target)",
  ],
  unavailable: labSkipReason,
  async setup(): Promise<void> {
    ns = makeNamespace();
    dev = TunDevice.open({ name: "sbtun0", netns: ns, addresses: [`${KERNEL}/24`], maxBatch: 256 });
    // Room for DRAIN_PACKETS replies in the TUN's queue (tun.c sizes its ring by txqueuelen).
    ip(["link", "set", "dev", dev.name, "txqueuelen", String(2 * DRAIN_PACKETS)], ns);
  },
  async run(quick: boolean): Promise<Metric[]> {
    const ms = quick ? 200 : 1000;
    const w = await measureWrite(ms);
    const r = await measureDrain(ms);
    const e = await measureEcho(ms);
    return [
      { key: "tunWritePps", label: "TUN write, packets/s", unit: "1/s", value: w, target: { op: ">=", value: 300_000 } },
      { key: "tunReadPps", label: "TUN read (queued replies), packets/s", unit: "1/s", value: r.perSec, target: { op: ">=", value: 300_000 } },
      { key: "tunReadBatch", label: "TUN mean read batch", unit: "packets", value: r.meanBatch },
      { key: "tunEchoPps", label: "TUN echo round trips (read + write + kernel ICMP), /s", unit: "1/s", value: e.perSec },
      { key: "tunEchoBatch", label: "TUN mean read batch, echo", unit: "packets", value: e.meanBatch },
    ];
  },
  async teardown(): Promise<void> {
    await dev?.close();
    dev = undefined;
    removeNamespace(ns);
    ns = undefined;
  },
};
