// `synack connect --sim` as a user runs it (docs/cli.md): the JSON shape, the exit code, the
// options that shape the attempt (--cancel-after, --syn-retries, --initial-rto,
// --fail-on-icmp, --send), the human output and a capture that tshark opens. The simulated
// peer needs no root; how the connect, the data and the close each report their end is in
// test/cli/connect-steps.test.ts, the same command against the kernel in test/lab/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "synack-cli-connect-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasTshark = (() => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

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
  it("--send takes C escapes: \\r\\n are CR LF, \\xHH a byte, \\\\ a backslash", async () => {
    const r = await runCli(["connect", "10.0.0.1:80", "--sim", "--json", "--send", "GET /\\r\\n\\x41\\\\"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.received).toBe("GET /\r\nA\\");
    expect(j.receivedBytes).toBe(9);
    expect(j.segments.find((s: { len: number; dir: string }) => s.dir === "out" && s.len > 0).len).toBe(9);
    expect(j.send).toMatchObject({ status: "STATUS_SUCCESS", ok: true, detail: "9 bytes sent and acknowledged" });
    expect(j.close).toMatchObject({ status: "STATUS_SUCCESS", ok: true });
    expect(j.ok).toBe(true);
  });
  it("human output: timeline, then one line each for the connect, the send, the receiving and the close", async () => {
    const r = await runCli(["connect", "10.0.0.1:80", "--sim", "--send", "hi"]);
    expect(r.code).toBe(0);
    const tail = r.stdout.trim().split("\n").slice(-4);
    expect(tail[0]).toMatch(/^✔ connect STATUS_SUCCESS \(0x00000000\)  established after/);
    expect(tail[1]).toMatch(/^✔ send    STATUS_SUCCESS \(0x00000000\)  2 bytes sent and acknowledged$/);
    expect(tail[2]).toMatch(/^✔ receive 2 bytes, then the peer's FIN$/);
    expect(tail[3]).toMatch(/^✔ close   STATUS_SUCCESS \(0x00000000\)  FIN sent and acknowledged/);
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
