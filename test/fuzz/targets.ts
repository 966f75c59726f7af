// Fuzz targets as plain functions: each takes one input, runs the code under test and
// throws a FuzzFailure when an invariant breaks. The vitest driver (fuzz.test.ts) feeds
// them mutated and generated inputs for a given time.
//
// Invariants, for every input:
// - the code under test never throws (bad input is a value, docs/architecture.md);
// - every rejection carries a reason, and for the wire layer it is one of the documented,
//   stable reasons of stack/wire/index.ts (they double as drop-counter keys);
// - accepted values are well-formed (ranges, lengths, views inside the input) and TCP
//   segments survive a build/parse round trip;
// - Stack.input: every drop is counted in stats.drops, the connection table, timers and
//   sequence variables stay consistent, and every packet the stack sends parses.
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { Deadline } from "../../stack/tcp/deadlines.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { seqDiff, seqLe } from "../../stack/tcp/seq.js";
import { seededRandom } from "../../stack/random.js";
import { internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.js";
import { parseIcmp, parseIpv4Quote } from "../../stack/wire/icmp.js";
import { parseIcmpv6, parseIpv6Quote } from "../../stack/wire/icmpv6.js";
import { buildIcmpError, buildTcpPacket, describePacket, parsePacket } from "../../stack/wire/packet.js";
import { formatTcpOptions, parseTcpOptions, summarizeOptions, writeTcpOptions } from "../../stack/wire/tcp-options.js";
import { parseTcp } from "../../stack/wire/tcp.js";
import { RxSegment } from "../../stack/wire/rx-segment.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type IcmpMessage, type IcmpQuote, type TcpOption, type TcpSegment } from "../../stack/wire/types.js";
import type { TraceEvent } from "../../stack/trace.js";
import { DROP_REASONS } from "../../stack/drops.js";
import { dropsBadOptions } from "../../stack/tcp/options.js";
import { parseScript } from "../../src/conformance/parse.js";
import { readCapture } from "../../device/pcap/read.js";
import { parseConnectArgs } from "../../src/cli/connect.js";
import { UsageError } from "../../src/cli/errors.js";
import { fixChecksums, fixIpLength, mutate, type Rng } from "./mutate.js";

export class FuzzFailure extends Error {
  override name = "FuzzFailure";
}

function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new FuzzFailure(msg);
}

const isU8 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xff;
const isU16 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffff;
const isU32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** The reasons stack/wire/index.ts documents; a parser returning anything else is a finding. */
export const WIRE_REASONS: ReadonlySet<string> = new Set([
  "empty packet",
  "ip bad version",
  "ipv4 truncated header",
  "ipv4 bad version",
  "ipv4 bad ihl",
  "ipv4 bad total length",
  "ipv4 truncated packet",
  "ipv4 header checksum",
  "ipv4 fragment",
  "ipv6 truncated header",
  "ipv6 bad version",
  "ipv6 truncated packet",
  "ipv6 truncated extension header",
  "ipv6 bad option length",
  "ipv6 hop-by-hop not first",
  "ipv6 routing header segments left",
  "ipv6 jumbogram not supported",
  "ipv6 fragment",
  "tcp truncated header",
  "tcp bad data offset",
  "tcp header beyond segment",
  "tcp checksum",
  "tcp option truncated",
  "tcp option length < 2",
  "tcp option overrun",
  "tcp option bad mss length",
  "tcp option bad wscale length",
  "tcp option bad sackOK length",
  "tcp option bad sack length",
  "tcp option bad timestamp length",
  "icmp truncated",
  "icmp checksum",
  "icmpv6 truncated",
  "icmpv6 checksum",
]);

function checkReason(reason: unknown, where: string): void {
  check(typeof reason === "string" && reason.length > 0, `${where}: rejection without a reason (${String(reason)})`);
  check(WIRE_REASONS.has(reason as string), `${where}: undocumented reason "${reason}"`);
}

/** A subarray view must lie inside the input buffer (zero-copy contract). */
function checkView(v: Uint8Array, input: Uint8Array, what: string): void {
  if (v.length === 0) return;
  check(v.buffer === input.buffer, `${what} is not a view of the input`);
  check(v.byteOffset >= input.byteOffset && v.byteOffset + v.length <= input.byteOffset + input.length, `${what} lies outside the input`);
}

function checkOption(o: TcpOption): void {
  switch (o.kind) {
    case "eol":
    case "nop":
    case "sackOK":
      return;
    case "mss":
      check(isU16(o.value), `mss ${o.value}`);
      return;
    case "wscale":
      check(isU8(o.shift), `wscale ${o.shift}`);
      return;
    case "sack":
      check(o.blocks.length >= 1 && o.blocks.length <= 4, `sack with ${o.blocks.length} blocks`);
      for (const [l, r] of o.blocks) check(isU32(l) && isU32(r), "sack block not uint32");
      return;
    case "ts":
      check(isU32(o.val) && isU32(o.ecr), "ts not uint32");
      return;
    case "unknown":
      check(isU8(o.type) && ![0, 1, 2, 3, 4, 5, 8].includes(o.type), `unknown option with known kind ${o.type}`);
      check(o.data.length <= 253, `unknown option with ${o.data.length} data bytes`);
      return;
    case "bad":
      check(o.bytes.length >= 1 && o.bytes.length <= 40, `bad option of ${o.bytes.length} bytes`);
      check(Object.prototype.hasOwnProperty.call(DROP_REASONS, o.reason) && o.reason.startsWith("tcp option"), `bad option reason "${o.reason}"`);
      return;
  }
}

/** Malformed options are kept as "bad" entries; optionError names the first one's problem. */
function checkBadOptions(opts: readonly TcpOption[], optionError: string | undefined): void {
  const bad = opts.filter((o): o is Extract<TcpOption, { kind: "bad" }> => o.kind === "bad");
  check(optionError === bad[0]?.reason, `optionError ${optionError} but first bad option ${bad[0]?.reason}`);
  const stops = ["tcp option truncated", "tcp option length < 2", "tcp option overrun"];
  opts.forEach((o, i) => {
    if (o.kind === "bad" && stops.includes(o.reason)) check(i === opts.length - 1, `options after an unreadable option (${o.reason})`);
  });
}

/**
 * Options in a form that survives a write: the writer pads to 4 bytes with zeros, which
 * read back as EOL (RFC 9293 §3.1), so trailing EOLs are not significant.
 */
export function canonicalOptions(opts: readonly TcpOption[]): string {
  let n = opts.length;
  while (n > 0 && opts[n - 1].kind === "eol") n--;
  return formatTcpOptions(opts.slice(0, n));
}

function checkOptions(opts: TcpOption[]): void {
  let eol = false;
  for (const o of opts) {
    check(!eol, "option after EOL");
    checkOption(o);
    if (o.kind === "eol") eol = true;
  }
  summarizeOptions(opts);
  check(typeof formatTcpOptions(opts) === "string", "formatTcpOptions");
}

function checkSegment(t: TcpSegment, l4Length: number, input: Uint8Array): void {
  check(isU16(t.srcPort) && isU16(t.dstPort), "ports out of range");
  check(isU32(t.seq) && isU32(t.ack), "seq/ack not uint32");
  check(isU8(t.flags) && t.reserved >= 0 && t.reserved <= 15, "flags/reserved out of range");
  check(isU16(t.window) && isU16(t.urgent) && isU16(t.checksum), "16-bit field out of range");
  check(t.headerLength >= 20 && t.headerLength <= 60 && t.headerLength % 4 === 0, `header length ${t.headerLength}`);
  check(t.headerLength + t.payload.length === l4Length, `header ${t.headerLength} + payload ${t.payload.length} != segment ${l4Length}`);
  checkView(t.payload, input, "tcp payload");
  checkOptions(t.options);
  checkBadOptions(t.options, t.optionError);
  for (const o of t.options) if (o.kind === "bad") checkView(o.bytes, input, "bad option bytes");
}

function checkQuote(q: IcmpQuote, version: 4 | 6): void {
  check(q.version === version, "quote version differs from the ICMP version");
  check(isU8(q.protocol), "quote protocol");
  check(typeof q.src === "string" && typeof q.dst === "string" && q.src.length > 0 && q.dst.length > 0, "quote addresses");
  const have = [q.srcPort, q.dstPort, q.seq].filter((x) => x !== undefined).length;
  check(have === 0 || have === 3, "quote has some but not all of ports/seq");
  if (have === 3) {
    check(q.protocol === 6, "ports read from a non-TCP quote");
    check(isU16(q.srcPort!) && isU16(q.dstPort!) && isU32(q.seq!), "quoted ports/seq out of range");
  }
}

function checkIcmp(m: IcmpMessage, version: 4 | 6, icmpLength: number, input: Uint8Array): void {
  check(m.version === version, "icmp version");
  check(isU8(m.type) && isU8(m.code) && isU16(m.checksum), "icmp type/code/checksum");
  check(m.body.length === icmpLength - 8, "icmp body length");
  checkView(m.body, input, "icmp body");
  if (m.mtu !== undefined) check(isU32(m.mtu), "icmp mtu");
  if (m.pointer !== undefined) check(isU32(m.pointer), "icmp pointer");
  if (m.quote) checkQuote(m.quote, version);
}

// ---------------------------------------------------------------------------------
// Wire targets

/** parsePacket: IPv4/IPv6 (extension headers), TCP (options), ICMP/ICMPv6 (quotes). */
export function parsePacketTarget(input: Uint8Array): void {
  const p = parsePacket(input);
  if (!p.ok) {
    checkReason(p.reason, "parsePacket");
    return;
  }
  const { ip, l4 } = p.value;
  check(ip.version === 4 || ip.version === 6, "ip version");
  check(ip.version === input[0] >> 4, "ip version differs from the first nibble");
  check(isU8(ip.protocol) && isU8(ip.ttl) && isU8(ip.tos), "ip byte fields");
  check(ip.headerLength >= (ip.version === 4 ? 20 : 40) && ip.headerLength <= input.length, `ip header length ${ip.headerLength}`);
  const ipEnd = ip.version === 4 ? (input[2] << 8) | input[3] : 40 + ((input[4] << 8) | input[5]);
  check(ipEnd <= input.length, "accepted a packet longer than its buffer");
  check(typeof describePacket(p.value) === "string", "describePacket");
  switch (l4.kind) {
    case "tcp": {
      const t = l4.tcp;
      checkSegment(t, ipEnd - ip.headerLength, input);
      roundTrip(ip.src, ip.dst, t);
      return;
    }
    case "icmp":
      checkIcmp(l4.icmp, ip.version, ipEnd - ip.headerLength, input);
      return;
    case "other":
      check(l4.protocol === ip.protocol, "other protocol");
      checkView(l4.payload, input, "other payload");
      return;
  }
}

const rx = new RxSegment();

/**
 * The stack's in-place parser against parsePacket(): it takes exactly the TCP segments
 * parsePacket() accepts in a plain IPv4 packet or an IPv6 packet without extension
 * headers and with well-formed options (a malformed option list is left to parsePacket(),
 * which keeps the segment with optionError for the badOptions policy), and reads the same
 * values from them (the option summary included).
 */
export function rxSegmentTarget(input: Uint8Array): void {
  const took = rx.parse(input);
  const p = parsePacket(input);
  const plain = p.ok && p.value.l4.kind === "tcp" && (p.value.ip.version === 4 || p.value.ip.extensionHeaders.length === 0) && p.value.l4.tcp.optionError === undefined;
  check(took === plain, `RxSegment.parse ${took ? "took" : "refused"} what parsePacket ${p.ok ? `parsed as ${p.value.l4.kind}` : `refused (${p.reason})`}`);
  if (!took || !p.ok || p.value.l4.kind !== "tcp") return;
  const { ip } = p.value;
  const t = p.value.l4.tcp;
  check(rx.version === ip.version && rx.src === ip.src && rx.dst === ip.dst, `addresses ${rx.src} > ${rx.dst} vs ${ip.src} > ${ip.dst}`);
  for (const k of ["srcPort", "dstPort", "seq", "ack", "headerLength", "flags", "reserved", "window", "checksum", "urgent"] as const) check(rx[k] === t[k], `${k}: ${rx[k]} vs ${t[k]}`);
  check(rx.payload.length === t.payload.length && rx.payload.every((b, i) => b === t.payload[i]), "payload differs");
  check(canonicalOptions(rx.options) === canonicalOptions(t.options) && rx.options.length === t.options.length, `options ${formatTcpOptions(rx.options)} vs ${formatTcpOptions(t.options)}`);
  const s = summarizeOptions(t.options);
  const o = rx.opt;
  check(o.mss === s.mss && o.wscale === s.wscale && o.sackOK === s.sackOK, "option summary: mss, wscale or sackOK differ");
  check(JSON.stringify(o.ts) === JSON.stringify(s.ts) && JSON.stringify(o.sack) === JSON.stringify(s.sack), "option summary: ts or sack differ");
  rx.release();
}

/** Rebuilding an accepted segment and parsing it again gives the same segment. */
function roundTrip(src: string, dst: string, t: TcpSegment): void {
  const bytes = buildTcpPacket({ src, dst, srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, ack: t.ack, flags: t.flags, window: t.window, urgent: t.urgent, options: t.options, payload: t.payload });
  const again = parsePacket(bytes);
  check(again.ok, `round trip: rebuilt segment does not parse: ${again.ok ? "" : again.reason}`);
  check(again.value.l4.kind === "tcp", "round trip: not tcp");
  const u = again.value.l4.tcp;
  check(u.srcPort === t.srcPort && u.dstPort === t.dstPort && u.seq === t.seq && u.ack === t.ack && u.flags === t.flags && u.window === t.window && u.urgent === t.urgent, "round trip: header fields differ");
  check(canonicalOptions(u.options) === canonicalOptions(t.options), `round trip: options ${formatTcpOptions(t.options)} -> ${formatTcpOptions(u.options)}`);
  check(u.payload.length === t.payload.length && u.payload.every((b, i) => b === t.payload[i]), "round trip: payload differs");
}

/** parseTcpOptions on an option area (0..44 bytes); accepted lists re-serialise to themselves. */
export function tcpOptionsTarget(input: Uint8Array): void {
  const p = parseTcpOptions(input);
  if (!p.ok) {
    checkReason(p.reason, "parseTcpOptions");
    return;
  }
  checkOptions(p.value);
  for (const o of p.value) if (o.kind === "unknown") checkView(o.data, input, "unknown option data");
  const again = parseTcpOptions(writeTcpOptions(p.value));
  check(again.ok, `options do not re-parse: ${again.ok ? "" : again.reason}`);
  check(canonicalOptions(again.value) === canonicalOptions(p.value), `options change on a write/parse round trip: ${formatTcpOptions(p.value)} -> ${formatTcpOptions(again.value)}`);
}

/** parseTcp on a bare segment, with and without checksum verification. */
export function tcpSegmentTarget(input: Uint8Array): void {
  const a = parseTcp(input);
  if (!a.ok) checkReason(a.reason, "parseTcp");
  else checkSegment(a.value, input.length, input);
  const b = parseTcp(input, 0x1234);
  if (!b.ok) checkReason(b.reason, "parseTcp(pseudo)");
  else checkSegment(b.value, input.length, input);
  // With a checksum that is right by construction, only header problems may reject it.
  if (a.ok) {
    const fixed = input.slice();
    if (fixed.length >= 18) {
      fixed[16] = fixed[17] = 0;
      const s = internetChecksum(fixed, 0, fixed.length, 0x1234);
      fixed[16] = s >> 8;
      fixed[17] = s & 0xff;
      const c = parseTcp(fixed, 0x1234);
      check(c.ok, `a header accepted without checksum is refused with a right checksum: ${c.ok ? "" : c.reason}`);
    }
  }
}

const SRC6 = new Uint8Array(16).fill(0xfd);
const DST6 = new Uint8Array(16).fill(0x02);

/**
 * ICMP / ICMPv6 messages (the IP payload) and the quote readers alone. The checksum is
 * set right first, so every message of 8 bytes or more must be accepted and its quote
 * read as far as the bytes allow.
 */
export function icmpTarget(input: Uint8Array): void {
  const q4 = parseIpv4Quote(input);
  if (q4) checkQuote(q4, 4);
  const q6 = parseIpv6Quote(input);
  if (q6) checkQuote(q6, 6);

  const m4 = input.slice();
  if (m4.length >= 4) {
    m4[2] = m4[3] = 0;
    const s = internetChecksum(m4);
    m4[2] = s >> 8;
    m4[3] = s & 0xff;
  }
  const r4 = parseIcmp(m4);
  if (!r4.ok) {
    checkReason(r4.reason, "parseIcmp");
    check(m4.length < 8, `ICMP with a right checksum refused: ${r4.reason}`);
  } else checkIcmp(r4.value, 4, m4.length, m4);

  const pseudo = pseudoHeaderSum(6, SRC6, DST6, 58, input.length);
  const m6 = input.slice();
  if (m6.length >= 4) {
    m6[2] = m6[3] = 0;
    const s = internetChecksum(m6, 0, m6.length, pseudo);
    m6[2] = s >> 8;
    m6[3] = s & 0xff;
  }
  const r6 = parseIcmpv6(m6, pseudo);
  if (!r6.ok) {
    checkReason(r6.reason, "parseIcmpv6");
    check(m6.length < 8, `ICMPv6 with a right checksum refused: ${r6.reason}`);
  } else checkIcmp(r6.value, 6, m6.length, m6);
}

/** Mutation for packet targets: havoc, then sometimes fix lengths and checksums. */
export function mutatePacket(seed: Uint8Array, r: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  const b = mutate(seed, r, corpus);
  if (r.chance(0.3)) fixIpLength(b);
  if (r.chance(0.6)) fixChecksums(b);
  return b;
}

// ---------------------------------------------------------------------------------
// Stack.input with live connections

interface Peer {
  remote: string;
  port: number;
  profile: ProfileName;
}

const PEERS: Peer[] = [
  { remote: "10.0.0.1", port: 80, profile: "windows" },
  { remote: "10.0.0.1", port: 443, profile: "linux" },
  { remote: "fd00::1", port: 80, profile: "windows" },
  { remote: "10.0.0.1", port: 8080, profile: "rfc" },
  { remote: "fd00::1", port: 22, profile: "freebsd" },
  { remote: "10.0.0.3", port: 80, profile: "linux" },
  { remote: "10.0.0.1", port: 25, profile: "rfc" },
  { remote: "fd00::3", port: 993, profile: "linux" },
];

const FLAG_SETS = [TCP_ACK, TCP_ACK, TCP_ACK | TCP_PSH, TCP_SYN, TCP_SYN | TCP_ACK, TCP_RST, TCP_RST | TCP_ACK, TCP_FIN | TCP_ACK, TCP_FIN, TCP_ACK | TCP_URG, 0, 0xff, TCP_SYN | TCP_FIN, TCP_SYN | TCP_RST];

/**
 * A stack with connections in every reachable state (SYN-SENT, SYN-RECEIVED, ESTABLISHED
 * with data in flight both ways, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, TIME-WAIT), over
 * IPv4 and IPv6 and all four profiles. `step()` feeds one generated or mutated packet,
 * sometimes moves time or makes a user call, and checks the invariants.
 */
function connDetail(c: Connection): string {
  const x = c as unknown as Record<string, unknown>;
  const keys = ["iss", "sndUna", "sndNxt", "sndMax", "sndWnd", "cwnd", "sendBuffered", "finQueued", "finSent", "rcvNxt", "rcvBuffered", "rexmitAt", "timerAt"];
  const deadlines = Object.entries(Deadline).map(([name, i]) => `${name}At=${c.deadline(i)}`);
  return [...keys.map((k) => `${k}=${String(x[k])}`), ...deadlines].join(" ");
}

export class StackFuzzer {
  /** The last step, for failure reports. */
  lastStep = "";
  stack!: Stack;
  now = 0;
  private tracedDrops = 0;
  /** Packets sent by the stack recently (quoted by generated ICMP errors, mutated). */
  private recentOut: Uint8Array[] = [];
  private readonly corpus: Uint8Array[] = [];
  inputs = 0;
  resets = 0;
  /** States seen across the run, to show the fuzzer reached them. */
  readonly statesSeen = new Set<string>();

  constructor(private readonly r: Rng, private readonly extraCorpus: readonly Uint8Array[] = []) {
    this.reset();
  }

  private peerBytes(c: Connection, flags: number, seq: number, ack: number, payload?: Uint8Array, options: TcpOption[] = [], window = 65535): Uint8Array {
    return buildTcpPacket({ src: c.remoteAddr, dst: c.localAddr, srcPort: c.remotePort, dstPort: c.localPort, seq, ack, flags, window, options, payload });
  }

  private feed(bytes: Uint8Array): void {
    this.stack.input(bytes, this.now);
    this.drain();
  }

  private drain(): void {
    for (const b of this.stack.takeOutput()) this.noteOut(b);
  }

  private noteOut(b: Uint8Array): void {
    const p = parsePacket(b);
    check(p.ok, `stack sent an unparsable packet: ${p.ok ? "" : p.reason}`);
    check(p.value.l4.kind === "tcp", "stack sent a non-TCP packet");
    check(this.stack.ownsAddress(p.value.ip.src), "stack sent from an address it does not own");
    if (this.recentOut.length >= 32) this.recentOut.shift();
    this.recentOut.push(b);
  }

  /** Builds a fresh stack and drives connections into their states. */
  reset(): void {
    this.resets++;
    this.now = 1000 + this.r.below(1_000_000);
    this.tracedDrops = 0;
    this.recentOut = [];
    this.stack = new Stack({
      addresses: ["10.0.0.2/24", "fd00::2/64"],
      profile: "windows",
      random: seededRandom(this.r.u32()),
      trace: (e: TraceEvent) => {
        if (e.kind === "drop") {
          this.tracedDrops++;
          check(e.reason !== undefined && Object.prototype.hasOwnProperty.call(DROP_REASONS, e.reason), `traced drop "${e.decision}" without a reason code`);
        }
      },
    });
    const conns: Connection[] = [];
    for (const peer of PEERS) {
      const c = this.stack.connect({ remote: { addr: peer.remote, port: peer.port }, profile: peer.profile }, this.now);
      check(c instanceof Connection, "connect failed in setup");
      conns.push(c);
    }
    this.drain();
    const [synSent, estLinux, estV6, finWait1, closeWait, timeWait, synRcvd, finWait2] = conns;
    void synSent;
    const tsOpts = (c: Connection): TcpOption[] => (c.profile.timestamps ? [{ kind: "ts", val: 5000, ecr: 0 }] : []);
    const establish = (c: Connection, irs: number) => {
      this.feed(this.peerBytes(c, TCP_SYN | TCP_ACK, irs, c.iss + 1, undefined, [{ kind: "mss", value: 1400 }, { kind: "sackOK" }, { kind: "wscale", shift: 7 }, ...tsOpts(c)]));
    };
    const irsOf = () => (this.r.chance(0.5) ? 0xffffff00 + this.r.below(0xff) : this.r.u32());
    for (const c of [estLinux, estV6, finWait1, closeWait, timeWait, finWait2]) establish(c, irsOf());
    const ts = (c: Connection): TcpOption[] => (c.tsEnabled ? [{ kind: "ts", val: 6000, ecr: 0 }] : []);
    // Data both ways, some of ours left in flight.
    this.feed(this.peerBytes(estLinux, TCP_ACK | TCP_PSH, estLinux.rcvNxt, estLinux.sndNxt, new Uint8Array(100).fill(7), ts(estLinux)));
    estLinux.send(new Uint8Array(50).fill(1), this.now);
    estV6.send(new Uint8Array(3000).fill(2), this.now);
    this.drain();
    // FIN-WAIT-1: our FIN in flight.
    finWait1.close(this.now);
    // FIN-WAIT-2: our FIN acknowledged.
    finWait2.close(this.now);
    this.drain();
    this.feed(this.peerBytes(finWait2, TCP_ACK, finWait2.rcvNxt, finWait2.sndNxt, undefined, ts(finWait2)));
    // CLOSE-WAIT: the peer's FIN.
    this.feed(this.peerBytes(closeWait, TCP_FIN | TCP_ACK, closeWait.rcvNxt, closeWait.sndNxt, undefined, ts(closeWait)));
    // TIME-WAIT: we close, the peer ACKs our FIN and sends its own.
    timeWait.close(this.now);
    this.drain();
    this.feed(this.peerBytes(timeWait, TCP_FIN | TCP_ACK, timeWait.rcvNxt, timeWait.sndNxt, undefined, ts(timeWait)));
    // SYN-RECEIVED: simultaneous open (a SYN without ACK in SYN-SENT).
    this.feed(this.peerBytes(synRcvd, TCP_SYN, irsOf(), 0, undefined, [{ kind: "mss", value: 1200 }]));
    for (const c of conns) this.statesSeen.add(c.state);
    this.checkInvariants("setup");
  }

  private liveConnections(): Connection[] {
    return [...this.stack.connections()];
  }

  private seqNear(base: number, span: number): number {
    switch (this.r.below(6)) {
      case 0:
        return base;
      case 1:
        return (base + this.r.range(-3, 3)) >>> 0;
      case 2:
        return (base + this.r.below(span + 2)) >>> 0;
      case 3:
        return (base - this.r.below(span + 2)) >>> 0;
      case 4:
        return (base + 0x80000000 + this.r.range(-2, 2)) >>> 0;
      default:
        return this.r.u32();
    }
  }

  private randomOptions(c: Connection): TcpOption[] {
    const opts: TcpOption[] = [];
    if (this.r.chance(0.3)) opts.push({ kind: "mss", value: this.r.chance(0.5) ? this.r.pick([0, 1, 8, 536, 1460, 65535]) : this.r.below(65536) });
    if (this.r.chance(0.3)) opts.push({ kind: "wscale", shift: this.r.pick([0, 7, 14, 15, 255]) });
    if (this.r.chance(0.2)) opts.push({ kind: "sackOK" });
    if (this.r.chance(0.5)) opts.push({ kind: "ts", val: this.seqNear(c.tsRecent, 1000), ecr: this.r.u32() });
    if (this.r.chance(0.2)) {
      const n = this.r.range(1, opts.length > 0 ? 2 : 4);
      const blocks: Array<[number, number]> = [];
      for (let i = 0; i < n; i++) {
        const l = this.seqNear(c.sndUna, 4000);
        blocks.push([l, this.r.chance(0.8) ? (l + this.r.below(3000)) >>> 0 : this.r.u32()]);
      }
      opts.push({ kind: "sack", blocks });
    }
    return opts;
  }

  /** A well-formed segment aimed at a live connection, with fields near its windows. */
  private generateSegment(c: Connection): Uint8Array {
    const flags = this.r.chance(0.8) ? this.r.pick(FLAG_SETS) : this.r.u32() & 0xff;
    const seq = this.seqNear(c.rcvNxt, 70000);
    const ack = this.seqNear(this.r.chance(0.5) ? c.sndNxt : c.sndUna, 5000);
    const len = this.r.chance(0.6) ? 0 : this.r.chance(0.8) ? this.r.range(1, 200) : this.r.range(1, 1400);
    const payload = len > 0 ? new Uint8Array(len).fill(0x5a) : undefined;
    const window = this.r.chance(0.1) ? 0 : this.r.chance(0.5) ? 65535 : this.r.below(65536);
    return this.peerBytes(c, flags, seq, ack, payload, this.randomOptions(c), window);
  }

  /** An ICMP or ICMPv6 error quoting one of our segments (seq in flight or not). */
  private generateIcmp(c: Connection): Uint8Array {
    const orig = buildTcpPacket({ src: c.localAddr, dst: c.remoteAddr, srcPort: c.localPort, dstPort: c.remotePort, seq: this.seqNear(c.sndUna, 3000), ack: 0, flags: TCP_ACK, window: 0 });
    const v6 = c.version === 6;
    const [type, code] = v6 ? this.r.pick([[1, 0], [1, 1], [1, 3], [1, 4], [2, 0], [3, 0], [4, 1], [4, 0], [128, 0]]) : this.r.pick([[3, 0], [3, 1], [3, 2], [3, 3], [3, 4], [3, 13], [11, 0], [12, 0], [4, 0], [5, 1]]);
    const mtu = this.r.pick([0, 1, 68, 576, 1279, 1280, 1400, 1500, 9000, 0xffffffff]);
    return buildIcmpError({ src: this.r.chance(0.5) ? c.remoteAddr : v6 ? "fd00::fe" : "10.0.0.254", dst: c.localAddr, type, code, mtu: v6 ? mtu : mtu & 0xffff, original: orig });
  }

  private userCall(c: Connection): void {
    switch (this.r.below(5)) {
      case 0:
        c.send(new Uint8Array(this.r.range(1, 5000)).fill(3), this.now);
        break;
      case 1:
        c.read(this.r.range(1, 4000));
        this.stack.noteRead(c);
        break;
      case 2:
        c.close(this.now);
        break;
      case 3:
        if (this.r.chance(0.2)) c.abort(this.now);
        break;
      default:
        if (this.r.chance(0.2)) c.cancel(this.now);
        break;
    }
    this.drain();
  }

  /** One fuzzing step. Returns the packet fed to the stack (for failure reports), if any. */
  step(): Uint8Array | undefined {
    const live = this.liveConnections();
    if (live.length < 3 || this.r.chance(1 / 5000)) {
      this.reset();
      return undefined;
    }
    const k = this.r.below(100);
    this.lastStep = "";
    if (k < 6) {
      // Move time (RTO, delayed ACK, TIME-WAIT and give-up timers fire).
      this.now += this.r.chance(0.9) ? this.r.below(3000) : this.r.below(200_000);
      this.lastStep = `poll at ${this.now}`;
      for (const b of this.stack.poll(this.now)) this.noteOut(b);
      this.checkInvariants("poll");
      return undefined;
    }
    if (k < 9) {
      const uc = this.r.pick(live);
      this.lastStep = `user call on ${uc.tuple} ${uc.state}`;
      this.userCall(uc);
      this.checkInvariants("user call");
      return undefined;
    }
    const c = this.r.pick(live);
    let bytes: Uint8Array;
    if (k < 50) bytes = this.generateSegment(c);
    else if (k < 60) bytes = this.generateIcmp(c);
    else if (k < 92) {
      const base = this.r.chance(0.7) ? (this.r.chance(0.8) ? this.generateSegment(c) : this.generateIcmp(c)) : this.r.pick(this.recentOut.length > 0 && this.r.chance(0.3) ? this.recentOut : this.corpusOr());
      bytes = mutatePacket(base, this.r, this.corpusOr());
    } else bytes = this.r.bytes(this.r.below(80));
    const p = parsePacket(bytes);
    this.lastStep = `input ${p.ok ? describePacket(p.value) : p.reason} to ${c.tuple} ${c.state} [${connDetail(c)}]`;
    this.inputOne(bytes);
    return bytes;
  }

  private corpusOr(): readonly Uint8Array[] {
    return this.extraCorpus.length > 0 ? this.extraCorpus : this.recentOut;
  }

  /** Feeds one packet and checks the drop accounting and the invariants. */
  inputOne(bytes: Uint8Array): void {
    const s = this.stack.stats;
    const rx0 = s.rxPackets;
    const dropped0 = s.rxDropped;
    const traced0 = this.tracedDrops;
    const parsed = parsePacket(bytes);
    const reasonCount0 = parsed.ok ? 0 : (s.drops[parsed.reason] ?? 0);
    // A segment with malformed options parses; the receiving profile's badOptions policy
    // decides: "drop" counts it under the option's problem, "tolerate" passes it on.
    const seg = parsed.ok && parsed.value.l4.kind === "tcp" && this.stack.ownsAddress(parsed.value.ip.dst) ? parsed.value.l4.tcp : undefined;
    const optErr = seg?.optionError;
    const optErrCount0 = optErr ? (s.drops[optErr] ?? 0) : 0;
    const receiver = seg && parsed.ok ? [...this.stack.connections()].find((c) => c.localPort === seg.dstPort && c.remotePort === seg.srcPort && c.remoteAddr === parsed.value.ip.src && c.localAddr === parsed.value.ip.dst) : undefined;
    const dropsBad = seg !== undefined && optErr !== undefined && dropsBadOptions(receiver ? receiver.prof : this.stack.profile, seg.options);
    this.stack.input(bytes, this.now);
    this.inputs++;
    this.drain();
    check(s.rxPackets === rx0 + 1, "rxPackets not incremented once");
    if (!parsed.ok) {
      check(s.rxDropped === dropped0 + 1, `unparsable packet (${parsed.reason}) not counted as one drop`);
      check(s.drops[parsed.reason] === reasonCount0 + 1, `drop not counted under its reason "${parsed.reason}"`);
    }
    if (optErr) {
      const counted = (s.drops[optErr] ?? 0) - optErrCount0;
      check(dropsBad ? counted === 1 && s.rxDropped === dropped0 + 1 : counted === 0, `malformed options (${optErr}): ${counted} drop(s) under it, the badOptions policy says ${dropsBad ? "drop" : "keep"}`);
    }
    check(s.rxDropped - dropped0 === this.tracedDrops - traced0, `drops traced (${this.tracedDrops - traced0}) and counted (${s.rxDropped - dropped0}) differ`);
    this.checkInvariants("input");
  }

  checkInvariants(where: string): void {
    const st = this.stack;
    const s = st.stats;
    let sum = 0;
    for (const [reason, n] of Object.entries(s.drops)) {
      check(reason.length > 0, `${where}: empty drop reason`);
      check(Object.prototype.hasOwnProperty.call(DROP_REASONS, reason), `${where}: drop counted under "${reason}", not a code of drops.ts`);
      check(Number.isInteger(n) && n > 0, `${where}: drop count ${n} for "${reason}"`);
      sum += n;
    }
    check(sum === s.rxDropped, `${where}: stats.drops sum ${sum} != rxDropped ${s.rxDropped}`);
    const live = [...st.connections()];
    check(live.length === st.connectionCount && st.connectionCount === s.connectionsLive, `${where}: connection counts differ (${live.length}, ${st.connectionCount}, ${s.connectionsLive})`);
    check(st.pendingTimers <= live.length, `${where}: ${st.pendingTimers} timers for ${live.length} connections (leaked timer)`);
    const d = st.nextDeadline();
    check(d === undefined || (Number.isFinite(d) && d >= 0), `${where}: stack deadline ${d}`);
    for (const c of live) {
      this.statesSeen.add(c.state);
      const tag = `${where}: ${c.tuple} ${c.state} [${connDetail(c)}]`;
      check(c.state !== "CLOSED", `${tag}: CLOSED connection still in the table`);
      const nd = c.nextDeadline();
      check(!Number.isNaN(nd) && nd >= 0, `${tag}: deadline ${nd}`);
      // The stack's timer may fire early (a spurious wake-up is harmless: onTimer finds
      // nothing due and re-arms), never late: a deadline the heap does not know is missed.
      check(c.timerAt <= nd, `${tag}: timer armed for ${c.timerAt} but next deadline is ${nd} (missed deadline)`);
      check(seqLe(c.sndUna, c.sndNxt) && seqLe(c.sndNxt, c.sndMax), `${tag}: SND.UNA ${c.sndUna} <= SND.NXT ${c.sndNxt} <= SND.MAX ${c.sndMax} broken`);
      check(isU32(c.sndUna) && isU32(c.sndNxt) && isU32(c.rcvNxt) && isU32(c.iss) && isU32(c.irs), `${tag}: sequence variable not uint32`);
      check(c.rcvBuffered >= 0 && c.sendBuffered >= 0 && Number.isFinite(c.rcvBuffered) && Number.isFinite(c.sendBuffered), `${tag}: buffers ${c.rcvBuffered}/${c.sendBuffered}`);
      check(Number.isFinite(c.sndWnd) && c.sndWnd >= 0, `${tag}: SND.WND ${c.sndWnd}`);
      check(Number.isFinite(c.cwnd) && c.cwnd >= 0 && Number.isFinite(c.ssthresh), `${tag}: cwnd ${c.cwnd} ssthresh ${c.ssthresh}`);
      check(Number.isFinite(c.rto.rtoMs) && c.rto.rtoMs > 0, `${tag}: RTO ${c.rto.rtoMs}`);
      check(c.sndMss >= 1 && Number.isFinite(c.sndMss) && c.pathMtu >= 68, `${tag}: MSS ${c.sndMss} / path MTU ${c.pathMtu}`);
      check(c.sndWscale <= 14 && c.rcvWscale <= 14, `${tag}: window scale above 14`);
      // Liveness: a connection waiting for the peer must have a timer, or it would never end.
      if (c.state === "SYN-SENT" || c.state === "SYN-RECEIVED" || c.state === "TIME-WAIT") check(Number.isFinite(nd), `${tag}: no timer armed`);
      if (seqDiff(c.sndNxt, c.sndUna) > 0) check(Number.isFinite(nd), `${tag}: data or FIN in flight but no timer armed`);
    }
  }
}

// ---------------------------------------------------------------------------------
// Parsers written by others: packetdrill scripts and pcap/pcapng captures.

/** parseScript: never throws; a rejection has a message and a line number inside the text. */
export function scriptTarget(text: string): void {
  const r = parseScript(text, "fuzz.pkt");
  if (r.ok) {
    check(typeof r.script === "object" && r.script !== null, "parseScript ok without a script");
    return;
  }
  check(typeof r.error === "string" && r.error.length > 0, "parseScript rejection without a message");
  const lines = text.split("\n").length;
  check(Number.isInteger(r.line) && r.line >= 0 && r.line <= lines + 1, `parseScript error line ${r.line} outside 0..${lines + 1}`);
}

/** Token-level mutation of script text: packetdrill words, numbers, punctuation, lines. */
const SCRIPT_WORDS = ["0", "+0", "+.1", "-1", "4294967295", "99999999999999999999", "0.000001", "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3", "connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)", "> S 0:0(0) <mss 1460,nop,wscale 8>", "< S. 0:0(0) ack 1 win 65535", "> . 1:1(0) ack 1", "< R. 1:1(0) ack 1 win 0", "<...>", "...", "win", "ack", "`", "\"", "{", "}", "(", ")", "[", "]", "<", ">", ",", ";", "=", ":", "--ip_version=ipv6", "--tolerance_usecs=", "%{", "}%", "icmp unreachable port_unreachable", "sackOK", "TS val 1 ecr 0", "nop", "eol", "mss", "wscale 14", "setsockopt(3, SOL_SOCKET, SO_RCVBUF, [1024], 4) = 0", "\n", "\t", "//", "/*", "*/", "\u0000", "\u00ff"];

export function mutateScript(seed: string, r: Rng, corpus: readonly string[]): string {
  let s = seed;
  const steps = r.chance(0.5) ? 1 : r.range(2, 6);
  for (let k = 0; k < steps; k++) {
    const at = r.below(s.length + 1);
    switch (r.below(7)) {
      case 0:
        s = s.slice(0, at) + r.pick(SCRIPT_WORDS) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(Math.min(s.length, at + r.range(1, 20)));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(r.below(128)) + s.slice(at + 1);
        break;
      case 3: {
        const lines = s.split("\n");
        const i = r.below(lines.length);
        const j = r.below(lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        if (r.chance(0.3)) lines.splice(r.below(lines.length), 1);
        s = lines.join("\n");
        break;
      }
      case 4:
        s = s.slice(0, at);
        break;
      case 5: {
        const other = r.pick(corpus);
        s = s.slice(0, at) + other.slice(r.below(other.length + 1));
        break;
      }
      default:
        s = s.slice(0, at) + String(r.chance(0.5) ? r.u32() : -r.below(1000)) + s.slice(at);
        break;
    }
    if (s.length > 20000) s = s.slice(0, 20000);
  }
  return s;
}

/** readCapture: never throws; a rejection has a reason and an offset inside the file. */
export function captureTarget(input: Uint8Array): void {
  const r = readCapture(input);
  if (!r.ok) {
    check(typeof r.reason === "string" && r.reason.length > 0, "readCapture rejection without a reason");
    check(Number.isInteger(r.offset) && r.offset >= 0 && r.offset <= input.length, `readCapture offset ${r.offset} outside the file (${input.length})`);
    return;
  }
  for (const rec of r.value.records) {
    check(rec.data.length <= input.length, "record data longer than the file");
    checkView(rec.data, input, "record data");
    check(rec.interface >= 0 && rec.interface < r.value.interfaces.length, `record interface ${rec.interface} not declared`);
    if (rec.ip) {
      checkView(rec.ip, input, "record ip");
      // What the capture hands over must be safe to feed to the packet parser.
      parsePacketTarget(rec.ip);
    } else check(typeof rec.nonIp === "string" && rec.nonIp.length > 0, "non-IP record without a reason");
  }
  for (const w of r.value.warnings) check(typeof w.reason === "string" && w.reason.length > 0, "warning without a reason");
}

// ---------------------------------------------------------------------------------
// Command line: `synack connect` arguments.

/**
 * parseConnectArgs: bad arguments are a UsageError with a message (exit code 2), never any
 * other exception; accepted arguments are in range.
 */
export function cliArgsTarget(argv: string[]): void {
  let r: ReturnType<typeof parseConnectArgs>;
  try {
    r = parseConnectArgs(argv);
  } catch (e) {
    check(e instanceof UsageError, `parseConnectArgs threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    check(typeof e.message === "string" && e.message.length > 0, "UsageError without a message");
    return;
  }
  if (r === "help") return;
  check(["dev", "raw", "lab", "sim"].includes(r.mode), `mode ${r.mode}`);
  check(["windows", "windows7", "linux", "freebsd", "rfc"].includes(r.profile), `profile ${r.profile}`);
  if (r.synRetries !== undefined) check(Number.isInteger(r.synRetries) && r.synRetries >= 0 && r.synRetries <= 250, `syn retries ${r.synRetries}`);
  if (r.initialRtoMs !== undefined) check(Number.isInteger(r.initialRtoMs) && r.initialRtoMs >= 1, `initial RTO ${r.initialRtoMs}`);
  if ((r.mode === "dev" || r.mode === "raw") && r.local === undefined) throw new FuzzFailure(`--${r.mode} accepted without --local`);
}

const ARG_WORDS = ["connect", "10.0.0.1:80", "[fd00::1]:80", "[fd00::1]", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:-1", "300.1.1.1:80", "[::ffff:1.2.3.4]:443", "--dev", "tun0", "--raw", "eth0", "--lab", "--sim", "--local", "10.0.0.2", "10.0.0.2/24", "fd00::2", "--profile", "windows", "linux", "freebsd", "rfc", "bsd", "--syn-retries", "--initial-rto", "--fail-on-icmp", "--cancel-after", "--send", "--pcap", "/tmp/x.pcap", "--json", "--help", "-h", "-x", "--", "--profile=linux", "--syn-retries=999", "--initial-rto=0", "0", "1", "250", "251", "65534", "1e3", "0x10", "-5", "", " ", "NaN", "Infinity", "\u0000", "--dev=", "--local=fd00::2"];

export function generateArgs(r: Rng): string[] {
  const n = r.below(8);
  const argv: string[] = [];
  for (let i = 0; i < n; i++) {
    let w = r.pick(ARG_WORDS);
    if (r.chance(0.1)) w = w.slice(0, r.below(w.length + 1)) + String.fromCharCode(r.below(128)) + w.slice(r.below(w.length + 1));
    argv.push(w);
  }
  return argv;
}
