// The segments the engine sends, as it hands them to its host (ConnectionHost.emit).
import type { TcpOption } from "../wire/types.js";

export interface OutSegment {
  /** SEG.SEQ, its 32 bits as a signed int32 (read it as `seq >>> 0`; see outSegment()). */
  seq: number;
  /** SEG.ACK, its 32 bits as a signed int32 (read it as `ack >>> 0`). */
  ack: number;
  flags: number;
  window: number;
  options: TcpOption[];
  payload?: Uint8Array;
}

/**
 * Every segment the engine sends is made here, with its sequence and acknowledgment numbers
 * as int32, so that all segments have one shape. Why: a uint32 of 2^31 or more is a heap
 * number to V8, so literals holding unsigned values had two shapes; the load of `seg.seq`
 * in Stack.emit() then failed its map check, V8 never optimised emit() again, and emit()
 * was 28% of the CPU profile of the engine benchmark with connections aborted after the
 * handshake (330 000 handshakes/s before, about 480 000 after, on a quiet machine).
 */
export function outSegment(seq: number, ack: number, flags: number, window: number, options: TcpOption[], payload?: Uint8Array): OutSegment {
  return { seq: seq | 0, ack: ack | 0, flags, window, options, payload };
}
