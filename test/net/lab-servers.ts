// Kernel-side servers for the Node-API tests: small Node programs run inside the lab's
// namespace (`ip netns exec`), so the peer is the real kernel's TCP. Each prints one JSON
// line {"ready":true} once it listens, then one JSON line per event the test may check.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { Network } from "../../src/net/network.js";

export interface LabServer {
  child: ChildProcess;
  /** JSON lines the server printed after "ready". */
  events: Array<Record<string, unknown>>;
  /** Resolves with the first event matching `pred` (already seen or still to come). */
  next(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): void;
}

const dir = mkdtempSync(join(tmpdir(), "synack-labsrv-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes `source` (an ES module) to a file and runs it with node in the lab's namespace. */
export async function startLabServer(net: Network, source: string, args: string[] = []): Promise<LabServer> {
  if (!net.lab) throw new Error("startLabServer needs a network opened with { lab }");
  const file = join(dir, `server-${process.pid}-${n++}.mjs`);
  writeFileSync(file, source);
  const child = net.lab.spawn(process.execPath, [file, ...args]);
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  let buf = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lab server did not start: ${err}`)), 10_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`lab server exited (${code}): ${err}`));
    });
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e.ready) {
          clearTimeout(timer);
          resolve();
          continue;
        }
        events.push(e);
        for (const w of [...waiters]) {
          if (w.pred(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
      }
    });
  });
  await ready;
  child.removeAllListeners("exit");
  return {
    child,
    events,
    next(pred, timeoutMs = 30_000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching server event in ${timeoutMs} ms; events: ${JSON.stringify(events)}; stderr: ${err}`)), timeoutMs);
        waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
      });
    },
    stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
    },
  };
}

/** An HTTP(S) server: each response body is JSON {conn, remotePort, path}; conn numbers connections. */
export const HTTP_SERVER = `
import http from "node:http";
import https from "node:https";
import { readFileSync } from "node:fs";
const [port, key, cert] = process.argv.slice(2);
let conns = 0;
const handler = (req, res) => {
  const body = JSON.stringify({ conn: req.socket.connId, remotePort: req.socket.remotePort, path: req.url });
  console.log(JSON.stringify({ event: "request", conn: req.socket.connId, path: req.url }));
  res.setHeader("content-type", "application/json");
  res.end(body);
};
const server = key ? https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, handler) : http.createServer(handler);
server.on(key ? "secureConnection" : "connection", (s) => {
  s.connId = ++conns;
  console.log(JSON.stringify({ event: "connection", conn: s.connId, remotePort: s.remotePort }));
});
server.listen({ port: Number(port), host: "::" }, () => console.log(JSON.stringify({ ready: true })));
process.stdin.on("end", () => process.exit(0)).resume();
`;
