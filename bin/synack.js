#!/usr/bin/env node
// The synack command: runs the compiled CLI from dist/ (built by `npm install`).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const main = join(root, "dist", "src", "cli", "main.js");
if (!existsSync(main)) {
  process.stderr.write(`synack: ${main} is missing: run \`npm install\` (or \`npm run build\`) in ${root}\n`);
  process.exit(2);
}
const { main: run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
