// Replay step 5: compare what our stack sent with what the recorded client sent, segment
// by segment (docs/replay.md, "What is compared"). Segments are paired by a longest common
// subsequence of (flags, relative sequence number, length); pairs are compared field by
// field, unpaired segments are "missing" or "extra". A difference is *explained* when the
// profile does not model the recorded OS or a feature is known to be missing; only
// unexplained differences make a connection differ.
import { PROFILES } from "../../stack/tcp/profiles.js";
import { seqAdd, seqGt, seqLt } from "../../stack/tcp/seq.js";
import { parsePacket } from "../../stack/wire/packet.js";
import { formatTcpFlags } from "../../stack/wire/tcp.js";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import type { ActiveOpen } from "./extract.js";
import type { RecordedSides, ReplaySetup } from "./setup.js";
import { seqDelta, timeTolerance, u32, type Diff, type SentPacket } from "./types.js";

/** One segment as compared. */
export interface Seg {
  t: number;
  frame?: number;
  flags: number;
  /** Relative to the sender's ISN. */
  seq: number;
  ack: number;
  len: number;
  window: number;
  options: TcpOption[];
  /** Sent before the handshake completed (or is its ACK): window compared under --strict. */
  handshake: boolean;
}

/** Our packets as segments (ICMP and unparsable packets left out). */
export function ourSegments(sent: readonly SentPacket[], ourIss: number): Seg[] {
  const out: Seg[] = [];
  for (const o of sent) {
    const p = parsePacket(o.bytes);
    if (!p.ok || p.value.l4.kind !== "tcp") continue;
    const t = p.value.l4.tcp;
    out.push({ t: o.t, flags: t.flags, seq: u32(t.seq - ourIss), ack: t.ack, len: t.payload.length, window: t.window, options: t.options, handshake: false });
  }
  return out;
}

export function recordedSegments(open: ActiveOpen, sides: RecordedSides): Seg[] {
  return sides.client.map((e) => ({ t: e.t, frame: e.frame, flags: e.flags, seq: u32(e.seq - open.iss), ack: e.ack, len: e.payload.length, window: e.window, options: e.options, handshake: false }));
}

function mssOf(opts: readonly TcpOption[]): number | undefined {
  const m = opts.find((o) => o.kind === "mss");
  return m?.kind === "mss" ? m.value : undefined;
}

/** Options as compared: TSval hidden (checked against the clock apart), SACK blocks relative to `sackBase`. */
export function optionText(opts: readonly TcpOption[], sackBase: number): string {
  return opts
    .map((o) => {
      switch (o.kind) {
        case "mss":
          return `mss ${o.value}`;
        case "wscale":
          return `wscale ${o.shift}`;
        case "ts":
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

/** Why differences are expected for this connection, decided once from the recording. */
export class Explanations {
  /** The recorded Linux doubles its SYN timeout from the first retransmission. */
  readonly classicLinux: string | undefined;
  /** The recorded TS clock does not tick once per ms. */
  readonly tsClock: string | undefined;

  constructor(
    private readonly setup: ReplaySetup,
    private readonly sides: RecordedSides,
  ) {
    // Linux before tcp_syn_linear_timeouts (6.x) doubled from the first retransmission; the
    // linux profile models 6.x. Recognised from the recorded SYN gaps (1 s, then 2 s, ...).
    // Only a first gap of a whole initial RTO counts: a SYN re-sent early (after a RST that
    // answered an unacceptable SYN-ACK, TCP_TIMEOUT_MIN) is not the schedule.
    const recSynT = sides.client.filter((e) => (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN).map((e) => e.t);
    const initialRto = setup.overrides.initialRtoMs ?? PROFILES.linux.initialRtoMs;
    const classic =
      setup.profile === "linux" &&
      recSynT.length >= 3 &&
      recSynT[1] - recSynT[0] >= 0.9 * initialRto &&
      (recSynT[2] - recSynT[1]) / Math.max(1, recSynT[1] - recSynT[0]) > 1.5 &&
      (setup.overrides.synLinearTimeouts ?? PROFILES.linux.synLinearTimeouts) > 0;
    this.classicLinux = classic
      ? "explained by profile: the recorded Linux doubles its SYN timeout from the first retransmission (kernel before tcp_syn_linear_timeouts); the linux profile models 6.x (synLinearTimeouts 4)"
      : undefined;
    // The recorded TS clock rate: ours ticks once per ms (Linux since 4.13); older kernels tick
    // at HZ, Windows at 100 ms (RFC 7323 §5.4 allows 1 ms to 1 s).
    const tsSamples = sides.client.flatMap((e) => e.options.filter((o) => o.kind === "ts").map((o) => ({ t: e.t, val: (o as { val: number }).val })));
    let ts: string | undefined;
    if (tsSamples.length >= 2) {
      const a0 = tsSamples[0]!;
      const a1 = tsSamples[tsSamples.length - 1]!;
      if (a1.t - a0.t >= 500) {
        const perSecond = (seqDelta(a1.val, a0.val) / (a1.t - a0.t)) * 1000;
        if (perSecond < 900 || perSecond > 1100) ts = `explained by profile: the recorded client's TS clock ticks about ${Math.round(perSecond)} times a second; ours ticks 1000 (Linux >= 4.13)`;
      }
    }
    this.tsClock = ts;
  }

  get profile(): string | undefined {
    return this.setup.explainProfile;
  }

  /** For a missing or extra segment. */
  segment(s: Seg): string | undefined {
    if (this.classicLinux && s.flags & TCP_SYN) return this.classicLinux;
    if (this.sides.tfo && s.flags & TCP_SYN) return "explained by feature: TCP Fast Open is not implemented";
    if (this.sides.tfo && s.len > 0 && s.seq <= 1) return "explained by feature: TCP Fast Open is not implemented (SYN data sent again after the handshake)";
    return this.profile;
  }

  /**
   * A recorded acknowledgment behind ours, where every server byte in between was captured
   * just before it (within the send-time tolerance): the capture saw those segments before
   * the recorded client's TCP had taken them in, so its ACK, sent meanwhile, is older. Our
   * replay takes each segment in at its recorded time. Anything else stays a difference.
   */
  ackLag(a: Seg, b: Seg): string | undefined {
    if (!seqLt(a.ack, b.ack)) return undefined;
    const since = a.t - timeTolerance(a.t);
    const covering = this.sides.server.filter((e) => {
      const len = e.payload.length + (e.flags & TCP_FIN ? 1 : 0);
      return len > 0 && seqLt(e.seq, b.ack) && seqGt(seqAdd(e.seq, len), a.ack);
    });
    const fresh = (e: { t: number }) => e.t <= a.t && e.t >= since;
    if (covering.length === 0 || !covering.every(fresh)) return undefined;
    const lag = a.t - Math.min(...covering.map((e) => e.t));
    return `explained by capture: the server's bytes up to ${u32(b.ack - (this.sides.irs ?? 0))} were captured ${lag.toFixed(1)} ms before this segment, before the recorded client's TCP took them in`;
  }

  time(s: Seg): string | undefined {
    return (s.flags & TCP_SYN ? this.classicLinux : undefined) ?? this.profile;
  }

  flags(a: number, b: number): string | undefined {
    const mask = TCP_PSH | TCP_ECE | TCP_CWR;
    const ecn = ((a ^ b) & (TCP_ECE | TCP_CWR)) !== 0;
    const pshOnly = ((a ^ b) & mask) === TCP_PSH;
    return ecn ? "explained by feature: ECN is not implemented" : pshOnly ? "explained by capture: PSH follows the application's write boundaries, which a capture does not show" : this.profile;
  }

  /**
   * The SYN's window. Windows and FreeBSD write a fixed value per version, so a difference
   * is a finding. Linux derives it from the MSS and the receive buffer: a current kernel
   * with default buffers offers the largest multiple of the MSS up to 64 KiB
   * (tcp_select_initial_window(), net.ipv4.tcp_rmem default 131072); a recorded window
   * that is not that value comes from an older kernel or other buffer settings, which the
   * linux profile does not model. When the recorded window *is* that value and ours is not,
   * the difference is ours.
   */
  synWindow(a: Seg): string | undefined {
    if (this.profile) return this.profile;
    if (this.setup.profile !== "linux") return undefined;
    const mss = mssOf(a.options) ?? 536;
    const current = Math.min(65535, Math.floor(65536 / mss) * mss);
    if (a.window === current) return undefined;
    return `explained by configuration: the recorded Linux offered a SYN window of ${a.window}, not the ${current} a current kernel with default buffers offers for MSS ${mss} (an older kernel, or other net.ipv4.tcp_rmem); the linux profile models current defaults`;
  }

  /**
   * The SYN's options. Their kinds and order are the OS's fingerprint: a difference is a
   * finding. Linux and FreeBSD choose the window scale from the largest receive buffer the
   * host allows (net.ipv4.tcp_rmem[2], kern.ipc.maxsockbuf): a difference in that value
   * alone is configuration. Windows 10 and later offer 8; Windows 7 and 8 offer 2 or 8 (and
   * none) by their receive-window auto-tuning level (p0f's Windows 7/8 signatures list all
   * three): under windows7 a difference in the shift alone is configuration too.
   */
  synOptions(rec: readonly TcpOption[], ours: readonly TcpOption[]): string | undefined {
    if (this.sides.tfo) return "explained by feature: TCP Fast Open is not implemented";
    if (this.profile) return this.profile;
    const wsOf = (o: readonly TcpOption[]) => o.find((x) => x.kind === "wscale");
    const sameKinds = rec.map((o) => o.kind).join(",") === ours.map((o) => o.kind).join(",");
    const strip = (o: readonly TcpOption[]) => optionText(o.filter((x) => x.kind !== "wscale"), 0);
    if ((this.setup.profile === "linux" || this.setup.profile === "freebsd") && sameKinds && strip(rec) === strip(ours) && wsOf(rec) && wsOf(ours)) {
      const r = wsOf(rec) as { shift: number };
      return `explained by configuration: the recorded client's window scale ${r.shift} follows its largest receive buffer (${this.setup.profile === "linux" ? "net.ipv4.tcp_rmem[2]" : "kern.ipc.maxsockbuf"}); the ${this.setup.profile} profile uses the default's`;
    }
    if (this.setup.profile === "windows7" && sameKinds && strip(rec) === strip(ours) && wsOf(rec) && wsOf(ours)) {
      const r = wsOf(rec) as { shift: number };
      return `explained by configuration: Windows 7 and 8 offer window scale 2 or 8 by their receive-window auto-tuning level; the recorded client offered ${r.shift}, the windows7 profile offers 2`;
    }
    return undefined;
  }

  options(isSyn: boolean): string | undefined {
    if (this.sides.tfo && isSyn) return "explained by feature: TCP Fast Open is not implemented";
    if (this.setup.notes.length && isSyn) return `${this.profile ?? "explained by profile"}: ${this.setup.notes.join("; ")}`;
    return this.profile;
  }
}

export interface SegmentComparison {
  diffs: Diff[];
  /** Recorded segments that took part. */
  compared: number;
  /** Segments of either side left out (pure ACKs after the handshake, ours after the capture). */
  notCompared: number;
}

export function compareSegments(open: ActiveOpen, sides: RecordedSides, setup: ReplaySetup, sent: readonly SentPacket[], ourIss: number): SegmentComparison {
  const diffs: Diff[] = [];
  const why = new Explanations(setup, sides);
  const serverSynTimes = sides.server.filter((e) => e.flags & TCP_SYN).map((e) => e.t);
  const ours = ourSegments(sent, ourIss);
  const recorded = recordedSegments(open, sides);
  const selRec = selectCompared(recorded, serverSynTimes, sides.irs);
  const cutoff = open.endMs + timeTolerance(open.endMs);
  const selOurs = selectCompared(
    ours.filter((s) => s.t <= cutoff),
    serverSynTimes,
    sides.irs,
  );
  const notCompared = recorded.length - selRec.length + (ours.length - selOurs.length);

  const ackBase = sides.irs ?? 0;
  const keyOf = (s: Seg) => `${s.flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST)}|${s.seq}|${s.len}`;
  const pairs = lcsPairs(selRec.map(keyOf), selOurs.map(keyOf));
  const describe = (s: Seg) => `${formatTcpFlags(s.flags)} seq ${s.seq}${s.flags & TCP_ACK ? ` ack ${u32(s.ack - ackBase)}` : ""} len ${s.len} at ${s.t.toFixed(1)} ms`;
  let ri = 0;
  let oi = 0;
  const pushUnmatched = (untilR: number, untilO: number) => {
    for (; ri < untilR; ri++) {
      const s = selRec[ri];
      diffs.push({ frame: s.frame, t: s.t, field: "missing", recorded: describe(s), replayed: "not sent", explained: why.segment(s) });
    }
    for (; oi < untilO; oi++) {
      const s = selOurs[oi];
      diffs.push({ t: s.t, field: "extra", recorded: "not sent", replayed: describe(s), explained: why.segment(s) });
    }
  };
  for (const [r, o] of pairs) {
    pushUnmatched(r, o);
    diffs.push(...comparePair(selRec[r], selOurs[o], setup.strict, ackBase, open.iss, ourIss, why));
    ri = r + 1;
    oi = o + 1;
  }
  pushUnmatched(selRec.length, selOurs.length);
  return { diffs, compared: selRec.length, notCompared };
}

/** The differences between a recorded segment `a` and ours `b` that were paired with it. */
export function comparePair(a: Seg, b: Seg, strict: boolean, ackBase: number, recordedIss: number, ourIss: number, why: Explanations): Diff[] {
  const diffs: Diff[] = [];
  const add = (field: string, rv: string, ov: string, explained?: string) => diffs.push({ frame: a.frame, t: a.t, field, recorded: rv, replayed: ov, explained });
  if (a.flags & TCP_ACK && b.flags & TCP_ACK && a.ack !== b.ack) add("ack", String(u32(a.ack - ackBase)), String(u32(b.ack - ackBase)), why.ackLag(a, b));
  if (Math.abs(a.t - b.t) > timeTolerance(a.t)) add("time", `${a.t.toFixed(1)} ms`, `${b.t.toFixed(1)} ms`, why.time(a));
  if (!strict) {
    // The SYN is the profile's fingerprint: its window and options are compared always
    // (--strict copies them from the recording, so there they only check the copy).
    if ((a.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      if (a.window !== b.window) add("window", String(a.window), String(b.window), why.synWindow(a));
      const ao = optionText(a.options, recordedIss);
      const bo = optionText(b.options, ourIss);
      if (ao !== bo) add("options", ao || "none", bo || "none", why.synOptions(a.options, b.options));
    }
    return diffs;
  }
  const mask = TCP_PSH | TCP_ECE | TCP_CWR;
  if ((a.flags & mask) !== (b.flags & mask)) add("flags", formatTcpFlags(a.flags), formatTcpFlags(b.flags), why.flags(a.flags, b.flags));
  if (a.handshake && a.window !== b.window) add("window", String(a.window), String(b.window), why.profile);
  const isSyn = (a.flags & TCP_SYN) !== 0;
  const ao = optionText(a.options, recordedIss);
  const bo = optionText(b.options, ourIss);
  // Both TS clocks tick in ms from the same origin (tsOffset = the SYN's TSval), so the
  // TSval difference must equal the send-time difference (2 ticks of slack).
  const ats = a.options.find((x) => x.kind === "ts");
  const bts = b.options.find((x) => x.kind === "ts");
  if (ats?.kind === "ts" && bts?.kind === "ts") {
    const skew = seqDelta(bts.val, ats.val) - Math.round(b.t - a.t);
    if (Math.abs(skew) > 2) add("tsval", String(ats.val), String(bts.val), why.tsClock ?? why.profile);
  }
  if (ao !== bo) add("options", ao || "none", bo || "none", why.options(isSyn));
  return diffs;
}

/**
 * The segments that take part in the comparison: SYN/FIN/RST or payload, the first pure
 * ACK after the server's first SYN (the handshake ACK), and the first segment after each
 * later server SYN (the answer to a retransmitted SYN-ACK). Marks handshake segments.
 */
export function selectCompared(segs: Seg[], serverSynTimes: number[], irs: number | undefined): Seg[] {
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
export function lcsPairs(a: string[], b: string[]): Array<[number, number]> {
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
