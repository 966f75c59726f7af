// Teardown at the WSK level, with the pieces wired by hand (Stack, Runtime, WskProvider on
// the simulated peer): runtime.close() with 2 000 connects pending completes every pending
// IRP exactly once (STATUS_CANCELLED) once the provider is attached to the runtime, and the
// promise API's connect leaves no abort listener behind on a shared AbortSignal.
import { randomBytes } from "node:crypto";
import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Stack } from "../../stack/stack.js";
import { Runtime } from "../../device/runtime.js";
import { cryptoRandom } from "../../device/random.js";
import { WskProvider } from "../../src/wsk/provider.js";
import { WskClient } from "../../src/wsk/client.js";
import { setBugCheckHandler, type BugCheckHandler } from "../../src/wsk/irp.js";
import { connect, NtStatusError } from "../../src/api.js";
import { SimDevice, simulatedNetwork } from "../../src/lab/simpeer.js";

function build() {
  const stack = new Stack({ addresses: ["10.99.0.2/24"], gateway4: "10.99.0.1", random: cryptoRandom(), isnSecret: randomBytes(16) });
  const runtime = new Runtime(stack, new SimDevice(simulatedNetwork()));
  const provider = new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.kick() }).attachTo(runtime);
  return { stack, runtime, provider, client: new WskClient(provider) };
}

async function settle<T>(ps: Array<Promise<T>>): Promise<NtStatusError[]> {
  const r = await Promise.allSettled(ps);
  expect(r.filter((x) => x.status === "fulfilled")).toEqual([]);
  return r.map((x) => (x as PromiseRejectedResult).reason);
}

describe("teardown through the WSK facade", () => {
  const bugChecks: string[] = [];
  let previous: BugCheckHandler;
  beforeEach(() => {
    bugChecks.length = 0;
    // Completing an IRP twice is a bug check (0x44): collect them instead of throwing.
    previous = setBugCheckHandler((code, reason) => bugChecks.push(`${code.toString(16)} ${reason}`));
  });
  afterEach(() => {
    setBugCheckHandler(previous);
    expect(bugChecks).toEqual([]);
  });

  it("runtime.close() with 2 000 connects pending: every IRP completes once, STATUS_CANCELLED; nothing is left", async () => {
    const { stack, runtime, provider, client } = build();
    const pending = Array.from({ length: 2000 }, () => connect(client, "10.99.1.1:80"));
    await new Promise((r) => setTimeout(r, 50));
    expect(stack.connectionCount).toBe(2000);
    expect(provider.openSockets).toBe(2000);
    await runtime.close();
    const errors = await settle(pending);
    expect(errors).toHaveLength(2000);
    expect(new Set(errors.map((e) => e.statusName))).toEqual(new Set(["STATUS_CANCELLED"]));
    expect(provider.openSockets).toBe(0);
    expect(stack.connectionCount).toBe(0);
    expect(stack.pendingTimers).toBe(0);
    // Afterwards the network is down: a new connect completes at once.
    await expect(connect(client, "10.99.0.1:7")).rejects.toMatchObject({ statusName: "STATUS_NETWORK_UNREACHABLE" });
    client.close();
  });

  it("1 000 refused connects sharing one AbortSignal: no listener left, no MaxListenersExceededWarning", async () => {
    const { runtime, client } = build();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const ac = new AbortController();
      const errors = await settle(Array.from({ length: 1000 }, () => connect(client, "10.99.0.1:9", { signal: ac.signal, profile: "linux" })));
      expect(new Set(errors.map((e) => e.statusName))).toEqual(new Set(["STATUS_CONNECTION_REFUSED"]));
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      client.close();
      await runtime.close();
    }
  });
});
