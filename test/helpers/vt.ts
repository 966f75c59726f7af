// A scripted-segment helper in virtual time (docs/architecture.md "Tests", after smoltcp's socket
// tests): build a stack, connect, inject peer segments, move the clock, and look at the
// exact segments the stack sent and when. Time moves through the shared driver,
// device/virtual-runtime.ts.
import { Stack, type ConnectOptions, type StackConfig } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import { seededRandom } from "../../stack/random.js";
import { VirtualRuntime } from "../../device/virtual-runtime.js";
import { buildIcmpError, buildTcpPacket, parsePacket } from "../../stack/wire/packet.js";
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import { formatTcpOptions } from "../../stack/wire/tcp-options.js";
import type { Packet, TcpOption, TcpSegment } from "../../stack/wire/types.js";
import type { TraceEvent } from "../../stack/trace.js";

export interface Sent {
  t: number;
  bytes: Uint8Array;
  pkt: Packet;
  tcp: TcpSegment;
  /** "S", "S.", ".", "R", ... */
  flags: string;
  options: string;
}

export interface HarnessOptions {
  profile?: ProfileName;
  addresses?: StackConfig["addresses"];
  mtu?: number;
  seed?: number;
  gateway4?: string;
  gateway6?: string;
}

export class Harness {
  readonly stack: Stack;
  /** The shared virtual-time driver (device/virtual-runtime.ts). */
  readonly vt: VirtualRuntime;
  readonly sent: Sent[] = [];
  readonly trace: TraceEvent[] = [];
  private cursor = 0;

  constructor(o: HarnessOptions = {}) {
    this.stack = new Stack({
      addresses: o.addresses ?? ["10.0.0.2/24", "fd00::2/64"],
      mtu: o.mtu ?? 1500,
      profile: o.profile ?? "windows",
      random: seededRandom(o.seed ?? 1),
      gateway4: o.gateway4,
      gateway6: o.gateway6,
      trace: (e) => this.trace.push(e),
    });
    this.vt = new VirtualRuntime(this.stack, { onOutput: (bytes, t) => this.record(bytes, t) });
  }

  /** Virtual time in ms. */
  get now(): number {
    return this.vt.nowMs;
  }

  /** Opens a connection and collects the SYN. Throws if the stack refused to start. */
  connect(remote = "10.0.0.1:80", extra: Partial<ConnectOptions> & { overrides?: ProfileOverrides } = {}): Conn {
    const [addr, port] = splitHostPort(remote);
    const c = this.stack.connect({ remote: { addr, port }, ...extra }, this.now);
    if (!(c instanceof Connection)) throw new Error(`connect failed: ${c.error}: ${c.detail}`);
    const conn = new Conn(this, c);
    this.collect();
    return conn;
  }

  collect(): void {
    this.vt.collect();
  }

  private record(bytes: Uint8Array, t: number): void {
    const p = parsePacket(bytes);
    if (!p.ok) throw new Error(`stack sent an unparsable packet: ${p.reason}`);
    if (p.value.l4.kind !== "tcp") throw new Error("stack sent a non-TCP packet");
    const tcp = p.value.l4.tcp;
    this.sent.push({ t, bytes, pkt: p.value, tcp, flags: formatTcpFlags(tcp.flags), options: formatTcpOptions(tcp.options) });
  }

  /** Moves virtual time to `t` ms, running every timer at its exact deadline. */
  advanceTo(t: number): void {
    this.vt.advanceTo(t);
  }

  advance(ms: number): void {
    this.vt.advance(ms);
  }

  /** Feeds raw bytes to the stack at the current time. */
  inputBytes(bytes: Uint8Array): void {
    this.vt.input(bytes);
  }

  /** Segments sent since the last call. */
  take(): Sent[] {
    const out = this.sent.slice(this.cursor);
    this.cursor = this.sent.length;
    return out;
  }
}

export class Conn {
  outcome: Outcome | undefined;
  outcomeAt: number | undefined;
  establishedAt: number | undefined;
  constructor(readonly h: Harness, readonly c: Connection) {
    c.events = {
      established: () => {
        this.establishedAt = h.now;
      },
      closed: (_c, o) => {
        this.outcome = o;
        this.outcomeAt = h.now;
      },
    };
  }

  /** Sends a segment from the peer to the stack; seq/ack are absolute unless `rel` is used. */
  peer(seg: { flags: number; seq?: number; ack?: number; window?: number; options?: TcpOption[]; payload?: Uint8Array; srcPort?: number }): void {
    const c = this.c;
    const bytes = buildTcpPacket({
      src: c.remoteAddr,
      dst: c.localAddr,
      srcPort: seg.srcPort ?? c.remotePort,
      dstPort: c.localPort,
      seq: seg.seq ?? 5000,
      ack: seg.ack ?? 0,
      flags: seg.flags,
      window: seg.window ?? 65535,
      options: seg.options ?? [],
      payload: seg.payload,
    });
    this.h.inputBytes(bytes);
  }

  /** An ICMP error from `from` quoting the packet `original` (default: the first SYN). */
  icmp(type: number, code: number, opts: { original?: Uint8Array; mtu?: number; from?: string } = {}): void {
    const c = this.c;
    const original = opts.original ?? this.h.sent.find((s) => s.tcp.srcPort === c.localPort && s.pkt.ip.src === c.localAddr)!.bytes;
    const bytes = buildIcmpError({ src: opts.from ?? c.remoteAddr, dst: c.localAddr, type, code, mtu: opts.mtu, original });
    this.h.inputBytes(bytes);
  }
}

export function splitHostPort(s: string): [string, number] {
  if (s.startsWith("[")) {
    const i = s.indexOf("]");
    return [s.slice(1, i), Number(s.slice(i + 2))];
  }
  const i = s.lastIndexOf(":");
  return [s.slice(0, i), Number(s.slice(i + 1))];
}
