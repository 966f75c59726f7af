// The promise API for TypeScript users (docs/wsk.md, "The promise API"), built on the WSK
// facade, not beside it: every operation is a WSK call with an IRP, and every failure is an
// NtStatusError.
import { IoAllocateIrp, IoCancelIrp, irpToPromise, type Irp } from "./wsk/irp.js";
import {
  NtStatusError,
  STATUS_INVALID_PARAMETER,
  STATUS_PENDING,
  STATUS_SUCCESS,
  type NtStatus,
} from "./wsk/ntstatus.js";
import { SYNACK_SO_PROFILE, type WSK_CLIENT_CONNECTION_DISPATCH, type WSK_SOCKET } from "./wsk/provider.js";
import { WskClient } from "./wsk/client.js";
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, formatSockaddr, parseSockaddr, sockaddrFamily, sockaddrIn, sockaddrIn6, type SOCKADDR } from "./wsk/sockaddr.js";
import {
  SIO_TCP_INITIAL_RTO,
  SOL_SOCKET,
  TCP_FAIL_CONNECT_ON_ICMP_ERROR,
  TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_RTT,
  TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS,
  TCP_NODELAY,
  SO_WSK_EVENT_CALLBACK,
  WSK_EVENT_DISCONNECT,
  WSK_EVENT_RECEIVE,
  WSK_FLAG_ABORTIVE,
  WSK_FLAG_CONNECTION_SOCKET,
  WskIoctl,
  WskSetOption,
} from "./wsk/constants.js";
import type { ProfileName } from "../stack/tcp/profiles.js";
import { onAbort } from "./net/abort.js";

export interface ApiConnectOptions {
  /** Local address (and optionally port), e.g. "10.0.0.2" or "10.0.0.2:5000". */
  local?: string;
  profile?: ProfileName;
  /** Initial RTO in ms (SIO_TCP_INITIAL_RTO). */
  initialRtoMs?: number;
  /** SYN retransmissions (SIO_TCP_INITIAL_RTO MaxSynRetransmissions; 0 = none). */
  synRetries?: number;
  failOnIcmp?: boolean;
  nodelay?: boolean;
  /** Aborting cancels the connect IRP (IoCancelIrp): the promise rejects with STATUS_CANCELLED. */
  signal?: AbortSignal;
}

/** Runs one WSK call with a fresh IRP; resolves with Information or rejects with NtStatusError. */
async function wskCall<T>(what: string, call: (irp: Irp) => NtStatus, onIrp?: (irp: Irp) => void): Promise<T> {
  const irp = IoAllocateIrp();
  const done = irpToPromise<T>(irp);
  onIrp?.(irp);
  call(irp);
  const r = await done;
  if (r.status !== STATUS_SUCCESS) throw new NtStatusError(r.status, what);
  return r.information;
}

function remoteSockaddr(text: string): SOCKADDR {
  const p = parseSockaddr(text);
  if (!p.ok) throw new NtStatusError(STATUS_INVALID_PARAMETER, `bad address "${text}": ${p.reason}`);
  return p.value;
}

/**
 * The local SOCKADDR for `opts.local` ("10.0.0.2", "10.0.0.2:5000", "fd00::2", "[fd00::2]:5000"),
 * or the wildcard. A local address of the other family than `remote` is refused, saying so
 * before the address is reformatted for the bind.
 */
function localSockaddr(remote: SOCKADDR, local: string | undefined): SOCKADDR {
  const family = sockaddrFamily(remote);
  if (!local) return family === AF_INET ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0);
  const host = /^\[(.*)\](:\d+)?$/.exec(local)?.[1] ?? (local.includes("::") || local.split(":").length > 2 ? local : local.replace(/:\d+$/, ""));
  const localV6 = host.includes(":");
  if (localV6 !== (family !== AF_INET)) {
    throw new NtStatusError(STATUS_INVALID_PARAMETER, `local address ${local} is ${localV6 ? "IPv6" : "IPv4"} but the remote ${formatSockaddr(remote)} is ${localV6 ? "IPv4" : "IPv6"}: the address families differ`);
  }
  const withPort = /:\d+$/.test(local) && (local.startsWith("[") || !local.includes("::")) ? local : family === AF_INET ? `${local}:0` : `[${local.replace(/^\[|\]$/g, "")}]:0`;
  return remoteSockaddr(withPort);
}

/** What prepareSocket gives the new socket: its context and client dispatch (the WSK event callbacks). */
export interface SocketCallbacks {
  context?: unknown;
  dispatch?: WSK_CLIENT_CONNECTION_DISPATCH;
}

/**
 * WskSocket (connection socket of the remote's family), the options of `opts` through
 * WskControlSocket, then WskBind to `opts.local` or the wildcard: a socket ready for
 * WskConnect. On failure the socket is closed again and the promise rejects with NtStatusError.
 */
export async function prepareSocket(client: WskClient, remote: SOCKADDR, opts: Omit<ApiConnectOptions, "signal"> = {}, cb: SocketCallbacks = {}): Promise<WSK_SOCKET> {
  const family = sockaddrFamily(remote);
  const socket = await wskCall<WSK_SOCKET>("WskSocket", (irp) =>
    client.npi.Dispatch.WskSocket(client.npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, cb.context ?? null, cb.dispatch ?? null, null, null, null, irp),
  );
  const d = socket.Dispatch;
  try {
    const ctl = (type: number, code: number, level: number, input: unknown) =>
      wskCall("WskControlSocket", (irp) => d.WskControlSocket(socket, type as 0, code, level, 0, input, 0, null, null, irp));
    if (opts.profile) await ctl(WskSetOption, SYNACK_SO_PROFILE, SOL_SOCKET, opts.profile);
    if (opts.initialRtoMs !== undefined || opts.synRetries !== undefined) {
      await ctl(WskIoctl, SIO_TCP_INITIAL_RTO, 0, {
        Rtt: opts.initialRtoMs ?? TCP_INITIAL_RTO_UNSPECIFIED_RTT,
        MaxSynRetransmissions:
          opts.synRetries === undefined ? TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS : opts.synRetries === 0 ? TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS : opts.synRetries,
      });
    }
    if (opts.failOnIcmp) await ctl(WskSetOption, TCP_FAIL_CONNECT_ON_ICMP_ERROR, IPPROTO_TCP, 1);
    if (opts.nodelay) await ctl(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1);
    if (cb.dispatch) {
      const mask = (cb.dispatch.WskReceiveEvent ? WSK_EVENT_RECEIVE : 0) | (cb.dispatch.WskDisconnectEvent ? WSK_EVENT_DISCONNECT : 0);
      if (mask !== 0) await ctl(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, { NpiId: null, EventMask: mask });
    }
    await wskCall("WskBind", (irp) => d.WskBind(socket, localSockaddr(remote, opts.local), 0, irp));
    return socket;
  } catch (e) {
    await closeQuietly(socket);
    throw e;
  }
}

async function closeQuietly(socket: WSK_SOCKET): Promise<void> {
  await wskCall("WskCloseSocket", (irp) => socket.Dispatch.WskCloseSocket(socket, irp)).catch(() => undefined);
}

/**
 * Opens a TCP connection through the WSK facade. Rejects with NtStatusError on failure.
 * With `signal`, aborting cancels the connect IRP (IoCancelIrp). One signal may serve any
 * number of connects: it carries one listener while any is pending and none afterwards.
 */
export async function connect(client: WskClient, remote: string, opts: ApiConnectOptions = {}): Promise<WskConnection> {
  const ra = remoteSockaddr(remote);
  const socket = await prepareSocket(client, ra, opts);
  const d = socket.Dispatch;
  let stopWatching: (() => void) | undefined;
  try {
    await wskCall("WskConnect", (irp) => d.WskConnect(socket, ra, 0, irp), (irp) => {
      if (opts.signal) stopWatching = onAbort(opts.signal, () => IoCancelIrp(irp));
    });
    const la: Record<string, unknown> = {};
    await wskCall("WskGetLocalAddress", (irp) => d.WskGetLocalAddress(socket, la, irp));
    return new WskConnection(socket, formatSockaddr(la as unknown as SOCKADDR), formatSockaddr(ra));
  } catch (e) {
    await closeQuietly(socket);
    throw e;
  } finally {
    stopWatching?.();
  }
}

/**
 * A connected socket with a stream-like promise interface (what `connect` resolves with).
 * Named apart from the engine's `Connection` (the TCB, synack/engine).
 */
export class WskConnection implements AsyncIterable<Uint8Array> {
  private closed = false;
  private eof = false;
  constructor(
    readonly socket: WSK_SOCKET,
    readonly local: string,
    readonly remote: string,
  ) {}

  /** Sends data; resolves when the peer has acknowledged it (WskSend semantics). */
  async write(data: Uint8Array | string): Promise<number> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return wskCall<number>("WskSend", (irp) => this.socket.Dispatch.WskSend(this.socket, { Mdl: bytes, Offset: 0, Length: bytes.length }, 0, irp));
  }

  /** Reads what is available (up to `max` bytes); resolves with null at end of stream. */
  async read(max = 65536): Promise<Uint8Array | null> {
    if (this.eof) return null;
    const buf = new Uint8Array(max);
    const n = await wskCall<number>("WskReceive", (irp) => this.socket.Dispatch.WskReceive(this.socket, { Mdl: buf, Offset: 0, Length: max }, 0, irp));
    if (n === 0) {
      this.eof = true;
      return null;
    }
    return buf.subarray(0, n);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** Graceful close of our direction (WskDisconnect); resolves when our FIN is acknowledged. */
  async end(): Promise<void> {
    await wskCall("WskDisconnect", (irp) => this.socket.Dispatch.WskDisconnect(this.socket, null, 0, irp));
  }

  /** Abortive close (RST) and release of the socket. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const d = this.socket.Dispatch;
    const irp = IoAllocateIrp();
    void irpToPromise(irp);
    d.WskDisconnect(this.socket, null, WSK_FLAG_ABORTIVE, irp);
    void this.close();
  }

  /** Releases the socket (WskCloseSocket): pending IRPs complete with STATUS_CANCELLED. */
  async close(): Promise<void> {
    this.closed = true;
    await wskCall("WskCloseSocket", (irp) => this.socket.Dispatch.WskCloseSocket(this.socket, irp)).catch((e) => {
      if (!(e instanceof NtStatusError)) throw e;
    });
  }
}

export { NtStatusError, STATUS_PENDING, WskClient };
