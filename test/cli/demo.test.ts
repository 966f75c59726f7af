// `synack demo` as a user runs it (docs/cli.md): every scenario with its expected status,
// against the simulated peer and (root only) the real kernel in a lab namespace; a capture
// that tshark opens and `synack replay` replays connection by connection, the diagram, the
// notes on their own packets, and the narration (each scenario and each term explained once).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { Lab } from "../../src/lab/lab.js";
import { misplacedNotes, pinnedCount, type PinRow } from "../helpers/timeline-pins.js";

const why = Lab.unavailableReason();
const tmp = mkdtempSync(join(tmpdir(), "synack-cli-demo-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
    // One spelling for the outcomes (docs/cli.md): the demo's words are replay's, and where
    // both see a connect give up they say the same word.
    const replayWords = ["established", "refused", "timeout", "unreachable", "reset", "cancelled", "incomplete"];
    for (const s of j.scenarios) expect(replayWords, s.title).toContain(s.outcome);
    const gaveUp = j.scenarios.flatMap((s: { status: string; outcome: string }, i: number) => (s.status === "STATUS_IO_TIMEOUT" ? [[s.outcome, doc.handshakes[i].replayed.outcome]] : []));
    expect(gaveUp.length).toBeGreaterThan(0);
    for (const pair of gaveUp) expect(pair).toEqual(["timeout", "timeout"]);
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

describe.skipIf(why !== undefined)(`synack demo on the real kernel${why ? ` (skipped: ${why})` : ""}`, () => {
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

});
