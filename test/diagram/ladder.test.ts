// Ladder diagrams: the SVG is well-formed XML with one arrow per packet, and the HTML carries
// the replay's decision trace as numbered notes (test/diagram/render.test.ts looks at the
// rendered page in headless Chromium).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diagramCommand, diagramForFile } from "../../src/diagram/cli.js";

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
