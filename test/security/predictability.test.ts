// ISNs (RFC 6528) and ephemeral ports (RFC 6056): reproducible under a fixed seed, and
// without a usable pattern across consecutive connections to the same peer.
import { describe, expect, it } from "vitest";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { resolveProfile, type ProfileName } from "../../stack/tcp/profiles.js";

const N = 1000;

function stack(seed: number, profile: ProfileName = "windows"): Stack {
  return new Stack({ addresses: ["10.0.0.2/24", "fd00::2/64"], profile, random: seededRandom(seed) });
}

/** N connections to one peer, 1 ms apart, all kept open; returns their ISNs and ports. */
function consecutive(seed: number, remote = "10.0.0.1", profile: ProfileName = "windows"): { isn: number[]; port: number[]; st: Stack } {
  const st = stack(seed, profile);
  const isn: number[] = [];
  const port: number[] = [];
  for (let i = 0; i < N; i++) {
    const c = st.connect({ remote: { addr: remote, port: 443 } }, 1000 + i);
    if (!(c instanceof Connection)) throw new Error(`connect ${i}: ${c.error}`);
    isn.push(c.iss);
    port.push(c.localPort);
    st.takeOutput();
  }
  return { isn, port, st };
}

/** Pearson correlation of consecutive values (lag 1), values scaled to [0, 1). */
function lag1Correlation(xs: number[], range: number): number {
  const a = xs.slice(0, -1).map((x) => x / range);
  const b = xs.slice(1).map((x) => x / range);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(a);
  const mb = mean(b);
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < a.length; i++) {
    cov += (a[i] - ma) * (b[i] - mb);
    va += (a[i] - ma) ** 2;
    vb += (b[i] - mb) ** 2;
  }
  return cov / Math.sqrt(va * vb);
}

/** Wald-Wolfowitz runs test above/below the median: z-score of the number of runs. */
function runsZ(xs: number[]): number {
  const sorted = [...xs].sort((p, q) => p - q);
  const median = sorted[sorted.length >> 1];
  const signs = xs.filter((x) => x !== median).map((x) => x > median);
  const n1 = signs.filter((s) => s).length;
  const n2 = signs.length - n1;
  let runs = 1;
  for (let i = 1; i < signs.length; i++) if (signs[i] !== signs[i - 1]) runs++;
  const mu = (2 * n1 * n2) / (n1 + n2) + 1;
  const variance = ((mu - 1) * (mu - 2)) / (n1 + n2 - 1);
  return (runs - mu) / Math.sqrt(variance);
}

/** Chi-square statistic of `xs` over `bins` equal bins of [lo, lo + range). */
function chiSquare(xs: number[], lo: number, range: number, bins: number): number {
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) counts[Math.min(bins - 1, Math.floor(((x - lo) / range) * bins))]++;
  const expected = xs.length / bins;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

// Chi-square critical value for 15 degrees of freedom at p = 0.001.
const CHI2_15_P001 = 37.7;

describe("a fixed seed reproduces ISNs and ports exactly", () => {
  it("two stacks with the same seed give the same ISNs and ports for the same calls", () => {
    const a = consecutive(42);
    const b = consecutive(42);
    expect(b.isn).toEqual(a.isn);
    expect(b.port).toEqual(a.port);
    // The SYNs themselves are byte-identical.
    const sa = stack(7);
    const sb = stack(7);
    sa.connect({ remote: { addr: "fd00::1", port: 80 } }, 5);
    sb.connect({ remote: { addr: "fd00::1", port: 80 } }, 5);
    expect(sb.takeOutput()).toEqual(sa.takeOutput());
  });

  it("another seed gives other ISNs and ports", () => {
    const a = consecutive(42);
    const c = consecutive(43);
    expect(c.isn.filter((x, i) => x === a.isn[i]).length).toBeLessThan(5);
    expect(c.port.filter((x, i) => x === a.port[i]).length).toBeLessThan(20);
  });
});

describe(`consecutive connections to the same peer show no linear relation (${N} samples)`, () => {
  const { isn, port } = consecutive(2024);
  const profile = resolveProfile("windows");
  const lo = profile.ephemeralLow;
  const range = profile.ephemeralHigh - profile.ephemeralLow + 1;

  it("ISN: differences between consecutive ISNs are not constant (nor few)", () => {
    const diffs = new Set(isn.slice(1).map((x, i) => (x - isn[i]) >>> 0));
    expect(diffs.size).toBeGreaterThan(N * 0.99);
    // A second-order linear relation (x[i+2] - 2 x[i+1] + x[i] constant) is absent too.
    const second = new Set(isn.slice(2).map((x, i) => (x - 2 * isn[i + 1] + isn[i]) >>> 0));
    expect(second.size).toBeGreaterThan(N * 0.98);
  });

  it("ISN: lag-1 correlation near 0, runs test and chi-square on the top bits pass", () => {
    // For N = 1000 the standard error of r is about 0.032: |r| < 0.13 is 4 standard errors.
    expect(Math.abs(lag1Correlation(isn, 2 ** 32))).toBeLessThan(0.13);
    expect(Math.abs(runsZ(isn))).toBeLessThan(4);
    expect(chiSquare(isn, 0, 2 ** 32, 16)).toBeLessThan(CHI2_15_P001);
  });

  it("ports: spread over the whole ephemeral range (chi-square), no lag-1 correlation, runs test", () => {
    for (const p of port) {
      expect(p).toBeGreaterThanOrEqual(lo);
      expect(p).toBeLessThan(lo + range);
    }
    expect(chiSquare(port, lo, range, 16)).toBeLessThan(CHI2_15_P001);
    expect(Math.abs(lag1Correlation(port.map((p) => p - lo), range))).toBeLessThan(0.13);
    expect(Math.abs(runsZ(port))).toBeLessThan(4);
    const diffs = new Set(port.slice(1).map((p, i) => p - port[i]));
    expect(diffs.size).toBeGreaterThan(N * 0.9);
  });

  it("the same holds for an IPv6 peer and the linux profile's range", () => {
    const v6 = consecutive(99, "fd00::1", "linux");
    const lp = resolveProfile("linux");
    expect(chiSquare(v6.port, lp.ephemeralLow, lp.ephemeralHigh - lp.ephemeralLow + 1, 16)).toBeLessThan(CHI2_15_P001);
    expect(Math.abs(lag1Correlation(v6.isn, 2 ** 32))).toBeLessThan(0.13);
    expect(new Set(v6.isn.slice(1).map((x, i) => (x - v6.isn[i]) >>> 0)).size).toBeGreaterThan(N * 0.99);
  });

  it("by design (RFC 6528 §3), only a reused 4-tuple gets ISNs that advance with the 4 µs clock", () => {
    // The monotonic clock term keeps a new incarnation's ISN above the old one's (TIME-WAIT
    // safety); the keyed hash hides it from anyone who does not own that exact 4-tuple.
    const st = stack(5);
    const a = st.connect({ remote: { addr: "10.0.0.1", port: 443 }, local: { port: 50000 } }, 1000) as Connection;
    a.close(1000);
    const b = st.connect({ remote: { addr: "10.0.0.1", port: 443 }, local: { port: 50000 } }, 3000) as Connection;
    expect((b.iss - a.iss) >>> 0).toBe(2000 * 250);
    b.close(3000);
    const c = st.connect({ remote: { addr: "10.0.0.1", port: 443 }, local: { port: 50001 } }, 3000) as Connection;
    expect(Math.abs(((c.iss - b.iss) | 0))).toBeGreaterThan(1_000_000);
  });
});

describe("ephemeral ports never collide with a live 4-tuple (RFC 6056 §3.3.3)", () => {
  it(`${N} live connections to one peer hold ${N} different ports`, () => {
    const { port, st } = consecutive(3);
    expect(new Set(port).size).toBe(N);
    expect(st.connectionCount).toBe(N);
  });

  it("a small range fills up, then refuses (portsExhausted); a freed port is reused; another peer may share ports", () => {
    const st = stack(11);
    const overrides = { ephemeralLow: 40000, ephemeralHigh: 40009 };
    const conns: Connection[] = [];
    for (let i = 0; i < 10; i++) {
      const c = st.connect({ remote: { addr: "10.0.0.1", port: 80 }, overrides }, i);
      expect(c).toBeInstanceOf(Connection);
      conns.push(c as Connection);
    }
    expect(new Set(conns.map((c) => c.localPort))).toEqual(new Set(Array.from({ length: 10 }, (_, i) => 40000 + i)));
    expect(st.connect({ remote: { addr: "10.0.0.1", port: 80 }, overrides }, 20)).toMatchObject({ error: "portsExhausted" });
    // A different remote port is a different 4-tuple: the same local ports may be reused.
    const other = st.connect({ remote: { addr: "10.0.0.1", port: 81 }, overrides }, 21);
    expect(other).toBeInstanceOf(Connection);
    // Close one (SYN-SENT: the TCB goes at once); its port is the only one free again.
    const freed = conns[3].localPort;
    conns[3].close(22);
    const again = st.connect({ remote: { addr: "10.0.0.1", port: 80 }, overrides }, 23) as Connection;
    expect(again).toBeInstanceOf(Connection);
    expect(again.localPort).toBe(freed);
    // An explicit local port on a live 4-tuple is refused, never shared.
    expect(st.connect({ remote: { addr: "10.0.0.1", port: 80 }, local: { port: conns[0].localPort } }, 24)).toMatchObject({ error: "addressInUse" });
  });

  it("a port held by a bind (WskBind) is not handed to a connect, and vice versa", () => {
    const st = stack(12);
    const overrides = { ephemeralLow: 40000, ephemeralHigh: 40003 };
    const b = st.bindPort(4, undefined, 0, resolveProfile("windows", overrides));
    if ("error" in b) throw new Error(b.error);
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) ports.push((st.connect({ remote: { addr: "10.0.0.1", port: 80 }, overrides }, i) as Connection).localPort);
    expect(ports).not.toContain(b.port);
    expect(st.connect({ remote: { addr: "10.0.0.1", port: 80 }, overrides }, 9)).toMatchObject({ error: "portsExhausted" });
  });
});
