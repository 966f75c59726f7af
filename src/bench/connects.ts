// Benchmark 1 (BENCHMARKS.md): connects per second over TUN to a kernel listener in a
// namespace, 64 in flight, for a fixed duration, beside Node's own net.connect (the
// kernel's TCP) to the same listener and, when present, the lwIP and gVisor harnesses
// (peers.ts), interleaved in the same run.
//
// Every variant does the same per connection: open it, wait for the handshake to complete
// (the final ACK is sent), drop it with a RST (synack: abort(); Node: resetAndDestroy()),
// open the next. What makes the number the client stack's and not the set-up's:
//  - the listener is a small C epoll/accept4 loop (listener.c, built with the addon), not
//    a Node server: a completed handshake holds an accept-queue slot until the listener
//    accepts it, and once the queue is full the kernel drops SYNs and the client waits out
//    its SYN retransmission timeout (1 s for the windows profile);
//  - the namespace's TCP counters (listen overflows and drops, request-queue drops,
//    retransmissions) and the TUN's drops are read before and after each variant; a
//    variant during which the listener dropped a SYN or the TUN dropped a packet is
//    reported INVALID with the counters, never as a number; retransmissions (the kernel's,
//    and synack's own SYN retransmissions) are reported beside it;
//  - the rate is completed handshakes over a fixed duration; what is still in flight at the
//    deadline is drained (not counted) before the next variant starts.
// CPU per connect is the measuring process's user + system time over the same window
// (process.cpuUsage()), divided by the completed connects. For synack that is this process:
// the engine, the Runtime, the addon, GC, and the kernel's TCP work for every packet it
// writes (the kernel processes a TUN write inside the write(2) call, including the
// listener's side of the handshake). It does not include the listener's accept/close.
// synack's system time is reported on its own too: it is that kernel work, and it bounds
// how low synack's CPU per connect can go.
import { cryptoRandom } from "../../device/random.js";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Stack, type Endpoint } from "../../stack/stack.js";
import { Connection, type ConnectionEvents } from "../../stack/tcp/connection.js";
import type { Profile } from "../../stack/tcp/profiles.js";
import { Runtime } from "../../device/runtime.js";
import { TunDevice } from "../../device/tun/index.js";
import { findPackageRoot } from "../../device/tun/native.js";
import { runSync } from "../../device/netns.js";
import { labSkipReason, makeNamespace, removeNamespace, runNodeInNamespace, sleep, startInNamespace, stopChild } from "./lab.js";
import { counterDelta, dropReason, processCpuMicros, readNamespaceCounters, threadCpuMicros, type Counters } from "./kernel-counters.js";
import { PEER_NAMES, peerInvalidReason, peerSkipReason, runPeer, type PeerName, type PeerRun } from "./peers.js";
import type { Benchmark, Metric, RunOptions } from "./types.js";

const KERNEL = "10.79.0.1";
const STACK = "10.79.0.2";
const PORT = 8080;
const IN_FLIGHT = 64;
/** Seconds per variant and run (quick: 1). */
const DEFAULT_SECONDS = 3;
/** After the deadline: how long in-flight connects may take to finish before they are aborted. */
const DRAIN_MS = 2000;
/** Quiet time after each variant, still answering late segments, before the counters are read. */
const SETTLE_MS = 100;

export interface ConnectRate {
  completed: number;
  failed: number;
  elapsedMs: number;
  perSec: number;
}

/** One fixed-duration connect run of a client, with what was measured around it. */
export interface ConnectRun extends ConnectRate {
  /** The client process's CPU (user + system) per completed connect, µs. */
  cpuUsPerConnect: number;
  /** Of that, system time (the kernel's work inside the process's system calls), µs; synack only. */
  sysUsPerConnect?: number;
  /**
   * Of that, the JavaScript thread's (user + system), µs; synack only. The rest is the
   * addon's writer thread(s) (the kernel's work inside their TUN writes) and V8's helpers.
   */
  jsThreadUsPerConnect?: number;
  /** SYNs the client sent again (a SYN or its SYN-ACK was lost): the run waited for an RTO. */
  synRetransmits: number;
}

export interface SynackConnectOptions {
  /** Stop opening after this long; connects completed by then are counted. */
  durationMs: number;
  inFlight?: number;
  remote?: Endpoint;
  /** The stack's address, CIDR (default 10.79.0.2/24). */
  address?: string;
  /** Stop after this many connects instead (the run then ends when they are done). */
  maxConnects?: number;
  /** How long to wait for in-flight connects after the deadline (default 2 s). */
  drainMs?: number;
  /** Quiet time after the drain, still answering late segments (default 100 ms). */
  settleMs?: number;
  /** The stack's profile (default windows), e.g. with a share of the ephemeral ports for a shard. */
  profile?: Profile;
}

/**
 * synack on `dev`: `inFlight` connects at a time, each aborted (RST) as soon as it is
 * ESTABLISHED, until the deadline. A fresh Stack and Runtime per call; the device is
 * detached from them when the promise resolves (the device stays open).
 */
export function synackConnectRun(dev: TunDevice, o: SynackConnectOptions): Promise<ConnectRun> {
  const stack = new Stack({ addresses: [o.address ?? `${STACK}/24`], random: cryptoRandom(), profile: o.profile ?? "windows" });
  const rt = new Runtime(stack, dev);
  const inFlight = o.inFlight ?? IN_FLIGHT;
  const remote = o.remote ?? { addr: KERNEL, port: PORT };
  const maxConnects = o.maxConnects ?? Infinity;
  return new Promise((resolve) => {
    let started = 0;
    let completed = 0;
    let failed = 0;
    let synRetransmits = 0;
    let open = 0;
    let opening = true;
    let scheduled = false;
    let result: ConnectRun | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const live = new Set<Connection>();
    const toAbort: Connection[] = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const js0 = threadCpuMicros();
    const retired = (c: Connection): void => {
      live.delete(c);
      open--;
      if (c.synCount > 1) synRetransmits += c.synCount - 1;
    };
    const events: ConnectionEvents = {
      established(c) {
        if (opening) completed++;
        toAbort.push(c);
        schedule();
      },
      closed(c) {
        if (c.owner === "done") return;
        c.owner = "done";
        retired(c);
        if (opening) failed++;
        schedule();
      },
    };
    const markEnd = (): void => {
      if (!opening) return;
      opening = false;
      clearTimeout(endTimer);
      const elapsedMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const js = threadCpuMicros() - js0;
      result = {
        completed,
        failed,
        elapsedMs,
        perSec: (completed / elapsedMs) * 1000,
        cpuUsPerConnect: completed > 0 ? (cpu.user + cpu.system) / completed : NaN,
        sysUsPerConnect: completed > 0 ? cpu.system / completed : NaN,
        jsThreadUsPerConnect: completed > 0 ? js / completed : NaN,
        synRetransmits: 0,
      };
      drainTimer = setTimeout(finish, o.drainMs ?? DRAIN_MS);
      schedule();
    };
    const endTimer = setTimeout(markEnd, o.durationMs);
    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      // Whatever did not finish in time: abort (a RST if the handshake got that far).
      const now = rt.now();
      for (const c of [...live]) {
        c.owner = "done";
        retired(c);
        c.abort(now);
      }
      rt.flush(now);
      setTimeout(() => {
        dev.onReceive(() => {}); // detach this run's runtime (the device lives on)
        resolve({ ...result!, synRetransmits });
      }, o.settleMs ?? SETTLE_MS);
    }
    function schedule(): void {
      if (scheduled || finished) return;
      scheduled = true;
      queueMicrotask(pump);
    }
    function pump(): void {
      scheduled = false;
      if (finished) return;
      const now = rt.now();
      for (let i = 0; i < toAbort.length; i++) {
        const c = toAbort[i];
        if (c.owner === "done") continue;
        c.owner = "done";
        retired(c);
        c.abort(now);
      }
      toAbort.length = 0;
      while (opening && started < maxConnects && open < inFlight) {
        started++;
        const c = stack.connect({ remote }, now);
        if (!(c instanceof Connection)) {
          failed++;
          continue;
        }
        open++;
        live.add(c);
        c.events = events;
      }
      rt.flush(now);
      if (opening && started >= maxConnects && open === 0) markEnd();
      if (!opening && open === 0) finish();
    }
    pump();
  });
}

/**
 * The earlier interface (the peers' harness calls it): `n` connects or `timeoutMs`,
 * whichever comes first, `inFlight` at a time.
 */
export async function synackConnects(dev: TunDevice, n: number, inFlight: number, timeoutMs: number, remote: Endpoint = { addr: KERNEL, port: PORT }): Promise<ConnectRate> {
  const r = await synackConnectRun(dev, { durationMs: timeoutMs, inFlight, remote, maxConnects: n });
  return { completed: r.completed, failed: r.failed, elapsedMs: r.elapsedMs, perSec: r.perSec };
}

/**
 * Node's net.connect, run inside the namespace for a fixed duration; prints
 * {completed, failed, elapsedMs, cpuUs}. Its CPU includes the kernel work done inside its
 * own system calls, which over the local route is most of both ends' TCP processing.
 */
const NODE_CONNECTS_JS = `
import net from "node:net";
const [host, port, msText, inFlightText, drainText] = process.argv.slice(-5);
const inFlight = Number(inFlightText);
let completed = 0, failed = 0, open = 0, opening = true, result;
const t0 = performance.now(), c0 = process.cpuUsage();
setTimeout(() => {
  opening = false;
  const cpu = process.cpuUsage(c0);
  result = { completed, failed, elapsedMs: performance.now() - t0, cpuUs: cpu.user + cpu.system };
  setTimeout(finish, Number(drainText));
  if (open === 0) finish();
}, Number(msText));
function finish() {
  console.log(JSON.stringify(result));
  process.exit(0);
}
function one() {
  open++;
  const s = net.connect({ host, port: Number(port) });
  let connected = false;
  s.on("connect", () => {
    connected = true;
    s.resetAndDestroy();
    if (opening) completed++;
    open--;
    next();
  });
  s.on("error", () => {
    if (connected) return;
    if (opening) failed++;
    open--;
    next();
  });
}
function next() {
  if (!opening) {
    if (open === 0) finish();
    return;
  }
  while (open < inFlight) one();
}
next();
`;

export async function nodeConnectRun(ns: string, durationMs: number, inFlight = IN_FLIGHT, host = KERNEL, port = PORT): Promise<ConnectRun> {
  const r = (await runNodeInNamespace(ns, NODE_CONNECTS_JS, [host, String(port), String(durationMs), String(inFlight), String(DRAIN_MS)], durationMs + DRAIN_MS + 30_000)) as {
    completed: number;
    failed: number;
    elapsedMs: number;
    cpuUs: number;
  };
  // Its SYN retransmissions are the namespace's TcpExtTCPSynRetrans, checked by the caller.
  return { completed: r.completed, failed: r.failed, elapsedMs: r.elapsedMs, perSec: (r.completed / r.elapsedMs) * 1000, cpuUsPerConnect: r.completed > 0 ? r.cpuUs / r.completed : NaN, synRetransmits: 0 };
}

// ---------------------------------------------------------------------------------------
// The listener

/** build/Release/synack_bench_listener, built by `npm install` with the addon (binding.gyp). */
export function listenerPath(): string {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url))) ?? process.cwd();
  return join(root, "build", "Release", "synack_bench_listener");
}

/** Why the C listener cannot run, or undefined. */
export function listenerSkipReason(): string | undefined {
  const p = listenerPath();
  if (!existsSync(p)) return `the benchmark listener is not built (${p} is missing): run \`npm install\` (or \`npx node-gyp rebuild\`), which builds it with the TUN addon`;
  return undefined;
}

export interface ListenerOptions {
  /** listen(2) backlog (default 65535; the namespace's somaxconn is raised to match). */
  backlog?: number;
  /** "accept" (default): accept and close each connection; "hold": never accept (tests). */
  mode?: "accept" | "hold";
}

/**
 * Starts the C listener in `ns` on host:port and waits for "ready". Its pid is the
 * namespace's window for the counters.
 *
 * On a loaded machine the listener can be kept off the CPU for tens of milliseconds while
 * the client runs on both cores (synack with its writer thread does); every handshake
 * completed meanwhile waits in the accept queue. So the queue is made as long as the
 * kernel allows (somaxconn 65535 in this namespace, a per-namespace setting) and the
 * listener runs at nice -5, so that it is the client that is measured.
 */
export function startListener(ns: string, host: string, port: number, opts: ListenerOptions = {}, timeoutMs = 10_000): Promise<ChildProcess> {
  const why = listenerSkipReason();
  if (why) return Promise.reject(new Error(why));
  const backlog = opts.backlog ?? 65535;
  if (backlog > 4096) runSync("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `net.core.somaxconn=${backlog}`]);
  // `nice` execs the listener, so the child's pid is still the listener's.
  return startInNamespace(ns, ["nice", "-n", "-5", listenerPath(), host, String(port), String(backlog), opts.mode ?? "accept"], timeoutMs);
}

// ---------------------------------------------------------------------------------------
// The lab: namespace + TUN + listener, and one measured variant at a time

/** One client's run with the namespace's counters around it. */
export interface MeasuredRun extends ConnectRun {
  /** Counter increments over the run (drain and settle included). */
  kernel: Counters;
  /** The listener's CPU over the run as a share of one core (1 = saturated). */
  listenerCpuShare: number;
  /** Why this run measured the set-up, not the client (drops, retransmissions), or undefined. */
  invalid?: string;
}

/**
 * The lab's TUN devices: the same stack code, writes on the JavaScript thread, on the
 * addon's writer thread, or spread by flow over two queues of a multi-queue TUN with a
 * writer thread each.
 */
const LINKS = {
  oneThread: { name: "sbtun1", kernel: KERNEL, stack: STACK, txThread: false, queues: 1 },
  txThread: { name: "sbtun2", kernel: "10.79.1.1", stack: "10.79.1.2", txThread: true, queues: 1 },
  twoQueues: { name: "sbtun3", kernel: "10.79.2.1", stack: "10.79.2.2", txThread: true, queues: 2 },
} as const;
export type LinkName = keyof typeof LINKS;

export class ConnectLab {
  private constructor(
    readonly ns: string,
    readonly devs: Record<LinkName, TunDevice>,
    private readonly listener: ChildProcess,
  ) {}

  /** A namespace with both TUN devices and the C listener on port 8080 of every address in it. */
  static async open(opts: ListenerOptions = {}): Promise<ConnectLab> {
    const ns = makeNamespace();
    const opened: TunDevice[] = [];
    try {
      const devs = {} as Record<LinkName, TunDevice>;
      for (const [key, l] of Object.entries(LINKS) as Array<[LinkName, (typeof LINKS)[LinkName]]>) {
        devs[key] = TunDevice.open({ name: l.name, netns: ns, addresses: [`${l.kernel}/24`], maxBatch: 256, txThread: l.txThread, queues: l.queues });
        opened.push(devs[key]);
      }
      const listener = await startListener(ns, "0.0.0.0", PORT, opts);
      const lab = new ConnectLab(ns, devs, listener);
      // Let the kernel activate the new links (linkwatch) so the first SYN-ACKs are not lost.
      await sleep(50);
      return lab;
    } catch (err) {
      for (const d of opened) await d.close();
      removeNamespace(ns);
      throw err;
    }
  }

  private get pid(): number {
    const p = this.listener.pid;
    if (p === undefined || this.listener.exitCode !== null) throw new Error("the benchmark listener is not running");
    return p;
  }

  private async measure(run: () => Promise<ConnectRun>): Promise<MeasuredRun> {
    const pid = this.pid;
    const devs = Object.values(this.devs);
    const before = readNamespaceCounters(pid);
    const lcpu0 = processCpuMicros(pid);
    const tx0 = devs.reduce((n, d) => n + d.stats().txErrors, 0);
    const t0 = performance.now();
    const r = await run();
    const txErrors = devs.reduce((n, d) => n + d.stats().txErrors, 0) - tx0;
    const wallUs = (performance.now() - t0) * 1000;
    const kernel = counterDelta(before, readNamespaceCounters(pid));
    const listenerCpuShare = (processCpuMicros(pid) - lcpu0) / wallUs;
    const reasons: string[] = [];
    for (const d of devs) {
      const drops = dropReason(kernel, d.name);
      if (drops && !reasons.includes(drops)) reasons.push(drops);
    }
    if (txErrors > 0) reasons.push(`${txErrors} TUN writes refused`);
    if (r.completed === 0) reasons.push("no connect completed");
    const out: MeasuredRun = { ...r, kernel, listenerCpuShare };
    if (reasons.length > 0) out.invalid = reasons.join(", ");
    return out;
  }

  /** synack on one of the lab's links (default: the one with the writer thread). */
  synack(durationMs: number, extra: Partial<SynackConnectOptions> & { link?: LinkName } = {}): Promise<MeasuredRun> {
    const l = LINKS[extra.link ?? "txThread"];
    return this.measure(() => synackConnectRun(this.devs[extra.link ?? "txThread"], { durationMs, address: `${l.stack}/24`, remote: { addr: l.kernel, port: PORT }, ...extra }));
  }

  node(durationMs: number): Promise<MeasuredRun> {
    return this.measure(async () => {
      const r = await nodeConnectRun(this.ns, durationMs);
      await sleep(SETTLE_MS);
      return r;
    });
  }

  /** Packets the TUN devices dropped over a run (either direction). */
  tunDrops(r: MeasuredRun): number {
    let n = 0;
    for (const d of Object.values(this.devs)) n += (r.kernel[`${d.name}.txDropped`] ?? 0) + (r.kernel[`${d.name}.rxDropped`] ?? 0);
    return n;
  }

  async close(): Promise<void> {
    await stopChild(this.listener);
    for (const d of Object.values(this.devs)) await d.close();
    removeNamespace(this.ns);
  }
}

// ---------------------------------------------------------------------------------------
// The benchmark

let lab: ConnectLab | undefined;
let peers: PeerName[] = [];
let peerNotes: string[] = [];
let round = 0;

function rate(key: string, label: string, r: { perSec: number; invalid?: string }, target?: Metric["target"]): Metric {
  const m: Metric = { key, label, unit: "1/s", value: r.perSec };
  if (target) m.target = target;
  if (r.invalid !== undefined) m.invalid = r.invalid;
  return m;
}

function cpuMetric(key: string, label: string, r: { cpuUsPerConnect?: number; invalid?: string }, target?: Metric["target"]): Metric[] {
  if (r.cpuUsPerConnect === undefined || !Number.isFinite(r.cpuUsPerConnect)) return [];
  const m: Metric = { key, label, unit: "µs", value: r.cpuUsPerConnect };
  if (target) m.target = target;
  if (r.invalid !== undefined) m.invalid = r.invalid;
  return [m];
}

/** The system part of CPU per connect: for synack, mostly the kernel's TCP work inside the TUN writes. */
function sysMetric(key: string, label: string, r: { sysUsPerConnect?: number; invalid?: string }): Metric[] {
  return r.sysUsPerConnect === undefined ? [] : cpuMetric(key, label, { cpuUsPerConnect: r.sysUsPerConnect, invalid: r.invalid });
}

/** The JavaScript thread's part of synack's CPU per connect (clock ticks of 10 ms, so about ±0.1 µs over a 3 s run). */
function jsMetric(key: string, label: string, r: { jsThreadUsPerConnect?: number; invalid?: string }): Metric[] {
  return r.jsThreadUsPerConnect === undefined ? [] : cpuMetric(key, label, { cpuUsPerConnect: r.jsThreadUsPerConnect, invalid: r.invalid });
}

function ratio(key: string, label: string, a: { perSec: number; invalid?: string }, b: { perSec: number; invalid?: string }, target?: number): Metric {
  const m: Metric = { key, label, unit: "x", value: a.perSec / b.perSec, ratio: true };
  if (target !== undefined) m.target = { op: ">=", value: target };
  const why = [a.invalid, b.invalid].filter((x) => x !== undefined);
  if (why.length > 0) m.invalid = why.join("; ");
  return m;
}

const PEER_LABEL: Record<PeerName, string> = { lwip: "lwIP", gvisor: "gVisor" };
/** synack / peer connects, at least (median, same run). */
const PEER_TARGET: Record<PeerName, number> = { lwip: 1, gvisor: 2 };

export const tunConnects: Benchmark = {
  name: "connects",
  section: 1,
  title: "Connects/s over TUN vs Node's net.connect, lwIP and gVisor",
  measures:
    "handshake-then-RST connects, 64 in flight, fixed duration, to a C epoll/accept4 listener in a namespace: synack on a TUN (this process), Node's net.connect (child process in the namespace) and the lwIP/gVisor harnesses, interleaved; a run with listen drops or TUN drops is INVALID",
  notes: [
    "connects: synack uses the windows profile, cryptographic ISN/port randomness, the Runtime's real clock and batched TUN I/O; its main figure (compared with the others) writes through the addon's writer thread (TunOpenOptions.txThread), so the kernel's work inside the TUN writes runs beside the JavaScript thread; 'one thread' is the same code writing from the JavaScript thread; '2 queues' opens the TUN with two queues (TunOpenOptions.queues, IFF_MULTI_QUEUE) and writes each connection's packets to the queue its addresses and ports hash to, each queue with its own writer thread, so the kernel's work is spread over two threads",
    "connects: CPU per connect = the client process's user + system time over the run / completed connects; it includes the kernel's TCP work done inside that process's system calls (for synack, every TUN write; for Node, both ends over the local route), not the listener's accept/close; synack's system part is also given on its own ('of it system time'): the kernel's work, which no change inside synack reduces; and the JavaScript thread's part ('of it the JavaScript thread', from /proc/thread-self/stat): the engine, the Runtime, the addon's reads and that thread's own system calls; the rest is the writer thread(s) and V8's helper threads",
    "connects: lwIP and gVisor run through ../shared/peers/peer with LISTENER=c (their own namespace and an equivalent C listener); gVisor uses 2 threads; synack 2 (the JavaScript thread and the writer), 3 with 2 queues, 1 in the one-thread variant; lwIP and Node one",
  ],
  unavailable(): string | undefined {
    return labSkipReason() ?? listenerSkipReason();
  },
  async setup(_quick: boolean, opts?: RunOptions): Promise<void> {
    round = 0;
    const wanted = opts?.peers ?? [...PEER_NAMES];
    peers = [];
    peerNotes = wanted.length === 0 ? ["connects: no peer run (--peers none)"] : [];
    for (const p of wanted) {
      const why = peerSkipReason(p);
      if (why) {
        peerNotes.push(`connects: peer ${p} skipped: ${why}`);
        continue;
      }
      // A first short run builds the harness (gVisor's first build takes a while) and checks it works.
      try {
        await runPeer(p as PeerName, 1);
        peers.push(p as PeerName);
      } catch (err) {
        peerNotes.push(`connects: peer ${p} skipped: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    tunConnects.notes = [...(tunConnects.notes ?? []).filter((n) => !n.startsWith("connects: peer ") && !n.startsWith("connects: no peer")), ...peerNotes];
    lab = await ConnectLab.open();
  },
  async run(quick: boolean, opts?: RunOptions): Promise<Metric[]> {
    const seconds = opts?.seconds ?? (quick ? 1 : DEFAULT_SECONDS);
    const ms = seconds * 1000;
    const l = lab!;
    // Interleaved, in an order that rotates from run to run.
    type Variant = { name: string; go: () => Promise<void> };
    let s: MeasuredRun | undefined;
    let s1: MeasuredRun | undefined;
    let s2: MeasuredRun | undefined;
    let k: MeasuredRun | undefined;
    const peerRuns = new Map<PeerName, PeerRun & { invalid?: string }>();
    const variants: Variant[] = [
      { name: "synack", go: async () => void (s = await l.synack(ms, { link: "txThread" })) },
      { name: "synack-one-thread", go: async () => void (s1 = await l.synack(ms, { link: "oneThread" })) },
      { name: "synack-two-queues", go: async () => void (s2 = await l.synack(ms, { link: "twoQueues" })) },
      { name: "node", go: async () => void (k = await l.node(ms)) },
      ...peers.map((p) => ({
        name: p,
        go: async () => {
          const r: PeerRun & { invalid?: string } = await runPeer(p, Math.max(1, Math.round(seconds)));
          const why = peerInvalidReason(r);
          if (why) r.invalid = why;
          peerRuns.set(p, r);
        },
      })),
    ];
    const shift = round++ % variants.length;
    for (const v of [...variants.slice(shift), ...variants.slice(0, shift)]) await v.go();
    const sy = s!;
    const s1y = s1!;
    const s2y = s2!;
    const no = k!;
    const metrics: Metric[] = [
      rate("synackConnectsPerSec", "synack connects/s (TUN, writer thread)", sy),
      ...cpuMetric("synackCpuUsPerConnect", "synack CPU per connect", sy, { op: "<=", value: 8 }),
      ...sysMetric("synackSysUsPerConnect", "of it system time (kernel)", sy),
      ...jsMetric("synackJsThreadUsPerConnect", "of it the JavaScript thread", sy),
      { key: "synackSetupDrops", label: "synack run: listen drops + TUN drops", unit: "count", value: setupDrops(sy, l) },
      { key: "synackRetransmits", label: "synack run: retransmissions (kernel + synack SYNs)", unit: "count", value: retransmissions(sy) },
      { key: "listenerCpuShare", label: "listener CPU during synack run (1 = a core)", unit: "x", value: sy.listenerCpuShare },
      rate("synackOneThreadConnectsPerSec", "synack connects/s (TUN, one thread)", s1y),
      ...cpuMetric("synackOneThreadCpuUsPerConnect", "synack CPU per connect (one thread)", s1y),
      ...sysMetric("synackOneThreadSysUsPerConnect", "of it system time (kernel, one thread)", s1y),
      rate("synackTwoQueuesConnectsPerSec", "synack connects/s (TUN, 2 queues, a writer thread each)", s2y),
      ...cpuMetric("synackTwoQueuesCpuUsPerConnect", "synack CPU per connect (2 queues)", s2y),
      ...sysMetric("synackTwoQueuesSysUsPerConnect", "of it system time (kernel, 2 queues)", s2y),
      ...jsMetric("synackTwoQueuesJsThreadUsPerConnect", "of it the JavaScript thread (2 queues)", s2y),
      rate("nodeConnectsPerSec", "Node net.connect connects/s", no),
      ...cpuMetric("nodeCpuUsPerConnect", "Node CPU per connect", no),
      { key: "nodeSetupDrops", label: "Node run: listen drops", unit: "count", value: setupDrops(no, l) },
      { key: "nodeRetransmits", label: "Node run: retransmissions (kernel, SYNs included)", unit: "count", value: retransmissions(no) },
    ];
    for (const p of peers) {
      const r = peerRuns.get(p)!;
      metrics.push(rate(`${p}ConnectsPerSec`, `${PEER_LABEL[p]} connects/s (TUN)`, r));
      metrics.push(...cpuMetric(`${p}CpuUsPerConnect`, `${PEER_LABEL[p]} CPU per connect`, r));
    }
    metrics.push(ratio("connectRatio", "synack / Node connects", sy, no, 3));
    metrics.push(ratio("writerThreadRatio", "synack writer thread / one thread", sy, s1y));
    metrics.push(ratio("twoQueuesRatio", "synack 2 queues / writer thread", s2y, sy));
    for (const p of peers) metrics.push(ratio(`${p}Ratio`, `synack / ${PEER_LABEL[p]} connects`, sy, peerRuns.get(p)!, PEER_TARGET[p]));
    for (const p of peers) metrics.push(ratio(`${p}TwoQueuesRatio`, `synack 2 queues / ${PEER_LABEL[p]} connects`, s2y, peerRuns.get(p)!));
    metrics.push({ key: "synackConnectFailures", label: "synack connects failed", unit: "count", value: sy.failed });
    metrics.push({ key: "synackTwoQueuesConnectFailures", label: "synack connects failed (2 queues)", unit: "count", value: s2y.failed });
    metrics.push({ key: "nodeConnectFailures", label: "Node connects failed", unit: "count", value: no.failed });
    return metrics;
  },
  async teardown(): Promise<void> {
    await lab?.close();
    lab = undefined;
  },
};

/** SYNs the listener dropped (ListenDrops counts every drop at a listener) and packets the TUNs dropped. */
function setupDrops(r: MeasuredRun, l: ConnectLab): number {
  return (r.kernel["TcpExtListenDrops"] ?? 0) + l.tunDrops(r);
}

/** Retransmitted segments in the namespace (the kernel's SYN-ACKs, Node's SYNs) plus synack's own SYN retransmissions. */
function retransmissions(r: MeasuredRun): number {
  return (r.kernel["TcpRetransSegs"] ?? 0) + r.synRetransmits;
}
