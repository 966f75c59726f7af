// Ctrl-C during a command that sets up a lab (src/cli/signals.ts): the command ends with
// exit 130 and its namespace is removed, whenever the signal lands. Root only, in lab
// namespaces the commands create themselves.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { BIN } from "../helpers/cli.js";

const why = Lab.unavailableReason();
const tmp = mkdtempSync(join(tmpdir(), "synack-cli-signals-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(why !== undefined)(`SIGINT during a command's lab set-up${why ? ` (skipped: ${why})` : ""}`, () => {
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
