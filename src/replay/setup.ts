// Replay steps 1 and 2: split the recorded connection into what the client and the server
// sent, and decide how our stack is set up to play the client: which profile (given, or
// inferred from the recorded SYN), which knobs (the fixture's overrides; under --strict the
// recorded SYN's own window, options and receive buffer), which MTU.
import { PROFILES, resolveProfile, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { summarizeOptions } from "../../stack/wire/tcp-options.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { ActiveOpen, RecordedSegment } from "./extract.js";
import { inferProfile, layoutFor, optionKinds, profileModels, type Inference } from "./infer.js";
import { inferJiffiesOffset, timerObservations } from "./jiffies.js";
import type { ReplayOptions } from "./types.js";

/** The recorded connection, split by sender. */
export interface RecordedSides {
  /** TCP segments the recorded client sent, in capture order. */
  client: RecordedSegment[];
  /** TCP segments the server sent, in capture order. */
  server: RecordedSegment[];
  /** The server's first SYN (SYN-ACK, or the SYN of a simultaneous open). */
  serverSyn: RecordedSegment | undefined;
  /** The server's first ISN, when it sent a SYN. */
  irs: number | undefined;
  /** The recorded client used TCP Fast Open (data on its SYN, or the TFO option). */
  tfo: boolean;
}

export function recordedSides(open: ActiveOpen): RecordedSides {
  const client = open.events.filter((e): e is RecordedSegment => e.kind === "tcp" && e.dir === "c2s");
  const server = open.events.filter((e): e is RecordedSegment => e.kind === "tcp" && e.dir === "s2c");
  const serverSyn = server.find((e) => e.flags & TCP_SYN);
  const tfo = client.some((e) => e.flags & TCP_SYN && e.payload.length > 0) || open.syn.options.some((o) => o.kind === "unknown" && (o.type === 34 || o.type === 254));
  return { client, server, serverSyn, irs: serverSyn?.seq, tfo };
}

/** How our stack plays the recorded client. */
export interface ReplaySetup {
  strict: boolean;
  profile: ProfileName;
  profileSource: "given" | "inferred";
  inference: Inference;
  /**
   * Set when the profile does not model the recorded OS: differences in what the stack
   * decides by itself are then expected, and this says why.
   */
  explainProfile: string | undefined;
  overrides: ProfileOverrides;
  /** What --strict could not make like the recording (reported as setup differences). */
  notes: string[];
  /** Interface MTU: enough for the recorded SYN's MSS. */
  mtu: number;
}

export function planReplay(open: ActiveOpen, sides: RecordedSides, opts: ReplayOptions = {}): ReplaySetup {
  const strict = opts.strict ?? false;
  const inference = inferProfile(open.syn);
  const profile: ProfileName = opts.profile ?? inference.profile;
  const explainProfile = profileModels(profile, inference)
    ? undefined
    : `explained by profile: the recorded client looks like ${inference.os}, replayed as ${profile}`;
  const synMss = summarizeOptions(open.syn.options).mss;
  const ipOverhead = open.family === 6 ? 60 : 40;
  const mtu = Math.max(open.family === 6 ? 1280 : 576, synMss !== undefined ? synMss + ipOverhead : 1500);
  // Nagle is off: the recorded pacing already contains the recorded stack's.
  const overrides: ProfileOverrides = { nodelay: true, ...(opts.overrides ?? {}) };
  const notes: string[] = [];
  if (strict) {
    const firstAck = sides.client.find((e) => !(e.flags & (TCP_SYN | TCP_RST)) && e.flags & TCP_ACK);
    // The window scale in force is the one of the server SYN that the first ACK answers (an
    // earlier SYN-ACK may have been refused, e.g. for an unacceptable ACK).
    const answered = firstAck ? [...sides.server].reverse().find((e) => e.flags & TCP_SYN && e.t <= firstAck.t) : undefined;
    const wsSyn = answered ?? sides.serverSyn;
    // After a simultaneous open the crossing SYN decided, and simOpenWscale "linux" keeps our
    // scale even when it had none.
    const crossing = sides.server.find((e) => (e.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && (!firstAck || e.t <= firstAck.t));
    const keepsOwn = crossing !== undefined && resolveProfile(profile, opts.overrides).simOpenWscale === "linux";
    const serverWscale = keepsOwn || (wsSyn ? summarizeOptions(wsSyn.options).wscale !== undefined : false);
    const so = strictOverrides(open, profile, firstAck?.window, serverWscale);
    Object.assign(overrides, so.overrides, opts.overrides ?? {});
    notes.push(...so.notes);
    // Where the recorded kernel's jiffies ticks fell, from its timer-driven retransmissions
    // (timerWheel "linux"; src/replay/jiffies.ts).
    if (overrides.jiffiesOffsetMs === undefined) {
      const p = resolveProfile(profile, overrides);
      const off = inferJiffiesOffset(timerObservations(sides.client, p), p);
      if (off !== undefined) overrides.jiffiesOffsetMs = off;
    }
  }
  return { strict, profile, profileSource: opts.profile ? "given" : "inferred", inference, explainProfile, overrides, notes, mtu };
}

/** Profile knobs that make our SYN look like the recorded one (--strict). */
export function strictOverrides(open: ActiveOpen, base: ProfileName, firstAckWindow: number | undefined, serverWscale: boolean): { overrides: ProfileOverrides; notes: string[] } {
  const syn = open.syn;
  const s = summarizeOptions(syn.options);
  const notes: string[] = [];
  const o: ProfileOverrides = {
    // The recorded window as it is, whatever rule the profile derives it by.
    synWindowRule: "fixed",
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
