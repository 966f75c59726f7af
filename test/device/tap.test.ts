// tapDevice (device/tap.ts): a device wrapper that writes every packet in and out to a
// pcapng with its time, direction and the stack's decision as the packet comment.

import { describe, expect, it } from "vitest";
import { MemoryLink } from "../../device/memory.js";
import { tapDevice } from "../../device/tap.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import { readCapture } from "../../device/pcap/read.js";
import { ipv4Packet } from "../pcap/helpers.js";

describe("tapDevice", () => {
  it("records in and out packets with time, direction and trace comment, copying rx buffers", () => {
    const link = new MemoryLink({ seed: 1, delayMs: 2 });
    const writer = new PcapngWriter();
    // Virtual clock in ms (number) -> the tap converts to ns.
    const tapped = tapDevice(link.a, writer, () => 1_700_000_000_000 + link.nowMs, (p, dir) => `${dir} id=${(p[4]! << 8) | p[5]!}`);
    const received: number[] = [];
    tapped.onReceive((pkts) => {
      for (const p of pkts) {
        received.push((p[4]! << 8) | p[5]!);
        p.fill(0); // a device would reuse this buffer
      }
    });
    link.b.onReceive((pkts) => link.b.send(pkts.map((p) => ipv4Packet(((p[4]! << 8) | p[5]!) + 100))));
    expect(tapped.name).toBe("mem-a");
    expect(tapped.mtu).toBe(1500);

    link.advance(1);
    tapped.send([ipv4Packet(1), ipv4Packet(2)]);
    link.advance(10);
    expect(received).toEqual([101, 102]);

    const r = readCapture(writer.toBytes());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const recs = r.value.records;
    expect(recs.map((x) => x.direction)).toEqual(["out", "out", "in", "in"]);
    expect(recs.map((x) => x.comment)).toEqual(["out id=1", "out id=2", "in id=101", "in id=102"]);
    // out at 1 ms, back at 1 + 2 + 2 = 5 ms
    expect(recs.map((x) => x.timeNs)).toEqual([1_700_000_000_001n, 1_700_000_000_001n, 1_700_000_000_005n, 1_700_000_000_005n].map((t) => t * 1_000_000n));
    // recorded before the handler zeroed the buffers
    expect(recs[2]!.ip).toEqual(ipv4Packet(101));
    expect(tapped.stats()).toEqual(link.a.stats());
  });

  it("accepts a bigint nanosecond clock and works without a trace", () => {
    const link = new MemoryLink({ seed: 1 });
    const writer = new PcapngWriter();
    const tapped = tapDevice(link.a, writer, () => 123_456_789_012_345_678n);
    tapped.send([ipv4Packet(1)]);
    const r = readCapture(writer.toBytes());
    expect(r.ok && r.value.records.map((x) => [x.timeNs, x.comment])).toEqual([[123_456_789_012_345_678n, undefined]]);
  });
});
