// `synack`: one binary with subcommands. Exit codes: 0 success, 1 the operation ran and
// failed, 2 usage or setup error (one line on stderr).
import { COMMAND_SPECS } from "./commands.js";
import { reportError } from "./errors.js";
import { formatHelp, synopsisLine, wantsHelp } from "./options.js";
import { exitOnSignals } from "./signals.js";

function topHelp(): string {
  const lines = ["synack - a user-space TCP stack with a Windows WSK-like facade", "", "usage:"];
  for (const s of COMMAND_SPECS) lines.push(`  ${synopsisLine(s)}`);
  lines.push("", "commands:");
  const w = Math.max(...COMMAND_SPECS.map((s) => s.name.length)) + 2;
  for (const s of COMMAND_SPECS) lines.push(`  ${s.name.padEnd(w)}${s.summary.split(/(?<=[.:;])\s/)[0]!.replace(/[.:;]$/, "")}`);
  lines.push("", "Addresses: 10.0.0.1:80, [fd00::1]:80. 'synack COMMAND --help' lists a command's options.");
  lines.push("Exit codes: 0 success, 1 the operation ran and failed, 2 usage or setup error.");
  return lines.join("\n") + "\n";
}

type Command = (argv: string[]) => Promise<number>;

/** Subcommands, loaded on demand so one missing piece never breaks the others. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  connect: async () => (await import("./connect.js")).connectCommand,
  listen: async () => (await import("./listen.js")).listenCommand,
  demo: async () => (await import("./demo.js")).demoCommand,
  replay: async () => (await import("../replay/cli.js")).replayCommand,
  diagram: async () => (await import("../diagram/cli.js")).diagramCommand,
  conformance: async () => (await import("../conformance/cli.js")).conformanceCommand,
  bench: async () => (await import("../bench/cli.js" as string)).benchCommand,
};

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
  let run: Command;
  try {
    run = await load();
    if (typeof run !== "function") throw new Error("not available");
  } catch {
    process.stderr.write(`synack: the "${cmd}" command is not available in this build\n`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    return reportError(`synack ${cmd}`, e);
  }
}
