// The shapes the replay produces, shared by its steps (src/replay/*.ts), the CLI, the
// diagrams and the kernel differential test. docs/replay.md describes what they mean.
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";
import type { TraceEvent } from "../../stack/trace.js";
import type { RecordedOutcome } from "./extract.js";

/** How a connect ended, as the client saw it. */
export type ConnectOutcome = "established" | "refused" | "timeout" | "unreachable" | "cancelled" | "incomplete";
/** How an established connection ended (or that it had not when the capture ended). */
export type ConnectionEnd = "closed" | "reset by the server" | "aborted by the client" | "timed out" | "open";

export interface ReplayOptions {
  /** Profile to replay with; default: inferred from the recorded SYN. */
  profile?: ProfileName;
  strict?: boolean;
  /** Knobs the recording set on the client (fixture sidecar, e.g. tcp_syn_retries). */
  overrides?: ProfileOverrides;
  /** Keep the decision trace (for diagrams). */
  trace?: boolean;
  /** Seed for the non-strict ISN / port / TS randomness (default 1: reproducible). */
  seed?: number;
  /**
   * The recorded application cancelled the connect (IoCancelIrp) this many ms after the
   * first SYN (a capture's sidecar says so; synack demo writes it): the replay does too.
   */
  cancelAfterMs?: number;
  /**
   * The recorded application's close was a full close() (it read nothing after it), not a
   * shutdown of sending: the replay closes with Connection.close(now, true). The kernel-diff
   * rig knows (its client calls close()); a plain capture does not say.
   */
  fullClose?: boolean;
  /**
   * The recorded application's writes with their times (ms from the first SYN), when a
   * sidecar says so (the kernel-diff rig's "send N at T ms"). A write none of whose bytes
   * the capture shows (the recorded client never sent them: a zero window, a reset) is
   * handed to our stack at its time, as zeros; other bytes go in as the recorded segments
   * show them, as always.
   */
  appWrites?: Array<{ atMs: number; bytes: number }>;
}

export interface Diff {
  /** Capture frame of the recorded segment, when there is one. */
  frame?: number;
  /** ms since the first SYN. */
  t: number;
  /** "flags", "seq", "ack", "len", "time", "window", "options", "missing", "extra", "outcome", "setup" */
  field: string;
  recorded: string;
  replayed: string;
  /** Why the difference is expected; absent = a real mismatch. */
  explained?: string;
}

/** One segment as compared (both sides). */
export interface ComparedSegment {
  t: number;
  frame?: number;
  flags: string;
  /** Relative to the sender's ISN. */
  seq: number;
  /** Relative to the server's first ISN (absolute if none yet). */
  ack: number;
  len: number;
  window: number;
  options: string;
}

export interface LadderPacket {
  t: number;
  dir: "c2s" | "s2c";
  label: string;
  frame?: number;
  kind: "tcp" | "icmp";
}

export interface HandshakeResult {
  client: string;
  server: string;
  family: "ipv4" | "ipv6";
  /**
   * `outcome` in one word; `connect` is how the connect ended for the client (what WskConnect
   * reports) and `end`, for an established connection, how the connection ended. The
   * verdict compares connect with connect and end with end (src/replay/verdict.ts).
   */
  recorded: { outcome: RecordedOutcome; detail: string; frames: [number, number]; connect?: ConnectOutcome; end?: ConnectionEnd };
  replayed: { outcome: RecordedOutcome; status: string; ntstatus: string; detail: string; connect?: ConnectOutcome; end?: ConnectionEnd };
  profile: ProfileName;
  profileSource: "given" | "inferred";
  inference: string;
  strict: boolean;
  match: boolean;
  diffs: Diff[];
  /** For diagrams and the text output. */
  ladder: { recorded: LadderPacket[]; replayed: LadderPacket[] };
  states: Array<{ t: number; state: string }>;
  trace: TraceEvent[];
  compared: number;
  notCompared: number;
  /** Our ISN and the server's first ISN (for relative numbers in diagrams). */
  isn: { ours: number; recorded: number; server?: number };
}

export interface FileReplay {
  file: string;
  handshakes: HandshakeResult[];
  /** Records the extractor could not read, by reason. */
  skipped: Record<string, number>;
  warnings: string[];
}

/** A packet our stack sent during the replay, with its virtual send time (ms). */
export interface SentPacket {
  t: number;
  bytes: Uint8Array;
}

export const u32 = (n: number): number => n >>> 0;
/** Signed distance a - b in sequence space (RFC 9293 §3.4 arithmetic modulo 2^32). */
export const seqDelta = (a: number, b: number): number => (a - b) | 0;

/** How far a replayed send time may be from the recorded one: 20 ms + 2 %. */
export function timeTolerance(t: number): number {
  return 20 + 0.02 * Math.abs(t);
}
