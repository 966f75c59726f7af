// A vitest reporter that ends the run with one plain line CI reads:
// "N passed, N failed, N skipped" (vitest's own summary is not recognised there).
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let expectedFailures = 0;
    for (const m of testModules) {
      // A file that failed to load counts as one failure.
      if (m.state() === "failed" && [...m.children.allTests()].length === 0) failed++;
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        // it.fails(...) documents a known gap (the test asserts the behaviour we lack): it is
        // neither a pass nor a failure, so count it with the skipped ones.
        if (t.options.fails && s === "passed") {
          skipped++;
          expectedFailures++;
        } else if (s === "passed") passed++;
        else if (s === "failed") failed++;
        else skipped++;
      }
    }
    failed += unhandledErrors.length;
    if (expectedFailures > 0) process.stdout.write(`\n(${expectedFailures} expected failures, known gaps marked it.fails, are counted as skipped)`);
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
