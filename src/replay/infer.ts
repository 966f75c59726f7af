// Which profile a recorded client most resembles, judged from its SYN alone: the option
// layout is the strongest fingerprint (each OS writes its options in a fixed order, see
// stack/tcp/options.ts), the window and TTL confirm it. The answer is stated in the
// replay output; it only picks the profile when the user gave none.
import { isProfileName, type OptionLayout, type ProfileName } from "../../stack/tcp/profiles.js";
import type { TcpOption } from "../../stack/wire/types.js";

export type ClientOs = "linux" | "windows" | "windows7" | "windows xp" | "freebsd" | "macos" | "unknown";

export interface Inference {
  /** The profile chosen for the replay. */
  profile: ProfileName;
  /** The OS the SYN looks like. */
  os: ClientOs;
  /** True when `profile` models `os` itself (not just the nearest profile). */
  faithful: boolean;
  /** One line: why. */
  reason: string;
}

/** "mss,sackOK,ts,nop,wscale": the option kinds in wire order. */
export function optionKinds(opts: readonly TcpOption[]): string {
  return opts.map((o) => (o.kind === "unknown" ? `opt${o.type}` : o.kind)).join(",");
}

/** Layouts whose byte order our option writer reproduces, by their kind sequence prefix. */
const LINUX = [/^mss,sackOK,ts,nop,wscale$/, /^mss,nop,nop,sackOK,nop,wscale$/, /^mss,nop,nop,ts,nop,wscale$/, /^mss,sackOK,ts$/, /^mss,nop,nop,sackOK$/, /^mss,nop,wscale$/];
const WINDOWS = [/^mss,nop,wscale,nop,nop,sackOK$/, /^mss,nop,nop,sackOK$/, /^mss,nop,wscale,nop,nop,ts,nop,nop,sackOK$/, /^mss,nop,nop,ts,nop,nop,sackOK$/, /^mss$/];
const MACOS = [/^mss,nop,wscale,nop,nop,ts,sackOK,eol$/, /^mss,nop,wscale,nop,nop,ts,sackOK,eol,eol$/];
const FREEBSD = [/^mss,nop,wscale,sackOK,ts$/, /^mss,nop,wscale,sackOK,ts,eol/];

export function inferProfile(syn: { options: readonly TcpOption[]; window: number; ttl: number }): Inference {
  const kinds = optionKinds(syn.options);
  const ts = syn.options.some((o) => o.kind === "ts");
  const ttlHint = syn.ttl > 64 ? "TTL > 64 (Windows starts at 128)" : `TTL ${syn.ttl}`;
  const desc = `SYN <${kinds || "no options"}> win ${syn.window}, ${ttlHint}`;
  // The kernel's option order is decisive; Linux without TS (MSS,NOP,NOP,SACK) shares its
  // order with Windows XP, so the TTL (Linux 64, Windows 128) breaks the tie.
  if (kinds === "mss,nop,nop,sackOK" || kinds === "mss") {
    // Windows XP / 2003 (no window scaling): no profile models it; windows7 has its timers
    // (3 s initial RTO, 2 SYN retransmissions).
    if (syn.ttl > 64) return { profile: "windows7", os: "windows xp", faithful: false, reason: `${desc}: Windows XP-style options (no window scaling); no XP profile, nearest is windows7 (its 3 s initial RTO and 2 SYN retransmissions)` };
    return { profile: "linux", os: "linux", faithful: true, reason: `${desc}: Linux without timestamps/window scaling` };
  }
  if (LINUX.some((r) => r.test(kinds))) return { profile: "linux", os: "linux", faithful: true, reason: `${desc}: Linux option order` };
  if (WINDOWS.some((r) => r.test(kinds))) {
    // Windows 7 (and 8) offer a window of 8192 in the SYN; Windows 10 and later 64240 (at MSS 1460).
    if (syn.window === 8192) return { profile: "windows7", os: "windows7", faithful: true, reason: `${desc}: Windows option order, SYN window 8192: Windows 7` };
    return { profile: "windows", os: "windows", faithful: true, reason: `${desc}: Windows option order${ts ? " (with timestamps)" : ""}` };
  }
  if (MACOS.some((r) => r.test(kinds))) {
    return { profile: "freebsd", os: "macos", faithful: false, reason: `${desc}: macOS option order; no macOS profile, nearest is freebsd (BSD-derived stack)` };
  }
  if (FREEBSD.some((r) => r.test(kinds))) return { profile: "freebsd", os: "freebsd", faithful: true, reason: `${desc}: FreeBSD option order` };
  if (kinds === "") return { profile: "rfc", os: "unknown", faithful: false, reason: `${desc}: no options (crafted or minimal stack): rfc profile` };
  return { profile: "rfc", os: "unknown", faithful: false, reason: `${desc}: unrecognised option order: rfc profile` };
}

/** The profile option layout whose writer produces `kinds`, if any (used by --strict). */
export function layoutFor(kinds: string): OptionLayout | undefined {
  if (LINUX.some((r) => r.test(kinds))) return "linux";
  if (WINDOWS.some((r) => r.test(kinds))) return "windows";
  if (FREEBSD.some((r) => r.test(kinds))) return "freebsd";
  return undefined;
}

/** True when the replay profile is a faithful model of the recorded client. */
export function profileModels(profile: ProfileName, inf: Inference): boolean {
  return inf.faithful && isProfileName(profile) && profile === inf.profile;
}
