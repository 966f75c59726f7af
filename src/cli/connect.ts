// `synack connect HOST:PORT ...`: one active open through the WSK facade on a real TUN
// device (--dev), a raw IP socket (--raw), a throwaway lab namespace (--lab), or the
// in-process simulated peer (--sim); prints the segment timeline and one line each for the
// connect, the data (--send) and the close, or one JSON object with --json. Exit 0 when all
// of them succeeded, 1 when one failed, 2 on usage (src/cli/commands.ts has the options).
import { isProfileName, PROFILE_NAMES, PROFILES, type ProfileName } from "../../stack/tcp/profiles.js";
import { canonicalIp } from "../../stack/wire/addr.js";
import { parseSockaddr, sockaddrAddress, sockaddrFamily, sockaddrPort, AF_INET } from "../wsk/sockaddr.js";
import { runConnect, type ConnectResult, type ConnectRun, type StepResult } from "../lab/session.js";
import { SIM_NET, SimDevice, SimPeer, simulatedNetwork } from "../lab/simpeer.js";
import { Lab } from "../lab/lab.js";
import { UsageError } from "./errors.js";
import { CONNECT } from "./commands.js";
import { formatHelp, parseCommand } from "./options.js";
import { colorsFor, formatTimeline, type Colors } from "./timeline.js";
import type { Device } from "../../device/types.js";

/** What `--lab` puts at HOST:PORT (docs/cli.md). */
export const LAB_PEERS = ["echo", "closed", "blackhole", "unreachable", "prohibit"] as const;
export type LabPeer = (typeof LAB_PEERS)[number];

export interface ConnectArgs {
  remote: string;
  mode: "dev" | "raw" | "lab" | "sim";
  /** --lab-peer: what the lab puts at HOST:PORT. */
  labPeer: LabPeer;
  dev?: string;
  raw?: string;
  local?: string;
  profile: ProfileName;
  synRetries?: number;
  initialRtoMs?: number;
  failOnIcmp: boolean;
  cancelAfterMs?: number;
  send?: Uint8Array;
  pcap?: string;
  json: boolean;
}

/**
 * `--send` text with C-style escapes, so a request line can be typed in a shell:
 * \r \n \t \0 \\ and \xHH (one byte). Anything else after a backslash is an error, not a
 * silent literal. Other characters are sent as UTF-8.
 */
export function unescapeSend(text: string): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== "\\") {
      const cp = text.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      out.push(...enc.encode(s));
      i += s.length - 1;
      continue;
    }
    const e = text[++i];
    const simple: Record<string, number> = { r: 13, n: 10, t: 9, "0": 0, "\\": 92 };
    if (e !== undefined && e in simple) out.push(simple[e]!);
    else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new UsageError(`--send: unknown escape "\\${e ?? ""}" (known: \\r \\n \\t \\0 \\\\ \\xHH)`);
  }
  return Uint8Array.from(out);
}

/** HOST:PORT as typed: an address (names are not resolved), a port, brackets around IPv6. */
export function checkRemote(remote: string): void {
  const sa = parseSockaddr(remote);
  if (sa.ok) {
    if (sockaddrPort(sa.value) === 0) throw new UsageError(`"${remote}": the port must not be 0`);
    return;
  }
  const host = remote.startsWith("[") ? remote.slice(1, remote.indexOf("]") < 0 ? undefined : remote.indexOf("]")) : remote.slice(0, remote.lastIndexOf(":") < 0 ? undefined : remote.lastIndexOf(":"));
  if (/[a-zA-Z]/.test(host) && !/^[0-9a-fA-F:.%]+$/.test(host)) {
    throw new UsageError(`"${remote}": HOST must be an IP address (10.0.0.1:80 or [fd00::1]:80); synack does not resolve names`);
  }
  throw new UsageError(`bad address "${remote}": ${sa.reason} (expected 10.0.0.1:80 or [fd00::1]:80)`);
}

export function parseConnectArgs(argv: string[]): ConnectArgs | "help" {
  const p = parseCommand(CONNECT, argv);
  if (p === "help") return "help";
  const remote = p.positionals[0]!;
  checkRemote(remote);
  const sa = parseSockaddr(remote);
  if (!sa.ok) throw new UsageError(sa.reason);
  const modes = (["dev", "raw", "lab", "sim"] as const).filter((m) => p.has(m));
  if (modes.length === 0) throw new UsageError("choose where to connect: --dev NAME --local ADDR, --raw IFNAME --local ADDR, --lab or --sim");
  if (modes.length > 1) throw new UsageError(`--${modes.join(", --")}: choose one (--dev, --raw, --lab and --sim are mutually exclusive)`);
  const mode = modes[0]!;
  const labPeer = p.choice("lab-peer", LAB_PEERS);
  if (labPeer !== undefined && mode !== "lab") throw new UsageError("--lab-peer goes with --lab");
  const localText = p.string("local");
  if ((mode === "dev" || mode === "raw") && !localText) throw new UsageError(`--${mode} needs --local ADDR (the stack's own address)`);
  let local: string | undefined;
  if (localText !== undefined) {
    const bare = localText.replace(/\/\d+$/, "").replace(/^\[(.*)\]$/, "$1");
    const c = canonicalIp(bare);
    if (!c) throw new UsageError(`bad --local address "${localText}" (an IPv4 or IPv6 address, e.g. 10.0.0.2 or fd00::2)`);
    const localV6 = c.includes(":");
    const remoteV6 = sockaddrFamily(sa.value) !== AF_INET;
    if (localV6 !== remoteV6) throw new UsageError(`--local ${localText} is ${localV6 ? "IPv6" : "IPv4"} but ${remote} is ${remoteV6 ? "IPv6" : "IPv4"}: the address families differ`);
    local = localText.replace(/^\[(.*)\]/, "$1");
  }
  const profile = p.string("profile") ?? "windows";
  if (!isProfileName(profile)) throw new UsageError(`unknown profile "${profile}" (${PROFILE_NAMES.join(", ")})`);
  const synRetries = p.int("syn-retries", 0, 250);
  // SIO_TCP_INITIAL_RTO refuses more than the OS takes (windows: 8; profile synRetriesLimit).
  const limit = PROFILES[profile].synRetriesLimit;
  if (synRetries !== undefined && synRetries > limit) throw new UsageError(`--syn-retries ${synRetries}: the ${profile} profile takes at most ${limit} (SIO_TCP_INITIAL_RTO rejects more)`);
  const sendText = p.string("send");
  return {
    remote,
    mode,
    labPeer: labPeer ?? "echo",
    dev: p.string("dev"),
    raw: p.string("raw"),
    local,
    profile,
    synRetries,
    initialRtoMs: p.int("initial-rto", 1, 65534),
    failOnIcmp: p.flag("fail-on-icmp"),
    cancelAfterMs: p.int("cancel-after", 0, 3_600_000),
    send: sendText === undefined ? undefined : unescapeSend(sendText),
    pcap: p.string("pcap"),
    json: p.flag("json"),
  };
}

/** The JSON object: the connect's result, and the data and close steps when there were any. */
export function resultJson(r: ConnectResult): Record<string, unknown> {
  const stepJson = (x: StepResult) => ({ status: x.status, ntstatus: x.ntstatus, ok: x.ok, detail: x.detail });
  return {
    status: r.status,
    ntstatus: r.ntstatus,
    outcome: r.outcome,
    profile: r.profile,
    local: r.local,
    remote: r.remote,
    elapsedMs: r.elapsedMs,
    synsSent: r.synsSent,
    segments: r.segments
      .filter((s) => s.kind === "tcp" || s.kind === "icmp")
      .map((s) =>
        s.kind === "icmp"
          ? { t: s.t, dir: s.dir, icmp: s.icmp, decision: s.decision }
          : { t: s.t, dir: s.dir, flags: s.flags, seq: s.seq, ack: s.ack, win: s.win, len: s.len, options: s.options, decision: s.decision },
      ),
    // Timers that expired, the application's calls, and notes at an instant of their own.
    events: r.segments.filter((s) => s.kind !== "tcp" && s.kind !== "icmp").map((s) => ({ t: s.t, kind: s.kind, decision: s.decision })),
    ...(r.received !== undefined ? { received: r.received, receivedBytes: r.receivedBytes } : {}),
    ...(r.send ? { send: stepJson(r.send) } : {}),
    ...(r.receive ? { receive: stepJson(r.receive) } : {}),
    ...(r.close ? { close: stepJson(r.close) } : {}),
    ok: connectSucceeded(r),
  };
}

/** The connect, and the data and the close when they were attempted, all succeeded. */
export function connectSucceeded(r: ConnectResult): boolean {
  return r.status === "STATUS_SUCCESS" && (r.send?.ok ?? true) && (r.receive?.ok ?? true) && (r.close?.ok ?? true);
}

/** The connect's own line: its NTSTATUS, how long, how many SYNs. */
export function statusLine(r: ConnectResult, c: Colors): string {
  const ok = r.status === "STATUS_SUCCESS";
  const status = `${r.status} (${r.ntstatus})`;
  return `${ok ? c.green("✔") : c.red("✘")} ${"connect".padEnd(7)} ${c.bold(status)}  ${r.outcome} after ${r.elapsedMs} ms, ${r.synsSent} SYN${r.synsSent === 1 ? "" : "s"}, profile ${r.profile}, ${r.local || "?"} -> ${r.remote}`;
}

/** One line each for the send, the receiving and the close (after a successful connect). */
export function stepLines(r: ConnectResult, c: Colors): string[] {
  const out: string[] = [];
  const line = (what: string, x: StepResult | undefined) => {
    if (!x) return;
    const mark = x.ok ? c.green("✔") : c.red("✘");
    const status = what === "receive" && x.ok ? "" : `${c.bold(`${x.status} (${x.ntstatus})`)}  `;
    out.push(`${mark} ${what.padEnd(7)} ${status}${x.detail}`);
  };
  line("send", r.send);
  line("receive", r.receive);
  line("close", r.close);
  return out;
}

/**
 * The simulated network for --sim (SIM_NET, as openStack({ sim: true }) and the demo): the
 * stack at 10.99.0.2 / fd99::2, plus a host at the remote address listening on its port.
 */
export function simDevice(remote: string): { device: Device; stackAddr: string; gateway: string } {
  const sa = parseSockaddr(remote);
  if (!sa.ok) throw new UsageError(sa.reason);
  const addr = sockaddrAddress(sa.value);
  const port = sockaddrPort(sa.value);
  const v6 = addr.includes(":");
  const own = v6 ? SIM_NET.stack6 : SIM_NET.stack4;
  if (addr === own) throw new UsageError(`--sim: ${addr} is the stack's own address on the simulated network; connect to another (the simulated host is ${v6 ? SIM_NET.host6 : SIM_NET.host4})`);
  const net = simulatedNetwork().cfg;
  const peer = new SimPeer({ ...net, addresses: [...net.addresses, addr], listen: { ...net.listen, [port]: "echo" } });
  return { device: new SimDevice(peer), stackAddr: SIM_NET.stackAddresses[v6 ? 1 : 0]!, gateway: v6 ? SIM_NET.host6 : SIM_NET.host4 };
}

export async function connectCommand(argv: string[]): Promise<number> {
  let a: ConnectArgs | "help";
  try {
    a = parseConnectArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`synack connect: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (a === "help") {
    process.stdout.write(formatHelp(CONNECT));
    return 0;
  }
  const sa = parseSockaddr(a.remote);
  if (!sa.ok) return 2;
  const remoteAddr = sockaddrAddress(sa.value);
  const v6 = remoteAddr.includes(":");
  let lab: Lab | undefined;
  let run: ConnectRun;
  const common = {
    remote: a.remote,
    profile: a.profile,
    synRetries: a.synRetries,
    initialRtoMs: a.initialRtoMs,
    failOnIcmp: a.failOnIcmp,
    cancelAfterMs: a.cancelAfterMs,
    send: a.send,
    pcap: a.pcap,
  };
  let note = "";
  try {
    switch (a.mode) {
      case "sim": {
        const { device, stackAddr, gateway } = simDevice(a.remote);
        run = { ...common, device, addresses: [stackAddr], gateway4: v6 ? undefined : gateway, gateway6: v6 ? gateway : undefined };
        note = "simulated peer (in-process, not a real network)";
        break;
      }
      case "lab": {
        const next = (x: string) => (v6 ? nextV6(x) : nextV4(x));
        const stackAddr = next(remoteAddr);
        // echo and closed: the kernel owns HOST. A route kind: the kernel is the next address
        // but one and routes HOST (one address) to a blackhole, unreachable or prohibit route.
        const routed = a.labPeer !== "echo" && a.labPeer !== "closed";
        const kernelAddr = routed ? next(stackAddr) : remoteAddr;
        const sub = v6 ? `${kernelAddr}/64` : `${kernelAddr}/24`;
        const routes = routed ? [[a.labPeer, v6 ? `${remoteAddr}/128` : `${remoteAddr}/32`]] : undefined;
        const listen = a.labPeer === "echo" ? [sockaddrPort(sa.value)] : [];
        lab = await Lab.create({ kernel4: v6 ? "10.99.0.1/24" : sub, kernel6: v6 ? sub : "fd99::1/64", stack4: v6 ? "10.99.0.2" : stackAddr, stack6: v6 ? stackAddr : "fd99::2", listen, routes, delayMs: 1 });
        run = { ...common, device: lab.tun, addresses: [v6 ? `${stackAddr}/64` : `${stackAddr}/24`], local: stackAddr };
        const what =
          a.labPeer === "echo"
            ? `kernel at ${remoteAddr} listening on ${sockaddrPort(sa.value)} (echo)`
            : a.labPeer === "closed"
              ? `kernel at ${remoteAddr}, nothing listening on ${sockaddrPort(sa.value)}`
              : `kernel at ${kernelAddr} with a ${a.labPeer} route for ${remoteAddr}`;
        note = `lab namespace ${lab.ns}: ${what}, stack at ${stackAddr}`;
        break;
      }
      case "dev": {
        const { TunDevice } = await import("../../device/tun/index.js");
        const device = TunDevice.open({ name: a.dev!, up: true });
        const local = a.local!;
        run = { ...common, device, addresses: [local.includes("/") ? local : `${local}/${v6 ? 128 : 32}`], local: local.replace(/\/\d+$/, ""), gateway4: v6 ? undefined : remoteAddr, gateway6: v6 ? remoteAddr : undefined };
        note = `TUN device ${device.name}`;
        break;
      }
      case "raw": {
        const { RawIpDevice } = await import("../../device/raw.js");
        const local = a.local!.replace(/\/\d+$/, "");
        // rstFilter: the device installs (and on close removes) the nft rule that stops the
        // host kernel from answering our SYN-ACKs with RST (device/raw.md).
        const device = RawIpDevice.open({ ifname: a.raw!, local, rstFilter: true });
        run = { ...common, device, addresses: [`${local}/${v6 ? 128 : 32}`], local, gateway4: v6 ? undefined : remoteAddr, gateway6: v6 ? remoteAddr : undefined };
        note = `raw IP socket on ${a.raw} (RST filter installed for ${local})`;
        break;
      }
    }
  } catch (e) {
    if (lab) await lab.close();
    process.stderr.write(`synack connect: ${(e as Error).message.split("\n")[0]}\n`);
    return 2;
  }
  let result: ConnectResult;
  try {
    result = await runConnect(run);
  } finally {
    if (lab) await lab.close();
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(resultJson(result)) + "\n");
  } else {
    const c = colorsFor(process.stdout);
    process.stdout.write(`${c.dim(`synack connect ${a.remote} via ${note}, profile ${a.profile}`)}\n`);
    process.stdout.write(formatTimeline(result.segments, c, { local: result.local, remote: result.remote }) + "\n");
    if (result.received !== undefined) process.stdout.write(`${c.dim("received:")} ${JSON.stringify(result.received)}\n`);
    if (a.pcap) process.stdout.write(`${c.dim(`capture written to ${a.pcap}`)}\n`);
    process.stdout.write(statusLine(result, c) + "\n");
    for (const l of stepLines(result, c)) process.stdout.write(l + "\n");
  }
  return connectSucceeded(result) ? 0 : 1;
}

function nextV4(a: string): string {
  const p = a.split(".").map(Number);
  p[3] = p[3] === 254 ? 253 : p[3] + 1;
  return p.join(".");
}

function nextV6(a: string): string {
  const c = canonicalIp(a)!;
  const i = c.lastIndexOf(":");
  const last = c.slice(i + 1);
  const n = last === "" ? 0 : parseInt(last, 16);
  return `${c.slice(0, i + 1)}${((n + 1) & 0xffff).toString(16)}`;
}
