// vitest globalSetup: compile to dist/ first so the CLI tests run the real `synack` binary
// on the current sources (the native tsc takes well under a second).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  const root = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
  execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
}
