// Writes IP packets (no link header, LINKTYPE_RAW) as pcapng or classic pcap.
//
// Both writers keep bytes in memory (toBytes()) or, after open(path), stream them to a file
// in large synchronous writes: lab tooling, not the hot path, but never one write per packet.
// Always little-endian; readers use the magic to tell.

import { closeSync, openSync, writeSync } from "node:fs";
import {
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_SHB,
  BYTE_ORDER_MAGIC,
  ByteSink,
  EPB_FLAGS,
  EPB_FLAG_INBOUND,
  EPB_FLAG_OUTBOUND,
  IF_TSRESOL,
  LinkType,
  OPT_COMMENT,
  PCAPNG_VERSION_MAJOR,
  PCAPNG_VERSION_MINOR,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
  PCAP_MAX_SNAPLEN,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
  SHB_USERAPPL,
  TSRESOL_NANO,
  encodeTsResol,
  nsToTicks,
  utf8Encoder,
  writeEndOfOptions,
  writeOption,
} from "./format.js";

export type PacketDirection = "in" | "out";

/** What the tap (and anything else that records packets) needs from a writer. */
export interface PacketWriter {
  /**
   * Records one IP packet. `timeNs` is nanoseconds since the epoch (a number is taken as
   * nanoseconds too and rounded). The packet is serialised at once, so the caller may reuse
   * its buffer afterwards.
   */
  write(timeNs: bigint | number, ipPacket: Uint8Array, comment?: string, direction?: PacketDirection): void;
}

/** Flush to the file once this many bytes are buffered. */
const FLUSH_BYTES = 256 * 1024;

function toNs(timeNs: bigint | number): bigint {
  const ns = typeof timeNs === "bigint" ? timeNs : BigInt(Math.round(timeNs));
  // A negative time is a caller bug (the formats store unsigned times), not bad input.
  if (ns < 0n) throw new RangeError(`capture timestamp ${ns} ns is negative`);
  return ns;
}

/** Shared memory/file buffering for both formats. */
abstract class BufferedCaptureWriter implements PacketWriter {
  protected readonly sink = new ByteSink();
  private fd: number | undefined;
  private closed = false;
  private path: string | undefined;

  protected constructor() {}

  abstract write(timeNs: bigint | number, ipPacket: Uint8Array, comment?: string, direction?: PacketDirection): void;

  /**
   * Switches to streaming into `path` (created or truncated). Whatever was written before,
   * including the file header, goes to the file first.
   */
  open(path: string): this {
    if (this.fd !== undefined) throw new Error(`capture writer already streams to ${this.path}`);
    if (this.closed) throw new Error("capture writer is closed");
    this.fd = openSync(path, "w");
    this.path = path;
    this.flush();
    return this;
  }

  /** Called after each record: in file mode, writes out once enough is buffered. */
  protected afterRecord(): void {
    if (this.fd !== undefined && this.sink.length >= FLUSH_BYTES) this.flush();
  }

  /** Writes buffered bytes to the file (no-op in memory mode). */
  flush(): void {
    if (this.fd === undefined) return;
    if (this.sink.length > 0) writeAll(this.fd, this.sink.drain());
  }

  /** Flushes and closes the file; in memory mode just forbids further writes. */
  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.closed = true;
  }

  protected checkOpen(): void {
    if (this.closed) throw new Error("capture writer is closed");
  }

  /** The whole file so far (memory mode only: a streaming writer's bytes are in its file). */
  toBytes(): Uint8Array {
    if (this.path !== undefined) throw new Error(`capture writer streams to ${this.path}; read that file`);
    return this.sink.snapshot();
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

export interface PcapngWriterOptions {
  /** shb_userappl; defaults to "synack". */
  userAppl?: string;
}

/**
 * pcapng with one section (SHB, user-appl "synack"), one LINKTYPE_RAW interface with
 * if_tsresol = 9 (nanoseconds), and one EPB per packet with optional opt_comment (the
 * engine's decision trace) and epb_flags direction.
 */
export class PcapngWriter extends BufferedCaptureWriter {
  constructor(options: PcapngWriterOptions = {}) {
    super();
    this.writeSectionHeader(options.userAppl ?? "synack");
    this.writeInterface();
  }

  private writeSectionHeader(userAppl: string): void {
    // pcapng §4.1: type, length, byte-order magic, version, section length (-1 = unknown), options.
    const s = this.sink;
    const start = s.length;
    s.u32(BLOCK_SHB);
    s.u32(0); // patched below
    s.u32(BYTE_ORDER_MAGIC);
    s.u16(PCAPNG_VERSION_MAJOR);
    s.u16(PCAPNG_VERSION_MINOR);
    s.i64(-1n);
    writeOption(s, SHB_USERAPPL, utf8Encoder.encode(userAppl));
    writeEndOfOptions(s);
    this.endBlock(start);
  }

  private writeInterface(): void {
    // pcapng §4.2: link type, reserved, snaplen (0 = no limit), options.
    const s = this.sink;
    const start = s.length;
    s.u32(BLOCK_IDB);
    s.u32(0);
    s.u16(LinkType.RAW);
    s.u16(0);
    s.u32(0);
    writeOption(s, IF_TSRESOL, Uint8Array.of(encodeTsResol(TSRESOL_NANO)));
    writeEndOfOptions(s);
    this.endBlock(start);
  }

  /** Writes the trailing length and patches the leading one. */
  private endBlock(start: number): void {
    const len = this.sink.length - start + 4;
    this.sink.u32(len);
    this.sink.patchU32(start + 4, len);
  }

  write(timeNs: bigint | number, ipPacket: Uint8Array, comment?: string, direction?: PacketDirection): void {
    this.checkOpen();
    const ticks = nsToTicks(toNs(timeNs), TSRESOL_NANO);
    const s = this.sink;
    const start = s.length;
    // pcapng §4.3: interface id, timestamp high/low, captured and original length, data, options.
    s.u32(BLOCK_EPB);
    s.u32(0);
    s.u32(0);
    s.u32(Number(ticks >> 32n));
    s.u32(Number(ticks & 0xffffffffn));
    s.u32(ipPacket.length);
    s.u32(ipPacket.length);
    s.bytes(ipPacket);
    s.align4();
    const hasOptions = (comment !== undefined && comment !== "") || direction !== undefined;
    if (comment !== undefined && comment !== "") {
      let text = utf8Encoder.encode(comment);
      // An option value holds at most 65535 bytes; a longer trace is cut rather than lost.
      if (text.length > 0xffff) text = text.subarray(0, 0xffff);
      writeOption(s, OPT_COMMENT, text);
    }
    if (direction !== undefined) {
      const flags = new Uint8Array(4);
      new DataView(flags.buffer).setUint32(0, direction === "in" ? EPB_FLAG_INBOUND : EPB_FLAG_OUTBOUND, true);
      writeOption(s, EPB_FLAGS, flags);
    }
    if (hasOptions) writeEndOfOptions(s);
    this.endBlock(start);
    this.afterRecord();
  }
}

export interface PcapWriterOptions {
  /** Nanosecond magic (0xa1b23c4d) instead of microseconds; default false. */
  nanosecond?: boolean;
  snapLen?: number;
}

/**
 * Classic pcap, LINKTYPE_RAW. Comments and directions have no place in this format and are
 * dropped; use PcapngWriter to keep them.
 */
export class PcapWriter extends BufferedCaptureWriter {
  private readonly nanosecond: boolean;
  private readonly snapLen: number;

  constructor(options: PcapWriterOptions = {}) {
    super();
    this.nanosecond = options.nanosecond ?? false;
    this.snapLen = options.snapLen ?? PCAP_MAX_SNAPLEN;
    const s = this.sink;
    s.u32(this.nanosecond ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
    s.u16(PCAP_VERSION_MAJOR);
    s.u16(PCAP_VERSION_MINOR);
    s.u32(0); // thiszone: always UTC
    s.u32(0); // sigfigs: always 0
    s.u32(this.snapLen);
    s.u32(LinkType.RAW);
  }

  write(timeNs: bigint | number, ipPacket: Uint8Array, _comment?: string, _direction?: PacketDirection): void {
    this.checkOpen();
    const ns = toNs(timeNs);
    const sec = ns / 1_000_000_000n;
    if (sec > 0xffffffffn) throw new RangeError(`capture timestamp ${ns} ns does not fit classic pcap's 32-bit seconds`);
    const subNs = ns - sec * 1_000_000_000n;
    const frac = this.nanosecond ? subNs : subNs / 1000n;
    const caplen = Math.min(ipPacket.length, this.snapLen);
    const s = this.sink;
    s.u32(Number(sec));
    s.u32(Number(frac));
    s.u32(caplen);
    s.u32(ipPacket.length);
    s.bytes(caplen === ipPacket.length ? ipPacket : ipPacket.subarray(0, caplen));
    this.afterRecord();
  }
}
