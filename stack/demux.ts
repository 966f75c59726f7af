// The demultiplexing table: connections by 4-tuple (RFC 9293 §3.3.1, "a pair of sockets
// uniquely identifies each connection").
//
// Speed: a string key per lookup ("10.0.0.1|80|10.0.0.2|49731") cost a few
// concatenations and a fresh string to hash on every packet. Here the ports select a
// bucket by a small-integer hash and the addresses are compared inside the bucket, so a
// lookup allocates nothing. Iteration gives the connections in the order they were
// opened: by `id`, which the stack hands out in that order. (A Set kept that order before,
// about 30 bytes per connection, measured with the memory benchmark; iterating is rare:
// closing a listener, failing or closing a provider.)

/** What the table needs of a connection. */
export interface Tupled {
  /** Increases with each connection opened: the order of iteration. */
  readonly id: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly localAddr: string;
  readonly localPort: number;
}

/** Ports to a bucket number that stays a V8 small integer (31-bit). */
function bucketOf(remotePort: number, localPort: number): number {
  return ((localPort << 14) ^ remotePort) & 0x3fffffff;
}

function matches(c: Tupled, remoteAddr: string, remotePort: number, localAddr: string, localPort: number): boolean {
  return c.localPort === localPort && c.remotePort === remotePort && c.remoteAddr === remoteAddr && c.localAddr === localAddr;
}

export class ConnectionTable<T extends Tupled> {
  /** One entry, or an array when ports collide in the hash (or share ports, differ in address). */
  private readonly buckets = new Map<number, T | T[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(remoteAddr: string, remotePort: number, localAddr: string, localPort: number): T | undefined {
    const b = this.buckets.get(bucketOf(remotePort, localPort));
    if (b === undefined) return undefined;
    if (!Array.isArray(b)) return matches(b, remoteAddr, remotePort, localAddr, localPort) ? b : undefined;
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (matches(c, remoteAddr, remotePort, localAddr, localPort)) return c;
    }
    return undefined;
  }

  has(remoteAddr: string, remotePort: number, localAddr: string, localPort: number): boolean {
    return this.get(remoteAddr, remotePort, localAddr, localPort) !== undefined;
  }

  /** Adds `c` under its own 4-tuple; the caller has checked that the tuple is free. */
  add(c: T): void {
    const k = bucketOf(c.remotePort, c.localPort);
    const b = this.buckets.get(k);
    if (b === undefined) this.buckets.set(k, c);
    else if (Array.isArray(b)) b.push(c);
    else this.buckets.set(k, [b, c]);
    this.count++;
  }

  /** Removes `c` if it is the connection stored under its 4-tuple. */
  delete(c: T): boolean {
    const k = bucketOf(c.remotePort, c.localPort);
    const b = this.buckets.get(k);
    if (b === undefined) return false;
    if (!Array.isArray(b)) {
      if (b !== c) return false;
      this.buckets.delete(k);
    } else {
      const i = b.indexOf(c);
      if (i < 0) return false;
      b.splice(i, 1);
      if (b.length === 1) this.buckets.set(k, b[0]);
    }
    this.count--;
    return true;
  }

  /** The connections in the order they were opened (a snapshot). */
  values(): IterableIterator<T> {
    const all: T[] = [];
    for (const b of this.buckets.values()) {
      if (Array.isArray(b)) for (let i = 0; i < b.length; i++) all.push(b[i]);
      else all.push(b);
    }
    return all.sort((a, b) => a.id - b.id).values();
  }
}
