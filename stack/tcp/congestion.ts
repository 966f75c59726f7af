// RFC 5681 congestion control with the RFC 6582 NewReno fast-recovery modification. The
// connection feeds it ACK events and asks it what to do; the window arithmetic lives here.
import { seqGe, seqGt } from "./seq.js";

export type AckVerdict =
  | "normal" // outside recovery: cwnd grew by slow start or congestion avoidance
  | "partial" // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment
  | "full"; // RFC 6582 §3.2 step 6: recovery is over

export class NewReno {
  cwnd = 0;
  ssthresh = 0x7fffffff;
  dupAcks = 0;
  inRecovery = false;
  /**
   * RFC 6582 "recover": SND.MAX when recovery (or the last RTO) began. Kept as int32 (the
   * same 32 bits; compared only through seq.ts): a uint32 of 2^31 or more would be a 16-byte
   * heap box in every ESTABLISHED connection's congestion state.
   */
  recover: number;
  /** First partial ACK of this recovery seen (RFC 6582 §3.2 step 5: reset the timer once). */
  partialSeen = false;

  constructor(iss: number) {
    // RFC 6582 §3.2 step 1: recover starts at the initial send sequence number.
    this.recover = iss | 0;
  }

  /** RFC 5681 §3.1 initial window, with RFC 6928's ten segments (capped at 14600 bytes). */
  start(smss: number): void {
    this.cwnd = Math.min(10 * smss, Math.max(2 * smss, 14600));
    this.ssthresh = 0x7fffffff;
  }

  /**
   * An ACK that advanced SND.UNA to `ack`, acknowledging `acked` bytes, with `flightAfter`
   * bytes still outstanding.
   */
  onNewAck(ack: number, acked: number, flightAfter: number, smss: number): AckVerdict {
    this.dupAcks = 0;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // Full ACK: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) (RFC 6582 §3.2 step 6, option 1).
        this.inRecovery = false;
        this.cwnd = Math.min(this.ssthresh, Math.max(flightAfter, smss) + smss);
        return "full";
      }
      // Partial ACK: deflate by the amount acknowledged, add back one SMSS if at least one was acked.
      this.cwnd = Math.max(smss, this.cwnd - acked + (acked >= smss ? smss : 0));
      return "partial";
    }
    if (this.cwnd < this.ssthresh) {
      // Slow start (RFC 5681 §3.1 eq. 2, with RFC 3465 L = 1 SMSS).
      this.cwnd += Math.min(acked, smss);
    } else {
      // Congestion avoidance (RFC 5681 §3.1 eq. 3).
      this.cwnd += Math.max(1, Math.floor((smss * smss) / this.cwnd));
    }
    return "normal";
  }

  /**
   * A duplicate ACK (RFC 5681 §2) for `ack` = SND.UNA. Returns true when it is the third
   * one and fast retransmit must fire (RFC 5681 §3.2 step 2 / RFC 6582 §3.2 step 2: only if
   * the ACK covers `recover`, so a timeout's retransmissions do not trigger it again).
   */
  onDupAck(ack: number, flightSize: number, sndMax: number, smss: number): boolean {
    this.dupAcks++;
    if (this.inRecovery) {
      // RFC 5681 §3.2 step 4: inflate for each segment that left the network.
      this.cwnd += smss;
      return false;
    }
    if (this.dupAcks !== 3) return false;
    if (seqGt(this.recover, ack)) return false;
    // RFC 5681 §3.2 step 2, eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * smss);
    this.recover = sndMax | 0;
    this.inRecovery = true;
    this.partialSeen = false;
    // Step 3: cwnd = ssthresh + 3*SMSS.
    this.cwnd = this.ssthresh + 3 * smss;
    return true;
  }

  /** Retransmission timeout (RFC 5681 §3.1 eq. 4 and the loss window; RFC 6582 §3.2 step 1). */
  onTimeout(flightSize: number, sndMax: number, smss: number, firstTimeout: boolean): void {
    // RFC 5681 §3.1: ssthresh is set from FlightSize only on the first timeout of a segment;
    // repeated timeouts of the same data keep it.
    if (firstTimeout) this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * smss);
    this.cwnd = smss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recover = sndMax | 0;
  }
}
