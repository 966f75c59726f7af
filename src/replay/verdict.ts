// Replay step 6: the verdict. Turns how the engine ended the replayed connection into the
// replay's outcome vocabulary (the one extract.ts uses for the recorded client), compares
// it with the recorded outcome, and decides whether the connection matches. Every rule
// about outcomes lives here.
//
// Like is compared with like (docs/replay.md, "Outcomes"): the connect's result (what
// WskConnect reports: established, refused, timed out, unreachable, cancelled, or still
// connecting when the capture ended) with the connect's result, and, when both sides
// established, the connection's end (closed, reset by the server, aborted by the client,
// timed out, still open) with the connection's end, each side judged by the same rules.
import type { Outcome } from "../../stack/tcp/outcome.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { NTSTATUS, outcomeToStatus, type NtStatus } from "../wsk/ntstatus.js";
import type { ActiveOpen, RecordedOutcome } from "./extract.js";
import type { DriveResult } from "./drive.js";
import type { RecordedSides, ReplaySetup } from "./setup.js";
import type { ConnectionEnd, ConnectOutcome, Diff } from "./types.js";

export interface ReplayedOutcome {
  outcome: RecordedOutcome;
  /** The NTSTATUS a WSK client would have seen for it. */
  status: NtStatus;
  detail: string;
}

/** The engine outcome in the replay's vocabulary. */
export function toRecordedOutcome(o: Outcome | undefined, established: boolean): RecordedOutcome {
  if (!o) return established ? "established" : "incomplete";
  switch (o.kind) {
    case "established":
    case "finished":
    case "aborted":
      return "established";
    case "refused":
      return "refused";
    case "timedOut":
      return established ? "established" : "timeout";
    case "unreachable":
      return "unreachable";
    case "reset":
      return established ? "reset" : "refused";
    case "cancelled":
      return established ? "established" : "cancelled";
    case "closed":
      return established ? "established" : "incomplete";
  }
}

/** The status reported beside a replayed outcome. */
export function statusOf(outcome: RecordedOutcome, engine: Outcome | undefined): NtStatus {
  switch (outcome) {
    case "established":
      return NTSTATUS.STATUS_SUCCESS;
    case "reset":
      return NTSTATUS.STATUS_CONNECTION_RESET;
    case "incomplete":
      return NTSTATUS.STATUS_PENDING;
    default:
      return engine ? outcomeToStatus(engine) : NTSTATUS.STATUS_PENDING;
  }
}

export function classifyReplayed(run: DriveResult): ReplayedOutcome {
  const established = run.establishedAt !== undefined;
  let outcome: RecordedOutcome = run.stillConnecting ? "incomplete" : toRecordedOutcome(run.engineOutcome, established);
  if (run.engineOutcome === undefined && established) outcome = "established";
  // A RST that ends a close already under way (our FIN sent) is not a reset of the
  // connection (RFC 9293 §3.10.7.4: in CLOSING, LAST-ACK or TIME-WAIT it just ends it):
  // the same rule extract.ts applies to the recorded client.
  if (outcome === "reset" && replayedEnd(run) !== "reset by the server") outcome = "established";
  const e = run.engineOutcome;
  const detail = e
    ? `${e.kind}${run.outcomeAt !== undefined ? ` at ${run.outcomeAt.toFixed(1)} ms` : ""}${established ? `, established at ${run.establishedAt!.toFixed(1)} ms` : ""}`
    : established
      ? `established at ${run.establishedAt!.toFixed(1)} ms, ${run.finalState} at the end of the capture`
      : `${run.finalState} at the end of the capture`;
  const note = run.continuedAfterCapture > 0 ? ` (after the capture: the server's last answer repeated for ${run.continuedAfterCapture} more SYN(s))` : "";
  return { outcome, status: statusOf(outcome, e), detail: detail + note };
}

const CLOSING = new Set(["FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK", "TIME-WAIT"]);

/** The replayed connection's state at time `t` (the last change at or before it). */
function stateAt(run: DriveResult, t: number): string {
  let s = "SYN-SENT";
  for (const x of run.states) if (x.t <= t) s = x.state;
  return s;
}

/** How the replayed connection ended once established (undefined when it never was). */
export function replayedEnd(run: DriveResult): ConnectionEnd | undefined {
  if (run.establishedAt === undefined) return undefined;
  const k = run.engineOutcome?.kind;
  if (k === "reset") return CLOSING.has(stateAt(run, run.outcomeAt ?? Infinity)) ? "closed" : "reset by the server";
  if (k === "finished") return "closed";
  if (k === "aborted") return "aborted by the client";
  if (k === "timedOut") return "timed out";
  return CLOSING.has(run.finalState) ? "closed" : "open";
}

/** How the recorded connection ended once established (the rules of replayedEnd, on packets). */
export function recordedEnd(open: ActiveOpen, sides: RecordedSides): ConnectionEnd | undefined {
  if (open.outcome === "reset") return "reset by the server";
  if (open.outcome !== "established") return undefined;
  const ackOfSynAck = sides.client.findIndex((e) => !(e.flags & TCP_SYN) && !(e.flags & TCP_RST));
  // After a simultaneous open the client's SYN-ACK was its last handshake segment and the
  // server's ACK established it: what the client sent after its last SYN (kd-32-0163: only
  // a RST, the application's abort).
  let lastSyn = -1;
  sides.client.forEach((e, i) => {
    if (e.flags & TCP_SYN) lastSyn = i;
  });
  const after = ackOfSynAck >= 0 ? sides.client.slice(ackOfSynAck) : lastSyn >= 0 && sides.client[lastSyn]!.flags & TCP_ACK ? sides.client.slice(lastSyn + 1) : [];
  const fin = after.findIndex((e) => e.flags & TCP_FIN);
  // A RST the client sends on its own, before any FIN of its own (an application abort).
  const rst = after.findIndex((e) => e.flags & TCP_RST);
  if (rst >= 0 && (fin < 0 || rst < fin)) return "aborted by the client";
  return fin >= 0 ? "closed" : "open";
}

function connectOf(outcome: RecordedOutcome): ConnectOutcome {
  return outcome === "reset" ? "established" : outcome;
}

export interface Judgement {
  recorded: { outcome: RecordedOutcome; detail: string; connect: ConnectOutcome; end?: ConnectionEnd };
  replayed: { connect: ConnectOutcome; end?: ConnectionEnd };
  diffs: Diff[];
}

/**
 * Compares the connect with the connect and the end with the end. Two recordings are
 * judged by what they show, not by guesses:
 * - a recorded client that sent no SYN after an ICMP error is "unreachable" only when the
 *   capture went on long enough for the replayed profile's next SYN: when the profile
 *   ignores the error and the capture ended before that SYN was due, the recording shows a
 *   client still connecting (compared as "incomplete (capture ended)" with the replay's
 *   state at the same moment);
 * - a connect the application cancelled (the sidecar's cancelAfterMs) is "cancelled".
 */
export function judge(open: ActiveOpen, sides: RecordedSides, setup: ReplaySetup, run: DriveResult, replayed: ReplayedOutcome, opts: { cancelAfterMs?: number } = {}): Judgement {
  let outcome = open.outcome;
  let detail = open.outcomeDetail;
  let replayedConnect = connectOf(replayed.outcome);
  if (open.outcome === "unreachable") {
    const icmp = open.events.find((e) => e.kind === "icmp");
    const icmpT = icmp?.t ?? open.endMs;
    const ourNextSyn = run.sent.find((x) => x.t > icmpT && isSyn(x.bytes))?.t;
    const ignored = stateAt(run, icmpT + 1e-6) === "SYN-SENT" && !(run.engineOutcome?.kind === "unreachable" && (run.outcomeAt ?? Infinity) <= icmpT + 1e-6);
    if (ignored && (ourNextSyn === undefined || ourNextSyn > open.captureEndMs)) {
      outcome = "incomplete";
      detail = `capture ended ${(open.captureEndMs - icmpT).toFixed(1)} ms after the ICMP error at frame ${icmp?.frame ?? "?"}, before the next SYN was due${ourNextSyn !== undefined ? ` (the ${setup.profile} profile ignores the error and sends it at ${ourNextSyn.toFixed(1)} ms)` : ""}`;
      // Compared with the replay at the same moment: still connecting.
      if (stateAt(run, open.captureEndMs) === "SYN-SENT") replayedConnect = "incomplete";
    }
  }
  if (opts.cancelAfterMs !== undefined && (outcome === "timeout" || outcome === "incomplete")) {
    const lastClient = sides.client.at(-1)?.t ?? 0;
    if (lastClient <= opts.cancelAfterMs) {
      outcome = "cancelled";
      detail = `the application cancelled the connect after ${opts.cancelAfterMs} ms (the capture's sidecar says so); ${sides.client.length} SYN(s) before`;
    }
  }
  const recConnect = connectOf(outcome);
  const recEnd = recConnect === "established" ? recordedEnd({ ...open, outcome }, sides) : undefined;
  const repEnd = replayedConnect === "established" ? replayedEnd(run) : undefined;
  const diffs: Diff[] = [];
  const explain = (): string | undefined => {
    if (sides.tfo) return "explained by feature: TCP Fast Open is not implemented (the SYN-ACK acknowledges SYN data we did not send)";
    if (outcome === "incomplete" && !sides.server.length) return "explained by capture: the server's packets are not in the capture";
    return setup.explainProfile;
  };
  if (recConnect !== replayedConnect) {
    const rec = recConnect === "incomplete" && /capture end/.test(detail) ? "incomplete (capture ended)" : recConnect;
    const rep = replayedConnect === "incomplete" ? "incomplete (still connecting when the capture ended)" : replayedConnect;
    diffs.push({ t: open.endMs, field: "outcome", recorded: rec, replayed: rep, explained: explain() });
  } else if (recEnd !== undefined && repEnd !== undefined && recEnd !== repEnd) {
    diffs.push({ t: open.endMs, field: "end", recorded: recEnd, replayed: repEnd, explained: explain() });
  }
  return { recorded: { outcome, detail, connect: recConnect, end: recEnd }, replayed: { connect: replayedConnect, end: repEnd }, diffs };
}

/** A SYN without ACK of ours (the flags byte of the TCP header after the IP header). */
function isSyn(b: Uint8Array): boolean {
  const f = b[(b[0]! >> 4 === 6 ? 40 : (b[0]! & 0x0f) * 4) + 13]!;
  return (f & 0x12) === 0x02;
}

/**
 * Adds the set-up differences --strict could not avoid (unless an option difference
 * already shows them) and explains everything when the capture holds no server packets
 * (a one-way capture cannot drive the replay). Returns the final list.
 */
export function finishDiffs(diffs: Diff[], open: ActiveOpen, sides: RecordedSides, setup: ReplaySetup): Diff[] {
  for (const n of setup.notes) {
    if (!diffs.some((d) => d.field === "options")) diffs.push({ t: 0, field: "setup", recorded: "strict", replayed: n, explained: setup.explainProfile ?? "explained by profile" });
  }
  if (!sides.server.length && open.events.some((e) => e.kind === "tcp" && e.dir === "c2s" && !(e.flags & TCP_SYN))) {
    for (const d of diffs) d.explained ??= "explained by capture: the server's packets are not in the capture";
  }
  return diffs;
}

/** A connection matches when every difference has an explanation. */
export function isMatch(diffs: readonly Diff[]): boolean {
  return diffs.every((d) => d.explained !== undefined);
}
