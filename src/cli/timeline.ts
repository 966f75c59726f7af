// The timeline people read in the terminal: one row per packet of the connection (TCP or
// ICMP, in or out), per timer that expired and per call of the application, each with the
// notes that belong to it, in aligned columns (time, direction, flags, relative seq/ack,
// window, length, options, notes).
//
// Which note goes on which row: the engine traces an incoming packet, then what it decided
// about it (state changes, drops, the outcome); a timer's expiry, then what it did; an
// application call (CLOSE...), then its effects. So a note belongs to the last packet, timer
// or call of the same connection *at the same instant*. A note with nothing at its instant
// (the connection giving up at the end of its last timeout) gets a row of its own; a note
// that precedes the packet it explains (CLOSED -> SYN-SENT before the first SYN) goes on
// that packet. Packets of other connections and traffic the stack ignored (IPv6 neighbour
// discovery on the same TUN) are not part of this connection's timeline.
import { parsePacket } from "../../stack/wire/packet.js";
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import { formatTcpOptions } from "../../stack/wire/tcp-options.js";
import type { TraceEvent } from "../../stack/trace.js";
import type { Colors } from "./colors.js";

export { colorsFor, makeColors, type Colors } from "./colors.js";

export interface TimelineRow {
  /** "tcp"/"icmp": a packet; "timer": a timer expired; "app": the application called; "note": an event on its own. */
  kind: "tcp" | "icmp" | "timer" | "app" | "note";
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
  /** The notes of this row, "; "-separated (the packet's own decision first). */
  decision: string;
  rule?: string;
  /** Index in the trace of the event this row stands for, and of each note's event. */
  source: number;
  noteSources: number[];
}

/** Kept for callers that speak of segments. */
export type SegmentRecord = TimelineRow;

const SAME_INSTANT_MS = 0.001;

function blankRow(kind: TimelineRow["kind"], t: number, dir: "in" | "out", source: number, decision: string): TimelineRow {
  return { kind, t, dir, flags: "", seq: 0, ack: 0, win: 0, len: 0, options: "", decision, source, noteSources: [] };
}

/** The connection id of the connect: the one that sent the first SYN. */
function connectionOf(events: readonly TraceEvent[], localPort: number | undefined): number | undefined {
  for (const ev of events) {
    if (ev.kind !== "out" || ev.conn === undefined || !ev.bytes) continue;
    if (localPort === undefined) return ev.conn;
    const p = parsePacket(ev.bytes);
    if (p.ok && p.value.l4.kind === "tcp" && p.value.l4.tcp.srcPort === localPort) return ev.conn;
  }
  return undefined;
}

/**
 * Turns the engine's trace of one connect into timeline rows, with sequence numbers relative
 * to the two initial sequence numbers (as Wireshark and packetdrill show them). For a
 * connection a listener accepted, `remotePort` names the peer: its SYN, which reached the
 * listener before the connection existed, is then part of the timeline.
 */
export function segmentsFromTrace(events: readonly TraceEvent[], t0: number, localPort: number | undefined, remotePort?: number): TimelineRow[] {
  const conn = connectionOf(events, localPort);
  const rows: TimelineRow[] = [];
  let iss: number | undefined;
  let irs: number | undefined;
  let ports: { local: number; remote: number } | undefined = localPort !== undefined && remotePort !== undefined ? { local: localPort, remote: remotePort } : undefined;
  // The row whose notes are still being written (a packet in, a timer, an app call).
  let cause: TimelineRow | undefined;
  // Notes seen before anything they could belong to (CLOSED -> SYN-SENT before the SYN).
  let early: Array<{ i: number; text: string; rule?: string; t: number }> = [];
  const t = (ev: TraceEvent) => round(ev.t - t0);
  const note = (row: TimelineRow, i: number, text: string, rule?: string) => {
    row.decision = row.decision ? `${row.decision}; ${text}` : text;
    row.rule ??= rule;
    row.noteSources.push(i);
  };
  const alone = (e: { i: number; text: string; rule?: string; t: number }) => rows.push({ ...blankRow("note", e.t, "out", e.i, e.text), rule: e.rule, noteSources: [e.i] });
  // Notes waiting for a row go on the next row when it is at their instant, else alone.
  const push = (row: TimelineRow) => {
    for (const e of early) {
      if (Math.abs(e.t - row.t) <= SAME_INSTANT_MS) note(row, e.i, e.text, e.rule);
      else alone(e);
    }
    early = [];
    rows.push(row);
  };
  events.forEach((ev, i) => {
    const mine = ev.conn !== undefined ? ev.conn === conn : false;
    if (ev.bytes && (ev.kind === "in" || ev.kind === "out" || ev.kind === "icmp" || ev.kind === "drop")) {
      const p = parsePacket(ev.bytes);
      if (!p.ok) return;
      const l4 = p.value.l4;
      const dir = ev.kind === "out" ? "out" : "in";
      // A packet the stack dropped before any connection saw it is ours only if it is
      // addressed to our connection (a stray TCP segment for our ports, an ICMP quoting us).
      if (!mine) {
        if (ev.conn !== undefined || !ports) return;
        const ours =
          l4.kind === "tcp"
            ? (dir === "in" ? l4.tcp.dstPort === ports.local && l4.tcp.srcPort === ports.remote : l4.tcp.srcPort === ports.local)
            : l4.kind === "icmp" && l4.icmp.quote?.srcPort === ports.local && l4.icmp.quote?.dstPort === ports.remote;
        if (!ours) return;
      }
      if (l4.kind === "icmp") {
        const row = blankRow("icmp", t(ev), "in", i, "");
        row.icmp = `ICMP${l4.icmp.version === 6 ? "v6" : ""} ${l4.icmp.type}/${l4.icmp.code} from ${p.value.ip.src}`;
        if (ev.kind === "drop") note(row, i, ev.decision, ev.rule);
        push(row);
        cause = row;
        return;
      }
      if (l4.kind !== "tcp") return;
      const tcp = l4.tcp;
      if (dir === "out" && !ports) ports = { local: tcp.srcPort, remote: tcp.dstPort };
      const syn = (tcp.flags & 0x02) !== 0;
      const ackBit = (tcp.flags & 0x10) !== 0;
      if (dir === "out" && syn && iss === undefined) iss = tcp.seq;
      if (dir === "in" && syn && irs === undefined) irs = tcp.seq;
      const own = dir === "out" ? iss : irs;
      const theirs = dir === "out" ? irs : iss;
      const row: TimelineRow = {
        ...blankRow("tcp", t(ev), dir, i, ""),
        flags: formatTcpFlags(tcp.flags),
        seq: own !== undefined ? (tcp.seq - own) >>> 0 : tcp.seq,
        ack: ackBit ? (theirs !== undefined ? (tcp.ack - theirs) >>> 0 : tcp.ack) : 0,
        win: tcp.window,
        len: tcp.payload.length,
        options: formatTcpOptions(tcp.options),
      };
      if (dir === "out") {
        // An outgoing packet carries its own reason (after what led to it); it is not the
        // cause of what follows.
        push(row);
        note(row, i, ev.decision, ev.rule);
        if (cause && Math.abs(cause.t - row.t) > SAME_INSTANT_MS) cause = undefined;
        return;
      }
      if (ev.kind === "drop") note(row, i, ev.decision, ev.rule);
      push(row);
      cause = row;
      return;
    }
    if (!mine) return;
    if (ev.kind === "timer" || ev.kind === "user") {
      const row = blankRow(ev.kind === "timer" ? "timer" : "app", t(ev), "out", i, "");
      note(row, i, ev.decision, ev.rule);
      push(row);
      cause = row;
      return;
    }
    // state, outcome, drop (decided by the connection), or the decision of an in/icmp event.
    if (ev.decision === "segment for connection") return;
    const text = ev.kind === "icmp" && /^ICMP(v6)? type \d+ code \d+$/.test(ev.decision) ? "" : ev.decision;
    if (!text) return;
    if (cause && Math.abs(cause.t - t(ev)) <= SAME_INSTANT_MS) {
      note(cause, i, text, ev.rule);
      return;
    }
    // Nothing at this instant yet: the note either explains the next packet (a state
    // change right before a send) or stands alone (a give-up, a cancel).
    cause = undefined;
    early.push({ i, text, rule: ev.rule, t: t(ev) });
  });
  for (const e of early) alone(e);
  rows.sort((a, b) => a.t - b.t || a.source - b.source);
  return rows;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The aligned text of the rows (colours per `c`). */
export function formatTimeline(rows: readonly TimelineRow[], c: Colors, labels?: { local: string; remote: string }): string {
  void labels;
  const lines: string[] = [];
  lines.push(c.dim(`${"time".padStart(9)}  ${"".padEnd(3)} ${"flags".padEnd(5)} ${"seq".padStart(10)} ${"ack".padStart(10)} ${"win".padStart(6)} ${"len".padStart(5)}  options / notes`));
  for (const s of rows) {
    const t = `${s.t.toFixed(1)}ms`.padStart(9);
    const notes = s.decision ? c.dim(`  # ${s.decision}`) : "";
    if (s.kind === "icmp") {
      lines.push(`${c.dim(t)}  ${c.magenta("<--")} ${c.magenta(s.icmp ?? "ICMP")}${notes}`);
      continue;
    }
    if (s.kind === "timer") {
      lines.push(`${c.dim(t)}  ${c.yellow("(T)")} ${c.yellow("timer expired")}${notes}`);
      continue;
    }
    if (s.kind === "app") {
      lines.push(`${c.dim(t)}  ${c.cyan("app")} ${c.cyan("the application calls")}${notes}`);
      continue;
    }
    if (s.kind === "note") {
      const bad = /CLOSED|give up|cancel/i.test(s.decision);
      // An event with no packet of its own: its rule says why ("no answer after 3 SYNs -> give up").
      lines.push(`${c.dim(t)}  ${bad ? c.red(" x ") : " - "} ${s.decision}${s.rule ? c.dim(` (${s.rule})`) : ""}`);
      continue;
    }
    const arrow = s.dir === "out" ? c.cyan("-->") : c.yellow("<--");
    const flagColor = s.flags.includes("R") ? c.red : s.flags.includes("S") ? c.green : (x: string) => x;
    const opts = s.options ? `<${s.options}>` : "";
    lines.push(
      `${c.dim(t)}  ${arrow} ${flagColor(s.flags.padEnd(5))} ${String(s.seq).padStart(10)} ${String(s.ack).padStart(10)} ${String(s.win).padStart(6)} ${String(s.len).padStart(5)}  ${opts}${notes}`,
    );
  }
  return lines.join("\n");
}
