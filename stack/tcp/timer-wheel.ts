// When a timer armed now fires: at once when its time comes, or (timerWheel "linux") when
// Linux's timer wheel gets to it. Every timer of a connection is armed through
// Connection.timerAt(), which asks this file.
//
// The Linux timer wheel (kernel/time/timer.c since 4.8: calc_wheel_index(), calc_index())
// counts time in jiffies (1000 / CONFIG_HZ ms; 4 ms at HZ 250) and keeps a timer in one of
// nine levels of 64 buckets chosen by its distance: level n holds distances from
// LVL_START(n) = 63 << 3(n-1) jiffies on, in buckets of 8^n jiffies. The bucket is the
// expiry rounded *up* to the level's granularity plus one granule ("the timer wheel has to
// guarantee that a timer does not fire early"), so a timer fires late by up to one granule:
// at HZ 250, up to 4 ms below 252 ms, 32 ms up to 2 s, 256 ms up to 16 s, 2 s up to 131 s.
// The lateness depends on the absolute jiffies value when the timer is armed, so a chain of
// timers (a SYN schedule) drifts by its own pattern: a kernel with SYN timeouts of 1, 2 and
// 4 s gives up 200-370 ms after a model without the wheel (docs/kernel-diff.md). TCP's
// timeouts are in jiffies too: a delay in ms becomes ceil(ms / tick) jiffies
// (msecs_to_jiffies(), usecs_to_jiffies() round up).
import { policy } from "./policy.js";
import type { Profile } from "./profiles.js";

export const timerWheelPolicy = policy({
  field: "timerWheel",
  title: "Timer granularity",
  where: "every timer (retransmission, delayed ACK, persist, TIME-WAIT): when it fires after being armed",
  choices: {
    exact: { meaning: "at the time it was armed for", source: "RFC 6298 (timers as specified)" },
    linux: {
      meaning:
        "as Linux's timer wheel: the delay in jiffies of hz (rounded up), the expiry rounded up to its wheel level's granularity plus one granule (4 ms below 252 ms at HZ 250, 32 ms to 2 s, 256 ms to 16 s, 2 s to 131 s); jiffiesOffsetMs places the jiffies ticks on the connection's clock",
      source: "Linux kernel/time/timer.c calc_wheel_index(), calc_index(); msecs_to_jiffies()",
    },
  },
  knobs: ["hz", "jiffiesOffsetMs"],
});

/** LVL_CLK_SHIFT: each wheel level is 8 times coarser than the one below. */
const LEVEL_SHIFT = 3;
/** LVL_SIZE - 1: the last bucket index of a level. */
const LEVEL_LAST = 63;
/** LVL_DEPTH at HZ > 100. */
const LEVELS = 9;

/**
 * When a timer armed at `now` for `delayMs` fires under the profile's timerWheel policy.
 * Never earlier than now + delayMs.
 */
export function timerExpiry(p: Profile, now: number, delayMs: number): number {
  if (p.timerWheel === "exact") return now + delayMs;
  const tick = 1000 / p.hz;
  const off = p.jiffiesOffsetMs;
  // jiffies now, and the delay in jiffies (rounded up, as msecs_to_jiffies()).
  const j = Math.floor((now + off) / tick);
  const d = Math.max(0, Math.ceil(delayMs / tick - 1e-9));
  const expires = j + d;
  // calc_wheel_index(): the level from the distance (base->clk is jiffies here), then
  // calc_index(): (expires >> LVL_SHIFT(lvl)) + 1, back in jiffies.
  let level = 0;
  while (level < LEVELS - 1 && d >= LEVEL_LAST * 2 ** (LEVEL_SHIFT * level)) level++;
  const granule = 2 ** (LEVEL_SHIFT * level);
  const bucket = (Math.floor(expires / granule) + 1) * granule;
  return bucket * tick - off;
}

/** The granule (ms) of the wheel level a delay falls in: how late its timer may fire. */
export function timerGranularityMs(p: Profile, delayMs: number): number {
  if (p.timerWheel === "exact") return 0;
  const tick = 1000 / p.hz;
  const d = Math.ceil(delayMs / tick - 1e-9);
  let level = 0;
  while (level < LEVELS - 1 && d >= LEVEL_LAST * 2 ** (LEVEL_SHIFT * level)) level++;
  return 2 ** (LEVEL_SHIFT * level) * tick;
}
