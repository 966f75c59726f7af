// `npx synack ...` for a non-root user in a clone: before `npm install` it says in one line
// what to do (and says it again on the next try, instead of failing with 254 from a half-made
// npx cache); after `npm install` as that user (no nodedir in their npm config, so the addon
// build must find Node's headers by itself) the demo runs. Root only: the test switches to
// the unprivileged uid 65534 (nobody) with a throwaway HOME.
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyCheckout, sh, tempDir } from "./helpers.js";

const NOBODY = 65534;
const why = process.getuid?.() !== 0 ? "needs root to switch to an unprivileged user" : undefined;

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  if (!lstatSync(path).isDirectory()) return;
  for (const e of readdirSync(path)) chownTree(join(path, e));
}

/** Runs `cmd` as uid 65534 with HOME in the test's folder. */
function asNobody(home: string, cwd: string, cmd: string, timeoutMs = 240_000) {
  return sh("setpriv", ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", "/bin/sh", "-c", cmd], {
    cwd,
    env: { HOME: home, USER: "nobody", npm_config_cache: join(home, ".npm"), npm_config_update_notifier: "false" },
    timeoutMs,
  });
}

describe.skipIf(why !== undefined)(`npx synack as a non-root user in a clone${why ? ` (skipped: ${why})` : ""}`, () => {
  const tmp = tempDir("synack-nonroot-");
  const home = join(tmp.path, "home");
  const clone = join(tmp.path, "synack");
  afterAll(() => tmp.remove());

  it("before npm install: one line saying to run npm install, the same on every try", async () => {
    copyCheckout(clone);
    rmSync(join(clone, "node_modules")); // a fresh clone has none
    mkdirSync(home);
    chownTree(tmp.path);
    for (let i = 0; i < 2; i++) {
      const r = await asNobody(home, clone, "npx synack demo");
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("npm notice"));
      expect(lines).toEqual([expect.stringMatching(/^synack: .*dist.* is missing: run `npm install` in /)]);
    }
  }, 120_000);

  it("after npm install as that user: the addon is built from the local headers and the demo runs", async () => {
    const inst = await asNobody(home, clone, "npm install --no-audit --no-fund");
    expect(inst.code, inst.stderr.slice(-2000)).toBe(0);
    expect(existsSync(join(clone, "dist", "src", "cli", "main.js"))).toBe(true);
    expect(existsSync(join(clone, "build", "Release", "synack_tun.node"))).toBe(true);
    const r = await asNobody(home, clone, "npx synack demo --json", 120_000);
    expect(r.code, r.stderr).toBe(0);
    // Not root: the demo runs against the simulated peer and says so.
    const out = JSON.parse(r.stdout) as { mode: string; scenarios: Array<{ match: boolean }> };
    expect(out.mode).toBe("simulated");
    expect(out.scenarios.length).toBeGreaterThan(5);
    expect(out.scenarios.filter((s) => !s.match)).toEqual([]);
  }, 300_000);
});
