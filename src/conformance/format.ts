// Canonical packetdrill text for parsed events, for runner messages ("expected
// `> S. 0:0(0) ack 1 <mss 1460>`, got ...") and for the parser's round-trip tests.
// The output is valid packetdrill and parses back to the same tree.

import type { Event, EventTime, Expr, IcmpEvent, IpInfo, PacketEvent, TcpOptionSpec, UdpEncap } from "./ast.js";

function usecsText(usecs: number): string {
  const whole = Math.floor(usecs / 1e6);
  const frac = usecs % 1e6;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(6, "0").replace(/0+$/, "")}`;
}

export function formatTime(t: EventTime): string {
  if (t.kind === "any") return "*";
  const p = t.kind === "relative" ? "+" : "";
  const start = p + usecsText(t.usecs);
  return t.end === undefined ? start : `${start}~${p}${usecsText(t.end.usecs)}`;
}

export function formatTcpOption(o: TcpOptionSpec): string {
  switch (o.kind) {
    case "eol":
    case "nop":
    case "sackOK":
      return o.kind;
    case "mss":
      return `mss ${o.value}`;
    case "wscale":
      return `wscale ${o.shift}`;
    case "sack":
      return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(" ")}`;
    case "ts":
      return `TS val ${o.valIgnored ? "..." : o.val} ecr ${o.ecr}${o.ecrAbsolute ? "!" : ""}`;
    case "fastopen":
      return (o.experimental ? "FOEXP" : "FO") + (o.cookie ? ` ${o.cookie}` : "");
    case "md5":
      return `md5 ${o.value}`;
    case "accecn":
      return ["ECN", ...o.fields.map((f) => `${f.name} ${f.value}`)].join(" ");
    case "unknown":
      return o.text;
  }
}

function formatIpInfo(i: IpInfo): string {
  const parts: string[] = [];
  if (i.ecn !== undefined) parts.push(i.ecn);
  if (i.tos !== undefined) parts.push(`tos 0x${i.tos.toString(16)}`);
  if (i.flowLabel !== undefined) parts.push(`flowlabel 0x${i.flowLabel.toString(16)}`);
  if (i.ttl !== undefined) parts.push(`ttl ${i.ttl}`);
  return `[${parts.join(", ")}]`;
}

function formatUdp(u: UdpEncap): string {
  return `/udp(${u.srcPort} > ${u.dstPort})`;
}

/** A packet or ICMP line without its time column. */
export function formatPacket(ev: PacketEvent | IcmpEvent): string {
  const parts: string[] = [ev.direction === "in" ? "<" : ">"];
  if (ev.ipInfo) parts.push(formatIpInfo(ev.ipInfo));
  if (ev.type === "icmp") {
    parts.push("icmp", ev.icmpType);
    if (ev.code !== undefined) parts.push(ev.code);
    if (ev.mtu !== undefined) parts.push(`mtu ${ev.mtu}`);
    if (ev.echoId !== undefined) parts.push(`id ${ev.echoId}`);
    if (ev.quoted) {
      const q = ev.quoted;
      parts.push(`[${q.seqStart}:${q.seqEnd}(${q.payloadLen})${q.udpEncap ? formatUdp(q.udpEncap) : ""}]`);
    }
    return parts.join(" ");
  }
  const t = ev.tcp;
  parts.push(t.flags, t.seqAny ? `...(${t.payloadLen})` : `${t.seqStart}:${t.seqEnd}(${t.payloadLen})${t.seqAbsolute ? "!" : ""}`);
  if (t.ack !== undefined) parts.push(`ack ${t.ack}`);
  if (t.win !== undefined) parts.push(`win ${t.win}`);
  if (t.urg !== undefined) parts.push(`urg ${t.urg}`);
  let text = parts.join(" ");
  if (t.options === "any") text += " <...>";
  else if (t.options.length > 0) text += ` <${t.options.map(formatTcpOption).join(",")}>`;
  if (ev.udpEncap) text += formatUdp(ev.udpEncap);
  return text;
}

export function formatExpr(e: Expr): string {
  switch (e.kind) {
    case "int":
      return e.text;
    case "symbol":
      return e.name;
    case "string":
      return `"${e.value}"${e.truncated ? "..." : ""}`;
    case "ellipsis":
      return "...";
    case "or":
      return e.operands.map(formatExpr).join("|");
    case "array":
      return `[${e.items.map(formatExpr).join(", ")}]`;
    case "struct":
      return `{${e.items.map(formatExpr).join(", ")}}`;
    case "field":
      return `${e.name}${e.args ? `(${e.args.map(formatExpr).join(", ")})` : ""}=${formatExpr(e.value)}`;
    case "call":
      return `${e.name}(${e.args.map(formatExpr).join(", ")})`;
  }
}

/** One event as packetdrill text, time column included. */
export function formatEvent(ev: Event): string {
  const time = formatTime(ev.time);
  switch (ev.type) {
    case "packet":
    case "icmp":
      return `${time} ${formatPacket(ev)}`;
    case "shell":
      return `${time} \`${ev.command}\``;
    case "python":
      return `${time} %{ ${ev.code} }%`;
    case "syscall": {
      const end = ev.blockingEnd ? `...${usecsText(ev.blockingEnd.usecs)}` : "";
      let s = `${time}${end} ${ev.name}(${ev.args.map(formatExpr).join(", ")}) = ${formatExpr(ev.result)}`;
      if (ev.errno !== undefined) s += ` ${ev.errno}`;
      if (ev.note !== undefined) s += ` (${ev.note})`;
      return s;
    }
  }
}
