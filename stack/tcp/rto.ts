// RFC 6298 retransmission-timeout estimator.

/** RtoEstimator.fromHandshake(): the SYN was retransmitted, so no sample; RTO at least 3 s. */
export const RTO_AT_LEAST_3S = -2;

export class RtoEstimator {
  srttMs = 0;
  rttvarMs = 0;
  hasSample = false;
  rtoMs: number;

  constructor(
    initialRtoMs: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    /** Linux: the minimum bounds 4*RTTVAR, not the RTO (rtoFormula "linux"). */
    private readonly minBoundsVariance = false,
  ) {
    this.rtoMs = initialRtoMs; // RFC 6298 §2.1
  }

  /**
   * A new RTT measurement R (Karn: never from a retransmitted segment, RFC 6298 §3).
   * `expectedSamples` > 1 when many samples arrive per RTT (timestamps on every ACK):
   * alpha and beta are divided by it, RFC 7323 Appendix G.
   */
  sample(rMs: number, expectedSamples = 1): void {
    if (!this.hasSample) {
      // RFC 6298 §2.2
      this.srttMs = rMs;
      this.rttvarMs = rMs / 2;
      this.hasSample = true;
    } else {
      // RFC 6298 §2.3, alpha = 1/8, beta = 1/4 (each / ExpectedSamples, RFC 7323 Appendix G)
      const beta = 0.25 / expectedSamples;
      const alpha = 0.125 / expectedSamples;
      this.rttvarMs = (1 - beta) * this.rttvarMs + beta * Math.abs(this.srttMs - rMs);
      this.srttMs = (1 - alpha) * this.srttMs + alpha * rMs;
    }
    // RFC 6298 §2.3 with G = 1 ms clock granularity; §2.4 lower bound; §2.5 upper bound.
    // Linux tcp_set_rto(): RTO = SRTT + max(4 * RTTVAR, rto_min) (its rttvar_us is at least
    // tcp_rto_min), so a short path still waits rto_min beyond the smoothed RTT.
    if (this.minBoundsVariance) {
      this.rtoMs = Math.min(this.maxMs, this.srttMs + Math.max(this.minMs, 4 * this.rttvarMs));
      return;
    }
    const rto = this.srttMs + Math.max(1, 4 * this.rttvarMs);
    this.rtoMs = Math.min(this.maxMs, Math.max(this.minMs, rto));
  }

  /**
   * What the handshake measured: the SYN's RTT in ms (Karn's algorithm, RFC 6298 §3: only a
   * SYN that was not retransmitted is timed), or RTO_AT_LEAST_3S (RFC 6298 §5.7: after a
   * retransmitted SYN the RTO is at least 3 s when data transfer begins).
   */
  fromHandshake(rttOrRule: number): void {
    if (rttOrRule >= 0) this.sample(rttOrRule);
    else if (this.rtoMs < 3000) this.rtoMs = 3000;
  }

  /** RFC 6298 §5.5: back off the timer. */
  backoff(): void {
    this.rtoMs = Math.min(this.maxMs, this.rtoMs * 2);
  }
}
