// What every `synack` command shares, as a user runs it (docs/cli.md): a usage error is exit
// 2 and one clear line on stderr, checked before anything runs; --help lists each option on
// one line; colours only on a terminal or with FORCE_COLOR, never with NO_COLOR. Each
// command's own behaviour is in its file beside this one (connect, demo, replay, ...).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMAND_SPECS } from "../../src/cli/commands.js";
import { ROOT, runCli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "synack-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
    [["connect", "10.0.0.1:80", "--sim", "--syn-retries", "9"], /^synack connect: --syn-retries 9: the windows profile takes at most 8 \(SIO_TCP_INITIAL_RTO rejects more\)$/m],
    [["connect", "10.0.0.1:80", "--sim", "--lab-peer", "closed"], /^synack connect: --lab-peer goes with --lab$/m],
    [["connect", "10.0.0.1:80", "--lab", "--lab-peer", "void"], /^synack connect: --lab-peer must be one of echo, closed, blackhole, unreachable, prohibit, not "void"$/m],
    [["replay", "x.pcap", "--syn-retries", "300"], /^synack replay: --syn-retries must be between 0 and 250, not 300$/m],
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
          const line = r.stdout.split("\n").filter((l) => new RegExp(`^  (-\\w, |    )--${o.name}(?![\\w-])`).test(l));
          expect(line, `--${o.name}`).toHaveLength(1);
          expect(line[0]).toContain(o.help);
          if (o.value) expect(line[0]).toContain(`--${o.name} ${o.value}`);
        }
        // Nothing points to a file the repository does not have.
        for (const m of r.stdout.matchAll(/\b((?:docs|device)\/[\w.-]+\.md)\b/g)) expect(existsSync(join(ROOT, m[1]!)), m[1]).toBe(true);
      });
    }
  }
  it("synack --help: one line per command saying what it does (not a fragment of its summary), --version mentioned", async () => {
    const r = await runCli(["--help"]);
    const w = Math.max(...COMMAND_SPECS.map((s) => s.name.length)) + 2;
    for (const s of COMMAND_SPECS) {
      expect(r.stdout.split("\n"), s.name).toContain(`  ${s.name.padEnd(w)}${s.brief}`);
      // "demo  The showcase" said nothing: the overview cut the summary at its first colon.
      expect(s.brief.split(" ").length, s.name).toBeGreaterThanOrEqual(6);
      expect(`  ${s.name.padEnd(w)}${s.brief}`.length, s.name).toBeLessThanOrEqual(100);
    }
    expect(r.stdout).toMatch(/synack help COMMAND/);
    expect(r.stdout).toMatch(/synack --version/);
    expect((await runCli(["--version"])).stdout).toMatch(/^synack \d+\.\d+\.\d+\n$/);
  });
  it("each option's help gives the range its check enforces, and the escapes --send takes", async () => {
    const cases: Array<[string[], string, string]> = [
      [["connect", "10.0.0.1:80", "--sim"], "syn-retries", "251"],
      [["connect", "10.0.0.1:80", "--sim"], "initial-rto", "0"],
      [["replay", join(ROOT, "pcaps", "v4-refused.pcap")], "syn-retries", "251"],
      [["replay", join(ROOT, "pcaps", "v4-refused.pcap")], "initial-rto", "0"],
    ];
    for (const [args, opt, bad] of cases) {
      const err = await runCli([...args, `--${opt}`, bad]);
      const [, lo, hi] = /must be between (\d+) and (\d+)/.exec(err.stderr) ?? [];
      expect(lo, err.stderr).toBeDefined();
      const help = (await runCli([args[0]!, "--help"])).stdout.split("\n").find((l) => l.includes(`--${opt} `))!;
      expect(help, `${args[0]} --${opt}`).toContain(`${lo}-${hi}`);
    }
    // The windows limit of 8 SYN retransmissions holds for windows7 too, and the help says so.
    const w7 = await runCli(["connect", "10.0.0.1:80", "--sim", "--profile", "windows7", "--syn-retries", "9"]);
    expect(w7.stderr).toMatch(/the windows7 profile takes at most 8/);
    expect((await runCli(["connect", "--help"])).stdout).toMatch(/windows and windows7: at most 8/);
    // Every escape the help names is taken (\0 was taken but not named).
    const helpLine = (await runCli(["connect", "--help"])).stdout.split("\n").find((l) => l.includes("--send TEXT"))!;
    for (const [esc, byte] of [["\\r", "\r"], ["\\n", "\n"], ["\\t", "\t"], ["\\0", "\0"], ["\\\\", "\\"], ["\\x41", "A"]] as const) {
      expect(helpLine, esc).toContain(esc.startsWith("\\x") ? "\\xHH" : esc);
      const r = await runCli(["connect", "10.0.0.1:80", "--sim", "--json", "--send", `a${esc}b`]);
      expect(JSON.parse(r.stdout).received, esc).toBe(`a${byte}b`);
    }
  });
  it("diagram: -o is required, so the usage line shows it", async () => {
    const r = await runCli(["diagram", join(ROOT, "pcaps", "v4-refused.pcap")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/-o OUT\.html or -o OUT\.svg is required/);
    expect((await runCli(["diagram", "--help"])).stdout.split("\n")[0]).toBe("usage: synack diagram CAPTURE -o OUT.html|OUT.svg [options]");
    expect((await runCli(["--help"])).stdout).toContain("  synack diagram CAPTURE -o OUT.html|OUT.svg [options]");
  });
  it("--help wins over other arguments, even bad ones", async () => {
    const r = await runCli(["connect", "--bogus", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: synack connect/);
    const b = await runCli(["connect", "10.0.0.1:80", "--sim", "--send", "--help"]);
    expect(b.code).toBe(0);
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

describe("a command that cannot be loaded: one line naming the cause, exit 2", () => {
  // A copy of the built CLI in which one piece is removed or broken, as a partial install
  // or a bad build would leave it.
  const copy = (name: string): string => {
    const dir = join(tmp, name);
    cpSync(join(ROOT, "bin"), join(dir, "bin"), { recursive: true });
    cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    return dir;
  };
  const synack = (dir: string, args: string[]) => runCli(args, { cwd: dir, bin: join(dir, "bin", "synack.js") });

  it("the command's own module missing: not available in this build", async () => {
    const dir = copy("no-bench");
    rmSync(join(dir, "dist", "src", "bench", "cli.js"));
    const r = await synack(dir, ["bench", "--quick"]);
    expect(r.code).toBe(2);
    oneClearLine(r.stderr);
    expect(r.stderr).toBe('synack: the "bench" command is not available in this build\n');
    // The others still work.
    expect((await synack(dir, ["connect", "10.0.0.1:80", "--sim", "--json"])).code).toBe(0);
  });

  it("a module the command imports missing: the missing file, not 'not available'", async () => {
    const dir = copy("no-memory");
    const gone = join(dir, "dist", "src", "bench", "memory.js");
    rmSync(gone);
    const r = await synack(dir, ["bench", "--quick"]);
    expect(r.code).toBe(2);
    oneClearLine(r.stderr);
    expect(r.stderr).not.toMatch(/not available/);
    expect(r.stderr).toMatch(/^synack: the "bench" command could not be loaded: Error: Cannot find module '.*dist\/src\/bench\/memory\.js' imported from /);
  });

  it("an exception while the command's module loads: its message and where it was thrown", async () => {
    const dir = copy("throws");
    const file = join(dir, "dist", "src", "diagram", "cli.js");
    writeFileSync(file, `throw new TypeError("the build is broken");\n${readFileSync(file, "utf8")}`);
    const r = await synack(dir, ["diagram", join(ROOT, "pcaps", "v4-refused.pcap"), "-o", join(dir, "d.svg")]);
    expect(r.code).toBe(2);
    oneClearLine(r.stderr);
    expect(r.stderr).toBe(`synack: the "diagram" command could not be loaded: TypeError: the build is broken (at ${file}:1)\n`);
  });

  it("a syntax error in the command's module: the error, not 'not available'", async () => {
    const dir = copy("syntax");
    writeFileSync(join(dir, "dist", "src", "cli", "listen.js"), "export const listenCommand = ;\n");
    const r = await synack(dir, ["listen", "7", "--sim"]);
    expect(r.code).toBe(2);
    oneClearLine(r.stderr);
    expect(r.stderr).toMatch(/^synack: the "listen" command could not be loaded: SyntaxError: Unexpected token/);
  });
});
