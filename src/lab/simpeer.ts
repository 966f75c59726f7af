// The in-process simulated peer: what `synack demo` and `synack connect --sim` talk to when
// there is no root (no CAP_NET_ADMIN) for a real TUN lab. It behaves like a small Linux host
// and router: listeners answer SYNs with a Linux-style SYN-ACK and echo data, closed ports
// answer RST, black-holed addresses never answer, unreachable routes answer with the ICMP
// error a router would send. It is a simulation and every output that uses it says so.
import { buildIcmpError, buildTcpPacket, parsePacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { Device, DeviceStats } from "../../device/types.js";

export interface SimUnreachable {
  /** Destination address (or prefix "a.b.c.d/len") the route covers. */
  dst: string;
  /** Router that sends the error. */
  from: string;
  type: number;
  code: number;
}

export interface SimPeerConfig {
  /** Addresses the simulated host owns. */
  addresses: string[];
  /**
   * Listening ports: "echo" returns what it receives; "silent" accepts and never answers
   * data; "reset" answers the first data with a RST; "afterFin" echoes only once the
   * client has closed its side (a server that reads to the end before it answers).
   */
  listen: Record<number, SimListenMode>;
  /** Destinations that swallow everything (no answer at all). */
  blackhole?: string[];
  unreachable?: SimUnreachable[];
  /** One-way latency in ms. */
  latencyMs?: number;
}

export type SimListenMode = "echo" | "silent" | "reset" | "afterFin";

interface PeerConn {
  iss: number;
  rcvNxt: number;
  sndNxt: number;
  mode: SimListenMode;
  finSent: boolean;
  /** "afterFin": what the client sent, answered after its FIN. */
  held: Uint8Array[];
}

const u32 = (n: number) => n >>> 0;

function inPrefixText(addr: string, spec: string): boolean {
  if (!spec.includes("/")) return addr === spec;
  const [net, lenText] = spec.split("/");
  const len = Number(lenText);
  if (addr.includes(":") !== net.includes(":")) return false;
  if (!addr.includes(":")) {
    const a = addr.split(".").map(Number);
    const b = net.split(".").map(Number);
    const av = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
    const bv = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return (av & mask) === (bv & mask);
  }
  return addr.startsWith(net.replace(/::$/, ":"));
}

/** The simulated host: turns one packet from the stack into the packets it answers with. */
export class SimPeer {
  private readonly conns = new Map<string, PeerConn>();
  private issCounter = 0x10000;
  readonly log: string[] = [];

  constructor(readonly cfg: SimPeerConfig) {}

  handle(bytes: Uint8Array): Uint8Array[] {
    const p = parsePacket(bytes);
    if (!p.ok || p.value.l4.kind !== "tcp") return [];
    const { ip } = p.value;
    const seg = p.value.l4.tcp;
    if (this.cfg.blackhole?.some((b) => inPrefixText(ip.dst, b))) return [];
    const route = this.cfg.unreachable?.find((u) => inPrefixText(ip.dst, u.dst));
    if (route) return [buildIcmpError({ src: route.from, dst: ip.src, type: route.type, code: route.code, original: bytes })];
    if (!this.cfg.addresses.includes(ip.dst)) return [];
    const key = `${ip.src}|${seg.srcPort}|${ip.dst}|${seg.dstPort}`;
    const reply = (seq: number, ack: number, flags: number, opts: TcpOption[] = [], payload?: Uint8Array, window = 64240) =>
      buildTcpPacket({ src: ip.dst, dst: ip.src, srcPort: seg.dstPort, dstPort: seg.srcPort, seq, ack, flags, window, options: opts, payload });
    const segLen = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    let c = this.conns.get(key);

    if (seg.flags & TCP_RST) {
      this.conns.delete(key);
      return [];
    }
    if (seg.flags & TCP_SYN && !(seg.flags & TCP_ACK)) {
      const mode = this.cfg.listen[seg.dstPort];
      if (!mode) return [reply(0, u32(seg.seq + segLen), TCP_RST | TCP_ACK, [], undefined, 0)];
      if (!c) {
        c = { iss: u32(this.issCounter += 0x1f3d5b7), rcvNxt: u32(seg.seq + 1), sndNxt: 0, mode, finSent: false, held: [] };
        c.sndNxt = u32(c.iss + 1);
        this.conns.set(key, c);
      }
      // Linux-like SYN-ACK: mss, sackOK, TS, nop, wscale (only what the SYN offered).
      const offered = seg.options;
      const opts: TcpOption[] = [{ kind: "mss", value: 1460 }];
      const ts = offered.find((o) => o.kind === "ts") as { val: number } | undefined;
      const sack = offered.some((o) => o.kind === "sackOK");
      if (ts) {
        if (sack) opts.push({ kind: "sackOK" });
        else opts.push({ kind: "nop" }, { kind: "nop" });
        opts.push({ kind: "ts", val: 1000, ecr: ts.val });
      } else if (sack) opts.push({ kind: "nop" }, { kind: "nop" }, { kind: "sackOK" });
      if (offered.some((o) => o.kind === "wscale")) opts.push({ kind: "nop" }, { kind: "wscale", shift: 7 });
      return [reply(c.iss, c.rcvNxt, TCP_SYN | TCP_ACK, opts, undefined, 65160)];
    }
    if (!c) {
      // Not a connection of ours: RFC 9293 §3.10.7.1.
      if (seg.flags & TCP_ACK) return [reply(seg.ack, 0, TCP_RST, [], undefined, 0)];
      return [reply(0, u32(seg.seq + segLen), TCP_RST | TCP_ACK, [], undefined, 0)];
    }
    const out: Uint8Array[] = [];
    if (seg.payload.length > 0 && seg.seq === c.rcvNxt && c.mode === "reset") {
      this.conns.delete(key);
      return [reply(c.sndNxt, u32(c.rcvNxt + seg.payload.length), TCP_RST | TCP_ACK, [], undefined, 0)];
    }
    if (seg.payload.length > 0 && seg.seq === c.rcvNxt) {
      c.rcvNxt = u32(c.rcvNxt + seg.payload.length);
      if (c.mode === "afterFin") {
        c.held.push(seg.payload.slice());
        out.push(reply(c.sndNxt, c.rcvNxt, TCP_ACK));
      } else if (c.mode === "echo") {
        const data = seg.payload.slice();
        out.push(reply(c.sndNxt, c.rcvNxt, TCP_ACK | TCP_PSH, [], data));
        c.sndNxt = u32(c.sndNxt + data.length);
      } else out.push(reply(c.sndNxt, c.rcvNxt, TCP_ACK));
    }
    if (seg.flags & TCP_FIN) {
      c.rcvNxt = u32(c.rcvNxt + 1);
      if (!c.finSent) {
        for (const data of c.held.splice(0)) {
          out.push(reply(c.sndNxt, c.rcvNxt, TCP_ACK | TCP_PSH, [], data));
          c.sndNxt = u32(c.sndNxt + data.length);
        }
        c.finSent = true;
        out.push(reply(c.sndNxt, c.rcvNxt, TCP_ACK | TCP_FIN));
        c.sndNxt = u32(c.sndNxt + 1);
      } else out.push(reply(c.sndNxt, c.rcvNxt, TCP_ACK));
    }
    if (c.finSent && seg.flags & TCP_ACK && seg.ack === c.sndNxt && !(seg.flags & TCP_FIN) && seg.payload.length === 0) {
      this.conns.delete(key);
    }
    return out;
  }
}

/** A Device whose far end is a SimPeer, with replies delayed by the configured latency (real timers). */
export class SimDevice implements Device {
  readonly name = "sim0";
  readonly mtu = 1500;
  private rx: ((p: Uint8Array[]) => void) | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly st: DeviceStats = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };

  constructor(readonly peer: SimPeer) {}

  onReceive(handler: (packets: Uint8Array[]) => void): void {
    this.rx = handler;
  }
  onError(): void {}
  send(packets: readonly Uint8Array[]): void {
    if (this.closed) return;
    const replies: Uint8Array[] = [];
    for (const p of packets) {
      this.st.txPackets++;
      this.st.txBytes += p.length;
      replies.push(...this.peer.handle(p));
    }
    if (replies.length === 0) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.closed) return;
      this.st.rxPackets += replies.length;
      for (const r of replies) this.st.rxBytes += r.length;
      this.rx?.(replies);
    }, this.peer.cfg.latencyMs ?? 1);
    this.timers.add(t);
  }
  stats(): DeviceStats {
    return { ...this.st };
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/**
 * The addresses of the simulated network, the one definition that `synack demo`, `connect
 * --sim`, `listen --sim` and `openStack({ sim: true })` share (the demo's and `listen
 * --lab`'s kernel lab use the same numbers): the stack at 10.99.0.2 / fd99::2, the
 * simulated host at 10.99.0.1 / fd99::1, which is also the next hop for anything else.
 */
export const SIM_NET = {
  stack4: "10.99.0.2",
  stack6: "fd99::2",
  host4: "10.99.0.1",
  host6: "fd99::1",
  /** The stack's addresses with their prefixes, for a Stack or openStack. */
  stackAddresses: ["10.99.0.2/24", "fd99::2/64"] as readonly string[],
  gateways: ["10.99.0.1", "fd99::1"] as readonly string[],
} as const;

/**
 * The simulated network's host (SIM_NET): at 10.99.0.1 / fd99::1 echoing on port 7,
 * 10.99.1.0/24 black-holed, 10.99.2.0/24 answering ICMP host unreachable, 10.99.3.0/24
 * admin prohibited, fd99:2::/64 ICMPv6 no route, 1 ms each way.
 */
export function simulatedNetwork(): SimPeer {
  return new SimPeer({
    addresses: [SIM_NET.host4, SIM_NET.host6],
    listen: { 7: "echo" },
    blackhole: ["10.99.1.0/24"],
    unreachable: [
      { dst: "10.99.2.0/24", from: SIM_NET.host4, type: 3, code: 1 },
      { dst: "10.99.3.0/24", from: SIM_NET.host4, type: 3, code: 13 },
      { dst: "fd99:2::/64", from: SIM_NET.host6, type: 1, code: 0 },
    ],
    latencyMs: 1,
  });
}
