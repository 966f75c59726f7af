// Ladder (time-sequence) diagrams of TCP connections, in the tradition of the figures of
// TCP/IP Illustrated and Wireshark's flow graph: one ladder for the recorded exchange and one
// for our stack's replay of it, side by side, with the same packet on the same row.
//
// - Time runs downwards. Spacing is proportional to time where the rows allow it: a gap is
//   drawn to scale, never closer than the row's labels need, and a wait longer than the
//   scale allows is shortened and marked with a break (≈) that says how long it was. The
//   compact mode spaces rows evenly, as a flow graph does. Every arrow has its time.
// - Labels sit above their arrow, inside the lane between the two lifelines, never across a
//   line. Retransmissions are dashed, packets the stack ignored end in a cross, timer
//   expiries have a clock on the client's lifeline, and both ends' states are written
//   beside their lifelines (the replayed client's are the stack's own; the others are
//   inferred from the packets and set in italics).
// - The stack's decisions are numbered notes: a number beside the arrow (or clock), the
//   note below the diagram (HTML: click an arrow or number to open it; printed: all open).
//
// Why this file is about 950 lines: it is one figure. The first half builds the rows the two
// ladders share (arrows from the capture and from the replay's trace, row alignment, the
// inferred states, the notes); the second half draws them (layout, SVG, legend, the HTML
// page). The halves change together: a row's height comes from its labels' line count, and
// every mark (break, cross, clock, red bar) is a field of the model and a shape of the drawing.
// If either half grows much further, split at `WIDTH` (model above, drawing below).
import { parsePacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { TraceEvent } from "../../stack/trace.js";
import { segLabel, type HandshakeResult } from "../replay/replay.js";
import { lcsPairs } from "../replay/compare.js";
import { segmentsFromTrace } from "../cli/timeline.js";

export interface LadderArrow {
  t: number;
  dir: "c2s" | "s2c";
  kind: "tcp" | "icmp";
  flags: number;
  seq: number;
  ack: number;
  len: number;
  /** The whole label on one line (tooltips, tests). */
  label: string;
  /** The label as drawn (one to three lines). */
  lines: string[];
  frame?: number;
  /** The same segment sent again (same flags, sequence number and length). */
  retransmission: boolean;
  /** The stack dropped or ignored it (replay only). */
  ignored: boolean;
  /** Footnote number (replay only). */
  note?: number;
}

export interface LadderMarker {
  t: number;
  kind: "timer" | "app" | "end";
  /** Short text for the gutter ("CLOSE", "timedOut"). */
  text: string;
  note: number;
}

export interface LadderState {
  t: number;
  state: string;
  /** Inferred from the packets (not the stack's own state). */
  inferred: boolean;
  /** Placed at this arrow's start or end (inferred states), or by time. */
  arrow?: number;
  atEnd?: boolean;
}

export interface LadderColumn {
  title: string;
  arrows: LadderArrow[];
  markers: LadderMarker[];
  clientStates: LadderState[];
  serverStates: LadderState[];
}

export interface Footnote {
  n: number;
  t: number;
  summary: string;
  lines: string[];
}

/** One aligned row: the recorded arrow and the replayed arrow drawn at the same height. */
export interface LadderRow {
  t: number;
  rec?: number;
  rep?: number;
  /** A replayed marker (timer, application call, the end) with no packet at its instant. */
  marker?: number;
}

export interface LadderConnection {
  /** 1-based position among the capture's active opens. */
  index: number;
  /** "#3 10.99.0.2:62422 -> 10.99.0.1:9" */
  heading: string;
  /** The outcome: "refused: STATUS_CONNECTION_REFUSED after 3 SYNs, 1.0 s". */
  title: string;
  /** A name the capture's sidecar gave (the demo's scenario). */
  name?: string;
  subtitle: string[];
  verdict: "match" | "differ";
  diffs: Array<{ text: string; explained: boolean }>;
  clientLabel: string;
  serverLabel: string;
  columns: [LadderColumn, LadderColumn];
  rows: LadderRow[];
  footnotes: Footnote[];
  /** Recorded frames with a difference nothing explains (marked on their row). */
  differingFrames: number[];
}

const u32 = (n: number): number => n >>> 0;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** "307.2 ms", "1.003 s". */
export function fmtTime(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(3)} s`;
}

function fmtDuration(ms: number): string {
  return ms < 1000 ? `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function traceLine(e: TraceEvent): string {
  let s = `${fmtTime(e.t)} ${e.kind}: ${e.decision}`;
  if (e.stateBefore && e.stateAfter && e.stateBefore !== e.stateAfter && !e.decision.includes("->")) s += ` [${e.stateBefore} -> ${e.stateAfter}]`;
  if (e.rule) s += ` (${e.rule})`;
  return s;
}

// --- labels --------------------------------------------------------------------------------

/** Characters per label line (the lane is 252 units wide, labels are 10 px monospace, and a note number sits beside them). */
const LABEL_CHARS = 36;

/** Splits a label into lines: the header fields, then the options, wrapped at spaces/commas. */
export function labelLines(label: string, width = LABEL_CHARS): string[] {
  const m = /^(.*?)\s*(<.*>)?$/.exec(label);
  const parts = [m?.[1] ?? label, m?.[2]].filter((x): x is string => !!x);
  const out: string[] = [];
  for (const part of parts) {
    let line = "";
    for (const tok of part.split(/(?<=[ ,])/)) {
      if (line && (line + tok).trimEnd().length > width) {
        out.push(line.trimEnd());
        line = tok;
      } else line += tok;
    }
    if (line.trim()) out.push(line.trimEnd());
  }
  return out.length > 0 ? out : [label];
}

function parseLabel(label: string): { flags: number; seq: number; ack: number; len: number } {
  const f = label.split(" ")[0] ?? "";
  let flags = 0;
  if (f.includes("S")) flags |= TCP_SYN;
  if (f.includes("F")) flags |= TCP_FIN;
  if (f.includes("R")) flags |= TCP_RST;
  if (f.includes(".")) flags |= TCP_ACK;
  const num = (k: string) => Number(new RegExp(`\\b${k} (\\d+)`).exec(label)?.[1] ?? 0);
  return { flags, seq: num("seq"), ack: num("ack"), len: num("len") };
}

function markRetransmissions(arrows: LadderArrow[]): void {
  const seen = new Set<string>();
  for (const a of arrows) {
    if (a.kind !== "tcp") continue;
    const carries = (a.flags & (TCP_SYN | TCP_FIN)) !== 0 || a.len > 0;
    if (!carries) continue;
    const key = `${a.dir}|${a.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK)}|${a.seq}|${a.len}`;
    a.retransmission = seen.has(key);
    seen.add(key);
  }
}

function shortOptions(options: readonly TcpOption[]): TcpOption[] {
  return options.filter((o) => o.kind !== "nop" && o.kind !== "eol");
}

// --- states inferred from packets ---------------------------------------------------------

/**
 * The states of one end as the packets show them (RFC 9293 §3.3.2 state diagram), placed at
 * the arrow that shows the change: its start when this end sends it, its end when this end
 * receives it. Only what the packets prove: a client is ESTABLISHED when it acknowledges
 * the SYN-ACK (a client that never does stays in SYN-SENT); a client that sends the same
 * SYN again after a RST (Windows' RST retry) is still in SYN-SENT, the same attempt; an end
 * that sends its own SYN is an active opener (a simultaneous open), not a listener.
 */
export function inferStates(arrows: readonly LadderArrow[], role: "client" | "server"): LadderState[] {
  const tcp = arrows.map((a, i) => ({ a, i })).filter(({ a }) => a.kind === "tcp");
  const out: LadderState[] = [];
  if (tcp.length === 0) return out;
  const sentBy = (a: LadderArrow) => (role === "client") === (a.dir === "c2s");
  let state: string;
  if (role === "client") state = "CLOSED";
  else {
    const first = tcp.find(({ a }) => sentBy(a));
    if (!first) return out;
    state = first.a.flags & TCP_RST || (first.a.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN ? "CLOSED" : "LISTEN";
  }
  out.push({ t: tcp[0]!.a.t, state, inferred: true, arrow: tcp[0]!.i, atEnd: false });
  let ourFin: number | undefined;
  let ourSyn: number | undefined;
  let synAckSeen = false;
  /** This end sends its SYN again later (same sequence number): the attempt goes on. */
  const synAgain = (k: number) => tcp.some(({ a, i }) => i > k && sentBy(a) && (a.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && a.seq === ourSyn);
  const set = (s: string, t: number, arrow: number, atEnd: boolean) => {
    if (s === state) return;
    state = s;
    out.push({ t, state: s, inferred: true, arrow, atEnd });
  };
  for (const { a, i } of tcp) {
    const syn = (a.flags & TCP_SYN) !== 0;
    const ack = (a.flags & TCP_ACK) !== 0;
    const fin = (a.flags & TCP_FIN) !== 0;
    const rst = (a.flags & TCP_RST) !== 0;
    if (sentBy(a)) {
      if (rst) set("CLOSED", a.t, i, false);
      else if (syn && !ack && state === "CLOSED") {
        ourSyn = a.seq;
        set("SYN-SENT", a.t, i, false);
      }
      else if (!syn && ack && state === "SYN-SENT" && synAckSeen) set("ESTABLISHED", a.t, i, false);
      if (fin && !rst) {
        ourFin ??= u32(a.seq + a.len);
        if (state === "ESTABLISHED" || state === "SYN-RECEIVED") set("FIN-WAIT-1", a.t, i, false);
        else if (state === "CLOSE-WAIT") set("LAST-ACK", a.t, i, false);
      }
      continue;
    }
    if (rst) {
      if (state === "SYN-SENT" && synAgain(i)) continue;
      if (state !== "LISTEN" && state !== "CLOSED") set("CLOSED", a.t, i, true);
      continue;
    }
    if (syn && !ack && (state === "LISTEN" || state === "SYN-SENT")) set("SYN-RECEIVED", a.t, i, true);
    else if (syn && ack && state === "SYN-SENT") synAckSeen = true;
    else if (ack && state === "SYN-RECEIVED") set("ESTABLISHED", a.t, i, true);
    const finAcked = ourFin !== undefined && ack && u32(a.ack - ourFin) < 0x80000000 && a.ack !== ourFin;
    if (finAcked) {
      if (state === "FIN-WAIT-1") set("FIN-WAIT-2", a.t, i, true);
      else if (state === "CLOSING") set("TIME-WAIT", a.t, i, true);
      else if (state === "LAST-ACK") set("CLOSED", a.t, i, true);
    }
    if (fin) {
      if (state === "ESTABLISHED") set("CLOSE-WAIT", a.t, i, true);
      else if (state === "FIN-WAIT-1") set("CLOSING", a.t, i, true);
      else if (state === "FIN-WAIT-2") set("TIME-WAIT", a.t, i, true);
    }
  }
  return out;
}

// --- the model -----------------------------------------------------------------------------

function recordedColumn(h: HandshakeResult): LadderColumn {
  const arrows: LadderArrow[] = h.ladder.recorded.map((p) => {
    const f = parseLabel(p.label);
    return {
      t: p.t,
      dir: p.dir,
      kind: p.kind,
      ...(p.kind === "tcp" ? f : { flags: 0, seq: 0, ack: 0, len: 0 }),
      label: p.label,
      lines: labelLines(p.label),
      frame: p.frame,
      retransmission: false,
      ignored: false,
    };
  });
  markRetransmissions(arrows);
  return { title: "recorded", arrows, markers: [], clientStates: inferStates(arrows, "client"), serverStates: inferStates(arrows, "server") };
}

function replayedColumn(h: HandshakeResult, footnotes: Footnote[]): LadderColumn {
  const rows = segmentsFromTrace(h.trace, 0, undefined);
  const arrows: LadderArrow[] = [];
  const markers: LadderMarker[] = [];
  const serverIsn = h.isn.server;
  for (const r of rows) {
    const ev = h.trace[r.source];
    const lines = [...new Set([r.source, ...r.noteSources])].sort((a, b) => a - b).map((i) => traceLine(h.trace[i]!));
    const n = footnotes.length + 1;
    const firstNote = r.decision.split("; ")[0] ?? "";
    // Exact times (the timeline rounds to 0.1 ms for print).
    const t = ev?.t ?? r.t;
    if (r.kind === "tcp" || r.kind === "icmp") {
      const p = ev?.bytes ? parsePacket(ev.bytes) : undefined;
      const dir = r.dir === "out" ? "c2s" : "s2c";
      let label = r.icmp ?? "packet";
      let f = { flags: 0, seq: 0, ack: 0, len: 0 };
      if (p?.ok && p.value.l4.kind === "tcp") {
        const seg = p.value.l4.tcp;
        const seq = dir === "c2s" ? u32(seg.seq - h.isn.ours) : u32(seg.seq - (serverIsn ?? seg.seq));
        const ack = dir === "c2s" ? u32(seg.ack - (serverIsn ?? 0)) : u32(seg.ack - h.isn.ours);
        label = segLabel(seg.flags, seq, ack, seg.payload.length, seg.window, shortOptions(seg.options));
        f = { flags: seg.flags, seq, ack, len: seg.payload.length };
      }
      const ignored = /\b(drop|ignored|ignore)\b/i.test(r.decision) && dir === "s2c";
      arrows.push({ t, dir, kind: r.kind, ...f, label, lines: labelLines(label), retransmission: false, ignored, note: n });
      footnotes.push({ n, t, summary: `${fmtTime(t)} ${dir === "c2s" ? "sent" : "received"} ${label.split(" <")[0]}${firstNote ? `: ${r.decision}` : ""}`, lines });
      continue;
    }
    const kind = r.kind === "timer" ? "timer" : r.kind === "app" ? "app" : "end";
    const END_WORDS: Record<string, string> = { timedOut: "gives up", cancelled: "cancelled", refused: "refused", unreachable: "unreachable", reset: "reset", finished: "closed", aborted: "aborted" };
    const outcome = /: (\w+)/.exec(r.decision)?.[1] ?? "";
    const text = kind === "timer" ? "timer" : kind === "app" ? (r.decision.split(":")[0] ?? "app").slice(0, 10) : (END_WORDS[outcome] ?? (outcome || "end"));
    markers.push({ t, kind, text, note: n });
    footnotes.push({ n, t, summary: `${fmtTime(t)} ${kind === "timer" ? "timer expired" : kind === "app" ? "the application" : "the connection"}: ${r.decision}`, lines });
  }
  markRetransmissions(arrows);
  // The replayed client's states are the stack's own (the last one at each instant).
  const clientStates: LadderState[] = [];
  for (const e of h.trace) {
    if (!e.stateBefore || !e.stateAfter || e.stateBefore === e.stateAfter || (e.kind !== "state" && e.kind !== "outcome")) continue;
    if (clientStates.length === 0) clientStates.push({ t: 0, state: e.stateBefore, inferred: false });
    const last = clientStates[clientStates.length - 1]!;
    if (clientStates.length > 1 && Math.abs(last.t - e.t) < 0.001) last.state = e.stateAfter;
    else clientStates.push({ t: e.t, state: e.stateAfter, inferred: false });
  }
  return { title: `replayed (${h.profile}${h.strict ? ", strict" : ""})`, arrows, markers, clientStates, serverStates: inferStates(arrows, "server") };
}

/**
 * What makes two arrows the same packet: direction, flags, relative sequence number and
 * length; for a bare ACK (no data, SYN, FIN or RST) the acknowledgment number too, since
 * that is all it says (a client that acknowledges up to 13801 and one that acknowledges up
 * to 15181 did not send the same ACK).
 */
function arrowKey(a: LadderArrow): string {
  if (a.kind === "icmp") return `${a.dir}|icmp|${a.label}`;
  const flags = a.flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST);
  const bareAck = flags === TCP_ACK && a.len === 0;
  return `${a.dir}|${flags}|${a.seq}|${a.len}${bareAck ? `|${a.ack}` : ""}`;
}

/** Rows: the same packet on both sides shares a row; the others get rows of their own, in time order. */
export function alignRows(rec: readonly LadderArrow[], rep: readonly LadderArrow[]): LadderRow[] {
  const pairs = lcsPairs(rec.map(arrowKey), rep.map(arrowKey));
  const rows: LadderRow[] = [];
  let i = 0;
  let j = 0;
  const flush = (ui: number, uj: number) => {
    while (i < ui || j < uj) {
      const takeRec = i < ui && (j >= uj || rec[i]!.t <= rep[j]!.t);
      if (takeRec) rows.push({ t: rec[i]!.t, rec: i++ });
      else rows.push({ t: rep[j]!.t, rep: j++ });
    }
  };
  for (const [a, b] of pairs) {
    flush(a, b);
    rows.push({ t: Math.min(rec[a]!.t, rep[b]!.t), rec: a, rep: b });
    i = a + 1;
    j = b + 1;
  }
  flush(rec.length, rep.length);
  // Keep the time axis monotonic.
  for (let k = 1; k < rows.length; k++) rows[k]!.t = Math.max(rows[k]!.t, rows[k - 1]!.t);
  return rows;
}

/** Markers at an instant without a replayed packet get a row of their own (their time on the axis). */
function withMarkerRows(rows: LadderRow[], rep: LadderColumn): LadderRow[] {
  const times = rep.arrows.map((a) => a.t);
  const extra: LadderRow[] = [];
  rep.markers.forEach((m, i) => {
    if (!times.some((t) => Math.abs(t - m.t) < 0.001)) extra.push({ t: m.t, marker: i });
  });
  if (extra.length === 0) return rows;
  // Insert by the replayed column's own order: after the last row whose replayed arrow is not later.
  const out = [...rows];
  for (const x of extra) {
    let at = out.length;
    for (let k = 0; k < out.length; k++) {
      const r = out[k]!;
      const rt = r.rep !== undefined ? rep.arrows[r.rep]!.t : r.marker !== undefined ? rep.markers[r.marker]!.t : undefined;
      if (rt !== undefined && rt > x.t) {
        at = k;
        break;
      }
    }
    out.splice(at, 0, { ...x, t: at > 0 ? Math.max(x.t, out[at - 1]!.t) : x.t });
  }
  for (let k = 1; k < out.length; k++) out[k]!.t = Math.max(out[k]!.t, out[k - 1]!.t);
  return out;
}

/**
 * The title: how the connect ended (as the WSK client sees it), then, for a connection that
 * was established, how the connection itself ended. Both from the replay's own trace.
 */
function connectSummary(h: HandshakeResult, rep: LadderColumn): string {
  const syns = rep.arrows.filter((a) => a.kind === "tcp" && a.dir === "c2s" && (a.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN).length;
  const synText = `${syns} SYN${syns === 1 ? "" : "s"}`;
  const est = h.trace.find((e) => e.stateAfter === "ESTABLISHED" && e.stateBefore !== "ESTABLISHED" && e.stateBefore !== undefined);
  if (!est) {
    const done = h.trace.find((e) => e.stateBefore === "SYN-SENT" && e.stateAfter !== undefined && e.stateAfter !== "SYN-SENT" && e.stateAfter !== "SYN-RECEIVED");
    const end = h.replayed.outcome === "incomplete" ? "still connecting when the capture ends" : done ? fmtDuration(done.t) : "";
    return `${h.replayed.outcome}: ${h.replayed.status} after ${synText}${end ? `, ${end}` : ""}`;
  }
  // How the connection ended (the verdict's own judgement), at the stack's last state change.
  const last = [...h.trace].reverse().find((e) => e.stateBefore !== undefined && e.stateAfter !== undefined && e.stateBefore !== e.stateAfter);
  const endWord = h.replayed.end ?? "open";
  const end = endWord === "open" ? "; still open when the capture ends" : `; ${endWord}${last ? ` at ${fmtDuration(last.t)}` : ""}`;
  return `established: STATUS_SUCCESS after ${synText}, ${fmtDuration(est.t)}${end}`;
}

/** Diagram model of one replayed active open. */
export function connectionLadder(h: HandshakeResult, o: { index: number; title?: string } = { index: 1 }): LadderConnection {
  const footnotes: Footnote[] = [];
  const rec = recordedColumn(h);
  const rep = h.trace.length > 0 ? replayedColumn(h, footnotes) : { title: `replayed (${h.profile})`, arrows: [], markers: [], clientStates: [], serverStates: [] };
  const unexplained = h.diffs.filter((d) => !d.explained);
  const verdict = h.match ? "match" : "differ";
  const diffText = (d: (typeof h.diffs)[number]) =>
    `${d.frame !== undefined ? `frame ${d.frame}, ` : ""}${fmtTime(d.t)}: ${d.field}: recorded ${d.recorded} / replayed ${d.replayed}${d.explained ? ` (${d.explained})` : ""}`;
  return {
    index: o.index,
    heading: `#${o.index} ${h.client} → ${h.server} (${h.family === "ipv6" ? "IPv6" : "IPv4"})`,
    title: connectSummary(h, rep),
    name: o.title,
    subtitle: [
      `recorded: ${h.recorded.outcome} (${h.recorded.detail})`,
      `replayed as ${h.profile}${h.profileSource === "inferred" ? " (inferred from the SYN)" : ""}${h.strict ? ", strict" : ""}: ${h.replayed.outcome}, ${h.replayed.status} (${h.replayed.detail})`,
      h.match
        ? `verdict: match${h.diffs.length > 0 ? ` (${h.diffs.length} difference${h.diffs.length === 1 ? "" : "s"}, each explained)` : ""}`
        : `verdict: differ (${unexplained.length} difference${unexplained.length === 1 ? "" : "s"} nothing explains)`,
    ],
    verdict,
    diffs: h.diffs.map((d) => ({ text: diffText(d), explained: d.explained !== undefined })),
    clientLabel: h.client,
    serverLabel: h.server,
    columns: [rec, rep],
    rows: withMarkerRows(alignRows(rec.arrows, rep.arrows), rep),
    footnotes,
    differingFrames: [...new Set(unexplained.flatMap((d) => (d.frame !== undefined ? [d.frame] : [])))],
  };
}

// --- geometry ------------------------------------------------------------------------------

/** Natural width of the drawing (it scales down to fit narrower pages). */
export const WIDTH = 980;
const LADDER_W = 474;
const LADDER_X = [0, 506];
const TIME_RIGHT = 56;
const CLIENT_X = 138;
const SERVER_X = 390;
const DROP = 10;
const LINE_H = 12;
const HEAD = 58;
const CAP_GAP = 150;
const MIN_GAP_BASE = 36;

interface Layout {
  /** y of each row's arrow start. */
  rowY: number[];
  height: number;
  breaks: Array<{ y0: number; y1: number; ms: number }>;
}

function rowLines(c: LadderConnection, r: LadderRow): number {
  if (r.rec === undefined && r.rep === undefined) return 0;
  const a = r.rec !== undefined ? c.columns[0].arrows[r.rec]!.lines.length : 1;
  const b = r.rep !== undefined ? c.columns[1].arrows[r.rep]!.lines.length : 1;
  return Math.max(a, b);
}

function layout(c: LadderConnection, compact: boolean): Layout {
  const rows = c.rows;
  const rowY: number[] = [];
  const breaks: Layout["breaks"] = [];
  const duration = rows.length > 0 ? rows[rows.length - 1]!.t - rows[0]!.t : 0;
  // px per ms: the whole exchange in about 480 px, within sensible bounds.
  const k = duration > 0 ? Math.min(4, Math.max(0.01, 480 / duration)) : 1;
  let y = HEAD + 20 + LINE_H * (rows.length > 0 ? rowLines(c, rows[0]!) : 1);
  rows.forEach((r, i) => {
    if (i > 0) {
      const lines = rowLines(c, r);
      const need = lines === 0 ? 22 : MIN_GAP_BASE + LINE_H * (lines - 1);
      const dt = r.t - rows[i - 1]!.t;
      let gap = need;
      if (!compact) {
        const want = k * dt;
        if (want > CAP_GAP + need) {
          gap = CAP_GAP + need;
          breaks.push({ y0: y + DROP + 6, y1: y + gap - need + 6, ms: dt });
        } else gap = Math.max(need, want);
      }
      y += gap;
    }
    rowY.push(y);
  });
  return { rowY, height: y + DROP + 40, breaks };
}

/** y of a time in one column: at the arrows of that time, else between its neighbours. */
function yAtTime(col: LadderColumn, arrowY: Array<number | undefined>, t: number, prefer: "start" | "end"): number {
  let before: { t: number; y: number } | undefined;
  let after: { t: number; y: number } | undefined;
  const same = col.arrows.map((a, i) => ({ a, y: arrowY[i] })).filter(({ a, y }) => y !== undefined && Math.abs(a.t - t) < 0.001);
  if (same.length > 0) {
    if (prefer === "end") {
      const inc = same.filter(({ a }) => a.dir === "s2c");
      const pick = inc.length > 0 ? inc[inc.length - 1]! : same[0]!;
      return pick.y! + (pick.a.dir === "s2c" ? DROP : 0);
    }
    return same[0]!.y!;
  }
  col.arrows.forEach((a, i) => {
    const y = arrowY[i];
    if (y === undefined) return;
    if (a.t <= t && (!before || a.t >= before.t)) before = { t: a.t, y: y + DROP };
    if (a.t > t && (!after || a.t < after.t)) after = { t: a.t, y };
  });
  if (before && after) return before.y + ((after.y - before.y) * (t - before.t)) / Math.max(1e-9, after.t - before.t);
  if (before) return before.y + 14;
  if (after) return after.y - 14;
  return HEAD + 20;
}

function color(a: LadderArrow): string {
  if (a.kind === "icmp") return "#b35c00";
  if (a.flags & TCP_RST) return "#c0392b";
  if (a.flags & TCP_SYN) return "#1f6fb2";
  if (a.flags & TCP_FIN) return "#7d3c98";
  return "#333333";
}

/** Width of monospace text at `px` (DejaVu/Liberation Mono advance: 0.6 em). */
const monoWidth = (s: string, px: number) => s.length * px * 0.602;

interface GutterItem {
  y: number;
  svg: (y: number) => string;
}

/** Places gutter items top to bottom, at least `gap` apart. */
function placeGutter(items: GutterItem[], gap = 12): string[] {
  items.sort((a, b) => a.y - b.y);
  let last = -Infinity;
  return items.map((it) => {
    const y = Math.max(it.y, last + gap);
    last = y;
    return it.svg(y);
  });
}

/**
 * An endpoint's address as drawn over its lifeline, centred on it: split at a colon near its
 * middle when it is wider than the room right of the replayed server's lifeline allows
 * (twice that room: 168 px, 29 characters; a full IPv6 address with its port is 45).
 */
export function addressLines(label: string): string[] {
  if (monoWidth(label, 9.5) <= 2 * (WIDTH - LADDER_X[1]! - SERVER_X)) return [label];
  const colons = [...label.matchAll(/:/g)].map((m) => m.index!);
  if (colons.length === 0) return [label];
  const at = colons.reduce((best, i) => (Math.abs(i - label.length / 2) < Math.abs(best - label.length / 2) ? i : best));
  return [label.slice(0, at + 1), label.slice(at + 1)];
}

function noteBadge(n: number, cx: number, cy: number, id: string): string {
  const r = n >= 100 ? 8.5 : 7;
  return `<g class="badge" data-note="${id}-n${n}" tabindex="0" role="button" aria-label="note ${n}"><circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="${r}"/><text x="${cx.toFixed(1)}" y="${(cy + 3).toFixed(1)}" text-anchor="middle">${n}</text></g>`;
}

function clock(cx: number, cy: number): string {
  return `<g class="clock"><circle cx="${cx}" cy="${cy.toFixed(1)}" r="5.5"/><path d="M${cx} ${(cy - 3.5).toFixed(1)} V${cy.toFixed(1)} H${cx + 3}"/></g>`;
}

/** One connection's drawing (an <svg> element of natural width WIDTH). */
export function connectionSvg(c: LadderConnection, opts: { compact?: boolean; standalone?: boolean } = {}): { svg: string; height: number } {
  const L = layout(c, opts.compact ?? false);
  const id = `c${c.index}`;
  const parts: string[] = [];
  c.columns.forEach((col, ci) => {
    const x0 = LADDER_X[ci]!;
    const cx = x0 + CLIENT_X;
    const sx = x0 + SERVER_X;
    const arrowY: Array<number | undefined> = col.arrows.map(() => undefined);
    c.rows.forEach((r, ri) => {
      const i = ci === 0 ? r.rec : r.rep;
      if (i !== undefined) arrowY[i] = L.rowY[ri];
    });
    parts.push(`<g class="ladder" data-col="${ci}">`);
    parts.push(`<text x="${x0 + (CLIENT_X + SERVER_X) / 2}" y="16" class="colt" text-anchor="middle">${esc(col.title)}</text>`);
    // An address too wide for its half of the lane (a full IPv6 address) takes two lines.
    const addrs = [addressLines(c.clientLabel), addressLines(c.serverLabel)];
    const two = addrs.some((l) => l.length > 1);
    const headY = two ? 30 : 36;
    parts.push(`<text x="${cx}" y="${headY}" class="head" text-anchor="middle">client</text>`);
    parts.push(`<text x="${sx}" y="${headY}" class="head" text-anchor="middle">server</text>`);
    addrs.forEach((lines, k) =>
      lines.forEach((line, li) => parts.push(`<text x="${k === 0 ? cx : sx}" y="${headY + 12 + 10 * li}" class="addr" text-anchor="middle">${esc(line)}</text>`)),
    );
    parts.push(`<line x1="${cx}" y1="${HEAD}" x2="${cx}" y2="${L.height - 24}" class="life"/>`);
    parts.push(`<line x1="${sx}" y1="${HEAD}" x2="${sx}" y2="${L.height - 24}" class="life"/>`);
    for (const b of L.breaks) {
      for (const lx of [cx, sx]) parts.push(`<path class="brk" d="M${lx - 7} ${b.y0 + 4} l14 -4 M${lx - 7} ${b.y0 + 9} l14 -4"/>`);
      if (ci === 0) parts.push(`<text x="${WIDTH / 2}" y="${((b.y0 + b.y1) / 2 + 4).toFixed(1)}" class="gap" text-anchor="middle">… ${fmtDuration(b.ms)} …</text>`);
    }
    const clientGutter: GutterItem[] = [];
    const serverGutter: GutterItem[] = [];
    // Rows without an arrow in this column but one in the other: a faint band says so.
    c.rows.forEach((r, ri) => {
      const mine = ci === 0 ? r.rec : r.rep;
      const other = ci === 0 ? r.rep : r.rec;
      const y = L.rowY[ri]!;
      if (mine === undefined && other !== undefined) {
        parts.push(`<rect class="gapband" x="${cx + 4}" y="${y - 14}" width="${SERVER_X - CLIENT_X - 8}" height="${DROP + 18}"/>`);
        parts.push(`<text class="absent" x="${(cx + sx) / 2}" y="${y + DROP / 2 + 3}" text-anchor="middle">${ci === 0 ? "not in the capture" : "not sent by the replay"}</text>`);
      } else if (mine !== undefined && other !== undefined) {
        // A pair whose recorded segment differs (window, options, time...): a red bar on both sides.
        const recFrame = r.rec !== undefined ? c.columns[0].arrows[r.rec]!.frame : undefined;
        if (recFrame !== undefined && c.differingFrames.includes(recFrame)) {
          const lines = c.columns[ci]!.arrows[mine]!.lines.length;
          parts.push(`<rect class="diffbar" x="${x0}" y="${y - 4 - LINE_H * lines - 2}" width="3" height="${DROP + 10 + LINE_H * lines}"><title>differs (frame ${recFrame}): see the differences above</title></rect>`);
        }
      } else if (mine !== undefined && other === undefined && c.columns[1 - ci]!.arrows.length > 0) {
        parts.push(`<rect class="diffband" x="${x0 + 2}" y="${y - 4 - LINE_H * c.columns[ci]!.arrows[mine]!.lines.length - 2}" width="${LADDER_W - 4}" height="${DROP + 10 + LINE_H * c.columns[ci]!.arrows[mine]!.lines.length}"/>`);
      }
    });
    col.arrows.forEach((a, ai) => {
      const y = arrowY[ai];
      if (y === undefined) return;
      const [xa, xb] = a.dir === "c2s" ? [cx, sx] : [sx, cx];
      const col_ = color(a);
      const dash = a.retransmission ? ` stroke-dasharray="6 4"` : "";
      const tip = [a.label, a.frame !== undefined ? `frame ${a.frame}` : "", a.retransmission ? "retransmission" : "", a.ignored ? "ignored by the stack" : ""].filter(Boolean).join("\n");
      const noteAttr = a.note !== undefined ? ` data-note="${id}-n${a.note}" tabindex="0" role="button"` : "";
      parts.push(`<g class="arrow"${noteAttr}><title>${esc(tip)}</title>`);
      // The arrow stops short of the far lifeline by the head's length.
      const dir = Math.sign(xb - xa);
      const tipX = xb - dir * 1;
      parts.push(`<line class="shaft" x1="${xa}" y1="${y}" x2="${(tipX - dir * 8).toFixed(1)}" y2="${(y + DROP * (1 - 8 / Math.abs(xb - xa))).toFixed(1)}" stroke="${col_}"${dash}/>`);
      if (a.ignored) {
        parts.push(`<path class="x" d="M${tipX - dir * 10} ${y + DROP - 5} l${dir * 8} 8 M${tipX - dir * 10} ${y + DROP + 3} l${dir * 8} -8" stroke="${col_}"/>`);
      } else {
        parts.push(`<path class="head" d="M${tipX} ${y + DROP} L${tipX - dir * 9} ${y + DROP - 4.5} L${tipX - dir * 9} ${y + DROP + 4.5} z" fill="${col_}"/>`);
      }
      // Label lines above the arrow, centred in the lane (with room for the note number).
      const fs = 10;
      const widest = Math.max(...a.lines.map((l) => monoWidth(l, fs)));
      const badgeW = a.note !== undefined ? 20 : 0;
      const lx = (cx + sx) / 2 - badgeW / 2;
      a.lines.forEach((line, li) => {
        const by = y - 6 - LINE_H * (a.lines.length - 1 - li);
        parts.push(`<text class="lbl" x="${lx.toFixed(1)}" y="${by}" text-anchor="middle" fill="${col_}">${esc(line)}</text>`);
      });
      parts.push(`</g>`);
      if (a.note !== undefined) parts.push(noteBadge(a.note, lx + widest / 2 + 11, y - 6 - LINE_H * (a.lines.length - 1) - 3.5, id));
      parts.push(`<text class="time" x="${x0 + TIME_RIGHT}" y="${y + 4}" text-anchor="end">${fmtTime(a.t)}</text>`);
    });
    const markerRow = new Map<number, number>();
    if (ci === 1) c.rows.forEach((r, ri) => r.marker !== undefined && markerRow.set(r.marker, L.rowY[ri]!));
    col.markers.forEach((m, mi) => {
      const own = markerRow.get(mi);
      const y = own ?? yAtTime(col, arrowY, m.t, "start");
      if (own !== undefined) parts.push(`<text class="time" x="${x0 + TIME_RIGHT}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmtTime(m.t)}</text>`);
      clientGutter.push({
        y,
        svg: (yy) =>
          `${m.kind === "timer" ? clock(cx - 12, yy) : ""}<text class="mark ${m.kind}" x="${cx - (m.kind === "timer" ? 22 : 8)}" y="${(yy + 3.5).toFixed(1)}" text-anchor="end">${esc(m.kind === "timer" ? "" : m.text)}</text>${noteBadge(m.note, x0 + TIME_RIGHT + 12, yy, id)}`,
      });
    });
    const atMarker = (t: number) => [...markerRow.entries()].find(([mi]) => Math.abs(col.markers[mi]!.t - t) < 0.001)?.[1];
    const stateY = (s: LadderState) => (s.arrow !== undefined ? arrowY[s.arrow]! + (s.atEnd ? DROP : 0) : (atMarker(s.t) ?? yAtTime(col, arrowY, s.t, "end")));
    col.clientStates.forEach((s, si) => {
      if (s.arrow !== undefined && arrowY[s.arrow] === undefined) return;
      const y = si === 0 ? HEAD + 8 : stateY(s);
      clientGutter.push({ y, svg: (yy) => `<text class="state${s.inferred ? " inferred" : ""}${s.state === "CLOSED" && si > 0 ? " closed" : ""}" x="${cx - 6}" y="${(yy + 3.5).toFixed(1)}" text-anchor="end">${esc(s.state)}</text>` });
    });
    col.serverStates.forEach((s, si) => {
      if (s.arrow !== undefined && arrowY[s.arrow] === undefined) return;
      const y = si === 0 ? HEAD + 8 : stateY(s);
      serverGutter.push({ y, svg: (yy) => `<text class="state${s.inferred ? " inferred" : ""}" x="${sx + 6}" y="${(yy + 3.5).toFixed(1)}">${esc(s.state)}</text>` });
    });
    parts.push(...placeGutter(clientGutter), ...placeGutter(serverGutter));
    parts.push(`</g>`);
  });
  if (c.columns[1].arrows.length === 0 && c.columns[0].arrows.length > 0) {
    parts.push(`<text x="${LADDER_X[1]! + LADDER_W / 2}" y="${HEAD + 40}" text-anchor="middle" class="absent">the replay could not start (see the differences)</text>`);
  }
  const h = Math.ceil(L.height);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" class="ladder-svg" viewBox="0 0 ${WIDTH} ${h}" width="${WIDTH}" height="${h}" role="img" aria-label="${esc(`${c.heading}: ${c.title}`)}">\n${opts.standalone ? "" : ""}${parts.join("\n")}\n</svg>`;
  return { svg, height: h };
}

const SVG_STYLE = `
  text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
  .colt { font-size: 12px; font-style: italic; fill: #555; }
  .head { font-size: 12px; font-weight: bold; fill: #222; }
  .addr { font: 9.5px "DejaVu Sans Mono", "Liberation Mono", monospace; fill: #666; }
  .life { stroke: #9a9a9a; stroke-width: 1.5; stroke-dasharray: 4 3; }
  .shaft { stroke-width: 1.6; fill: none; }
  .x { stroke-width: 2; fill: none; }
  .lbl { font: 10px "DejaVu Sans Mono", "Liberation Mono", monospace; }
  .time { font: 9.5px "DejaVu Sans Mono", "Liberation Mono", monospace; fill: #555; }
  .state { font-size: 9px; font-weight: bold; fill: #2e7d32; }
  .state.inferred { font-style: italic; font-weight: normal; fill: #3d7f41; }
  .state.closed { fill: #b03a2e; }
  .mark { font-size: 9px; fill: #1f5f8b; font-weight: bold; }
  .mark.end { fill: #b03a2e; }
  .clock circle { fill: #fff7e0; stroke: #a66d00; stroke-width: 1.2; }
  .clock path { stroke: #a66d00; stroke-width: 1.2; fill: none; }
  .badge circle { fill: #eef3fb; stroke: #4a6fa5; stroke-width: 1; }
  .badge text { font: bold 8.5px "DejaVu Sans", Arial, sans-serif; fill: #234; }
  .gapband { fill: #f4f4f4; }
  .diffband { fill: #fdecea; }
  .diffbar { fill: #c0392b; }
  .absent { font-size: 9.5px; font-style: italic; fill: #999; }
  .brk { stroke: #777; stroke-width: 1.3; fill: none; }
  .gap { font-size: 10px; font-style: italic; fill: #777; }
`;

/** Width of sans-serif text at `px` (DejaVu Sans: about 0.6 em a character, 0.75 for bold capitals). */
const sansWidth = (s: string, px: number, boldCaps = false) => s.length * px * (boldCaps ? 0.75 : 0.6);

/** The legend, as its own small SVG. */
export function legendSvg(): string {
  const items: string[] = [];
  const fs = 10.5;
  let x = 6;
  const arrow = (label: string, stroke: string, dashed = false, cross = false) => {
    const d = dashed ? ` stroke-dasharray="6 4"` : "";
    items.push(`<line class="shaft" x1="${x}" y1="12" x2="${x + 26}" y2="15" stroke="${stroke}"${d}/>`);
    items.push(cross ? `<path class="x" d="M${x + 27} 11 l7 7 M${x + 27} 18 l7 -7" stroke="${stroke}"/>` : `<path d="M${x + 35} 15.5 L${x + 26} 11 L${x + 26} 20 z" fill="${stroke}"/>`);
    items.push(`<text class="lg" x="${x + 40}" y="19">${esc(label)}</text>`);
    x += 40 + sansWidth(label, fs) + 16;
  };
  arrow("SYN", "#1f6fb2");
  arrow("FIN", "#7d3c98");
  arrow("RST", "#c0392b");
  arrow("data or ACK", "#333333");
  arrow("ICMP error", "#b35c00");
  arrow("retransmission", "#333333", true);
  arrow("ignored by the stack", "#333333", false, true);
  let x2 = 6;
  const item = (svg: (x: number) => string, w: number, label: string) => {
    items.push(svg(x2));
    items.push(`<text class="lg" x="${x2 + w + 5}" y="42">${esc(label)}</text>`);
    x2 += w + 5 + sansWidth(label, fs) + 14;
  };
  item((x) => clock(x + 6, 38), 12, "timer expired");
  item((x) => noteBadge(1, x + 7, 38, "legend"), 14, "the stack's decisions (notes below)");
  item((x) => `<text class="state" x="${x}" y="42">ESTABLISHED</text>`, sansWidth("ESTABLISHED", 9, true), "the stack's own state");
  item((x) => `<text class="state inferred" x="${x}" y="42">LISTEN</text>`, sansWidth("LISTEN", 9, true), "inferred state");
  item((x) => `<rect class="diffband" x="${x}" y="32" width="20" height="12"/>`, 20, "no counterpart");
  item((x) => `<rect class="diffbar" x="${x}" y="32" width="4" height="12"/>`, 4, "differs");
  return `<svg xmlns="http://www.w3.org/2000/svg" class="legend" viewBox="0 0 ${WIDTH} 52" width="${WIDTH}" height="52" role="img" aria-label="legend"><style>${SVG_STYLE} .lg { font-size: ${fs}px; fill: #333; }</style>${items.join("")}</svg>`;
}

/**
 * Splits `s` into lines no wider than `width` px of sans-serif text at `px`, words kept
 * whole where they fit (a longer word is cut); lines after the first are `indent` px
 * narrower (they are drawn indented).
 */
export function wrapText(s: string, px: number, width: number, opts: { bold?: boolean; indent?: number } = {}): string[] {
  const fits = (line: string, first: boolean) => sansTextWidth(line.trimEnd(), px, opts.bold) <= width - (first ? 0 : (opts.indent ?? 0));
  const out: string[] = [];
  let line = "";
  for (const word of s.split(/(?<= )/)) {
    if (line && !fits(line + word, out.length === 0)) {
      out.push(line.trimEnd());
      line = "";
    }
    let w = word;
    while (!fits(w, out.length === 0)) {
      let cut = w.length - 1;
      while (cut > 1 && !fits(w.slice(0, cut), out.length === 0)) cut--;
      out.push(w.slice(0, cut));
      w = w.slice(cut);
    }
    line += w;
  }
  if (line.trim() || out.length === 0) out.push(line.trimEnd());
  return out;
}

/**
 * Width of sans-serif text (DejaVu Sans advances, rounded up by class: narrow punctuation,
 * digits, lower and upper case, the widest letters; bold about 10 % wider). An estimate on
 * the safe side: render.test.ts checks in Chromium that every line ends inside the drawing.
 */
export function sansTextWidth(s: string, px: number, bold = false): number {
  let em = 0;
  for (const ch of s) {
    if (ch === " ") em += 0.32;
    else if ("il.,:;'|!".includes(ch)) em += 0.3;
    else if ("fjrt()[]/-".includes(ch)) em += 0.42;
    else if ("mw".includes(ch)) em += 0.98;
    else if ("MW@%".includes(ch)) em += 1.0;
    else if (/[0-9]/.test(ch)) em += 0.64;
    else if (/[A-Z]/.test(ch)) em += 0.76;
    else em += 0.62;
  }
  return em * px * (bold ? 1.1 : 1);
}

/**
 * A standalone SVG document: the legend, then each connection with its title, its
 * differences, its drawing and its notes (each wrapped to the drawing's width, nothing cut).
 * It is WIDTH px wide where there is room (as an image, on a slide) and scales down to the
 * window or the printed page (the root's CSS width), so it never needs horizontal scrolling.
 */
export function renderSvg(conns: LadderConnection[], opts: { compact?: boolean; title?: string } = {}): string {
  let y = 0;
  const blocks: string[] = [];
  const textWidth = WIDTH - 16;
  const text = (cls: string, s: string, size = 12, o: { bold?: boolean; indent?: number; tip?: string } = {}) => {
    const indent = o.indent ?? 0;
    const lines = wrapText(s, size, textWidth, { bold: o.bold, indent }).map((line, i) => {
      y += i === 0 ? size + 6 : size + 3;
      return `<text class="${cls}" x="${8 + (i === 0 ? 0 : indent)}" y="${y}">${esc(line)}</text>`;
    });
    blocks.push(o.tip ? `<g><title>${esc(o.tip)}</title>${lines.join("")}</g>` : lines.join(""));
  };
  if (opts.title) text("doc", opts.title, 15, { bold: true });
  blocks.push(`<g class="legend" transform="translate(0,${y + 4})">${legendSvg().replace(/^<svg[^>]*>|<\/svg>$/g, "")}</g>`);
  y += 60;
  if (conns.length === 0) text("t1", "no TCP active open in this capture", 14, { bold: true });
  for (const c of conns) {
    y += 10;
    text("t1", `${c.heading}: ${c.title}`, 14, { bold: true, indent: 24 });
    if (c.name) text("t2", c.name, 12, { indent: 16 });
    for (const s of c.subtitle) text(s.startsWith("verdict: differ") ? "t2 bad" : "t2", s, 11, { indent: 16 });
    for (const d of c.diffs) text(d.explained ? "t3" : "t3 bad", `${d.explained ? "~" : "!"} ${d.text}`, 10, { indent: 10 });
    const g = connectionSvg(c, { compact: opts.compact });
    blocks.push(`<g class="ladder-svg" transform="translate(0,${y + 6})">${g.svg.replace(/^<svg[^>]*>|<\/svg>$/g, "")}</g>`);
    y += g.height + 10;
    for (const f of c.footnotes) {
      y -= 2;
      text("fn", `(${f.n}) ${f.summary}`, 10, { indent: 24, tip: f.lines.join("\n") });
    }
  }
  const h = Math.ceil(y + 20);
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${h}" width="${WIDTH}" height="${h}">
<style>${SVG_STYLE}
  svg:root { width: 100%; max-width: ${WIDTH}px; height: auto; }
  .doc { font-size: 15px; font-weight: bold; }
  .t1 { font-size: 14px; font-weight: bold; fill: #111; }
  .t2 { font-size: 11px; fill: #444; }
  .t3 { font-size: 10px; fill: #777; }
  .bad { fill: #b03a2e; }
  .fn { font-size: 10px; fill: #333; }
  .lg { font-size: 10.5px; fill: #333; }
</style>
<rect x="0" y="0" width="${WIDTH}" height="${h}" fill="#ffffff"/>
${blocks.join("\n")}
</svg>
`;
}

const PAGE_CSS = `
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d1d1d; background: #fff; }
  main { max-width: ${WIDTH + 20}px; margin: 0 auto; padding: 10px; }
  h1 { font-size: 18px; margin: 4px 0 2px; }
  .hint { color: #666; font-size: 12px; margin: 0 0 6px; }
  svg { display: block; width: 100%; height: auto; max-width: ${WIDTH}px; }
  section.conn { border-top: 2px solid #ddd; margin-top: 14px; padding-top: 6px; }
  section.conn h2 { font-size: 16px; margin: 4px 0 2px; }
  section.conn h2 .out { color: #1d1d1d; }
  section.conn.differ h2 .out { color: #b03a2e; }
  .name { font-weight: bold; color: #444; margin: 0; }
  .sub { margin: 0; font-size: 12.5px; color: #444; }
  .sub.bad { color: #b03a2e; font-weight: bold; }
  ul.diffs { margin: 2px 0 6px; padding-left: 18px; font-size: 12px; }
  ul.diffs li.explained { color: #777; }
  ul.diffs li.unexplained { color: #b03a2e; }
  ol.notes { margin: 6px 0 10px; padding-left: 0; list-style: none; font-size: 12.5px; }
  ol.notes li { padding: 2px 4px; border-radius: 3px; overflow-wrap: anywhere; }
  ol.notes li .num { display: inline-block; min-width: 2.6em; font-weight: bold; color: #234; }
  ol.notes li .more { display: none; margin: 2px 0 4px 2.6em; font: 11.5px/1.35 "DejaVu Sans Mono", "Liberation Mono", monospace; white-space: pre-wrap; color: #333; }
  ol.notes li.open .more { display: block; }
  ol.notes li.hl { background: #fff3c4; }
  ol.notes li .sum { cursor: pointer; }
  g.arrow, g.badge { cursor: pointer; }
  g.arrow.hl .shaft { stroke-width: 3.2; }
  g.badge.hl circle { fill: #ffd54f; }
  @media print {
    main { max-width: none; padding: 0; }
    .hint, .noprint { display: none; }
    ol.notes li .more { display: block; }
    section.conn { break-before: auto; }
    svg.ladder-svg { break-inside: avoid; }
    section.conn > h2, section.conn > p, ul.diffs { break-after: avoid; break-inside: avoid; }
    ol.notes li { break-inside: avoid; }
  }
`;

const PAGE_JS = `
  function open(id, scroll) {
    const li = document.getElementById(id);
    if (!li) return;
    for (const x of document.querySelectorAll(".hl")) x.classList.remove("hl");
    li.classList.add("open", "hl");
    for (const g of document.querySelectorAll('[data-note="' + id + '"]')) g.classList.add("hl");
    if (scroll) li.scrollIntoView({ block: "nearest" });
  }
  for (const g of document.querySelectorAll("[data-note]")) {
    g.addEventListener("click", () => open(g.dataset.note, true));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(g.dataset.note, true); } });
  }
  for (const li of document.querySelectorAll("ol.notes li")) {
    li.querySelector(".sum").addEventListener("click", () => { li.classList.toggle("open"); open(li.id, false); });
  }
  window.addEventListener("beforeprint", () => { for (const li of document.querySelectorAll("ol.notes li")) li.classList.add("open"); });
`;

/** An HTML page: legend, then per connection its outcome, the two ladders and the notes. */
export function renderHtml(conns: LadderConnection[], opts: { title: string; compact?: boolean }): string {
  const sections = conns.map((c) => {
    const id = `c${c.index}`;
    const g = connectionSvg(c, { compact: opts.compact });
    const notes = c.footnotes
      .map((f) => `<li id="${id}-n${f.n}"><span class="sum"><span class="num">(${f.n})</span>${esc(f.summary)}</span><div class="more">${esc(f.lines.join("\n"))}</div></li>`)
      .join("\n");
    const diffs = c.diffs.length
      ? `<ul class="diffs">${c.diffs.map((d) => `<li class="${d.explained ? "explained" : "unexplained"}">${d.explained ? "explained: " : "differs: "}${esc(d.text)}</li>`).join("")}</ul>`
      : "";
    return `<section class="conn ${c.verdict}" id="${id}">
<h2>${esc(c.heading)} — <span class="out">${esc(c.title)}</span></h2>
${c.name ? `<p class="name">${esc(c.name)}</p>` : ""}
${c.subtitle.map((s) => `<p class="sub${s.startsWith("verdict: differ") ? " bad" : ""}">${esc(s)}</p>`).join("\n")}
${diffs}
${g.svg}
<ol class="notes">${notes}</ol>
</section>`;
  });
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)}</title>
<style>${PAGE_CSS}</style>
<style>${SVG_STYLE}</style>
</head>
<body><main>
<h1>${esc(opts.title)}</h1>
<p class="hint">Left: the capture as recorded. Right: synack's stack replaying the recorded client against the recorded server. Click an arrow or a note number to open the stack's decisions; printing opens them all.</p>
${legendSvg()}
${sections.length ? sections.join("\n") : "<p>No TCP active open in this capture.</p>"}
</main>
<script>${PAGE_JS}</script>
</body></html>
`;
}
