// One structure for every timer of every connection (issue: per-operation cost must not
// grow with the number of connections). Each owner has at most one live entry: its
// earliest deadline. Arming pushes onto a binary min-heap with a generation number and
// cancelling just bumps the generation (lazy deletion), so arm/cancel are O(1) expected
// (deadlines mostly grow, so pushes rarely sift) and expiry is O(log n).

export interface TimerOwner {
  /** Generation of the owner's live heap entry; bumped to invalidate older ones. */
  timerGen: number;
  /** The owner's armed deadline, or Infinity when none. */
  timerAt: number;
}

export class TimerHeap<T extends TimerOwner> {
  private at: Float64Array;
  private gen: Uint32Array;
  private owners: (T | undefined)[];
  private n = 0;
  private live = 0;

  constructor(initialCapacity = 1024) {
    this.at = new Float64Array(initialCapacity);
    this.gen = new Uint32Array(initialCapacity);
    this.owners = new Array(initialCapacity);
  }

  /** Heap entries, live and stale. */
  get size(): number {
    return this.n;
  }

  /** Owners with a live deadline. */
  get liveCount(): number {
    return this.live;
  }

  /** Sets `owner`'s deadline (replacing any earlier one). */
  arm(owner: T, deadline: number): void {
    if (owner.timerAt === deadline) return;
    if (owner.timerAt === Infinity) this.live++;
    owner.timerGen = (owner.timerGen + 1) >>> 0;
    owner.timerAt = deadline;
    if (deadline === Infinity) {
      this.live--;
      return;
    }
    this.push(deadline, owner.timerGen, owner);
    if (this.n > 64 && this.n > 4 * this.live) this.compact();
  }

  cancel(owner: T): void {
    this.arm(owner, Infinity);
  }

  /** The earliest live deadline, or undefined. */
  peek(): number | undefined {
    this.dropStale();
    return this.n > 0 ? this.at[0] : undefined;
  }

  /** Removes and returns the next owner whose deadline is <= now. */
  popDue(now: number): T | undefined {
    this.dropStale();
    if (this.n === 0 || this.at[0] > now) return undefined;
    const owner = this.owners[0]!;
    this.removeTop();
    owner.timerAt = Infinity;
    owner.timerGen = (owner.timerGen + 1) >>> 0;
    this.live--;
    return owner;
  }

  private dropStale(): void {
    while (this.n > 0) {
      const o = this.owners[0]!;
      if (o.timerGen === this.gen[0] && o.timerAt === this.at[0]) return;
      this.removeTop();
    }
  }

  private push(deadline: number, gen: number, owner: T): void {
    if (this.n === this.at.length) this.grow();
    let i = this.n++;
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.at[p] <= deadline) break;
      this.at[i] = this.at[p];
      this.gen[i] = this.gen[p];
      this.owners[i] = this.owners[p];
      i = p;
    }
    this.at[i] = deadline;
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
    const g = this.gen[last];
    const o = this.owners[last];
    this.owners[last] = undefined;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && this.at[r] < this.at[l] ? r : l;
      if (this.at[c] >= d) break;
      this.at[i] = this.at[c];
      this.gen[i] = this.gen[c];
      this.owners[i] = this.owners[c];
      i = c;
    }
    this.at[i] = d;
    this.gen[i] = g;
    this.owners[i] = o;
  }

  private grow(): void {
    const cap = this.at.length * 2;
    const at = new Float64Array(cap);
    at.set(this.at);
    const gen = new Uint32Array(cap);
    gen.set(this.gen);
    this.at = at;
    this.gen = gen;
    this.owners.length = cap;
  }

  /** Rebuilds the heap from live entries only (bounded memory under heavy re-arming). */
  private compact(): void {
    const entries: Array<[number, number, T]> = [];
    for (let i = 0; i < this.n; i++) {
      const o = this.owners[i]!;
      if (o.timerGen === this.gen[i] && o.timerAt === this.at[i]) entries.push([this.at[i], this.gen[i], o]);
      this.owners[i] = undefined;
    }
    this.n = 0;
    for (const [d, g, o] of entries) this.push(d, g, o);
  }
}
