// One structure for every timer of every connection. The cost of an operation must not grow
// with the number of connections: within 2x from 1 000 to 1 000 000 pending (`synack bench`).
//
// Each owner has at most one live entry: its earliest deadline. The structure has two parts:
//  - far: coarse buckets of BUCKET_MS by deadline (a hashed timing wheel without a fixed
//    size). Arming appends to the bucket's array: O(1), and the memory touched does not
//    depend on how many timers are pending.
//  - near: a binary min-heap holding only deadlines before the horizon, i.e. the bucket
//    being worked through. When it runs empty the next non-empty bucket is moved into it,
//    so it holds about one bucket's worth of entries, not every pending timer.
// Cancelling bumps the owner's generation (lazy deletion); stale entries are skipped when
// met and swept when they outnumber live ones 4 to 1, so arm/cancel stay O(1) amortised.
//
// Order: deadlines fire earliest first; equal deadlines fire in the order they were armed.

export interface TimerOwner {
  /** Generation of the owner's live entry; bumped to invalidate older ones. */
  timerGen: number;
  /** The owner's armed deadline, or Infinity when none. */
  timerAt: number;
}

/** Width of a far bucket in ms: wide enough that buckets stay few, narrow enough that near stays small. */
const BUCKET_MS = 16;
/** Generations are stored masked to 30 bits so bucket arrays hold small integers only. */
const GEN_MASK = 0x3fffffff;

export class TimerHeap<T extends TimerOwner> {
  // near: parallel arrays, ordered by (at, seq)
  private at: Float64Array;
  private seq: Float64Array;
  private gen: Uint32Array;
  private owners: (T | undefined)[];
  private n = 0;
  private nextSeq = 0;

  // far: bucket id -> [owner, gen, owner, gen, ...] in arming order
  private readonly buckets = new Map<number, Array<T | number>>();
  /** Min-heap of the ids in `buckets`. */
  private readonly bucketIds: number[] = [];
  /** Every far entry has a bucket id >= horizonId; deadlines in earlier buckets go to near. */
  private horizonId = -Infinity;
  private farEntries = 0;
  private lastId = NaN;
  private lastBucket: Array<T | number> | undefined;

  private live = 0;

  constructor(initialCapacity = 256) {
    this.at = new Float64Array(initialCapacity);
    this.seq = new Float64Array(initialCapacity);
    this.gen = new Uint32Array(initialCapacity);
    this.owners = new Array(initialCapacity);
  }

  /** Entries held, live and stale. */
  get size(): number {
    return this.n + this.farEntries;
  }

  /** Owners with a live deadline. */
  get liveCount(): number {
    return this.live;
  }

  /** Sets `owner`'s deadline (replacing any earlier one). */
  arm(owner: T, deadline: number): void {
    // One read of timerAt: a Connection decodes it from two int32 halves (tcp/time-words.ts).
    const before = owner.timerAt;
    if (before === deadline) return;
    if (before === Infinity) this.live++;
    owner.timerGen = (owner.timerGen + 1) >>> 0;
    owner.timerAt = deadline;
    if (deadline === Infinity) {
      this.live--;
      return;
    }
    const id = Math.floor(deadline / BUCKET_MS);
    if (id < this.horizonId) this.pushNear(deadline, owner.timerGen, owner);
    else this.pushFar(id, owner);
    if (this.n + this.farEntries > 1024 && this.n + this.farEntries > 4 * this.live) this.compact();
  }

  cancel(owner: T): void {
    this.arm(owner, Infinity);
  }

  /** The earliest live deadline, or undefined. */
  peek(): number | undefined {
    this.fillNear();
    return this.n > 0 ? this.at[0] : undefined;
  }

  /** Removes and returns the next owner whose deadline is <= now. */
  popDue(now: number): T | undefined {
    this.fillNear();
    if (this.n === 0 || this.at[0] > now) return undefined;
    const owner = this.owners[0]!;
    this.removeTop();
    owner.timerAt = Infinity;
    owner.timerGen = (owner.timerGen + 1) >>> 0;
    this.live--;
    return owner;
  }

  // ---------------------------------------------------------------------------------

  private pushFar(id: number, owner: T): void {
    let b: Array<T | number> | undefined;
    if (id === this.lastId) b = this.lastBucket;
    else {
      b = this.buckets.get(id);
      this.lastId = id;
    }
    if (b === undefined) {
      b = [];
      this.buckets.set(id, b);
      this.pushId(id);
    }
    this.lastBucket = b;
    b.push(owner, owner.timerGen & GEN_MASK);
    this.farEntries++;
  }

  /** Drops stale entries at the top of near; when near is empty, moves the next bucket in. */
  private fillNear(): void {
    for (;;) {
      while (this.n > 0) {
        const o = this.owners[0]!;
        if (o.timerGen === this.gen[0] && o.timerAt === this.at[0]) return;
        this.removeTop();
      }
      if (this.bucketIds.length === 0) return;
      const id = this.popId();
      const b = this.buckets.get(id)!;
      this.buckets.delete(id);
      if (id === this.lastId) {
        this.lastId = NaN;
        this.lastBucket = undefined;
      }
      this.horizonId = id + 1;
      this.farEntries -= b.length / 2;
      for (let i = 0; i < b.length; i += 2) {
        const o = b[i] as T;
        if ((o.timerGen & GEN_MASK) !== b[i + 1]) continue;
        const at = o.timerAt;
        if (at !== Infinity) this.pushNear(at, o.timerGen, o);
      }
    }
  }

  private pushNear(deadline: number, gen: number, owner: T): void {
    if (this.n === this.at.length) this.grow();
    const s = this.nextSeq++;
    let i = this.n++;
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = this.at[p];
      if (pa < deadline || (pa === deadline && this.seq[p] < s)) break;
      this.at[i] = pa;
      this.seq[i] = this.seq[p];
      this.gen[i] = this.gen[p];
      this.owners[i] = this.owners[p];
      i = p;
    }
    this.at[i] = deadline;
    this.seq[i] = s;
    this.gen[i] = gen;
    this.owners[i] = owner;
  }

  private removeTop(): void {
    const last = --this.n;
    if (last === 0) {
      this.owners[0] = undefined;
      return;
    }
    const d = this.at[last];
    const s = this.seq[last];
    const g = this.gen[last];
    const o = this.owners[last];
    this.owners[last] = undefined;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && (this.at[r] < this.at[l] || (this.at[r] === this.at[l] && this.seq[r] < this.seq[l])) ? r : l;
      const ca = this.at[c];
      if (ca > d || (ca === d && this.seq[c] > s)) break;
      this.at[i] = ca;
      this.seq[i] = this.seq[c];
      this.gen[i] = this.gen[c];
      this.owners[i] = this.owners[c];
      i = c;
    }
    this.at[i] = d;
    this.seq[i] = s;
    this.gen[i] = g;
    this.owners[i] = o;
  }

  private grow(): void {
    const cap = this.at.length * 2;
    const at = new Float64Array(cap);
    at.set(this.at);
    const seq = new Float64Array(cap);
    seq.set(this.seq);
    const gen = new Uint32Array(cap);
    gen.set(this.gen);
    this.at = at;
    this.seq = seq;
    this.gen = gen;
    this.owners.length = cap;
  }

  private pushId(id: number): void {
    const h = this.bucketIds;
    let i = h.length;
    h.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= id) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = id;
  }

  private popId(): number {
    const h = this.bucketIds;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && h[r] < h[l] ? r : l;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  /** Sweeps stale entries from both parts (bounded memory under heavy re-arming). */
  private compact(): void {
    // near: keep live entries, in (at, seq) order, re-sequenced in that order.
    const keep: Array<{ at: number; seq: number; o: T }> = [];
    for (let i = 0; i < this.n; i++) {
      const o = this.owners[i]!;
      if (o.timerGen === this.gen[i] && o.timerAt === this.at[i]) keep.push({ at: this.at[i], seq: this.seq[i], o });
      this.owners[i] = undefined;
    }
    keep.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.n = 0;
    for (const e of keep) this.pushNear(e.at, e.o.timerGen, e.o);
    // far: filter every bucket, drop empty ones.
    this.farEntries = 0;
    this.bucketIds.length = 0;
    for (const [id, b] of this.buckets) {
      let w = 0;
      for (let i = 0; i < b.length; i += 2) {
        const o = b[i] as T;
        if ((o.timerGen & GEN_MASK) === b[i + 1] && o.timerAt !== Infinity && Math.floor(o.timerAt / BUCKET_MS) === id) {
          b[w++] = o;
          b[w++] = b[i + 1];
        }
      }
      b.length = w;
      if (w === 0) this.buckets.delete(id);
      else {
        this.farEntries += w / 2;
        this.pushId(id);
      }
    }
    this.lastId = NaN;
    this.lastBucket = undefined;
  }
}
