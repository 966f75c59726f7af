// What a connection does with an ICMP error about it (RFC 9293 §3.9.2.2, RFC 1122
// §4.2.3.9, RFC 5927; path MTU: RFC 1191, RFC 8201), and the ICMP policies. The stack has
// checked the quote first (RFC 5927 §4.1: the 4-tuple, and the sequence number per the
// icmpQuote policy; some errors are dropped before TCP per icmpV4Filter); icmp-meaning.ts
// says what each type and code means.
import type { IcmpMessage } from "../wire/types.js";
import type { Connection } from "./connection.js";
import type { IcmpMeaning } from "./icmp-meaning.js";
import type { IcmpCause } from "./outcome.js";
import { policy } from "./policy.js";
import { seqInWindow, seqLe } from "./seq.js";

// ---------------------------------------------------------------------------------------
// Policies

export const icmpPolicyPolicy = policy({
  field: "icmpPolicy",
  title: "ICMP error in SYN-SENT / SYN-RECEIVED",
  where: "RFC 9293 §3.9.2.2, RFC 1122 §4.2.3.9: hard and soft errors while connecting (synchronised states only remember them)",
  choices: {
    ignore: { meaning: "nothing (the SYNs go on), unless failConnectOnIcmpError", source: "Windows (TCP_FAIL_CONNECT_ON_ICMP_ERROR off by default)" },
    abort: { meaning: "every destination unreachable, time exceeded and parameter problem aborts (outcome unreachable)", source: "Linux tcp_v4_err() / tcp_v6_err()" },
    hardAbort: { meaning: "port, protocol, administratively prohibited and TTL exceeded in transit abort; other errors are ignored", source: "FreeBSD tcp_ctlinput() with net.inet.tcp.icmp_may_rst=1" },
    hardAbortSoftRemember: { meaning: "hard errors (protocol, port) abort; soft errors are remembered and reported at give-up", source: "RFC 1122 §4.2.3.9" },
  },
  knobs: ["failConnectOnIcmpError"],
});

export const icmpQuotePolicy = policy({
  field: "icmpQuote",
  title: "ICMP quote check",
  where: "RFC 5927 §4.1: the quoted sequence number must be in flight",
  choices: {
    rfc5927: { meaning: "SND.UNA =< SEG.SEQ < SND.NXT", source: "RFC 5927 §4.1" },
    linux: { meaning: "SND.UNA =< SEG.SEQ =< SND.NXT (both ends included)", source: "Linux tcp_v4_err() / tcp_v6_err(): between(seq, snd_una, snd_nxt)" },
  },
});

export const icmpV4FilterPolicy = policy({
  field: "icmpV4Filter",
  title: "ICMPv4 errors dropped before TCP",
  where: "before RFC 5927 §4.1, in the IP layer",
  choices: {
    none: { meaning: "every ICMPv4 error reaches the connection (icmp-meaning.ts maps it)", source: "RFC 1122 §4.2.3.9" },
    linux: { meaning: "destination unreachable with a code above 15 and time exceeded code 1 (fragment reassembly) are dropped", source: "Linux tcp_v4_err() (code > NR_ICMP_UNREACH), icmp_unreach() (ICMP_EXC_FRAGTIME)" },
  },
});

export const pmtuSynMssPolicy = policy({
  field: "pmtuSynMss",
  title: "Path MTU drop in SYN-SENT",
  where: "RFC 1191 §6.1, RFC 8201 §4: a fragmentation-needed / packet-too-big while connecting",
  choices: {
    lower: { meaning: "the retransmitted SYN advertises the MSS of the lower path MTU", source: "RFC 1191 / RFC 8201" },
    keepOnIpv4: { meaning: "on IPv4 the SYN keeps advertising the interface MSS (IPv6 follows the route MTU)", source: "FreeBSD (freebsd suite rcv-icmp-hard-error-ignored-ipv4)" },
    keepOnIpv6: {
      meaning: "on IPv6 the SYN keeps advertising its MSS (a packet-too-big does not change the route's advertised-MSS metric); on IPv4 it follows the lower path MTU",
      source: "Linux tcp_advertise_mss() (dst_metric_advmss(): recomputed from the IPv4 route's lowered MTU, a fixed metric on IPv6); kd-31-0265 (IPv4, MTU 1280: MSS 1460 -> 1240), kd-31-0489 (IPv6, MTU 1280: 1440 kept)",
    },
  },
  knobs: ["minPathMtuV4", "ptbBelowMinIgnored"],
});

// ---------------------------------------------------------------------------------------
// Checks the stack makes before the connection sees the error

/**
 * RFC 5927 §4.1: the quoted sequence number must be in flight, SND.UNA =< SEG.SEQ < SND.NXT
 * (SEG.SEQ = SND.UNA when nothing is); icmpQuote "linux" includes SND.NXT, as
 * tcp_v4_err()'s between() does.
 */
export function quoteInFlight(c: Connection, seq: number): boolean {
  if (c.prof.icmpQuote === "linux") return seqLe(c.sndUna, seq) && seqLe(seq, c.sndNxt);
  return c.sndUna !== c.sndNxt ? seqInWindow(seq, c.sndUna, c.sndNxt) : seq === c.sndUna;
}

/**
 * icmpV4Filter "linux": errors the kernel drops before TCP sees them. tcp_v4_err() ignores
 * destination-unreachable codes above NR_ICMP_UNREACH (15); icmp_unreach() drops time
 * exceeded / fragment reassembly (code 1).
 */
export function icmpFilteredOut(c: Connection, m: IcmpMessage): boolean {
  if (m.version !== 4 || c.prof.icmpV4Filter !== "linux") return false;
  return (m.type === 3 && m.code > 15) || (m.type === 11 && m.code === 1);
}

// ---------------------------------------------------------------------------------------
// The connection's reaction

/** An ICMP error about this connection, its quote checked (RFC 9293 §3.9.2.2, RFC 1122 §4.2.3.9). */
export function onIcmp(c: Connection, meaning: IcmpMeaning, cause: IcmpCause, now: number): void {
  if (meaning.kind === "ignore") {
    c.host.trace(c, now, "icmp", `ignored: ${meaning.why}`, meaning.why);
    return;
  }
  if (meaning.kind === "pmtu") {
    lowerPathMtu(c, meaning.mtu, now);
    return;
  }
  const p = c.prof;
  if (c.state !== "SYN-SENT" && c.state !== "SYN-RECEIVED") {
    // RFC 9293 §3.9.2.2 / RFC 1122 §4.2.3.9: soft errors MUST NOT abort a synchronised
    // connection; remember it for the user.
    c.softError = { reason: meaning.reason, icmp: cause };
    c.host.trace(c, now, "icmp", `${meaning.reason} unreachable: remembered (synchronised state)`, "RFC 1122 §4.2.3.9");
    return;
  }
  const abort = () => c.finish({ kind: "unreachable", reason: meaning.reason, icmp: cause }, now, `ICMP ${meaning.reason} unreachable in ${c.state} -> abort`);
  if (p.failConnectOnIcmpError) {
    abort();
    return;
  }
  switch (p.icmpPolicy) {
    case "ignore":
      c.host.trace(c, now, "icmp", "ignored (TCP_FAIL_CONNECT_ON_ICMP_ERROR off)", "windows profile: ICMP in SYN-SENT is ignored");
      return;
    case "abort":
      if (meaning.hardLinux) abort();
      return;
    case "hardAbort":
      if (meaning.hardFreebsd) abort();
      else c.host.trace(c, now, "icmp", "soft error ignored", "freebsd profile: soft ICMP errors do not abort SYN-SENT");
      return;
    case "hardAbortSoftRemember":
      if (meaning.hardRfc1122) abort();
      else {
        c.softError = { reason: meaning.reason, icmp: cause };
        c.host.trace(c, now, "icmp", "soft error remembered", "RFC 1122 §4.2.3.9: soft error, report at give-up");
      }
      return;
  }
}

/** ICMP fragmentation-needed / packet-too-big: lower the path MTU and the MSS (RFC 1191, RFC 8201). */
function lowerPathMtu(c: Connection, mtu: number, now: number): void {
  // The floor: RFC 8201 §4 (1280) on IPv6, where Linux's tcp_v6_err() ignores a lower MTU
  // outright; on IPv4 the profile's minPathMtuV4 (RFC 1191 §3: 68; Linux raises a lower one
  // to net.ipv4.route.min_pmtu, 552, in __ip_rt_update_pmtu(): kd-52-0336, MTU 68 -> SYN MSS 512).
  if (c.version === 6 && mtu < 1280 && c.prof.ptbBelowMinIgnored) {
    c.host.trace(c, now, "icmp", `packet too big with MTU ${mtu} below 1280: ignored`, "Linux tcp_v6_err(): mtu < IPV6_MIN_MTU");
    return;
  }
  const min = c.version === 6 ? 1280 : c.prof.minPathMtuV4;
  const newMtu = Math.max(min, mtu);
  if (mtu <= 0 || newMtu >= c.pathMtu) {
    c.host.trace(c, now, "icmp", `path MTU ${mtu} not lower than ${c.pathMtu}: ignored`, "RFC 1191 §6.1 / RFC 8201 §4");
    return;
  }
  c.pathMtu = newMtu;
  // A set MSS (mssOverride, TCP_MAXSEG) is a ceiling: the lower path MTU still lowers it
  // (Linux tcp_connect_init(): advmss = min(user_mss, the route's advmss)).
  const mss = Math.min(c.mssForMtu(newMtu), Math.max(8, newMtu - (c.version === 6 ? 40 : 20) - 20));
  const keep = c.version === 6 ? c.prof.pmtuSynMss === "keepOnIpv6" : c.prof.pmtuSynMss === "keepOnIpv4";
  if (c.state === "SYN-SENT" && !keep) c.mssAdvertised = mss;
  c.sndMss = Math.min(c.sndMss, mss);
  c.host.trace(c, now, "icmp", `path MTU -> ${newMtu}, MSS -> ${mss}`, "RFC 1191 / RFC 8201: lower the MSS");
}
