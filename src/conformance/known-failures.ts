// Why scripts of the whole public corpus fail today (docs/conformance.md, "Whole corpus").
//
// Every failure of a run over ../shared/conformance must match one entry here, or the
// regression test (test/conformance/runner.test.ts) fails: a new failure is either a
// regression or a newly found gap that gets written down. Kinds:
// - "engine gap": the runner does what the script asks; the engine (stack/) behaves
//   differently from the OS the script was recorded on. Fixing it needs a stack/ change,
//   usually a profile knob (stack/tcp/profiles.ts).
// - "script defect": the script is broken; packetdrill itself rejects it.
// - "negative control": the script is meant to fail (src/conformance/core-scripts.ts).

export type FailureKind = "engine gap" | "script defect" | "negative control";

export interface KnownFailure {
  /** Matches the script path (relative to the conformance folder). */
  path: RegExp;
  /** Matches the failure reason. */
  reason: RegExp;
  kind: FailureKind;
  /** Expected vs actual behaviour and the rule or OS code behind it. */
  why: string;
}

export const KNOWN_FAILURES: readonly KnownFailure[] = [
  {
    path: /google-packetdrill\/gtests\/net\/packetdrill\/tests\/packet-timeout\.pkt$/,
    reason: /^Timed out waiting for packet$/,
    kind: "negative control",
    why: "The core set's negative control expects a SYN that is never sent; a runner that passes it is broken.",
  },
  {
    path: /freebsd-tcp-testsuite\/fast-open\/client\/client-handle-cookie-update-of-length-17\.pkt$/,
    reason: /^parse error: /,
    kind: "script defect",
    why: "Line 1 is `s//` (a stray `s` before the licence comment); packetdrill's parser rejects it as well.",
  },
];

/** The entry explaining a failure, or undefined for an unexplained one. */
export function classifyFailure(s: { path: string; reason: string | null | undefined }): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.path.test(s.path) && k.reason.test(s.reason ?? ""));
}
