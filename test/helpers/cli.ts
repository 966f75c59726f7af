// Runs the real `synack` binary (bin/synack.js -> dist/, compiled by the global setup).
import { spawn } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "synack.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `bin` runs another copy of the binary (default the checkout's). */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; bin?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: "1", ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`synack ${args.join(" ")} timed out; stdout: ${stdout} stderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the `synack` binary inside network namespace `ns` (root; the namespace is the caller's). */
export function runCliInNetns(ns: string, args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, BIN, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
