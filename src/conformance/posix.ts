// POSIX socket semantics, as packetdrill scripts call them, on top of the WSK facade.
//
// A POSIX socket is a WSK stream socket (WSK_FLAG_STREAM_SOCKET), which, like a POSIX one,
// becomes either a connection or a listener. Every call goes through the provider's
// dispatch tables with real IRPs: socket -> WskSocket, bind -> WskBind, connect ->
// (implicit WskBind +) WskConnect, listen -> (implicit WskBind +) WskListen, accept ->
// WskAccept, read/recv -> WskReceive, write/send -> WskSend, close -> WskDisconnect and/or
// WskCloseSocket, socket options -> WskControlSocket. What POSIX adds is emulated here and
// written down:
// - Non-blocking sockets: a call whose IRP pends returns at once (connect: -1 EINPROGRESS,
//   the IRP stays in flight; read: the IRP is cancelled and the call fails with EAGAIN).
// - A kernel send buffer: write() returns the byte count as soon as WSK accepted the data;
//   the WskSend IRP (which completes when the peer acknowledged it) runs on in the background.
// - close() is graceful: WskDisconnect (FIN after queued data), and WskCloseSocket once the
//   connection has finished or reached TIME-WAIT (a WskCloseSocket earlier would abort it
//   with RST). SO_LINGER {1, 0}: abortive close (RST). In SYN-SENT, WskCloseSocket cancels
//   the attempt and nothing is sent (RFC 9293 §3.10.4, CLOSE in SYN-SENT: delete the TCB).
// - SO_ERROR: the socket's pending error, read (and cleared) once: the errno of a
//   non-blocking connect that failed, or why an established connection ended abnormally
//   (RST: ECONNRESET, Linux EPIPE in CLOSE-WAIT; retransmission give-up: ETIMEDOUT). A read
//   or write that reports the error clears it too, as the kernels do (sock_error()).
// - shutdown(): SHUT_WR = graceful WskDisconnect (FIN after queued data) whose IRP runs on in
//   the background; SHUT_RD is the socket layer's alone (WSK has no half-close of the
//   receive side): later reads return 0 once nothing is buffered.
// - listen(fd, backlog): the accept queue holds what the OS's backlog allows (`acceptQueue`
//   below), set with SYNACK_SO_BACKLOG before WskListen.
// - accept(): one WskAccept; a non-blocking accept with nothing queued fails with EAGAIN
//   (the IRP is cancelled). The accepted socket gets the fd the script names.
// - recv(MSG_PEEK): WSK has no peek; the socket layer reports what the connection holds
//   without taking it (the scripts check only the count).
// - errno values come from the facade's NTSTATUS -> errno table (`toErrno`), except where
//   the OS a profile imitates reports an ICMP cause differently; `icmpErrno` below says how.
//
// Why this file is about 670 lines: it is one socket layer, and each of the rules above is a
// few lines of PosixSockets that reads the same per-socket state (the WSK socket, its pending
// IRPs, SO_ERROR, the shut-down sides, the accept queue); split by call, every part would
// reach back into that state. Before PosixSockets (its first 190 lines) come this header,
// the result types, the per-socket record and the per-OS tables (accept queue, ICMP errno).
import type { Connection } from "../../stack/tcp/connection.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import type { TcpState } from "../../stack/tcp/state.js";
import type { Stack } from "../../stack/stack.js";
import { IPPROTO_TCP as WSK_IPPROTO_TCP, SOL_SOCKET, TCP_MAXSEG, TCP_NODELAY, WSK_FLAG_ABORTIVE, WSK_FLAG_STREAM_SOCKET, WskGetOption, WskSetOption } from "../wsk/constants.js";
import { IoAllocateIrp, IoCancelIrp, IoSetCompletionRoutine, type Irp } from "../wsk/irp.js";
import { STATUS_CANCELLED, STATUS_INVALID_DEVICE_STATE, STATUS_MORE_PROCESSING_REQUIRED, STATUS_PENDING, STATUS_SUCCESS, toErrno, type NtStatus } from "../wsk/ntstatus.js";
import { SYNACK_SO_BACKLOG, SYNACK_SO_PROFILE_OVERRIDES, type WSK_PROVIDER_NPI, type WSK_SOCKET, type WskProvider } from "../wsk/provider.js";
import type { WSK_PROVIDER_STREAM_DISPATCH } from "../wsk/provider.js";
import { AF_INET, AF_INET6, IPPROTO_TCP, SOCK_STREAM, sockaddrIn, sockaddrIn6 } from "../wsk/sockaddr.js";

/** The result of a system call as a script sees it. */
export interface SysResult {
  ret: number;
  errno?: string;
  /** getsockopt: the value written to the option buffer. */
  value?: number | string;
}

/** A call that did not finish at once (a blocking call in progress). */
export interface PendingCall {
  /** Set when the call returns: result and virtual time in ms. */
  done?: { result: SysResult; tMs: number };
}

export type CallOutcome = { kind: "done"; result: SysResult } | { kind: "pending"; call: PendingCall } | { kind: "unsupported"; reason: string };

interface TrackedIrp {
  irp: Irp;
  status?: NtStatus;
  information?: unknown;
  tMs?: number;
  onDone?: () => void;
}

export interface PosixEnv {
  stack: Stack;
  provider: WskProvider;
  npi: WSK_PROVIDER_NPI;
  nowMs: () => number;
  version: 4 | 6;
  localAddr: string;
  remoteAddr: string;
  /** packetdrill --bind_port / --connect_port (8080). */
  bindPort: number;
  connectPort: number;
  /** The OS the profile imitates (fcntl flag values, errno choices, TCP_MAXSEG). */
  os: "linux" | "freebsd";
  /**
   * getsockopt(TCP_MAXSEG) before the handshake: "user" = the user's TCP_MAXSEG if set, else
   * 536 (current Linux, FreeBSD); "default" = always 536, the initial mss_cache (the Linux
   * of nplab's 2013 copies, before user_mss was reported in CLOSE/LISTEN).
   */
  maxsegBeforeConnect: "user" | "default";
  profileName: ProfileName;
  /** Overrides from sysctls, applied to each new socket. */
  socketOverrides: () => ProfileOverrides;
  rcvBufBytes: () => number;
  sndBufBytes: () => number;
}

const O_RDWR = 2;
const O_NONBLOCK_LINUX = 0x800;
const O_NONBLOCK_FREEBSD = 0x4;

export class PosixSocket {
  nonblocking = false;
  bound = false;
  conn: Connection | undefined;
  connectIrp: TrackedIrp | undefined;
  soError: string | undefined;
  linger0 = false;
  closing = false;
  closed = false;
  /** shutdown() directions done (POSIX SHUT_RD / SHUT_WR). */
  shutRd = false;
  shutWr = false;
  /** The TCB state at the last look (errno choices depend on the state a RST hit). */
  lastState: TcpState | undefined;
  /** The end of the established connection was noted (its error, if any, went to soError). */
  endNoted = false;
  /** listen() succeeded: the socket is a listener. */
  listening = false;
  /** The socket came from accept(): its connection was established when the script got it. */
  accepted = false;
  constructor(readonly wsk: WSK_SOCKET) {}

  /** The stream dispatch table (WskListen, WskAccept), as a C caller would cast Dispatch. */
  get stream(): WSK_PROVIDER_STREAM_DISPATCH {
    return this.wsk.Dispatch as unknown as WSK_PROVIDER_STREAM_DISPATCH;
  }
}

/**
 * How many established connections a listen(fd, backlog) queue holds before the OS turns
 * more away. Linux: sk_acceptq_is_full() is `sk_ack_backlog > sk_max_ack_backlog`, so
 * backlog + 1 (backlog capped by net.core.somaxconn, 4096). FreeBSD: sonewconn() refuses
 * once `sol_qlen > 3 * sol_qlimit / 2`, so 3 * backlog / 2 (rounded down) + 1 (backlog
 * capped by kern.ipc.soacceptqueue, 128).
 */
export function acceptQueue(os: "linux" | "freebsd", backlog: number): number {
  const b = Math.max(0, backlog);
  return os === "linux" ? Math.min(b, 4096) + 1 : Math.floor((3 * Math.min(b, 128)) / 2) + 1;
}

/** The ICMP cause of an outcome, if it has one. */
function icmpOf(o: Outcome | undefined): { version: 4 | 6; type: number; code: number } | undefined {
  if (!o) return undefined;
  if (o.kind === "unreachable") return o.icmp;
  if (o.kind === "timedOut") return o.softError?.icmp;
  return undefined;
}

/**
 * The errno an OS reports for a connect aborted by an ICMP error.
 * - Linux: icmp_err_convert[] (net/ipv4/icmp.c) and icmpv6_err_convert() (net/ipv6/icmp.c).
 * - FreeBSD: tcp_ctlinput drops SYN-SENT with ECONNREFUSED for port / protocol unreachable
 *   and the administratively-prohibited codes, EHOSTUNREACH for time exceeded (the
 *   rcv-icmp scripts of its suite).
 * undefined = the facade's generic mapping applies.
 */
export function icmpErrno(os: "linux" | "freebsd", icmp: { version: 4 | 6; type: number; code: number }): string | undefined {
  const { version: v, type, code } = icmp;
  if (os === "freebsd") {
    if (v === 4) {
      if (type === 3 && [2, 3, 9, 10, 13].includes(code)) return "ECONNREFUSED";
      if (type === 11) return "EHOSTUNREACH";
      if (type === 12) return "ENOPROTOOPT";
      return undefined;
    }
    if (type === 1 && [1, 4, 5, 6].includes(code)) return "ECONNREFUSED";
    if (type === 4 && code === 1) return "ECONNREFUSED";
    if (type === 3) return "EHOSTUNREACH";
    return undefined;
  }
  if (v === 4) {
    if (type === 3) {
      const t = ["ENETUNREACH", "EHOSTUNREACH", "ENOPROTOOPT", "ECONNREFUSED", "EMSGSIZE", "EOPNOTSUPP", "ENETUNREACH", "EHOSTDOWN", "ENONET", "ENETUNREACH", "EHOSTUNREACH", "ENETUNREACH", "EHOSTUNREACH", "EHOSTUNREACH", "EHOSTUNREACH", "EHOSTUNREACH"];
      return t[code];
    }
    if (type === 11) return "EHOSTUNREACH";
    if (type === 12) return "EPROTO";
    return undefined;
  }
  if (type === 1) return ["ENETUNREACH", "EACCES", "EHOSTUNREACH", "EHOSTUNREACH", "ECONNREFUSED", "EACCES", "EACCES"][code];
  if (type === 3) return "EHOSTUNREACH";
  if (type === 4) return "EPROTO";
  return undefined;
}

export class PosixSockets {
  private readonly fds = new Map<number, PosixSocket>();

  constructor(private readonly env: PosixEnv) {}

  private newIrp(onDone?: () => void): TrackedIrp {
    const t: TrackedIrp = { irp: IoAllocateIrp(), onDone };
    IoSetCompletionRoutine(
      t.irp,
      (_d, irp) => {
        t.status = irp.IoStatus.Status >>> 0;
        t.information = irp.IoStatus.Information;
        t.tMs = this.env.nowMs();
        t.onDone?.();
        return STATUS_MORE_PROCESSING_REQUIRED;
      },
      undefined,
    );
    return t;
  }

  private errnoOf(status: NtStatus, outcome?: Outcome): string {
    const icmp = icmpOf(outcome);
    if (icmp) {
      const e = icmpErrno(this.env.os, icmp);
      if (e) return e;
    }
    return toErrno(status).name;
  }

  socketByFd(fd: number): PosixSocket | undefined {
    return this.fds.get(fd);
  }

  private last: PosixSocket | undefined;

  /** The sockets the script holds (open file descriptors). */
  openSockets(): PosixSocket[] {
    return [...this.fds.values()];
  }

  /**
   * The local port of a script whose first packet comes from the peer: a listening socket's,
   * else that of a socket bound but never connected (the CLOSED-state scripts).
   */
  passivePort(): number | undefined {
    const candidates = [...this.fds.values()].filter((s) => s.bound && !s.connectIrp);
    for (const s of [...candidates.filter((c) => c.listening), ...candidates]) {
      const la: Record<string, unknown> = {};
      const t = this.newIrp();
      if (s.wsk.Dispatch.WskGetLocalAddress(s.wsk, la, t.irp) === STATUS_SUCCESS) return (la.sin_port ?? la.sin6_port) as number;
    }
    return undefined;
  }

  /** The lowest fd no socket holds (for an accept() the script expects to fail). */
  freeFd(): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  /** The most recently created socket, even after close() (for tcp_info snapshots). */
  lastSocket(): PosixSocket | undefined {
    return this.last;
  }

  /**
   * Runs after every event (inbound packet, timer, system call): notes how connections
   * ended (SO_ERROR), applies SHUT_RD on FreeBSD, and closes sockets whose close() was
   * waiting for the connection to finish.
   */
  pump(cause?: { rstDelivered?: boolean }): void {
    this.pumpPeeks();
    for (const [fd, s] of this.fds) {
      this.noteEnd(s, cause?.rstDelivered === true);
      if (s.shutRd && this.env.os === "freebsd") this.discardReceived(s);
      if (!s.closing) continue;
      const st = s.conn?.state;
      if (st === undefined || st === "CLOSED" || st === "TIME-WAIT") {
        const t = this.newIrp();
        s.wsk.Dispatch.WskCloseSocket(s.wsk, t.irp);
        s.closed = true;
        this.fds.delete(fd);
      }
    }
  }

  /** True once the connect IRP succeeded (the connection reached ESTABLISHED), or for an accepted socket. */
  private wasConnected(s: PosixSocket): boolean {
    return s.accepted || s.connectIrp?.status === STATUS_SUCCESS;
  }

  /**
   * The socket layer's view of a connection ending: an abnormal end of an established
   * connection leaves a pending error (so_error / sk_err). The provider says why
   * (STATUS_CONNECTION_RESET, STATUS_IO_TIMEOUT, ...); a graceful end leaves none.
   */
  private noteEnd(s: PosixSocket, rstDelivered: boolean): void {
    const c = s.conn;
    if (!c || s.endNoted) return;
    if (c.state !== "CLOSED") {
      s.lastState = c.state;
      return;
    }
    // A connect that failed reports through its IRP (and SO_ERROR for a non-blocking one).
    if (!this.wasConnected(s)) return;
    s.endNoted = true;
    const status = this.env.provider.socketEndStatus(s.wsk);
    if (status === undefined || status === STATUS_SUCCESS) {
      // RFC 9293 §3.10.7.4 closes CLOSING and LAST-ACK on a RST without signalling the user,
      // and the engine reports a normal end. The kernels still set the error: FreeBSD
      // tcp_input ECONNRESET for ESTABLISHED through LAST-ACK, Linux tcp_reset() for every
      // state but CLOSE-WAIT (EPIPE) and CLOSE. The RST is known here because the connection
      // ended while the runner delivered one.
      if (rstDelivered && (s.lastState === "CLOSING" || s.lastState === "LAST-ACK")) s.soError = "ECONNRESET";
      return;
    }
    if (c.outcome?.kind === "reset") {
      // RST in a synchronised state (RFC 9293 §3.10.7.4: "signal the user 'connection
      // reset'"). FreeBSD tcp_input: ECONNRESET in ESTABLISHED through LAST-ACK. Linux
      // tcp_reset(): EPIPE in CLOSE-WAIT, ECONNRESET otherwise.
      s.soError = this.env.os === "linux" && s.lastState === "CLOSE-WAIT" ? "EPIPE" : "ECONNRESET";
      return;
    }
    s.soError = this.errnoOf(status, c.outcome);
  }

  /** FreeBSD SHUT_RD: sorflush() drops what is buffered and tcp_input drops what comes later. */
  private discardReceived(s: PosixSocket): void {
    const c = s.conn;
    if (!c || c.rcvBuffered === 0) return;
    const n = c.rcvBuffered;
    const t = this.newIrp();
    s.wsk.Dispatch.WskReceive(s.wsk, { Mdl: new Uint8Array(n), Offset: 0, Length: n }, 0, t.irp);
    if (t.status === undefined) IoCancelIrp(t.irp);
  }

  private control(s: PosixSocket, type: typeof WskSetOption | typeof WskGetOption, level: number, code: number, input: unknown): { status: NtStatus; value?: unknown } {
    const out: { value?: unknown } = {};
    const status = s.wsk.Dispatch.WskControlSocket(s.wsk, type, code, level, 4, input, 4, out, {}, null);
    return { status: status >>> 0, value: out.value };
  }

  socket(scriptFd: number, family: "default" | number, type: number): CallOutcome {
    if (type !== SOCK_STREAM) return { kind: "unsupported", reason: "only SOCK_STREAM sockets are supported" };
    const af = family === "default" ? (this.env.version === 4 ? AF_INET : AF_INET6) : family;
    const t = this.newIrp();
    const st = this.env.npi.Dispatch.WskSocket(this.env.npi.Client, af, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, null, null, null, null, null, t.irp);
    if (st !== STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: toErrno(st).name } };
    const s = new PosixSocket(t.information as WSK_SOCKET);
    const ov = this.control(s, WskSetOption, SOL_SOCKET, SYNACK_SO_PROFILE_OVERRIDES, this.env.socketOverrides());
    if (ov.status !== STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: toErrno(ov.status).name } };
    this.fds.set(scriptFd, s);
    this.last = s;
    return { kind: "done", result: { ret: scriptFd } };
  }

  private local(port: number) {
    return this.env.version === 4 ? sockaddrIn(this.env.localAddr, port) : sockaddrIn6(this.env.localAddr, port);
  }

  bind(s: PosixSocket): CallOutcome {
    const t = this.newIrp();
    const st = s.wsk.Dispatch.WskBind(s.wsk, this.local(this.env.bindPort), 0, t.irp) >>> 0;
    if (st !== STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: st === STATUS_INVALID_DEVICE_STATE ? "EINVAL" : toErrno(st).name } };
    s.bound = true;
    return { kind: "done", result: { ret: 0 } };
  }

  /** The implicit bind of connect() and listen() on an unbound socket: the wildcard, an ephemeral port. */
  private implicitBind(s: PosixSocket): CallOutcome | undefined {
    if (s.bound) return undefined;
    const t = this.newIrp();
    const any = this.env.version === 4 ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0);
    const st = s.wsk.Dispatch.WskBind(s.wsk, any, 0, t.irp) >>> 0;
    if (st !== STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: toErrno(st).name } };
    s.bound = true;
    return undefined;
  }

  /**
   * listen(fd, backlog). Unbound: an ephemeral port first (Linux inet_listen /
   * inet_csk_get_port, FreeBSD in_pcbbind). Listening again only changes the backlog. A
   * socket that connected gets EINVAL on both kernels (not CLOSED or LISTEN).
   */
  listen(s: PosixSocket, backlog: number): CallOutcome {
    if (s.conn || s.connectIrp) return { kind: "done", result: { ret: -1, errno: "EINVAL" } };
    const bound = this.implicitBind(s);
    if (bound) return bound;
    const bl = this.control(s, WskSetOption, SOL_SOCKET, SYNACK_SO_BACKLOG, acceptQueue(this.env.os, backlog));
    if (bl.status !== STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: toErrno(bl.status).name } };
    const t = this.newIrp();
    const st = s.stream.WskListen(s.wsk, t.irp) >>> 0;
    if (st !== STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: st === STATUS_INVALID_DEVICE_STATE ? "EINVAL" : toErrno(st).name } };
    s.listening = true;
    return { kind: "done", result: { ret: 0 } };
  }

  /** accept(fd, ...) = newFd: one WskAccept; the accepted socket takes the fd the script names. */
  accept(s: PosixSocket, newFd: number, blocking: boolean): CallOutcome {
    if (!s.listening) return { kind: "done", result: { ret: -1, errno: "EINVAL" } };
    const call: PendingCall = {};
    const adopt = (t: TrackedIrp): SysResult => {
      if (t.status !== STATUS_SUCCESS) return { ret: -1, errno: toErrno(t.status!).name };
      const a = new PosixSocket(t.information as WSK_SOCKET);
      a.bound = true;
      a.accepted = true;
      for (const c of this.env.stack.connections()) if (c.owner === a.wsk) a.conn = c;
      this.fds.set(newFd, a);
      this.last = a;
      return { ret: newFd };
    };
    const t = this.newIrp(() => {
      call.done = { result: adopt(t), tMs: t.tMs! };
    });
    const st = s.stream.WskAccept(s.wsk, 0, null, null, null, null, t.irp) >>> 0;
    if (st !== STATUS_PENDING) return { kind: "done", result: call.done?.result ?? adopt(t) };
    if (!blocking) {
      // Nothing queued: a non-blocking accept fails with EAGAIN; take the IRP back.
      t.onDone = undefined;
      IoCancelIrp(t.irp);
      return { kind: "done", result: { ret: -1, errno: "EAGAIN" } };
    }
    return { kind: "pending", call };
  }

  private readonly peeks: Array<{ s: PosixSocket; len: number; call: PendingCall }> = [];

  /**
   * recv(fd, ..., len, MSG_PEEK): what the connection holds, up to len, left in place. WSK
   * has no peek, so the socket layer looks at the connection's receive queue itself.
   */
  peek(s: PosixSocket, len: number, blocking: boolean): CallOutcome {
    const r = this.peekNow(s, len);
    if (r) return { kind: "done", result: r };
    if (!blocking) return { kind: "done", result: { ret: -1, errno: "EAGAIN" } };
    const call: PendingCall = {};
    this.peeks.push({ s, len, call });
    return { kind: "pending", call };
  }

  private peekNow(s: PosixSocket, len: number): SysResult | undefined {
    const c = s.conn;
    if (!c || !this.wasConnected(s)) return { ret: -1, errno: "ENOTCONN" };
    if (c.rcvBuffered > 0) return { ret: Math.min(len, c.rcvBuffered) };
    // Nothing buffered and nothing more will come (the peer's FIN, or the end): 0.
    if (c.state === "CLOSED" || c.state === "CLOSE-WAIT" || c.state === "LAST-ACK" || c.state === "CLOSING" || c.state === "TIME-WAIT") return { ret: 0 };
    return undefined;
  }

  private pumpPeeks(): void {
    for (let i = 0; i < this.peeks.length; ) {
      const p = this.peeks[i]!;
      const r = this.peekNow(p.s, p.len);
      if (r) {
        p.call.done = { result: r, tMs: this.env.nowMs() };
        this.peeks.splice(i, 1);
      } else i++;
    }
  }

  connect(s: PosixSocket, blocking: boolean): CallOutcome {
    if (s.connectIrp && s.connectIrp.status === undefined) return { kind: "done", result: { ret: -1, errno: "EALREADY" } };
    if (s.conn && s.conn.state !== "CLOSED" && s.connectIrp?.status === STATUS_SUCCESS) return { kind: "done", result: { ret: -1, errno: "EISCONN" } };
    // connect() on an unbound socket binds an ephemeral port first (implicit bind).
    const bound = this.implicitBind(s);
    if (bound) return bound;
    const remote = this.env.version === 4 ? sockaddrIn(this.env.remoteAddr, this.env.connectPort) : sockaddrIn6(this.env.remoteAddr, this.env.connectPort);
    const call: PendingCall = {};
    const t = this.newIrp(() => {
      const status = t.status!;
      let result: SysResult;
      if (status === STATUS_SUCCESS) result = { ret: 0 };
      else result = { ret: -1, errno: this.errnoOf(status, s.conn?.outcome) };
      // A non-blocking connect reports its failure through SO_ERROR; a blocking one returns it.
      if (status !== STATUS_SUCCESS && status !== STATUS_CANCELLED && !blocking) s.soError = result.errno;
      call.done = { result, tMs: t.tMs! };
    });
    s.connectIrp = t;
    const st = s.wsk.Dispatch.WskConnect(s.wsk, remote, 0, t.irp) >>> 0;
    for (const c of this.env.stack.connections()) if (c.owner === s.wsk) s.conn = c;
    if (st !== STATUS_PENDING) return { kind: "done", result: call.done?.result ?? { ret: -1, errno: toErrno(st).name } };
    if (!blocking) return { kind: "done", result: { ret: -1, errno: "EINPROGRESS" } };
    return { kind: "pending", call };
  }

  /** fcntl(F_GETFL) / fcntl(F_SETFL, flags). */
  fcntl(s: PosixSocket, cmd: string, flags: string[]): CallOutcome {
    const nb = this.env.os === "freebsd" ? O_NONBLOCK_FREEBSD : O_NONBLOCK_LINUX;
    if (cmd === "F_GETFL") return { kind: "done", result: { ret: O_RDWR | (s.nonblocking ? nb : 0) } };
    if (cmd === "F_SETFL") {
      s.nonblocking = flags.includes("O_NONBLOCK");
      return { kind: "done", result: { ret: 0 } };
    }
    return { kind: "unsupported", reason: `fcntl ${cmd} not supported` };
  }

  /** TCP_MAXSEG as the OS reports it: the MSS in use, less the timestamp option on Linux. */
  private maxseg(s: PosixSocket): number {
    const c = s.conn;
    if (c && c.state !== "SYN-SENT" && c.state !== "CLOSED") {
      return c.sndMss - (this.env.os === "linux" && c.tsEnabled ? 12 : 0);
    }
    const eff = this.control(s, WskGetOption, SOL_SOCKET, SYNACK_SO_PROFILE_OVERRIDES, undefined).value as { mssOverride?: number } | undefined;
    // Before the handshake the kernels report the user's TCP_MAXSEG or the default 536
    // (RFC 9293 §3.7.1 MUST-15); Linux before "tcp: return user_mss for TCP_MAXSEG in
    // CLOSE/LISTEN state" always reported mss_cache, 536 (nplab's 2013 copies).
    if (eff?.mssOverride && this.env.maxsegBeforeConnect === "user") return eff.mssOverride;
    return 536;
  }

  getsockopt(s: PosixSocket, level: string, name: string): CallOutcome {
    const key = `${level}:${name}`;
    switch (key) {
      case "SOL_SOCKET:SO_ERROR": {
        const e = s.soError;
        s.soError = undefined;
        return { kind: "done", result: { ret: 0, value: e ?? 0 } };
      }
      case "SOL_SOCKET:SO_RCVBUF":
        // The connection's buffer once it has one (FreeBSD rounds it to the MSS, tcp_mss()).
        return { kind: "done", result: { ret: 0, value: s.conn ? s.conn.profile.rcvBufBytes : this.env.rcvBufBytes() } };
      case "SOL_SOCKET:SO_SNDBUF":
        return { kind: "done", result: { ret: 0, value: this.env.sndBufBytes() } };
      case "SOL_TCP:TCP_MAXSEG":
      case "IPPROTO_TCP:TCP_MAXSEG":
        return { kind: "done", result: { ret: 0, value: this.maxseg(s) } };
      case "SOL_TCP:TCP_NODELAY":
      case "IPPROTO_TCP:TCP_NODELAY": {
        const r = this.control(s, WskGetOption, WSK_IPPROTO_TCP, TCP_NODELAY, undefined);
        return { kind: "done", result: { ret: 0, value: Number(r.value ?? 0) } };
      }
    }
    return { kind: "unsupported", reason: `getsockopt ${name} not supported` };
  }

  setsockopt(s: PosixSocket, level: string, name: string, value: number | { onoff: number; linger: number }): CallOutcome {
    const key = `${level}:${name}`;
    const num = typeof value === "number" ? value : NaN;
    const ok = (st: NtStatus): CallOutcome => ({ kind: "done", result: st === STATUS_SUCCESS ? { ret: 0 } : { ret: -1, errno: st === STATUS_INVALID_DEVICE_STATE ? "EINVAL" : toErrno(st).name } });
    switch (key) {
      case "SOL_TCP:TCP_NODELAY":
      case "IPPROTO_TCP:TCP_NODELAY":
        return ok(this.control(s, WskSetOption, WSK_IPPROTO_TCP, TCP_NODELAY, num).status);
      case "SOL_TCP:TCP_MAXSEG":
      case "IPPROTO_TCP:TCP_MAXSEG":
        return ok(this.control(s, WskSetOption, WSK_IPPROTO_TCP, TCP_MAXSEG, num).status);
      case "SOL_TCP:TCP_NOOPT":
      case "IPPROTO_TCP:TCP_NOOPT":
        // FreeBSD TCP_NOOPT: send no TCP options at all (profile knob noOptions).
        return ok(this.control(s, WskSetOption, SOL_SOCKET, SYNACK_SO_PROFILE_OVERRIDES, { noOptions: num !== 0 }).status);
      case "SOL_TCP:TCP_KEEPINIT":
      case "IPPROTO_TCP:TCP_KEEPINIT":
        // FreeBSD TCP_KEEPINIT, in seconds: the limit on the whole connection attempt.
        return ok(this.control(s, WskSetOption, SOL_SOCKET, SYNACK_SO_PROFILE_OVERRIDES, { connectTimeoutMs: num * 1000 }).status);
      case "SOL_SOCKET:SO_LINGER":
        if (typeof value === "number") return { kind: "unsupported", reason: "SO_LINGER needs {l_onoff, l_linger}" };
        if (value.onoff !== 0 && value.linger !== 0) return { kind: "unsupported", reason: "SO_LINGER with a non-zero linger time" };
        s.linger0 = value.onoff !== 0;
        return { kind: "done", result: { ret: 0 } };
      case "SOL_SOCKET:SO_REUSEADDR":
      case "SOL_SOCKET:SO_REUSEPORT":
        return { kind: "done", result: { ret: 0 } };
    }
    return { kind: "unsupported", reason: `setsockopt ${name} not supported` };
  }

  read(s: PosixSocket, len: number, blocking: boolean): CallOutcome {
    if (s.endNoted) {
      // The connection is over. Linux tcp_recvmsg: after the peer's FIN (SOCK_DONE) end of
      // stream wins; otherwise the pending error is returned once (sock_error() clears it),
      // then 0. FreeBSD soreceive: so_error once, then 0 (SBS_CANTRCVMORE).
      const peerFinSeen = s.lastState === "CLOSE-WAIT" || s.lastState === "LAST-ACK" || s.lastState === "CLOSING" || s.lastState === "TIME-WAIT";
      if (s.soError !== undefined && !(this.env.os === "linux" && peerFinSeen)) {
        const e = s.soError;
        s.soError = undefined;
        return { kind: "done", result: { ret: -1, errno: e } };
      }
      return { kind: "done", result: { ret: 0 } };
    }
    if (s.shutRd && !(this.env.os === "linux" && (s.conn?.rcvBuffered ?? 0) > 0)) {
      // After SHUT_RD reads see end of stream at once, never EAGAIN or a block (Linux still
      // hands out data that is queued: tcp_recvmsg looks at the queue before RCV_SHUTDOWN).
      return { kind: "done", result: { ret: 0 } };
    }
    const buf = { Mdl: new Uint8Array(Math.max(0, len)), Offset: 0, Length: Math.max(0, len) };
    const call: PendingCall = {};
    const t = this.newIrp(() => {
      call.done = { result: this.ioResult(s, t.status!, t.information, "read"), tMs: t.tMs! };
    });
    const st = s.wsk.Dispatch.WskReceive(s.wsk, buf, 0, t.irp) >>> 0;
    if (st !== STATUS_PENDING) return { kind: "done", result: this.ioResult(s, st, t.information, "read") };
    if (!blocking) {
      // Nothing to read: a non-blocking read fails with EAGAIN; take the IRP back.
      t.onDone = undefined;
      IoCancelIrp(t.irp);
      return { kind: "done", result: { ret: -1, errno: "EAGAIN" } };
    }
    return { kind: "pending", call };
  }

  private ioResult(s: PosixSocket, status: NtStatus, information: unknown, op: "read" | "write"): SysResult {
    if (status === STATUS_SUCCESS) return { ret: Number(information ?? 0) };
    if (status === STATUS_INVALID_DEVICE_STATE) {
      // Not connected (yet): Linux/FreeBSD say EAGAIN for a non-blocking call on a
      // connecting socket, ENOTCONN before connect, EPIPE after the connection ended.
      const c = s.conn;
      if (c && (c.state === "SYN-SENT" || c.state === "SYN-RECEIVED") && s.nonblocking) return { ret: -1, errno: "EAGAIN" };
      if (op === "write" && c) return { ret: -1, errno: "EPIPE" };
      return { ret: -1, errno: "ENOTCONN" };
    }
    return { ret: -1, errno: this.errnoOf(status, s.conn?.outcome) };
  }

  write(s: PosixSocket, len: number): CallOutcome {
    if (s.endNoted) {
      // Linux tcp_sendmsg -> sk_stream_error(): the pending error once, then EPIPE.
      // FreeBSD sosend: SBS_CANTSENDMORE is tested before so_error: EPIPE (so_error stays).
      if (this.env.os === "linux" && s.soError !== undefined) {
        const e = s.soError;
        s.soError = undefined;
        return { kind: "done", result: { ret: -1, errno: e } };
      }
      return { kind: "done", result: { ret: -1, errno: "EPIPE" } };
    }
    if (s.shutWr) return { kind: "done", result: { ret: -1, errno: "EPIPE" } };
    const data = new Uint8Array(Math.max(0, len));
    const t = this.newIrp();
    const st = s.wsk.Dispatch.WskSend(s.wsk, { Mdl: data, Offset: 0, Length: data.length }, 0, t.irp) >>> 0;
    // A kernel socket buffer takes the bytes at once; WskSend completes only when they are
    // acknowledged, so a pending send counts as accepted.
    if (st === STATUS_PENDING) return { kind: "done", result: { ret: len } };
    return { kind: "done", result: this.ioResult(s, st, t.information, "write") };
  }

  /**
   * shutdown(fd, how). Not connected (never, or no longer: CLOSED, TIME-WAIT): ENOTCONN on
   * both kernels (FreeBSD soshutdown, Linux inet_shutdown in TCP_CLOSE). During the handshake
   * the kernels abort or close the attempt; that is not modelled (the script is a skip).
   */
  shutdown(s: PosixSocket, how: "SHUT_RD" | "SHUT_WR" | "SHUT_RDWR"): CallOutcome {
    const c = s.conn;
    const st = c?.state;
    if (st === "SYN-SENT" || st === "SYN-RECEIVED") return { kind: "unsupported", reason: "shutdown() during the handshake not supported" };
    if (!c || st === undefined || st === "CLOSED" || st === "TIME-WAIT" || !this.wasConnected(s)) return { kind: "done", result: { ret: -1, errno: "ENOTCONN" } };
    if (how === "SHUT_RD" || how === "SHUT_RDWR") {
      s.shutRd = true;
      if (this.env.os === "freebsd") this.discardReceived(s);
    }
    if ((how === "SHUT_WR" || how === "SHUT_RDWR") && !s.shutWr) {
      s.shutWr = true;
      if (st === "ESTABLISHED" || st === "CLOSE-WAIT") {
        // Graceful WskDisconnect: FIN after the queued data (RFC 9293 §3.10.4 CLOSE). The
        // call returns at once; the IRP completes in the background when the FIN is acked.
        const t = this.newIrp();
        s.wsk.Dispatch.WskDisconnect(s.wsk, null, 0, t.irp);
      }
    }
    return { kind: "done", result: { ret: 0 } };
  }

  close(fd: number, s: PosixSocket): CallOutcome {
    const c = s.conn;
    const synchronized = c !== undefined && c.state !== "SYN-SENT" && c.state !== "SYN-RECEIVED" && c.state !== "CLOSED" && c.state !== "TIME-WAIT";
    if (synchronized && s.linger0) {
      const t = this.newIrp();
      s.wsk.Dispatch.WskDisconnect(s.wsk, null, WSK_FLAG_ABORTIVE, t.irp);
    } else if (synchronized && !s.shutWr && c.state !== "FIN-WAIT-1" && c.state !== "FIN-WAIT-2" && c.state !== "CLOSING" && c.state !== "LAST-ACK") {
      const t = this.newIrp();
      s.wsk.Dispatch.WskDisconnect(s.wsk, null, 0, t.irp);
    }
    if (synchronized && !s.linger0) {
      // The connection lives on (FIN exchange); the socket is closed once it is over.
      s.closing = true;
      this.pump();
      return { kind: "done", result: { ret: 0 } };
    }
    const t = this.newIrp();
    s.wsk.Dispatch.WskCloseSocket(s.wsk, t.irp);
    s.closed = true;
    this.fds.delete(fd);
    return { kind: "done", result: { ret: 0 } };
  }
}
