// Benchmark 4a (BENCHMARKS.md): Internet checksum throughput (RFC 1071) over 1500-byte
// packets, the engine's own internetChecksum() as used on every received segment.
import { internetChecksum } from "../../stack/wire/checksum.js";
import { seededRandom } from "../../stack/random.js";
import type { Benchmark, Metric } from "./types.js";

/** Distinct packets so the loop is not summing one cached buffer (1.5 MB in all). */
function packets(count: number, size: number): Uint8Array[] {
  const rnd = seededRandom(42);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const p = new Uint8Array(size);
    for (let j = 0; j < size; j += 4) {
      const v = rnd.nextUint32();
      p[j] = v;
      p[j + 1] = v >>> 8;
      p[j + 2] = v >>> 16;
      p[j + 3] = v >>> 24;
    }
    out.push(p);
  }
  return out;
}

export interface ChecksumResult {
  bytes: number;
  elapsedMs: number;
  gbPerSec: number;
}

export function measureChecksum(totalBytes: number, size = 1500): ChecksumResult {
  const ps = packets(1024, size);
  let x = 0;
  for (let i = 0; i < 20_000; i++) x ^= internetChecksum(ps[i & 1023]); // warm-up
  const n = Math.ceil(totalBytes / size);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) x ^= internetChecksum(ps[i & 1023]);
  const ns = Number(process.hrtime.bigint() - t0);
  if (x === -1) console.log(x); // keep the result alive
  const bytes = n * size;
  return { bytes, elapsedMs: ns / 1e6, gbPerSec: bytes / ns };
}

export const checksumThroughput: Benchmark = {
  name: "checksum",
  section: 4,
  title: "Internet checksum",
  measures: "internetChecksum() over 1024 distinct 1500-byte packets, GB/s (10^9 bytes per second)",
  async run(quick: boolean): Promise<Metric[]> {
    const r = measureChecksum(quick ? 30e6 : 1.5e9);
    return [{ key: "checksumGBps", label: "checksum, 1500-byte packets", unit: "GB/s", value: r.gbPerSec, target: { op: ">=", value: 2 } }];
  },
};
