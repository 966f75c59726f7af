// The stack's own addresses and the choice of a local address towards a remote one
// (RFC 1122 §3.3.4.3 source selection, simplified), with the remote addresses given to
// connect() parsed once through a bounded cache.
import { canonicalIp, formatIp, inPrefix, parseIp, prefixMatch } from "./wire/addr.js";

export interface LocalAddress {
  /** "10.0.0.2" or "fd00::2". */
  addr: string;
  /** On-link prefix length (e.g. 24, 64). */
  prefix: number;
}

/** A remote address as given to connect(), parsed once (not again per connect). */
export interface RemoteAddressInfo {
  canonical: string;
  bytes: Uint8Array;
  version: 4 | 6;
  unspecified: boolean;
}

export type RouteResult = { ok: true; local: string } | { ok: false; detail: string };

const REMOTE_CACHE_ENTRIES = 4096;

export class Addressing {
  /** Canonical addresses; the Stack exposes this array (callers may edit it: see routeParsed()). */
  readonly addresses: LocalAddress[];
  /** Bytes of `addresses`, same order; prefixOk: the prefix length is valid for the family. */
  private readonly addressBytes: Array<{ bytes: Uint8Array; version: 4 | 6; prefixOk: boolean }>;
  private readonly remoteCache = new Map<string, RemoteAddressInfo | null>();

  constructor(
    addresses: Array<LocalAddress | string>,
    private readonly gateway4: string | undefined,
    private readonly gateway6: string | undefined,
  ) {
    this.addresses = addresses.map((a) => {
      const la = typeof a === "string" ? parseLocal(a) : a;
      const c = canonicalIp(la.addr);
      if (!c) throw new Error(`invalid local address: ${la.addr}`);
      return { addr: c, prefix: la.prefix };
    });
    this.addressBytes = this.addresses.map((a) => {
      const p = parseIp(a.addr);
      if (!p.ok) throw new Error(`invalid local address: ${a.addr}`);
      const max = p.value.bytes.length * 8;
      return { bytes: p.value.bytes, version: p.value.version, prefixOk: Number.isInteger(a.prefix) && a.prefix >= 0 && a.prefix <= max };
    });
  }

  owns(addr: string): boolean {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) if (list[i].addr === addr) return true;
    return false;
  }

  /** The local address to use towards `remote` (RFC 1122 §3.3.4.3 source selection, simplified). */
  route(remote: string): RouteResult {
    const v = remote.includes(":") ? 6 : 4;
    const same = this.addresses.filter((a) => (a.addr.includes(":") ? 6 : 4) === v);
    if (same.length === 0) return { ok: false, detail: `no IPv${v} address on this stack` };
    const onLink = same.find((a) => inPrefix(remote, a.addr, a.prefix));
    if (onLink) return { ok: true, local: onLink.addr };
    const gw = v === 4 ? this.gateway4 : this.gateway6;
    if (gw) {
      const viaGw = same.find((a) => inPrefix(gw, a.addr, a.prefix)) ?? same[0];
      return { ok: true, local: viaGw.addr };
    }
    return { ok: false, detail: `no route to ${remote}: not on-link and no IPv${v} gateway` };
  }

  /**
   * route() for a parsed remote address: the on-link case without re-parsing any address;
   * everything else (gateways, invalid prefixes, which throw) goes through route().
   */
  routeParsed(remote: RemoteAddressInfo): RouteResult {
    const list = this.addressBytes;
    if (list.length !== this.addresses.length) return this.route(remote.canonical); // addresses were edited
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      if (a.version !== remote.version) continue;
      if (!a.prefixOk) break;
      if (prefixMatch(remote.bytes, a.bytes, this.addresses[i].prefix)) return { ok: true, local: this.addresses[i].addr };
    }
    return this.route(remote.canonical);
  }

  /** Parses (through a bounded cache) a remote address given to connect(); null if invalid. */
  remoteInfo(text: string): RemoteAddressInfo | null {
    let info = this.remoteCache.get(text);
    if (info !== undefined) return info;
    const p = parseIp(text);
    if (!p.ok) info = null;
    else {
      const bytes = p.value.bytes;
      let unspecified = true;
      for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) unspecified = false;
      info = { canonical: formatIp(bytes), bytes, version: p.value.version, unspecified };
    }
    if (this.remoteCache.size >= REMOTE_CACHE_ENTRIES) this.remoteCache.clear();
    this.remoteCache.set(text, info);
    return info;
  }
}

function parseLocal(text: string): LocalAddress {
  const slash = text.indexOf("/");
  if (slash < 0) return { addr: text, prefix: text.includes(":") ? 64 : 24 };
  return { addr: text.slice(0, slash), prefix: Number(text.slice(slash + 1)) };
}

export function isUnspecified(addr: string): boolean {
  const p = parseIp(addr);
  return p.ok && p.value.bytes.every((b) => b === 0);
}
