// Set-up shared by the benchmarks that need the kernel: a throwaway network namespace per
// benchmark (unique name, removed in teardown even after a failure), a TUN device in it,
// and helpers to run small Node programs inside it (the kernel's side of each comparison).
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { createNetns, deleteNetns, labUnavailableReason } from "../../device/netns.js";
import { loadAddon } from "../../device/tun/native.js";

let nsCounter = 0;
/** Namespaces this process made and has not removed yet (removed on exit, see below). */
const liveNamespaces = new Set<string>();
let exitHookInstalled = false;

/** synack-b-<pid>-<n> namespaces whose process is gone (killed before its teardown). */
export function sweepStaleNamespaces(): string[] {
  const swept: string[] = [];
  let names: string[];
  try {
    names = readdirSync("/var/run/netns");
  } catch {
    return swept;
  }
  for (const name of names) {
    const m = /^synack-b-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      deleteNetns(name);
      swept.push(name);
    } catch {
      // someone else removed it first
    }
  }
  return swept;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why lab benchmarks cannot run here (not root, no /dev/net/tun, no addon), or undefined. */
export function labSkipReason(): string | undefined {
  const r = labUnavailableReason();
  if (r) return r;
  try {
    loadAddon();
  } catch (err) {
    return `TUN addon unavailable: ${(err as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

/** A namespace named synack-b-<pid>-<n>, with loopback up. */
export function makeNamespace(): string {
  sweepStaleNamespaces();
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Also on process.exit() (the CLI turns SIGINT/SIGTERM into one): never leave one behind.
    process.on("exit", () => {
      for (const n of liveNamespaces) removeNamespace(n);
    });
  }
  const name = `synack-b-${process.pid}-${nsCounter++}`;
  createNetns(name);
  liveNamespaces.add(name);
  return name;
}

export function removeNamespace(name: string | undefined): void {
  if (name === undefined) return;
  liveNamespaces.delete(name);
  try {
    deleteNetns(name);
  } catch {
    // already gone
  }
}

/**
 * Runs `node --input-type=module -e code` inside the namespace and resolves with the last
 * stdout line parsed as JSON. Rejects with stderr on a non-zero exit or after timeoutMs.
 */
export function runNodeInNamespace(ns: string, code: string, args: string[], timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "--input-type=module", "-e", code, "--", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`node in ${ns} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`node in ${ns} exited ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`));
        return;
      }
      const lines = out.trim().split("\n");
      try {
        resolve(JSON.parse(lines[lines.length - 1] ?? ""));
      } catch {
        reject(new Error(`node in ${ns} printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

/**
 * Starts a long-lived Node program in the namespace and waits for its first stdout line
 * ("ready"). Stop it with stopChild().
 */
export function startNodeInNamespace(ns: string, code: string, args: string[], timeoutMs = 10_000): Promise<ChildProcess> {
  return startInNamespace(ns, [process.execPath, "--input-type=module", "-e", code, "--", ...args], timeoutMs);
}

/**
 * Starts `argv` in the namespace (`ip netns exec` enters it and execs the program, so the
 * child's pid is the program's) and waits for its first stdout line. Stop it with stopChild().
 */
export function startInNamespace(ns: string, argv: string[], timeoutMs = 10_000): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill("SIGKILL");
      reject(new Error(`program in ${ns} not ready after ${timeoutMs} ms: ${err.trim()}`));
    }, timeoutMs);
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.once("data", () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(child);
    });
    child.on("close", (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`program in ${ns} exited ${code} before ready: ${err.trim()}`));
    });
  });
}

export function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("close", () => resolve());
    child.kill("SIGKILL");
  });
}

/** A kernel TCP listener: accepts and drops (connect benchmark) or reads and discards (bulk). */
export const LISTENER_JS = `
import net from "node:net";
const [host, port, mode] = process.argv.slice(-3);
const server = net.createServer((s) => {
  s.on("error", () => {});
  if (mode === "drop") s.destroy();
  else {
    s.on("data", () => {});
    s.on("end", () => s.end());
  }
});
server.listen({ host, port: Number(port), backlog: 4096 }, () => console.log("ready"));
`;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
