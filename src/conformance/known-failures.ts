// Why scripts of the whole public corpus fail today (docs/conformance.md, "Whole corpus").
//
// Every failure of a run over ../shared/conformance must match one entry here, or the
// regression test (test/conformance/runner.test.ts) fails: a new failure is either a
// regression or a newly found gap that gets written down. Kinds:
// - "engine gap": the runner does what the script asks; the engine (stack/) behaves
//   differently from the OS the script was recorded on. Fixing it needs a stack/ change,
//   usually a profile knob (stack/tcp/profiles.ts).
// - "script defect": the script is broken; packetdrill itself rejects it.
// - "negative control": the script is meant to fail (PICKS.md #31).

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
    why: "PICKS.md #31 expects a SYN that is never sent; a runner that passes it is broken.",
  },
  {
    path: /freebsd-tcp-testsuite\/fast-open\/client\/client-handle-cookie-update-of-length-17\.pkt$/,
    reason: /^parse error: /,
    kind: "script defect",
    why: "Line 1 is `s//` (a stray `s` before the licence comment); packetdrill's parser rejects it as well.",
  },
  {
    path: /freebsd-tcp-testsuite\/(state-event-engine\/rcv-(rst|syn)-closing\/|snippets\/(closing|time-wait-via-closing)-ipv[46]\.pkt$)/,
    reason: /flags mismatch: expected F\., got \.$/,
    kind: "engine gap",
    why:
      "Simultaneous close: the ACK of the peer's FIN in CLOSING. FreeBSD sends `F.` (tcp_output takes TH_FIN from tcp_outflags[] " +
      "for FIN-WAIT-1/CLOSING/LAST-ACK and, with TF_SENTFIN and snd_nxt == snd_max, backs snd_nxt off so the FIN is repeated on " +
      "every segment until it is acknowledged); the engine sends a pure ACK (RFC 9293 §3.10.7.4 needs no FIN there). Needs a " +
      "freebsd profile knob.",
  },
  {
    path: /freebsd-tcp-testsuite\/state-event-engine\/rcv-rst(-ack)?-time-wait\//,
    reason: /^shell command failed: sockstat -[46] -P tcp -s \| grep packetdril \| grep -c TIME_WAIT \| grep 1$/,
    kind: "engine gap",
    why:
      "RST (or RST+ACK) in TIME-WAIT: FreeBSD tcp_twcheck() drops every RST in TIME-WAIT (the RFC 1337 §3 remedy for " +
      "TIME-WAIT assassination), so the connection stays in TIME-WAIT; the engine accepts an in-window RST (exactly " +
      "RCV.NXT under RFC 5961) and deletes the TCB (RFC 9293 §3.10.7.4), so sockstat finds no TIME_WAIT socket.",
  },
  {
    path: /freebsd-tcp-testsuite\/state-event-engine\/rcv-ack-time-wait\/rcv-ack-time-wait-using-shutdown-(middle|right-edge)-ipv[46]\.pkt$/,
    reason: /^Timed out waiting for packet$/,
    kind: "engine gap",
    why:
      "An in-window ACK with SEG.SEQ > RCV.NXT in TIME-WAIT: FreeBSD tcp_twcheck() answers every segment that is not an exact " +
      "duplicate ACK (SEG.SEQ = RCV.NXT, SEG.ACK = SND.NXT, no data) with an ACK; the engine finds the segment acceptable and " +
      "sends nothing (RFC 9293 §3.10.7.4: in TIME-WAIT only a retransmitted FIN is answered).",
  },
  {
    path: /freebsd-tcp-testsuite\/state-event-engine\/rcv-fin-time-wait\/rcv-fin-time-wait-using-shutdown-outside-(left|right)-ipv[46]\.pkt$/,
    reason: /^timing error: expected outbound packet at 0\.500000 s/,
    kind: "engine gap",
    why:
      "A FIN without ACK outside the window in TIME-WAIT: FreeBSD tcp_twcheck() drops segments without ACK before any window " +
      "check (silently); the engine applies RFC 9293 §3.10.7.4's first check and ACKs the unacceptable segment at once, so an " +
      "ACK comes 0.1 s before the script's.",
  },
  {
    path: /(tcp-info-last_data_recv\.pkt|http-get-nonblocking-ts\.pkt|nagle\/https_client\.pkt|tcp_nagle_https_client\.pkt)$/,
    reason: /^timing error: expected outbound packet at /,
    kind: "engine gap",
    why:
      "Linux quick-ACK mode: the first data a connection receives (and data after an idle period longer than the RTO) is " +
      "ACKed at once, for up to 16 segments (tcp_event_data_recv() -> tcp_incr_quickack(), TCP_MAX_QUICKACKS); the engine " +
      "delays the ACK by the linux profile's 40 ms (RFC 1122 §4.2.3.2 allows either).",
  },
  {
    path: /tcp-info-rwnd-limited\.pkt$/,
    reason: /^outbound packet payload length mismatch: expected 1000, got 1$/,
    kind: "engine gap",
    why:
      "Zero-window probing: the engine sends a 1-byte probe (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) 200 ms after the write, " +
      "at 0.21 s, just when the script opens the window. Linux probes with a zero-length segment at SND.UNA-1 " +
      "(tcp_xmit_probe_skb) after max(RTO, 200 ms), its RTO being SRTT + max(4*RTTVAR, 200 ms) = 210 ms here, so the window " +
      "opens first and the 1000 bytes go out whole.",
  },
];

/** The entry explaining a failure, or undefined for an unexplained one. */
export function classifyFailure(s: { path: string; reason: string | null | undefined }): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.path.test(s.path) && k.reason.test(s.reason ?? ""));
}
