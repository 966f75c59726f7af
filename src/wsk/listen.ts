// The listening half of the WSK facade: what a listening socket (WSK_FLAG_LISTEN_SOCKET)
// or a stream socket after WskListen (WSK_FLAG_STREAM_SOCKET, Windows 10 1703+) does with
// the connections the engine opens passively (RFC 9293 §3.10.7.2).
//
// Microsoft Learn pages this follows:
//   WskAccept (PFN_WSK_ACCEPT): a connection already waiting completes the IRP at once with
//     STATUS_SUCCESS, IoStatus.Information = the accepted socket; otherwise STATUS_PENDING
//     until one arrives. A pending WskAccept takes precedence over WskAcceptEvent.
//   WskAcceptEvent (PFN_WSK_ACCEPT_EVENT): called only when no WskAccept IRP is queued;
//     STATUS_SUCCESS takes the socket, STATUS_REQUEST_NOT_ACCEPTED "rejected the incoming
//     connection. If this value is returned, the WSK subsystem will close the accepted
//     socket on behalf of the WSK application". Connection-oriented event callbacks enabled
//     on the listening socket are enabled by default on the sockets it accepts.
//   WskCloseSocket: cancels and completes every pending IRP (Wine's driver_netio.c test,
//     run on real Windows, sees a pending WskAccept complete with STATUS_CANCELLED,
//     Information 0).
//   "Listening for and Accepting Incoming Connections": a listening socket starts listening
//     when it is bound.
// docs/wsk.md ("Listening sockets") gives the choices where the pages are silent.
import { Listener, type Stack } from "../../stack/stack.js";
import type { Connection } from "../../stack/tcp/connection.js";
import type { Profile } from "../../stack/tcp/profiles.js";
import type { SynRequest, SynVerdict } from "../../stack/tcp/passive.js";
import { WSK_EVENT_ACCEPT, WSK_EVENT_DISCONNECT, WSK_EVENT_RECEIVE, WskInspectAccept, WskInspectPend, WskInspectReject, type WSK_INSPECT_ACTION, type WSK_INSPECT_ID } from "./constants.js";
import { completeAtOnce, completeCancelled, completePending, pendIrp, type Irp } from "./irp.js";
import { STATUS_CANCELLED, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_SUCCESS, type NtStatus } from "./ntstatus.js";
import { AF_INET, sockaddrIn, sockaddrIn6, type AddressFamily, type SOCKADDR } from "./sockaddr.js";

// ---------------------------------------------------------------------------------------
// Backlog

/**
 * Connections established but not yet accepted that a listening socket holds, by profile
 * (synack's SYNACK_SO_BACKLOG changes it per socket). windows and windows7: 200, the floor Winsock's
 * listen page gives for SOMAXCONN_HINT on the Microsoft provider; linux: net.core.somaxconn
 * (4096 since Linux 5.4); freebsd: kern.ipc.soacceptqueue (128); rfc: 128.
 */
export function defaultBacklog(profileName: string): number {
  switch (profileName) {
    case "windows":
    case "windows7":
      return 200;
    case "linux":
      return 4096;
    default:
      return 128;
  }
}

/** The event bits of a listening socket that its accepted sockets inherit. */
export const INHERITED_EVENTS = WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT;

// ---------------------------------------------------------------------------------------
// The listening side of one socket

// The provider's socket object (S) and an accepted socket's client dispatch (D) are type
// parameters here: provider.ts defines them (WSK_SOCKET, WSK_CLIENT_CONNECTION_DISPATCH).

/** The client's listening callbacks as this module calls them (WSK_CLIENT_LISTEN_DISPATCH in provider.ts). */
export interface ListenCallbacks<S, D> {
  WskAcceptEvent?: (SocketContext: unknown, Flags: number, LocalAddress: SOCKADDR, RemoteAddress: SOCKADDR, AcceptSocket: S | null, AcceptSocketContext: { value?: unknown }, AcceptSocketDispatch: { value?: D | null }) => NtStatus;
  WskInspectEvent?: (SocketContext: unknown, LocalAddress: SOCKADDR, RemoteAddress: SOCKADDR, InspectID: WSK_INSPECT_ID | null) => WSK_INSPECT_ACTION;
  WskAbortEvent?: (SocketContext: unknown, InspectID: WSK_INSPECT_ID) => NtStatus;
}

/** What the provider gives a listening socket (the provider's private socket object is opaque here). */
export interface ListenHost<S, D> {
  readonly stack: Stack;
  now(): number;
  /** Wraps a connection the engine opened passively in a new, connected socket. */
  adopt(conn: Connection, owner: ListenOwner<S, D>): S;
  /** Gives an accepted socket its client context, dispatch and inherited event callbacks. */
  handOver(socket: S, context: unknown, dispatch: D | null | undefined, events: number): void;
  /** Closes a socket the application never took or rejected (abortive, as WskCloseSocket). */
  discard(socket: S): void;
}

/** The listening socket as this module sees it. */
export interface ListenOwner<S, D> {
  readonly family: AddressFamily;
  readonly context: unknown;
  readonly clientDispatch: ListenCallbacks<S, D> | undefined;
  readonly eventMask: number;
  /** SO_CONDITIONAL_ACCEPT: each SYN goes to WskInspectEvent before it is answered. */
  readonly conditionalAccept: boolean;
}

interface Waiting<S> {
  socket: S;
  local: SOCKADDR;
  remote: SOCKADDR;
}

interface PendingAccept<D> {
  irp: Irp;
  context: unknown;
  dispatch: D | null | undefined;
  local: Record<string, unknown> | null | undefined;
  remote: Record<string, unknown> | null | undefined;
}

export interface ListenStats {
  /** Connections handed to the application (WskAccept or WskAcceptEvent). */
  accepted: number;
  /** Connections the application rejected from WskAcceptEvent (closed for it). */
  rejected: number;
  /** Connections reset because the accept queue was full. */
  overflowed: number;
  /** Connections reset because the listening socket closed before they were accepted. */
  resetOnClose: number;
  /** Conditional accept: connection requests WskInspectEvent (or WskInspectComplete) rejected. */
  inspectRejected: number;
  /** Conditional accept: WskAbortEvent calls (a request dropped before its handshake completed). */
  inspectAborted: number;
}

/** WSK_INSPECT_ID.Key of the next listening socket (the key names the socket, SerialNumber the request). */
let nextInspectKey = 1;

const sockaddrOf = (family: AddressFamily, addr: string, port: number): SOCKADDR => (family === AF_INET ? sockaddrIn(addr, port) : sockaddrIn6(addr, port));

export class ListenSide<S, D> {
  private readonly listeners: Listener[] = [];
  private readonly queue: Waiting<S>[] = [];
  private readonly accepts: PendingAccept<D>[] = [];
  /** Set when the network went away: accepts complete at once with it. */
  private downStatus: NtStatus | undefined;
  private closed = false;
  /** Conditional accept: requests WskInspectEvent pended (WskInspectPend), by SerialNumber. */
  private readonly pended = new Set<number>();
  private readonly inspectKey = nextInspectKey++;
  readonly stats: ListenStats = { accepted: 0, rejected: 0, overflowed: 0, resetOnClose: 0, inspectRejected: 0, inspectAborted: 0 };

  constructor(
    private readonly host: ListenHost<S, D>,
    private readonly owner: ListenOwner<S, D>,
    readonly port: number,
    /** The addresses listened on (one per local address of the family, or the bound one). */
    readonly addrs: readonly string[],
    public backlog: number,
  ) {}

  /** Connections established and waiting for WskAccept. */
  get waiting(): number {
    return this.queue.length;
  }

  /** The engine's view of the accept queue (Stack.listen's acceptQueue): full at the backlog. */
  get queued(): number {
    return this.queue.length;
  }
  get capacity(): number {
    return this.backlog;
  }

  /** Options set on the listening socket apply to connections whose SYN comes later. */
  setProfile(profile: Profile): void {
    for (const l of this.listeners) l.profile = profile;
  }

  /** WskAccept IRPs waiting for a connection. */
  get pendingAccepts(): number {
    return this.accepts.length;
  }

  /**
   * Passive OPEN on every address (RFC 9293 §3.10.1). One engine listener per address keeps
   * the family right: an AF_INET socket never answers an IPv6 SYN.
   */
  start(profile: Profile): { error: string; detail: string } | undefined {
    for (const addr of this.addrs) {
      const l = this.host.stack.listen({
        port: this.port,
        addr,
        profile,
        onAccept: (c) => this.established(c),
        acceptQueue: this,
        ...(this.owner.conditionalAccept ? { inspect: (r: SynRequest) => this.inspect(r), onAbort: (id: number) => this.aborted(id) } : {}),
      });
      if (!(l instanceof Listener)) {
        for (const x of this.listeners) x.close();
        this.listeners.length = 0;
        return l;
      }
      this.listeners.push(l);
    }
    return undefined;
  }

  /** A passively opened connection reached ESTABLISHED. */
  private established(conn: Connection): void {
    if (this.closed) {
      conn.abort(this.host.now());
      return;
    }
    const w: Waiting<S> = {
      socket: this.host.adopt(conn, this.owner),
      local: sockaddrOf(this.owner.family, conn.localAddr, conn.localPort),
      remote: sockaddrOf(this.owner.family, conn.remoteAddr, conn.remotePort),
    };
    // A pending WskAccept takes precedence over WskAcceptEvent (WskAccept page).
    const a = this.accepts.shift();
    if (a) {
      this.give(w, a);
      completePending(a.irp, STATUS_SUCCESS, w.socket);
      return;
    }
    if (this.acceptEventOn()) {
      this.indicate(w);
      return;
    }
    if (this.queue.length >= this.backlog) {
      // The engine keeps the queue at the backlog (its acceptQueueFull policy); only a
      // backlog lowered meanwhile gets here: the connection is reset.
      this.stats.overflowed++;
      this.host.discard(w.socket);
      return;
    }
    this.queue.push(w);
  }

  private acceptEventOn(): boolean {
    return (this.owner.eventMask & WSK_EVENT_ACCEPT) !== 0 && typeof this.owner.clientDispatch?.WskAcceptEvent === "function";
  }

  /** WskAcceptEvent for one connection; the socket is closed for the application unless it takes it. */
  private indicate(w: Waiting<S>): void {
    const ctx: { value?: unknown } = {};
    const disp: { value?: D | null } = {};
    // The addresses are valid only during the call (WskAcceptEvent page): copies.
    const st = this.owner.clientDispatch!.WskAcceptEvent!(this.owner.context, 0, { ...w.local }, { ...w.remote }, w.socket, ctx, disp);
    if (st >>> 0 === STATUS_SUCCESS) {
      this.stats.accepted++;
      this.host.handOver(w.socket, ctx.value, disp.value, this.owner.eventMask & INHERITED_EVENTS);
    } else {
      // STATUS_REQUEST_NOT_ACCEPTED: "the WSK subsystem will close the accepted socket on
      // behalf of the WSK application". Any other value is treated the same way.
      this.stats.rejected++;
      this.host.discard(w.socket);
    }
  }

  private give(w: Waiting<S>, a: PendingAccept<D>): void {
    this.stats.accepted++;
    if (a.local) Object.assign(a.local, w.local);
    if (a.remote) Object.assign(a.remote, w.remote);
    this.host.handOver(w.socket, a.context, a.dispatch, this.owner.eventMask & INHERITED_EVENTS);
  }

  /** WskAccept on this listening socket (the IRP is already in flight). */
  accept(
    Flags: number,
    context: unknown,
    dispatch: D | null | undefined,
    local: Record<string, unknown> | null | undefined,
    remote: Record<string, unknown> | null | undefined,
    irp: Irp,
  ): NtStatus {
    // Flags is reserved: "A WSK application must set this parameter to zero."
    if (Flags !== 0) return completeAtOnce(irp, STATUS_INVALID_PARAMETER);
    if (this.downStatus !== undefined) return completeAtOnce(irp, this.downStatus);
    const a: PendingAccept<D> = { irp, context, dispatch, local, remote };
    const w = this.queue.shift();
    if (w) {
      this.give(w, a);
      return completeAtOnce(irp, STATUS_SUCCESS, w.socket);
    }
    this.accepts.push(a);
    return pendIrp(irp, (cancelled) => {
      const i = this.accepts.indexOf(a);
      if (i >= 0) this.accepts.splice(i, 1);
      completeCancelled(cancelled);
    });
  }

  /**
   * Conditional accept (SO_CONDITIONAL_ACCEPT): a SYN arrived and nothing was sent yet.
   * WskInspectEvent decides: WskInspectAccept answers it (SYN-ACK; the connection is handed
   * out as usual once established), WskInspectReject refuses it (RST,ACK: the client sees
   * its connect refused, as WSAAccept's CF_REJECT does), WskInspectPend leaves it unanswered
   * until WskInspectComplete. Any other value is taken as a rejection. Without a
   * WskInspectEvent callback every request is accepted.
   */
  private inspect(r: SynRequest): SynVerdict {
    const fn = this.owner.clientDispatch?.WskInspectEvent;
    if (typeof fn !== "function") return "accept";
    const local = sockaddrOf(this.owner.family, r.localAddr, r.localPort);
    const remote = sockaddrOf(this.owner.family, r.remoteAddr, r.remotePort);
    // The structures are valid only during the call: the application copies the ID to pend (WSK_INSPECT_ID page).
    const action = fn(this.owner.context, local, remote, { Key: this.inspectKey, SerialNumber: r.id });
    if (action === WskInspectAccept) return "accept";
    if (action === WskInspectPend) {
      this.pended.add(r.id);
      return "hold";
    }
    this.stats.inspectRejected++;
    return "reject";
  }

  /**
   * A request WskInspectEvent accepted or pended was dropped before its handshake completed
   * (the peer reset it, its SYN-ACKs went unanswered, or newer SYNs pushed it out):
   * WskAbortEvent (PFN_WSK_ABORT_EVENT page), never after the socket closed.
   */
  private aborted(id: number): void {
    this.pended.delete(id);
    if (this.closed) return;
    this.stats.inspectAborted++;
    this.owner.clientDispatch?.WskAbortEvent?.(this.owner.context, { Key: this.inspectKey, SerialNumber: id });
  }

  /**
   * WskInspectComplete: the decision on a request WskInspectEvent pended. STATUS_SUCCESS at
   * once (the SYN-ACK or the RST is sent now). The page names no status for an ID that is
   * not pending (never pended, completed already, or aborted): STATUS_INVALID_PARAMETER, as
   * for an Action other than WskInspectAccept or WskInspectReject.
   */
  inspectComplete(InspectID: WSK_INSPECT_ID | null | undefined, Action: WSK_INSPECT_ACTION, irp: Irp): NtStatus {
    if (!this.owner.conditionalAccept) return completeAtOnce(irp, STATUS_INVALID_DEVICE_STATE);
    if (Action !== WskInspectAccept && Action !== WskInspectReject) return completeAtOnce(irp, STATUS_INVALID_PARAMETER);
    const id = InspectID?.SerialNumber;
    if (InspectID?.Key !== this.inspectKey || id === undefined || !this.pended.delete(id)) return completeAtOnce(irp, STATUS_INVALID_PARAMETER);
    const now = this.host.now();
    if (Action === WskInspectReject) this.stats.inspectRejected++;
    for (const l of this.listeners) if (l.decide(id, Action === WskInspectAccept ? "accept" : "reject", now)) break;
    return completeAtOnce(irp, STATUS_SUCCESS);
  }

  /** WSK_EVENT_ACCEPT was just enabled: connections already waiting are indicated now. */
  acceptEventEnabled(): void {
    while (this.queue.length > 0 && this.accepts.length === 0 && this.acceptEventOn() && !this.closed) this.indicate(this.queue.shift()!);
  }

  /**
   * WskCloseSocket on the listening socket: stop listening, complete pending WskAccept IRPs
   * with STATUS_CANCELLED, and reset every connection not yet accepted: those waiting in
   * the queue and those still in SYN-RECEIVED.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const now = this.host.now();
    // Requests held for WskInspectComplete are refused (RST,ACK), like the half-open ones below.
    for (const l of this.listeners) l.closeRefusingHeld(now);
    this.pended.clear();
    const accepts = this.accepts.splice(0);
    for (const a of accepts) completePending(a.irp, STATUS_CANCELLED, 0);
    for (const w of this.queue.splice(0)) {
      this.stats.resetOnClose++;
      this.host.discard(w.socket);
    }
    const halfOpen = this.listeners.flatMap((l) => [...l.halfOpen]);
    for (const c of halfOpen) {
      this.stats.resetOnClose++;
      c.abort(now); // RFC 9293 §3.10.5 ABORT in SYN-RECEIVED: <SEQ=SND.NXT><CTL=RST>
    }
  }

  /**
   * The network under the stack went away (WskProvider.failAll): pending accepts complete
   * with `status`, waiting connections are closed, and later WskAccept calls fail at once.
   */
  fail(status: NtStatus): void {
    this.downStatus = status;
    for (const a of this.accepts.splice(0)) completePending(a.irp, status, 0);
    for (const w of this.queue.splice(0)) this.host.discard(w.socket);
  }
}
