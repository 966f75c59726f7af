// Parser for packetdrill scripts (.pkt) -> ast.ts.
//
// Why this file is about 1 100 lines: it is one recursive-descent parser for one grammar
// (packetdrill's, with the nplab additions), each rule a method of Parser, and the lexer
// whose token rules the grammar is written against. Splitting the rules across files
// would scatter a grammar that is read top to bottom.
//
// packetdrill's language is token based: whitespace, newlines and comments between
// tokens carry no meaning, and one statement may span lines (google/packetdrill
// lexer.l + parser.y, `syntax.md`). So this parser first cuts the whole text into
// tokens with flex's rules (longest match, ties to the earlier rule) and then walks
// the grammar by recursive descent. It accepts the nplab fork's additions used by the
// FreeBSD tcp-testsuite. Bad input is a value: every failure is `{ ok: false, error, line }`
// with a specific message; nothing throws for script content.

import type {
  Event,
  EventTime,
  Expr,
  Feature,
  IcmpEvent,
  IpInfo,
  PacketEvent,
  ParseResult,
  Script,
  ShellCommand,
  SyscallEvent,
  TcpFlagBits,
  TcpOptionSpec,
  TcpSpec,
  TimeBound,
  UdpEncap,
} from "./ast.js";

// ---------------------------------------------------------------------------
// Lexer

type TokKind =
  | "int" // [-]?[0-9]+
  | "float" // [-]?[0-9]*[.][0-9]+
  | "hex" // 0x[0-9a-fA-F]+
  | "word" // [a-zA-Z0-9_]+
  | "string" // "..."
  | "backquote" // `...`
  | "code" // %{ ... }%
  | "ellipsis" // ...
  | "option" // --name[=value] (value read raw, see lexOption)
  | "ipv4"
  | "ipv6"
  | "punct" // any other single character
  | "eof";

interface Token {
  kind: TokKind;
  /** Source text (for string/backquote/code: the content between the delimiters). */
  text: string;
  line: number;
  start: number;
  end: number;
  /** For option tokens: the value after `=`, or undefined for a bare flag. */
  optionValue?: string;
}

class ParseError {
  constructor(
    readonly message: string,
    readonly line: number,
  ) {}
}

const RE_FLOAT = /-?[0-9]*\.[0-9]+/y;
const RE_INT = /-?[0-9]+/y;
const RE_HEX = /0x[0-9a-fA-F]+/y;
const RE_WORD = /[a-zA-Z0-9_]+/y;
const RE_IPV4 = /[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/y;
// IPv6 text needs either eight groups or a "::" so that `1:1001` (a sequence range)
// is never taken for an address (lexer.l makes the same distinction).
const RE_IPV6 =
  /(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?::(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?:[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)?)/y;

function matchAt(re: RegExp, text: string, pos: number): number {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0].length : 0;
}

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  const n = text.length;
  const countLines = (from: number, to: number): number => {
    let c = 0;
    for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) c++;
    return c;
  };
  const push = (kind: TokKind, tokText: string, start: number, end: number, extra?: Partial<Token>) => {
    tokens.push({ kind, text: tokText, line, start, end, ...extra });
    line += countLines(start, end);
    pos = end;
  };

  while (pos < n) {
    const ch = text[pos]!;
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n" || ch === "\f" || ch === "\v") {
      if (ch === "\n") line++;
      pos++;
      continue;
    }
    // C++ comment to end of line.
    if (ch === "/" && text[pos + 1] === "/") {
      const eol = text.indexOf("\n", pos);
      pos = eol < 0 ? n : eol;
      continue;
    }
    // C comment.
    if (ch === "/" && text[pos + 1] === "*") {
      const close = text.indexOf("*/", pos + 2);
      if (close < 0) throw new ParseError("unterminated /* comment", line);
      line += countLines(pos, close + 2);
      pos = close + 2;
      continue;
    }
    // %{ python }%
    if (ch === "%" && text[pos + 1] === "{") {
      const close = text.indexOf("}%", pos + 2);
      if (close < 0) throw new ParseError("unterminated %{ code block (no closing }%)", line);
      push("code", text.slice(pos + 2, close), pos, close + 2);
      continue;
    }
    // `command` and "string": flex rule `\`(\\.|[^`])*\`` (a backslash escapes one char).
    if (ch === "`" || ch === '"') {
      let i = pos + 1;
      while (i < n && text[i] !== ch) i += text[i] === "\\" ? 2 : 1;
      if (i >= n) {
        throw new ParseError(ch === "`" ? "unterminated backquoted command" : "unterminated string", line);
      }
      push(ch === "`" ? "backquote" : "string", text.slice(pos + 1, i), pos, i + 1);
      continue;
    }
    if (ch === "-" && text[pos + 1] === "-" && /[a-zA-Z0-9_]/.test(text[pos + 2] ?? "")) {
      lexOption(text, pos, push);
      continue;
    }
    if (ch === "." && text[pos + 1] === "." && text[pos + 2] === ".") {
      push("ellipsis", "...", pos, pos + 3);
      continue;
    }
    // Longest match among the number/word/address rules; ties go to the earlier rule,
    // in lexer.l's order (FLOAT, INTEGER, HEX_INTEGER, WORD, IPV4_ADDR, IPV6_ADDR).
    const candidates: Array<[TokKind, number]> = [
      ["float", matchAt(RE_FLOAT, text, pos)],
      ["int", matchAt(RE_INT, text, pos)],
      ["hex", matchAt(RE_HEX, text, pos)],
      ["word", matchAt(RE_WORD, text, pos)],
      ["ipv4", matchAt(RE_IPV4, text, pos)],
      ["ipv6", matchAt(RE_IPV6, text, pos)],
    ];
    let best: [TokKind, number] = ["punct", 0];
    for (const c of candidates) if (c[1] > best[1]) best = c;
    if (best[1] > 0) {
      push(best[0], text.slice(pos, pos + best[1]), pos, pos + best[1]);
      continue;
    }
    push("punct", ch, pos, pos + 1);
  }
  tokens.push({ kind: "eof", text: "end of file", line, start: n, end: n });
  return tokens;
}

/**
 * `--name` or `--name=value`. The value is read raw up to whitespace or a `//` comment
 * (or as one "quoted" string), because option values such as `packet,syscall` or
 * `fd3d:0a0b:17d6::1` are not single tokens of the event grammar; packetdrill passes
 * them to the same code that reads command-line flags.
 */
function lexOption(
  text: string,
  pos: number,
  push: (kind: TokKind, t: string, s: number, e: number, extra?: Partial<Token>) => void,
): void {
  let i = pos + 2;
  while (i < text.length && /[a-zA-Z0-9_]/.test(text[i]!)) i++;
  const name = text.slice(pos + 2, i);
  if (text[i] !== "=") {
    push("option", name, pos, i);
    return;
  }
  i++;
  let value: string;
  if (text[i] === '"') {
    const close = text.indexOf('"', i + 1);
    const end = close < 0 ? text.length : close + 1;
    value = text.slice(i + 1, close < 0 ? text.length : close);
    i = end;
  } else {
    const start = i;
    while (i < text.length && !/\s/.test(text[i]!) && !(text[i] === "/" && text[i + 1] === "/")) i++;
    value = text.slice(start, i);
  }
  push("option", name, pos, i, { optionValue: value });
}

// ---------------------------------------------------------------------------
// Numbers and time

/** Exact decimal seconds -> integer microseconds (no float rounding error). */
function secondsTextToUsecs(t: string): number {
  const [intPart, fracPart = ""] = t.split(".");
  const whole = intPart === "" || intPart === undefined ? 0 : Number(intPart);
  const digits = (fracPart + "0000000").slice(0, 7);
  const frac = Math.round(Number(digits) / 10);
  return whole * 1_000_000 + frac;
}

const U16 = 0xffff;
const U32 = 0xffffffff;

// ---------------------------------------------------------------------------
// ICMP name tables (packetdrill icmp_packet.c; numbers from RFC 792 / RFC 4443)

interface IcmpTypeInfo {
  type: number;
  codes?: Record<string, number>;
}

const ICMPV4_TYPES: Record<string, IcmpTypeInfo> = {
  echo_reply: { type: 0 },
  unreachable: {
    type: 3,
    codes: {
      net_unreachable: 0,
      host_unreachable: 1,
      protocol_unreachable: 2,
      port_unreachable: 3,
      frag_needed: 4,
      source_route_failed: 5,
      net_unknown: 6,
      host_unknown: 7,
      source_host_isolated: 8,
      net_prohibited: 9,
      host_prohibited: 10,
      net_unreachable_for_tos: 11,
      host_unreachable_for_tos: 12,
      packet_filtered: 13,
      precedence_violation: 14,
      precedence_cutoff: 15,
    },
  },
  source_quench: { type: 4 },
  redirect: { type: 5 },
  echo_request: { type: 8 },
  time_exceeded: { type: 11, codes: { ttl_exceeded_in_transit: 0, frag_reass_exceeded: 1 } },
  parameter_problem: { type: 12 },
  timestamp_request: { type: 13 },
  timestamp_reply: { type: 14 },
  information_request: { type: 15 },
  information_reply: { type: 16 },
  address_mask_request: { type: 17 },
  address_mask_reply: { type: 18 },
};

const ICMPV6_TYPES: Record<string, IcmpTypeInfo> = {
  unreachable: {
    type: 1,
    codes: { no_route: 0, admin_prohibited: 1, not_neighbour: 2, address_unreachable: 3, port_unreachable: 4 },
  },
  packet_too_big: { type: 2 },
  time_exceeded: { type: 3, codes: { exceeded_hop_limit: 0, exceeded_frag_time: 1 } },
  parameter_problem: { type: 4, codes: { header_field: 0, unknown_next_header: 1, unknown_option: 2 } },
  echo_request: { type: 128 },
  echo_reply: { type: 129 },
};

/**
 * ICMP type/code numbers for an ICMP event in a given family (4 = ICMPv4, also used for
 * ipv4-mapped-ipv6 scripts; 6 = ICMPv6). Mirrors packetdrill's parse_icmp_type_and_code:
 * `type_N` / `code_N` give raw numbers, a missing code is 0, and `mtu` is only valid on
 * ICMPv4 unreachable/frag_needed or ICMPv6 packet_too_big code 0.
 */
export function resolveIcmp(
  ev: Pick<IcmpEvent, "icmpType" | "code" | "mtu">,
  family: 4 | 6,
): { ok: true; type: number; code: number } | { ok: false; reason: string } {
  const table = family === 4 ? ICMPV4_TYPES : ICMPV6_TYPES;
  let type: number;
  let codes: Record<string, number> | undefined;
  const rawType = /^type_([0-9]+)$/.exec(ev.icmpType);
  if (rawType) {
    type = Number(rawType[1]);
  } else {
    const info = Object.hasOwn(table, ev.icmpType) ? table[ev.icmpType] : undefined;
    if (!info) return { ok: false, reason: `ICMPv${family} has no type '${ev.icmpType}'` };
    type = info.type;
    codes = info.codes;
  }
  if (type > 255) return { ok: false, reason: `ICMP type ${type} out of range` };
  let code = 0;
  if (ev.code !== undefined) {
    const rawCode = /^code_([0-9]+)$/.exec(ev.code);
    if (rawCode) code = Number(rawCode[1]);
    else if (codes && Object.hasOwn(codes, ev.code)) code = codes[ev.code]!;
    else return { ok: false, reason: `ICMPv${family} type '${ev.icmpType}' has no code '${ev.code}'` };
    if (code > 255) return { ok: false, reason: `ICMP code ${code} out of range` };
  }
  if (ev.mtu !== undefined) {
    if (family === 4 && !(type === 3 && code === 4)) {
      return { ok: false, reason: "ICMPv4 MTU is only valid for unreachable frag_needed" };
    }
    // RFC 1191 §4: the ICMPv4 next-hop MTU field is 16 bits (RFC 8201's is 32).
    if (family === 4 && ev.mtu > U16) return { ok: false, reason: "ICMPv4 MTU out of 16-bit range" };
    if (family === 6 && !(type === 2 && code === 0)) {
      return { ok: false, reason: "ICMPv6 MTU is only valid for packet_too_big" };
    }
  }
  return { ok: true, type, code };
}

function familyOfIpVersion(v: string | undefined): 4 | 6 | undefined {
  if (v === undefined) return undefined;
  if (v === "ipv4" || v === "ipv4-mapped-ipv6") return 4; // mapped: the wire is IPv4
  if (v === "ipv6") return 6;
  return undefined;
}

// ---------------------------------------------------------------------------
// Parser

const FLAG_LETTERS: Record<string, keyof TcpFlagBits> = {
  S: "syn",
  F: "fin",
  R: "rst",
  P: "psh",
  U: "urg",
  E: "ece",
  W: "cwr",
  A: "ae",
  ".": "ack",
};

const IP_ECN_WORDS = new Set(["noecn", "ect0", "ect1", "ect01", "ce"]);

class Parser {
  readonly features = new Set<Feature>();

  constructor(
    private readonly toks: Token[],
    private readonly source: string,
    private readonly options: Record<string, string>,
    private i: number,
  ) {}

  // --- token helpers -------------------------------------------------------

  peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  isPunct(c: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === "punct" && t.text === c;
  }

  isWord(w: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === "word" && t.text === w;
  }

  fail(message: string, tok: Token = this.peek()): never {
    throw new ParseError(message, tok.line);
  }

  describe(t: Token): string {
    switch (t.kind) {
      case "eof":
        return "end of file";
      case "string":
        return `"${t.text}"`;
      case "backquote":
        return "`...` command";
      case "code":
        return "%{ }% block";
      case "option":
        return `'--${t.text}'`;
      default:
        return `'${t.text}'`;
    }
  }

  expectPunct(c: string, what: string): Token {
    if (!this.isPunct(c)) this.fail(`expected '${c}' ${what}, found ${this.describe(this.peek())}`);
    return this.next();
  }

  expectWord(w: string, what: string): Token {
    if (!this.isWord(w)) this.fail(`expected '${w}' ${what}, found ${this.describe(this.peek())}`);
    return this.next();
  }

  /** A non-negative decimal INTEGER token within [0, max]. */
  expectUint(what: string, max: number): number {
    const t = this.peek();
    if (t.kind !== "int") this.fail(`expected ${what} (an integer), found ${this.describe(t)}`);
    const v = Number(t.text);
    if (!Number.isSafeInteger(v) || v < 0 || v > max) this.fail(`${what} ${t.text} out of range (0..${max})`);
    this.next();
    return v;
  }

  /** A HEX_INTEGER token within [0, max] (`tos 0x20`, `flowlabel 0x12345`). */
  expectHex(what: string, max: number): number {
    const t = this.peek();
    if (t.kind !== "hex") this.fail(`expected ${what} as 0x.. hex, found ${this.describe(t)}`);
    const v = parseInt(t.text.slice(2), 16);
    if (v > max) this.fail(`${what} ${t.text} out of range`);
    this.next();
    return v;
  }

  atEventStart(): boolean {
    const t = this.peek();
    return (
      t.kind === "int" ||
      t.kind === "float" ||
      (t.kind === "punct" && (t.text === "+" || t.text === "*"))
    );
  }

  // --- script ----------------------------------------------------------------

  parseEvents(): { events: Event[]; cleanup?: ShellCommand } {
    const events: Event[] = [];
    let cleanup: ShellCommand | undefined;
    while (this.peek().kind !== "eof") {
      const t = this.peek();
      if (t.kind === "backquote") {
        // An untimed command is only allowed after the last event (cleanup command).
        this.next();
        if (this.peek().kind !== "eof") {
          this.fail("an untimed `command` is only allowed before the first event or after the last one", t);
        }
        cleanup = { line: t.line, command: t.text };
        break;
      }
      if (t.kind === "option") this.fail(`option --${t.text} after the first event; options must come first`, t);
      if (!this.atEventStart()) {
        this.fail(`expected the time of an event (0.1, +0.1 or *), found ${this.describe(t)}`, t);
      }
      events.push(this.parseEvent());
    }
    return cleanup ? { events, cleanup } : { events };
  }

  parseEvent(): Event {
    const first = this.peek();
    const line = first.line;
    const time = this.parseEventTime();
    const t = this.peek();
    let ev: Event;
    if (t.kind === "punct" && (t.text === "<" || t.text === ">")) {
      ev = this.parsePacket(line, time);
    } else if (t.kind === "backquote") {
      this.next();
      ev = { type: "shell", line, time, command: t.text };
    } else if (t.kind === "code") {
      this.next();
      // packetdrill strips spaces and tabs (not newlines) at both ends of the snippet.
      ev = { type: "python", line, time, code: t.text.replace(/^[ \t]+/, "").replace(/[ \t]+$/, "") };
      this.features.add("python");
    } else if (t.kind === "word" || t.kind === "ellipsis") {
      ev = this.parseSyscall(line, time);
    } else {
      this.fail(`expected a packet (< or >), a syscall, a \`command\` or %{ }% after the time, found ${this.describe(t)}`);
    }

    // parser.y `event`: `*` and time ranges are only meaningful for outbound packets
    // (packetdrill waits for a sniffed packet; nothing else can "happen in a window").
    const outboundPacket = (ev.type === "packet" || ev.type === "icmp") && ev.direction === "out";
    if (time.kind === "any") {
      if (!outboundPacket) this.fail("event time * can only be used with outbound packets", first);
      this.features.add("any-time");
    } else if (time.end !== undefined) {
      if (!outboundPacket) this.fail("event time range can only be used with outbound packets", first);
      this.features.add("time-window");
    }
    const after = this.peek();
    if (after.kind === "option") this.fail(`option --${after.text} after the first event; options must come first`);
    if (!this.atEventStart() && after.kind !== "eof" && after.kind !== "backquote") {
      this.fail(`unexpected ${this.describe(this.peek())} after the ${ev.type} event of line ${line}`);
    }
    return ev;
  }

  parseTimeNumber(what: string): TimeBound {
    const t = this.peek();
    if (t.kind !== "int" && t.kind !== "float") this.fail(`expected ${what} (seconds), found ${this.describe(t)}`);
    if (t.text.startsWith("-")) this.fail("negative time");
    this.next();
    const usecs = secondsTextToUsecs(t.text);
    return { value: usecs / 1e6, usecs };
  }

  parseEventTime(): EventTime {
    if (this.isPunct("*")) {
      this.next();
      return { kind: "any" };
    }
    const relative = this.isPunct("+");
    if (relative) this.next();
    const start = this.parseTimeNumber("event time");
    const time: EventTime = { kind: relative ? "relative" : "absolute", value: start.value, usecs: start.usecs };
    if (this.isPunct("~")) {
      this.next();
      const endRelative = this.isPunct("+");
      if (endRelative !== relative) {
        this.fail(
          relative
            ? "a relative time range must be written +a~+b"
            : "an absolute time range must be written a~b (no '+')",
        );
      }
      if (endRelative) this.next();
      const end = this.parseTimeNumber("end of the time range");
      if (end.usecs < start.usecs) this.fail("time range is backwards");
      time.end = end;
    }
    return time;
  }

  // --- packets -----------------------------------------------------------------

  parsePacket(line: number, time: EventTime): Event {
    const dirTok = this.next();
    const direction = dirTok.text === "<" ? "in" : "out";

    const w = this.peek();
    if (w.kind === "word" && ["ipv4", "ipv6", "gre", "mpls"].includes(w.text)) {
      this.fail(`unsupported: explicit '${w.text}' encapsulation header in a packet line`);
    }
    const ipInfo = this.parseOptIpInfo();
    if (this.peek().kind === "int" && this.isPunct(">", 1)) {
      this.fail("unsupported: explicit port numbers 'src > dst' in a packet line");
    }
    const kw = this.peek();
    if (kw.kind === "word" && kw.text === "icmp") {
      return this.parseIcmp(line, time, direction, ipInfo);
    }
    if (kw.kind === "word" && ["udp", "udplite", "sctp"].includes(kw.text)) {
      this.fail(`unsupported: ${kw.text} packets (only TCP and ICMP are modelled)`);
    }

    const tcp = this.parseTcp();
    let udpEncap: UdpEncap | undefined;
    if (this.isPunct("/")) udpEncap = this.parseUdpEncap();
    const ev: PacketEvent = { type: "packet", line, time, direction, tcp };
    if (ipInfo) ev.ipInfo = ipInfo;
    if (udpEncap) ev.udpEncap = udpEncap;
    return ev;
  }

  /** nplab `/udp(src > dst)` after a TCP segment or inside an ICMP quote. */
  parseUdpEncap(): UdpEncap {
    this.expectPunct("/", "before udp(...)");
    this.expectWord("udp", "after '/'");
    this.expectPunct("(", "after udp");
    const srcPort = this.expectUint("UDP source port", U16);
    this.expectPunct(">", "between UDP ports");
    const dstPort = this.expectUint("UDP destination port", U16);
    this.expectPunct(")", "after UDP ports");
    this.features.add("udp-encap");
    return { srcPort, dstPort };
  }

  /** `[ect0]`, `[noecn]`, `(tos 0x20)`, `(ttl 4)`, `(hlim 4)`, `(class 0x20)`, `(flowlabel 0x1)`, combined with ','. */
  parseOptIpInfo(): IpInfo | undefined {
    let close: string;
    if (this.isPunct("[")) close = "]";
    else if (this.isPunct("(")) close = ")";
    else return undefined;
    this.next();
    const info: IpInfo = {};
    for (;;) {
      const t = this.peek();
      if (t.kind !== "word") this.fail(`expected IP info (ect0, tos 0x.., ttl N, ...), found ${this.describe(t)}`);
      this.next();
      if (IP_ECN_WORDS.has(t.text)) {
        info.ecn = t.text as IpInfo["ecn"];
        this.features.add("ecn");
      } else if (t.text === "ecn") {
        const e = this.peek();
        if (e.kind !== "word" || !IP_ECN_WORDS.has(e.text)) this.fail(`expected an ECN codepoint after 'ecn'`);
        this.next();
        info.ecn = e.text as IpInfo["ecn"];
        this.features.add("ecn");
      } else if (t.text === "tos" || t.text === "class") {
        info.tos = this.expectHex(t.text, 0xff);
        this.features.add("ip-info");
      } else if (t.text === "ttl" || t.text === "hlim") {
        info.ttl = this.expectUint(t.text, 0xff);
        this.features.add("ip-info");
      } else if (t.text === "flowlabel") {
        info.flowLabel = this.expectHex("flowlabel", 0xfffff);
        this.features.add("ip-info");
      } else if (t.text === "dscp") {
        this.fail("unsupported: dscp in IP info", t);
      } else {
        this.fail(`unknown IP info '${t.text}'`, t);
      }
      if (this.isPunct(",")) {
        this.next();
        continue;
      }
      this.expectPunct(close, "to end the IP info");
      return info;
    }
  }

  parseFlags(): { flags: string; flagBits: TcpFlagBits; ace?: number } {
    // parser.y (nplab/Google): flags := WORD ['.'] | [WORD] FLOAT(".N") | '.' | '-'.
    const start = this.peek();
    let flags = "";
    if (this.isPunct("-")) {
      this.next();
      flags = "-";
    } else if (this.isPunct(".")) {
      this.next();
      flags = ".";
    } else if (start.kind === "float" && /^\.[0-9]+$/.test(start.text)) {
      this.next();
      flags = start.text;
    } else if (start.kind === "word") {
      this.next();
      flags = start.text;
      const t = this.peek();
      if (this.isPunct(".")) {
        this.next();
        flags += ".";
      } else if (t.kind === "float" && /^\.[0-9]+$/.test(t.text)) {
        this.next();
        flags += t.text;
      }
    } else {
      this.fail(`expected TCP flags (S, S., ., P., F., R, -, ...), found ${this.describe(start)}`);
    }

    const bits: TcpFlagBits = {
      syn: false,
      ack: false,
      fin: false,
      rst: false,
      psh: false,
      urg: false,
      ece: false,
      cwr: false,
      ae: false,
    };
    let ace: number | undefined;
    if (flags !== "-") {
      for (const c of flags) {
        const bit = FLAG_LETTERS[c];
        if (bit) {
          if (bits[bit]) this.fail(`TCP flag '${c}' given twice in '${flags}'`, start);
          bits[bit] = true;
        } else if (c >= "0" && c <= "7") {
          if (ace !== undefined) this.fail(`two AccECN ACE digits in flags '${flags}'`, start);
          ace = Number(c);
        } else {
          this.fail(`unknown TCP flag '${c}' in '${flags}'`, start);
        }
      }
    }
    if (bits.ece || bits.cwr) this.features.add("ecn");
    if (bits.ae || ace !== undefined) this.features.add("accecn");
    return ace === undefined ? { flags, flagBits: bits } : { flags, flagBits: bits, ace };
  }

  /** `start:end(len)` with the nplab `!` (absolute) suffix; end must equal start+len. */
  parseSeqRange(): { seqStart: number; seqEnd: number; payloadLen: number; seqAbsolute: boolean; seqAny?: boolean } {
    if (this.peek().kind === "ellipsis") {
      // nplab `...(len)`: the sequence number is not checked (a new ISS nobody can predict).
      this.next();
      this.expectPunct("(", "in ...(len)");
      const payloadLen = this.expectUint("TCP payload size", U16);
      this.expectPunct(")", "in ...(len)");
      return { seqStart: 0, seqEnd: payloadLen, payloadLen, seqAbsolute: false, seqAny: true };
    }
    const startTok = this.peek();
    const seqStart = this.expectUint("TCP start sequence number", U32);
    this.expectPunct(":", "in start:end(len)");
    const seqEnd = this.expectUint("TCP end sequence number", U32);
    this.expectPunct("(", "in start:end(len)");
    const payloadLen = this.expectUint("TCP payload size", U16);
    this.expectPunct(")", "in start:end(len)");
    if (seqEnd !== seqStart + payloadLen) {
      this.fail("inconsistent TCP sequence numbers and payload size", startTok);
    }
    let seqAbsolute = false;
    if (this.isPunct("!")) {
      this.next();
      seqAbsolute = true;
      this.features.add("absolute-seq");
    }
    return { seqStart, seqEnd, payloadLen, seqAbsolute };
  }

  parseTcp(): TcpSpec {
    const f = this.parseFlags();
    const seq = this.parseSeqRange();
    const tcp: TcpSpec = { flags: f.flags, flagBits: f.flagBits, ...seq, options: [] };
    if (f.ace !== undefined) tcp.ace = f.ace;
    // Fixed order in the grammar: opt_ack opt_window opt_urg_ptr opt_tcp_options.
    if (this.isWord("ack")) {
      this.next();
      tcp.ack = this.expectUint("TCP ack number", U32);
    }
    if (this.isWord("win")) {
      this.next();
      tcp.win = this.expectUint("TCP window", U16);
    }
    if (this.isWord("urg")) {
      this.next();
      tcp.urg = this.expectUint("TCP urgent pointer", U16);
    }
    for (const kw of ["ack", "win", "urg"]) {
      if (this.isWord(kw)) this.fail(`'${kw}' out of order or repeated (order is: ack, win, urg, <options>)`);
    }
    if (this.isPunct("<")) {
      tcp.options = this.parseTcpOptions();
    } else {
      tcp.noOptions = true;
    }
    return tcp;
  }

  parseTcpOptions(): TcpOptionSpec[] | "any" {
    this.expectPunct("<", "to open TCP options");
    if (this.peek().kind === "ellipsis") {
      this.next();
      this.expectPunct(">", "after <...");
      return "any";
    }
    const list: TcpOptionSpec[] = [];
    for (;;) {
      list.push(this.parseTcpOption());
      if (this.isPunct(",")) {
        this.next();
        continue;
      }
      if (!this.isPunct(">")) this.fail(`expected ',' or '>' to close TCP options, found ${this.describe(this.peek())}`);
      this.next();
      return list;
    }
  }

  parseTcpOption(): TcpOptionSpec {
    const t = this.peek();
    if (t.kind === "word") {
      switch (t.text) {
        case "nop":
          this.next();
          return { kind: "nop" };
        case "eol":
          this.next();
          return { kind: "eol" };
        case "mss":
          this.next();
          return { kind: "mss", value: this.expectUint("mss value", U16) };
        case "wscale":
          this.next();
          return { kind: "wscale", shift: this.expectUint("window scale shift count", 0xff) };
        case "sackOK":
          this.next();
          return { kind: "sackOK" };
        case "sack": {
          this.next();
          const blocks: Array<[number, number]> = [];
          while (this.peek().kind === "int" && this.isPunct(":", 1)) {
            const left = this.expectUint("SACK left edge", U32);
            this.next();
            const right = this.expectUint("SACK right edge", U32);
            blocks.push([left, right]);
          }
          if (blocks.length === 0) this.fail("expected SACK blocks a:b after 'sack'");
          return { kind: "sack", blocks };
        }
        case "TS": {
          this.next();
          this.expectWord("val", "after TS");
          let val = 0;
          let valIgnored = false;
          if (this.peek().kind === "ellipsis") {
            this.next();
            valIgnored = true; // nplab ignore_integer: outbound TS val not compared
          } else {
            val = this.expectUint("TS val", U32);
          }
          this.expectWord("ecr", "after TS val");
          const ecr = this.expectUint("TS ecr", U32);
          const opt: TcpOptionSpec = { kind: "ts", val, ecr };
          if (valIgnored) opt.valIgnored = true;
          if (this.isPunct("!")) {
            this.next();
            opt.ecrAbsolute = true;
            this.features.add("absolute-seq");
          }
          return opt;
        }
        case "FO":
        case "FOEXP": {
          this.next();
          let cookie = "";
          const c = this.peek();
          if (c.kind === "word" && /^[A-Z_][A-Z0-9_]*$/.test(c.text) && !/^[0-9A-F]+$/.test(c.text)) {
            // A macro the suite's runner defines with -D (TFO_COOKIE): the script needs it.
            this.features.add("macro");
            cookie = c.text;
            this.next();
          } else if (c.kind === "word" || c.kind === "int") {
            if (!/^[0-9a-fA-F]*$/.test(c.text)) this.fail("TCP fast open cookie is not a valid hex string", c);
            if (c.text.length % 2 !== 0) this.fail("TCP fast open cookie has an odd number of digits", c);
            cookie = c.text;
            this.next();
          }
          this.features.add("fastopen");
          return { kind: "fastopen", cookie, experimental: t.text === "FOEXP", unsupported: true };
        }
        case "md5": {
          this.next();
          const v = this.peek();
          if (v.kind !== "word" && v.kind !== "int" && v.kind !== "hex") {
            this.fail(`expected an MD5 value after 'md5', found ${this.describe(v)}`);
          }
          this.next();
          this.features.add("md5");
          return { kind: "md5", value: v.text, unsupported: true };
        }
        case "ECN": {
          this.next();
          const fields: Array<{ name: "e0b" | "ceb" | "e1b"; value: number }> = [];
          while (this.isWord("e0b") || this.isWord("ceb") || this.isWord("e1b")) {
            const name = this.next().text as "e0b" | "ceb" | "e1b";
            fields.push({ name, value: this.expectUint(`AccECN ${name}`, 0xffffff) });
          }
          this.features.add("accecn");
          return { kind: "accecn", fields };
        }
      }
    }
    // Unknown option: keep its text up to the next ',' or '>' so the runner can report it.
    const from = this.peek();
    let to = from;
    while (!this.isPunct(",") && !this.isPunct(">") && this.peek().kind !== "eof") to = this.next();
    if (to === from && (this.isPunct(",") || this.isPunct(">"))) this.fail("empty TCP option");
    this.features.add("unknown-option");
    return { kind: "unknown", text: this.sourceBetween(from, to) };
  }

  sourceBetween(from: Token, to: Token): string {
    // Rebuild from token texts: option tokens never contain quotes or comments.
    const parts: string[] = [];
    for (let k = this.toks.indexOf(from); k <= this.toks.indexOf(to); k++) parts.push(this.toks[k]!.text);
    return parts.join(" ");
  }

  parseIcmp(line: number, time: EventTime, direction: "in" | "out", ipInfo: IpInfo | undefined): IcmpEvent {
    this.expectWord("icmp", "");
    const typeTok = this.peek();
    if (typeTok.kind !== "word") this.fail(`expected an ICMP type after 'icmp', found ${this.describe(typeTok)}`);
    this.next();
    const ev: IcmpEvent = { type: "icmp", line, time, direction, icmpType: typeTok.text };
    if (ipInfo) ev.ipInfo = ipInfo;
    const c = this.peek();
    if (c.kind === "word" && c.text !== "mtu" && c.text !== "id") {
      this.next();
      ev.code = c.text;
    }
    if (this.isWord("mtu")) {
      this.next();
      ev.mtu = this.expectUint("ICMP mtu", U32);
    }
    if (this.isWord("id")) {
      this.next();
      ev.echoId = this.expectUint("ICMP echo id", U16);
    }
    if (this.isPunct("[")) {
      this.next();
      const p = this.peek();
      if (p.kind === "word" && ["udp", "udplite", "sctp", "raw"].includes(p.text)) {
        this.fail(`unsupported: ICMP quoting a ${p.text} packet`);
      }
      const seq = this.parseSeqRange();
      if (seq.seqAbsolute) this.fail("'!' is not allowed in an ICMP quote");
      const quoted: NonNullable<IcmpEvent["quoted"]> = {
        seqStart: seq.seqStart,
        seqEnd: seq.seqEnd,
        payloadLen: seq.payloadLen,
      };
      if (this.isPunct("/")) quoted.udpEncap = this.parseUdpEncap();
      this.expectPunct("]", "to close the ICMP quote");
      ev.quoted = quoted;
    }

    // Check the names the way packetdrill does once the family is known: against the
    // script's --ip_version if it has one, otherwise against both tables.
    const declared = familyOfIpVersion(this.options["ip_version"]);
    const candidates: Array<4 | 6> = declared ? [declared] : [4, 6];
    const valid = candidates.filter((f) => resolveIcmp(ev, f).ok);
    if (valid.length === 0 && ev.code !== undefined && /^[A-Z_][A-Z0-9_]*$/.test(ev.code)) {
      // An ICMP code given as a macro of the suite's runner (CODE): resolved when run.
      this.features.add("macro");
      this.features.add("icmp");
      return ev;
    }
    if (valid.length === 0) {
      const r = resolveIcmp(ev, candidates[0]!);
      this.fail(r.ok ? "bad ICMP type/code" : r.reason, typeTok);
    }
    if (valid.length === 1) ev.family = valid[0]!;
    this.features.add("icmp");
    return ev;
  }

  // --- syscalls -----------------------------------------------------------------

  parseSyscall(line: number, time: EventTime): SyscallEvent {
    let blockingEnd: SyscallEvent["blockingEnd"];
    if (this.peek().kind === "ellipsis") {
      this.next();
      if (time.kind === "any") this.fail("a blocking call needs a start time, not *");
      if (this.isPunct("+")) this.fail("the end of a blocking call is written without '+' (t1...t2 share one anchor)");
      const end = this.parseTimeNumber("end time of the blocking call");
      if (end.usecs < time.usecs) this.fail("blocking call ends before it starts");
      blockingEnd = { kind: time.kind, value: end.value, usecs: end.usecs };
      this.features.add("blocking-call");
    }
    const nameTok = this.peek();
    if (nameTok.kind !== "word") this.fail(`expected a system call name, found ${this.describe(nameTok)}`);
    this.next();
    this.expectPunct("(", `after ${nameTok.text}`);
    const args = this.isPunct(")") ? [] : this.parseExprList(")");
    this.expectPunct(")", `to close the arguments of ${nameTok.text}`);
    this.expectPunct("=", `after ${nameTok.text}(...) (every syscall line states its result)`);
    const result = this.parseExpr();
    const ev: SyscallEvent = { type: "syscall", line, time, name: nameTok.text, args, result };
    if (blockingEnd) ev.blockingEnd = blockingEnd;
    if (this.peek().kind === "word") ev.errno = this.next().text;
    if (this.isPunct("(")) ev.note = this.parseNote();
    return ev;
  }

  /** `(free text)` after a result: kept verbatim (inner whitespace collapsed). */
  parseNote(): string {
    const open = this.next();
    let depth = 1;
    let last = open;
    while (depth > 0) {
      const t = this.peek();
      if (t.kind === "eof") this.fail("unterminated '(' note after the syscall result", open);
      this.next();
      if (t.kind === "punct" && t.text === "(") depth++;
      if (t.kind === "punct" && t.text === ")") depth--;
      last = t;
    }
    return this.source.slice(open.end, last.start).replace(/\s+/g, " ").trim();
  }

  parseExprList(close: string): Expr[] {
    const list: Expr[] = [this.parseExpr()];
    while (this.isPunct(",")) {
      this.next();
      list.push(this.parseExpr());
    }
    if (!this.isPunct(close)) this.fail(`expected ',' or '${close}' in a list, found ${this.describe(this.peek())}`);
    return list;
  }

  parseExpr(): Expr {
    const first = this.parsePrimary();
    if (!this.isPunct("|")) return first;
    const operands: Expr[] = [first];
    while (this.isPunct("|")) {
      this.next();
      const e = this.parsePrimary();
      if (e.kind === "or") operands.push(...e.operands);
      else operands.push(e);
    }
    return { kind: "or", operands };
  }

  private depth = 0;

  parsePrimary(): Expr {
    // Bound the recursion so hostile input yields an error value, not a stack overflow.
    if (++this.depth > 64) this.fail("expression nested more than 64 levels deep");
    try {
      return this.parsePrimaryInner();
    } finally {
      this.depth--;
    }
  }

  parsePrimaryInner(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case "ellipsis":
        this.next();
        return { kind: "ellipsis" };
      case "int": {
        this.next();
        return { kind: "int", value: Number(t.text), text: t.text };
      }
      case "hex": {
        this.next();
        return { kind: "int", value: parseInt(t.text.slice(2), 16), text: t.text };
      }
      case "string": {
        this.next();
        if (this.peek().kind === "ellipsis") {
          this.next();
          return { kind: "string", value: t.text, truncated: true };
        }
        return { kind: "string", value: t.text };
      }
      case "word": {
        this.next();
        let args: Expr[] | undefined;
        if (this.isPunct("(")) {
          this.next();
          args = this.isPunct(")") ? [] : this.parseExprList(")");
          this.next();
        }
        if (this.isPunct("=")) {
          this.next();
          const value = this.parseExpr();
          return args ? { kind: "field", name: t.text, args, value } : { kind: "field", name: t.text, value };
        }
        return args ? { kind: "call", name: t.text, args } : { kind: "symbol", name: t.text };
      }
      case "punct":
        if (t.text === "[" || t.text === "{") {
          const close = t.text === "[" ? "]" : "}";
          this.next();
          const items = this.isPunct(close) ? [] : this.parseExprList(close);
          this.next();
          return { kind: t.text === "[" ? "array" : "struct", items };
        }
        break;
    }
    this.fail(`expected an expression, found ${this.describe(t)}`);
  }
}

// ---------------------------------------------------------------------------
// Entry point

/**
 * Parse a packetdrill script. `path` is only recorded in the result (and used by the
 * runner for messages). Never throws for bad script text.
 */
/**
 * The C preprocessor conditionals some scripts use (`#ifdef FreeBSD` ... `#endif`, also
 * `#ifndef` and `#else`, nested): nplab's packetdrill runs scripts through cpp with the
 * symbols given by `-D`. Lines of a branch not taken become empty, so line numbers stay.
 * Throws on an unbalanced `#else` / `#endif` or a missing `#endif`.
 */
export function preprocessScript(text: string, defines: ReadonlySet<string>): string {
  const lines = text.split("\n");
  const stack: Array<{ taking: boolean; parentTaking: boolean; line: number }> = [];
  let taking = true;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*#\s*(ifdef|ifndef|else|endif)\b\s*(\w*)/.exec(lines[i]!);
    if (!m) {
      if (!taking) lines[i] = "";
      continue;
    }
    const [, directive, name] = m;
    if (directive === "ifdef" || directive === "ifndef") {
      if (!name) throw new Error(`line ${i + 1}: #${directive} without a name`);
      const cond = defines.has(name) === (directive === "ifdef");
      stack.push({ taking: cond, parentTaking: taking, line: i + 1 });
      taking = taking && cond;
    } else if (directive === "else") {
      const top = stack.at(-1);
      if (!top) throw new Error(`line ${i + 1}: #else without #ifdef`);
      top.taking = !top.taking;
      taking = top.parentTaking && top.taking;
    } else {
      const top = stack.pop();
      if (!top) throw new Error(`line ${i + 1}: #endif without #ifdef`);
      taking = top.parentTaking;
    }
    lines[i] = "";
  }
  if (stack.length > 0) throw new Error(`line ${stack.at(-1)!.line}: #ifdef without #endif`);
  return lines.join("\n");
}

export function parseScript(text: string, path = "<script>"): ParseResult {
  try {
    const toks = lex(text);
    // Options (`--name=value`) come first, then an optional untimed init command.
    const options: Record<string, string> = {};
    let k = 0;
    while (toks[k]!.kind === "option") {
      const t = toks[k]!;
      options[t.text] = t.optionValue ?? "";
      k++;
    }
    if (options["ip_version"] !== undefined && familyOfIpVersion(options["ip_version"]) === undefined) {
      throw new ParseError(`unknown --ip_version=${options["ip_version"]}`, 1);
    }
    let initCommand: ShellCommand | undefined;
    if (toks[k]!.kind === "backquote") {
      initCommand = { line: toks[k]!.line, command: toks[k]!.text };
      k++;
    }
    const parser = new Parser(toks, text, options, k);
    const { events, cleanup } = parser.parseEvents();
    if (events.length === 0) {
      return { ok: false, error: "script has no events", line: toks[toks.length - 1]!.line };
    }
    const script: Script = { path, options, events, features: [...parser.features].sort() };
    if (initCommand) script.initCommand = initCommand;
    if (cleanup) script.cleanupCommand = cleanup;
    return { ok: true, script };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: e.message, line: e.line };
    throw e;
  }
}
