// Ladder diagrams: the SVG is well-formed XML with one arrow per packet, and the HTML carries
// the replay's decision trace as numbered notes (test/diagram/render.test.ts looks at the
// rendered page in headless Chromium).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diagramCommand, diagramForFile } from "../../src/diagram/cli.js";
import { alignRows, inferStates, type LadderArrow, type LadderRow } from "../../src/diagram/ladder.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { runCli } from "../helpers/cli.js";

const PCAPS = join(import.meta.dirname, "../../pcaps");
const tmp = mkdtempSync(join(tmpdir(), "synack-diagram-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Minimal XML well-formedness check: balanced tags, quoted attributes, escaped text. */
function checkXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, "");
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!\[CDATA\[|<!--|[<>]/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(body))) {
    const text = body.slice(last, m.index);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`unescaped & near ${m.index}`);
    last = re.lastIndex;
    if (m[0] === "<" || m[0] === ">") throw new Error(`stray ${m[0]} at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (!m[2]) continue;
    if (m[1]) {
      const open = stack.pop();
      if (open !== m[2]) throw new Error(`</${m[2]}> closes <${open}>`);
    } else if (!m[4]) stack.push(m[2]);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join("><")}>`);
}

describe("synack diagram", () => {
  it("writes a well-formed SVG with an arrow per packet, both columns", async () => {
    const out = join(tmp, "lost.svg");
    expect(await diagramCommand([join(PCAPS, "v4-synack-lost.pcap"), "-o", out, "--profile", "linux"])).toBe(0);
    const svg = readFileSync(out, "utf8");
    checkXml(svg);
    expect(svg).toContain("<svg");
    // 14 recorded packets on the left; the replay adds its own on the right.
    const arrows = svg.match(/<g class="arrow"/g) ?? [];
    expect(arrows.length).toBeGreaterThanOrEqual(14 + 10);
    expect(svg).toContain("ESTABLISHED");
    expect(svg).toMatch(/S\. seq 0 ack 1 win \d+/);
  });

  it("the HTML carries the decision trace of the replay as notes", () => {
    const r = diagramForFile(join(PCAPS, "v4-rst-without-ack.pcap"), "html", { profile: "linux" });
    if ("error" in r) throw new Error(r.error);
    expect(r.connections).toBe(1);
    expect(r.text).toContain("<!DOCTYPE html>");
    // The RST without ACK is dropped by rule, and the trace says which.
    expect(r.text).toContain("RST without ACK in SYN-SENT is ignored");
    // Numbered notes, opened by a click (no hover needed).
    expect(r.text).toMatch(/<li id="c1-n\d+">/);
    expect(r.text).toContain('addEventListener("click"');
  });

  it("bad input is a one-line error and exit 2", async () => {
    const bad = join(tmp, "bad.pcap");
    writeFileSync(bad, Buffer.from("not a capture at all"));
    expect(await diagramCommand([bad, "-o", join(tmp, "x.svg")])).toBe(2);
    expect(await diagramCommand([join(PCAPS, "v4-refused.pcap"), "-o", join(tmp, "x.png")])).toBe(2);
    expect(await diagramCommand([join(PCAPS, "v4-refused.pcap")])).toBe(2);
  });
});

describe("rows: the same packet on the same row, and only the same packet", () => {
  const arrow = (t: number, dir: "c2s" | "s2c", flags: number, seq: number, ack: number, len: number): LadderArrow => ({
    t,
    dir,
    kind: "tcp",
    flags,
    seq,
    ack,
    len,
    label: `${seq}:${ack}:${len}`,
    lines: [],
    retransmission: false,
    ignored: false,
  });
  const pairs = (rows: LadderRow[]) => rows.filter((r) => r.rec !== undefined && r.rep !== undefined).map((r) => [r.rec, r.rep]);

  it("bare ACKs that acknowledge different data are different packets (http.cap, 4.2 s)", () => {
    // Recorded: the client ACKs 13801 (early), data 13801 and 15181 arrive, the client ACKs
    // 16561. Replayed: data 13801 arrives and the stack ACKs 15181 (all it has by then), then
    // data 15181 arrives. Paired by sequence number alone, the replay's ACK of 4226 ms went to
    // the recording's ACK row of 4356 ms, and the two data segments 15181 lost their pairing.
    const rec = [arrow(4216, "c2s", TCP_ACK, 480, 13801, 0), arrow(4226, "s2c", TCP_ACK, 13801, 480, 1380), arrow(4356, "s2c", TCP_ACK, 15181, 480, 1380), arrow(4356.3, "c2s", TCP_ACK, 480, 16561, 0)];
    const rep = [arrow(4226, "s2c", TCP_ACK, 13801, 480, 1380), arrow(4226.1, "c2s", TCP_ACK, 480, 15181, 0), arrow(4356, "s2c", TCP_ACK, 15181, 480, 1380)];
    const rows = alignRows(rec, rep);
    expect(pairs(rows)).toEqual([
      [1, 0],
      [2, 2],
    ]);
    // Every paired row's two arrows are within a few ms of each other, and each column's
    // arrows keep their own order down the page.
    for (const r of rows) if (r.rec !== undefined && r.rep !== undefined) expect(Math.abs(rec[r.rec]!.t - rep[r.rep]!.t)).toBeLessThan(1);
    expect(rows.filter((r) => r.rep !== undefined).map((r) => r.rep)).toEqual([0, 1, 2]);
    expect(rows.filter((r) => r.rec !== undefined).map((r) => r.rec)).toEqual([0, 1, 2, 3]);
  });

  it("on the public captures, paired arrows are the same segment, ACK number included", () => {
    const shared = join(import.meta.dirname, "../../../shared/pcaps");
    const files = ["http.cap", "http_espn_fail.pcapng", "nowebaccess2.pcapng"].map((f) => join(shared, f)).filter((f) => existsSync(f));
    if (files.length === 0) return;
    let paired = 0;
    for (const f of files) {
      const r = diagramForFile(f, "svg");
      if ("error" in r) throw new Error(r.error);
      for (const c of r.models) {
        for (const row of c.rows) {
          if (row.rec === undefined || row.rep === undefined) continue;
          const a = c.columns[0].arrows[row.rec]!;
          const b = c.columns[1].arrows[row.rep]!;
          // (The recorded labels carry no PSH flag to compare.)
          const f4 = (x: LadderArrow) => x.flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST);
          expect([b.dir, f4(b), b.seq, b.len], `${f} row at ${row.t}`).toEqual([a.dir, f4(a), a.seq, a.len]);
          if (a.kind === "tcp" && a.len === 0 && f4(a) === TCP_ACK) expect(b.ack, `${f} bare ACK at ${row.t}`).toBe(a.ack);
          paired++;
        }
      }
    }
    expect(paired).toBeGreaterThan(20);
  });
});

describe("states inferred from the packets", () => {
  const a = (t: number, dir: "c2s" | "s2c", flags: number, seq: number, ack: number): LadderArrow => ({
    t,
    dir,
    kind: "tcp",
    flags,
    seq,
    ack,
    len: 0,
    label: "",
    lines: [],
    retransmission: false,
    ignored: false,
  });
  const states = (arrows: LadderArrow[]) => inferStates(arrows, "client").map((s) => `${s.t} ${s.state}`);

  it("a client that sends the same SYN again after each RST stays in SYN-SENT until the last RST", () => {
    // Windows on a closed port: SYN, RST, the same SYN 500 ms later, RST, ..., then it gives up.
    const arrows = [0, 500, 1000].flatMap((t) => [a(t, "c2s", TCP_SYN, 0, 0), a(t + 0.3, "s2c", TCP_RST | TCP_ACK, 0, 1)]);
    expect(states(arrows)).toEqual(["0 CLOSED", "0 SYN-SENT", "1000.3 CLOSED"]);
  });

  it("a client that gives up at the first RST is CLOSED there", () => {
    expect(states([a(0, "c2s", TCP_SYN, 0, 0), a(0.3, "s2c", TCP_RST | TCP_ACK, 0, 1)])).toEqual(["0 CLOSED", "0 SYN-SENT", "0.3 CLOSED"]);
  });
});

describe("titles say how the connect ended, as the WSK client saw it", () => {
  it("the recorded fixtures (virtual time: exact)", () => {
    const titles = Object.fromEntries(
      ["v4-refused", "v4-timeout", "v4-data-fin", "v4-synack-lost", "v4-host-unreachable", "v4-rst-without-ack"].map((f) => {
        const r = diagramForFile(join(PCAPS, `${f}.pcap`), "svg");
        if ("error" in r) throw new Error(r.error);
        return [f, r.models.map((m) => m.title).join(" | ")];
      }),
    );
    expect(titles).toEqual({
      "v4-refused": "refused: STATUS_CONNECTION_REFUSED after 1 SYN, 0.1 ms",
      "v4-timeout": "timeout: STATUS_IO_TIMEOUT after 2 SYNs, 3.0 s",
      "v4-data-fin": "established: STATUS_SUCCESS after 1 SYN, 0.1 ms; closed at 201 ms",
      "v4-synack-lost": "established: STATUS_SUCCESS after 2 SYNs, 1.0 s; closed at 1.2 s",
      "v4-host-unreachable": "unreachable: STATUS_HOST_UNREACHABLE after 1 SYN, 0.1 ms",
      "v4-rst-without-ack": "established: STATUS_SUCCESS after 2 SYNs, 1.1 s; still open when the capture ends",
    });
  });

  it("the demo's diagram says what the demo printed: the scenario, the outcome, the NTSTATUS, the SYNs", async () => {
    const pcap = join(tmp, "demo.pcapng");
    const d = await runCli(["demo", "--sim", "--json", "--pcap", pcap], { timeoutMs: 60_000 });
    expect(d.code, d.stderr).toBe(0);
    const demo = JSON.parse(d.stdout) as { scenarios: Array<{ title: string; outcome: string; status: string; synsSent: number }> };
    const r = diagramForFile(pcap, "svg");
    if ("error" in r) throw new Error(r.error);
    expect(r.models.map((m) => m.name)).toEqual(demo.scenarios.map((s) => s.title));
    for (const [i, s] of demo.scenarios.entries()) {
      // (The demo says "timedOut" as the engine does; the diagram, like replay, "timeout".)
      const word = s.outcome === "timedOut" ? "timeout" : s.outcome;
      expect(r.models[i]!.title, s.title).toMatch(new RegExp(`^${word}: ${s.status} after ${s.synsSent} SYNs?, `));
    }
  }, 90_000);
});
