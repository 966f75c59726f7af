// TUN device against the real kernel, inside throwaway network namespaces.
// The kernel side of the TUN has 10.77.0.1/24 and fd00:77::1/64; the test plays
// 10.77.0.2 / fd00:77::2 by writing hand-built packets into the TUN.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createNetns,
  currentNetnsId,
  deleteNetns,
  ip,
  labUnavailableReason,
  netnsExec,
  netnsExecAsync,
  netnsExists,
  netnsSpawn,
  withNetns,
} from "../../device/netns.js";
import { AddonMissingError, TunDevice } from "../../device/tun/index.js";
import { loadAddonFrom } from "../../device/tun/native.js";
import { icmp4Echo, icmp6Echo, ip6Full, parseIp, rd16, rd32, tcpSyn } from "./tun-packets.js";

const skipReason = labUnavailableReason();
const lab = skipReason === undefined;
if (!lab) console.warn(`test/device/tun.test.ts: lab tests skipped: ${skipReason}`);

let nsCounter = 0;
const madeNamespaces: string[] = [];
function newNamespace(): string {
  const name = `synack-t-${process.pid}-${nsCounter++}`;
  createNetns(name);
  madeNamespaces.push(name);
  return name;
}

const KERNEL4 = "10.77.0.1";
const STACK4 = "10.77.0.2";
const KERNEL6 = "fd00:77::1";
const STACK6 = "fd00:77::2";

/** Collects copies of every received packet, and counts receive callbacks. */
class Inbox {
  packets: Uint8Array[] = [];
  callbacks = 0;
  attach(dev: TunDevice): void {
    dev.onReceive((batch) => {
      this.callbacks++;
      // The views are only valid during the callback: copy.
      for (const p of batch) this.packets.push(p.slice());
    });
  }
  matching(pred: (p: Uint8Array) => boolean): Uint8Array[] {
    return this.packets.filter(pred);
  }
  async waitFor(pred: (p: Uint8Array) => boolean, count = 1, timeoutMs = 3000): Promise<Uint8Array[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.matching(pred);
      if (got.length >= count || Date.now() > deadline) return got;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function isEchoReply4(ident: number, seq?: number) {
  return (p: Uint8Array): boolean => {
    const ipp = parseIp(p);
    if (!ipp || ipp.version !== 4 || ipp.protocol !== 1) return false;
    const m = ipp.payload;
    return m[0] === 0 && rd16(m, 4) === ident && (seq === undefined || rd16(m, 6) === seq);
  };
}

function isTcpFrom(srcPort: number, dstPort: number, version: 4 | 6 = 4) {
  return (p: Uint8Array): boolean => {
    const ipp = parseIp(p);
    if (!ipp || ipp.version !== version || ipp.protocol !== 6) return false;
    return rd16(ipp.payload, 0) === srcPort && rd16(ipp.payload, 2) === dstPort;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(() => {
  for (const ns of madeNamespaces) {
    try {
      deleteNetns(ns);
    } catch {
      // best effort: report nothing, the next run uses other names
    }
  }
});

describe("TUN open options: switches must be booleans", () => {
  // Checked before the addon is loaded or anything is opened: no privileges needed.
  for (const key of ["up", "persist", "multiQueue", "txThread", "vnetHdr", "rxOffload", "offload"] as const) {
    it(`${key}: "yes" is refused with one line`, () => {
      let err: (Error & { code?: string }) | undefined;
      try {
        TunDevice.open({ name: "synbool0", netns: "synack-test-absent-ns", vnetHdr: key === "vnetHdr" ? undefined : true, [key]: "yes" as unknown as boolean });
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code).toBe("EINVAL");
      expect(err?.message).toBe(`${key} must be true or false`);
    });
  }
});

describe("addon loader", () => {
  it("explains how to build the addon when it is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "synack-noaddon-"));
    const saved = process.env["SYNACK_TUN_ADDON"];
    delete process.env["SYNACK_TUN_ADDON"];
    try {
      writeFileSync(join(dir, "package.json"), "{}");
      expect(() => loadAddonFrom(join(dir))).toThrow(AddonMissingError);
      expect(() => loadAddonFrom(join(dir))).toThrow(/npm install/);
    } finally {
      if (saved !== undefined) process.env["SYNACK_TUN_ADDON"] = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!lab)(`TUN device in a namespace (${skipReason ?? "root"})`, () => {
  let ns = "";
  let dev: TunDevice;
  const inbox = new Inbox();
  const errors: Error[] = [];

  beforeAll(() => {
    ns = newNamespace();
    dev = TunDevice.open({
      name: "synt0",
      netns: ns,
      mtu: 1500,
      up: true,
      addresses: [`${KERNEL4}/24`, `${KERNEL6}/64`],
    });
    inbox.attach(dev);
    dev.onError((e) => errors.push(e));
  });

  afterAll(async () => {
    await dev?.close();
  });

  it("is configured in its namespace: up, MTU 1500, kernel-side addresses", () => {
    expect(dev.name).toBe("synt0");
    expect(dev.mtu).toBe(1500);
    expect(dev.isUp()).toBe(true);
    const link = ip(["-o", "link", "show", "synt0"], ns);
    expect(link).toMatch(/mtu 1500/);
    const addrs = ip(["-o", "addr", "show", "dev", "synt0"], ns);
    expect(addrs).toContain(`${KERNEL4}/24`);
    expect(addrs).toContain(`${KERNEL6}/64`);
    // Not in the host's namespace.
    expect(() => ip(["link", "show", "synt0"])).toThrow();
  });

  it("delivers the kernel's ICMP echo reply to an injected echo request", async () => {
    dev.send([icmp4Echo(STACK4, KERNEL4, 0x1234, 1, new TextEncoder().encode("synack!!"))]);
    const replies = await inbox.waitFor(isEchoReply4(0x1234, 1));
    expect(replies).toHaveLength(1);
    const r = parseIp(replies[0]!)!;
    expect(r.src).toBe(KERNEL4);
    expect(r.dst).toBe(STACK4);
    expect(new TextDecoder().decode(r.payload.subarray(8))).toBe("synack!!");
    expect(errors).toHaveLength(0);
  });

  it("delivers an ICMPv6 echo reply (IPv6 address, no DAD wait)", async () => {
    dev.send([icmp6Echo(STACK6, KERNEL6, 0x4321, 7)]);
    const replies = await inbox.waitFor((p) => {
      const ipp = parseIp(p);
      return ipp?.version === 6 && ipp.protocol === 58 && ipp.payload[0] === 129 && rd16(ipp.payload, 4) === 0x4321;
    });
    expect(replies).toHaveLength(1);
    const r = parseIp(replies[0]!)!;
    expect(r.src).toBe(ip6Full(KERNEL6));
    expect(r.dst).toBe(ip6Full(STACK6));
    expect(rd16(r.payload, 6)).toBe(7);
  });

  it("gets a RST|ACK for a SYN to a closed port (RFC 9293 §3.10.7.1)", async () => {
    const iss = 0xfffffff0; // near the wrap: ack must be iss+1 mod 2^32
    dev.send([tcpSyn(STACK4, KERNEL4, 40001, 9, iss)]);
    const [rst] = await inbox.waitFor(isTcpFrom(9, 40001));
    expect(rst).toBeDefined();
    const tcp = parseIp(rst!)!.payload;
    expect(tcp[13]! & 0x3f).toBe(0x14); // RST|ACK
    expect(rd32(tcp, 8)).toBe((iss + 1) >>> 0);
  });

  it("gets a RST|ACK over IPv6 too", async () => {
    dev.send([tcpSyn(STACK6, KERNEL6, 40002, 9, 1000)]);
    const [rst] = await inbox.waitFor(isTcpFrom(9, 40002, 6));
    expect(rst).toBeDefined();
    expect(parseIp(rst!)!.payload[13]! & 0x3f).toBe(0x14);
  });

  it("gets a SYN|ACK from a kernel listener run with ip netns exec", async () => {
    const port = 8081;
    const script =
      `const s=require("net").createServer(c=>c.destroy());` +
      `s.listen(${port},"${KERNEL4}",()=>console.log("ready"));` +
      `process.stdin.on("end",()=>process.exit(0));process.stdin.resume();`;
    const child = netnsSpawn(ns, process.execPath, ["-e", script]);
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        let err = "";
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("ready")) resolve();
        });
        child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
        child.on("exit", (code) => reject(new Error(`listener exited ${code}: ${err}`)));
        setTimeout(() => reject(new Error(`listener not ready: ${err}`)), 10_000);
      });
      dev.send([tcpSyn(STACK4, KERNEL4, 40003, port, 5000)]);
      const [synAck] = await inbox.waitFor(isTcpFrom(port, 40003));
      expect(synAck).toBeDefined();
      const tcp = parseIp(synAck!)!.payload;
      expect(tcp[13]! & 0x3f).toBe(0x12); // SYN|ACK
      expect(rd32(tcp, 8)).toBe(5001);
    } finally {
      child.stdin!.end();
      child.kill();
    }
  });

  it("withNetns makes a Node listener inside the namespace from this process", async () => {
    const port = 8082;
    const server = net.createServer((c) => c.destroy());
    const hostNs = currentNetnsId();
    const inside = withNetns(ns, () => {
      // listen(port) without a host binds synchronously, inside the namespace.
      server.listen(port);
      return currentNetnsId();
    });
    try {
      expect(inside).not.toBe(hostNs);
      expect(currentNetnsId()).toBe(hostNs);
      expect(inside).toBe(netnsExec(ns, "readlink", ["/proc/self/ns/net"]).trim());
      dev.send([tcpSyn(STACK6, KERNEL6, 40004, port, 77)]);
      const [synAck] = await inbox.waitFor(isTcpFrom(port, 40004, 6));
      expect(synAck).toBeDefined();
      expect(parseIp(synAck!)!.payload[13]! & 0x3f).toBe(0x12);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("withNetns returns to the original namespace when fn throws, and rejects unknown names", () => {
    const hostNs = currentNetnsId();
    expect(() =>
      withNetns(ns, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(currentNetnsId()).toBe(hostNs);
    let err: (Error & { code?: string }) | undefined;
    try {
      withNetns(`synack-missing-${process.pid}`, () => 1);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe("ENOENT");
    expect(err?.message).toMatch(/does not exist/);
    expect(currentNetnsId()).toBe(hostNs);
  });

  it("batches receives: 200 echo requests, all replies, fewer callbacks than packets", async () => {
    const ident = 0x7777;
    const requests = Array.from({ length: 200 }, (_, i) => icmp4Echo(STACK4, KERNEL4, ident, i));
    const before = inbox.callbacks;
    const statsBefore = dev.stats();
    dev.send(requests);
    const replies = await inbox.waitFor(isEchoReply4(ident), 200, 5000);
    const callbacks = inbox.callbacks - before;
    expect(replies).toHaveLength(200);
    const seqs = new Set(replies.map((p) => rd16(parseIp(p)!.payload, 6)));
    expect(seqs.size).toBe(200);
    expect(callbacks).toBeLessThanOrEqual(200);
    // The kernel answers inside each write(2), so the replies are queued before we
    // read: one readable event drains up to 64 of them.
    expect(callbacks).toBeLessThan(200);
    const s = dev.stats();
    expect(s.txPackets - statsBefore.txPackets).toBe(200);
    expect(s.rxPackets - statsBefore.rxPackets).toBeGreaterThanOrEqual(200);
    expect(s.rxBatches - statsBefore.rxBatches).toBe(callbacks);
    expect(s.txErrors).toBe(0);
  });

  it("changes the MTU through the ioctl socket in the namespace", () => {
    dev.setMtu(1400);
    try {
      expect(dev.mtu).toBe(1400);
      expect(ip(["-o", "link", "show", "synt0"], ns)).toMatch(/mtu 1400/);
    } finally {
      dev.setMtu(1500);
    }
    expect(dev.mtu).toBe(1500);
  });

  it("refuses a second non-multiqueue open of the same interface with EBUSY", () => {
    let err: (Error & { code?: string }) | undefined;
    try {
      TunDevice.open({ name: "synt0", netns: ns });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe("EBUSY");
    expect(err?.message).toMatch(/synt0.*busy/);
  });

  it("refuses to attach to an interface that is not a TUN device", () => {
    let err: (Error & { code?: string }) | undefined;
    try {
      TunDevice.open({ name: "lo", netns: ns });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe("EINVAL");
    expect(err?.message).toMatch(/not a TUN device/);
  });
});

describe.skipIf(!lab)(`TUN writes: one call per batch, and the writer thread (${skipReason ?? "root"})`, () => {
  it("writes a batch of different sizes in one writePacked call, in order, and checks its arguments", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt5", netns: ns, up: true, addresses: ["10.76.0.1/24"] });
    const inbox = new Inbox();
    inbox.attach(d);
    try {
      const requests = Array.from({ length: 50 }, (_, i) => icmp4Echo("10.76.0.2", "10.76.0.1", 0x5151, i, new Uint8Array(8 + i * 20).fill(i)));
      d.send(requests);
      const replies = await inbox.waitFor(isEchoReply4(0x5151), 50, 5000);
      expect(replies.map((p) => rd16(parseIp(p)!.payload, 6))).toEqual(requests.map((_, i) => i));
      expect(d.stats()).toMatchObject({ txPackets: 50, txErrors: 0 });
      const h = (d as unknown as { handle: import("../../device/tun/native.js").NativeTun }).handle;
      expect(() => h.writePacked(new Uint8Array(10), Int32Array.of(8, 8), 2)).toThrow("writePacked: the lengths add up to more than data holds");
      expect(() => h.writePacked(new Uint8Array(10), Int32Array.of(8), 2)).toThrow("writePacked: count must be between 0 and lengths.length");
      expect(() => h.writePacked(new Uint8Array(10), Int32Array.of(-1), 1)).toThrow("writePacked: negative length");
      expect(() => h.writePacked(new Uint8Array(10), new Uint32Array(1) as unknown as Int32Array, 1)).toThrow("writePacked: lengths must be an Int32Array");
    } finally {
      await d.close();
    }
  });

  it("with txThread, queues the batch and writes it on its own thread: same packets, same order, counted", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt6", netns: ns, up: true, addresses: ["10.75.0.1/24"], txThread: true });
    expect(d.txThread).toBe(true);
    const inbox = new Inbox();
    inbox.attach(d);
    try {
      for (let round = 0; round < 4; round++) {
        d.send(Array.from({ length: 100 }, (_, i) => icmp4Echo("10.75.0.2", "10.75.0.1", 0x6161, round * 100 + i)));
      }
      const replies = await inbox.waitFor(isEchoReply4(0x6161), 400, 5000);
      expect(replies.map((p) => rd16(parseIp(p)!.payload, 6))).toEqual(Array.from({ length: 400 }, (_, i) => i));
      expect(d.stats()).toMatchObject({ txPackets: 400, txErrors: 0 });
    } finally {
      await d.close();
    }
    // After close nothing is queued: each packet counts as an error at once.
    d.send([icmp4Echo("10.75.0.2", "10.75.0.1", 1, 1), icmp4Echo("10.75.0.2", "10.75.0.1", 1, 2)]);
    expect(d.stats()).toMatchObject({ txPackets: 400, txErrors: 2, lastTxError: "EBADF" });
  });

  it("with txThread, what the kernel answers while the writer works is all read, in order", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt8", netns: ns, up: true, addresses: ["10.73.0.1/24"], txThread: true });
    const inbox = new Inbox();
    inbox.attach(d);
    try {
      // One batch of 400: the kernel answers each request inside the writer's write(2),
      // while the loop thread reads; no reply is lost or left unread when the writer is done.
      d.send(Array.from({ length: 400 }, (_, i) => icmp4Echo("10.73.0.2", "10.73.0.1", 0x6262, i)));
      const replies = await inbox.waitFor(isEchoReply4(0x6262), 400, 5000);
      expect(replies.map((p) => rd16(parseIp(p)!.payload, 6))).toEqual(Array.from({ length: 400 }, (_, i) => i));
      expect(d.stats()).toMatchObject({ txPackets: 400, txErrors: 0, rxDropped: 0 });
    } finally {
      await d.close();
    }
  });

  it("with txThread, a packet the kernel sends on its own while the writer is idle is read too", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt9", netns: ns, up: true, addresses: ["10.72.0.1/24"], txThread: true });
    const inbox = new Inbox();
    inbox.attach(d);
    // A datagram from a process in the namespace to 10.72.0.2 leaves through the TUN when
    // that process sends it, not as an answer to one of our writes.
    const udpFromKernel = (n: number) =>
      netnsExecAsync(ns, process.execPath, ["-e", `const s = require("node:dgram").createSocket("udp4"); s.send(Buffer.from([${n}]), 9999, "10.72.0.2", () => s.close());`]);
    const isUdp = (n: number) => (p: Uint8Array) => p[9] === 17 && p.length >= 29 && p[28] === n;
    try {
      for (let round = 0; round < 3; round++) {
        d.send(Array.from({ length: 50 }, (_, i) => icmp4Echo("10.72.0.2", "10.72.0.1", 0x6363, round * 50 + i)));
        expect(await inbox.waitFor(isEchoReply4(0x6363), 50 * (round + 1), 5000)).toHaveLength(50 * (round + 1));
        // The writer is idle now: a packet the kernel sends on its own must still be read.
        await udpFromKernel(round);
        expect(await inbox.waitFor(isUdp(round), 1, 5000)).toHaveLength(1);
      }
    } finally {
      await d.close();
    }
  });

  it("with txThread, close() writes what was queued before it returns", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt7", netns: ns, up: true, addresses: ["10.74.0.1/24"], txThread: true });
    const batch = Array.from({ length: 2000 }, (_, i) => icmp4Echo("10.74.0.2", "10.74.0.99", 0x7171, i));
    d.send(batch);
    await d.close();
    expect(d.stats().txPackets + d.stats().txErrors).toBe(2000);
  });
});

describe.skipIf(!lab)(`TUN device errors and lifetime (${skipReason ?? "root"})`, () => {
  it("opening in a namespace that does not exist gives a clear error", () => {
    let err: (Error & { code?: string; syscall?: string }) | undefined;
    const hostNs = currentNetnsId();
    try {
      TunDevice.open({ name: "synt1", netns: `synack-nope-${process.pid}` });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe("ENOENT");
    expect(err?.message).toMatch(/network namespace 'synack-nope-\d+' does not exist.*ip netns add/);
    expect(currentNetnsId()).toBe(hostNs);
  });

  it("rejects an interface name longer than IFNAMSIZ-1", () => {
    expect(() => TunDevice.open({ name: "a-name-that-is-too-long" })).toThrow(/too long/);
  });

  it("send after close does not crash and counts tx errors; close twice is harmless", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt2", netns: ns, up: true, addresses: ["10.78.0.1/24"] });
    await d.close();
    expect(d.closed).toBe(true);
    expect(() => d.send([icmp4Echo("10.78.0.2", "10.78.0.1", 1, 1)])).not.toThrow();
    expect(() => d.send([icmp4Echo("10.78.0.2", "10.78.0.1", 1, 2), icmp4Echo("10.78.0.2", "10.78.0.1", 1, 3)])).not.toThrow();
    expect(d.stats().txErrors).toBe(3);
    expect(d.stats().lastTxError).toBe("EBADF");
    await d.close();
    // A non-persistent interface goes away with its fd.
    expect(() => ip(["link", "show", "synt2"], ns)).toThrow();
  });

  it("reports onError once when the interface is deleted under it", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt3", netns: ns, up: true, addresses: ["10.79.0.1/24"] });
    const errors: (Error & { code?: string })[] = [];
    d.onError((e) => errors.push(e));
    ip(["link", "del", "synt3"], ns);
    const deadline = Date.now() + 3000;
    while (errors.length === 0 && Date.now() < deadline) await sleep(10);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/synt3.*failed/);
    expect(errors[0]!.code).toMatch(/^E[A-Z]+$/);
    await sleep(50);
    expect(errors).toHaveLength(1);
    expect(() => d.send([icmp4Echo("10.79.0.2", "10.79.0.1", 1, 1)])).not.toThrow();
    await d.close();
    await d.close();
  });

  it("keeps working when the namespace's name is deleted under it, and closes cleanly", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "synt4", netns: ns, up: true, addresses: ["10.80.0.1/24"] });
    const inbox = new Inbox();
    inbox.attach(d);
    const errors: Error[] = [];
    d.onError((e) => errors.push(e));
    deleteNetns(ns);
    expect(netnsExists(ns)).toBe(false);
    // The namespace lives on while our fd holds it: the kernel still answers.
    d.send([icmp4Echo("10.80.0.2", "10.80.0.1", 0x99, 1)]);
    const replies = await inbox.waitFor(isEchoReply4(0x99, 1));
    expect(replies).toHaveLength(1);
    await d.close();
    expect(errors).toHaveLength(0);
  });

  it("persist keeps the interface after close; re-open attaches to it", async () => {
    const ns = newNamespace();
    const d1 = TunDevice.open({ name: "synt5", netns: ns, persist: true, mtu: 1400 });
    await d1.close();
    expect(ip(["-o", "link", "show", "synt5"], ns)).toMatch(/mtu 1400/);
    const d2 = TunDevice.open({ name: "synt5", netns: ns });
    expect(d2.mtu).toBe(1400);
    d2.setPersist(false);
    await d2.close();
    expect(() => ip(["link", "show", "synt5"], ns)).toThrow();
  });

  it("lets the kernel pick the name with tun%d", async () => {
    const ns = newNamespace();
    const d = TunDevice.open({ name: "tun%d", netns: ns });
    try {
      expect(d.name).toMatch(/^tun\d+$/);
      expect(ip(["-o", "link", "show", d.name], ns)).toContain(d.name);
    } finally {
      await d.close();
    }
  });
});
