// Flow control through the Duplex against the real kernel (lab namespace, root only):
// - 100 MB written by a kernel-side sender arrive through the socket into a SHA-256 equal
//   to the sender's, and while the reader pauses for two seconds the receiver holds a
//   bounded amount (the engine's receive window closes; nothing piles up in memory);
// - 100 MB each way at the same time between the socket and a kernel peer that hashes what
//   it receives while it sends: both SHA-256 equal, the socket's writes respecting
//   write() === false / 'drain' as a well-behaved producer does;
// - sending to a kernel peer that does not read: write() returns false once the send
//   buffer is full, what is handed to TCP stays bounded, and 'drain' comes when the peer
//   starts reading.
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import { startLabServer } from "./lab-servers.js";

const why = Lab.unavailableReason();
const MB = 1024 * 1024;
const signedMB = (b: number) => `${b >= 0 ? "+" : ""}${(b / MB).toFixed(1)}`;

// Accepts and reads nothing until told to (a line "read" on stdin), then counts what arrives.
const SINK = `
import net from "node:net";
const [port] = process.argv.slice(2).map(Number);
const conns = [];
net.createServer((s) => {
  s.pause();
  conns.push(s);
  let got = 0;
  s.on("data", (d) => (got += d.length));
  s.on("end", () => console.log(JSON.stringify({ event: "end", bytes: got })));
  console.log(JSON.stringify({ event: "connection" }));
}).listen({ port, host: "0.0.0.0" }, () => console.log(JSON.stringify({ ready: true })));
process.stdin.on("data", (d) => { if (String(d).includes("read")) for (const s of conns) s.resume(); });
process.stdin.on("end", () => process.exit(0));
`;

// Sends `total` random bytes to each connection while it receives and hashes what comes;
// prints both SHA-256. allowHalfOpen: our FIN may come before it has sent everything.
const SENDER = `
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
const [port, total] = process.argv.slice(2).map(Number);
net.createServer({ allowHalfOpen: true }, (s) => {
  const rx = createHash("sha256");
  const tx = createHash("sha256");
  let got = 0;
  let sent = 0;
  s.on("data", (d) => { rx.update(d); got += d.length; });
  s.on("end", () => console.log(JSON.stringify({ event: "received", bytes: got, sha256: rx.digest("hex") })));
  const pump = () => {
    while (sent < total) {
      const block = randomBytes(Math.min(1 << 20, total - sent));
      tx.update(block);
      sent += block.length;
      if (!s.write(block)) return s.once("drain", pump);
    }
    s.end(() => console.log(JSON.stringify({ event: "sent", bytes: sent, sha256: tx.digest("hex") })));
  };
  pump();
}).listen({ port, host: "0.0.0.0" }, () => console.log(JSON.stringify({ ready: true })));
process.stdin.on("end", () => process.exit(0)).resume();
`;

describe.skipIf(why !== undefined)(`flow control through the Duplex against the kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  let net: Network;
  beforeAll(async () => {
    net = await openStack({ lab: true, profile: "linux" });
  });
  afterAll(async () => {
    await net?.close();
  });

  it("100 MB from the kernel arrive intact (SHA-256), and a paused reader holds a bounded amount", async () => {
    const TOTAL = 100 * MB;
    const server = await startLabServer(net, SENDER, ["9000", String(TOTAL)]);
    const sock = net.createConnection({ host: "10.99.0.1", port: 9000 });
    const hash = createHash("sha256");
    let received = 0;
    let paused = false;
    const samples: Array<{ bytesRead: number; buffered: number; engine: number; external: number }> = [];
    const engineBuffered = () => [...net.stack.connections()].reduce((n, c) => n + c.rcvBuffered, 0);
    const pauseDone = new Promise<void>((resolveResume) => {
      sock.on("data", (d: Buffer) => {
        hash.update(d);
        received += d.length;
        if (!paused && received >= 10 * MB) {
          paused = true;
          sock.pause();
          // Two seconds of a reader that does not read: sample what the receiver holds.
          global.gc?.();
          const base = { bytesRead: sock.bytesRead, external: process.memoryUsage().arrayBuffers };
          const timer = setInterval(() => {
            const m = process.memoryUsage();
            samples.push({ bytesRead: sock.bytesRead - base.bytesRead, buffered: sock.readableLength, engine: engineBuffered(), external: m.arrayBuffers - base.external });
          }, 100);
          setTimeout(() => {
            clearInterval(timer);
            sock.resume();
            resolveResume();
          }, 2000);
        }
      });
    });
    const t0 = Date.now();
    await once(sock, "end");
    await pauseDone;
    const secs = (Date.now() - t0) / 1000;
    const sent = await server.next((e) => e.event === "sent");
    expect(received).toBe(TOTAL);
    expect(sent.bytes).toBe(TOTAL);
    expect(hash.digest("hex")).toBe(sent.sha256);
    // While paused: the engine's receive buffer (the window, 256 KiB for linux) and the
    // stream's buffer hold what arrived; nothing more is taken from the kernel.
    expect(samples.length).toBeGreaterThanOrEqual(15);
    const last = samples[samples.length - 1];
    const maxEngine = Math.max(...samples.map((s) => s.engine));
    expect(maxEngine).toBeLessThanOrEqual(net.stack.profile.rcvBufBytes);
    expect(Math.max(...samples.map((s) => s.buffered))).toBeLessThanOrEqual(sock.readableHighWaterMark + 64 * 1024);
    // No reads while paused beyond what was already in flight to the stream (one receive).
    expect(Math.max(...samples.map((s) => s.bytesRead))).toBeLessThanOrEqual(128 * 1024);
    // Memory outside the heap (Buffers) stays within a few windows, not the 90 MB still to come.
    expect(Math.max(...samples.map((s) => s.external))).toBeLessThan(16 * MB);
    // The window really closed: the engine sat full for the last second of the pause.
    expect(last.engine).toBeGreaterThan(0);
    console.log(`100 MB in ${secs.toFixed(1)} s incl. a 2 s pause; paused: engine held <= ${maxEngine} B, stream <= ${Math.max(...samples.map((s) => s.buffered))} B, Buffers ${signedMB(Math.max(...samples.map((s) => s.external)))} MB from the pause's start`);
    server.stop();
  }, 240_000);

  it("100 MB each way at once: both directions arrive intact (SHA-256), writes wait for 'drain'", async () => {
    const TOTAL = 100 * MB;
    const server = await startLabServer(net, SENDER, ["9002", String(TOTAL)]);
    const sock = net.createConnection({ host: "10.99.0.1", port: 9002 });
    const rx = createHash("sha256");
    const tx = createHash("sha256");
    let received = 0;
    sock.on("data", (d: Buffer) => {
      rx.update(d);
      received += d.length;
    });
    const ended = once(sock, "end");
    const t0 = Date.now();
    await once(sock, "connect");
    let sent = 0;
    let drains = 0;
    while (sent < TOTAL) {
      const block = randomBytes(Math.min(MB, TOTAL - sent));
      tx.update(block);
      sent += block.length;
      if (!sock.write(block)) {
        await once(sock, "drain");
        drains++;
      }
    }
    sock.end();
    await ended;
    const fromKernel = await server.next((e) => e.event === "sent");
    const atKernel = await server.next((e) => e.event === "received");
    if (!sock.closed) await once(sock, "close");
    const secs = (Date.now() - t0) / 1000;
    expect(received).toBe(TOTAL);
    expect(rx.digest("hex")).toBe(fromKernel.sha256);
    expect(atKernel.bytes).toBe(TOTAL);
    expect(atKernel.sha256).toBe(tx.digest("hex"));
    expect(sock.bytesWritten).toBe(TOTAL);
    expect(sock.bytesRead).toBe(TOTAL);
    // 100 MB cannot go out faster than the peer acknowledges: the stream pushed back.
    expect(drains).toBeGreaterThan(0);
    console.log(`100 MB each way at once in ${secs.toFixed(1)} s; the writer waited for 'drain' ${drains} times`);
    server.stop();
  }, 240_000);

  it("sending to a peer that does not read: write() returns false, TCP holds a bounded amount, 'drain' once it reads", async () => {
    // A small kernel receive buffer in the namespace, so its window closes after ~100 KB.
    execFileSync("ip", ["netns", "exec", net.lab!.ns, "sysctl", "-q", "-w", "net.ipv4.tcp_rmem=4096 65536 65536"]);
    const server = await startLabServer(net, SINK, ["9001"]);
    const sock = net.createConnection({ host: "10.99.0.1", port: 9001, sendBufferSize: 256 * 1024 });
    await once(sock, "connect");
    await server.next((e) => e.event === "connection");
    const chunk = Buffer.alloc(64 * 1024, 7);
    let writes = 0;
    // Write as a well-behaved producer does (stop at false, go on at 'drain') until 'drain'
    // stops coming: the peer's window is closed and our send buffer is full.
    for (;;) {
      while (sock.write(chunk)) writes++;
      writes++;
      const drained = await Promise.race([once(sock, "drain").then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
      if (!drained) break;
      expect(writes).toBeLessThan(200); // 12.5 MB: the window would have closed long before
    }
    const handed = sock.bytesWritten - sock.writableLength;
    const inEngine = [...net.stack.connections()].reduce((n, c) => n + c.sendBuffered, 0);
    // Handed to TCP: at most the send buffer plus one write; the rest waits in the stream.
    expect(handed).toBeLessThanOrEqual(256 * 1024 + chunk.length);
    expect(inEngine).toBeLessThanOrEqual(256 * 1024 + chunk.length);
    expect(sock.writableLength).toBeGreaterThan(0);
    const drained = once(sock, "drain");
    server.child.stdin!.write("read\n");
    await drained;
    sock.end();
    const end = await server.next((e) => e.event === "end");
    expect(end.bytes).toBe(writes * chunk.length);
    server.stop();
  }, 60_000);
});
