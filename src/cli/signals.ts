// Ctrl-C (SIGINT) and SIGTERM end a command through process.exit(), so the exit hooks run:
// a lab namespace being set up or in use is removed (src/lab/lab.ts), never left behind.

const CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Installs the handlers once per process; `name` prefixes the one line printed. */
export function exitOnSignals(name: string): void {
  for (const sig of Object.keys(CODES) as NodeJS.Signals[]) {
    process.once(sig, () => {
      process.stderr.write(`${name}: interrupted (${sig}); cleaning up\n`);
      process.exit(CODES[sig]);
    });
  }
}
