// `synack conformance PATH...` (options in src/cli/commands.ts). Exit codes: 0 nothing
// failed, 1 a script failed, 2 usage error (one line on stderr).
import { existsSync } from "node:fs";
import { isProfileName, PROFILE_NAMES } from "../../stack/tcp/profiles.js";
import { colorsFor, makeColors, type Colors } from "../cli/colors.js";
import { CONFORMANCE } from "../cli/commands.js";
import { parseOrExit } from "../cli/options.js";
import { runPaths, type IpVersion, type ScriptReport } from "./runner.js";
import { conformanceMarkdown } from "./report.js";

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Colours for the text output (default: by the rules of src/cli/colors.ts for stdout). */
  colors?: Colors;
}

const defaultIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

function line(r: ScriptReport, c: Colors): string {
  const tag = r.result === "pass" ? c.green("PASS") : r.result === "fail" ? c.red("FAIL") : c.yellow("SKIP");
  let s = `${tag} ${r.path} (ipv${r.ip})`;
  if (r.reason) s += ` ${r.result === "skip" ? c.dim(r.reason) : r.reason}`;
  if (r.line !== null) s += ` line ${r.line}`;
  if (r.result === "fail" && r.expected !== undefined) s += `\n    expected: ${r.expected}\n    actual:   ${r.actual ?? ""}`;
  return s;
}

export async function conformanceCommand(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const p = parseOrExit(CONFORMANCE, argv, io);
  if (typeof p === "number") return p;
  const profileText = p.string("profile");
  if (profileText !== undefined && !isProfileName(profileText)) {
    io.stderr(`synack conformance: unknown profile "${profileText}" (one of ${PROFILE_NAMES.join(", ")})\n`);
    return 2;
  }
  const ipText = p.string("ip") ?? "both";
  if (ipText !== "4" && ipText !== "6" && ipText !== "both") {
    io.stderr(`synack conformance: --ip must be 4, 6 or both, not "${ipText}"\n`);
    return 2;
  }
  const missing = p.positionals.find((x) => !existsSync(x));
  if (missing !== undefined) {
    io.stderr(`synack conformance: no such file or folder: ${missing}\n`);
    return 2;
  }
  const modes = (["json", "markdown", "summary"] as const).filter((m) => p.flag(m));
  if (modes.length > 1) {
    io.stderr(`synack conformance: --${modes.join(" and --")} exclude each other\n`);
    return 2;
  }
  const c = io.colors ?? (io === defaultIo ? colorsFor(process.stdout) : makeColors(false));
  const ip: IpVersion | "both" = ipText === "both" ? "both" : (Number(ipText) as IpVersion);
  const profile = profileText !== undefined && isProfileName(profileText) ? profileText : undefined;
  const summary = p.flag("summary");
  const human = modes.length === 0 || summary;
  const report = runPaths(p.positionals, { profile, ip }, human ? (r) => (!summary || r.result === "fail" ? io.stdout(line(r, c) + "\n") : undefined) : undefined);
  if (p.flag("json")) io.stdout(JSON.stringify(report, null, 2) + "\n");
  else if (p.flag("markdown")) io.stdout(conformanceMarkdown(report, { command: `synack conformance --markdown ${p.positionals.join(" ")}` }) + "\n");
  else io.stdout(`${report.passed} passed, ${report.failed > 0 ? c.red(`${report.failed} failed`) : "0 failed"}, ${report.skipped} skipped\n`);
  return report.failed === 0 ? 0 : 1;
}
