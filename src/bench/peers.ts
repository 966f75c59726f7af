// Other user-space TCP stacks on the same connect workload, run in the same `synack bench`
// as synack and Node's net.connect: the lwIP (C) and gVisor netstack (Go) harnesses kept
// beside the checkout in ../shared/peers (or SYNACK_PEERS_DIR). Each harness makes its own
// namespace, TUN and C listener (LISTENER=c), runs for a fixed number of seconds and prints
// one JSON line, then its CPU time per connect and the namespace's TCP counters on stderr.
// They are external: when the folder or a peer's toolchain is missing, that peer is
// skipped with the reason, and the rest of the benchmark runs.
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findPackageRoot } from "../../device/tun/native.js";

export const PEER_NAMES = ["lwip", "gvisor"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** What a peer reported for one run. */
export interface PeerRun {
  peer: PeerName;
  completed: number;
  failed: number;
  elapsedMs: number;
  perSec: number;
  /** The peer process's user + system CPU per completed connect (its own getrusage), if printed. */
  cpuUsPerConnect?: number;
  /** The peer namespace's kernel counters the harness printed ("kernel side: K=V ..."). */
  kernel: Record<string, number>;
}

/** The peers folder: SYNACK_PEERS_DIR, else ../shared/peers beside the package. */
export function peersDir(): string {
  const override = process.env["SYNACK_PEERS_DIR"];
  if (override) return resolve(override);
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url))) ?? process.cwd();
  return join(root, "..", "shared", "peers");
}

function onPath(tool: string): boolean {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    if (!dir) continue;
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // not in this one
    }
  }
  return false;
}

/** Why `peer` cannot run here, or undefined. Checks the folder and the toolchain its run.sh needs. */
export function peerSkipReason(peer: string): string | undefined {
  if (!(PEER_NAMES as readonly string[]).includes(peer)) return `unknown peer '${peer}' (known: ${PEER_NAMES.join(", ")})`;
  const dir = peersDir();
  if (!existsSync(join(dir, "peer"))) return `${dir}/peer not found (the peers' harnesses live in ../shared/peers beside the checkout, or set SYNACK_PEERS_DIR)`;
  if (!onPath("bash")) return "bash not found";
  if (peer === "lwip") {
    for (const t of ["gcc", "make"]) if (!onPath(t)) return `lwip: ${t} not found (the harness builds lwIP from source: apt-get install gcc make)`;
  }
  if (peer === "gvisor") {
    if (!onPath("go")) return "gvisor: go not found (apt-get install golang-go golang-gvisor-gvisor-dev)";
    if (!existsSync("/usr/share/gocode/src/gvisor.dev/gvisor/pkg/tcpip")) return "gvisor: gVisor's sources not found in /usr/share/gocode (apt-get install golang-gvisor-gvisor-dev)";
  }
  if (!onPath("gcc")) return `${peer}: gcc not found (the harness builds its C listener)`;
  return undefined;
}

/** Parses a harness's stdout JSON line and stderr diagnostics. Throws with the reason on nonsense. */
export function parsePeerOutput(peer: PeerName, stdout: string, stderr: string): PeerRun {
  const line = stdout
    .trim()
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (line === undefined) throw new Error(`${peer}: no JSON line on stdout${stderr.trim() ? ` (stderr: ${lastLine(stderr)})` : ""}`);
  const j = JSON.parse(line) as { connects_per_s?: number; completed?: number; failed?: number; seconds?: number };
  if (typeof j.completed !== "number" || typeof j.seconds !== "number" || !(j.seconds > 0)) throw new Error(`${peer}: unexpected JSON line: ${line}`);
  const run: PeerRun = { peer, completed: j.completed, failed: j.failed ?? 0, elapsedMs: j.seconds * 1000, perSec: j.completed / j.seconds, kernel: {} };
  const cpu = /=\s*([\d.]+)\s*us per completed connect/.exec(stderr);
  if (cpu) run.cpuUsPerConnect = Number(cpu[1]);
  const k = /^kernel side:(.*)$/m.exec(stderr);
  if (k) {
    for (const kv of k[1].trim().split(/\s+/)) {
      const m = /^([A-Za-z]+)=(\d+)$/.exec(kv);
      if (m) run.kernel[m[1]] = Number(m[2]);
    }
  }
  return run;
}

function lastLine(s: string): string {
  return s.trim().split("\n").slice(-1)[0] ?? "";
}

/** Runs one peer for `seconds` with the C listener. Rejects with the harness's last stderr line. */
export function runPeer(peer: PeerName, seconds: number, timeoutMs = seconds * 1000 + 120_000): Promise<PeerRun> {
  return new Promise((resolvePeer, reject) => {
    const child = spawn("bash", [join(peersDir(), "peer"), peer, String(seconds)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LISTENER: "c", LISTENER_MODE: "drop" },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${peer}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${peer}: harness exited ${code ?? signal}: ${lastLine(err) || "no error output"}`));
        return;
      }
      try {
        resolvePeer(parsePeerOutput(peer, out, err));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** Why the peer's run measured its set-up rather than the peer (listen drops in its namespace), or undefined. */
export function peerInvalidReason(r: PeerRun): string | undefined {
  const parts: string[] = [];
  for (const k of ["TcpExtListenOverflows", "TcpExtListenDrops"]) if ((r.kernel[k] ?? 0) > 0) parts.push(`${k} ${r.kernel[k]}`);
  if (r.completed === 0) parts.push("no connect completed");
  return parts.length > 0 ? parts.join(", ") : undefined;
}
