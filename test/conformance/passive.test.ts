// The passive corpus (../shared/conformance-passive: passive open, LISTEN and CLOSED states,
// received data, congestion control) through the runner: no regression against the list of
// expected passes, every failure classified (KNOWN_PASSIVE_FAILURES), every skip naming what
// is missing, and the FreeBSD passive state-event-engine scripts passing under the freebsd
// profile except the engine gaps written down.
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConformanceReport, ScriptReport } from "../../src/conformance/runner.js";
import { runCorpus } from "../../src/conformance/report.js";
import { classifyFailure, KNOWN_PASSIVE_FAILURES } from "../../src/conformance/known-failures.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const PASSIVE_DIR = fileURLToPath(new URL("../../../shared/conformance-passive", import.meta.url));
const havePassive = existsSync(PASSIVE_DIR);
const EXPECTED_PASSIVE_PASSES = join(ROOT, "test/conformance/expected-passes-passive.json");
const UPDATE = process.env.SYNACK_UPDATE_DOCS === "1";
const SKIP_REASON = "../shared/conformance-passive is absent: the passive packetdrill suites are not available";

const key = (s: { path: string; ip: number }) => `${s.path} (ipv${s.ip})`;
const show = (s: ScriptReport) => `${key(s)}: ${s.result} ${s.reason ?? ""} line ${s.line ?? ""}`;

describe.skipIf(!havePassive)(`passive corpus (every *.pkt of ../shared/conformance-passive) (${havePassive ? "suites present" : SKIP_REASON})`, () => {
  let rep: ConformanceReport;
  beforeAll(() => {
    rep = runCorpus(PASSIVE_DIR);
  });

  it("no script that passed before fails now (test/conformance/expected-passes-passive.json)", () => {
    const passes = rep.scripts.filter((s) => s.result === "pass").map(key).sort();
    if (UPDATE) writeFileSync(EXPECTED_PASSIVE_PASSES, JSON.stringify(passes, null, 2) + "\n");
    const expected: string[] = JSON.parse(readFileSync(EXPECTED_PASSIVE_PASSES, "utf8"));
    expect(expected.length).toBeGreaterThan(300);
    const now = new Set(passes);
    const regressions = expected.filter((k) => !now.has(k)).map((k) => {
      const s = rep.scripts.find((x) => key(x) === k);
      return s ? show(s) : `${k}: not run`;
    });
    expect(regressions).toEqual([]);
  });

  it("every failure is classified (KNOWN_PASSIVE_FAILURES); every entry still explains a failure", () => {
    const fails = rep.scripts.filter((s) => s.result === "fail");
    expect(fails.filter((s) => !classifyFailure(s, KNOWN_PASSIVE_FAILURES)).map(show)).toEqual([]);
    const unused = KNOWN_PASSIVE_FAILURES.filter((k) => !fails.some((s) => classifyFailure(s, KNOWN_PASSIVE_FAILURES) === k)).map((k) => k.path.source);
    expect(unused).toEqual([]);
  });

  it("every skip names a missing feature; listen() and accept() are never the reason", () => {
    for (const s of rep.scripts.filter((x) => x.result === "skip")) expect(s.reason ?? "").toMatch(/not (supported|implemented)|unknown sysctl|runs only in IPv|expected to fail/);
    expect(rep.scripts.filter((s) => /listen|accept|passive open/.test(s.reason ?? "") && s.result === "skip").map(show)).toEqual([]);
  });

  it("FreeBSD state-event-engine, passive side (*-listen, *-closed, *-time-wait, SYN-RECEIVED from LISTEN): every run passes but the classified engine gaps", () => {
    const passive = rep.scripts.filter((s) => /^freebsd-tcp-testsuite\/state-event-engine\//.test(s.path));
    expect(passive.length).toBe(212);
    const bad = passive.filter((s) => s.result !== "pass" && !(s.result === "fail" && classifyFailure(s, KNOWN_PASSIVE_FAILURES)));
    expect(bad.map(show)).toEqual([]);
    // The LISTEN, CLOSED and TIME-WAIT folders pass whole (the gaps are in SYN-RECEIVED and
    // two LISTEN cases the engine answers by the RFC where FreeBSD drops).
    const whole = passive.filter((s) => /\/rcv-[a-z-]+-(closed|time-wait)\//.test(s.path) || /\/rcv-(ack|fin|fin-ack|rst|rst-ack|syn)-listen\//.test(s.path));
    expect(whole.length).toBe(120);
    expect(whole.filter((s) => s.result !== "pass").map(show)).toEqual([]);
  });
});
