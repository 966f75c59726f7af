// WSK and Winsock constants with their real header values, so a driver developer's
// numbers mean the same thing here.
//
// Sources (checked):
//   wsk.h      - ReactOS sdk/include/ddk/wsk.h (flag, event and WSK_CONTROL_SOCKET_TYPE
//                values); WSK_FLAG_STREAM_SOCKET (Windows 10 1703+) from Wine's WSK provider
//                (Wine dlls/netio.sys) as ReactOS predates it.
//   ws2def.h   - WSK_SO_BASE 0x4000, IOC_WSK = IOC_WS2 | 0x07000000, SOL_SOCKET 0xffff.
//   ws2ipdef.h - TCP_* option numbers (TCP_MAXSEG 4 ... TCP_FAIL_CONNECT_ON_ICMP_ERROR 18).
//   mstcpip.h  - SIO_TCP_INITIAL_RTO = _WSAIOW(IOC_VENDOR, 17) = 0x98000011 and
//                TCP_INITIAL_RTO_PARAMETERS (mingw-w64 10.0.0, checked locally).

// --- Socket categories (WskSocket Flags) --------------------------------------------------
export const WSK_FLAG_BASIC_SOCKET = 0x00000000;
export const WSK_FLAG_LISTEN_SOCKET = 0x00000001;
export const WSK_FLAG_CONNECTION_SOCKET = 0x00000002;
export const WSK_FLAG_DATAGRAM_SOCKET = 0x00000004;
export const WSK_FLAG_STREAM_SOCKET = 0x00000008;

// --- Flags passed to client event callbacks -----------------------------------------------
/** WskDisconnectEvent: the peer aborted (RST); WskDisconnect: abortive disconnect. */
export const WSK_FLAG_ABORTIVE = 0x00000001;
export const WSK_FLAG_RELEASE_ASAP = 0x00000002;
/** WskReceiveEvent: for TCP, PSH was set on at least one segment. */
export const WSK_FLAG_ENTIRE_MESSAGE = 0x00000004;
export const WSK_FLAG_AT_DISPATCH_LEVEL = 0x00000008;

// --- WskSend / WskReceive flags -------------------------------------------------------------
// Values overlap across functions on purpose (each function has its own flag space).
/** WskSend: send at once, do not wait to coalesce (Nagle off for this call). */
export const WSK_FLAG_NODELAY = 0x00000002;
/** WskReceive: complete only when the buffer is full (or disconnect / cancel). */
export const WSK_FLAG_WAITALL = 0x00000002;
/** WskReceive: discard incoming data (zero-length buffer); exclusive with WAITALL. */
export const WSK_FLAG_DRAIN = 0x00000004;

// --- WskCaptureProviderNPI WaitTimeout -----------------------------------------------------
export const WSK_NO_WAIT = 0;
export const WSK_INFINITE_WAIT = 0xffffffff;

// --- WSK_CONTROL_SOCKET_TYPE (WskControlSocket RequestType) --------------------------------
export const WskSetOption = 0;
export const WskGetOption = 1;
export const WskIoctl = 2;
export type WSK_CONTROL_SOCKET_TYPE = typeof WskSetOption | typeof WskGetOption | typeof WskIoctl;

// --- Levels ---------------------------------------------------------------------------------
export const SOL_SOCKET = 0xffff;
// IPPROTO_TCP, SOCK_STREAM and the AF_* values live in sockaddr.ts (one source); re-exported here.
export { AF_INET, AF_INET6, AF_UNSPEC, IPPROTO_TCP, SOCK_STREAM } from "./sockaddr.js";

// --- WSK socket options (level SOL_SOCKET) ------------------------------------------------
export const WSK_SO_BASE = 0x4000;
export const SO_WSK_SECURITY = WSK_SO_BASE + 1;
/** Enables / disables event callbacks; input WSK_EVENT_CALLBACK_CONTROL. */
export const SO_WSK_EVENT_CALLBACK = WSK_SO_BASE + 2;
/** Conditional accept on a listening socket (winsock2.h 0x3002; WskInspectEvent). */
export const SO_CONDITIONAL_ACCEPT = 0x3002;

// --- WSK_INSPECT_ACTION (WskInspectEvent result, WskInspectComplete Action) -------------
export const WskInspectReject = 0;
export const WskInspectAccept = 1;
export const WskInspectPend = 2;
export type WSK_INSPECT_ACTION = typeof WskInspectReject | typeof WskInspectAccept | typeof WskInspectPend;

/** WSK_INSPECT_ID: identifies a connection request under inspection (conditional accept). */
export interface WSK_INSPECT_ID {
  Key: number;
  SerialNumber: number;
}

// --- WSK_EVENT_CALLBACK_CONTROL.EventMask -------------------------------------------------
export const WSK_EVENT_SEND_BACKLOG = 0x00000010;
export const WSK_EVENT_RECEIVE = 0x00000040;
export const WSK_EVENT_DISCONNECT = 0x00000080;
export const WSK_EVENT_RECEIVE_FROM = 0x00000100;
export const WSK_EVENT_ACCEPT = 0x00000200;
/** OR-ed with an event bit to disable that callback. */
export const WSK_EVENT_DISABLE = 0x80000000;

/** WSK_EVENT_CALLBACK_CONTROL; NpiId is NPI_WSK_INTERFACE_ID in C and has no role here. */
export interface WSK_EVENT_CALLBACK_CONTROL {
  NpiId?: unknown;
  EventMask: number;
}

// --- IPPROTO_TCP options (ws2ipdef.h) ------------------------------------------------------
export const TCP_NODELAY = 1;
export const TCP_KEEPALIVE = 3;
export const TCP_MAXSEG = 4;
export const TCP_MAXRT = 5;
export const TCP_NOSYNRETRIES = 9;
export const TCP_TIMESTAMPS = 10;
/** Fail a pending connect on an ICMP error instead of ignoring it (Windows default off). */
export const TCP_FAIL_CONNECT_ON_ICMP_ERROR = 18;
export const TCP_ICMP_ERROR_INFO = 19;

// --- Ioctl codes ------------------------------------------------------------------------------
export const IOC_VOID = 0x20000000;
export const IOC_OUT = 0x40000000;
export const IOC_IN = 0x80000000;
export const IOC_INOUT = (IOC_IN | IOC_OUT) >>> 0;
export const IOC_WS2 = 0x08000000;
export const IOC_VENDOR = 0x18000000;
export const IOC_WSK = IOC_WS2 | 0x07000000;
/** _WSAIOW(x, y): an ioctl that takes input. Unsigned 32-bit result. */
export const _WSAIOW = (x: number, y: number): number => (IOC_IN | x | y) >>> 0;
export const _WSAIOR = (x: number, y: number): number => (IOC_OUT | x | y) >>> 0;
export const _WSAIORW = (x: number, y: number): number => (IOC_INOUT | x | y) >>> 0;

/** Per-socket initial RTO and SYN retransmission count (mstcpip.h), 0x98000011. */
export const SIO_TCP_INITIAL_RTO = _WSAIOW(IOC_VENDOR, 17);
export const SIO_WSK_SET_REMOTE_ADDRESS = _WSAIOW(IOC_WSK, 0x1);
export const SIO_WSK_QUERY_IDEAL_SEND_BACKLOG = _WSAIOR(IOC_WSK, 0x3);
export const SIO_WSK_QUERY_RECEIVE_BACKLOG = _WSAIOR(IOC_WSK, 0x4);

/**
 * Input of SIO_TCP_INITIAL_RTO (mstcpip.h: { USHORT Rtt; UCHAR MaxSynRetransmissions; }).
 * Rtt is the initial RTO in milliseconds.
 */
export interface TCP_INITIAL_RTO_PARAMETERS {
  Rtt: number;
  MaxSynRetransmissions: number;
}
/** Rtt: keep the system's (or administrator's) value. ((USHORT)-1) */
export const TCP_INITIAL_RTO_UNSPECIFIED_RTT = 0xffff;
/** MaxSynRetransmissions: keep the system's value. ((UCHAR)-1) */
export const TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS = 0xff;
export const TCP_INITIAL_RTO_DEFAULT_RTT = 0;
export const TCP_INITIAL_RTO_DEFAULT_MAX_SYN_RETRANSMISSIONS = 0;
/** MaxSynRetransmissions: send one SYN only; a RST refuses at once (Windows 10 1709+). ((UCHAR)-2) */
export const TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS = 0xfe;
