// Failed connects against the real kernel surface as 'error' events with Node's shape
// (code, errno, syscall, address, port) plus the NTSTATUS, on the socket and on an
// http.ClientRequest that uses it: refused (closed port), timed out (black-holed route,
// short timers), host unreachable (an unreachable route: ICMP host unreachable) and network
// unreachable (a throw route: ICMP net unreachable). Root only (the lab).
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import type { SocketError } from "../../src/net/errors.js";
import type { SynackConnectOptions } from "../../src/net/socket.js";

const why = Lab.unavailableReason();

function socketError(net: Network, o: SynackConnectOptions): Promise<{ err: SocketError; events: string[]; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const s = net.createConnection(o);
    const events: string[] = [];
    let err: SocketError | undefined;
    for (const e of ["connect", "ready", "data", "end", "timeout"]) s.on(e, () => events.push(e));
    s.on("error", (e) => {
      events.push("error");
      err = e as SocketError;
    });
    s.on("close", (hadError: boolean) => {
      events.push(`close:${hadError}`);
      if (err) resolve({ err, events, ms: Date.now() - t0 });
      else reject(new Error(`closed without error: ${events.join(",")}`));
    });
  });
}

function requestError(net: Network, host: string, port: number, extra: Partial<SynackConnectOptions> = {}): Promise<NodeJS.ErrnoException & { statusName?: string; status?: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, createConnection: (o) => net.createConnection({ ...o, ...extra }) }, () => reject(new Error("got a response")));
    req.on("error", resolve);
  });
}

describe.skipIf(why !== undefined)(`connect errors look like Node's${why ? ` (skipped: ${why})` : ""}`, () => {
  let net: Network;
  beforeAll(async () => {
    net = await openStack({
      lab: {
        routes: [
          ["blackhole", "10.99.1.0/24"],
          ["unreachable", "10.99.2.0/24"],
          ["throw", "10.99.4.0/24"],
        ],
      },
      // The linux profile fails a connect on the first RST and on ICMP unreachables, like
      // Node users expect from a Linux kernel; short SYN timers keep the timeout quick.
      profile: "linux",
    });
  });
  afterAll(async () => {
    await net?.close();
  });

  it("refused: ECONNREFUSED / STATUS_CONNECTION_REFUSED, on the socket and on http.ClientRequest", async () => {
    const { err, events } = await socketError(net, { host: "10.99.0.1", port: 9 });
    expect(events).toEqual(["error", "close:true"]);
    expect(err).toMatchObject({ code: "ECONNREFUSED", errno: -111, syscall: "connect", address: "10.99.0.1", port: 9, statusName: "STATUS_CONNECTION_REFUSED", status: 0xc0000236, ntstatus: "0xC0000236" });
    expect(err.message).toBe("connect ECONNREFUSED 10.99.0.1:9 (STATUS_CONNECTION_REFUSED 0xC0000236)");
    const r = await requestError(net, "10.99.0.1", 9);
    expect(r).toMatchObject({ code: "ECONNREFUSED", syscall: "connect", statusName: "STATUS_CONNECTION_REFUSED" });
  });

  it("refused under the windows profile: after its RST retries, with the same codes", async () => {
    const { err, ms } = await socketError(net, { host: "10.99.0.1", port: 9, profile: "windows" });
    expect(err).toMatchObject({ code: "ECONNREFUSED", statusName: "STATUS_CONNECTION_REFUSED" });
    expect(ms).toBeGreaterThan(400); // Windows retries the SYN after a RST (twice, 500 ms apart)
  });

  it("timed out: ETIMEDOUT / STATUS_IO_TIMEOUT after the configured SYN retries", async () => {
    const { err, ms } = await socketError(net, { host: "10.99.1.1", port: 80, initialRtoMs: 100, synRetries: 2 });
    expect(err).toMatchObject({ code: "ETIMEDOUT", errno: -110, syscall: "connect", address: "10.99.1.1", port: 80, statusName: "STATUS_IO_TIMEOUT" });
    // 100 + 200 + 400 ms of SYN timers (the linux profile doubles).
    expect(ms).toBeGreaterThan(600);
    expect(ms).toBeLessThan(5000);
    const r = await requestError(net, "10.99.1.1", 80, { initialRtoMs: 100, synRetries: 1 });
    expect(r).toMatchObject({ code: "ETIMEDOUT", syscall: "connect", statusName: "STATUS_IO_TIMEOUT" });
  });

  it("host unreachable: EHOSTUNREACH / STATUS_HOST_UNREACHABLE from the kernel's ICMP", async () => {
    const { err } = await socketError(net, { host: "10.99.2.7", port: 80 });
    expect(err).toMatchObject({ code: "EHOSTUNREACH", errno: -113, syscall: "connect", address: "10.99.2.7", statusName: "STATUS_HOST_UNREACHABLE" });
    const r = await requestError(net, "10.99.2.7", 80);
    expect(r).toMatchObject({ code: "EHOSTUNREACH", statusName: "STATUS_HOST_UNREACHABLE" });
  });

  it("network unreachable: ENETUNREACH / STATUS_NETWORK_UNREACHABLE from the kernel's ICMP net unreachable", async () => {
    const { err } = await socketError(net, { host: "10.99.4.7", port: 80 });
    expect(err).toMatchObject({ code: "ENETUNREACH", errno: -101, syscall: "connect", statusName: "STATUS_NETWORK_UNREACHABLE" });
    const r = await requestError(net, "10.99.4.7", 80);
    expect(r).toMatchObject({ code: "ENETUNREACH", statusName: "STATUS_NETWORK_UNREACHABLE" });
  });

  it("reset by the peer while connected: ECONNRESET / STATUS_CONNECTION_RESET on the next read", async () => {
    // `ss -K` destroys the kernel's socket (SOCK_DESTROY), which sends us a RST.
    const s = net.createConnection({ host: "10.99.0.1", port: 7 });
    await new Promise((r) => s.once("connect", r));
    const closed = new Promise<{ err: SocketError | undefined }>((resolve) => {
      let err: SocketError | undefined;
      s.on("error", (e) => (err = e as SocketError));
      s.on("close", () => resolve({ err }));
    });
    s.resume();
    const { execFileSync } = await import("node:child_process");
    execFileSync("ip", ["netns", "exec", net.lab!.ns, "ss", "-K", "dst", "10.99.0.2", "dport", "=", String(s.localPort)]);
    const { err } = await closed;
    expect(err).toMatchObject({ code: "ECONNRESET", errno: -104, syscall: "read", statusName: "STATUS_CONNECTION_RESET" });
  });
});
