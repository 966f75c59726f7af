// The command line against the real kernel: `connect --dev` on a TUN someone else created
// with `ip tuntap add` inside a namespace, `connect --lab`, and the full `demo`. Root only.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Lab, startKernelEcho } from "../../src/lab/lab.js";
import { createNetns, deleteNetns, ip, netnsExec } from "../../device/netns.js";
import { BIN, ROOT, runCli } from "../helpers/cli.js";
import { misplacedNotes, pinnedCount, type PinRow } from "../helpers/timeline-pins.js";

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

  it("connect --lab --lab-peer closed: windows sends 5 SYNs, 500 ms after each RST, refused at about 2.0 s; windows7 3 SYNs, about 1.0 s", async () => {
    const w = await runCli(["connect", "10.94.0.1:9", "--lab", "--lab-peer", "closed", "--json"]);
    expect(w.stderr).toBe("");
    expect(w.code).toBe(1);
    const j = JSON.parse(w.stdout);
    expect(j).toMatchObject({ status: "STATUS_CONNECTION_REFUSED", outcome: "refused", profile: "windows", synsSent: 5 });
    expect(j.elapsedMs).toBeGreaterThan(1990);
    expect(j.elapsedMs).toBeLessThan(2400);
    // Each SYN after the first goes 500 ms (timer slack: under 100 ms) after the RST before it.
    const segs: Array<{ t: number; dir: string; flags?: string }> = j.segments;
    for (let i = 1; i < segs.length; i++) {
      if (segs[i]!.dir !== "out" || segs[i]!.flags !== "S") continue;
      const gap = segs[i]!.t - segs[i - 1]!.t;
      expect(segs[i - 1]!.flags).toBe("R.");
      expect(gap).toBeGreaterThanOrEqual(499);
      expect(gap).toBeLessThan(600);
    }
    const w7 = JSON.parse((await runCli(["connect", "10.94.0.1:9", "--lab", "--lab-peer", "closed", "--json", "--profile", "windows7"])).stdout);
    expect(w7).toMatchObject({ status: "STATUS_CONNECTION_REFUSED", synsSent: 3 });
    expect(w7.elapsedMs).toBeGreaterThan(990);
    expect(w7.elapsedMs).toBeLessThan(1300);
    expect(w7.segments.filter((x: { flags?: string }) => x.flags === "S").map((x: { options: string }) => x.options)).toEqual(["mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,wscale 2,nop,nop,sackOK", "mss 1460,nop,nop,sackOK"]);
  });

  it("connect --lab --lab-peer blackhole --syn-retries 2: SYNs at 0, 1, 3 s, STATUS_IO_TIMEOUT at about 7.0 s", async () => {
    const r = await runCli(["connect", "10.94.1.1:80", "--lab", "--lab-peer", "blackhole", "--syn-retries", "2", "--json"]);
    expect(r.stderr).toBe("");
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "STATUS_IO_TIMEOUT", synsSent: 3 });
    const syns = j.segments.filter((x: { flags?: string }) => x.flags === "S").map((x: { t: number }) => x.t - j.segments[0].t);
    [0, 1000, 3000].forEach((t, i) => expect(Math.abs(syns[i] - t)).toBeLessThan(100));
    expect(j.elapsedMs).toBeGreaterThan(6990);
    expect(j.elapsedMs).toBeLessThan(7300);
    expect(j.segments.some((x: { dir: string }) => x.dir === "in")).toBe(false);
  });

  it("connect --lab --lab-peer unreachable / prohibit: the kernel's ICMP errors, ignored by windows, fatal for linux", async () => {
    const l = JSON.parse((await runCli(["connect", "10.94.2.1:80", "--lab", "--lab-peer", "unreachable", "--json", "--profile", "linux"])).stdout);
    expect(l.status).toBe("STATUS_HOST_UNREACHABLE");
    const p = JSON.parse((await runCli(["connect", "[fd94::1]:80", "--lab", "--lab-peer", "prohibit", "--json", "--profile", "linux"])).stdout);
    expect(p.status).toBe("STATUS_HOST_UNREACHABLE");
    const w = JSON.parse((await runCli(["connect", "10.94.2.1:80", "--lab", "--lab-peer", "unreachable", "--json", "--initial-rto", "100", "--syn-retries", "1"])).stdout);
    expect(w.status).toBe("STATUS_IO_TIMEOUT");
    expect(w.segments.filter((x: { icmp?: string }) => x.icmp)).toHaveLength(2);
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
    // Every note of every scenario's timeline on the packet, timer or call it belongs to
    // (the kernel's IPv6 neighbour discovery on the same TUN included).
    for (const sc of j.scenarios) {
      const rows: PinRow[] = [
        ...sc.segments.map((x: { icmp?: string; dir: "in" | "out"; flags?: string; len?: number; decision: string; t: number }) => ({ kind: x.icmp ? "icmp" : "tcp", ...x })),
        ...sc.events,
      ];
      expect(misplacedNotes(rows), sc.title).toEqual([]);
      expect(pinnedCount(rows), sc.title).toBeGreaterThanOrEqual(2);
      expect(rows.some((x) => /icmpv6 not for us/.test(x.decision)), sc.title).toBe(false);
    }
    // The demo's diagram, and synack replay on its capture: replayed with the demo's own
    // settings, no difference is left unexplained.
    expect(j.diagramDifferences).toBe(0);
    const rep = await runCli(["replay", "--json", file]);
    const doc = JSON.parse(rep.stdout);
    const open = doc.handshakes.filter((h: { match: boolean }) => !h.match);
    expect(open.map((h: { title: string; diffs: unknown }) => `${h.title}: ${JSON.stringify(h.diffs)}`)).toEqual([]);
    expect(rep.code).toBe(0);
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

  it("connect --send to kernel servers that reset: STATUS_SUCCESS for the connect, the data's failure reported, exit 1", async () => {
    const ns = `synack-t-rst-${process.pid}`;
    createNetns(ns);
    // A kernel listener that closes with SO_LINGER 0 (a RST) as soon as data arrives.
    const server = spawn("ip", ["netns", "exec", ns, "python3", "-c", RESET_SERVER], { stdio: ["pipe", "pipe", "pipe"] });
    try {
      await new Promise<void>((res, rej) => {
        server.stdout.on("data", (d) => String(d).includes("ready") && res());
        server.on("exit", (c) => rej(new Error(`reset server exited ${c}`)));
      });
      ip(["tuntap", "add", "dev", "tunr0", "mode", "tun"], ns);
      ip(["addr", "add", "10.96.0.1/24", "dev", "tunr0"], ns);
      ip(["link", "set", "tunr0", "up"], ns);
      const run = (args: string[]) =>
        new Promise<{ code: number | null; stdout: string }>((resolve) => {
          const c = spawn("ip", ["netns", "exec", ns, process.execPath, BIN, ...args]);
          let stdout = "";
          c.stdout.on("data", (d) => (stdout += d));
          c.on("close", (code) => resolve({ code, stdout }));
        });
      // Port 7 reads the data (the kernel acknowledges it), then resets: the send succeeded,
      // the receiving ends with the reset.
      const j = await run(["connect", "10.96.0.1:7", "--dev", "tunr0", "--local", "10.96.0.2", "--send", "hello\\n", "--json"]);
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout), j.stdout).toMatchObject({ status: "STATUS_SUCCESS", ok: false, send: { ok: true }, receive: { status: "STATUS_CONNECTION_RESET", ok: false }, close: { ok: false } });
      const h = await run(["connect", "10.96.0.1:7", "--dev", "tunr0", "--local", "10.96.0.2", "--send", "hello\\n"]);
      expect(h.code).toBe(1);
      expect(h.stdout).toMatch(/^✔ connect STATUS_SUCCESS/m);
      expect(h.stdout).toMatch(/^✘ receive STATUS_CONNECTION_RESET \(0xC000020D\)  0 bytes, then STATUS_CONNECTION_RESET/m);
      // Port 8: a firewall rule drops our data (segments with PSH), and the server resets
      // 300 ms after it accepts: the data is never acknowledged, the send fails.
      netnsExec(ns, "nft", ["-f", "-"], { input: "table inet t {\n chain in {\n  type filter hook input priority 0;\n  tcp dport 8 tcp flags & psh == psh drop\n }\n}\n" });
      const k = await run(["connect", "10.96.0.1:8", "--dev", "tunr0", "--local", "10.96.0.2", "--send", "hello", "--json"]);
      expect(k.code).toBe(1);
      expect(JSON.parse(k.stdout), k.stdout).toMatchObject({ status: "STATUS_SUCCESS", ok: false, send: { status: "STATUS_CONNECTION_RESET", ok: false } });
    } finally {
      server.kill("SIGTERM");
      deleteNetns(ns);
    }
  });

  // Ctrl-C at three moments of each command's life: before any namespace exists (Node still
  // loading), as soon as the lab namespace appears (set-up under way), and 200 ms later (the
  // TUN, the kernel's listener or the connection; both commands run at least 500 ms past
  // that point). The moments are observed, not guessed from delays since the start, so a
  // loaded machine moves them but cannot skip them.
  for (const [name, args] of [
    ["connect --lab", ["connect", "10.95.0.1:7", "--lab", "--send", "x"]],
    ["demo", ["demo", "--quiet", "--pcap", join(tmp, "int.pcapng")]],
  ] as const) {
    it(`SIGINT during ${name} set-up leaves no namespace behind`, async () => {
      for (const moment of ["early", "namespace", "namespace+200ms"] as const) {
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
        const mine = `synack-lab-${child.pid}-`;
        child.stdout.resume();
        const closed = new Promise<[number | null, string | null]>((r) => child.on("close", (c, s) => r([c, s])));
        let exited = false;
        void closed.then(() => (exited = true));
        let sawNamespace = false;
        let appeared = 0;
        const deadline = Date.now() + 60_000;
        for (;;) {
          const ours = listNamespaces().some((n) => n.startsWith(mine));
          if (ours && !sawNamespace) appeared = Date.now();
          if (ours) sawNamespace = true;
          if (exited || Date.now() > deadline) break;
          if (moment === "early" || (moment === "namespace" && ours) || (sawNamespace && Date.now() - appeared >= 200)) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        expect(exited, `${name} finished before the ${moment} moment could be observed`).toBe(false);
        if (moment !== "early") expect(sawNamespace, `the lab namespace existed at the ${moment} moment`).toBe(true);
        child.kill("SIGINT");
        const [code, sig] = await closed;
        // 130 from our handler; killed by the signal itself only before the handler exists
        // (while Node loads the modules, before any namespace).
        expect(code === 130 || (sig === "SIGINT" && !sawNamespace), `exit ${code}/${sig} after SIGINT at the ${moment} moment`).toBe(true);
        expect(listNamespaces().filter((n) => n.startsWith(mine)), `SIGINT at the ${moment} moment`).toEqual([]);
      }
    }, 180_000);
  }
});

/** Named network namespaces (read from /var/run/netns: cheap enough to poll every 5 ms). */
function listNamespaces(): string[] {
  try {
    return readdirSync("/var/run/netns");
  } catch {
    return [];
  }
}

// Port 7: read, then close with SO_LINGER 0 (a RST); port 8: the same 300 ms after accept.
const RESET_SERVER = `
import select, socket, struct, time
ls = []
for port in (7, 8):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(8)
    ls.append(s)
print("ready", flush=True)
while True:
    r, _, _ = select.select(ls, [], [])
    for s in r:
        c, _ = s.accept()
        if s.getsockname()[1] == 7:
            c.recv(100)
        else:
            time.sleep(0.3)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
`;
