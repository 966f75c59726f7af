// Loads the synack_tun native addon (device/tun/tun.cc, built by node-gyp during
// `npm install` into build/Release/synack_tun.node) and describes its shape.
//
// The code runs from source (vitest, device/tun/) and compiled (dist/device/tun/), so
// the addon is found from the package root: the nearest folder above this module that
// holds a package.json.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A system error from the addon: like Node's own (`code` "EPERM", `errno`, `syscall`). */
export interface NativeError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

export interface NativeTunStats {
  rxPackets: number;
  rxBytes: number;
  /** Number of batch callbacks made (each carries 1..maxBatch packets). */
  rxBatches: number;
  txPackets: number;
  txBytes: number;
  /** Packets the kernel did not take (any errno, including EAGAIN and writes after close). */
  txErrors: number;
  /** Of txErrors, those refused with EAGAIN (queue full); never waited on. */
  txAgain: number;
  /** errno name of the last failed write, e.g. "EIO". */
  lastTxError?: string;
  /** With vnetHdr: writes that carried several TCP segments (GSO), and the segments they carried. */
  txGsoWrites?: number;
  txGsoSegments?: number;
  /** With rxOffload: reads that were GSO packets, the segments they were cut into, partial checksums completed. */
  rxGsoReads?: number;
  rxGsoSegments?: number;
  rxCsumCompleted?: number;
  /** With rxOffload: reads dropped, by reason ("vnet bad gso_size", ...); only reasons seen. */
  rxOffloadDrops?: Record<string, number>;
  /** With queues > 1: packets read from, and written to, each queue. */
  rxQueuePackets?: number[];
  txQueuePackets?: number[];
}

/** The native TUN handle. All calls are synchronous and run on the calling thread. */
export interface NativeTun {
  readonly fd: number;
  /** The interface name the kernel gave (useful with "tun%d"). */
  readonly name: string;
  readonly closed: boolean;
  readonly failed: boolean;
  readonly maxBatch: number;
  /**
   * Reused receive buffer: entry i of a batch is rxBuffer[rxMeta[3i] .. +rxMeta[3i+1]), a
   * packet if the low byte of rxMeta[3i+2] is 0 (bit 8: its TCP checksum was computed by the
   * addon or verified by the kernel), else (rxOffload) a read dropped for that reason (its
   * whole bytes, virtio-net header included; vnetDropReasons names it).
   */
  readonly rxBuffer: ArrayBuffer;
  readonly rxMeta: Int32Array;
  /** Whether the kernel was told to leave checksums and TCP segmentation to us (TUNSETOFFLOAD). */
  readonly rxOffload: boolean;
  /**
   * Starts polling on Node's loop. onBatch(count, drops) runs once per drained batch (`drops`
   * of the `count` entries are dropped reads); the buffer contents are only valid during
   * that call. onError runs at most once, when the device fails (e.g. its interface was
   * deleted); polling has stopped by then.
   */
  start(onBatch: (count: number, drops: number) => void, onError: (err: NativeError) => void): void;
  /**
   * One datagram; true if the kernel took it (with txThread: if it was queued; the
   * writer's failures then show in stats()). Never blocks, never throws for I/O.
   */
  write(packet: Uint8Array): boolean;
  /** Returns how many the kernel took; the rest are counted in stats().txErrors. */
  writeBatch(packets: readonly Uint8Array[]): number;
  /**
   * `count` packets back to back at the start of `data`, packet i being `lengths[i]`
   * bytes: one call into C for the whole batch. Returns like writeBatch.
   */
  writePacked(data: Uint8Array, lengths: Int32Array, count: number, meta?: Int32Array): number;
  /** Whether writes go through the writer thread (open option txThread); one per queue. */
  readonly txThread: boolean;
  /** Queues (fds) attached: 1, or the open option `queues`. */
  readonly queues: number;
  setMtu(mtu: number): void;
  getMtu(): number;
  setUp(up: boolean): void;
  isUp(): boolean;
  setPersist(on: boolean): void;
  stats(): NativeTunStats;
  /** Stops polling and closes the fd; harmless to repeat. */
  close(): void;
  ref(): void;
  unref(): void;
}

export interface NativeOpenOptions {
  /** Network namespace name (`ip netns add NAME`) or an absolute nsfs path. */
  netns?: string;
  multiQueue?: boolean;
  /** Queues to attach (1..256, default 1); more than 1 implies multiQueue. */
  queues?: number;
  /** Packets drained per callback at most (1..4096, default 64). */
  maxBatch?: number;
  /** Write on a thread of the addon's own (the kernel's work per packet runs beside JavaScript). */
  txThread?: boolean;
  /** IFF_VNET_HDR: a virtio-net header on every packet; runs of TCP/IPv4 segments are written as one GSO packet. */
  vnetHdr?: boolean;
  /**
   * With vnetHdr: TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), reads cut and checksummed
   * in C. Default: on when the kernel agrees; true: an error if it does not; false: off.
   */
  rxOffload?: boolean;
}

/** vnetReceive()'s answer: the packets one read becomes, or why it is dropped. */
export interface VnetReceiveResult {
  drop?: string;
  packets: Uint8Array[];
  /** Not dropped: whether the packets' TCP checksums were computed here or verified by the kernel (DATA_VALID). */
  tcpChecksummed?: boolean;
}

export interface SynackTunAddon {
  open(name: string, opts?: NativeOpenOptions): NativeTun;
  /** Moves the calling thread into a network namespace; returns a token for netnsRestore. */
  netnsEnter(nameOrPath: string): number;
  /** Returns the calling thread to the namespace saved by netnsEnter. */
  netnsRestore(saved: number): void;
  readonly maxPacketBytes: number;
  readonly platformSupported: boolean;
  /**
   * What the receive path with rxOffload makes of one read (virtio-net header + packet),
   * with the addon's own code: the packets the stack would get, or the drop reason.
   */
  vnetReceive(read: Uint8Array): VnetReceiveResult;
  /** The receive path's drop reasons by code (rxMeta's third int); index 0 is "" (no drop). */
  readonly vnetDropReasons?: readonly string[];
}

/** The addon file was not found or would not load. */
export class AddonMissingError extends Error {
  readonly code = "ERR_SYNACK_ADDON_MISSING";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AddonMissingError";
  }
}

/** Nearest directory at or above startDir that holds a package.json. */
export function findPackageRoot(startDir: string): string | undefined {
  let dir = resolve(startDir);
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Where the addon may be, best first: SYNACK_TUN_ADDON, then Release, then Debug. */
export function addonCandidates(root: string | undefined): string[] {
  const out: string[] = [];
  const override = process.env["SYNACK_TUN_ADDON"];
  if (override) out.push(resolve(override));
  if (root !== undefined) {
    out.push(join(root, "build", "Release", "synack_tun.node"));
    out.push(join(root, "build", "Debug", "synack_tun.node"));
  }
  return out;
}

/** Loads the addon found from startDir (exposed for tests). Throws AddonMissingError. */
export function loadAddonFrom(startDir: string): SynackTunAddon {
  const root = findPackageRoot(startDir);
  const candidates = addonCandidates(root);
  const found = candidates.find((p) => existsSync(p));
  // Installed as a dependency, `npm rebuild synack` re-runs the build; in a checkout, `npm install`.
  const installed = root !== undefined && /[\\/]node_modules[\\/]/.test(root);
  const log = root !== undefined && existsSync(join(root, "build", "install-addon.log")) ? ` (last build log: ${join(root, "build", "install-addon.log")})` : "";
  const rebuildHint =
    `it needs g++, make and python3: install them, then run ${installed ? "`npm rebuild synack` in your project" : `\`npm install\` in ${root ?? "the synack package folder"}`}` + log;
  if (found === undefined) {
    throw new AddonMissingError(
      `the synack TUN addon is not built (looked for ${candidates.join(", ") || "build/Release/synack_tun.node"}): ${rebuildHint}`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(found) as SynackTunAddon;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new AddonMissingError(`the synack TUN addon at ${found} failed to load (${why}): ${rebuildHint}`, { cause });
  }
}

let cached: SynackTunAddon | undefined;

/** The addon, loaded once. Throws AddonMissingError with a rebuild hint if absent. */
export function loadAddon(): SynackTunAddon {
  cached ??= loadAddonFrom(dirname(fileURLToPath(import.meta.url)));
  return cached;
}
