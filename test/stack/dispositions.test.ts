// The checks of segment arrival as tables: state x segment kind -> disposition, per profile.
// synSentDisposition() (RFC 9293 §3.10.7.3) and arrivalDisposition() (§3.10.7.4, up to the
// fifth step's ACK-bit test) decide without changing the connection, so one connection per
// state answers every row. A cell reads "kind" or "kind:detail" (the outcome of a close,
// the reason code of a drop). Where a profile's policy changes a cell, the profile's table
// lists it; docs/profiles.md says which policy each profile picks.
import { describe, expect, it } from "vitest";
import { Harness, type Conn } from "../helpers/vt.js";
import { arrivalDisposition } from "../../stack/tcp/arrival.js";
import type { Disposition } from "../../stack/tcp/disposition.js";
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import { seqAdd } from "../../stack/tcp/seq.js";
import { synSentDisposition } from "../../stack/tcp/syn-sent.js";
import { summarizeOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpOption, type TcpSegment } from "../../stack/wire/types.js";

const ISS = 1000;
const PEER_ISS = 5000;

function label(d: Disposition): string {
  switch (d.kind) {
    case "close":
      return `close:${d.outcome}`;
    case "drop":
    case "dropAndResendSyn":
      return `${d.kind}:${d.reason}`;
    default:
      return d.kind;
  }
}

function segment(flags: number, seq: number, ack: number, payload = 0, options: TcpOption[] = []): TcpSegment {
  return { srcPort: 80, dstPort: 0, seq: seq >>> 0, ack: ack >>> 0, headerLength: 20, flags, reserved: 0, window: 65535, checksum: 0, urgent: 0, options, payload: new Uint8Array(payload) };
}

// ---------------------------------------------------------------------------------------
// SYN-SENT (RFC 9293 §3.10.7.3)

function synSent(profile: ProfileName, overrides?: ProfileOverrides): Conn {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", { iss: ISS, tsOffset: 0, overrides });
  h.advance(10);
  return conn;
}

type SynSentKind = (conn: Conn) => TcpSegment;
const SYN_SENT_KINDS: Record<string, SynSentKind> = {
  "SYN-ACK acknowledging our SYN": () => segment(TCP_SYN | TCP_ACK, PEER_ISS, ISS + 1),
  "SYN-ACK with SEG.ACK = ISS": () => segment(TCP_SYN | TCP_ACK, PEER_ISS, ISS),
  "SYN-ACK with SEG.ACK > SND.NXT": () => segment(TCP_SYN | TCP_ACK, PEER_ISS, ISS + 2),
  "RST,ACK with SEG.ACK > SND.NXT": () => segment(TCP_RST | TCP_ACK, 0, ISS + 5),
  "RST,ACK acknowledging our SYN": () => segment(TCP_RST | TCP_ACK, 0, ISS + 1),
  "RST without ACK": () => segment(TCP_RST, 0, 0),
  "SYN (crossing SYNs)": () => segment(TCP_SYN, PEER_ISS, 0),
  "ACK acknowledging our SYN, no SYN": () => segment(TCP_ACK, PEER_ISS, ISS + 1),
  "no control bits": () => segment(0, PEER_ISS, 0, 10),
  "SYN,FIN without ACK": () => segment(TCP_SYN | TCP_FIN, PEER_ISS, 0),
};

// One row per kind, in the order above; the RFC's answer, then what each profile changes.
const SYN_SENT_RFC = [
  "established",
  "rst",
  "rst",
  "drop:syn-sent: rst with unacceptable ack",
  "close:refused",
  "drop:syn-sent: rst without acceptable ack",
  "simultaneousOpen",
  "drop:syn-sent: no syn or rst",
  "drop:syn-sent: no syn or rst",
  "simultaneousOpen",
];
const SYN_SENT_EXPECTED: Record<ProfileName, string[]> = {
  rfc: SYN_SENT_RFC,
  freebsd: SYN_SENT_RFC,
  // synSentRst "retrySyn": an acceptable RST brings the SYN again.
  windows: SYN_SENT_RFC.map((e, i) => (i === 4 ? "retrySyn" : e)),
  windows7: SYN_SENT_RFC.map((e, i) => (i === 4 ? "retrySyn" : e)),
  // synSentBadAck "rstAndResendSyn": the answer to a bad ACK also re-sends the first SYN soon.
  linux: SYN_SENT_RFC.map((e, i) => (i === 1 || i === 2 ? "rstAndResendSyn" : i === 3 ? "dropAndResendSyn:syn-sent: rst with unacceptable ack" : e)),
};

describe("SYN-SENT: segment kind -> disposition, per profile (RFC 9293 §3.10.7.3)", () => {
  for (const profile of ["windows", "windows7", "linux", "freebsd", "rfc"] as ProfileName[]) {
    it(`${profile}`, () => {
      const conn = synSent(profile);
      const got = Object.values(SYN_SENT_KINDS).map((k) => {
        const seg = k(conn);
        return label(synSentDisposition(conn.c, seg, summarizeOptions(seg.options), conn.h.now));
      });
      expect(Object.fromEntries(Object.keys(SYN_SENT_KINDS).map((k, i) => [k, got[i]]))).toEqual(Object.fromEntries(Object.keys(SYN_SENT_KINDS).map((k, i) => [k, SYN_SENT_EXPECTED[profile][i]])));
      expect(conn.c.state).toBe("SYN-SENT"); // deciding changed nothing
      expect(conn.h.take().length).toBe(1); // the SYN only
    });
  }

  it("windows, windows7: after the last SYN retransmission an acceptable RST refuses (synSentRst retries while SYNs are left)", () => {
    // windows: SYNs at 0, 1, 3, 7, 15 s; windows7: at 0, 3, 9 s.
    for (const [profile, lastAt, syns] of [
      ["windows", 15_000, 5],
      ["windows7", 9_000, 3],
    ] as const) {
      const conn = synSent(profile);
      conn.h.advanceTo(lastAt - 10);
      expect(conn.c.synCount).toBe(syns - 1);
      expect(label(synSentDisposition(conn.c, segment(TCP_RST | TCP_ACK, 0, ISS + 1), { sackOK: false }, conn.h.now))).toBe("retrySyn");
      conn.h.advanceTo(lastAt + 10);
      expect(conn.c.synCount).toBe(syns);
      expect(label(synSentDisposition(conn.c, segment(TCP_RST | TCP_ACK, 0, ISS + 1), { sackOK: false }, conn.h.now))).toBe("close:refused");
    }
  });

  it("linux: a SYN-ACK whose TSecr no SYN of ours carried is answered with a RST (synSentPaws reject); the RFC profiles take it", () => {
    for (const [profile, expected] of [["linux", "rst"], ["freebsd", "established"], ["rfc", "established"]] as const) {
      const conn = synSent(profile);
      const seg = segment(TCP_SYN | TCP_ACK, PEER_ISS, ISS + 1, 0, [{ kind: "ts", val: 1, ecr: 99_999 }]);
      expect(label(synSentDisposition(conn.c, seg, summarizeOptions(seg.options), conn.h.now)), profile).toBe(expected);
    }
  });

  it("synFin drop (FreeBSD drop_synfin): a SYN,FIN is dropped before the steps, in SYN-SENT too", () => {
    const conn = synSent("freebsd", { synFin: "drop" });
    expect(label(synSentDisposition(conn.c, segment(TCP_SYN | TCP_FIN, PEER_ISS, 0), { sackOK: false }, conn.h.now))).toBe("drop:syn and fin");
  });
});

// ---------------------------------------------------------------------------------------
// SYN-RECEIVED and the synchronised states (RFC 9293 §3.10.7.4)

type State = "SYN-RECEIVED" | "ESTABLISHED" | "FIN-WAIT-1" | "FIN-WAIT-2" | "CLOSE-WAIT" | "CLOSING" | "LAST-ACK" | "TIME-WAIT";
const STATES: State[] = ["SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"];

/** A connection of `profile` in `state`, reached through a scripted peer (no timestamps: PAWS stays out of the table). */
function inState(profile: ProfileName, state: State): Conn {
  const h = new Harness({ profile });
  const conn = h.connect("10.0.0.1:80", { iss: ISS, tsOffset: 0 });
  h.advance(10);
  const mss: TcpOption[] = [{ kind: "mss", value: 1000 }];
  if (state === "SYN-RECEIVED") {
    conn.peer({ flags: TCP_SYN, seq: PEER_ISS, options: mss });
  } else {
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISS, ack: ISS + 1, options: mss });
    const una = ISS + 1;
    const peer = PEER_ISS + 1;
    if (state === "CLOSE-WAIT" || state === "LAST-ACK") conn.peer({ flags: TCP_FIN | TCP_ACK, seq: peer, ack: una });
    if (state === "LAST-ACK") conn.c.close(h.now);
    if (state === "FIN-WAIT-1" || state === "FIN-WAIT-2" || state === "CLOSING" || state === "TIME-WAIT") conn.c.close(h.now);
    if (state === "FIN-WAIT-2" || state === "TIME-WAIT") conn.peer({ flags: TCP_ACK, seq: peer, ack: una + 1 });
    if (state === "TIME-WAIT") conn.peer({ flags: TCP_FIN | TCP_ACK, seq: peer, ack: una + 1 });
    if (state === "CLOSING") conn.peer({ flags: TCP_FIN | TCP_ACK, seq: peer, ack: una });
  }
  h.advance(1);
  if (conn.c.state !== state) throw new Error(`set-up reached ${conn.c.state}, not ${state}`);
  return conn;
}

type Kind = (conn: Conn) => TcpSegment;
const KINDS: Record<string, Kind> = {
  "ACK at RCV.NXT acknowledging SND.NXT": ({ c }) => segment(TCP_ACK, c.rcvNxt, c.sndNxt),
  "RST at RCV.NXT": ({ c }) => segment(TCP_RST, c.rcvNxt, 0),
  "RST in the window, not at RCV.NXT": ({ c }) => segment(TCP_RST, seqAdd(c.rcvNxt, 100), 0),
  "RST outside the window": ({ c }) => segment(TCP_RST, seqAdd(c.rcvNxt, 0x40000000), 0),
  "SYN in the window": ({ c }) => segment(TCP_SYN, seqAdd(c.rcvNxt, 100), 0),
  "SYN left of the window": ({ c }) => segment(TCP_SYN, seqAdd(c.rcvNxt, -100_000), 0),
  "the peer's SYN again (SEG.SEQ = IRS)": ({ c }) => segment(TCP_SYN, c.irs, 0),
  "data beyond the window": ({ c }) => segment(TCP_ACK, seqAdd(c.rcvNxt, 1_000_000), c.sndNxt, 10),
  "duplicate data left of the window, with ACK": ({ c }) => segment(TCP_ACK, seqAdd(c.rcvNxt, -20), c.sndNxt, 10),
  "the peer's FIN again (ending at RCV.NXT), with ACK": ({ c }) => segment(TCP_FIN | TCP_ACK, seqAdd(c.rcvNxt, -1), c.sndNxt),
  "data at RCV.NXT without ACK": ({ c }) => segment(0, c.rcvNxt, 0, 10),
  "SYN,FIN in the window": ({ c }) => segment(TCP_SYN | TCP_FIN, seqAdd(c.rcvNxt, 100), 0),
};

/**
 * The RFC's table (the rfc and windows profiles): rows are KINDS in order, columns STATES
 * in order (SYN-RECEIVED is a simultaneous open: our connection was an active OPEN).
 */
// Row builders: every state the same, or SYN-RECEIVED / the six later states / TIME-WAIT.
const all = (x: string): string[] => Array(STATES.length).fill(x);
const row = (synReceived: string, later: string, timeWait = later): string[] => [synReceived, ...Array(STATES.length - 2).fill(later), timeWait];
const RFC_TABLE: string[][] = [
  all("continue"),
  // RST at RCV.NXT: refused in SYN-RECEIVED (active OPEN), reset until our FIN, finished after it.
  ["close:refused", "close:reset", "close:reset", "close:reset", "close:reset", "close:finished", "close:finished", "close:finished"],
  all("challengeAck"),
  all("drop:rst out of window"),
  row("drop:no ack bit", "challengeAck"),
  row("oowAck", "challengeAck"),
  row("synAckAgain", "challengeAck"),
  all("oowAck"),
  all("oowAck"),
  row("oowAck", "oowAck", "timeWaitFin"),
  all("drop:no ack bit"),
  row("drop:no ack bit", "challengeAck"),
];

/** A copy of the RFC table with some cells changed: [row kind, state, value]. */
function changed(cells: Array<[string, State, string]>): string[][] {
  const t = RFC_TABLE.map((r) => [...r]);
  const kinds = Object.keys(KINDS);
  for (const [kind, state, v] of cells) {
    const r = kinds.indexOf(kind);
    if (r < 0) throw new Error(`no kind ${kind}`);
    t[r][STATES.indexOf(state)] = v;
  }
  return t;
}

const LATER_STATES: State[] = ["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK"];

const EXPECTED: Record<ProfileName, string[][]> = {
  rfc: RFC_TABLE,
  windows: RFC_TABLE,
  windows7: RFC_TABLE,
  // simOpenRstOutcome "reset": a RST in SYN-RECEIVED after a simultaneous open reports reset.
  linux: changed([["RST at RCV.NXT", "SYN-RECEIVED", "close:reset"]]),
  freebsd: changed([
    // oldSegment "bsd": a duplicate left of the window still has its ACK field processed.
    ...LATER_STATES.flatMap((s): Array<[string, State, string]> => [
      ["duplicate data left of the window, with ACK", s, "oldSegmentAck"],
      ["the peer's FIN again (ending at RCV.NXT), with ACK", s, "oldSegmentAck"],
    ]),
    // timeWait "freebsd": tcp_twcheck() instead of the steps.
    ["ACK at RCV.NXT acknowledging SND.NXT", "TIME-WAIT", "drop:duplicate ack in time-wait"],
    ["RST at RCV.NXT", "TIME-WAIT", "drop:rst in time-wait"],
    ["RST in the window, not at RCV.NXT", "TIME-WAIT", "drop:rst in time-wait"],
    ["RST outside the window", "TIME-WAIT", "drop:rst in time-wait"],
    ["SYN in the window", "TIME-WAIT", "reuse"],
    ["SYN left of the window", "TIME-WAIT", "drop:no ack in time-wait"],
    ["the peer's SYN again (SEG.SEQ = IRS)", "TIME-WAIT", "drop:no ack in time-wait"],
    ["data beyond the window", "TIME-WAIT", "ack"],
    ["duplicate data left of the window, with ACK", "TIME-WAIT", "ack"],
    ["data at RCV.NXT without ACK", "TIME-WAIT", "drop:no ack in time-wait"],
    ["SYN,FIN in the window", "TIME-WAIT", "reuse"],
  ]),
};

describe("SYN-RECEIVED and the synchronised states: state x segment kind -> disposition, per profile (RFC 9293 §3.10.7.4)", () => {
  for (const profile of ["windows", "windows7", "linux", "freebsd", "rfc"] as ProfileName[]) {
    it(`${profile}`, () => {
      const got: Record<string, Record<string, string>> = {};
      const want: Record<string, Record<string, string>> = {};
      const kinds = Object.entries(KINDS);
      for (const [si, state] of STATES.entries()) {
        const conn = inState(profile, state);
        const sent = conn.h.sent.length;
        got[state] = {};
        want[state] = {};
        for (const [ki, [name, kind]] of kinds.entries()) {
          const seg = kind(conn);
          got[state][name] = label(arrivalDisposition(conn.c, seg, summarizeOptions(seg.options)));
          want[state][name] = EXPECTED[profile][ki][si];
        }
        // Deciding changed nothing: same state, nothing sent.
        expect(conn.c.state).toBe(state);
        expect(conn.h.sent.length).toBe(sent);
      }
      expect(got).toEqual(want);
    });
  }

  it("policies change single cells: rstCheck rfc793 resets on any RST in the window, synCheck rfc793 on a SYN in the window, synFin drop drops SYN,FIN", () => {
    const rows: Array<[ProfileOverrides, string, string]> = [
      [{ rstCheck: "rfc793" }, "RST in the window, not at RCV.NXT", "close:reset"],
      [{ synCheck: "rfc793" }, "SYN in the window", "rstAckReset"],
      [{ synCheck: "rfc793" }, "SYN left of the window", "challengeAck"],
      [{ synFin: "drop" }, "SYN,FIN in the window", "drop:syn and fin"],
      [{ timeWait: "rfc1337" }, "RST at RCV.NXT", "close:reset"], // not TIME-WAIT: RFC 1337 is about TIME-WAIT only
    ];
    for (const [overrides, kind, expected] of rows) {
      const h = new Harness({ profile: "rfc" });
      const conn = h.connect("10.0.0.1:80", { iss: ISS, tsOffset: 0, overrides });
      conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISS, ack: ISS + 1, options: [{ kind: "mss", value: 1000 }] });
      expect(conn.c.state).toBe("ESTABLISHED");
      const seg = KINDS[kind](conn);
      expect(label(arrivalDisposition(conn.c, seg, summarizeOptions(seg.options))), `${JSON.stringify(overrides)} ${kind}`).toBe(expected);
    }
  });

  it("timeWait rfc1337: every RST in TIME-WAIT is dropped, in the window or not", () => {
    const h = new Harness({ profile: "linux" });
    const conn = h.connect("10.0.0.1:80", { iss: ISS, tsOffset: 0, overrides: { timeWait: "rfc1337" } });
    conn.peer({ flags: TCP_SYN | TCP_ACK, seq: PEER_ISS, ack: ISS + 1, options: [{ kind: "mss", value: 1000 }] });
    conn.c.close(h.now);
    conn.peer({ flags: TCP_ACK, seq: PEER_ISS + 1, ack: ISS + 2 });
    conn.peer({ flags: TCP_FIN | TCP_ACK, seq: PEER_ISS + 1, ack: ISS + 2 });
    expect(conn.c.state).toBe("TIME-WAIT");
    for (const kind of ["RST at RCV.NXT", "RST in the window, not at RCV.NXT", "RST outside the window"]) {
      const seg = KINDS[kind](conn);
      expect(label(arrivalDisposition(conn.c, seg, summarizeOptions(seg.options))), kind).toBe("drop:rst in time-wait");
    }
  });
});
