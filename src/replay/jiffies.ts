// Where the recorded kernel's jiffies ticks fell (docs/kernel-diff.md, "Timer wheel"). Under
// timerWheel "linux" a timer fires on a jiffies tick, late by up to its wheel level's
// granularity, and how late depends on the absolute jiffies value when it was armed
// (stack/tcp/timer-wheel.ts). That value is not in a capture, but the recorded client's
// timer-driven retransmissions show it: each SYN retransmission went out when the timer
// the previous SYN armed fired. The offset that makes the most of them fall on the wheel's
// firing times is the one the replay runs with (profile knob jiffiesOffsetMs).
import type { Profile } from "../../stack/tcp/profiles.js";
import { timerGranularityMs } from "../../stack/tcp/timer-wheel.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { RecordedSegment } from "./extract.js";

/** One observation: a timer armed at `armedAt` for `delayMs` fired at `firedAt` (ms). */
export interface TimerObservation {
  armedAt: number;
  delayMs: number;
  firedAt: number;
}

/**
 * The recorded client's timer-driven segments, with what armed them: a SYN (or, after a
 * simultaneous open, a SYN-ACK) retransmitted a schedule timeout after the one before
 * (initial RTO times a power of two), and a SYN re-sent badAckSynRetransmitMs after the RST
 * that answered an unacceptable SYN-ACK (synSentBadAck "rstAndResendSyn"). Gaps that fit no
 * timeout (a SYN re-sent early, an answer) are left out.
 */
export function timerObservations(client: readonly RecordedSegment[], p: Profile): TimerObservation[] {
  const out: TimerObservation[] = [];
  const chain = (times: number[]) => {
    for (let k = 0; k + 1 < times.length; k++) {
      const gap = times[k + 1] - times[k];
      // The largest schedule timeout the gap can hold: the timer fires late, never early.
      let d = p.initialRtoMs;
      if (gap < d) continue;
      while (d * 2 <= gap && d * 2 <= p.rtoMaxMs) d *= 2;
      if (gap <= d + timerGranularityMs(p, d) + p.initialRtoMs / 100) out.push({ armedAt: times[k], delayMs: d, firedAt: times[k + 1] });
    }
  };
  // One chain: the SYNs, then the SYN-ACK retransmissions after a simultaneous open (the
  // first SYN-ACK answers the peer's SYN at once; the timer the SYN armed runs on:
  // synBackoff "linux").
  const bare = (e: RecordedSegment) => (e.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
  const synAcks = client.filter((e) => (e.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === (TCP_SYN | TCP_ACK));
  chain([...client.filter(bare), ...synAcks.slice(1)].map((e) => e.t).sort((a, b) => a - b));
  if (p.badAckSynRetransmitMs > 0) {
    client.forEach((e, i) => {
      const next = client[i + 1];
      if ((e.flags & (TCP_RST | TCP_ACK)) === TCP_RST && next && bare(next) && next.t - e.t < p.badAckSynRetransmitMs + timerGranularityMs(p, p.badAckSynRetransmitMs) + 2) {
        out.push({ armedAt: e.t, delayMs: p.badAckSynRetransmitMs, firedAt: next.t });
      }
    });
  }
  return out.sort((a, b) => a.armedAt - b.armedAt);
}

/**
 * The jiffies offset (ms, in [0, 4096 ticks)) under which the most observations fire when
 * they did, within -0.3..+2 ms (the kernel sends a moment after the tick); among equals the
 * one with the smallest total deviation, a kernel earlier than the model weighing ten times
 * a later one (a loaded machine runs the timer softirq a tick late now and then; it never
 * runs it early), then the smallest offset. Undefined without observations. Offsets are
 * tried every 0.1 ms (one observation can pin a tick's phase to less than a millisecond).
 */
export function inferJiffiesOffset(obs: readonly TimerObservation[], p: Profile): number | undefined {
  if (obs.length === 0 || p.timerWheel !== "linux") return undefined;
  const tick = 1000 / p.hz;
  const span = 4096 * tick;
  // Per observation: its delay in jiffies and its wheel level's granule (timerExpiry(), with
  // the parts that do not depend on the offset taken out of the loop).
  const pre = obs.map((o) => {
    const q: Profile = { ...p, jiffiesOffsetMs: 0 };
    const g = timerGranularityMs(q, o.delayMs) / tick;
    return { at: o.armedAt, fired: o.firedAt, d: Math.max(0, Math.ceil(o.delayMs / tick - 1e-9)), g };
  });
  let best: { n: number; dev: number; off: number } | undefined;
  for (let k = 0; k / 10 < span; k++) {
    const off = k / 10;
    let n = 0;
    let dev = 0;
    for (const o of pre) {
      const j = Math.floor((o.at + off) / tick);
      const fire = (Math.floor((j + o.d) / o.g) + 1) * o.g * tick - off;
      const e = o.fired - fire;
      if (e >= -0.3 && e <= 2) n++;
      dev += e < 0 ? -10 * e : e;
    }
    if (!best || n > best.n || (n === best.n && dev < best.dev - 1e-9)) best = { n, dev, off };
  }
  return best && best.n > 0 ? best.off : undefined;
}
