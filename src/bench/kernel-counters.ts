// The kernel's TCP counters of one network namespace, read from /proc/PID/net/{snmp,netstat}
// of a process that lives in it (the benchmark's listener), and the per-interface drops of
// /proc/PID/net/dev. These are the counters `nstat` shows (TcpExtListenOverflows, ...);
// reading the files of a process in the namespace avoids starting `ip netns exec nstat`
// for every snapshot. See proc(5) ("/proc/net/netstat", "/proc/net/snmp", "/proc/net/dev").
import { readFileSync } from "node:fs";

export type Counters = Record<string, number>;

/** "Tcp: A B C\nTcp: 1 2 3" pairs -> { TcpA: 1, TcpB: 2, TcpC: 3 } (nstat's names). */
export function parseSnmpPairs(text: string, into: Counters = {}): Counters {
  const lines = text.split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = lines[i].trim().split(/\s+/);
    const vals = lines[i + 1].trim().split(/\s+/);
    const prefix = head[0]?.replace(/:$/, "");
    if (!prefix || vals[0]?.replace(/:$/, "") !== prefix) continue;
    for (let k = 1; k < head.length && k < vals.length; k++) into[`${prefix}${head[k]}`] = Number(vals[k]);
  }
  return into;
}

/** Per-interface counters from /proc/net/dev: { "tun0.rxDropped": n, "tun0.txDropped": n, ... }. */
export function parseNetDev(text: string, into: Counters = {}): Counters {
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop ...
    into[`${m[1]}.rxPackets`] = f[1];
    into[`${m[1]}.rxDropped`] = f[3];
    into[`${m[1]}.txPackets`] = f[9];
    into[`${m[1]}.txDropped`] = f[11];
  }
  return into;
}

/** All TCP/IP counters of the namespace `pid` lives in. Throws if the process is gone. */
export function readNamespaceCounters(pid: number): Counters {
  const out: Counters = {};
  parseSnmpPairs(readFileSync(`/proc/${pid}/net/snmp`, "utf8"), out);
  parseSnmpPairs(readFileSync(`/proc/${pid}/net/netstat`, "utf8"), out);
  parseNetDev(readFileSync(`/proc/${pid}/net/dev`, "utf8"), out);
  return out;
}

/** after - before, for every counter in `after` (a counter that appeared counts from 0). */
export function counterDelta(before: Counters, after: Counters): Counters {
  const d: Counters = {};
  for (const k of Object.keys(after)) d[k] = after[k] - (before[k] ?? 0);
  return d;
}

/** User + system CPU time of a process in microseconds, from /proc/PID/stat (clock ticks, 100 Hz here). */
export function processCpuMicros(pid: number): number {
  return cpuMicrosFromStat(`/proc/${pid}/stat`);
}

/**
 * User + system time of the calling thread, µs (/proc/thread-self/stat: the reading thread,
 * e.g. the JavaScript thread, not the process's other threads).
 */
export function threadCpuMicros(): number {
  return cpuMicrosFromStat("/proc/thread-self/stat");
}

function cpuMicrosFromStat(path: string): number {
  const stat = readFileSync(path, "utf8");
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1e6) / CLOCK_TICKS;
}

/** sysconf(_SC_CLK_TCK): 100 on every Linux architecture Node supports (USER_HZ). */
const CLOCK_TICKS = 100;

/**
 * The counters that say the set-up, not the client stack, limited a connect run: SYNs (or
 * handshake ACKs) the listener dropped because its accept queue or request queue was full.
 * Each such drop leaves the client waiting for a retransmission timeout.
 */
export const DROP_COUNTERS = ["TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop"] as const;

/**
 * Why the run is invalid ("TcpExtListenDrops 23, sbtun1 txDropped 4"), or undefined: listen
 * drops, or packets the TUN dropped in either direction.
 */
export function dropReason(delta: Counters, tunName?: string): string | undefined {
  const parts: string[] = [];
  for (const k of DROP_COUNTERS) if ((delta[k] ?? 0) > 0) parts.push(`${k} ${delta[k]}`);
  if (tunName !== undefined) {
    const tx = delta[`${tunName}.txDropped`] ?? 0;
    const rx = delta[`${tunName}.rxDropped`] ?? 0;
    if (tx > 0) parts.push(`${tunName} txDropped ${tx} (kernel to stack)`);
    if (rx > 0) parts.push(`${tunName} rxDropped ${rx} (stack to kernel)`);
  }
  return parts.length > 0 ? parts.join(", ") : undefined;
}
