// Differential testing against the kernel (docs/kernel-diff.md: the kernel on this machine is the
// `linux` profile's oracle). pcaps/kernel_diff.py records N random scenarios with the Linux
// kernel as the TCP client and a scapy server; this module replays every capture under
// `--profile linux --strict`, checks the replay against what the kernel told its
// application (connect() errno and timing, from the sidecar), groups the unexplained
// differences into signatures and classifies the known ones (docs/kernel-diff.md).
//
//   node dist/src/replay/kernel-diff.js DIR [--json OUT.json] [--md OUT.md]
//   (scripts/kernel-diff.sh builds to a temporary directory and runs it.)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { readCaptureFile } from "../../device/pcap/read.js";
import { resolveProfile, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { timerGranularityMs } from "../../stack/tcp/timer-wheel.js";
import { summarizeOptions } from "../../stack/wire/tcp-options.js";
import { TCP_SYN } from "../../stack/wire/types.js";
import { runReplay } from "./cli.js";
import { extractActiveOpens } from "./extract.js";
import type { Diff, HandshakeResult } from "./replay.js";
import type { LadderPacket } from "./types.js";

/** The sidecar pcaps/kernel_diff.py writes beside each capture. */
export interface KernelDiffSidecar {
  name: string;
  family: 4 | 6;
  kernelResult: { connect: string; elapsed?: number; received?: number; actions?: string[] };
  scenario: { kind: string; [k: string]: unknown };
  sysctls: Record<string, number>;
  overrides: Record<string, unknown>;
  serverLog?: string[];
}

/**
 * What kind of cause a class of differences has (docs/kernel-diff.md, "Classes"):
 * - engine: the `linux` profile differs from the kernel in a way it should model;
 * - replay: the replay or the comparison cannot reproduce what the kernel was given;
 * - artefact: the capture shows the recording (capture tool, the rig's timing), not a TCP rule;
 * - residue: leftovers of a modelled behaviour whose per-case reason the capture cannot pin
 *   (a timer's phase, a helper's lateness) or that were not read one by one;
 * - not understood: a named pattern without an explanation yet;
 * - unclassified: no rule knows the case (its signature is its earliest difference).
 */
export type MismatchClass = "engine" | "replay" | "artefact" | "residue" | "not understood" | "unclassified";

export interface CaseResult {
  name: string;
  kind: string;
  family: 4 | 6;
  kernel: string;
  kernelElapsedMs?: number;
  recordedOutcome?: string;
  replayedOutcome?: string;
  replayedStatus?: string;
  match: boolean;
  /**
   * The kernel's connect() returned later than our decision, with no server packet in
   * between: its helper process ran late (errnoTimeFits); the case matches, counted here.
   */
  lateReturnMs?: number;
  /** Unexplained differences of the replay plus the errno check. */
  diffs: Diff[];
  signatures: string[];
  error?: string;
}

export interface SignatureSummary {
  signature: string;
  cls: MismatchClass;
  note: string;
  count: number;
  examples: string[];
}

export interface KernelDiffReport {
  dir: string;
  scenarios: number;
  matched: number;
  mismatched: number;
  errors: number;
  /** Matching cases whose connect() returned late (errnoTimeFits), by name with the lateness. */
  lateReturns: Array<{ name: string; ms: number }>;
  byKind: Record<string, { total: number; matched: number }>;
  signatures: SignatureSummary[];
  cases: CaseResult[];
}

/**
 * What the kernel's connect() result says about the outcome: the NTSTATUS values
 * (docs/ntstatus.md) that correspond to the errno. ICMP port unreachable gives ECONNREFUSED on Linux,
 * so that errno fits both a RST and the ICMP error.
 */
export function statusesForErrno(e: string): string[] | undefined {
  switch (e) {
    case "ok":
      return ["STATUS_SUCCESS", "STATUS_CONNECTION_RESET"];
    case "ECONNREFUSED":
      return ["STATUS_CONNECTION_REFUSED", "STATUS_PORT_UNREACHABLE"];
    case "ETIMEDOUT":
      return ["STATUS_IO_TIMEOUT"];
    case "timeout": // the helper's own timeout fired first: the kernel was still connecting
      return ["STATUS_PENDING", "STATUS_IO_TIMEOUT"];
    case "ENETUNREACH":
      // Also ICMP 3/9 (network administratively prohibited): Linux says ENETUNREACH, the
      // facade maps every administratively prohibited code (9/10/13) to STATUS_HOST_UNREACHABLE
      // (docs/ntstatus.md).
      return ["STATUS_NETWORK_UNREACHABLE", "STATUS_HOST_UNREACHABLE"];
    case "EHOSTUNREACH":
    case "EHOSTDOWN":
    case "ENONET":
    case "EACCES":
    case "EOPNOTSUPP":
      return ["STATUS_HOST_UNREACHABLE", "STATUS_NETWORK_UNREACHABLE"];
    case "ECONNRESET": // a RST in SYN-RECEIVED (after a simultaneous open) or later
      return ["STATUS_CONNECTION_RESET"];
    case "ENOPROTOOPT":
      return ["STATUS_PROTOCOL_UNREACHABLE"];
    case "EPROTO":
      return ["STATUS_HOST_UNREACHABLE", "STATUS_PROTOCOL_UNREACHABLE"];
    default:
      return undefined;
  }
}

/** A difference with the numbers taken out, so equal behaviours group together. */
export function signatureOf(kind: string, d: Diff): string {
  const norm = (s: string) =>
    s
      .replace(/ at \d+(\.\d+)? ms/g, "")
      .replace(/\d+(\.\d+)? ms/g, "T")
      .replace(/seq \d+/g, "seq N")
      .replace(/ack \d+/g, "ack N")
      .replace(/len \d+/g, "len N")
      .replace(/\b\d{3,}\b/g, "N");
  return `${kind} | ${d.field} | ${norm(d.recorded)} / ${norm(d.replayed)}`;
}

/** A scenario answer as pcaps/kernel_diff.py writes it (only the fields looked at here). */
interface Answer {
  a: string;
  ack?: string;
  fin?: boolean;
  data?: number;
  win?: number;
  quote?: string;
  type?: number;
  code?: number;
  opts?: Array<[string | number, unknown]>;
}

export interface Cause {
  id: string;
  cls: MismatchClass;
  /** The kernel's behaviour against ours, in words (docs/kernel-diff.md has the details). */
  note: string;
}

export const CAUSES: Record<string, Cause> = {
  "gso-capture": { id: "gso-capture", cls: "artefact", note: "tcpdump on a GSO veth saw unsegmented super-segments (runs before gso_max_segs 1)" },
  "syn-giveup-time": { id: "syn-giveup-time", cls: "engine", note: "kernel gives up at the first SYN timer expiry with retransmissions >= syn_retries + linear_timeouts OR now - first SYN >= (2^(syn_retries+1) - 1) x initial RTO; we only count" },
  "icmp-quote-snd-nxt": { id: "icmp-quote-snd-nxt", cls: "engine", note: "kernel accepts an ICMP error quoting SND.NXT (between(seq, snd_una, snd_nxt), inclusive) and aborts; we drop it" },
  "icmp-code-gt-15": { id: "icmp-code-gt-15", cls: "engine", note: "kernel ignores ICMP destination unreachable codes > 15 (NR_ICMP_UNREACH); we abort" },
  "paws-active-reject": { id: "paws-active-reject", cls: "engine", note: "kernel answers a SYN-ACK whose TSecr is outside [first SYN's TSval, now] with <SEQ=SEG.ACK><CTL=RST> and stays in SYN-SENT; we establish" },
  "synack-fin-data-ignored": { id: "synack-fin-data-ignored", cls: "engine", note: "kernel ignores FIN and data on a (non-TFO) SYN-ACK: its ACK is IRS+1; we take them" },
  "rst-badack-syn-retransmit": { id: "rst-badack-syn-retransmit", cls: "engine", note: "kernel re-sends the SYN about 8 ms (TCP_TIMEOUT_MIN) after a RST+ACK with an unacceptable ACK, when no SYN was retransmitted yet; we wait for the RTO" },
  "rst-options": { id: "rst-options", cls: "engine", note: "kernel's abort RST (and other RSTs from a socket) carry the TS option and SACK blocks; ours carry none" },
  "mss-small": { id: "mss-small", cls: "engine", note: "kernel ignores an MSS option of 0 (default MSS) and raises a smaller one to 48 (tcp_min_snd_mss); we send 1-byte segments" },
  "icmp-fragtime": { id: "icmp-fragtime", cls: "engine", note: "kernel drops ICMP time exceeded code 1 (fragment reassembly) before TCP sees it (icmp_unreach: ICMP_EXC_FRAGTIME); we abort with host unreachable" },
  "send-pattern": { id: "send-pattern", cls: "not understood", note: "which data segments go out when differs during slow start (both start with 10 segments; kd-7-0246 with MSS 48); not yet understood (pacing, TSQ, cwnd validation?)" },
  "zero-window-probe": { id: "zero-window-probe", cls: "engine", note: "kernel probes a zero window from the SYN-ACK after about one RTO (<SEQ=SND.UNA-1>); so do we once the write is queued (the replay queues a write the capture never shows at its time, appWrites): a case here is a residue (the probe's TSecr or time)" },
  "simopen-wscale": { id: "simopen-wscale", cls: "engine", note: "kernel quirk: in a simultaneous open with a peer SYN without window scale it keeps shifting its advertised window by its own scale (win 63); the linux profile does too (simOpenWscale), a case here is a residue" },
  "rexmit-timing": { id: "rexmit-timing", cls: "engine", note: "data retransmission time differs (kernel RTO about 245-290 ms on a fresh connection with a few ms RTT, also TLP); ours 200 ms" },
  "rexmit-fin-merge": { id: "rexmit-fin-merge", cls: "engine", note: "kernel retransmits the first segment alone (data without the FIN sent after it); we merge data and FIN into one retransmission" },
  "simopen-synack-backoff": { id: "simopen-synack-backoff", cls: "engine", note: "kernel retransmits its SYN-ACK after a simultaneous open (SYN-RECEIVED) with plain doubling (1, 2, 4 s: tcp_syn_linear_timeouts is for SYN-SENT only); we use the linear SYN schedule" },
  "data-after-close": { id: "data-after-close", cls: "engine", note: "kernel aborts when new data arrives after close() (FIN-WAIT, LINUX_MIB_TCPABORTONDATA) and answers it with <SEQ=SEG.ACK><CTL=RST>; the linux profile does too after a full close (dataAfterClose), a case here is a residue" },
  "simopen-rst-econnreset": { id: "simopen-rst-econnreset", cls: "engine", note: "kernel: a RST in SYN-RECEIVED after a simultaneous open fails connect() with ECONNRESET (tcp_reset(): only SYN-SENT gives ECONNREFUSED); the linux profile reports STATUS_CONNECTION_RESET (simOpenRstOutcome) and the extractor takes the RST as the attempt's end (refused); a case here is a residue" },
  "sack-blocks": { id: "sack-blocks", cls: "engine", note: "kernel ACKs carry SACK blocks for out-of-order data where ours carry none (after a simultaneous open whose peer SYN offered SACK; on the ACK answering a repeated SYN-ACK)" },
  "tail-loss-probe": { id: "tail-loss-probe", cls: "engine", note: "residue of the tail loss probe (tailLossProbe linux: RFC 8985 §7, tcp_schedule_loss_probe()): the kernel's probe and ours fall on different jiffies (PTO = 2 SRTT + 2 ms rounded up to a jiffy: our SRTT from the capture's wire times is a little shorter than the kernel's, whose samples run from the skb's transmit stamp to the ACK's processing), or a probe one side sends and the other not" },
  "tlp-new-data": { id: "tlp-new-data", cls: "replay", note: "the kernel's tail loss probe sent new data (tcp_send_loss_probe()); ours retransmitted the last segment because the replay hands the application's bytes to our stack only as the recorded segments show them, so the data was not queued yet (also a probe at the RTO's time, 2 SRTT + 200 ms with one segment out capped by tcp_rto_delta_us(): kd-31-0254, ours at 768.0 ms, the kernel's new 464 bytes at 796.2 ms, 28 ms apart, within one 32 ms granule of the wheel)" },
  "close-time": { id: "close-time", cls: "replay", note: "the kernel's close() came before the server's FIN, its own FIN held back by the server's zero window (tcp_write_xmit(): tcp_snd_wnd_test() does not let the FIN's sequence number past a zero window), so it went FIN-WAIT-1, CLOSING (tcp_fin()), TIME-WAIT and ACKed later data (tcp_timewait_state_process(): a segment that is not a bare in-window ACK or RST is answered with an ACK); the replay closes ours when the recorded FIN appears, after the server's FIN: CLOSE-WAIT, LAST-ACK, CLOSED, and a RST for the data (kd-31-0239: close() at 503.5 ms, server FIN at 509.1, data at 519.3)" },
  "capture-cut": { id: "capture-cut", cls: "artefact", note: "the capture ends with a server packet the client answered (the server's log has the client's segment after it) but the answer is not in the capture: the rig stops tcpdump (SIGINT) right after the scenario's server stops, and a packet sent in the last fraction of a millisecond is lost; ours is the RST the server's log says the kernel sent (kd-31-0383: a SYN-ACK after the client's abort at 535.4 ms, the server logged the client's RST 0.4 ms later)" },
  "send-backlog-race": { id: "send-backlog-race", cls: "artefact", note: "a server segment arrived while the application's send() held the socket (tcp_v4_rcv(): sock_owned_by_user(), tcp_add_backlog(); processed in release_sock() after tcp_sendmsg() had sent the data): the kernel's data segment went out before it saw the segment, so without the SACK block, and the ACK right after it carries it; the capture's order is not the kernel's processing order, and ours (processing in the capture's order) puts the block on the data segment (sackOnData) (kd-42-0151: out-of-order data at 33.819 ms, the kernel's 100 bytes at 33.849 without it, the ACK with SACK at 33.887)" },
  "ts-ecr": { id: "ts-ecr", cls: "residue", note: "our TSecr echoes another of the peer's TSvals than the kernel's; the linux profile keeps TS.Recent from a segment acknowledging unsent data and from an old ACK off the fast path (tsRecentUpdate), a case here is a residue" },
  "fin-not-sent": { id: "fin-not-sent", cls: "residue", note: "timers at the edge of what the replay sees: a FIN probe or RTO of ours a few ms after the kernel's as the capture's last packet (the replay stops 1 ms after it), a 252 ms timer on the wheel's 32 ms level whose phase nothing pins, or no RTT sample because the replayed SYN went earlier than the kernel's and the SYN-ACK's TSecr is ahead of our clock (docs/kernel-diff.md)" },
  "timer-at-edge": { id: "timer-at-edge", cls: "replay", note: "the capture's last packet is a timer's retransmission of a segment the client sent before (the RTO after a first retransmission, doubled: a 400+ ms timer on the wheel's 32 ms level); ours falls later in its granule, after the replay stops 1 ms past the last recorded packet, so it is 'not sent' (kd-51-0423, kd-52-0211; docs/kernel-diff.md)" },
  "rexmit-half-window": { id: "rexmit-half-window", cls: "engine", note: "kernel's segments are bounded by half the largest window the peer offered (tcp_bound_to_half_wnd() in tcp_sync_mss()): into a 1024-byte window it retransmits the first 512-byte segment alone; we retransmit both as one 1024-byte segment (the MSS bound is not modelled; kd-52-0306)" },
  "errno-latency": { id: "errno-latency", cls: "residue", note: "the packets agree; only the time connect() returned differs, the kernel's later, with a server packet between our decision and it: the helper's lateness (errnoTimeFits accepts it when no packet came in between) or a later decision by the kernel, which the capture cannot tell apart" },
  "oow-ack-ratelimit": { id: "oow-ack-ratelimit", cls: "engine", note: "kernel rate-limits ACKs to out-of-window segments and challenge ACKs per socket (tcp_oow_rate_limited, 500 ms; a too-old ACK's challenge ACK counts too); the linux profile does (oowAck, challengeAck), a case here is a residue" },
};

function answersOf(side: KernelDiffSidecar): Answer[] {
  const sc = side.scenario as unknown as { answers: Answer[][]; retx?: string; retxSynack?: Answer };
  // The SYN-ACK for retransmitted SYNs counts only when the kernel did retransmit.
  const retransmitted = (side.serverLog ?? []).some((l) => l.includes("client SYN #2"));
  return [...sc.answers.flat(), ...(sc.retxSynack && sc.retx === "ok" && retransmitted ? [sc.retxSynack] : [])];
}

const tsMode = (a: Answer): string | undefined => {
  const ts = a.opts?.find((o) => o[0] === "Timestamp");
  return ts ? (ts[1] as [string, string])[1] : undefined;
};

/**
 * The cause of a mismatching case, from the scenario and the differences (first rule that
 * fits), after looking at the captures of the first runs (docs/kernel-diff.md).
 */
export function causeOf(side: KernelDiffSidecar, diffs: Diff[], gso: boolean, recorded: LadderPacket[] = [], replayed: LadderPacket[] = []): Cause | undefined {
  if (gso) return CAUSES["gso-capture"];
  // Only the errno time differs, the kernel's later: its helper returned late (load).
  if (diffs.every((d) => d.field === "errno-time") && side.kernelResult.connect !== "ETIMEDOUT" && diffs.some((d) => /after (\d+) ms .*at (\d+) ms/.test(`${d.recorded} ${d.replayed}`) && Number(/after (\d+) ms/.exec(d.recorded)![1]) > Number(/at (\d+) ms/.exec(d.replayed)![1]))) return CAUSES["errno-latency"];
  if (isCaptureCut(side, diffs, recorded)) return CAUSES["capture-cut"];
  if (isSendBacklogRace(diffs, recorded)) return CAUSES["send-backlog-race"];
  if (isCloseBeforePeerFin(side, diffs, recorded)) return CAUSES["close-time"];
  const answers = answersOf(side);
  const first = (side.scenario as unknown as { answers: Answer[][] }).answers[0] ?? [];
  const post = ((side.scenario as unknown as { post?: Answer[] }).post ?? []).map((p) => p.a);
  const has = (field: string, re?: RegExp) => diffs.some((d) => d.field === field && (!re || re.test(`${d.recorded} / ${d.replayed}`)));
  const k = side.kernelResult.connect;
  if (first.some((a) => a.a === "icmp" && a.quote === "nxt") && !["ok", "timeout", "ETIMEDOUT"].includes(k) && (has("outcome") || has("errno"))) return CAUSES["icmp-quote-snd-nxt"];
  if (first.some((a) => a.a === "icmp" && a.type === 3 && (a.code ?? 0) > 15) && (has("outcome") || has("errno") || has("missing", /^S /))) return CAUSES["icmp-code-gt-15"];
  if (k === "ECONNRESET" && first.some((a) => a.a === "syn")) return CAUSES["simopen-rst-econnreset"];
  if (answers.some((a) => a.a === "synack" && a.ack === "ok" && ["past", "future", "rand"].includes(tsMode(a) ?? ""))) return CAUSES["paws-active-reject"];
  if (first.some((a) => a.a === "icmp" && a.type === 11 && a.code === 1) && (has("outcome") || has("errno") || has("missing"))) return CAUSES["icmp-fragtime"];
  const mssOf = (a: Answer) => a.opts?.find((o) => o[0] === "MSS")?.[1] as number | undefined;
  if (answers.some((a) => a.a === "synack" && (mssOf(a) ?? 536) < 48) && (has("extra", / len 1 /) || has("missing", / len [2-9]\d* /))) return CAUSES["mss-small"];
  if (answers.some((a) => a.a === "synack" && a.ack === "ok" && (a.fin || (a.data ?? 0) > 0)) && (has("ack") || has("outcome"))) return CAUSES["synack-fin-data-ignored"];
  if (first.some((a) => a.a === "rst" && a.ack !== "ok" && a.ack !== "none") && (has("missing", /^S /) || has("time"))) return CAUSES["rst-badack-syn-retransmit"];
  if (first.some((a) => a.a === "syn" && !a.opts?.some((o) => o[0] === "WScale")) && (has("window") || has("ack"))) return CAUSES["simopen-wscale"];
  if (answers.some((a) => a.a === "synack" && a.win === 0) && has("missing", /^\. seq 0 /)) return CAUSES["zero-window-probe"];
  if (first.some((a) => a.a === "syn") && (has("extra", /^not sent \/ S\. /) || has("time", /ms \/ /) || has("errno"))) return CAUSES["simopen-synack-backoff"];
  if (has("missing", /^R seq \d+ len 0/) && side.kernelResult.actions?.some((x) => x.startsWith("close(fin)"))) return CAUSES["data-after-close"];
  if (diffs.some((d) => d.field === "options" && /sack \d/.test(d.recorded) && !/sack \d/.test(d.replayed))) return CAUSES["sack-blocks"];
  if (has("extra", /FP\. seq/)) return CAUSES["rexmit-fin-merge"];
  if (diffs.some((d) => d.field === "missing" && isEarlyRetransmission(d.recorded, d.t, recorded))) return CAUSES["tail-loss-probe"];
  // Our probe (a segment repeating one we sent less than 30 ms before) where the kernel's
  // probe sent new data: the replay had not handed that data to our stack yet.
  const ourProbe = diffs.find((d) => d.field === "extra" && isEarlyRetransmission(d.replayed, d.t, replayed));
  if (ourProbe && recorded.some((x) => x.dir === "c2s" && x.t >= ourProbe.t - 1 && x.t <= ourProbe.t + 10 && isNewData(x, recorded))) return CAUSES["tlp-new-data"];
  if (ourProbe) return CAUSES["tail-loss-probe"];
  if (isLateProbeForNewData(side, diffs, recorded, replayed)) return CAUSES["tlp-new-data"];
  if (k === "ETIMEDOUT" && has("errno-time")) return CAUSES["syn-giveup-time"];
  if (has("options", / \/ none$/)) return CAUSES["rst-options"];
  const oowInput = ["p:synack", "p:syn", "p:oldack", "p:futureack"].some((x) => post.includes(x)) || first.length > 1;
  if (oowInput && has("extra", /^not sent \/ \. seq/)) return CAUSES["oow-ack-ratelimit"];
  if (has("missing", /^F?P?\.? ?seq/) && diffs.some((d) => d.field === "missing" && /^F/.test(d.recorded))) return CAUSES["fin-not-sent"];
  if (isTimerAtEdge(diffs, recorded)) return CAUSES["timer-at-edge"];
  if (isHalfWindowRexmit(diffs, answers)) return CAUSES["rexmit-half-window"];
  if (diffs.every((d) => d.field !== "options" || /ecr \d+/.test(d.recorded)) && diffs.some((d) => d.field === "options" && d.recorded.replace(/ecr \d+/g, "ecr") === d.replayed.replace(/ecr \d+/g, "ecr"))) return CAUSES["ts-ecr"];
  // Generic ones last: the earliest difference is a data segment sent at another time, or
  // other data segments during slow start.
  const earliest = [...diffs].sort((a, b) => a.t - b.t)[0];
  const clientSend = (side.scenario as unknown as { client?: { send?: number } }).client?.send ?? 0;
  if (earliest?.field === "time" && clientSend > 0) return CAUSES["rexmit-timing"];
  if (clientSend > 0 && answers.some((a) => a.a === "synack" && (mssOf(a) ?? 536) <= 536) && earliest && /^(extra|missing)$/.test(earliest.field) && / len [1-9]/.test(`${earliest.recorded} ${earliest.replayed}`)) return CAUSES["send-pattern"];
  return undefined;
}

/** A data segment (a difference's text, at `t`) that repeats one the client sent less than 30 ms before it (a TLP). */
function isEarlyRetransmission(text: string, t: number, ladder: LadderPacket[]): boolean {
  const m = /^P?\. seq (\d+) ack \d+ len ([1-9]\d*) /.exec(text);
  if (!m) return false;
  const same = new RegExp(`seq ${m[1]} ack \\d+ win \\d+ len ${m[2]}\\b`);
  return ladder.some((x) => x.dir === "c2s" && x.t < t - 0.5 && t - x.t < 30 && same.test(x.label));
}

/** The seq and length of a data segment in a difference's or a ladder's text. */
function seqLen(text: string): [number, number] | undefined {
  const m = /^\S* ?seq (\d+) ack \d+ (?:win \d+ )?len ([1-9]\d*)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * Every difference is the capture's last packet missing, and that packet repeats the seq and
 * length of a data segment the client sent before it: a retransmission timer the replay
 * stops short of (it runs to 1 ms after the last recorded packet).
 */
function isTimerAtEdge(diffs: Diff[], recorded: LadderPacket[]): boolean {
  const last = recorded[recorded.length - 1];
  if (!last || last.dir !== "c2s" || diffs.length === 0) return false;
  if (!diffs.every((d) => d.field === "missing" && Math.abs(d.t - last.t) < 0.5)) return false;
  const sl = seqLen(last.label);
  return sl !== undefined && recorded.some((x) => x !== last && x.dir === "c2s" && x.t < last.t && seqLen(x.label)?.join() === sl.join());
}

/**
 * The kernel's retransmission at a seq is no larger than half of a window the peer's SYN-ACK
 * offered, ours at the same seq (missing and extra within 30 ms) larger than that.
 */
function isHalfWindowRexmit(diffs: Diff[], answers: Answer[]): boolean {
  return diffs.some((m) => {
    const a = m.field === "missing" ? seqLen(m.recorded) : undefined;
    if (!a) return false;
    return diffs.some((e) => {
      const b = e.field === "extra" ? seqLen(e.replayed) : undefined;
      if (b === undefined || b[0] !== a[0] || Math.abs(e.t - m.t) >= 30) return false;
      return answers.some((x) => x.a === "synack" && (x.win ?? 0) > 0 && a[1] <= (x.win ?? 0) / 2 && b[1] > (x.win ?? 0) / 2);
    });
  });
}

/**
 * The capture's last packet is the server's, every difference is a segment of ours at or after
 * it, and the server's log has a segment of the client (RST, data, SYN) after its last send:
 * the client's answer was sent but the capture stopped before it (the rig stops tcpdump right
 * after the server).
 */
function isCaptureCut(side: KernelDiffSidecar, diffs: Diff[], recorded: LadderPacket[]): boolean {
  const last = recorded[recorded.length - 1];
  if (!last || last.dir !== "s2c" || diffs.length === 0) return false;
  if (!diffs.every((d) => d.field === "extra" && d.t >= last.t - 0.5)) return false;
  const log = side.serverLog ?? [];
  const lastSent = log.map((l) => / sent /.test(l)).lastIndexOf(true);
  return lastSent >= 0 && log.slice(lastSent + 1).some((l) => / client (RST|data|SYN)/.test(l));
}

/**
 * Every difference is a SACK block on a data segment of ours where the kernel's had none, and
 * in the capture that data segment follows a server segment by less than 1 ms and is itself
 * followed within 1 ms by an ACK of the kernel's with the block: the segment arrived while
 * the application's send() held the socket, so the kernel processed it after sending.
 */
function isSendBacklogRace(diffs: Diff[], recorded: LadderPacket[]): boolean {
  return (
    diffs.length > 0 &&
    diffs.every((d) => {
      if (d.field !== "options" || /sack \d/.test(d.recorded) || !/sack \d/.test(d.replayed)) return false;
      const i = recorded.findIndex((x) => x.dir === "c2s" && Math.abs(x.t - d.t) < 0.5 && / len [1-9]/.test(x.label) && !/sack>/.test(x.label));
      if (i < 1) return false;
      const data = recorded[i]!;
      const before = recorded[i - 1]!;
      const after = recorded.slice(i + 1).find((x) => x.dir === "c2s");
      return before.dir === "s2c" && data.t - before.t < 1 && after !== undefined && after.t - data.t < 1 && /sack>/.test(after.label);
    })
  );
}

/**
 * The rig's client called close() (with a FIN) before the server's FIN came, while the
 * server's last window was 0, and the kernel's FIN went out only after the server's FIN:
 * its FIN waited for the window, so it closed actively; every difference comes after the
 * server's FIN.
 */
function isCloseBeforePeerFin(side: KernelDiffSidecar, diffs: Diff[], recorded: LadderPacket[]): boolean {
  const m = (side.kernelResult.actions ?? []).map((a) => /^close\(fin\) at ([\d.]+) ms/.exec(a)).find((x) => x !== null);
  if (!m || diffs.length === 0) return false;
  const closeAt = Number(m[1]);
  const srvFin = recorded.find((x) => x.dir === "s2c" && /^FP?\. /.test(x.label));
  const cliFin = recorded.find((x) => x.dir === "c2s" && /^FP?\. /.test(x.label));
  if (!srvFin || !cliFin || !(closeAt < srvFin.t && srvFin.t < cliFin.t)) return false;
  const window = recorded.filter((x) => x.dir === "s2c" && x.t < closeAt).pop();
  return window !== undefined && / win 0\b/.test(window.label) && diffs.every((d) => d.t > srvFin.t);
}

/**
 * Our tail loss probe at the RTO's time (one segment out: 2 SRTT + 200 ms, capped by the RTO)
 * repeats our last data segment, where the kernel sent new data within one wheel granule of
 * that timer's level: its probe had the data queued, ours not yet (as `tlp-new-data`).
 */
function isLateProbeForNewData(side: KernelDiffSidecar, diffs: Diff[], recorded: LadderPacket[], replayed: LadderPacket[]): boolean {
  const p = resolveProfile("linux", side.overrides as ProfileOverrides);
  return diffs.some((d) => {
    const sl = d.field === "extra" ? seqLen(d.replayed) : undefined;
    if (!sl) return false;
    const sent = replayed.filter((x) => x.dir === "c2s" && x.t < d.t - 0.5 && seqLen(x.label) !== undefined);
    const lastData = sent[sent.length - 1];
    if (!lastData || seqLen(lastData.label)!.join() !== sl.join()) return false;
    const granule = timerGranularityMs(p, d.t - lastData.t);
    return recorded.some((x) => x.dir === "c2s" && x.t >= d.t - 1 && x.t <= d.t + granule && isNewData(x, recorded));
  });
}

/** A client data segment beyond everything the client sent before it. */
function isNewData(x: LadderPacket, ladder: LadderPacket[]): boolean {
  const m = /^\S* ?seq (\d+) ack \d+ win \d+ len ([1-9]\d*)/.exec(x.label);
  if (!m) return false;
  const seq = Number(m[1]);
  return ladder.every((y) => y === x || y.dir !== "c2s" || y.t > x.t || !/len [1-9]/.test(y.label) || Number(/seq (\d+)/.exec(y.label)?.[1] ?? 0) < seq);
}

export function classifySignature(sig: string): { cls: MismatchClass; note: string } {
  const id = sig.split(" | ")[0];
  const c = CAUSES[id];
  return c ? { cls: c.cls, note: c.note } : { cls: "unclassified", note: "" };
}

/**
 * How far the kernel's connect() errno time may be from ours: the replay's timing tolerance
 * (20 ms + 2 %), or for a give-up (ETIMEDOUT) the granule of the timer wheel level of the
 * timer that ended the attempt, if larger. That timer fires after the capture's last packet,
 * so how its expiry aligns with the wheel's coarser levels is pinned by nothing recorded
 * (the earlier, finer timers only pin the jiffies phase below its granule: docs/kernel-diff.md).
 */
export function errnoTimeTolerance(side: KernelDiffSidecar, h: HandshakeResult, at: number, kernelMs: number): number {
  const tol = 20 + 0.02 * kernelMs;
  if (side.kernelResult.connect !== "ETIMEDOUT") return tol;
  const p = resolveProfile("linux", side.overrides as ProfileOverrides);
  const lastSyn = h.ladder.replayed.filter((x) => x.dir === "c2s" && x.label.startsWith("S") && x.t <= at).pop();
  return lastSyn ? Math.max(tol, timerGranularityMs(p, at - lastSyn.t)) : tol;
}

/**
 * Whether the kernel's connect() errno time fits our decision at `at` (both ms from the
 * first SYN), for a failure a packet decided (not ETIMEDOUT, which errnoTimeTolerance
 * covers): within the tolerance, or later with no server packet recorded after our
 * decision. The errno time is when the rig's helper got back from connect(), not when the
 * kernel decided: on the loaded machine the helper runs late (successful connects of the
 * same recordings returned 0-97 ms after the handshake ACK left, median under 2 ms), and an
 * ECONNRESET for a connection that was established and then reset (kd-42-0159) shows it
 * had not run at all in between. It can never return *before* the decision, so an earlier
 * time stays a difference. A later time is the kernel's own only if something decided it
 * later: a timer (its give-up would follow retransmissions, which the packet comparison
 * sees, or be ETIMEDOUT) or a later server packet (a RST or ICMP error the kernel took
 * where we took an earlier one): with none in the capture the lateness is the helper's.
 * Returns "fits", "late" (fits as a late return) or "differs".
 */
export function errnoTimeFits(kernelMs: number, at: number, tol: number, errno: string, recorded: LadderPacket[]): "fits" | "late" | "differs" {
  if (Math.abs(at - kernelMs) <= tol) return "fits";
  if (kernelMs < at || errno === "ETIMEDOUT") return "differs";
  // 1 ms: the replay injects the recorded packet at its recorded time, give or take.
  const later = recorded.some((x) => x.dir === "s2c" && x.t > at + 1 && x.t <= kernelMs);
  return later ? "differs" : "late";
}

function outcomeAtMs(h: HandshakeResult): number | undefined {
  const m = / at (\d+(?:\.\d+)?) ms/.exec(h.replayed.detail);
  return m ? Number(m[1]) : undefined;
}

/**
 * A recording artefact: a client segment longer than the MSS the server allowed. tcpdump on
 * a veth with GSO sees the kernel's super-segments before segmentation (the rig now sets
 * gso_max_segs 1 on the client's veth; older runs have them).
 */
export function gsoArtefact(pcap: string): string | undefined {
  const r = readCaptureFile(pcap);
  if (!r.ok) return undefined;
  const open = extractActiveOpens(r.value).opens[0];
  if (!open) return undefined;
  const srvSyn = open.events.find((e) => e.kind === "tcp" && e.dir === "s2c" && e.flags & TCP_SYN);
  const mss = srvSyn && srvSyn.kind === "tcp" ? summarizeOptions(srvSyn.options).mss : undefined;
  // Linux: no MSS option means 536 (RFC 9293 §3.7.1); it never goes below tcp_min_snd_mss 48.
  const limit = Math.max(48, Math.min(mss ?? 536, open.family === 6 ? 1440 : 1460));
  const big = open.events.find((e) => e.kind === "tcp" && e.dir === "c2s" && e.payload.length > limit);
  return big && big.kind === "tcp" ? `GSO super-segment in the capture (frame ${big.frame}: ${big.payload.length} bytes > MSS ${limit})` : undefined;
}

export function analyzeCase(pcap: string): CaseResult {
  const name = basename(pcap).replace(/\.pcap$/, "");
  const side = JSON.parse(readFileSync(pcap.replace(/\.pcap$/, ".json"), "utf8")) as KernelDiffSidecar;
  const base = { name, kind: side.scenario.kind, family: side.family, kernel: side.kernelResult.connect, kernelElapsedMs: side.kernelResult.elapsed !== undefined ? side.kernelResult.elapsed * 1000 : undefined };
  // The rig's client ends with close() (its actions say "close(fin)" or "close(rst)").
  // Its write ("send N at T ms"): when the kernel never sent any of it, the replay still
  // hands it to our stack then (a zero window is probed only with data queued).
  const appWrites = (side.kernelResult.actions ?? []).flatMap((a) => {
    const m = /^send (\d+) at ([\d.]+) ms/.exec(a);
    return m ? [{ bytes: Number(m[1]), atMs: Number(m[2]) }] : [];
  });
  const run = runReplay([pcap], { profile: "linux", strict: true, fullClose: true, appWrites });
  if ("error" in run) return { ...base, match: false, diffs: [], signatures: [], error: run.error };
  const hs = run.files[0]!.handshakes;
  if (hs.length !== 1) return { ...base, match: false, diffs: [], signatures: [], error: `${hs.length} active opens in the capture` };
  const h = hs[0]!;
  const diffs = h.diffs.filter((d) => !d.explained);
  // The kernel's own word: connect()'s errno must fit our status, and a failure must come
  // at about the same time (20 ms + 2 %, as the replay's timing tolerance).
  const want = statusesForErrno(side.kernelResult.connect);
  let lateReturnMs: number | undefined;
  if (want && !want.includes(h.replayed.status)) {
    diffs.push({ t: base.kernelElapsedMs ?? 0, field: "errno", recorded: `connect() ${side.kernelResult.connect}`, replayed: h.replayed.status });
  } else if (want && side.kernelResult.connect !== "ok" && side.kernelResult.connect !== "timeout" && base.kernelElapsedMs !== undefined) {
    const at = outcomeAtMs(h);
    const fit = at === undefined ? "fits" : errnoTimeFits(base.kernelElapsedMs, at, errnoTimeTolerance(side, h, at, base.kernelElapsedMs), side.kernelResult.connect, h.ladder.recorded);
    if (fit === "late") lateReturnMs = base.kernelElapsedMs - at!;
    if (fit === "differs") {
      diffs.push({ t: base.kernelElapsedMs, field: "errno-time", recorded: `connect() ${side.kernelResult.connect} after ${base.kernelElapsedMs.toFixed(0)} ms`, replayed: `${h.replayed.status} at ${at!.toFixed(0)} ms` });
    }
  }
  const gso = diffs.length > 0 ? gsoArtefact(pcap) : undefined;
  // One signature per case: its cause when a rule knows it, else its earliest difference
  // (what follows is mostly a consequence of the first).
  const cause = diffs.length > 0 ? causeOf(side, diffs, gso !== undefined, h.ladder.recorded, h.ladder.replayed) : undefined;
  const first = [...diffs].sort((a, b) => a.t - b.t)[0];
  const signatures = cause ? [cause.id] : first ? [signatureOf(base.kind, first)] : [];
  return {
    ...base,
    recordedOutcome: h.recorded.outcome,
    replayedOutcome: h.replayed.outcome,
    replayedStatus: h.replayed.status,
    match: diffs.length === 0,
    ...(lateReturnMs !== undefined && diffs.length === 0 ? { lateReturnMs } : {}),
    diffs,
    signatures,
  };
}

export function analyzeKernelDiff(dir: string): KernelDiffReport {
  const pcaps = readdirSync(dir)
    .filter((f) => f.endsWith(".pcap") && f.startsWith("kd-"))
    .sort()
    .map((f) => join(dir, f));
  const cases: CaseResult[] = [];
  for (const p of pcaps) {
    try {
      cases.push(analyzeCase(p));
    } catch (e) {
      if (!existsSync(p.replace(/\.pcap$/, ".json"))) continue; // a scenario still being recorded
      cases.push({ name: basename(p), kind: "?", family: 4, kernel: "?", match: false, diffs: [], signatures: [], error: `internal: ${(e as Error).message}` });
    }
  }
  const byKind: KernelDiffReport["byKind"] = {};
  const sigs = new Map<string, SignatureSummary>();
  for (const c of cases) {
    const k = (byKind[c.kind] ??= { total: 0, matched: 0 });
    k.total++;
    if (c.match) k.matched++;
    for (const s of c.signatures) {
      let e = sigs.get(s);
      if (!e) {
        e = { signature: s, ...classifySignature(s), count: 0, examples: [] };
        sigs.set(s, e);
      }
      e.count++;
      if (e.examples.length < 5) e.examples.push(c.name);
    }
  }
  return {
    dir,
    scenarios: cases.length,
    matched: cases.filter((c) => c.match).length,
    mismatched: cases.filter((c) => !c.match && !c.error).length,
    errors: cases.filter((c) => c.error).length,
    lateReturns: cases.filter((c) => c.lateReturnMs !== undefined).map((c) => ({ name: c.name, ms: Math.round(c.lateReturnMs!) })),
    byKind,
    signatures: [...sigs.values()].sort((a, b) => b.count - a.count),
    cases,
  };
}

export function reportMarkdown(r: KernelDiffReport): string {
  const out: string[] = [];
  out.push(`# kernel-diff: ${r.scenarios} scenarios in ${r.dir}`, "");
  out.push(`${r.matched} matched, ${r.mismatched} mismatched, ${r.errors} errors`, "");
  out.push("| kind | scenarios | matched |", "|---|---|---|");
  for (const [k, v] of Object.entries(r.byKind).sort()) out.push(`| ${k} | ${v.total} | ${v.matched} |`);
  out.push("", "| class | count | signature | examples | note |", "|---|---|---|---|---|");
  for (const s of r.signatures) out.push(`| ${s.cls} | ${s.count} | \`${s.signature.replace(/\|/g, "\\|")}\` | ${s.examples.join(" ")} | ${s.note} |`);
  if (r.lateReturns.length) out.push("", `Matched with connect() returning late (no server packet after our decision; docs/kernel-diff.md "errno time"): ${r.lateReturns.map((x) => `${x.name} (+${x.ms} ms)`).join(", ")}`);
  const errs = r.cases.filter((c) => c.error);
  if (errs.length) out.push("", "Errors:", ...errs.map((c) => `- ${c.name}: ${c.error}`));
  return out.join("\n") + "\n";
}

const USAGE = "usage: kernel-diff DIR [--json OUT] [--md OUT] [--verbose]  (DIR: a recording of scripts/kernel-diff.sh, its kd-*.pcap files)\n";

/** Parses the command line; a string is the one-line error for the user. */
export function parseKernelDiffArgs(argv: string[]): { dir: string; json?: string; md?: string; verbose: boolean; help: boolean } | string {
  const out: { dir: string; json?: string; md?: string; verbose: boolean; help: boolean } = { dir: "", verbose: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") out.help = true;
    else if (a === "--verbose") out.verbose = true;
    else if (a === "--json" || a === "--md") {
      const v = argv[++i];
      if (!v || v.startsWith("--")) return `${a} needs a file name`;
      if (a === "--json") out.json = v;
      else out.md = v;
    } else if (a.startsWith("-")) return `unknown option ${a}`;
    else if (out.dir) return `one recording directory at a time (got ${out.dir} and ${a})`;
    else out.dir = a;
  }
  if (!out.help && !out.dir) return "no recording directory given";
  return out;
}

function main(argv: string[]): number {
  const args = parseKernelDiffArgs(argv);
  if (typeof args === "string") {
    process.stderr.write(`kernel-diff: ${args}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dir = args.dir;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    process.stderr.write(`kernel-diff: ${dir} is not a directory\n`);
    return 2;
  }
  const r = analyzeKernelDiff(dir);
  if (r.cases.length === 0) {
    process.stderr.write(`kernel-diff: no kd-*.pcap recordings in ${dir}\n`);
    return 2;
  }
  try {
    if (args.json) writeFileSync(args.json, JSON.stringify(r, null, 1));
  } catch (e) {
    process.stderr.write(`kernel-diff: cannot write ${args.json}: ${(e as Error).message}\n`);
    return 2;
  }
  const md = reportMarkdown(r);
  try {
    if (args.md) writeFileSync(args.md, md);
  } catch (e) {
    process.stderr.write(`kernel-diff: cannot write ${args.md}: ${(e as Error).message}\n`);
    return 2;
  }
  if (args.verbose) {
    for (const c of r.cases) {
      if (c.match) continue;
      process.stdout.write(`${c.name} ${c.kind} kernel=${c.kernel} rec=${c.recordedOutcome} rep=${c.replayedOutcome}/${c.replayedStatus}${c.error ? ` ERROR ${c.error}` : ""}\n`);
      for (const d of c.diffs) process.stdout.write(`   ${d.frame ?? "-"} t=${d.t.toFixed(1)} ${d.field}: ${d.recorded} / ${d.replayed}\n`);
    }
  }
  process.stdout.write(md);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
