// Drop accounting: every discarded packet or segment is counted under a fixed reason code
// (stack/drops.ts) and traced with a sentence; the code, not the sentence, is the statistic.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { DROP_REASONS } from "../../stack/drops.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { internetChecksum } from "../../stack/wire/checksum.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { seqAdd } from "../../stack/tcp/seq.js";
import { Lab } from "../../src/lab/lab.js";
import { Stack } from "../../stack/stack.js";
import { Runtime } from "../../device/runtime.js";
import { cryptoRandom } from "../../device/random.js";
import { borrowDevice } from "../../device/borrow.js";
import type { Device } from "../../device/types.js";
import type { TraceEvent } from "../../stack/trace.js";
import { seededRandom } from "../../stack/random.js";

function established(): ReturnType<Harness["connect"]> {
  const h = new Harness({ profile: "windows" });
  const conn = h.connect("10.0.0.1:80");
  const [syn] = h.take();
  conn.peer({ flags: TCP_SYN | TCP_ACK, seq: 1000, ack: seqAdd(syn!.tcp.seq, 1), window: 65535, options: [{ kind: "mss", value: 1460 }] });
  h.take();
  return conn;
}

describe("drop reasons are codes, counted apart from the trace text", () => {
  it("a connection's drop is counted under its code; the trace carries the code and a sentence", () => {
    const conn = established();
    const h = conn.h;
    conn.peer({ flags: TCP_RST, seq: seqAdd(conn.c.rcvNxt, 0x40000000) });
    expect(h.stack.stats.drops).toEqual({ "rst out of window": 1 });
    const ev = h.trace.filter((e) => e.kind === "drop");
    expect(ev.map((e) => [e.reason, e.decision])).toEqual([["rst out of window", "RST out of window: drop"]]);
  });

  it("drops decided by a connection (RST out of window, no ACK bit) are counted in stats.drops and rxDropped, one trace each (found by the Stack.input fuzzer)", () => {
    const conn = established();
    const h = conn.h;
    const dropped0 = h.stack.stats.rxDropped;
    conn.peer({ flags: TCP_RST, seq: seqAdd(conn.c.rcvNxt, 0x40000000) });
    conn.peer({ flags: 0, seq: conn.c.rcvNxt });
    expect(h.stack.stats.drops["rst out of window"]).toBe(1);
    expect(h.stack.stats.drops["no ack bit"]).toBe(1);
    expect(h.stack.stats.rxDropped).toBe(dropped0 + 2);
    const traced = h.trace.filter((e) => e.kind === "drop").length;
    expect(traced).toBe(h.stack.stats.rxDropped);
  });

  it("a protocol the stack does not handle is one code, whatever the protocol number (the number is in the trace)", () => {
    const h = new Harness();
    for (const proto of [17, 132]) {
      const b = buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_SYN, window: 0 });
      b[9] = proto; // IPv4 protocol field
      b[10] = 0;
      b[11] = 0;
      const c = internetChecksum(b, 0, 20);
      b[10] = c >> 8;
      b[11] = c & 0xff;
      h.inputBytes(b);
    }
    expect(h.stack.stats.drops).toEqual({ "protocol not handled": 2 });
    expect(h.trace.filter((e) => e.kind === "drop").map((e) => e.decision)).toEqual(["drop: protocol 17 not handled", "drop: protocol 132 not handled"]);
  });

  it("an unparsable packet is counted under the parser's reason code", () => {
    const h = new Harness();
    h.inputBytes(new Uint8Array(0));
    h.inputBytes(new Uint8Array([0x45, 0, 0]));
    expect(h.stack.stats.drops).toEqual({ "empty packet": 1, "ipv4 truncated header": 1 });
    expect(h.stack.stats.rxDropped).toBe(2);
  });

  it("a device's own drop (the TUN's receive offloads) is counted and traced in the stack through the Runtime", async () => {
    const events: TraceEvent[] = [];
    const stack = new Stack({ addresses: ["10.0.0.2/24"], profile: "linux", random: seededRandom(1), trace: (e) => events.push(e) });
    let drop: ((reason: string, packet: Uint8Array) => void) | undefined;
    const dev: Device = {
      name: "fake",
      mtu: 1500,
      onReceive() {},
      onError() {},
      send() {},
      onDrop(h) {
        drop = h;
      },
      stats: () => ({ rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 }),
      close: async () => {},
    };
    const rt = new Runtime(stack, dev, { clock: () => 5 });
    drop!("vnet bad gso_size", new Uint8Array([0x45, 0, 0, 40]));
    drop!("something else", new Uint8Array(0)); // not a device drop code: not the stack's to count
    expect(stack.stats.drops).toEqual({ "vnet bad gso_size": 1 });
    expect(stack.stats.rxDropped).toBe(1);
    const ev = events.filter((e) => e.kind === "drop");
    expect(ev.map((e) => [e.reason, e.decision, Array.from(e.bytes ?? [])])).toEqual([["vnet bad gso_size", "drop: vnet bad gso_size: dropped by the device", [0x45, 0, 0, 40]]]);
    await rt.close();
  });

  it("every code has a one-line meaning", () => {
    for (const [code, meaning] of Object.entries(DROP_REASONS)) {
      expect(code).toMatch(/^[a-z0-9]/);
      expect(meaning.length, code).toBeGreaterThan(10);
      expect(meaning.includes("\n"), code).toBe(false);
    }
  });
});

// The same rule on a real TUN: what the kernel sends on its own into a fresh device (router
// solicitations, MLD reports) is for nobody here. Root only, in a lab namespace of its own.
const noLab = Lab.unavailableReason();
describe.skipIf(noLab !== undefined)(`unsolicited packets from the kernel${noLab ? ` (skipped: ${noLab})` : ""}`, () => {
  it("the kernel's IPv6 chatter into a fresh TUN is dropped quietly, counted, never answered", async () => {
    // A lab of its own: the shared one may still carry segments of the earlier tests'
    // connections (the kernel's retransmitted FINs and RSTs), which are not chatter.
    const own = await Lab.create();
    const stack = new Stack({ addresses: [`${own.stack4}/24`, `${own.stack6}/64`], profile: "linux", random: cryptoRandom() });
    const sent: Uint8Array[] = [];
    const dev = borrowDevice(own.tun);
    const rt = new Runtime(stack, { ...dev, send: (p) => (sent.push(...p), dev.send(p)) });
    try {
      // Provoke chatter: re-trigger router solicitation / MLD by toggling the link.
      const { ip } = await import("../../device/netns.js");
      ip(["link", "set", "syn0", "down"], own.ns);
      ip(["link", "set", "syn0", "up"], own.ns);
      for (let i = 0; i < 50 && stack.stats.rxPackets === 0; i++) await new Promise((res) => setTimeout(res, 100));
      await new Promise((res) => setTimeout(res, 300));
      expect(stack.stats.rxPackets).toBeGreaterThan(0);
      expect(stack.stats.rxDropped).toBe(stack.stats.rxPackets);
      expect(Object.keys(stack.stats.drops).join(",")).toMatch(/icmpv6|not for us/);
      expect(sent).toEqual([]);
    } finally {
      await rt.close();
      await own.close();
    }
  });
});
