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

/**
 * Why scripts of the passive corpus (../shared/conformance-passive: passive open, LISTEN and
 * CLOSED states, received data, congestion control) fail today (docs/conformance.md,
 * "Passive corpus"). Paths are relative to that folder.
 */
export const KNOWN_PASSIVE_FAILURES: readonly KnownFailure[] = [
  {
    path: /^google-packetdrill\/gtests\/net\/tcp\/ts_recent\/invalid_ack\.pkt$/,
    reason: /^outbound packet ack mismatch: expected 1001, got 1$/,
    kind: "engine gap",
    why: "Linux does not update TS.Recent from a segment whose ACK acknowledges data never sent (tcp_ack() rejects it first; RFC 7323 §4.3 updates TS.Recent only from acceptable segments); the engine answers that segment with an ACK echoing its TSval, an extra segment the script does not expect.",
  },
  {
    path: /^google-packetdrill\/gtests\/net\/tcp\/(fast_recovery|fast_retransmit|sack|shutdown)\//,
    reason: /^(outbound packet (seq|payload length|flags) mismatch|timing error)/,
    kind: "engine gap",
    why: "Linux loss recovery the engine does not model: RACK (RFC 8985: reordering-window timers and time-based loss marking instead of duplicate-ACK counting), PRR (RFC 6937) with TSO-sized bursts, and FACK-era heuristics; the engine retransmits by RFC 6675 and the RTO (with the linux profile's tail loss probe, tailLossProbe), so segments come at other times or with other ranges.",
  },
  {
    path: /^google-packetdrill\/gtests\/net\/tcp\/close\/close-remote-fin-then-close\.pkt$/,
    reason: /^timing error: expected outbound packet at 0\.010000 s/,
    kind: "engine gap",
    why: "Linux ACKs a FIN at once on a connection it just accepted (a passively opened socket starts in quick-ACK mode); the engine's linux profile delays that ACK (40 ms).",
  },
];

/** The entry explaining a failure, or undefined for an unexplained one. */
export function classifyFailure(s: { path: string; reason: string | null | undefined }, list: readonly KnownFailure[] = KNOWN_FAILURES): KnownFailure | undefined {
  return list.find((k) => k.path.test(s.path) && k.reason.test(s.reason ?? ""));
}
