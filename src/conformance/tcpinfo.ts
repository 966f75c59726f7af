// `%{ ... }%` blocks (docs/conformance-runner.md, "Skips, never passes"): Python run by packetdrill against a TCP_INFO
// snapshot taken at the event's time. We evaluate the simple `assert` forms the suites
// use (`assert tcpi_state == TCPI_SYN_SENT`, `assert tcpi_snd_mss == 1100, msg`) against a
// snapshot of our TCB; anything else is reported as not evaluated, never as checked.
import type { Connection } from "../../stack/tcp/connection.js";

/** A TCP_INFO-like view of one socket. */
export interface TcpInfo {
  /** RFC 9293 state name ("SYN-SENT", "CLOSED", ...). */
  state: string;
  snd_mss: number;
  advmss: number;
  /** Linux TCPI_OPT_* bits. */
  options: number;
  snd_wscale: number;
  rcv_wscale: number;
}

export const TCPI_OPT_TIMESTAMPS = 1;
export const TCPI_OPT_SACK = 2;
export const TCPI_OPT_WSCALE = 4;
export const TCPI_OPT_ECN = 8;

/** tcp_info of a connection (or of a socket without one: CLOSED, nothing negotiated). */
export function tcpInfoOf(conn: Connection | undefined, mssWithoutOptions: boolean, listening = false): TcpInfo {
  if (!conn) return { state: listening ? "LISTEN" : "CLOSED", snd_mss: 0, advmss: 0, options: 0, snd_wscale: 0, rcv_wscale: 0 };
  const wsOn = conn.sndWscale !== 0 || conn.rcvWscale !== 0;
  return {
    state: conn.state,
    // Linux tcpi_snd_mss is mss_cache: the payload per segment once options are taken off.
    snd_mss: conn.sndMss - (mssWithoutOptions && conn.tsEnabled ? 12 : 0),
    advmss: conn.mssAdvertised,
    options: (conn.tsEnabled ? TCPI_OPT_TIMESTAMPS : 0) | (conn.sackEnabled ? TCPI_OPT_SACK : 0) | (wsOn ? TCPI_OPT_WSCALE : 0),
    snd_wscale: conn.sndWscale,
    rcv_wscale: conn.rcvWscale,
  };
}

/** TCPI_* state names (Linux and the nplab fork's FreeBSD names) -> RFC 9293 state names. */
const STATE_NAMES: Record<string, string> = {
  TCPI_ESTABLISHED: "ESTABLISHED",
  TCPI_SYN_SENT: "SYN-SENT",
  TCPI_SYN_RECV: "SYN-RECEIVED",
  TCPI_SYN_RECEIVED: "SYN-RECEIVED",
  TCPI_FIN_WAIT1: "FIN-WAIT-1",
  TCPI_FIN_WAIT_1: "FIN-WAIT-1",
  TCPI_FIN_WAIT2: "FIN-WAIT-2",
  TCPI_FIN_WAIT_2: "FIN-WAIT-2",
  TCPI_TIME_WAIT: "TIME-WAIT",
  TCPI_CLOSE: "CLOSED",
  TCPI_CLOSED: "CLOSED",
  TCPI_CLOSE_WAIT: "CLOSE-WAIT",
  TCPI_LAST_ACK: "LAST-ACK",
  TCPI_LISTEN: "LISTEN",
  TCPI_CLOSING: "CLOSING",
};

export type AssertOutcome =
  | { kind: "passed"; count: number }
  | { kind: "failed"; statement: string; detail: string }
  | { kind: "unevaluated"; reason: string };

type Value = { kind: "int"; v: number } | { kind: "state"; v: string };

function tokenize(expr: string): string[] | undefined {
  const toks: string[] = [];
  const re = /\s*(==|!=|<=|>=|<|>|\||&|\(|\)|0x[0-9a-fA-F]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*)/y;
  let i = 0;
  while (i < expr.length) {
    if (/^\s*$/.test(expr.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) return undefined;
    toks.push(m[1]!);
    i = re.lastIndex;
  }
  return toks;
}

function evalOperand(tok: string, info: TcpInfo): Value | undefined {
  if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(tok)) return { kind: "int", v: Number(tok) };
  if (tok === "tcpi_state") return { kind: "state", v: info.state };
  if (Object.hasOwn(STATE_NAMES, tok)) return { kind: "state", v: STATE_NAMES[tok]! };
  switch (tok) {
    case "tcpi_snd_mss":
      return { kind: "int", v: info.snd_mss };
    case "tcpi_advmss":
      return { kind: "int", v: info.advmss };
    case "tcpi_options":
      return { kind: "int", v: info.options };
    case "tcpi_snd_wscale":
      return { kind: "int", v: info.snd_wscale };
    case "tcpi_rcv_wscale":
      return { kind: "int", v: info.rcv_wscale };
    case "TCPI_OPT_TIMESTAMPS":
      return { kind: "int", v: TCPI_OPT_TIMESTAMPS };
    case "TCPI_OPT_SACK":
      return { kind: "int", v: TCPI_OPT_SACK };
    case "TCPI_OPT_WSCALE":
      return { kind: "int", v: TCPI_OPT_WSCALE };
    case "TCPI_OPT_ECN":
      return { kind: "int", v: TCPI_OPT_ECN };
  }
  return undefined;
}

/** `a | b & c` over ints (no parentheses needed by the suites). */
function evalBits(toks: string[], info: TcpInfo): Value | string {
  // Split on | then &.
  const orParts: string[][] = [[]];
  for (const t of toks) {
    if (t === "|") orParts.push([]);
    else orParts[orParts.length - 1]!.push(t);
  }
  let acc: Value | undefined;
  for (const part of orParts) {
    let andAcc: Value | undefined;
    const andParts = part.join(" ").split("&").map((s) => s.trim());
    for (const ap of andParts) {
      if (!/^[A-Za-z0-9_]+$/.test(ap)) return `cannot evaluate '${ap}'`;
      const v = evalOperand(ap, info);
      if (!v) return `unknown name '${ap}'`;
      if (andAcc === undefined) andAcc = v;
      else if (andAcc.kind === "int" && v.kind === "int") andAcc = { kind: "int", v: andAcc.v & v.v };
      else return "bit operation on a state";
    }
    if (!andAcc) return "empty operand";
    if (acc === undefined) acc = andAcc;
    else if (acc.kind === "int" && andAcc.kind === "int") acc = { kind: "int", v: acc.v | andAcc.v };
    else return "bit operation on a state";
  }
  return acc ?? "empty operand";
}

/** Evaluates a `%{ }%` block against `info`. */
export function evaluateAsserts(code: string, info: TcpInfo): AssertOutcome {
  const statements = code
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (statements.length === 0) return { kind: "unevaluated", reason: "empty python block" };
  let count = 0;
  for (const st of statements) {
    const m = /^assert\s+(.*)$/.exec(st);
    if (!m) return { kind: "unevaluated", reason: `python statement '${st}' is not an assert` };
    // Drop the message: `assert expr, msg` (the message is a plain name or string in the suites).
    const body = m[1]!.replace(/,\s*[^,]*$/, (tail) => (/[=<>!]/.test(tail) ? tail : "")).trim();
    const toks = tokenize(body);
    if (!toks) return { kind: "unevaluated", reason: `cannot parse '${body}'` };
    const opIdx = toks.findIndex((t) => ["==", "!=", "<", ">", "<=", ">="].includes(t));
    if (opIdx <= 0) return { kind: "unevaluated", reason: `no comparison in '${body}'` };
    const l = evalBits(toks.slice(0, opIdx), info);
    const r = evalBits(toks.slice(opIdx + 1), info);
    if (typeof l === "string") return { kind: "unevaluated", reason: `${l} in '${body}'` };
    if (typeof r === "string") return { kind: "unevaluated", reason: `${r} in '${body}'` };
    if (l.kind !== r.kind) return { kind: "unevaluated", reason: `mixed kinds in '${body}'` };
    const op = toks[opIdx]!;
    let ok: boolean;
    if (l.kind === "state") {
      if (op !== "==" && op !== "!=") return { kind: "unevaluated", reason: `ordering of states in '${body}'` };
      ok = op === "==" ? l.v === r.v : l.v !== r.v;
    } else {
      const a = l.v;
      const b = (r as { v: number }).v;
      ok = op === "==" ? a === b : op === "!=" ? a !== b : op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b;
    }
    if (!ok) {
      const show = (v: Value) => (v.kind === "state" ? v.v : String(v.v));
      return { kind: "failed", statement: `assert ${body}`, detail: `left side is ${show(l)}, right side is ${show(r)}` };
    }
    count++;
  }
  return { kind: "passed", count };
}
