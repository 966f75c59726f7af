// Usage and setup errors: one line on stderr, exit code 2, never a stack trace.
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** Prints a one-line reason for any error and returns the exit code to use. */
export function reportError(prefix: string, e: unknown): number {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${prefix}: ${msg.split("\n")[0]}\n`);
  return 2;
}
