// Where each note of a timeline may stand: the note and the row it sits on must agree (a
// note about a SYN-ACK on the SYN-ACK, an application's CLOSE on the application's row, a
// timer's expiry on the timer's row). Used for the demo's scenarios in the simulation
// (test/cli/timeline.test.ts) and against the kernel (test/cli/demo.test.ts).

export interface PinRow {
  kind: "tcp" | "icmp" | "timer" | "app" | "note";
  dir?: "in" | "out";
  flags?: string;
  len?: number;
  decision: string;
  t: number;
}

interface Pin {
  note: RegExp;
  ok: (r: PinRow) => boolean;
  where: string;
}

const tcp = (r: PinRow) => r.kind === "tcp";
const isIn = (r: PinRow) => tcp(r) && r.dir === "in";
const isOut = (r: PinRow) => tcp(r) && r.dir === "out";
const has = (r: PinRow, f: string) => (r.flags ?? "").includes(f);

export const PINS: Pin[] = [
  { note: /^SYN-SENT -> ESTABLISHED$/, ok: (r) => isIn(r) && has(r, "S") && has(r, "."), where: "an incoming SYN-ACK" },
  { note: /^CLOSED -> SYN-SENT$/, ok: (r) => isOut(r) && r.flags === "S", where: "the first SYN" },
  { note: /^(send SYN|retransmit SYN|re-send SYN after RST)$/, ok: (r) => isOut(r) && r.flags === "S", where: "an outgoing SYN" },
  { note: /^ACK the SYN-ACK$/, ok: (r) => isOut(r) && r.flags === ".", where: "an outgoing ACK" },
  { note: /^send data$/, ok: (r) => isOut(r) && (r.len ?? 0) > 0, where: "an outgoing data segment" },
  { note: /^send FIN$/, ok: (r) => isOut(r) && has(r, "F"), where: "an outgoing FIN" },
  { note: /^ACK the FIN$/, ok: (r) => isOut(r) && r.flags === ".", where: "an outgoing ACK" },
  { note: /^RST: retry SYN in \d+ ms$/, ok: (r) => isIn(r) && has(r, "R"), where: "an incoming RST" },
  { note: /^SYN-SENT -> CLOSED: refused$/, ok: (r) => isIn(r) && has(r, "R"), where: "an incoming RST" },
  { note: /^SYN-SENT -> CLOSED: unreachable$/, ok: (r) => r.kind === "icmp", where: "an ICMP error" },
  { note: /^ignored \(TCP_FAIL_CONNECT_ON_ICMP_ERROR off\)$/, ok: (r) => r.kind === "icmp", where: "an ICMP error" },
  { note: /^SYN-SENT -> CLOSED: (timedOut|cancelled)$/, ok: (r) => r.kind === "note", where: "a row of its own (no packet causes it)" },
  { note: /^(SYN retransmission timer expired \(#\d+\)|RST retry timer: re-send SYN)$/, ok: (r) => r.kind === "timer", where: "a timer row" },
  { note: /^CLOSE: queue FIN after pending data$/, ok: (r) => r.kind === "app", where: "the application's row" },
  { note: /^(ESTABLISHED|CLOSE-WAIT) -> (FIN-WAIT-1|LAST-ACK)$/, ok: (r) => r.kind === "app", where: "the application's CLOSE" },
  { note: /^FIN-WAIT-1 -> FIN-WAIT-2$/, ok: (r) => isIn(r) && has(r, "."), where: "an incoming ACK" },
  { note: /^(FIN-WAIT-2|FIN-WAIT-1|CLOSING) -> (TIME-WAIT|CLOSING)$/, ok: (r) => isIn(r) && (has(r, "F") || has(r, ".")), where: "an incoming FIN or ACK" },
  { note: /^ESTABLISHED -> CLOSE-WAIT$/, ok: (r) => isIn(r) && has(r, "F"), where: "an incoming FIN" },
  { note: /^LAST-ACK -> CLOSED: finished$/, ok: (r) => isIn(r) && has(r, "."), where: "an incoming ACK" },
  { note: /^(delayed ACK timer|quick-ACK mode -> immediate ACK)$/, ok: (r) => isOut(r) && r.flags === ".", where: "an outgoing ACK" },
  { note: /^drop: icmpv6/, ok: () => false, where: "nowhere in this connection (a packet of no connection)" },
];

/** Every note of every row, checked against the pins; returns the misplaced ones. */
export function misplacedNotes(rows: readonly PinRow[]): string[] {
  const bad: string[] = [];
  for (const r of rows) {
    for (const note of r.decision.split("; ").filter(Boolean)) {
      const pin = PINS.find((p) => p.note.test(note));
      if (pin && !pin.ok(r)) bad.push(`"${note}" at ${r.t} ms sits on a ${r.kind}${r.dir ? ` ${r.dir}` : ""} ${r.flags ?? ""} row; it belongs on ${pin.where}`);
    }
  }
  return bad;
}

/** How many notes a pin recognised (so a test can tell that the pins were exercised). */
export function pinnedCount(rows: readonly PinRow[]): number {
  return rows.flatMap((r) => r.decision.split("; ").filter(Boolean)).filter((n) => PINS.some((p) => p.note.test(n))).length;
}
