// Packing the project as npm would publish it and installing the tarball into fresh
// projects, for the package tests. The pack runs in a copy of the checkout (so the
// prepack/prepare scripts rebuild dist/ there, never under the other tests' feet).
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws for a non-zero exit). */
export function sh(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, NO_COLOR: "1", ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 240_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const SKIP_TOP = new Set(["node_modules", "dist", "build", ".git", "tmp", "out"]);

/** A copy of the checkout without build output, with node_modules linked (for tsc). */
export function copyCheckout(dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const name of readdirSync(ROOT)) {
    if (SKIP_TOP.has(name) || name.endsWith(".tgz") || name.startsWith("synack-demo")) continue;
    cpSync(join(ROOT, name), join(dest, name), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dest, "node_modules"));
}

/** `npm pack` of a copy of the checkout; returns the tarball's path and npm's output. */
export async function packProject(work: string): Promise<{ tarball: string; run: Run }> {
  const src = join(work, "src");
  copyCheckout(src);
  const run = await sh("npm", ["pack", "--pack-destination", work, "--json"], { cwd: src });
  if (run.code !== 0) throw new Error(`npm pack failed (${run.code}): ${run.stderr.slice(-2000)}`);
  const info = JSON.parse(run.stdout.slice(run.stdout.indexOf("["))) as Array<{ filename: string }>;
  return { tarball: join(work, info[0].filename), run };
}

/** A fresh ESM project that installs the tarball; returns npm's output. */
export async function installInto(dir: string, tarball: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "synack-consumer", version: "1.0.0", private: true, type: "module" }, null, 2));
  return sh("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline", "--foreground-scripts"], { cwd: dir, env });
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
