// Tiny hand-written packet builders/parsers for the TUN lab tests. Deliberately
// independent of stack/wire so the device tests check the device, not our codecs.

/** RFC 1071 Internet checksum over the given byte arrays concatenated (each even-length but the last). */
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length % 2 === 1) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ip4(addr: string): Uint8Array {
  return Uint8Array.from(addr.split(".").map((x) => Number(x)));
}

/** Parses full or "::"-compressed IPv6 text (no embedded IPv4). */
export function ip6(addr: string): Uint8Array {
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
  const h = head ? head.split(":").filter((x) => x !== "") : [];
  const t = tail ? tail.split(":").filter((x) => x !== "") : [];
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function be16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function be32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function rd16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function rd32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** IPv4 header (RFC 791) + payload, DF set, TTL 64. */
export function ipv4Packet(src: string, dst: string, protocol: number, payload: Uint8Array, id = 1): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  be16(p, 2, p.length);
  be16(p, 4, id);
  be16(p, 6, 0x4000);
  p[8] = 64;
  p[9] = protocol;
  p.set(ip4(src), 12);
  p.set(ip4(dst), 16);
  be16(p, 10, inetChecksum(p.subarray(0, 20)));
  p.set(payload, 20);
  return p;
}

/** IPv6 header (RFC 8200) + payload, hop limit 64. */
export function ipv6Packet(src: string, dst: string, nextHeader: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  be16(p, 4, payload.length);
  p[6] = nextHeader;
  p[7] = 64;
  p.set(ip6(src), 8);
  p.set(ip6(dst), 24);
  p.set(payload, 40);
  return p;
}

/** ICMPv4 echo request (RFC 792) in IPv4. */
export function icmp4Echo(src: string, dst: string, ident: number, seq: number, data = new Uint8Array(8)): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = 8;
  be16(m, 4, ident);
  be16(m, 6, seq);
  m.set(data, 8);
  be16(m, 2, inetChecksum(m));
  return ipv4Packet(src, dst, 1, m, seq);
}

function pseudo6(src: string, dst: string, len: number, nextHeader: number): Uint8Array {
  const ph = new Uint8Array(40);
  ph.set(ip6(src), 0);
  ph.set(ip6(dst), 16);
  be32(ph, 32, len);
  ph[39] = nextHeader;
  return ph;
}

/** ICMPv6 echo request (RFC 4443 §4.1) in IPv6; checksum over the pseudo-header. */
export function icmp6Echo(src: string, dst: string, ident: number, seq: number, data = new Uint8Array(8)): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = 128;
  be16(m, 4, ident);
  be16(m, 6, seq);
  m.set(data, 8);
  be16(m, 2, inetChecksum(pseudo6(src, dst, m.length, 58), m));
  return ipv6Packet(src, dst, 58, m);
}

/** TCP SYN (RFC 9293 §3.1) with an MSS option, in IPv4 or IPv6 by address family. */
export function tcpSyn(src: string, dst: string, srcPort: number, dstPort: number, seq: number): Uint8Array {
  const t = new Uint8Array(24);
  be16(t, 0, srcPort);
  be16(t, 2, dstPort);
  be32(t, 4, seq);
  t[12] = 6 << 4; // data offset 6 words
  t[13] = 0x02; // SYN
  be16(t, 14, 64240);
  t[20] = 2; // MSS
  t[21] = 4;
  be16(t, 22, 1400);
  if (src.includes(":")) {
    be16(t, 16, inetChecksum(pseudo6(src, dst, t.length, 6), t));
    return ipv6Packet(src, dst, 6, t);
  }
  const ph = new Uint8Array(12);
  ph.set(ip4(src), 0);
  ph.set(ip4(dst), 4);
  ph[9] = 6;
  be16(ph, 10, t.length);
  be16(t, 16, inetChecksum(ph, t));
  return ipv4Packet(src, dst, 6, t);
}

export interface ParsedIp {
  version: 4 | 6;
  protocol: number;
  src: string;
  dst: string;
  payload: Uint8Array;
}

/** Minimal IP parser (no options walk beyond IHL, no extension headers). */
export function parseIp(p: Uint8Array): ParsedIp | undefined {
  const v = p[0]! >> 4;
  if (v === 4 && p.length >= 20) {
    const ihl = (p[0]! & 0xf) * 4;
    return {
      version: 4,
      protocol: p[9]!,
      src: Array.from(p.subarray(12, 16)).join("."),
      dst: Array.from(p.subarray(16, 20)).join("."),
      payload: p.subarray(ihl, rd16(p, 2)),
    };
  }
  if (v === 6 && p.length >= 40) {
    const hex = (b: Uint8Array): string => {
      const g: string[] = [];
      for (let i = 0; i < 16; i += 2) g.push(rd16(b, i).toString(16));
      return g.join(":");
    };
    return {
      version: 6,
      protocol: p[6]!,
      src: hex(p.subarray(8, 24)),
      dst: hex(p.subarray(24, 40)),
      payload: p.subarray(40, 40 + rd16(p, 4)),
    };
  }
  return undefined;
}

/** Full (uncompressed, lower-case, no leading zeros) IPv6 text, matching parseIp. */
export function ip6Full(addr: string): string {
  const b = ip6(addr);
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(rd16(b, i).toString(16));
  return g.join(":");
}
