// The benchmark harness keeps working (BENCHMARKS.md): a quick run of the engine-only benchmarks,
// the report's shape and formatting, skip/failure handling, and the CLI flags. No timing
// assertions: numbers only have to be positive and finite.
import { describe, expect, it } from "vitest";
import { BENCHMARKS, formatBenchReport, runBench, summarize, type Benchmark } from "../../src/bench/index.js";
import { benchCommand, parseBenchArgs } from "../../src/bench/cli.js";
import { handshakeLoop, SynAckPeer } from "../../src/bench/engine.js";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";

describe("bench harness (quick)", () => {
  it("runs the engine-only benchmarks and reports positive, finite numbers", async () => {
    const report = await runBench({ quick: true, only: ["engine", "memory", "checksum"], command: "test" });
    expect(report.benchmarks.map((b) => b.name)).toEqual(["engine", "memory", "checksum"]);
    expect(report.runs).toBe(1);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(Number.isNaN(Date.parse(report.date))).toBe(false);
    for (const b of report.benchmarks) {
      expect(b.status, `${b.name}: ${b.reason}`).toBe("ok");
      expect(b.metrics.length).toBeGreaterThan(0);
      for (const m of b.metrics) {
        expect(Number.isFinite(m.median), `${b.name}.${m.key}`).toBe(true);
        expect(m.min!).toBeLessThanOrEqual(m.median!);
        expect(m.median!).toBeLessThanOrEqual(m.max!);
        expect(m.samples).toHaveLength(1);
      }
    }
    const metric = (key: string) => report.benchmarks.flatMap((b) => b.metrics).find((m) => m.key === key);
    expect(metric("handshakesPerSec")!.median).toBeGreaterThan(0);
    expect(metric("handshakesPerSecReset")!.median).toBeGreaterThan(0);
    expect(metric("bytesPerPendingConnection")!.median).toBeGreaterThan(0);
    expect(metric("checksumGBps")!.median).toBeGreaterThan(0);
    expect(metric("timerOpRatio")!.ratio).toBe(true);

    const text = formatBenchReport(report);
    expect(text).toContain(`node:    ${process.version}`);
    expect(text).toContain("command: test");
    expect(text).toContain("2. Engine-only handshakes [engine]");
    expect(text).toMatch(/handshakes\/s, connections kept\s+1\/s\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+>= 500,000 (met|NOT met)/);
    expect(text).toMatch(/handshakes\/s, each reset after ESTABLISHED\s+1\/s\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+>= 500,000 (met|NOT met)/);
    expect(text).toContain("ratios (median):");
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  }, 120_000);

  it("reports a benchmark that cannot run as skipped and one that throws as failed, and runs the rest", async () => {
    let tornDown = false;
    const fake: Benchmark[] = [
      { name: "needs-root", section: 1, title: "t", measures: "m", unavailable: () => "needs root", run: async () => [] },
      {
        name: "broken",
        section: 4,
        title: "t",
        measures: "m",
        run: async () => {
          throw new Error("device vanished");
        },
        teardown: async () => {
          tornDown = true;
        },
      },
      { name: "fine", section: 2, title: "t", measures: "m", run: async () => [{ key: "x", label: "x", unit: "1/s", value: 5, target: { op: ">=", value: 3 } }] },
    ];
    const report = await runBench({ benchmarks: fake, runs: 3 });
    expect(report.benchmarks.map((b) => [b.name, b.status, b.reason])).toEqual([
      ["needs-root", "skipped", "needs root"],
      ["broken", "failed", "device vanished"],
      ["fine", "ok", undefined],
    ]);
    expect(tornDown).toBe(true);
    expect(report.benchmarks[2].metrics[0]).toMatchObject({ samples: [5, 5, 5], median: 5, meetsTarget: true });
    const text = formatBenchReport(report);
    expect(text).toContain("skipped: needs root");
    expect(text).toContain("failed: device vanished");
  });

  it("selects by name or section and rejects unknown names", async () => {
    expect(BENCHMARKS.map((b) => b.section)).toEqual([1, 2, 3, 4, 4, 5]);
    await expect(runBench({ only: ["nope"] })).rejects.toThrow(/no benchmark matches nope/);
  });

  it("summarizes runs into min, median and max per metric", () => {
    const s = summarize([[{ key: "a", label: "a", unit: "x", value: 3 }], [{ key: "a", label: "a", unit: "x", value: 1 }], [{ key: "a", label: "a", unit: "x", value: 10 }], [{ key: "a", label: "a", unit: "x", value: 2 }]]);
    expect(s).toEqual([{ key: "a", label: "a", unit: "x", ratio: false, samples: [3, 1, 10, 2], min: 1, median: 2.5, max: 10 }]);
  });

  it("parses the CLI flags", () => {
    expect(parseBenchArgs(["--quick", "--json", "--runs", "3", "--only", "engine,memory"])).toEqual({ quick: true, json: true, runs: 3, only: ["engine", "memory"] });
    expect(() => parseBenchArgs(["--runs", "0"])).toThrow(/positive integer/);
    expect(() => parseBenchArgs(["--fast"])).toThrow(/unknown option --fast/);
  });

  it("benchCommand exits 2 with a one-line reason on bad usage", async () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await benchCommand(["--runs", "x"])).toBe(2);
      expect(await benchCommand(["--only", "nope"])).toBe(2);
    } finally {
      process.stderr.write = orig;
    }
    expect(writes).toEqual(["synack bench: --runs: not a positive integer: x\n", expect.stringMatching(/^synack bench: no benchmark matches nope; names: connects, engine/)]);
  });
});

describe("engine benchmark peer", () => {
  it("answers a real SYN with a valid SYN-ACK that completes the handshake", () => {
    const stack = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(9), profile: "windows" });
    const c = stack.connect({ remote: { addr: "10.0.0.1", port: 443 } }, 0);
    if (!(c instanceof Connection)) throw new Error(c.detail);
    const [syn] = stack.poll(0);
    const sa = new SynAckPeer().answer(syn);
    const p = parsePacket(sa);
    if (!p.ok) throw new Error(p.reason); // checksums verified by the parser
    if (p.value.l4.kind !== "tcp") throw new Error("not tcp");
    const t = p.value.l4.tcp;
    expect(t.flags).toBe(TCP_SYN | TCP_ACK);
    expect(t.srcPort).toBe(443);
    expect(t.dstPort).toBe(c.localPort);
    expect(t.ack).toBe((c.iss + 1) >>> 0);
    stack.input(sa, 0.1);
    expect(c.state).toBe("ESTABLISHED");
    expect(stack.stats.rxDropped).toBe(0);
  });

  it("the measured loop completes every handshake it counts", () => {
    expect(handshakeLoop(3).run(200)).toBe(200);
    expect(handshakeLoop(4, true).run(130)).toBe(130);
  });
});
