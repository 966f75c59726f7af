// A FIFO of bytes kept as a list of chunks, used for the send buffer (bytes from SND.UNA on)
// and the receive buffer (in-order bytes the user has not read yet). Big transfers must not
// cost O(n^2): appending, consuming from the front and slicing near the front are all
// O(chunks touched), never a copy of the whole buffer. The front of the list is an index
// (no Array.shift), and a cursor remembers where the last slice ended, because the sender
// slices at steadily increasing offsets (SND.NXT walks forward).

/** Small appends are copied into shared blocks of this size (fewer chunks to walk). */
const BLOCK_BYTES = 16 * 1024;

interface Chunk {
  buf: Uint8Array;
  /** Bytes of `buf` in use (a block may still have room at its end). */
  len: number;
  /** True for a shared block that later small appends may fill. */
  block: boolean;
}

export class ByteQueue {
  private chunks: Chunk[] = [];
  /** Index of the first live chunk. */
  private head = 0;
  /** Bytes of chunks[head] already consumed. */
  private headOff = 0;
  private total = 0;
  // Slice cursor: chunk index and the queue offset at which that chunk's live bytes start.
  private curIdx = 0;
  private curStart = 0;

  /** Bytes queued. */
  get length(): number {
    return this.total;
  }

  /** Appends a copy of `data` (the caller may reuse its buffer at once). */
  append(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    const last = this.chunks.length > this.head ? this.chunks[this.chunks.length - 1] : undefined;
    if (last && last.block && last.buf.length - last.len >= n) {
      last.buf.set(data, last.len);
      last.len += n;
    } else if (n < BLOCK_BYTES / 4 && this.total > 0) {
      // A block only where small appends pile up: into an empty queue (a receiver that
      // reads each segment as it comes) the bytes go as they are, so read() hands back that
      // copy instead of a fresh block being allocated, and copied out of, per segment.
      const buf = new Uint8Array(BLOCK_BYTES);
      buf.set(data, 0);
      this.chunks.push({ buf, len: n, block: true });
    } else {
      this.chunks.push({ buf: data.slice(), len: n, block: false });
    }
    this.total += n;
  }

  /** Appends `data` without copying: the queue takes ownership of the buffer. */
  appendOwned(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push({ buf: data, len: data.length, block: false });
    this.total += data.length;
  }

  /** Puts `data` (copied) back at the front. */
  prepend(data: Uint8Array): void {
    if (data.length === 0) return;
    this.compact(true);
    if (this.headOff > 0) {
      const c = this.chunks[this.head];
      this.chunks[this.head] = { buf: c.buf.subarray(this.headOff, c.len), len: c.len - this.headOff, block: false };
      this.headOff = 0;
    }
    this.chunks.splice(this.head, 0, { buf: data.slice(), len: data.length, block: false });
    this.total += data.length;
    this.resetCursor();
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    n = Math.min(n, this.total);
    this.total -= n;
    while (n > 0) {
      const c = this.chunks[this.head];
      const avail = c.len - this.headOff;
      if (n < avail) {
        this.headOff += n;
        n = 0;
      } else {
        n -= avail;
        this.chunks[this.head] = EMPTY_CHUNK;
        this.head++;
        this.headOff = 0;
      }
    }
    if (this.total === 0) {
      this.chunks = [];
      this.head = 0;
      this.headOff = 0;
    } else {
      this.compact(false);
    }
    this.resetCursor();
  }

  /**
   * `len` bytes starting `off` bytes from the front: a view into the queue when the range
   * lies in one chunk (the common case), a fresh copy otherwise. Views stay valid: bytes of
   * a chunk are never rewritten (shared blocks only grow into their unused tail).
   */
  slice(off: number, len: number): Uint8Array {
    len = Math.max(0, Math.min(len, this.total - off));
    if (len === 0) return new Uint8Array(0);
    // Position the cursor at the chunk that holds `off`.
    if (off < this.curStart || this.curIdx < this.head) this.resetCursor();
    let idx = this.curIdx;
    let start = this.curStart;
    for (;;) {
      const c = this.chunks[idx];
      const from = idx === this.head ? this.headOff : 0;
      const size = c.len - from;
      if (off < start + size) break;
      start += size;
      idx++;
    }
    this.curIdx = idx;
    this.curStart = start;
    const c0 = this.chunks[idx];
    const from0 = (idx === this.head ? this.headOff : 0) + (off - start);
    if (from0 + len <= c0.len) return c0.buf.subarray(from0, from0 + len);
    const out = new Uint8Array(len);
    let w = 0;
    let from = from0;
    while (w < len) {
      const c = this.chunks[idx];
      const take = Math.min(c.len - from, len - w);
      out.set(c.buf.subarray(from, from + take), w);
      w += take;
      idx++;
      from = 0;
    }
    return out;
  }

  /** Removes and returns up to `max` bytes from the front (a view when it is one whole chunk). */
  read(max: number): Uint8Array {
    const n = Math.min(max, this.total);
    if (n <= 0) return new Uint8Array(0);
    const c = this.chunks[this.head];
    let out: Uint8Array;
    if (this.headOff === 0 && n === c.len && !c.block) out = c.buf;
    else out = this.slice(0, n).slice();
    this.consume(n);
    return out;
  }

  private resetCursor(): void {
    this.curIdx = this.head;
    this.curStart = 0;
  }

  /** Drops consumed slots from the array once they dominate it (amortised O(1)). */
  private compact(force: boolean): void {
    if (this.head === 0) return;
    if (!force && (this.head < 1024 || this.head * 2 < this.chunks.length)) return;
    this.chunks = this.chunks.slice(this.head);
    this.head = 0;
    this.resetCursor();
  }
}

const EMPTY_CHUNK: Chunk = { buf: new Uint8Array(0), len: 0, block: false };
