// openStack({ tun, address }) as a user writes it: a script, run inside a network namespace
// this test creates, opens the stack on a TUN device, gives the device's kernel side an
// address (as the user does with `ip addr add`), connects to a node:net echo server of the
// kernel, and closes. Checks the defaults (the windows profile; crypto randomness: two runs
// of the same script, same 4-tuple but for the port, pick different ephemeral ports and
// start from different sequence numbers, where a fixed seed would repeat both) and that the process
// exits by itself after close(), with the device gone. Root only.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNetns, deleteNetns, ip, labUnavailableReason } from "../../device/netns.js";

const ROOT = join(import.meta.dirname, "..", "..");
const why = labUnavailableReason();
const ns = `synack-tuntest-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "synack-tun-"));
chmodSync(dir, 0o755);

const SCRIPT = `
import { execFileSync } from "node:child_process";
import nodeNet from "node:net";
import { openStack } from ${JSON.stringify(join(ROOT, "dist", "src", "index.js"))};

const net = await openStack({ tun: "synack-t0", address: "10.0.0.2/24" });
execFileSync("ip", ["addr", "add", "10.0.0.1/24", "dev", "synack-t0"]);
const echo = nodeNet.createServer((s) => s.pipe(s));
await new Promise((r) => echo.listen(7000, "10.0.0.1", r));
const s = net.createConnection({ host: "10.0.0.1", port: 7000 }, () => s.end("over the TUN"));
let text = "";
s.on("data", (d) => (text += d));
s.on("close", async (hadError) => {
  const c = [...net.stack.connections()][0];
  console.log(JSON.stringify({ text, hadError, profile: net.stack.profile.name, iss: c?.iss, localPort: s.localPort }));
  echo.close();
  await net.close();
});
`;

describe.skipIf(why !== undefined)(`openStack({ tun, address })${why ? ` (skipped: ${why})` : ""}`, () => {
  beforeAll(() => {
    createNetns(ns);
    ip(["link", "set", "lo", "up"], ns);
    writeFileSync(join(dir, "tun.mjs"), SCRIPT);
  });
  afterAll(() => {
    deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  const run = () => {
    const t0 = Date.now();
    const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, join(dir, "tun.mjs")], { encoding: "utf8", timeout: 30_000 });
    return { ...r, ms: Date.now() - t0 };
  };

  it("connects to the kernel with the defaults (windows profile, crypto randomness), closes, and the process exits by itself", () => {
    const runs = [run(), run()];
    const results = runs.map((r) => {
      expect(r.error).toBeUndefined(); // a spawnSync timeout would be ETIMEDOUT here: the process did not exit
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout) as { text: string; hadError: boolean; profile: string; iss: number; localPort: number };
    });
    for (const x of results) {
      expect(x.text).toBe("over the TUN");
      expect(x.hadError).toBe(false);
      expect(x.profile).toBe("windows");
      expect(typeof x.iss).toBe("number");
      expect(x.localPort).toBeGreaterThan(0);
    }
    expect(results[0].iss).not.toBe(results[1].iss);
    expect(results[0].localPort).not.toBe(results[1].localPort); // 1 in 16 384 by chance
    // The device was the process's own: it went with it.
    expect(ip(["-o", "link", "show"], ns)).not.toContain("synack-t0");
    console.log(`{ tun } runs: ${runs.map((r) => `${r.ms} ms`).join(", ")} from start to exit; ISN/port ${results.map((x) => `${x.iss}/${x.localPort}`).join(", ")}`);
  }, 70_000);
});
