import { describe, expect, it } from "vitest";
import type { Outcome, OutcomeKind } from "../../stack/tcp/outcome.js";
import {
  ERRNO,
  NTSTATUS,
  NT_ERROR,
  NT_INFORMATION,
  NT_SUCCESS,
  NT_WARNING,
  NtStatusError,
  STATUS_CONNECTION_REFUSED,
  STATUS_IO_TIMEOUT,
  WINSOCK_ERRORS,
  errnoByName,
  errnoName,
  formatStatus,
  hasErrorMapping,
  hexStatus,
  outcomeToStatus,
  statusByName,
  statusName,
  statusText,
  toErrno,
  toWinsock,
} from "../../src/wsk/ntstatus.js";

// docs/ntstatus.md's table, copied by hand: the point is that the code cannot drift from the doc.
const CONTRACT_SECTION_4: Array<[string, number]> = [
  ["STATUS_SUCCESS", 0x00000000],
  ["STATUS_PENDING", 0x00000103],
  ["STATUS_CONNECTION_REFUSED", 0xc0000236],
  ["STATUS_IO_TIMEOUT", 0xc00000b5],
  ["STATUS_NETWORK_UNREACHABLE", 0xc000023c],
  ["STATUS_HOST_UNREACHABLE", 0xc000023d],
  ["STATUS_PROTOCOL_UNREACHABLE", 0xc000023e],
  ["STATUS_PORT_UNREACHABLE", 0xc000023f],
  ["STATUS_CANCELLED", 0xc0000120],
  ["STATUS_CONNECTION_RESET", 0xc000020d],
  ["STATUS_CONNECTION_ABORTED", 0xc0000241],
  ["STATUS_INVALID_PARAMETER", 0xc000000d],
  ["STATUS_INVALID_DEVICE_STATE", 0xc0000184],
  ["STATUS_CONNECTION_ACTIVE", 0xc000023b],
  ["STATUS_ADDRESS_ALREADY_EXISTS", 0xc000020a],
  ["STATUS_INVALID_ADDRESS_COMPONENT", 0xc0000207],
  ["STATUS_TOO_MANY_ADDRESSES", 0xc0000209],
  ["STATUS_FILE_FORCED_CLOSED", 0xc00000b6],
];

// Other statuses of the WSK pages and of the Winsock/errno tables (values from mingw-w64 ntstatus.h).
const CONNECT_PATH: Array<[string, number]> = [
  ["STATUS_NOT_SUPPORTED", 0xc00000bb],
  ["STATUS_NOT_IMPLEMENTED", 0xc0000002],
  ["STATUS_INVALID_CONNECTION", 0xc0000140],
  ["STATUS_CONNECTION_INVALID", 0xc000023a],
  ["STATUS_CONNECTION_DISCONNECTED", 0xc000020c],
  ["STATUS_GRACEFUL_DISCONNECT", 0xc0000237],
  ["STATUS_REMOTE_DISCONNECT", 0xc000013c],
  ["STATUS_LOCAL_DISCONNECT", 0xc000013b],
  ["STATUS_TIMEOUT", 0x00000102],
  ["STATUS_FILE_CLOSED", 0xc0000128],
  ["STATUS_BUFFER_OVERFLOW", 0x80000005],
  ["STATUS_INSUFFICIENT_RESOURCES", 0xc000009a],
  ["STATUS_NETWORK_BUSY", 0xc00000bf],
  ["STATUS_ADDRESS_ALREADY_ASSOCIATED", 0xc0000238],
  ["STATUS_SHARING_VIOLATION", 0xc0000043],
  ["STATUS_UNSUCCESSFUL", 0xc0000001],
  ["STATUS_ACCESS_DENIED", 0xc0000022],
  ["STATUS_MORE_PROCESSING_REQUIRED", 0xc0000016],
  ["STATUS_REMOTE_NOT_LISTENING", 0xc00000bc],
  ["STATUS_DATA_NOT_ACCEPTED", 0xc000021b],
  ["STATUS_BUFFER_TOO_SMALL", 0xc0000023],
  ["STATUS_CANT_WAIT", 0xc00000d8],
  ["STATUS_REQUEST_NOT_ACCEPTED", 0xc00000d0],
  ["STATUS_UNEXPECTED_NETWORK_ERROR", 0xc00000c4],
  ["STATUS_HOPLIMIT_EXCEEDED", 0xc000a012],
  ["STATUS_NOINTERFACE", 0xc00002b9],
  ["STATUS_DEVICE_NOT_READY", 0xc00000a3],
];

describe("NTSTATUS table", () => {
  it.each(CONTRACT_SECTION_4)("docs/ntstatus.md outcome table: %s = %i", (name, value) => {
    expect((NTSTATUS as Record<string, number>)[name]).toBe(value);
    expect(statusName(value)).toBe(name);
    expect(statusByName(name)).toBe(value);
  });

  it.each(CONNECT_PATH)("other WSK statuses: %s = %i", (name, value) => {
    expect((NTSTATUS as Record<string, number>)[name]).toBe(value);
    expect(statusName(value)).toBe(name);
  });

  it("has one name per value and only unsigned 32-bit values", () => {
    const values = Object.values(NTSTATUS);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(0xffffffff);
    }
  });

  it("formats hex with 8 upper-case digits", () => {
    expect(hexStatus(0xc0000236)).toBe("0xC0000236");
    expect(hexStatus(0x103)).toBe("0x00000103");
    expect(hexStatus(0)).toBe("0x00000000");
    expect(formatStatus(STATUS_CONNECTION_REFUSED)).toBe("STATUS_CONNECTION_REFUSED (0xC0000236)");
    expect(formatStatus(0)).toBe("STATUS_SUCCESS (0x00000000)");
  });

  it("names unknown statuses by their hex value", () => {
    expect(statusName(0xc00000ff)).toBe("0xC00000FF");
    expect(formatStatus(0xc0001234)).toBe("0xC0001234");
    expect(statusText(0xc0001234)).toBe("unknown status");
    expect(statusByName("STATUS_NOPE")).toBeUndefined();
    expect(statusByName("toString")).toBeUndefined();
  });

  it("accepts the signed form C code prints", () => {
    // (NTSTATUS)0xC0000236 as a signed LONG is -1073741258.
    expect(statusName(-1073741258)).toBe("STATUS_CONNECTION_REFUSED");
    expect(hexStatus(-1073741258)).toBe("0xC0000236");
  });
});

describe("severity helpers", () => {
  it.each([
    // value, success, information, warning, error
    [0x00000000, true, false, false, false],
    [0x00000103, true, false, false, false], // STATUS_PENDING is success class
    [0x00000102, true, false, false, false], // STATUS_TIMEOUT is success class: never a TCP give-up
    [0x40000000, true, true, false, false], // informational
    [0x80000005, false, false, true, false], // STATUS_BUFFER_OVERFLOW
    [0xc0000236, false, false, false, true],
    [0xc00000b5, false, false, false, true],
  ])("%i", (value, success, information, warning, error) => {
    expect(NT_SUCCESS(value)).toBe(success);
    expect(NT_INFORMATION(value)).toBe(information);
    expect(NT_WARNING(value)).toBe(warning);
    expect(NT_ERROR(value)).toBe(error);
  });
});

describe("outcomeToStatus (docs/ntstatus.md)", () => {
  const icmp = { version: 4 as const, type: 3, code: 1, from: "10.0.0.254" };
  const cases: Array<[Outcome, number]> = [
    [{ kind: "established" }, 0x00000000],
    [{ kind: "refused" }, 0xc0000236],
    [{ kind: "timedOut" }, 0xc00000b5],
    [{ kind: "unreachable", reason: "net" }, 0xc000023c], // no local route
    [{ kind: "unreachable", reason: "net", icmp: { ...icmp, code: 0 } }, 0xc000023c],
    [{ kind: "unreachable", reason: "host", icmp }, 0xc000023d],
    [{ kind: "unreachable", reason: "protocol", icmp: { ...icmp, code: 2 } }, 0xc000023e],
    [{ kind: "unreachable", reason: "port", icmp: { ...icmp, code: 3 } }, 0xc000023f],
    [{ kind: "cancelled" }, 0xc0000120],
    [{ kind: "closed" }, 0xc0000120],
    [{ kind: "reset" }, 0xc000020d],
    [{ kind: "aborted" }, 0xc0000241],
    [{ kind: "finished" }, 0x00000000],
  ];
  it.each(cases)("%j -> %i", (outcome, status) => {
    expect(outcomeToStatus(outcome)).toBe(status);
  });

  it("covers every outcome kind", () => {
    const kinds: Record<OutcomeKind, true> = {
      established: true,
      refused: true,
      timedOut: true,
      unreachable: true,
      cancelled: true,
      closed: true,
      reset: true,
      aborted: true,
      finished: true,
    };
    const covered = new Set(cases.map(([o]) => o.kind));
    expect([...covered].sort()).toEqual(Object.keys(kinds).sort());
  });

  it("reports a remembered soft error instead of IO_TIMEOUT (rfc profile, RFC 1122 §4.2.3.9)", () => {
    expect(outcomeToStatus({ kind: "timedOut", softError: { reason: "host", icmp } })).toBe(0xc000023d);
    expect(outcomeToStatus({ kind: "timedOut", softError: { reason: "net", icmp } })).toBe(0xc000023c);
  });
});

describe("Winsock and errno", () => {
  // docs/ntstatus.md "Winsock and errno", including its choices where sources disagree.
  const rows: Array<[number, string, number, string, number]> = [
    [0x00000000, "NO_ERROR", 0, "OK", 0],
    [0x00000103, "WSA_IO_PENDING", 997, "EINPROGRESS", 115],
    [0xc0000236, "WSAECONNREFUSED", 10061, "ECONNREFUSED", 111],
    [0xc00000b5, "WSAETIMEDOUT", 10060, "ETIMEDOUT", 110],
    [0xc000023c, "WSAENETUNREACH", 10051, "ENETUNREACH", 101],
    [0xc000023d, "WSAEHOSTUNREACH", 10065, "EHOSTUNREACH", 113],
    [0xc000023e, "WSAENETUNREACH", 10051, "ENOPROTOOPT", 92],
    [0xc000023f, "WSAECONNRESET", 10054, "ECONNREFUSED", 111],
    [0xc0000120, "WSAEINTR", 10004, "ECANCELED", 125],
    [0xc000020d, "WSAECONNRESET", 10054, "ECONNRESET", 104],
    [0xc0000241, "WSAECONNABORTED", 10053, "ECONNABORTED", 103],
    [0xc000000d, "WSAEINVAL", 10022, "EINVAL", 22],
    [0xc000023b, "WSAEISCONN", 10056, "EISCONN", 106],
    [0xc000020a, "WSAEADDRINUSE", 10048, "EADDRINUSE", 98],
    [0xc0000238, "WSAEADDRINUSE", 10048, "EADDRINUSE", 98],
    [0xc0000043, "WSAEADDRINUSE", 10048, "EADDRINUSE", 98],
    [0xc0000209, "WSAENOBUFS", 10055, "EADDRNOTAVAIL", 99],
    [0xc00000b6, "WSAENOTSOCK", 10038, "EBADF", 9],
    [0xc0000207, "WSAEADDRNOTAVAIL", 10049, "EADDRNOTAVAIL", 99],
    [0xc0000140, "WSAENOTCONN", 10057, "ENOTCONN", 107],
    [0xc0000237, "WSAEDISCON", 10101, "EPIPE", 32],
    [0xc000013b, "WSAECONNABORTED", 10053, "ECONNABORTED", 103],
    [0xc000013c, "WSAECONNRESET", 10054, "ECONNRESET", 104],
  ];
  it.each(rows)("%i -> %s %i / %s %i", (status, wsaName, wsa, eName, e) => {
    expect(toWinsock(status)).toEqual({ name: wsaName, value: wsa });
    expect(toErrno(status)).toEqual({ name: eName, value: e });
    expect(hasErrorMapping(status)).toBe(true);
  });

  // Microsoft's own WSK-status-to-Winsock table (microsoft/win-net-test, src/sock/km/sock.c,
  // NtStatusToSocketError), for the statuses synack knows. Ours agrees with every row but
  // one, whose reason docs/ntstatus.md gives.
  const MICROSOFT: Array<[string, string]> = [
    ["STATUS_PENDING", "WSA_IO_PENDING"],
    ["STATUS_INVALID_HANDLE", "WSAENOTSOCK"],
    ["STATUS_INSUFFICIENT_RESOURCES", "WSAENOBUFS"],
    ["STATUS_NO_MEMORY", "WSAENOBUFS"],
    ["STATUS_TOO_MANY_ADDRESSES", "WSAENOBUFS"],
    ["STATUS_SHARING_VIOLATION", "WSAEADDRINUSE"],
    ["STATUS_ADDRESS_ALREADY_EXISTS", "WSAEADDRINUSE"],
    ["STATUS_LINK_TIMEOUT", "WSAETIMEDOUT"],
    ["STATUS_IO_TIMEOUT", "WSAETIMEDOUT"],
    ["STATUS_TIMEOUT", "WSAETIMEDOUT"],
    ["STATUS_GRACEFUL_DISCONNECT", "WSAEDISCON"],
    ["STATUS_REMOTE_DISCONNECT", "WSAECONNRESET"],
    ["STATUS_CONNECTION_RESET", "WSAECONNRESET"],
    ["STATUS_LINK_FAILED", "WSAECONNRESET"],
    ["STATUS_CONNECTION_DISCONNECTED", "WSAECONNRESET"],
    ["STATUS_PORT_UNREACHABLE", "WSAECONNRESET"],
    ["STATUS_HOPLIMIT_EXCEEDED", "WSAENETRESET"],
    ["STATUS_LOCAL_DISCONNECT", "WSAECONNABORTED"],
    ["STATUS_TRANSACTION_ABORTED", "WSAECONNABORTED"],
    ["STATUS_CONNECTION_ABORTED", "WSAECONNABORTED"],
    ["STATUS_BAD_NETWORK_PATH", "WSAENETUNREACH"],
    ["STATUS_NETWORK_UNREACHABLE", "WSAENETUNREACH"],
    ["STATUS_PROTOCOL_UNREACHABLE", "WSAENETUNREACH"],
    ["STATUS_HOST_UNREACHABLE", "WSAEHOSTUNREACH"],
    ["STATUS_CANCELLED", "WSAEINTR"],
    ["STATUS_REQUEST_ABORTED", "WSAEINTR"],
    ["STATUS_BUFFER_OVERFLOW", "WSAEMSGSIZE"],
    ["STATUS_INVALID_BUFFER_SIZE", "WSAEMSGSIZE"],
    ["STATUS_BUFFER_TOO_SMALL", "WSAEFAULT"],
    ["STATUS_DEVICE_NOT_READY", "WSAEWOULDBLOCK"],
    ["STATUS_REQUEST_NOT_ACCEPTED", "WSAEWOULDBLOCK"],
    ["STATUS_NETWORK_BUSY", "WSAENETDOWN"],
    ["STATUS_UNEXPECTED_NETWORK_ERROR", "WSAENETDOWN"],
    ["STATUS_INVALID_CONNECTION", "WSAENOTCONN"],
    ["STATUS_REMOTE_NOT_LISTENING", "WSAECONNREFUSED"],
    ["STATUS_CONNECTION_REFUSED", "WSAECONNREFUSED"],
    ["STATUS_INVALID_ADDRESS", "WSAEADDRNOTAVAIL"],
    ["STATUS_INVALID_ADDRESS_COMPONENT", "WSAEADDRNOTAVAIL"],
    ["STATUS_NOT_SUPPORTED", "WSAEOPNOTSUPP"],
    ["STATUS_NOT_IMPLEMENTED", "WSAEOPNOTSUPP"],
    ["STATUS_ACCESS_DENIED", "WSAEACCES"],
    ["STATUS_CONNECTION_ACTIVE", "WSAEISCONN"],
    ["STATUS_PROTOCOL_NOT_SUPPORTED", "WSAEAFNOSUPPORT"],
    ["STATUS_SUCCESS", "NO_ERROR"],
    ["STATUS_UNSUCCESSFUL", "WSAEINVAL"],
    ["STATUS_INVALID_PARAMETER", "WSAEINVAL"],
    ["STATUS_ADDRESS_CLOSED", "WSAEINVAL"],
    ["STATUS_CONNECTION_INVALID", "WSAEINVAL"],
    ["STATUS_ADDRESS_ALREADY_ASSOCIATED", "WSAEINVAL"],
    ["STATUS_ADDRESS_NOT_ASSOCIATED", "WSAEINVAL"],
    ["STATUS_INVALID_DEVICE_STATE", "WSAEINVAL"],
    ["STATUS_INVALID_DEVICE_REQUEST", "WSAEINVAL"],
  ];
  it("agrees with Microsoft's WSK-to-Winsock table except STATUS_ADDRESS_ALREADY_ASSOCIATED (a port in use for WskBind: WSAEADDRINUSE)", () => {
    const disagree = MICROSOFT.filter(([st, wsa]) => toWinsock(NTSTATUS[st as keyof typeof NTSTATUS]).name !== wsa).map(([st]) => st);
    expect(disagree).toEqual(["STATUS_ADDRESS_ALREADY_ASSOCIATED"]);
    expect(toWinsock(NTSTATUS.STATUS_ADDRESS_ALREADY_ASSOCIATED).name).toBe("WSAEADDRINUSE");
  });

  it("falls back to WSAEINVAL / EINVAL for an unmapped status", () => {
    expect(hasErrorMapping(0xc0001234)).toBe(false);
    expect(toWinsock(0xc0001234)).toEqual({ name: "WSAEINVAL", value: 10022 });
    expect(toErrno(0xc0001234)).toEqual({ name: "EINVAL", value: 22 });
  });

  it("errno table has the Linux numbers scripts use", () => {
    const expected: Record<string, number> = {
      EINPROGRESS: 115,
      ETIMEDOUT: 110,
      ECONNREFUSED: 111,
      EHOSTUNREACH: 113,
      ENETUNREACH: 101,
      ECONNRESET: 104,
      EPIPE: 32,
      ENOTCONN: 107,
      EISCONN: 106,
      EALREADY: 114,
      EINVAL: 22,
      EADDRINUSE: 98,
      EADDRNOTAVAIL: 99,
      EAFNOSUPPORT: 97,
      ECONNABORTED: 103,
      EPROTO: 71,
      EACCES: 13,
      EAGAIN: 11,
      EWOULDBLOCK: 11,
      EBADF: 9,
      ENOPROTOOPT: 92,
      ECANCELED: 125,
    };
    for (const [name, value] of Object.entries(expected)) expect(errnoByName(name), name).toBe(value);
    expect(errnoByName("ENOTANERRNO")).toBeUndefined();
    expect(errnoByName("hasOwnProperty")).toBeUndefined();
    expect(errnoName(111)).toBe("ECONNREFUSED");
    expect(errnoName(11)).toBe("EAGAIN");
    expect(errnoName(9999)).toBeUndefined();
  });

  it("Winsock values are WSABASEERR + the BSD number for WSAE* codes", () => {
    for (const [name, value] of Object.entries(WINSOCK_ERRORS)) {
      if (name.startsWith("WSAE")) expect(value, name).toBeGreaterThan(10000);
    }
    expect(WINSOCK_ERRORS.WSAECONNREFUSED).toBe(10061);
    expect(ERRNO.ECONNREFUSED).toBe(111);
  });
});

describe("NtStatusError", () => {
  it("carries the status, its name and a readable message", () => {
    const e = new NtStatusError(STATUS_CONNECTION_REFUSED);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("NtStatusError");
    expect(e.status).toBe(0xc0000236);
    expect(e.statusName).toBe("STATUS_CONNECTION_REFUSED");
    expect(e.code).toBe("ECONNREFUSED");
    expect(e.message).toBe("STATUS_CONNECTION_REFUSED (0xC0000236): the remote host refused the connection");
  });

  it("appends a detail and handles unknown statuses", () => {
    expect(new NtStatusError(STATUS_IO_TIMEOUT, "10.0.0.1:80").message).toMatch(
      /^STATUS_IO_TIMEOUT \(0xC00000B5\): .+ \(10\.0\.0\.1:80\)$/,
    );
    const u = new NtStatusError(0xc0001234);
    expect(u.statusName).toBe("0xC0001234");
    expect(u.message).toBe("0xC0001234: unknown status");
  });

  it("has an explanation for every status in the table", () => {
    for (const value of Object.values(NTSTATUS)) {
      expect(statusText(value)).not.toBe("unknown status");
      expect(statusText(value).length).toBeGreaterThan(5);
    }
  });
});
