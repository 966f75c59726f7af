#!/usr/bin/env node
// The synack command: runs the compiled CLI from dist/ (shipped in the package; in a
// checkout, built by `npm install`). Anything missing is one line on stderr and exit 2.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const main = join(root, "dist", "src", "cli", "main.js");
if (!existsSync(main)) {
  process.stderr.write(`synack: ${main} is missing: run \`npm install\` in ${root} (it compiles the TypeScript to dist/)\n`);
  process.exit(2);
}
let run;
try {
  ({ main: run } = await import(pathToFileURL(main).href));
} catch (e) {
  // A dependency that was never installed (a checkout without node_modules), or a broken dist/.
  const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
  process.stderr.write(`synack: cannot load the CLI (${why}): run \`npm install\` in ${root}\n`);
  process.exit(2);
}
process.exitCode = await run(process.argv.slice(2));
