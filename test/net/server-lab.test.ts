// network.createServer against the real kernel: Node's http.Server serves a page over a
// synack stack in the lab, and the kernel's curl in the namespace fetches it over IPv4 and
// IPv6; the kernel's python sockets connect to an echo server many at once. Root only.
import http from "node:http";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import type { SynackServer } from "../../src/net/server.js";
import { netnsExecAsync } from "../../device/netns.js";
import { PARALLEL_ECHO_CLIENTS_PY } from "../helpers/kernel-clients.js";

const why = Lab.unavailableReason();

function listening(s: SynackServer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, () => resolve());
  });
}

describe.skipIf(why !== undefined)(`network.createServer on the real kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  let net: Network;
  beforeAll(async () => {
    net = await openStack({ lab: true, profile: "linux" });
  });
  afterAll(async () => {
    await net?.close();
  });

  it("the kernel's curl fetches a page Node's http.Server serves over synack (IPv4 and IPv6)", async () => {
    const page = "<h1>served by http.Server over synack</h1>\n".repeat(300); // ~13 KB, several segments
    const app = http.createServer((req, res) => {
      res.setHeader("content-type", "text/html");
      res.setHeader("x-client", String(req.socket.remoteAddress));
      res.end(page);
    });
    const srv = net.createServer((sock) => app.emit("connection", sock));
    await listening(srv, 8080);
    const ns = net.lab!.ns;
    const v4 = await netnsExecAsync(ns, "curl", ["-sS", "-D", "-", "--max-time", "10", "http://10.99.0.2:8080/"]);
    expect(v4.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(v4.stdout).toMatch(/\r\nx-client: 10\.99\.0\.1\r\n/i);
    expect(v4.stdout.endsWith(page)).toBe(true);
    const v6 = await netnsExecAsync(ns, "curl", ["-sS", "-g", "-D", "-", "--max-time", "10", "http://[fd99::2]:8080/"]);
    expect(v6.stdout).toMatch(/\r\nx-client: fd99::1\r\n/i);
    expect(v6.stdout.endsWith(page)).toBe(true);
    srv.close();
    app.close();
    await once(srv, "close");
  });

  it("100 kernel clients at once all get their echo", async () => {
    const srv = net.createServer((sock) => sock.pipe(sock));
    await listening(srv, 7007);
    const r = await netnsExecAsync(net.lab!.ns, "python3", ["-c", PARALLEL_ECHO_CLIENTS_PY, "10.99.0.2", "7007", "100"], { timeoutMs: 60_000 });
    expect(r.stdout.trim().split(" ")[0]).toBe("100");
    srv.close();
    await once(srv, "close");
  }, 90_000);
});
