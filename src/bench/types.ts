// Shapes shared by the benchmark modules and the harness (BENCHMARKS.md).

/** A target of BENCHMARKS.md's table, checked against the median. */
export interface Target {
  op: ">=" | "<=";
  value: number;
}

/** One number a benchmark run produced. */
export interface Metric {
  /** Stable identifier for --json consumers, e.g. "handshakesPerSec". */
  key: string;
  /** What a reader sees in the table. */
  label: string;
  /** "handshakes/s", "bytes", "ns", "x" (a ratio), ... */
  unit: string;
  value: number;
  target?: Target;
  /** A ratio of two measurements taken side by side in the same run. */
  ratio?: boolean;
  /**
   * Set when this run's value does not measure what the metric says (the set-up was the
   * bottleneck: listen drops, retransmissions). The value is then left out of the summary
   * and the reason is reported instead.
   */
  invalid?: string;
}

/** One benchmark of BENCHMARKS.md. Each module exports one (or more) of these. */
export interface Benchmark {
  /** Short name used by --only, e.g. "engine". */
  name: string;
  /** Its section number in BENCHMARKS.md's table (1..5). */
  section: number;
  title: string;
  /** One sentence: what is measured and how. */
  measures: string;
  /** Why it cannot run here (not root, addon missing, ...), or undefined. */
  unavailable?(): string | undefined | Promise<string | undefined>;
  /** Once before the runs (e.g. create a namespace). */
  setup?(quick: boolean, opts?: RunOptions): Promise<void>;
  /** One measurement run. */
  run(quick: boolean, opts?: RunOptions): Promise<Metric[]>;
  /** Once after the runs, also after a failure. */
  teardown?(): Promise<void>;
  /** Caveats printed under the table (how the measurement is made, what it includes). */
  notes?: string[];
}

/** Options a benchmark may use (from the CLI). */
export interface RunOptions {
  /** Peer stacks to run beside synack ("lwip", "gvisor"); default: every one available. */
  peers?: string[];
  /** Seconds per measurement of a fixed-duration benchmark (default per benchmark). */
  seconds?: number;
}

export interface MetricSummary {
  key: string;
  label: string;
  unit: string;
  ratio: boolean;
  /** The values of the valid runs, in run order. */
  samples: number[];
  /** null when no run was valid. */
  min: number | null;
  median: number | null;
  max: number | null;
  /** Reasons of the runs left out as invalid (absent when every run was valid). */
  invalid?: string[];
  target?: Target;
  /** Whether the median meets the target (absent when there is none or no run was valid). */
  meetsTarget?: boolean;
}

export interface BenchOutcome {
  name: string;
  section: number;
  title: string;
  measures: string;
  /** "skipped": a prerequisite is missing; "failed": it threw. */
  status: "ok" | "skipped" | "failed";
  reason?: string;
  metrics: MetricSummary[];
  notes: string[];
  /** Wall time the benchmark took, setup included. */
  elapsedMs: number;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  v8: string;
  kernel: string;
  platform: string;
  arch: string;
  totalMemBytes: number;
}

export interface BenchReport {
  machine: MachineInfo;
  /** ISO 8601 start time. */
  date: string;
  command: string;
  runs: number;
  quick: boolean;
  benchmarks: BenchOutcome[];
}
