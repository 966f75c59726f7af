// An install that tells the truth: on a machine whose C++ compiler and make fail (simulated
// with a PATH whose g++, c++, cc, gcc, clang++ and make exit 1), `npm install <tarball>`
// still succeeds, says in one line that the TUN addon was not built and how to fix it, and
// everything that needs no addon works: `synack replay`, `synack connect --sim`, the library.
// What needs the addon says so in one line when it is used.
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, installInto, packProject, sh, tempDir, type Run } from "./helpers.js";

describe("install without a working C++ compiler", () => {
  const tmp = tempDir("synack-nocc-");
  const app = join(tmp.path, "app");
  const fakeBin = join(tmp.path, "fakebin");
  let env: NodeJS.ProcessEnv = {};
  let install: Run;

  beforeAll(async () => {
    const { tarball } = await packProject(tmp.path);
    mkdirSync(fakeBin);
    for (const tool of ["g++", "c++", "cc", "gcc", "clang", "clang++", "make"]) {
      const f = join(fakeBin, tool);
      writeFileSync(f, `#!/bin/sh\necho "${tool}: simulated missing compiler" >&2\nexit 1\n`);
      chmodSync(f, 0o755);
    }
    env = { PATH: `${fakeBin}:${process.env.PATH}` };
    install = await installInto(app, tarball, env);
  }, 300_000);
  afterAll(() => tmp.remove());

  it("npm install succeeds and says in one line what is missing and the command that fixes it", () => {
    expect(install.code).toBe(0);
    const lines = (install.stdout + install.stderr).split("\n").filter((l) => l.startsWith("synack:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/the TUN addon was not built: node-gyp failed/);
    expect(lines[0]).toMatch(/replay, conformance, diagram and --sim work without it/);
    expect(lines[0]).toContain("npm rebuild synack");
    const pkg = join(app, "node_modules", "synack");
    expect(existsSync(join(pkg, "build", "Release", "synack_tun.node"))).toBe(false);
    // The compiler's output is kept for whoever wants it.
    expect(existsSync(join(pkg, "build", "install-addon.log"))).toBe(true);
    // raw-socket is optional: npm drops it when it cannot be built.
    expect(existsSync(join(app, "node_modules", "raw-socket"))).toBe(false);
  });

  it("synack replay works", async () => {
    const pcap = readdirSync(join(ROOT, "pcaps")).find((f) => f.endsWith(".pcap"))!;
    const r = await sh("npx", ["synack", "replay", join(ROOT, "pcaps", pcap), "--json"], { cwd: app, env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBeTruthy();
  });

  it("synack connect --sim works", async () => {
    const r = await sh("npx", ["synack", "connect", "10.99.0.1:7", "--sim", "--send", "ping", "--json"], { cwd: app, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "STATUS_SUCCESS", received: "ping" });
  });

  it("what needs the addon says in one line what is missing and how to fix it", async () => {
    // The addon is absent, so this fails before any device is touched.
    const r = await sh("npx", ["synack", "connect", "10.0.0.1:80", "--dev", "synack-none0", "--local", "10.0.0.2"], { cwd: app, env });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/TUN addon is not built/);
    expect(lines[0]).toContain("npm rebuild synack");
    // The raw device needs the optional raw-socket package, which npm left out. As root, in
    // a throwaway namespace of its own (whatever happened, nothing would leave it).
    if (process.getuid?.() === 0) {
      const raw = await sh("unshare", ["-n", "sh", "-c", "ip link set lo up && npx synack connect 127.0.0.1:9 --raw lo --local 127.0.0.1"], { cwd: app, env });
      expect(raw.code).toBe(2);
      expect(raw.stderr.trim().split("\n")).toEqual([expect.stringMatching(/raw-socket package .* is missing .*`npm install raw-socket`/)]);
    }
    const lib = await sh(process.execPath, ["--input-type=module", "-e", `const { TunDevice } = await import("synack/device"); try { TunDevice.open({ name: "synack-none0" }); } catch (e) { console.log(e.code + " " + e.message); }`], { cwd: app, env });
    expect(lib.stdout).toMatch(/^ERR_SYNACK_ADDON_MISSING .*npm rebuild synack/);
  });
});
