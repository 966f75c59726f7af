// The ladder diagram as a reader gets it, in headless Chromium (playwright-core driving the
// system's chromium), both the HTML page and the standalone SVG: no label box touches an
// arrow, a lifeline, another label or a state, and no text runs past the drawing's edge; the
// document fits 1 000 px (and 600 px) without horizontal scrolling; a click opens an arrow's
// note; the print layout shows every note within the page; nothing covers the replayed side
// at 1 400 px.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diagramForFile } from "../../src/diagram/cli.js";
import { ROOT, runCli } from "../helpers/cli.js";

const PCAPS = join(ROOT, "pcaps");
const SHARED = join(ROOT, "..", "shared", "pcaps");
const tmp = mkdtempSync(join(tmpdir(), "synack-render-"));

function chromiumPath(): string | undefined {
  for (const c of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}
const chromium = chromiumPath();
type Playwright = typeof import("playwright-core");
let pw: Playwright | undefined;
try {
  pw = await import("playwright-core");
} catch {
  pw = undefined;
}
const why = !chromium ? "chromium is not installed (apt-get install chromium)" : !pw ? "playwright-core is not installed (npm ci)" : undefined;

/** Decodes an 8-bit RGB/RGBA PNG (no interlace) and counts distinct colours (a sample). */
function distinctColours(png: Buffer): number {
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
      channels = data[9] === 6 ? 4 : 3;
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

/**
 * Runs in the page: every overlap between things that must not touch, as text. Label boxes
 * (each line of an arrow's label) against every arrow shaft and head, every lifeline, each
 * other, the states, times and note numbers; states and marks against each other.
 */
function geometryProblems(): string[] {
  type R = { l: number; t: number; r: number; b: number; what: string };
  const problems: string[] = [];
  const rect = (e: Element, what: string): R => {
    const b = e.getBoundingClientRect();
    return { l: b.left, t: b.top, r: b.right, b: b.bottom, what: `${what} "${(e.textContent ?? "").trim().slice(0, 40)}"` };
  };
  const shrink = (a: R, d: number): R => ({ ...a, l: a.l + d, t: a.t + d, r: a.r - d, b: a.b - d });
  const overlap = (a: R, b: R) => a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;
  const segHitsRect = (x1: number, y1: number, x2: number, y2: number, q: R) => {
    // Liang-Barsky clipping of the segment against the rectangle.
    let t0 = 0;
    let t1 = 1;
    const dx = x2 - x1;
    const dy = y2 - y1;
    const clip = (p: number, qq: number) => {
      if (p === 0) return qq >= 0;
      const t = qq / p;
      if (p < 0) {
        if (t > t1) return false;
        if (t > t0) t0 = t;
      } else {
        if (t < t0) return false;
        if (t < t1) t1 = t;
      }
      return true;
    };
    return clip(-dx, x1 - q.l) && clip(dx, q.r - x1) && clip(-dy, y1 - q.t) && clip(dy, q.b - y1) && t0 <= t1;
  };
  // Every text ends inside its drawing (an SVG cuts what runs past its edge).
  for (const t of document.querySelectorAll("svg text")) {
    let outer = (t as SVGTextElement).ownerSVGElement!;
    while (outer.ownerSVGElement) outer = outer.ownerSVGElement;
    const box = outer.getBoundingClientRect();
    const r = rect(t, "text");
    if (r.r > box.right + 0.5 || r.l < box.left - 0.5) problems.push(`${r.what} runs past the edge of the drawing`);
  }
  // The legend: its texts apart from each other and inside the drawing.
  for (const svg of document.querySelectorAll(".legend")) {
    const right = ((svg as SVGElement).ownerSVGElement ?? svg).getBoundingClientRect().right;
    const texts = [...svg.querySelectorAll("text")].map((e) => shrink(rect(e, "legend text"), 0.5));
    for (const [i, a] of texts.entries()) {
      if (a.r > right + 0.5) problems.push(`legend: ${a.what} runs past the right edge`);
      for (const b of texts.slice(i + 1)) if (overlap(a, b)) problems.push(`legend: ${a.what} overlaps ${b.what}`);
    }
  }
  for (const [si, svg] of [...document.querySelectorAll(".ladder-svg")].entries()) {
    const segs = [...svg.querySelectorAll("line.shaft, line.life")].map((l) => {
      const line = l as SVGLineElement;
      const m = line.getScreenCTM()!;
      const p = (x: number, y: number) => new DOMPoint(x, y).matrixTransform(m);
      const a = p(line.x1.baseVal.value, line.y1.baseVal.value);
      const b = p(line.x2.baseVal.value, line.y2.baseVal.value);
      return { a, b, what: line.classList.contains("life") ? "lifeline" : `arrow of "${(line.parentElement?.querySelector("title")?.textContent ?? "").split("\n")[0]}"` };
    });
    const labels = [...svg.querySelectorAll("text.lbl")].map((e) => shrink(rect(e, "label"), 0.5));
    const heads = [...svg.querySelectorAll("path.head, path.x")].map((e) => shrink(rect(e, "arrow head"), 0.5));
    // The column heads: titles, "client"/"server", the addresses (a long IPv6 address on the
    // lane's far side once reached into its neighbour).
    const tops = [...svg.querySelectorAll("text.colt, text.head, text.addr")].map((e) => shrink(rect(e, e.getAttribute("class") ?? "?"), 0.5));
    for (const [i, a] of tops.entries()) for (const b of tops.slice(i + 1)) if (overlap(a, b)) problems.push(`svg ${si}: ${a.what} overlaps ${b.what}`);
    const side = [...svg.querySelectorAll("text.state, text.mark, text.time, g.badge, g.clock, rect.diffbar")].map((e) => shrink(rect(e, e.getAttribute("class") ?? "?"), 0.5));
    for (const [i, a] of labels.entries()) {
      for (const s of segs) if (segHitsRect(s.a.x, s.a.y, s.b.x, s.b.y, a)) problems.push(`svg ${si}: ${a.what} crosses the ${s.what}`);
      for (const h of heads) if (overlap(a, h)) problems.push(`svg ${si}: ${a.what} touches an ${h.what}`);
      for (const b of labels.slice(i + 1)) if (overlap(a, b)) problems.push(`svg ${si}: ${a.what} overlaps ${b.what}`);
      for (const b of side) if (overlap(a, b)) problems.push(`svg ${si}: ${a.what} overlaps ${b.what}`);
    }
    for (const [i, a] of side.entries()) {
      for (const b of side.slice(i + 1)) if (overlap(a, b)) problems.push(`svg ${si}: ${a.what} overlaps ${b.what}`);
      for (const s of segs) if (s.what !== "lifeline" && segHitsRect(s.a.x, s.a.y, s.b.x, s.b.y, a)) problems.push(`svg ${si}: ${a.what} crosses the ${s.what}`);
    }
  }
  return problems;
}

interface Case {
  name: string;
  html: string;
  /** The same diagram as a standalone SVG document. */
  svg: string;
  connections: number;
}
const cases: Case[] = [];

describe.skipIf(why !== undefined)(`ladder diagrams in headless Chromium${why ? ` (skipped: ${why})` : ""}`, () => {
  let browser: import("playwright-core").Browser;

  beforeAll(async () => {
    browser = await pw!.chromium.launch({
      executablePath: chromium,
      headless: true,
      // playwright-core gives every launch a fresh, temporary --user-data-dir.
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const write = (name: string, file: string, format: "html" | "svg", opts: Parameters<typeof diagramForFile>[2]) => {
      const r = diagramForFile(file, format, opts);
      if ("error" in r) throw new Error(r.error);
      const out = join(tmp, `${name}.${format}`);
      writeFileSync(out, r.text);
      return { out, connections: r.connections };
    };
    const add = (name: string, file: string, opts: Parameters<typeof diagramForFile>[2] = {}) => {
      const html = write(name, file, "html", opts);
      cases.push({ name, html: html.out, svg: write(name, file, "svg", opts).out, connections: html.connections });
    };
    // The demo's own capture (simulated peer), as the demo draws it.
    const demo = join(tmp, "demo.pcapng");
    const d = await runCli(["demo", "--sim", "--quiet", "--pcap", demo], { timeoutMs: 60_000 });
    if (d.code !== 0) throw new Error(`demo failed: ${d.stderr}`);
    cases.push({ name: "demo", html: join(tmp, "demo.html"), svg: write("demo", demo, "svg", {}).out, connections: 11 });
    add("data-fin", join(PCAPS, "v4-data-fin.pcap"), { profile: "linux" });
    add("synack-lost", join(PCAPS, "v4-synack-lost.pcap"), { profile: "linux" });
    add("simultaneous-open", join(PCAPS, "v4-simultaneous-open.pcap"), { profile: "linux" });
    add("synack-lost-compact", join(PCAPS, "v4-synack-lost.pcap"), { profile: "linux", compact: true });
    // Public captures, when ../shared is there: a Windows client, refusals, a web page load.
    if (existsSync(join(SHARED, "nowebaccess2.pcapng"))) add("nowebaccess2", join(SHARED, "nowebaccess2.pcapng"));
    if (existsSync(join(SHARED, "gnutella.pcap"))) add("gnutella", join(SHARED, "gnutella.pcap"), { only: [1, 2, 3] });
    if (existsSync(join(SHARED, "http_espn_fail.pcapng"))) add("http_espn_fail", join(SHARED, "http_espn_fail.pcapng"), { only: [1, 2] });
    // Full IPv6 addresses with their ports, wider than the room beside a lifeline.
    if (existsSync(join(SHARED, "kill_router6.pcap"))) add("kill_router6", join(SHARED, "kill_router6.pcap"));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("every case was drawn", () => {
    expect(cases.length).toBeGreaterThanOrEqual(5);
  });

  it("no label crosses an arrow or a lifeline, and nothing overlaps, at 1 000 px; the page needs no horizontal scrolling", async () => {
    for (const c of cases) {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      await page.goto(`file://${c.html}`);
      const dims = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, svgs: document.querySelectorAll(".ladder-svg").length, labels: document.querySelectorAll(".ladder-svg text.lbl").length }));
      expect(dims.sw, `${c.name}: scroll width`).toBeLessThanOrEqual(1000);
      expect(dims.svgs, c.name).toBe(c.connections);
      expect(dims.labels, c.name).toBeGreaterThan(c.connections);
      expect(await page.evaluate(geometryProblems), c.name).toEqual([]);
      const shot = join(tmp, `${c.name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      expect(distinctColours(readFileSync(shot)), c.name).toBeGreaterThan(10);
      await page.close();
    }
  });

  it("the check sees a label drawn across its arrow, or on another label (controls)", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(`file://${cases.find((c) => c.name === "data-fin")!.html}`);
    expect(await page.evaluate(geometryProblems)).toEqual([]);
    // As the old diagram drew it: the label's baseline on its arrow.
    await page.evaluate(() => {
      const g = document.querySelector("svg.ladder-svg g.arrow")!;
      const line = g.querySelector("line.shaft")!;
      const t = [...g.querySelectorAll("text.lbl")].pop()!;
      t.setAttribute("y", String(Number(line.getAttribute("y1")) + 8));
    });
    expect((await page.evaluate(geometryProblems)).join("\n")).toMatch(/label .* crosses the arrow/);
    await page.reload();
    await page.evaluate(() => {
      const [a, b] = [...document.querySelectorAll("svg.ladder-svg text.lbl")];
      b!.setAttribute("y", a!.getAttribute("y")!);
      b!.setAttribute("x", a!.getAttribute("x")!);
    });
    expect((await page.evaluate(geometryProblems)).join("\n")).toMatch(/label .* overlaps label/);
    await page.close();
  });

  it("scales down to 600 px without horizontal scrolling, still without overlaps", async () => {
    const page = await browser.newPage({ viewport: { width: 600, height: 900 } });
    await page.goto(`file://${cases.find((c) => c.name === "demo")!.html}`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(600);
    expect(await page.evaluate(geometryProblems)).toEqual([]);
    await page.close();
  });

  it("at 1 400 px nothing covers the replayed side", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`file://${cases.find((c) => c.name === "data-fin")!.html}`);
    const covered = await page.evaluate(() => {
      const lines = [...document.querySelectorAll("svg.ladder-svg line.life")];
      const out: string[] = [];
      for (const l of lines) {
        const r = l.getBoundingClientRect();
        const x = (r.left + r.right) / 2;
        for (let y = Math.max(0, r.top + 20); y < Math.min(innerHeight, r.bottom); y += 40) {
          const e = document.elementFromPoint(x, y);
          if (e && !e.closest("svg.ladder-svg")) out.push(`${e.tagName}.${e.className} at ${x},${y}`);
        }
      }
      return out;
    });
    expect(covered).toEqual([]);
    await page.close();
  });

  it("a click on an arrow opens its note; a click on a note number too", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(`file://${cases.find((c) => c.name === "data-fin")!.html}`);
    const id = await page.evaluate(() => document.querySelector("g.arrow[data-note]")!.getAttribute("data-note"));
    expect(await page.locator(`#${id} .more`).isVisible()).toBe(false);
    await page.locator(`g.arrow[data-note="${id}"] line.shaft`).click({ force: true });
    expect(await page.locator(`#${id} .more`).isVisible()).toBe(true);
    const second = await page.evaluate(() => document.querySelectorAll("g.badge[data-note]")[2]!.getAttribute("data-note"));
    await page.locator(`g.badge[data-note="${second}"]`).click();
    expect(await page.locator(`#${second}`).getAttribute("class")).toContain("open");
    await page.close();
  });

  it("prints: every note open, the drawing within the page, and a PDF comes out", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(`file://${cases.find((c) => c.name === "demo")!.html}`);
    await page.emulateMedia({ media: "print" });
    const r = await page.evaluate(() => {
      const more = [...document.querySelectorAll("ol.notes li .more")];
      return {
        notes: more.length,
        hidden: more.filter((m) => getComputedStyle(m).display === "none" || (m as HTMLElement).offsetHeight === 0).length,
        hint: getComputedStyle(document.querySelector(".hint")!).display,
        // A connection's title stays on the page of its drawing.
        keep: [...document.querySelectorAll("section.conn > h2")].filter((h) => getComputedStyle(h).breakAfter !== "avoid").length,
        wide: [...document.querySelectorAll("svg")].filter((s) => s.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).length,
      };
    });
    expect(r.notes).toBeGreaterThan(20);
    expect(r.hidden).toBe(0);
    expect(r.hint).toBe("none");
    expect(r.keep).toBe(0);
    expect(r.wide).toBe(0);
    const pdf = await page.pdf({ format: "A4", printBackground: true });
    expect(pdf.subarray(0, 4).toString("latin1")).toBe("%PDF");
    expect(pdf.length).toBeGreaterThan(20_000);
    await page.close();
  });

  // The standalone SVG (`synack diagram x.pcap -o out.svg`) opened on its own. A full-page
  // screenshot of an SVG document never completes in this Chromium, so the viewport is
  // stretched to the drawing's height instead.
  async function openSvg(file: string, width: number) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`file://${file}`);
    expect(await page.evaluate(() => document.documentElement.tagName)).toBe("svg");
    return page;
  }

  it("the standalone SVG at 1 000 px: no horizontal scrolling, no label on an arrow, no text cut at the edge", async () => {
    for (const c of cases) {
      const page = await openSvg(c.svg, 1000);
      const dims = await page.evaluate(() => ({
        sw: document.documentElement.scrollWidth,
        right: document.documentElement.getBoundingClientRect().right,
        height: Math.ceil(document.documentElement.getBoundingClientRect().height),
        ladders: document.querySelectorAll(".ladder-svg").length,
        labels: document.querySelectorAll(".ladder-svg text.lbl").length,
        badges: new Set([...document.querySelectorAll(".ladder-svg g.badge")].map((b) => `${b.closest(".ladder-svg")!.querySelector("text.addr")?.textContent}|${b.textContent}`)).size,
        notes: [...document.querySelectorAll("text.fn")].filter((t) => /^\(\d+\) /.test(t.textContent ?? "")).length,
      }));
      expect(dims.sw, `${c.name}: scroll width`).toBeLessThanOrEqual(1000);
      expect(dims.right, c.name).toBeLessThanOrEqual(1000);
      expect(dims.ladders, c.name).toBe(c.connections);
      expect(dims.labels, c.name).toBeGreaterThan(c.connections);
      // Every note number in the drawings has its note written out under them.
      expect(dims.notes, c.name).toBeGreaterThanOrEqual(dims.badges);
      expect(await page.evaluate(geometryProblems), c.name).toEqual([]);
      await page.setViewportSize({ width: 1000, height: Math.min(dims.height, 4000) });
      const shot = join(tmp, `${c.name}-svg.png`);
      await page.screenshot({ path: shot });
      expect(distinctColours(readFileSync(shot)), c.name).toBeGreaterThan(10);
      await page.close();
    }
  });

  it("the standalone SVG scales down to 600 px and stays at its natural width as an image", async () => {
    for (const c of cases.filter((x) => ["demo", "nowebaccess2", "synack-lost"].includes(x.name))) {
      const page = await openSvg(c.svg, 600);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), c.name).toBeLessThanOrEqual(600);
      expect(await page.evaluate(geometryProblems), c.name).toEqual([]);
      await page.close();
    }
    // In an <img> (a slide, a README) it keeps its natural size.
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const demo = cases.find((c) => c.name === "demo")!;
    writeFileSync(join(tmp, "img.html"), `<!DOCTYPE html><img id="d" src="${demo.svg.split("/").pop()}">`);
    await page.goto(`file://${join(tmp, "img.html")}`);
    await page.waitForFunction(() => (document.getElementById("d") as HTMLImageElement).complete);
    const size = await page.evaluate(() => {
      const i = document.getElementById("d") as HTMLImageElement;
      return { w: i.naturalWidth, h: i.naturalHeight };
    });
    expect(size.w).toBe(980);
    expect(size.h).toBeGreaterThan(3000);
    await page.close();
  });

  it("the check sees an SVG that does not fit or a note cut at the edge (controls)", async () => {
    const c = cases.find((x) => x.name === "synack-lost")!;
    const page = await openSvg(c.svg, 600);
    await page.evaluate(() => {
      // As the SVG was before: fixed at its natural width, and a long note on one line.
      document.documentElement.style.width = "980px";
      const fn = document.querySelector("text.fn")!;
      fn.textContent = `${fn.textContent} ${"and a decision that goes on and on ".repeat(6)}`;
    });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeGreaterThan(600);
    expect((await page.evaluate(geometryProblems)).join("\n")).toMatch(/text "\(1\).*" runs past the edge/);
    await page.close();
  });

  it("the standalone SVG prints: within an A4 page's width, every note written out, a PDF comes out", async () => {
    for (const c of cases.filter((x) => ["demo", "synack-lost"].includes(x.name))) {
      // A4 is 794 CSS px wide; Chromium prints at that width.
      const page = await openSvg(c.svg, 794);
      await page.emulateMedia({ media: "print" });
      const r = await page.evaluate(() => ({
        right: document.documentElement.getBoundingClientRect().right,
        width: document.documentElement.clientWidth,
        notes: document.querySelectorAll("text.fn").length,
      }));
      expect(r.right, c.name).toBeLessThanOrEqual(r.width + 0.5);
      expect(r.notes, c.name).toBeGreaterThan(c.connections);
      expect(await page.evaluate(geometryProblems), c.name).toEqual([]);
      const pdf = await page.pdf({ format: "A4", printBackground: true });
      expect(pdf.subarray(0, 4).toString("latin1"), c.name).toBe("%PDF");
      expect(pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g)?.length ?? 0, c.name).toBeGreaterThanOrEqual(1);
      await page.close();
    }
  });
});
