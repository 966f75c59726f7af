// The packets the stack has produced and not yet handed out, written back to back into one
// reused buffer with their lengths: the shape a device writes in one call (the TUN addon's
// writePacked). Building each packet into a fresh Uint8Array cost an allocation per packet
// (an ArrayBuffer with its own backing store for anything over 64 bytes), and the TUN device
// then copied every packet into its packed buffer anyway.

import { completeTcpChecksum, splitTcpSegments } from "./wire/offload.js";

/**
 * `meta[i]` of a packet left to a device with transmit offloads (Stack.setTxOffloads): its
 * TCP checksum field holds the pseudo-header sum, for the device to complete.
 */
export const TX_CSUM_PARTIAL = 0x10000;
/**
 * `meta[i] & TX_GSO_SIZE`: for a TCP packet carrying more than this many payload bytes, the
 * payload per segment the device cuts it into (TCP segmentation offload); 0 otherwise.
 */
export const TX_GSO_SIZE = 0xffff;

/** Packets back to back: packet i is `lengths[i]` bytes, after the ones before it. */
export interface PacketBatch {
  readonly data: Uint8Array;
  readonly lengths: Int32Array;
  /** Per packet: 0, or TX_CSUM_PARTIAL with the segment size (TX_GSO_SIZE bits) of a TSO packet. */
  readonly meta: Int32Array;
  readonly count: number;
}

export class Outbox implements PacketBatch {
  data = new Uint8Array(16 * 1024);
  lengths = new Int32Array(64);
  meta = new Int32Array(64);
  count = 0;
  /** Packets with a non-zero meta. */
  offloaded = 0;
  /** Bytes in use at the start of `data`. */
  bytes = 0;

  /** Makes room for a packet of up to `max` bytes; it is written at `data[bytes]`. */
  reserve(max: number): void {
    if (this.bytes + max > this.data.length) {
      const data = new Uint8Array(Math.max(this.bytes + max, 2 * this.data.length));
      data.set(this.data.subarray(0, this.bytes));
      this.data = data;
    }
    if (this.count === this.lengths.length) {
      const lengths = new Int32Array(2 * this.lengths.length);
      lengths.set(this.lengths);
      this.lengths = lengths;
      const meta = new Int32Array(2 * this.meta.length);
      meta.set(this.meta);
      this.meta = meta;
    }
  }

  /** The packet just written at `data[bytes]` is `length` bytes. */
  commit(length: number, meta: number): void {
    if (meta !== 0) this.offloaded++;
    this.meta[this.count] = meta;
    this.lengths[this.count++] = length;
    this.bytes += length;
  }

  /**
   * Each packet as a Uint8Array of its own (copies), and the outbox emptied. Packets left to
   * a device's offloads come out as the wire would carry them: checksummed, and a TSO packet
   * cut into its segments (wire/offload.ts).
   */
  takeArrays(): Uint8Array[] {
    if (this.offloaded === 0) {
      const out = new Array<Uint8Array>(this.count);
      let at = 0;
      for (let i = 0; i < this.count; i++) {
        const n = this.lengths[i];
        out[i] = this.data.slice(at, at + n);
        at += n;
      }
      this.clear();
      return out;
    }
    const out: Uint8Array[] = [];
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      const n = this.lengths[i];
      const m = this.meta[i];
      if (m === 0) out.push(this.data.slice(at, at + n));
      else if ((m & TX_GSO_SIZE) !== 0) out.push(...splitTcpSegments(this.data.subarray(at, at + n), m & TX_GSO_SIZE));
      else {
        const p = this.data.slice(at, at + n);
        completeTcpChecksum(p);
        out.push(p);
      }
      at += n;
    }
    this.clear();
    return out;
  }

  clear(): void {
    this.count = 0;
    this.offloaded = 0;
    this.bytes = 0;
  }
}
