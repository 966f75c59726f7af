// The demultiplexing table: connections by 4-tuple (RFC 9293 §3.3.1, "a pair of sockets
// uniquely identifies each connection").
//
// Speed: a string key per lookup ("10.0.0.1|80|10.0.0.2|49731") cost a few
// concatenations and a fresh string to hash on every packet. Here the ports select a
// bucket by a small-integer hash and the addresses are compared inside the bucket, so a
// lookup allocates nothing. Insertion order is kept separately for iteration, which then
// matches the order connections were opened, as before.

/** What the table needs of a connection. */
export interface Tupled {
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
  private readonly order = new Set<T>();

  get size(): number {
    return this.order.size;
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
    this.order.add(c);
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
    this.order.delete(c);
    return true;
  }

  values(): IterableIterator<T> {
    return this.order.values();
  }
}
