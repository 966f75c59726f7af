// The raw IP socket device against the real kernel: two throwaway namespaces joined by a
// veth pair. B (10.88.0.1, fd00:88::1) runs a kernel echo listener; in A the veth end has
// 10.88.0.2 / fd00:88::2, and the stack uses those addresses through raw sockets made
// inside A, with the RST filter installed in A (device/raw.md).

import { execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNetns, deleteNetns, ip, labUnavailableReason, netnsExec, netnsSpawn } from "../../device/netns.js";
import {
  RawDeviceError,
  RawIpDevice,
  SYNACK_RAW_MARK,
  installRstFilter,
  removeRstFilter,
  rstFilterRule,
} from "../../device/raw.js";
import { Runtime } from "../../device/runtime.js";
import { Stack } from "../../stack/stack.js";
import { seededRandom } from "../../stack/random.js";
import { WskProvider } from "../../src/wsk/provider.js";
import { WskClient, connect, NtStatusError, type WskConnection } from "../../src/api.js";

function hasNft(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v nft"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const skipReason = labUnavailableReason() ?? (hasNft() ? undefined : "nft (nftables) is not installed: apt-get install nftables");
const lab = skipReason === undefined;
if (!lab) console.warn(`test/device/raw.test.ts: lab tests skipped: ${skipReason}`);

const NS_A = `synack-t-${process.pid}-raw-a`;
const NS_B = `synack-t-${process.pid}-raw-b`;
const IF_A = "rawa0";
const IF_B = "rawb0";
const PEER4 = "10.88.0.1";
const LOCAL4 = "10.88.0.2";
const PEER6 = "fd00:88::1";
const LOCAL6 = "fd00:88::2";
const ECHO_PORT = 7;
const ECHO_SCRIPT = fileURLToPath(new URL("../../scripts/kernel-echo.py", import.meta.url));

let echo: ChildProcess | undefined;
let seed = process.pid;

/** A stack on a raw device in A, with the runtime and the WSK client on top. */
interface Rig {
  device: RawIpDevice;
  stack: Stack;
  runtime: Runtime;
  client: WskClient;
  close(): Promise<void>;
}

function rig(local: string, prefix: number, extra: { gateway4?: string } = {}): Rig {
  const device = RawIpDevice.open({ ifname: IF_A, local, netns: NS_A });
  const stack = new Stack({
    addresses: [{ addr: local, prefix }],
    ...(extra.gateway4 === undefined ? {} : { gateway4: extra.gateway4 }),
    mtu: device.mtu,
    profile: "linux",
    random: seededRandom(seed++),
  });
  const runtime = new Runtime(stack, device);
  const client = new WskClient(new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.flush(), profile: "linux" }));
  return {
    device,
    stack,
    runtime,
    client,
    async close() {
      client.close();
      await runtime.close();
    },
  };
}

/** Reads from the connection until `want` bytes arrived (or a deadline passes). */
async function readAtLeast(conn: WskConnection, want: number, timeoutMs = 3000): Promise<string> {
  const chunks: Uint8Array[] = [];
  let got = 0;
  const deadline = setTimeout(() => conn.destroy(), timeoutMs);
  try {
    for await (const chunk of conn) {
      chunks.push(chunk.slice());
      got += chunk.length;
      if (got >= want) break;
    }
  } catch {
    // destroyed on timeout: return what we have
  } finally {
    clearTimeout(deadline);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The kernel's TCP counters of a namespace (/proc/net/snmp is per namespace). */
function tcpCounters(ns: string): Record<string, number> {
  const lines = netnsExec(ns, "cat", ["/proc/net/snmp"]).split("\n").filter((l) => l.startsWith("Tcp:"));
  const names = (lines[0] ?? "").split(/\s+/).slice(1);
  const values = (lines[1] ?? "").split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

/**
 * `ss -tn` lines in B for connections from the stack's address and port. The listener is
 * dual-stack, so IPv4 peers show as [::ffff:10.88.0.2]:PORT.
 */
function kernelConnections(local: string, port: number): string[] {
  const forms = local.includes(":") ? [`[${local}]:${port} `] : [`${local}:${port} `, `[::ffff:${local}]:${port} `];
  return netnsExec(NS_B, "ss", ["-tnH"])
    .split("\n")
    .map((l) => `${l} `)
    .filter((l) => forms.some((f) => l.includes(f)));
}

async function waitUntil(pred: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (pred()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Packets the RST filter rule for `local` dropped (its nft counter). */
function filterDrops(local: string): number {
  const doc = JSON.parse(netnsExec(NS_A, "nft", ["-j", "list", "chain", "inet", "synack", "rst_out"])) as {
    nftables: Array<{ rule?: { comment?: string; expr: Array<{ counter?: { packets: number } }> } }>;
  };
  const comment = rstFilterRule(local).comment;
  let n = 0;
  for (const item of doc.nftables) {
    if (item.rule?.comment !== comment) continue;
    for (const e of item.rule.expr) if (e.counter) n += e.counter.packets;
  }
  return n;
}

describe("rstFilterRule", () => {
  it("gives the nft and iptables commands for an IPv4 address", () => {
    const r = rstFilterRule("10.88.0.2/24");
    expect(r.local).toBe("10.88.0.2");
    expect(r.version).toBe(4);
    expect(r.mark).toBe(SYNACK_RAW_MARK);
    expect(r.nftExpression).toBe('ip saddr 10.88.0.2 tcp flags & rst == rst meta mark != 0x73796e61 counter drop comment "synack-raw 10.88.0.2"');
    expect(r.nft).toEqual([
      "nft add table inet synack",
      "nft 'add chain inet synack rst_out { type filter hook output priority filter; policy accept; }'",
      `nft 'add rule inet synack rst_out ${r.nftExpression}'`,
    ]);
    expect(r.nftRemove).toEqual(["nft delete table inet synack"]);
    expect(r.iptables[0]).toBe(
      "iptables -I OUTPUT -s 10.88.0.2 -p tcp --tcp-flags RST RST -m mark ! --mark 0x73796e61 -m comment --comment 'synack-raw 10.88.0.2' -j DROP",
    );
    expect(r.iptablesRemove[0]).toMatch(/^iptables -D OUTPUT -s 10\.88\.0\.2 /);
  });

  it("uses ip6 / ip6tables for IPv6, canonicalises the address and honours a mark", () => {
    const r = rstFilterRule("[FD00:88:0::2]", { mark: 0x10 });
    expect(r.local).toBe("fd00:88::2");
    expect(r.version).toBe(6);
    expect(r.nftExpression).toContain("ip6 saddr fd00:88::2 ");
    expect(r.nftExpression).toContain("meta mark != 0x00000010");
    expect(r.nftScript).toContain("type filter hook output priority filter; policy accept;");
    expect(r.iptables[0]).toMatch(/^ip6tables -I OUTPUT -s fd00:88::2 /);
  });

  it("rejects a bad address with a reason", () => {
    expect(() => rstFilterRule("10.88.0.300")).toThrow(RawDeviceError);
    expect(() => rstFilterRule("nonsense")).toThrow(/invalid local address/);
  });
});

describe("RawIpDevice.open argument checks", () => {
  it("refuses a bad interface name, a bad address and a family mismatch before touching anything", () => {
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as RawDeviceError).code;
      }
      return undefined;
    };
    expect(codeOf(() => RawIpDevice.open({ ifname: "", local: "10.0.0.2" }))).toBe("EINVAL");
    expect(codeOf(() => RawIpDevice.open({ ifname: "averyveryverylongname", local: "10.0.0.2" }))).toBe("EINVAL");
    expect(codeOf(() => RawIpDevice.open({ ifname: "eth0", local: "10.0.0" }))).toBe("EINVAL");
    expect(codeOf(() => RawIpDevice.open({ ifname: "eth0", local: "10.0.0.2", version: 6 }))).toBe("EINVAL");
    expect(codeOf(() => RawIpDevice.open({ ifname: "eth0", local: "10.0.0.2", netns: `synack-t-${process.pid}-missing` }))).toBe("ENOENT");
  });
});

describe.skipIf(!lab)("RawIpDevice across a veth pair (lab)", () => {
  beforeAll(async () => {
    createNetns(NS_A);
    createNetns(NS_B);
    ip(["link", "add", IF_A, "type", "veth", "peer", "name", IF_B, "netns", NS_B], NS_A);
    ip(["addr", "add", `${LOCAL4}/24`, "dev", IF_A], NS_A);
    ip(["addr", "add", `${LOCAL6}/64`, "dev", IF_A, "nodad"], NS_A);
    ip(["addr", "add", `${PEER4}/24`, "dev", IF_B], NS_B);
    ip(["addr", "add", `${PEER6}/64`, "dev", IF_B, "nodad"], NS_B);
    ip(["link", "set", IF_A, "up"], NS_A);
    ip(["link", "set", IF_B, "up"], NS_B);
    // In freshly made namespaces the first IPv6 neighbour solicitation often goes
    // unanswered (the kernel's own connect() waits the 1 s retransmit too): pin the
    // neighbours so the IPv6 test measures the device, not neighbour discovery warm-up.
    const mac = (ns: string, dev: string): string => (JSON.parse(ip(["-j", "link", "show", "dev", dev], ns)) as Array<{ address: string }>)[0]!.address;
    ip(["neigh", "replace", PEER6, "lladdr", mac(NS_B, IF_B), "dev", IF_A, "nud", "permanent"], NS_A);
    ip(["neigh", "replace", LOCAL6, "lladdr", mac(NS_A, IF_A), "dev", IF_B, "nud", "permanent"], NS_B);
    // B routes a prohibited prefix, for the ICMP test; A reaches it through B.
    netnsExec(NS_B, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    ip(["route", "add", "prohibit", "10.99.0.0/24"], NS_B);
    ip(["route", "add", "10.99.0.0/24", "via", PEER4], NS_A);
    echo = netnsSpawn(NS_B, "python3", [ECHO_SCRIPT, String(ECHO_PORT)]);
    await new Promise<void>((resolveReady, reject) => {
      let out = "";
      const t = setTimeout(() => reject(new Error(`kernel-echo.py did not start: ${out}`)), 5000);
      echo!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("ready")) {
          clearTimeout(t);
          resolveReady();
        }
      });
      echo!.on("exit", (code) => reject(new Error(`kernel-echo.py exited (${code}): ${out}`)));
    });
  }, 20_000);

  afterAll(() => {
    echo?.stdin?.end();
    echo?.kill();
    for (const ns of [NS_A, NS_B]) {
      try {
        deleteNetns(ns);
      } catch {
        // keep cleaning the other one
      }
    }
  });

  it("reports an unknown interface and an address the kernel does not own", () => {
    let e: unknown;
    try {
      RawIpDevice.open({ ifname: "nosuch0", local: LOCAL4, netns: NS_A });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(RawDeviceError);
    expect((e as RawDeviceError).code).toBe("ENODEV");
    expect((e as Error).message).toMatch(/unknown interface 'nosuch0' in network namespace/);

    e = undefined;
    try {
      RawIpDevice.open({ ifname: IF_A, local: "10.88.0.9", netns: NS_A });
    } catch (err) {
      e = err;
    }
    expect((e as RawDeviceError).code).toBe("ENOTLOCAL");
    expect((e as Error).message).toMatch(/10\.88\.0\.9 is not an address of this host/);
  });

  it("without the RST filter the kernel in A answers B's SYN-ACK with RST", async () => {
    removeRstFilter(LOCAL4, NS_A);
    const before = tcpCounters(NS_A);
    const r = rig(LOCAL4, 24);
    let conn: WskConnection | undefined;
    let port = 0;
    try {
      conn = await connect(r.client, `${PEER4}:${ECHO_PORT}`, { profile: "linux" }).catch(() => undefined);
      if (conn) port = Number(conn.local.split(":").pop());
      // The kernel's RST left first (softirq, before our process even woke), so B threw
      // away the half-open connection and answers our ACK with RST in turn.
      expect(await waitUntil(() => (tcpCounters(NS_A).OutRsts ?? 0) > (before.OutRsts ?? 0))).toBe(true);
      await new Promise((res) => setTimeout(res, 100));
      if (port !== 0) expect(kernelConnections(LOCAL4, port).filter((l) => l.startsWith("ESTAB"))).toEqual([]);
    } finally {
      conn?.destroy();
      await r.close();
    }
  });

  it("completes an IPv4 handshake to the kernel in B, echoes data, and its own RST gets through", async () => {
    expect(installRstFilter(LOCAL4, NS_A)).toBe(true);
    expect(installRstFilter(LOCAL4, NS_A)).toBe(false); // idempotent
    const r = rig(LOCAL4, 24);
    expect(r.device.marked).toBe(true);
    expect(r.device.mtu).toBe(1500);
    let conn: WskConnection | undefined;
    try {
      conn = await connect(r.client, `${PEER4}:${ECHO_PORT}`, { profile: "linux" }); // STATUS_SUCCESS or it throws
      expect(conn.remote).toBe(`${PEER4}:${ECHO_PORT}`);
      const port = Number(conn.local.split(":").pop());
      expect(conn.local).toBe(`${LOCAL4}:${port}`);

      // The kernel in B sees an established connection from the stack.
      expect(await waitUntil(() => kernelConnections(LOCAL4, port).some((l) => l.startsWith("ESTAB")))).toBe(true);

      const text = "hello through a raw socket";
      await conn.write(text);
      expect(await readAtLeast(conn, text.length)).toBe(text);

      // The kernel in A did try to RST (B's SYN-ACK and data are for a port it has no
      // socket for); the filter dropped those.
      expect(filterDrops(LOCAL4)).toBeGreaterThan(0);
      const s = r.device.stats();
      expect(s.rxPackets).toBeGreaterThanOrEqual(2);
      expect(s.txPackets).toBeGreaterThanOrEqual(3);
      expect(s.txErrors).toBe(0);
      expect(s.rxBatches).toBeGreaterThan(0);

      // Our abortive close sends a marked RST, which the filter lets through: B forgets it.
      conn.destroy();
      conn = undefined;
      expect(await waitUntil(() => kernelConnections(LOCAL4, port).length === 0)).toBe(true);
    } finally {
      conn?.destroy();
      await r.close();
      expect(removeRstFilter(LOCAL4, NS_A)).toBe(true);
    }
    // The table goes away with its last rule.
    expect(() => netnsExec(NS_A, "nft", ["list", "table", "inet", "synack"])).toThrow();
  });

  it("completes an IPv6 handshake too (header rebuilt on receive, IPV6_HDRINCL on send)", async () => {
    const r6 = rstFilterRule(LOCAL6);
    const r = (() => {
      // The device can install the filter itself and remove it on close.
      const device = RawIpDevice.open({ ifname: IF_A, local: LOCAL6, netns: NS_A, rstFilter: true });
      const stack = new Stack({ addresses: [{ addr: LOCAL6, prefix: 64 }], mtu: device.mtu, profile: "linux", random: seededRandom(seed++) });
      const runtime = new Runtime(stack, device);
      const client = new WskClient(new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.flush(), profile: "linux" }));
      return { device, stack, runtime, client };
    })();
    let conn: WskConnection | undefined;
    try {
      expect(netnsExec(NS_A, "nft", ["list", "chain", "inet", "synack", "rst_out"])).toContain(r6.comment);
      conn = await connect(r.client, `[${PEER6}]:${ECHO_PORT}`, { profile: "linux" });
      const port = Number(conn.local.split(":").pop());
      expect(conn.local).toBe(`[${LOCAL6}]:${port}`);
      expect(await waitUntil(() => kernelConnections(LOCAL6, port).some((l) => l.startsWith("ESTAB")))).toBe(true);
      const text = "v6 echo";
      await conn.write(text);
      expect(await readAtLeast(conn, text.length)).toBe(text);
      expect(r.stack.stats.drops["tcp checksum"] ?? 0).toBe(0);
    } finally {
      conn?.destroy();
      r.client.close();
      await r.runtime.close();
    }
    // close() removed the rule it installed.
    expect(() => netnsExec(NS_A, "nft", ["list", "table", "inet", "synack"])).toThrow();
  });

  it("passes ICMP errors to the stack: a prohibited route in B gives STATUS_HOST_UNREACHABLE under linux", async () => {
    installRstFilter(LOCAL4, NS_A);
    const r = rig(LOCAL4, 24, { gateway4: PEER4 });
    try {
      const err = await connect(r.client, "10.99.0.5:80", { profile: "linux" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NtStatusError);
      expect((err as NtStatusError).statusName).toBe("STATUS_HOST_UNREACHABLE");
      expect(r.device.stats().rxIcmp).toBeGreaterThanOrEqual(1);
    } finally {
      await r.close();
      removeRstFilter(LOCAL4, NS_A);
    }
  });
});
