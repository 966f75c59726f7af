// Closed-loop replay: our stack plays the recorded client of each active open, the
// recorded server (and routers) play themselves, and what our stack sends is compared with
// what the recorded client sent.
//
// How one active open is replayed:
// - A Stack owns the recorded client's address; connect() uses the recorded client port.
//   Under --strict it also uses the recorded ISN, TS clock (tsOffset = the SYN's TSval, our
//   TS clock ticks in ms as Linux's does since 4.13), SYN window, MSS, window scale, SACK/TS
//   offers, the option layout when a profile writes it, and a receive buffer that gives
//   the recorded client's first advertised window.
// - Server segments are injected at their recorded times (virtual time, ms since the first
//   SYN) with the acknowledgment number (and SACK blocks, and TS echo) moved from the
//   recorded client's sequence/TS space into ours; ICMP errors get their quoted sequence
//   number moved the same way. The server's own sequence space is left as recorded, so
//   acknowledgment numbers compare directly.
// - What the recorded client's application did is redone at the recorded times: new data
//   it sent goes through Connection.send(), its FIN through close(), a RST it sent in a
//   synchronised state (not as an answer our stack gives by itself) through abort().
//   Nagle is off (TCP_NODELAY): the recorded pacing already contains the recorded stack's.
//
// The steps, each a module that can be used and tested on its own:
//   1. setup.ts        recordedSides: what the recorded client and server sent;
//   2. setup.ts        planReplay: the profile (given or inferred) and the stack's knobs;
//   3. peer-script.ts  buildPeerScript / SequenceMapping: what the peer plays back, when;
//   4. drive.ts        driveReplay: our stack through the script in virtual time;
//   5. compare.ts      compareSegments: our segments against the recorded client's;
//   6. verdict.ts      classifyReplayed / outcomeDiff / finishDiffs / isMatch.
// This file chains them and draws the ladder data for diagrams.
//
// What is compared (documented in docs/replay.md):
// - every segment with SYN, FIN, RST or payload, the handshake's ACK, and the ACK that
//   answers a SYN from the server (e.g. a retransmitted SYN-ACK); pure ACKs after the
//   handshake are not compared (delayed-/quick-ACK policy is not part of the profiles);
// - per segment: flags (SYN/ACK/FIN/RST; PSH, ECE, CWR only under --strict), sequence
//   number relative to the ISN, payload length, acknowledgment number, send time
//   (tolerance 20 ms + 2 %); under --strict also the window (handshake segments), the
//   options (SACK blocks relative) and the TS clock (TSval difference = send-time
//   difference, 2 ticks of slack);
// - only up to the end of the recorded connection; afterwards our segments are not
//   compared, but a still-pending connect is run to its end for the outcome when the
//   recorded client was still retrying at the end of the capture (recorded "timeout").
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { TCP_ACK, type TcpOption } from "../../stack/wire/types.js";
import { NTSTATUS, hexStatus, statusName } from "../wsk/ntstatus.js";
import type { Capture } from "../../device/pcap/read.js";
import { extractActiveOpens, type ActiveOpen } from "./extract.js";
import { planReplay, recordedSides } from "./setup.js";
import { buildPeerScript } from "./peer-script.js";
import { driveReplay } from "./drive.js";
import { compareSegments } from "./compare.js";
import { classifyReplayed, finishDiffs, isMatch, judge } from "./verdict.js";
import { u32, type FileReplay, type HandshakeResult, type LadderPacket, type ReplayOptions, type SentPacket } from "./types.js";

export type { ComparedSegment, Diff, FileReplay, HandshakeResult, LadderPacket, ReplayOptions } from "./types.js";

function endpointText(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Replays one active open and compares it with the recording (the steps above, in order). */
export function replayActiveOpen(open: ActiveOpen, opts: ReplayOptions = {}): HandshakeResult {
  const sides = recordedSides(open);
  const setup = planReplay(open, sides, opts);
  const base = {
    client: endpointText(open.client.addr, open.client.port),
    server: endpointText(open.server.addr, open.server.port),
    family: open.family === 6 ? ("ipv6" as const) : ("ipv4" as const),
    profile: setup.profile,
    profileSource: setup.profileSource,
    inference: setup.inference.reason,
    strict: setup.strict,
  };
  const frames: [number, number] = [open.events[0]?.frame ?? 0, open.events[open.events.length - 1]?.frame ?? 0];
  const recorded = { outcome: open.outcome, detail: open.outcomeDetail, frames };
  const run = driveReplay(open, setup, buildPeerScript(open), { trace: opts.trace, seed: opts.seed, cancelAfterMs: opts.cancelAfterMs, fullClose: opts.fullClose, appWrites: opts.appWrites });
  if (run.kind === "connectFailed") {
    return {
      ...base,
      recorded,
      replayed: { outcome: "incomplete", status: "STATUS_INVALID_PARAMETER", ntstatus: hexStatus(NTSTATUS.STATUS_INVALID_PARAMETER), detail: `connect failed: ${run.error.error}: ${run.error.detail}` },
      match: false,
      diffs: [{ t: 0, field: "setup", recorded: "SYN", replayed: `connect failed: ${run.error.detail}` }],
      ladder: { recorded: [], replayed: [] },
      states: run.states,
      trace: run.trace,
      compared: 0,
      notCompared: 0,
      isn: { ours: 0, recorded: open.iss, server: sides.irs },
    };
  }
  const replayed = classifyReplayed(run);
  const segments = compareSegments(open, sides, setup, run.sent, run.ourIss);
  const verdict = judge(open, sides, setup, run, replayed, { cancelAfterMs: opts.cancelAfterMs });
  const diffs = [...run.injectionDiffs, ...segments.diffs, ...verdict.diffs];
  finishDiffs(diffs, open, sides, setup);
  return {
    ...base,
    recorded: { ...recorded, ...verdict.recorded },
    replayed: { outcome: replayed.outcome, status: statusName(replayed.status), ntstatus: hexStatus(replayed.status), detail: replayed.detail, ...verdict.replayed },
    match: isMatch(diffs),
    diffs,
    ladder: ladders(open, run.sent, run.ourIss, sides.irs),
    states: run.states,
    trace: run.trace,
    compared: segments.compared,
    notCompared: segments.notCompared,
    isn: { ours: run.ourIss, recorded: open.iss, server: sides.irs },
  };
}

/** Both ladders of a diagram: the recording, and our segments with the server's played back. */
export function ladders(open: ActiveOpen, sent: readonly SentPacket[], ourIss: number, irs: number | undefined): { recorded: LadderPacket[]; replayed: LadderPacket[] } {
  const ackBase = irs ?? 0;
  const recorded: LadderPacket[] = open.events.map((e) =>
    e.kind === "icmp"
      ? { t: e.t, dir: "s2c", kind: "icmp", frame: e.frame, label: `ICMP${e.version === 6 ? "v6" : ""} ${e.type}/${e.code} from ${e.from}` }
      : { t: e.t, dir: e.dir, kind: "tcp", frame: e.frame, label: segLabel(e.flags, e.dir === "c2s" ? u32(e.seq - open.iss) : u32(e.seq - (irs ?? e.seq)), e.dir === "c2s" ? u32(e.ack - ackBase) : u32(e.ack - open.iss), e.payload.length, e.window, e.options) },
  );
  const replayed: LadderPacket[] = [];
  for (const o of sent) {
    const p = parsePacket(o.bytes);
    if (!p.ok || p.value.l4.kind !== "tcp") continue;
    const t = p.value.l4.tcp;
    replayed.push({ t: o.t, dir: "c2s", kind: "tcp", label: segLabel(t.flags, u32(t.seq - ourIss), u32(t.ack - ackBase), t.payload.length, t.window, t.options) });
  }
  open.events.forEach((e, i) => {
    if (e.dir === "s2c") replayed.push(recorded[i]);
  });
  replayed.sort((a, b) => a.t - b.t);
  return { recorded, replayed };
}

export function segLabel(flags: number, seq: number, ack: number, len: number, window: number, options: readonly TcpOption[]): string {
  let s = `${formatTcpFlags(flags)} seq ${seq}`;
  if (flags & TCP_ACK) s += ` ack ${ack}`;
  s += ` win ${window}`;
  if (len > 0) s += ` len ${len}`;
  if (options.length > 0) s += ` <${options.map((o) => (o.kind === "mss" ? `mss ${o.value}` : o.kind === "wscale" ? `ws ${o.shift}` : o.kind === "ts" ? "TS" : o.kind === "unknown" ? `opt${o.type}` : o.kind)).filter((k) => k !== "nop" && k !== "eol").join(",")}>`;
  return s;
}

/** Replays every active open of an already-read capture. */
export function replayCapture(capture: Capture, file: string, opts: ReplayOptions = {}): FileReplay {
  const x = extractActiveOpens(capture);
  return {
    file,
    handshakes: x.opens.map((o) => replayActiveOpen(o, opts)),
    skipped: x.skipped,
    warnings: capture.warnings.map((w) => `${w.reason}`),
  };
}
