// Data transfer against the real kernel: 100 MB echoed through a kernel TCP echo server over TUN
// arrive intact (SHA-256 equal), and a graceful close leaves no socket on the kernel's side.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { cryptoRandom } from "../../device/random.js";
import { Stack } from "../../stack/stack.js";
import { Runtime } from "../../device/runtime.js";
import { WskProvider } from "../../src/wsk/provider.js";
import { WskClient, connect } from "../../src/api.js";
import { seededRandom } from "../../stack/random.js";

const why = Lab.unavailableReason();
const TOTAL = 100 * 1024 * 1024;
const CHUNK = 256 * 1024;

describe.skipIf(why !== undefined)(`100 MB through the kernel's echo server${why ? ` (skipped: ${why})` : ""}`, () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ listen: [7] });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it("echoes 100 MB intact; after a graceful close the kernel has no socket for the connection", async () => {
    const stack = new Stack({ addresses: ["10.99.0.2/24"], profile: "linux", random: cryptoRandom() });
    const rt = new Runtime(stack, lab.tun);
    const client = new WskClient(new WskProvider(stack, { now: rt.clock, afterCall: () => rt.kick() }));
    const t0 = Date.now();
    try {
      const conn = await connect(client, "10.99.0.1:7", { profile: "linux" });
      const rnd = seededRandom(7);
      const sentHash = createHash("sha256");
      const recvHash = createHash("sha256");
      let received = 0;
      const reader = (async () => {
        while (received < TOTAL) {
          const chunk = await conn.read(1 << 20);
          if (chunk === null) break;
          recvHash.update(chunk);
          received += chunk.length;
        }
      })();
      const buf = new Uint8Array(CHUNK);
      const words = new Uint32Array(buf.buffer);
      for (let sent = 0; sent < TOTAL; sent += CHUNK) {
        for (let i = 0; i < words.length; i++) words[i] = rnd.nextUint32();
        sentHash.update(buf);
        // WskSend completes when the kernel has acknowledged the bytes; keep a few in flight.
        await conn.write(buf.slice());
      }
      await reader;
      expect(received).toBe(TOTAL);
      expect(recvHash.digest("hex")).toBe(sentHash.digest("hex"));
      const localPort = conn.local.slice(conn.local.lastIndexOf(":") + 1);
      await conn.end(); // our FIN, acknowledged
      expect(await conn.read()).toBeNull(); // the echo server's FIN
      await conn.close();
      await new Promise((res) => setTimeout(res, 100));
      const ss = lab.sockets().split("\n").filter((l) => l.includes(`10.99.0.2:${localPort}`));
      expect(ss).toEqual([]);
      // Our side: only the TIME-WAIT TCB RFC 9293 requires of the active closer remains.
      expect([...stack.connections()].map((c) => c.state)).toEqual(["TIME-WAIT"]);
      const secs = (Date.now() - t0) / 1000;
      console.log(`100 MB echoed in ${secs.toFixed(1)} s (${((2 * TOTAL) / 1e6 / secs).toFixed(1)} MB/s both ways)`);
    } finally {
      client.close();
      await rt.close();
    }
  }, 300_000);
});
