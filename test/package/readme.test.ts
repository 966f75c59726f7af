// The README's code runs as written: every ```js / ```ts block of README.md is run from a
// fresh project that imports "synack" by name (TypeScript blocks are type-checked and
// compiled with the project's tsc first), must exit by itself with status 0 and nothing on
// stderr, and must print what the ```text block after it shows (port numbers may differ).
// Blocks that open a lab need root; they are skipped with the reason otherwise.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";

const ROOT = join(import.meta.dirname, "..", "..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

interface Block {
  lang: "js" | "ts";
  code: string;
  line: number;
  /** The ```text block that follows it, if any: what it prints. */
  prints?: string;
}

export function readmeBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  let m: RegExpExecArray | null;
  let last: Block | undefined;
  while ((m = re.exec(text))) {
    const lang = m[1];
    const line = text.slice(0, m.index).split("\n").length;
    if (lang === "js" || lang === "mjs" || lang === "ts") {
      last = { lang: lang === "ts" ? "ts" : "js", code: m[2], line };
      blocks.push(last);
    } else if (lang === "text" && last && last.prints === undefined && /prints\s*$/.test(text.slice(0, m.index).trimEnd())) {
      last.prints = m[2];
    } else last = undefined;
  }
  return blocks;
}

/** The expected output as a pattern: port numbers (":51234") may be anything. */
function outputPattern(prints: string): RegExp {
  const esc = prints.trimEnd().replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${esc.replace(/:\d+/g, ":\\d+")}\\n?$`);
}

const blocks = readmeBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));
const labWhy = Lab.unavailableReason();

describe("README code blocks", () => {
  const dir = mkdtempSync(join(tmpdir(), "synack-readme-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "readme-check", private: true, type: "module" }));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "synack"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the README has runnable blocks, and each shows what it prints", () => {
    expect(blocks.filter((b) => b.lang === "js").length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.lang === "ts").length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.prints === undefined).map((b) => b.line)).toEqual([]);
  });

  for (const [i, b] of blocks.entries()) {
    const needsLab = /\blab\b\s*:/.test(b.code);
    const why = needsLab ? labWhy : undefined;
    it.skipIf(why !== undefined)(`README.md:${b.line} (${b.lang}${needsLab ? ", lab" : ""}) runs and prints what the README says${why ? ` (skipped: ${why})` : ""}`, () => {
      let file = join(dir, `block${i}.mjs`);
      if (b.lang === "ts") {
        const src = join(dir, `block${i}.ts`);
        writeFileSync(src, b.code);
        writeFileSync(
          join(dir, `tsconfig${i}.json`),
          JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, skipLibCheck: false, types: ["node"], typeRoots: [join(ROOT, "node_modules", "@types")], outDir: join(dir, `out${i}`), rootDir: dir }, files: [src] }),
        );
        const tsc = spawnSync(process.execPath, [TSC, "-p", join(dir, `tsconfig${i}.json`)], { encoding: "utf8" });
        expect(tsc.stdout + tsc.stderr, "tsc").toBe("");
        expect(tsc.status).toBe(0);
        file = join(dir, `out${i}`, `block${i}.js`);
      } else writeFileSync(file, b.code);
      const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(r.error, "exits by itself").toBeUndefined();
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(outputPattern(b.prints!));
    });
  }
});
