// The ISN and port-offset hashes keep the state after the tuple's addresses between calls
// (stack/tcp/isn.ts): whatever the order of the calls, each result must be the HalfSipHash of
// the whole text, as if computed from scratch.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { rfc6056PortOffset, rfc6528Isn } from "../../stack/tcp/isn.js";
import { halfSipHash, halfSipHashAt } from "../../stack/tcp/siphash.js";

const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "latin1"));

function isnReference(secret: Uint8Array, now: number, la: string, lp: number, ra: string, rp: number): number {
  return (((Math.floor(now * 250) >>> 0) + halfSipHash(secret, latin1(`${la}|${lp}|${ra}|${rp}`))) >>> 0);
}

function portReference(secret: Uint8Array, la: string, ra: string, rp: number): number {
  const text = latin1(`${la}|${ra}|${rp}`);
  return halfSipHashAt(secret, secret.length >= 16 ? 8 : 0, text, text.length);
}

describe("RFC 6528 ISN and RFC 6056 port offset", () => {
  it("HalfSipHash-2-4 gives the reference output (the reference implementation's vectors, 32-bit)", () => {
    // Key 00..07, messages 00..(n-1): the first entries of vectors_hsip32 in the
    // reference implementation's vectors.h.
    const key = Uint8Array.from({ length: 8 }, (_, i) => i);
    const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
    const le = (h: number) => [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, h >>> 24];
    expect(le(halfSipHash(key, msg(0)))).toEqual([0xa9, 0x35, 0x9f, 0x5b]);
    expect(le(halfSipHash(key, msg(1)))).toEqual([0x27, 0x47, 0x5a, 0xb8]);
  });

  it("equal the hash of the whole text in any order of tuples, addresses and secrets", () => {
    const addr = fc.constantFrom("10.0.0.2", "10.0.0.1", "192.168.100.200", "fd00::1", "2001:db8::abcd:1", "1.2.3.4", "255.255.255.255", "");
    const secret = fc.uint8Array({ minLength: 8, maxLength: 32 });
    const port = fc.integer({ min: 0, max: 65535 });
    const call = fc.record({ secret, la: addr, ra: addr, lp: port, rp: port, now: fc.double({ min: 0, max: 1e10, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 30 }), (calls) => {
        for (const c of calls) {
          expect(rfc6528Isn(c.secret, c.now, c.la, c.lp, c.ra, c.rp)).toBe(isnReference(c.secret, c.now, c.la, c.lp, c.ra, c.rp));
          expect(rfc6056PortOffset(c.secret, c.la, c.ra, c.rp)).toBe(portReference(c.secret, c.la, c.ra, c.rp));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("notices a secret changed in place between two calls", () => {
    const secret = Uint8Array.from({ length: 16 }, (_, i) => i * 7);
    const before = rfc6056PortOffset(secret, "10.0.0.2", "10.0.0.1", 80);
    const isnBefore = rfc6528Isn(secret, 0, "10.0.0.2", 49152, "10.0.0.1", 80);
    secret[9] ^= 1;
    secret[1] ^= 1;
    expect(rfc6056PortOffset(secret, "10.0.0.2", "10.0.0.1", 80)).toBe(portReference(secret, "10.0.0.2", "10.0.0.1", 80));
    expect(rfc6056PortOffset(secret, "10.0.0.2", "10.0.0.1", 80)).not.toBe(before);
    expect(rfc6528Isn(secret, 0, "10.0.0.2", 49152, "10.0.0.1", 80)).toBe(isnReference(secret, 0, "10.0.0.2", 49152, "10.0.0.1", 80));
    expect(rfc6528Isn(secret, 0, "10.0.0.2", 49152, "10.0.0.1", 80)).not.toBe(isnBefore);
  });

  it("writes a long address text past the buffer's first size", () => {
    const secret = Uint8Array.from({ length: 16 }, (_, i) => i);
    const long = "x".repeat(300);
    expect(rfc6528Isn(secret, 1, long, 1, long, 2)).toBe(isnReference(secret, 1, long, 1, long, 2));
    expect(rfc6056PortOffset(secret, long, long, 2)).toBe(portReference(secret, long, long, 2));
  });
});
