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
import { SYNACK_SO_PROFILE, type WSK_SOCKET } from "./wsk/provider.js";
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
  WSK_FLAG_ABORTIVE,
  WSK_FLAG_CONNECTION_SOCKET,
  WskIoctl,
  WskSetOption,
} from "./wsk/constants.js";
import type { ProfileName } from "../stack/tcp/profiles.js";

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

/** Opens a TCP connection through the WSK facade. Rejects with NtStatusError on failure. */
export async function connect(client: WskClient, remote: string, opts: ApiConnectOptions = {}): Promise<Connection> {
  const ra = remoteSockaddr(remote);
  const family = sockaddrFamily(ra);
  const socket = await wskCall<WSK_SOCKET>("WskSocket", (irp) =>
    client.npi.Dispatch.WskSocket(client.npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null, null, null, null, irp),
  );
  const d = socket.Dispatch;
  const closeQuietly = async () => {
    await wskCall("WskCloseSocket", (irp) => d.WskCloseSocket(socket, irp)).catch(() => undefined);
  };
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
    let local: SOCKADDR = family === AF_INET ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0);
    if (opts.local) {
      // Say so when the families differ, before the address is reformatted for the bind.
      const host = /^\[(.*)\](:\d+)?$/.exec(opts.local)?.[1] ?? (opts.local.includes("::") || opts.local.split(":").length > 2 ? opts.local : opts.local.replace(/:\d+$/, ""));
      const localV6 = host.includes(":");
      if (localV6 !== (family !== AF_INET)) {
        throw new NtStatusError(STATUS_INVALID_PARAMETER, `local address ${opts.local} is ${localV6 ? "IPv6" : "IPv4"} but the remote ${remote} is ${localV6 ? "IPv4" : "IPv6"}: the address families differ`);
      }
      const withPort = /:\d+$/.test(opts.local) && (opts.local.startsWith("[") || !opts.local.includes("::")) ? opts.local : family === AF_INET ? `${opts.local}:0` : `[${opts.local.replace(/^\[|\]$/g, "")}]:0`;
      local = remoteSockaddr(withPort);
    }
    await wskCall("WskBind", (irp) => d.WskBind(socket, local, 0, irp));
    await wskCall("WskConnect", (irp) => d.WskConnect(socket, ra, 0, irp), (irp) => {
      if (!opts.signal) return;
      if (opts.signal.aborted) queueMicrotask(() => IoCancelIrp(irp));
      else opts.signal.addEventListener("abort", () => IoCancelIrp(irp), { once: true });
    });
    const la: Record<string, unknown> = {};
    await wskCall("WskGetLocalAddress", (irp) => d.WskGetLocalAddress(socket, la, irp));
    return new Connection(socket, formatSockaddr(la as unknown as SOCKADDR), formatSockaddr(ra));
  } catch (e) {
    await closeQuietly();
    throw e;
  }
}

/** A connected socket with a stream-like promise interface. */
export class Connection implements AsyncIterable<Uint8Array> {
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
