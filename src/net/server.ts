// A `net.Server`-shaped server on a synack network: `network.createServer(handler)` and
// `server.listen(port)` open WSK listening sockets (one per address family, as a dual-stack
// Node server listens on both) and hand every accepted connection to the handler as a
// SynackSocket, the same net.Socket-compatible Duplex `createConnection` gives. Node's own
// servers take it: `http.createServer(app)` serves over synack with
// `server.on("connection", (s) => httpServer.emit("connection", s))`.
//
// Each listening socket keeps one WskAccept in flight (the facade queues connections up to
// the backlog meanwhile, docs/wsk.md "Backlog"); a completed accept becomes a SynackSocket
// (`attachAccepted`) and a 'connection' event, then the next WskAccept goes out.
// `close()` is WskCloseSocket on the listening sockets: the pending accept completes with
// STATUS_CANCELLED, connections not yet accepted are reset, accepted ones live on; 'close'
// comes once they have all closed, as in node:net.
import { EventEmitter } from "node:events";
import { isIP, type AddressInfo } from "node:net";
import { IoAllocateIrp, irpToPromise, type Irp } from "../wsk/irp.js";
import { STATUS_CANCELLED, STATUS_INVALID_PARAMETER, STATUS_SUCCESS, type NtStatus } from "../wsk/ntstatus.js";
import { SOL_SOCKET, WSK_FLAG_LISTEN_SOCKET, WskSetOption } from "../wsk/constants.js";
import { AF_INET, AF_INET6, IPPROTO_TCP, SOCK_STREAM, formatSockaddr, sockaddrIn, sockaddrIn6, type SOCKADDR } from "../wsk/sockaddr.js";
import { SYNACK_SO_BACKLOG, SYNACK_SO_PROFILE } from "../wsk/socket-options.js";
import type { WSK_PROVIDER_LISTEN_DISPATCH } from "../wsk/provider.js";
import type { WSK_SOCKET } from "../wsk/provider.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { SocketError, SynackUsageError } from "./errors.js";
import { SynackSocket, type SocketHost } from "./socket.js";

export interface SynackServerOptions {
  /** Accepted sockets keep their writable side open after the peer's FIN (default false, as in node:net). */
  allowHalfOpen?: boolean;
  /** TCP_NODELAY on every accepted socket (default false). */
  noDelay?: boolean;
  /** Behaviour profile of the accepted connections (default: the network's). */
  profile?: ProfileName;
}

export interface SynackListenOptions {
  port?: number;
  /** An address of the stack, or "0.0.0.0" / "::" (one family). Default: every address of both families. */
  host?: string;
  /** Connections established and not yet accepted that each listening socket holds (default: the profile's). */
  backlog?: number;
}

/** What a server needs from its network: a SocketHost whose stack addresses it can list. */
export interface ServerHost extends SocketHost {
  readonly addresses: readonly string[];
}

type ConnectionHandler = (socket: SynackSocket) => void;

/** Runs one WSK call; resolves with its completion. */
async function call<T = unknown>(f: (irp: Irp) => NtStatus): Promise<{ status: NtStatus; information: T }> {
  const irp = IoAllocateIrp();
  const done = irpToPromise<T>(irp);
  f(irp);
  const r = await done;
  return { status: r.status >>> 0, information: r.information };
}

/**
 * A TCP server on a synack network with the interface of `net.Server`: 'listening',
 * 'connection' (a SynackSocket), 'close', 'error'; listen(), address(), close(),
 * getConnections(). Create it with `network.createServer(...)`.
 */
export class SynackServer extends EventEmitter {
  listening = false;
  private readonly opts: SynackServerOptions;
  private readonly wskListeners: WSK_SOCKET[] = [];
  private readonly connections = new Set<SynackSocket>();
  private bound: AddressInfo | undefined;
  private closing = false;
  private starting = false;

  constructor(
    private readonly host: ServerHost,
    opts: SynackServerOptions = {},
    handler?: ConnectionHandler,
  ) {
    super();
    this.opts = opts;
    if (handler) this.on("connection", handler);
  }

  /**
   * listen(port[, host][, backlog][, callback]), listen(options[, callback]),
   * listen([callback]). Port 0 (or none) picks an ephemeral port; without a host the server
   * listens on every address of both families, like Node's dual-stack default.
   */
  listen(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === "function" ? (args.pop() as () => void) : undefined;
    let o: SynackListenOptions;
    if (args.length > 0 && args[0] !== null && typeof args[0] === "object") o = args[0] as SynackListenOptions;
    else {
      const [port, host, backlog] = args;
      o = { port: port === undefined || port === null ? 0 : Number(port), host: typeof host === "string" ? host : undefined, backlog: typeof host === "number" ? host : typeof backlog === "number" ? backlog : undefined };
    }
    const port = o.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SynackUsageError("ERR_SOCKET_BAD_PORT", `listen: port should be >= 0 and < 65536, received ${String(o.port)}`);
    if (o.host !== undefined && isIP(o.host) === 0) throw new SynackUsageError("ERR_INVALID_ARG_VALUE", `listen: host must be an IP address of the stack (no name resolution), received "${o.host}"`);
    if (this.listening || this.starting) throw new SynackUsageError("ERR_SERVER_ALREADY_LISTEN", "listen: the server is already listening; close() it first");
    if (this.host.closed) throw new SynackUsageError("ERR_SOCKET_CLOSED", "listen: the network is closed");
    if (cb) this.once("listening", cb);
    this.starting = true;
    this.closing = false;
    this.closeEmitted = false;
    void this.start(port, o.host, o.backlog);
    return this;
  }

  private async start(port: number, host: string | undefined, backlog: number | undefined): Promise<void> {
    // Which (family, address) pairs: the host's family only, or every family the stack has.
    const families = host !== undefined ? [host.includes(":") ? 6 : 4] : [...new Set(this.host.addresses.map((a) => (a.includes(":") ? 6 : 4)))].sort();
    const at = (v: number) => (host !== undefined ? host : v === 6 ? "::" : "0.0.0.0");
    try {
      for (const v of families) {
        const s = await this.openListener(v === 6 ? AF_INET6 : AF_INET, at(v), port, backlog);
        this.wskListeners.push(s);
        if (port === 0) port = this.localPort(s);
      }
    } catch (e) {
      for (const s of this.wskListeners.splice(0)) await call((irp) => s.Dispatch.WskCloseSocket(s, irp));
      this.starting = false;
      this.emit("error", e);
      return;
    }
    this.starting = false;
    if (this.closing) {
      // close() came while starting.
      void this.stop();
      return;
    }
    const v6 = families.includes(6);
    this.bound = { address: host ?? (v6 ? "::" : "0.0.0.0"), family: (host ?? (v6 ? "::" : "")).includes(":") ? "IPv6" : "IPv4", port };
    this.listening = true;
    for (const s of this.wskListeners) this.acceptLoop(s);
    this.emit("listening");
  }

  private async openListener(family: number, addr: string, port: number, backlog: number | undefined): Promise<WSK_SOCKET> {
    const npi = this.host.client.npi;
    const r = await call<WSK_SOCKET>((irp) => npi.Dispatch.WskSocket(npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, this, null, null, null, null, irp));
    if (r.status !== STATUS_SUCCESS) throw new SocketError(r.status, "listen", addr, port);
    const s = r.information;
    const fail = async (status: NtStatus): Promise<never> => {
      await call((irp) => s.Dispatch.WskCloseSocket(s, irp));
      throw new SocketError(status, "listen", addr, port);
    };
    const profile = this.opts.profile ?? this.host.defaults?.profile;
    if (profile !== undefined) {
      const p = await call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_PROFILE, SOL_SOCKET, 0, profile, 0, null, null, irp));
      if (p.status !== STATUS_SUCCESS) await fail(p.status);
    }
    if (backlog !== undefined) {
      if (!Number.isInteger(backlog) || backlog < 0) await fail(STATUS_INVALID_PARAMETER);
      const b = await call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_BACKLOG, SOL_SOCKET, 4, backlog, 0, null, null, irp));
      if (b.status !== STATUS_SUCCESS) await fail(b.status);
    }
    const local = family === AF_INET6 ? sockaddrIn6(addr, port) : sockaddrIn(addr, port);
    const bound = await call((irp) => s.Dispatch.WskBind(s, local, 0, irp));
    if (bound.status !== STATUS_SUCCESS) await fail(bound.status);
    return s;
  }

  private localPort(s: WSK_SOCKET): number {
    const out: Record<string, unknown> = {};
    const d = s.Dispatch as unknown as WSK_PROVIDER_LISTEN_DISPATCH;
    d.WskGetLocalAddress(s, out, IoAllocateIrp());
    const text = formatSockaddr(out as unknown as SOCKADDR);
    return Number(text.slice(text.lastIndexOf(":") + 1));
  }

  /** One WskAccept at a time on `s`, each completed accept a 'connection'. */
  private acceptLoop(s: WSK_SOCKET): void {
    const d = s.Dispatch as unknown as WSK_PROVIDER_LISTEN_DISPATCH;
    const sock = new SynackSocket(this.host, { allowHalfOpen: this.opts.allowHalfOpen });
    const local: Record<string, unknown> = {};
    const remote: Record<string, unknown> = {};
    void call<WSK_SOCKET>((irp) => d.WskAccept(s, 0, sock, SynackSocket.clientDispatch, local, remote, irp)).then((r) => {
      if (r.status !== STATUS_SUCCESS) {
        // Closed (STATUS_CANCELLED) or the network went away: this listener is done.
        this.listenerDone(s, r.status);
        return;
      }
      sock.attachAccepted(r.information, local as unknown as SOCKADDR, remote as unknown as SOCKADDR);
      if (this.opts.noDelay) sock.setNoDelay(true);
      this.connections.add(sock);
      sock.once("close", () => {
        this.connections.delete(sock);
        this.maybeClosed();
      });
      this.emit("connection", sock);
      if (this.wskListeners.includes(s)) this.acceptLoop(s);
    });
  }

  private listenerDone(s: WSK_SOCKET, status: NtStatus): void {
    const i = this.wskListeners.indexOf(s);
    if (i < 0) return;
    this.wskListeners.splice(i, 1);
    if (!this.closing && status !== STATUS_CANCELLED) this.emit("error", new SocketError(status, "accept", this.bound?.address, this.bound?.port));
    if (this.wskListeners.length === 0 && this.listening) {
      // The network closed under the server (its sockets were closed for it), or accepting failed.
      this.listening = false;
      this.closing = true;
      this.maybeClosed();
    }
  }

  /** The bound address: { address, family, port } ("::" for a dual-stack server), null when not listening. */
  address(): AddressInfo | null {
    return this.listening && this.bound ? { ...this.bound } : null;
  }

  /**
   * Stops accepting (WskCloseSocket on the listening sockets: connections not yet accepted
   * are reset). 'close' follows once every accepted connection has closed; `cb` gets
   * ERR_SERVER_NOT_RUNNING when the server was not listening.
   */
  close(cb?: (err?: Error) => void): this {
    if (!this.listening && !this.starting) {
      const err = Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" });
      if (cb) queueMicrotask(() => cb(err));
      return this;
    }
    if (cb) this.once("close", cb);
    this.closing = true;
    if (!this.starting) void this.stop();
    return this;
  }

  private async stop(): Promise<void> {
    this.listening = false;
    const ls = this.wskListeners.splice(0);
    for (const s of ls) await call((irp) => s.Dispatch.WskCloseSocket(s, irp));
    this.maybeClosed();
  }

  private closeEmitted = false;
  private maybeClosed(): void {
    if (!this.closing || this.listening || this.wskListeners.length > 0 || this.connections.size > 0 || this.closeEmitted) return;
    this.closeEmitted = true;
    queueMicrotask(() => this.emit("close"));
  }

  /** The number of accepted connections still open (node:net's getConnections). */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.connections.size;
    queueMicrotask(() => cb(null, n));
    return this;
  }

  /** The network keeps the process alive while it is open; nothing to do here (docs/node-api.md). */
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
