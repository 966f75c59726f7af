// Benchmark 1 (BENCHMARKS.md): connects per second over TUN to a kernel listener in a
// namespace, 64 in flight, against Node's own net.connect (the kernel's TCP) to the same
// listener in the same run.
//
// Both sides do the same thing per connection: open it, wait for the handshake to
// complete, then drop it with a RST (synack: abort(); Node: socket.resetAndDestroy()), and
// open the next. The listener (a Node process in the namespace) accepts and destroys.
// synack runs in this process on the TUN through the Runtime (real clock, one timer,
// batched device I/O); Node's client runs in a child process inside the namespace, so its
// connects go to the same listener over the namespace's local route. They run one after
// the other, never at the same time.
import { cryptoRandom } from "../../device/random.js";
import type { ChildProcess } from "node:child_process";
import { Stack } from "../../stack/stack.js";
import { Connection, type ConnectionEvents } from "../../stack/tcp/connection.js";
import { Runtime } from "../../device/runtime.js";
import { TunDevice } from "../../device/tun/index.js";
import { LISTENER_JS, labSkipReason, makeNamespace, removeNamespace, runNodeInNamespace, startNodeInNamespace, stopChild } from "./lab.js";
import type { Benchmark, Metric } from "./types.js";

const KERNEL = "10.79.0.1";
const STACK = "10.79.0.2";
const PORT = 8080;
const IN_FLIGHT = 64;


export interface ConnectRate {
  completed: number;
  failed: number;
  elapsedMs: number;
  perSec: number;
}

/** synack: `n` connects, `inFlight` at a time, each aborted once ESTABLISHED. */
export function synackConnects(dev: TunDevice, n: number, inFlight: number, timeoutMs: number, remote = { addr: KERNEL, port: PORT }): Promise<ConnectRate> {
  const stack = new Stack({ addresses: [`${STACK}/24`], random: cryptoRandom(), profile: "windows" });
  const rt = new Runtime(stack, dev);
  return new Promise((resolve) => {
    let started = 0;
    let completed = 0;
    let failed = 0;
    let scheduled = false;
    let over = false;
    const toAbort: Connection[] = [];
    const t0 = performance.now();
    const events: ConnectionEvents = {
      established(c) {
        toAbort.push(c);
        schedule();
      },
      closed(c) {
        if (c.owner !== "done") {
          failed++;
          schedule();
        }
      },
    };
    const finish = (): void => {
      if (over) return;
      over = true;
      clearTimeout(guard);
      const elapsedMs = performance.now() - t0;
      dev.onReceive(() => {}); // detach this run's runtime (the device lives on)
      resolve({ completed, failed, elapsedMs, perSec: (completed / elapsedMs) * 1000 });
    };
    const guard = setTimeout(finish, timeoutMs);
    function schedule(): void {
      if (scheduled || over) return;
      scheduled = true;
      queueMicrotask(pump);
    }
    function pump(): void {
      scheduled = false;
      if (over) return;
      const now = rt.now();
      for (let i = 0; i < toAbort.length; i++) {
        const c = toAbort[i];
        c.owner = "done";
        c.abort(now);
        completed++;
      }
      toAbort.length = 0;
      while (started < n && started - completed - failed < inFlight) {
        started++;
        const c = stack.connect({ remote }, now);
        if (!(c instanceof Connection)) {
          failed++;
          continue;
        }
        c.events = events;
      }
      rt.flush(now);
      if (completed + failed >= n) finish();
    }
    pump();
  });
}

/** Node's net.connect, run inside the namespace; prints {completed, failed, elapsedMs}. */
const NODE_CONNECTS_JS = `
import net from "node:net";
const [host, port, nText, inFlightText] = process.argv.slice(-4);
const n = Number(nText), inFlight = Number(inFlightText);
let started = 0, completed = 0, failed = 0;
const t0 = performance.now();
function done() {
  const elapsedMs = performance.now() - t0;
  console.log(JSON.stringify({ completed, failed, elapsedMs }));
  process.exit(0);
}
function one() {
  started++;
  const s = net.connect({ host, port: Number(port) });
  let connected = false;
  s.on("connect", () => {
    connected = true;
    s.resetAndDestroy();
    completed++;
    next();
  });
  s.on("error", () => {
    if (!connected) { failed++; next(); }
  });
}
function next() {
  if (completed + failed >= n) return done();
  while (started < n && started - completed - failed < inFlight) one();
}
next();
`;

export async function nodeConnects(ns: string, n: number, inFlight: number, timeoutMs: number, host = KERNEL, port = PORT): Promise<ConnectRate> {
  const r = (await runNodeInNamespace(ns, NODE_CONNECTS_JS, [host, String(port), String(n), String(inFlight)], timeoutMs)) as { completed: number; failed: number; elapsedMs: number };
  return { ...r, perSec: (r.completed / r.elapsedMs) * 1000 };
}

let ns: string | undefined;
let dev: TunDevice | undefined;
let listener: ChildProcess | undefined;

export const tunConnects: Benchmark = {
  name: "connects",
  section: 1,
  title: "Connects/s over TUN vs Node's net.connect",
  measures:
    "handshake-then-RST connects, 64 in flight, to a kernel listener in a namespace: synack on a TUN (this process) vs Node's net.connect (child process in the namespace), same listener, one after the other",
  notes: [
    "connects: synack uses the windows profile, cryptographic ISN/port randomness, the Runtime's real clock and batched TUN I/O",
    "connects: both clients close with RST right after the handshake, so no TIME-WAIT piles up on either side",
  ],
  unavailable: labSkipReason,
  async setup(): Promise<void> {
    ns = makeNamespace();
    dev = TunDevice.open({ name: "sbtun1", netns: ns, addresses: [`${KERNEL}/24`], maxBatch: 256 });
    listener = await startNodeInNamespace(ns, LISTENER_JS, [KERNEL, String(PORT), "drop"]);
  },
  async run(quick: boolean): Promise<Metric[]> {
    const n = quick ? 500 : 20_000;
    const timeoutMs = quick ? 20_000 : 120_000;
    const s = await synackConnects(dev!, n, IN_FLIGHT, timeoutMs);
    const k = await nodeConnects(ns!, n, IN_FLIGHT, timeoutMs);
    if (s.completed === 0) throw new Error(`synack completed no connect (${s.failed} failed)`);
    return [
      { key: "synackConnectsPerSec", label: "synack connects/s (TUN)", unit: "1/s", value: s.perSec },
      { key: "nodeConnectsPerSec", label: "Node net.connect connects/s", unit: "1/s", value: k.perSec },
      { key: "connectRatio", label: "synack / Node connects", unit: "x", value: s.perSec / k.perSec, ratio: true, target: { op: ">=", value: 2 } },
      { key: "synackConnectFailures", label: "synack connects failed", unit: "count", value: s.failed },
      { key: "nodeConnectFailures", label: "Node connects failed", unit: "count", value: k.failed },
    ];
  },
  async teardown(): Promise<void> {
    await stopChild(listener);
    listener = undefined;
    await dev?.close();
    dev = undefined;
    removeNamespace(ns);
    ns = undefined;
  },
};
