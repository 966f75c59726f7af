// Connect load through the WSK facade with IRPs (docs/robustness.md): many connects with bounded
// concurrency, every IRP's completions counted, a global deadline so nothing can hang the
// run, and the outcome distribution. Used by test/wsk/load-kernel.test.ts, in process and (for the
// memory measurement, which needs `node --expose-gc`) in a child process from dist/.
import { performance } from "node:perf_hooks";
import { Stack } from "../../stack/stack.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { Runtime } from "../../device/runtime.js";
import { WskClient } from "../wsk/client.js";
import { Lab } from "./lab.js";
import { cryptoRandom } from "../../device/random.js";
import { SYNACK_SO_PROFILE, WskProvider, type WSK_SOCKET } from "../wsk/provider.js";
import {
  IoAllocateIrp,
  IoCancelIrp,
  IoSetCompletionRoutine,
  setBugCheckHandler,
  type Irp,
} from "../wsk/irp.js";
import { STATUS_MORE_PROCESSING_REQUIRED, STATUS_SUCCESS, statusName, type NtStatus } from "../wsk/ntstatus.js";
import {
  SIO_TCP_INITIAL_RTO,
  SOL_SOCKET,
  TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_RTT,
  WSK_FLAG_ABORTIVE,
  WSK_FLAG_CONNECTION_SOCKET,
  WskIoctl,
  WskSetOption,
} from "../wsk/constants.js";
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, parseSockaddr, sockaddrFamily, sockaddrIn, sockaddrIn6 } from "../wsk/sockaddr.js";

/** Every status docs/ntstatus.md lists as an IRP's final status. */
export const CONTRACT_STATUSES: ReadonlySet<string> = new Set([
  "STATUS_SUCCESS",
  "STATUS_CONNECTION_REFUSED",
  "STATUS_IO_TIMEOUT",
  "STATUS_NETWORK_UNREACHABLE",
  "STATUS_HOST_UNREACHABLE",
  "STATUS_PROTOCOL_UNREACHABLE",
  "STATUS_PORT_UNREACHABLE",
  "STATUS_CANCELLED",
  "STATUS_CONNECTION_RESET",
  "STATUS_CONNECTION_ABORTED",
  "STATUS_INVALID_PARAMETER",
  "STATUS_INVALID_DEVICE_STATE",
  "STATUS_CONNECTION_ACTIVE",
  "STATUS_ADDRESS_ALREADY_ASSOCIATED",
  "STATUS_INVALID_ADDRESS_COMPONENT",
  "STATUS_TOO_MANY_ADDRESSES",
  "STATUS_FILE_FORCED_CLOSED",
]);

export interface ConnectLoadOptions {
  client: WskClient;
  /** "10.99.0.1:7" or "[fd99::1]:7". */
  remote: string;
  count: number;
  /** Connects in flight at once. */
  inFlight: number;
  profile?: ProfileName;
  /** SIO_TCP_INITIAL_RTO Rtt. */
  initialRtoMs?: number;
  /** SIO_TCP_INITIAL_RTO MaxSynRetransmissions (0 = none). */
  synRetries?: number;
  /** Global deadline (ms from the start): an IRP not complete by then counts as hung. */
  deadlineMs: number;
  /** Called once after `count * fraction` connects were started (e.g. to delete the device). */
  midway?: { fraction: number; run: () => void };
}

export interface ConnectLoadResult {
  /** Connects attempted (WskConnect issued or WskSocket refused). */
  started: number;
  /** Final status of each connect IRP (WskConnect), by name. */
  connectStatuses: Record<string, number>;
  /** Every IRP issued, by call, and how many completed exactly once. */
  irps: number;
  irpsByCall: Record<string, number>;
  completedOnce: number;
  /** IRPs completed 0 times by the deadline (hung) and more than once (a 0x44 bug). */
  hung: number;
  completedTwice: number;
  /** Final statuses of any IRP that are not in docs/ntstatus.md's table. */
  nonContract: Record<string, number>;
  /** Bug checks raised by the IRP layer during the run. */
  bugChecks: string[];
  elapsedMs: number;
  /** WskConnect issue-to-completion, ms. */
  connectMs: { p50: number; p99: number; max: number };
}

interface IrpRecord {
  call: string;
  irp: Irp;
  completions: number;
  status: NtStatus | undefined;
}

/**
 * Runs `count` connects, `inFlight` at a time, each as its own WSK socket: WskSocket,
 * WskControlSocket (profile, SIO_TCP_INITIAL_RTO), WskBind, WskConnect and, after a
 * successful connect, an abortive WskDisconnect (RST); then WskCloseSocket. Resolves when
 * every connect finished or at the deadline, whichever comes first.
 */
export async function runConnectLoad(o: ConnectLoadOptions): Promise<ConnectLoadResult> {
  const ra = parseSockaddr(o.remote);
  if (!ra.ok) throw new Error(`bad remote address "${o.remote}": ${ra.reason}`);
  const remote = ra.value;
  const family = sockaddrFamily(remote);
  const npi = o.client.npi;
  const records: IrpRecord[] = [];
  const bugChecks: string[] = [];
  const previousBugCheck = setBugCheckHandler((code, reason) => {
    bugChecks.push(`0x${code.toString(16)}: ${reason}`);
  });
  const connectStatuses: Record<string, number> = {};
  const latencies: number[] = [];
  const t0 = performance.now();
  let next = 0;
  let started = 0;
  let over = false;
  let midwayDone = false;

  /** Issues one WSK call with a fresh IRP whose completions are counted. */
  const issue = (call: string, fn: (irp: Irp) => NtStatus): Promise<NtStatus> =>
    new Promise((resolve) => {
      const irp = IoAllocateIrp();
      const rec: IrpRecord = { call, irp, completions: 0, status: undefined };
      records.push(rec);
      IoSetCompletionRoutine(
        irp,
        (_dev, done) => {
          rec.completions++;
          rec.status = done.IoStatus.Status;
          resolve(done.IoStatus.Status);
          // Keep the IRP: the record still looks at it (and a 2nd completion must be seen).
          return STATUS_MORE_PROCESSING_REQUIRED;
        },
        undefined,
      );
      fn(irp);
    });

  const oneConnect = async (): Promise<void> => {
    let socket: WSK_SOCKET | undefined;
    const st = await issue("WskSocket", (irp) => {
      const r = npi.Dispatch.WskSocket(npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null, null, null, null, irp);
      if (r === STATUS_SUCCESS) socket = irp.IoStatus.Information as WSK_SOCKET;
      return r;
    });
    started++;
    if (st !== STATUS_SUCCESS || !socket) {
      connectStatuses[`WskSocket ${statusName(st)}`] = (connectStatuses[`WskSocket ${statusName(st)}`] ?? 0) + 1;
      return;
    }
    const s = socket;
    const d = s.Dispatch;
    if (o.profile) await issue("WskControlSocket", (irp) => d.WskControlSocket(s, WskSetOption, SYNACK_SO_PROFILE, SOL_SOCKET, 0, o.profile, 0, null, null, irp));
    if (o.initialRtoMs !== undefined || o.synRetries !== undefined) {
      const MaxSynRetransmissions =
        o.synRetries === undefined ? TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS : o.synRetries === 0 ? TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS : o.synRetries;
      const Rtt = o.initialRtoMs ?? TCP_INITIAL_RTO_UNSPECIFIED_RTT;
      await issue("WskControlSocket", (irp) => d.WskControlSocket(s, WskIoctl, SIO_TCP_INITIAL_RTO, 0, 0, { Rtt, MaxSynRetransmissions }, 0, null, null, irp));
    }
    const local = family === AF_INET ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0);
    await issue("WskBind", (irp) => d.WskBind(s, local, 0, irp));
    const tc = performance.now();
    const cst = await issue("WskConnect", (irp) => d.WskConnect(s, remote, 0, irp));
    latencies.push(performance.now() - tc);
    connectStatuses[statusName(cst)] = (connectStatuses[statusName(cst)] ?? 0) + 1;
    if (cst === STATUS_SUCCESS) await issue("WskDisconnect", (irp) => d.WskDisconnect(s, null, WSK_FLAG_ABORTIVE, irp));
    await issue("WskCloseSocket", (irp) => d.WskCloseSocket(s, irp));
  };

  const worker = async (): Promise<void> => {
    while (!over && next < o.count) {
      next++;
      if (o.midway && !midwayDone && next >= o.count * o.midway.fraction) {
        midwayDone = true;
        o.midway.run();
      }
      await oneConnect();
    }
  };

  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    deadlineTimer = setTimeout(resolve, o.deadlineMs);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: Math.min(o.inFlight, o.count) }, worker)), deadline]);
  } finally {
    over = true;
    clearTimeout(deadlineTimer);
  }
  const elapsedMs = performance.now() - t0;

  // Tally before cleaning up, so a hung IRP counts as hung even if the cancel below completes it.
  let completedOnce = 0;
  let hung = 0;
  let completedTwice = 0;
  const irpsByCall: Record<string, number> = {};
  const nonContract: Record<string, number> = {};
  const stuck: Irp[] = [];
  for (const r of records) {
    irpsByCall[r.call] = (irpsByCall[r.call] ?? 0) + 1;
    if (r.completions === 1) completedOnce++;
    else if (r.completions === 0) {
      hung++;
      stuck.push(r.irp);
    } else completedTwice++;
    if (r.status !== undefined && !CONTRACT_STATUSES.has(statusName(r.status))) {
      nonContract[statusName(r.status)] = (nonContract[statusName(r.status)] ?? 0) + 1;
    }
  }
  // Hung IRPs are cancelled so the run leaves nothing behind (their sockets stay to the caller).
  for (const irp of stuck) IoCancelIrp(irp);
  setBugCheckHandler(previousBugCheck);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10) / 10 : 0);
  return {
    started,
    connectStatuses,
    irps: records.length,
    irpsByCall,
    completedOnce,
    hung,
    completedTwice,
    nonContract,
    bugChecks,
    elapsedMs: Math.round(elapsedMs),
    connectMs: { p50: pct(0.5), p99: pct(0.99), max: pct(1) },
  };
}

// ---------------------------------------------------------------------------------------
// Black-holed connects with a heap measurement (run under `node --expose-gc`).

export interface BlackholeRunOptions {
  count: number;
  inFlight: number;
  initialRtoMs: number;
  synRetries: number;
  /** Rounds of `count` connects; heap is measured after each (default 2). */
  rounds?: number;
  deadlineMs: number;
}

export interface BlackholeRunResult {
  rounds: Array<ConnectLoadResult & { heapAfterBytes: number; leftovers: Leftovers }>;
  heapBaselineBytes: number;
  heapPeakBytes: number;
  rssBaselineBytes: number;
  rssAfterBytes: number;
}

export interface Leftovers {
  connections: number;
  pendingTimers: number;
  boundPorts: number;
  openSockets: number;
  nextDeadline: number | undefined;
}

/**
 * In a fresh lab (route `blackhole 10.99.1.0/24`): a warm-up, a forced GC and the baseline
 * heap, then `rounds` x `count` connects to 10.99.1.1:80, each followed by forced GCs and
 * the heap and the stack's leftovers. Needs `global.gc` (node --expose-gc) and root.
 */
export async function runBlackholeMemory(o: BlackholeRunOptions): Promise<BlackholeRunResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("runBlackholeMemory needs node --expose-gc");
  const fullGc = async () => {
    // Several passes with turns of the loop between them: weak callbacks and finalizers run late.
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
  };
  const lab = await Lab.create({ routes: [["blackhole", "10.99.1.0/24"]] });
  const stack = new Stack({ addresses: ["10.99.0.2/24"], gateway4: "10.99.0.1", profile: "windows", random: cryptoRandom() });
  const rt = new Runtime(stack, lab.tun);
  const provider = new WskProvider(stack, { now: rt.clock, afterCall: () => rt.kick() });
  const client = new WskClient(provider);
  const leftovers = (): Leftovers => ({
    connections: stack.connectionCount,
    pendingTimers: stack.pendingTimers,
    boundPorts: stack.boundPorts,
    openSockets: provider.openSockets,
    nextDeadline: stack.nextDeadline(),
  });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 50);
  try {
    const base = { client, remote: "10.99.1.1:80", inFlight: o.inFlight, initialRtoMs: o.initialRtoMs, synRetries: o.synRetries, deadlineMs: o.deadlineMs };
    // Warm-up: JIT, code caches and the tables' first growth are not a leak.
    await runConnectLoad({ ...base, count: Math.min(o.count, 2 * o.inFlight) });
    await fullGc();
    const heapBaselineBytes = process.memoryUsage().heapUsed;
    const rssBaselineBytes = process.memoryUsage().rss;
    const rounds: BlackholeRunResult["rounds"] = [];
    for (let i = 0; i < (o.rounds ?? 2); i++) {
      const r = await runConnectLoad({ ...base, count: o.count });
      // Let the runtime's last flush run (it is scheduled by kick()).
      await new Promise((res) => setTimeout(res, 10));
      const left = leftovers();
      await fullGc();
      rounds.push({ ...r, heapAfterBytes: process.memoryUsage().heapUsed, leftovers: left });
    }
    return { rounds, heapBaselineBytes, heapPeakBytes: peak, rssBaselineBytes, rssAfterBytes: process.memoryUsage().rss };
  } finally {
    clearInterval(sampler);
    client.close();
    await rt.close();
    await lab.close();
  }
}
