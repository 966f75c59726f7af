// TunDevice: a Linux TUN interface as a synack Device (device/types.ts).
//
// The stack sits on the "far" side of the TUN: packets the kernel routes into the
// interface arrive through onReceive, and packets we send() are injected as if they had
// arrived on it. `addresses` are therefore the KERNEL's addresses on its side of the
// link (e.g. 10.0.0.1/24); the stack uses another address of the same subnet.
//
// Reads are event-driven on Node's loop, in batches (see tun.cc and README.md).

import { ErrorOnce } from "../error-once.js";
import type { Device, DeviceOffloads, DeviceStats } from "../types.js";
import { ip } from "../netns.js";
import { loadAddon } from "./native.js";
import type { NativeError, NativeOpenOptions, NativeTun } from "./native.js";

export type { NativeError } from "./native.js";
export { AddonMissingError, findPackageRoot, loadAddon } from "./native.js";

export interface TunOpenOptions {
  /** Interface name (at most 15 characters); "" or "tun%d" lets the kernel pick. */
  name: string;
  /** Open the device inside this network namespace (`ip netns add NAME`). */
  netns?: string;
  mtu?: number;
  /** Bring the interface up (default true when addresses are given, else false). */
  up?: boolean;
  /** Kernel-side addresses, CIDR: "10.0.0.1/24", "fd00::1/64". IPv6 ones skip DAD. */
  addresses?: string[];
  /** Keep the interface after close (TUNSETPERSIST); remove it with `ip link del`. */
  persist?: boolean;
  /** IFF_MULTI_QUEUE: allows several fds on one interface. */
  multiQueue?: boolean;
  /**
   * Queues to attach (1 to 256, default 1). More than one opens the interface
   * IFF_MULTI_QUEUE with one fd per queue: every queue is read, and each packet sent goes
   * to the queue its flow hashes to (addresses and TCP/UDP ports), so one connection's
   * packets keep their order. With txThread each queue gets its own writer thread, so the
   * kernel's work for different connections runs on several threads.
   */
  queues?: number;
  /** Packets per receive callback at most (default 64). */
  maxBatch?: number;
  /**
   * Write on a thread of the addon's own. The kernel handles a packet written to a TUN
   * inside the write(2) call (its TCP input, and the answer it queues back), so on a
   * machine with a spare core this runs the kernel's share beside the JavaScript thread.
   * send() then returns once the batch is queued, and write failures show in stats() a
   * moment later. Default false.
   */
  txThread?: boolean;
  /**
   * IFF_VNET_HDR: every packet carries a virtio-net header, which the addon adds and
   * strips. With `offload` (the default) the stack hands over its own packets of up to
   * 64 KiB with the checksum left to the device (see `offload`). Otherwise a run of TCP/IPv4
   * segments of one connection in one send() (consecutive sequence numbers, same headers,
   * equal sizes) is written as ONE packet of up to 64 KiB marked GSO
   * (VIRTIO_NET_HDR_GSO_TCPV4). Either way the kernel takes it as one large segment, with
   * one write(2) and one pass through its TCP input instead of one per segment. With
   * `rxOffload` (the default) the kernel may also send us such large packets. Default false.
   */
  vnetHdr?: boolean;
  /**
   * With vnetHdr: receive offloads. The kernel is told (TUNSETOFFLOAD with TUN_F_CSUM,
   * TUN_F_TSO4, TUN_F_TSO6) that it may leave TCP/UDP checksums to us and send TCP segments of
   * up to 64 KiB; the addon completes those checksums and cuts such packets into segments of
   * the sender's MSS (gso_size) in C, so onReceive gets what a plain link would carry, every
   * checksum complete. A malformed virtio-net header or GSO packet is dropped, counted in
   * stats().rxOffloadDrops by reason and given to onDrop(). Default: on when the kernel
   * agrees (`rxOffload` says whether it did); true: an error if it does not; false: off.
   */
  rxOffload?: boolean;
  /**
   * With vnetHdr: the device says (Device.offloads) that it completes TCP checksums and cuts
   * TSO packets of up to 64 KiB into segments, so a Runtime has the stack leave both to it
   * (the kernel does them from the virtio-net header, or takes the large packet as it is).
   * Default true; false keeps the stack checksumming every segment itself, with the addon
   * merging runs as described above.
   */
  offload?: boolean;
}

export interface TunStats extends DeviceStats {
  /** Receive callbacks made; rxPackets / rxBatches is the mean batch size. */
  rxBatches: number;
  /** Of txErrors, writes refused with EAGAIN (never waited on). */
  txAgain: number;
  /** errno name of the last failed write ("EBADF" after close). */
  lastTxError?: string;
  /** With vnetHdr: writes that carried several TCP segments at once, and how many segments. */
  txGsoWrites?: number;
  txGsoSegments?: number;
  /** With rxOffload: reads that were GSO packets, the segments they were cut into, partial checksums completed. */
  rxGsoReads?: number;
  rxGsoSegments?: number;
  rxCsumCompleted?: number;
  /** With rxOffload: reads dropped by the receive offload path, by reason ("vnet bad gso_size", ...). */
  rxOffloadDrops?: Record<string, number>;
  /** With queues > 1: packets read from, and written to, each queue. */
  rxQueuePackets?: number[];
  txQueuePackets?: number[];
}

export class TunDevice implements Device {
  private readonly handle: NativeTun;
  private receiveHandler: ((packets: Uint8Array[], tcpChecksummed?: Uint8Array) => void) | undefined;
  /** Reused per batch: which packets' TCP checksums the addon computed (or the kernel verified). */
  private rxChecksummed = new Uint8Array(0);
  private readonly dropHandlers: Array<(reason: string, packet: Uint8Array, vnetHeader: Uint8Array) => void> = [];
  private readonly errors = new ErrorOnce();
  private rxDroppedNoHandler = 0;
  /** Reused staging for send(): packets back to back, and their lengths. */
  private txData = new Uint8Array(64 * 1024);
  private txLengths = new Int32Array(256);
  private mtuBytes: number;
  readonly netns: string | undefined;
  /** With vnetHdr and offload (the default): checksums and TSO are the device's. */
  readonly offloads: DeviceOffloads | undefined;

  private constructor(handle: NativeTun, netns: string | undefined, offloads: boolean) {
    this.handle = handle;
    this.netns = netns;
    this.offloads = offloads ? { txTcpChecksum: true, txTcpSegmentation: true } : undefined;
    this.mtuBytes = handle.getMtu();
    handle.start(
      (count, drops) => this.deliver(count, drops),
      (err) => this.fail(err),
    );
  }

  /**
   * Attaches to TUN interface `name` or creates it, then applies mtu, up and addresses.
   * Throws the addon's errors (with `code`, e.g. "EPERM", "ENOENT" for a missing
   * namespace, "EBUSY") or CommandError from `ip`. On any failure nothing is left open.
   */
  static open(opts: TunOpenOptions): TunDevice {
    checkBooleanOptions(opts);
    const addon = loadAddon();
    const nativeOpts: NativeOpenOptions = {};
    if (opts.netns !== undefined) nativeOpts.netns = opts.netns;
    if (opts.txThread !== undefined) nativeOpts.txThread = opts.txThread;
    if (opts.vnetHdr !== undefined) nativeOpts.vnetHdr = opts.vnetHdr;
    if (opts.rxOffload !== undefined) nativeOpts.rxOffload = opts.rxOffload;
    if (opts.multiQueue !== undefined) nativeOpts.multiQueue = opts.multiQueue;
    if (opts.queues !== undefined) nativeOpts.queues = opts.queues;
    if (opts.maxBatch !== undefined) nativeOpts.maxBatch = opts.maxBatch;
    const handle = addon.open(opts.name, nativeOpts);
    try {
      if (opts.persist !== undefined) handle.setPersist(opts.persist);
      if (opts.mtu !== undefined) handle.setMtu(opts.mtu);
      const up = opts.up ?? (opts.addresses !== undefined && opts.addresses.length > 0);
      // Up first: an IPv6 address on a down interface stays tentative.
      if (up) handle.setUp(true);
      for (const cidr of opts.addresses ?? []) addAddressTo(handle.name, cidr, opts.netns);
      return new TunDevice(handle, opts.netns, opts.vnetHdr === true && opts.offload !== false);
    } catch (err) {
      handle.close();
      throw err;
    }
  }

  get name(): string {
    return this.handle.name;
  }

  get mtu(): number {
    return this.mtuBytes;
  }

  /** The TUN file descriptor (-1 once closed). */
  get fd(): number {
    return this.handle.fd;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /**
   * Batch handler. The Uint8Arrays are views into one reused buffer and are only valid
   * during the call: copy (`packet.slice()`) what must outlive it.
   */
  onReceive(handler: (packets: Uint8Array[], tcpChecksummed?: Uint8Array) => void): void {
    this.receiveHandler = handler;
  }

  /**
   * Adds a listener for each read the receive offload path dropped (rxOffload): the reason,
   * as counted in stats().rxOffloadDrops, and copies of what followed the virtio-net header
   * (the packet, maybe empty) and of the header (shorter than 10 bytes if truncated). A
   * Runtime adds one that counts and traces the drop in its Stack (Stack.deviceDrop).
   */
  onDrop(handler: (reason: string, packet: Uint8Array, vnetHeader: Uint8Array) => void): void {
    this.dropHandlers.push(handler);
  }

  /** Whether the kernel leaves checksums and TCP segmentation of what it sends us to the addon. */
  get rxOffload(): boolean {
    return this.handle.rxOffload;
  }

  /** Called once if the device fails (e.g. the interface was deleted). */
  onError(handler: (err: Error) => void): void {
    this.errors.setHandler(handler);
  }

  /**
   * Writes each packet (never blocks). Failures, and sends after close, count in txErrors.
   * The batch crosses into C once: the packets are copied back to back into a reused
   * buffer and handed over with their lengths.
   */
  send(packets: readonly Uint8Array[]): void {
    const n = packets.length;
    if (n === 0) return;
    let total = 0;
    for (let i = 0; i < n; i++) total += packets[i].length;
    if (this.txLengths.length < n) this.txLengths = new Int32Array(Math.max(n, 2 * this.txLengths.length));
    if (this.txData.length < total) this.txData = new Uint8Array(Math.max(total, 2 * this.txData.length));
    const data = this.txData;
    const lengths = this.txLengths;
    let off = 0;
    for (let i = 0; i < n; i++) {
      const p = packets[i];
      data.set(p, off);
      lengths[i] = p.length;
      off += p.length;
    }
    this.handle.writePacked(data, lengths, n);
  }

  /**
   * send() for packets already packed (Device.sendBatch): one crossing into C, no copy here.
   * `meta` (only with `offloads`): per packet, the checksum and segmentation left to the device.
   */
  sendBatch(data: Uint8Array, lengths: Int32Array, count: number, meta?: Int32Array): void {
    if (count === 0) return;
    if (meta !== undefined) this.handle.writePacked(data, lengths, count, meta);
    else this.handle.writePacked(data, lengths, count);
  }

  /** Whether writes go through the addon's writer threads (one per queue). */
  get txThread(): boolean {
    return this.handle.txThread;
  }

  /** Queues attached (the open option `queues`, default 1). */
  get queues(): number {
    return this.handle.queues;
  }

  stats(): TunStats {
    const s = this.handle.stats();
    const out: TunStats = {
      rxPackets: s.rxPackets,
      txPackets: s.txPackets,
      rxBytes: s.rxBytes,
      txBytes: s.txBytes,
      rxDropped: this.rxDroppedNoHandler,
      txErrors: s.txErrors,
      rxBatches: s.rxBatches,
      txAgain: s.txAgain,
    };
    if (s.lastTxError !== undefined) out.lastTxError = s.lastTxError;
    if (s.txGsoWrites !== undefined) out.txGsoWrites = s.txGsoWrites;
    if (s.txGsoSegments !== undefined) out.txGsoSegments = s.txGsoSegments;
    if (s.rxGsoReads !== undefined) out.rxGsoReads = s.rxGsoReads;
    if (s.rxGsoSegments !== undefined) out.rxGsoSegments = s.rxGsoSegments;
    if (s.rxCsumCompleted !== undefined) out.rxCsumCompleted = s.rxCsumCompleted;
    if (s.rxOffloadDrops !== undefined) out.rxOffloadDrops = s.rxOffloadDrops;
    if (s.rxQueuePackets !== undefined) out.rxQueuePackets = s.rxQueuePackets;
    if (s.txQueuePackets !== undefined) out.txQueuePackets = s.txQueuePackets;
    return out;
  }

  setMtu(mtu: number): void {
    this.handle.setMtu(mtu);
    this.mtuBytes = this.handle.getMtu();
  }

  setUp(up: boolean): void {
    this.handle.setUp(up);
  }

  isUp(): boolean {
    return this.handle.isUp();
  }

  /** Adds (or keeps) a kernel-side address, CIDR notation. */
  addAddress(cidr: string): void {
    addAddressTo(this.handle.name, cidr, this.netns);
  }

  setPersist(on: boolean): void {
    this.handle.setPersist(on);
  }

  /** Whether this open device keeps the process alive (default true). */
  ref(): void {
    this.handle.ref();
  }

  unref(): void {
    this.handle.unref();
  }

  /** Stops reading and closes the fd (a non-persistent interface disappears). Harmless to repeat. */
  close(): Promise<void> {
    this.handle.close();
    return Promise.resolve();
  }

  private deliver(count: number, drops: number): void {
    const buf = this.handle.rxBuffer;
    const meta = this.handle.rxMeta;
    if (drops > 0) this.reportDrops(count, buf, meta);
    const n = count - drops;
    if (n === 0) return;
    const handler = this.receiveHandler;
    if (handler === undefined) {
      this.rxDroppedNoHandler += n;
      return;
    }
    const packets = new Array<Uint8Array>(n);
    if (!this.handle.rxOffload) {
      for (let i = 0; i < count; i++) packets[i] = new Uint8Array(buf, meta[3 * i] as number, meta[3 * i + 1] as number);
      handler(packets);
      return;
    }
    if (this.rxChecksummed.length < n) this.rxChecksummed = new Uint8Array(Math.max(n, this.handle.maxBatch));
    const sums = this.rxChecksummed;
    for (let i = 0, j = 0; i < count; i++) {
      const f = meta[3 * i + 2] as number;
      if ((f & 0xff) !== 0) continue;
      sums[j] = f >> 8;
      packets[j++] = new Uint8Array(buf, meta[3 * i] as number, meta[3 * i + 1] as number);
    }
    handler(packets, sums.length === n ? sums : sums.subarray(0, n));
  }

  /** The dropped reads of a batch, to onDrop (they are already counted by the addon). */
  private reportDrops(count: number, buf: ArrayBuffer, meta: Int32Array): void {
    if (this.dropHandlers.length === 0) return;
    for (let i = 0; i < count; i++) {
      const why = (meta[3 * i + 2] as number) & 0xff;
      if (why === 0) continue;
      const read = new Uint8Array(buf, meta[3 * i] as number, meta[3 * i + 1] as number);
      const h = Math.min(VNET_HEADER_BYTES, read.length);
      const reason = loadAddon().vnetDropReasons?.[why] ?? `vnet drop ${why}`;
      for (const handler of this.dropHandlers) handler(reason, read.slice(h), read.slice(0, h));
    }
  }

  private fail(err: NativeError): void {
    this.errors.report(err);
  }
}


/** struct virtio_net_hdr (include/uapi/linux/virtio_net.h), in front of every read with vnetHdr. */
const VNET_HEADER_BYTES = 10;

/**
 * `ip [-n NS] addr replace CIDR dev NAME` ("replace" so re-attaching to a persistent
 * device is not an error). IPv6 addresses get `nodad`: duplicate address detection
 * (RFC 4862 §5.4) would keep the address tentative, and unusable, for about a second.
 * Done with iproute2 rather than netlink: simplest and robust, and only at set-up.
 */
function addAddressTo(dev: string, cidr: string, netns: string | undefined): void {
  const args = ["addr", "replace", cidr, "dev", dev];
  if (cidr.includes(":")) args.push("nodad");
  ip(args, netns);
}

/** The options that are switches: anything but true, false or undefined is refused (EINVAL),
 * so that `rxOffload: "no"` cannot quietly mean true. Checked before anything is opened. */
const BOOLEAN_OPTIONS = ["up", "persist", "multiQueue", "txThread", "vnetHdr", "rxOffload", "offload"] as const;

function checkBooleanOptions(opts: TunOpenOptions): void {
  for (const key of BOOLEAN_OPTIONS) {
    const v: unknown = opts[key];
    if (v !== undefined && typeof v !== "boolean") {
      throw Object.assign(new Error(`${key} must be true or false`), { code: "EINVAL" });
    }
  }
}
