// SYN cookies (stack/tcp/syncookie.ts) as Linux and FreeBSD encode them: what a cookie
// carries comes back; a cookie from one tuple, sequence number or time does not validate for
// another (fast-check properties, a fixed seed so a failure reproduces).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FREEBSD_COOKIE_MSS,
  FREEBSD_COOKIE_WSCALE,
  freebsdCookie,
  freebsdCookieLookup,
  LINUX_COOKIE_MSS,
  linuxCookie,
  linuxCookieMss,
  linuxCookieTsClock,
  linuxDecodeTsOptions,
  linuxMssIndex,
  linuxTsOptionBits,
  type CookieTuple,
} from "../../stack/tcp/syncookie.js";

const SECRET = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);
const OTHER_SECRET = Uint8Array.from({ length: 16 }, (_, i) => (i * 53 + 7) & 0xff);

const tuple = fc.record({
  localAddr: fc.constantFrom("10.0.0.2", "fd00::2"),
  localPort: fc.integer({ min: 1, max: 65535 }),
  remoteAddr: fc.ipV4(),
  remotePort: fc.integer({ min: 1, max: 65535 }),
});
const seq = fc.integer({ min: 0, max: 0xffffffff });
const now = fc.integer({ min: 0, max: 1e10 });
const same = (a: CookieTuple, b: CookieTuple) => a.localAddr === b.localAddr && a.localPort === b.localPort && a.remoteAddr === b.remoteAddr && a.remotePort === b.remotePort;
const RUNS = { numRuns: 2000, seed: 14 };

describe("Linux cookies (net/ipv4/syncookies.c)", () => {
  it("msstab: each MSS rounds down to 536, 1300, 1440 or 1460 (536 below the table)", () => {
    expect([100, 535, 536, 1299, 1300, 1448, 1452, 1460, 9000].map((m) => LINUX_COOKIE_MSS[linuxMssIndex(m)])).toEqual([536, 536, 536, 536, 1300, 1440, 1440, 1460, 1460]);
  });

  it("a cookie validates for its tuple and sequence number within the next minute, carrying its MSS", () => {
    fc.assert(
      fc.property(tuple, seq, now, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 59_999 }), (t, s, t0, idx, later) => {
        const c = linuxCookie(SECRET, t, s, t0, idx);
        expect(linuxCookieMss(SECRET, t, c, s, t0 + later)).toBe(LINUX_COOKIE_MSS[idx]);
      }),
      RUNS,
    );
  });

  it("no cookie from one tuple validates for another, nor under another secret, nor two minutes (up to four hours) later", () => {
    fc.assert(
      fc.property(tuple, tuple, seq, now, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 120_000, max: 200 * 60_000 }), (t, u, s, t0, idx, later) => {
        const c = linuxCookie(SECRET, t, s, t0, idx);
        if (!same(t, u)) expect(linuxCookieMss(SECRET, u, c, s, t0)).toBe(0);
        expect(linuxCookieMss(OTHER_SECRET, t, c, s, t0)).toBe(0);
        // The counter byte wraps after 256 minutes, as the kernel's does.
        expect(linuxCookieMss(SECRET, t, c, s, t0 + later)).toBe(0);
      }),
      RUNS,
    );
  });

  it("their ISN is added into the cookie: one at least 4 off does not validate", () => {
    fc.assert(
      fc.property(tuple, seq, now, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 0xffffffff - 4 }), (t, s, t0, idx, off) => {
        const c = linuxCookie(SECRET, t, s, t0, idx);
        expect(linuxCookieMss(SECRET, t, c, (s + off) >>> 0, t0)).toBe(0);
      }),
      RUNS,
    );
  });

  it("cookie_init_timestamp(): the TSval's low 6 bits carry window scale and SACK, never ahead of the clock", () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 0xffffffff }), fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }), fc.boolean(), (clock, ws, sack) => {
        const ts = linuxCookieTsClock(clock, linuxTsOptionBits(ws, sack));
        expect(ts).toBeLessThanOrEqual(clock);
        expect(clock - ts).toBeLessThan(64);
        expect(linuxDecodeTsOptions(ts & 0x3f)).toEqual({ wscale: ws, sackOK: sack });
      }),
      RUNS,
    );
  });
});

describe("FreeBSD cookies (tcp_syncache.c syncookie_generate / syncookie_lookup)", () => {
  const opts = fc.record({ mss: fc.constantFrom(...FREEBSD_COOKIE_MSS), wscale: fc.option(fc.constantFrom(...FREEBSD_COOKIE_WSCALE), { nil: undefined }), sackOK: fc.boolean() });

  it("the tables round down: MSS 1448 to 1440, 100 to 216; window scale 3 to 2, 14 to 8, 0 stays 0", () => {
    const t = { localAddr: "10.0.0.2", localPort: 80, remoteAddr: "10.0.0.9", remotePort: 4000 };
    const back = (mss: number, wscale: number | undefined) => freebsdCookieLookup(SECRET, t, freebsdCookie(SECRET, t, 1, 0, { mss, wscale, sackOK: false }), 1, 0)!;
    expect([1448, 100, 9000].map((m) => back(m, undefined).mss)).toEqual([1440, 216, 1460]);
    expect([3, 14, 0].map((w) => back(1460, w).wscale)).toEqual([2, 8, 0]);
    expect(back(1460, undefined).wscale).toBeUndefined();
  });

  it("a cookie validates for 16 to 32 s for its tuple and sequence number, carrying MSS, window scale and SACK", () => {
    fc.assert(
      fc.property(tuple, seq, now, opts, fc.integer({ min: 0, max: 15_999 }), (t, s, t0, o, later) => {
        const c = freebsdCookie(SECRET, t, s, t0, o);
        expect(freebsdCookieLookup(SECRET, t, c, s, t0 + later)).toEqual(o);
      }),
      RUNS,
    );
  });

  it("no cookie from one tuple or sequence number validates for another, nor under another secret, nor 32 s later", () => {
    fc.assert(
      fc.property(tuple, tuple, seq, seq, now, opts, fc.integer({ min: 32_000, max: 1e9 }), (t, u, s, s2, t0, o, later) => {
        const c = freebsdCookie(SECRET, t, s, t0, o);
        if (!same(t, u)) expect(freebsdCookieLookup(SECRET, u, c, s, t0)).toBeUndefined();
        if (s2 !== s) expect(freebsdCookieLookup(SECRET, t, c, s2, t0)).toBeUndefined();
        expect(freebsdCookieLookup(OTHER_SECRET, t, c, s, t0)).toBeUndefined();
        expect(freebsdCookieLookup(SECRET, t, c, s, t0 + later)).toBeUndefined();
      }),
      RUNS,
    );
  });
});
