// The packetdrill script runner (docs/conformance-runner.md, docs/cli.md): runs a parsed script against the
// stack through the WSK facade, in virtual time, and checks what the stack sends.
//
// Why this file is about 770 lines: Run interprets a script event by event, and its
// parts (outbound packets, inbound packets and ICMP, system calls and blocking calls,
// shell and python lines, timing tolerance) all read and move the same per-run state:
// the clock, the sniffed packets, the sequence context and the pending call. What does
// not need that state lives beside it: parse.ts, compare.ts, posix.ts, sysctl*.ts,
// tcpinfo.ts, format.ts.
//
// packetdrill's model (docs/conformance-runner.md): the stack under test is "local" (192.168.0.1 or
// fd3d:fa7b:d17d::1), the script plays the remote peer (192.0.2.1 / 2001:db8::1, port
// 8080). Events run in order; inbound packets and system calls happen at their script
// time, outbound packets are sniffed and compared field by field and their times checked
// against the tolerance. Virtual time: the clock jumps from one timer deadline to the next,
// so a 450 s script runs in milliseconds.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Expr, IcmpEvent, PacketEvent, Script, SyscallEvent } from "./ast.js";
import { formatEvent, formatPacket } from "./format.js";
import { parseScript, preprocessScript, resolveIcmp } from "./parse.js";
import { parseShellCommand, parseSockstatCheck, type ShellAction } from "./sysctl.js";
import { applySysctl, LINUX_DEFAULTS_SH, suiteBaseOverrides, suiteOf, suiteProfile, type Suite, type SysctlState } from "./sysctl-map.js";
import { compareOutbound, formatLive, specFlags, specOptionsToWire, liveTs, type LivePacket, type SeqContext } from "./compare.js";
import { evaluateAsserts, tcpInfoOf } from "./tcpinfo.js";
import { PosixSockets, type CallOutcome, type PendingCall, type SysResult } from "./posix.js";
import { Stack } from "../../stack/stack.js";
import { seededRandom } from "../../stack/random.js";
import { isProfileName, PROFILES, resolveProfile, type Profile, type ProfileName } from "../../stack/tcp/profiles.js";
import { buildIcmpError, buildTcpPacket, parsePacket } from "../../stack/wire/packet.js";
import { WskProvider, type WSK_PROVIDER_NPI } from "../wsk/provider.js";
import { WskClient } from "../wsk/client.js";
import { VirtualRuntime } from "../../device/virtual-runtime.js";
import { errnoByName } from "../wsk/ntstatus.js";

import type { IpVersion } from "../../stack/wire/types.js";
export type { IpVersion };

export interface RunOptions {
  /** Overrides the suite's profile (freebsd for the FreeBSD suite, linux otherwise). */
  profile?: ProfileName;
  ip: IpVersion;
  /** Seed for the stack's ISNs and ports (reproducible runs). */
  seed?: number;
}

export interface ScriptResult {
  result: "pass" | "fail" | "skip";
  reason?: string;
  /** Script line of the failure (or of the line that made the script a skip). */
  line?: number;
  expected?: string;
  actual?: string;
  /** Checks the script asks for that the runner could not evaluate (never counted as checked). */
  unchecked?: string[];
}

export interface ScriptReport {
  path: string;
  ip: IpVersion;
  result: "pass" | "fail" | "skip";
  reason: string | null;
  line: number | null;
  expected?: string;
  actual?: string;
  unchecked?: string[];
}

/** `synack conformance --json` (docs/cli.md). */
export interface ConformanceReport {
  scripts: ScriptReport[];
  passed: number;
  failed: number;
  skipped: number;
}

// ---------------------------------------------------------------------------------------
// Environment

const ADDR = {
  4: { local: "192.168.0.1", prefix: 16, gateway: "192.168.0.254", remote: "192.0.2.1" },
  6: { local: "fd3d:fa7b:d17d::1", prefix: 48, gateway: "fd3d:fa7b:d17d::fffe", remote: "2001:db8::1" },
} as const;

/** packetdrill's defaults (docs/conformance-runner.md, "Model"): 4 ms, plus a share of the expected delay. */
const DEFAULT_TOLERANCE_USECS = 4000;
/** "Timed out waiting for packet": the wait ends this long after the expected time. */
const PACKET_TIMEOUT_MS = 2000;

/** Script-level `--options` the runner honours or that change nothing here. */
const KNOWN_OPTIONS = new Set([
  "ip_version",
  "tolerance_usecs",
  "tolerance_percent",
  "mtu",
  "bind_port",
  "connect_port",
  "strict_segments",
  "send_omit_free",
  "local_ip",
  "remote_ip",
  "gateway_ip",
  "netmask_ip",
  "speed",
]);

const SUPPORTED_SYSCALLS = new Set(["socket", "bind", "connect", "listen", "accept", "fcntl", "getsockopt", "setsockopt", "close", "read", "write", "send", "recv", "shutdown"]);

/**
 * The remote port of a passive script's connections. packetdrill's peer picks its own
 * ephemeral port; no script checks it (the runner never compares ports).
 */
const PASSIVE_REMOTE_PORT = 48_080;

class Failure {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly expected?: string,
    readonly actual?: string,
  ) {}
}
class Skip {
  constructor(
    readonly reason: string,
    readonly line?: number,
  ) {}
}

function symbolOf(e: Expr | undefined): string | undefined {
  return e?.kind === "symbol" ? e.name : undefined;
}
function intOf(e: Expr | undefined): number | undefined {
  if (!e) return undefined;
  if (e.kind === "int") return e.value;
  if (e.kind === "array" && e.items.length === 1) return intOf(e.items[0]);
  return undefined;
}
function orSymbols(e: Expr | undefined): string[] {
  if (!e) return [];
  if (e.kind === "symbol") return [e.name];
  if (e.kind === "or") return e.operands.flatMap(orSymbols);
  return [];
}

function sameErrno(a: string | number, b: string | number): boolean {
  if (a === b) return true;
  const na = typeof a === "number" ? a : errnoByName(a);
  const nb = typeof b === "number" ? b : errnoByName(b);
  return na !== undefined && nb !== undefined && na === nb;
}

// ---------------------------------------------------------------------------------------
// Pre-checks: what makes a script a skip before anything runs

function prescan(script: Script, sysctl: SysctlState): Skip | undefined {
  const features: Array<[string, string]> = [
    ["fastopen", "TCP Fast Open (RFC 7413)"],
    ["md5", "TCP-MD5 (RFC 2385)"],
    ["udp-encap", "TCP over UDP encapsulation"],
    ["accecn", "AccECN"],
    ["ecn", "ECN"],
    ["ip-info", "IP header fields (tos/ttl/flowlabel)"],
    ["macro", "a value its suite's runner defines (-D TFO_COOKIE=..., CODE=...)"],
  ];
  for (const [f, name] of features) {
    if (script.features.includes(f as never)) return new Skip(`needs ${name}, not implemented`);
  }
  for (const k of Object.keys(script.options)) {
    if (!KNOWN_OPTIONS.has(k)) return new Skip(`script option --${k} not supported`);
  }
  if (script.options.tcp_ts_tick_usecs) return new Skip("--tcp_ts_tick_usecs (TS val checks) not supported");
  const scratch: SysctlState = { overrides: { ...sysctl.overrides } };
  const shells: Array<{ line: number; command: string }> = [];
  if (script.initCommand) shells.push(script.initCommand);
  for (const ev of script.events) {
    if (ev.type === "shell") shells.push({ line: ev.line, command: ev.command });
    if (ev.type === "syscall") {
      if (!SUPPORTED_SYSCALLS.has(ev.name)) return new Skip(`system call ${ev.name}() not supported`, ev.line);
      if (ev.name === "sendto" || ev.name === "sendmsg") return new Skip("sendto/sendmsg (TFO) not supported", ev.line);
      if ((ev.name === "setsockopt" || ev.name === "getsockopt") && !/^(SO_ERROR|SO_RCVBUF|SO_SNDBUF|SO_LINGER|SO_REUSEADDR|SO_REUSEPORT|TCP_MAXSEG|TCP_NODELAY|TCP_NOOPT|TCP_KEEPINIT)$/.test(symbolOf(ev.args[2]) ?? "")) {
        return new Skip(`${ev.name} ${symbolOf(ev.args[2]) ?? "?"} not supported`, ev.line);
      }
      if ((ev.name === "send" || ev.name === "recv") && intOf(ev.args[3]) !== 0 && !(ev.name === "recv" && symbolOf(ev.args[3]) === "MSG_PEEK")) return new Skip(`${ev.name}() flags not supported`, ev.line);
    }
    if (ev.type === "icmp" && ev.direction === "out") return new Skip("outbound ICMP lines not supported", ev.line);
  }
  for (const sh of shells) {
    for (const a of parseShellCommand(sh.command)) {
      const r = applyShellAction(scratch, a);
      if (r) return new Skip(r, sh.line);
    }
  }
  return undefined;
}

/** `ethtool -K tun0 tso off gso off`: the kernel sends MSS-sized segments, no super-packets. */
function isTsoOff(command: string): boolean {
  return /^ethtool\s+-K\s+tun0\s+tso\s+off\s+gso\s+off$/.test(command.trim());
}

/**
 * FreeBSD `tcpdrop -s STATE`: drops every connection in that state (the suite cleans up
 * TIME-WAIT this way). For TIME-WAIT the kernel sends nothing (tcp_twclose); other states
 * are not used by the suites and stay unsupported.
 */
function tcpDropState(command: string): string | undefined {
  const m = /^tcpdrop\s+-s\s+TIME_WAIT$/.exec(command.trim());
  return m ? "TIME-WAIT" : undefined;
}

/** Applies one shell action; returns a skip reason or undefined. */
function applyShellAction(st: SysctlState, a: ShellAction): string | undefined {
  switch (a.kind) {
    case "sysctl": {
      const r = applySysctl(st, a.name, a.value);
      return r.ok ? undefined : r.reason;
    }
    case "defaults":
      Object.assign(st.overrides, LINUX_DEFAULTS_SH);
      return undefined;
    case "restore":
      return undefined;
    case "unknown":
      // A socket-state check is evaluated when the script reaches it (Run.shell); turning
      // TSO/GSO off on the tun device makes the runner compare segment by segment.
      if (parseSockstatCheck(a.command) || isTsoOff(a.command) || tcpDropState(a.command)) return undefined;
      return `shell command not supported: ${a.command}`;
  }
}

// ---------------------------------------------------------------------------------------
// One run

class Run {
  readonly stack: Stack;
  /** The shared virtual-time driver: the clock, timers at their deadlines, the sniffer. */
  readonly vt: VirtualRuntime;
  readonly provider: WskProvider;
  readonly npi: WSK_PROVIDER_NPI;
  readonly posix: PosixSockets;
  readonly sniffed: LivePacket[] = [];
  readonly seq: SeqContext = {};
  localPort: number | undefined;
  /** The peer's port: connect_port for an active open, PASSIVE_REMOTE_PORT when the stack listens. */
  remotePort: number | undefined;
  readonly tsMap = new Map<number, number>();
  readonly unchecked: string[] = [];
  blocking: { ev: SyscallEvent; call: PendingCall; endMs: number; tolMs: number } | undefined;
  readonly tolUsecs: number;
  readonly tolPercent: number;
  readonly bindPort: number;
  readonly connectPort: number;
  readonly lenient: boolean;
  /** Consecutive data segments may add up to one script packet (TSO super-packets). */
  mergeSegments: boolean;

  constructor(
    readonly script: Script,
    readonly ip: IpVersion,
    readonly suite: Suite,
    readonly baseProfile: Profile,
    readonly sysctl: SysctlState,
    seed: number,
  ) {
    const o = script.options;
    const linuxRunner = suite !== "freebsd";
    // The Linux suites' runners use --mtu=1520 for IPv6 so the MSS is 1460 in both families.
    const mtu = o.mtu !== undefined ? Number(o.mtu) : ip === 6 && linuxRunner ? 1520 : 1500;
    const a = ADDR[ip];
    this.stack = new Stack({ addresses: [{ addr: a.local, prefix: a.prefix }], gateway4: ADDR[4].gateway, gateway6: ADDR[6].gateway, mtu, profile: baseProfile, random: seededRandom(seed) });
    this.vt = new VirtualRuntime(this.stack, { onOutput: (bytes, t) => this.record(bytes, t), afterTimers: () => this.posix.pump() });
    this.provider = new WskProvider(this.stack, { now: () => this.nowMs, afterCall: () => this.collect(), profile: baseProfile });
    this.npi = new WskClient(this.provider).npi;
    this.tolUsecs = o.tolerance_usecs !== undefined ? Number(o.tolerance_usecs) : DEFAULT_TOLERANCE_USECS;
    // nplab on FreeBSD defaults to 5 %, Google packetdrill (and nplab on Linux) to 12.5 %.
    this.tolPercent = o.tolerance_percent !== undefined ? Number(o.tolerance_percent) : suite === "freebsd" ? 5 : 12.5;
    this.bindPort = o.bind_port !== undefined ? Number(o.bind_port) : 8080;
    this.connectPort = o.connect_port !== undefined ? Number(o.connect_port) : 8080;
    // Google packetdrill is non-strict about segmentation by default; nplab compares every segment.
    this.lenient = (suite === "google" || suite === "linux-selftests") && o.strict_segments === undefined;
    // nplab's 2013 Linux copies were recorded with TSO on the tun device: a write larger
    // than the MSS shows up as one super-packet (mss-setsockopt-tcp_maxseg-client: 11000
    // bytes). Segments may add up to it; flags are still compared strictly.
    this.mergeSegments = this.lenient || suite === "nplab-linux";
    this.posix = new PosixSockets({
      stack: this.stack,
      provider: this.provider,
      npi: this.npi,
      nowMs: () => this.nowMs,
      version: ip,
      localAddr: a.local,
      remoteAddr: a.remote,
      bindPort: this.bindPort,
      connectPort: this.connectPort,
      os: baseProfile.name === "freebsd" ? "freebsd" : "linux",
      maxsegBeforeConnect: suite === "nplab-linux" ? "default" : "user",
      profileName: baseProfile.name,
      socketOverrides: () => ({ ...this.sysctl.overrides }),
      rcvBufBytes: () => this.sysctl.rcvBufBytes ?? resolveProfile(baseProfile, this.sysctl.overrides).rcvBufBytes,
      sndBufBytes: () => this.sysctl.sndBufBytes ?? 32768,
    });
  }

  /** Virtual time in ms. */
  get nowMs(): number {
    return this.vt.nowMs;
  }

  collect(): void {
    this.vt.collect();
  }

  private record(bytes: Uint8Array, tMs: number): void {
    const p = parsePacket(bytes);
    if (!p.ok) throw new Failure(`the stack sent an unparsable packet: ${p.reason}`, 0);
    this.sniffed.push({ tMs, bytes, pkt: p.value });
  }

  /** Runs every timer due up to `tMs`, at its exact deadline; the POSIX layer runs after each. */
  advanceTo(tMs: number): void {
    this.vt.advanceTo(tMs);
  }

  /** Moves to the next deadline (or `limitMs`); false when nothing can happen before the limit. */
  private step(limitMs: number): boolean {
    return this.vt.step(limitMs);
  }

  tolMs(expectedMs: number, prevExpectedMs: number): number {
    return Math.max(this.tolUsecs, (this.tolPercent / 100) * Math.max(0, expectedMs - prevExpectedMs) * 1000) / 1000;
  }

  // -------------------------------------------------------------------------------------

  run(): void {
    if (this.script.initCommand) this.shell(this.script.initCommand.command, this.script.initCommand.line);
    let prevActualMs = 0;
    let prevExpectedMs = 0;
    let prevInbound = false;
    for (const ev of this.script.events) {
      let startMs: number | undefined;
      let endMs: number | undefined;
      const inboundPacket = (ev.type === "packet" || ev.type === "icmp") && ev.direction === "in";
      if (ev.time.kind === "any") {
        startMs = undefined;
      } else {
        // packetdrill anchors relative times on the previous event's actual time, except
        // that consecutive inbound packets keep the script's spacing (packetdrill's own timing rule).
        const anchor = ev.time.kind === "absolute" ? 0 : prevInbound && inboundPacket ? prevExpectedMs : prevActualMs;
        startMs = anchor + ev.time.usecs / 1000;
        endMs = ev.time.end !== undefined ? anchor + ev.time.end.usecs / 1000 : undefined;
      }
      let actualMs: number;
      switch (ev.type) {
        case "packet":
          actualMs = ev.direction === "out" ? this.outbound(ev, startMs, endMs, prevExpectedMs) : this.inboundTcp(ev, startMs!);
          break;
        case "icmp":
          actualMs = this.inboundIcmp(ev, startMs!);
          break;
        case "syscall":
          actualMs = this.syscall(ev, startMs!, ev.time.kind === "absolute" ? 0 : prevActualMs);
          break;
        case "shell":
          this.advanceTo(startMs!);
          actualMs = this.nowMs;
          this.shell(ev.command, ev.line);
          break;
        case "python":
          this.advanceTo(startMs!);
          actualMs = this.nowMs;
          this.python(ev.code, ev.line);
          break;
      }
      prevActualMs = actualMs;
      prevExpectedMs = startMs ?? actualMs;
      prevInbound = inboundPacket;
    }
    this.finishBlocking();
  }

  // ------------------------------------------------------------------ outbound packets

  private outbound(ev: PacketEvent, startMs: number | undefined, endMs: number | undefined, prevExpectedMs: number): number {
    const hi = endMs ?? startMs;
    const limit = hi === undefined ? Infinity : hi + PACKET_TIMEOUT_MS;
    while (this.sniffed.length === 0) {
      if (!this.step(limit)) {
        throw new Failure("Timed out waiting for packet", ev.line, formatPacket(ev), "(nothing sent)");
      }
    }
    const first = this.sniffed.shift()!;
    if (first.pkt.l4.kind === "tcp") {
      const tcp = first.pkt.l4.tcp;
      if (this.seq.iss === undefined && tcp.flags & 0x02 && !ev.tcp.seqAbsolute && !ev.tcp.seqAny) this.seq.iss = (tcp.seq - ev.tcp.seqStart) >>> 0;
      if (this.localPort === undefined) this.localPort = tcp.srcPort;
    }
    // Non-strict segmentation (Google default): consecutive data segments may add up to the
    // script's one packet (TSO/GSO).
    let last = first;
    let payload = first.pkt.l4.kind === "tcp" ? first.pkt.l4.tcp.payload.length : 0;
    if (this.mergeSegments && first.pkt.l4.kind === "tcp") {
      while (payload < ev.tcp.payloadLen && this.sniffed.length > 0) {
        const n = this.sniffed[0]!;
        if (n.pkt.l4.kind !== "tcp" || last.pkt.l4.kind !== "tcp") break;
        const prev = last.pkt.l4.tcp;
        if (n.pkt.l4.tcp.seq !== ((prev.seq + prev.payload.length) >>> 0) || n.pkt.l4.tcp.payload.length === 0) break;
        this.sniffed.shift();
        last = n;
        payload += n.pkt.l4.tcp.payload.length;
      }
    }
    const cmp = compareOutbound(ev, first, last, payload, this.seq, { lenientPsh: this.lenient });
    if (!cmp.ok) {
      throw new Failure(`outbound packet ${cmp.field} mismatch: expected ${cmp.expected}, got ${cmp.actual}`, ev.line, formatPacket(ev), formatLive(first, this.seq));
    }
    // Remember script TS val -> live TS val for inbound ecr translation.
    const ts = liveTs(last);
    if (ts && ev.tcp.options !== "any") {
      const spec = ev.tcp.options.find((o) => o.kind === "ts");
      if (spec && spec.kind === "ts" && !spec.valIgnored) this.tsMap.set(spec.val >>> 0, ts.val);
    }
    if (startMs !== undefined) {
      const tol = this.tolMs(startMs, prevExpectedMs);
      const lo = startMs - tol;
      const hiT = (endMs ?? startMs) + tol;
      if (first.tMs < lo - 1e-9 || first.tMs > hiT + 1e-9) {
        const exp = endMs !== undefined ? `${(startMs / 1000).toFixed(6)}~${(endMs / 1000).toFixed(6)}` : (startMs / 1000).toFixed(6);
        throw new Failure(
          `timing error: expected outbound packet at ${exp} s (tolerance ${(tol / 1000).toFixed(6)} s), sent at ${(first.tMs / 1000).toFixed(6)} s`,
          ev.line,
          formatPacket(ev),
          formatLive(first, this.seq),
        );
      }
    }
    return first.tMs;
  }

  // ------------------------------------------------------------------ inbound packets

  private needTuple(line: number): { local: string; remote: string; port: number; remotePort: number } {
    if (this.localPort === undefined) {
      // A passive script: the first packet comes from the peer, to the listening (or bound) port.
      const listening = this.posix.passivePort();
      if (listening !== undefined) {
        this.localPort = listening;
        this.remotePort = PASSIVE_REMOTE_PORT;
      }
    }
    if (this.localPort === undefined) throw new Failure("inbound packet before the stack sent anything (its local port is unknown)", line);
    return { local: ADDR[this.ip].local, remote: ADDR[this.ip].remote, port: this.localPort, remotePort: this.remotePort ?? this.connectPort };
  }

  private inboundTcp(ev: PacketEvent, startMs: number): number {
    this.advanceTo(startMs);
    const t = this.needTuple(ev.line);
    const spec = ev.tcp;
    const iss = this.seq.iss ?? 0;
    const options =
      spec.options === "any"
        ? []
        : specOptionsToWire(spec.options, {
            // The script's TS ecr names one of our TS vals; send the live one (docs/conformance-runner.md, "Model").
            tsEcr: (ecr, absolute) => (absolute ? ecr : (this.tsMap.get(ecr >>> 0) ?? ecr)),
            sackBase: iss,
          });
    if (!options) throw new Skip("inbound TCP option not supported", ev.line);
    const ack = spec.ack === undefined ? 0 : spec.seqAbsolute ? spec.ack : (iss + spec.ack) >>> 0;
    const bytes = buildTcpPacket({
      src: t.remote,
      dst: t.local,
      srcPort: t.remotePort,
      dstPort: t.port,
      seq: spec.seqStart >>> 0,
      ack: spec.flagBits.ack || spec.ack !== undefined ? ack : 0,
      flags: specFlags(ev) & 0xff,
      window: spec.win ?? 0,
      urgent: spec.urg,
      options,
      payload: spec.payloadLen > 0 ? new Uint8Array(spec.payloadLen) : undefined,
    });
    this.vt.input(bytes);
    // The socket layer learns that a RST caused the end (SO_ERROR in CLOSING / LAST-ACK).
    this.posix.pump({ rstDelivered: (specFlags(ev) & 0x04) !== 0 });
    return this.nowMs;
  }

  private inboundIcmp(ev: IcmpEvent, startMs: number): number {
    this.advanceTo(startMs);
    const t = this.needTuple(ev.line);
    const family = ev.family ?? this.ip;
    if (family !== this.ip) throw new Skip(`ICMPv${family} message in an IPv${this.ip} run`, ev.line);
    const r = resolveIcmp(ev, family);
    if (!r.ok) throw new Failure(`bad ICMP line: ${r.reason}`, ev.line);
    const iss = this.seq.iss ?? 0;
    const q = ev.quoted;
    // The quoted segment: our SYN's ports and the written sequence number, relative to our ISS.
    const original = buildTcpPacket({
      src: t.local,
      dst: t.remote,
      srcPort: t.port,
      dstPort: t.remotePort,
      seq: (iss + (q?.seqStart ?? 0)) >>> 0,
      ack: 0,
      flags: 0x02,
      window: 0,
      payload: q && q.payloadLen > 0 ? new Uint8Array(q.payloadLen) : undefined,
    });
    const bytes = buildIcmpError({ src: t.remote, dst: t.local, type: r.type, code: r.code, mtu: ev.mtu, original });
    this.vt.input(bytes);
    this.posix.pump();
    return this.nowMs;
  }

  // ------------------------------------------------------------------ shell and python

  private shell(command: string, line: number): void {
    for (const a of parseShellCommand(command)) {
      const cmd = a.kind === "unknown" ? a.command : "";
      if (cmd && isTsoOff(cmd)) {
        this.mergeSegments = false;
        continue;
      }
      const drop = cmd ? tcpDropState(cmd) : undefined;
      if (drop) {
        for (const c of [...this.stack.connections()]) if (c.state === drop) c.finish({ kind: "closed" }, this.nowMs, "tcpdrop -s TIME_WAIT: the TCB is deleted, nothing is sent");
        continue;
      }
      const check = cmd ? parseSockstatCheck(cmd) : undefined;
      if (check) {
        // sockstat lists the script's own sockets (grep packetdril) in that state, or with -p
        // every endpoint on the port (connections not yet accepted included).
        const n =
          check.port !== undefined
            ? [...this.stack.connections()].filter((c) => c.localPort === check.port && c.version === check.family && c.state === check.state).length
            : this.posix.openSockets().filter((s) => s.conn && s.conn.version === check.family && s.conn.state === check.state).length;
        if (!String(n).includes(check.pattern)) {
          throw new Failure(`shell command failed: ${cmd}`, line, `a count matching ${check.pattern} of IPv${check.family} sockets in ${check.state}`, `${n}`);
        }
        continue;
      }
      const why = applyShellAction(this.sysctl, a);
      if (why) throw new Skip(why, line);
      if (a.kind === "sysctl" && a.name === "net.inet.tcp.icmp_may_rst") {
        // A global tunable: live connections see the change too.
        for (const c of this.stack.connections()) (c.profile as Profile).icmpPolicy = this.sysctl.icmpMayRst ? "hardAbort" : "ignore";
      }
      // Other per-segment globals (insecure_rst, drop_synfin): live connections see them too.
      if (this.sysctl.live) for (const c of this.stack.connections()) Object.assign(c.profile as Profile, this.sysctl.live);
    }
  }

  private python(code: string, line: number): void {
    // The snapshot is of the script's most recent socket (the suites use one socket).
    const s = this.posix.lastSocket();
    const info = tcpInfoOf(s?.conn, this.baseProfile.name !== "freebsd", s?.listening === true);
    const r = evaluateAsserts(code, info);
    if (r.kind === "unevaluated") {
      this.unchecked.push(`line ${line}: %{ ${code} }% (${r.reason})`);
      return;
    }
    if (r.kind === "failed") throw new Failure(`tcp_info assertion failed: ${r.statement}: ${r.detail}`, line, r.statement, r.detail);
  }

  // ------------------------------------------------------------------ system calls

  /** Waits for the blocking call in progress and checks its result and return time. */
  private finishBlocking(): void {
    const b = this.blocking;
    if (!b) return;
    this.blocking = undefined;
    const limit = b.endMs + b.tolMs + PACKET_TIMEOUT_MS;
    while (!b.call.done) {
      if (!this.step(limit)) break;
    }
    if (!b.call.done) {
      throw new Failure(`blocking ${b.ev.name}() did not return (expected at ${(b.endMs / 1000).toFixed(6)} s)`, b.ev.line, formatEvent(b.ev), "(still blocked)");
    }
    this.checkResult(b.ev, b.call.done.result);
    const t = b.call.done.tMs;
    if (t < b.endMs - b.tolMs - 1e-9 || t > b.endMs + b.tolMs + 1e-9) {
      throw new Failure(
        `timing error: blocking ${b.ev.name}() expected to return at ${(b.endMs / 1000).toFixed(6)} s (tolerance ${(b.tolMs / 1000).toFixed(6)} s), returned at ${(t / 1000).toFixed(6)} s`,
        b.ev.line,
        formatEvent(b.ev),
        `returned ${this.resultText(b.call.done.result)} at ${(t / 1000).toFixed(6)} s`,
      );
    }
  }

  private resultText(r: SysResult): string {
    return `${r.ret}${r.errno ? ` ${r.errno}` : ""}${r.value !== undefined ? ` value ${r.value}` : ""}`;
  }

  private checkResult(ev: SyscallEvent, r: SysResult): void {
    const want = intOf(ev.result);
    const wantText = `${ev.result.kind === "int" ? ev.result.text : "?"}${ev.errno ? ` ${ev.errno}` : ""}`;
    if (want === undefined) throw new Skip(`system call result '${ev.result.kind}' not supported`, ev.line);
    if (r.ret !== want || (ev.errno !== undefined && (r.errno === undefined || !sameErrno(r.errno, ev.errno)))) {
      throw new Failure(`${ev.name}() returned ${this.resultText(r)}, expected ${wantText}`, ev.line, formatEvent(ev), this.resultText(r));
    }
  }

  private syscall(ev: SyscallEvent, startMs: number, anchorMs: number): number {
    // packetdrill runs one system call at a time: a new call waits for the blocking one.
    if (this.blocking) this.finishBlocking();
    this.advanceTo(startMs);
    const blockingEnd = ev.blockingEnd ? (ev.blockingEnd.kind === "absolute" ? 0 : anchorMs) + ev.blockingEnd.usecs / 1000 : undefined;
    const out = this.exec(ev, blockingEnd !== undefined);
    this.collect();
    this.posix.pump();
    if (out.kind === "unsupported") throw new Skip(out.reason, ev.line);
    if (out.kind === "pending") {
      const end = blockingEnd ?? startMs;
      this.blocking = { ev, call: out.call, endMs: end, tolMs: this.tolMs(end, startMs) };
      return startMs;
    }
    if (blockingEnd !== undefined) {
      // Written as blocking but returned at once: its return time is now.
      this.blocking = { ev, call: { done: { result: out.result, tMs: this.nowMs } }, endMs: blockingEnd, tolMs: this.tolMs(blockingEnd, startMs) };
      this.finishBlocking();
      return this.nowMs;
    }
    this.checkResult(ev, out.result);
    // getsockopt: compare the option value.
    if (ev.name === "getsockopt") {
      const arr = ev.args[3];
      const item = arr?.kind === "array" ? arr.items[0] : arr;
      if (item && out.result.value !== undefined) {
        const wantSym = symbolOf(item);
        const wantInt = intOf(item);
        const got = out.result.value;
        const ok = wantSym !== undefined ? sameErrno(String(got), wantSym) || (got === 0 && wantSym === "0") : wantInt !== undefined ? Number(got === 0 || typeof got === "number" ? got : (errnoByName(got) ?? NaN)) === wantInt : true;
        if (!ok) throw new Failure(`getsockopt ${symbolOf(ev.args[2])} returned value ${got}, expected ${wantSym ?? wantInt}`, ev.line, formatEvent(ev), `value ${got}`);
      }
    }
    return this.nowMs;
  }

  private exec(ev: SyscallEvent, blocking: boolean): CallOutcome {
    const a = ev.args;
    if (ev.name === "socket") {
      const fd = intOf(ev.result);
      if (fd === undefined || fd < 0) return { kind: "unsupported", reason: "socket() expected to fail" };
      const famSym = symbolOf(a[0]);
      if ((famSym === "AF_INET" && this.ip !== 4) || (famSym === "AF_INET6" && this.ip !== 6)) return { kind: "unsupported", reason: `socket(${famSym}) in an IPv${this.ip} run` };
      const type = symbolOf(a[1]) === "SOCK_STREAM" ? 1 : 0;
      return this.posix.socket(fd, "default", type);
    }
    const fd = intOf(a[0]);
    const s = fd === undefined ? undefined : this.posix.socketByFd(fd);
    if (!s) {
      return { kind: "done", result: { ret: -1, errno: "EBADF" } };
    }
    switch (ev.name) {
      case "bind":
        return this.posix.bind(s);
      case "connect":
        return this.posix.connect(s, !s.nonblocking);
      case "fcntl":
        return this.posix.fcntl(s, symbolOf(a[1]) ?? "?", orSymbols(a[2]));
      case "getsockopt":
        return this.posix.getsockopt(s, symbolOf(a[1]) ?? "?", symbolOf(a[2]) ?? "?");
      case "setsockopt": {
        const v = a[3];
        let value: number | { onoff: number; linger: number };
        if (v?.kind === "struct") {
          const get = (n: string, i: number) => {
            const f = v.items.find((x) => x.kind === "field" && x.name === n);
            return intOf(f?.kind === "field" ? f.value : v.items[i]) ?? 0;
          };
          value = { onoff: get("l_onoff", 0), linger: get("l_linger", 1) };
        } else {
          const n = intOf(v);
          if (n === undefined) return { kind: "unsupported", reason: `setsockopt value ${v ? v.kind : "missing"} not supported` };
          value = n;
        }
        return this.posix.setsockopt(s, symbolOf(a[1]) ?? "?", symbolOf(a[2]) ?? "?", value);
      }
      case "close":
        return this.posix.close(fd!, s);
      case "shutdown": {
        // SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 (the same on Linux and FreeBSD).
        const how = symbolOf(a[1]) ?? (["SHUT_RD", "SHUT_WR", "SHUT_RDWR"] as const)[intOf(a[1]) ?? -1];
        if (how !== "SHUT_RD" && how !== "SHUT_WR" && how !== "SHUT_RDWR") return { kind: "unsupported", reason: `shutdown() how ${how ?? "?"} not supported` };
        return this.posix.shutdown(s, how);
      }
      case "listen":
        return this.posix.listen(s, intOf(a[1]) ?? 0);
      case "accept": {
        const want = intOf(ev.result);
        return this.posix.accept(s, want !== undefined && want >= 0 ? want : this.posix.freeFd(), blocking || !s.nonblocking);
      }
      case "read":
      case "recv": {
        const n = intOf(a[2]);
        if (n === undefined) return { kind: "unsupported", reason: `${ev.name}() length not a number` };
        if (ev.name === "recv" && symbolOf(a[3]) === "MSG_PEEK") return this.posix.peek(s, n, blocking || !s.nonblocking);
        return this.posix.read(s, n, blocking || !s.nonblocking);
      }
      case "write":
      case "send": {
        const n = intOf(a[2]);
        if (n === undefined) return { kind: "unsupported", reason: `${ev.name}() length not a number` };
        return this.posix.write(s, n);
      }
    }
    return { kind: "unsupported", reason: `system call ${ev.name}() not supported` };
  }
}

// ---------------------------------------------------------------------------------------
// Public API

/** The IP versions a script runs in: fixed by `--ip_version` or by a `v4.pkt`/`v6.pkt` name, else both. */
export function scriptIpVersions(script: Script): IpVersion[] {
  const v = script.options.ip_version;
  if (v === "ipv4" || v === "ipv4-mapped-ipv6") return [4];
  if (v === "ipv6") return [6];
  if (/v4\.pkt$/.test(script.path)) return [4];
  if (/v6\.pkt$/.test(script.path)) return [6];
  return [4, 6];
}

function load(pathOrText: string): { path: string; text: string } | { error: string } {
  if (!pathOrText.includes("\n") && existsSync(pathOrText)) {
    try {
      return { path: pathOrText, text: readFileSync(pathOrText, "utf8") };
    } catch (e) {
      return { error: `cannot read ${pathOrText}: ${(e as Error).message}` };
    }
  }
  if (!pathOrText.includes("\n") && pathOrText.endsWith(".pkt")) return { error: `no such file: ${pathOrText}` };
  return { path: "<script>", text: pathOrText };
}

/**
 * The preprocessor symbols a run defines, by profile: the OS the profile imitates, as the
 * FreeBSD suite's `#ifdef FreeBSD` branches expect; the rfc profile takes the `STANDARD`
 * branches (the RFC's behaviour where FreeBSD deviates).
 */
const CPP_DEFINES: Record<ProfileName, ReadonlySet<string>> = {
  freebsd: new Set(["FreeBSD"]),
  linux: new Set(["Linux"]),
  windows: new Set(["Windows"]),
  windows7: new Set(["Windows"]),
  rfc: new Set(["STANDARD"]),
};

/**
 * Runs one packetdrill script (a path, or the script text itself) in one IP version.
 * `opts.path` names the script when text is given (it decides the suite and profile).
 */
export function runScript(pathOrText: string, opts: RunOptions & { path?: string }): ScriptResult {
  const src = load(pathOrText);
  if ("error" in src) return { result: "fail", reason: src.error };
  const path = opts.path ?? src.path;
  const suite = suiteOf(path);
  const profileName = opts.profile ?? suiteProfile(suite);
  if (!isProfileName(profileName)) return { result: "fail", reason: `unknown profile ${profileName}` };
  let text: string;
  try {
    text = preprocessScript(src.text, CPP_DEFINES[profileName]);
  } catch (e) {
    return { result: "fail", reason: `parse error: ${(e as Error).message}` };
  }
  const parsed = parseScript(text, path);
  if (!parsed.ok) return { result: "fail", reason: `parse error: ${parsed.error}`, line: parsed.line };
  const script = parsed.script;
  if (!scriptIpVersions(script).includes(opts.ip)) {
    return { result: "skip", reason: `script runs only in IPv${scriptIpVersions(script)[0]}` };
  }
  const sysctl: SysctlState = { overrides: suiteBaseOverrides(suite) };
  const skip = prescan(script, sysctl);
  if (skip) return { result: "skip", reason: skip.reason, line: skip.line };
  const base = resolveProfile(PROFILES[profileName]);
  const run = new Run(script, opts.ip, suite, base, sysctl, opts.seed ?? 0x5eed);
  try {
    run.run();
  } catch (e) {
    if (e instanceof Failure) {
      return { result: "fail", reason: e.reason, line: e.line || undefined, expected: e.expected, actual: e.actual, unchecked: run.unchecked.length ? run.unchecked : undefined };
    }
    if (e instanceof Skip) return { result: "skip", reason: e.reason, line: e.line };
    return { result: "fail", reason: `runner error: ${(e as Error).stack ?? String(e)}` };
  }
  return { result: "pass", unchecked: run.unchecked.length ? run.unchecked : undefined };
}

/** Runs scripts (files or folders) in the requested IP versions; the `conformance --json` document (docs/cli.md). */
export function runPaths(paths: string[], opts: { profile?: ProfileName; ip: IpVersion | "both"; seed?: number }, onScript?: (r: ScriptReport) => void): ConformanceReport {
  const scripts: ScriptReport[] = [];
  for (const file of listPkt(paths)) {
    let versions: IpVersion[];
    if (opts.ip === "both") {
      const text = existsSync(file) ? readFileSync(file, "utf8") : "";
      let parsed: ReturnType<typeof parseScript>;
      try {
        parsed = parseScript(preprocessScript(text, new Set()), file);
      } catch {
        parsed = { ok: false, error: "unbalanced #ifdef", line: 0 };
      }
      versions = parsed.ok ? scriptIpVersions(parsed.script) : [4];
    } else versions = [opts.ip];
    for (const ip of versions) {
      const r = runScript(file, { profile: opts.profile, ip, seed: opts.seed });
      const rep: ScriptReport = { path: file, ip, result: r.result, reason: r.reason ?? null, line: r.line ?? null };
      if (r.expected !== undefined) rep.expected = r.expected;
      if (r.actual !== undefined) rep.actual = r.actual;
      if (r.unchecked) rep.unchecked = r.unchecked;
      scripts.push(rep);
      onScript?.(rep);
    }
  }
  return {
    scripts,
    passed: scripts.filter((s) => s.result === "pass").length,
    failed: scripts.filter((s) => s.result === "fail").length,
    skipped: scripts.filter((s) => s.result === "skip").length,
  };
}

/** Files as given; folders walked for `*.pkt` (sorted). Missing paths are kept (they fail). */
export function listPkt(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      out.push(p);
      return;
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        const q = join(p, e);
        if (statSync(q).isDirectory()) walk(q);
        else if (q.endsWith(".pkt")) out.push(q);
      }
    } else out.push(p);
  };
  for (const p of paths) walk(p);
  return [...new Set(out)];
}
