// TUN with IFF_VNET_HDR: TCP segments go out as GSO packets of up to 64 KiB
// (VIRTIO_NET_HDR_GSO_TCPV4/6), either made by the stack itself with the checksum left to
// the device (the offloads, the default) or merged by the addon from checksummed segments,
// and the kernel must receive exactly the bytes the stack sent, dropping nothing.
// A kernel listener in the namespace hashes what arrives; the stack's data goes out through
// the Runtime as in real use. Root only; skipped with the reason otherwise.
import { createHash } from "node:crypto";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { createNetns, labUnavailableReason, netnsExec, withNetns } from "../../device/netns.js";
import { namespacesRemovedAfterAll } from "../helpers/netns-cleanup.js";
import { TunDevice } from "../../device/tun/index.js";
import { Runtime } from "../../device/runtime.js";
import { cryptoRandom } from "../../device/random.js";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";

const skipReason = labUnavailableReason();
const made = namespacesRemovedAfterAll();

/** Sends `data` from a synack connection over `dev` to a kernel listener; resolves with what the kernel received. */
async function sendThrough(dev: TunDevice, ns: string, kernel: string, local: string, data: Uint8Array, prefix: number): Promise<{ bytes: number; sha: string }> {
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
  const stack = new Stack({ addresses: [`${local}/${prefix}`], random: cryptoRandom(), profile: "linux", mtu: dev.mtu });
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

/** Counters of the kernel's side: what the TUN interface dropped of our writes, and TCP checksum errors. */
function kernelDrops(ns: string): { rxDropped: number; rxErrors: number; csumErrors: number } {
  const link = JSON.parse(netnsExec(ns, "ip", ["-j", "-s", "link", "show", "dev", "syng0"])) as Array<{ stats64: { rx: { dropped: number; errors: number } } }>;
  const nstat = netnsExec(ns, "nstat", ["-az", "TcpInCsumErrors"]);
  const m = /TcpInCsumErrors\s+(\d+)/.exec(nstat);
  return { rxDropped: link[0].stats64.rx.dropped, rxErrors: link[0].stats64.rx.errors, csumErrors: m ? Number(m[1]) : Number.NaN };
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

  // offload: the stack leaves the TCP checksum and the segmentation to the device (TSO
  // packets with NEEDS_CSUM); otherwise the addon merges the stack's checksummed segments.
  const cases = [
    { offload: false, txThread: false, v6: false },
    { offload: false, txThread: true, v6: false },
    { offload: true, txThread: false, v6: false },
    { offload: true, txThread: true, v6: false },
    { offload: true, txThread: false, v6: true },
  ];
  cases.forEach(({ offload, txThread, v6 }, n) => {
    const what = `${offload ? "the stack's TSO packets with checksum offload" : "runs the addon merged"}${txThread ? " on the writer thread" : ""}${v6 ? " over IPv6" : ""}`;
    it(`delivers 4 MB intact through 64 KiB GSO writes: ${what}`, async () => {
      const ns = `synack-gso-${process.pid}-${n}`;
      createNetns(ns);
      made.push(ns);
      const [kernel, local, cidr] = v6 ? ["fd00:73::1", "fd00:73::2", "fd00:73::1/64"] : ["10.73.0.1", "10.73.0.2", "10.73.0.1/24"];
      const dev = TunDevice.open({ name: "syng0", netns: ns, addresses: [cidr], vnetHdr: true, txThread, offload });
      try {
        expect(dev.offloads !== undefined).toBe(offload);
        const got = await sendThrough(dev, ns, kernel, local, data, v6 ? 64 : 24);
        expect(got.bytes).toBe(data.length);
        expect(got.sha).toBe(sha);
        const s = dev.stats();
        // Runs of segments really went out as large packets: more segments than writes.
        expect(s.txGsoWrites).toBeGreaterThan(0);
        expect(s.txGsoSegments!).toBeGreaterThan(2 * s.txGsoWrites!);
        expect(s.txErrors, s.lastTxError).toBe(0);
        // Nothing was lost on the way in: the interface dropped nothing and no checksum failed.
        // (Delivering a NEEDS_CSUM packet locally the kernel trusts its checksum, so a wrong
        // pseudo-header sum would not show here: test/stack/tx-offload.test.ts checks it.)
        expect(kernelDrops(ns)).toEqual({ rxDropped: 0, rxErrors: 0, csumErrors: 0 });
      } finally {
        await dev.close();
      }
    });
  });
});
