// The packets the stack has produced and not yet handed out, written back to back into one
// reused buffer with their lengths: the shape a device writes in one call (the TUN addon's
// writePacked). Building each packet into a fresh Uint8Array cost an allocation per packet
// (an ArrayBuffer with its own backing store for anything over 64 bytes), and the TUN device
// then copied every packet into its packed buffer anyway.

/** Packets back to back: packet i is `lengths[i]` bytes, after the ones before it. */
export interface PacketBatch {
  readonly data: Uint8Array;
  readonly lengths: Int32Array;
  readonly count: number;
}

export class Outbox implements PacketBatch {
  data = new Uint8Array(16 * 1024);
  lengths = new Int32Array(64);
  count = 0;
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
    }
  }

  /** The packet just written at `data[bytes]` is `length` bytes. */
  commit(length: number): void {
    this.lengths[this.count++] = length;
    this.bytes += length;
  }

  /** Each packet as a Uint8Array of its own (copies), and the outbox emptied. */
  takeArrays(): Uint8Array[] {
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

  clear(): void {
    this.count = 0;
    this.bytes = 0;
  }
}
