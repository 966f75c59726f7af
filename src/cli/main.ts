// `synack`: one binary, subcommands as docs/cli.md lists them. Exit codes: 0 success, 1 the operation
// ran and failed, 2 usage or setup error (one line on stderr).
import { reportError } from "./errors.js";

const HELP = `synack - a user-space TCP stack with a Windows WSK-like facade

usage:
  synack demo [--json] [--pcap FILE] [--sim]
  synack connect HOST:PORT (--dev NAME --local ADDR | --raw IFNAME --local ADDR | --lab | --sim)
                 [--profile windows|linux|freebsd|rfc] [--syn-retries N] [--initial-rto MS]
                 [--fail-on-icmp] [--cancel-after MS] [--send TEXT] [--pcap FILE] [--json]
  synack replay CAPTURE... [--profile P] [--strict] [--json]
  synack conformance PATH... [--profile P] [--ip 4|6|both] [--json]
  synack diagram CAPTURE -o OUT.svg|OUT.html
  synack bench [--json] [--quick]

Addresses: 10.0.0.1:80, [fd00::1]:80. Run 'synack COMMAND --help' for details.
`;

type Command = (argv: string[]) => Promise<number>;

/** Subcommands, loaded on demand so one missing piece never breaks the others. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  connect: async () => (await import("./connect.js")).connectCommand,
  demo: async () => (await import("./demo.js")).demoCommand,
  replay: async () => (await import("../replay/cli.js")).replayCommand,
  diagram: async () => (await import("../diagram/cli.js")).diagramCommand,
  conformance: async () => (await import("../conformance/cli.js")).conformanceCommand,
  bench: async () => (await import("../bench/cli.js" as string)).benchCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === "--version" || cmd === "-v") {
    process.stdout.write("synack 0.1.0\n");
    return 0;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    process.stderr.write(`synack: unknown command "${cmd}" (try: synack --help)\n`);
    return 2;
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
