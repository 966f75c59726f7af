// The `synack` command as a user runs it: exit codes, one-line usage errors, the JSON
// shape of docs/cli.md, and captures that tshark opens. Uses the simulated peer (no root);
// the kernel-backed variants are in test/lab/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMAND_SPECS } from "../../src/cli/commands.js";
import { ROOT, runCli } from "../helpers/cli.js";

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

/** One line on stderr, no stack trace, quotes balanced (Node's parseArgs text had an odd one). */
function oneClearLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect((lines[0]!.match(/"/g) ?? []).length % 2, stderr).toBe(0);
  expect((lines[0]!.replace(/\b'\b/g, "").match(/'/g) ?? []).length % 2, stderr).toBe(0);
}

describe("usage errors: exit 2 with one clear line on stderr", () => {
  const good = join(ROOT, "pcaps", "v4-refused.pcap");
  const cases: Array<[string[], RegExp]> = [
    [["connect"], /^synack connect: missing HOST:PORT/],
    [["connect", "10.0.0.1"], /has no ":port"/],
    [["connect", "10.0.0.1:80"], /choose where to connect/],
    [["connect", "10.0.0.1:80", "--sim", "--lab"], /--(sim|lab), --(sim|lab): choose one/],
    [["connect", "10.0.0.1:80", "--dev", "tun9"], /--dev needs --local ADDR/],
    [["connect", "10.0.0.1:80", "--sim", "--profile", "beos"], /unknown profile "beos"/],
    [["connect", "10.0.0.1:80", "--sim", "--syn-retries", "x"], /--syn-retries takes a whole number, not "x"/],
    [["connect", "10.0.0.1:80", "--sim", "--syn-retries", "-1"], /^synack connect: --syn-retries must be between 0 and 250, not -1$/m],
    [["connect", "10.0.0.1:80", "--sim", "--bogus"], /^synack connect: unknown option --bogus \(see synack connect --help\)$/m],
    [["connect", "10.0.0.1:80", "--sim", "--profil", "linux"], /unknown option --profil; did you mean --profile\?/],
    [["connect", "10.0.0.1:80", "--sim", "--pcap"], /--pcap needs a value \(FILE\)/],
    [["connect", "10.0.0.1:80", "--sim", "--pcap", "--json"], /--pcap needs a value \(FILE\); to give one that starts with "-", write --pcap=--json/],
    [["connect", "10.0.0.1:80", "--sim", "--json=yes"], /--json takes no value/],
    [["connect", "300.0.0.1:80", "--sim"], /bad address "300\.0\.0\.1:80"/],
    [["connect", "localhost:80", "--sim"], /"localhost:80": HOST must be an IP address .*synack does not resolve names/],
    [["connect", "fd00::1:80", "--sim"], /an IPv6 address must be written in brackets/],
    [["connect", "10.0.0.1:80", "--dev", "tun9", "--local", "fd00::2"], /--local fd00::2 is IPv6 but 10\.0\.0\.1:80 is IPv4: the address families differ/],
    [["connect", "[fd00::1]:80", "--sim", "--local", "10.0.0.2"], /is IPv4 but \[fd00::1\]:80 is IPv6: the address families differ/],
    [["connect", "10.0.0.1:80", "--sim", "--send", "a\\qb"], /--send: unknown escape "\\q"/],
    [["connect", "10.0.0.1:80", "10.0.0.2:80", "--sim"], /one HOST:PORT expected, got 2 arguments/],
    [["demo", "--pcap", "/nonexistent/x.pcapng"], /^synack demo: cannot write \/nonexistent\/x\.pcapng: its folder does not exist$/m],
    [["demo", "extra"], /unexpected argument "extra"/],
    [["replay"], /^synack replay: missing capture/],
    [["replay", join(ROOT, "README.md")], /^synack replay: \S*README\.md: unknown capture magic 0x[0-9a-f]+ at offset 0 \(not pcap or pcapng\)$/m],
    [["replay", "/nonexistent.pcap"], /^synack replay: \/nonexistent\.pcap: no such file$/m],
    [["replay", good, "--profile", "solaris"], /unknown profile "solaris"/],
    [["replay", good, "--json", "--summary"], /--json and --summary exclude each other/],
    [["diagram", good], /-o OUT\.html or -o OUT\.svg is required/],
    [["diagram", good, "-o", "x.png"], /must end in \.html or \.svg, not "x\.png"/],
    [["diagram", good, "-o", "/nonexistent/x.html"], /cannot write \/nonexistent\/x\.html: its folder does not exist/],
    [["diagram", good, "-o", "x.html", "--only", "2"], /--only 2: the capture has 1 active open/],
    [["conformance", "--ip", "5", good], /--ip must be 4, 6 or both, not "5"/],
    [["bench", "--runs", "0"], /--runs/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["help", "frobnicate"], /unknown command "frobnicate"/],
  ];
  for (const [args, re] of cases) {
    it(`synack ${args.join(" ")}`, async () => {
      const t0 = Date.now();
      const r = await runCli(args, { cwd: tmp });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
      oneClearLine(r.stderr);
      expect(r.stdout).toBe("");
      // Checked before anything runs: no scenario, no lab, no replay.
      expect(Date.now() - t0).toBeLessThan(10_000);
    });
  }
  it("the capture error names the offset once", async () => {
    const r = await runCli(["replay", "README.md"], { cwd: ROOT });
    expect(r.stderr.match(/offset/g)).toHaveLength(1);
  });
  it("synack with no command prints the overview on stderr and exits 2", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/synack connect HOST:PORT/);
  });
});

describe("--help: every subcommand lists each of its options on one line", () => {
  it("synack --help lists every subcommand", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const s of COMMAND_SPECS) expect(r.stdout).toMatch(new RegExp(`^  synack ${s.name}\\b`, "m"));
  });
  for (const spec of COMMAND_SPECS) {
    for (const how of [[spec.name, "--help"], [spec.name, "-h"], ["help", spec.name]]) {
      it(`synack ${how.join(" ")}`, async () => {
        const r = await runCli(how);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.stdout.split("\n")[0]).toBe(`usage: synack ${spec.name}${spec.args ? ` ${spec.args}` : ""}${spec.synopsis ? ` ${spec.synopsis}` : ""} [options]`);
        for (const o of [...spec.options, { name: "help", value: undefined, help: "print this help and exit" }]) {
          const line = r.stdout.split("\n").filter((l) => new RegExp(`^  (-\\w, |    )--${o.name}\\b`).test(l));
          expect(line, `--${o.name}`).toHaveLength(1);
          expect(line[0]).toContain(o.help);
          if (o.value) expect(line[0]).toContain(`--${o.name} ${o.value}`);
        }
        // Nothing points to a file the repository does not have.
        for (const m of r.stdout.matchAll(/\b((?:docs|device)\/[\w.-]+\.md)\b/g)) expect(existsSync(join(ROOT, m[1]!)), m[1]).toBe(true);
      });
    }
  }
  it("--help wins over other arguments, even bad ones", async () => {
    const r = await runCli(["connect", "--bogus", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: synack connect/);
    const b = await runCli(["connect", "10.0.0.1:80", "--sim", "--send", "--help"]);
    expect(b.code).toBe(0);
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
    expect(j.sidecar).toBe(join(tmp, "demo.json"));
    const side = JSON.parse(readFileSync(j.sidecar, "utf8"));
    expect(side.connections).toHaveLength(j.scenarios.length);
    // And so does `synack replay` on the demo's capture, connection by connection.
    const rep = await runCli(["replay", "--json", file]);
    expect(rep.code, rep.stdout).toBe(0);
    const doc = JSON.parse(rep.stdout);
    expect(doc.handshakes).toHaveLength(j.scenarios.length);
    for (const h of doc.handshakes) {
      expect(h.diffs.filter((d: { explained?: string }) => !d.explained), `${h.title}: ${JSON.stringify(h.diffs)}`).toEqual([]);
      expect(h.match).toBe(true);
    }
    expect(doc.handshakes.map((h: { title: string }) => h.title)).toEqual(j.scenarios.map((s: { title: string }) => s.title));
    // The demo's own diagram replays each connection the same way: nothing differs.
    expect(j.diagram).toBe(join(tmp, "demo.html"));
    expect(j.diagramDifferences).toBe(0);
  });

  it("explains each scenario once in words, and the terms once at the start; --quiet leaves the words out", async () => {
    const file = join(tmp, "demo2.pcapng");
    const r = await runCli(["demo", "--sim", "--pcap", file], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const text = r.stdout;
    const flat = text.replace(/\n\s*/g, " ");
    // The glossary: each term explained once.
    for (const [term, re] of [
      ["WSK", /WSK \(Winsock Kernel/g],
      ["IRP", /IRP \(I\/O request packet\)/g],
      ["NTSTATUS", /NTSTATUS, the 32-bit result code/g],
      ["IoCancelIrp", /cancels the IRP with IoCancelIrp/g],
    ] as const) expect(flat.match(re), term).toHaveLength(1);
    expect(flat.match(/does not believe the first RST: it sends the same SYN again \d+ ms after each RST/g)).toHaveLength(1);
    // One paragraph per scenario, after its status line.
    const blocks = text.split(/\n(?=\[\d+\] )/).slice(1);
    expect(blocks).toHaveLength(11);
    for (const b of blocks) {
      const lines = b.trim().split("\n");
      const st = lines.findIndex((l) => /^✔|^✘/.test(l));
      const para = lines.slice(st).filter((l) => /^  \S/.test(l));
      expect(para.length, b).toBeGreaterThan(0);
      expect(para.length, b).toBeLessThanOrEqual(6);
    }
    const q = await runCli(["demo", "--sim", "--quiet", "--pcap", file], { timeoutMs: 60_000 });
    expect(q.code).toBe(0);
    expect(q.stdout).not.toMatch(/Winsock Kernel|does not believe/);
    expect(q.stdout).toMatch(/\[11\] cancelled connect/);
  });
});

describe("colours: on a terminal or with FORCE_COLOR, never with NO_COLOR", () => {
  const esc = /\x1b\[\d+m/;
  const runs: Array<[string, string[]]> = [
    ["connect", ["connect", "10.0.0.1:80", "--sim"]],
    ["replay", ["replay", join(ROOT, "pcaps", "v4-refused.pcap")]],
    ["conformance", ["conformance", "--ip", "4", "--profile", "freebsd", join(tmp, "colour.pkt")]],
  ];
  writeFileSync(
    join(tmp, "colour.pkt"),
    "--ip_version=ipv4\n 0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)\n+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n+0.00 > S 0:0(0) <...>\n+0.00 close(3) = 0\n",
  );
  for (const [name, args] of runs) {
    it(name, async () => {
      const plain = await runCli(args, { env: { NO_COLOR: "" } });
      expect(plain.stdout, "a pipe is not a terminal").not.toMatch(esc);
      const forced = await runCli(args, { env: { NO_COLOR: "", FORCE_COLOR: "1" } });
      expect(forced.stdout).toMatch(esc);
      const no = await runCli(args, { env: { NO_COLOR: "1", FORCE_COLOR: "1" } });
      expect(no.stdout).not.toMatch(esc);
    });
  }
});
