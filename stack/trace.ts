// The structured decision trace: one event per segment in or out, per timer and per drop,
// with the state before/after, the decision taken and the rule that demanded it.
// The CLI prints it and the capture tap stores it as pcapng packet comments.

import type { Outcome } from "./tcp/outcome.js";
import type { DropReason } from "./drops.js";

export type TraceKind = "in" | "out" | "timer" | "drop" | "state" | "outcome" | "icmp" | "user";

export interface TraceEvent {
  /** Virtual/real time in ms (the `now` given to the engine). */
  t: number;
  kind: TraceKind;
  /** Connection id, if the event concerns one. */
  conn?: number;
  /** "10.0.0.2:49731>10.0.0.1:80" */
  tuple?: string;
  stateBefore?: string;
  stateAfter?: string;
  /** Short description of what was decided (e.g. "send RST", "enter ESTABLISHED"). */
  decision: string;
  /** The rule, e.g. "RFC 9293 §3.10.7.3: ACK not acceptable -> RST". */
  rule?: string;
  /** One-line summary of the packet, when there is one. */
  packet?: string;
  /** The packet itself (a copy for input), for captures with the decision as comment. */
  bytes?: Uint8Array;
  /** For kind "outcome": how the connection ended. */
  outcome?: Outcome;
  /** For kind "drop": the reason code it is counted under (StackStats.drops). */
  reason?: DropReason;
}

export type TraceSink = (ev: TraceEvent) => void;
