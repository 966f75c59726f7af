// The TUN and bulk benchmarks keep working (quick sizes): every variant runs and reports a
// positive number. No timing assertions. Root only; skipped with the reason otherwise.
import { describe, expect, it } from "vitest";
import { runBench } from "../../src/bench/index.js";
import { labSkipReason } from "../../src/bench/lab.js";

const why = labSkipReason();

describe.skipIf(why !== undefined)(`TUN and bulk benchmarks, quick${why ? ` (skipped: ${why})` : ""}`, () => {
  it("runs the bulk variants (plain writes, GSO writes, offload, each GSO kind also on the writer thread), kernel to kernel, and the receive direction", async () => {
    const report = await runBench({ quick: true, only: ["bulk"], command: "test" });
    const b = report.benchmarks[0];
    expect(b.status, b.reason).toBe("ok");
    const m = (key: string) => b.metrics.find((x) => x.key === key)!;
    for (const key of ["synackBulkMBps", "synackGsoBulkMBps", "synackGsoThreadBulkMBps", "synackOffloadBulkMBps", "synackOffloadThreadBulkMBps", "kernelBulkMBps"]) expect(m(key).median!, key).toBeGreaterThan(0);
    // The GSO variants really merged segments into larger writes, and with the offloads the
    // stack's own packets were large ones.
    expect(m("gsoSegmentsPerWrite").median!).toBeGreaterThan(1);
    expect(m("offloadSegmentsPerWrite").median!).toBeGreaterThan(1);
    // The receive direction: every variant ran, and the kernel sent GSO packets that the
    // addon cut (the run refuses to report a number otherwise).
    for (const key of ["rxOffloadBulkMBps", "rxNoOffloadBulkMBps", "rxPlainBulkMBps", "rxOffloadCpuPerMB", "rxNoOffloadCpuPerMB"]) expect(m(key).median!, key).toBeGreaterThan(0);
    expect(m("rxSegmentsPerGsoRead").median!).toBeGreaterThan(1);
  }, 60_000);

  it("runs the TUN packet benchmark through the batched write path", async () => {
    const report = await runBench({ quick: true, only: ["tun"], command: "test" });
    const b = report.benchmarks[0];
    expect(b.status, b.reason).toBe("ok");
    for (const key of ["tunWritePps", "tunReadPps", "tunEchoPps"]) expect(b.metrics.find((x) => x.key === key)!.median!, key).toBeGreaterThan(0);
  }, 60_000);
});
