// Reads classic pcap and pcapng captures into records with the IP packet pulled out.
//
// Timestamps: `timeNs` is a bigint of nanoseconds since the Unix epoch. A double cannot hold
// epoch nanoseconds (2^53 ns is ~104 days), and nanosecond captures must survive exactly;
// use nsToMs() from format.ts when a float is wanted.
//
// Bad input is a value (docs/architecture.md): a corrupt file gives {ok:false, reason, offset}; a file
// whose last record is cut short (a capture still being written, a truncated download) gives
// ok with the complete records and a warning carrying the offset of the cut record.

import { readFileSync } from "node:fs";
import {
  BLOCK_DSB,
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_ISB,
  BLOCK_MIN_LEN,
  BLOCK_NRB,
  BLOCK_PB,
  BLOCK_SHB,
  BLOCK_SPB,
  BYTE_ORDER_MAGIC,
  EPB_FLAGS,
  EPB_FLAG_DIR_MASK,
  EPB_FLAG_INBOUND,
  EPB_FLAG_OUTBOUND,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSOFFSET,
  IF_TSRESOL,
  OPT_COMMENT,
  PCAPNG_VERSION_MAJOR,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_MODIFIED,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
  PCAP_MAX_SNAPLEN,
  PCAP_MODIFIED_RECORD_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  PCAP_VERSION_MAJOR,
  SHB_HARDWARE,
  SHB_OS,
  SHB_USERAPPL,
  TSRESOL_MICRO,
  TSRESOL_NANO,
  decodeTsResol,
  hex32,
  pad4,
  parseOptions,
  ticksToNs,
  utf8Decoder,
  type PcapngOption,
  type TsResolution,
} from "./format.js";
import { extractIp } from "./link.js";

export type CaptureFormat = "pcap" | "pcap-modified" | "pcapng";

export interface CaptureWarning {
  reason: string;
  offset: number;
}

/** A pcapng section (one SHB and what follows); classic pcap files have exactly one. */
export interface CaptureSection {
  offset: number;
  littleEndian: boolean;
  userAppl?: string;
  os?: string;
  hardware?: string;
  comment?: string;
}

export interface CaptureInterface {
  /**
   * Global interface number, counted across sections (Wireshark 4.0's frame.interface_id
   * restarts at 0 in each section; for single-section files the two agree).
   */
  index: number;
  section: number;
  linkType: number;
  /** 0 = no limit (pcapng) */
  snapLen: number;
  tsResolution: TsResolution;
  /** if_tsoffset in seconds, added to every timestamp (pcapng §4.2). */
  tsOffsetSec: bigint;
  name?: string;
  description?: string;
}

export interface CaptureRecord {
  /** 0-based position among the packet records (Wireshark's frame.number is index + 1). */
  index: number;
  /** Nanoseconds since the Unix epoch (see file comment); 0n for an SPB, which has no time. */
  timeNs: bigint;
  /** Global interface number, index into Capture.interfaces. */
  interface: number;
  linkType: number;
  caplen: number;
  origLen: number;
  /** The whole captured frame (a view into the input bytes, not a copy). */
  data: Uint8Array;
  /**
   * The IP packet after the link header, trimmed to the length its header declares
   * (Ethernet padding and FCS removed). Undefined for non-IP frames, see `nonIp`.
   */
  ip?: Uint8Array;
  ipVersion?: 4 | 6;
  /** Why `ip` is undefined (e.g. "Ethernet: not IP (ARP)"). */
  nonIp?: string;
  /** opt_comment of the EPB/PB; several comments are joined with "\n". */
  comment?: string;
  /** From epb_flags bits 0-1 when the writer recorded it. */
  direction?: "in" | "out";
  /** False only for Simple Packet Blocks, which carry no timestamp. */
  hasTime: boolean;
}

export interface Capture {
  format: CaptureFormat;
  sections: CaptureSection[];
  interfaces: CaptureInterface[];
  records: CaptureRecord[];
  warnings: CaptureWarning[];
}

export type ReadResult = { ok: true; value: Capture } | { ok: false; reason: string; offset: number };

const fail = (reason: string, offset: number): ReadResult => ({ ok: false, reason, offset });

function makeRecord(
  index: number,
  timeNs: bigint,
  iface: CaptureInterface,
  caplen: number,
  origLen: number,
  data: Uint8Array,
  hasTime: boolean,
): CaptureRecord {
  const rec: CaptureRecord = {
    index,
    timeNs,
    interface: iface.index,
    linkType: iface.linkType,
    caplen,
    origLen,
    data,
    hasTime,
  };
  const ex = extractIp(iface.linkType, data);
  if (ex.ok) {
    rec.ip = ex.ip;
    rec.ipVersion = ex.version;
  } else {
    rec.nonIp = ex.reason;
  }
  return rec;
}

/** Reads a capture held in memory. Never throws on bad input. */
export function readCapture(bytes: Uint8Array): ReadResult {
  if (bytes.length < 4) return fail(`file is ${bytes.length} bytes, too short for any capture magic`, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = view.getUint32(0, true);
  if (magicLe === BLOCK_SHB) return readPcapng(bytes, view);
  const magicBe = view.getUint32(0, false);
  for (const [magic, le] of [
    [magicLe, true],
    [magicBe, false],
  ] as const) {
    if (magic === PCAP_MAGIC_US) return readPcap(bytes, view, le, TSRESOL_MICRO, "pcap");
    if (magic === PCAP_MAGIC_NS) return readPcap(bytes, view, le, TSRESOL_NANO, "pcap");
    if (magic === PCAP_MAGIC_MODIFIED) return readPcap(bytes, view, le, TSRESOL_MICRO, "pcap-modified");
  }
  return fail(`unknown capture magic ${hex32(magicBe)} at offset 0 (not pcap or pcapng)`, 0);
}

/** Reads a capture file; I/O errors are returned as a reason too. */
export function readCaptureFile(path: string): ReadResult {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return fail(`cannot read ${path}: ${(e as Error).message}`, 0);
  }
  return readCapture(bytes);
}

// ---------------------------------------------------------------------------------------
// Classic pcap (draft-ietf-opsawg-pcap)

function readPcap(
  bytes: Uint8Array,
  view: DataView,
  le: boolean,
  resolution: TsResolution,
  format: "pcap" | "pcap-modified",
): ReadResult {
  if (bytes.length < PCAP_FILE_HEADER_LEN) {
    return fail(`pcap file header is cut short: ${bytes.length} bytes (< ${PCAP_FILE_HEADER_LEN})`, 0);
  }
  const major = view.getUint16(4, le);
  const minor = view.getUint16(6, le);
  if (major !== PCAP_VERSION_MAJOR) return fail(`unsupported pcap version ${major}.${minor} at offset 4`, 4);
  const snapLen = view.getUint32(16, le);
  // The link-type field's upper bits carry FCS information; the link type is the low 16 bits.
  const linkType = view.getUint32(20, le) & 0xffff;
  const iface: CaptureInterface = {
    index: 0,
    section: 0,
    linkType,
    snapLen,
    tsResolution: resolution,
    tsOffsetSec: 0n,
  };
  const capture: Capture = {
    format,
    sections: [{ offset: 0, littleEndian: le }],
    interfaces: [iface],
    records: [],
    warnings: [],
  };
  const recordHeaderLen = format === "pcap-modified" ? PCAP_MODIFIED_RECORD_HEADER_LEN : PCAP_RECORD_HEADER_LEN;
  const fracToNs = resolution.exponent === 9 ? 1n : 1000n;
  // Same limit as libpcap/Wireshark: a caplen beyond this is a corrupt header, not a big packet.
  const maxCaplen = Math.max(snapLen, PCAP_MAX_SNAPLEN);
  let off = PCAP_FILE_HEADER_LEN;
  while (off < bytes.length) {
    if (bytes.length - off < recordHeaderLen) {
      capture.warnings.push({
        reason: `pcap record header at offset ${off} is cut short (${bytes.length - off} of ${recordHeaderLen} bytes)`,
        offset: off,
      });
      break;
    }
    const sec = view.getUint32(off, le);
    const frac = view.getUint32(off + 4, le);
    const caplen = view.getUint32(off + 8, le);
    const origLen = view.getUint32(off + 12, le);
    if (caplen > maxCaplen) {
      return fail(`pcap record at offset ${off} has caplen ${caplen} (> limit ${maxCaplen}); file is corrupt`, off);
    }
    const dataStart = off + recordHeaderLen;
    if (dataStart + caplen > bytes.length) {
      capture.warnings.push({
        reason: `pcap record at offset ${off} is cut short: caplen ${caplen} but only ${bytes.length - dataStart} bytes left`,
        offset: off,
      });
      break;
    }
    const timeNs = BigInt(sec) * 1_000_000_000n + BigInt(frac) * fracToNs;
    capture.records.push(
      makeRecord(capture.records.length, timeNs, iface, caplen, origLen, bytes.subarray(dataStart, dataStart + caplen), true),
    );
    off = dataStart + caplen;
  }
  return { ok: true, value: capture };
}

// ---------------------------------------------------------------------------------------
// pcapng (draft-ietf-opsawg-pcapng)

function optionString(opts: PcapngOption[], code: number): string | undefined {
  const found = opts.filter((o) => o.code === code).map((o) => utf8Decoder.decode(o.value));
  return found.length ? found.join("\n") : undefined;
}

/** Minimum total block length per block type (fixed fields + 12). */
const MIN_BLOCK_LEN: Record<number, number> = {
  [BLOCK_SHB]: 28,
  [BLOCK_IDB]: 20,
  [BLOCK_EPB]: 32,
  [BLOCK_SPB]: 16,
  [BLOCK_PB]: 32,
};

function blockName(type: number): string {
  switch (type) {
    case BLOCK_SHB:
      return "Section Header Block";
    case BLOCK_IDB:
      return "Interface Description Block";
    case BLOCK_EPB:
      return "Enhanced Packet Block";
    case BLOCK_SPB:
      return "Simple Packet Block";
    case BLOCK_PB:
      return "Packet Block";
    default:
      return `block type ${hex32(type)}`;
  }
}

function readPcapng(bytes: Uint8Array, view: DataView): ReadResult {
  const capture: Capture = { format: "pcapng", sections: [], interfaces: [], records: [], warnings: [] };
  let le = true;
  /** Interfaces of the current section, by the section-local id EPBs use. */
  let sectionIfaces: CaptureInterface[] = [];
  let off = 0;

  while (off < bytes.length) {
    const left = bytes.length - off;
    // The SHB type is a palindrome, so it can be recognised before the byte order is known.
    const isShb = left >= 4 && view.getUint32(off, true) === BLOCK_SHB;
    if (isShb) {
      if (left < 12) {
        if (capture.sections.length === 0) return fail(`pcapng Section Header Block at offset ${off} is cut short (${left} bytes)`, off);
        capture.warnings.push({ reason: `pcapng Section Header Block at offset ${off} is cut short (${left} bytes)`, offset: off });
        break;
      }
      const bom = view.getUint32(off + 8, true);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else return fail(`pcapng Section Header Block at offset ${off} has bad byte-order magic ${hex32(bom)}`, off + 8);
    } else if (capture.sections.length === 0) {
      return fail(`pcapng file does not start with a Section Header Block`, off);
    }
    if (left < 8) {
      capture.warnings.push({ reason: `pcapng block header at offset ${off} is cut short (${left} bytes)`, offset: off });
      break;
    }
    const type = view.getUint32(off, le);
    const len = view.getUint32(off + 4, le);
    if (len < BLOCK_MIN_LEN) return fail(`pcapng block at offset ${off} has length ${len} (< ${BLOCK_MIN_LEN})`, off);
    if (len % 4 !== 0) return fail(`pcapng block at offset ${off} has length ${len}, not a multiple of 4`, off);
    const minLen = MIN_BLOCK_LEN[type];
    if (minLen !== undefined && len < minLen) {
      return fail(`pcapng ${blockName(type)} at offset ${off} has length ${len} (< ${minLen})`, off);
    }
    if (len > left) {
      const reason = `pcapng ${blockName(type)} at offset ${off} is cut short: length ${len} but only ${left} bytes left`;
      if (isShb && capture.sections.length === 0) return fail(reason, off);
      capture.warnings.push({ reason, offset: off });
      break;
    }
    const trailing = view.getUint32(off + len - 4, le);
    if (trailing !== len) {
      return fail(`pcapng block at offset ${off}: trailing length ${trailing} does not match leading length ${len}`, off + len - 4);
    }
    const bodyEnd = off + len - 4;

    switch (type) {
      case BLOCK_SHB: {
        const major = view.getUint16(off + 12, le);
        const minor = view.getUint16(off + 14, le);
        if (major !== PCAPNG_VERSION_MAJOR) {
          return fail(`pcapng section at offset ${off} has unsupported version ${major}.${minor}`, off + 12);
        }
        const opts = parseOptions(view, off + 24, bodyEnd, le, 0);
        if (!opts.ok) return opts;
        capture.sections.push({
          offset: off,
          littleEndian: le,
          userAppl: optionString(opts.options, SHB_USERAPPL),
          os: optionString(opts.options, SHB_OS),
          hardware: optionString(opts.options, SHB_HARDWARE),
          comment: optionString(opts.options, OPT_COMMENT),
        });
        // Interface ids are local to a section (pcapng §4.2).
        sectionIfaces = [];
        break;
      }
      case BLOCK_IDB: {
        const linkType = view.getUint16(off + 8, le);
        const snapLen = view.getUint32(off + 12, le);
        const opts = parseOptions(view, off + 16, bodyEnd, le, 0);
        if (!opts.ok) return opts;
        let tsResolution = TSRESOL_MICRO;
        let tsOffsetSec = 0n;
        for (const o of opts.options) {
          if (o.code === IF_TSRESOL && o.value.length >= 1) tsResolution = decodeTsResol(o.value[0]!);
          if (o.code === IF_TSOFFSET && o.value.length >= 8) {
            tsOffsetSec = new DataView(o.value.buffer, o.value.byteOffset, 8).getBigInt64(0, le);
          }
        }
        if (tsResolution.base === 10 && tsResolution.exponent > 18) {
          return fail(`pcapng interface at offset ${off} has if_tsresol 10^-${tsResolution.exponent}, beyond what 64-bit timestamps can use`, off);
        }
        if (tsResolution.base === 2 && tsResolution.exponent > 63) {
          return fail(`pcapng interface at offset ${off} has if_tsresol 2^-${tsResolution.exponent}, beyond what 64-bit timestamps can use`, off);
        }
        const iface: CaptureInterface = {
          index: capture.interfaces.length,
          section: capture.sections.length - 1,
          linkType,
          snapLen,
          tsResolution,
          tsOffsetSec,
          name: optionString(opts.options, IF_NAME),
          description: optionString(opts.options, IF_DESCRIPTION),
        };
        capture.interfaces.push(iface);
        sectionIfaces.push(iface);
        break;
      }
      case BLOCK_EPB:
      case BLOCK_PB: {
        // EPB: ifid u32, ts high, ts low, caplen, origlen. Obsolete PB: ifid u16, drops u16, then the same.
        const ifid = type === BLOCK_EPB ? view.getUint32(off + 8, le) : view.getUint16(off + 8, le);
        const iface = sectionIfaces[ifid];
        if (!iface) {
          return fail(
            `pcapng ${blockName(type)} at offset ${off} uses interface ${ifid} but the section defines ${sectionIfaces.length}`,
            off + 8,
          );
        }
        const ticks = (BigInt(view.getUint32(off + 12, le)) << 32n) | BigInt(view.getUint32(off + 16, le));
        const caplen = view.getUint32(off + 20, le);
        const origLen = view.getUint32(off + 24, le);
        const dataStart = off + 28;
        if (dataStart + caplen > bodyEnd) {
          return fail(
            `pcapng ${blockName(type)} at offset ${off} has captured length ${caplen}, more than its block holds (${bodyEnd - dataStart})`,
            off + 20,
          );
        }
        const opts = parseOptions(view, dataStart + pad4(caplen), bodyEnd, le, 0);
        if (!opts.ok) return opts;
        const timeNs = ticksToNs(ticks, iface.tsResolution) + iface.tsOffsetSec * 1_000_000_000n;
        const rec = makeRecord(capture.records.length, timeNs, iface, caplen, origLen, bytes.subarray(dataStart, dataStart + caplen), true);
        const comment = optionString(opts.options, OPT_COMMENT);
        if (comment !== undefined) rec.comment = comment;
        if (type === BLOCK_EPB) {
          const flags = opts.options.find((o) => o.code === EPB_FLAGS && o.value.length >= 4);
          if (flags) {
            const dir = new DataView(flags.value.buffer, flags.value.byteOffset, 4).getUint32(0, le) & EPB_FLAG_DIR_MASK;
            if (dir === EPB_FLAG_INBOUND) rec.direction = "in";
            else if (dir === EPB_FLAG_OUTBOUND) rec.direction = "out";
          }
        }
        capture.records.push(rec);
        break;
      }
      case BLOCK_SPB: {
        // SPB (§4.4): always interface 0, no timestamp; captured length is the smaller of the
        // original length, the snaplen and what the block holds.
        const iface = sectionIfaces[0];
        if (!iface) return fail(`pcapng Simple Packet Block at offset ${off} comes before any interface`, off);
        const origLen = view.getUint32(off + 8, le);
        const dataStart = off + 12;
        let caplen = Math.min(origLen, bodyEnd - dataStart);
        if (iface.snapLen > 0) caplen = Math.min(caplen, iface.snapLen);
        capture.records.push(
          makeRecord(capture.records.length, 0n, iface, caplen, origLen, bytes.subarray(dataStart, dataStart + caplen), false),
        );
        break;
      }
      case BLOCK_NRB:
      case BLOCK_ISB:
      case BLOCK_DSB:
      default:
        // Name resolution, statistics, decryption secrets and unknown/custom blocks carry no
        // packets; the block structure lets them be skipped safely (pcapng §4).
        break;
    }
    off += len;
  }
  return { ok: true, value: capture };
}
