// `node dist/src/bench/cli.js [--quick] [--json] [--runs N] [--only a,b] [--peers p,q|none]
// [--seconds S]`: runs the
// benchmarks and prints the report (text, or JSON with --json). Progress goes to stderr.
// The `synack bench` command calls runBench()/formatBenchReport() the same way.
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { formatBenchReport, runBench } from "./index.js";
import { PEER_NAMES } from "./peers.js";

export interface BenchArgs {
  quick: boolean;
  json: boolean;
  runs?: number;
  only?: string[];
  peers?: string[];
  seconds?: number;
}

/** Parses the bench flags; throws Error with a one-line reason on bad usage. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = { quick: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") out.quick = true;
    else if (a === "--json") out.json = true;
    else if (a === "--runs" || a === "--only" || a === "--peers" || a === "--seconds") {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === "--runs") {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--runs: not a positive integer: ${v}`);
        out.runs = n;
      } else if (a === "--seconds") {
        const n = Number(v);
        // Whole seconds: the peers' harnesses take an integer.
        if (!Number.isInteger(n) || n < 1 || n > 600) throw new Error(`--seconds: not a whole number of seconds from 1 to 600: ${v}`);
        out.seconds = n;
      } else if (a === "--peers") {
        const list = v === "none" ? [] : v.split(",").map((s) => s.trim()).filter(Boolean);
        const unknown = list.filter((p) => !(PEER_NAMES as readonly string[]).includes(p));
        if (unknown.length > 0) throw new Error(`--peers: unknown peer ${unknown.join(", ")} (use ${PEER_NAMES.join(", ")} or none)`);
        out.peers = list;
      } else out.only = v.split(",").map((s) => s.trim()).filter(Boolean);
    } else throw new Error(`unknown option ${a} (use --quick, --json, --runs N, --only NAME[,NAME], --peers lwip,gvisor|none, --seconds S)`);
  }
  return out;
}

/**
 * `synack bench [--quick] [--json] [--runs N] [--only NAME[,NAME]] [--peers lwip,gvisor|none]
 * [--seconds S]`. Prints the report to
 * stdout (progress to stderr). Exit code: 0 when every selected benchmark ran or was
 * skipped for a missing prerequisite, 1 when one failed, 2 on bad usage. Targets that are
 * not met do not change the exit code: they are measurements, not tests.
 */
export async function benchCommand(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`synack bench: ${(err as Error).message}\n`);
    return 2;
  }
  // Turn signals into process.exit() so the lab's exit hook removes its namespaces.
  const onSignal = (): void => process.exit(130);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const report = await runBench({ ...args, log: (l) => process.stderr.write(`${l}\n`) });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatBenchReport(report));
    return report.benchmarks.some((b) => b.status === "failed") ? 1 : 0;
  } catch (err) {
    process.stderr.write(`synack bench: ${((err as Error).message ?? String(err)).split("\n")[0]}\n`);
    return 2;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

// Run directly: `node dist/src/bench/cli.js ...` (not when imported by the synack CLI or tests).
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolvePath(entry)).href) {
  benchCommand(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
