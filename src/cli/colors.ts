// Terminal colours for every subcommand's text output: on a TTY only, never when NO_COLOR
// is set (https://no-color.org) or TERM is "dumb"; FORCE_COLOR=1 turns them on for a pipe.

export interface Colors {
  readonly enabled: boolean;
  dim(s: string): string;
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

export function makeColors(enabled: boolean): Colors {
  const wrap = (code: number) => (s: string) => (enabled && s !== "" ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { enabled, dim: wrap(2), bold: wrap(1), red: wrap(31), green: wrap(32), yellow: wrap(33), cyan: wrap(36), magenta: wrap(35) };
}

/** Whether output to `stream` gets colours (see the file comment for the rules). */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "") return true;
  return !!stream.isTTY && env.TERM !== "dumb";
}

export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  return makeColors(colorEnabled(stream, env));
}
