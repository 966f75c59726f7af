// `synack conformance PATH... [--profile P] [--ip 4|6|both] [--json] [--markdown]`
// (docs/cli.md). Exit codes: 0 nothing failed, 1 a script failed, 2 usage error (one line
// on stderr).
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { isProfileName } from "../../stack/tcp/profiles.js";
import { runPaths, type IpVersion, type ScriptReport } from "./runner.js";
import { conformanceMarkdown } from "./report.js";

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

function line(r: ScriptReport): string {
  let s = `${r.result.toUpperCase()} ${r.path} (ipv${r.ip})`;
  if (r.reason) s += ` ${r.reason}`;
  if (r.line !== null) s += ` line ${r.line}`;
  if (r.result === "fail" && r.expected !== undefined) s += `\n    expected: ${r.expected}\n    actual:   ${r.actual ?? ""}`;
  return s;
}

export async function conformanceCommand(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        profile: { type: "string" },
        ip: { type: "string", default: "both" },
        json: { type: "boolean", default: false },
        markdown: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    io.stderr(`synack conformance: ${(e as Error).message.split("\n")[0]}\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout("usage: synack conformance PATH... [--profile windows|linux|freebsd|rfc] [--ip 4|6|both] [--json] [--markdown]\n");
    return 0;
  }
  if (parsed.positionals.length === 0) {
    io.stderr("synack conformance: give at least one script or folder\n");
    return 2;
  }
  if (v.profile !== undefined && !isProfileName(v.profile)) {
    io.stderr(`synack conformance: unknown profile '${v.profile}' (windows, linux, freebsd, rfc)\n`);
    return 2;
  }
  const ipText = v.ip ?? "both";
  if (ipText !== "4" && ipText !== "6" && ipText !== "both") {
    io.stderr(`synack conformance: --ip must be 4, 6 or both, not '${ipText}'\n`);
    return 2;
  }
  const missing = parsed.positionals.find((p) => !existsSync(p));
  if (missing !== undefined) {
    io.stderr(`synack conformance: no such file or folder: ${missing}\n`);
    return 2;
  }
  if (v.json && v.markdown) {
    io.stderr("synack conformance: --json and --markdown exclude each other\n");
    return 2;
  }
  const ip: IpVersion | "both" = ipText === "both" ? "both" : (Number(ipText) as IpVersion);
  const profile = v.profile !== undefined && isProfileName(v.profile) ? v.profile : undefined;
  const human = !v.json && !v.markdown;
  const report = runPaths(parsed.positionals, { profile, ip }, human ? (r) => io.stdout(line(r) + "\n") : undefined);
  if (v.json) io.stdout(JSON.stringify(report, null, 2) + "\n");
  else if (v.markdown) io.stdout(conformanceMarkdown(report, { command: `synack conformance --markdown ${parsed.positionals.join(" ")}` }) + "\n");
  else io.stdout(`${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped\n`);
  return report.failed === 0 ? 0 : 1;
}
