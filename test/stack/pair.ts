// Two real stacks joined by the in-memory link, in virtual time: a client (active open)
// and a server (passive open through Stack.listen). The pump runs every timer at its exact
// deadline and delivers packets when the link says they are due.
import { MemoryLink, type MemoryLinkOptions } from "../../device/memory.js";
import { Stack, Listener } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import { seededRandom } from "../../stack/random.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import type { TcpSegment } from "../../stack/wire/types.js";

export const CLIENT_ADDR = "10.0.0.2";
export const SERVER_ADDR = "10.0.0.1";
export const SERVER_PORT = 80;

export interface Captured {
  t: number;
  from: "client" | "server";
  tcp: TcpSegment;
  /** "S", "S.", ".", "F.", "R", "P." ... */
  flags: string;
  len: number;
}

export interface PairOptions extends MemoryLinkOptions {
  profile?: ProfileName;
  serverProfile?: ProfileName;
  clientOverrides?: ProfileOverrides;
  serverOverrides?: ProfileOverrides;
  /** Parse and keep every packet sent (off for big transfers). */
  capture?: boolean;
}

export class Pair {
  readonly link: MemoryLink;
  readonly client: Stack;
  readonly server: Stack;
  readonly listener: Listener;
  now = 0;
  readonly captured: Captured[] = [];
  private readonly capture: boolean;
  clientConn!: Connection;
  serverConn: Connection | undefined;
  clientOutcome: Outcome | undefined;
  serverOutcome: Outcome | undefined;
  clientOutcomeAt: number | undefined;
  serverOutcomeAt: number | undefined;
  /** Called for the server connection when accepted (set its events here). */
  onAccept: (conn: Connection) => void = () => {};

  constructor(o: PairOptions = {}) {
    this.link = new MemoryLink(o);
    this.capture = o.capture ?? true;
    const mtu = o.mtu ?? 1500;
    this.client = new Stack({ addresses: [`${CLIENT_ADDR}/24`], mtu, profile: o.profile ?? "linux", random: seededRandom((o.seed ?? 1) * 7 + 1) });
    this.server = new Stack({ addresses: [`${SERVER_ADDR}/24`], mtu, profile: o.serverProfile ?? o.profile ?? "linux", random: seededRandom((o.seed ?? 1) * 7 + 2) });
    this.link.a.onReceive((pkts) => {
      for (const p of pkts) this.client.input(p, this.link.nowMs);
    });
    this.link.b.onReceive((pkts) => {
      for (const p of pkts) this.server.input(p, this.link.nowMs);
    });
    const l = this.server.listen({
      port: SERVER_PORT,
      overrides: o.serverOverrides,
      onAccept: (c) => {
        this.serverConn = c;
        c.events = {
          closed: (_c, outcome) => {
            this.serverOutcome = outcome;
            this.serverOutcomeAt = this.now;
          },
        };
        this.onAccept(c);
      },
    });
    if (!(l instanceof Listener)) throw new Error(`listen failed: ${l.error}`);
    this.listener = l;
    this.clientOverrides = o.clientOverrides;
  }

  private readonly clientOverrides: ProfileOverrides | undefined;

  /** Starts the client's active open (the SYN leaves at the next run()). */
  connect(extra: { iss?: number } = {}): Connection {
    const c = this.client.connect({ remote: { addr: SERVER_ADDR, port: SERVER_PORT }, overrides: this.clientOverrides, ...extra }, this.now);
    if (!(c instanceof Connection)) throw new Error(`connect failed: ${c.error}: ${c.detail}`);
    this.clientConn = c;
    c.events = {
      closed: (_c, outcome) => {
        this.clientOutcome = outcome;
        this.clientOutcomeAt = this.now;
      },
    };
    this.flush();
    return c;
  }

  /** Connects and runs until both ends are ESTABLISHED. */
  establish(extra: { iss?: number } = {}): { client: Connection; server: Connection } {
    const c = this.connect(extra);
    this.run(this.now + 60_000, () => c.state === "ESTABLISHED" && this.serverConn?.state === "ESTABLISHED");
    if (c.state !== "ESTABLISHED" || !this.serverConn) throw new Error(`handshake did not complete: client ${c.state}`);
    return { client: c, server: this.serverConn };
  }

  /** Runs due timers on both stacks and hands their packets to the link. */
  pollBoth(): void {
    this.sendFrom("client", this.client.poll(this.now));
    this.sendFrom("server", this.server.poll(this.now));
  }

  private sendFrom(from: "client" | "server", pkts: Uint8Array[]): void {
    if (pkts.length === 0) return;
    if (this.capture) for (const p of pkts) this.record(from, p);
    (from === "client" ? this.link.a : this.link.b).send(pkts);
  }

  /** Hands every packet the stacks have produced to the link. */
  flush(): void {
    const a = this.client.takeOutput();
    if (a.length > 0) {
      if (this.capture) for (const p of a) this.record("client", p);
      this.link.a.send(a);
    }
    const b = this.server.takeOutput();
    if (b.length > 0) {
      if (this.capture) for (const p of b) this.record("server", p);
      this.link.b.send(b);
    }
  }

  private record(from: "client" | "server", bytes: Uint8Array): void {
    const p = parsePacket(bytes);
    if (!p.ok || p.value.l4.kind !== "tcp") throw new Error(`${from} sent a bad packet`);
    const tcp = p.value.l4.tcp;
    this.captured.push({ t: this.now, from, tcp, flags: formatTcpFlags(tcp.flags), len: tcp.payload.length });
  }

  /**
   * Runs virtual time up to `untilMs` (or until `stop()` holds), firing timers and
   * delivering packets exactly when due. Returns true if `stop` ended it.
   */
  run(untilMs: number, stop?: () => boolean): boolean {
    for (;;) {
      this.pollBoth();
      if (stop?.()) return true;
      const next = minDefined(this.client.nextDeadline(), this.server.nextDeadline(), this.link.nextDeliveryMs());
      if (next === undefined || next > untilMs) {
        this.now = Math.max(this.now, untilMs);
        this.link.advance(this.now);
        this.pollBoth();
        return stop?.() ?? false;
      }
      this.now = Math.max(this.now, next);
      this.link.advance(this.now);
    }
  }

  /** Segments captured since index `from`, as "client F." style strings (data length when > 0). */
  describe(from = 0): string[] {
    return this.captured.slice(from).map((c) => `${c.from} ${c.flags}${c.len > 0 ? ` ${c.len}` : ""}`);
  }
}

function minDefined(...xs: Array<number | undefined>): number | undefined {
  let m: number | undefined;
  for (const x of xs) if (x !== undefined && (m === undefined || x < m)) m = x;
  return m;
}

/** Deterministic test bytes (a cheap LCG; fast enough for 10 MB). */
export function patternBytes(n: number, seed = 12345): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x;
    if (i + 1 < n) out[i + 1] = x >>> 8;
    if (i + 2 < n) out[i + 2] = x >>> 16;
    if (i + 3 < n) out[i + 3] = x >>> 24;
  }
  return out;
}
