// The `synack` command as a user runs it: exit codes, one-line usage errors, the JSON
// shape of docs/cli.md, and captures that tshark opens. Uses the simulated peer (no root);
// the kernel-backed variants are in test/lab/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "synack-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasTshark = (() => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("usage errors: exit 2 with one line on stderr, no stack trace", () => {
  const cases: Array<[string[], RegExp]> = [
    [["connect"], /missing HOST:PORT/],
    [["connect", "10.0.0.1"], /has no ":port"|port/],
    [["connect", "10.0.0.1:80"], /choose where to connect/],
    [["connect", "10.0.0.1:80", "--sim", "--lab"], /mutually exclusive/],
    [["connect", "10.0.0.1:80", "--dev", "tun9"], /needs --local/],
    [["connect", "10.0.0.1:80", "--sim", "--profile", "beos"], /unknown profile "beos"/],
    [["connect", "10.0.0.1:80", "--sim", "--syn-retries", "x"], /whole number/],
    [["connect", "10.0.0.1:80", "--sim", "--bogus"], /Unknown option '--bogus'/],
    [["connect", "300.0.0.1:80", "--sim"], /bad address/],
    [["connect", "10.0.0.1:80", "--dev", "tun9", "--local", "fd00::2"], /different address families/],
    [["frobnicate"], /unknown command "frobnicate"/],
  ];
  for (const [args, re] of cases) {
    it(`synack ${args.join(" ")}`, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
  it("--help prints usage and exits 0", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/synack connect HOST:PORT/);
  });
});

describe("synack connect --sim", () => {
  it("--json: one object in the shape of docs/cli.md, exit 0 on success, data echoed with --send", async () => {
    const r = await runCli(["connect", "10.0.0.1:80", "--sim", "--json", "--send", "ping"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(["status", "ntstatus", "outcome", "profile", "local", "remote", "elapsedMs", "synsSent", "segments", "received"]));
    expect(j).toMatchObject({ status: "STATUS_SUCCESS", ntstatus: "0x00000000", outcome: "established", profile: "windows", remote: "10.0.0.1:80", synsSent: 1, received: "ping" });
    expect(j.local).toMatch(/^10\.99\.5\.2:\d+$/);
    expect(typeof j.elapsedMs).toBe("number");
    expect(j.segments[0]).toMatchObject({ dir: "out", flags: "S", seq: 0, ack: 0, win: 64240, options: "mss 1460,nop,wscale 8,nop,nop,sackOK" });
    expect(j.segments[1]).toMatchObject({ dir: "in", flags: "S.", seq: 0, ack: 1 });
  });
  it("IPv6 with the linux profile", async () => {
    const r = await runCli(["connect", "[fd00::1]:443", "--sim", "--json", "--profile", "linux"]);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe("STATUS_SUCCESS");
    expect(j.remote).toBe("[fd00::1]:443");
    expect(j.segments[0].options).toMatch(/^mss 1440,sackOK,TS val \d+ ecr 0,nop,wscale 7$/);
  });
  it("--cancel-after on a black-holed address: STATUS_CANCELLED after the delay, exit 1", async () => {
    const r = await runCli(["connect", "10.99.1.1:80", "--sim", "--json", "--cancel-after", "200"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_CANCELLED", ntstatus: "0xC0000120", outcome: "cancelled", synsSent: 1 });
    expect(j.elapsedMs).toBeGreaterThanOrEqual(195);
  });
  it("--syn-retries/--initial-rto on a black-holed address: STATUS_IO_TIMEOUT at the configured time", async () => {
    const r = await runCli(["connect", "10.99.1.1:80", "--sim", "--json", "--initial-rto", "100", "--syn-retries", "1"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_IO_TIMEOUT", outcome: "timedOut", synsSent: 2 });
    expect(j.segments.map((s: { t: number }) => Math.round(s.t / 100) * 100)).toEqual([0, 100]);
    expect(j.elapsedMs).toBeGreaterThanOrEqual(295);
    expect(j.elapsedMs).toBeLessThan(600);
  });
  it("--fail-on-icmp with the windows profile: ICMP host unreachable fails at once", async () => {
    const r = await runCli(["connect", "10.99.2.1:80", "--sim", "--json", "--fail-on-icmp"]);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_HOST_UNREACHABLE", ntstatus: "0xC000023D", outcome: "unreachable" });
  });
  it("human output: timeline and the final status line", async () => {
    const r = await runCli(["connect", "10.0.0.1:80", "--sim"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/simulated peer/);
    expect(r.stdout).toMatch(/--> S +0 +0 +64240/);
    expect(r.stdout).toMatch(/STATUS_SUCCESS \(0x00000000\)/);
    expect(r.stdout).not.toMatch(/\x1b\[/); // NO_COLOR
  });
  it.skipIf(!hasTshark)("--pcap writes a pcapng that tshark opens, with the decisions as comments", async () => {
    const file = join(tmp, "c.pcapng");
    const r = await runCli(["connect", "10.0.0.1:80", "--sim", "--pcap", file, "--send", "x"]);
    expect(r.code).toBe(0);
    expect(existsSync(file)).toBe(true);
    const flags = execFileSync("tshark", ["-r", file, "-T", "fields", "-e", "tcp.flags.str"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(flags.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(4);
    const comments = execFileSync("tshark", ["-r", file, "-T", "fields", "-e", "frame.comment"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(comments).toMatch(/send SYN/);
    expect(comments).toMatch(/RFC 9293/);
  });
});

describe("synack demo --sim", () => {
  it("runs every scenario against the simulated peer, says so, and every status is the expected one", async () => {
    const file = join(tmp, "demo.pcapng");
    const r = await runCli(["demo", "--sim", "--json", "--pcap", file], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe("simulated");
    expect(j.scenarios.length).toBeGreaterThanOrEqual(10);
    for (const s of j.scenarios) expect({ title: s.title, status: s.status }).toEqual({ title: s.title, status: s.expected });
    expect(existsSync(file)).toBe(true);
  });
});
