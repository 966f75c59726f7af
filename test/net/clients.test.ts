// Node's own clients, unchanged, over synack sockets against the real kernel in a lab
// namespace: http.request with createConnection, an http.Agent with keep-alive (two
// requests, one connection), https.request and tls.connect with a certificate made now
// (openssl), undici's Client with a connect function. Root only (the lab).
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "undici";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import type { SynackSocket } from "../../src/net/socket.js";
import { HTTP_SERVER, startLabServer, type LabServer } from "./lab-servers.js";

const why = Lab.unavailableReason();
const KERNEL = "10.99.0.1";

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => (body += d));
    res.on("end", () => resolve(body));
    res.on("error", reject);
  });
}

function get(opts: https.RequestOptions, mod: typeof http | typeof https = http): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = mod.get(opts, (res) => readBody(res).then((body) => resolve({ req, res, body }), reject));
    req.on("error", reject);
  });
}

describe.skipIf(why !== undefined)(`Node's clients over synack sockets${why ? ` (skipped: ${why})` : ""}`, () => {
  let net: Network;
  let plain: LabServer;
  let secure: LabServer;
  const certDir = mkdtempSync(join(tmpdir(), "synack-cert-"));
  const key = join(certDir, "key.pem");
  const cert = join(certDir, "cert.pem");

  beforeAll(async () => {
    // A self-signed certificate for the kernel's address, made for this run.
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=synack-test", "-addext", `subjectAltName=IP:${KERNEL}`], { stdio: "ignore" });
    net = await openStack({ lab: true });
    plain = await startLabServer(net, HTTP_SERVER, ["8080"]);
    secure = await startLabServer(net, HTTP_SERVER, ["8443", key, cert]);
  });
  afterAll(async () => {
    await net?.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  /** An http.Agent whose connections are synack sockets. */
  const synackAgent = (opts: http.AgentOptions) =>
    new (class extends http.Agent {
      override createConnection(o: http.ClientRequestArgs): SynackSocket {
        return net.createConnection(o);
      }
    })(opts);

  it("http.request({ createConnection }) gets a 200 from Node's http server in the namespace", async () => {
    let sock: SynackSocket | undefined;
    const { res, body } = await get({ host: KERNEL, port: 8080, path: "/hello", createConnection: (o) => (sock = net.createConnection(o)) });
    expect(res.statusCode).toBe(200);
    const j = JSON.parse(body);
    expect(j.path).toBe("/hello");
    // The server saw the stack's address and port.
    expect(j.remotePort).toBe(sock!.localPort);
    expect(sock!.localAddress).toBe("10.99.0.2");
  });

  it("an http.Agent with keep-alive: two requests on one connection", async () => {
    const agent = synackAgent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await get({ host: KERNEL, port: 8080, path: "/1", agent });
      const b = await get({ host: KERNEL, port: 8080, path: "/2", agent });
      expect([a.res.statusCode, b.res.statusCode]).toEqual([200, 200]);
      const ja = JSON.parse(a.body);
      const jb = JSON.parse(b.body);
      expect(jb.conn).toBe(ja.conn);
      expect(jb.remotePort).toBe(ja.remotePort);
      expect(a.req.reusedSocket).toBe(false);
      expect(b.req.reusedSocket).toBe(true);
      // The kernel accepted exactly one connection for both (its log is in order: every
      // connection it accepted before answering /2 is in the events once /2's line is).
      await plain.next((e) => e.event === "request" && e.path === "/2");
      expect(plain.events.filter((e) => e.event === "connection" && (e.conn as number) >= ja.conn).map((e) => e.conn)).toEqual([ja.conn]);
    } finally {
      agent.destroy();
    }
  });

  it("https.request over tls.connect({ socket }) verifies the self-signed certificate and gets a 200", async () => {
    const ca = readFileSync(cert);
    const { res, body, req } = await get(
      {
        host: KERNEL,
        port: 8443,
        path: "/tls",
        ca,
        createConnection: (o) => tls.connect({ socket: net.createConnection(o), ca, host: o.host ?? undefined }),
      },
      https,
    );
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(body).path).toBe("/tls");
    const t = req.socket as tls.TLSSocket;
    expect(t.authorized).toBe(true);
    expect(t.getProtocol()).toBe("TLSv1.3");
  });

  it("tls.connect({ socket }) alone: TLS 1.3 handshake, request and answer", async () => {
    const ca = readFileSync(cert);
    const raw = net.createConnection({ host: KERNEL, port: 8443 });
    const t = tls.connect({ socket: raw, ca, host: KERNEL });
    await new Promise<void>((resolve, reject) => {
      t.once("secureConnect", resolve);
      t.once("error", reject);
    });
    expect(t.authorized).toBe(true);
    t.end("GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let text = "";
    for await (const c of t) text += c;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(text).toContain('"path":"/raw"');
    expect(raw.bytesRead).toBeGreaterThan(text.length);
  });

  it("undici: Client with a connect function, request()", async () => {
    const client = new Client(`http://${KERNEL}:8080`, {
      connect: (opts, cb) => {
        const s = net.createConnection({ host: opts.hostname, port: Number(opts.port) });
        s.once("connect", () => cb(null, s as never));
        s.once("error", (e) => cb(e, null));
      },
    });
    try {
      const r1 = await client.request({ path: "/u1", method: "GET" });
      const j1 = JSON.parse(await r1.body.text());
      const r2 = await client.request({ path: "/u2", method: "GET" });
      const j2 = JSON.parse(await r2.body.text());
      expect([r1.statusCode, r2.statusCode]).toEqual([200, 200]);
      expect([j1.path, j2.path]).toEqual(["/u1", "/u2"]);
      // undici keeps the connection alive between the two requests.
      expect(j2.conn).toBe(j1.conn);
    } finally {
      await client.close();
    }
  });

  it("many requests in parallel through the Agent, each answered", async () => {
    const agent = synackAgent({ keepAlive: true, maxSockets: 8 });
    try {
      const all = await Promise.all(Array.from({ length: 40 }, (_, i) => get({ host: KERNEL, port: 8080, path: `/p${i}`, agent })));
      expect(all.map((r) => JSON.parse(r.body).path)).toEqual(Array.from({ length: 40 }, (_, i) => `/p${i}`));
      expect(new Set(all.map((r) => JSON.parse(r.body).conn)).size).toBeLessThanOrEqual(8);
    } finally {
      agent.destroy();
    }
  });
});
