// The kernel differential rig (docs/kernel-diff.md): the analysis half (src/replay/kernel-diff.ts)
// on the kd-* fixtures and synthetic sidecars, and (as root, with scapy) the recording half
// end to end on two scenarios in namespaces it creates and deletes.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeCase, causeOf, classifySignature, errnoTimeFits, gsoArtefact, parseKernelDiffArgs, reportMarkdown, signatureOf, statusesForErrno, type KernelDiffSidecar } from "../../src/replay/kernel-diff.js";

const PCAPS = join(import.meta.dirname, "../../pcaps");

function sidecar(kind: string, answers: unknown[], connect = "ok", extra: Record<string, unknown> = {}): KernelDiffSidecar {
  return {
    name: "t",
    family: 4,
    kernelResult: { connect },
    scenario: { kind, answers: [answers], retx: "none", post: [], ...extra },
    sysctls: {},
    overrides: {},
  };
}

describe("kernel-diff analysis", () => {
  it("maps the kernel's connect() errno to the NTSTATUS values it can stand for", () => {
    expect(statusesForErrno("ok")).toContain("STATUS_SUCCESS");
    expect(statusesForErrno("ECONNREFUSED")).toEqual(["STATUS_CONNECTION_REFUSED", "STATUS_PORT_UNREACHABLE"]);
    expect(statusesForErrno("ETIMEDOUT")).toEqual(["STATUS_IO_TIMEOUT"]);
    expect(statusesForErrno("ENOPROTOOPT")).toEqual(["STATUS_PROTOCOL_UNREACHABLE"]);
    expect(statusesForErrno("EWHATEVER")).toBeUndefined();
  });

  it("signatures drop the numbers so equal behaviours group", () => {
    const a = signatureOf("rst", { t: 1, field: "missing", recorded: "S seq 0 len 0 at 9.1 ms", replayed: "not sent" });
    const b = signatureOf("rst", { t: 1, field: "missing", recorded: "S seq 0 len 0 at 312.7 ms", replayed: "not sent" });
    expect(a).toBe(b);
    expect(a).toBe("rst | missing | S seq N len N / not sent");
    expect(classifySignature(a).cls).toBe("unclassified");
    expect(classifySignature("paws-active-reject").cls).toBe("engine");
    expect(classifySignature("gso-capture").cls).toBe("artefact");
    // Named classes with a reason are not "unclassified" (that is for cases no rule knows).
    expect(classifySignature("fin-not-sent").cls).toBe("residue");
    expect(classifySignature("ts-ecr").cls).toBe("residue");
    expect(classifySignature("errno-latency").cls).toBe("residue");
    expect(classifySignature("send-pattern").cls).toBe("not understood");
    expect(classifySignature("close-time").cls).toBe("replay");
    expect(classifySignature("capture-cut").cls).toBe("artefact");
    expect(classifySignature("send-backlog-race").cls).toBe("artefact");
    for (const id of ["fin-not-sent", "ts-ecr", "errno-latency", "send-pattern", "close-time", "capture-cut", "send-backlog-race"]) expect(classifySignature(id).note).not.toBe("");
  });

  it("causes come from the scenario and the differences", () => {
    const paws = sidecar("synack", [{ a: "synack", ack: "ok", opts: [["Timestamp", ["TS", "past"]]] }], "ETIMEDOUT");
    expect(causeOf(paws, [{ t: 1, field: "outcome", recorded: "timeout", replayed: "established" }], false)?.id).toBe("paws-active-reject");
    const nxt = sidecar("icmp", [{ a: "icmp", type: 3, code: 1, quote: "nxt" }], "EHOSTUNREACH");
    expect(causeOf(nxt, [{ t: 1, field: "outcome", recorded: "unreachable", replayed: "timeout" }], false)?.id).toBe("icmp-quote-snd-nxt");
    // The same difference after an ICMP error quoting ISS is not explained by that rule.
    const ok = sidecar("icmp", [{ a: "icmp", type: 3, code: 1, quote: "ok" }], "EHOSTUNREACH");
    expect(causeOf(ok, [{ t: 1, field: "outcome", recorded: "unreachable", replayed: "timeout" }], false)).toBeUndefined();
    expect(causeOf(ok, [], true)?.id).toBe("gso-capture");
    const fin = sidecar("synack", [{ a: "synack", ack: "ok", fin: true, opts: [] }]);
    expect(causeOf(fin, [{ t: 1, field: "ack", recorded: "1", replayed: "2" }], false)?.id).toBe("synack-fin-data-ignored");
    // A missing data segment that repeats one sent 5.6 ms before: the kernel's tail loss
    // probe (kd-32-0304 frames 6-7); the same segment 200 ms later is not one.
    const plain = sidecar("synack", [{ a: "synack", ack: "ok", opts: [] }]);
    const sent = [{ t: 113.7, dir: "c2s" as const, kind: "tcp" as const, label: "P. seq 1449 ack 1 win 63 len 552 <TS>" }];
    const tlp = { t: 119.3, field: "missing", recorded: "P. seq 1449 ack 1 len 552 at 119.3 ms", replayed: "not sent" };
    expect(causeOf(plain, [tlp], false, sent)?.id).toBe("tail-loss-probe");
    expect(causeOf(plain, [{ ...tlp, t: 313.7 }], false, sent)?.id).not.toBe("tail-loss-probe");
    // Our probe retransmits the last segment where the kernel's sent new data: the replay
    // had not queued it (kd-32-0330: our 989 again at 36.0 ms, the kernel's 1065 at 38.3).
    const ours = [{ t: 29.9, dir: "c2s" as const, kind: "tcp" as const, label: "P. seq 989 ack 21 win 64 len 76 <TS>" }];
    const kernel = [{ t: 29.9, dir: "c2s" as const, kind: "tcp" as const, label: ". seq 989 ack 21 win 64 len 76 <TS>" }, { t: 38.3, dir: "c2s" as const, kind: "tcp" as const, label: ". seq 1065 ack 21 win 64 len 76 <TS>" }];
    const probe = { t: 36, field: "extra", recorded: "not sent", replayed: "P. seq 989 ack 21 len 76 at 36.0 ms" };
    expect(causeOf(plain, [probe], false, kernel, ours)?.id).toBe("tlp-new-data");
    expect(causeOf(plain, [probe], false, kernel.slice(0, 1), ours)?.id).toBe("tail-loss-probe");
    // Only the errno time differs, the kernel's later: the helper returned late.
    const refused = sidecar("rst", [{ a: "rst", ack: "ok" }], "ECONNREFUSED");
    expect(causeOf(refused, [{ t: 37, field: "errno-time", recorded: "connect() ECONNREFUSED after 37 ms", replayed: "STATUS_CONNECTION_REFUSED at 1 ms" }], false)?.id).toBe("errno-latency");
    // Only TSecr values differ.
    expect(causeOf(plain, [{ t: 5, field: "options", recorded: "nop,nop,TS val * ecr 126302350", replayed: "nop,nop,TS val * ecr 126302364" }], false)?.id).toBe("ts-ecr");
    // The capture's last packet, a second RTO retransmission of data sent before, missing
    // (kd-51-0423 frames 5, 6, 9): a timer at the replay's edge. Not when it is new data, or
    // not the last packet.
    const data = (t: number, seq: number, len: number) => ({ t, dir: "c2s" as const, kind: "tcp" as const, label: `P. seq ${seq} ack 1 win 63 len ${len} <TS>` });
    const edge = { t: 662.3, field: "missing", recorded: "P. seq 1 ack 1 len 100 at 662.3 ms", replayed: "not sent" };
    expect(causeOf(plain, [edge], false, [data(35.4, 1, 100), data(242.3, 1, 100), data(662.3, 1, 100)])?.id).toBe("timer-at-edge");
    expect(causeOf(plain, [edge], false, [data(35.4, 101, 100), data(662.3, 1, 100)])?.id).toBeUndefined();
    expect(causeOf(plain, [edge], false, [data(35.4, 1, 100), data(662.3, 1, 100), data(700, 101, 100)])?.id).toBeUndefined();
    // The kernel retransmits 512 bytes into a 1024-byte window, ours 1024 (kd-52-0306);
    // with a window of 64000 the rule does not apply.
    const half = [
      { t: 304.8, field: "missing", recorded: ". seq 1 ack 1 len 512 at 304.8 ms", replayed: "not sent" },
      { t: 304.0, field: "extra", recorded: "not sent", replayed: "P. seq 1 ack 1 len 1024 at 304.0 ms" },
    ];
    expect(causeOf(sidecar("synack", [{ a: "synack", ack: "ok", win: 1024, opts: [] }]), half, false)?.id).toBe("rexmit-half-window");
    expect(causeOf(sidecar("synack", [{ a: "synack", ack: "ok", win: 64000, opts: [] }]), half, false)?.id).toBeUndefined();
  });

  it("recording artefacts and replay limits found on seeds 31 and 42 (ladders as the captures show them)", () => {
    const c2s = (t: number, label: string) => ({ t, dir: "c2s" as const, kind: "tcp" as const, label });
    const s2c = (t: number, label: string) => ({ t, dir: "s2c" as const, kind: "tcp" as const, label });
    // kd-31-0383: a SYN-ACK after the client's abort is the capture's last packet; the server
    // logged the client's RST 0.4 ms after it, the capture has none; ours is "extra".
    const cutRec = [c2s(210.9, "R. seq 6 ack 2 win 64 <TS>"), s2c(535.4, "S. seq 0 ack 1 win 64000 <mss 1460>")];
    const cutDiff = [{ t: 535.4, field: "extra", recorded: "not sent", replayed: "R seq 1 len 0 at 535.4 ms" }];
    const cut = sidecar("synack", [{ a: "synack", ack: "ok", opts: [] }], "ok", {});
    cut.serverLog = ["612.1 client RST", "935.9 sent SA seq=0 ack=1 len=0", "936.3 client RST"];
    expect(causeOf(cut, cutDiff, false, cutRec)?.id).toBe("capture-cut");
    // Without the server's word that the client answered, it is not a capture fault.
    cut.serverLog = ["612.1 client RST", "935.9 sent SA seq=0 ack=1 len=0"];
    expect(causeOf(cut, cutDiff, false, cutRec)?.id).not.toBe("capture-cut");

    // kd-42-0151: out-of-order data at 33.819 ms, the kernel's 100 bytes at 33.849 without
    // SACK (sent under the socket lock), its ACK with SACK at 33.887; ours carries the block.
    const race = [
      s2c(27.6, "SP. seq 0 ack 1 win 64000 len 100 <mss 500,sackOK>"),
      s2c(33.819, "P. seq 1001 ack 1 win 64000 len 1400"),
      c2s(33.849, "P. seq 1 ack 1 win 64240 len 100"),
      c2s(33.887, ". seq 101 ack 1 win 65535 <sack>"),
    ];
    const sackDiff = [{ t: 33.849, field: "options", recorded: "none", replayed: "nop,nop,sack 1059707192-1059708592" }];
    const plain = sidecar("synack", [{ a: "synack", ack: "ok", opts: [] }]);
    expect(causeOf(plain, sackDiff, false, race)?.id).toBe("send-backlog-race");
    // The server segment 5 ms before the data: no race, no class.
    expect(causeOf(plain, sackDiff, false, [race[0]!, { ...race[1]!, t: 28.8 }, race[2]!, race[3]!])?.id).toBeUndefined();

    // kd-31-0239: zero window from the SYN-ACK, close() at 503.5 ms, the server's FIN at
    // 509.1, the kernel's FIN after it; data at 519.3 ACKed in TIME-WAIT, ours a RST.
    const held = sidecar("urg", [{ a: "synack", ack: "ok", win: 0, opts: [] }], "ok", {});
    held.kernelResult.actions = ["close(fin) at 503.5 ms"];
    const heldRec = [
      s2c(102.1, "S.U seq 0 ack 1 win 0 <sackOK,mss 536,ws 14>"),
      c2s(102.1, ". seq 1 ack 1 win 63"),
      s2c(509.1, "F. seq 1 ack 1 win 64000"),
      c2s(509.15, ". seq 1 ack 2 win 63"),
      c2s(509.16, "F. seq 1 ack 2 win 63"),
      s2c(519.3, "P. seq 2 ack 2 win 64000 len 50"),
    ];
    const rstDiff = [{ t: 519.3, field: "extra", recorded: "not sent", replayed: "R seq 2 len 0 at 519.3 ms" }];
    expect(causeOf(held, rstDiff, false, heldRec)?.id).toBe("close-time");
    // An open window: the FIN would have gone at close(); not this class.
    expect(causeOf(held, rstDiff, false, heldRec.map((x, i) => (i === 0 ? { ...x, label: x.label.replace("win 0", "win 64000") } : x)))?.id).not.toBe("close-time");

    // kd-31-0254: our probe at the RTO's time (768.0 ms) repeats the 1024 bytes sent at 248.3;
    // the kernel's probe at 796.2 sent the next 464 bytes, which the replay had not queued.
    const kernel = [c2s(78.9, "P. seq 1 ack 1 win 63 len 512"), c2s(248.3, "P. seq 513 ack 1401 win 66 len 1024"), c2s(796.2, "P. seq 1537 ack 1401 win 66 len 464")];
    const ours = [c2s(78.9, "P. seq 1 ack 1 win 63 len 512"), c2s(248.3, "P. seq 513 ack 1401 win 63 len 1024"), c2s(768.0, "P. seq 513 ack 1401 win 63 len 1024"), c2s(796.2, "P. seq 1537 ack 1401 win 63 len 464")];
    const late = [{ t: 768.0, field: "extra", recorded: "not sent", replayed: "P. seq 513 ack 1401 len 1024 at 768.0 ms" }];
    expect(causeOf(plain, late, false, kernel, ours)?.id).toBe("tlp-new-data");
    // The kernel's new data two granules (64 ms) after our probe: not explained by it.
    expect(causeOf(plain, late, false, [kernel[0]!, kernel[1]!, c2s(840, "P. seq 1537 ack 1401 win 66 len 464")], ours)?.id).toBeUndefined();
  });

  it("the errno time: never before our decision; later only with no server packet after it (the helper returned late)", () => {
    const rst = { t: 1.2, dir: "s2c" as const, kind: "tcp" as const, label: "R. seq 1 ack 1 win 0 len 0" };
    // kd-32-0337: RST at 1 ms, ECONNREFUSED after 37 ms, nothing after the RST.
    expect(errnoTimeFits(37.4, 1.2, 20.7, "ECONNREFUSED", [rst])).toBe("late");
    expect(errnoTimeFits(10, 1.2, 20.2, "ECONNREFUSED", [rst])).toBe("fits");
    // Reported before we decided: a difference however small the capture.
    expect(errnoTimeFits(300, 340, 26, "ECONNREFUSED", [rst])).toBe("differs");
    // A server packet between our decision and the kernel's errno may have decided it there.
    const icmp = { t: 80, dir: "s2c" as const, kind: "icmp" as const, label: "ICMP 3/1" };
    expect(errnoTimeFits(81, 1.2, 21.6, "EHOSTUNREACH", [rst, icmp])).toBe("differs");
    // A give-up is a timer's: errnoTimeTolerance covers it, lateness is not assumed.
    expect(errnoTimeFits(7300, 7100, 166, "ETIMEDOUT", [])).toBe("differs");
  });

  it("a fixture that matches has no differences and no GSO artefact", () => {
    const c = analyzeCase(join(PCAPS, "kd-v4-synack-ack-iss.pcap"));
    expect(c.error).toBeUndefined();
    expect(c.match).toBe(true);
    expect(c.kernel).toBe("ok");
    expect(gsoArtefact(join(PCAPS, "kd-v4-synack-ack-iss.pcap"))).toBeUndefined();
  });

  it("a fixed gap (syn-giveup-time) now matches, the kernel's errno and its time included", () => {
    // Was the engine gap `syn-giveup-time` (ETIMEDOUT at 3 s, ours at 7 s); the linux profile
    // now models tcp_model_timeout, so the errno-time check passes.
    const c = analyzeCase(join(PCAPS, "kd-v4-syn-giveup-time.pcap"));
    expect(c.error).toBeUndefined();
    expect(c.match).toBe(true);
    expect(c.diffs.some((d) => d.field === "errno-time")).toBe(false);
    const md = reportMarkdown({ dir: "x", scenarios: 1, matched: 0, mismatched: 1, errors: 0, lateReturns: [], byKind: { silence: { total: 1, matched: 0 } }, signatures: [{ signature: "syn-giveup-time", cls: "engine", note: "n", count: 1, examples: [c.name] }], cases: [c] });
    expect(md).toContain("| engine | 1 | `syn-giveup-time` | kd-v4-syn-giveup-time | n |");
  });
});

// The recorder needs root (namespaces), tcpdump, nft and scapy in /usr/bin/python3.
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasScapy = isRoot && spawnSync("/usr/bin/python3", ["-c", "import scapy"]).status === 0;
const hasTools = ["tcpdump", "nft", "taskset"].every((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0);
const skipWhy = !isRoot ? "not root (needs network namespaces)" : !hasScapy ? "python3-scapy missing in /usr/bin/python3" : !hasTools ? "tcpdump/nft/taskset missing" : "";

describe("kernel-diff command line", () => {
  it("bad arguments give one line, not a stack trace; --help is not a directory", () => {
    expect(parseKernelDiffArgs(["--help"])).toMatchObject({ help: true });
    expect(parseKernelDiffArgs(["d", "--json", "o.json", "--md", "o.md", "--verbose"])).toEqual({ dir: "d", json: "o.json", md: "o.md", verbose: true, help: false });
    expect(parseKernelDiffArgs([])).toBe("no recording directory given");
    expect(parseKernelDiffArgs(["d", "--json"])).toBe("--json needs a file name");
    expect(parseKernelDiffArgs(["d", "--md", "--verbose"])).toBe("--md needs a file name");
    expect(parseKernelDiffArgs(["d", "--bogus"])).toBe("unknown option --bogus");
    expect(parseKernelDiffArgs(["a", "b"])).toBe("one recording directory at a time (got a and b)");
  });
});

describe("kernel-diff recorder (root)", () => {
  it.skipIf(skipWhy !== "")(`records two scenarios with the kernel client and removes its namespaces${skipWhy ? ` [skipped: ${skipWhy}]` : ""}`, () => {
    const out = mkdtempSync(join(tmpdir(), "synack-kd-test-"));
    try {
      // Scenarios 74 and 75 of seed 7 (a RST+ACK acknowledging the SYN; a bare ACK with ACK = ISS).
      const log = execFileSync("/usr/bin/python3", [join(PCAPS, "kernel_diff.py"), "record", "--seed", "7", "--start", "74", "--count", "2", "--out", out], { encoding: "utf8", timeout: 60_000 });
      expect(log).toContain("recorded 2 scenario(s)");
      const files = readdirSync(out).sort();
      expect(files).toEqual(["kd-7-0074.json", "kd-7-0074.pcap", "kd-7-0075.json", "kd-7-0075.pcap"]);
      const side = JSON.parse(readFileSync(join(out, "kd-7-0074.json"), "utf8")) as KernelDiffSidecar;
      // Scenario 74: the server answers the SYN with RST+ACK acknowledging it: refused.
      expect(side.kernelResult.connect).toBe("ECONNREFUSED");
      const c = analyzeCase(join(out, "kd-7-0074.pcap"));
      expect(c.recordedOutcome).toBe("refused");
      expect(c.match).toBe(true);
      // Its namespaces are gone.
      const m = /namespaces (\S+) (\S+)/.exec(log);
      expect(m).not.toBeNull();
      const ns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[0]);
      expect(ns).not.toContain(m![1]);
      expect(ns).not.toContain(m![2]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 90_000);
  it("the recorder script exists", () => {
    expect(existsSync(join(PCAPS, "kernel_diff.py"))).toBe(true);
  });
});
