// How late this process's event loop ran while a timing test ran, so that the test's
// tolerance grows by what the machine's load added instead of failing on a loaded machine
// (or being made wide for every run). perf_hooks.monitorEventLoopDelay samples the loop
// every RESOLUTION_MS; its largest interval bounds how late any timer or device read of
// this process was during `run`, since a timer can be held back only while the loop is.
//
// In the test's own process (a Runtime driven by the test) the bound is exact. For a child
// process (the CLI) it is the same machine's scheduling measured beside it: a proxy, not a
// bound, so tests that use it for a child keep a fixed slack as well.
import { monitorEventLoopDelay } from "node:perf_hooks";

const RESOLUTION_MS = 5;

export interface Lagged<T> {
  result: T;
  /** The largest interval between two samples, in ms (at least RESOLUTION_MS): an upper bound on any one delay. */
  lagMs: number;
}

export async function withLoopLag<T>(run: () => Promise<T>): Promise<Lagged<T>> {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  try {
    const result = await run();
    return { result, lagMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}
