// openStack: bad options and missing permissions are one clear line; { sim: true } works
// without root, with the pcap and trace options; the process exits by itself after close().
import { execFileSync, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStack } from "../../src/net/network.js";
import type { TraceEvent } from "../../stack/trace.js";

const ROOT = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "synack-network-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hasTshark(): boolean {
  return spawnSync("tshark", ["-v"], { stdio: "ignore" }).status === 0;
}

describe("openStack options", () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ["nothing chosen", {}, /^openStack: choose where the stack lives: \{ tun: NAME, address \}/],
    ["two places", { sim: true, lab: true }, /^openStack: lab and sim are mutually exclusive$/],
    ["tun without address", { tun: "tun0" }, /^openStack: \{ tun \} needs address: the stack's own address with its prefix/],
    ["bad address", { sim: true, address: "10.0.0.300/24" }, /^openStack: bad address "10\.0\.0\.300\/24"/],
    ["bad gateway", { sim: true, gateway: "router" }, /^openStack: bad gateway "router"/],
    ["unknown profile", { sim: true, profile: "macos" }, /^openStack: unknown profile "macos" \(windows, windows7, linux, freebsd, rfc\)$/],
    ["not an object", "sim", /^openStack: options must be an object/],
  ];
  for (const [what, opts, msg] of bad) {
    it(`${what}: one line, code ERR_INVALID_ARG_VALUE`, async () => {
      const err = await openStack(opts as never).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err?.code).toBe("ERR_INVALID_ARG_VALUE");
      expect(err?.message).toMatch(msg);
      expect(err?.message).not.toContain("\n");
    });
  }
});

describe("{ sim: true }: no root needed", () => {
  it("connects, echoes, traces, writes a pcapng with the decisions, and closes", async () => {
    const pcap = join(dir, "sim.pcapng");
    const trace: TraceEvent[] = [];
    const net = await openStack({ sim: true, pcap, trace: (e) => trace.push(e) });
    expect(net.addresses).toEqual(["10.99.0.2/24", "fd99::2/64"]);
    const s = net.createConnection(7, "10.99.0.1");
    await once(s, "connect");
    s.end("over the simulated peer");
    let text = "";
    for await (const c of s) text += c;
    expect(text).toBe("over the simulated peer");
    await net.close();
    expect(trace.some((e) => e.kind === "out" && e.decision === "send SYN")).toBe(true);
    if (hasTshark()) {
      const out = execFileSync("tshark", ["-r", pcap, "-T", "fields", "-e", "tcp.flags.str", "-e", "frame.comment"], { encoding: "utf8" });
      const lines = out.trim().split("\n");
      expect(lines.length).toBeGreaterThanOrEqual(6);
      expect(lines[0]).toMatch(/S.*send SYN/);
    }
  });

  it("a script using it exits by itself after close()", () => {
    const script = join(dir, "sim.mjs");
    writeFileSync(
      script,
      `import { openStack } from ${JSON.stringify(join(ROOT, "dist", "src", "index.js"))};
const net = await openStack({ sim: true });
const s = net.createConnection({ host: "10.99.0.1", port: 7 }, () => s.end("bye"));
s.on("data", (d) => process.stdout.write(d));
s.on("close", () => net.close());
`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("bye");
    expect(r.status).toBe(0);
  });
});

describe.skipIf(process.getuid?.() !== 0)("missing permissions, as an unprivileged user (uid 65534)", () => {
  const run = (code: string) => {
    const script = join(dir, `perm-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(script, `import { openStack } from ${JSON.stringify(join(ROOT, "dist", "src", "index.js"))};\ntry { ${code} } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }\n`);
    chmodSync(script, 0o644);
    const r = spawnSync("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", process.execPath, script], { encoding: "utf8", timeout: 20_000 });
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout) as { code: string; message: string };
  };

  it("{ lab: true } says it needs root and what works without", () => {
    const e = run(`await openStack({ lab: true });`);
    expect(e.code).toBe("ERR_INVALID_ARG_VALUE");
    expect(e.message).toMatch(/^openStack: \{ lab: true \} needs root .*; \{ sim: true \} runs without root$/);
  });

  it("{ tun } says the device needs CAP_NET_ADMIN", () => {
    const e = run(`await openStack({ tun: "synack-eperm0", address: "10.0.0.2/24" });`);
    expect(e.code).toBe("EPERM");
    expect(e.message).toMatch(/^openStack: cannot open the TUN device synack-eperm0: .*CAP_NET_ADMIN.*; run as root, or use \{ sim: true \}$/);
    expect(e.message).not.toContain("\n");
  });
});
