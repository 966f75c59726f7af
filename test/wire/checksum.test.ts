import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { foldChecksum, internetChecksum, pseudoHeaderSum, sumWords } from "../../stack/wire/checksum.js";
import { hex, LINUX_SYN_V4, LINUX_SYN_V6 } from "./hex.js";

/** Straightforward RFC 1071 reference: 16-bit words, fold at every step. */
function referenceChecksum(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < b.length; i += 2) {
    s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

describe("RFC 1071 checksum", () => {
  it("matches the RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2", () => {
    const b = hex("0001f203f4f5f6f7");
    expect(foldChecksum(sumWords(b, 0, b.length, 0))).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it("pads an odd final byte with a zero low byte", () => {
    expect(foldChecksum(sumWords(hex("01"), 0, 1, 0))).toBe(0x0100);
    expect(internetChecksum(hex("0001f203f4f5f6"))).toBe(referenceChecksum(hex("0001f203f4f5f6")));
  });

  it("gives 0xffff for all-zero data and 0 when a message contains its own checksum", () => {
    expect(internetChecksum(new Uint8Array(10))).toBe(0xffff);
    const b = hex("4500003cfadf400040060000ac10108cac10108b");
    const c = internetChecksum(b);
    expect(c).toBe(0xc6a4); // the value in the captured packet
    b[10] = c >> 8;
    b[11] = c & 0xff;
    expect(internetChecksum(b)).toBe(0);
  });

  it("verifies real TCP checksums with the IPv4 and IPv6 pseudo-headers", () => {
    const tcp4 = LINUX_SYN_V4.subarray(20);
    const ps4 = pseudoHeaderSum(4, LINUX_SYN_V4.subarray(12, 16), LINUX_SYN_V4.subarray(16, 20), 6, tcp4.length);
    expect(internetChecksum(tcp4, 0, tcp4.length, ps4)).toBe(0);
    const tcp6 = LINUX_SYN_V6.subarray(40);
    const ps6 = pseudoHeaderSum(6, LINUX_SYN_V6.subarray(8, 24), LINUX_SYN_V6.subarray(24, 40), 6, tcp6.length);
    expect(internetChecksum(tcp6, 0, tcp6.length, ps6)).toBe(0);
    // One flipped bit is caught.
    const bad = tcp4.slice();
    bad[5] ^= 0x10;
    expect(internetChecksum(bad, 0, bad.length, ps4)).not.toBe(0);
  });

  it("agrees with the reference on any bytes, offsets and alignment", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(7),
        fc.nat(0xffff),
        (data, shift, initial) => {
          const backing = new Uint8Array(data.length + 8);
          const view = backing.subarray(shift, shift + data.length);
          view.set(data);
          expect(internetChecksum(view, 0, view.length, initial)).toBe(referenceChecksum(data, initial));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("combines partial sums split at even offsets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 200 }), fc.nat(), (data, at) => {
        const split = (at % data.length) & ~1;
        const acc = sumWords(data, 0, split, 0);
        expect(foldChecksum(sumWords(data, split, data.length, acc))).toBe(
          foldChecksum(sumWords(data, 0, data.length, 0)),
        );
      }),
    );
  });

  it("stays exact over buffers larger than its reduction chunk", () => {
    const big = new Uint8Array(3 * (1 << 20) + 5).fill(0xff);
    big[7] = 0x12;
    expect(internetChecksum(big)).toBe(referenceChecksum(big));
    expect(sumWords(big, 0, big.length, 0)).toBeLessThanOrEqual(0xffffffff);
  });
});
