// Subcommand options as data: one table per subcommand gives both the parsing and the
// `--help` text, so the two cannot drift apart. Node's own `util.parseArgs` splits the
// arguments into tokens; this file checks them against the table and turns every mistake
// into one line that names the option and what it wants.
import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

export interface OptionSpec {
  /** Long name without the dashes ("syn-retries"). */
  name: string;
  /** One-letter alias ("o"). */
  short?: string;
  /** A value option shows its placeholder ("N", "FILE"); without one it is a flag. */
  value?: string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  /** One line for --help. */
  help: string;
}

export interface CommandSpec {
  /** "connect" */
  name: string;
  /** The positional part of the synopsis ("HOST:PORT", "CAPTURE..."). */
  args: string;
  /** Extra synopsis after the positional part (e.g. the choice of device). */
  synopsis?: string;
  /** What the command does, for its --help (a sentence or two). */
  summary: string;
  /** What the command does in a few words, for the overview of `synack --help`. */
  brief: string;
  /** How many positional arguments, and what to call them in messages. */
  positionals: { min: number; max: number; what: string };
  options: OptionSpec[];
  /** Lines printed after the option list (addresses, exit codes, where the docs are). */
  notes?: string[];
}

const HELP_OPTION: OptionSpec = { name: "help", short: "h", help: "print this help and exit" };

/** The parsed command line, with typed and checked accessors. */
export class ParsedArgs {
  constructor(
    readonly spec: CommandSpec,
    readonly positionals: string[],
    private readonly values: Map<string, string[] | true>,
  ) {}

  has(name: string): boolean {
    return this.values.has(this.known(name).name);
  }

  flag(name: string): boolean {
    return this.values.get(this.known(name).name) === true;
  }

  /** The last value given for a value option. */
  string(name: string): string | undefined {
    const v = this.values.get(this.known(name).name);
    return Array.isArray(v) ? v[v.length - 1] : undefined;
  }

  /** Every value given for a value option, in order. */
  strings(name: string): string[] {
    const v = this.values.get(this.known(name).name);
    return Array.isArray(v) ? v : [];
  }

  /** A whole number within [min, max]; undefined when the option is absent. */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number, not "${v}"`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, not ${v}`);
    return n;
  }

  /** One of a fixed set of words; undefined when the option is absent. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, not "${v}"`);
    return v as T;
  }

  private known(name: string): OptionSpec {
    const o = this.spec.options.find((x) => x.name === name);
    if (!o) throw new Error(`option --${name} is not in the table of ${this.spec.name}`);
    return o;
  }
}

/** Levenshtein distance, for "did you mean" on a mistyped option. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

function suggestion(spec: CommandSpec, raw: string): string {
  const name = raw.replace(/^-+/, "");
  const all = [...spec.options, HELP_OPTION];
  let best: OptionSpec | undefined;
  let bestD = Infinity;
  for (const o of all) {
    const dd = Math.min(distance(name, o.name), o.name.startsWith(name) && name.length >= 2 ? 1 : Infinity);
    if (dd < bestD) {
      bestD = dd;
      best = o;
    }
  }
  return best && bestD <= Math.max(1, Math.floor(best.name.length / 3)) ? `; did you mean --${best.name}?` : "";
}

/** True when the arguments ask for help (`-h` or `--help` as an option, not as a value). */
export function wantsHelp(spec: CommandSpec, argv: readonly string[]): boolean {
  try {
    const p = parseCommand(spec, argv);
    return p === "help";
  } catch {
    // A usage error elsewhere on the line: help still wins if it was asked for plainly.
    return argv.includes("--help") || argv.includes("-h");
  }
}

/**
 * Parses `argv` against the table; "help" when -h/--help was given. Throws UsageError with a
 * one-line message for an unknown option, a missing or unexpected value, or a wrong number
 * of positional arguments.
 */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedArgs | "help" {
  const all = [...spec.options, HELP_OPTION];
  const byLong = new Map(all.map((o) => [o.name, o]));
  const byShort = new Map(all.filter((o) => o.short).map((o) => [o.short!, o]));
  // Every option is declared as a string to parseArgs (non-strict): it then hands over the
  // raw tokens and the rules below decide, so a negative number can be a value ("-1").
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(all.map((o) => [o.name, { type: o.value ? "string" : "boolean", ...(o.short ? { short: o.short } : {}) }])) as Record<string, { type: "string" | "boolean"; short?: string }>,
  });
  const values = new Map<string, string[] | true>();
  const positionals: string[] = [];
  let help = false;
  const seen = new Set<number>();
  for (const t of tokens) {
    if (t.kind === "positional") {
      if (!seen.has(t.index)) positionals.push(t.value);
      continue;
    }
    if (t.kind === "option-terminator") continue;
    const o = t.rawName.startsWith("--") ? byLong.get(t.name) : byShort.get(t.name) ?? byLong.get(t.name);
    if (!o) throw new UsageError(`unknown option ${t.rawName}${suggestion(spec, t.rawName)} (see synack ${spec.name} --help)`);
    if (o === HELP_OPTION) {
      help = true;
      continue;
    }
    if (!o.value) {
      if (t.inlineValue) throw new UsageError(`--${o.name} takes no value (got "${t.value}")`);
      values.set(o.name, true);
      continue;
    }
    let v = t.value;
    // parseArgs (non-strict) takes the next argument as the value even when it is another
    // option; a value that looks like an option is only taken when it is a number ("-1").
    if (v === undefined || (!t.inlineValue && v.startsWith("-") && !/^-\d/.test(v))) {
      throw new UsageError(`--${o.name} needs a value (${o.value})${v !== undefined ? `; to give one that starts with "-", write --${o.name}=${v}` : ""}`);
    }
    if (!t.inlineValue) seen.add(t.index + 1);
    const prev = values.get(o.name);
    if (Array.isArray(prev) && o.multiple) prev.push(v);
    else values.set(o.name, [v]);
  }
  if (help) return "help";
  const { min, max, what } = spec.positionals;
  if (positionals.length < min) throw new UsageError(`missing ${what} (see synack ${spec.name} --help)`);
  if (positionals.length > max) {
    throw new UsageError(max === 0 ? `unexpected argument "${positionals[0]}"` : `${max === 1 ? "one" : `at most ${max}`} ${what} expected, got ${positionals.length} arguments: ${positionals.map((p) => `"${p}"`).join(" ")}`);
  }
  return new ParsedArgs(spec, positionals, values);
}

/** The --help text: synopsis, summary, one line per option, notes. */
export function formatHelp(spec: CommandSpec): string {
  const all = [...spec.options, HELP_OPTION];
  const left = (o: OptionSpec) => `${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.value ? ` ${o.value}` : ""}`;
  const w = Math.max(...all.map((o) => left(o).length)) + 2;
  const lines = [`usage: synack ${spec.name}${spec.args ? ` ${spec.args}` : ""}${spec.synopsis ? ` ${spec.synopsis}` : ""} [options]`, "", spec.summary, "", "options:"];
  for (const o of all) lines.push(`  ${left(o).padEnd(w)}${o.help}`);
  if (spec.notes && spec.notes.length > 0) lines.push("", ...spec.notes);
  return lines.join("\n") + "\n";
}

/** One usage line for the top-level help. */
export function synopsisLine(spec: CommandSpec): string {
  return `synack ${spec.name}${spec.args ? ` ${spec.args}` : ""}${spec.synopsis ? ` ${spec.synopsis}` : ""} [options]`;
}

/**
 * What a command does first: parse its arguments; on -h/--help print the help (exit 0), on
 * a usage error print one line (exit 2). Returns the parsed arguments or the exit code.
 */
export function parseOrExit(spec: CommandSpec, argv: readonly string[], io: { stdout: (s: string) => void; stderr: (s: string) => void } = defaultIo): ParsedArgs | number {
  try {
    const p = parseCommand(spec, argv);
    if (p === "help") {
      io.stdout(formatHelp(spec));
      return 0;
    }
    return p;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`synack ${spec.name}: ${e.message}\n`);
    return 2;
  }
}

const defaultIo = {
  stdout: (s: string) => void process.stdout.write(s),
  stderr: (s: string) => void process.stderr.write(s),
};
