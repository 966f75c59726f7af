// `synack bench` (BENCHMARKS.md): runs the benchmarks side by side in one process,
// repeats each measurement, and reports min/median/max, ratios and BENCHMARKS.md's targets,
// with the machine, the date and the command. A benchmark that cannot run here (no root,
// no TUN addon) or that fails is reported as skipped/failed with the reason; the others
// still run.
import { cpus, release, totalmem } from "node:os";
import { readFileSync } from "node:fs";
import { tunConnects } from "./connects.js";
import { engineHandshakes } from "./engine.js";
import { memoryAndTimers } from "./memory.js";
import { checksumThroughput } from "./checksum.js";
import { tunPackets } from "./tun.js";
import { bulkTransfer } from "./bulk.js";
import type { BenchOutcome, BenchReport, Benchmark, MachineInfo, Metric, MetricSummary, RunOptions } from "./types.js";

export type { BenchOutcome, BenchReport, Benchmark, MachineInfo, Metric, MetricSummary, RunOptions, Target } from "./types.js";

/** Every benchmark, in the order of BENCHMARKS.md's table. */
export const BENCHMARKS: readonly Benchmark[] = [tunConnects, engineHandshakes, memoryAndTimers, checksumThroughput, tunPackets, bulkTransfer];

export interface BenchOptions {
  /** Benchmark names (see BENCHMARKS[].name) or section numbers ("2"); default all. */
  only?: string[];
  /** Small sizes, one run: for the smoke test and a quick look. */
  quick?: boolean;
  /** Accepted for the CLI's sake; the report is the same, formatting is the caller's. */
  json?: boolean;
  /** Measurement runs per benchmark (default 5, quick 1). */
  runs?: number;
  /** The command line shown in the report (default: this process's argv). */
  command?: string;
  /** Progress lines (e.g. to stderr) while running. */
  log?: (line: string) => void;
  /** Peer stacks for the connects benchmark ("lwip", "gvisor"); [] for none; default all available. */
  peers?: string[];
  /** Seconds per fixed-duration measurement (connects). */
  seconds?: number;
  /** Override the benchmark list (tests). */
  benchmarks?: readonly Benchmark[];
}

export function machineInfo(): MachineInfo {
  let cpu = cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // not Linux: os.cpus() is as good as it gets
  }
  return {
    cpu,
    cores: cpus().length,
    node: process.version,
    v8: process.versions.v8,
    kernel: release(),
    platform: process.platform,
    arch: process.arch,
    totalMemBytes: totalmem(),
  };
}

function median(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

export function summarize(runs: Metric[][]): MetricSummary[] {
  const byKey = new Map<string, { m: Metric; samples: number[]; invalid: string[] }>();
  for (const run of runs) {
    for (const m of run) {
      let e = byKey.get(m.key);
      if (!e) byKey.set(m.key, (e = { m, samples: [], invalid: [] }));
      if (m.invalid !== undefined) e.invalid.push(m.invalid);
      else e.samples.push(m.value);
    }
  }
  const out: MetricSummary[] = [];
  for (const { m, samples, invalid } of byKey.values()) {
    const sorted = [...samples].sort((a, b) => a - b);
    const any = sorted.length > 0;
    const med = any ? median(sorted) : null;
    const s: MetricSummary = { key: m.key, label: m.label, unit: m.unit, ratio: m.ratio === true, samples, min: any ? sorted[0] : null, median: med, max: any ? sorted[sorted.length - 1] : null };
    if (invalid.length > 0) s.invalid = invalid;
    if (m.target) {
      s.target = m.target;
      if (med !== null) s.meetsTarget = m.target.op === ">=" ? med >= m.target.value : med <= m.target.value;
    }
    out.push(s);
  }
  return out;
}

function selected(b: Benchmark, only: string[] | undefined): boolean {
  if (!only || only.length === 0) return true;
  return only.some((o) => o === b.name || o === String(b.section));
}

async function runOne(b: Benchmark, quick: boolean, runs: number, log: (s: string) => void, opts: RunOptions): Promise<BenchOutcome> {
  const t0 = performance.now();
  const base = { name: b.name, section: b.section, title: b.title, measures: b.measures, notes: b.notes ?? [] };
  // A benchmark may add notes in setup (e.g. which peers it skipped and why).
  const withNotes = (o: BenchOutcome): BenchOutcome => ({ ...o, notes: b.notes ?? [] });
  let why: string | undefined;
  try {
    why = await b.unavailable?.();
  } catch (err) {
    why = `cannot check prerequisites: ${(err as Error).message}`;
  }
  if (why !== undefined) {
    log(`${b.name}: skipped: ${why}`);
    return { ...base, status: "skipped", reason: why, metrics: [], elapsedMs: performance.now() - t0 };
  }
  const results: Metric[][] = [];
  let failure: string | undefined;
  let setUp = false;
  try {
    await b.setup?.(quick, opts);
    setUp = true;
    for (let i = 0; i < runs; i++) {
      log(`${b.name}: run ${i + 1}/${runs}`);
      const r = await b.run(quick, opts);
      for (const m of r) if (m.invalid !== undefined) log(`${b.name}: ${m.label}: INVALID: ${m.invalid}`);
      results.push(r);
    }
  } catch (err) {
    failure = `${setUp ? "" : "setup: "}${(err as Error).message ?? String(err)}`;
  } finally {
    try {
      await b.teardown?.();
    } catch (err) {
      failure ??= `teardown: ${(err as Error).message}`;
    }
  }
  const elapsedMs = performance.now() - t0;
  if (failure !== undefined) {
    log(`${b.name}: failed: ${failure}`);
    // Runs that completed before the failure are still reported.
    return withNotes({ ...base, status: "failed", reason: failure, metrics: summarize(results), elapsedMs });
  }
  return withNotes({ ...base, status: "ok", metrics: summarize(results), elapsedMs });
}

/** Runs the selected benchmarks one after the other (never two at once). */
export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const runs = Math.max(1, Math.floor(opts.runs ?? (quick ? 1 : 5)));
  const log = opts.log ?? (() => {});
  const list = (opts.benchmarks ?? BENCHMARKS).filter((b) => selected(b, opts.only));
  if (opts.only && opts.only.length > 0 && list.length === 0) {
    throw new Error(`no benchmark matches ${opts.only.join(", ")}; names: ${(opts.benchmarks ?? BENCHMARKS).map((b) => b.name).join(", ")}`);
  }
  const report: BenchReport = {
    machine: machineInfo(),
    date: new Date().toISOString(),
    command: opts.command ?? process.argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" "),
    runs,
    quick,
    benchmarks: [],
  };
  const runOpts: RunOptions = {};
  if (opts.peers !== undefined) runOpts.peers = opts.peers;
  if (opts.seconds !== undefined) runOpts.seconds = opts.seconds;
  for (const b of list) report.benchmarks.push(await runOne(b, quick, runs, log, runOpts));
  return report;
}

// ---------------------------------------------------------------------------------
// Text report

/** Integers with thousands separators from 1000 up, else 3 significant digits. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v) || a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function fmt(v: number | null): string {
  return v === null ? "-" : formatNumber(v);
}

function targetWord(s: MetricSummary): string {
  if (s.meetsTarget === undefined) return "not measured (no valid run)";
  return s.meetsTarget ? "met" : "NOT met";
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function table(rows: string[][], rightAligned: boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => pad(cell, widths[c], rightAligned[c])).join("  ").trimEnd());
}

/** A readable report: machine, date, command, then per benchmark a table of metrics. */
export function formatBenchReport(report: BenchReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push("synack bench");
  lines.push(`machine: ${m.cpu}, ${m.cores} cores, ${(m.totalMemBytes / 2 ** 30).toFixed(1)} GiB, ${m.platform} ${m.arch}, kernel ${m.kernel}`);
  lines.push(`node:    ${m.node} (V8 ${m.v8})`);
  lines.push(`date:    ${report.date}`);
  lines.push(`command: ${report.command}`);
  lines.push(`runs:    ${report.runs} per benchmark${report.quick ? " (quick: small sizes, numbers are indicative only)" : ""}; min / median / max over runs; targets (BENCHMARKS.md) checked on the median`);
  for (const b of report.benchmarks) {
    lines.push("");
    lines.push(`${b.section}. ${b.title} [${b.name}] (${(b.elapsedMs / 1000).toFixed(1)} s)`);
    lines.push(`   ${b.measures}`);
    if (b.status !== "ok") lines.push(`   ${b.status}: ${b.reason}`);
    if (b.metrics.length > 0) {
      const rows: string[][] = [["metric", "unit", "min", "median", "max", "target", ""]];
      for (const s of b.metrics) {
        const target = s.target ? `${s.target.op} ${formatNumber(s.target.value)} ${targetWord(s)}` : "";
        const nInvalid = s.invalid?.length ?? 0;
        const valid = nInvalid === 0 ? "" : s.median === null ? "INVALID (every run)" : `${nInvalid} run(s) INVALID, left out`;
        rows.push([s.label, s.unit, fmt(s.min), fmt(s.median), fmt(s.max), target, valid]);
      }
      for (const l of table(rows, [false, false, true, true, true, false, false])) lines.push(`   ${l}`);
      const reasons = [...new Set(b.metrics.flatMap((s) => s.invalid ?? []))];
      for (const r of reasons) lines.push(`   INVALID run: ${r}`);
    }
    for (const n of b.notes) lines.push(`   note: ${n}`);
  }
  const ratios = report.benchmarks.flatMap((b) => b.metrics.filter((s) => s.ratio).map((s) => ({ b, s })));
  if (ratios.length > 0) {
    lines.push("");
    lines.push("ratios (median):");
    for (const { s } of ratios) lines.push(`   ${s.label}: ${s.median === null ? "INVALID (no valid run)" : `${formatNumber(s.median)}x`}${s.target ? ` (target ${s.target.op} ${s.target.value}: ${targetWord(s)})` : ""}`);
  }
  return lines.join("\n") + "\n";
}
