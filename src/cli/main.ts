// `synack`: one binary with subcommands. Exit codes: 0 success, 1 the operation ran and
// failed, 2 usage or setup error (one line on stderr).
import { COMMAND_SPECS } from "./commands.js";
import { reportError } from "./errors.js";
import { formatHelp, synopsisLine, wantsHelp } from "./options.js";
import { exitOnSignals } from "./signals.js";
import { fileURLToPath } from "node:url";

function topHelp(): string {
  const lines = ["synack - a user-space TCP stack with a Windows WSK-like facade", "", "usage:"];
  for (const s of COMMAND_SPECS) lines.push(`  ${synopsisLine(s)}`);
  lines.push("", "commands:");
  const w = Math.max(...COMMAND_SPECS.map((s) => s.name.length)) + 2;
  for (const s of COMMAND_SPECS) lines.push(`  ${s.name.padEnd(w)}${s.brief}`);
  lines.push("", "Addresses: 10.0.0.1:80, [fd00::1]:80. 'synack COMMAND --help' (or 'synack help COMMAND') lists a command's options;");
  lines.push("'synack --version' prints the version.");
  lines.push("Exit codes: 0 success, 1 the operation ran and failed, 2 usage or setup error.");
  return lines.join("\n") + "\n";
}

type Command = (argv: string[]) => Promise<number>;

/**
 * Subcommands, loaded on demand so one missing piece never breaks the others: the module
 * (relative to this file) and the function it exports.
 */
const COMMANDS: Record<string, { module: string; run: string }> = {
  connect: { module: "./connect.js", run: "connectCommand" },
  listen: { module: "./listen.js", run: "listenCommand" },
  demo: { module: "./demo.js", run: "demoCommand" },
  replay: { module: "../replay/cli.js", run: "replayCommand" },
  diagram: { module: "../diagram/cli.js", run: "diagramCommand" },
  conformance: { module: "../conformance/cli.js", run: "conformanceCommand" },
  bench: { module: "../bench/cli.js", run: "benchCommand" },
};

/**
 * Loads a subcommand. Only the command's own module missing from the build means "not
 * available"; anything else (a module it imports is missing, a syntax error, an exception
 * while it loads) is a broken build or install and is reported as such, with its cause.
 */
async function loadCommand(cmd: string, entry: { module: string; run: string }): Promise<Command | string> {
  const url = new URL(entry.module, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { url?: string };
    if (err?.code === "ERR_MODULE_NOT_FOUND" && (err.url === url.href || (err.url === undefined && String(err.message).includes(fileURLToPath(url))))) {
      return `the "${cmd}" command is not available in this build`;
    }
    return `the "${cmd}" command could not be loaded: ${describeLoadError(e)}`;
  }
  const run = mod[entry.run];
  if (typeof run !== "function") return `the "${cmd}" command could not be loaded: ${fileURLToPath(url)} does not export ${entry.run}()`;
  return run as Command;
}

/** One line: the error's name and first line, and where it was thrown when the stack says. */
function describeLoadError(e: unknown): string {
  if (!(e instanceof Error)) return String(e).split("\n")[0]!;
  const first = `${e.name}: ${e.message.split("\n")[0]}`;
  const at = /(file:\/\/[^\s)]+):(\d+):(\d+)/.exec(e.stack ?? "");
  return at ? `${first} (at ${fileURLToPath(at[1]!)}:${at[2]})` : first;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    // `synack help connect` works as `synack connect --help`.
    const spec = cmd === "help" && rest[0] !== undefined ? COMMAND_SPECS.find((s) => s.name === rest[0]) : undefined;
    if (cmd === "help" && rest[0] !== undefined && !spec) {
      process.stderr.write(`synack: unknown command "${rest[0]}" (commands: ${COMMAND_SPECS.map((s) => s.name).join(", ")})\n`);
      return 2;
    }
    if (cmd === undefined) {
      process.stderr.write(topHelp());
      return 2;
    }
    process.stdout.write(spec ? formatHelp(spec) : topHelp());
    return 0;
  }
  if (cmd === "--version" || cmd === "-v") {
    process.stdout.write("synack 0.1.0\n");
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  const spec = COMMAND_SPECS.find((s) => s.name === cmd);
  if (!load) {
    process.stderr.write(`synack: unknown command "${cmd}" (commands: ${Object.keys(COMMANDS).join(", ")}; try synack --help)\n`);
    return 2;
  }
  exitOnSignals(`synack ${cmd}`);
  // --help comes from the option table, whatever the command does with its arguments.
  if (spec && wantsHelp(spec, rest)) {
    process.stdout.write(formatHelp(spec));
    return 0;
  }
  const run = await loadCommand(cmd, load);
  if (typeof run === "string") {
    process.stderr.write(`synack: ${run}\n`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    return reportError(`synack ${cmd}`, e);
  }
}
