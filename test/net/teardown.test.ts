// Teardown settles everything (docs/node-api.md, "Closing"): closing the network with
// connects pending completes every pending IRP exactly once (the promises reject with
// STATUS_CANCELLED, the sockets fail with ECANCELED), the device vanishing completes them
// with STATUS_NETWORK_UNREACHABLE, an AbortSignal cancels them, and a connect never leaves
// its abort listener behind. The simulated peer needs no root; the lab parts (real kernel,
// the process exiting by itself, the TUN interface deleted under the stack) need root.
import { spawn } from "node:child_process";
import { getEventListeners, once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import { connect, NtStatusError } from "../../src/api.js";
import { netnsExists } from "../../device/netns.js";
import type { SocketError } from "../../src/net/errors.js";

const why = Lab.unavailableReason();
const ROOT = join(import.meta.dirname, "..", "..");
// The simulated network black-holes 10.99.1.0/24 and answers a RST on closed ports.
const BLACKHOLE = "10.99.1.1:80";

/** 'close' of a stream (events.once would reject on its 'error'). */
const closeOf = (s: NodeJS.EventEmitter): Promise<void> => new Promise((r) => s.once("close", () => r()));

async function settleAll<T>(ps: Array<Promise<T>>): Promise<{ fulfilled: number; rejected: NtStatusError[] }> {
  const r = await Promise.allSettled(ps);
  return { fulfilled: r.filter((x) => x.status === "fulfilled").length, rejected: r.filter((x) => x.status === "rejected").map((x) => (x as PromiseRejectedResult).reason) };
}

describe("teardown on the simulated peer", () => {
  let net: Network;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  beforeEach(async () => {
    warnings.length = 0;
    process.on("warning", onWarning);
    net = await openStack({ sim: true });
  });
  afterEach(async () => {
    process.off("warning", onWarning);
    await net.close();
  });

  it("close() with 2 000 connects pending settles all 2 000 promises with STATUS_CANCELLED, and frees everything", async () => {
    const pending = Array.from({ length: 2000 }, () => connect(net.client, BLACKHOLE));
    // Let every connect reach SYN-SENT (its IRP pending in the provider).
    await new Promise((r) => setTimeout(r, 50));
    expect(net.stack.connectionCount).toBe(2000);
    await net.close();
    const { fulfilled, rejected } = await settleAll(pending);
    expect(fulfilled).toBe(0);
    expect(rejected).toHaveLength(2000);
    expect(rejected.every((e) => e instanceof NtStatusError && e.statusName === "STATUS_CANCELLED")).toBe(true);
    expect(net.provider.openSockets).toBe(0);
    expect(net.stack.connectionCount).toBe(0);
    expect(net.stack.pendingTimers).toBe(0);
  });

  it("close() with 2 000 sockets connecting and one connected: the connecting ones fail with ECANCELED, all close, nothing is left", async () => {
    const connecting = Array.from({ length: 2000 }, () => net.createConnection({ host: "10.99.1.1", port: 80 }));
    const open = net.createConnection({ host: "10.99.0.1", port: 7 });
    await once(open, "connect");
    await new Promise((r) => setTimeout(r, 50));
    expect(net.stack.connectionCount).toBe(2001);
    const errors: SocketError[] = [];
    for (const s of connecting) s.on("error", (e) => errors.push(e as SocketError));
    const closed = Promise.all([...connecting, open].map(closeOf));
    await net.close();
    await closed;
    expect(errors).toHaveLength(2000);
    expect(errors.every((e) => e.code === "ECANCELED" && e.statusName === "STATUS_CANCELLED" && e.syscall === "connect")).toBe(true);
    expect(open.destroyed).toBe(true);
    expect(open.errored).toBeNull();
    expect(net.openSockets).toBe(0);
    expect(net.provider.openSockets).toBe(0);
    expect(net.stack.connectionCount).toBe(0);
    expect(net.stack.pendingTimers).toBe(0);
    // Connecting after close fails at once with one clear error.
    const late = net.createConnection({ host: "10.99.0.1", port: 7 });
    const [err] = (await once(late, "error")) as [NodeJS.ErrnoException];
    expect(err.code).toBe("ERR_SOCKET_CLOSED");
  });

  it("1 000 refused connects sharing one AbortSignal leave no listener and no MaxListenersExceededWarning", async () => {
    const ac = new AbortController();
    const results = await settleAll(Array.from({ length: 1000 }, () => connect(net.client, "10.99.0.1:9", { signal: ac.signal, profile: "linux" })));
    expect(results.rejected).toHaveLength(1000);
    expect(results.rejected.every((e) => e.statusName === "STATUS_CONNECTION_REFUSED")).toBe(true);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    // The same through the Duplex sockets.
    const sockets = Array.from({ length: 1000 }, () => net.createConnection({ host: "10.99.0.1", port: 9, signal: ac.signal, profile: "linux" }).on("error", () => undefined));
    await Promise.all(sockets.map(closeOf));
    expect(sockets.every((s) => (s.errored as NodeJS.ErrnoException)?.code === "ECONNREFUSED")).toBe(true);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
  });

  it("aborting a shared signal cancels every pending connect (STATUS_CANCELLED / ABORT_ERR) and leaves no listener", async () => {
    const ac = new AbortController();
    const promises = Array.from({ length: 500 }, () => connect(net.client, BLACKHOLE, { signal: ac.signal }));
    const sockets = Array.from({ length: 500 }, () => net.createConnection({ host: "10.99.1.1", port: 80, signal: ac.signal }).on("error", () => undefined));
    await new Promise((r) => setTimeout(r, 50));
    expect(net.stack.connectionCount).toBe(1000);
    ac.abort();
    const { rejected } = await settleAll(promises);
    expect(rejected.every((e) => e.statusName === "STATUS_CANCELLED")).toBe(true);
    await Promise.all(sockets.map((s) => (s.closed ? undefined : closeOf(s))));
    expect(sockets.every((s) => (s.errored as NodeJS.ErrnoException)?.code === "ABORT_ERR")).toBe(true);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    expect(net.stack.connectionCount).toBe(0);
    expect(net.provider.openSockets).toBe(0);
    // A connect after the abort fails at once and adds nothing either.
    await expect(connect(net.client, BLACKHOLE, { signal: ac.signal })).rejects.toMatchObject({ statusName: "STATUS_CANCELLED" });
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });
});

describe.skipIf(why !== undefined)(`teardown against the kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  const dir = mkdtempSync(join(tmpdir(), "synack-teardown-"));
  afterEach(() => undefined);

  it("a script that opens a lab, leaves 2 000 connects pending and one connection open, then closes: every promise settles and the process exits by itself", async () => {
    const script = join(dir, "close.mjs");
    writeFileSync(
      script,
      `import { openStack, connect } from ${JSON.stringify(join(ROOT, "dist", "src", "index.js"))};
const net = await openStack({ lab: { routes: [["blackhole", "10.99.1.0/24"]] } });
console.log(JSON.stringify({ ns: net.lab.ns }));
const pending = Array.from({ length: 2000 }, () => connect(net.client, "10.99.1.1:80"));
const open = net.createConnection({ host: "10.99.0.1", port: 7 });
await new Promise((r) => open.once("connect", r));
await new Promise((r) => setTimeout(r, 200));
const live = net.stack.connectionCount;
const settling = Promise.allSettled(pending);
await net.close();
const settled = await settling;
// Handles being closed finish closing in the loop's close phase: let it run once.
await new Promise((r) => setImmediate(r));
await new Promise((r) => setImmediate(r));
const statuses = {};
for (const s of settled) statuses[s.status === "fulfilled" ? "fulfilled" : s.reason.statusName] = (statuses[s.status === "fulfilled" ? "fulfilled" : s.reason.statusName] ?? 0) + 1;
console.log(JSON.stringify({ live, statuses, openDestroyed: open.destroyed, resources: process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap"), at: Date.now() }));
`,
    );
    const t0 = Date.now();
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    let exitedAt = 0;
    child.on("exit", () => (exitedAt = Date.now()));
    const [code] = (await Promise.race([once(child, "exit"), new Promise((_, rej) => setTimeout(() => (child.kill("SIGKILL"), rej(new Error(`did not exit by itself: ${out} ${err}`))), 30_000))])) as [number];
    expect(err).toBe("");
    expect(code).toBe(0);
    const [first, last] = out.trim().split("\n").map((l) => JSON.parse(l));
    expect(last.live).toBe(2001);
    expect(last.statuses).toEqual({ STATUS_CANCELLED: 2000 });
    expect(last.openDestroyed).toBe(true);
    // Nothing of synack was left to keep the process alive (it exited without being told).
    expect(last.resources.filter((r: string) => r !== "PipeWrap")).toEqual([]);
    // ... and it went as soon as the script's last line ran.
    expect(exitedAt - last.at).toBeLessThan(2000);
    expect(Date.now() - t0).toBeLessThan(30_000);
    // The lab's namespace is gone.
    expect(netnsExists(first.ns)).toBe(false);
  }, 60_000);

  it("the TUN interface deleted under the stack: pending connects settle with STATUS_NETWORK_UNREACHABLE, open sockets fail with ECONNABORTED", async () => {
    const net = await openStack({ lab: { routes: [["blackhole", "10.99.1.0/24"]] } });
    try {
      const pending = Array.from({ length: 200 }, () => connect(net.client, "10.99.1.1:80"));
      const open = net.createConnection({ host: "10.99.0.1", port: 7 });
      await once(open, "connect");
      const openClosed = closeOf(open);
      let openErr: SocketError | undefined;
      open.on("error", (e) => (openErr = e as SocketError));
      open.resume();
      await new Promise((r) => setTimeout(r, 100));
      const { execFileSync } = await import("node:child_process");
      execFileSync("ip", ["netns", "exec", net.lab!.ns, "ip", "link", "del", "syn0"]);
      const { rejected } = await settleAll(pending);
      expect(rejected).toHaveLength(200);
      expect(new Set(rejected.map((e) => e.statusName))).toEqual(new Set(["STATUS_NETWORK_UNREACHABLE"]));
      await openClosed;
      expect(openErr).toMatchObject({ code: "ECONNABORTED", statusName: "STATUS_CONNECTION_ABORTED" });
    } finally {
      await net.close();
    }
    expect(existsSync(join("/var/run/netns", net.lab!.ns))).toBe(false);
  }, 60_000);

  it("cleanup", () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
