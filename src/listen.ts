// The promise API's passive open (docs/wsk.md, "The promise API"): listen(client, port)
// opens a listening socket through the WSK facade and hands out the same WskConnection objects
// connect() does. Every operation is a WSK call with an IRP (WskSocket, WskControlSocket,
// WskBind, WskAccept, WskCloseSocket) or the WskAcceptEvent callback; every failure is an
// NtStatusError.
import { callWithIrp, type Irp } from "./wsk/irp.js";
import { NtStatusError, STATUS_CANCELLED, STATUS_FILE_FORCED_CLOSED, STATUS_INVALID_PARAMETER, STATUS_REQUEST_NOT_ACCEPTED, STATUS_SUCCESS, type NtStatus } from "./wsk/ntstatus.js";
import { SYNACK_SO_BACKLOG, SYNACK_SO_PROFILE, type WSK_SOCKET } from "./wsk/provider.js";
import type { WskClient } from "./wsk/client.js";
import type { WSK_CLIENT_LISTEN_DISPATCH, WSK_PROVIDER_LISTEN_DISPATCH } from "./wsk/provider.js";
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, formatSockaddr, parseIpAddress, sockaddrIn, sockaddrIn6, type SOCKADDR } from "./wsk/sockaddr.js";
import { SOL_SOCKET, SO_WSK_EVENT_CALLBACK, WSK_EVENT_ACCEPT, WSK_FLAG_LISTEN_SOCKET, WskGetOption, WskSetOption } from "./wsk/constants.js";
import { WskConnection } from "./api.js";
import type { ProfileName } from "../stack/tcp/profiles.js";

export interface ApiListenOptions {
  /** Local address to listen on: "0.0.0.0" (default), "::", or one address of the stack. */
  host?: string;
  /** Behaviour profile of the accepted connections (default: the provider's). */
  profile?: ProfileName;
  /** Connections established but not accepted that the socket holds (SYNACK_SO_BACKLOG). */
  backlog?: number;
  /**
   * Receives each connection as the handshake completes, through WskAcceptEvent, with no
   * queue in between (what a server wants). Without it, take connections with accept() or
   * `for await`.
   */
  onConnection?: (conn: WskConnection) => void;
}

async function call<T>(what: string, fn: (irp: Irp) => NtStatus): Promise<T> {
  const r = await callWithIrp<T>(fn);
  if (r.status !== STATUS_SUCCESS) throw new NtStatusError(r.status, what);
  return r.information;
}

/** Listens on `port` (0: an ephemeral port, see `listener.port`). Rejects with NtStatusError. */
export async function listen(client: WskClient, port: number, opts: ApiListenOptions = {}): Promise<Listener> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new NtStatusError(STATUS_INVALID_PARAMETER, `bad port ${port}`);
  const host = opts.host ?? "0.0.0.0";
  const ip = parseIpAddress(host.replace(/^\[|\]$/g, ""));
  if (!ip.ok) throw new NtStatusError(STATUS_INVALID_PARAMETER, `bad address "${host}": ${ip.reason}`);
  const family = ip.value.family;
  let listener: Listener | undefined;
  const dispatch: WSK_CLIENT_LISTEN_DISPATCH = {
    WskAcceptEvent: (_ctx, _flags, local, remote, sock) => {
      if (!sock || !listener?.onConnection) return STATUS_REQUEST_NOT_ACCEPTED;
      listener.onConnection(new WskConnection(sock, formatSockaddr(local), formatSockaddr(remote)));
      return STATUS_SUCCESS;
    },
  };
  const socket = await call<WSK_SOCKET>("WskSocket", (irp) =>
    client.npi.Dispatch.WskSocket(client.npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, null, dispatch, null, null, null, irp),
  );
  const d = socket.Dispatch as unknown as WSK_PROVIDER_LISTEN_DISPATCH;
  const ctl = (code: number, level: number, input: unknown) => call("WskControlSocket", (irp) => d.WskControlSocket(socket, WskSetOption, code, level, 0, input, 0, null, null, irp));
  try {
    if (opts.profile) await ctl(SYNACK_SO_PROFILE, SOL_SOCKET, opts.profile);
    if (opts.backlog !== undefined) await ctl(SYNACK_SO_BACKLOG, SOL_SOCKET, opts.backlog);
    const local: SOCKADDR = family === AF_INET ? sockaddrIn(ip.value.addr, port) : sockaddrIn6(ip.value.addr, port);
    await call("WskBind", (irp) => d.WskBind(socket, local, 0, irp));
    const la: Record<string, unknown> = {};
    await call("WskGetLocalAddress", (irp) => d.WskGetLocalAddress(socket, la, irp));
    listener = new Listener(socket, formatSockaddr(la as unknown as SOCKADDR), opts.onConnection);
    if (opts.onConnection) await ctl(SO_WSK_EVENT_CALLBACK, SOL_SOCKET, { EventMask: WSK_EVENT_ACCEPT });
    return listener;
  } catch (e) {
    await call("WskCloseSocket", (irp) => d.WskCloseSocket(socket, irp)).catch(() => undefined);
    throw e;
  }
}

/** A listening socket with a promise interface. */
export class Listener implements AsyncIterable<WskConnection> {
  private closed = false;
  /** The port listened on (useful after listen(client, 0)). */
  readonly port: number;

  constructor(
    readonly socket: WSK_SOCKET,
    /** "0.0.0.0:8080" or "[::]:8080". */
    readonly local: string,
    readonly onConnection?: (conn: WskConnection) => void,
  ) {
    this.port = Number(local.slice(local.lastIndexOf(":") + 1));
  }

  private get dispatch(): WSK_PROVIDER_LISTEN_DISPATCH {
    return this.socket.Dispatch as unknown as WSK_PROVIDER_LISTEN_DISPATCH;
  }

  /** The next connection (WskAccept): at once if one is waiting, else when one arrives. */
  async accept(): Promise<WskConnection> {
    const local: Record<string, unknown> = {};
    const remote: Record<string, unknown> = {};
    const sock = await call<WSK_SOCKET>("WskAccept", (irp) => this.dispatch.WskAccept(this.socket, 0, null, null, local, remote, irp));
    return new WskConnection(sock, formatSockaddr(local as unknown as SOCKADDR), formatSockaddr(remote as unknown as SOCKADDR));
  }

  /** Accepts until close(). */
  async *[Symbol.asyncIterator](): AsyncIterator<WskConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.closed && e instanceof NtStatusError && (e.status === STATUS_CANCELLED || e.status === STATUS_FILE_FORCED_CLOSED)) return;
        throw e;
      }
    }
  }

  /** The accept queue's size (SYNACK_SO_BACKLOG). */
  async backlog(): Promise<number> {
    const out: { value?: unknown } = {};
    await call("WskControlSocket", (irp) => this.dispatch.WskControlSocket(this.socket, WskGetOption, SYNACK_SO_BACKLOG, SOL_SOCKET, 0, null, 4, out, null, irp));
    return Number(out.value);
  }

  /**
   * Stops listening (WskCloseSocket): pending accepts reject with STATUS_CANCELLED,
   * connections not yet accepted are reset; accepted connections live on.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await call("WskCloseSocket", (irp) => this.dispatch.WskCloseSocket(this.socket, irp)).catch((e) => {
      if (!(e instanceof NtStatusError)) throw e;
    });
  }
}

