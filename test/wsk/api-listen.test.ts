// The promise API's listen(): two synack stacks joined by an in-process pipe, in real time
// (milliseconds): connect() on one, listen() on the other, data both ways, accept() and
// onConnection, close with an accept pending, the backlog option, bad arguments.
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { cryptoRandom } from "../../device/random.js";
import { Runtime } from "../../device/runtime.js";
import { Stack } from "../../stack/stack.js";
import { connect, type WskConnection } from "../../src/api.js";
import { listen } from "../../src/listen.js";
import { devicePipe } from "../../src/lab/pipe.js";
import { WskClient } from "../../src/wsk/client.js";
import { NtStatusError } from "../../src/wsk/ntstatus.js";
import { WskProvider } from "../../src/wsk/provider.js";

function endpoint(device: ReturnType<typeof devicePipe>[0], addresses: string[]) {
  const stack = new Stack({ addresses, profile: "linux", random: cryptoRandom(), isnSecret: randomBytes(16) });
  const runtime = new Runtime(stack, device);
  const provider = new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.kick(), profile: "linux" });
  const client = new WskClient(provider);
  return { stack, runtime, provider, client, close: async () => (client.close(), await runtime.close()) };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function pair() {
  const [a, b] = devicePipe();
  const server = endpoint(a, ["10.99.7.2/24", "fd99:7::2/64"]);
  const client = endpoint(b, ["10.99.7.1/24", "fd99:7::1/64"]);
  cleanups.push(server.close, client.close);
  return { server, client };
}

async function readAll(c: WskConnection): Promise<string> {
  let s = "";
  for await (const chunk of c) s += new TextDecoder().decode(chunk);
  return s;
}

describe("listen() (promise API over the WSK facade)", () => {
  it("accept(): data both ways, graceful close both ways", async () => {
    const { server, client } = pair();
    const l = await listen(server.client, 9000);
    expect(l.local).toBe("0.0.0.0:9000");
    const accepted = l.accept();
    const c = await connect(client.client, "10.99.7.2:9000");
    const s = await accepted;
    expect(s.remote).toBe(c.local);
    expect(s.local).toBe("10.99.7.2:9000");
    await c.write("ping");
    expect(new TextDecoder().decode((await s.read())!)).toBe("ping");
    await s.write("pong");
    await s.end();
    expect(await readAll(c)).toBe("pong");
    await c.end();
    expect(await s.read()).toBeNull();
    await s.close();
    await c.close();
    await l.close();
    expect(server.provider.openSockets).toBe(0);
  });

  it("onConnection: every connection arrives through WskAcceptEvent, IPv6 too", async () => {
    const { server, client } = pair();
    const got: WskConnection[] = [];
    const l = await listen(server.client, 9001, { host: "::", onConnection: (conn) => got.push(conn) });
    expect(l.local).toBe("[::]:9001");
    const cs = await Promise.all([1, 2, 3].map(() => connect(client.client, "[fd99:7::2]:9001")));
    await new Promise((r) => setTimeout(r, 20));
    expect(got.map((g) => g.remote).sort()).toEqual(cs.map((c) => c.local).sort());
    for (const c of cs) c.destroy();
    for (const g of got) await g.close();
    await l.close();
  });

  it("port 0 picks a port; close() rejects a pending accept with STATUS_CANCELLED and ends `for await`", async () => {
    const { server } = pair();
    const l = await listen(server.client, 0, { backlog: 7 });
    expect(l.port).toBeGreaterThan(0);
    expect(await l.backlog()).toBe(7);
    const pending = l.accept();
    const iterated = (async () => {
      const seen: WskConnection[] = [];
      for await (const c of l) seen.push(c);
      return seen.length;
    })();
    await l.close();
    await expect(pending).rejects.toMatchObject({ statusName: "STATUS_CANCELLED" });
    expect(await iterated).toBe(0);
  });

  it("a port in use and a bad address reject with NtStatusError", async () => {
    const { server } = pair();
    const l = await listen(server.client, 9002);
    await expect(listen(server.client, 9002)).rejects.toMatchObject({ statusName: "STATUS_ADDRESS_ALREADY_ASSOCIATED", code: "EADDRINUSE" });
    await expect(listen(server.client, 9003, { host: "10.1.2.3" })).rejects.toBeInstanceOf(NtStatusError);
    await expect(listen(server.client, 70000)).rejects.toMatchObject({ statusName: "STATUS_INVALID_PARAMETER" });
    await l.close();
    expect(server.provider.openSockets).toBe(0);
  });
});
