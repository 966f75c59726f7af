// NTSTATUS: the one place in synack that knows Windows status codes: the engine speaks
// outcomes, and this file's one table translates them (docs/architecture.md, after gVisor's
// typed tcpip errors). docs/ntstatus.md states the table, its Winsock/errno columns and why.
//
// Values: Microsoft's [MS-ERREF] §2.3.1 "NTSTATUS Values" and mingw-w64 10.0.0
// `include/ntstatus.h` (checked against the local header). Winsock numbers: Microsoft's
// "Windows Sockets Error Codes" page and mingw-w64 `winerror.h` (WSABASEERR = 10000).
// errno numbers: Linux `asm-generic/errno-base.h` / `errno.h`. Choices where sources
// disagree are commented at the entry and listed in docs/ntstatus.md.

import type { Outcome, OutcomeKind, UnreachableReason } from "../../stack/tcp/outcome.js";

/** An NTSTATUS as a 32-bit unsigned number (0xC0000236, not -1073741258). */
export type NtStatus = number;

/**
 * Every NTSTATUS synack uses, name -> value. One entry per value (no aliases such as
 * STATUS_WAIT_0), so `statusName` is unambiguous.
 */
export const NTSTATUS = {
  // Severity 0: success.
  STATUS_SUCCESS: 0x00000000,
  /** A success code (NT_SUCCESS is true): never use it for a TCP give-up (docs/ntstatus.md). */
  STATUS_TIMEOUT: 0x00000102,
  STATUS_PENDING: 0x00000103,
  // Severity 2: warning.
  STATUS_BUFFER_OVERFLOW: 0x80000005,
  // Severity 3: error.
  STATUS_UNSUCCESSFUL: 0xc0000001,
  STATUS_NOT_IMPLEMENTED: 0xc0000002,
  STATUS_INVALID_HANDLE: 0xc0000008,
  STATUS_INVALID_PARAMETER: 0xc000000d,
  STATUS_INVALID_DEVICE_REQUEST: 0xc0000010,
  /** Returned by a completion routine: the caller keeps the IRP (IoCompleteRequest stops). */
  STATUS_MORE_PROCESSING_REQUIRED: 0xc0000016,
  STATUS_NO_MEMORY: 0xc0000017,
  STATUS_ACCESS_DENIED: 0xc0000022,
  STATUS_BUFFER_TOO_SMALL: 0xc0000023,
  STATUS_SHARING_VIOLATION: 0xc0000043,
  STATUS_INSUFFICIENT_RESOURCES: 0xc000009a,
  STATUS_DEVICE_NOT_READY: 0xc00000a3,
  STATUS_IO_TIMEOUT: 0xc00000b5,
  STATUS_FILE_FORCED_CLOSED: 0xc00000b6,
  STATUS_NOT_SUPPORTED: 0xc00000bb,
  STATUS_REMOTE_NOT_LISTENING: 0xc00000bc,
  STATUS_BAD_NETWORK_PATH: 0xc00000be,
  STATUS_NETWORK_BUSY: 0xc00000bf,
  STATUS_UNEXPECTED_NETWORK_ERROR: 0xc00000c4,
  /** WskAcceptEvent: the application rejected the incoming connection (the socket is closed for it). */
  STATUS_REQUEST_NOT_ACCEPTED: 0xc00000d0,
  STATUS_CANT_WAIT: 0xc00000d8,
  STATUS_CANCELLED: 0xc0000120,
  STATUS_FILE_CLOSED: 0xc0000128,
  STATUS_LOCAL_DISCONNECT: 0xc000013b,
  STATUS_REMOTE_DISCONNECT: 0xc000013c,
  STATUS_LINK_FAILED: 0xc000013e,
  STATUS_LINK_TIMEOUT: 0xc000013f,
  STATUS_INVALID_CONNECTION: 0xc0000140,
  STATUS_INVALID_ADDRESS: 0xc0000141,
  STATUS_INVALID_DEVICE_STATE: 0xc0000184,
  STATUS_INVALID_BUFFER_SIZE: 0xc0000206,
  STATUS_INVALID_ADDRESS_COMPONENT: 0xc0000207,
  STATUS_TOO_MANY_ADDRESSES: 0xc0000209,
  STATUS_ADDRESS_ALREADY_EXISTS: 0xc000020a,
  STATUS_ADDRESS_CLOSED: 0xc000020b,
  STATUS_CONNECTION_DISCONNECTED: 0xc000020c,
  STATUS_CONNECTION_RESET: 0xc000020d,
  STATUS_TRANSACTION_ABORTED: 0xc000020f,
  STATUS_DATA_NOT_ACCEPTED: 0xc000021b,
  STATUS_NOT_FOUND: 0xc0000225,
  STATUS_CONNECTION_REFUSED: 0xc0000236,
  STATUS_GRACEFUL_DISCONNECT: 0xc0000237,
  STATUS_ADDRESS_ALREADY_ASSOCIATED: 0xc0000238,
  STATUS_ADDRESS_NOT_ASSOCIATED: 0xc0000239,
  STATUS_CONNECTION_INVALID: 0xc000023a,
  STATUS_CONNECTION_ACTIVE: 0xc000023b,
  STATUS_NETWORK_UNREACHABLE: 0xc000023c,
  STATUS_HOST_UNREACHABLE: 0xc000023d,
  STATUS_PROTOCOL_UNREACHABLE: 0xc000023e,
  STATUS_PORT_UNREACHABLE: 0xc000023f,
  STATUS_REQUEST_ABORTED: 0xc0000240,
  STATUS_CONNECTION_ABORTED: 0xc0000241,
  STATUS_CONNECTION_COUNT_LIMIT: 0xc0000246,
  /** WskCaptureProviderNPI / WskRegister: unsupported WSK version (no such interface). */
  STATUS_NOINTERFACE: 0xc00002b9,
  STATUS_HOPLIMIT_EXCEEDED: 0xc000a012,
  STATUS_PROTOCOL_NOT_SUPPORTED: 0xc000a013,
} as const satisfies Record<string, NtStatus>;

export type NtStatusName = keyof typeof NTSTATUS;

// Named constants for the dispatch code (`return STATUS_PENDING`); values come from the table.
export const {
  STATUS_SUCCESS,
  STATUS_TIMEOUT,
  STATUS_PENDING,
  STATUS_BUFFER_OVERFLOW,
  STATUS_UNSUCCESSFUL,
  STATUS_NOT_IMPLEMENTED,
  STATUS_INVALID_HANDLE,
  STATUS_INVALID_PARAMETER,
  STATUS_INVALID_DEVICE_REQUEST,
  STATUS_MORE_PROCESSING_REQUIRED,
  STATUS_NO_MEMORY,
  STATUS_ACCESS_DENIED,
  STATUS_BUFFER_TOO_SMALL,
  STATUS_SHARING_VIOLATION,
  STATUS_INSUFFICIENT_RESOURCES,
  STATUS_DEVICE_NOT_READY,
  STATUS_IO_TIMEOUT,
  STATUS_FILE_FORCED_CLOSED,
  STATUS_NOT_SUPPORTED,
  STATUS_REMOTE_NOT_LISTENING,
  STATUS_BAD_NETWORK_PATH,
  STATUS_NETWORK_BUSY,
  STATUS_UNEXPECTED_NETWORK_ERROR,
  STATUS_REQUEST_NOT_ACCEPTED,
  STATUS_CANT_WAIT,
  STATUS_CANCELLED,
  STATUS_FILE_CLOSED,
  STATUS_LOCAL_DISCONNECT,
  STATUS_REMOTE_DISCONNECT,
  STATUS_LINK_FAILED,
  STATUS_LINK_TIMEOUT,
  STATUS_INVALID_CONNECTION,
  STATUS_INVALID_ADDRESS,
  STATUS_INVALID_DEVICE_STATE,
  STATUS_INVALID_BUFFER_SIZE,
  STATUS_INVALID_ADDRESS_COMPONENT,
  STATUS_TOO_MANY_ADDRESSES,
  STATUS_ADDRESS_ALREADY_EXISTS,
  STATUS_ADDRESS_CLOSED,
  STATUS_CONNECTION_DISCONNECTED,
  STATUS_CONNECTION_RESET,
  STATUS_TRANSACTION_ABORTED,
  STATUS_DATA_NOT_ACCEPTED,
  STATUS_NOT_FOUND,
  STATUS_CONNECTION_REFUSED,
  STATUS_GRACEFUL_DISCONNECT,
  STATUS_ADDRESS_ALREADY_ASSOCIATED,
  STATUS_ADDRESS_NOT_ASSOCIATED,
  STATUS_CONNECTION_INVALID,
  STATUS_CONNECTION_ACTIVE,
  STATUS_NETWORK_UNREACHABLE,
  STATUS_HOST_UNREACHABLE,
  STATUS_PROTOCOL_UNREACHABLE,
  STATUS_PORT_UNREACHABLE,
  STATUS_REQUEST_ABORTED,
  STATUS_CONNECTION_ABORTED,
  STATUS_CONNECTION_COUNT_LIMIT,
  STATUS_NOINTERFACE,
  STATUS_HOPLIMIT_EXCEEDED,
  STATUS_PROTOCOL_NOT_SUPPORTED,
} = NTSTATUS;

/** One short human explanation per status, for messages (`NtStatusError`, CLI). */
const STATUS_TEXT: Record<NtStatusName, string> = {
  STATUS_SUCCESS: "the operation completed successfully",
  STATUS_TIMEOUT: "the wait timed out (a success code, not an error)",
  STATUS_PENDING: "the operation is in progress; the IRP completes later",
  STATUS_BUFFER_OVERFLOW: "the data was too large for the buffer",
  STATUS_UNSUCCESSFUL: "the operation failed",
  STATUS_NOT_IMPLEMENTED: "the operation is not implemented",
  STATUS_INVALID_HANDLE: "the handle is not valid",
  STATUS_INVALID_PARAMETER: "an invalid parameter was passed (flags, address family or address)",
  STATUS_INVALID_DEVICE_REQUEST: "the request is not valid for this object",
  STATUS_MORE_PROCESSING_REQUIRED: "the completion routine keeps the IRP",
  STATUS_NO_MEMORY: "not enough memory",
  STATUS_ACCESS_DENIED: "access denied",
  STATUS_BUFFER_TOO_SMALL: "the buffer is too small",
  STATUS_SHARING_VIOLATION: "the address is in use by another socket",
  STATUS_INSUFFICIENT_RESOURCES: "insufficient resources to complete the operation",
  STATUS_DEVICE_NOT_READY: "the device is not ready",
  STATUS_IO_TIMEOUT: "the operation timed out (no answer after all retransmissions)",
  STATUS_FILE_FORCED_CLOSED: "the socket has been closed and can no longer be used",
  STATUS_NOT_SUPPORTED: "the operation or flag is not supported",
  STATUS_REMOTE_NOT_LISTENING: "the remote host is not listening",
  STATUS_BAD_NETWORK_PATH: "the network path was not found",
  STATUS_NETWORK_BUSY: "an operation is already in progress",
  STATUS_UNEXPECTED_NETWORK_ERROR: "an unexpected network error occurred",
  STATUS_REQUEST_NOT_ACCEPTED: "the application rejected the incoming connection",
  STATUS_CANT_WAIT: "the operation would block",
  STATUS_CANCELLED: "the operation was cancelled",
  STATUS_FILE_CLOSED: "the socket was closed",
  STATUS_LOCAL_DISCONNECT: "the connection was disconnected locally",
  STATUS_REMOTE_DISCONNECT: "the connection was disconnected by the remote host",
  STATUS_LINK_FAILED: "the network link failed",
  STATUS_LINK_TIMEOUT: "the network link timed out",
  STATUS_INVALID_CONNECTION: "the socket is not connected",
  STATUS_INVALID_ADDRESS: "the address is not valid",
  STATUS_INVALID_DEVICE_STATE: "the socket is not in a state that allows this operation",
  STATUS_INVALID_BUFFER_SIZE: "the buffer size is not valid for this request",
  STATUS_INVALID_ADDRESS_COMPONENT: "the local address does not belong to this stack",
  STATUS_TOO_MANY_ADDRESSES: "no free local (ephemeral) port",
  STATUS_ADDRESS_ALREADY_EXISTS: "the local address and port are already in use",
  STATUS_ADDRESS_CLOSED: "the address was closed",
  STATUS_CONNECTION_DISCONNECTED: "the connection was disconnected",
  STATUS_CONNECTION_RESET: "the connection was reset by the remote host",
  STATUS_TRANSACTION_ABORTED: "the transaction was aborted",
  STATUS_DATA_NOT_ACCEPTED: "the client did not accept the indicated data",
  STATUS_CONNECTION_REFUSED: "the remote host refused the connection",
  STATUS_GRACEFUL_DISCONNECT: "the remote host closed the connection gracefully",
  STATUS_ADDRESS_ALREADY_ASSOCIATED: "the socket already has an address",
  STATUS_ADDRESS_NOT_ASSOCIATED: "the socket has no address",
  STATUS_CONNECTION_INVALID: "the connection is not valid",
  STATUS_CONNECTION_ACTIVE: "the socket is already connected",
  STATUS_NETWORK_UNREACHABLE: "the network is unreachable",
  STATUS_HOST_UNREACHABLE: "the remote host is unreachable",
  STATUS_PROTOCOL_UNREACHABLE: "the remote host does not run TCP (protocol unreachable)",
  STATUS_PORT_UNREACHABLE: "the remote port is unreachable",
  STATUS_REQUEST_ABORTED: "the request was aborted",
  STATUS_CONNECTION_ABORTED: "the connection was aborted locally",
  STATUS_CONNECTION_COUNT_LIMIT: "too many connections",
  STATUS_NOINTERFACE: "the requested WSK interface version is not supported",
  STATUS_NOT_FOUND: "the object was not found",
  STATUS_HOPLIMIT_EXCEEDED: "the hop limit was exceeded in transit",
  STATUS_PROTOCOL_NOT_SUPPORTED: "the protocol or address family is not supported",
};

const NAME_BY_VALUE: ReadonlyMap<NtStatus, NtStatusName> = new Map(
  (Object.entries(NTSTATUS) as Array<[NtStatusName, NtStatus]>).map(([name, value]) => [value, name]),
);

/** Normalises a signed 32-bit NTSTATUS (as C code prints it) to the unsigned form. */
export function toUnsigned(status: NtStatus): NtStatus {
  return status >>> 0;
}

/** Severity field, bits 31-30: 0 success, 1 informational, 2 warning, 3 error. */
export function severity(status: NtStatus): 0 | 1 | 2 | 3 {
  return ((status >>> 30) & 3) as 0 | 1 | 2 | 3;
}

/** NT_SUCCESS: severity success or informational (the signed value is >= 0). */
export function NT_SUCCESS(status: NtStatus): boolean {
  return severity(status) <= 1;
}
export function NT_INFORMATION(status: NtStatus): boolean {
  return severity(status) === 1;
}
export function NT_WARNING(status: NtStatus): boolean {
  return severity(status) === 2;
}
export function NT_ERROR(status: NtStatus): boolean {
  return severity(status) === 3;
}

/** "0xC0000236": 8 upper-case hex digits. */
export function hexStatus(status: NtStatus): string {
  return "0x" + toUnsigned(status).toString(16).toUpperCase().padStart(8, "0");
}

/** The STATUS_ name, or the hex value when the status is not in the table. */
export function statusName(status: NtStatus): string {
  return NAME_BY_VALUE.get(toUnsigned(status)) ?? hexStatus(status);
}

/** "STATUS_CONNECTION_REFUSED (0xC0000236)"; an unknown status is just its hex value. */
export function formatStatus(status: NtStatus): string {
  const name = NAME_BY_VALUE.get(toUnsigned(status));
  return name === undefined ? hexStatus(status) : `${name} (${hexStatus(status)})`;
}

/** The WSK request a status completed; some statuses mean something else per request. */
export type WskOperation = "connect" | "send" | "receive" | "disconnect";

const OPERATION_TEXT: Partial<Record<NtStatusName, Partial<Record<WskOperation, string>>>> = {
  STATUS_IO_TIMEOUT: {
    connect: "the connection attempt timed out (no answer after all SYN retransmissions)",
    send: "the send timed out: the peer acknowledged nothing after all retransmissions, and the connection is gone",
    receive: "the connection timed out: our retransmissions went unanswered, and the connection is gone",
    disconnect: "the disconnect timed out: our FIN went unanswered after all retransmissions",
  },
};

/**
 * The short explanation of a status ("the remote host refused the connection"), worded
 * for the request it completed when that changes the meaning (a send that times out is
 * not a connection attempt).
 */
export function statusText(status: NtStatus, operation?: WskOperation): string {
  const name = NAME_BY_VALUE.get(toUnsigned(status));
  if (name === undefined) return "unknown status";
  return (operation && OPERATION_TEXT[name]?.[operation]) ?? STATUS_TEXT[name];
}

/** "WskSend" -> "send": the operation a WSK routine's name stands for. */
function operationOf(detail: string | undefined): WskOperation | undefined {
  const m = detail ? /^Wsk(Connect|Send|Receive|Disconnect)\b/.exec(detail) : null;
  return m ? (m[1]!.toLowerCase() as WskOperation) : undefined;
}

/** Looks a status up by name ("STATUS_IO_TIMEOUT"); undefined if unknown. */
export function statusByName(name: string): NtStatus | undefined {
  return Object.hasOwn(NTSTATUS, name) ? NTSTATUS[name as NtStatusName] : undefined;
}

// ---------------------------------------------------------------------------------------
// Engine outcome -> NTSTATUS: the one table (docs/ntstatus.md, "Outcomes").

const UNREACHABLE_STATUS: Record<UnreachableReason, NtStatus> = {
  net: STATUS_NETWORK_UNREACHABLE, // ICMP net codes, ICMPv6 no route, no local route
  host: STATUS_HOST_UNREACHABLE, // host codes, admin prohibited, time exceeded, other param problems
  protocol: STATUS_PROTOCOL_UNREACHABLE, // ICMP protocol unreachable, ICMPv6 unrecognised next header
  port: STATUS_PORT_UNREACHABLE, // ICMP / ICMPv6 port unreachable
};

const OUTCOME_STATUS: { [K in Exclude<OutcomeKind, "unreachable">]: NtStatus } = {
  established: STATUS_SUCCESS, // handshake complete
  refused: STATUS_CONNECTION_REFUSED, // acceptable RST in SYN-SENT after the profile's retries
  timedOut: STATUS_IO_TIMEOUT, // SYN or data retransmission give-up (never STATUS_TIMEOUT: success class)
  cancelled: STATUS_CANCELLED, // IoCancelIrp; Information 0
  closed: STATUS_CANCELLED, // socket closed with the IRP pending (WskCloseSocket cancels them)
  reset: STATUS_CONNECTION_RESET, // RST in a synchronised state
  aborted: STATUS_CONNECTION_ABORTED, // local abortive disconnect
  finished: STATUS_SUCCESS, // graceful close completed
};

/**
 * The NTSTATUS for an engine outcome (docs/ntstatus.md).
 *
 * `timedOut` with a `softError`: under the `rfc` profile a remembered soft ICMP error is
 * reported instead of STATUS_IO_TIMEOUT at give-up (RFC 1122 §4.2.3.9, RFC 9293
 * SHLD-25). The engine sets `softError` only when its profile reports soft errors, so its
 * presence is the instruction: the status is that of the ICMP reason.
 */
export function outcomeToStatus(outcome: Outcome): NtStatus {
  switch (outcome.kind) {
    case "unreachable":
      return UNREACHABLE_STATUS[outcome.reason];
    case "timedOut":
      return outcome.softError ? UNREACHABLE_STATUS[outcome.softError.reason] : OUTCOME_STATUS.timedOut;
    default:
      return OUTCOME_STATUS[outcome.kind];
  }
}

// ---------------------------------------------------------------------------------------
// Winsock and errno: for users who think in WSAE* / E* names (CLI, promise API, the
// packetdrill runner, which checks Linux errno values).

/** Winsock error codes synack maps to (winerror.h; WSABASEERR = 10000). */
export const WINSOCK_ERRORS = {
  NO_ERROR: 0,
  WSAEINTR: 10004,
  WSAEBADF: 10009,
  WSAEACCES: 10013,
  WSAEFAULT: 10014,
  WSAEINVAL: 10022,
  WSAEWOULDBLOCK: 10035,
  WSAEINPROGRESS: 10036,
  WSAEALREADY: 10037,
  WSAENOTSOCK: 10038,
  WSAEMSGSIZE: 10040,
  WSAENOPROTOOPT: 10042,
  WSAEOPNOTSUPP: 10045,
  WSAEAFNOSUPPORT: 10047,
  WSAEADDRINUSE: 10048,
  WSAEADDRNOTAVAIL: 10049,
  WSAENETDOWN: 10050,
  WSAENETUNREACH: 10051,
  WSAENETRESET: 10052,
  WSAECONNABORTED: 10053,
  WSAECONNRESET: 10054,
  WSAENOBUFS: 10055,
  WSAEISCONN: 10056,
  WSAENOTCONN: 10057,
  WSAESHUTDOWN: 10058,
  WSAETIMEDOUT: 10060,
  WSAECONNREFUSED: 10061,
  WSAEHOSTUNREACH: 10065,
  WSAEDISCON: 10101,
  /** ERROR_OPERATION_ABORTED: cancelled overlapped I/O. */
  WSA_OPERATION_ABORTED: 995,
  /** ERROR_IO_PENDING: overlapped I/O still in progress. */
  WSA_IO_PENDING: 997,
} as const satisfies Record<string, number>;
export type WinsockErrorName = keyof typeof WINSOCK_ERRORS;

/**
 * Linux errno names and numbers (x86-64 / asm-generic), the ones socket code and
 * packetdrill scripts use. "OK" (0) is synack's name for "no error".
 */
export const ERRNO = {
  OK: 0,
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  EWOULDBLOCK: 11, // same number as EAGAIN on Linux
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  EPIPE: 32,
  ENOSYS: 38,
  EPROTO: 71,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  ENOTSUP: 95, // same number as EOPNOTSUPP on Linux
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ECANCELED: 125,
} as const satisfies Record<string, number>;
export type ErrnoName = keyof typeof ERRNO;

/** errno value by name ("ECONNREFUSED" -> 111); undefined if not in the table. */
export function errnoByName(name: string): number | undefined {
  return Object.hasOwn(ERRNO, name) ? ERRNO[name as ErrnoName] : undefined;
}

/** The preferred errno name for a number (111 -> "ECONNREFUSED"; 11 -> "EAGAIN"). */
export function errnoName(value: number): ErrnoName | undefined {
  // First name wins: EAGAIN before EWOULDBLOCK, EOPNOTSUPP before ENOTSUP.
  for (const [name, v] of Object.entries(ERRNO) as Array<[ErrnoName, number]>) if (v === value) return name;
  return undefined;
}

/**
 * Status -> [Winsock, errno] (docs/ntstatus.md, "Winsock and errno"). Winsock: Microsoft's
 * own WSK-status-to-Winsock table (microsoft/win-net-test, src/sock/km/sock.c,
 * NtStatusToSocketError), which libuv's uv_ntstatus_to_winsock_error follows; the rows it
 * lacks from Wine's ws2_32 table; the two places we depart from it are commented. errno:
 * Linux icmp_err_convert / tcp_v4_err.
 */
const ERROR_SPACE: Partial<Record<NtStatusName, readonly [WinsockErrorName, ErrnoName]>> = {
  STATUS_SUCCESS: ["NO_ERROR", "OK"],
  // A connect that returned STATUS_PENDING is what a non-blocking connect() reports as
  // EINPROGRESS; overlapped Winsock says WSA_IO_PENDING.
  STATUS_PENDING: ["WSA_IO_PENDING", "EINPROGRESS"],
  STATUS_TIMEOUT: ["WSAETIMEDOUT", "ETIMEDOUT"],
  STATUS_CONNECTION_REFUSED: ["WSAECONNREFUSED", "ECONNREFUSED"],
  STATUS_REMOTE_NOT_LISTENING: ["WSAECONNREFUSED", "ECONNREFUSED"],
  STATUS_IO_TIMEOUT: ["WSAETIMEDOUT", "ETIMEDOUT"],
  STATUS_LINK_TIMEOUT: ["WSAETIMEDOUT", "ETIMEDOUT"],
  STATUS_NETWORK_UNREACHABLE: ["WSAENETUNREACH", "ENETUNREACH"],
  STATUS_BAD_NETWORK_PATH: ["WSAENETUNREACH", "ENETUNREACH"],
  STATUS_HOST_UNREACHABLE: ["WSAEHOSTUNREACH", "EHOSTUNREACH"],
  // libuv and Wine agree on WSAENETUNREACH; Linux reports ICMP protocol unreachable as
  // ENOPROTOOPT (icmp_err_convert).
  STATUS_PROTOCOL_UNREACHABLE: ["WSAENETUNREACH", "ENOPROTOOPT"],
  // Microsoft's table: WSAECONNRESET (what Winsock reports for an ICMP port unreachable);
  // Linux reports the same ICMP error on a TCP connect as ECONNREFUSED.
  STATUS_PORT_UNREACHABLE: ["WSAECONNRESET", "ECONNREFUSED"],
  // Microsoft's table (and libuv): WSAEINTR, with STATUS_REQUEST_ABORTED. Linux has no
  // socket errno for a cancelled call; ECANCELED is the closest.
  STATUS_CANCELLED: ["WSAEINTR", "ECANCELED"],
  STATUS_REQUEST_ABORTED: ["WSAEINTR", "ECANCELED"],
  STATUS_CONNECTION_RESET: ["WSAECONNRESET", "ECONNRESET"],
  STATUS_CONNECTION_DISCONNECTED: ["WSAECONNRESET", "ECONNRESET"],
  STATUS_REMOTE_DISCONNECT: ["WSAECONNRESET", "ECONNRESET"],
  STATUS_LINK_FAILED: ["WSAECONNRESET", "ECONNRESET"],
  STATUS_CONNECTION_ABORTED: ["WSAECONNABORTED", "ECONNABORTED"],
  STATUS_LOCAL_DISCONNECT: ["WSAECONNABORTED", "ECONNABORTED"],
  STATUS_TRANSACTION_ABORTED: ["WSAECONNABORTED", "ECONNABORTED"],
  // The peer closed its side: Winsock's code is WSAEDISCON; on Linux a write then fails with EPIPE.
  STATUS_GRACEFUL_DISCONNECT: ["WSAEDISCON", "EPIPE"],
  STATUS_ADDRESS_ALREADY_EXISTS: ["WSAEADDRINUSE", "EADDRINUSE"],
  STATUS_SHARING_VIOLATION: ["WSAEADDRINUSE", "EADDRINUSE"],
  // Departs from Microsoft's table (WSAEINVAL, the Winsock answer to binding a socket that
  // already has an address): WskBind completes with this status for a port in use, which
  // Winsock's bind reports as WSAEADDRINUSE (docs/ntstatus.md).
  STATUS_ADDRESS_ALREADY_ASSOCIATED: ["WSAEADDRINUSE", "EADDRINUSE"],
  // Bind to an address the host does not own: EADDRNOTAVAIL on both sides.
  STATUS_INVALID_ADDRESS_COMPONENT: ["WSAEADDRNOTAVAIL", "EADDRNOTAVAIL"],
  STATUS_INVALID_ADDRESS: ["WSAEADDRNOTAVAIL", "EADDRNOTAVAIL"],
  // Ephemeral ports exhausted: Microsoft's table says WSAENOBUFS; Linux connect() says EADDRNOTAVAIL.
  STATUS_TOO_MANY_ADDRESSES: ["WSAENOBUFS", "EADDRNOTAVAIL"],
  STATUS_CONNECTION_ACTIVE: ["WSAEISCONN", "EISCONN"],
  STATUS_INVALID_CONNECTION: ["WSAENOTCONN", "ENOTCONN"],
  STATUS_CONNECTION_INVALID: ["WSAEINVAL", "ENOTCONN"],
  STATUS_NETWORK_BUSY: ["WSAENETDOWN", "EALREADY"],
  STATUS_INVALID_PARAMETER: ["WSAEINVAL", "EINVAL"],
  STATUS_INVALID_BUFFER_SIZE: ["WSAEMSGSIZE", "EINVAL"],
  // Wrong state covers bind twice and connect before bind as well as "not connected";
  // EINVAL is the generic answer (and libuv's fallback for it).
  STATUS_INVALID_DEVICE_STATE: ["WSAEINVAL", "EINVAL"],
  // Not in Microsoft's table (its default would be WSAEINVAL): a call on a closed socket
  // is WSAENOTSOCK in Winsock ("Windows Sockets Error Codes").
  STATUS_FILE_FORCED_CLOSED: ["WSAENOTSOCK", "EBADF"],
  STATUS_FILE_CLOSED: ["WSAENOTSOCK", "EBADF"],
  STATUS_INVALID_HANDLE: ["WSAENOTSOCK", "EBADF"],
  STATUS_NOT_SUPPORTED: ["WSAEOPNOTSUPP", "EOPNOTSUPP"],
  STATUS_NOT_IMPLEMENTED: ["WSAEOPNOTSUPP", "EOPNOTSUPP"],
  STATUS_INVALID_DEVICE_REQUEST: ["WSAEINVAL", "EOPNOTSUPP"],
  STATUS_PROTOCOL_NOT_SUPPORTED: ["WSAEAFNOSUPPORT", "EAFNOSUPPORT"],
  STATUS_INSUFFICIENT_RESOURCES: ["WSAENOBUFS", "ENOBUFS"],
  STATUS_NO_MEMORY: ["WSAENOBUFS", "ENOMEM"],
  STATUS_BUFFER_OVERFLOW: ["WSAEMSGSIZE", "EMSGSIZE"],
  STATUS_BUFFER_TOO_SMALL: ["WSAEFAULT", "EMSGSIZE"],
  STATUS_ACCESS_DENIED: ["WSAEACCES", "EACCES"],
  STATUS_CANT_WAIT: ["WSAEWOULDBLOCK", "EAGAIN"],
  STATUS_DEVICE_NOT_READY: ["WSAEWOULDBLOCK", "EAGAIN"],
  STATUS_REQUEST_NOT_ACCEPTED: ["WSAEWOULDBLOCK", "EAGAIN"],
  STATUS_UNEXPECTED_NETWORK_ERROR: ["WSAENETDOWN", "ENETDOWN"],
  // Microsoft's table: WSAENETRESET; Linux reports ICMP time exceeded as EHOSTUNREACH.
  STATUS_HOPLIMIT_EXCEEDED: ["WSAENETRESET", "EHOSTUNREACH"],
  STATUS_UNSUCCESSFUL: ["WSAEINVAL", "EINVAL"],
  STATUS_ADDRESS_CLOSED: ["WSAEINVAL", "EINVAL"],
  STATUS_ADDRESS_NOT_ASSOCIATED: ["WSAEINVAL", "EINVAL"],
};

/** Fallback for a status with no entry: libuv's default (WSAEINVAL), and EINVAL. */
const FALLBACK: readonly [WinsockErrorName, ErrnoName] = ["WSAEINVAL", "EINVAL"];

function errorSpace(status: NtStatus): readonly [WinsockErrorName, ErrnoName] {
  const name = NAME_BY_VALUE.get(toUnsigned(status));
  return (name !== undefined ? ERROR_SPACE[name] : undefined) ?? FALLBACK;
}

/** The Winsock error a user of Winsock would see for this status. */
export function toWinsock(status: NtStatus): { name: WinsockErrorName; value: number } {
  const name = errorSpace(status)[0];
  return { name, value: WINSOCK_ERRORS[name] };
}

/** The Linux errno a socket user would see for this status. */
export function toErrno(status: NtStatus): { name: ErrnoName; value: number } {
  const name = errorSpace(status)[1];
  return { name, value: ERRNO[name] };
}

/** True when the status has its own Winsock/errno entry (false: the fallback applies). */
export function hasErrorMapping(status: NtStatus): boolean {
  const name = NAME_BY_VALUE.get(toUnsigned(status));
  return name !== undefined && ERROR_SPACE[name] !== undefined;
}

// ---------------------------------------------------------------------------------------

/**
 * What the promise API rejects with: "STATUS_CONNECTION_REFUSED (0xC0000236): the remote
 * host refused the connection".
 */
export class NtStatusError extends Error {
  override readonly name = "NtStatusError";
  readonly status: NtStatus;
  readonly statusName: string;
  /** Linux errno name for the status (like Node's `err.code`: "ECONNREFUSED"). */
  readonly code: ErrnoName;

  /** `detail` (e.g. the remote address) is appended in parentheses. */
  constructor(status: NtStatus, detail?: string) {
    const s = toUnsigned(status);
    super(`${formatStatus(s)}: ${statusText(s, operationOf(detail))}${detail ? ` (${detail})` : ""}`);
    this.status = s;
    this.statusName = statusName(s);
    this.code = toErrno(s).name;
  }
}
