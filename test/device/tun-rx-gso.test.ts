// TUN receive offloads against the real kernel: a Node client inside a namespace this test
// creates (the kernel's TCP) sends 4 MB to a synack listener over a TUN opened with vnetHdr.
// With the receive offloads (TUNSETOFFLOAD: TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) the kernel
// hands the TUN TCP segments of up to 64 KiB with their checksum left partial; the addon cuts
// them into MSS-sized segments with complete checksums. synack must receive exactly the bytes
// sent (sha256), drop nothing, and the kernel must really have sent GSO packets (counted).
// Without them (rxOffload: false, and without vnetHdr) the same transfer arrives as 1500-byte
// packets. Root only; skipped with the reason otherwise.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createNetns, labUnavailableReason } from "../../device/netns.js";
import { namespacesRemovedAfterAll } from "../helpers/netns-cleanup.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import { tapDevice } from "../../device/tap.js";
import { TunDevice } from "../../device/tun/index.js";
import type { Device } from "../../device/types.js";
import { synackReceive } from "../../src/bench/bulk.js";

const skipReason = labUnavailableReason();
const made = namespacesRemovedAfterAll();

const TOTAL = 4_000_000;

/** `dev` as a Device whose receive handler also counts the packets it said were checksummed already. */
function counting(dev: TunDevice): { device: Device; vouched: number[] } {
  const vouched = [0, 0];
  const device = Object.create(dev) as TunDevice;
  device.onReceive = (h) =>
    dev.onReceive((packets, sums) => {
      vouched[0]! += packets.length;
      if (sums !== undefined) for (let i = 0; i < packets.length; i++) vouched[1]! += sums[i]!;
      h(packets, sums);
    });
  return { device, vouched };
}

describe.skipIf(skipReason !== undefined)(`TUN receive offloads, the kernel sending (${skipReason ?? "root"})`, () => {
  // maxBatch 4: the segments of one GSO read span many receive batches. queues 2: every
  // queue cuts its own reads. txThread: the writes go through the writer thread.
  const cases = [
    { vnetHdr: true, rxOffload: undefined, v6: false },
    { vnetHdr: true, rxOffload: undefined, v6: true },
    { vnetHdr: true, rxOffload: undefined, v6: false, maxBatch: 4 },
    { vnetHdr: true, rxOffload: undefined, v6: false, queues: 2 },
    { vnetHdr: true, rxOffload: undefined, v6: false, txThread: true },
    { vnetHdr: true, rxOffload: false, v6: false },
    { vnetHdr: false, rxOffload: undefined, v6: false },
  ];
  cases.forEach(({ vnetHdr, rxOffload, v6, maxBatch, queues, txThread }, n) => {
    const on = vnetHdr && rxOffload !== false;
    const what = `${on ? "with the receive offloads (the default with vnetHdr)" : vnetHdr ? "vnetHdr with rxOffload: false" : "without vnetHdr"}${v6 ? " over IPv6" : ""}${maxBatch ? `, maxBatch ${maxBatch}` : ""}${queues ? `, ${queues} queues` : ""}${txThread ? ", writer thread" : ""}`;
    it(`receives 4 MB intact from the kernel ${what}`, async () => {
      const ns = `synack-rxg-${process.pid}-${n}`;
      createNetns(ns);
      made.push(ns);
      const [kernel, local, cidr] = v6 ? ["fd00:74::1", "fd00:74::2", "fd00:74::1/64"] : ["10.74.0.1", "10.74.0.2", "10.74.0.1/24"];
      const dev = TunDevice.open({ name: "synr0", netns: ns, addresses: [cidr], vnetHdr, maxBatch, queues, txThread, ...(rxOffload !== undefined ? { rxOffload } : {}) });
      const dropped: string[] = [];
      dev.onDrop((reason) => dropped.push(reason));
      try {
        expect(dev.rxOffload).toBe(on);
        const { device, vouched } = counting(dev);
        const r = await synackReceive(device, ns, TOTAL, 30_000, { kernel, stack: local }, { hash: true });
        expect(r.sent.bytes).toBe(TOTAL);
        expect(r.bytes).toBe(TOTAL);
        expect(r.sha256).toBe(r.sent.sha256);
        // No segment was refused by the stack (a wrong checksum from the cutting would show
        // as "tcp checksum"), and the device dropped no read. Two drops are not about our
        // path: the kernel's IPv6 chatter on a new interface (MLD reports, router
        // solicitations), "icmpv6 not for us"; and when the kernel retransmits a segment
        // synack already has (a tail loss probe under load, TcpRetransSegs), the answer to
        // that duplicate may be rate-limited, "out-of-window ack rate-limited" (with or
        // without vnetHdr alike).
        const { ["icmpv6 not for us"]: _chatter, ["out-of-window ack rate-limited"]: _duplicate, ...drops } = r.drops;
        expect(drops).toEqual({});
        expect(dropped).toEqual([]);
        const s = dev.stats();
        if (on) {
          expect(s.rxOffloadDrops).toEqual({});
          // The kernel really sent large packets, and the addon cut them.
          expect(s.rxGsoReads).toBeGreaterThan(0);
          expect(s.rxGsoSegments!).toBeGreaterThan(2 * s.rxGsoReads!);
          // And left checksums to us (its small packets too: the handshake, the FIN), which
          // the addon computed: the stack was told so and did not sum those segments again.
          expect(s.rxCsumCompleted!).toBeGreaterThanOrEqual(s.rxGsoReads!);
          expect(vouched[1]).toBeGreaterThanOrEqual(s.rxGsoSegments!);
          expect(vouched[1]).toBeLessThanOrEqual(vouched[0]!);
        } else {
          expect(s.rxGsoReads).toBeUndefined();
          expect(vouched[1]).toBe(0); // the stack verified every checksum
        }
        // Every segment the stack got fits the link's MTU: the cutting made MSS-sized segments.
        expect(r.rxSegments).toBeGreaterThanOrEqual(Math.ceil(TOTAL / 1460));
        expect(s.rxBytes / s.rxPackets).toBeLessThanOrEqual(1500);
      } finally {
        await dev.close();
      }
    });
  });

  const tshark = spawnSync("tshark", ["--version"], { stdio: "ignore" }).status === 0;
  it.skipIf(!tshark)("a tapped TUN with the receive offloads records the segments as cut, every checksum good for tshark", async () => {
    const ns = `synack-rxg-${process.pid}-tap`;
    createNetns(ns);
    made.push(ns);
    const dev = TunDevice.open({ name: "synr1", netns: ns, addresses: ["10.75.0.1/24"], vnetHdr: true });
    const writer = new PcapngWriter();
    const dir = mkdtempSync(join(tmpdir(), "synack-rxg-"));
    try {
      expect(dev.rxOffload).toBe(true);
      const r = await synackReceive(tapDevice(dev, writer, () => performance.timeOrigin + performance.now()), ns, 1_000_000, 30_000, { kernel: "10.75.0.1", stack: "10.75.0.2" }, { hash: true });
      expect(r.sha256).toBe(r.sent.sha256);
      expect(dev.stats().rxGsoReads).toBeGreaterThan(0);
      const file = join(dir, "rx.pcapng");
      writeFileSync(file, writer.toBytes());
      const read = (filter: string): string[] =>
        execFileSync("tshark", ["-r", file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-Y", filter, "-T", "fields", "-e", "frame.len"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
          .split("\n")
          .filter((l) => l !== "");
      const fromKernel = read("ip.src == 10.75.0.1 && tcp");
      expect(fromKernel.length).toBeGreaterThan(1_000_000 / 1448);
      expect(Math.max(...fromKernel.map(Number))).toBeLessThanOrEqual(1500);
      expect(read("tcp.checksum.status == \"Bad\" || ip.checksum.status == \"Bad\"")).toEqual([]);
      expect(read("tcp.checksum.status == \"Good\" && ip.src == 10.75.0.1").length).toBe(fromKernel.length);
    } finally {
      await dev.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
