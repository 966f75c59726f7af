// `synack diagram CAPTURE -o OUT.svg|OUT.html [--profile P] [--strict]` (docs/cli.md):
// a ladder diagram of each connection (each TCP active open) in the capture, beside our
// stack's closed-loop replay of it with its decision trace.
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { readCaptureFile } from "../../device/pcap/read.js";
import { isProfileName, PROFILE_NAMES, type ProfileName } from "../../stack/tcp/profiles.js";
import { sidecarOverrides } from "../replay/cli.js";
import { replayCapture } from "../replay/replay.js";
import { connectionLadder, renderHtml, renderSvg } from "./ladder.js";

const USAGE = "usage: synack diagram CAPTURE -o OUT.svg|OUT.html [--profile windows|linux|freebsd|rfc] [--strict]";

/** Renders the diagram document for a capture file; an error string for bad input. */
export function diagramForFile(path: string, format: "svg" | "html", opts: { profile?: ProfileName; strict?: boolean } = {}): { text: string; connections: number } | { error: string } {
  const r = readCaptureFile(path);
  if (!r.ok) return { error: `${path}: ${r.reason} (offset ${r.offset})` };
  const side = sidecarOverrides(path);
  if (side.error) return { error: side.error };
  const fr = replayCapture(r.value, path, { profile: opts.profile, strict: opts.strict, overrides: side.overrides, trace: true });
  const conns = fr.handshakes.map((h) => connectionLadder(h, basename(path)));
  const text = format === "svg" ? renderSvg(conns) : renderHtml(conns, `synack diagram: ${basename(path)}`);
  return { text, connections: conns.length };
}

export async function diagramCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        output: { type: "string", short: "o" },
        profile: { type: "string" },
        strict: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`synack diagram: ${(e as Error).message.split("\n")[0]}\n${USAGE}\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`synack diagram: expected exactly one capture, got ${parsed.positionals.length}\n${USAGE}\n`);
    return 2;
  }
  const out = v.output;
  if (!out) {
    process.stderr.write(`synack diagram: -o OUT.svg or -o OUT.html is required\n${USAGE}\n`);
    return 2;
  }
  const format = /\.svg$/i.test(out) ? "svg" : /\.html?$/i.test(out) ? "html" : undefined;
  if (!format) {
    process.stderr.write(`synack diagram: output must end in .svg or .html: ${out}\n`);
    return 2;
  }
  if (v.profile !== undefined && !isProfileName(v.profile)) {
    process.stderr.write(`synack diagram: unknown profile '${v.profile}' (one of ${PROFILE_NAMES.join(", ")})\n`);
    return 2;
  }
  let res;
  try {
    res = diagramForFile(parsed.positionals[0]!, format, { profile: v.profile as ProfileName | undefined, strict: v.strict });
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
    process.stderr.write(`synack diagram: cannot write ${out}: ${(e as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`${out}: ${res.connections} connection(s)\n`);
  return 0;
}
