import { describe, expect, it } from "vitest";
import * as C from "../../src/wsk/constants.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IN4ADDR_ANY,
  IN6ADDR_ANY,
  IPPROTO_TCP,
  SOCK_STREAM,
  checkSockaddr,
  formatSockaddr,
  isWildcard,
  makeSockaddr,
  parseIpAddress,
  parseSockaddr,
  sockaddrAddress,
  sockaddrEquals,
  sockaddrFamily,
  sockaddrIn,
  sockaddrIn6,
  sockaddrPort,
  wildcardSockaddr,
} from "../../src/wsk/sockaddr.js";

describe("constants", () => {
  it("use the Windows values", () => {
    expect(AF_UNSPEC).toBe(0);
    expect(AF_INET).toBe(2);
    expect(AF_INET6).toBe(23); // Windows, not Linux's 10
    expect(SOCK_STREAM).toBe(1);
    expect(IPPROTO_TCP).toBe(6);
  });
});

describe("parseSockaddr", () => {
  it("parses IPv4", () => {
    const r = parseSockaddr("10.0.0.1:80");
    expect(r).toEqual({ ok: true, value: { sin_family: 2, sin_port: 80, sin_addr: "10.0.0.1" } });
  });

  it("parses IPv6 in brackets and canonicalises it (RFC 5952)", () => {
    const r = parseSockaddr("[FD00:0:0:0:0:0:0:0001]:443");
    expect(r).toEqual({
      ok: true,
      value: { sin6_family: 23, sin6_port: 443, sin6_flowinfo: 0, sin6_addr: "fd00::1", sin6_scope_id: 0 },
    });
  });

  it.each([
    ["[2001:db8:0:0:1:0:0:1]:1", "[2001:db8::1:0:0:1]:1"], // first longest run on a tie (§4.2.3)
    ["[2001:0db8::0001]:1", "[2001:db8::1]:1"], // leading zeros dropped (§4.1)
    ["[2001:db8:0:1:1:1:1:1]:1", "[2001:db8:0:1:1:1:1:1]:1"], // single zero group kept (§4.2.2)
    ["[::ffff:192.0.2.1]:1", "[::ffff:192.0.2.1]:1"], // mapped, mixed notation (§5)
    ["[::]:0", "[::]:0"],
    ["[fe80::1%3]:22", "[fe80::1%3]:22"], // numeric zone = scope id
    ["0.0.0.0:0", "0.0.0.0:0"],
    ["255.255.255.255:65535", "255.255.255.255:65535"],
  ])("%s formats as %s and round-trips", (input, canonical) => {
    const r = parseSockaddr(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(formatSockaddr(r.value)).toBe(canonical);
    const again = parseSockaddr(canonical);
    expect(again).toEqual(r);
  });

  it("puts a zone in sin6_scope_id", () => {
    const r = parseSockaddr("[fe80::1%3]:22");
    expect(r.ok && "sin6_scope_id" in r.value && r.value.sin6_scope_id).toBe(3);
  });

  it.each([
    ["10.0.0.1:65536", /above 65535/],
    ["10.0.0.1:-1", /bad port/],
    ["10.0.0.1:", /no port/],
    ["10.0.0.1", /no ":port"/],
    ["10.0.0.1:80x", /bad port/],
    ["10.0.0.1:80 ", /bad port/],
    ["10.0.0.256:80", /IP address/],
    ["10.0.0:80", /IP address/],
    ["10.0.0.01:80", /IP address/],
    ["fd00::1:80", /brackets/], // missing brackets
    ["[fd00::1]", /no ":port"/],
    ["[fd00::1]80", /instead of ":port"/],
    ["[fd00::1:80", /without "]"/],
    ["[fd00::1]:80junk", /bad port/], // trailing junk
    ["[fd00::1]:80:90", /bad port/],
    ["[fd00:::1]:80", /IP address/],
    ["[fd00::1::2]:80", /IP address/],
    ["[12345::1]:80", /IP address/],
    ["[1:2:3:4:5:6:7:8:9]:80", /IP address/],
    ["[fd00::g]:80", /IP address/],
    ["[10.0.0.1]:80", /no IPv6 address/],
    ["[fe80::1%eth0]:80", /zone/],
    ["", /no ":port"/],
  ])("rejects %j", (input, reason) => {
    const r = parseSockaddr(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe("builders and accessors", () => {
  it("sockaddrIn / sockaddrIn6 build canonical structs", () => {
    expect(sockaddrIn("192.0.2.7", 8080)).toEqual({ sin_family: AF_INET, sin_port: 8080, sin_addr: "192.0.2.7" });
    expect(sockaddrIn6("2001:DB8::0:1", 80)).toEqual({
      sin6_family: AF_INET6,
      sin6_port: 80,
      sin6_flowinfo: 0,
      sin6_addr: "2001:db8::1",
      sin6_scope_id: 0,
    });
  });

  it("throwing builders refuse bad literals and the wrong family", () => {
    expect(() => sockaddrIn("fd00::1", 80)).toThrow(TypeError);
    expect(() => sockaddrIn6("10.0.0.1", 80)).toThrow(TypeError);
    expect(() => sockaddrIn("10.0.0.1", 70000)).toThrow(TypeError);
  });

  it("makeSockaddr returns reasons", () => {
    expect(makeSockaddr("10.0.0.1", 1.5).ok).toBe(false);
    expect(makeSockaddr("nope", 1).ok).toBe(false);
    expect(makeSockaddr("10.0.0.1", 1, { scopeId: 2 }).ok).toBe(false);
    expect(makeSockaddr("fd00::1", 1, { flowinfo: 0x100000 }).ok).toBe(false);
    expect(makeSockaddr("fd00::1", 1, { flowinfo: 0xfffff, scopeId: 4 }).ok).toBe(true);
  });

  it("accessors, wildcard and equality", () => {
    const a = sockaddrIn("10.0.0.1", 80);
    const b = sockaddrIn6("fd00::1", 443);
    expect(sockaddrFamily(a)).toBe(AF_INET);
    expect(sockaddrFamily(b)).toBe(AF_INET6);
    expect(sockaddrAddress(b)).toBe("fd00::1");
    expect(sockaddrPort(a)).toBe(80);
    expect(isWildcard(a)).toBe(false);
    expect(isWildcard(sockaddrIn(IN4ADDR_ANY, 5))).toBe(true);
    expect(isWildcard(sockaddrIn6("0:0::0", 5))).toBe(true);
    expect(isWildcard(wildcardSockaddr(AF_INET6))).toBe(true);
    expect(sockaddrAddress(wildcardSockaddr(AF_INET))).toBe(IN4ADDR_ANY);
    expect(IN6ADDR_ANY).toBe("::");
    expect(sockaddrEquals(b, sockaddrIn6("FD00:0::1", 443))).toBe(true);
    expect(sockaddrEquals(b, sockaddrIn6("fd00::1", 444))).toBe(false);
    expect(sockaddrEquals(a, b)).toBe(false);
  });

  it("parseIpAddress canonicalises and tells the family", () => {
    expect(parseIpAddress("FD00::0001")).toEqual({ ok: true, value: { family: AF_INET6, addr: "fd00::1" } });
    expect(parseIpAddress("1.2.3.4")).toEqual({ ok: true, value: { family: AF_INET, addr: "1.2.3.4" } });
    expect(parseIpAddress("1.2.3").ok).toBe(false);
  });
});

describe("checkSockaddr (what a WSK provider receives)", () => {
  it("accepts and canonicalises valid structs", () => {
    expect(checkSockaddr({ sin_family: 2, sin_port: 80, sin_addr: "10.0.0.1" }, AF_INET)).toEqual({
      ok: true,
      value: { sin_family: 2, sin_port: 80, sin_addr: "10.0.0.1" },
    });
    const r = checkSockaddr({ sin6_family: 23, sin6_port: 80, sin6_addr: "FD00::1" });
    expect(r.ok && sockaddrAddress(r.value)).toBe("fd00::1");
  });

  it.each([
    [null, /not an object/],
    [{ sin_family: 10, sin_port: 80, sin_addr: "10.0.0.1" }, /unsupported address family/],
    [{ sin_family: 2, sin_port: 80, sin_addr: "fd00::1" }, /not an IPv4/],
    [{ sin6_family: 23, sin6_port: 80, sin6_addr: "10.0.0.1" }, /not an IPv6/],
    [{ sin_family: 2, sin_port: 70000, sin_addr: "10.0.0.1" }, /port/],
    [{ sin_family: 2, sin_port: "80", sin_addr: "10.0.0.1" }, /needs/],
    [{ sin_family: 2, sin_port: 80, sin_addr: "10.0.0.999" }, /IP address/],
  ])("rejects %j", (sa, reason) => {
    const r = checkSockaddr(sa);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it("rejects a family that does not match the socket", () => {
    const r = checkSockaddr(sockaddrIn6("fd00::1", 1), AF_INET);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/does not match/);
  });
});

describe("WSK constants (wsk.h, ws2def.h, ws2ipdef.h, mstcpip.h)", () => {
  it("have the header values", () => {
    expect([C.WSK_FLAG_BASIC_SOCKET, C.WSK_FLAG_LISTEN_SOCKET, C.WSK_FLAG_CONNECTION_SOCKET]).toEqual([0, 1, 2]);
    expect([C.WSK_FLAG_DATAGRAM_SOCKET, C.WSK_FLAG_STREAM_SOCKET]).toEqual([4, 8]);
    expect([C.WSK_FLAG_ABORTIVE, C.WSK_FLAG_RELEASE_ASAP, C.WSK_FLAG_ENTIRE_MESSAGE, C.WSK_FLAG_AT_DISPATCH_LEVEL]).toEqual([1, 2, 4, 8]);
    expect([C.WSK_FLAG_NODELAY, C.WSK_FLAG_WAITALL, C.WSK_FLAG_DRAIN]).toEqual([2, 2, 4]);
    expect([C.WskSetOption, C.WskGetOption, C.WskIoctl]).toEqual([0, 1, 2]);
    expect(C.SO_WSK_EVENT_CALLBACK).toBe(0x4002);
    expect([C.WSK_EVENT_RECEIVE, C.WSK_EVENT_DISCONNECT, C.WSK_EVENT_DISABLE]).toEqual([0x40, 0x80, 0x80000000]);
    expect([C.TCP_NODELAY, C.TCP_MAXSEG, C.TCP_TIMESTAMPS, C.TCP_FAIL_CONNECT_ON_ICMP_ERROR]).toEqual([1, 4, 10, 18]);
    expect(C.SIO_TCP_INITIAL_RTO).toBe(0x98000011);
    expect(C.SIO_WSK_SET_REMOTE_ADDRESS).toBe(0x8f000001);
    expect(C.TCP_INITIAL_RTO_UNSPECIFIED_RTT).toBe(0xffff);
    expect(C.TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS).toBe(0xff);
    expect(C.TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS).toBe(0xfe);
    expect([C.WSK_NO_WAIT, C.WSK_INFINITE_WAIT]).toEqual([0, 0xffffffff]);
    expect(C.AF_INET6).toBe(23);
  });
});
