// Helpers for the suite-wide parser tests: find the public scripts and cut one
// event's source text out of a script for round-trip comparison.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** ../shared/conformance next to the repository (test/conformance -> ../../../shared). */
export const CONFORMANCE_DIR = fileURLToPath(new URL("../../../shared/conformance", import.meta.url));
export const haveSuites = existsSync(CONFORMANCE_DIR);

export function listScripts(dir: string = CONFORMANCE_DIR): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".pkt")) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Remove `//` and C comments, leaving quoted strings, backquoted commands and
 * %{ }% blocks untouched (the same regions packetdrill's lexer protects).
 */
export function stripComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      const end = close < 0 ? text.length : close + 2;
      out += text.slice(i, end).replace(/[^\n]/g, " ");
      i = end;
      continue;
    }
    if (c === "%" && text[i + 1] === "{") {
      const close = text.indexOf("}%", i);
      const end = close < 0 ? text.length : close + 2;
      out += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === '"' || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
