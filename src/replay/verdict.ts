// Replay step 6: the verdict. Turns how the engine ended the replayed connection into the
// replay's outcome vocabulary (the one extract.ts uses for the recorded client), compares
// it with the recorded outcome, and decides whether the connection matches. Every rule
// about outcomes lives here, so a change to what is compared with what (for instance the
// connect's result apart from the connection's end) is a change to this file.
import type { Outcome } from "../../stack/tcp/outcome.js";
import { TCP_SYN } from "../../stack/wire/types.js";
import { NTSTATUS, outcomeToStatus, type NtStatus } from "../wsk/ntstatus.js";
import type { ActiveOpen, RecordedOutcome } from "./extract.js";
import type { DriveResult } from "./drive.js";
import type { RecordedSides, ReplaySetup } from "./setup.js";
import type { Diff } from "./types.js";

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
  const e = run.engineOutcome;
  const detail = e
    ? `${e.kind}${run.outcomeAt !== undefined ? ` at ${run.outcomeAt.toFixed(1)} ms` : ""}${established ? `, established at ${run.establishedAt!.toFixed(1)} ms` : ""}`
    : established
      ? `established at ${run.establishedAt!.toFixed(1)} ms, ${run.finalState} at the end of the capture`
      : `${run.finalState} at the end of the capture`;
  const note = run.continuedAfterCapture > 0 ? ` (after the capture: the server's last answer repeated for ${run.continuedAfterCapture} more SYN(s))` : "";
  return { outcome, status: statusOf(outcome, e), detail: detail + note };
}

/** The difference between the recorded and the replayed outcome, if any, with why it is expected. */
export function outcomeDiff(open: ActiveOpen, sides: RecordedSides, setup: ReplaySetup, replayed: ReplayedOutcome): Diff | undefined {
  if (replayed.outcome === open.outcome) return undefined;
  let explained = setup.explainProfile;
  if (sides.tfo) explained = "explained by feature: TCP Fast Open is not implemented (the SYN-ACK acknowledges SYN data we did not send)";
  if (open.outcome === "incomplete" && !sides.server.length) explained = "explained by capture: the server's packets are not in the capture";
  return { t: open.endMs, field: "outcome", recorded: open.outcome, replayed: replayed.outcome, explained };
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
