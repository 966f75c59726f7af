// RawIpDevice: a raw IP socket (npm `raw-socket`) as a synack Device (device/types.ts).
//
// Why this file is about 900 lines: the device (about 650 lines, 150 of them comments:
// the explanation below and a one-line reason for each way a raw socket fails on Linux)
// and the RST filter it installs (about 220 lines: nft with an iptables fallback) are one
// mechanism; the filter uses the device's socket mark, address checks and error type.
//
// Unlike the TUN device, the stack here shares an interface with the host kernel: the
// stack's local address is one of the kernel's own addresses on IFNAME (the kernel only
// hands a raw socket packets it delivers locally, raw(7)), and the stack answers for it
// from user space. The kernel's TCP sees the same segments, finds no socket for the
// stack's ports and answers with RST (RFC 9293 §3.10.7.1), which would kill every
// handshake. rstFilterRule() below is the packet-filter rule that drops those RSTs; our
// own packets carry a socket mark (SO_MARK) so the rule lets the stack's RSTs through.
// device/raw.md explains the set-up and the alternatives.
//
// What the kernel gives us, and what we do about it:
//  - IPv4, socket(AF_INET, SOCK_RAW, IPPROTO_TCP): every TCP datagram delivered locally,
//    IP header included (raw(7)). We send whole datagrams with IP_HDRINCL (ip(7)): the
//    kernel fills in the header checksum and total length only.
//  - IPv6, socket(AF_INET6, SOCK_RAW, IPPROTO_TCP): the kernel strips the IPv6 header on
//    receive (RFC 3542 §3: "never" passes the header to the application) and offers no
//    way to get it back without recvmsg(IPV6_PKTINFO), which `raw-socket` does not expose.
//    We rebuild the header from the source address recvfrom() reports and the stack's
//    local address, and take the destination as proven by the TCP checksum, whose
//    pseudo-header covers it (RFC 8200 §8.1). Sending uses Linux's IPV6_HDRINCL (since
//    Linux 4.5) so the stack's own header, with its own source address, goes out as is.
//  - ICMP errors (optional, default on) come through a second raw socket per family, so
//    the stack's ICMP policy (RFC 5927, RFC 1122 §4.2.3.9) sees unreachable/prohibited.
//  - A sender on the same host over veth or loopback leaves TCP checksums to "hardware"
//    (CHECKSUM_PARTIAL): the raw socket gets the segment with only the pseudo-header sum
//    in the checksum field, while the kernel's own TCP trusts the skb flag. We recognise
//    exactly that pattern and complete the checksum, as the missing NIC would have.
//
// Receive batching: `raw-socket` reads one datagram per readiness event. Datagrams that
// arrive within one event-loop turn are collected and delivered as one batch from
// setImmediate (the check phase right after the poll phase that read them), so the
// runtime runs the stack and flushes output once per turn, not once per datagram.
//
// open() is synchronous (like TunDevice.open): it runs `ip` for checks and creates the
// sockets inside the namespace with withNetns().

import { ErrorOnce } from "./error-once.js";
import { createRequire } from "node:module";
import type { Device, DeviceStats } from "./types.js";
import { CommandError, netnsExists, runSync, withNetns } from "./netns.js";
import { parseIp, formatIpv4, formatIpv6, canonicalIp } from "../stack/wire/addr.js";
import { foldChecksum, internetChecksum, pseudoHeaderSum } from "../stack/wire/checksum.js";

// ---------------------------------------------------------------------------------------
// The `raw-socket` package (CommonJS, no type declarations): the part we use.

interface RawSocketHandle {
  on(event: "message", cb: (buffer: Buffer, source: string) => void): unknown;
  on(event: "error", cb: (err: Error) => void): unknown;
  on(event: "close", cb: () => void): unknown;
  send(
    buffer: Buffer,
    offset: number,
    length: number,
    address: string,
    afterCallback: (err: Error | null, bytes: number) => void,
  ): unknown;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): unknown;
}

interface RawSocketModule {
  createSocket(options: {
    addressFamily?: number;
    protocol?: number;
    bufferSize?: number;
  }): RawSocketHandle;
  AddressFamily: { IPv4: number; IPv6: number };
}

let rawModule: RawSocketModule | undefined;

function loadRawSocket(): RawSocketModule {
  if (rawModule) return rawModule;
  try {
    const require = createRequire(import.meta.url);
    rawModule = require("raw-socket") as RawSocketModule;
    return rawModule;
  } catch (cause) {
    throw new RawDeviceError(
      "EADDONMISSING",
      // raw-socket is an optional dependency: npm leaves it out when it cannot build it.
      `the raw-socket package or its native build is missing (${(cause as Error).message.split("\n")[0]}): it is optional and needs g++, make and python3; with them, run \`npm install raw-socket\``,
      { cause },
    );
  }
}

// Linux socket constants (asm-generic/socket.h, linux/in.h, linux/in6.h). `raw-socket`
// exports some of them, not SO_MARK nor Linux's IPV6_HDRINCL.
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_BINDTODEVICE = 25;
const SO_MARK = 36;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const IPPROTO_IPV6 = 41;
const IPV6_HDRINCL = 36;
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_ICMPV6 = 58;

/** The socket mark on everything RawIpDevice sends; the RST filter rule spares it. ("syna") */
export const SYNACK_RAW_MARK = 0x73796e61;

/** Hop limit written into rebuilt IPv6 headers (the real one is not visible on a raw socket). */
const REBUILT_HOP_LIMIT = 64;

// ---------------------------------------------------------------------------------------
// Errors

/** A device error with an errno-like `code` and a message a person can act on. */
export class RawDeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RawDeviceError";
  }
}

// `raw-socket` throws Error(strerror(errno)): map the text back to the errno name.
const ERRNO_BY_TEXT: Record<string, string> = {
  "Operation not permitted": "EPERM",
  "Permission denied": "EACCES",
  "No such device": "ENODEV",
  "Address family not supported by protocol": "EAFNOSUPPORT",
  "Protocol not supported": "EPROTONOSUPPORT",
  "Invalid argument": "EINVAL",
  "Too many open files": "EMFILE",
  "Message too long": "EMSGSIZE",
  "No buffer space available": "ENOBUFS",
  "Network is unreachable": "ENETUNREACH",
  "No route to host": "EHOSTUNREACH",
  "Network is down": "ENETDOWN",
  "Resource temporarily unavailable": "EAGAIN",
  "Bad file descriptor": "EBADF",
  "Cannot assign requested address": "EADDRNOTAVAIL",
};

function errnoOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string") return e.code;
  const text = typeof e?.message === "string" ? e.message.trim() : String(err);
  return ERRNO_BY_TEXT[text] ?? "EIO";
}

function where(ifname: string, netns: string | undefined): string {
  return netns === undefined ? `interface '${ifname}'` : `interface '${ifname}' in network namespace '${netns}'`;
}

/** Turns a socket() / setsockopt() failure into a RawDeviceError with advice. */
function openError(err: unknown, what: string, ifname: string, netns: string | undefined): RawDeviceError {
  if (err instanceof RawDeviceError) return err;
  const code = errnoOf(err);
  const detail = (err as Error)?.message ?? String(err);
  switch (code) {
    case "EPERM":
    case "EACCES":
      return new RawDeviceError(code, `raw sockets need root or CAP_NET_RAW (${what}: ${detail})`, { cause: err });
    case "ENODEV":
      return new RawDeviceError(code, `unknown ${where(ifname, netns)} (${what}: ${detail})`, { cause: err });
    case "EAFNOSUPPORT":
      return new RawDeviceError(code, `this kernel has no IPv6 (${what}: ${detail})`, { cause: err });
    default:
      return new RawDeviceError(code, `${what} failed on ${where(ifname, netns)}: ${detail}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------
// Options and statistics

export interface RawOpenOptions {
  /** The interface whose traffic the stack shares (SO_BINDTODEVICE): only its packets are seen. */
  ifname: string;
  /**
   * The stack's own address, e.g. "10.88.0.2" or "fd00:88::2" ("/24" suffixes are ignored).
   * It must be an address of the kernel (see device/raw.md); open() checks that.
   */
  local: string;
  /** Create the sockets inside this network namespace (`ip netns add NAME`). */
  netns?: string;
  /** Address family; default: that of `local`. */
  version?: 4 | 6;
  /** Also receive ICMP / ICMPv6 errors about our segments (default true). */
  icmp?: boolean;
  /** Socket mark on our packets (SO_MARK), spared by the RST filter; default SYNACK_RAW_MARK. 0 = none. */
  mark?: number;
  /** Install the RST filter on open and remove it on close (default false: the caller does). */
  rstFilter?: boolean;
  /** Check that `local` is an address of the kernel (default true; nothing arrives otherwise). */
  checkLocal?: boolean;
  /** SO_RCVBUF in bytes, best effort (capped by net.core.rmem_max); default 1 MiB. */
  receiveBufferBytes?: number;
  /** Complete CHECKSUM_PARTIAL segments from same-host senders (default true; see the header). */
  completePartialChecksums?: boolean;
}

export interface RawStats extends DeviceStats {
  /** Receive callbacks made; rxPackets / rxBatches is the mean batch size. */
  rxBatches: number;
  /** Datagrams seen on the interface but addressed to another address (not counted as drops). */
  rxFiltered: number;
  /** Segments whose checksum we completed (same-host sender with checksum offload). */
  rxChecksumCompleted: number;
  /** ICMP / ICMPv6 errors passed to the stack. */
  rxIcmp: number;
  /** Sends queued in `raw-socket` and not yet written. */
  txQueued: number;
  /** errno name of the last failed send. */
  lastTxError?: string;
}

// ---------------------------------------------------------------------------------------
// The device

interface Resolved {
  ifname: string;
  local: string;
  localBytes: Uint8Array;
  version: 4 | 6;
  netns: string | undefined;
}

function resolveOptions(opts: RawOpenOptions): Resolved {
  const ifname = opts.ifname;
  if (typeof ifname !== "string" || ifname.length === 0 || ifname.length > 15 || /[\s/:]/.test(ifname)) {
    throw new RawDeviceError("EINVAL", `invalid interface name '${String(ifname)}': 1-15 characters, no spaces, '/' or ':'`);
  }
  const text = String(opts.local ?? "").replace(/\/\d+$/, "").replace(/^\[|\]$/g, "");
  const parsed = parseIp(text);
  if (!parsed.ok) throw new RawDeviceError("EINVAL", `invalid local address '${String(opts.local)}': ${parsed.reason}`);
  const version = parsed.value.version;
  if (opts.version !== undefined && opts.version !== version) {
    throw new RawDeviceError("EINVAL", `local address ${text} is IPv${version}, but version ${opts.version} was asked for`);
  }
  if (opts.netns !== undefined && !netnsExists(opts.netns)) {
    throw new RawDeviceError("ENOENT", `network namespace '${opts.netns}' does not exist`);
  }
  return { ifname, local: canonicalIp(text) as string, localBytes: parsed.value.bytes, version, netns: opts.netns };
}

/** `ip ARGS` inside the namespace when there is one. */
function ipIn(netns: string | undefined, args: string[]): string {
  return netns === undefined ? runSync("ip", args) : runSync("ip", ["-n", netns, ...args]);
}

/** The interface's MTU; throws ENODEV with a clear message when it does not exist. */
function interfaceMtu(r: Resolved): number {
  let out: string;
  try {
    out = ipIn(r.netns, ["-j", "link", "show", "dev", r.ifname]);
  } catch (err) {
    if (err instanceof CommandError && /does not exist|Cannot find device/i.test(err.stderr)) {
      throw new RawDeviceError("ENODEV", `unknown ${where(r.ifname, r.netns)}`, { cause: err });
    }
    if (err instanceof CommandError && err.status === null) {
      throw new RawDeviceError("ENOENT", "the `ip` command (iproute2) is needed to open a raw device", { cause: err });
    }
    throw err;
  }
  const links = JSON.parse(out) as Array<{ mtu?: number }>;
  const mtu = links[0]?.mtu;
  return typeof mtu === "number" && mtu > 0 ? mtu : 1500;
}

/**
 * The kernel only delivers to raw sockets the datagrams it accepts for itself
 * (ip_local_deliver), so `local` must be one of its addresses (or inside a `local` route).
 */
function checkLocalAddress(r: Resolved): void {
  let type: string | undefined;
  try {
    const out = ipIn(r.netns, ["-j", `-${r.version}`, "route", "get", r.local]);
    type = (JSON.parse(out) as Array<{ type?: string }>)[0]?.type;
  } catch {
    type = undefined;
  }
  if (type !== "local") {
    const ns = r.netns === undefined ? "" : ` -n ${r.netns}`;
    throw new RawDeviceError(
      "ENOTLOCAL",
      `${r.local} is not an address of this host${r.netns === undefined ? "" : ` (namespace '${r.netns}')`}: ` +
        `the kernel passes raw sockets only packets addressed to itself; add it first ` +
        `(ip${ns} addr add ${r.local}/${r.version === 4 ? 24 : 64} dev ${r.ifname}) and install the RST filter (device/raw.md)`,
    );
  }
}

export class RawIpDevice implements Device {
  readonly name: string;
  readonly mtu: number;
  readonly local: string;
  readonly version: 4 | 6;
  readonly netns: string | undefined;
  /** Whether SO_MARK took (else the RST filter would also drop the stack's own RSTs). */
  readonly marked: boolean;

  private readonly localBytes: Uint8Array;
  private readonly tcp: RawSocketHandle;
  private readonly icmp: RawSocketHandle | undefined;
  private readonly completePartial: boolean;
  private readonly ownsFilter: boolean;
  private receiveHandler: ((packets: Uint8Array[]) => void) | undefined;
  private readonly errors = new ErrorOnce();
  private batch: Uint8Array[] = [];
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private readonly st: RawStats = {
    rxPackets: 0,
    txPackets: 0,
    rxBytes: 0,
    txBytes: 0,
    rxDropped: 0,
    txErrors: 0,
    rxBatches: 0,
    rxFiltered: 0,
    rxChecksumCompleted: 0,
    rxIcmp: 0,
    txQueued: 0,
  };

  private constructor(
    r: Resolved,
    mtu: number,
    tcp: RawSocketHandle,
    icmp: RawSocketHandle | undefined,
    marked: boolean,
    completePartial: boolean,
    ownsFilter: boolean,
  ) {
    this.name = r.ifname;
    this.mtu = mtu;
    this.local = r.local;
    this.localBytes = r.localBytes;
    this.version = r.version;
    this.netns = r.netns;
    this.tcp = tcp;
    this.icmp = icmp;
    this.marked = marked;
    this.completePartial = completePartial;
    this.ownsFilter = ownsFilter;
    tcp.on("message", (buf, source) => this.onTcp(buf, source));
    tcp.on("error", (err) => this.fail(err));
    if (icmp) {
      icmp.on("message", (buf, source) => this.onIcmp(buf, source));
      icmp.on("error", (err) => this.fail(err));
    }
  }

  /**
   * Opens the raw sockets on `ifname` for the stack's address `local` (synchronous).
   * Throws RawDeviceError: EPERM/EACCES (not root / no CAP_NET_RAW), ENODEV (unknown
   * interface), ENOENT (namespace missing), ENOTLOCAL (`local` is not a kernel address),
   * EINVAL (bad options), EADDONMISSING (raw-socket not built). Nothing is left open on failure.
   */
  static open(opts: RawOpenOptions): RawIpDevice {
    const r = resolveOptions(opts);
    const mtu = interfaceMtu(r);
    if (opts.checkLocal ?? true) checkLocalAddress(r);
    const raw = loadRawSocket();
    const mark = opts.mark ?? SYNACK_RAW_MARK;
    const family = r.version === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6;
    const made: RawSocketHandle[] = [];
    let marked = false;
    const create = (): { tcp: RawSocketHandle; icmp: RawSocketHandle | undefined } => {
      const ifname = Buffer.from(`${r.ifname}\0`);
      const make = (protocol: number): RawSocketHandle => {
        let s: RawSocketHandle;
        try {
          // 64 KiB: a datagram coalesced by GRO can exceed the MTU.
          s = raw.createSocket({ addressFamily: family, protocol, bufferSize: 65536 });
        } catch (err) {
          throw openError(err, "socket(SOCK_RAW)", r.ifname, r.netns);
        }
        made.push(s);
        try {
          s.setOption(SOL_SOCKET, SO_BINDTODEVICE, ifname, ifname.length);
        } catch (err) {
          throw openError(err, "setsockopt(SO_BINDTODEVICE)", r.ifname, r.netns);
        }
        try {
          s.setOption(SOL_SOCKET, SO_RCVBUF, opts.receiveBufferBytes ?? 1 << 20);
        } catch {
          // Best effort: the default buffer works, it just drops sooner under load.
        }
        return s;
      };
      const tcp = make(IPPROTO_TCP);
      try {
        if (r.version === 4) tcp.setOption(IPPROTO_IP, IP_HDRINCL, 1);
        else tcp.setOption(IPPROTO_IPV6, IPV6_HDRINCL, 1);
      } catch (err) {
        const e = openError(err, r.version === 4 ? "setsockopt(IP_HDRINCL)" : "setsockopt(IPV6_HDRINCL)", r.ifname, r.netns);
        if (r.version === 6 && e.code === "ENOPROTOOPT") {
          throw new RawDeviceError("ENOPROTOOPT", "IPv6 raw sockets need IPV6_HDRINCL (Linux 4.5 or later): not supported by this kernel", { cause: err });
        }
        throw e;
      }
      if (mark !== 0) {
        try {
          tcp.setOption(SOL_SOCKET, SO_MARK, mark >>> 0);
          marked = true;
        } catch {
          // SO_MARK needs CAP_NET_ADMIN on kernels before 5.17 (CAP_NET_RAW after): without
          // it the connection still works, but the RST filter also drops our own RSTs.
        }
      }
      const icmp = (opts.icmp ?? true) ? make(r.version === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) : undefined;
      return { tcp, icmp };
    };
    let sockets: { tcp: RawSocketHandle; icmp: RawSocketHandle | undefined };
    try {
      sockets = r.netns === undefined ? create() : withNetns(r.netns, create);
    } catch (err) {
      for (const s of made) closeQuietly(s);
      throw err;
    }
    let ownsFilter = false;
    if (opts.rstFilter) {
      try {
        ownsFilter = installRstFilter(r.local, r.netns, { mark: mark === 0 ? SYNACK_RAW_MARK : mark });
      } catch (err) {
        for (const s of made) closeQuietly(s);
        throw err;
      }
    }
    return new RawIpDevice(r, mtu, sockets.tcp, sockets.icmp, marked, opts.completePartialChecksums ?? true, ownsFilter);
  }

  onReceive(handler: (packets: Uint8Array[]) => void): void {
    this.receiveHandler = handler;
  }

  onError(handler: (err: Error) => void): void {
    this.errors.setHandler(handler);
  }

  /**
   * Queues each datagram on the raw socket (never blocks; `raw-socket` writes them in
   * order when the socket is writable). Datagrams of the wrong family or not from the
   * stack's address are refused (counted in txErrors): this device does not spoof.
   */
  send(packets: readonly Uint8Array[]): void {
    for (const p of packets) {
      if (this.closed) {
        this.txError("EBADF");
        continue;
      }
      const dst = this.destinationOf(p);
      if (dst === undefined) continue;
      // Copy: the datagram waits in raw-socket's queue until the socket is writable.
      const buf = Buffer.from(p);
      this.inFlight++;
      this.st.txQueued = this.inFlight;
      this.tcp.send(buf, 0, buf.length, dst, (err, bytes) => {
        this.inFlight--;
        this.st.txQueued = this.inFlight;
        if (err) this.txError(errnoOf(err));
        else {
          this.st.txPackets++;
          this.st.txBytes += bytes;
        }
        if (this.inFlight === 0) this.drained?.();
      });
    }
  }

  stats(): RawStats {
    return { ...this.st };
  }

  /**
   * Delivers what is already collected, waits (at most 250 ms) for queued sends to be
   * written, closes the sockets and removes the RST filter if open() installed it.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.inFlight > 0) {
        await new Promise<void>((resolveDrain) => {
          const t = setTimeout(resolveDrain, 250);
          this.drained = () => {
            clearTimeout(t);
            resolveDrain();
          };
        });
      }
      this.closed = true;
      if (this.immediate) clearImmediate(this.immediate);
      this.immediate = undefined;
      this.batch = [];
      closeQuietly(this.tcp);
      if (this.icmp) closeQuietly(this.icmp);
      if (this.ownsFilter) {
        try {
          removeRstFilter(this.local, this.netns);
        } catch {
          // The namespace may be gone already; nothing left to clean then.
        }
      }
    })();
    return this.closing;
  }

  // -- receive --------------------------------------------------------------------------

  private onTcp(buf: Buffer, source: string): void {
    if (this.closed) return;
    const pkt = this.version === 4 ? this.tcpFromIpv4(buf) : this.tcpFromIpv6(buf, source);
    if (pkt) this.enqueue(pkt);
  }

  /** IPv4: the whole datagram; keep it if it is addressed to us. */
  private tcpFromIpv4(buf: Buffer): Uint8Array | undefined {
    const span = this.ipv4Span(buf, IPPROTO_TCP);
    if (!span) return undefined;
    const pkt = new Uint8Array(buf.subarray(0, span.len)); // copy: raw-socket reuses its buffer
    if (this.completePartial) this.completeChecksum(pkt, span.ihl, pkt.subarray(12, 16), pkt.subarray(16, 20));
    return pkt;
  }

  /** IPv6: the TCP segment only; rebuild the header and keep it if the checksum says it is ours. */
  private tcpFromIpv6(seg: Buffer, source: string): Uint8Array | undefined {
    if (seg.length < 20) return this.drop();
    const src = addressBytes(source, 16);
    if (!src) return this.drop();
    const pkt = ipv6Packet(src, this.localBytes, IPPROTO_TCP, seg);
    const body = pkt.subarray(40);
    const sum = internetChecksum(body, 0, body.length, pseudoHeaderSum(6, src, this.localBytes, IPPROTO_TCP, body.length));
    if (sum === 0) return pkt;
    // The pseudo-header covers the destination (RFC 8200 §8.1): a segment for another
    // of the host's addresses fails here, which is how we filter without seeing it.
    if (this.completePartial && this.completeChecksum(pkt, 40, src, this.localBytes)) return pkt;
    this.st.rxFiltered++;
    return undefined;
  }

  private onIcmp(buf: Buffer, source: string): void {
    if (this.closed) return;
    const pkt = this.version === 4 ? this.icmpFromIpv4(buf) : this.icmpFromIpv6(buf, source);
    if (pkt) {
      this.st.rxIcmp++;
      this.enqueue(pkt);
    }
  }

  /** ICMP errors (RFC 792: types 3, 11, 12) to us, quoting a TCP segment we sent. */
  private icmpFromIpv4(buf: Buffer): Uint8Array | undefined {
    const span = this.ipv4Span(buf, IPPROTO_ICMP);
    if (!span) return undefined;
    const type = buf[span.ihl];
    if (type !== 3 && type !== 11 && type !== 12) return undefined; // echo, etc.: not ours to see
    const inner = span.ihl + 8;
    if (span.len < inner + 20 || buf[inner + 9] !== IPPROTO_TCP || !sameBytes(buf, inner + 12, this.localBytes)) {
      return undefined;
    }
    return new Uint8Array(buf.subarray(0, span.len));
  }

  /** ICMPv6 errors (RFC 4443 types 1-4) quoting a TCP segment from our address. */
  private icmpFromIpv6(msg: Buffer, source: string): Uint8Array | undefined {
    const type = msg[0];
    if (msg.length < 8 + 40 || type === undefined || type < 1 || type > 4) return undefined; // ND, MLD, echo: the kernel's
    if (!sameBytes(msg, 8 + 8, this.localBytes) || msg[8 + 6] !== IPPROTO_TCP) return undefined;
    const src = addressBytes(source, 16);
    if (!src) return this.drop();
    const pkt = ipv6Packet(src, this.localBytes, IPPROTO_ICMPV6, msg);
    // The kernel verified the checksum against the real header (ICMPv6 raw sockets always
    // do, RFC 3542 §3.1); recompute it for the header we rebuilt.
    const body = pkt.subarray(40);
    body[2] = 0;
    body[3] = 0;
    const c = internetChecksum(body, 0, body.length, pseudoHeaderSum(6, src, this.localBytes, IPPROTO_ICMPV6, body.length));
    body[2] = c >> 8;
    body[3] = c & 0xff;
    return pkt;
  }

  /** Header length and datagram length of an IPv4 datagram of `protocol` addressed to us. */
  private ipv4Span(buf: Buffer, protocol: number): { ihl: number; len: number } | undefined {
    const b0 = buf[0];
    if (buf.length < 20 || b0 === undefined || b0 >> 4 !== 4) return this.drop();
    const ihl = (b0 & 0x0f) * 4;
    if (ihl < 20 || buf.length < ihl || buf[9] !== protocol) return this.drop();
    if (!sameBytes(buf, 16, this.localBytes)) {
      this.st.rxFiltered++;
      return undefined;
    }
    // Linux hands raw sockets the total length in network order, unchanged (raw(7)).
    const total = ((buf[2] as number) << 8) | (buf[3] as number);
    const len = total >= ihl && total <= buf.length ? total : buf.length;
    return { ihl, len };
  }

  /**
   * If the TCP checksum at pkt[off+16] fails and holds just the folded pseudo-header sum
   * (what Linux leaves for CHECKSUM_PARTIAL, tcp_v4_send_check/tcp_v6_send_check),
   * computes the real one in place. Returns true when it did.
   */
  private completeChecksum(pkt: Uint8Array, off: number, src: Uint8Array, dst: Uint8Array): boolean {
    const len = pkt.length - off;
    if (len < 20) return false;
    const v = src.length === 4 ? 4 : 6;
    const pseudo = pseudoHeaderSum(v, src, dst, IPPROTO_TCP, len);
    if (internetChecksum(pkt, off, pkt.length, pseudo) === 0) return false;
    const field = ((pkt[off + 16] as number) << 8) | (pkt[off + 17] as number);
    if (field !== foldChecksum(pseudo)) return false;
    pkt[off + 16] = 0;
    pkt[off + 17] = 0;
    const c = internetChecksum(pkt, off, pkt.length, pseudo);
    pkt[off + 16] = c >> 8;
    pkt[off + 17] = c & 0xff;
    this.st.rxChecksumCompleted++;
    return true;
  }

  private enqueue(pkt: Uint8Array): void {
    this.st.rxPackets++;
    this.st.rxBytes += pkt.length;
    this.batch.push(pkt);
    if (this.immediate === undefined) this.immediate = setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.immediate = undefined;
    const packets = this.batch;
    this.batch = [];
    if (this.closed || packets.length === 0) return;
    const handler = this.receiveHandler;
    if (!handler) {
      this.st.rxDropped += packets.length;
      return;
    }
    this.st.rxBatches++;
    handler(packets);
  }

  private drop(): undefined {
    this.st.rxDropped++;
    return undefined;
  }

  // -- send -----------------------------------------------------------------------------

  /** The destination text of a datagram we may send, or undefined (counted) if we may not. */
  private destinationOf(p: Uint8Array): string | undefined {
    const v = (p[0] ?? 0) >> 4;
    if (v !== this.version) {
      this.txError("EAFNOSUPPORT");
      return undefined;
    }
    if (v === 4) {
      if (p.length < 20 || !sameBytes(p, 12, this.localBytes)) return this.txErrorUndefined("EADDRNOTAVAIL");
      return formatIpv4(p, 16);
    }
    if (p.length < 40 || !sameBytes(p, 8, this.localBytes)) return this.txErrorUndefined("EADDRNOTAVAIL");
    return formatIpv6(p, 24);
  }

  private txError(code: string): void {
    this.st.txErrors++;
    this.st.lastTxError = code;
  }

  private txErrorUndefined(code: string): undefined {
    this.txError(code);
    return undefined;
  }

  private fail(err: Error): void {
    if (this.closed || this.errors.reported) return;
    this.errors.report(new RawDeviceError(errnoOf(err), `raw socket on ${where(this.name, this.netns)} failed: ${err.message}`, { cause: err }));
  }
}

function closeQuietly(s: RawSocketHandle): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

function sameBytes(buf: Uint8Array, off: number, want: Uint8Array): boolean {
  if (buf.length < off + want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[off + i] !== want[i]) return false;
  return true;
}

/** Address bytes from recvfrom()'s text (a "%scope" suffix, if any, is dropped). */
function addressBytes(text: string, size: 4 | 16): Uint8Array | undefined {
  const p = parseIp(text.replace(/%.*$/, ""));
  return p.ok && p.value.bytes.length === size ? p.value.bytes : undefined;
}

/** An IPv6 header (RFC 8200 §3) in front of `payload`; traffic class and flow label 0. */
function ipv6Packet(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array): Uint8Array {
  const pkt = new Uint8Array(40 + payload.length);
  pkt[0] = 0x60;
  pkt[4] = payload.length >> 8;
  pkt[5] = payload.length & 0xff;
  pkt[6] = nextHeader;
  pkt[7] = REBUILT_HOP_LIMIT;
  pkt.set(src, 8);
  pkt.set(dst, 24);
  pkt.set(payload, 40);
  return pkt;
}

// ---------------------------------------------------------------------------------------
// The RST filter

/** nftables table and chain that hold synack's rules (removing the table removes them all). */
export const RST_FILTER_TABLE = "synack";
export const RST_FILTER_CHAIN = "rst_out";

export interface RstFilterRule {
  local: string;
  version: 4 | 6;
  mark: number;
  /** Marks the rule so removeRstFilter finds exactly it. */
  comment: string;
  /** The nft rule itself (what follows `add rule inet synack rst_out`). */
  nftExpression: string;
  /** An `nft -f` script adding table, chain and rule (table and chain are idempotent). */
  nftScript: string;
  /** The same as shell commands, one per line, ready to paste. */
  nft: string[];
  /** Removes every synack rule (the whole table). */
  nftRemove: string[];
  /** iptables / ip6tables equivalents (for hosts without nft). */
  iptables: string[];
  iptablesRemove: string[];
}

/**
 * The packet-filter rule that keeps the host kernel from killing the stack's connections:
 * drop outgoing TCP segments with RST from the stack's address unless they carry our
 * socket mark (the stack's own RSTs do; the kernel's answers to segments for ports it
 * has no socket for, RFC 9293 §3.10.7.1, do not).
 */
export function rstFilterRule(local: string, opts: { mark?: number } = {}): RstFilterRule {
  const text = String(local).replace(/\/\d+$/, "").replace(/^\[|\]$/g, "");
  const parsed = parseIp(text);
  if (!parsed.ok) throw new RawDeviceError("EINVAL", `invalid local address '${String(local)}': ${parsed.reason}`);
  const addr = canonicalIp(text) as string;
  const version = parsed.value.version;
  const mark = (opts.mark ?? SYNACK_RAW_MARK) >>> 0;
  const markHex = `0x${mark.toString(16).padStart(8, "0")}`;
  const comment = `synack-raw ${addr}`;
  const fam = version === 4 ? "ip" : "ip6";
  const nftExpression = `${fam} saddr ${addr} tcp flags & rst == rst meta mark != ${markHex} counter drop comment "${comment}"`;
  const chainSpec = `{ type filter hook output priority filter; policy accept; }`;
  const nftScript =
    `table inet ${RST_FILTER_TABLE} {\n  chain ${RST_FILTER_CHAIN} {\n    type filter hook output priority filter; policy accept;\n  }\n}\n` +
    `add rule inet ${RST_FILTER_TABLE} ${RST_FILTER_CHAIN} ${nftExpression}\n`;
  const ipt = version === 4 ? "iptables" : "ip6tables";
  const iptSpec = `OUTPUT -s ${addr} -p tcp --tcp-flags RST RST -m mark ! --mark ${markHex} -m comment --comment '${comment}' -j DROP`;
  return {
    local: addr,
    version,
    mark,
    comment,
    nftExpression,
    nftScript,
    nft: [
      `nft add table inet ${RST_FILTER_TABLE}`,
      `nft 'add chain inet ${RST_FILTER_TABLE} ${RST_FILTER_CHAIN} ${chainSpec}'`,
      `nft 'add rule inet ${RST_FILTER_TABLE} ${RST_FILTER_CHAIN} ${nftExpression}'`,
    ],
    nftRemove: [`nft delete table inet ${RST_FILTER_TABLE}`],
    iptables: [`${ipt} -I ${iptSpec}`],
    iptablesRemove: [`${ipt} -D ${iptSpec}`],
  };
}

function inNetns(netns: string | undefined, cmd: string, args: string[], input?: string): string {
  const opts = input === undefined ? {} : { input };
  return netns === undefined ? runSync(cmd, args, opts) : runSync("ip", ["netns", "exec", netns, cmd, ...args], opts);
}

const commandFound = new Map<string, boolean>();

/** Whether a program is on PATH (the same in every network namespace: they share the file system). */
function haveCommand(cmd: string): boolean {
  let found = commandFound.get(cmd);
  if (found === undefined) {
    try {
      runSync("sh", ["-c", `command -v ${cmd}`]);
      found = true;
    } catch {
      found = false;
    }
    commandFound.set(cmd, found);
  }
  return found;
}

interface NftRule {
  handle: number;
  comment?: string;
}

function nftRules(netns: string | undefined): NftRule[] | undefined {
  let out: string;
  try {
    out = inNetns(netns, "nft", ["-j", "-a", "list", "chain", "inet", RST_FILTER_TABLE, RST_FILTER_CHAIN]);
  } catch {
    return undefined; // no table / chain
  }
  const doc = JSON.parse(out) as { nftables?: Array<{ rule?: { handle: number; comment?: string } }> };
  const rules: NftRule[] = [];
  for (const item of doc.nftables ?? []) if (item.rule) rules.push({ handle: item.rule.handle, ...(item.rule.comment === undefined ? {} : { comment: item.rule.comment }) });
  return rules;
}

/**
 * Installs rstFilterRule(local) in the namespace (or the current one) with nft, or with
 * iptables / ip6tables when nft is absent. Returns false if the rule was already there.
 * Needs root (CAP_NET_ADMIN). Synchronous.
 */
export function installRstFilter(local: string, netns?: string, opts: { mark?: number } = {}): boolean {
  const rule = rstFilterRule(local, opts);
  if (netns !== undefined && !netnsExists(netns)) throw new RawDeviceError("ENOENT", `network namespace '${netns}' does not exist`);
  try {
    if (haveCommand("nft")) {
      if ((nftRules(netns) ?? []).some((r) => r.comment === rule.comment)) return false;
      inNetns(netns, "nft", ["-f", "-"], rule.nftScript);
      return true;
    }
    if (haveCommand(rule.version === 4 ? "iptables" : "ip6tables")) {
      const [cmd, ...args] = iptArgs(rule, "-C");
      try {
        inNetns(netns, cmd as string, args);
        return false; // -C succeeded: already present
      } catch {
        const [c2, ...a2] = iptArgs(rule, "-I");
        inNetns(netns, c2 as string, a2);
        return true;
      }
    }
  } catch (err) {
    throw filterError(err, "install");
  }
  throw new RawDeviceError("ENOENT", "neither nft (nftables) nor iptables is installed: install nftables to add the RST filter (device/raw.md)");
}

/**
 * Removes the rule for `local` (and the synack table once it is empty). Harmless when
 * nothing is installed. Returns true if a rule was removed.
 */
export function removeRstFilter(local: string, netns?: string, opts: { mark?: number } = {}): boolean {
  const rule = rstFilterRule(local, opts);
  if (netns !== undefined && !netnsExists(netns)) return false;
  try {
    if (haveCommand("nft")) {
      const rules = nftRules(netns);
      if (rules === undefined) return false;
      let removed = false;
      for (const r of rules) {
        if (r.comment !== rule.comment) continue;
        inNetns(netns, "nft", ["delete", "rule", "inet", RST_FILTER_TABLE, RST_FILTER_CHAIN, "handle", String(r.handle)]);
        removed = true;
      }
      if ((nftRules(netns) ?? []).length === 0) {
        try {
          inNetns(netns, "nft", ["delete", "table", "inet", RST_FILTER_TABLE]);
        } catch {
          // someone else removed it meanwhile
        }
      }
      return removed;
    }
    if (haveCommand(rule.version === 4 ? "iptables" : "ip6tables")) {
      let removed = false;
      for (let i = 0; i < 16; i++) {
        const [cmd, ...args] = iptArgs(rule, "-D");
        try {
          inNetns(netns, cmd as string, args);
          removed = true;
        } catch {
          break;
        }
      }
      return removed;
    }
  } catch (err) {
    throw filterError(err, "remove");
  }
  return false;
}

function iptArgs(rule: RstFilterRule, op: "-I" | "-C" | "-D"): string[] {
  const hex = `0x${rule.mark.toString(16).padStart(8, "0")}`;
  return [
    rule.version === 4 ? "iptables" : "ip6tables",
    op,
    "OUTPUT",
    "-s",
    rule.local,
    "-p",
    "tcp",
    "--tcp-flags",
    "RST",
    "RST",
    "-m",
    "mark",
    "!",
    "--mark",
    hex,
    "-m",
    "comment",
    "--comment",
    rule.comment,
    "-j",
    "DROP",
  ];
}

function filterError(err: unknown, what: string): Error {
  if (err instanceof RawDeviceError) return err;
  if (err instanceof CommandError && /Operation not permitted|Permission denied/i.test(err.stderr)) {
    return new RawDeviceError("EPERM", `cannot ${what} the RST filter: needs root (CAP_NET_ADMIN)`, { cause: err });
  }
  return new RawDeviceError("EIO", `cannot ${what} the RST filter: ${(err as Error).message}`, { cause: err });
}
