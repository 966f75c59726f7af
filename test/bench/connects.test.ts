// The connects benchmark keeps measuring the stack and says when it did not: the C
// listener, the namespace's counters, the INVALID verdict for a run whose SYNs the listener
// dropped, the peers' output parsing and skip reasons. No timing assertions: numbers only
// have to be there (or be marked invalid with a reason).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatBenchReport, runBench, summarize } from "../../src/bench/index.js";
import { ConnectLab, listenerSkipReason } from "../../src/bench/connects.js";
import { counterDelta, dropReason, parseNetDev, parseSnmpPairs } from "../../src/bench/kernel-counters.js";
import { parsePeerOutput, peerInvalidReason, peerSkipReason } from "../../src/bench/peers.js";
import { parseBenchArgs } from "../../src/bench/cli.js";
import { labSkipReason } from "../../src/bench/lab.js";

const labWhy = labSkipReason() ?? listenerSkipReason();

describe("connects benchmark: counters and verdicts", () => {
  it("parses /proc/net/snmp and /proc/net/netstat pairs into nstat's names", () => {
    const text = "Tcp: RtoAlgorithm ActiveOpens RetransSegs\nTcp: 1 12 3\nTcpExt: ListenOverflows ListenDrops\nTcpExt: 4 5\n";
    expect(parseSnmpPairs(text)).toEqual({ TcpRtoAlgorithm: 1, TcpActiveOpens: 12, TcpRetransSegs: 3, TcpExtListenOverflows: 4, TcpExtListenDrops: 5 });
  });

  it("parses /proc/net/dev drops per interface", () => {
    const text =
      "Inter-|   Receive                                                |  Transmit\n" +
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
      "sbtun1: 1000 10 0 2 0 0 0 0 2000 20 0 7 0 0 0 0\n";
    expect(parseNetDev(text)).toEqual({ "sbtun1.rxPackets": 10, "sbtun1.rxDropped": 2, "sbtun1.txPackets": 20, "sbtun1.txDropped": 7 });
  });

  it("calls a run invalid for listen drops or TUN drops, not for retransmissions alone", () => {
    const d = counterDelta({ TcpExtListenDrops: 3, TcpRetransSegs: 0 }, { TcpExtListenDrops: 5, TcpExtListenOverflows: 2, TcpRetransSegs: 4 });
    expect(dropReason(d)).toBe("TcpExtListenOverflows 2, TcpExtListenDrops 2");
    expect(dropReason({ TcpRetransSegs: 4, "t.txDropped": 0 }, "t")).toBeUndefined();
    expect(dropReason({ "t.txDropped": 3 }, "t")).toBe("t txDropped 3 (kernel to stack)");
  });

  it("leaves invalid runs out of the summary and prints INVALID instead of a number", () => {
    const s = summarize([
      [{ key: "r", label: "rate", unit: "1/s", value: 100, invalid: "TcpExtListenDrops 9" }],
      [{ key: "r", label: "rate", unit: "1/s", value: 50 }],
    ]);
    expect(s[0]).toMatchObject({ samples: [50], median: 50, invalid: ["TcpExtListenDrops 9"] });
    const none = summarize([[{ key: "q", label: "ratio", unit: "x", value: 7, ratio: true, invalid: "drops", target: { op: ">=", value: 1 } }]]);
    expect(none[0]).toMatchObject({ samples: [], min: null, median: null, max: null, invalid: ["drops"] });
    expect(none[0].meetsTarget).toBeUndefined();
    const text = formatBenchReport({
      machine: { cpu: "c", cores: 2, node: "v", v8: "v", kernel: "k", platform: "linux", arch: "x64", totalMemBytes: 1 },
      date: "d",
      command: "c",
      runs: 1,
      quick: true,
      benchmarks: [{ name: "connects", section: 1, title: "t", measures: "m", status: "ok", metrics: none, notes: [], elapsedMs: 1 }],
    });
    expect(text).toContain("INVALID (every run)");
    expect(text).toContain("INVALID run: drops");
    expect(text).toContain("ratio: INVALID (no valid run)");
    expect(text).not.toMatch(/ratio: 7/);
  });

  it("parses a peer harness's JSON line, CPU and kernel counters", () => {
    const r = parsePeerOutput(
      "lwip",
      'build output\n{"peer":"lwip","connects_per_s":28155,"completed":28160,"failed":0,"seconds":1.000,"in_flight":64}\n',
      "lwip 2.1.3: started 28224, ... = 16.5 us per completed connect\nkernel side: TcpPassiveOpens=28160 TcpRetransSegs=0 TcpExtListenOverflows=3 TcpExtListenDrops=3 \n",
    );
    expect(r).toMatchObject({ peer: "lwip", completed: 28160, failed: 0, elapsedMs: 1000, perSec: 28160, cpuUsPerConnect: 16.5 });
    expect(r.kernel).toEqual({ TcpPassiveOpens: 28160, TcpRetransSegs: 0, TcpExtListenOverflows: 3, TcpExtListenDrops: 3 });
    expect(peerInvalidReason(r)).toBe("TcpExtListenOverflows 3, TcpExtListenDrops 3");
    expect(() => parsePeerOutput("gvisor", "", "gvisor: build failed\n")).toThrow("gvisor: no JSON line on stdout (stderr: gvisor: build failed)");
  });

  describe("peer skip reasons", () => {
    const saved = process.env["SYNACK_PEERS_DIR"];
    afterEach(() => {
      if (saved === undefined) delete process.env["SYNACK_PEERS_DIR"];
      else process.env["SYNACK_PEERS_DIR"] = saved;
    });
    it("names the missing folder, and unknown peers", () => {
      const empty = mkdtempSync(join(tmpdir(), "synack-peers-"));
      try {
        process.env["SYNACK_PEERS_DIR"] = empty;
        expect(peerSkipReason("lwip")).toBe(`${empty}/peer not found (the peers' harnesses live in ../shared/peers beside the checkout, or set SYNACK_PEERS_DIR)`);
        writeFileSync(join(empty, "peer"), "#!/bin/sh\n");
        expect(peerSkipReason("quic")).toMatch(/^unknown peer 'quic'/);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });
  });

  it("parses --peers and --seconds", () => {
    expect(parseBenchArgs(["--peers", "lwip", "--seconds", "2"])).toEqual({ quick: false, json: false, peers: ["lwip"], seconds: 2 });
    expect(parseBenchArgs(["--peers", "none"]).peers).toEqual([]);
    expect(() => parseBenchArgs(["--peers", "quic"])).toThrow("--peers: unknown peer quic (use lwip, gvisor or none)");
    expect(() => parseBenchArgs(["--seconds", "0.5"])).toThrow(/whole number of seconds/);
  });
});

describe.skipIf(labWhy !== undefined)(`connects benchmark over TUN${labWhy ? ` (skipped: ${labWhy})` : ""}`, () => {
  it("reports a run whose listener dropped SYNs as INVALID, with the kernel's counters", async () => {
    // A listener that never accepts, backlog 1: its accept queue is full after two
    // handshakes and the kernel drops every later SYN (TcpExtListenOverflows).
    const lab = await ConnectLab.open({ backlog: 1, mode: "hold" });
    try {
      const r = await lab.synack(400, { drainMs: 200 });
      expect(r.kernel["TcpExtListenOverflows"]).toBeGreaterThan(0);
      expect(r.invalid).toMatch(/TcpExtListenOverflows \d+/);
    } finally {
      await lab.close();
    }
  });

  it("runs synack and Node's net.connect against the C listener (quick) and reports each with its counters", async () => {
    const report = await runBench({ quick: true, only: ["connects"], peers: [], seconds: 1, command: "test" });
    const b = report.benchmarks[0];
    expect(b.status, b.reason).toBe("ok");
    const m = (key: string) => b.metrics.find((x) => x.key === key);
    for (const key of ["synackConnectsPerSec", "synackTwoQueuesConnectsPerSec", "nodeConnectsPerSec", "connectRatio", "twoQueuesRatio"]) {
      const s = m(key)!;
      // A number, or INVALID with the counters that say why: never both missing.
      if (s.median === null) expect(s.invalid!.length).toBeGreaterThan(0);
      else expect(s.median).toBeGreaterThan(0);
    }
    expect(m("synackSetupDrops")!.samples).toHaveLength(1);
    expect(m("synackRetransmits")!.samples).toHaveLength(1);
    expect(m("synackConnectFailures")!.median).toBe(0);
    // The variant on a TUN with two queues, a writer thread each, ran too.
    expect(m("synackTwoQueuesConnectFailures")!.median).toBe(0);
    // The system part of synack's CPU per connect is reported beside the whole, and is part of it.
    for (const [all, sys] of [["synackCpuUsPerConnect", "synackSysUsPerConnect"], ["synackOneThreadCpuUsPerConnect", "synackOneThreadSysUsPerConnect"], ["synackTwoQueuesCpuUsPerConnect", "synackTwoQueuesSysUsPerConnect"]]) {
      const whole = m(all);
      if (whole === undefined || whole.median === null) continue; // no connect completed, or INVALID: the rate above says why
      expect(m(sys)!.median).toBeGreaterThan(0);
      expect(m(sys)!.median!).toBeLessThanOrEqual(whole.median);
    }
    // So is the JavaScript thread's part, with the writer thread(s) beside it.
    for (const [all, js] of [["synackCpuUsPerConnect", "synackJsThreadUsPerConnect"], ["synackTwoQueuesCpuUsPerConnect", "synackTwoQueuesJsThreadUsPerConnect"]]) {
      const whole = m(all);
      if (whole === undefined || whole.median === null) continue;
      expect(m(js)!.median).toBeGreaterThan(0);
      expect(m(js)!.median!).toBeLessThanOrEqual(whole.median);
    }
    expect(b.notes.filter((n) => n.startsWith("connects: peer") || n.startsWith("connects: no peer"))).toEqual(["connects: no peer run (--peers none)"]);
    expect(formatBenchReport(report)).toContain("synack run: listen drops + TUN drops");
  }, 60_000);
});
