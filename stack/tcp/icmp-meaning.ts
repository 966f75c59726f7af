// What an ICMP / ICMPv6 error means for TCP: the outcome reason (docs/ntstatus.md), and
// whether each family of rules calls it "hard" (RFC 1122 §4.2.3.9, RFC 9293 §3.9.2.2,
// FreeBSD tcp_ctlinput, Linux tcp_v4_err / tcp_v6_err).
import type { IcmpMessage } from "../wire/types.js";
import type { UnreachableReason } from "./outcome.js";

export type IcmpMeaning =
  | { kind: "ignore"; why: string }
  | { kind: "pmtu"; mtu: number }
  | {
      kind: "error";
      reason: UnreachableReason;
      /** RFC 1122: Destination Unreachable codes 2-4 (ICMPv6: port unreachable, unknown next header). */
      hardRfc1122: boolean;
      /** FreeBSD with icmp_may_rst=1: port, protocol, prohibited codes and time exceeded abort SYN-SENT. */
      hardFreebsd: boolean;
      /** Linux (current mainline): every destination unreachable, time exceeded and parameter problem. */
      hardLinux: boolean;
    };

const err = (reason: UnreachableReason, hardRfc1122: boolean, hardFreebsd: boolean, hardLinux = true): IcmpMeaning => ({
  kind: "error",
  reason,
  hardRfc1122,
  hardFreebsd,
  hardLinux,
});

/** ICMPv4 destination unreachable codes (RFC 792, RFC 1122, RFC 1812). Index = code. */
const V4_UNREACH: Array<IcmpMeaning | undefined> = [
  err("net", false, false), // 0 net unreachable
  err("host", false, false), // 1 host unreachable
  err("protocol", true, true), // 2 protocol unreachable
  err("port", true, true), // 3 port unreachable
  undefined, // 4 fragmentation needed: path MTU, handled apart
  err("host", false, false), // 5 source route failed
  err("net", false, false), // 6 destination network unknown
  err("host", false, false), // 7 destination host unknown
  err("host", false, false), // 8 source host isolated
  err("host", false, true), // 9 network administratively prohibited (counts as host: docs/ntstatus.md)
  err("host", false, true), // 10 host administratively prohibited
  err("net", false, false), // 11 network unreachable for TOS
  err("host", false, false), // 12 host unreachable for TOS
  err("host", false, true), // 13 communication administratively prohibited
  err("host", false, false), // 14 host precedence violation
  err("host", false, false), // 15 precedence cutoff in effect
];

/** ICMPv6 destination unreachable codes (RFC 4443 §3.1). */
const V6_UNREACH: Array<IcmpMeaning | undefined> = [
  err("net", false, false), // 0 no route to destination
  err("host", false, true), // 1 communication administratively prohibited
  err("host", false, false), // 2 beyond scope of source address
  err("host", false, false), // 3 address unreachable
  err("port", true, true), // 4 port unreachable
  err("host", false, true), // 5 source address failed ingress/egress policy
  err("host", false, true), // 6 reject route to destination
  err("host", false, false), // 7 error in source routing header
];

export function icmpMeaning(m: IcmpMessage): IcmpMeaning {
  if (m.version === 4) {
    switch (m.type) {
      case 3:
        if (m.code === 4) return { kind: "pmtu", mtu: m.mtu ?? 0 };
        return V4_UNREACH[m.code] ?? err("host", false, false);
      case 4:
        // RFC 9293 MUST-55 / RFC 6633: source quench is silently discarded.
        return { kind: "ignore", why: "RFC 6633: source quench is ignored" };
      case 11:
        // FreeBSD aborts SYN-SENT on TTL exceeded in transit only, not on reassembly timeout
        // (PRC_TIMXCEED_INTRANS; its suite's rcv-icmp-hard-error-ignored-ipv4).
        return err("host", false, m.code === 0);
      case 12:
        return err("host", false, false);
      default:
        return { kind: "ignore", why: `ICMP type ${m.type} is not an error for TCP` };
    }
  }
  switch (m.type) {
    case 1:
      return V6_UNREACH[m.code] ?? err("host", false, false);
    case 2:
      return { kind: "pmtu", mtu: m.mtu ?? 0 };
    case 3:
      // As for ICMPv4: only hop limit exceeded in transit (code 0) is hard for FreeBSD.
      return err("host", false, m.code === 0);
    case 4:
      // RFC 4443 §3.4 code 1: unrecognised next header = the protocol is unreachable.
      return m.code === 1 ? err("protocol", true, true) : err("host", false, false);
    default:
      return { kind: "ignore", why: `ICMPv6 type ${m.type} is not an error for TCP` };
  }
}
