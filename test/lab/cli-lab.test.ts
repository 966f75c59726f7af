// The command line against the real kernel: `connect --dev` on a TUN someone else created
// with `ip tuntap add` inside a namespace, `connect --lab`, and the full `demo`. Root only.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Lab, startKernelEcho } from "../../src/lab/lab.js";
import { createNetns, deleteNetns, ip, netnsExec } from "../../device/netns.js";
import { BIN, ROOT, runCli } from "../helpers/cli.js";

const why = Lab.unavailableReason();
const tmp = mkdtempSync(join(tmpdir(), "synack-clilab-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(why !== undefined)(`synack CLI on the real kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  it("connect --dev NAME --local ADDR on a TUN created and configured with ip tuntap in a namespace", async () => {
    const ns = `synack-t-dev-${process.pid}`;
    createNetns(ns);
    const echo = await startKernelEcho(ns, [7]);
    try {
      ip(["tuntap", "add", "dev", "tunx0", "mode", "tun"], ns);
      ip(["addr", "add", "10.98.0.1/24", "dev", "tunx0"], ns);
      ip(["link", "set", "tunx0", "up"], ns);
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn("ip", ["netns", "exec", ns, process.execPath, BIN, "connect", "10.98.0.1:7", "--dev", "tunx0", "--local", "10.98.0.2", "--send", "over a user's TUN", "--json"]);
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("close", (code) => resolve({ code, stdout, stderr }));
      });
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
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn("ip", ["netns", "exec", A, process.execPath, BIN, "connect", "10.87.0.1:7", "--raw", "rawa0", "--local", "10.87.0.2", "--send", "raw!", "--json", "--profile", "linux"]);
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("close", (code) => resolve({ code, stdout, stderr }));
      });
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

  it("demo: every scenario on the real kernel ends with its expected NTSTATUS in under 30 s; the pcapng opens in tshark", async () => {
    const file = join(tmp, "demo.pcapng");
    const t0 = Date.now();
    const r = await runCli(["demo", "--json", "--pcap", file], { timeoutMs: 60_000 });
    const secs = (Date.now() - t0) / 1000;
    expect(r.stderr).toBe("");
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe("kernel");
    for (const s of j.scenarios) expect({ title: s.title, status: s.status }).toEqual({ title: s.title, status: s.expected });
    expect(r.code).toBe(0);
    expect(secs).toBeLessThan(30);
    expect(existsSync(file)).toBe(true);
    const frames = execFileSync("tshark", ["-r", file, "-T", "fields", "-e", "frame.comment"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(frames).toMatch(/\[1\] IPv4 connect/);
    expect(frames).toMatch(/\[11\] cancelled connect/);
    // No namespace left behind.
    const left = await new Promise<string>((res) => {
      const c = spawn("ip", ["netns", "list"]);
      let s = "";
      c.stdout.on("data", (d) => (s += d));
      c.on("close", () => res(s));
    });
    expect(j.namespace).toMatch(/^synack-lab-/);
    expect(left.split("\n").map((l) => l.split(" ")[0])).not.toContain(j.namespace);
  }, 90_000);
});
