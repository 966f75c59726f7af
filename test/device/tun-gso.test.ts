// TUN with IFF_VNET_HDR: the addon writes runs of TCP segments as one GSO packet
// (VIRTIO_NET_HDR_GSO_TCPV4) and the kernel must receive exactly the bytes the stack sent.
// A kernel listener in the namespace hashes what arrives; the stack's data goes out through
// the Runtime as in real use. Root only; skipped with the reason otherwise.
import { createHash } from "node:crypto";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createNetns, deleteNetns, labUnavailableReason, withNetns } from "../../device/netns.js";
import { TunDevice } from "../../device/tun/index.js";
import { Runtime } from "../../device/runtime.js";
import { cryptoRandom } from "../../device/random.js";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";

const skipReason = labUnavailableReason();
const made: string[] = [];
afterAll(() => {
  for (const ns of made) {
    try {
      deleteNetns(ns);
    } catch {
      // already gone
    }
  }
});

/** Sends `data` from a synack connection over `dev` to a kernel listener; resolves with what the kernel received. */
async function sendThrough(dev: TunDevice, ns: string, kernel: string, local: string, data: Uint8Array): Promise<{ bytes: number; sha: string }> {
  const received = new Promise<{ bytes: number; sha: string }>((resolve, reject) => {
    const server = net.createServer((s) => {
      const h = createHash("sha256");
      let bytes = 0;
      s.on("data", (d: Buffer) => {
        h.update(d);
        bytes += d.length;
      });
      s.on("end", () => {
        s.end();
        server.close();
        resolve({ bytes, sha: h.digest("hex") });
      });
      s.on("error", reject);
    });
    // listen(port) without a host binds synchronously, inside the namespace.
    withNetns(ns, () => server.listen(9000));
  });
  const stack = new Stack({ addresses: [`${local}/24`], random: cryptoRandom(), profile: "linux", mtu: dev.mtu });
  const rt = new Runtime(stack, dev);
  const c = stack.connect({ remote: { addr: kernel, port: 9000 } }, rt.now());
  if (!(c instanceof Connection)) throw new Error(c.detail);
  let queued = 0;
  const fill = (): void => {
    const now = rt.now();
    while (queued < data.length && queued - c.totalAcked < 512 * 1024) {
      const n = Math.min(64 * 1024, data.length - queued);
      c.send(data.subarray(queued, queued + n), now);
      queued += n;
    }
    if (queued === data.length) c.close(now);
    rt.kick();
  };
  c.events = { established: fill, acked: fill };
  rt.flush();
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${c.totalAcked} of ${data.length} bytes acknowledged`)), 20_000));
  try {
    return await Promise.race([received, timeout]);
  } finally {
    dev.onReceive(() => {});
  }
}

describe.skipIf(skipReason !== undefined)(`TUN GSO writes (${skipReason ?? "root"})`, () => {
  const data = new Uint8Array(4_000_000);
  const rnd = seededRandom(11);
  for (let i = 0; i < data.length; i += 4) {
    const v = rnd.nextUint32();
    data[i] = v;
    data[i + 1] = v >>> 8;
    data[i + 2] = v >>> 16;
    data[i + 3] = v >>> 24;
  }
  const sha = createHash("sha256").update(data).digest("hex");

  for (const txThread of [false, true]) {
    it(`delivers 4 MB intact through 64 KiB GSO writes${txThread ? " on the writer thread" : ""}`, async () => {
      const ns = `synack-gso-${process.pid}-${txThread ? 1 : 0}`;
      createNetns(ns);
      made.push(ns);
      const dev = TunDevice.open({ name: "syng0", netns: ns, addresses: ["10.73.0.1/24"], vnetHdr: true, txThread });
      try {
        const got = await sendThrough(dev, ns, "10.73.0.1", "10.73.0.2", data);
        expect(got.bytes).toBe(data.length);
        expect(got.sha).toBe(sha);
        const s = dev.stats();
        // Runs of segments really went out merged: more segments than writes.
        expect(s.txGsoWrites).toBeGreaterThan(0);
        expect(s.txGsoSegments!).toBeGreaterThan(2 * s.txGsoWrites!);
        expect(s.txErrors, s.lastTxError).toBe(0);
      } finally {
        await dev.close();
      }
    });
  }
});
