// Network-namespace helpers for the lab: make and remove namespaces, run programs in
// them, and create sockets or devices in them from this process.
//
// Two mechanisms:
//  - child_process + iproute2 (`ip netns add|del|exec`, `ip -n NS ...`) for set-up and
//    for programs that must live in the namespace (kernel listeners, ping);
//  - withNetns(), which moves *this thread* into the namespace with setns(2) for the
//    duration of a synchronous function. A socket or TUN fd created inside keeps that
//    namespace for its whole life (network_namespaces(7)), so e.g. a Node `net.Server`
//    listening in the namespace can be made from the test process itself.

import { execFile, execFileSync, spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { loadAddon } from "./tun/native.js";

/** True when running as uid 0. */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** CAP_NET_ADMIN (bit 12) and CAP_SYS_ADMIN (bit 21) in the effective set: what TUN + setns need. */
export function hasLabCapabilities(): boolean {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (!m || m[1] === undefined) return false;
    const eff = BigInt(`0x${m[1]}`);
    return (eff & (1n << 12n)) !== 0n && (eff & (1n << 21n)) !== 0n;
  } catch {
    return false;
  }
}

/** Why lab tests cannot run here, or undefined when they can (for `it.skipIf`). */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (!isRoot() && !hasLabCapabilities()) return "needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN) for TUN and network namespaces";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing (modprobe tun)";
  return undefined;
}

/** Where `ip netns add NAME` mounts the namespace (ip-netns(8)). */
export function netnsPath(name: string): string {
  return name.startsWith("/") ? name : `/var/run/netns/${name}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") {
    throw new Error(`invalid network namespace name '${name}': use letters, digits, '.', '_' and '-'`);
  }
}

/** A failed command, with its stderr in the message. */
export class CommandError extends Error {
  readonly code = "ERR_SYNACK_COMMAND";
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`${command} failed${status === null ? "" : ` (exit ${status})`}: ${stderr.trim() || "no error output"}`, options);
    this.name = "CommandError";
  }
}

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].join(" ");
}

export interface ExecOptions {
  /** Written to the program's stdin. */
  input?: string | Uint8Array;
  timeoutMs?: number;
}

/** Runs a program and returns its stdout; throws CommandError with stderr on failure. */
export function runSync(cmd: string, args: readonly string[], opts: ExecOptions = {}): string {
  try {
    return execFileSync(cmd, [...args], {
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      ...(opts.input === undefined ? {} : { input: opts.input }),
      ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
    });
  } catch (cause) {
    const e = cause as { status?: number | null; stderr?: string | Buffer; message?: string };
    const stderr = e.stderr === undefined ? String(e.message ?? cause) : e.stderr.toString();
    throw new CommandError(describe(cmd, args), e.status ?? null, stderr, { cause });
  }
}

/** Async runSync: resolves to {stdout, stderr}; rejects with CommandError. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { encoding: "utf8", ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }) },
      (err, stdout, stderr) => {
        if (err) {
          const status = typeof err.code === "number" ? err.code : null;
          reject(new CommandError(describe(cmd, args), status, stderr || err.message, { cause: err }));
        } else {
          resolveRun({ stdout, stderr });
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * `ip ARGS` in the namespace (`ip -n NS ARGS`), or in ours when netns is undefined.
 * An absolute namespace path goes through `nsenter --net=PATH` instead.
 */
export function ip(args: readonly string[], netns?: string): string {
  if (netns === undefined) return runSync("ip", args);
  if (netns.startsWith("/")) return runSync("nsenter", [`--net=${netns}`, "ip", ...args]);
  return runSync("ip", ["-n", netns, ...args]);
}

/** Creates a network namespace and brings its loopback up. */
export function createNetns(name: string): void {
  checkName(name);
  runSync("ip", ["netns", "add", name]);
  try {
    runSync("ip", ["-n", name, "link", "set", "lo", "up"]);
  } catch (err) {
    deleteNetns(name);
    throw err;
  }
}

/** Async createNetns. */
export async function createNetnsAsync(name: string): Promise<void> {
  checkName(name);
  await run("ip", ["netns", "add", name]);
  try {
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  } catch (err) {
    await deleteNetnsAsync(name);
    throw err;
  }
}

/**
 * Removes a namespace; harmless if it does not exist. The namespace itself lives on
 * while anything still holds it (a process in it, or an open TUN fd or socket made in
 * it), but its name is gone at once.
 */
export function deleteNetns(name: string): void {
  checkName(name);
  if (!netnsExists(name)) return;
  runSync("ip", ["netns", "del", name]);
}

export async function deleteNetnsAsync(name: string): Promise<void> {
  checkName(name);
  if (!netnsExists(name)) return;
  await run("ip", ["netns", "del", name]);
}

/** `ip netns exec NAME cmd args...`; returns stdout, throws CommandError. */
export function netnsExec(name: string, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): string {
  return runSync("ip", ["netns", "exec", name, cmd, ...args], opts);
}

export function netnsExecAsync(
  name: string,
  cmd: string,
  args: readonly string[] = [],
  opts: ExecOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  return run("ip", ["netns", "exec", name, cmd, ...args], opts);
}

/** Starts a long-running program in the namespace (e.g. a kernel listener). Kill it when done. */
export function netnsSpawn(name: string, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
  return spawn("ip", ["netns", "exec", name, cmd, ...args], { stdio: ["pipe", "pipe", "pipe"], ...opts });
}

/**
 * Runs fn with the calling thread inside network namespace `name` (or an absolute nsfs
 * path) and moves it back afterwards, also when fn throws. Only what fn does
 * *synchronously* happens in the namespace: sockets/fds created there stay bound to it.
 * Work deferred to later ticks (a promise continuation, `server.listen(port, host)` which
 * resolves the host asynchronously) runs back in the original namespace. For a Node
 * listener use `server.listen(port)` or `listen({ port })` without a host, which binds
 * synchronously.
 */
export function withNetns<T>(name: string, fn: () => T): T {
  const addon = loadAddon();
  const saved = addon.netnsEnter(name);
  try {
    return fn();
  } finally {
    addon.netnsRestore(saved);
  }
}

/** The namespace id of the calling thread, e.g. "net:[4026531840]" (for checks and logs). */
export function currentNetnsId(): string {
  // The thread's own entry: after setns only this thread has moved, not the process.
  return readlinkSync("/proc/thread-self/ns/net");
}
