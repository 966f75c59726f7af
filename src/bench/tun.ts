// Benchmark 4b (contract §8): packets per second through the TUN device, write and read,
// 64-byte payloads, with the device's batching (writeBatch, batched reads).
//
//  - write: ICMP echo requests (64 data bytes) to an address on the TUN's subnet that no
//    one owns; the kernel, which does not forward, drops them after taking them in.
//  - read: echo requests to the kernel's own address, which answers each with an echo
//    reply that we read from the TUN. 1024 requests are kept in flight: each batch of
//    replies read is answered by as many new requests written. The rate is replies read
//    per second (each read packet also cost one write).
import { internetChecksum } from "../../stack/wire/checksum.js";
import { writeIpv4Header } from "../../stack/wire/ipv4.js";
import { ipBytes } from "../../stack/wire/addr.js";
import { TunDevice } from "../../device/tun/index.js";
import { labSkipReason, makeNamespace, removeNamespace, sleep } from "./lab.js";
import type { Benchmark, Metric } from "./types.js";

const KERNEL = "10.78.0.1";
const STACK = "10.78.0.2";
const NOBODY = "10.78.0.99";
const PAYLOAD = 64;

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

async function measureRead(ms: number): Promise<{ perSec: number; meanBatch: number }> {
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
    "64-byte-payload ICMP echo packets through the TUN addon in a namespace: writes the kernel drops, and echo replies read (1024 requests in flight, each reply answered by a new request)",
  notes: ["tun: write = packets the kernel took per second (writeBatch of 256); read = echo replies read per second, batched reads (maxBatch 256)"],
  unavailable: labSkipReason,
  async setup(): Promise<void> {
    ns = makeNamespace();
    dev = TunDevice.open({ name: "sbtun0", netns: ns, addresses: [`${KERNEL}/24`], maxBatch: 256 });
  },
  async run(quick: boolean): Promise<Metric[]> {
    const ms = quick ? 200 : 1000;
    const w = await measureWrite(ms);
    const r = await measureRead(ms);
    return [
      { key: "tunWritePps", label: "TUN write, packets/s", unit: "1/s", value: w, target: { op: ">=", value: 300_000 } },
      { key: "tunReadPps", label: "TUN read (echo replies), packets/s", unit: "1/s", value: r.perSec, target: { op: ">=", value: 300_000 } },
      { key: "tunReadBatch", label: "TUN mean read batch", unit: "packets", value: r.meanBatch },
    ];
  },
  async teardown(): Promise<void> {
    await dev?.close();
    dev = undefined;
    removeNamespace(ns);
    ns = undefined;
  },
};
