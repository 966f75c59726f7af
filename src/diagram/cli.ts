// `synack diagram CAPTURE -o OUT.html|OUT.svg` (options in src/cli/commands.ts): a ladder
// diagram of each connection (each TCP active open) in the capture, beside our stack's
// closed-loop replay of it, with the stack's decisions as numbered notes. The replay uses
// the capture's sidecar like `synack replay` does (the demo's settings, a fixture's knobs).
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { isProfileName, PROFILE_NAMES, type ProfileName } from "../../stack/tcp/profiles.js";
import { DIAGRAM } from "../cli/commands.js";
import { parseOrExit } from "../cli/options.js";
import { replayFile } from "../replay/cli.js";
import { connectionLadder, renderHtml, renderSvg, type LadderConnection } from "./ladder.js";

export interface DiagramOptions {
  profile?: ProfileName;
  strict?: boolean;
  /** Even row spacing instead of time-proportional spacing. */
  compact?: boolean;
  /** 1-based indexes of the connections to draw (default all). */
  only?: number[];
}

export interface DiagramResult {
  text: string;
  /** Connections drawn. */
  connections: number;
  /** Active opens in the capture. */
  total: number;
  /** Drawn connections whose replay has a difference nothing explains. */
  unexplained: number;
  models: LadderConnection[];
}

/** Renders the diagram document for a capture file; an error line for bad input. */
export function diagramForFile(path: string, format: "svg" | "html", opts: DiagramOptions = {}): DiagramResult | { error: string } {
  const fr = replayFile(path, { profile: opts.profile, strict: opts.strict, trace: true });
  if ("error" in fr) return { error: fr.error };
  const total = fr.handshakes.length;
  const bad = opts.only?.find((n) => n < 1 || n > total);
  if (bad !== undefined) return { error: `--only ${bad}: the capture has ${total} active open(s)` };
  const picked = fr.handshakes.map((h, i) => ({ h, i })).filter(({ i }) => !opts.only || opts.only.includes(i + 1));
  const models = picked.map(({ h, i }) => connectionLadder(h, { index: i + 1, title: fr.titles[i] }));
  const name = basename(path);
  const text = format === "svg" ? renderSvg(models, { compact: opts.compact, title: name }) : renderHtml(models, { title: `synack diagram: ${name}`, compact: opts.compact });
  return { text, connections: models.length, total, unexplained: picked.filter(({ h }) => !h.match).length, models };
}

export async function diagramCommand(argv: string[]): Promise<number> {
  const p = parseOrExit(DIAGRAM, argv);
  if (typeof p === "number") return p;
  const out = p.string("output");
  if (!out) {
    process.stderr.write("synack diagram: -o OUT.html or -o OUT.svg is required (see synack diagram --help)\n");
    return 2;
  }
  const format = /\.svg$/i.test(out) ? "svg" : /\.html?$/i.test(out) ? "html" : undefined;
  if (!format) {
    process.stderr.write(`synack diagram: the output must end in .html or .svg, not "${out}"\n`);
    return 2;
  }
  const profile = p.string("profile");
  if (profile !== undefined && !isProfileName(profile)) {
    process.stderr.write(`synack diagram: unknown profile "${profile}" (one of ${PROFILE_NAMES.join(", ")})\n`);
    return 2;
  }
  let only: number[] | undefined;
  const onlyText = p.string("only");
  if (onlyText !== undefined) {
    const items = onlyText.split(",").map((x) => x.trim());
    const wrong = items.find((x) => !/^\d+$/.test(x));
    if (wrong !== undefined) {
      process.stderr.write(`synack diagram: --only takes connection numbers like 1,3 (not "${wrong}")\n`);
      return 2;
    }
    only = items.map(Number);
  }
  let res;
  try {
    res = diagramForFile(p.positionals[0]!, format, { profile: profile as ProfileName | undefined, strict: p.flag("strict"), compact: p.flag("compact"), only });
  } catch (e) {
    process.stderr.write(`synack diagram: internal error: ${(e as Error).message}\n`);
    return 2;
  }
  if ("error" in res) {
    process.stderr.write(`synack diagram: ${res.error}\n`);
    return 2;
  }
  try {
    writeFileSync(out, res.text);
  } catch (e) {
    process.stderr.write(`synack diagram: cannot write ${out}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "its folder does not exist" : (e as Error).message}\n`);
    return 2;
  }
  const shown = res.connections === res.total ? `${res.total} connection(s)` : `${res.connections} of ${res.total} connection(s)`;
  process.stdout.write(`${out}: ${shown}${res.unexplained > 0 ? `, ${res.unexplained} with differences nothing explains` : ""}\n`);
  return 0;
}
