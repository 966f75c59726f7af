import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalIp, formatIpv4, formatIpv6, inPrefix, ipBytes, parseIp } from "../../stack/wire/addr.js";
import { toHex } from "./hex.js";

describe("parseIp / canonicalIp", () => {
  it.each([
    ["10.0.0.1", "10.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    // RFC 5952 §4 examples
    ["2001:0db8::0001", "2001:db8::1"],
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not compressed (§4.2.2)
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run (§4.2.3)
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs (§4.2.3)
    ["2001:DB8::AbC", "2001:db8::abc"], // lower case (§4.3)
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["fe80:0000:0000:0000:0250:b6ff:fe19:e650", "fe80::250:b6ff:fe19:e650"],
    // IPv4-mapped in mixed notation (§5), whichever way it was written
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"],
    ["::FFFF:10.0.0.1", "::ffff:10.0.0.1"],
    // embedded IPv4 elsewhere is parsed but printed in hex
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
  ])("%s -> %s", (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  it.each([
    ["", "ipv4 empty part"],
    ["1.2.3", "ipv4 needs 4 parts"],
    ["1.2.3.4.5", "ipv4 too many parts"],
    ["256.1.1.1", "ipv4 part > 255"],
    ["01.2.3.4", "ipv4 leading zero"],
    ["1.2.3.x", "ipv4 bad character"],
    ["1..3.4", "ipv4 empty part"],
    ["1:2:3:4:5:6:7:8:9", "ipv6 too many groups"],
    ["1::2::3", "ipv6 more than one ::"],
    ["fe80::1%eth0", "ipv6 zone id not supported"],
    [":1", "ipv6 leading single colon"],
    ["1:", "ipv6 trailing colon"],
    ["12345::", "ipv6 group longer than 4 digits"],
    ["::ffff:1.2.3", "ipv6 embedded ipv4 needs 4 parts"],
    ["1:2:3:4:5:6:7::8", "ipv6 :: with 8 groups"],
    ["1:2:3:4:5:6:7", "ipv6 needs 8 groups"],
    [":::", "ipv6 empty group"],
    ["g::1", "ipv6 empty group"],
    ["1:2:3:4:5:6:7:1.2.3.4", "ipv6 too many groups"],
  ])("rejects %j (%s)", (input, reason) => {
    expect(parseIp(input)).toEqual({ ok: false, reason });
    expect(canonicalIp(input)).toBeUndefined();
  });

  it("gives bytes of the right length", () => {
    expect(toHex(ipBytes("10.1.1.13"))).toBe("0a01010d");
    expect(toHex(ipBytes("2001:db8::1"))).toBe("20010db8000000000000000000000001");
    expect(() => ipBytes("nope")).toThrow(/invalid address/);
  });
});

describe("formatIpv6", () => {
  it("reads at an offset", () => {
    const b = new Uint8Array(20);
    b.set(ipBytes("2001:db8::2:1"), 3);
    expect(formatIpv6(b, 3)).toBe("2001:db8::2:1");
    expect(formatIpv4(new Uint8Array([9, 192, 0, 2, 1]), 1)).toBe("192.0.2.1");
  });

  it("agrees with the WHATWG URL serializer (same RFC 5952 rules) and round-trips", () => {
    fc.assert(
      fc.property(
        // Bias towards zero groups so that runs and ties come up often.
        fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
          minLength: 8,
          maxLength: 8,
        }),
        (groups) => {
          const b = new Uint8Array(16);
          groups.forEach((g, k) => {
            b[2 * k] = g >> 8;
            b[2 * k + 1] = g & 0xff;
          });
          const text = formatIpv6(b, 0);
          const back = parseIp(text);
          expect(back.ok && toHex(back.value.bytes)).toBe(toHex(b));
          const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
          if (!mapped) expect(`[${text}]`).toBe(new URL(`http://[${text}]/`).hostname);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("inPrefix", () => {
  it("matches on whole and partial bytes", () => {
    expect(inPrefix("10.1.2.3", "10.0.0.0", 8)).toBe(true);
    expect(inPrefix("11.1.2.3", "10.0.0.0", 8)).toBe(false);
    expect(inPrefix("192.168.1.130", "192.168.1.128", 25)).toBe(true);
    expect(inPrefix("192.168.1.127", "192.168.1.128", 25)).toBe(false);
    expect(inPrefix("1.2.3.4", "0.0.0.0", 0)).toBe(true);
    expect(inPrefix("1.2.3.4", "1.2.3.4", 32)).toBe(true);
    expect(inPrefix("1.2.3.5", "1.2.3.4", 32)).toBe(false);
    expect(inPrefix("fe80::1", "fe80::", 10)).toBe(true);
    expect(inPrefix("fec0::1", "fe80::", 10)).toBe(false);
    expect(inPrefix("2001:db8:1:2::1002", "2001:db8:1:2::", 64)).toBe(true);
  });

  it("never matches across families or bad text, and throws on programmer errors", () => {
    expect(inPrefix("::ffff:10.0.0.1", "10.0.0.0", 8)).toBe(false);
    expect(inPrefix("10.0.0.1", "::", 0)).toBe(false);
    expect(inPrefix("not an address", "10.0.0.0", 8)).toBe(false);
    expect(() => inPrefix("10.0.0.1", "10.0.0.0", 33)).toThrow(RangeError);
    expect(() => inPrefix("10.0.0.1", "10.0.0", 8)).toThrow();
  });
});
