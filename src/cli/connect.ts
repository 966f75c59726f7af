// `synack connect HOST:PORT ...` (docs/cli.md): one active open through the WSK facade on a
// real TUN device (--dev), a raw IP socket (--raw), a throwaway lab namespace (--lab), or the
// in-process simulated peer (--sim); prints the segment timeline and the final status line,
// or one JSON object with --json. Exit 0 on STATUS_SUCCESS, 1 on any other status, 2 on usage.
import { parseArgs } from "node:util";
import { isProfileName, type ProfileName } from "../../stack/tcp/profiles.js";
import { canonicalIp } from "../../stack/wire/addr.js";
import { parseSockaddr, sockaddrAddress, sockaddrFamily, sockaddrPort, AF_INET } from "../wsk/sockaddr.js";
import { runConnect, type ConnectResult, type ConnectRun } from "../lab/session.js";
import { SimDevice, SimPeer } from "../lab/simpeer.js";
import { Lab } from "../lab/lab.js";
import { UsageError } from "./errors.js";
import { simulatedNetwork } from "./demo.js";
import { colorsFor, formatTimeline, type Colors } from "./timeline.js";
import type { Device } from "../../device/types.js";

const USAGE = `usage: synack connect HOST:PORT (--dev NAME --local ADDR | --raw IFNAME --local ADDR | --lab | --sim)
       [--profile windows|linux|freebsd|rfc] [--syn-retries N] [--initial-rto MS] [--fail-on-icmp]
       [--cancel-after MS] [--send TEXT] [--pcap FILE] [--json]

  --dev NAME      attach to (or create) the TUN device NAME; --local is the stack's own address
  --raw IFNAME    use a raw IP socket on IFNAME (IPv4); needs the RST filter (see docs/devices.md)
  --lab           create a throwaway namespace with a TUN and a kernel echo listener at HOST:PORT
  --sim           talk to the in-process simulated peer (no root needed; a simulation): the
                  remote host listens on PORT; 10.99.1.0/24 is black-holed, 10.99.2.0/24 answers
                  ICMP host unreachable, 10.99.3.0/24 admin prohibited, fd99:2::/64 ICMPv6 no route
`;

export interface ConnectArgs {
  remote: string;
  mode: "dev" | "raw" | "lab" | "sim";
  dev?: string;
  raw?: string;
  local?: string;
  profile: ProfileName;
  synRetries?: number;
  initialRtoMs?: number;
  failOnIcmp: boolean;
  cancelAfterMs?: number;
  send?: string;
  pcap?: string;
  json: boolean;
}

function num(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number, not "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

export function parseConnectArgs(argv: string[]): ConnectArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dev: { type: "string" },
        raw: { type: "string" },
        lab: { type: "boolean", default: false },
        sim: { type: "boolean", default: false },
        local: { type: "string" },
        profile: { type: "string" },
        "syn-retries": { type: "string" },
        "initial-rto": { type: "string" },
        "fail-on-icmp": { type: "boolean", default: false },
        "cancel-after": { type: "string" },
        send: { type: "string" },
        pcap: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (parsed.positionals.length !== 1) throw new UsageError(parsed.positionals.length === 0 ? "missing HOST:PORT" : `one HOST:PORT expected, got ${parsed.positionals.length} arguments`);
  const remote = parsed.positionals[0];
  const sa = parseSockaddr(remote);
  if (!sa.ok) throw new UsageError(`bad address "${remote}": ${sa.reason} (expected 10.0.0.1:80 or [fd00::1]:80)`);
  if (sockaddrPort(sa.value) === 0) throw new UsageError("the port must not be 0");
  const modes = [v.dev !== undefined, v.raw !== undefined, v.lab, v.sim].filter(Boolean).length;
  if (modes === 0) throw new UsageError("choose where to connect: --dev NAME --local ADDR, --raw IFNAME --local ADDR, --lab or --sim");
  if (modes > 1) throw new UsageError("--dev, --raw, --lab and --sim are mutually exclusive");
  const mode = v.dev !== undefined ? "dev" : v.raw !== undefined ? "raw" : v.lab ? "lab" : "sim";
  if ((mode === "dev" || mode === "raw") && !v.local) throw new UsageError(`--${mode} needs --local ADDR (the stack's own address)`);
  let local: string | undefined;
  if (v.local !== undefined) {
    const c = canonicalIp(v.local.replace(/\/\d+$/, ""));
    if (!c) throw new UsageError(`bad --local address "${v.local}"`);
    if (c.includes(":") !== (sockaddrFamily(sa.value) !== AF_INET)) throw new UsageError(`--local ${v.local} and ${remote} are of different address families`);
    local = v.local;
  }
  const profile = v.profile ?? "windows";
  if (!isProfileName(profile)) throw new UsageError(`unknown profile "${profile}" (windows, linux, freebsd, rfc)`);
  return {
    remote,
    mode,
    dev: v.dev,
    raw: v.raw,
    local,
    profile,
    synRetries: num("syn-retries", v["syn-retries"], 0, 250),
    initialRtoMs: num("initial-rto", v["initial-rto"], 1, 65534),
    failOnIcmp: v["fail-on-icmp"],
    cancelAfterMs: num("cancel-after", v["cancel-after"], 0, 3_600_000),
    send: v.send,
    pcap: v.pcap,
    json: v.json,
  };
}

/** The JSON object of `connect --json` (docs/cli.md). */
export function resultJson(r: ConnectResult): Record<string, unknown> {
  return {
    status: r.status,
    ntstatus: r.ntstatus,
    outcome: r.outcome,
    profile: r.profile,
    local: r.local,
    remote: r.remote,
    elapsedMs: r.elapsedMs,
    synsSent: r.synsSent,
    segments: r.segments.map((s) =>
      s.icmp
        ? { t: s.t, dir: s.dir, icmp: s.icmp, decision: s.decision }
        : { t: s.t, dir: s.dir, flags: s.flags, seq: s.seq, ack: s.ack, win: s.win, len: s.len, options: s.options, decision: s.decision },
    ),
    ...(r.received !== undefined ? { received: r.received } : {}),
  };
}

export function statusLine(r: ConnectResult, c: Colors): string {
  const ok = r.status === "STATUS_SUCCESS";
  const status = `${r.status} (${r.ntstatus})`;
  return `${ok ? c.green("✔") : c.red("✘")} ${c.bold(status)}  ${r.outcome} after ${r.elapsedMs} ms, ${r.synsSent} SYN${r.synsSent === 1 ? "" : "s"}, profile ${r.profile}, ${r.local || "?"} -> ${r.remote}`;
}

/** The simulated network for --sim: a host at the remote address listening on its port. */
export function simDevice(remote: string): { device: Device; stackAddr: string } {
  const sa = parseSockaddr(remote);
  if (!sa.ok) throw new UsageError(sa.reason);
  const addr = sockaddrAddress(sa.value);
  const port = sockaddrPort(sa.value);
  const v6 = addr.includes(":");
  // The demo's simulated network (blackhole 10.99.1.0/24, unreachable 10.99.2.0/24, ...)
  // plus a host at the remote address that listens on the requested port.
  const net = simulatedNetwork().cfg;
  const peer = new SimPeer({ ...net, addresses: [...net.addresses, addr], listen: { ...net.listen, [port]: "echo" } });
  return { device: new SimDevice(peer), stackAddr: v6 ? "fd99:5::2/64" : "10.99.5.2/24" };
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
    process.stdout.write(USAGE);
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
        const { device, stackAddr } = simDevice(a.remote);
        run = { ...common, device, addresses: [stackAddr], gateway4: v6 ? undefined : remoteAddr, gateway6: v6 ? remoteAddr : undefined };
        note = "simulated peer (in-process, not a real network)";
        break;
      }
      case "lab": {
        const sub = v6 ? `${remoteAddr}/64` : `${remoteAddr}/24`;
        const stackAddr = v6 ? nextV6(remoteAddr) : nextV4(remoteAddr);
        lab = await Lab.create({ kernel4: v6 ? "10.99.0.1/24" : sub, kernel6: v6 ? sub : "fd99::1/64", stack4: v6 ? "10.99.0.2" : stackAddr, stack6: v6 ? stackAddr : "fd99::2", listen: [sockaddrPort(sa.value)], delayMs: 1 });
        run = { ...common, device: lab.tun, addresses: [v6 ? `${stackAddr}/64` : `${stackAddr}/24`], local: stackAddr };
        note = `lab namespace ${lab.ns}: kernel at ${remoteAddr} listening on ${sockaddrPort(sa.value)} (echo), stack at ${stackAddr}`;
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
  }
  return result.status === "STATUS_SUCCESS" ? 0 : 1;
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
