// The packetdrill runner (issue 7): PICKS.md, the target folders of the FreeBSD suite, the
// regression list of expected passes, the generated docs/conformance.md, and the runner's
// own behaviour on small inline scripts (these need no ../shared).
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { runScript, type ConformanceReport } from "../../src/conformance/runner.js";
import { conformanceMarkdown, picks, runTargets, simultaneousOpen } from "../../src/conformance/report.js";
import { conformanceCommand } from "../../src/conformance/cli.js";
import { CONFORMANCE_DIR, haveSuites } from "./suite-helpers.js";

const SKIP_REASON = "../shared/conformance is absent: the public packetdrill suites are not available";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXPECTED_PASSES = join(ROOT, "test/conformance/expected-passes.json");
const DOC = join(ROOT, "docs/conformance.md");
const UPDATE = process.env.SYNACK_UPDATE_DOCS === "1";

/**
 * Target scripts that fail today, each with why. Every other target must pass or be a skip
 * naming a missing feature. Keys are "path (ipvN)" relative to ../shared/conformance.
 */
const EXPECTED_FAILURES: Record<string, string> = {
  // PICKS.md #31: the negative control; a runner that passes it is broken.
  "google-packetdrill/gtests/net/packetdrill/tests/packet-timeout.pkt (ipv4)": "negative control",
  "google-packetdrill/gtests/net/packetdrill/tests/packet-timeout.pkt (ipv6)": "negative control",
};
// Fixed since: data on the crossing SYN of a simultaneous open is queued until ESTABLISHED
// (rcv-syn-with-data-syn-sent, rcv-syn-fin-with-data-syn-sent-dropping-disabled; profile knob
// simOpenSynText), and the freebsd profile checks sequence numbers against its whole receive
// buffer, 65700 after tcp_mss() rounding (the right-edge RST scripts; knob rcvWndFromBuffer).

const key = (s: { path: string; ip: number }) => `${s.path} (ipv${s.ip})`;

describe.skipIf(!haveSuites)(`PICKS.md: 30 pass, #31 fails (${haveSuites ? "suites present" : SKIP_REASON})`, () => {
  const list = haveSuites ? picks(CONFORMANCE_DIR) : [];
  it("PICKS.md lists 31 scripts", () => {
    expect(list.length).toBe(31);
    expect(list[30]).toMatch(/packet-timeout\.pkt$/);
  });
  list.forEach((rel, i) => {
    const n = i + 1;
    for (const ip of [4, 6] as const) {
      it(`#${n} ${rel} (ipv${ip})`, () => {
        const r = runScript(join(CONFORMANCE_DIR, rel), { ip });
        if (r.result === "skip" && /runs only in IPv/.test(r.reason ?? "")) return; // the script is fixed to the other family
        if (n === 31) {
          expect(r.result).toBe("fail");
          expect(r.reason).toMatch(/Timed out waiting for packet/);
          expect(r.line).toBe(13);
        } else {
          expect({ result: r.result, reason: r.reason, line: r.line, expected: r.expected, actual: r.actual }).toEqual({ result: "pass", reason: undefined, line: undefined, expected: undefined, actual: undefined });
        }
      });
    }
  });
});

describe.skipIf(!haveSuites)(`target folders (snd-syn, *syn-sent*, rcv-icmp, simultaneous open) (${haveSuites ? "suites present" : SKIP_REASON})`, () => {
  let rep: ConformanceReport;
  let wallMs = 0;
  beforeAll(() => {
    const t0 = performance.now();
    rep = runTargets(CONFORMANCE_DIR);
    wallMs = performance.now() - t0;
  });

  it("runs every target in virtual time, fast (the 450 s scripts included)", () => {
    expect(rep.scripts.length).toBeGreaterThan(200);
    expect(wallMs).toBeLessThan(30_000);
    const long = rep.scripts.find((s) => s.path.endsWith("snd-syn-rtx-max-number-ipv6.pkt"));
    expect(long?.result).toBe("pass");
  });

  it("no script that passed before fails now (test/conformance/expected-passes.json)", () => {
    const passes = rep.scripts.filter((s) => s.result === "pass").map(key).sort();
    if (UPDATE) writeFileSync(EXPECTED_PASSES, JSON.stringify(passes, null, 2) + "\n");
    const expected: string[] = JSON.parse(readFileSync(EXPECTED_PASSES, "utf8"));
    expect(expected.length).toBeGreaterThan(140);
    const now = new Set(passes);
    const regressions = expected.filter((k) => !now.has(k)).map((k) => {
      const s = rep.scripts.find((x) => key(x) === k);
      return `${k}: ${s ? `${s.result} ${s.reason ?? ""} line ${s.line ?? ""}` : "not run"}`;
    });
    expect(regressions).toEqual([]);
  });

  it("every failure is a known, explained one; every skip names what is missing", () => {
    const unexplained = rep.scripts.filter((s) => s.result === "fail" && !(key(s) in EXPECTED_FAILURES)).map((s) => `${key(s)}: ${s.reason} line ${s.line}`);
    expect(unexplained).toEqual([]);
    for (const s of rep.scripts.filter((x) => x.result === "skip")) expect(s.reason ?? "").toMatch(/not (supported|implemented)|unknown sysctl/);
    // The negative control really fails.
    expect(rep.scripts.filter((s) => s.path.endsWith("packet-timeout.pkt")).map((s) => s.result)).toEqual(["fail", "fail"]);
  });

  it("docs/conformance.md is the generated matrix (SYNACK_UPDATE_DOCS=1 regenerates it)", () => {
    const md = conformanceMarkdown(rep, { picks: picks(CONFORMANCE_DIR), simultaneous: simultaneousOpen(CONFORMANCE_DIR) }) + "\n";
    if (UPDATE) writeFileSync(DOC, md);
    expect(existsSync(DOC)).toBe(true);
    expect(readFileSync(DOC, "utf8")).toBe(md);
  });
});

// ---------------------------------------------------------------------------------------
// The runner itself, on inline scripts (named as FreeBSD / Google suite files so the suite
// profile applies; no ../shared needed).

const FB = "freebsd-tcp-testsuite/inline/test-ipv4.pkt";
const FB_HEAD = `--ip_version=ipv4
--tolerance_usecs=50000
 0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
`;

describe("runner semantics", () => {
  it("a FreeBSD SYN, refused by RST+ACK: pass", () => {
    const r = runScript(
      FB_HEAD +
        `+0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0.10 < R. 0:0(0) ack 1 win 0
+0.00 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0.00 close(3) = 0
`,
      { ip: 4, path: FB },
    );
    expect(r).toEqual({ result: "pass" });
  });

  it("reports the first mismatch with its line and readable expected/actual", () => {
    const r = runScript(FB_HEAD + `+0.00 > S 0:0(0) win 65535 <mss 1400,nop,wscale 6,sackOK,TS val 100 ecr 0>\n`, { ip: 4, path: FB });
    expect(r.result).toBe("fail");
    expect(r.line).toBe(7);
    expect(r.reason).toContain("options mismatch");
    expect(r.expected).toBe("> S 0:0(0) win 65535 <mss 1400,nop,wscale 6,sackOK,TS val 100 ecr 0>");
    expect(r.actual).toMatch(/^> S 0:0\(0\) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val \d+ ecr 0>$/);
  });

  it("checks times against the tolerance: a SYN retransmission expected too early fails", () => {
    const r = runScript(FB_HEAD + `+0.00 > S 0:0(0) <...>\n+0.50 > S 0:0(0) <...>\n`, { ip: 4, path: FB });
    expect(r.result).toBe("fail");
    expect(r.reason).toMatch(/timing error.*sent at 1\.000000 s/);
    expect(r.line).toBe(8);
  });

  it("a packet that never comes: Timed out waiting for packet", () => {
    const r = runScript(FB_HEAD + `+0.00 > S 0:0(0) <...>\n+0.00 close(3) = 0\n+0.10 > S 0:0(0) <...>\n`, { ip: 4, path: FB });
    expect(r).toMatchObject({ result: "fail", reason: "Timed out waiting for packet", line: 9 });
  });

  it("wrong syscall results and SO_ERROR values fail", () => {
    const r = runScript(FB_HEAD + `+0.00 > S 0:0(0) <...>\n+0.10 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n`, { ip: 4, path: FB });
    expect(r).toMatchObject({ result: "fail", line: 8 });
    expect(r.reason).toMatch(/SO_ERROR returned value 0, expected ECONNREFUSED/);
  });

  it("an unknown sysctl is a skip naming it; TFO and listen/accept are skips", () => {
    expect(runScript(` 0.00 \`sysctl -w net.inet.tcp.frobnicate=1\`\n` + FB_HEAD.replace(/^--.*\n/gm, ""), { ip: 4, path: FB })).toMatchObject({
      result: "skip",
      reason: "unknown sysctl net.inet.tcp.frobnicate",
    });
    const tfo = runScript(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendto(3, ..., 1000, MSG_FASTOPEN, ..., ...) = 1000\n+0 > S 0:1000(1000) <mss 1460,FO,nop,nop>\n`, { ip: 4, path: "google-packetdrill/x/tfo.pkt" });
    expect(tfo.result).toBe("skip");
    expect(tfo.reason).toMatch(/Fast Open/);
    const listen = runScript(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3, 1) = 0\n`, { ip: 4, path: "google-packetdrill/x/l.pkt" });
    expect(listen).toMatchObject({ result: "skip", reason: "needs listen/accept (passive open), not implemented" });
  });

  it("a blocking connect must return at the scripted time (Linux suite, IPv6 with the runner's MTU 1520)", () => {
    const script = (ret: string) => `\`../common/defaults.sh\`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+.1...${ret} connect(3, ..., ...) = 0
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,nop,nop,sackOK>
+0 > . 1:1(0) ack 1
+.1 close(3) = 0
`;
    expect(runScript(script("0.200"), { ip: 6, path: "google-packetdrill/x/b.pkt" })).toEqual({ result: "pass" });
    const late = runScript(script("0.150"), { ip: 6, path: "google-packetdrill/x/b.pkt" });
    expect(late.result).toBe("fail");
    expect(late.reason).toMatch(/blocking connect\(\) expected to return at 0\.150000 s.*returned at 0\.200000 s/);
  });

  it("tcp_info asserts are evaluated; unknown python is listed as unchecked, never as checked", () => {
    const base = FB_HEAD + `+0.00 > S 0:0(0) <...>\n`;
    expect(runScript(base + `+0.00 %{ assert tcpi_state == TCPI_SYN_SENT }%\n`, { ip: 4, path: FB })).toEqual({ result: "pass" });
    const bad = runScript(base + `+0.00 %{ assert tcpi_state == TCPI_ESTABLISHED }%\n`, { ip: 4, path: FB });
    expect(bad).toMatchObject({ result: "fail", line: 8 });
    const odd = runScript(base + `+0.00 %{ print(tcpi_rtt) }%\n`, { ip: 4, path: FB });
    expect(odd.result).toBe("pass");
    expect(odd.unchecked?.[0]).toMatch(/line 8/);
  });
});

describe("synack conformance CLI", () => {
  const run = async (args: string[]) => {
    let out = "";
    let err = "";
    const code = await conformanceCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
    return { code, out, err };
  };

  it("usage errors: one line on stderr, exit 2", async () => {
    for (const args of [[], ["--ip", "5", "x.pkt"], ["--profile", "solaris", "x.pkt"], ["/nonexistent/dir"], ["--bogus"]]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n").length).toBe(1);
      expect(r.err).toMatch(/^synack conformance: /);
    }
  });

  it("human and JSON output; exit 0 when nothing failed, 1 otherwise", async () => {
    const dir = mkdtempSync(join(tmpdir(), "synack-conf-"));
    try {
      const good = join(dir, "good.pkt");
      const bad = join(dir, "bad.pkt");
      writeFileSync(good, FB_HEAD + `+0.00 > S 0:0(0) <...>\n+0.00 close(3) = 0\n`);
      writeFileSync(bad, FB_HEAD + `+0.00 > S. 0:0(0) <...>\n`);
      const h = await run([good, "--ip", "4", "--profile", "freebsd"]);
      expect(h.code).toBe(0);
      expect(h.out).toContain(`PASS ${good} (ipv4)`);
      expect(h.out.trim().split("\n").pop()).toBe("1 passed, 0 failed, 0 skipped");
      const j = await run([dir, "--json", "--ip", "both", "--profile", "freebsd"]);
      expect(j.code).toBe(1);
      const rep = JSON.parse(j.out);
      expect(Object.keys(rep).sort()).toEqual(["failed", "passed", "scripts", "skipped"]);
      expect(rep.passed).toBe(1);
      expect(rep.failed).toBe(1);
      const b = rep.scripts.find((s: { path: string }) => s.path === bad);
      expect(b).toMatchObject({ ip: 4, result: "fail", line: 7 });
      expect(b.reason).toMatch(/flags mismatch: expected S\., got S/);
      const m = await run([good, "--markdown", "--profile", "freebsd"]);
      expect(m.out).toContain("| folder | pass | fail | skip |");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
