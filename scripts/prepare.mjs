#!/usr/bin/env node
// `npm prepare` for synack: compiles the TypeScript to dist/ when TypeScript (a
// devDependency) is installed. npm also runs `prepare` when a checkout is installed as a
// dependency (e.g. `npx synack` inside a clone with no node_modules yet); there TypeScript is
// absent, so this says in one line what to do and succeeds, instead of failing the install
// with exit 127 and leaving a half-made npx cache behind.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  const built = existsSync(join(root, "dist", "src", "cli", "main.js"));
  if (!built) process.stderr.write(`synack: dist/ is not built and TypeScript is not installed here: run \`npm install\` in ${root}\n`);
  process.exit(0);
}
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);
