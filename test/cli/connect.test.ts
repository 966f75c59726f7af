// `synack connect --sim` as a user runs it (docs/cli.md): the JSON shape, the exit code, the
// options that shape the attempt (--cancel-after, --syn-retries, --initial-rto,
// --fail-on-icmp, --send), the human output and a capture that tshark opens. The simulated
// peer needs no root; the same command on the real kernel (--dev on a TUN someone else made,
// --raw across a veth pair, --lab) runs as root, in namespaces the tests create. How the
// connect, the data and the close each report their end is in test/cli/connect-steps.test.ts.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, runCliInNetns } from "../helpers/cli.js";
import { withLoopLag } from "../helpers/lag.js";
import { Lab, startKernelEcho } from "../../src/lab/lab.js";
import { openStack } from "../../src/index.js";
import { createNetns, deleteNetns, ip, netnsExec } from "../../device/netns.js";

const why = Lab.unavailableReason();
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
    expect(j.local).toMatch(/^10\.99\.0\.2:\d+$/);
    expect(typeof j.elapsedMs).toBe("number");
    expect(j.segments[0]).toMatchObject({ dir: "out", flags: "S", seq: 0, ack: 0, win: 64240, options: "mss 1460,nop,wscale 8,nop,nop,sackOK" });
    expect(j.segments[1]).toMatchObject({ dir: "in", flags: "S.", seq: 0, ack: 1 });
  });
  it("IPv6 with the linux profile", async () => {
    const r = await runCli(["connect", "[fd00::1]:443", "--sim", "--json", "--profile", "linux"]);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe("STATUS_SUCCESS");
    expect(j.remote).toBe("[fd00::1]:443");
    expect(j.local).toMatch(/^\[fd99::2\]:\d+$/);
    expect(j.segments[0].options).toMatch(/^mss 1440,sackOK,TS val \d+ ecr 0,nop,wscale 7$/);
  });
  it("the same simulated network as openStack({ sim: true }): the stack at its addresses, the host at 10.99.0.1 echoing on 7", async () => {
    const net = await openStack({ sim: true });
    const own = net.addresses.map((a) => a.split("/")[0]);
    await net.close();
    const v4 = JSON.parse((await runCli(["connect", "10.99.0.1:7", "--sim", "--json", "--send", "same net"])).stdout);
    const v6 = JSON.parse((await runCli(["connect", "[fd99::1]:7", "--sim", "--json"])).stdout);
    expect([v4.local.replace(/:\d+$/, ""), v6.local.replace(/^\[(.*)\]:\d+$/, "$1")]).toEqual(own);
    expect(v4).toMatchObject({ status: "STATUS_SUCCESS", received: "same net" });
    expect(v6.status).toBe("STATUS_SUCCESS");
    const self = await runCli(["connect", `${own[0]}:80`, "--sim"]);
    expect(self.code).toBe(2);
    expect(self.stderr).toBe(`synack connect: --sim: ${own[0]} is the stack's own address on the simulated network; connect to another (the simulated host is 10.99.0.1)\n`);
  });
  it("--cancel-after on a black-holed address: STATUS_CANCELLED after the delay, exit 1", async () => {
    const r = await runCli(["connect", "10.99.1.1:80", "--sim", "--json", "--cancel-after", "200"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_CANCELLED", ntstatus: "0xC0000120", outcome: "cancelled", synsSent: 1 });
    expect(j.elapsedMs).toBeGreaterThanOrEqual(195);
  });
  it("--syn-retries/--initial-rto on a black-holed address: STATUS_IO_TIMEOUT at the configured time", async () => {
    // --sim runs on real time in the child: timers fire late on a loaded machine, never
    // early. The upper bounds add the event-loop lag measured here meanwhile (a proxy for the
    // child's, test/helpers/lag.ts) to a fixed slack, once per timer waited for.
    const { result: r, lagMs } = await withLoopLag(() => runCli(["connect", "10.99.1.1:80", "--sim", "--json", "--initial-rto", "100", "--syn-retries", "1"]));
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_IO_TIMEOUT", outcome: "timeout", synsSent: 2 });
    // The retransmission 100 ms after the SYN (the configured RTO), by the stack's own clock.
    const gap = j.segments[1].t - j.segments[0].t;
    expect(gap).toBeGreaterThanOrEqual(99);
    expect(gap, `event-loop lag ${lagMs} ms`).toBeLessThan(125 + lagMs);
    // Then twice that before giving up: 300 ms in all.
    expect(j.elapsedMs).toBeGreaterThanOrEqual(295);
    expect(j.elapsedMs, `event-loop lag ${lagMs} ms`).toBeLessThan(375 + 2 * lagMs);
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

describe.skipIf(why !== undefined)(`synack connect on the real kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  it("connect --dev NAME --local ADDR on a TUN created and configured with ip tuntap in a namespace", async () => {
    const ns = `synack-t-dev-${process.pid}`;
    createNetns(ns);
    const echo = await startKernelEcho(ns, [7]);
    try {
      ip(["tuntap", "add", "dev", "tunx0", "mode", "tun"], ns);
      ip(["addr", "add", "10.98.0.1/24", "dev", "tunx0"], ns);
      ip(["link", "set", "tunx0", "up"], ns);
      const out = await runCliInNetns(ns, ["connect", "10.98.0.1:7", "--dev", "tunx0", "--local", "10.98.0.2", "--send", "over a user's TUN", "--json"]);
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
      const j = JSON.parse(out.stdout);
      expect(j).toMatchObject({ status: "STATUS_SUCCESS", remote: "10.98.0.1:7", received: "over a user's TUN" });
      expect(j.local).toMatch(/^10\.98\.0\.2:/);
      // The device still exists after the command (it belonged to the user).
      expect(netnsExec(ns, "ip", ["link", "show", "tunx0"])).toMatch(/tunx0/);
    } finally {
      echo.kill("SIGTERM");
      deleteNetns(ns);
    }
  });

  it("connect --raw IFNAME --local ADDR across a veth pair to a kernel listener in a second namespace", async () => {
    const A = `synack-t-rawa-${process.pid}`;
    const B = `synack-t-rawb-${process.pid}`;
    createNetns(A);
    createNetns(B);
    const echo = await startKernelEcho(B, [7]);
    try {
      ip(["link", "add", "rawa0", "type", "veth", "peer", "name", "rawb0", "netns", B], A);
      ip(["addr", "add", "10.87.0.2/24", "dev", "rawa0"], A);
      ip(["addr", "add", "10.87.0.1/24", "dev", "rawb0"], B);
      ip(["link", "set", "rawa0", "up"], A);
      ip(["link", "set", "rawb0", "up"], B);
      const out = await runCliInNetns(A, ["connect", "10.87.0.1:7", "--raw", "rawa0", "--local", "10.87.0.2", "--send", "raw!", "--json", "--profile", "linux"]);
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ status: "STATUS_SUCCESS", remote: "10.87.0.1:7", received: "raw!" });
      // The RST filter was removed again when the device closed.
      expect(netnsExec(A, "nft", ["list", "ruleset"])).not.toMatch(/synack/);
    } finally {
      echo.kill("SIGTERM");
      deleteNetns(A);
      deleteNetns(B);
    }
  });

  it("connect --lab: IPv4 and IPv6 to a kernel listener at HOST:PORT, success with echo", async () => {
    const a = await runCli(["connect", "10.97.0.1:7", "--lab", "--json", "--send", "lab"]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ status: "STATUS_SUCCESS", received: "lab" });
    const b = await runCli(["connect", "[fd97::1]:7", "--lab", "--json", "--profile", "linux"]);
    expect(JSON.parse(b.stdout)).toMatchObject({ status: "STATUS_SUCCESS" });
    expect(JSON.parse(b.stdout).segments[0].options).toMatch(/^mss 1440,/);
  });

  it("connect --lab --lab-peer closed: windows sends 5 SYNs, 500 ms after each RST, refused at about 2.0 s; windows7 3 SYNs, about 1.0 s", async () => {
    // Timers fire late on a loaded machine, never early: the lower bounds are exact, the
    // upper ones add to a fixed slack the event-loop lag measured here meanwhile (a proxy for
    // the child's, test/helpers/lag.ts), once per timer or answer waited for.
    const { result: w, lagMs } = await withLoopLag(() => runCli(["connect", "10.94.0.1:9", "--lab", "--lab-peer", "closed", "--json"]));
    expect(w.stderr).toBe("");
    expect(w.code).toBe(1);
    const j = JSON.parse(w.stdout);
    expect(j).toMatchObject({ status: "STATUS_CONNECTION_REFUSED", outcome: "refused", profile: "windows", synsSent: 5 });
    expect(j.elapsedMs).toBeGreaterThan(1990);
    expect(j.elapsedMs, `event-loop lag ${lagMs} ms`).toBeLessThan(2400 + 9 * lagMs);
    // Each SYN after the first goes 500 ms after the RST before it (the stack's own clock).
    const segs: Array<{ t: number; dir: string; flags?: string }> = j.segments;
    const gaps: number[] = [];
    for (let i = 1; i < segs.length; i++) {
      if (segs[i]!.dir !== "out" || segs[i]!.flags !== "S") continue;
      expect(segs[i - 1]!.flags).toBe("R.");
      gaps.push(segs[i]!.t - segs[i - 1]!.t);
    }
    expect(gaps).toHaveLength(4);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(499);
      expect(gap, `gaps ${gaps.join(", ")}; event-loop lag ${lagMs} ms`).toBeLessThan(600 + lagMs);
    }
    const { result: r7, lagMs: lag7 } = await withLoopLag(() => runCli(["connect", "10.94.0.1:9", "--lab", "--lab-peer", "closed", "--json", "--profile", "windows7"]));
    const w7 = JSON.parse(r7.stdout);
    expect(w7).toMatchObject({ status: "STATUS_CONNECTION_REFUSED", synsSent: 3 });
    expect(w7.elapsedMs).toBeGreaterThan(990);
    expect(w7.elapsedMs, `event-loop lag ${lag7} ms`).toBeLessThan(1300 + 5 * lag7);
    expect(w7.segments.filter((x: { flags?: string }) => x.flags === "S").map((x: { options: string }) => x.options)).toEqual(["mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,nop,sackOK"]);
  });

  it("connect --lab --lab-peer blackhole --syn-retries 2: SYNs at 0, 1, 3 s, STATUS_IO_TIMEOUT at about 7.0 s", async () => {
    const { result: r, lagMs } = await withLoopLag(() => runCli(["connect", "10.94.1.1:80", "--lab", "--lab-peer", "blackhole", "--syn-retries", "2", "--json"]));
    expect(r.stderr).toBe("");
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_IO_TIMEOUT", synsSent: 3 });
    const syns = j.segments.filter((x: { flags?: string }) => x.flags === "S").map((x: { t: number }) => x.t - j.segments[0].t);
    // Each retransmission is timed from the one before: the i-th SYN carries up to i lags.
    [0, 1000, 3000].forEach((t, i) => {
      expect(syns[i]).toBeGreaterThan(t - 100);
      expect(syns[i], `SYN ${i}; event-loop lag ${lagMs} ms`).toBeLessThan(t + 100 + i * lagMs);
    });
    expect(j.elapsedMs).toBeGreaterThan(6990);
    expect(j.elapsedMs, `event-loop lag ${lagMs} ms`).toBeLessThan(7300 + 3 * lagMs);
    expect(j.segments.some((x: { dir: string }) => x.dir === "in")).toBe(false);
  });

  it("connect --lab --lab-peer unreachable / prohibit: the kernel's ICMP errors, ignored by windows, fatal for linux", async () => {
    const l = JSON.parse((await runCli(["connect", "10.94.2.1:80", "--lab", "--lab-peer", "unreachable", "--json", "--profile", "linux"])).stdout);
    expect(l.status).toBe("STATUS_HOST_UNREACHABLE");
    const p = JSON.parse((await runCli(["connect", "[fd94::1]:80", "--lab", "--lab-peer", "prohibit", "--json", "--profile", "linux"])).stdout);
    expect(p.status).toBe("STATUS_HOST_UNREACHABLE");
    // Two SYNs 250 ms apart and 500 ms after the second before the timeout: each one's ICMP
    // error is read (and ignored) long before that, also on a loaded machine.
    const w = JSON.parse((await runCli(["connect", "10.94.2.1:80", "--lab", "--lab-peer", "unreachable", "--json", "--initial-rto", "250", "--syn-retries", "1"])).stdout);
    expect(w.status).toBe("STATUS_IO_TIMEOUT");
    expect(w.synsSent).toBe(2);
    const errors = w.segments.filter((x: { icmp?: string }) => x.icmp);
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(e.decision).toMatch(/ignored/);
  });

});
