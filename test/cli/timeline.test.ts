// The terminal timeline puts every note on the packet, timer or application call it belongs
// to: checked on a scripted exchange in virtual time, and on each of the demo's scenarios
// against the simulated peer (the kernel variant is in test/cli/demo.test.ts).
import { describe, expect, it } from "vitest";
import { segmentsFromTrace, type TimelineRow } from "../../src/cli/timeline.js";
import { SCENARIOS, scenarioRun, simulatedNetwork } from "../../src/cli/demo.js";
import { runConnect } from "../../src/lab/session.js";
import { SimDevice } from "../../src/lab/simpeer.js";
import { borrowDevice } from "../../device/borrow.js";
import { buildIcmpError, buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from "../../stack/wire/types.js";
import type { TraceEvent } from "../../stack/trace.js";
import { Harness } from "../helpers/vt.js";
import { misplacedNotes, pinnedCount } from "../helpers/timeline-pins.js";

/**
 * The provenance of every note: it comes from an event of the row's own connection at the
 * row's instant, with no other packet, timer or application call of that connection in
 * between; and every note-worthy event of the connection is on exactly one row.
 */
function checkProvenance(rows: readonly TimelineRow[], trace: readonly TraceEvent[]): void {
  const conn = trace[rows.find((r) => r.kind === "tcp" && r.dir === "out")!.source]!.conn;
  const causes = new Set(["in", "out", "icmp", "timer", "user"]);
  const used = new Map<number, number>();
  for (const r of rows) {
    const src = trace[r.source]!;
    for (const i of r.noteSources) {
      used.set(i, (used.get(i) ?? 0) + 1);
      const ev = trace[i]!;
      expect(ev.conn, `note "${ev.decision}"`).toBe(conn);
      expect(Math.abs(ev.t - src.t), `note "${ev.decision}" at ${ev.t} on a row at ${src.t}`).toBeLessThan(0.001);
      const [a, b] = i < r.source ? [i, r.source] : [r.source, i];
      const between = trace.slice(a + 1, b).filter((e) => e.conn === conn && causes.has(e.kind) && e.bytes !== undefined);
      expect(between.map((e) => e.decision), `note "${ev.decision}" is separated from its row by another packet`).toEqual([]);
    }
  }
  trace.forEach((e, i) => {
    if (e.conn !== conn || e.kind === "in" || e.kind === "out" || (e.kind === "icmp" && e.bytes)) return;
    if (e.decision === "segment for connection") return;
    expect(used.get(i), `"${e.decision}" (${e.kind} at ${e.t}) is on ${used.get(i) ?? 0} rows`).toBe(1);
  });
}

describe("timeline notes belong to their own packet, timer or call", () => {
  it("a scripted exchange: another packet's drop and a late CLOSE stay off the data segment and the ACK", () => {
    const h = new Harness({ profile: "windows" });
    const c = h.connect("10.0.0.1:80");
    h.advance(5);
    const iss = c.c.iss;
    c.peer({ flags: TCP_SYN | TCP_ACK, seq: 1000, ack: iss + 1, options: [{ kind: "mss", value: 1460 }] });
    h.advance(2);
    c.c.send(new TextEncoder().encode("hello"), h.now);
    h.collect();
    h.advance(3);
    c.peer({ flags: TCP_ACK | TCP_PSH, seq: 1001, ack: iss + 6, payload: new TextEncoder().encode("hello") });
    // At the same instant, an ICMPv6 error about somebody else's connection: dropped by the
    // stack, and no business of this timeline.
    const other = buildTcpPacket({ src: "fd00::2", dst: "fd00::9", srcPort: 4000, dstPort: 443, seq: 1, ack: 0, flags: TCP_SYN, window: 1000, options: [] });
    h.inputBytes(buildIcmpError({ src: "fd00::1", dst: "fd00::2", type: 1, code: 0, original: other }));
    h.advance(500);
    c.c.close(h.now);
    h.collect();
    h.advance(1);
    c.peer({ flags: TCP_ACK | TCP_FIN, seq: 1006, ack: iss + 7 });
    h.advance(1);
    const rows = segmentsFromTrace(h.trace, 0, undefined);
    checkProvenance(rows, h.trace);
    expect(misplacedNotes(rows)).toEqual([]);
    const data = rows.find((r) => r.kind === "tcp" && r.dir === "in" && r.len === 5)!;
    expect(data.decision).not.toMatch(/icmp|drop/i);
    expect(rows.some((r) => /icmpv6/i.test(r.decision))).toBe(false);
    // The CLOSE is the application's, 500 ms after the data: its own row, with its state change.
    const app = rows.find((r) => r.kind === "app")!;
    expect(app.decision).toBe("CLOSE: queue FIN after pending data; ESTABLISHED -> FIN-WAIT-1");
    expect(app.t).toBeCloseTo(data.t + 500, 0);
    for (const r of rows) if (r !== app) expect(r.decision).not.toMatch(/FIN-WAIT-1$/);
    // The FIN leaves at the CLOSE's instant, right after it.
    const fin = rows.find((r) => r.kind === "tcp" && r.dir === "out" && r.flags.includes("F"))!;
    expect(rows.indexOf(fin)).toBe(rows.indexOf(app) + 1);
  });

  it("a timer's expiry is a row of its own, before the retransmission; the give-up stands alone", () => {
    const h = new Harness({ profile: "windows" });
    h.connect("10.0.0.1:80", { overrides: { initialRtoMs: 100, synRetries: 1 } });
    h.advance(1000);
    const rows = segmentsFromTrace(h.trace, 0, undefined);
    checkProvenance(rows, h.trace);
    expect(misplacedNotes(rows)).toEqual([]);
    expect(rows.map((r) => `${r.t} ${r.kind} ${r.flags} ${r.decision}`)).toEqual([
      "0 tcp S CLOSED -> SYN-SENT; send SYN",
      "100 timer  SYN retransmission timer expired (#1)",
      "100 tcp S retransmit SYN",
      "300 note  SYN-SENT -> CLOSED: timedOut",
    ]);
  });
});

describe("the demo's scenarios (simulated peer): every note pinned to its packet", () => {
  const device = borrowDevice(new SimDevice(simulatedNetwork()));
  for (const [i, s] of SCENARIOS.entries()) {
    it(`[${i + 1}] ${s.title}`, async () => {
      const r = await runConnect(scenarioRun(s, device));
      expect(r.status).toBe(s.expect);
      const t0 = r.trace[0]!.t;
      const rows = segmentsFromTrace(r.trace, t0, Number(r.local.slice(r.local.lastIndexOf(":") + 1)));
      checkProvenance(rows, r.trace);
      expect(misplacedNotes(rows)).toEqual([]);
      expect(pinnedCount(rows)).toBeGreaterThanOrEqual(2);
      // The notes the connection's end needs are present where the scenario has them.
      const all = rows.map((x) => x.decision).join("; ");
      if (s.expect === "STATUS_SUCCESS") expect(all).toMatch(/SYN-SENT -> ESTABLISHED.*ESTABLISHED -> FIN-WAIT-1/);
      if (s.expect === "STATUS_IO_TIMEOUT") expect(rows.at(-1)!.kind).toBe("note");
      if (s.expect === "STATUS_CANCELLED") expect(rows.at(-1)!.decision).toBe("SYN-SENT -> CLOSED: cancelled");
    });
  }
});
