// Fuzz driver (docs/robustness.md). Two kinds of pass per parser:
// - mutation: seeds built with the wire builders (corpus.ts), havoc-mutated (mutate.ts),
//   lengths and checksums fixed up part of the time so deeper code is reached;
// - property-based (fast-check): structured inputs with shrinking.
// `npm test` runs a short pass (FUZZ_SECONDS unset): a fixed number of inputs per target from
// a fixed seed, so it checks the same inputs on a quiet or a loaded machine.
// `npm run fuzz` sets FUZZ_SECONDS (default 60) per target; also:
//   FUZZ_TARGETS=parsePacket,stack   only these targets
//   FUZZ_INPUTS=10000000             stop a mutation target after this many inputs
//   FUZZ_PROPERTY_SECONDS=10         time per fast-check property (default FUZZ_SECONDS / 2)
//   FUZZ_SEED=1234                   seed (default: fixed in npm test, time-based in fuzz runs)
//   FUZZ_REPORT=/tmp/fuzz.json       append one JSON line per target (inputs, seconds, rate)
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PcapngWriter, PcapWriter } from "../../device/pcap/write.js";
import { buildIcmpError, buildTcpPacket, parsePacket } from "../../stack/wire/packet.js";
import { parseTcpOptions, writeTcpOptions } from "../../stack/wire/tcp-options.js";
import type { TcpOption } from "../../stack/wire/types.js";
import { optionCorpus, packetCorpus } from "./corpus.js";
import { mutate, Rng, toHex } from "./mutate.js";
import { canonicalOptions, captureTarget, cliArgsTarget, generateArgs, icmpTarget, mutatePacket, mutateScript, parsePacketTarget, rxSegmentTarget, scriptTarget, StackFuzzer, tcpOptionsTarget, tcpSegmentTarget } from "./targets.js";

const LONG = process.env.FUZZ_SECONDS !== undefined;
const SECONDS = LONG ? Number(process.env.FUZZ_SECONDS) : 0.4;
const MAX_INPUTS = process.env.FUZZ_INPUTS ? Number(process.env.FUZZ_INPUTS) : Infinity;
/** Time per fast-check property (they run beside the mutation loops); default half a target's. */
const PROPERTY_SECONDS = process.env.FUZZ_PROPERTY_SECONDS ? Number(process.env.FUZZ_PROPERTY_SECONDS) : SECONDS / 2;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : LONG ? Date.now() >>> 0 : 0x5eed;
const ONLY = process.env.FUZZ_TARGETS ? new Set(process.env.FUZZ_TARGETS.split(",").map((s) => s.trim())) : undefined;
/** An input that takes longer than this is a hang (the parsers are linear in the input). */
const MAX_INPUT_MS = 250;
const STACK_STEP_HANG_MS = 5000;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(HERE, "../../../shared");

const enabled = (name: string) => !ONLY || ONLY.has(name);

interface LoopResult {
  target: string;
  kind: "mutation" | "property";
  inputs: number;
  seconds: number;
  perSecond: number;
  maxInputMs: number;
  seed: number;
}

function nameSeed(name: string): number {
  let h = SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function report(r: LoopResult): void {
  const line = `[fuzz] ${r.target} (${r.kind}): ${r.inputs} inputs in ${r.seconds.toFixed(1)} s = ${Math.round(r.perSecond)}/s, slowest input ${r.maxInputMs.toFixed(2)} ms, seed ${r.seed}`;
  console.log(line);
  if (process.env.FUZZ_REPORT) fs.appendFileSync(process.env.FUZZ_REPORT, JSON.stringify(r) + "\n");
}

/**
 * Runs `target(gen())` until the time or input budget is spent. On a failure the error
 * names the seed, the iteration and the input (hex or JSON), so it replays exactly.
 */
function loop<T>(name: string, gen: (r: Rng) => T, target: (x: T) => void, show: (x: T) => string, quickInputs = 2000, seconds = SECONDS): LoopResult {
  const seed = nameSeed(name);
  const r = new Rng(seed);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  // npm test: exactly quickInputs inputs; a fuzz run: the time (or FUZZ_INPUTS) budget.
  const budget = LONG ? MAX_INPUTS : quickInputs;
  let n = 0;
  let maxMs = 0;
  while (n < budget) {
    if (LONG && (n & 63) === 0 && performance.now() > deadline) break;
    const x = gen(r);
    const t0 = performance.now();
    try {
      target(x);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).stack ?? e}\n  seed ${seed}, iteration ${n}\n  input ${show(x)}`);
    }
    let dt = performance.now() - t0;
    if (dt > MAX_INPUT_MS) {
      // The parsers are deterministic: a slow input is slow again. One slow run alone is
      // noise (GC, a busy machine), so time it three more times and keep the fastest.
      for (let k = 0; k < 3; k++) {
        const t1 = performance.now();
        target(x);
        dt = Math.min(dt, performance.now() - t1);
      }
      if (dt > MAX_INPUT_MS) throw new Error(`${name}: input takes ${dt.toFixed(0)} ms (> ${MAX_INPUT_MS} ms)\n  seed ${seed}, iteration ${n}\n  input ${show(x)}`);
    }
    if (dt > maxMs) maxMs = dt;
    n++;
  }
  const secs = (performance.now() - start) / 1000;
  const res: LoopResult = { target: name, kind: "mutation", inputs: n, seconds: secs, perSecond: n / secs, maxInputMs: maxMs, seed };
  report(res);
  return res;
}

/** fast-check: quickRuns runs in npm test; for `seconds` (or FUZZ_INPUTS runs) in a fuzz run. */
function property<T>(name: string, arb: fc.Arbitrary<T>, body: (x: T) => void, quickRuns = 300, seconds = PROPERTY_SECONDS): LoopResult {
  let n = 0;
  let maxMs = 0;
  const seed = nameSeed(name);
  const start = performance.now();
  fc.assert(
    fc.property(arb, (x) => {
      n++;
      const t0 = performance.now();
      body(x);
      let dt = performance.now() - t0;
      // As in loop(): one slow run alone is noise (GC, a busy machine); the fastest of four counts.
      for (let k = 0; k < 3 && dt > MAX_INPUT_MS; k++) {
        const t1 = performance.now();
        body(x);
        dt = Math.min(dt, performance.now() - t1);
      }
      if (dt > maxMs) maxMs = dt;
      if (dt > MAX_INPUT_MS) throw new Error(`input took ${dt.toFixed(0)} ms`);
    }),
    LONG ? { seed, numRuns: MAX_INPUTS === Infinity ? 1_000_000_000 : MAX_INPUTS, plugins: [fc.interruptAfterTimeLimit(seconds * 1000)] } : { seed, numRuns: quickRuns },
  );
  const secs = (performance.now() - start) / 1000;
  const res: LoopResult = { target: name, kind: "property", inputs: n, seconds: secs, perSecond: n / secs, maxInputMs: maxMs, seed };
  report(res);
  return res;
}

// ---------------------------------------------------------------------------------
// Arbitraries

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: "nop" }),
  fc.constant<TcpOption>({ kind: "sackOK" }),
  fc.integer({ min: 0, max: 0xffff }).map((value): TcpOption => ({ kind: "mss", value })),
  fc.integer({ min: 0, max: 0xff }).map((shift): TcpOption => ({ kind: "wscale", shift })),
  fc.tuple(u32, u32).map(([val, ecr]): TcpOption => ({ kind: "ts", val, ecr })),
  fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }).map((blocks): TcpOption => ({ kind: "sack", blocks })),
  fc.tuple(fc.integer({ min: 6, max: 255 }).filter((t) => t !== 8), fc.uint8Array({ maxLength: 8 })).map(([type, data]): TcpOption => ({ kind: "unknown", type, data })),
);
/** Option lists that fit the 40-byte option space. */
const optionListArb = fc.array(optionArb, { maxLength: 12 }).map((opts) => {
  const out: TcpOption[] = [];
  for (const o of opts) if (writeTcpOptions([...out, o]).length <= 40) out.push(o);
  return out;
});
const v4Arb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join("."));
const v6Arb = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((w) => w.map((x) => x.toString(16)).join(":"));
const addrPairArb = fc.oneof(fc.tuple(v4Arb, v4Arb), fc.tuple(v6Arb, v6Arb));
const segmentSpecArb = fc.record({
  addrs: addrPairArb,
  srcPort: fc.nat(0xffff),
  dstPort: fc.nat(0xffff),
  seq: u32,
  ack: u32,
  flags: fc.nat(0xff),
  window: fc.nat(0xffff),
  urgent: fc.nat(0xffff),
  options: optionListArb,
  payload: fc.uint8Array({ maxLength: 64 }),
});
/** A corpus seed plus byte edits (shrinks towards the smallest breaking edit). */
function editedArb(corpus: Uint8Array[]) {
  return fc
    .record({
      seed: fc.nat(corpus.length - 1),
      edits: fc.array(fc.tuple(fc.nat(4096), fc.nat(255)), { maxLength: 6 }),
      cut: fc.option(fc.nat(4096)),
    })
    .map(({ seed, edits, cut }) => {
      const b = corpus[seed].slice();
      for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
      return cut === null ? b : b.subarray(0, cut % (b.length + 1));
    });
}

// ---------------------------------------------------------------------------------
// Corpora

const PACKETS = packetCorpus();
const OPTIONS = optionCorpus();
const ICMP_MESSAGES = PACKETS.flatMap((p) => {
  const r = parsePacket(p);
  if (!r.ok || r.value.l4.kind !== "icmp") return [];
  return [p.subarray(r.value.ip.headerLength)];
});

function scriptCorpus(): string[] {
  const builtin = [
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2>\n+0 > . 1:1(0) ack 1\n+0 write(3, ..., 1000) = 1000\n+0 > P. 1:1001(1000) ack 1\n+.1 < R. 1:1(0) ack 1001 win 0\n",
    "--ip_version=ipv6\n`sysctl -q net.ipv4.tcp_timestamps=0`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n+0 > S 0:0(0) <...>\n+1 < icmp unreachable port_unreachable [0:0(0)]\n",
  ];
  const dir = path.join(SHARED, "conformance");
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (files.length >= 150) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".pkt")) files.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return [...builtin, ...files.map((f) => fs.readFileSync(f, "utf8"))];
}

function captureCorpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const ng = new PcapngWriter();
  const pc = new PcapWriter({ nanosecond: true });
  PACKETS.slice(0, 12).forEach((p, i) => {
    ng.write(BigInt(i) * 1000n, p, i % 2 ? "decision: fuzz seed" : undefined, i % 3 ? "in" : "out");
    pc.write(BigInt(i) * 1000n, p);
  });
  out.push(ng.toBytes(), pc.toBytes());
  const dir = path.join(SHARED, "pcaps");
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (/\.(pcap|pcapng|cap)$/.test(f) && fs.statSync(p).size <= 4096) out.push(new Uint8Array(fs.readFileSync(p)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------

const packetMutant = (r: Rng) => mutatePacket(r.pick(PACKETS), r, PACKETS);

describe("fuzz: the seeds themselves are valid (so mutations start from deep inside)", () => {
  it("every packet seed parses", () => {
    expect(PACKETS.length).toBeGreaterThan(20);
    for (const p of PACKETS) expect(parsePacket(p)).toMatchObject({ ok: true });
    expect(ICMP_MESSAGES.length).toBeGreaterThanOrEqual(10);
  });
  it("every option seed parses", () => {
    for (const o of OPTIONS) expect(parseTcpOptions(o)).toMatchObject({ ok: true });
  });
});

describe("fuzz: packet parsers (mutation)", () => {
  it.runIf(enabled("parsePacket"))("parsePacket: IPv4/IPv6 + extension headers, TCP, ICMP/ICMPv6", () => {
    const r = loop("parsePacket", packetMutant, parsePacketTarget, toHex);
    expect(r.inputs).toBeGreaterThan(1000);
  });
  it.runIf(enabled("rxSegment"))("RxSegment.parse (the stack's in-place parser) against parsePacket", () => {
    const r = loop("rxSegment", packetMutant, rxSegmentTarget, toHex);
    expect(r.inputs).toBeGreaterThan(1000);
  });
  it.runIf(enabled("tcpOptions"))("parseTcpOptions", () => {
    const r = loop("tcpOptions", (rng) => mutate(rng.pick(OPTIONS), rng, OPTIONS, 44), tcpOptionsTarget, toHex);
    expect(r.inputs).toBeGreaterThan(1000);
  });
  it.runIf(enabled("tcpSegment"))("parseTcp (bare segments)", () => {
    const segs = PACKETS.flatMap((p) => {
      const v = parsePacket(p);
      return v.ok && v.value.l4.kind === "tcp" ? [p.subarray(v.value.ip.headerLength)] : [];
    });
    const r = loop("tcpSegment", (rng) => mutate(rng.pick(segs), rng, segs, 200), tcpSegmentTarget, toHex);
    expect(r.inputs).toBeGreaterThan(1000);
  });
  it.runIf(enabled("icmp"))("parseIcmp / parseIcmpv6 and the quote readers", () => {
    const r = loop("icmp", (rng) => mutate(rng.pick(ICMP_MESSAGES), rng, ICMP_MESSAGES, 1300), icmpTarget, toHex);
    expect(r.inputs).toBeGreaterThan(1000);
  });
});

describe("fuzz: packet parsers (fast-check properties)", () => {
  const s = PROPERTY_SECONDS;
  it.runIf(enabled("parsePacket"))("any built TCP segment parses back to itself (v4 and v6)", () => {
    const r = property(
      "prop:tcpRoundTrip",
      segmentSpecArb,
      (x) => {
        const bytes = buildTcpPacket({ src: x.addrs[0], dst: x.addrs[1], ...x });
        parsePacketTarget(bytes);
        const p = parsePacket(bytes);
        if (!p.ok || p.value.l4.kind !== "tcp") throw new Error(`built segment refused: ${p.ok ? "not tcp" : p.reason}`);
        const t = p.value.l4.tcp;
        expect([t.srcPort, t.dstPort, t.seq, t.ack, t.flags, t.window, t.urgent]).toEqual([x.srcPort, x.dstPort, x.seq, x.ack, x.flags, x.window, x.urgent]);
        expect(canonicalOptions(t.options)).toBe(canonicalOptions(x.options));
        expect([...t.payload]).toEqual([...x.payload]);
      },
      300,
      s,
    );
    expect(r.inputs).toBeGreaterThan(50);
  });
  it.runIf(enabled("parsePacket"))("edited seed packets: invariants hold", () => {
    const r = property("prop:parsePacket", editedArb(PACKETS), parsePacketTarget, 300, s);
    expect(r.inputs).toBeGreaterThan(50);
  });
  it.runIf(enabled("tcpOptions"))("option lists: write/parse round trip; arbitrary option bytes", () => {
    property("prop:optionsRoundTrip", optionListArb, (opts) => {
      const p = parseTcpOptions(writeTcpOptions(opts));
      if (!p.ok) throw new Error(p.reason);
      expect(canonicalOptions(p.value)).toBe(canonicalOptions(opts));
    }, 300, s / 2);
    const r = property("prop:tcpOptions", fc.uint8Array({ maxLength: 44 }), tcpOptionsTarget, 300, s / 2);
    expect(r.inputs).toBeGreaterThan(50);
  });
  it.runIf(enabled("icmp"))("ICMP errors quoting any TCP segment report its ports and sequence number", () => {
    const r = property(
      "prop:icmpQuote",
      fc.record({ spec: segmentSpecArb, type: fc.nat(255), code: fc.nat(255), quoteExtra: fc.nat(64) }),
      ({ spec, type, code, quoteExtra }) => {
        const original = buildTcpPacket({ src: spec.addrs[0], dst: spec.addrs[1], ...spec });
        const v6 = spec.addrs[0].includes(":");
        // An error type (v4: 3/4/11/12, v6: < 128) so the quote is read.
        const t = v6 ? type % 4 + 1 : [3, 4, 11, 12][type % 4];
        const bytes = buildIcmpError({ src: spec.addrs[1], dst: spec.addrs[0], type: t, code, original, quoteBytes: (v6 ? 40 : 20) + 8 + quoteExtra });
        parsePacketTarget(bytes);
        const p = parsePacket(bytes);
        if (!p.ok || p.value.l4.kind !== "icmp") throw new Error("icmp error refused");
        expect(p.value.l4.icmp.quote).toMatchObject({ protocol: 6, srcPort: spec.srcPort, dstPort: spec.dstPort, seq: spec.seq });
      },
      300,
      s,
    );
    expect(r.inputs).toBeGreaterThan(50);
    property("prop:icmpBytes", fc.uint8Array({ maxLength: 120 }), icmpTarget, 300, s / 2);
  });
});

describe("fuzz: Stack.input with live connections in every state", () => {
  it.runIf(enabled("stack"))("never throws; drops counted; connection and timer invariants hold", () => {
    const seed = nameSeed("stack");
    const r = new Rng(seed);
    const f = new StackFuzzer(r, PACKETS);
    const start = performance.now();
    const deadline = start + SECONDS * 1000;
    let steps = 0;
    let maxMs = 0;
    // npm test: 1 000 steps from the fixed seed; a fuzz run: the time (or FUZZ_INPUTS) budget.
    while (LONG ? f.inputs < MAX_INPUTS && performance.now() < deadline : steps < 1000) {
      const t0 = performance.now();
      let input: Uint8Array | undefined;
      try {
        input = f.step();
      } catch (e) {
        throw new Error(`stack: ${(e as Error).stack ?? e}\n  seed ${seed}, step ${steps}, resets ${f.resets}\n  last step: ${f.lastStep}`);
      }
      const dt = performance.now() - t0;
      if (dt > maxMs) maxMs = dt;
      // A stack step cannot be replayed alone (it depends on the state), so only a step far
      // beyond any GC pause or scheduling noise counts as a hang.
      if (dt > STACK_STEP_HANG_MS) throw new Error(`stack: step took ${dt.toFixed(0)} ms; seed ${seed}, step ${steps}; ${f.lastStep}; input ${input ? toHex(input) : "(time/user step)"}`);
      steps++;
    }
    const secs = (performance.now() - start) / 1000;
    report({ target: "stack", kind: "mutation", inputs: f.inputs, seconds: secs, perSecond: f.inputs / secs, maxInputMs: maxMs, seed });
    console.log(`[fuzz] stack: ${steps} steps, ${f.resets} stack rebuilds, states seen: ${[...f.statesSeen].sort().join(", ")}`);
    expect(f.inputs).toBeGreaterThan(200);
    // The scenario really puts connections in these states (else the fuzzing is shallow).
    for (const s of ["SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT"]) expect(f.statesSeen).toContain(s);
    expect(f.stack.stats.rxPackets).toBeGreaterThan(0);
  });

  it("the seeds that found the engine's bugs (docs/robustness.md; their cases are in test/stack/drops.test.ts and sender.test.ts) stay clean", () => {
    for (const seed of [4201612615, 2330035131]) {
      const f = new StackFuzzer(new Rng(seed));
      for (let i = 0; i < 3000; i++) f.step();
      expect(f.inputs).toBeGreaterThan(2000);
    }
  });
});

describe("fuzz: parsers of other areas", () => {
  it.runIf(enabled("packetdrill"))("parseScript (packetdrill scripts): never throws, errors carry a line", () => {
    const corpus = scriptCorpus();
    const r = loop("packetdrill", (rng) => mutateScript(rng.pick(corpus), rng, corpus), scriptTarget, (s) => JSON.stringify(s), 300);
    expect(r.inputs).toBeGreaterThan(20);
  });
  it.runIf(enabled("pcap"))("readCapture (pcap / pcapng): never throws, reasons carry an offset", () => {
    const corpus = captureCorpus();
    expect(corpus.length).toBeGreaterThanOrEqual(2);
    for (const c of corpus) captureTarget(c);
    const r = loop("pcap", (rng) => mutate(rng.pick(corpus), rng, corpus, 8192), captureTarget, toHex, 1000);
    expect(r.inputs).toBeGreaterThan(100);
  });
  it.runIf(enabled("cli"))("parseConnectArgs (synack connect arguments): only UsageErrors, accepted values in range", () => {
    const r = loop("cli", generateArgs, cliArgsTarget, (a) => JSON.stringify(a));
    expect(r.inputs).toBeGreaterThan(100);
  });
});
