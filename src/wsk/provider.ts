// The WSK provider: registration, provider dispatch and the dispatch tables of connection,
// listening and stream sockets (docs/wsk.md; Microsoft Learn, "Winsock Kernel" DDI pages) on
// top of one engine Stack. Every call takes its IRP last, returns STATUS_PENDING or the
// status it completed the IRP with, and completes each IRP exactly once. The engine speaks
// outcomes; `outcomeToStatus` is the only translation.
//
// Why this file is about 1 000 lines: it is the dispatch itself, every routine of the
// WSK_PROVIDER_*_DISPATCH tables as a method of one class over one private socket state
// (SocketImpl), and the engine's connection events that complete their IRPs. What stands
// on its own lives beside it: listen.ts (passive opens), socket-options.ts
// (WskControlSocket's options), irp.ts, ntstatus.ts, sockaddr.ts, client.ts. Splitting the
// routines further would export the socket state to every part.
import { Connection } from "../../stack/tcp/connection.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import { resolveProfile, type Profile, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import type { ConnectError, PortBinding, Stack } from "../../stack/stack.js";
import {
  SOL_SOCKET,
  SO_CONDITIONAL_ACCEPT,
  WSK_EVENT_DISCONNECT,
  WSK_EVENT_RECEIVE,
  WSK_FLAG_ABORTIVE,
  WSK_FLAG_CONNECTION_SOCKET,
  WSK_FLAG_DRAIN,
  WSK_FLAG_LISTEN_SOCKET,
  WSK_FLAG_NODELAY,
  WSK_FLAG_STREAM_SOCKET,
  WSK_FLAG_WAITALL,
  type WSK_CONTROL_SOCKET_TYPE,
  type WSK_INSPECT_ACTION,
  type WSK_INSPECT_ID,
} from "./constants.js";
import { defaultBacklog, ListenSide, type ListenHost, type ListenOwner } from "./listen.js";
import { controlSocketOption, type OptionHost } from "./socket-options.js";
import { IoAllocateIrp, beginIrp, completeAtOnce, completeCancelled, completePending, pendIrp, type Irp } from "./irp.js";
import {
  STATUS_ADDRESS_ALREADY_ASSOCIATED,
  STATUS_CANCELLED,
  STATUS_CONNECTION_ABORTED,
  STATUS_CONNECTION_ACTIVE,
  STATUS_DATA_NOT_ACCEPTED,
  STATUS_FILE_FORCED_CLOSED,
  STATUS_INVALID_ADDRESS_COMPONENT,
  STATUS_INVALID_DEVICE_STATE,
  STATUS_INVALID_PARAMETER,
  STATUS_NOT_SUPPORTED,
  STATUS_PENDING,
  STATUS_SUCCESS,
  STATUS_TOO_MANY_ADDRESSES,
  STATUS_DEVICE_NOT_READY,
  outcomeToStatus,
  type NtStatus,
} from "./ntstatus.js";
import { AF_INET, AF_INET6, IPPROTO_TCP, SOCK_STREAM, sockaddrAddress, sockaddrFamily, sockaddrIn, sockaddrIn6, type AddressFamily, type SOCKADDR } from "./sockaddr.js";

const makeSockaddr = (family: AddressFamily, addr: string, port: number): SOCKADDR => (family === AF_INET ? sockaddrIn(addr, port) : sockaddrIn6(addr, port));

// ---------------------------------------------------------------------------------------
// Structures

/** WSK_BUF: the MDL chain is a byte array here; Offset/Length select the part used. */
export interface WSK_BUF {
  Mdl: Uint8Array;
  Offset: number;
  Length: number;
}

/** One WSK_DATA_INDICATION of a WskReceiveEvent (a single-buffer chain). */
export interface WSK_DATA_INDICATION {
  Next: WSK_DATA_INDICATION | null;
  Buffer: WSK_BUF;
}

/** WSK_CLIENT_CONNECTION_DISPATCH: the client's event callbacks. */
export interface WSK_CLIENT_CONNECTION_DISPATCH {
  WskReceiveEvent?: (SocketContext: unknown, Flags: number, DataIndication: WSK_DATA_INDICATION | null, BytesIndicated: number, BytesAccepted: { value: number }) => NtStatus;
  WskDisconnectEvent?: (SocketContext: unknown, Flags: number) => NtStatus;
  WskSendBacklogEvent?: (SocketContext: unknown, IdealBacklogSize: number) => NtStatus;
}

export interface WSK_CLIENT_DISPATCH {
  Version: number;
  Reserved?: number;
  WskClientEvent?: unknown;
}

export interface WSK_CLIENT_NPI {
  ClientContext: unknown;
  Dispatch: WSK_CLIENT_DISPATCH;
}

export const MAKE_WSK_VERSION = (major: number, minor: number): number => ((major << 8) | minor) & 0xffff;
export const WSK_MAJOR_VERSION = (v: number): number => (v >> 8) & 0xff;

/** Opaque to the client; filled by WskRegister. */
export class WSK_REGISTRATION {
  /** @internal */ _client: WSK_CLIENT_NPI | undefined;
  /** @internal */ _captures = 0;
  /** @internal */ _deregistered = false;
}

/** The WSK_CLIENT handle handed back in WSK_PROVIDER_NPI.Client. */
export interface WSK_CLIENT {
  readonly registration: WSK_REGISTRATION;
}

export interface WSK_PROVIDER_DISPATCH {
  Version: number;
  Reserved: number;
  WskSocket: WskProvider["WskSocket"];
  WskSocketConnect: WskProvider["WskSocketConnect"];
  WskControlClient: WskProvider["WskControlClient"];
}

export interface WSK_PROVIDER_NPI {
  Client: WSK_CLIENT;
  Dispatch: WSK_PROVIDER_DISPATCH;
}

/** WSK_PROVIDER_CONNECTION_DISPATCH, in the order of wsk.h (Microsoft Learn, WSK_PROVIDER_CONNECTION_DISPATCH). */
export interface WSK_PROVIDER_CONNECTION_DISPATCH {
  WskControlSocket: WskProvider["WskControlSocket"];
  WskCloseSocket: WskProvider["WskCloseSocket"];
  WskBind: WskProvider["WskBind"];
  WskConnect: WskProvider["WskConnect"];
  WskGetLocalAddress: WskProvider["WskGetLocalAddress"];
  WskGetRemoteAddress: WskProvider["WskGetRemoteAddress"];
  WskSend: WskProvider["WskSend"];
  WskReceive: WskProvider["WskReceive"];
  WskDisconnect: WskProvider["WskDisconnect"];
  WskRelease: WskProvider["WskRelease"];
}

/**
 * The socket object (PWSK_SOCKET). `Dispatch` is the table of its category: connection
 * sockets (and sockets a listener accepted) get WSK_PROVIDER_CONNECTION_DISPATCH, stream
 * sockets WSK_PROVIDER_STREAM_DISPATCH, listening sockets WSK_PROVIDER_LISTEN_DISPATCH
 * (cast `Dispatch` to the table of the category the socket was created with, as in C).
 */
export interface WSK_SOCKET {
  readonly Dispatch: WSK_PROVIDER_CONNECTION_DISPATCH;
}

// Listening and stream sockets (wsk.h)

/** PFN_WSK_ACCEPT_EVENT; the two out parameters are `{ value }` boxes. */
export type PFN_WSK_ACCEPT_EVENT = (
  SocketContext: unknown,
  Flags: number,
  LocalAddress: SOCKADDR,
  RemoteAddress: SOCKADDR,
  AcceptSocket: WSK_SOCKET | null,
  AcceptSocketContext: { value?: unknown },
  AcceptSocketDispatch: { value?: WSK_CLIENT_CONNECTION_DISPATCH | null },
) => NtStatus;

/** WSK_CLIENT_LISTEN_DISPATCH: the callbacks of a listening socket. */
export interface WSK_CLIENT_LISTEN_DISPATCH {
  WskAcceptEvent?: PFN_WSK_ACCEPT_EVENT;
  WskInspectEvent?: (SocketContext: unknown, LocalAddress: SOCKADDR, RemoteAddress: SOCKADDR, InspectID: WSK_INSPECT_ID | null) => WSK_INSPECT_ACTION;
  WskAbortEvent?: (SocketContext: unknown, InspectID: WSK_INSPECT_ID) => NtStatus;
}

/** WSK_CLIENT_STREAM_DISPATCH: a stream socket's callbacks (listening and connection ones). */
export interface WSK_CLIENT_STREAM_DISPATCH extends WSK_CLIENT_LISTEN_DISPATCH, WSK_CLIENT_CONNECTION_DISPATCH {}

/** WSK_PROVIDER_LISTEN_DISPATCH (wsk.h order: Basic, WskBind, WskAccept, WskInspectComplete, WskGetLocalAddress). */
export interface WSK_PROVIDER_LISTEN_DISPATCH {
  WskControlSocket: WskProvider["WskControlSocket"];
  WskCloseSocket: WskProvider["WskCloseSocket"];
  WskBind: WskProvider["WskBind"];
  WskAccept: WskProvider["WskAccept"];
  WskInspectComplete: WskProvider["WskInspectComplete"];
  WskGetLocalAddress: WskProvider["WskGetLocalAddress"];
}

/** WSK_PROVIDER_STREAM_DISPATCH (wsk.h order; WskConnectEx, WskSendEx, WskReceiveEx are not provided). */
export interface WSK_PROVIDER_STREAM_DISPATCH {
  WskControlSocket: WskProvider["WskControlSocket"];
  WskCloseSocket: WskProvider["WskCloseSocket"];
  WskBind: WskProvider["WskBind"];
  WskAccept: WskProvider["WskAccept"];
  WskConnect: WskProvider["WskConnect"];
  WskListen: WskProvider["WskListen"];
  WskSend: WskProvider["WskSend"];
  WskReceive: WskProvider["WskReceive"];
  WskDisconnect: WskProvider["WskDisconnect"];
  WskRelease: WskProvider["WskRelease"];
  WskGetLocalAddress: WskProvider["WskGetLocalAddress"];
  WskGetRemoteAddress: WskProvider["WskGetRemoteAddress"];
}

type SocketState = "created" | "bound" | "connecting" | "connected" | "disconnecting" | "listening" | "closed";

/** Socket category (WskSocket Flags); "accepted" is a connection socket a listener made. */
type SocketKind = "connection" | "stream" | "listen" | "accepted";

/** Client callbacks of any category, as the provider reads them. */
type ClientDispatch = WSK_CLIENT_CONNECTION_DISPATCH & WSK_CLIENT_LISTEN_DISPATCH;

interface PendingReceive {
  irp: Irp;
  buf: WSK_BUF;
  flags: number;
  filled: number;
}

interface PendingSend {
  irp: Irp;
  length: number;
  /** Completes when the engine's totalAcked reaches this. */
  ackTarget: number;
}

/** Provider-private socket state behind a WSK_SOCKET. */
class SocketImpl implements WSK_SOCKET, ListenOwner<WSK_SOCKET, WSK_CLIENT_CONNECTION_DISPATCH> {
  state: SocketState = "created";
  /** Listening socket, or stream socket after WskListen: what it does with passive opens. */
  listen: ListenSide<WSK_SOCKET, WSK_CLIENT_CONNECTION_DISPATCH> | undefined;
  /** SO_CONDITIONAL_ACCEPT (listening sockets, set before WskBind): SYNs go to WskInspectEvent first. */
  conditionalAccept = false;
  /** Stream socket whose WskConnect succeeded: "committed to a connection-oriented flow" (WskConnect page). */
  committed = false;
  /** Accepted socket: the local address of its connection (kept after the connection ends). */
  acceptedLocal: SOCKADDR | undefined;
  /** SYNACK_SO_BACKLOG; undefined = the profile's default (listen.ts). */
  backlog: number | undefined;
  binding: PortBinding | undefined;
  bindAddr: string | undefined; // undefined = wildcard
  conn: Connection | undefined;
  connectIrp: Irp | undefined;
  remote: SOCKADDR | undefined;
  overrides: ProfileOverrides = {};
  profile: Profile;
  eventMask = 0;
  receives: PendingReceive[] = [];
  sends: PendingSend[] = [];
  disconnectIrp: Irp | undefined;
  /** Why the connection ended (for IRPs arriving afterwards). */
  endStatus: NtStatus | undefined;
  peerClosed = false;
  /** Data that arrived before a graceful end and was not read yet (still the client's to read). */
  unread: Uint8Array | undefined;

  constructor(
    readonly Dispatch: WSK_PROVIDER_CONNECTION_DISPATCH,
    readonly kind: SocketKind,
    readonly family: AddressFamily,
    public context: unknown,
    public clientDispatch: ClientDispatch | undefined,
    baseProfile: Profile,
  ) {
    this.profile = baseProfile;
  }
}

export interface WskProviderOptions {
  /** The stack's clock, in ms (virtual time in tests, the runtime's clock for real devices). */
  now: () => number;
  /** Called after every call that may have produced packets (the runtime flushes here). */
  afterCall?: () => void;
  /** Default profile of new sockets: `windows`, the OS whose API the facade imitates (docs/wsk.md). */
  profile?: ProfileName | Profile;
}

function isFamily(f: number): f is AddressFamily {
  return f === AF_INET || f === AF_INET6;
}

const familyVersion = (f: AddressFamily): 4 | 6 => (f === AF_INET ? 4 : 6);

/** Maps an engine refusal to start a connection onto NTSTATUS (docs/ntstatus.md). */
function connectErrorStatus(e: ConnectError): NtStatus {
  switch (e.error) {
    case "invalidAddress":
    case "familyMismatch":
      return STATUS_INVALID_PARAMETER;
    case "addressNotOwned":
      return STATUS_INVALID_ADDRESS_COMPONENT;
    case "addressInUse":
      // What real Windows completes WskBind with for a port in use (Wine's netio tests,
      // which pass on Windows; docs/decisions.md).
      return STATUS_ADDRESS_ALREADY_ASSOCIATED;
    case "portsExhausted":
      return STATUS_TOO_MANY_ADDRESSES;
    case "noRoute":
      return outcomeToStatus({ kind: "unreachable", reason: "net" });
  }
}

export class WskProvider {
  readonly Dispatch: WSK_PROVIDER_DISPATCH;
  readonly ConnectionDispatch: WSK_PROVIDER_CONNECTION_DISPATCH;
  readonly ListenDispatch: WSK_PROVIDER_LISTEN_DISPATCH;
  readonly StreamDispatch: WSK_PROVIDER_STREAM_DISPATCH;
  private readonly listenHost: ListenHost<WSK_SOCKET, WSK_CLIENT_CONNECTION_DISPATCH>;
  private readonly defaultProfile: Profile;
  private readonly sockets = new Set<SocketImpl>();
  /** Set by failAll (the device went away): connects complete at once with this status. */
  private downStatus: NtStatus | undefined;

  /** What WskControlSocket's options may use of the provider (socket-options.ts). */
  private readonly optionHost: OptionHost = {
    mtu: () => this.stack.mtu,
    indicateBuffered: (s) => this.onData(s as SocketImpl),
    afterCall: () => this.opts.afterCall?.(),
  };

  constructor(readonly stack: Stack, private readonly opts: WskProviderOptions) {
    this.defaultProfile = resolveProfile(opts.profile ?? "windows");
    this.Dispatch = {
      Version: MAKE_WSK_VERSION(1, 0),
      Reserved: 0,
      WskSocket: this.WskSocket.bind(this),
      WskSocketConnect: this.WskSocketConnect.bind(this),
      WskControlClient: this.WskControlClient.bind(this),
    };
    this.ConnectionDispatch = {
      WskControlSocket: this.WskControlSocket.bind(this),
      WskCloseSocket: this.WskCloseSocket.bind(this),
      WskBind: this.WskBind.bind(this),
      WskConnect: this.WskConnect.bind(this),
      WskGetLocalAddress: this.WskGetLocalAddress.bind(this),
      WskGetRemoteAddress: this.WskGetRemoteAddress.bind(this),
      WskSend: this.WskSend.bind(this),
      WskReceive: this.WskReceive.bind(this),
      WskDisconnect: this.WskDisconnect.bind(this),
      WskRelease: this.WskRelease.bind(this),
    };
    const c = this.ConnectionDispatch;
    this.ListenDispatch = {
      WskControlSocket: c.WskControlSocket,
      WskCloseSocket: c.WskCloseSocket,
      WskBind: c.WskBind,
      WskAccept: this.WskAccept.bind(this),
      WskInspectComplete: this.WskInspectComplete.bind(this),
      WskGetLocalAddress: c.WskGetLocalAddress,
    };
    this.StreamDispatch = {
      WskControlSocket: c.WskControlSocket,
      WskCloseSocket: c.WskCloseSocket,
      WskBind: c.WskBind,
      WskAccept: this.ListenDispatch.WskAccept,
      WskConnect: c.WskConnect,
      WskListen: this.WskListen.bind(this),
      WskSend: c.WskSend,
      WskReceive: c.WskReceive,
      WskDisconnect: c.WskDisconnect,
      WskRelease: c.WskRelease,
      WskGetLocalAddress: c.WskGetLocalAddress,
      WskGetRemoteAddress: c.WskGetRemoteAddress,
    };
    this.listenHost = {
      stack: this.stack,
      now: () => this.now(),
      adopt: (conn, owner) => this.adopt(conn, owner as SocketImpl),
      handOver: (sock, context, dispatch, events) => this.handOver(sock as SocketImpl, context, dispatch, events),
      discard: (sock) => this.discard(sock as SocketImpl),
    };
  }

  /** Sockets not yet closed (for leak checks). */
  get openSockets(): number {
    return this.sockets.size;
  }

  private now(): number {
    return this.opts.now();
  }

  /** True once failAll ran: the network under this provider is gone. */
  get networkDown(): boolean {
    return this.downStatus !== undefined;
  }

  /**
   * The device under the stack went away (wire it to Runtime.onDeviceError). Every
   * connection of the stack is deleted at once, sending nothing (there is no link to send
   * on), and every pending IRP completes through the usual outcome table (docs/ntstatus.md):
   * a pending connect as if no route were left (STATUS_NETWORK_UNREACHABLE), the IRPs of
   * an established or closing connection as a local abort (STATUS_CONNECTION_ABORTED, with
   * WskDisconnectEvent(WSK_FLAG_ABORTIVE)). Sockets stay open until the client closes
   * them; on them and on new sockets, connects then complete at once with
   * STATUS_NETWORK_UNREACHABLE. docs/decisions.md explains the choice. Returns how many
   * connections were ended. Harmless to repeat.
   */
  failAll(): number {
    const now = this.now();
    this.downStatus = outcomeToStatus({ kind: "unreachable", reason: "net" });
    // Listening sockets: pending WskAccept IRPs complete with the same status (listen.ts).
    for (const s of this.sockets) s.listen?.fail(this.downStatus);
    const conns = [...this.stack.connections()];
    for (const c of conns) {
      const connecting = c.state === "SYN-SENT" || c.state === "SYN-RECEIVED";
      // RFC 9293 §3.10.5 ABORT without its RST: the interface it would leave by is gone.
      c.finish(connecting ? { kind: "unreachable", reason: "net" } : { kind: "aborted" }, now, "device gone: delete TCB, send nothing");
    }
    this.opts.afterCall?.();
    return conns.length;
  }

  private done<T>(v: T): T {
    this.opts.afterCall?.();
    return v;
  }

  /**
   * The stack is being closed (wire it to Runtime.onClose, or use attachTo). Every socket
   * is closed as WskCloseSocket closes one: every pending IRP (connect, send, receive,
   * disconnect, accept) completes exactly once with STATUS_CANCELLED, a connect in SYN-SENT
   * is deleted sending nothing, a live connection is aborted with a RST (RFC 9293 §3.10.5),
   * a listener resets the connections it had not handed over, and every port is freed.
   * Connections no socket owns any more (TIME-WAIT, orphans) are deleted too, so no timer
   * is left. Afterwards connects complete at once with STATUS_NETWORK_UNREACHABLE, as after
   * failAll. docs/node-api.md says what the Node-style sockets see. Returns how many
   * sockets were closed. Harmless to repeat.
   */
  shutdown(): number {
    const open = [...this.sockets];
    for (const s of open) {
      const irp = IoAllocateIrp();
      this.WskCloseSocket(s, irp);
    }
    this.downStatus ??= outcomeToStatus({ kind: "unreachable", reason: "net" });
    const now = this.now();
    for (const c of [...this.stack.connections()]) {
      if (c.state === "TIME-WAIT") c.finish({ kind: "finished" }, now, "stack closed: delete the TIME-WAIT TCB");
      else if (c.state !== "CLOSED") c.abort(now);
    }
    this.opts.afterCall?.();
    return open.length;
  }

  /**
   * Wires this provider to a runtime: the device failing runs failAll, the runtime closing
   * runs shutdown. What openStack does; call it when you build the pieces yourself.
   */
  attachTo(runtime: { onDeviceError(handler: (err: Error) => void): void; onClose(handler: () => void): void }): this {
    runtime.onDeviceError(() => this.failAll());
    runtime.onClose(() => this.shutdown());
    return this;
  }


  // -------------------------------------------------------------------------------------
  // Registration (Network Module Registrar side)

  /** WskRegister: the client's NPI must ask for WSK major version 1. */
  WskRegister(WskClientNpi: WSK_CLIENT_NPI, WskRegistration: WSK_REGISTRATION): NtStatus {
    if (!WskClientNpi || !WskClientNpi.Dispatch || !WskRegistration) return STATUS_INVALID_PARAMETER;
    if (WSK_MAJOR_VERSION(WskClientNpi.Dispatch.Version) !== 1) return STATUS_NOT_SUPPORTED;
    if (WskRegistration._client && !WskRegistration._deregistered) return STATUS_INVALID_DEVICE_STATE;
    WskRegistration._client = WskClientNpi;
    WskRegistration._captures = 0;
    WskRegistration._deregistered = false;
    return STATUS_SUCCESS;
  }

  /** WskCaptureProviderNPI: the provider is always ready here, so any wait succeeds at once. */
  WskCaptureProviderNPI(WskRegistration: WSK_REGISTRATION, _WaitTimeout: number, WskProviderNpi: Partial<WSK_PROVIDER_NPI>): NtStatus {
    if (!WskRegistration?._client || WskRegistration._deregistered) return STATUS_DEVICE_NOT_READY;
    WskRegistration._captures++;
    WskProviderNpi.Client = { registration: WskRegistration };
    WskProviderNpi.Dispatch = this.Dispatch;
    return STATUS_SUCCESS;
  }

  WskReleaseProviderNPI(WskRegistration: WSK_REGISTRATION): void {
    if (WskRegistration._captures > 0) WskRegistration._captures--;
  }

  /**
   * WskDeregister: ends the registration; new captures and new sockets through its client
   * handle fail. Microsoft's WskDeregister page says the call waits until every captured
   * NPI is released and every socket is closed; one thread cannot wait inside a call, so it
   * returns at once and open sockets stay usable until the client closes them (docs/wsk.md).
   */
  WskDeregister(WskRegistration: WSK_REGISTRATION): void {
    WskRegistration._deregistered = true;
    WskRegistration._captures = 0;
  }

  private clientOk(Client: WSK_CLIENT | undefined): boolean {
    return !!Client && !!Client.registration?._client && !Client.registration._deregistered;
  }

  // -------------------------------------------------------------------------------------
  // Provider dispatch

  /**
   * WskSocket (Microsoft Learn, PFN_WSK_SOCKET): connection-oriented, listening and stream TCP
   * sockets are provided (basic and datagram sockets are not). Completes at once;
   * Information = the socket, whose Dispatch is the table of its category.
   */
  WskSocket(
    Client: WSK_CLIENT,
    AddressFamily: number,
    SocketType: number,
    Protocol: number,
    Flags: number,
    SocketContext: unknown,
    Dispatch: WSK_CLIENT_CONNECTION_DISPATCH | WSK_CLIENT_LISTEN_DISPATCH | WSK_CLIENT_STREAM_DISPATCH | undefined | null,
    _OwningProcess: unknown,
    _OwningThread: unknown,
    _SecurityDescriptor: unknown,
    Irp: Irp,
  ): NtStatus {
    beginIrp(Irp);
    if (!this.clientOk(Client)) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (!isFamily(AddressFamily)) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (Flags !== WSK_FLAG_CONNECTION_SOCKET && Flags !== WSK_FLAG_STREAM_SOCKET && Flags !== WSK_FLAG_LISTEN_SOCKET) return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    if (SocketType !== SOCK_STREAM || (Protocol !== IPPROTO_TCP && Protocol !== 0)) return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    const kind: SocketKind = Flags === WSK_FLAG_LISTEN_SOCKET ? "listen" : Flags === WSK_FLAG_STREAM_SOCKET ? "stream" : "connection";
    // In C the caller casts Dispatch to its category's table; the object here is that table.
    const table = (kind === "listen" ? this.ListenDispatch : kind === "stream" ? this.StreamDispatch : this.ConnectionDispatch) as unknown as WSK_PROVIDER_CONNECTION_DISPATCH;
    const s = new SocketImpl(table, kind, AddressFamily, SocketContext, (Dispatch ?? undefined) as ClientDispatch | undefined, this.defaultProfile);
    this.sockets.add(s);
    return completeAtOnce(Irp, STATUS_SUCCESS, s);
  }

  /**
   * WskSocketConnect (Microsoft Learn, PFN_WSK_SOCKET_CONNECT): create, bind and connect; the family comes
   * from the local address. Completes only when the handshake has finished or failed;
   * Information = the socket on success.
   */
  WskSocketConnect(
    Client: WSK_CLIENT,
    SocketType: number,
    Protocol: number,
    LocalAddress: SOCKADDR,
    RemoteAddress: SOCKADDR,
    Flags: number,
    SocketContext: unknown,
    Dispatch: WSK_CLIENT_CONNECTION_DISPATCH | undefined | null,
    _OwningProcess: unknown,
    _OwningThread: unknown,
    _SecurityDescriptor: unknown,
    Irp: Irp,
  ): NtStatus {
    beginIrp(Irp);
    if (!this.clientOk(Client) || Flags !== 0 || !LocalAddress || !RemoteAddress) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    const family = sockaddrFamily(LocalAddress);
    if (!isFamily(family) || sockaddrFamily(RemoteAddress) !== family) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (SocketType !== SOCK_STREAM || (Protocol !== IPPROTO_TCP && Protocol !== 0)) return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    const s = new SocketImpl(this.ConnectionDispatch, "connection", family, SocketContext, Dispatch ?? undefined, this.defaultProfile);
    const bindStatus = this.bindSocket(s, LocalAddress);
    if (bindStatus !== STATUS_SUCCESS) return completeAtOnce(Irp, bindStatus);
    this.sockets.add(s);
    const status = this.startConnect(s, RemoteAddress, Irp, true);
    return this.done(status);
  }

  /** WskControlClient: no client-level controls are implemented. */
  WskControlClient(Client: WSK_CLIENT, _ControlCode: number, _InputSize: number, _InputBuffer: unknown, _OutputSize: number, _OutputBuffer: unknown, _OutputSizeReturned: unknown, Irp: Irp | null): NtStatus {
    if (!this.clientOk(Client)) return STATUS_INVALID_PARAMETER;
    if (Irp) {
      beginIrp(Irp);
      return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    }
    return STATUS_NOT_SUPPORTED;
  }

  // -------------------------------------------------------------------------------------
  // Connection dispatch

  private impl(Socket: WSK_SOCKET): SocketImpl | undefined {
    return Socket instanceof SocketImpl && this.sockets.has(Socket) ? Socket : undefined;
  }

  private bindSocket(s: SocketImpl, LocalAddress: SOCKADDR): NtStatus {
    if (sockaddrFamily(LocalAddress) !== s.family) return STATUS_INVALID_PARAMETER;
    const addr = sockaddrAddress(LocalAddress);
    const port = s.family === AF_INET ? (LocalAddress as { sin_port: number }).sin_port : (LocalAddress as { sin6_port: number }).sin6_port;
    const wildcard = /^(0\.0\.0\.0|::)$/.test(addr);
    const r = this.stack.bindPort(familyVersion(s.family), wildcard ? undefined : addr, port, s.profile);
    if ("error" in r) return connectErrorStatus(r);
    s.binding = r;
    s.bindAddr = r.addr;
    s.state = "bound";
    return STATUS_SUCCESS;
  }

  /**
   * WskBind (Microsoft Learn, PFN_WSK_BIND): the port is assigned now; a wildcard IP is chosen
   * at connect. A listening socket starts listening here ("Listening for and Accepting
   * Incoming Connections": once bound, the socket begins listening).
   */
  WskBind(Socket: WSK_SOCKET, LocalAddress: SOCKADDR, Flags: number, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (Flags !== 0 || !LocalAddress) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (s.state !== "created") return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    const st = this.bindSocket(s, LocalAddress);
    if (st !== STATUS_SUCCESS || s.kind !== "listen") return completeAtOnce(Irp, st);
    return this.done(completeAtOnce(Irp, this.startListening(s)));
  }

  /** Turns a bound socket into a listener (listen.ts); on failure the socket is unbound again. */
  private startListening(s: SocketImpl): NtStatus {
    const port = s.binding!.port;
    const addrs = s.bindAddr !== undefined ? [s.bindAddr] : this.stack.addresses.filter((a) => a.addr.includes(":") === (s.family !== AF_INET)).map((a) => a.addr);
    const side = new ListenSide(this.listenHost, s, port, addrs, s.backlog ?? defaultBacklog(s.profile.name));
    const err = side.start(resolveProfile(s.profile, s.overrides));
    if (err) {
      if (s.kind === "listen") {
        this.stack.releasePort(s.binding!);
        s.binding = undefined;
        s.bindAddr = undefined;
        s.state = "created";
      }
      return connectErrorStatus(err as ConnectError);
    }
    s.listen = side;
    s.state = "listening";
    return STATUS_SUCCESS;
  }

  /**
   * WskListen (stream sockets, Windows 10 1703+): the bound stream socket listens. "After
   * WskListen is successfully called on a stream socket, the socket is committed to a
   * listening socket flow and may no longer call connection-oriented socket functions";
   * the WskConnect page states the converse. A call the socket's state does not allow
   * completes with STATUS_INVALID_DEVICE_STATE, the status real Windows gives WskConnect on
   * an unbound socket (Wine's driver_netio.c test): before WskBind, while a connect is
   * pending, and once a WskConnect succeeded. Listening again is a no-op.
   */
  WskListen(Socket: WSK_SOCKET, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (s.kind !== "stream") return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    if (s.state === "listening") return completeAtOnce(Irp, STATUS_SUCCESS);
    if (s.state !== "bound" || s.committed) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    return this.done(completeAtOnce(Irp, this.startListening(s)));
  }

  /**
   * WskAccept (listening sockets, and stream sockets after WskListen): completes at once with
   * a connection that is waiting, else STATUS_PENDING until one arrives (listen.ts).
   */
  WskAccept(
    ListenSocket: WSK_SOCKET,
    Flags: number,
    AcceptSocketContext: unknown,
    AcceptSocketDispatch: WSK_CLIENT_CONNECTION_DISPATCH | null | undefined,
    LocalAddress: Partial<SOCKADDR> | Record<string, unknown> | null | undefined,
    RemoteAddress: Partial<SOCKADDR> | Record<string, unknown> | null | undefined,
    Irp: Irp,
  ): NtStatus {
    beginIrp(Irp);
    const s = this.impl(ListenSocket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (!s.listen) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    return this.done(s.listen.accept(Flags, AcceptSocketContext, AcceptSocketDispatch, LocalAddress as Record<string, unknown> | null, RemoteAddress as Record<string, unknown> | null, Irp));
  }

  /**
   * WskInspectComplete (PFN_WSK_INSPECT_COMPLETE): the decision on a connection request
   * WskInspectEvent pended on a listening socket in conditional accept mode (listen.ts).
   * A socket that is not listening in that mode: STATUS_INVALID_DEVICE_STATE.
   */
  WskInspectComplete(ListenSocket: WSK_SOCKET, InspectID: WSK_INSPECT_ID, Action: WSK_INSPECT_ACTION, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(ListenSocket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (!s.listen) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    return this.done(s.listen.inspectComplete(InspectID, Action, Irp));
  }

  /** listen.ts: wraps a passively opened connection in a new connected socket. */
  private adopt(conn: Connection, owner: SocketImpl): WSK_SOCKET {
    const s = new SocketImpl(this.ConnectionDispatch, "accepted", owner.family, undefined, undefined, owner.profile);
    s.overrides = { ...owner.overrides };
    s.acceptedLocal = makeSockaddr(s.family, conn.localAddr, conn.localPort);
    this.sockets.add(s);
    this.attach(s, conn, false);
    s.state = "connected";
    return s;
  }

  /** listen.ts: the application took an accepted socket. */
  private handOver(s: SocketImpl, context: unknown, dispatch: WSK_CLIENT_CONNECTION_DISPATCH | null | undefined, events: number): void {
    if (!this.sockets.has(s)) return; // closed from inside a completion routine or event
    s.context = context;
    s.clientDispatch = dispatch ?? undefined;
    s.eventMask |= events;
    // What happened before the hand-over is indicated now, as when an event is enabled late.
    if (s.eventMask & WSK_EVENT_RECEIVE && s.conn && s.conn.rcvBuffered > 0) this.onData(s);
    if (s.eventMask & WSK_EVENT_DISCONNECT && (s.peerClosed || s.endStatus !== undefined)) this.disconnectEvent(s, s.endStatus !== undefined ? WSK_FLAG_ABORTIVE : 0);
  }

  /** listen.ts: closes a socket nobody took (abortive, as WskCloseSocket on a connected socket). */
  private discard(s: SocketImpl): void {
    if (!this.sockets.has(s)) return;
    const conn = s.conn;
    if (conn) {
      conn.events = {};
      if (conn.state !== "CLOSED" && conn.state !== "TIME-WAIT") conn.abort(this.now());
    }
    this.destroySocket(s);
  }

  /** WskConnect (Microsoft Learn, PFN_WSK_CONNECT): requires WskBind; completes when the handshake ends. */
  WskConnect(Socket: WSK_SOCKET, RemoteAddress: SOCKADDR, Flags: number, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (Flags !== 0 || !RemoteAddress) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (sockaddrFamily(RemoteAddress) !== s.family) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    switch (s.state) {
      case "created":
      case "connecting":
      // A listening stream socket "may no longer call connection-oriented socket functions" (WskListen).
      case "listening":
        return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
      case "connected":
      case "disconnecting":
        return completeAtOnce(Irp, STATUS_CONNECTION_ACTIVE);
      default:
        break;
    }
    // A listener's socket never connects again once its connection ended.
    if (s.kind === "accepted" || s.kind === "listen") return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    return this.done(this.startConnect(s, RemoteAddress, Irp, false));
  }

  private startConnect(s: SocketImpl, RemoteAddress: SOCKADDR, Irp: Irp, socketConnect: boolean): NtStatus {
    if (this.downStatus !== undefined) {
      // No device, so no route: like a connect with no local route at all (docs/ntstatus.md).
      if (socketConnect) this.destroySocket(s);
      return completeAtOnce(Irp, this.downStatus);
    }
    const remoteAddr = sockaddrAddress(RemoteAddress);
    const remotePort = s.family === AF_INET ? (RemoteAddress as { sin_port: number }).sin_port : (RemoteAddress as { sin6_port: number }).sin6_port;
    const profile = resolveProfile(s.profile, s.overrides);
    const r = this.stack.connect(
      { remote: { addr: remoteAddr, port: remotePort }, local: { addr: s.bindAddr, port: s.binding!.port }, profile },
      this.now(),
    );
    if (!(r instanceof Connection)) {
      const status = connectErrorStatus(r);
      if (socketConnect) this.destroySocket(s);
      return completeAtOnce(Irp, status);
    }
    this.attach(s, r, socketConnect);
    s.state = "connecting";
    s.connectIrp = Irp;
    // IoCancelIrp during SYN-SENT: delete the TCB without sending anything (RFC 9293 §3.10.4,
    // CLOSE in SYN-SENT; docs/wsk.md).
    return pendIrp(Irp, (irp) => {
      if (s.connectIrp !== irp) return;
      const conn = s.conn;
      s.connectIrp = undefined;
      if (conn && (conn.state === "SYN-SENT" || conn.state === "SYN-RECEIVED")) {
        conn.events = {};
        conn.cancel(this.now());
      }
      s.conn = undefined;
      s.remote = undefined;
      s.state = "bound";
      completeCancelled(irp);
      if (socketConnect) this.destroySocket(s);
      this.opts.afterCall?.();
    });
  }

  /** Makes `conn` the socket's connection and routes its engine events to the socket. */
  private attach(s: SocketImpl, conn: Connection, socketConnect: boolean): void {
    s.conn = conn;
    s.remote = makeSockaddr(s.family, conn.remoteAddr, conn.remotePort);
    s.endStatus = undefined;
    s.peerClosed = false;
    s.unread = undefined;
    conn.owner = s;
    conn.events = {
      established: () => this.onEstablished(s, socketConnect),
      closed: (_c, outcome) => this.onClosed(s, outcome, socketConnect),
      data: () => this.onData(s),
      peerFin: () => this.onPeerFin(s),
      acked: (_c, total) => this.onAcked(s, total),
      finAcked: () => this.onFinAcked(s),
    };
  }

  private onEstablished(s: SocketImpl, socketConnect: boolean): void {
    s.state = "connected";
    if (s.kind === "stream") s.committed = true;
    const irp = s.connectIrp;
    s.connectIrp = undefined;
    if (irp) completePending(irp, STATUS_SUCCESS, socketConnect ? s : 0);
  }

  private onClosed(s: SocketImpl, outcome: Outcome, socketConnect: boolean): void {
    const status = outcomeToStatus(outcome);
    if (s.connectIrp) {
      // The attempt failed: the socket is bound again and may connect again (docs/wsk.md).
      const irp = s.connectIrp;
      s.connectIrp = undefined;
      s.conn = undefined;
      s.remote = undefined;
      s.state = "bound";
      completePending(irp, status, 0);
      if (socketConnect) this.destroySocket(s);
      return;
    }
    // An established connection ended.
    s.endStatus = outcome.kind === "finished" ? undefined : status;
    const abortive = outcome.kind === "reset" || outcome.kind === "timedOut" || outcome.kind === "aborted";
    if (abortive) {
      const st = outcome.kind === "aborted" ? STATUS_CONNECTION_ABORTED : status;
      this.failPending(s, st);
      this.disconnectEvent(s, WSK_FLAG_ABORTIVE);
    } else {
      this.completeDisconnect(s, STATUS_SUCCESS);
      // Graceful end: outstanding receives see end of stream.
      this.flushReceives(s, true);
      // What arrived before the FIN stays readable after the TCB is gone (a receive returns
      // it, then 0 bytes), as the bytes before a FIN do on any socket.
      if (s.conn && s.conn.rcvBuffered > 0) s.unread = s.conn.read(s.conn.rcvBuffered);
    }
    s.state = s.state === "closed" ? "closed" : "bound";
    s.conn = undefined;
  }

  private failPending(s: SocketImpl, status: NtStatus): void {
    const recvs = s.receives;
    s.receives = [];
    for (const r of recvs) completePending(r.irp, r.filled > 0 && status !== STATUS_CANCELLED ? STATUS_SUCCESS : status, r.filled > 0 && status !== STATUS_CANCELLED ? r.filled : 0);
    const sends = s.sends;
    s.sends = [];
    for (const w of sends) completePending(w.irp, status, 0);
    this.completeDisconnect(s, status);
  }

  private completeDisconnect(s: SocketImpl, status: NtStatus): void {
    const irp = s.disconnectIrp;
    s.disconnectIrp = undefined;
    if (irp) completePending(irp, status, 0);
  }

  private disconnectEvent(s: SocketImpl, flags: number): void {
    if (s.eventMask & WSK_EVENT_DISCONNECT && s.clientDispatch?.WskDisconnectEvent) s.clientDispatch.WskDisconnectEvent(s.context, flags);
  }

  private onData(s: SocketImpl): void {
    this.flushReceives(s, false);
    const conn = s.conn;
    if (!conn || conn.rcvBuffered === 0) return;
    // Receive event (WSK_EVENT_RECEIVE): indicate what is buffered; the client may accept it.
    if (s.eventMask & WSK_EVENT_RECEIVE && s.clientDispatch?.WskReceiveEvent && s.receives.length === 0) {
      const peek = conn.read(conn.rcvBuffered);
      const accepted = { value: 0 };
      const ind: WSK_DATA_INDICATION = { Next: null, Buffer: { Mdl: peek, Offset: 0, Length: peek.length } };
      const st = s.clientDispatch.WskReceiveEvent(s.context, 0, ind, peek.length, accepted);
      if (st === STATUS_DATA_NOT_ACCEPTED) {
        // Put it back: the client will call WskReceive later.
        conn.unread(peek);
      } else if (st === STATUS_SUCCESS && accepted.value < peek.length && accepted.value >= 0) {
        conn.unread(peek.subarray(accepted.value));
      }
      this.stack.noteRead(conn);
    }
  }

  private onPeerFin(s: SocketImpl): void {
    s.peerClosed = true;
    this.flushReceives(s, true);
    this.disconnectEvent(s, 0);
  }

  private onAcked(s: SocketImpl, total: number): void {
    while (s.sends.length > 0 && s.sends[0].ackTarget <= total) {
      const w = s.sends.shift()!;
      completePending(w.irp, STATUS_SUCCESS, w.length);
    }
  }

  private onFinAcked(s: SocketImpl): void {
    this.completeDisconnect(s, STATUS_SUCCESS);
  }

  /** Completes pending receives from buffered data; at end of stream, with what they have. */
  private flushReceives(s: SocketImpl, endOfStream: boolean): void {
    const conn = s.conn;
    while (s.receives.length > 0) {
      const r = s.receives[0];
      const want = r.buf.Length - r.filled;
      if (conn && conn.rcvBuffered > 0 && want > 0) {
        const data = conn.read(want);
        if (!(r.flags & WSK_FLAG_DRAIN)) r.buf.Mdl.set(data, r.buf.Offset + r.filled);
        r.filled += data.length;
        this.stack.noteRead(conn);
      }
      const full = r.filled >= r.buf.Length;
      const waitAll = (r.flags & WSK_FLAG_WAITALL) !== 0 || (r.flags & WSK_FLAG_DRAIN) !== 0;
      if (full || (r.filled > 0 && !waitAll) || endOfStream || s.peerClosed) {
        s.receives.shift();
        completePending(r.irp, STATUS_SUCCESS, r.filled);
        continue;
      }
      break;
    }
  }

  WskGetLocalAddress(Socket: WSK_SOCKET, LocalAddress: Partial<SOCKADDR> | Record<string, unknown>, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (s.acceptedLocal) {
      Object.assign(LocalAddress, s.acceptedLocal);
      return completeAtOnce(Irp, STATUS_SUCCESS);
    }
    if (s.state === "created" || !s.binding) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    const addr = s.conn ? s.conn.localAddr : (s.bindAddr ?? (s.family === AF_INET ? "0.0.0.0" : "::"));
    Object.assign(LocalAddress, makeSockaddr(s.family, addr, s.binding.port));
    return completeAtOnce(Irp, STATUS_SUCCESS);
  }

  WskGetRemoteAddress(Socket: WSK_SOCKET, RemoteAddress: Partial<SOCKADDR> | Record<string, unknown>, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if ((s.state !== "connected" && s.state !== "disconnecting") || !s.remote) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    Object.assign(RemoteAddress, s.remote);
    return completeAtOnce(Irp, STATUS_SUCCESS);
  }

  /**
   * WskSend (Microsoft Learn, PFN_WSK_SEND): WSK does no buffering on the caller's behalf, so the
   * IRP completes when the peer has acknowledged all of its bytes (docs/wsk.md explains).
   */
  WskSend(Socket: WSK_SOCKET, Buffer: WSK_BUF, Flags: number, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (Flags & ~WSK_FLAG_NODELAY) return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    if (!Buffer || Buffer.Offset < 0 || Buffer.Length < 0 || Buffer.Offset + Buffer.Length > Buffer.Mdl.length) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (s.state !== "connected" || !s.conn) return completeAtOnce(Irp, s.endStatus ?? STATUS_INVALID_DEVICE_STATE);
    const conn = s.conn;
    if (conn.finQueued || (conn.state !== "ESTABLISHED" && conn.state !== "CLOSE-WAIT")) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    if (Buffer.Length === 0) return completeAtOnce(Irp, STATUS_SUCCESS, 0);
    const data = Buffer.Mdl.subarray(Buffer.Offset, Buffer.Offset + Buffer.Length);
    const target = conn.totalAcked + conn.sendBuffered + data.length;
    const w: PendingSend = { irp: Irp, length: data.length, ackTarget: target };
    s.sends.push(w);
    const status = pendIrp(Irp, (irp) => {
      // Data already handed to TCP cannot be taken back; cancelling a send aborts the connection,
      // as Windows does for a cancelled send on a stream socket.
      const i = s.sends.indexOf(w);
      if (i >= 0) s.sends.splice(i, 1);
      completeCancelled(irp);
      if (s.conn) s.conn.abort(this.now());
      this.opts.afterCall?.();
    });
    conn.send(data, this.now());
    return this.done(status);
  }

  /** WskReceive (Microsoft Learn, PFN_WSK_RECEIVE), with WSK_FLAG_WAITALL and WSK_FLAG_DRAIN. */
  WskReceive(Socket: WSK_SOCKET, Buffer: WSK_BUF, Flags: number, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if ((Flags & WSK_FLAG_WAITALL) && (Flags & WSK_FLAG_DRAIN)) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (Flags & ~(WSK_FLAG_WAITALL | WSK_FLAG_DRAIN)) return completeAtOnce(Irp, STATUS_NOT_SUPPORTED);
    if (!Buffer || Buffer.Offset < 0 || Buffer.Length < 0 || Buffer.Offset + Buffer.Length > Buffer.Mdl.length) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if (s.state !== "connected" && s.state !== "disconnecting") {
      if (s.unread && s.unread.length > 0) {
        const n = Math.min(Buffer.Length, s.unread.length);
        if (!(Flags & WSK_FLAG_DRAIN)) Buffer.Mdl.set(s.unread.subarray(0, n), Buffer.Offset);
        s.unread = n < s.unread.length ? s.unread.subarray(n) : undefined;
        return completeAtOnce(Irp, STATUS_SUCCESS, n);
      }
      if (s.endStatus !== undefined) return completeAtOnce(Irp, s.endStatus);
      if (s.peerClosed) return completeAtOnce(Irp, STATUS_SUCCESS, 0);
      return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    }
    const r: PendingReceive = { irp: Irp, buf: Buffer, flags: Flags, filled: 0 };
    s.receives.push(r);
    // Try at once: the IRP must not be marked pending if it completes now.
    const conn = s.conn!;
    if (s.receives.length === 1) {
      const want = Buffer.Length;
      const avail = conn.rcvBuffered;
      const waitAll = (Flags & (WSK_FLAG_WAITALL | WSK_FLAG_DRAIN)) !== 0;
      if ((avail > 0 && (!waitAll || avail >= want)) || s.peerClosed || want === 0) {
        s.receives.shift();
        const data = conn.read(want);
        if (!(Flags & WSK_FLAG_DRAIN)) Buffer.Mdl.set(data, Buffer.Offset);
        this.stack.noteRead(conn);
        return this.done(completeAtOnce(Irp, STATUS_SUCCESS, data.length));
      }
    }
    return this.done(
      pendIrp(Irp, (irp) => {
        const i = s.receives.indexOf(r);
        if (i >= 0) s.receives.splice(i, 1);
        completeCancelled(irp);
      }),
    );
  }

  /** WskDisconnect (Microsoft Learn, PFN_WSK_DISCONNECT): graceful (FIN after pending data) or abortive (RST). */
  WskDisconnect(Socket: WSK_SOCKET, Buffer: WSK_BUF | null | undefined, Flags: number, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    if (Flags & ~WSK_FLAG_ABORTIVE) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    if ((Flags & WSK_FLAG_ABORTIVE) && Buffer) return completeAtOnce(Irp, STATUS_INVALID_PARAMETER);
    const conn = s.conn;
    if (!conn || (s.state !== "connected" && s.state !== "disconnecting")) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    const now = this.now();
    if (Flags & WSK_FLAG_ABORTIVE) {
      // A pending graceful disconnect is forced to complete by the abortive one (L-DISC).
      this.failPending(s, STATUS_CONNECTION_ABORTED);
      conn.events = {};
      conn.abort(now);
      s.conn = undefined;
      s.state = "bound";
      s.endStatus = STATUS_CONNECTION_ABORTED;
      return this.done(completeAtOnce(Irp, STATUS_SUCCESS));
    }
    if (s.disconnectIrp) return completeAtOnce(Irp, STATUS_INVALID_DEVICE_STATE);
    if (Buffer && Buffer.Length > 0) {
      const data = Buffer.Mdl.subarray(Buffer.Offset, Buffer.Offset + Buffer.Length);
      conn.send(data, now);
    }
    s.state = "disconnecting";
    s.disconnectIrp = Irp;
    const status = pendIrp(Irp, (irp) => {
      if (s.disconnectIrp !== irp) return;
      s.disconnectIrp = undefined;
      completeCancelled(irp);
    });
    conn.close(now);
    return this.done(status);
  }

  /**
   * synack extension (not a WSK routine): why the socket's last connection ended, when it
   * ended abnormally (STATUS_CONNECTION_RESET, STATUS_IO_TIMEOUT, ...); undefined while it is
   * open, after a graceful end, or for an unknown socket. A WSK client learns the same from
   * the next IRP that fails; the POSIX layer of the packetdrill runner needs it without
   * issuing one (SO_ERROR, src/conformance/posix.ts).
   */
  socketEndStatus(Socket: WSK_SOCKET): NtStatus | undefined {
    return this.impl(Socket)?.endStatus;
  }

  /** WskRelease: data indicated by WskReceiveEvent is copied here, so there is nothing to free. */
  WskRelease(Socket: WSK_SOCKET, _DataIndication: WSK_DATA_INDICATION | null): NtStatus {
    return this.impl(Socket) ? STATUS_SUCCESS : STATUS_FILE_FORCED_CLOSED;
  }

  /**
   * WskControlSocket: the knobs a Windows developer knows (docs/wsk.md "Socket options"), plus the profile.
   * Set options apply to the next connect.
   */
  WskControlSocket(
    Socket: WSK_SOCKET,
    RequestType: WSK_CONTROL_SOCKET_TYPE,
    ControlCode: number,
    Level: number,
    InputSize: number,
    InputBuffer: unknown,
    OutputSize: number,
    OutputBuffer: { value?: unknown } | null,
    OutputSizeReturned: { value?: number } | null,
    Irp: Irp | null,
  ): NtStatus {
    const s = this.impl(Socket);
    const finish = (status: NtStatus): NtStatus => {
      if (!Irp) return status;
      beginIrp(Irp);
      return completeAtOnce(Irp, status, 0);
    };
    if (!s) return finish(STATUS_FILE_FORCED_CLOSED);
    void InputSize;
    void OutputSize;
    const setOut = (v: unknown, size: number) => {
      if (OutputBuffer) OutputBuffer.value = v;
      if (OutputSizeReturned) OutputSizeReturned.value = size;
    };
    return finish(controlSocketOption(s, this.optionHost, RequestType, ControlCode, Level, InputBuffer, setOut));
  }

  /**
   * WskCloseSocket (Microsoft Learn, PFN_WSK_CLOSE_SOCKET): cancels and completes every pending IRP of the
   * socket (STATUS_CANCELLED), aborts the connection unless it was fully closed, frees the
   * port. Afterwards every call returns STATUS_FILE_FORCED_CLOSED.
   */
  WskCloseSocket(Socket: WSK_SOCKET, Irp: Irp): NtStatus {
    beginIrp(Irp);
    const s = this.impl(Socket);
    if (!s) return completeAtOnce(Irp, STATUS_FILE_FORCED_CLOSED);
    const now = this.now();
    const conn = s.conn;
    if (s.connectIrp) {
      const irp = s.connectIrp;
      s.connectIrp = undefined;
      completePending(irp, STATUS_CANCELLED, 0);
    }
    this.failPending(s, STATUS_CANCELLED);
    // A listener: pending WskAccept IRPs are cancelled, connections not yet accepted reset.
    s.listen?.close();
    if (conn) {
      conn.events = {};
      if (conn.state === "SYN-SENT" || conn.state === "SYN-RECEIVED") conn.cancel(now);
      else if (conn.state !== "CLOSED" && conn.state !== "TIME-WAIT") conn.abort(now);
    }
    this.destroySocket(s);
    return this.done(completeAtOnce(Irp, STATUS_SUCCESS));
  }

  private destroySocket(s: SocketImpl): void {
    s.state = "closed";
    s.conn = undefined;
    if (s.binding) this.stack.releasePort(s.binding);
    s.binding = undefined;
    this.sockets.delete(s);
  }
}

// synack's own SOL_SOCKET options (their meaning: src/wsk/socket-options.ts, docs/wsk.md).
export { SYNACK_SO_BACKLOG, SYNACK_SO_PROFILE, SYNACK_SO_PROFILE_OVERRIDES } from "./socket-options.js";
