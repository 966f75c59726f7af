// network.createServer: a net.Server-shaped server on the WSK listening sockets, its
// connections SynackSockets. Two synack stacks joined by an in-process pipe (no root): one
// serves, the other connects with createConnection and Node's http client. Node's
// http.Server serves over it through `emit("connection", socket)`.
import http from "node:http";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { openStack, type Network } from "../../src/net/network.js";
import type { SynackServer } from "../../src/net/server.js";
import type { SynackSocket } from "../../src/net/socket.js";
import { devicePipe } from "../../src/lab/pipe.js";

let open: Network[] = [];
afterEach(async () => {
  for (const n of open.splice(0)) await n.close();
});

/** A server network (10.99.5.2, fd99:5::2) and a client network (.1) on one pipe. */
async function pair(): Promise<{ server: Network; client: Network }> {
  const [a, b] = devicePipe();
  const server = await openStack({ device: a, address: ["10.99.5.2/24", "fd99:5::2/64"] });
  const client = await openStack({ device: b, address: ["10.99.5.1/24", "fd99:5::1/64"] });
  open.push(client, server);
  return { server, client };
}

function listening(s: SynackServer, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(...args, () => resolve());
  });
}

/** Connects, sends `text`, ends, and resolves with everything read. */
function exchange(client: Network, host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = client.createConnection({ host, port }, () => s.end(text));
    let got = "";
    s.on("data", (d: Buffer) => (got += d));
    s.on("error", reject);
    s.on("close", () => resolve(got));
  });
}

describe("network.createServer", () => {
  it("listen(0): 'listening', address() with an ephemeral port on both families; each connection a SynackSocket", async () => {
    const { server, client } = await pair();
    const seen: SynackSocket[] = [];
    const srv = server.createServer((sock) => {
      seen.push(sock);
      sock.pipe(sock); // echo, and end when the client ends
    });
    await listening(srv, 0);
    expect(srv.listening).toBe(true);
    const addr = srv.address()!;
    expect(addr).toMatchObject({ address: "::", family: "IPv6" });
    expect(addr.port).toBeGreaterThanOrEqual(49152);
    expect(await exchange(client, "10.99.5.2", addr.port, "over IPv4")).toBe("over IPv4");
    expect(await exchange(client, "fd99:5::2", addr.port, "over IPv6")).toBe("over IPv6");
    expect(seen.map((s) => [s.remoteAddress, s.localAddress, s.localPort])).toEqual([
      ["10.99.5.1", "10.99.5.2", addr.port],
      ["fd99:5::1", "fd99:5::2", addr.port],
    ]);
    const closed = once(srv, "close");
    srv.close();
    await closed;
    expect(srv.listening).toBe(false);
    expect(srv.address()).toBeNull();
  });

  it("listen(port, host): one family, one address; a connect to another port is refused", async () => {
    const { server, client } = await pair();
    const srv = server.createServer((sock) => sock.resume().end("hi\n"));
    await listening(srv, 8081, "10.99.5.2");
    expect(srv.address()).toEqual({ address: "10.99.5.2", family: "IPv4", port: 8081 });
    expect(await exchange(client, "10.99.5.2", 8081, "")).toBe("hi\n");
    const refused = client.createConnection({ host: "10.99.5.2", port: 8082, profile: "linux" });
    const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    expect(err.code).toBe("ECONNREFUSED");
    srv.close();
    await once(srv, "close");
  });

  it("'close' waits for the accepted connections; getConnections counts them", async () => {
    const { server, client } = await pair();
    let accepted: SynackSocket | undefined;
    const srv = server.createServer((sock) => (accepted = sock));
    await listening(srv, { port: 7000, host: "10.99.5.2" });
    const c = client.createConnection({ host: "10.99.5.2", port: 7000 });
    await once(srv, "connection");
    const count = await new Promise<number>((r) => srv.getConnections((_e, n) => r(n)));
    expect(count).toBe(1);
    let closeSeen = false;
    srv.close(() => (closeSeen = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closeSeen).toBe(false); // a connection is still open
    // New connects are refused once the listening socket is closed.
    const late = client.createConnection({ host: "10.99.5.2", port: 7000, profile: "linux" });
    expect(((await once(late, "error")) as [NodeJS.ErrnoException])[0].code).toBe("ECONNREFUSED");
    c.resume().end();
    accepted!.resume().end();
    await once(srv, "close");
    expect(closeSeen).toBe(true);
  });

  it("a port in use: 'error' EADDRINUSE (syscall listen); close() on a server not listening: ERR_SERVER_NOT_RUNNING", async () => {
    const { server } = await pair();
    const a = server.createServer();
    await listening(a, 9000);
    const b = server.createServer();
    b.listen(9000);
    const [err] = (await once(b, "error")) as [NodeJS.ErrnoException];
    expect(err).toMatchObject({ code: "EADDRINUSE", syscall: "listen", port: 9000 });
    expect(b.listening).toBe(false);
    const notRunning = await new Promise<Error | undefined>((r) => b.close(r));
    expect(notRunning).toMatchObject({ code: "ERR_SERVER_NOT_RUNNING" });
    expect(() => a.listen(9001)).toThrow(/already listening/);
    expect(() => server.createServer().listen(70000)).toThrow(/port should be/);
    a.close();
    await once(a, "close");
  });

  it("Node's http.Server serves over it (emit('connection', socket)); Node's http client fetches the page", async () => {
    const { server, client } = await pair();
    const app = http.createServer((req, res) => {
      res.setHeader("content-type", "text/plain");
      res.end(`hello ${req.socket.remoteAddress} from http.Server over synack, you asked ${req.url}\n`);
    });
    const srv = server.createServer((sock) => app.emit("connection", sock));
    await listening(srv, 8080);
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "10.99.5.2", port: 8080, path: "/page", createConnection: client.createConnection }, (res) => {
          let b = "";
          res.on("data", (d: Buffer) => (b += d));
          res.on("end", () => resolve(b));
        })
        .on("error", reject);
    });
    expect(body).toBe("hello 10.99.5.1 from http.Server over synack, you asked /page\n");
    srv.close();
    app.close();
    await once(srv, "close");
  });

  it("closing the network closes its servers ('close')", async () => {
    const { server } = await pair();
    const srv = server.createServer();
    await listening(srv, 9100);
    const closed = once(srv, "close");
    await server.close();
    await closed;
    expect(srv.listening).toBe(false);
    expect(() => srv.listen(9100)).toThrow(/network is closed/);
  });
});
