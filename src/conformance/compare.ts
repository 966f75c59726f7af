// Outbound packet checks (docs/conformance-runner.md, "Model"): a live segment the stack sent against the
// script's `>` line, field by field, with packetdrill's translation rules:
// - our sequence numbers are relative to the live ISS (learned from the first SYN),
//   unless written absolute (nplab `N!`);
// - the remote side's numbers are literal (the injected SYN carries the script's ISN), so
//   an outbound `ack N` is compared as is;
// - `win` only when written; options byte-exact unless `<...>`, with the outbound TS val
//   not compared (no --tcp_ts_tick_usecs) and TS ecr compared;
// - no `<>` at all = the segment must carry no options.
import type { PacketEvent, TcpOptionSpec } from "./ast.js";
import { formatTcpOption as formatSpecOption } from "./format.js";
import { writeTcpOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type Packet, type TcpOption } from "../../stack/wire/types.js";

const TCP_ECE = 0x40;
const TCP_CWR = 0x80;
const TCP_AE = 0x100;

export interface LivePacket {
  tMs: number;
  bytes: Uint8Array;
  pkt: Packet;
}

/** What the runner knows about the connection's numbering. */
export interface SeqContext {
  /** Our live ISS (script seq 0), once learned. */
  iss?: number;
}

export type CompareResult = { ok: true } | { ok: false; field: string; expected: string; actual: string };

/** Flag bits of a script line, in wire form. */
export function specFlags(ev: PacketEvent): number {
  const b = ev.tcp.flagBits;
  return (
    (b.fin ? TCP_FIN : 0) |
    (b.syn ? TCP_SYN : 0) |
    (b.rst ? TCP_RST : 0) |
    (b.psh ? TCP_PSH : 0) |
    (b.ack ? TCP_ACK : 0) |
    (b.urg ? TCP_URG : 0) |
    (b.ece ? TCP_ECE : 0) |
    (b.cwr ? TCP_CWR : 0) |
    (b.ae ? TCP_AE : 0)
  );
}

/** packetdrill's flag letters, in its canonical order. */
export function flagText(f: number): string {
  let s = "";
  if (f & TCP_SYN) s += "S";
  if (f & TCP_FIN) s += "F";
  if (f & TCP_RST) s += "R";
  if (f & TCP_PSH) s += "P";
  if (f & TCP_ACK) s += ".";
  if (f & TCP_URG) s += "U";
  if (f & TCP_ECE) s += "E";
  if (f & TCP_CWR) s += "W";
  if (f & TCP_AE) s += "A";
  return s === "" ? "-" : s;
}

/** The raw option bytes of a live TCP packet (exactly what is on the wire, padding included). */
export function rawOptions(bytes: Uint8Array): Uint8Array {
  const v = bytes[0] >> 4;
  const ipLen = v === 4 ? (bytes[0] & 0x0f) * 4 : 40;
  const doff = (bytes[ipLen + 12] >> 4) * 4;
  return bytes.subarray(ipLen + 20, ipLen + doff);
}

/** Raw option bytes as packetdrill text; every padding byte shows (`eol,eol`). */
export function formatRawOptions(raw: Uint8Array): string {
  const out: string[] = [];
  let i = 0;
  const u16 = (k: number) => (raw[k] << 8) | raw[k + 1];
  const u32 = (k: number) => ((raw[k] << 24) | (raw[k + 1] << 16) | (raw[k + 2] << 8) | raw[k + 3]) >>> 0;
  while (i < raw.length) {
    const kind = raw[i];
    if (kind === 0) {
      out.push("eol");
      i++;
      continue;
    }
    if (kind === 1) {
      out.push("nop");
      i++;
      continue;
    }
    const len = raw[i + 1] ?? 0;
    if (len < 2 || i + len > raw.length) {
      out.push(`<bad option ${kind}>`);
      break;
    }
    if (kind === 2 && len === 4) out.push(`mss ${u16(i + 2)}`);
    else if (kind === 3 && len === 3) out.push(`wscale ${raw[i + 2]}`);
    else if (kind === 4 && len === 2) out.push("sackOK");
    else if (kind === 8 && len === 10) out.push(`TS val ${u32(i + 2)} ecr ${u32(i + 6)}`);
    else if (kind === 5) {
      const blocks: string[] = [];
      for (let k = i + 2; k + 8 <= i + len; k += 8) blocks.push(`${u32(k)}:${u32(k + 4)}`);
      out.push(`sack ${blocks.join(" ")}`);
    } else out.push(`option ${kind} len ${len}`);
    i += len;
  }
  return out.join(",");
}

/** One live segment as a packetdrill line, numbers relative as the script would write them. */
export function formatLive(p: LivePacket, ctx: SeqContext): string {
  if (p.pkt.l4.kind !== "tcp") return `(non-TCP packet, protocol ${p.pkt.ip.protocol})`;
  const t = p.pkt.l4.tcp;
  const rel = ctx.iss !== undefined ? (t.seq - ctx.iss) >>> 0 : t.seq;
  let s = `> ${flagText(t.flags)} ${rel}:${(rel + t.payload.length) >>> 0}(${t.payload.length})`;
  if (t.flags & TCP_ACK) s += ` ack ${t.ack}`;
  s += ` win ${t.window}`;
  const raw = rawOptions(p.bytes);
  if (raw.length > 0) s += ` <${formatRawOptions(raw)}>`;
  return s;
}

/**
 * Script options -> wire options for an outbound comparison (TS val taken from the live
 * segment) or for an inbound packet (`tsEcr` translates a script TS value to a live one).
 * Returns undefined for options we cannot build (they are skipped by feature before).
 */
export function specOptionsToWire(
  spec: TcpOptionSpec[],
  opts: { liveTsVal?: number; tsEcr?: (ecr: number, absolute: boolean) => number; sackBase?: number },
): TcpOption[] | undefined {
  const out: TcpOption[] = [];
  for (const o of spec) {
    switch (o.kind) {
      case "eol":
      case "nop":
      case "sackOK":
        out.push({ kind: o.kind });
        break;
      case "mss":
        out.push({ kind: "mss", value: o.value });
        break;
      case "wscale":
        out.push({ kind: "wscale", shift: o.shift });
        break;
      case "sack":
        out.push({ kind: "sack", blocks: o.blocks.map(([l, r]) => [((opts.sackBase ?? 0) + l) >>> 0, ((opts.sackBase ?? 0) + r) >>> 0]) });
        break;
      case "ts": {
        const val = opts.liveTsVal ?? o.val;
        const ecr = opts.tsEcr ? opts.tsEcr(o.ecr, o.ecrAbsolute === true) : o.ecr;
        out.push({ kind: "ts", val: val >>> 0, ecr: ecr >>> 0 });
        break;
      }
      default:
        return undefined;
    }
  }
  return out;
}

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The live TS option of a segment, if any. */
export function liveTs(p: LivePacket): { val: number; ecr: number } | undefined {
  if (p.pkt.l4.kind !== "tcp") return undefined;
  for (const o of p.pkt.l4.tcp.options) if (o.kind === "ts") return { val: o.val, ecr: o.ecr };
  return undefined;
}

export interface CompareOptions {
  /**
   * Google packetdrill default (no --strict_segments): PSH is not compared, and one script
   * packet may be several live segments (TSO); the caller coalesces before comparing.
   */
  lenientPsh: boolean;
}

/**
 * Compares a (possibly coalesced) live segment with a script line. `payloadLen` is the
 * coalesced payload length; `first` gives seq, `last` the flags/ack/win/options.
 */
export function compareOutbound(ev: PacketEvent, first: LivePacket, last: LivePacket, payloadLen: number, ctx: SeqContext, o: CompareOptions): CompareResult {
  if (first.pkt.l4.kind !== "tcp" || last.pkt.l4.kind !== "tcp") return { ok: false, field: "protocol", expected: "TCP", actual: `protocol ${first.pkt.ip.protocol}` };
  const t0 = first.pkt.l4.tcp;
  const t = last.pkt.l4.tcp;
  const spec = ev.tcp;
  const mask = o.lenientPsh ? ~TCP_PSH : ~0;
  const wantFlags = specFlags(ev);
  if ((t.flags & mask & 0x1ff) !== (wantFlags & mask & 0x1ff)) {
    return { ok: false, field: "flags", expected: flagText(wantFlags), actual: flagText(t.flags) };
  }
  const seq = spec.seqAbsolute || ctx.iss === undefined ? t0.seq : (t0.seq - ctx.iss) >>> 0;
  if (!spec.seqAny && seq !== spec.seqStart >>> 0) return { ok: false, field: "seq", expected: String(spec.seqStart), actual: String(seq) };
  if (payloadLen !== spec.payloadLen) return { ok: false, field: "payload length", expected: String(spec.payloadLen), actual: String(payloadLen) };
  if (spec.ack !== undefined) {
    if (!(t.flags & TCP_ACK) && !spec.flagBits.ack) {
      // An ack number written on a line without the ACK flag is still compared (packetdrill does).
    }
    if (t.ack >>> 0 !== spec.ack >>> 0) return { ok: false, field: "ack", expected: String(spec.ack), actual: String(t.ack) };
  }
  if (spec.win !== undefined && t.window !== spec.win) return { ok: false, field: "win", expected: String(spec.win), actual: String(t.window) };
  if (spec.urg !== undefined && t.urgent !== spec.urg) return { ok: false, field: "urg", expected: String(spec.urg), actual: String(t.urgent) };
  const raw = rawOptions(last.bytes);
  if (spec.options === "any") return { ok: true };
  const ts = liveTs(last);
  // SACK blocks we send describe the peer's data: its numbers are literal (base 0).
  const wire = specOptionsToWire(spec.options, { liveTsVal: ts?.val, sackBase: 0 });
  const expectedText = spec.options.length === 0 ? "(none)" : spec.options.map(formatSpecOption).join(",");
  if (!wire) return { ok: false, field: "options", expected: expectedText, actual: "(cannot build the expected options)" };
  const want = writeTcpOptions(wire);
  if (!eqBytes(want, raw)) {
    return { ok: false, field: "options", expected: expectedText, actual: raw.length === 0 ? "(none)" : formatRawOptions(raw) };
  }
  return { ok: true };
}
