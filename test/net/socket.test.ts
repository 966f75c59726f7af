// The net.Socket surface of SynackSocket against the real kernel (lab namespace, root only):
// events and their order, end() sends a FIN and destroy()/resetAndDestroy() a RST (as the
// kernel-side server sees them), allowHalfOpen, setTimeout, setNoDelay, addresses and
// families, byte counters, writes before the connect completes, readyState.
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import type { SynackSocket } from "../../src/net/socket.js";
import { startLabServer, type LabServer } from "./lab-servers.js";

const why = Lab.unavailableReason();

// Port 9100: echo. Port 9101: says "hello" and half-closes at once. Both allowHalfOpen, and
// both log every connection's data, end (the peer's FIN), error (e.g. ECONNRESET: a RST) and close.
const LOGGING_SERVER = `
import net from "node:net";
let n = 0;
const log = (o) => console.log(JSON.stringify(o));
const handle = (mode) => (s) => {
  const id = ++n;
  const port = s.remotePort;
  let bytes = 0;
  log({ event: "connection", id, port, mode });
  s.on("data", (d) => { bytes += d.length; log({ event: "data", id, port, text: d.toString() }); if (mode === "echo") s.write(d); });
  s.on("end", () => { log({ event: "end", id, port, bytes }); if (mode === "echo") s.end(); });
  s.on("error", (e) => log({ event: "error", id, port, code: e.code }));
  s.on("close", () => log({ event: "close", id, port }));
  if (mode === "hello") s.end("hello");
};
let up = 0;
for (const [port, mode] of [[9100, "echo"], [9101, "hello"]]) {
  net.createServer({ allowHalfOpen: true }, handle(mode)).listen({ port, host: "::" }, () => { if (++up === 2) log({ ready: true }); });
}
process.stdin.on("end", () => process.exit(0)).resume();
`;

const closeOf = (s: SynackSocket): Promise<boolean> => new Promise((r) => s.once("close", (hadError: boolean) => r(hadError)));

describe.skipIf(why !== undefined)(`SynackSocket against the kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  let net: Network;
  let server: LabServer;
  beforeAll(async () => {
    net = await openStack({ lab: true, profile: "linux" });
    server = await startLabServer(net, LOGGING_SERVER);
  });
  afterAll(async () => {
    await net?.close();
  });

  it("a whole exchange: events in node:net's order, end() is a FIN, addresses, counters, readyState", async () => {
    const s = net.createConnection({ host: "10.99.0.1", port: 9100 });
    const events: string[] = [];
    for (const e of ["lookup", "connect", "ready", "end", "finish", "error"]) s.on(e, () => events.push(e));
    expect(s.connecting).toBe(true);
    expect(s.pending).toBe(true);
    expect(s.readyState).toBe("opening");
    // Written before the connect completes: sent once it does.
    expect(s.write("early,")).toBe(true);
    await once(s, "connect");
    expect(s.readyState).toBe("open");
    expect(s.pending).toBe(false);
    expect({ la: s.localAddress, lf: s.localFamily, ra: s.remoteAddress, rp: s.remotePort, rf: s.remoteFamily }).toEqual({ la: "10.99.0.2", lf: "IPv4", ra: "10.99.0.1", rp: 9100, rf: "IPv4" });
    expect(s.address()).toEqual({ address: "10.99.0.2", family: "IPv4", port: s.localPort });
    let echoed = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (echoed += d));
    s.end("late");
    const hadError = await closeOf(s);
    expect(hadError).toBe(false);
    expect(echoed).toBe("early,late");
    // connect, ready; then our side finishing and the peer's end, in either order.
    expect(events.slice(0, 2)).toEqual(["connect", "ready"]);
    expect([...events.slice(2)].sort()).toEqual(["end", "finish"]);
    expect(s.bytesWritten).toBe(10);
    expect(s.bytesRead).toBe(10);
    expect(s.readyState).toBe("closed");
    // The kernel saw our FIN (its 'end'), not a reset.
    const end = await server.next((e) => e.event === "end" && e.port === s.localPort);
    expect(end.bytes).toBe(10);
    await server.next((e) => e.event === "close" && e.port === s.localPort);
    expect(server.events.filter((e) => e.event === "error" && e.port === s.localPort)).toEqual([]);
  });

  it("IPv6: families and addresses", async () => {
    const s = net.createConnection({ host: "fd99::1", port: 9100 });
    await once(s, "connect");
    expect({ la: s.localAddress, lf: s.localFamily, ra: s.remoteAddress, rf: s.remoteFamily }).toEqual({ la: "fd99::2", lf: "IPv6", ra: "fd99::1", rf: "IPv6" });
    s.end();
    s.resume();
    expect(await closeOf(s)).toBe(false);
  });

  for (const how of ["destroy", "resetAndDestroy"] as const) {
    it(`${how}() is a RST: the kernel-side server gets ECONNRESET`, async () => {
      const s = net.createConnection({ host: "10.99.0.1", port: 9100 });
      await once(s, "connect");
      s.write("x");
      await server.next((e) => e.event === "data" && e.port === s.localPort);
      const closed = closeOf(s);
      s[how]();
      expect(await closed).toBe(false);
      const err = await server.next((e) => e.event === "error" && e.port === s.localPort);
      expect(err.code).toBe("ECONNRESET");
      expect(server.events.filter((e) => e.event === "end" && e.port === s.localPort)).toEqual([]);
    });
  }

  it("allowHalfOpen: after the peer's FIN the socket still writes, then ends", async () => {
    const s = net.createConnection({ host: "10.99.0.1", port: 9101, allowHalfOpen: true });
    let text = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (text += d));
    await once(s, "end");
    expect(text).toBe("hello");
    expect(s.writable).toBe(true);
    expect(s.readyState).toBe("writeOnly");
    s.end("still here");
    expect(await closeOf(s)).toBe(false);
    const got = await server.next((e) => e.event === "data" && e.port === s.localPort);
    expect(got.text).toBe("still here");
    await server.next((e) => e.event === "end" && e.port === s.localPort);
  });

  it("without allowHalfOpen the socket ends its side when the peer's FIN arrives (node:net's default)", async () => {
    const s = net.createConnection({ host: "10.99.0.1", port: 9101 });
    s.resume();
    expect(await closeOf(s)).toBe(false);
    // Our FIN reached the server: it saw 'end' after its own.
    await server.next((e) => e.event === "end" && e.port === s.localPort);
  });

  it("setTimeout: 'timeout' after the idle time, the socket stays open; activity re-arms it", async () => {
    const s = net.createConnection({ host: "10.99.0.1", port: 9100, timeout: 200 });
    await once(s, "connect");
    const t0 = Date.now();
    await once(s, "timeout");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(s.destroyed).toBe(false);
    s.write("ping");
    await once(s, "data");
    const t1 = Date.now();
    let fired = 0;
    s.setTimeout(300, () => fired++);
    await new Promise((r) => setTimeout(r, 450));
    expect(fired).toBe(1);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(300);
    s.setTimeout(0);
    s.destroy();
    await closeOf(s);
  });

  it("setNoDelay sets TCP_NODELAY on the connection (Nagle off), before and after the connect", async () => {
    const s = net.createConnection({ host: "10.99.0.1", port: 9100, noDelay: true });
    await once(s, "connect");
    const conn = () => [...net.stack.connections()].find((c) => c.localPort === s.localPort && c.state === "ESTABLISHED")!;
    expect(conn().profile.nodelay).toBe(true);
    s.setNoDelay(false);
    expect(conn().profile.nodelay).toBe(false);
    s.setNoDelay();
    expect(conn().profile.nodelay).toBe(true);
    s.destroy();
    await closeOf(s);
  });

  it("setKeepAlive is accepted (no probes: docs/node-api.md) and bad arguments throw Node-style errors", () => {
    const s = net.createConnection({ host: "10.99.0.1", port: 9100 });
    expect(s.setKeepAlive(false)).toBe(s);
    expect(() => s.setTimeout(-1)).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
    expect(() => net.createConnection({ host: "10.99.0.1", port: 70000 })).toThrow(expect.objectContaining({ code: "ERR_SOCKET_BAD_PORT" }));
    s.destroy();
  });
});
