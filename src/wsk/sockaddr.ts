// SOCKADDR_IN / SOCKADDR_IN6 as typed objects (ws2def.h / ws2ipdef.h field names), and the
// "a.b.c.d:p" / "[v6]:p" text forms used by the CLI (docs/cli.md).
//
// Field names follow ws2def.h / ws2ipdef.h. Ports are host-order numbers (C keeps them in
// network order; a TypeScript user should not have to call htons). Addresses are text in
// canonical form: dotted quad for IPv4, RFC 5952 for IPv6, like stack/wire/types.ts.

import { formatIp, parseIp } from "../../stack/wire/addr.js";
import { fail, ok, type Parsed } from "../../stack/wire/types.js";

/** Address families, Windows values (winsock2.h). */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
/** 23 on Windows (winsock2.h); Linux uses 10. synack follows Windows since this is the WSK facade. */
export const AF_INET6 = 23;
export const SOCK_STREAM = 1;
/** ws2def.h IPPROTO_TCP: the IANA protocol number, the one stack/wire/ uses. */
export { IPPROTO_TCP } from "../../stack/wire/types.js";

export const IN4ADDR_ANY = "0.0.0.0";
export const IN6ADDR_ANY = "::";
export const IN4ADDR_LOOPBACK = "127.0.0.1";
export const IN6ADDR_LOOPBACK = "::1";

export interface SOCKADDR_IN {
  sin_family: typeof AF_INET;
  sin_port: number;
  /** Dotted quad. */
  sin_addr: string;
}

export interface SOCKADDR_IN6 {
  sin6_family: typeof AF_INET6;
  sin6_port: number;
  /** 20-bit flow label (RFC 8200 §6); 0 unless set. */
  sin6_flowinfo: number;
  /** RFC 5952 text. */
  sin6_addr: string;
  /** Zone index for link-local addresses (RFC 4007 §11); 0 = none. */
  sin6_scope_id: number;
}

export type SOCKADDR = SOCKADDR_IN | SOCKADDR_IN6;

export type AddressFamily = typeof AF_INET | typeof AF_INET6;

// ---------------------------------------------------------------------------------------
// IP address text (parsing and RFC 5952 canonical form: stack/wire/addr.ts)

/** An IP address in text, canonicalised (dotted quad / RFC 5952), with its family. */
export function parseIpAddress(text: string): Parsed<{ family: AddressFamily; addr: string }> {
  const r = parseIp(text);
  if (!r.ok) return fail(`bad IP address "${text}": ${r.reason}`);
  return ok({ family: r.value.version === 4 ? AF_INET : AF_INET6, addr: formatIp(r.value.bytes) });
}

// ---------------------------------------------------------------------------------------
// SOCKADDR

function checkPort(port: number): string | undefined {
  return Number.isInteger(port) && port >= 0 && port <= 65535 ? undefined : `port ${port} is not an integer in 0..65535`;
}

function parsePort(text: string, whole: string): Parsed<number> {
  if (text === "") return fail(`"${whole}" has no port after ":"`);
  if (!/^[0-9]{1,5}$/.test(text)) return fail(`"${whole}" has a bad port "${text}"`);
  const n = Number(text);
  if (n > 65535) return fail(`"${whole}" has port ${n}, above 65535`);
  return ok(n);
}

/**
 * Builds a SOCKADDR from an address (either family) and a port, validating both. For user
 * input; `sockaddrIn` / `sockaddrIn6` are the throwing builders for literals in code.
 */
export function makeSockaddr(
  addr: string,
  port: number,
  v6?: { flowinfo?: number; scopeId?: number },
): Parsed<SOCKADDR> {
  const portError = checkPort(port);
  if (portError) return fail(portError);
  const ip = parseIpAddress(addr);
  if (!ip.ok) return ip;
  if (ip.value.family === AF_INET) {
    if (v6 && (v6.flowinfo || v6.scopeId)) return fail("flowinfo / scope id apply to IPv6 only");
    return ok({ sin_family: AF_INET, sin_port: port, sin_addr: ip.value.addr });
  }
  const flowinfo = v6?.flowinfo ?? 0;
  const scopeId = v6?.scopeId ?? 0;
  if (!Number.isInteger(flowinfo) || flowinfo < 0 || flowinfo > 0xfffff) return fail(`flowinfo ${flowinfo} is not a 20-bit value`);
  if (!Number.isInteger(scopeId) || scopeId < 0 || scopeId > 0xffffffff) return fail(`scope id ${scopeId} is not a 32-bit value`);
  return ok({ sin6_family: AF_INET6, sin6_port: port, sin6_flowinfo: flowinfo, sin6_addr: ip.value.addr, sin6_scope_id: scopeId });
}

function orThrow<T>(r: Parsed<T>): T {
  if (!r.ok) throw new TypeError(r.reason);
  return r.value;
}

/** SOCKADDR_IN for a literal IPv4 address; throws TypeError on bad input (a bug in the caller). */
export function sockaddrIn(addr: string, port: number): SOCKADDR_IN {
  const sa = orThrow(makeSockaddr(addr, port));
  if ("sin6_family" in sa) throw new TypeError(`"${addr}" is not an IPv4 address`);
  return sa;
}

/** SOCKADDR_IN6 for a literal IPv6 address; throws TypeError on bad input (a bug in the caller). */
export function sockaddrIn6(addr: string, port: number, flowinfo = 0, scopeId = 0): SOCKADDR_IN6 {
  const sa = orThrow(makeSockaddr(addr, port, { flowinfo, scopeId }));
  if (!("sin6_family" in sa)) throw new TypeError(`"${addr}" is not an IPv6 address`);
  return sa;
}

/** The wildcard address of a family with a port (for WskBind to "any"). */
export function wildcardSockaddr(family: AddressFamily, port = 0): SOCKADDR {
  return family === AF_INET ? sockaddrIn(IN4ADDR_ANY, port) : sockaddrIn6(IN6ADDR_ANY, port);
}

/**
 * Parses "10.0.0.1:80" or "[fd00::1]:80" (also "[fe80::1%2]:80": numeric zone = scope id).
 * IPv6 must be in brackets; the address is canonicalised (RFC 5952).
 */
export function parseSockaddr(text: string): Parsed<SOCKADDR> {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return fail(`"${text}" has "[" without "]"`);
    let host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(":")) {
      return fail(rest === "" ? `"${text}" has no ":port" after "]"` : `"${text}" has "${rest}" after "]" instead of ":port"`);
    }
    const port = parsePort(rest.slice(1), text);
    if (!port.ok) return port;
    let scopeId = 0;
    const pct = host.indexOf("%");
    if (pct >= 0) {
      const zone = host.slice(pct + 1);
      // Only numeric zones: interface names mean nothing to a user-space stack.
      if (!/^[0-9]{1,10}$/.test(zone) || Number(zone) > 0xffffffff) return fail(`"${text}" has a zone "${zone}" that is not a number`);
      scopeId = Number(zone);
      host = host.slice(0, pct);
    }
    if (!host.includes(":")) return fail(`"${text}" has no IPv6 address inside the brackets`);
    const ip = parseIpAddress(host);
    if (!ip.ok) return ip;
    return ok({ sin6_family: AF_INET6, sin6_port: port.value, sin6_flowinfo: 0, sin6_addr: ip.value.addr, sin6_scope_id: scopeId });
  }
  const colon = text.lastIndexOf(":");
  if (colon < 0) return fail(`"${text}" has no ":port"`);
  if (text.indexOf(":") !== colon) return fail(`"${text}": an IPv6 address must be written in brackets, "[addr]:port"`);
  const ip = parseIpAddress(text.slice(0, colon));
  if (!ip.ok) return ip;
  const port = parsePort(text.slice(colon + 1), text);
  if (!port.ok) return port;
  return ok({ sin_family: AF_INET, sin_port: port.value, sin_addr: ip.value.addr });
}

/** "10.0.0.1:80", "[fd00::1]:80", "[fe80::1%2]:80". Inverse of parseSockaddr. */
export function formatSockaddr(sa: SOCKADDR): string {
  if (!("sin6_family" in sa)) return `${sa.sin_addr}:${sa.sin_port}`;
  const zone = sa.sin6_scope_id ? `%${sa.sin6_scope_id}` : "";
  return `[${sa.sin6_addr}${zone}]:${sa.sin6_port}`;
}

/** The family field of either struct. */
export function sockaddrFamily(sa: SOCKADDR): AddressFamily {
  return "sin6_family" in sa ? sa.sin6_family : sa.sin_family;
}

export function sockaddrAddress(sa: SOCKADDR): string {
  return "sin6_family" in sa ? sa.sin6_addr : sa.sin_addr;
}

export function sockaddrPort(sa: SOCKADDR): number {
  return "sin6_family" in sa ? sa.sin6_port : sa.sin_port;
}

/** 0.0.0.0 or :: (any port). */
export function isWildcard(sa: SOCKADDR): boolean {
  return "sin6_family" in sa ? sa.sin6_addr === IN6ADDR_ANY : sa.sin_addr === IN4ADDR_ANY;
}

export function sockaddrEquals(a: SOCKADDR, b: SOCKADDR): boolean {
  return formatSockaddr(a) === formatSockaddr(b) && ("sin6_family" in a ? a.sin6_flowinfo : 0) === ("sin6_family" in b ? b.sin6_flowinfo : 0);
}

/**
 * Validates a SOCKADDR handed in by a WSK caller (any object): family field known (and,
 * when `family` is given, equal to it), port in range, address well formed for the family.
 * Returns a canonical copy. The provider maps a failure to STATUS_INVALID_PARAMETER
 * (docs/ntstatus.md: wrong address family, malformed address).
 */
export function checkSockaddr(sa: unknown, family?: AddressFamily): Parsed<SOCKADDR> {
  if (typeof sa !== "object" || sa === null) return fail("SOCKADDR is not an object");
  const o = sa as Record<string, unknown>;
  const fam = "sin6_family" in o ? o.sin6_family : o.sin_family;
  if (fam !== AF_INET && fam !== AF_INET6) return fail(`unsupported address family ${String(fam)}`);
  if (family !== undefined && fam !== family) return fail(`address family ${fam} does not match the socket's family ${family}`);
  if (fam === AF_INET) {
    if (typeof o.sin_addr !== "string" || typeof o.sin_port !== "number") return fail("SOCKADDR_IN needs sin_addr (string) and sin_port (number)");
    const r = makeSockaddr(o.sin_addr, o.sin_port);
    if (r.ok && sockaddrFamily(r.value) !== AF_INET) return fail(`sin_addr "${o.sin_addr}" is not an IPv4 address`);
    return r;
  }
  if (typeof o.sin6_addr !== "string" || typeof o.sin6_port !== "number") return fail("SOCKADDR_IN6 needs sin6_addr (string) and sin6_port (number)");
  const flowinfo = o.sin6_flowinfo ?? 0;
  const scopeId = o.sin6_scope_id ?? 0;
  if (typeof flowinfo !== "number" || typeof scopeId !== "number") return fail("sin6_flowinfo / sin6_scope_id must be numbers");
  if (!o.sin6_addr.includes(":")) return fail(`sin6_addr "${o.sin6_addr}" is not an IPv6 address`);
  return makeSockaddr(o.sin6_addr, o.sin6_port, { flowinfo, scopeId });
}
