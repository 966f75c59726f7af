// The lab: a throwaway network namespace with a TUN device whose kernel side has an IPv4
// and an IPv6 address, a kernel echo listener, and optional routes that make the kernel
// drop (blackhole) or refuse (unreachable, prohibit) what the stack sends. Everything it
// creates lives inside the namespace and is removed by close(), also after failures.
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TunDevice } from "../../device/tun/index.js";
import { findPackageRoot } from "../../device/tun/native.js";
import { readdirSync } from "node:fs";
import { createNetns, deleteNetns, ip, labUnavailableReason, netnsExec } from "../../device/netns.js";

export interface LabOptions {
  /** Namespace name (default synack-lab-<pid>-<n>). */
  name?: string;
  /** Kernel side of the TUN, with prefix. */
  kernel4?: string;
  kernel6?: string;
  /** The stack's own addresses (same prefixes). */
  stack4?: string;
  stack6?: string;
  /** Ports the kernel echo server listens on. */
  listen?: number[];
  /** Routes added in the namespace, e.g. ["blackhole", "10.99.1.0/24"]; turns on forwarding. */
  routes?: string[][];
  mtu?: number;
  /** Delay on the kernel's side of the TUN (ms), via netem; docs/devices.md says why 1-2 ms helps when the kernel is the recorded client. */
  delayMs?: number;
}

let counter = 0;

/**
 * Namespaces this process created and has not removed yet. On exit (also process.exit()
 * from a signal handler, which the CLI installs) they are removed, so an interrupted set-up
 * leaves nothing behind; removeStaleLabs() is the safety net for SIGKILL.
 */
const live = new Set<string>();
const liveChildren = new Set<ChildProcess>();
let exitHook = false;

function track(ns: string): void {
  live.add(ns);
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const c of liveChildren) if (c.exitCode === null) c.kill("SIGTERM");
    for (const n of live) {
      try {
        deleteNetns(n);
      } catch {
        // Best effort while exiting: removeStaleLabs() removes it on the next run.
      }
    }
  });
}

export class Lab {
  private echo: ChildProcess | undefined;
  private closed = false;
  /** Whether the requested netem delay could be applied (needs sch_netem in the kernel). */
  delayApplied = false;

  private constructor(
    readonly ns: string,
    readonly tun: TunDevice,
    readonly kernel4: string,
    readonly kernel6: string,
    readonly stack4: string,
    readonly stack6: string,
  ) {}

  /** Why a lab cannot run here (not root, no /dev/net/tun, no ip), or undefined. */
  static unavailableReason(): string | undefined {
    return labUnavailableReason();
  }

  static async create(o: LabOptions = {}): Promise<Lab> {
    const why = labUnavailableReason();
    if (why) throw new Error(why);
    removeStaleLabs();
    const ns = o.name ?? `synack-lab-${process.pid}-${counter++}`;
    const k4 = o.kernel4 ?? "10.99.0.1/24";
    const k6 = o.kernel6 ?? "fd99::1/64";
    track(ns);
    createNetns(ns);
    let tun: TunDevice | undefined;
    try {
      tun = TunDevice.open({ name: "syn0", netns: ns, mtu: o.mtu ?? 1500, up: true, addresses: [k4, k6] });
      const lab = new Lab(ns, tun, k4.split("/")[0], k6.split("/")[0], o.stack4 ?? "10.99.0.2", o.stack6 ?? "fd99::2");
      // The kernel rate-limits ICMP errors per destination (icmp_ratelimit, 1 s): a lab that
      // shows several unreachable scenarios in a row must not have later errors suppressed.
      netnsExec(ns, "sysctl", ["-q", "-w", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"]);
      if (o.routes && o.routes.length > 0) {
        netnsExec(ns, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"]);
        netnsExec(ns, "sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
        for (const r of o.routes) ip(["route", "add", ...r], ns);
      }
      if (o.delayMs && o.delayMs > 0) {
        // Best effort: kernels built without sch_netem (e.g. some VM kernels) cannot delay.
        try {
          netnsExec(ns, "tc", ["qdisc", "add", "dev", "syn0", "root", "netem", "delay", `${o.delayMs}ms`]);
          lab.delayApplied = true;
        } catch {
          lab.delayApplied = false;
        }
      }
      if (o.listen && o.listen.length > 0) await lab.startEcho(o.listen);
      return lab;
    } catch (e) {
      if (tun) await tun.close().catch(() => undefined);
      deleteNetns(ns);
      live.delete(ns);
      throw e;
    }
  }

  private async startEcho(ports: number[]): Promise<void> {
    this.echo = await startKernelEcho(this.ns, ports);
  }

  /** `ss -tn` inside the namespace (for checks that the kernel saw the connection). */
  sockets(): string {
    return netnsExec(this.ns, "ss", ["-tan"]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const echo = this.echo;
    const exited = echo ? stopChild(echo) : undefined;
    await this.tun.close().catch(() => undefined);
    // Wait for the listener to go, so nothing of the lab outlives close().
    await exited;
    deleteNetns(this.ns);
    live.delete(this.ns);
  }
}

/**
 * Ends a child started in a lab namespace (stdin closed, SIGTERM) and resolves once it has
 * exited and its pipes are closed (SIGKILL after two seconds).
 */
export function stopChild(child: ChildProcess): Promise<void> {
  // 'close' (not 'exit'): the process has exited and its stdio pipes are closed too.
  if ((child.exitCode !== null || child.signalCode !== null) && child.stdout?.closed !== false) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 2000);
    child.once("close", () => {
      clearTimeout(kill);
      resolve();
    });
    child.stdin?.end();
    child.kill("SIGTERM");
  });
}

/**
 * Starts scripts/kernel-echo.py inside namespace `ns` (the kernel's own TCP listening on
 * each port, dual stack) and resolves once it listens. Kill the child to stop it.
 */
export async function startKernelEcho(ns: string, ports: number[]): Promise<ChildProcess> {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  if (!root) throw new Error("cannot find the synack package root (scripts/kernel-echo.py)");
  const script = join(root, "scripts", "kernel-echo.py");
  const child = spawn("ip", ["netns", "exec", ns, "python3", script, ...ports.map(String)], { stdio: ["pipe", "pipe", "pipe"] });
  // Killed on exit if still running (an interrupted set-up must not leave a listener behind).
  liveChildren.add(child);
  const forget = () => liveChildren.delete(child);
  await new Promise<void>((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`kernel echo server did not start: ${err.trim()}`)), 5000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kernel echo server exited (${code}): ${err.trim()}`));
    });
  });
  child.removeAllListeners("exit");
  child.once("exit", forget);
  return child;
}

/**
 * Removes lab namespaces left behind by a process that was killed before it could clean up
 * (names carry the creator's pid: synack-lab-<pid>-<n>). Live processes' labs are kept.
 */
export function removeStaleLabs(): string[] {
  let names: string[];
  try {
    names = readdirSync("/var/run/netns");
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = /^synack-lab-(\d+)-\d+$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its creator still runs
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EPERM") continue;
    }
    deleteNetns(n);
    removed.push(n);
  }
  return removed;
}
