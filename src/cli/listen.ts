// `synack listen PORT ...` (docs/cli.md): the stack listens through the WSK facade's
// promise API (listen(), WskAcceptEvent) on a real TUN device (--dev), in a throwaway lab
// namespace whose kernel can connect to it (--lab), or for a simulated client (--sim, a
// second synack stack in-process). Each accepted connection is served (--echo, --serve FILE,
// or read and discarded) and, once it ends, its segment timeline is printed, or one JSON
// object per line with --json. Runs until Ctrl-C or --count connections ended. Exit 0 after
// --count connections, 1 when listening failed, 2 on usage or setup errors, 130/143 on
// SIGINT/SIGTERM (as every command).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { cryptoRandom } from "../../device/random.js";
import { Runtime } from "../../device/runtime.js";
import type { Device } from "../../device/types.js";
import { Stack } from "../../stack/stack.js";
import type { TraceEvent } from "../../stack/trace.js";
import { isProfileName, PROFILE_NAMES, type ProfileName } from "../../stack/tcp/profiles.js";
import { canonicalIp } from "../../stack/wire/addr.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { WskConnection, connect } from "../api.js";
import { listen, type Listener } from "../listen.js";
import { Lab } from "../lab/lab.js";
import { devicePipe } from "../lab/pipe.js";
import { SIM_NET } from "../lab/simpeer.js";
import { WskClient } from "../wsk/client.js";
import { NtStatusError } from "../wsk/ntstatus.js";
import { WskProvider } from "../wsk/provider.js";
import { UsageError } from "./errors.js";
import { LISTEN } from "./commands.js";
import { formatHelp, parseCommand } from "./options.js";
import { colorsFor, formatTimeline, segmentsFromTrace, type Colors, type SegmentRecord } from "./timeline.js";


export type ServeMode = "discard" | "echo" | "file";

export interface ListenArgs {
  port: number;
  mode: "dev" | "lab" | "sim";
  dev?: string;
  local?: string;
  profile: ProfileName;
  serve: ServeMode;
  file?: string;
  count?: number;
  json: boolean;
}

export function parseListenArgs(argv: string[]): ListenArgs | "help" {
  const p = parseCommand(LISTEN, argv);
  if (p === "help") return "help";
  const portText = p.positionals[0]!;
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw new UsageError(`bad port "${portText}" (1-65535)`);
  const modes = (["dev", "lab", "sim"] as const).filter((m) => p.has(m));
  if (modes.length === 0) throw new UsageError("choose where to listen: --dev NAME --local ADDR, --lab or --sim");
  if (modes.length > 1) throw new UsageError(`--${modes.join(", --")}: choose one (--dev, --lab and --sim are mutually exclusive)`);
  const mode = modes[0]!;
  const local = p.string("local");
  if (mode === "dev" && !local) throw new UsageError("--dev needs --local ADDR (the stack's own address)");
  if (mode !== "dev" && local !== undefined) throw new UsageError("--local goes with --dev");
  if (local !== undefined && !canonicalIp(local.replace(/\/\d+$/, ""))) throw new UsageError(`bad --local address "${local}" (an IPv4 or IPv6 address, e.g. 10.0.0.2 or fd00::2)`);
  if (p.flag("echo") && p.has("serve")) throw new UsageError("--echo and --serve are mutually exclusive");
  const profile = p.string("profile") ?? "windows";
  if (!isProfileName(profile)) throw new UsageError(`unknown profile "${profile}" (${PROFILE_NAMES.join(", ")})`);
  const count = p.int("count", 1, Number.MAX_SAFE_INTEGER);
  const file = p.string("serve");
  return { port: Number(portText), mode, dev: p.string("dev"), local, profile, serve: p.flag("echo") ? "echo" : file !== undefined ? "file" : "discard", file, count, json: p.flag("json") };
}

// ---------------------------------------------------------------------------------------
// Serving one connection

export interface ServedConnection {
  local: string;
  remote: string;
  /** How it ended: "graceful" (both FINs), or the status that ended it. */
  end: string;
  bytesIn: number;
  bytesOut: number;
  /** The first bytes received (up to 256), as text. */
  received: string;
  /** From the SYN to the end, ms. */
  durationMs: number;
  segments: SegmentRecord[];
}

const MIME: Record<string, string> = { ".html": "text/html", ".htm": "text/html", ".txt": "text/plain", ".json": "application/json", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };

/** The reply to `request` for --serve: an HTTP response for an HTTP request, else the file. */
export function fileReply(request: string, file: Uint8Array, name: string): Uint8Array {
  const m = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) \S+ HTTP\/1\.[01]\r?\n/.exec(request);
  if (!m) return file;
  const head = `HTTP/1.1 200 OK\r\nContent-Type: ${MIME[extname(name).toLowerCase()] ?? "application/octet-stream"}\r\nContent-Length: ${file.length}\r\nConnection: close\r\nServer: synack\r\n\r\n`;
  const h = new TextEncoder().encode(head);
  if (m[1] === "HEAD") return h;
  const out = new Uint8Array(h.length + file.length);
  out.set(h);
  out.set(file, h.length);
  return out;
}

/** Reads until end of stream; false if the stream did not end within `ms`. */
async function drain(conn: WskConnection, ms: number, onData: (c: Uint8Array) => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)));
  const reading = (async () => {
    for await (const chunk of conn) onData(chunk);
    return true;
  })();
  reading.catch(() => undefined);
  try {
    return await Promise.race([reading, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function serve(conn: WskConnection, mode: ServeMode, file: { bytes: Uint8Array; name: string } | undefined): Promise<{ end: string; bytesIn: number; bytesOut: number; received: string }> {
  let bytesIn = 0;
  let bytesOut = 0;
  let head = "";
  const note = (c: Uint8Array) => {
    bytesIn += c.length;
    if (head.length < 256) head += new TextDecoder().decode(c.subarray(0, 256 - head.length));
  };
  let end = "graceful";
  try {
    if (mode === "echo") {
      for await (const chunk of conn) {
        note(chunk);
        bytesOut += await conn.write(chunk);
      }
      await conn.end();
    } else if (mode === "file") {
      // The first request: an HTTP header up to its blank line, or whatever comes first.
      let request = "";
      for await (const chunk of conn) {
        note(chunk);
        request += new TextDecoder().decode(chunk);
        if (!/^[A-Z]+ \S+ HTTP\//.test(request) || request.includes("\r\n\r\n") || request.length > 65536) break;
      }
      const reply = fileReply(request, file!.bytes, file!.name);
      if (reply.length > 0) bytesOut += await conn.write(reply);
      await conn.end();
      // Our FIN is acknowledged; wait for the client's, so the close is graceful both ways.
      if (!(await drain(conn, 10_000, note))) end = "client did not close within 10 s";
    } else {
      for await (const chunk of conn) note(chunk);
      await conn.end();
    }
  } catch (e) {
    end = e instanceof NtStatusError ? e.statusName : String(e);
  } finally {
    await conn.close();
  }
  return { end, bytesIn, bytesOut, received: head };
}

// ---------------------------------------------------------------------------------------
// Per-connection traces

/** "10.0.0.2:80>10.0.0.1:4000" of a packet as the stack sees it (local first). */
function tupleOf(ev: TraceEvent): string | undefined {
  if (ev.tuple) return ev.tuple;
  if (!ev.bytes) return undefined;
  const p = parsePacket(ev.bytes);
  if (!p.ok || p.value.l4.kind !== "tcp") return undefined;
  const out = ev.kind === "out";
  const v6 = p.value.ip.version === 6;
  const fmt = (a: string, port: number) => `${v6 ? `[${a}]` : a}:${port}`;
  const tcp = p.value.l4.tcp;
  const local = out ? fmt(p.value.ip.src, tcp.srcPort) : fmt(p.value.ip.dst, tcp.dstPort);
  const remote = out ? fmt(p.value.ip.dst, tcp.dstPort) : fmt(p.value.ip.src, tcp.srcPort);
  return `${local}>${remote}`;
}

/** Keeps the trace per connection until its timeline is printed (bounded). */
class TraceBook {
  private readonly byTuple = new Map<string, TraceEvent[]>();
  private static readonly MAX_TUPLES = 20_000;

  sink = (ev: TraceEvent): void => {
    const t = tupleOf(ev);
    if (!t) return;
    let list = this.byTuple.get(t);
    if (!list) {
      if (this.byTuple.size >= TraceBook.MAX_TUPLES) this.byTuple.delete(this.byTuple.keys().next().value!);
      list = [];
      this.byTuple.set(t, list);
    }
    list.push(ev);
  };

  take(tuple: string): TraceEvent[] {
    const list = this.byTuple.get(tuple) ?? [];
    this.byTuple.delete(tuple);
    return list;
  }
}

// ---------------------------------------------------------------------------------------
// The server

export interface ListenServerOptions {
  device: Device;
  addresses: string[];
  port: number;
  profile: ProfileName;
  serve: ServeMode;
  file?: { bytes: Uint8Array; name: string };
  /** Called with each connection once it ended. */
  onServed(c: ServedConnection): void;
}

export interface SynFloodCounts {
  halfOpenDropped: number;
  synCookiesSent: number;
  synCookiesAccepted: number;
  synCookiesFailed: number;
}

export interface ListenServer {
  /** "10.99.0.2:8080", "[fd99::2]:8080": one listening socket per address family. */
  listening: string[];
  /**
   * What a SYN flood made the listeners do (the profile's halfOpenLimit and halfOpenFull):
   * half-open connections dropped for newer SYNs, SYN cookies sent, ACKs that brought one back
   * (connections), and ACKs whose cookie did not check.
   */
  synFlood(): SynFloodCounts;
  close(): Promise<void>;
}

export async function startListenServer(o: ListenServerOptions): Promise<ListenServer> {
  const book = new TraceBook();
  const stack = new Stack({ addresses: o.addresses, mtu: o.device.mtu, profile: o.profile, random: cryptoRandom(), isnSecret: randomBytes(16), trace: book.sink });
  const runtime = new Runtime(stack, o.device);
  const provider = new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.kick(), profile: o.profile });
  runtime.onDeviceError(() => provider.failAll());
  const client = new WskClient(provider);
  const active = new Map<WskConnection, Promise<void>>();
  const onConnection = (conn: WskConnection) => {
    const tuple = `${conn.local}>${conn.remote}`;
    const p = serve(conn, o.serve, o.file).then((r) => {
      // The last ACK of the close leaves on the next flush: take the trace after it.
      runtime.flush();
      const events = book.take(tuple);
      const t0 = events[0]?.t ?? runtime.now();
      const port = (a: string) => Number(a.slice(a.lastIndexOf(":") + 1));
      const segments = segmentsFromTrace(events, t0, port(conn.local), port(conn.remote));
      o.onServed({ local: conn.local, remote: conn.remote, ...r, durationMs: Math.round((runtime.now() - t0) * 10) / 10, segments });
    });
    active.set(conn, p);
    void p.finally(() => active.delete(conn));
  };
  const families = [...new Set(o.addresses.map((a) => (a.includes(":") ? "::" : "0.0.0.0")))];
  const listeners: Listener[] = [];
  try {
    for (const host of families) listeners.push(await listen(client, o.port, { host, profile: o.profile, onConnection }));
  } catch (e) {
    for (const l of listeners) await l.close();
    client.close();
    await runtime.close();
    throw e;
  }
  const addrs = o.addresses.map((a) => a.replace(/\/\d+$/, ""));
  return {
    listening: addrs.map((a) => (a.includes(":") ? `[${a}]:${o.port}` : `${a}:${o.port}`)),
    synFlood: () => {
      const st = stack.stats;
      return { halfOpenDropped: st.halfOpenDropped, synCookiesSent: st.synCookiesSent, synCookiesAccepted: st.synCookiesAccepted, synCookiesFailed: st.synCookiesFailed };
    },
    async close() {
      for (const l of listeners) await l.close();
      // Connections still being served are reset (RST), as closing a socket does.
      const open = [...active];
      for (const [conn] of open) conn.destroy();
      await Promise.race([Promise.allSettled(open.map(([, p]) => p)), new Promise((r) => setTimeout(r, 2000))]);
      runtime.flush();
      client.close();
      await runtime.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Output

export function connectionJson(c: ServedConnection, profile: ProfileName): Record<string, unknown> {
  return {
    event: "connection",
    local: c.local,
    remote: c.remote,
    profile,
    end: c.end,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    received: c.received,
    durationMs: c.durationMs,
    segments: c.segments.filter((s) => s.kind === "tcp").map((s) => ({ t: s.t, dir: s.dir, flags: s.flags, seq: s.seq, ack: s.ack, win: s.win, len: s.len, options: s.options, decision: s.decision })),
    // Timers that expired, the application's calls, and notes at an instant of their own.
    events: c.segments.filter((s) => s.kind !== "tcp" && s.kind !== "icmp").map((s) => ({ t: s.t, kind: s.kind, decision: s.decision })),
  };
}

function connectionText(c: ServedConnection, n: number, col: Colors): string {
  const ok = c.end === "graceful";
  const lines = [col.bold(`connection ${n}: ${c.remote} -> ${c.local}`), formatTimeline(c.segments, col, { local: c.local, remote: c.remote })];
  if (c.received) lines.push(`${col.dim("received:")} ${JSON.stringify(c.received.length >= 256 ? c.received + "..." : c.received)}`);
  lines.push(`${ok ? col.green("✔") : col.red("✘")} ${c.remote} ${ok ? "closed gracefully" : `ended: ${c.end}`} after ${c.durationMs} ms: received ${c.bytesIn} B, sent ${c.bytesOut} B`);
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------
// The command

/** The simulated client of --sim: a second synack stack that connects, talks and closes. */
async function simulatedClients(device: Device, server: string, count: number, serve: ServeMode, onError: (e: unknown) => void): Promise<void> {
  const stack = new Stack({ addresses: [`${SIM_NET.host4}/24`], mtu: device.mtu, profile: "linux", random: cryptoRandom(), isnSecret: randomBytes(16) });
  const runtime = new Runtime(stack, device);
  const provider = new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.kick(), profile: "linux" });
  const client = new WskClient(provider);
  try {
    for (let i = 0; i < count; i++) {
      try {
        const conn = await connect(client, server, { profile: "linux" });
        await conn.write(serve === "file" ? `GET / HTTP/1.1\r\nHost: ${server}\r\nConnection: close\r\n\r\n` : `hello ${i + 1} from the simulated client\n`);
        if (serve !== "file") await conn.end();
        for await (const _ of conn) void _;
        if (serve === "file") await conn.end();
        await conn.close();
      } catch (e) {
        onError(e);
      }
    }
  } finally {
    client.close();
    await runtime.close();
  }
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(join(d, cmd)));
}

/** A command the lab's kernel side can run to connect: curl for --serve, else nc, else python3. */
function clientHint(addr: string, port: number, serve: ServeMode): string {
  const v6 = addr.includes(":");
  if (serve === "file") return `curl ${v6 ? "-g " : ""}http://${v6 ? `[${addr}]` : addr}:${port}/`;
  if (onPath("nc")) return `nc ${addr} ${port}`;
  return `python3 -c "import socket; s = socket.create_connection(('${addr}', ${port})); s.sendall(b'hello\\n'); s.shutdown(1); print(s.recv(65536))"`;
}

export async function listenCommand(argv: string[]): Promise<number> {
  let a: ListenArgs | "help";
  try {
    a = parseListenArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`synack listen: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (a === "help") {
    process.stdout.write(formatHelp(LISTEN));
    return 0;
  }
  let file: { bytes: Uint8Array; name: string } | undefined;
  if (a.file !== undefined) {
    try {
      file = { bytes: readFileSync(a.file), name: basename(a.file) };
    } catch (e) {
      process.stderr.write(`synack listen: cannot read ${a.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 2;
    }
  }
  const col = colorsFor(process.stdout);
  // A reader that goes away (`synack listen ... | head`) ends the command quietly; the exit
  // hooks remove the lab.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
  const out = (s: string) => process.stdout.write(s);
  let lab: Lab | undefined;
  let device: Device;
  let addresses: string[];
  let note: string;
  let hint: string[] = [];
  let simDevice: Device | undefined;
  try {
    switch (a.mode) {
      case "lab": {
        lab = await Lab.create({ kernel4: "10.99.0.1/24", kernel6: "fd99::1/64", stack4: "10.99.0.2", stack6: "fd99::2" });
        device = lab.tun;
        addresses = ["10.99.0.2/24", "fd99::2/64"];
        note = `lab namespace ${lab.ns} (the kernel at 10.99.0.1 and fd99::1)`;
        hint = [`connect from the kernel: ip netns exec ${lab.ns} ${clientHint("10.99.0.2", a.port, a.serve)}`, `                     or: ip netns exec ${lab.ns} ${clientHint("fd99::2", a.port, a.serve)}`];
        break;
      }
      case "dev": {
        const { TunDevice } = await import("../../device/tun/index.js");
        device = TunDevice.open({ name: a.dev!, up: true });
        const local = a.local!;
        const v6 = local.includes(":");
        addresses = [local.includes("/") ? local : `${local}/${v6 ? 64 : 24}`];
        note = `TUN device ${device.name}`;
        break;
      }
      case "sim": {
        const [serverEnd, clientEnd] = devicePipe();
        device = serverEnd;
        simDevice = clientEnd;
        addresses = [SIM_NET.stackAddresses[0]!];
        note = "a simulated client (a second synack stack in-process, not a real network)";
        break;
      }
    }
  } catch (e) {
    if (lab) await lab.close();
    process.stderr.write(`synack listen: ${(e as Error).message.split("\n")[0]}\n`);
    return 2;
  }
  let served = 0;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((res) => (stop = res));
  let server: ListenServer;
  try {
    server = await startListenServer({
      device,
      addresses,
      port: a.port,
      profile: a.profile,
      serve: a.serve,
      file,
      onServed: (c) => {
        served++;
        out(a.json ? JSON.stringify(connectionJson(c, a.profile)) + "\n" : connectionText(c, served, col));
        if (a.count !== undefined && served >= a.count) stop();
      },
    });
  } catch (e) {
    if (lab) await lab.close();
    else await device.close();
    if (e instanceof NtStatusError) {
      process.stderr.write(`synack listen: cannot listen on port ${a.port}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (a.json) out(JSON.stringify({ event: "listening", listening: server.listening, profile: a.profile, serve: a.serve, via: a.mode, ...(lab ? { netns: lab.ns } : {}) }) + "\n");
  else {
    out(`${col.dim(`synack listen on ${server.listening.join(" and ")} via ${note}, profile ${a.profile}, ${a.serve === "echo" ? "echo" : a.serve === "file" ? `serving ${a.file}` : "reading and discarding"}`)}\n`);
    for (const h of hint) out(`${h}\n`);
    if (a.count === undefined) out(col.dim("(Ctrl-C stops)\n"));
  }
  if (simDevice) {
    void simulatedClients(simDevice, `${SIM_NET.stack4}:${a.port}`, a.count ?? 1, a.serve, (e) => process.stderr.write(`synack listen: simulated client: ${(e as Error).message}\n`)).then(() => {
      // Every simulated connection has ended on the client's side; give the server a moment.
      setTimeout(stop, 1000);
    });
  }
  // Ctrl-C and SIGTERM end the process (exit 130 / 143) and its exit hooks remove the lab
  // (src/cli/signals.ts); --count, or the simulated clients being done, stop it here.
  await stopped;
  const flood = server.synFlood();
  await server.close();
  if (lab) await lab.close();
  if (a.json) out(JSON.stringify({ event: "stopped", served, ...flood }) + "\n");
  else out(col.dim(`stopped after ${served} connection${served === 1 ? "" : "s"}${floodNote(flood)}\n`));
  return 0;
}

/** " (20000 half-open connections dropped for newer SYNs, ...: a SYN flood?)", or "" when there was none. */
function floodNote(f: SynFloodCounts): string {
  const parts: string[] = [];
  const n = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
  if (f.halfOpenDropped > 0) parts.push(`${n(f.halfOpenDropped, "half-open connection")} dropped for newer SYNs`);
  if (f.synCookiesSent > 0) parts.push(`${n(f.synCookiesSent, "SYN cookie")} sent`);
  if (f.synCookiesAccepted > 0) parts.push(`${n(f.synCookiesAccepted, "connection")} opened from a cookie`);
  if (f.synCookiesFailed > 0) parts.push(`${n(f.synCookiesFailed, "ACK")} with a cookie that did not check`);
  return parts.length > 0 ? ` (${parts.join(", ")}: a SYN flood?)` : "";
}
