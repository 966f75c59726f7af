// Replay step 4: drive our stack through the peer's script in virtual time. Our stack
// owns the recorded client's address and port; the peer script's packets are injected
// at their times; what the recorded client's application did (send new data, close,
// abort) is redone at the recorded times. Time moves through the shared driver
// (device/virtual-runtime.ts). The result is the raw facts: what we sent and when, and
// how (and when) the engine ended the connection; src/replay/verdict.ts judges them.
import { Stack, type ConnectError } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import { seededRandom } from "../../stack/random.js";
import type { TraceEvent } from "../../stack/trace.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { summarizeOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import { VirtualRuntime } from "../../device/virtual-runtime.js";
import type { ActiveOpen, RecordedEvent, RecordedSegment } from "./extract.js";
import { SequenceMapping, type PeerScript } from "./peer-script.js";
import type { ReplaySetup } from "./setup.js";
import { seqDelta, u32, type Diff, type SentPacket } from "./types.js";

/** How long after the capture a still-pending connect is followed at most (ms). */
export const GIVE_UP_LIMIT_MS = 600_000;

export interface DriveOptions {
  /** Keep the decision trace (default true). */
  trace?: boolean;
  /** Seed for the non-strict ISN / port / TS randomness (default 1). */
  seed?: number;
  /** Cancel a connect still in progress at this time (the recorded application's IoCancelIrp). */
  cancelAfterMs?: number;
  /** The application's close is a full close() (ReplayOptions.fullClose). */
  fullClose?: boolean;
  /** The application's writes and their times (ReplayOptions.appWrites). */
  appWrites?: Array<{ atMs: number; bytes: number }>;
}

export interface DriveResult {
  kind: "driven";
  /** Every packet our stack sent, with its virtual time. */
  sent: SentPacket[];
  ourIss: number;
  /** How the engine ended the connection, and when; undefined if it did not. */
  engineOutcome: Outcome | undefined;
  outcomeAt: number | undefined;
  establishedAt: number | undefined;
  /** The connection's state when the replay stopped. */
  finalState: string;
  /** Still in SYN-SENT or SYN-RECEIVED when the replay stopped. */
  stillConnecting: boolean;
  /** SYNs answered after the capture ended by repeating the server's last answer. */
  continuedAfterCapture: number;
  /** Recorded packets that could not be injected. */
  injectionDiffs: Diff[];
  trace: TraceEvent[];
  states: Array<{ t: number; state: string }>;
}

export interface ConnectFailed {
  kind: "connectFailed";
  error: ConnectError;
  trace: TraceEvent[];
  states: Array<{ t: number; state: string }>;
}

/** Bytes 13 (v4: 20+13) / (v6: 40+13) hold the TCP flags of our own packets. */
function tcpFlagsOf(b: Uint8Array): number {
  return b[(b[0] >> 4 === 6 ? 40 : (b[0] & 0x0f) * 4) + 13];
}

function isRst(bytes: Uint8Array): boolean {
  const p = parsePacket(bytes);
  return p.ok && p.value.l4.kind === "tcp" && (p.value.l4.tcp.flags & TCP_RST) !== 0;
}

const connecting = (c: Connection): boolean => c.state === "SYN-SENT" || c.state === "SYN-RECEIVED";

/**
 * The recorded client's application, redone: new data it sent goes through send(), its
 * FIN through close() once the data is queued and the connection is synchronised.
 */
class RecordedApplication {
  /** Next new client byte, in the recorded sequence space. */
  private sentUpTo: number;
  private pending: Uint8Array[] = [];
  private closeWanted = false;
  private closeDone = false;

  constructor(
    open: ActiveOpen,
    private readonly conn: Connection,
    private readonly vt: VirtualRuntime,
    private readonly fullClose = false,
  ) {
    this.sentUpTo = u32(open.iss + 1);
  }

  /** What the recorded client segment says its application did. */
  noteClientSegment(e: RecordedSegment): void {
    if (e.flags & TCP_SYN) {
      if (e.payload.length > 0) this.sentUpTo = u32(e.seq + 1 + e.payload.length); // TFO data: not replayed
      return;
    }
    const end = u32(e.seq + e.payload.length);
    if (e.payload.length > 0 && seqDelta(end, this.sentUpTo) > 0) {
      const fresh = seqDelta(e.seq, this.sentUpTo) >= 0 ? e.payload : e.payload.subarray(seqDelta(this.sentUpTo, e.seq));
      this.pending.push(fresh);
      this.sentUpTo = end;
    }
    if (e.flags & TCP_FIN) this.closeWanted = true;
  }

  /** A write the capture shows none of (ReplayOptions.appWrites): its bytes, as zeros. */
  unseenWrite(bytes: number): void {
    this.pending.push(new Uint8Array(bytes));
    this.sentUpTo = u32(this.sentUpTo + bytes);
    this.flush();
  }

  /** Hands queued data (and the close) to the connection as far as it takes them. */
  flush(): void {
    const conn = this.conn;
    while (this.pending.length > 0) {
      const d = this.pending[0];
      const n = conn.state === "CLOSED" ? d.length : conn.send(d, this.vt.nowMs);
      if (n === 0) break;
      this.pending[0] = d.subarray(n);
      if (this.pending[0].length === 0) this.pending.shift();
    }
    if (this.closeWanted && !this.closeDone && this.pending.length === 0 && !connecting(conn)) {
      this.closeDone = true;
      if (conn.state !== "CLOSED") conn.close(this.vt.nowMs, this.fullClose);
    }
    this.vt.collect();
  }

  /** The application reads everything at once (the recorded app's reads are not visible). */
  drain(): void {
    if (this.conn.rcvBuffered > 0) this.conn.read();
  }
}

export function driveReplay(open: ActiveOpen, setup: ReplaySetup, script: PeerScript, o: DriveOptions = {}): DriveResult | ConnectFailed {
  const trace: TraceEvent[] = [];
  const states: Array<{ t: number; state: string }> = [];
  const stack = new Stack({
    addresses: [{ addr: open.client.addr, prefix: 0 }],
    mtu: setup.mtu,
    profile: setup.profile,
    random: seededRandom(o.seed ?? 1),
    rstForClosedPorts: true,
    trace: (e) => {
      if (o.trace !== false) trace.push(e);
      if (e.kind === "state" && e.stateAfter) states.push({ t: e.t, state: e.stateAfter });
    },
  });
  const sent: SentPacket[] = [];
  const synTimes: number[] = [];
  let app: RecordedApplication | undefined;
  const vt = new VirtualRuntime(stack, {
    onOutput: (bytes, t) => {
      sent.push({ t, bytes });
      if ((tcpFlagsOf(bytes) & (TCP_SYN | TCP_ACK)) === TCP_SYN) synTimes.push(t);
    },
    afterTimers: () => app?.drain(),
  });

  const recordedSynTs = summarizeOptions(open.syn.options).ts;
  const c = stack.connect(
    {
      remote: { addr: open.server.addr, port: open.server.port },
      local: { addr: open.client.addr, port: open.client.port },
      profile: setup.profile,
      overrides: setup.overrides,
      iss: setup.strict ? open.iss : undefined,
      tsOffset: setup.strict && recordedSynTs ? recordedSynTs.val : undefined,
    },
    0,
  );
  if (!(c instanceof Connection)) return { kind: "connectFailed", error: c, trace, states };
  const conn = c;
  let engineOutcome: Outcome | undefined;
  let outcomeAt: number | undefined;
  let establishedAt: number | undefined;
  conn.events = {
    established: () => {
      establishedAt ??= vt.nowMs;
    },
    closed: (_c, outcome) => {
      engineOutcome ??= outcome;
      outcomeAt ??= vt.nowMs;
    },
  };
  vt.collect();
  if (o.cancelAfterMs !== undefined) {
    // The recorded application's IoCancelIrp: at its time, a connect still in progress is
    // cancelled (the TCB deleted, nothing sent), whatever the clock is moved to next.
    const cancelAt = o.cancelAfterMs;
    const advance = vt.advanceTo.bind(vt);
    let pending = true;
    vt.advanceTo = (t: number) => {
      if (pending && t >= cancelAt) {
        pending = false;
        advance(cancelAt);
        if (connecting(conn)) {
          conn.cancel(vt.nowMs);
          vt.collect();
        }
      }
      advance(t);
    };
  }
  app = new RecordedApplication(open, conn, vt, o.fullClose);
  // Writes the capture shows none of, in order after everything it shows: queued at their
  // times (ReplayOptions.appWrites).
  const shown = open.events.reduce((n, e) => (e.kind === "tcp" && e.dir === "c2s" && !(e.flags & TCP_SYN) && e.payload.length > 0 ? Math.max(n, seqDelta(u32(e.seq + e.payload.length), u32(open.iss + 1))) : n), 0);
  let written = 0;
  const unseen: Array<{ atMs: number; bytes: number }> = [];
  for (const w of o.appWrites ?? []) {
    if (written >= shown && w.bytes > 0) unseen.push(w);
    written += w.bytes;
  }
  if (unseen.length > 0) {
    const advance = vt.advanceTo.bind(vt);
    vt.advanceTo = (t: number) => {
      while (unseen.length > 0 && t >= unseen[0]!.atMs) {
        const w = unseen.shift()!;
        advance(w.atMs);
        if (conn.state !== "CLOSED") app!.unseenWrite(w.bytes);
      }
      advance(t);
    };
  }
  const ourSyn = sent[0] ? parsePacket(sent[0].bytes) : undefined;
  const ourSynTs = ourSyn?.ok && ourSyn.value.l4.kind === "tcp" ? summarizeOptions(ourSyn.value.l4.tcp.options).ts?.val : undefined;
  const mapping = new SequenceMapping(open, conn.iss, ourSynTs, recordedSynTs?.val);

  const injectionDiffs: Diff[] = [];
  const inject = (e: RecordedEvent): void => {
    const bytes = mapping.packet(e);
    if (typeof bytes === "string") {
      injectionDiffs.push({ frame: e.frame, t: e.t, field: "setup", recorded: e.kind === "icmp" ? "ICMP error" : "server segment", replayed: `not injected: ${bytes}` });
      return;
    }
    vt.input(bytes);
    app!.drain();
  };

  for (const step of script.steps) {
    const e = step.ev;
    const trig = step.answersSyn;
    if (trig) {
      // Let our stack reach its n-th SYN (or stop trying) before the answer comes, then
      // answer the recorded delay after it (never earlier than the recorded time allows).
      vt.runWhile(() => synTimes.length < trig.n && conn.state === "SYN-SENT", step.t + GIVE_UP_LIMIT_MS);
      const ourT = synTimes[trig.n - 1];
      vt.advanceTo(ourT !== undefined ? ourT + trig.delay : step.t);
    } else {
      vt.advanceTo(step.t);
    }
    if (e.kind === "icmp" || e.dir === "s2c") {
      inject(e);
    } else {
      // Recorded client segment: redo what its application asked for.
      app.noteClientSegment(e);
      if (e.flags & TCP_SYN) continue;
      if (e.flags & TCP_RST && establishedAt !== undefined && conn.state !== "CLOSED") {
        // An answer our stack gives by itself (within 1 ms of an input) is not an application abort.
        const recentRst = sent.some((p) => p.t >= vt.nowMs - 1 && isRst(p.bytes));
        if (!recentRst) {
          conn.abort(vt.nowMs);
          vt.collect();
        }
      }
    }
    app.flush();
  }
  vt.advanceTo(open.endMs + 1);
  app.flush();

  // Run a still-pending connect to its end when the recorded client was still retrying.
  // The server is taken to keep answering as it last did: when the recorded client's last
  // SYN got an answer (a RST, an ICMP error), every further SYN of ours gets the same answer
  // after the same delay (e.g. Windows' RST retries when the capture stops after one RST).
  let continued = 0;
  if (connecting(conn) && (open.outcome === "timeout" || open.outcome === "refused" || open.outcome === "unreachable")) {
    const { ev: answer, delay } = script.lastSynAnswer;
    let answered = synTimes.length;
    while (connecting(conn)) {
      const d = vt.nextDeadline();
      if (d === undefined || d > GIVE_UP_LIMIT_MS) break;
      vt.advanceTo(d);
      while (answer && answered < synTimes.length && connecting(conn)) {
        vt.advanceTo(synTimes[answered] + delay);
        answered++;
        continued++;
        inject(answer);
      }
    }
  }
  return {
    kind: "driven",
    sent,
    ourIss: conn.iss,
    engineOutcome,
    outcomeAt,
    establishedAt,
    finalState: conn.state,
    stillConnecting: connecting(conn),
    continuedAfterCapture: continued,
    injectionDiffs,
    trace,
    states,
  };
}
