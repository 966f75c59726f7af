// RFC 5961 §7: challenge ACKs are rate-limited so an attacker cannot make us flood the
// peer. We limit per connection: at most CHALLENGE_ACK_LIMIT challenge ACKs in any
// CHALLENGE_ACK_PERIOD_MS window (a fixed window restarted by the first ACK after it ends).
// A per-connection budget (instead of one stack-wide counter, RFC 5961 §7's example)
// leaks nothing across connections: a global counter is the side channel of
// CVE-2016-5696, where an off-path attacker counted another connection's challenge ACKs.

export const CHALLENGE_ACK_LIMIT = 10;
export const CHALLENGE_ACK_PERIOD_MS = 5000;

export class ChallengeAckLimiter {
  private windowStart = -Infinity;
  private sent = 0;
  /** Challenge ACKs suppressed by the limit (for traces and tests). */
  suppressed = 0;

  constructor(
    private readonly limit = CHALLENGE_ACK_LIMIT,
    private readonly periodMs = CHALLENGE_ACK_PERIOD_MS,
  ) {}

  /** True if a challenge ACK may be sent at `now` (and counts it). */
  allow(now: number): boolean {
    if (now - this.windowStart >= this.periodMs) {
      this.windowStart = now;
      this.sent = 0;
    }
    if (this.sent >= this.limit) {
      this.suppressed++;
      return false;
    }
    this.sent++;
    return true;
  }
}
