// Ladder diagrams: the SVG is well-formed XML with one arrow per packet, the HTML carries the
// replay's decision trace, and headless Chromium renders it to a non-blank screenshot.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { diagramCommand, diagramForFile } from "../../src/diagram/cli.js";

const PCAPS = join(import.meta.dirname, "../../pcaps");
const tmp = mkdtempSync(join(tmpdir(), "synack-diagram-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function chromiumPath(): string | undefined {
  for (const c of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}
const chromium = chromiumPath();

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

/** Decodes an 8-bit RGB/RGBA PNG (no interlace) and counts distinct pixel colours. */
function distinctColours(png: Buffer): number {
  expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString("latin1");
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === "IDAT") idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  const colours = new Set<number>();
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let v = line[i]!;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 0xff;
    }
    for (let x = 0; x < width; x += 3) colours.add((cur[x * channels]! << 16) | (cur[x * channels + 1]! << 8) | cur[x * channels + 2]!);
    cur.copy(prev);
  }
  return colours.size;
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

  it("the HTML carries the decision trace of the replay for hover", () => {
    const r = diagramForFile(join(PCAPS, "v4-rst-without-ack.pcap"), "html", { profile: "linux" });
    if ("error" in r) throw new Error(r.error);
    expect(r.connections).toBe(1);
    expect(r.text).toContain("<!DOCTYPE html>");
    // The RST without ACK is dropped by rule, and the trace says which.
    expect(r.text).toContain("RST without ACK in SYN-SENT is ignored");
    expect(r.text).toContain("mouseenter");
  });

  it("bad input is a one-line error and exit 2", async () => {
    const bad = join(tmp, "bad.pcap");
    writeFileSync(bad, Buffer.from("not a capture at all"));
    expect(await diagramCommand([bad, "-o", join(tmp, "x.svg")])).toBe(2);
    expect(await diagramCommand([join(PCAPS, "v4-refused.pcap"), "-o", join(tmp, "x.png")])).toBe(2);
    expect(await diagramCommand([join(PCAPS, "v4-refused.pcap")])).toBe(2);
  });

  it.skipIf(!chromium)(`renders in headless Chromium to a non-blank screenshot${chromium ? "" : " (skipped: chromium is not installed; apt-get install chromium)"}`, () => {
    const html = join(tmp, "open.html");
    const r = diagramForFile(join(PCAPS, "v4-data-fin.pcap"), "html", { profile: "linux" });
    if ("error" in r) throw new Error(r.error);
    writeFileSync(html, r.text);
    const shot = join(tmp, "shot.png");
    execFileSync(chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,800", `--screenshot=${shot}`, `file://${html}`], {
      stdio: "ignore",
      timeout: 60_000,
    });
    const png = readFileSync(shot);
    expect(png.length).toBeGreaterThan(1000);
    // Lines, text in several colours on white: far more than a blank page's one colour.
    expect(distinctColours(png)).toBeGreaterThan(10);
  });
});
