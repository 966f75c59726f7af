// TCP options (RFC 9293 §3.2, RFC 7323 for window scale and timestamps,
// RFC 2018 for SACK). Parsed into an ordered list so that a SYN's exact option
// layout (which differs per OS) survives a parse/write round trip.

import { fail, ok, type PacketError, type Parsed, type TcpOption, type TcpOptionError, type TcpOptionSummary } from "./types.js";

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

/** The option space of a TCP header: data offset 15 words minus the fixed 20 bytes. */
export const TCP_MAX_OPTION_BYTES = 40;

const u32 = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/**
 * Parses the option bytes of a TCP header (from byte 20 to the data offset), strictly: a
 * malformed list is refused with the reason of its first problem (see scanTcpOptions).
 * - EOL (0) ends the list; what follows it is padding and is not read (RFC 9293 §3.2).
 * - NOP (1) is kept, so the original layout is visible.
 * - Every other kind has a length byte counting kind and length; a length of 0 or 1
 *   or one running past the option space is refused (RFC 9293 §3.2: "a TCP
 *   implementation MUST be prepared to handle an illegal option length (e.g., zero)").
 * - Known kinds must have their fixed length (MSS 4, window scale 3, SACK-permitted 2,
 *   timestamps 10, SACK 2 + 8n with n in 1..4); unknown kinds are kept with their bytes.
 * Reasons: "tcp option truncated", "tcp option length < 2", "tcp option overrun",
 * "tcp option bad mss length", "tcp option bad wscale length", "tcp option bad sackOK
 * length", "tcp option bad sack length", "tcp option bad timestamp length".
 * `unknown` option data is a subarray view of `bytes`.
 */
export function parseTcpOptions(bytes: Uint8Array): Parsed<TcpOption[], PacketError> {
  const out: TcpOption[] = [];
  const error = scanTcpOptions(bytes, out);
  return error === undefined ? ok(out) : fail(error);
}

/**
 * Parses the option bytes as a receiver meets them, into `out`; never refuses. Returns the
 * first problem, or undefined for a well-formed list. A malformed part becomes a "bad"
 * entry holding its bytes (a view of `bytes`):
 * - a known kind of the wrong length is that option alone, skipped by its length byte, and
 *   the options after it are read;
 * - an option without its length byte, with a length below 2, or running past the option
 *   space ends the list: the "bad" entry runs to the end of the option space.
 * The well-formed options before (and around) the problem are kept as usual. What a
 * receiver does with such a segment is its profile's badOptions policy (stack/tcp/options.ts).
 */
export function scanTcpOptions(bytes: Uint8Array, out: TcpOption[]): TcpOptionError | undefined {
  const n = bytes.length;
  let error: TcpOptionError | undefined;
  let i = 0;
  while (i < n) {
    const kind = bytes[i];
    if (kind === TCPOPT_EOL) {
      out.push({ kind: "eol" });
      break;
    }
    if (kind === TCPOPT_NOP) {
      out.push({ kind: "nop" });
      i++;
      continue;
    }
    const len = i + 1 < n ? bytes[i + 1] : 0;
    const stop: TcpOptionError | undefined = i + 1 >= n ? "tcp option truncated" : len < 2 ? "tcp option length < 2" : i + len > n ? "tcp option overrun" : undefined;
    if (stop !== undefined) {
      out.push({ kind: "bad", bytes: bytes.subarray(i), reason: stop });
      return error ?? stop;
    }
    let wrong: TcpOptionError | undefined;
    switch (kind) {
      case TCPOPT_MSS:
        if (len !== 4) wrong = "tcp option bad mss length";
        else out.push({ kind: "mss", value: (bytes[i + 2] << 8) | bytes[i + 3] });
        break;
      case TCPOPT_WSCALE:
        if (len !== 3) wrong = "tcp option bad wscale length";
        else out.push({ kind: "wscale", shift: bytes[i + 2] });
        break;
      case TCPOPT_SACK_PERMITTED:
        if (len !== 2) wrong = "tcp option bad sackOK length";
        else out.push({ kind: "sackOK" });
        break;
      case TCPOPT_SACK: {
        const count = (len - 2) / 8;
        if (!Number.isInteger(count) || count < 1 || count > 4) {
          wrong = "tcp option bad sack length";
          break;
        }
        const blocks: Array<[number, number]> = [];
        for (let k = 0; k < count; k++) {
          const at = i + 2 + k * 8;
          blocks.push([u32(bytes, at), u32(bytes, at + 4)]);
        }
        out.push({ kind: "sack", blocks });
        break;
      }
      case TCPOPT_TIMESTAMP:
        if (len !== 10) wrong = "tcp option bad timestamp length";
        else out.push({ kind: "ts", val: u32(bytes, i + 2), ecr: u32(bytes, i + 6) });
        break;
      default:
        out.push({ kind: "unknown", type: kind, data: bytes.subarray(i + 2, i + len) });
    }
    if (wrong !== undefined) {
      out.push({ kind: "bad", bytes: bytes.subarray(i, i + len), reason: wrong });
      error ??= wrong;
    }
    i += len;
  }
  return error;
}

/** Encoded length of one option, bytes. */
function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case "eol":
    case "nop":
      return 1;
    case "mss":
      return 4;
    case "wscale":
      return 3;
    case "sackOK":
      return 2;
    case "sack":
      return 2 + 8 * o.blocks.length;
    case "ts":
      return 10;
    case "unknown":
      return 2 + o.data.length;
    case "bad":
      return o.bytes.length;
  }
}

/** Length of the option list once written, padded to a multiple of 4 bytes. */
export function tcpOptionsLength(opts: readonly TcpOption[]): number {
  let n = 0;
  for (const o of opts) n += optionLength(o);
  return (n + 3) & ~3;
}

const putU32 = (b: Uint8Array, i: number, v: number): void => {
  b[i] = (v >>> 24) & 0xff;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
};

/**
 * Writes `opts` at out[off] exactly as listed, then zero bytes (EOL) up to a
 * multiple of 4 (RFC 9293 §3.1: "the header padding is composed of zeros").
 * Returns the number of bytes written. Out-of-range values are programmer errors
 * and throw.
 */
export function writeTcpOptionsInto(out: Uint8Array, off: number, opts: readonly TcpOption[]): number {
  let i = off;
  for (const o of opts) {
    switch (o.kind) {
      case "eol":
        out[i++] = TCPOPT_EOL;
        break;
      case "nop":
        out[i++] = TCPOPT_NOP;
        break;
      case "mss":
        if (o.value < 0 || o.value > 0xffff) throw new RangeError(`mss ${o.value}`);
        out[i] = TCPOPT_MSS;
        out[i + 1] = 4;
        out[i + 2] = o.value >> 8;
        out[i + 3] = o.value & 0xff;
        i += 4;
        break;
      case "wscale":
        if (o.shift < 0 || o.shift > 0xff) throw new RangeError(`wscale ${o.shift}`);
        out[i] = TCPOPT_WSCALE;
        out[i + 1] = 3;
        out[i + 2] = o.shift;
        i += 3;
        break;
      case "sackOK":
        out[i] = TCPOPT_SACK_PERMITTED;
        out[i + 1] = 2;
        i += 2;
        break;
      case "sack":
        if (o.blocks.length < 1 || o.blocks.length > 4) throw new RangeError(`sack with ${o.blocks.length} blocks`);
        out[i] = TCPOPT_SACK;
        out[i + 1] = 2 + 8 * o.blocks.length;
        i += 2;
        for (const [left, right] of o.blocks) {
          putU32(out, i, left);
          putU32(out, i + 4, right);
          i += 8;
        }
        break;
      case "ts":
        out[i] = TCPOPT_TIMESTAMP;
        out[i + 1] = 10;
        putU32(out, i + 2, o.val);
        putU32(out, i + 6, o.ecr);
        i += 10;
        break;
      case "unknown":
        if (o.type < 2 || o.type > 0xff || o.data.length > 0xfd) {
          throw new RangeError(`unknown option kind ${o.type} with ${o.data.length} data bytes`);
        }
        out[i] = o.type;
        out[i + 1] = 2 + o.data.length;
        out.set(o.data, i + 2);
        i += 2 + o.data.length;
        break;
      case "bad":
        // A received malformed option written back as it came (the replay re-injects it).
        out.set(o.bytes, i);
        i += o.bytes.length;
        break;
    }
  }
  while ((i - off) & 3) out[i++] = TCPOPT_EOL;
  return i - off;
}

/** The options as bytes: exactly the list, zero-padded to a multiple of 4. */
export function writeTcpOptions(opts: readonly TcpOption[]): Uint8Array {
  const out = new Uint8Array(tcpOptionsLength(opts));
  writeTcpOptionsInto(out, 0, opts);
  return out;
}

/**
 * Pulls out what the TCP acts on. When a kind appears more than once the last one
 * wins, as in Linux's tcp_parse_options. Values are as received: clamping (e.g. a
 * window scale above 14, RFC 7323 §2.3) is the engine's business.
 */
export function summarizeOptions(opts: readonly TcpOption[]): TcpOptionSummary {
  const s: TcpOptionSummary = { sackOK: false };
  for (const o of opts) {
    switch (o.kind) {
      case "mss":
        s.mss = o.value;
        break;
      case "wscale":
        s.wscale = o.shift;
        break;
      case "sackOK":
        s.sackOK = true;
        break;
      case "sack":
        s.sack = o.blocks;
        break;
      case "ts":
        s.ts = { val: o.val, ecr: o.ecr };
        break;
      default:
        break;
    }
  }
  return s;
}

function hex(data: Uint8Array): string {
  let s = "";
  for (let i = 0; i < data.length; i++) s += data[i].toString(16).padStart(2, "0");
  return s;
}

/** One option in tcpdump / packetdrill words. */
export function formatTcpOption(o: TcpOption): string {
  switch (o.kind) {
    case "eol":
      return "eol";
    case "nop":
      return "nop";
    case "mss":
      return `mss ${o.value}`;
    case "wscale":
      return `wscale ${o.shift}`;
    case "sackOK":
      return "sackOK";
    case "sack":
      return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(" ")}`;
    case "ts":
      return `TS val ${o.val} ecr ${o.ecr}`;
    case "unknown":
      return o.data.length > 0 ? `unknown-${o.type} 0x${hex(o.data)}` : `unknown-${o.type}`;
    case "bad":
      return `bad 0x${hex(o.bytes)}`;
  }
}

/** The list in tcpdump / packetdrill style: "mss 1460,nop,wscale 8,nop,nop,sackOK". */
export function formatTcpOptions(opts: readonly TcpOption[]): string {
  let s = "";
  for (let k = 0; k < opts.length; k++) {
    if (k > 0) s += ",";
    s += formatTcpOption(opts[k]);
  }
  return s;
}
