// Local ports: those held by sockets between bind and close (WskBind), and the choice of an
// ephemeral port for a connect (RFC 6056).
import type { RandomSource } from "./random.js";
import { rfc6056PortOffset } from "./tcp/isn.js";
import type { Profile } from "./tcp/profiles.js";

/** A local port held by a socket between bind and close (WskBind assigns the port). */
export interface PortBinding {
  readonly version: 4 | 6;
  /** undefined = wildcard address. */
  readonly addr: string | undefined;
  readonly port: number;
  released: boolean;
}

export class Ports {
  private readonly bindings = new Map<number, PortBinding[]>();

  constructor(
    private readonly random: RandomSource,
    private readonly secret: Uint8Array,
  ) {}

  /** Ports held by bindings. */
  get bound(): number {
    let n = 0;
    for (const l of this.bindings.values()) n += l.length;
    return n;
  }

  free(version: 4 | 6, addr: string | undefined, port: number): boolean {
    const list = this.bindings.get(port);
    if (!list) return true;
    return !list.some((b) => !b.released && b.version === version && (b.addr === undefined || addr === undefined || b.addr === addr));
  }

  /**
   * A free ephemeral port for a bind without a remote, picked at random from the profile's
   * range (RFC 6056 §3.3.1, Algorithm 1); undefined when the range is used up.
   */
  pickForBind(version: 4 | 6, addr: string | undefined, profile: Profile): number | undefined {
    const lo = profile.ephemeralLow;
    const n = profile.ephemeralHigh - lo + 1;
    const start = this.random.nextUint32() % n;
    for (let i = 0; i < n; i++) {
      const p = lo + ((start + i) % n);
      // A binding's port is never reused for another binding; connections without a
      // binding take theirs through pickForConnect().
      if (this.free(version, addr, p) && !this.bindings.has(p)) return p;
    }
    return undefined;
  }

  add(version: 4 | 6, addr: string | undefined, port: number): PortBinding {
    const b: PortBinding = { version, addr, port, released: false };
    const list = this.bindings.get(port);
    if (list) list.push(b);
    else this.bindings.set(port, [b]);
    return b;
  }

  release(b: PortBinding): void {
    if (b.released) return;
    b.released = true;
    const list = this.bindings.get(b.port);
    if (!list) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.bindings.delete(b.port);
  }

  /** RFC 6056 §3.3.3 Algorithm 3: hash-based start, linear probe, never a live 4-tuple. */
  pickForConnect(profile: Profile, local: string, remoteAddr: string, remotePort: number, conns: { has(remoteAddr: string, remotePort: number, localAddr: string, localPort: number): boolean }): number | undefined {
    const lo = profile.ephemeralLow;
    const n = profile.ephemeralHigh - lo + 1;
    const offset = rfc6056PortOffset(this.secret, local, remoteAddr, remotePort);
    const start = (offset + this.random.nextUint32()) % n;
    // Without bindings (the usual case) every port is free of them: no lookup and no family
    // test per probe.
    const unbound = this.bindings.size === 0;
    for (let i = 0; i < n; i++) {
      const p = lo + ((start + i) % n);
      // `| 0` (p is at most 65535): a small integer, not a double, so Connection.localPort
      // stays an unboxed field (a boxed number is 16 more bytes per connection, deadlines.ts).
      if (!conns.has(remoteAddr, remotePort, local, p) && (unbound || this.free(local.includes(":") ? 6 : 4, local, p))) return p | 0;
    }
    return undefined;
  }
}
