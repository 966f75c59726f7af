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
import { Stack, type ConnectError } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import { PROFILES, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { seededRandom } from "../../stack/random.js";
import type { TraceEvent } from "../../stack/trace.js";
import { buildIcmpError, buildTcpPacket, parsePacket } from "../../stack/wire/packet.js";
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import { summarizeOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import { NTSTATUS, hexStatus, outcomeToStatus, statusName } from "../wsk/ntstatus.js";
import type { Capture } from "../../device/pcap/read.js";
import { VirtualRuntime } from "../../device/virtual-runtime.js";
import { extractActiveOpens, type ActiveOpen, type RecordedEvent, type RecordedOutcome, type RecordedSegment } from "./extract.js";
import { inferProfile, layoutFor, optionKinds, profileModels, type Inference } from "./infer.js";

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
  recorded: { outcome: RecordedOutcome; detail: string; frames: [number, number] };
  replayed: { outcome: RecordedOutcome; status: string; ntstatus: string; detail: string };
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

const DEFAULT_GIVE_UP_LIMIT_MS = 600_000;
const seqDelta = (a: number, b: number): number => (a - b) | 0;
const u32 = (n: number): number => n >>> 0;

function endpointText(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function timeTolerance(t: number): number {
  return 20 + 0.02 * Math.abs(t);
}

/** The engine outcome in the replay's vocabulary. */
function toRecordedOutcome(o: Outcome | undefined, established: boolean): RecordedOutcome {
  if (!o) return established ? "established" : "incomplete";
  switch (o.kind) {
    case "established":
    case "finished":
    case "aborted":
      return "established";
    case "refused":
      return "refused";
    case "timedOut":
      return established ? "established" : "timeout";
    case "unreachable":
      return "unreachable";
    case "reset":
      return established ? "reset" : "refused";
    case "cancelled":
    case "closed":
      return established ? "established" : "incomplete";
  }
}

function statusOf(outcome: RecordedOutcome, engine: Outcome | undefined): number {
  switch (outcome) {
    case "established":
      return NTSTATUS.STATUS_SUCCESS;
    case "reset":
      return NTSTATUS.STATUS_CONNECTION_RESET;
    case "incomplete":
      return NTSTATUS.STATUS_PENDING;
    default:
      return engine ? outcomeToStatus(engine) : NTSTATUS.STATUS_PENDING;
  }
}

/** Options as compared: TSval hidden (see tsvalDiff), SACK blocks relative to `base`. */
function optionText(opts: readonly TcpOption[], _syn: boolean, sackBase: number): string {
  return opts
    .map((o) => {
      switch (o.kind) {
        case "mss":
          return `mss ${o.value}`;
        case "wscale":
          return `wscale ${o.shift}`;
        case "ts":
          // TSval is checked apart (tsvalDiff), against the clock, not compared as text.
          return `TS val * ecr ${o.ecr}`;
        case "sack":
          return `sack ${o.blocks.map(([l, r]) => `${u32(l - sackBase)}-${u32(r - sackBase)}`).join(" ")}`;
        case "unknown":
          return `opt${o.type}`;
        default:
          return o.kind;
      }
    })
    .join(",");
}

interface Seg {
  t: number;
  frame?: number;
  flags: number;
  seq: number;
  ack: number;
  len: number;
  window: number;
  options: TcpOption[];
  /** Sent before the handshake completed (or is its ACK): window compared under --strict. */
  handshake: boolean;
}

/** A profile knob set so our SYN looks like the recorded one (--strict). */
function strictOverrides(open: ActiveOpen, base: ProfileName, firstAckWindow: number | undefined, serverWscale: boolean): { overrides: ProfileOverrides; notes: string[] } {
  const syn = open.syn;
  const s = summarizeOptions(syn.options);
  const notes: string[] = [];
  const o: ProfileOverrides = {
    synWindow: syn.window,
    noOptions: syn.options.length === 0,
    timestamps: s.ts !== undefined,
    sack: s.sackOK,
    windowScaling: s.wscale !== undefined,
  };
  if (s.wscale !== undefined) o.windowScale = s.wscale;
  if (s.mss !== undefined) o.mssOverride = s.mss;
  const kinds = optionKinds(syn.options);
  const layout = layoutFor(kinds);
  if (layout) o.optionLayout = layout;
  else if (syn.options.length > 0) notes.push(`no profile writes the option layout <${kinds}>; using ${PROFILES[base].optionLayout}'s`);
  if (firstAckWindow !== undefined) {
    const shift = s.wscale !== undefined && serverWscale ? s.wscale : 0;
    // The receive buffer that makes our first window field equal the recorded one.
    o.rcvBufBytes = firstAckWindow * 2 ** shift;
  }
  return { overrides: o, notes };
}

interface Action {
  t: number;
  order: number;
  ev: RecordedEvent;
}

export function replayActiveOpen(open: ActiveOpen, opts: ReplayOptions = {}): HandshakeResult {
  const strict = opts.strict ?? false;
  const inference: Inference = inferProfile(open.syn);
  const profileName: ProfileName = opts.profile ?? inference.profile;
  const modelled = profileModels(profileName, inference);
  const explainProfile = modelled
    ? undefined
    : `explained by profile: the recorded client looks like ${inference.os}, replayed as ${profileName}`;
  const diffs: Diff[] = [];
  const trace: TraceEvent[] = [];
  const states: Array<{ t: number; state: string }> = [];

  const recClient = open.events.filter((e): e is RecordedSegment => e.kind === "tcp" && e.dir === "c2s");
  const recServer = open.events.filter((e): e is RecordedSegment => e.kind === "tcp" && e.dir === "s2c");
  const serverSyn = recServer.find((e) => e.flags & TCP_SYN);
  const irs0 = serverSyn?.seq;
  const synMss = summarizeOptions(open.syn.options).mss;
  const ipOverhead = open.family === 6 ? 60 : 40;
  const mtu = Math.max(open.family === 6 ? 1280 : 576, synMss !== undefined ? synMss + ipOverhead : 1500);

  const overrides: ProfileOverrides = { nodelay: true, ...(opts.overrides ?? {}) };
  const setupNotes: string[] = [];
  if (strict) {
    const firstAck = recClient.find((e) => !(e.flags & (TCP_SYN | TCP_RST)) && e.flags & TCP_ACK);
    // The window scale in force is the one of the server SYN that the first ACK answers (an
    // earlier SYN-ACK may have been refused, e.g. for an unacceptable ACK).
    const answered = firstAck ? [...recServer].reverse().find((e) => e.flags & TCP_SYN && e.t <= firstAck.t) : undefined;
    const wsSyn = answered ?? serverSyn;
    const serverWscale = wsSyn ? summarizeOptions(wsSyn.options).wscale !== undefined : false;
    const so = strictOverrides(open, profileName, firstAck?.window, serverWscale);
    Object.assign(overrides, so.overrides, opts.overrides ?? {});
    setupNotes.push(...so.notes);
  }

  const stack = new Stack({
    addresses: [{ addr: open.client.addr, prefix: 0 }],
    mtu,
    profile: profileName,
    random: seededRandom(opts.seed ?? 1),
    rstForClosedPorts: true,
    trace: (e) => {
      if (opts.trace !== false) trace.push(e);
      if (e.kind === "state" && e.stateAfter) states.push({ t: e.t, state: e.stateAfter });
    },
  });

  const ours: Array<{ t: number; bytes: Uint8Array }> = [];
  const synTimes0: number[] = [];
  const vt = new VirtualRuntime(stack, {
    onOutput: (b, t) => {
      ours.push({ t, bytes: b });
      // Bytes 13 (v4: 20+13) / (v6: 40+13) hold the TCP flags of our own packets.
      const f = b[(b[0] >> 4 === 6 ? 40 : (b[0] & 0x0f) * 4) + 13];
      if ((f & (TCP_SYN | TCP_ACK)) === TCP_SYN) synTimes0.push(t);
    },
    afterTimers: () => drain(),
  });

  const synTs = summarizeOptions(open.syn.options).ts;
  const c = stack.connect(
    {
      remote: { addr: open.server.addr, port: open.server.port },
      local: { addr: open.client.addr, port: open.client.port },
      profile: profileName,
      overrides,
      iss: strict ? open.iss : undefined,
      tsOffset: strict && synTs ? synTs.val : undefined,
    },
    0,
  );
  const family = open.family === 6 ? "ipv6" : "ipv4";
  const base = {
    client: endpointText(open.client.addr, open.client.port),
    server: endpointText(open.server.addr, open.server.port),
    family,
    profile: profileName,
    profileSource: opts.profile ? ("given" as const) : ("inferred" as const),
    inference: inference.reason,
    strict,
  } as const;
  const firstFrame = open.events[0]?.frame ?? 0;
  const lastFrame = open.events[open.events.length - 1]?.frame ?? 0;
  if (!(c instanceof Connection)) {
    const err = c as ConnectError;
    return {
      ...base,
      recorded: { outcome: open.outcome, detail: open.outcomeDetail, frames: [firstFrame, lastFrame] },
      replayed: { outcome: "incomplete", status: "STATUS_INVALID_PARAMETER", ntstatus: hexStatus(NTSTATUS.STATUS_INVALID_PARAMETER), detail: `connect failed: ${err.error}: ${err.detail}` },
      match: false,
      diffs: [{ t: 0, field: "setup", recorded: "SYN", replayed: `connect failed: ${err.detail}` }],
      ladder: { recorded: [], replayed: [] },
      states,
      trace,
      compared: 0,
      notCompared: 0,
      isn: { ours: 0, recorded: open.iss, server: irs0 },
    };
  }
  const conn = c;
  let engineOutcome: Outcome | undefined;
  let outcomeAt: number | undefined;
  let establishedAt: number | undefined;
  conn.events = {
    established: () => {
      establishedAt ??= vt.nowMs;
    },
    closed: (_c, o) => {
      engineOutcome ??= o;
      outcomeAt ??= vt.nowMs;
    },
  };
  vt.collect();
  const ourIss = conn.iss;
  const delta = u32(ourIss - open.iss);
  const ourSyn = ours[0] ? parsePacket(ours[0].bytes) : undefined;
  const ourSynTs = ourSyn?.ok && ourSyn.value.l4.kind === "tcp" ? summarizeOptions(ourSyn.value.l4.tcp.options).ts?.val : undefined;
  const tsDelta = synTs && ourSynTs !== undefined ? u32(ourSynTs - synTs.val) : 0;

  // --- driving ------------------------------------------------------------------------
  const drain = () => {
    // The application reads everything at once (the recorded app's reads are not visible).
    if (conn.rcvBuffered > 0) conn.read();
  };
  const advanceTo = (t: number) => vt.advanceTo(t);

  const rewriteSegment = (e: RecordedSegment): Uint8Array | string => {
    const options: TcpOption[] = e.options.map((o) => {
      if (o.kind === "sack") return { kind: "sack", blocks: o.blocks.map(([l, r]) => [u32(l + delta), u32(r + delta)] as [number, number]) };
      if (o.kind === "ts") return { kind: "ts", val: o.val, ecr: o.ecr === 0 ? 0 : u32(o.ecr + tsDelta) };
      return o;
    });
    try {
      return buildTcpPacket({
        src: open.server.addr,
        dst: open.client.addr,
        ttl: e.ttl,
        tos: e.tos,
        srcPort: open.server.port,
        dstPort: open.client.port,
        seq: e.seq,
        ack: u32(e.ack + delta),
        flags: e.flags,
        window: e.window,
        options,
        payload: e.payload,
      });
    } catch (err) {
      return (err as Error).message;
    }
  };

  const rewriteIcmp = (e: Extract<RecordedEvent, { kind: "icmp" }>): Uint8Array | string => {
    const quote = e.icmp.slice(8);
    let tcpAt: number;
    if (e.version === 4) tcpAt = (quote[0] & 0x0f) * 4;
    else if (quote[6] === 6) tcpAt = 40;
    else return "ICMPv6 quote with extension headers is not rewritten";
    if (quote.length < tcpAt + 8) return "ICMP quote too short to hold the TCP sequence number";
    const seq = u32(e.quotedSeq + delta);
    quote[tcpAt + 4] = seq >>> 24;
    quote[tcpAt + 5] = (seq >>> 16) & 0xff;
    quote[tcpAt + 6] = (seq >>> 8) & 0xff;
    quote[tcpAt + 7] = seq & 0xff;
    const b = e.icmp;
    const rest32 = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
    try {
      return buildIcmpError({
        src: e.from,
        dst: open.client.addr,
        type: e.type,
        code: e.code,
        mtu: e.mtu,
        pointer: e.version === 4 ? b[4] : rest32,
        original: quote,
        quoteBytes: quote.length,
      });
    } catch (err) {
      return (err as Error).message;
    }
  };

  const inject = (e: RecordedEvent): void => {
    const bytes = e.kind === "icmp" ? rewriteIcmp(e) : rewriteSegment(e);
    if (typeof bytes === "string") {
      diffs.push({ frame: e.frame, t: e.t, field: "setup", recorded: e.kind === "icmp" ? "ICMP error" : "server segment", replayed: `not injected: ${bytes}` });
      return;
    }
    vt.input(bytes);
    drain();
  };

  // Client-side application actions derived from the recorded client's segments.
  let clientSentUpTo = u32(open.iss + 1); // next new client byte (recorded seq space)
  let pendingSend: Uint8Array[] = [];
  let closeWanted = false;
  let closeDone = false;
  const flushUser = () => {
    while (pendingSend.length > 0) {
      const d = pendingSend[0];
      const n = conn.state === "CLOSED" ? d.length : conn.send(d, vt.nowMs);
      if (n === 0) break;
      pendingSend[0] = d.subarray(n);
      if (pendingSend[0].length === 0) pendingSend.shift();
    }
    if (closeWanted && !closeDone && pendingSend.length === 0 && conn.state !== "SYN-SENT" && conn.state !== "SYN-RECEIVED") {
      closeDone = true;
      if (conn.state !== "CLOSED") conn.close(vt.nowMs);
    }
    vt.collect();
  };

  const actions: Action[] = open.events.map((ev, order) => ({ t: ev.t, order, ev })).filter((a) => a.ev !== open.syn);
  actions.sort((a, b) => a.t - b.t || a.order - b.order);
  // Closed loop for answers to SYNs: a server segment or ICMP error whose latest preceding
  // client segment is the n-th SYN answers that SYN, so it is injected the recorded delay
  // after *our* n-th SYN (waiting for it if our stack retransmits later than the recorded
  // client did). Everything else keeps its recorded time (shifted only forwards).
  const synTimes = synTimes0;
  const triggerOf = new Map<RecordedEvent, { n: number; delay: number }>();
  {
    let lastC2s: RecordedSegment | undefined;
    let synCount = 0;
    for (const a of [{ ev: open.syn as RecordedEvent }, ...actions]) {
      const e = a.ev;
      if (e.kind === "tcp" && e.dir === "c2s") {
        lastC2s = e;
        if ((e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) synCount++;
      } else if (lastC2s && (lastC2s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
        triggerOf.set(e, { n: synCount, delay: e.t - lastC2s.t });
      }
    }
  }
  const ourSynCount = () => synTimes.length;
  for (const a of actions) {
    const e = a.ev;
    const trig = triggerOf.get(e);
    if (trig) {
      // Let our stack reach its n-th SYN (or stop trying) before the answer comes.
      vt.runWhile(() => ourSynCount() < trig.n && conn.state === "SYN-SENT", a.t + DEFAULT_GIVE_UP_LIMIT_MS);
      const ourT = synTimes[trig.n - 1];
      advanceTo(ourT !== undefined ? ourT + trig.delay : a.t);
    } else {
      advanceTo(a.t);
    }
    if (e.kind === "icmp" || e.dir === "s2c") {
      inject(e);
    } else {
      // Recorded client segment: redo what its application asked for.
      if (e.flags & TCP_SYN) {
        if (e.payload.length > 0) clientSentUpTo = u32(e.seq + 1 + e.payload.length); // TFO data: not replayed
        continue;
      }
      const end = u32(e.seq + e.payload.length);
      if (e.payload.length > 0 && seqDelta(end, clientSentUpTo) > 0) {
        const fresh = seqDelta(e.seq, clientSentUpTo) >= 0 ? e.payload : e.payload.subarray(seqDelta(clientSentUpTo, e.seq));
        pendingSend.push(fresh);
        clientSentUpTo = end;
      }
      if (e.flags & TCP_FIN) closeWanted = true;
      if (e.flags & TCP_RST && establishedAt !== undefined && conn.state !== "CLOSED") {
        // An answer our stack gives by itself (within 1 ms of an input) is not an application abort.
        const recentRst = ours.some((o) => o.t >= vt.nowMs - 1 && isRst(o.bytes));
        if (!recentRst) {
          conn.abort(vt.nowMs);
          vt.collect();
        }
      }
    }
    flushUser();
  }
  const endMs = open.endMs;
  advanceTo(endMs + 1);
  flushUser();
  // Run a still-pending connect to its end when the recorded client was still retrying.
  const connecting = () => conn.state === "SYN-SENT" || conn.state === "SYN-RECEIVED";
  // The server is taken to keep answering as it last did: when the recorded client's last
  // SYN got an answer (a RST, an ICMP error), every further SYN of ours gets the same answer
  // after the same delay (e.g. Windows' RST retries when the capture stops after one RST).
  let continued = 0;
  if (connecting() && (open.outcome === "timeout" || open.outcome === "refused" || open.outcome === "unreachable")) {
    const lastSynIdx = open.events.reduce((m, e, i) => (e.kind === "tcp" && e.dir === "c2s" && (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN ? i : m), 0);
    const answer = open.events.slice(lastSynIdx + 1).find((e) => triggerOf.has(e));
    const delay = answer ? triggerOf.get(answer)!.delay : 0;
    let answered = synTimes.length;
    while (connecting()) {
      const d = vt.nextDeadline();
      if (d === undefined || d > DEFAULT_GIVE_UP_LIMIT_MS) break;
      advanceTo(d);
      while (answer && answered < synTimes.length && connecting()) {
        advanceTo(synTimes[answered] + delay);
        answered++;
        continued++;
        inject(answer);
      }
    }
  }
  const stillConnectingAtEnd = connecting();
  let replayedOutcome: RecordedOutcome = stillConnectingAtEnd ? "incomplete" : toRecordedOutcome(engineOutcome, establishedAt !== undefined);
  if (engineOutcome === undefined && establishedAt !== undefined) replayedOutcome = "established";
  const status = statusOf(replayedOutcome, engineOutcome);
  const replayedDetail = engineOutcome
    ? `${engineOutcome.kind}${outcomeAt !== undefined ? ` at ${outcomeAt.toFixed(1)} ms` : ""}${establishedAt !== undefined ? `, established at ${establishedAt.toFixed(1)} ms` : ""}`
    : establishedAt !== undefined
      ? `established at ${establishedAt.toFixed(1)} ms, ${conn.state} at the end of the capture`
      : `${conn.state} at the end of the capture`;

  const replayedNote = continued > 0 ? ` (after the capture: the server's last answer repeated for ${continued} more SYN(s))` : "";

  // --- comparison ---------------------------------------------------------------------
  const serverSynTimes = recServer.filter((e) => e.flags & TCP_SYN).map((e) => e.t);
  const ourSegs: Seg[] = [];
  for (const o of ours) {
    const p = parsePacket(o.bytes);
    if (!p.ok || p.value.l4.kind !== "tcp") continue;
    const t = p.value.l4.tcp;
    ourSegs.push({ t: o.t, flags: t.flags, seq: u32(t.seq - ourIss), ack: t.ack, len: t.payload.length, window: t.window, options: t.options, handshake: false });
  }
  const recSegs: Seg[] = recClient.map((e) => ({ t: e.t, frame: e.frame, flags: e.flags, seq: u32(e.seq - open.iss), ack: e.ack, len: e.payload.length, window: e.window, options: e.options, handshake: false }));
  const tfo = recClient.some((e) => e.flags & TCP_SYN && e.payload.length > 0) || open.syn.options.some((o) => o.kind === "unknown" && (o.type === 34 || o.type === 254));

  const selRec = selectCompared(recSegs, serverSynTimes, irs0);
  const cutoff = endMs + timeTolerance(endMs);
  const oursInWindow = ourSegs.filter((s) => s.t <= cutoff);
  const selOurs = selectCompared(oursInWindow, serverSynTimes, irs0);
  const notCompared = recSegs.length - selRec.length + (ourSegs.length - selOurs.length);

  const ackBase = irs0 ?? 0;
  const keyOf = (s: Seg) => `${s.flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST)}|${s.seq}|${s.len}`;
  const pairs = lcsPairs(selRec.map(keyOf), selOurs.map(keyOf));
  const describe = (s: Seg) => `${formatTcpFlags(s.flags)} seq ${s.seq}${s.flags & TCP_ACK ? ` ack ${u32(s.ack - ackBase)}` : ""} len ${s.len} at ${s.t.toFixed(1)} ms`;
  // With a faithful profile every difference is a finding; with a profile that does not
  // model the recorded OS, differences in what the stack decides by itself (retransmissions,
  // timing, options, windows, RST/FIN behaviour) are explained by the profile.
  // Linux before tcp_syn_linear_timeouts (6.x) doubled from the first retransmission; the
  // linux profile models 6.x. Recognised from the recorded SYN gaps (1 s, then 2 s, ...).
  const recSynT = recClient.filter((e) => (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN).map((e) => e.t);
  const classicLinux =
    profileName === "linux" && recSynT.length >= 3 && (recSynT[2] - recSynT[1]) / Math.max(1, recSynT[1] - recSynT[0]) > 1.5 && (overrides.synLinearTimeouts ?? PROFILES.linux.synLinearTimeouts) > 0;
  const explainLinux = classicLinux
    ? "explained by profile: the recorded Linux doubles its SYN timeout from the first retransmission (kernel before tcp_syn_linear_timeouts); the linux profile models 6.x (synLinearTimeouts 4)"
    : undefined;
  // The recorded TS clock rate: ours ticks once per ms (Linux since 4.13); older kernels tick
  // at HZ, Windows at 100 ms (RFC 7323 §5.4 allows 1 ms to 1 s).
  const tsSamples = recClient.flatMap((e) => e.options.filter((o) => o.kind === "ts").map((o) => ({ t: e.t, val: (o as { val: number }).val })));
  let explainTs: string | undefined;
  if (tsSamples.length >= 2) {
    const a0 = tsSamples[0]!;
    const a1 = tsSamples[tsSamples.length - 1]!;
    if (a1.t - a0.t >= 500) {
      const perSecond = (seqDelta(a1.val, a0.val) / (a1.t - a0.t)) * 1000;
      if (perSecond < 900 || perSecond > 1100) {
        explainTs = `explained by profile: the recorded client's TS clock ticks about ${Math.round(perSecond)} times a second; ours ticks 1000 (Linux >= 4.13)`;
      }
    }
  }
  const explainSeg = (s: Seg): string | undefined => {
    if (explainLinux && s.flags & TCP_SYN) return explainLinux;
    if (tfo && s.flags & TCP_SYN) return "explained by feature: TCP Fast Open is not implemented";
    if (tfo && s.len > 0 && s.seq <= 1) return "explained by feature: TCP Fast Open is not implemented (SYN data sent again after the handshake)";
    return explainProfile;
  };
  let ri = 0;
  let oi = 0;
  const pushUnmatched = (untilR: number, untilO: number) => {
    for (; ri < untilR; ri++) {
      const s = selRec[ri];
      diffs.push({ frame: s.frame, t: s.t, field: "missing", recorded: describe(s), replayed: "not sent", explained: explainSeg(s) });
    }
    for (; oi < untilO; oi++) {
      const s = selOurs[oi];
      diffs.push({ t: s.t, field: "extra", recorded: "not sent", replayed: describe(s), explained: explainSeg(s) });
    }
  };
  for (const [r, o] of pairs) {
    pushUnmatched(r, o);
    const a = selRec[r];
    const b = selOurs[o];
    const add = (field: string, rv: string, ov: string, explained?: string) => diffs.push({ frame: a.frame, t: a.t, field, recorded: rv, replayed: ov, explained });
    if (a.flags & TCP_ACK && b.flags & TCP_ACK && a.ack !== b.ack) add("ack", String(u32(a.ack - ackBase)), String(u32(b.ack - ackBase)));
    if (Math.abs(a.t - b.t) > timeTolerance(a.t)) add("time", `${a.t.toFixed(1)} ms`, `${b.t.toFixed(1)} ms`, (a.flags & TCP_SYN ? explainLinux : undefined) ?? explainProfile);
    if (strict) {
      const mask = TCP_PSH | TCP_ECE | TCP_CWR;
      if ((a.flags & mask) !== (b.flags & mask)) {
        const ecn = ((a.flags ^ b.flags) & (TCP_ECE | TCP_CWR)) !== 0;
        const pshOnly = ((a.flags ^ b.flags) & mask) === TCP_PSH;
        add(
          "flags",
          formatTcpFlags(a.flags),
          formatTcpFlags(b.flags),
          ecn ? "explained by feature: ECN is not implemented" : pshOnly ? "explained by capture: PSH follows the application's write boundaries, which a capture does not show" : explainProfile,
        );
      }
      if (a.handshake && a.window !== b.window) add("window", String(a.window), String(b.window), explainProfile);
      const isSyn = (a.flags & TCP_SYN) !== 0;
      const ao = optionText(a.options, isSyn, open.iss);
      const bo = optionText(b.options, isSyn, ourIss);
      // Both TS clocks tick in ms from the same origin (tsOffset = the SYN's TSval), so the
      // TSval difference must equal the send-time difference (2 ticks of slack).
      const ats = a.options.find((x) => x.kind === "ts");
      const bts = b.options.find((x) => x.kind === "ts");
      if (ats?.kind === "ts" && bts?.kind === "ts") {
        const skew = seqDelta(bts.val, ats.val) - Math.round(b.t - a.t);
        if (Math.abs(skew) > 2) add("tsval", String(ats.val), String(bts.val), explainTs ?? explainProfile);
      }
      if (ao !== bo) {
        const why = tfo && isSyn ? "explained by feature: TCP Fast Open is not implemented" : setupNotes.length && isSyn ? `${explainProfile ?? "explained by profile"}: ${setupNotes.join("; ")}` : explainProfile;
        add("options", ao || "none", bo || "none", why);
      }
    }
    ri = r + 1;
    oi = o + 1;
  }
  pushUnmatched(selRec.length, selOurs.length);

  if (replayedOutcome !== open.outcome) {
    let explained = explainProfile;
    if (tfo) explained = "explained by feature: TCP Fast Open is not implemented (the SYN-ACK acknowledges SYN data we did not send)";
    if (open.outcome === "incomplete" && !recServer.length) explained = "explained by capture: the server's packets are not in the capture";
    diffs.push({ t: endMs, field: "outcome", recorded: open.outcome, replayed: replayedOutcome, explained });
  }
  for (const n of setupNotes) if (!diffs.some((d) => d.field === "options")) diffs.push({ t: 0, field: "setup", recorded: "strict", replayed: n, explained: explainProfile ?? "explained by profile" });
  // A one-way capture (no server packets at all) cannot drive the replay.
  if (!recServer.length && open.events.some((e) => e.kind === "tcp" && e.dir === "c2s" && !(e.flags & TCP_SYN))) {
    for (const d of diffs) d.explained ??= "explained by capture: the server's packets are not in the capture";
  }
  const match = diffs.every((d) => d.explained !== undefined);

  const ladderRec: LadderPacket[] = open.events.map((e) =>
    e.kind === "icmp"
      ? { t: e.t, dir: "s2c", kind: "icmp", frame: e.frame, label: `ICMP${e.version === 6 ? "v6" : ""} ${e.type}/${e.code} from ${e.from}` }
      : { t: e.t, dir: e.dir, kind: "tcp", frame: e.frame, label: segLabel(e.flags, e.dir === "c2s" ? u32(e.seq - open.iss) : u32(e.seq - (irs0 ?? e.seq)), e.dir === "c2s" ? u32(e.ack - ackBase) : u32(e.ack - open.iss), e.payload.length, e.window, e.options) },
  );
  const ladderOurs: LadderPacket[] = [];
  for (const o of ours) {
    const p = parsePacket(o.bytes);
    if (!p.ok || p.value.l4.kind !== "tcp") continue;
    const t = p.value.l4.tcp;
    ladderOurs.push({ t: o.t, dir: "c2s", kind: "tcp", label: segLabel(t.flags, u32(t.seq - ourIss), u32(t.ack - ackBase), t.payload.length, t.window, t.options) });
  }
  for (const e of open.events) {
    if (e.dir === "s2c") ladderOurs.push(ladderRec[open.events.indexOf(e)]);
  }
  ladderOurs.sort((a, b) => a.t - b.t);

  return {
    ...base,
    recorded: { outcome: open.outcome, detail: open.outcomeDetail, frames: [firstFrame, lastFrame] },
    replayed: { outcome: replayedOutcome, status: statusName(status), ntstatus: hexStatus(status), detail: replayedDetail + replayedNote },
    match,
    diffs,
    ladder: { recorded: ladderRec, replayed: ladderOurs },
    states,
    trace,
    compared: selRec.length,
    notCompared,
    isn: { ours: ourIss, recorded: open.iss, server: irs0 },
  };
}

function isRst(bytes: Uint8Array): boolean {
  const p = parsePacket(bytes);
  return p.ok && p.value.l4.kind === "tcp" && (p.value.l4.tcp.flags & TCP_RST) !== 0;
}

export function segLabel(flags: number, seq: number, ack: number, len: number, window: number, options: readonly TcpOption[]): string {
  let s = `${formatTcpFlags(flags)} seq ${seq}`;
  if (flags & TCP_ACK) s += ` ack ${ack}`;
  s += ` win ${window}`;
  if (len > 0) s += ` len ${len}`;
  if (options.length > 0) s += ` <${options.map((o) => (o.kind === "mss" ? `mss ${o.value}` : o.kind === "wscale" ? `ws ${o.shift}` : o.kind === "ts" ? "TS" : o.kind === "unknown" ? `opt${o.type}` : o.kind)).filter((k) => k !== "nop" && k !== "eol").join(",")}>`;
  return s;
}

/**
 * The segments that take part in the comparison: SYN/FIN/RST or payload, the first pure
 * ACK after the server's first SYN (the handshake ACK), and the first segment after each
 * later server SYN (the answer to a retransmitted SYN-ACK). Marks handshake segments.
 */
function selectCompared(segs: Seg[], serverSynTimes: number[], irs: number | undefined): Seg[] {
  const out: Seg[] = [];
  // After a simultaneous open the client's SYN-ACK is its half of the handshake; there is no
  // handshake ACK, and the first pure ACK acknowledges data (ACK policy, not compared).
  const simOpen = segs.some((s) => (s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK));
  let handshakeAckSeen = false;
  const answered = new Set<number>();
  for (const s of segs) {
    const pureAck = (s.flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && s.len === 0;
    const pendingSyn = serverSynTimes.findIndex((t, i) => t <= s.t && !answered.has(i));
    if (pendingSyn >= 0) for (let i = 0; i <= pendingSyn; i++) if (serverSynTimes[i] <= s.t) answered.add(i);
    if (!pureAck) {
      s.handshake = simOpen ? (s.flags & TCP_SYN) !== 0 : !handshakeAckSeen;
      out.push(s);
      continue;
    }
    if (!handshakeAckSeen && !simOpen && irs !== undefined && s.flags & TCP_ACK) {
      handshakeAckSeen = true;
      // It answers the server's first SYN, whatever the clock says: the replay injects that
      // SYN-ACK relative to *our* SYN, so our ACK can come before its recorded time.
      for (let i = 0; i < serverSynTimes.length; i++) if (i === 0 || serverSynTimes[i] <= s.t + timeTolerance(s.t)) answered.add(i);
      s.handshake = true;
      out.push(s);
      continue;
    }
    if (pendingSyn >= 0) out.push(s);
  }
  return out;
}

/** Index pairs of a longest common subsequence of two key lists. */
function lcsPairs(a: string[], b: string[]): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) {
    // Very long connections: pair greedily in order.
    const out: Array<[number, number]> = [];
    let j = 0;
    for (let i = 0; i < n && j < m; i++) {
      const k = b.indexOf(a[i], j);
      if (k >= 0) {
        out.push([i, k]);
        j = k + 1;
      }
    }
    return out;
  }
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = a[i] === b[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    }
  }
  const out: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push([i, j]);
      i++;
      j++;
    } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) i++;
    else j++;
  }
  return out;
}

export interface FileReplay {
  file: string;
  handshakes: HandshakeResult[];
  /** Records the extractor could not read, by reason. */
  skipped: Record<string, number>;
  warnings: string[];
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
