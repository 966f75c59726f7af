// The segment timeline people read: aligned columns (time, direction, flags, relative
// seq/ack, window, options, decision), colours on a TTY unless NO_COLOR is set.
import { parsePacket } from "../../stack/wire/packet.js";
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import { formatTcpOptions } from "../../stack/wire/tcp-options.js";
import type { TraceEvent } from "../../stack/trace.js";

export interface SegmentRecord {
  /** ms since the connect call. */
  t: number;
  dir: "in" | "out";
  flags: string;
  /** Relative to our ISS (out) or the peer's ISS (in), when known. */
  seq: number;
  ack: number;
  win: number;
  len: number;
  options: string;
  /** For ICMP: "ICMP 3/1 from 10.0.0.254". */
  icmp?: string;
  decision: string;
  rule?: string;
}

export interface Colors {
  dim(s: string): string;
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

export function makeColors(enabled: boolean): Colors {
  const wrap = (code: number) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { dim: wrap(2), bold: wrap(1), red: wrap(31), green: wrap(32), yellow: wrap(33), cyan: wrap(36), magenta: wrap(35) };
}

/** Colours only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function colorsFor(stream: NodeJS.WriteStream): Colors {
  const on = !!stream.isTTY && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
  return makeColors(on);
}

/**
 * Turns the engine's trace of one connection into segment records, with sequence numbers
 * relative to the two initial sequence numbers (as Wireshark and packetdrill show them).
 */
export function segmentsFromTrace(events: readonly TraceEvent[], t0: number, localPort: number | undefined): SegmentRecord[] {
  const out: SegmentRecord[] = [];
  let iss: number | undefined;
  let irs: number | undefined;
  // What the engine decided about an incoming segment follows it in the trace.
  let lastIn: SegmentRecord | undefined;
  for (const ev of events) {
    if ((ev.kind !== "in" && ev.kind !== "out" && ev.kind !== "icmp") || !ev.bytes) {
      if (lastIn && ev.kind !== "timer" && ev.kind !== "user") {
        lastIn.decision = lastIn.decision ? `${lastIn.decision}; ${ev.decision}` : ev.decision;
        lastIn.rule ??= ev.rule;
      }
      continue;
    }
    lastIn = undefined;
    const p = parsePacket(ev.bytes);
    if (!p.ok) continue;
    if (p.value.l4.kind === "icmp") {
      const m = p.value.l4.icmp;
      lastIn = { t: round(ev.t - t0), dir: "in", flags: "", seq: 0, ack: 0, win: 0, len: 0, options: "", icmp: `ICMP${m.version === 6 ? "v6" : ""} ${m.type}/${m.code} from ${p.value.ip.src}`, decision: "" };
      out.push(lastIn);
      continue;
    }
    if (p.value.l4.kind !== "tcp") continue;
    const tcp = p.value.l4.tcp;
    const dir = ev.kind === "out" ? "out" : "in";
    if (localPort !== undefined && (dir === "out" ? tcp.srcPort : tcp.dstPort) !== localPort) continue;
    const syn = (tcp.flags & 0x02) !== 0;
    const ackBit = (tcp.flags & 0x10) !== 0;
    if (dir === "out" && syn && iss === undefined) iss = tcp.seq;
    if (dir === "in" && syn && irs === undefined) irs = tcp.seq;
    const mine = dir === "out" ? iss : irs;
    const theirs = dir === "out" ? irs : iss;
    const rec: SegmentRecord = {
      t: round(ev.t - t0),
      dir,
      flags: formatTcpFlags(tcp.flags),
      seq: mine !== undefined ? (tcp.seq - mine) >>> 0 : tcp.seq,
      ack: ackBit ? (theirs !== undefined ? (tcp.ack - theirs) >>> 0 : tcp.ack) : 0,
      win: tcp.window,
      len: tcp.payload.length,
      options: formatTcpOptions(tcp.options),
      decision: ev.kind === "in" ? "" : ev.decision,
      rule: ev.kind === "in" ? undefined : ev.rule,
    };
    out.push(rec);
    if (dir === "in") lastIn = rec;
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function formatTimeline(segs: readonly SegmentRecord[], c: Colors, labels: { local: string; remote: string }): string {
  const lines: string[] = [];
  lines.push(c.dim(`${"time".padStart(9)}  ${"".padEnd(3)} ${"flags".padEnd(5)} ${"seq".padStart(10)} ${"ack".padStart(10)} ${"win".padStart(6)} ${"len".padStart(5)}  options / decision`));
  for (const s of segs) {
    const t = `${s.t.toFixed(1)}ms`.padStart(9);
    if (s.icmp) {
      lines.push(`${c.dim(t)}  ${c.magenta("<--")} ${c.magenta(s.icmp)}${s.decision ? c.dim(`  # ${s.decision}`) : ""}`);
      continue;
    }
    const arrow = s.dir === "out" ? c.cyan("-->") : c.yellow("<--");
    const flagColor = s.flags.includes("R") ? c.red : s.flags.includes("S") ? c.green : (x: string) => x;
    const opts = s.options ? `<${s.options}>` : "";
    const decision = s.decision ? c.dim(`  # ${s.decision}`) : "";
    lines.push(
      `${c.dim(t)}  ${arrow} ${flagColor(s.flags.padEnd(5))} ${String(s.seq).padStart(10)} ${String(s.ack).padStart(10)} ${String(s.win).padStart(6)} ${String(s.len).padStart(5)}  ${opts}${decision}`,
    );
  }
  void labels;
  return lines.join("\n");
}
