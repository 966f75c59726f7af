// Ladder (sequence) diagrams of TCP connections: one per active open, the recorded
// exchange on the left, our stack's replay of it on the right. Time runs downwards; the
// vertical spacing grows with the logarithm of the gap (a 120 s SYN give-up and a 0.1 ms
// answer fit on one page) and every row carries its time. Arrows carry flags, relative
// seq/ack, window, length and options; the client column shows the state changes of the
// replay; each replayed arrow carries the engine's decision trace (SVG <title>, which
// browsers show on hover; the HTML page also shows it in a side panel).
import { parsePacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { TraceEvent } from "../../stack/trace.js";
import { segLabel, type HandshakeResult } from "../replay/replay.js";

export interface LadderArrow {
  t: number;
  dir: "c2s" | "s2c";
  label: string;
  flags: number;
  kind: "tcp" | "icmp";
  frame?: number;
  /** Decision trace lines (replay only). */
  trace: string[];
}

export interface LadderColumn {
  title: string;
  arrows: LadderArrow[];
  /** State changes at the client end. */
  states: Array<{ t: number; state: string }>;
}

export interface LadderConnection {
  title: string;
  subtitle: string;
  clientLabel: string;
  serverLabel: string;
  columns: LadderColumn[];
}

const u32 = (n: number): number => n >>> 0;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function traceLine(e: TraceEvent): string {
  let s = `${e.t.toFixed(1)} ms ${e.kind}: ${e.decision}`;
  if (e.stateBefore && e.stateAfter && e.stateBefore !== e.stateAfter) s += ` [${e.stateBefore} -> ${e.stateAfter}]`;
  if (e.rule) s += ` (${e.rule})`;
  return s;
}

/** The replay's arrows, built from its decision trace (every packet in and out is traced). */
export function replayArrows(h: HandshakeResult): LadderArrow[] {
  const arrows: LadderArrow[] = [];
  const serverIsn = h.isn.server;
  let last: LadderArrow | undefined;
  const pending: string[] = [];
  for (const e of h.trace) {
    const isPacket = e.bytes !== undefined && (e.kind === "out" || e.kind === "in" || e.kind === "icmp" || e.kind === "drop");
    if (!isPacket) {
      const line = traceLine(e);
      if (last) last.trace.push(line);
      else pending.push(line);
      continue;
    }
    const p = parsePacket(e.bytes!);
    const dir = e.kind === "out" ? "c2s" : "s2c";
    let label: string;
    let flags = 0;
    let kind: "tcp" | "icmp" = "tcp";
    if (p.ok && p.value.l4.kind === "tcp") {
      const t = p.value.l4.tcp;
      flags = t.flags;
      const seq = dir === "c2s" ? u32(t.seq - h.isn.ours) : u32(t.seq - (serverIsn ?? t.seq));
      const ack = dir === "c2s" ? u32(t.ack - (serverIsn ?? 0)) : u32(t.ack - h.isn.ours);
      label = segLabel(t.flags, seq, ack, t.payload.length, t.window, t.options);
    } else if (p.ok && p.value.l4.kind === "icmp") {
      kind = "icmp";
      label = `ICMP${p.value.l4.icmp.version === 6 ? "v6" : ""} ${p.value.l4.icmp.type}/${p.value.l4.icmp.code} from ${p.value.ip.src}`;
    } else {
      label = e.packet ?? "packet";
    }
    const a: LadderArrow = { t: e.t, dir, label, flags, kind, trace: [...pending.splice(0), traceLine(e)] };
    arrows.push(a);
    last = a;
  }
  return arrows;
}

/** Diagram model of one replayed active open. */
export function connectionLadder(h: HandshakeResult, file: string): LadderConnection {
  const recorded: LadderArrow[] = h.ladder.recorded.map((p) => ({
    t: p.t,
    dir: p.dir,
    label: p.label,
    flags: flagsOfLabel(p.label),
    kind: p.kind,
    frame: p.frame,
    trace: [`frame ${p.frame ?? "?"} at ${p.t.toFixed(3)} ms`],
  }));
  const replayed = h.trace.length > 0 ? replayArrows(h) : h.ladder.replayed.map((p) => ({ t: p.t, dir: p.dir, label: p.label, flags: flagsOfLabel(p.label), kind: p.kind, trace: [] }));
  const diffs = h.diffs.filter((d) => !d.explained).length;
  return {
    title: `${h.client} -> ${h.server} (${h.family}) in ${file}`,
    subtitle: `recorded ${h.recorded.outcome}; replayed as ${h.profile}${h.strict ? " --strict" : ""}: ${h.replayed.outcome} ${h.replayed.status}; ${h.match ? "match" : `${diffs} unexplained difference(s)`}`,
    clientLabel: h.client,
    serverLabel: h.server,
    columns: [
      { title: "recorded", arrows: recorded, states: [] },
      { title: `replayed (${h.profile})`, arrows: replayed, states: h.states },
    ],
  };
}

function flagsOfLabel(label: string): number {
  const f = label.split(" ")[0] ?? "";
  let n = 0;
  if (f.includes("S")) n |= TCP_SYN;
  if (f.includes("F")) n |= TCP_FIN;
  if (f.includes("R")) n |= TCP_RST;
  if (f.includes(".")) n |= TCP_ACK;
  return n;
}

function colorOf(a: LadderArrow): string {
  if (a.kind === "icmp") return "#b35c00";
  if (a.flags & TCP_RST) return "#c0392b";
  if (a.flags & TCP_SYN) return "#1f6fb2";
  if (a.flags & TCP_FIN) return "#7d3c98";
  return "#333333";
}

/**
 * Row positions for every arrow of every column: rows are shared by time across columns,
 * arrows of one column at the same time get rows of their own, and the gap between rows
 * grows with log10 of the time between them (long timers stay readable).
 */
function layoutRows(cols: LadderColumn[]): { y: Map<LadderArrow, number>; maxY: number } {
  const items = cols.flatMap((c, ci) => c.arrows.map((a, ai) => ({ a, ci, ai })));
  items.sort((p, q) => p.a.t - q.a.t || p.ci - q.ci || p.ai - q.ai);
  const y = new Map<LadderArrow, number>();
  let cur = 0;
  let prevT: number | undefined;
  let used = new Set<number>();
  for (const it of items) {
    if (prevT === undefined) {
      used = new Set([it.ci]);
    } else if (it.a.t !== prevT) {
      cur += 26 + Math.min(70, 14 * Math.log10(1 + Math.max(0, it.a.t - prevT)));
      used = new Set([it.ci]);
    } else if (used.has(it.ci)) {
      cur += 26;
      used = new Set([it.ci]);
    } else {
      used.add(it.ci);
    }
    y.set(it.a, cur);
    prevT = it.a.t;
  }
  return { y, maxY: cur };
}

/** A state change is drawn beside the last arrow of its column at or before its time. */
function stateY(col: LadderColumn, t: number, ys: Map<LadderArrow, number>): number {
  let best = 0;
  for (const a of col.arrows) if (a.t <= t) best = ys.get(a) ?? best;
  return best;
}

const COL_W = 560;
const LANE = 360;
const TOP = 70;

/** One connection as an SVG group of the given width; returns the markup and its height. */
function connectionSvg(c: LadderConnection, idx: number): { svg: string; height: number } {
  const { y: ys, maxY } = layoutRows(c.columns);
  const height = TOP + maxY + 80;
  const parts: string[] = [];
  parts.push(`<g class="conn" id="conn-${idx}">`);
  parts.push(`<text x="10" y="22" class="title">${esc(c.title)}</text>`);
  parts.push(`<text x="10" y="42" class="sub">${esc(c.subtitle)}</text>`);
  c.columns.forEach((col, ci) => {
    const x0 = 90 + ci * COL_W;
    const xc = x0;
    const xs = x0 + LANE;
    parts.push(`<text x="${xc}" y="${TOP - 12}" class="head" text-anchor="middle">client</text>`);
    parts.push(`<text x="${xs}" y="${TOP - 12}" class="head" text-anchor="middle">server</text>`);
    parts.push(`<text x="${(xc + xs) / 2}" y="${TOP - 12}" class="colt" text-anchor="middle">${esc(col.title)}</text>`);
    parts.push(`<line x1="${xc}" y1="${TOP}" x2="${xc}" y2="${TOP + maxY + 30}" class="life"/>`);
    parts.push(`<line x1="${xs}" y1="${TOP}" x2="${xs}" y2="${TOP + maxY + 30}" class="life"/>`);
    col.arrows.forEach((a, ai) => {
      const y = TOP + (ys.get(a) ?? 0) + 8;
      const [xa, xb] = a.dir === "c2s" ? [xc, xs] : [xs, xc];
      const color = colorOf(a);
      const tip = [a.label, ...a.trace].join("\n");
      parts.push(`<g class="arrow" data-conn="${idx}" data-col="${ci}" data-i="${ai}"><title>${esc(tip)}</title>`);
      parts.push(`<line x1="${xa}" y1="${y}" x2="${xb}" y2="${y + 14}" stroke="${color}" stroke-width="2" marker-end="url(#ah-${idx})"/>`);
      parts.push(`<text x="${(xc + xs) / 2}" y="${y + 3}" text-anchor="middle" class="lbl" fill="${color}">${esc(a.label)}</text>`);
      if (ci === 0) parts.push(`<text x="${x0 - 10}" y="${y + 10}" text-anchor="end" class="time">${a.t.toFixed(1)} ms</text>`);
      parts.push(`</g>`);
    });
    let lastStateY = -1;
    for (const s of col.states) {
      let y = TOP + stateY(col, s.t, ys) + 22;
      if (y <= lastStateY) y = lastStateY + 11;
      lastStateY = y;
      parts.push(`<text x="${xc - 6}" y="${y}" text-anchor="end" class="state">${esc(s.state)}</text>`);
    }
  });
  parts.push(`<defs><marker id="ah-${idx}" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>`);
  parts.push(`</g>`);
  return { svg: parts.join("\n"), height };
}

const STYLE = `
  .title { font: bold 15px sans-serif; fill: #111; }
  .sub { font: 12px sans-serif; fill: #444; }
  .head { font: bold 12px sans-serif; fill: #222; }
  .colt { font: italic 12px sans-serif; fill: #555; }
  .life { stroke: #999; stroke-width: 1.5; stroke-dasharray: 4 3; }
  .lbl { font: 11px monospace; }
  .time { font: 10px monospace; fill: #666; }
  .state { font: bold 10px sans-serif; fill: #2e7d32; }
  .arrow:hover line { stroke-width: 4; }
`;

/** A standalone SVG document with every connection stacked vertically. */
export function renderSvg(conns: LadderConnection[]): string {
  const width = 90 + 2 * COL_W + 40;
  let y = 0;
  const groups: string[] = [];
  conns.forEach((c, i) => {
    const g = connectionSvg(c, i);
    groups.push(`<g transform="translate(0,${y})">${g.svg}</g>`);
    y += g.height;
  });
  if (conns.length === 0) {
    groups.push(`<text x="10" y="30" class="title">no TCP active open in this capture</text>`);
    y = 60;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${Math.max(60, y)}" viewBox="0 0 ${width} ${Math.max(60, y)}">
<style>${STYLE}</style>
<rect x="0" y="0" width="${width}" height="${Math.max(60, y)}" fill="#ffffff"/>
${groups.join("\n")}
</svg>
`;
}

/** An HTML page: the SVG inline, and a panel that shows an arrow's decision trace on hover. */
export function renderHtml(conns: LadderConnection[], title: string): string {
  const svg = renderSvg(conns).replace(/^<\?xml[^>]*>\s*/, "");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
  body { margin: 0; font-family: sans-serif; display: flex; }
  #ladder { flex: 1; overflow: auto; }
  #panel { width: 380px; height: 100vh; position: sticky; top: 0; overflow: auto; border-left: 1px solid #ccc;
           padding: 8px; font: 11px monospace; white-space: pre-wrap; background: #fafafa; }
</style></head>
<body>
<div id="ladder">${svg}</div>
<div id="panel">Hover an arrow: the replayed side shows the engine's decision trace.</div>
<script>
  const panel = document.getElementById("panel");
  for (const g of document.querySelectorAll("g.arrow")) {
    g.addEventListener("mouseenter", () => { panel.textContent = g.querySelector("title").textContent; });
  }
</script>
</body></html>
`;
}
