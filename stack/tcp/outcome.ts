// How a connection attempt (or a connection) ended, in the engine's own words.
// No NTSTATUS here: src/wsk/ntstatus.ts is the one table that translates (docs/ntstatus.md).

/** ICMP type/code that caused an `unreachable` outcome. */
export interface IcmpCause {
  version: 4 | 6;
  type: number;
  code: number;
  /** Who sent the ICMP error. */
  from: string;
}

export type UnreachableReason =
  | "net" // ICMP net unreachable/unknown/prohibited/TOS, ICMPv6 no route, no local route
  | "host" // host codes, admin prohibited, ICMPv6 address unreachable, time exceeded, other param problems
  | "protocol" // ICMP protocol unreachable, ICMPv6 param problem "unrecognised next header"
  | "port"; // ICMP / ICMPv6 port unreachable

export type Outcome =
  | { kind: "established" }
  | { kind: "refused" } // acceptable RST in SYN-SENT (after the profile's retries)
  | { kind: "timedOut"; softError?: { reason: UnreachableReason; icmp: IcmpCause } } // SYN or data retransmission give-up
  | { kind: "unreachable"; reason: UnreachableReason; icmp?: IcmpCause } // icmp absent = no local route
  | { kind: "cancelled" } // the user cancelled the attempt
  | { kind: "closed" } // local close / abort while connecting
  | { kind: "reset" } // RST in a synchronised state
  | { kind: "aborted" } // local abortive close of an established connection
  | { kind: "finished" }; // graceful close completed

export type OutcomeKind = Outcome["kind"];
