// A `net.Socket`-compatible Duplex on the WSK facade: every byte goes through WskSend and
// WskReceive IRPs, the FIN through WskDisconnect, the RST through WskCloseSocket, and the
// peer's reset or close arrives through WskDisconnectEvent. Node's own clients (http,
// https/tls, undici) take it as their socket. docs/node-api.md lists what is and is not
// supported of net.Socket, and why.
//
// Flow control both ways, as a kernel socket gives it:
// - sending: WskSend completes when the peer has acknowledged the bytes (docs/wsk.md), so
//   the socket counts bytes handed to TCP and not yet acknowledged; up to `sendBufferSize`
//   of them a write completes at once (like a kernel send buffer), beyond it the write's
//   callback waits for acknowledgements, `write()` returns false and `drain` follows.
// - receiving: a WskReceive is outstanding only while the stream wants data (`_read`); when
//   the consumer stops, received bytes stay in the engine's receive buffer, the advertised
//   window shrinks to zero (RFC 9293 §3.8.6) and the sender stops.
//
// IRP completions can run inside the engine (while it processes a packet); the socket
// handles each one in a microtask, so user callbacks never run inside the engine.
//
// Why this file is about 650 lines: it is one class, SynackSocket, and net.Socket's surface is
// wide (connect's three call forms, the address and state getters, setNoDelay/setKeepAlive/
// setTimeout, ref/unref, destroySoon, resetAndDestroy, the abort signal), each written once
// on top of the same few IRP paths (connect, send, receive, disconnect, close) that share
// the socket's state. The first 140 lines are the exported option types and small helpers.
import { Duplex } from "node:stream";
import { isIP, type LookupFunction } from "node:net";
import { lookup as dnsLookup } from "node:dns";
import { IoAllocateIrp, IoCancelIrp, IoSetCompletionRoutine, type Irp } from "../wsk/irp.js";
import { STATUS_MORE_PROCESSING_REQUIRED, STATUS_NETWORK_UNREACHABLE, STATUS_SUCCESS, type NtStatus } from "../wsk/ntstatus.js";
import { SOL_SOCKET, SO_WSK_EVENT_CALLBACK, TCP_NODELAY, WSK_EVENT_DISCONNECT, WSK_FLAG_ABORTIVE, WskSetOption } from "../wsk/constants.js";
import { IPPROTO_TCP, formatSockaddr, sockaddrIn, sockaddrIn6, type SOCKADDR } from "../wsk/sockaddr.js";
import type { WSK_CLIENT_CONNECTION_DISPATCH, WSK_SOCKET } from "../wsk/provider.js";
import { prepareSocket, type ApiConnectOptions } from "../api.js";
import type { WskClient } from "../wsk/client.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { SocketError, SynackUsageError } from "./errors.js";
import { onAbort } from "./abort.js";

/** What a socket needs from the network it lives on (the Network of openStack, or your own). */
export interface SocketHost {
  readonly client: WskClient;
  /** Defaults for every connect (profile, timers); per-connect options override them. */
  readonly defaults?: SynackConnectDefaults;
  /** Called when a socket opens and when it has closed (the Network tracks them for close()). */
  track?(socket: SynackSocket): void;
  untrack?(socket: SynackSocket): void;
  /** Set once the network is closed: new connects fail with ERR_SOCKET_CLOSED. */
  readonly closed?: boolean;
}

/** synack's per-connection knobs (the WSK options of ApiConnectOptions). */
export interface SynackConnectDefaults {
  /** Behaviour profile of the connection (default: the network's, `windows`). */
  profile?: ProfileName;
  /** Initial RTO in ms (SIO_TCP_INITIAL_RTO). */
  initialRtoMs?: number;
  /** SYN retransmissions before the connect times out (0 = one SYN only). */
  synRetries?: number;
  /** TCP_FAIL_CONNECT_ON_ICMP_ERROR: an ICMP unreachable fails the connect at once. */
  failOnIcmp?: boolean;
}

export interface SynackSocketOptions {
  /** Keep the writable side open after the peer's FIN (default false, as in node:net). */
  allowHalfOpen?: boolean;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  /**
   * Bytes handed to TCP and not yet acknowledged before a write waits (the send buffer).
   * Default 256 KiB.
   */
  sendBufferSize?: number;
  /** Bytes asked for per WskReceive (default 64 KiB). */
  receiveChunkSize?: number;
  /** Destroys the socket when aborted (a pending connect is cancelled: IoCancelIrp). */
  signal?: AbortSignal;
}

export interface SynackConnectOptions extends SynackConnectDefaults, SynackSocketOptions {
  port: number;
  /** IP address or host name (resolved with `lookup`, default dns.lookup). Default "localhost". */
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** 4 or 6: the family to resolve `host` to. */
  family?: number;
  /** Idle timeout in ms (setTimeout). */
  timeout?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Resolves `host` when it is not an IP address (default dns.lookup). */
  lookup?: LookupFunction;
}

/**
 * What createConnection/connect take: SynackConnectOptions, loosened the way Node's clients
 * pass options (http and its Agents give `port` as a number or string and may give nulls),
 * so `createConnection` can be handed to `http.request`, an `http.Agent` or tls as it is.
 */
export type ConnectInput = Omit<SynackConnectOptions, "port" | "host"> & {
  port?: number | string | null;
  host?: string | null;
};

/** Called on 'connect' (Node's clients pass their own callback here; it is called without arguments). */
export type ConnectListener = (...args: any[]) => void;

/** net.createConnection's forms: (options[, listener]), (port[, host][, listener]). */
export interface CreateConnection {
  (options: ConnectInput, connectListener?: ConnectListener): SynackSocket;
  (port: number | string, host?: string, connectListener?: ConnectListener): SynackSocket;
  (port: number | string, connectListener?: ConnectListener): SynackSocket;
}

type Done = (status: NtStatus, information: unknown) => void;

/** Runs one WSK call with a fresh IRP; `done` runs in a microtask after completion. */
function wsk(call: (irp: Irp) => NtStatus, done: Done): Irp {
  const irp = IoAllocateIrp();
  IoSetCompletionRoutine(irp, (_dev, i) => {
    const { Status, Information } = i.IoStatus;
    queueMicrotask(() => done(Status, Information));
    return STATUS_MORE_PROCESSING_REQUIRED;
  }, undefined);
  call(irp);
  return irp;
}

const DEFAULT_SEND_BUFFER = 256 * 1024;
const DEFAULT_RECEIVE_CHUNK = 64 * 1024;

function familyName(addr: string | undefined): "IPv4" | "IPv6" | undefined {
  if (addr === undefined) return undefined;
  return addr.includes(":") ? "IPv6" : "IPv4";
}

function splitSockaddr(text: string): { address: string; port: number } {
  const i = text.lastIndexOf(":");
  return { address: text.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(text.slice(i + 1)) };
}

let warnedKeepAlive = false;

/**
 * A TCP connection of a synack stack with the interface of `net.Socket` (a Duplex).
 * Create it with `network.createConnection(...)` / `network.connect(...)`, or construct it
 * unconnected and call `connect(...)`.
 */
export class SynackSocket extends Duplex {
  /** The WSK socket under this stream (undefined before the connect starts and after close). */
  wskSocket: WSK_SOCKET | undefined;
  connecting = false;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: "IPv4" | "IPv6" | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  localFamily: "IPv4" | "IPv6" | undefined;
  bytesRead = 0;
  /** Bytes handed to TCP (sent or queued in the engine's send buffer). */
  private dispatched = 0;
  /** Idle timeout in ms; 0 = none. */
  timeout = 0;

  private readonly host: SocketHost;
  private readonly sendBufferSize: number;
  private readonly receiveChunk: number;
  private connected = false;
  private wantRead = false;
  private receiving = false;
  private readEnded = false;
  /** Bytes handed to WskSend whose IRPs have not completed (not yet acknowledged). */
  private unacked = 0;
  /** A write callback waiting for the send buffer to drain below sendBufferSize. */
  private waitingWrite: (() => void) | undefined;
  /** Writes made while connecting. */
  private pendingWrite: { chunks: Buffer; cb: (err?: Error | null) => void } | undefined;
  private pendingFinal: ((err?: Error | null) => void) | undefined;
  private connectIrp: Irp | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Unregisters this socket from its AbortSignal (abort.ts). */
  private stopWatching: (() => void) | undefined;
  private noDelayWanted: boolean | undefined;
  private tracked = false;
  /** How the connect was asked for (host as given, for errors). */
  private target: { host: string; port: number } | undefined;

  constructor(host: SocketHost, opts: SynackSocketOptions = {}) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? false,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
      // Like net.Socket: 'close' after both sides are done, whether or not an error came.
      emitClose: true,
      autoDestroy: true,
      decodeStrings: true,
    });
    this.host = host;
    this.sendBufferSize = opts.sendBufferSize ?? DEFAULT_SEND_BUFFER;
    this.receiveChunk = opts.receiveChunkSize ?? DEFAULT_RECEIVE_CHUNK;
    if (opts.signal) this.watchSignal(opts.signal);
  }

  /** The WSK event callbacks of every SynackSocket (the socket is the SocketContext). */
  static readonly clientDispatch: WSK_CLIENT_CONNECTION_DISPATCH = {
    WskDisconnectEvent: (context, flags) => {
      const s = context as SynackSocket;
      queueMicrotask(() => s.onDisconnectEvent(flags));
      return STATUS_SUCCESS;
    },
  };

  // ---------------------------------------------------------------------------------------
  // net.Socket surface

  get pending(): boolean {
    return !this.connected;
  }

  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.destroyed || !this.connected) return "closed";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** Bytes sent or queued: handed to TCP plus what waits in the stream's buffer. */
  get bytesWritten(): number {
    return this.dispatched + this.writableLength;
  }

  /** Deprecated in node:net too; the stream's buffered bytes. */
  get bufferSize(): number {
    return this.writableLength;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.localAddress === undefined || this.localPort === undefined) return {};
    return { address: this.localAddress, family: this.localFamily!, port: this.localPort };
  }

  /**
   * Starts the connection (node:net's signatures: options, or port and host, with an
   * optional 'connect' listener). Errors come as 'error' events with Node's codes.
   */
  connect(options: ConnectInput, connectListener?: ConnectListener): this;
  connect(port: number | string, host?: string, connectListener?: ConnectListener): this;
  connect(port: number | string, connectListener?: ConnectListener): this;
  connect(a: ConnectInput | number | string, b?: string | ConnectListener, c?: ConnectListener): this {
    const [opts, listener] = normalizeConnectArgs(a, b, c);
    if (this.connecting || this.connected || this.wskSocket) throw new SynackUsageError("ERR_SOCKET_CONNECTING", "the socket is already connecting or connected");
    if (listener) this.once("connect", listener);
    if (opts.signal) this.watchSignal(opts.signal);
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    if (opts.noDelay !== undefined) this.noDelayWanted = opts.noDelay;
    if (opts.keepAlive) this.setKeepAlive(true, opts.keepAliveInitialDelay);
    this.connecting = true;
    this.track();
    const host = opts.host ?? "localhost";
    this.target = { host, port: opts.port };
    if (this.host.closed) {
      this.fail(new SynackUsageError("ERR_SOCKET_CLOSED", "the synack stack is closed"));
      return this;
    }
    if (isIP(host)) {
      queueMicrotask(() => this.startConnect(host, opts));
      return this;
    }
    const lookup = opts.lookup ?? dnsLookup;
    lookup(host, { family: opts.family, all: false }, (err, address, family) => {
      const addr = typeof address === "string" ? address : address[0]?.address;
      this.emit("lookup", err, addr, family, host);
      if (this.destroyed) return;
      if (err) this.fail(err);
      else this.startConnect(addr, opts);
    });
    return this;
  }

  setNoDelay(noDelay = true): this {
    this.noDelayWanted = noDelay;
    if (this.connected) this.applyNoDelay();
    return this;
  }

  /**
   * Not supported: the engine sends no keep-alive probes (RFC 9293 §3.8.4 makes them
   * optional). The call is accepted so clients that always make it (http.Agent with
   * keepAlive) work, and warns once per process when it asks to turn probes on.
   */
  setKeepAlive(enable = false, _initialDelay?: number): this {
    if (enable && !warnedKeepAlive) {
      warnedKeepAlive = true;
      process.emitWarning("synack sockets send no TCP keep-alive probes; setKeepAlive(true) has no effect (docs/node-api.md)", { code: "SYNACK_NO_KEEPALIVE" });
    }
    return this;
  }

  /** Idle timeout: 'timeout' after `ms` without reads or writes (0 turns it off). Does not close. */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) throw new SynackUsageError("ERR_OUT_OF_RANGE", `the timeout must be a number >= 0, not ${ms}`);
    this.timeout = ms;
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.touch();
    return this;
  }

  /** Sockets do not hold the process open on their own: the stack does until it is closed. */
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  /** Closes with a RST (WskCloseSocket aborts the connection) and destroys the stream. */
  resetAndDestroy(): this {
    if (!this.wskSocket && !this.connecting) return this.destroy(new SynackUsageError("ERR_SOCKET_CLOSED", "the socket is closed"));
    return this.destroy();
  }

  /** Like net.Socket's: end() now, destroy once the writable side has finished. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  // ---------------------------------------------------------------------------------------
  // Used by listeners (passive open): a connected WSK socket accepted with
  // SynackSocket.clientDispatch and this socket as its SocketContext.

  /**
   * Takes over a connected WSK socket (from WskAccept, with this socket as its
   * AcceptSocketContext and SynackSocket.clientDispatch as its dispatch); emits nothing, like
   * a server's socket. The disconnect event is enabled here if the accept did not.
   */
  attachAccepted(socket: WSK_SOCKET, local: SOCKADDR | string, remote: SOCKADDR | string): this {
    this.wskSocket = socket;
    socket.Dispatch.WskControlSocket(socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0, { EventMask: WSK_EVENT_DISCONNECT }, 0, null, null, null);
    this.setEndpoints(typeof local === "string" ? local : formatSockaddr(local), typeof remote === "string" ? remote : formatSockaddr(remote));
    this.track();
    this.onConnected(false);
    return this;
  }

  // ---------------------------------------------------------------------------------------
  // Connecting

  private startConnect(address: string, opts: SynackConnectOptions): void {
    if (this.destroyed) return;
    const v6 = address.includes(":");
    // The stack has no loopback interface, and loopback addresses never leave a host
    // (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3): like connect() on Linux with lo down.
    if (/^127\./.test(address) || address === "::1") {
      this.fail(new SocketError(STATUS_NETWORK_UNREACHABLE, "connect", address, opts.port));
      return;
    }
    const remote = v6 ? sockaddrIn6(address, opts.port) : sockaddrIn(address, opts.port);
    const d = { ...this.host.defaults };
    const wskOpts: Omit<ApiConnectOptions, "signal"> = {
      profile: opts.profile ?? d.profile,
      initialRtoMs: opts.initialRtoMs ?? d.initialRtoMs,
      synRetries: opts.synRetries ?? d.synRetries,
      failOnIcmp: opts.failOnIcmp ?? d.failOnIcmp,
      nodelay: this.noDelayWanted,
    };
    if (opts.localAddress !== undefined || opts.localPort !== undefined) {
      const la = opts.localAddress ?? (v6 ? "::" : "0.0.0.0");
      wskOpts.local = la.includes(":") ? `[${la}]:${opts.localPort ?? 0}` : `${la}:${opts.localPort ?? 0}`;
    }
    this.remoteAddress = address;
    this.remotePort = opts.port;
    this.remoteFamily = v6 ? "IPv6" : "IPv4";
    prepareSocket(this.host.client, remote, wskOpts, { context: this, dispatch: SynackSocket.clientDispatch }).then(
      (socket) => {
        if (this.destroyed) {
          closeWsk(socket);
          return;
        }
        this.wskSocket = socket;
        this.connectIrp = wsk(
          (irp) => socket.Dispatch.WskConnect(socket, remote, 0, irp),
          (status) => {
            this.connectIrp = undefined;
            if (this.destroyed) return;
            if (status !== STATUS_SUCCESS) return this.fail(new SocketError(status, "connect", address, opts.port));
            const la: Record<string, unknown> = {};
            wsk((irp) => socket.Dispatch.WskGetLocalAddress(socket, la, irp), () => {
              if (this.destroyed) return;
              this.setEndpoints(formatSockaddr(la as unknown as SOCKADDR), undefined);
              this.onConnected(true);
            });
          },
        );
      },
      (e: unknown) => {
        const status = (e as { status?: NtStatus }).status;
        this.fail(status !== undefined ? new SocketError(status, "connect", address, opts.port) : (e as Error));
      },
    );
  }

  private setEndpoints(local: string | undefined, remote: string | undefined): void {
    if (local !== undefined) {
      const l = splitSockaddr(local);
      this.localAddress = l.address;
      this.localPort = l.port;
      this.localFamily = familyName(l.address);
    }
    if (remote !== undefined) {
      const r = splitSockaddr(remote);
      this.remoteAddress = r.address;
      this.remotePort = r.port;
      this.remoteFamily = familyName(r.address);
    }
  }

  private onConnected(emitConnect: boolean): void {
    this.connecting = false;
    this.connected = true;
    this.clearSignal();
    if (this.noDelayWanted !== undefined) this.applyNoDelay();
    this.touch();
    if (emitConnect) {
      this.emit("connect");
      this.emit("ready");
    }
    const w = this.pendingWrite;
    this.pendingWrite = undefined;
    if (w) this.sendNow(w.chunks, w.cb);
    const f = this.pendingFinal;
    this.pendingFinal = undefined;
    if (f) this._final(f);
    if (this.wantRead) this.receive();
  }

  private applyNoDelay(): void {
    const s = this.wskSocket;
    if (!s) return;
    s.Dispatch.WskControlSocket(s, WskSetOption, TCP_NODELAY, IPPROTO_TCP, 4, this.noDelayWanted ? 1 : 0, 0, null, null, null);
  }

  // ---------------------------------------------------------------------------------------
  // Reading: one WskReceive at a time, only while the stream wants data.

  override _read(_size: number): void {
    this.wantRead = true;
    if (this.connected) this.receive();
  }

  private receive(): void {
    const s = this.wskSocket;
    if (!s || this.receiving || this.readEnded || this.destroyed) return;
    this.receiving = true;
    const buf = Buffer.allocUnsafe(this.receiveChunk);
    wsk(
      (irp) => s.Dispatch.WskReceive(s, { Mdl: buf, Offset: 0, Length: buf.length }, 0, irp),
      (status, information) => {
        this.receiving = false;
        if (this.destroyed) return;
        if (status !== STATUS_SUCCESS) return this.fail(new SocketError(status, "read", this.remoteAddress, this.remotePort));
        const n = information as number;
        if (n === 0) {
          this.readEnded = true;
          this.push(null);
          return;
        }
        this.bytesRead += n;
        this.touch();
        // A mostly empty buffer is copied so it does not pin a whole chunk.
        const chunk = n < buf.length / 4 ? Buffer.from(buf.subarray(0, n)) : buf.subarray(0, n);
        this.wantRead = this.push(chunk);
        if (this.wantRead) this.receive();
      },
    );
  }

  /** WskDisconnectEvent: the peer closed (flags 0) or the connection was reset/aborted. */
  private onDisconnectEvent(flags: number): void {
    if (this.destroyed || !(flags & WSK_FLAG_ABORTIVE)) return;
    // Abortive: a pending WskReceive has already failed with the reason; without one, ask
    // for it with an empty receive (it completes at once with the connection's end status).
    if (this.receiving) return;
    const s = this.wskSocket;
    if (!s) return;
    wsk(
      (irp) => s.Dispatch.WskReceive(s, { Mdl: Buffer.alloc(0), Offset: 0, Length: 0 }, 0, irp),
      (status) => {
        if (!this.destroyed && status !== STATUS_SUCCESS) this.fail(new SocketError(status, "read", this.remoteAddress, this.remotePort));
      },
    );
  }

  // ---------------------------------------------------------------------------------------
  // Writing: WskSend per batch of writes; the callback waits only when the send buffer is full.

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    this.write1(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.write1(chunk, cb);
  }

  private write1(data: Buffer, cb: (err?: Error | null) => void): void {
    if (!this.connected) this.pendingWrite = { chunks: data, cb };
    else this.sendNow(data, cb);
  }

  private sendNow(data: Buffer, cb: (err?: Error | null) => void): void {
    const s = this.wskSocket;
    if (!s) return cb(new SynackUsageError("ERR_SOCKET_CLOSED", "the socket is closed"));
    if (data.length === 0) return cb();
    this.unacked += data.length;
    this.dispatched += data.length;
    this.touch();
    wsk(
      (irp) => s.Dispatch.WskSend(s, { Mdl: data, Offset: 0, Length: data.length }, 0, irp),
      (status) => {
        this.unacked -= data.length;
        if (this.destroyed) return;
        if (status !== STATUS_SUCCESS) {
          this.fail(new SocketError(status, "write", this.remoteAddress, this.remotePort));
          return;
        }
        this.touch();
        if (this.waitingWrite && this.unacked < this.sendBufferSize) {
          const w = this.waitingWrite;
          this.waitingWrite = undefined;
          w();
        }
      },
    );
    // The engine copied the bytes; below the send buffer size the write is done now.
    if (this.unacked < this.sendBufferSize) cb();
    else this.waitingWrite = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.connected) {
      this.pendingFinal = cb;
      return;
    }
    const s = this.wskSocket;
    if (!s) return cb();
    // WskDisconnect: our FIN after the queued data; completes when the FIN is acknowledged.
    wsk(
      (irp) => s.Dispatch.WskDisconnect(s, null, 0, irp),
      (status) => {
        if (this.destroyed) return;
        if (status === STATUS_SUCCESS) cb();
        else cb(new SocketError(status, "shutdown", this.remoteAddress, this.remotePort));
      },
    );
  }

  /** 'close' carries hadError, as net.Socket's does. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === "close" && args.length === 0) return super.emit("close", this.errored !== null);
    return super.emit(event, ...args);
  }

  // ---------------------------------------------------------------------------------------
  // Ending

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearSignal();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.connecting = false;
    const s = this.wskSocket;
    this.wskSocket = undefined;
    // WskCloseSocket: a pending connect is cancelled (SYN-SENT: nothing sent), a live
    // connection is aborted with a RST, every pending IRP completes with STATUS_CANCELLED.
    if (s) closeWsk(s);
    else if (this.connectIrp) IoCancelIrp(this.connectIrp);
    this.connectIrp = undefined;
    const w = this.pendingWrite;
    this.pendingWrite = undefined;
    w?.cb(err ?? new SynackUsageError("ERR_SOCKET_CLOSED", "the socket was destroyed"));
    this.untrack();
    cb(err);
  }

  private fail(err: Error): void {
    if (!this.destroyed) this.destroy(err);
  }

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.timeout > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.emit("timeout");
      }, this.timeout);
      this.idleTimer.unref();
    }
  }

  private watchSignal(signal: AbortSignal): void {
    this.clearSignal();
    this.stopWatching = onAbort(signal, () => this.fail(abortError(signal)));
  }

  private clearSignal(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
  }

  private track(): void {
    if (this.tracked) return;
    this.tracked = true;
    this.host.track?.(this);
  }

  private untrack(): void {
    if (!this.tracked) return;
    this.tracked = false;
    this.host.untrack?.(this);
  }
}

function closeWsk(s: WSK_SOCKET): void {
  wsk((irp) => s.Dispatch.WskCloseSocket(s, irp), () => undefined);
}

function abortError(signal: AbortSignal): Error {
  const e = new Error("The operation was aborted", { cause: signal.reason }) as Error & { code: string };
  e.name = "AbortError";
  e.code = "ABORT_ERR";
  return e;
}

/** net.connect's argument forms: (options[, listener]), (port[, host][, listener]). */
export function normalizeConnectArgs(a: ConnectInput | number | string, b?: string | ConnectListener, c?: ConnectListener): [SynackConnectOptions, ConnectListener | undefined] {
  let input: ConnectInput;
  let listener: ConnectListener | undefined;
  if (typeof a === "object" && a !== null) {
    input = a;
    listener = typeof b === "function" ? b : undefined;
  } else {
    input = { port: a };
    if (typeof b === "string") {
      input.host = b;
      listener = c;
    } else listener = b;
  }
  const port = typeof input.port === "string" && /^\d+$/.test(input.port) ? Number(input.port) : input.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) throw new SynackUsageError("ERR_SOCKET_BAD_PORT", `Port should be > 0 and < 65536. Received ${String(input.port)}.`);
  const { host, ...rest } = input;
  return [{ ...rest, port, ...(host != null ? { host } : {}) }, listener];
}
