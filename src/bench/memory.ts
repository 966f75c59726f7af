// Benchmark 3 (BENCHMARKS.md): heap bytes per pending connection with 100 000 connects in
// SYN-SENT, and the cost of one timer operation at 1 000 and at 1 000 000 pending timers.
//
// Heap is measured with forced full GCs before and after (V8's gc(), enabled at run time
// with --expose-gc and fetched from a fresh context, so no command-line flag is needed):
// the least heapUsed over six of them, see liveHeapBytes.
// It counts everything the stack keeps for a pending connect: the Connection, its
// profile, its timer entry, its slot in the demultiplexing table, the port search state.
// The SYNs themselves are taken out (a device would have sent them).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { TimerHeap, type TimerOwner } from "../../stack/timers.js";
import type { Benchmark, Metric } from "./types.js";

let gcFn: (() => void) | undefined;

/** V8's full garbage collection, or undefined if it cannot be enabled. */
export function getGc(): (() => void) | undefined {
  if (gcFn) return gcFn;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === "function") return (gcFn = g);
  try {
    setFlagsFromString("--expose-gc");
    const f = runInNewContext("gc") as unknown;
    if (typeof f === "function") gcFn = f as () => void;
  } catch {
    gcFn = undefined;
  }
  return gcFn;
}

/**
 * The live heap in bytes: the least heapUsed over several forced full GCs. One or two GCs
 * are not enough: what an earlier benchmark left can survive them as floating garbage
 * (objects V8 had already marked in an incremental cycle, weak and finalizable objects) and
 * be freed only by the third, which made a measurement right after the engine benchmark
 * come out negative. Garbage only adds to heapUsed, so the least reading is the live heap.
 */
export function liveHeapBytes(gc: () => void, rounds = 6): number {
  let least = Infinity;
  for (let i = 0; i < rounds; i++) {
    gc();
    least = Math.min(least, process.memoryUsage().heapUsed);
  }
  return least;
}

export interface PendingMemory {
  connections: number;
  heapBytes: number;
  bytesPerConnection: number;
}

/** Opens `n` connects that stay in SYN-SENT and reports the heap they hold. */
export function pendingConnectionMemory(n: number): PendingMemory {
  const gc = getGc();
  if (!gc) throw new Error("cannot enable gc() (--expose-gc)");
  const before = liveHeapBytes(gc);
  const stack = new Stack({ addresses: ["10.0.0.2/16"], random: seededRandom(3), profile: "windows" });
  // Distinct remote ports on a few addresses: each pair has its own RFC 6056 port space.
  const remote = { addr: "10.0.1.1", port: 1 };
  const addrs = ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"];
  let now = 0;
  for (let i = 0; i < n; i++) {
    remote.addr = addrs[i & 3];
    remote.port = 1 + ((i >> 2) % 65535);
    const c = stack.connect({ remote }, now);
    if (!(c instanceof Connection)) throw new Error(`connect ${i} failed: ${c.error}: ${c.detail}`);
    if ((i & 1023) === 1023) {
      stack.takeOutput();
      now += 0.001;
    }
  }
  stack.takeOutput();
  if (stack.connectionCount !== n) throw new Error(`expected ${n} connections, have ${stack.connectionCount}`);
  const after = liveHeapBytes(gc);
  // Keep the stack alive until after the measurement.
  if (stack.pendingTimers !== n) throw new Error(`expected ${n} pending timers, have ${stack.pendingTimers}`);
  const heapBytes = after - before;
  return { connections: n, heapBytes, bytesPerConnection: heapBytes / n };
}

/** A timer owner as small as possible, so the measurement is of the heap itself. */
class Owner implements TimerOwner {
  timerGen = 0;
  timerAt = Infinity;
}

export interface TimerCost {
  pending: number;
  /** ns for arming a new deadline (the connect's SYN timer). */
  armNs: number;
  /** ns for cancelling a deadline (SYN-ACK arrived). */
  cancelNs: number;
  /** ns for popping an expired deadline and re-arming its owner (a retransmission). */
  popNs: number;
  /** Mean of the three. */
  opNs: number;
}

/**
 * Fills a TimerHeap with `pending` live deadlines spread over 0..60 s and then times `ops`
 * operations of each kind, keeping the pending count constant: arm+cancel pairs on fresh
 * owners (arm and cancel timed separately) and pop+re-arm of due ones as the clock moves.
 */
export function timerOperationCost(pending: number, ops: number, seed = 11): TimerCost {
  const rnd = seededRandom(seed);
  const heap = new TimerHeap<Owner>();
  const owners: Owner[] = new Array(pending);
  const spanMs = 60_000;
  for (let i = 0; i < pending; i++) {
    owners[i] = new Owner();
    heap.arm(owners[i], (rnd.nextUint32() % (spanMs * 1000)) / 1000);
  }
  // A pool of extra owners for arm/cancel; deadlines after "now", like new connects.
  const poolSize = 1024;
  const pool: Owner[] = [];
  for (let i = 0; i < poolSize; i++) pool.push(new Owner());
  const deltas = new Float64Array(4096);
  for (let i = 0; i < deltas.length; i++) deltas[i] = 1000 + (rnd.nextUint32() % 3_000_000) / 1000;
  let now = 0;

  // arm: a new deadline (now + 1..3001 ms, like a SYN timer), then cancel it.
  let armTime = 0n;
  let cancelTime = 0n;
  const batch = 1024;
  for (let done = 0; done < ops; done += batch) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) heap.arm(pool[i], now + deltas[(done + i) & 4095]);
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) heap.cancel(pool[i]);
    const t2 = process.hrtime.bigint();
    armTime += t1 - t0;
    cancelTime += t2 - t1;
  }
  // pop: move the clock so that deadlines expire, re-arm each popped owner later on.
  const t3 = process.hrtime.bigint();
  let popped = 0;
  let k = 0;
  while (popped < ops) {
    const o = heap.popDue(now);
    if (o === undefined) {
      // Jump the clock to the next deadline, as the runtime's single timer does.
      now = heap.peek() ?? now + 1;
      continue;
    }
    heap.arm(o, now + spanMs * 0.5 + deltas[k++ & 4095]);
    popped++;
  }
  const popTime = process.hrtime.bigint() - t3;
  if (heap.liveCount !== pending) throw new Error(`timer heap lost owners: ${heap.liveCount} != ${pending}`);
  const armNs = Number(armTime) / ops;
  const cancelNs = Number(cancelTime) / ops;
  const popNs = Number(popTime) / ops;
  return { pending, armNs, cancelNs, popNs, opNs: (armNs + cancelNs + popNs) / 3 };
}

export const memoryAndTimers: Benchmark = {
  name: "memory",
  section: 3,
  title: "Memory per pending connect; timer operation cost",
  measures:
    "heap bytes per connection with 100 000 connects in SYN-SENT (full GC before/after); ns per timer arm, cancel and pop+re-arm at 1 000 and 1 000 000 pending timers",
  notes: [
    "memory: windows profile, IPv4, one Stack, SYNs taken out of the outbox; heapUsed difference after forced full GCs",
    "memory: timer ops on the engine's TimerHeap with minimal owners; pop includes re-arming the owner (pending count stays constant)",
  ],
  unavailable(): string | undefined {
    return getGc() ? undefined : "cannot enable gc() for heap measurement";
  },
  async run(quick: boolean): Promise<Metric[]> {
    const n = quick ? 10_000 : 100_000;
    const mem = pendingConnectionMemory(n);
    const ops = quick ? 20_480 : 1_048_576;
    timerOperationCost(1_000, 20_480, 5); // warm-up: compile the timer code before timing it
    const small = timerOperationCost(1_000, ops);
    const large = timerOperationCost(quick ? 100_000 : 1_000_000, ops);
    const pendingLabel = quick ? "100k" : "1M";
    return [
      { key: "bytesPerPendingConnection", label: `heap per SYN-SENT connection (${n} pending)`, unit: "bytes", value: mem.bytesPerConnection, target: { op: "<=", value: 512 } },
      { key: "timerArmNs1k", label: "timer arm, 1k pending", unit: "ns", value: small.armNs },
      { key: "timerCancelNs1k", label: "timer cancel, 1k pending", unit: "ns", value: small.cancelNs },
      { key: "timerPopNs1k", label: "timer pop+re-arm, 1k pending", unit: "ns", value: small.popNs },
      { key: "timerArmNs1M", label: `timer arm, ${pendingLabel} pending`, unit: "ns", value: large.armNs },
      { key: "timerCancelNs1M", label: `timer cancel, ${pendingLabel} pending`, unit: "ns", value: large.cancelNs },
      { key: "timerPopNs1M", label: `timer pop+re-arm, ${pendingLabel} pending`, unit: "ns", value: large.popNs },
      { key: "timerOpRatio", label: `timer op cost ${pendingLabel} / 1k (mean of arm, cancel, pop)`, unit: "x", value: large.opNs / small.opNs, ratio: true, target: { op: "<=", value: 2 } },
    ];
  },
};
