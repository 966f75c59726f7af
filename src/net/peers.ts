// The two peers openStack can bring along: the lab (a throwaway network namespace whose
// kernel answers, with a kernel echo listener and, on request, a small HTTP server inside
// it) and the simulated peer (in-process, no root; a simulation, and it says so).
import type { ChildProcess } from "node:child_process";
import { Lab, stopChild } from "../lab/lab.js";
import { SIM_NET, SimDevice, SimPeer, simulatedNetwork } from "../lab/simpeer.js";
import { netnsSpawn } from "../../device/netns.js";
import type { Device } from "../../device/types.js";

export interface NetworkLabOptions {
  /** Ports of the kernel echo listener in the namespace (default [7]). */
  echo?: number[];
  /** Ports of a small Node HTTP server in the namespace (GET answers 200 with one line of text). */
  http?: number | number[];
  /** Routes in the namespace, e.g. [["blackhole", "10.99.1.0/24"]] (docs/devices.md). */
  routes?: string[][];
  mtu?: number;
}

export interface LabNetwork {
  /** The namespace's name (`ip netns exec NAME ...` runs there). */
  readonly ns: string;
  /** The kernel's addresses on its side of the TUN (the peer): "10.99.0.1", "fd99::1". */
  readonly kernel4: string;
  readonly kernel6: string;
  readonly device: Device;
  readonly stackAddresses: string[];
  readonly gateways: string[];
  /** Starts a program inside the namespace (stdio piped); it is killed when the network closes. */
  spawn(cmd: string, args?: readonly string[]): ChildProcess;
  close(): Promise<void>;
}

export interface NetworkSimOptions {
  /** Extra listening ports of the simulated host (10.99.0.1 / fd99::1); 7 echoes already. */
  listen?: Record<number, "echo" | "silent">;
  /** One-way latency in ms (default 1). */
  latencyMs?: number;
}

export interface SimNetwork {
  readonly peer: SimPeer;
  readonly device: Device;
  readonly stackAddresses: string[];
  readonly gateways: string[];
  close(): Promise<void>;
}

// The kernel-side HTTP server: one line of text per GET, dual stack, exits with its stdin.
const HTTP_SERVER = `
const http = require("node:http");
const ports = process.argv.slice(1).map(Number);
let up = 0;
for (const port of ports) {
  http.createServer((req, res) => {
    res.setHeader("content-type", "text/plain");
    const addr = (a) => String(a).replace(/^::ffff:/, "");
    res.end("hello from the kernel's TCP at " + addr(req.socket.localAddress) + ":" + req.socket.localPort + ", you are " + addr(req.socket.remoteAddress) + ":" + req.socket.remotePort + "\\n");
  }).listen({ port, host: "::" }, () => { if (++up === ports.length) console.log("ready"); });
}
process.stdin.on("end", () => process.exit(0)).resume();
`;

function waitReady(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${err.trim()}`)), 10_000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve();
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${err.trim().split("\n")[0]}`));
    });
  });
}

export async function openLab(o: NetworkLabOptions = {}): Promise<LabNetwork> {
  const lab = await Lab.create({ listen: o.echo ?? [7], routes: o.routes, mtu: o.mtu });
  const children: ChildProcess[] = [];
  const net: LabNetwork = {
    ns: lab.ns,
    kernel4: lab.kernel4,
    kernel6: lab.kernel6,
    device: lab.tun,
    stackAddresses: [`${lab.stack4}/24`, `${lab.stack6}/64`],
    gateways: [lab.kernel4, lab.kernel6],
    spawn(cmd, args = []) {
      const child = netnsSpawn(lab.ns, cmd, args);
      children.push(child);
      return child;
    },
    async close() {
      await Promise.all(children.map(stopChild));
      await lab.close();
    },
  };
  try {
    const http = o.http === undefined ? [] : Array.isArray(o.http) ? o.http : [o.http];
    if (http.length > 0) await waitReady(net.spawn(process.execPath, ["-e", HTTP_SERVER, ...http.map(String)]), "the lab's HTTP server");
  } catch (e) {
    await net.close();
    throw e;
  }
  return net;
}

export function openSim(o: NetworkSimOptions = {}): SimNetwork {
  const base = simulatedNetwork().cfg;
  const peer = new SimPeer({ ...base, listen: { ...base.listen, ...o.listen }, latencyMs: o.latencyMs ?? base.latencyMs });
  const device = new SimDevice(peer);
  return {
    peer,
    device,
    stackAddresses: [...SIM_NET.stackAddresses],
    gateways: [...SIM_NET.gateways],
    close: () => device.close(),
  };
}

