// The syntax tree of a packetdrill script (.pkt), as parsed by parse.ts.
//
// The language is the one of google/packetdrill (`syntax.md`, `parser.y`) plus the
// additions of the nplab fork used by the FreeBSD tcp-testsuite (`!` absolute
// sequence numbers, `(tos 0x..)`/`(ttl N)`/`(hlim N)`/`(class 0x..)` IP info,
// `/udp(a > b)` encapsulation, `TS val ... ecr N!`, `md5 valid`). The runner works
// only from this tree; it never looks at script text. docs/conformance-runner.md summarises the
// semantics; the comments below say what each field means to a runner.

/** A parsed script. */
export interface Script {
  path: string;
  /**
   * `--name=value` lines before the first event (same meaning as packetdrill's
   * command-line flags). A bare `--name` maps to "". Keys are without the dashes,
   * e.g. `ip_version`, `tolerance_usecs`, `mtu`, `udp_encapsulation`.
   * Scripts from the Google and kernel suites carry no `--ip_version`: their
   * runners pass it on the command line (docs/conformance-runner.md, "Profiles and sysctls").
   */
  options: Record<string, string>;
  /** An untimed backquoted command before the first event (packetdrill "init command"). */
  initCommand?: ShellCommand;
  /** An untimed backquoted command after the last event (packetdrill "cleanup command"). */
  cleanupCommand?: ShellCommand;
  events: Event[];
  /** Things the script relies on, for a runner that wants to skip what it lacks. */
  features: Feature[];
}

export interface ShellCommand {
  line: number;
  /** The text between the backquotes, verbatim (may span lines). */
  command: string;
}

export type Feature =
  | "fastopen" // FO / FOEXP option (TCP Fast Open, RFC 7413)
  | "md5" // TCP-MD5 option (RFC 2385)
  | "udp-encap" // nplab `/udp(a > b)` TCP-over-UDP encapsulation (RFC 8935 style)
  | "ecn" // an ECN mark on the IP header or E/W flags
  | "accecn" // AccECN: A flag, ACE digit or ECN option
  | "ip-info" // (tos ..), (ttl ..), (hlim ..), (class ..), (flowlabel ..)
  | "python" // %{ ... }% tcp_info assertions
  | "icmp"
  | "blocking-call" // t1...t2 syscall
  | "time-window" // a~b packet time
  | "any-time" // * packet time
  | "absolute-seq" // nplab `N:M(L)!` or `ecr N!`
  | "macro" // a name the suite's own runner defines with -D (TFO_COOKIE, CODE)
  | "unknown-option"; // a TCP option this parser does not model

// ---------------------------------------------------------------------------
// Time column (docs/conformance-runner.md, "Model")

/**
 * When an event happens.
 * - `absolute`: seconds since the script started.
 * - `relative` (`+0.1`): after the previous event (packetdrill's anchor rules apply).
 * - `any` (`*`): outbound packets only; any time.
 * `end` is set for a window `a~b` / `+a~+b` (outbound packets only) and has the same
 * kind (and anchor) as the start. `usecs` is the exact integer value (packetdrill's own
 * unit, parsed from the decimal text without float rounding); `value` = usecs / 1e6.
 */
export type EventTime =
  | { kind: "absolute" | "relative"; value: number; usecs: number; end?: TimeBound }
  | { kind: "any" };

export interface TimeBound {
  value: number;
  usecs: number;
}

// ---------------------------------------------------------------------------
// Events

export type Event = PacketEvent | IcmpEvent | SyscallEvent | ShellEvent | PythonEvent;

interface EventBase {
  /** 1-based line of the event's time column. */
  line: number;
  time: EventTime;
}

export type Direction = "in" | "out"; // `<` injected by the harness, `>` sent by the stack

/** IP header expectations written before the TCP flags: `[ect0]`, `(tos 0x20)`, ... */
export interface IpInfo {
  /** ECN codepoint to set (inbound) or check (outbound). `ect01` = either ECT(0) or ECT(1). */
  ecn?: "noecn" | "ect0" | "ect1" | "ect01" | "ce";
  /** Whole TOS / traffic-class byte (`tos 0x..`, nplab `class 0x..`). */
  tos?: number;
  /** IPv4 TTL / IPv6 hop limit (`ttl N`, nplab `hlim N`). */
  ttl?: number;
  flowLabel?: number;
}

/** nplab TCP-over-UDP: the segment travels inside UDP with these ports. */
export interface UdpEncap {
  srcPort: number;
  dstPort: number;
}

export interface TcpFlagBits {
  syn: boolean;
  ack: boolean;
  fin: boolean;
  rst: boolean;
  psh: boolean;
  urg: boolean;
  ece: boolean; // E
  cwr: boolean; // W
  ae: boolean; // A (AccECN, RFC 9768)
}

export interface TcpSpec {
  /** Flags exactly as written, whitespace removed: "S", "S.", ".", "P.", "F.", "SEW", "P.6", "-". */
  flags: string;
  flagBits: TcpFlagBits;
  /** AccECN ACE counter written as a digit in the flags (`.5`, `P5.`). */
  ace?: number;
  /**
   * `start:end(len)`. Relative to the ISNs unless `seqAbsolute` (nplab `!`): for our
   * side relative to our live ISS; for the remote side the number on an injected SYN
   * is the remote ISN itself (docs/conformance-runner.md, "Model").
   */
  seqStart: number;
  seqEnd: number;
  payloadLen: number;
  seqAbsolute: boolean;
  /** nplab `...(len)`: any sequence number (outbound lines; seqStart is then 0). */
  seqAny?: boolean;
  /** `ack N`; absent = no ack number written (the ACK flag says whether it is on). */
  ack?: number;
  /** `win N`; absent = not checked on outbound lines. */
  win?: number;
  /** `urg N` (urgent pointer). */
  urg?: number;
  /**
   * `<...>` = "any" (options not checked). A list = exact options in order.
   * No `<>` at all = `[]` with `noOptions: true`: the segment must carry no options.
   */
  options: TcpOptionSpec[] | "any";
  noOptions?: true;
}

/** TCP options as written in `<...>`. Kinds match stack/wire/types.ts TcpOption where they overlap. */
export type TcpOptionSpec =
  | { kind: "eol" }
  | { kind: "nop" }
  | { kind: "mss"; value: number }
  | { kind: "wscale"; shift: number }
  | { kind: "sackOK" }
  | { kind: "sack"; blocks: Array<[number, number]> }
  /**
   * `TS val V ecr E`. `valIgnored` = nplab `val ...`; `ecrAbsolute` = nplab `ecr N!`
   * (not translated between script and live TS values).
   */
  | { kind: "ts"; val: number; ecr: number; valIgnored?: true; ecrAbsolute?: true }
  /** `FO [cookie]` (RFC 7413, kind 34) or `FOEXP [cookie]` (kind 254, ExID 0xF989). Unsupported. */
  | { kind: "fastopen"; cookie: string; experimental: boolean; unsupported: true }
  /** `md5 <hex>` or nplab `md5 valid`. Unsupported. */
  | { kind: "md5"; value: string; unsupported: true }
  /** Kernel AccECN option `ECN e0b N ceb N e1b N` (field order as written). */
  | { kind: "accecn"; fields: Array<{ name: "e0b" | "ceb" | "e1b"; value: number }> }
  /** Anything else, kept as text. */
  | { kind: "unknown"; text: string };

export interface PacketEvent extends EventBase {
  type: "packet";
  direction: Direction;
  ipInfo?: IpInfo;
  tcp: TcpSpec;
  udpEncap?: UdpEncap;
}

/**
 * `< icmp unreachable port_unreachable [0:0(0)]` (docs/conformance-runner.md, "Model"). The ICMP family follows
 * the script's IP version (ICMPv4 for ipv4 and ipv4-mapped-ipv6); use `resolveIcmp` in
 * parse.ts to get numbers for a family.
 */
export interface IcmpEvent extends EventBase {
  type: "icmp";
  direction: Direction;
  ipInfo?: IpInfo;
  /** Type name as written: "unreachable", "time_exceeded", "parameter_problem", "packet_too_big", "type_N", ... */
  icmpType: string;
  /** Code name as written ("port_unreachable", "frag_needed", "code_N"); absent = code 0. */
  code?: string;
  /** `mtu N`: next-hop MTU (ICMPv4 frag_needed) or PTB MTU (ICMPv6 packet_too_big). */
  mtu?: number;
  /** `id N` (echo identifier). */
  echoId?: number;
  /**
   * The ICMP family of this event when it is known at parse time: from the script's
   * `--ip_version` (ipv4 and ipv4-mapped-ipv6 -> 4), or else because the type/code names
   * exist in only one of the ICMPv4 / ICMPv6 tables (packet_too_big -> 6,
   * frag_needed -> 4). Absent when the runner's --ip_version decides
   * (`unreachable port_unreachable` exists in both).
   */
  family?: 4 | 6;
  /**
   * `[start:end(len)]`: the TCP segment the ICMP quotes; the quoted header carries the
   * ports and the sequence number `seqStart`, relative to our ISS. Absent = nothing quoted
   * beyond the IP header (packetdrill then quotes seq 0).
   */
  quoted?: { seqStart: number; seqEnd: number; payloadLen: number; udpEncap?: UdpEncap };
}

export interface SyscallEvent extends EventBase {
  type: "syscall";
  name: string;
  args: Expr[];
  /** Expected return value (`= -1`, `= 0x02`, `= 3`). */
  result: Expr;
  /** Expected errno symbol after the result (`ECONNREFUSED`); absent = not checked. */
  errno?: string;
  /** The parenthesised free text after result/errno, e.g. "Operation now in progress". */
  note?: string;
  /**
   * `t1...t2 name(...)`: a blocking call that starts at `time` and must return at
   * `blockingEnd`, which uses the same anchor as `time` (packetdrill adds the same
   * offset to both). Absent = the call must return at once.
   */
  blockingEnd?: { kind: "absolute" | "relative"; value: number; usecs: number };
}

export interface ShellEvent extends EventBase {
  type: "shell";
  /** The text between the backquotes, verbatim (see sysctl.ts to interpret it). */
  command: string;
}

export interface PythonEvent extends EventBase {
  type: "python";
  /** The code between `%{` and `}%`, spaces/tabs trimmed at both ends (as packetdrill does). */
  code: string;
}

// ---------------------------------------------------------------------------
// Syscall argument expressions (packetdrill `expression`)

export type Expr =
  /** Decimal or hex integer; `text` keeps the spelling ("0x02"). */
  | { kind: "int"; value: number; text: string }
  /** A C name: AF_INET, SOCK_STREAM, O_NONBLOCK, ECONNREFUSED, NULL, ... */
  | { kind: "symbol"; name: string }
  /** "..." string; `truncated` = written `"abc"...`. */
  | { kind: "string"; value: string; truncated?: true }
  /** `...`: "fill in the default" / "don't care". */
  | { kind: "ellipsis" }
  /** `A|B|C` bitwise OR, flattened. */
  | { kind: "or"; operands: Expr[] }
  /** `[a, b]`: a value passed/compared by reference (`[1]`, `[ECONNREFUSED]`). */
  | { kind: "array"; items: Expr[] }
  /** `{a, b}` / `{l_onoff=1, l_linger=0}`: a C struct; named members appear as `field`. */
  | { kind: "struct"; items: Expr[] }
  /** `name=value`, or `name(args)=value` (`msg_iov(1)=[...]`). */
  | { kind: "field"; name: string; args?: Expr[]; value: Expr }
  /** `htons(8080)`, `inet_addr("192.0.2.1")`. */
  | { kind: "call"; name: string; args: Expr[] };

export type ParseResult =
  | { ok: true; script: Script }
  | { ok: false; error: string; line: number };
