// When a capture's connections differ because its client ran other SYN timers than its
// profile's defaults (an early Windows 10 with a 3 s initial RTO and 2 retransmissions,
// replayed as today's `windows` with 1 s and 4), the replay says which timers the recording
// shows and how many of those connections match with them. It never applies them by itself:
// the verdicts stay those of the profile's defaults (docs/replay.md, "SYN timers").
import { PROFILES, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";
import type { ActiveOpen, RecordedSegment } from "./extract.js";
import { timeTolerance, type HandshakeResult } from "./types.js";

export interface TimerHint {
  profile: ProfileName;
  /** Connections replayed as `profile` whose first difference is the time of a retransmitted SYN. */
  synTimeDiffs: number;
  /** The recorded client's wait before its first SYN retransmission (ms, rounded), and the SYNs it sent before giving up. */
  recorded: { initialRtoMs: number; syns?: number };
  /** The replay options that express them (--initial-rto, --syn-retries). */
  overrides: { initialRtoMs?: number; synRetries?: number };
  /** Connections replayed as `profile` that differ, and how many of them match with `overrides`. */
  differ: number;
  matchWith: number;
  text: string;
}

const clientSyns = (open: ActiveOpen): RecordedSegment[] =>
  open.events.filter((e): e is RecordedSegment => e.kind === "tcp" && e.dir === "c2s" && (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN);

/** The value most connections show (the smaller one on a tie). */
function mode(values: number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  for (const [v, n] of counts) if (best === undefined || n > counts.get(best)! || (n === counts.get(best)! && v < best)) best = v;
  return best;
}

/**
 * `results[i]` is the replay of `opens[i]` with the profile's own timers, or undefined when
 * that connection had timer settings of its own (a sidecar); `again(i, o)` replays it once
 * more with the knobs `o`. Undefined unless two connections at least show the same other
 * timers and two at least match with them.
 */
export function timerHint(opens: ActiveOpen[], results: Array<HandshakeResult | undefined>, again: (i: number, o: ProfileOverrides) => HandshakeResult): TimerHint | undefined {
  // Connections whose first unexplained difference is when a retransmitted SYN went out.
  const byProfile = new Map<ProfileName, number[]>();
  results.forEach((h, i) => {
    if (!h || h.match) return;
    const first = h.diffs.find((d) => !d.explained);
    if (first?.field !== "time" || first.frame === undefined) return;
    if (!clientSyns(opens[i]!).slice(1).some((s) => s.frame === first.frame)) return;
    byProfile.set(h.profile, [...(byProfile.get(h.profile) ?? []), i]);
  });
  const [profile, candidates] = [...byProfile].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  if (!profile || !candidates) return undefined;
  const p = PROFILES[profile];

  // The wait before the first retransmission, where the timer alone sent it (no answer from
  // the server before it): most of them must agree, within the time tolerance.
  const waits = candidates.flatMap((i) => {
    const open = opens[i]!;
    const [s0, s1] = clientSyns(open);
    if (!s0 || !s1 || open.events.some((e) => e.dir === "s2c" && e.kind === "tcp" && e.t < s1.t)) return [];
    return [s1.t - s0.t];
  });
  if (waits.length === 0) return undefined;
  const sorted = [...waits].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  // Two connections at least: timers fitted to one connection alone would say nothing.
  const agreeing = waits.filter((w) => Math.abs(w - median) <= timeTolerance(median)).length;
  if (agreeing < 2 || agreeing * 2 <= waits.length) return undefined;
  const initialRtoMs = median >= 1000 ? Math.round(median / 100) * 100 : Math.max(10, Math.round(median / 10) * 10);

  // The SYNs sent before giving up or being refused, over every connection replayed as this
  // profile whose recording shows the end of its attempt.
  const syns = mode(
    results.flatMap((h, i) => (h?.profile === profile && (opens[i]!.outcome === "timeout" || opens[i]!.outcome === "refused") && !opens[i]!.superseded ? [clientSyns(opens[i]!).length] : [])),
  );
  const overrides: TimerHint["overrides"] = {};
  if (Math.abs(initialRtoMs - p.initialRtoMs) > timeTolerance(p.initialRtoMs)) overrides.initialRtoMs = initialRtoMs;
  if (syns !== undefined && syns - 1 !== p.synRetries && syns - 1 <= p.synRetriesLimit) overrides.synRetries = syns - 1;
  if (overrides.initialRtoMs === undefined && overrides.synRetries === undefined) return undefined;

  const differing = results.flatMap((h, i) => (h && !h.match && h.profile === profile ? [i] : []));
  const knobs: ProfileOverrides = { ...overrides };
  if (overrides.synRetries === 0) knobs.synSentRst = "refuse";
  const matchWith = differing.filter((i) => again(i, knobs).match).length;
  if (matchWith < 2) return undefined;

  const flags = [overrides.initialRtoMs !== undefined ? `--initial-rto ${overrides.initialRtoMs}` : "", overrides.synRetries !== undefined ? `--syn-retries ${overrides.synRetries}` : ""].filter(Boolean).join(" ");
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const text =
    `${candidates.length} connection(s) replayed as ${profile} differ first in when a SYN was retransmitted: ` +
    `the recorded client waits ${s(initialRtoMs)} before its first retransmission${syns !== undefined ? ` and sends ${syns} SYNs per attempt` : ""}, ` +
    `the ${profile} profile ${s(p.initialRtoMs)} and ${p.synRetries + 1} SYNs (its own settings: SIO_TCP_INITIAL_RTO, the registry or an older release); ` +
    `with ${flags}, ${matchWith} of the ${differing.length} that differ as ${profile} match`;
  return { profile, synTimeDiffs: candidates.length, recorded: { initialRtoMs, ...(syns !== undefined ? { syns } : {}) }, overrides, differ: differing.length, matchWith, text };
}
