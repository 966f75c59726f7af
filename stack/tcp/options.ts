// Option layouts of the SYN, SYN-ACK and later segments, byte-for-byte as each profile's
// OS writes them (conformance scripts compare options exactly).
import type { TcpOption } from "../wire/types.js";
import { policy } from "./policy.js";
import type { OptionLayout, Profile } from "./profiles.js";

export const optionLayoutPolicy = policy({
  field: "optionLayout",
  title: "SYN option layout",
  where: "RFC 9293 §3.2 (options may come in any order): the order and padding of the SYN's and SYN-ACK's options",
  choices: {
    windows: { meaning: "mss; nop, wscale; nop, nop, TS; nop, nop, sackOK", source: "captures of Windows 10/11" },
    linux: { meaning: "mss; sackOK, TS (nop, nop, TS without SACK; nop, nop, sackOK without TS); nop, wscale", source: "Linux tcp_options_write()" },
    freebsd: { meaning: "mss, nop, wscale, sackOK, TS, padded with EOL to a multiple of 4", source: "FreeBSD tcp_addoptions()" },
    rfc: { meaning: "as freebsd", source: "FreeBSD tcp_addoptions()" },
  },
  knobs: ["timestamps", "windowScaling", "windowScale", "sack", "noOptions", "mssOverride"],
});

export const badOptionsPolicy = policy({
  field: "badOptions",
  title: "Malformed options",
  where: "RFC 9293 §3.2 (MUST-7: be prepared to handle an illegal option length, e.g. zero): a received segment whose option list is malformed",
  choices: {
    drop: {
      meaning: "the segment is dropped, counted under the option's problem (length below 2, past the header, a known kind of the wrong length)",
      source: "RFC 9293 §3.2 leaves the handling open; windows: not measured (Windows' handling is not documented), kept at drop",
    },
    tolerate: {
      meaning: "parsing stops at an option with a length below 2 or running past the header, and the options before it count; a known kind of the wrong length is skipped by its length; the segment is processed (a SYN-ACK with such an option still completes the connect)",
      source: "FreeBSD tcp_dooptions()",
    },
    linux: {
      meaning: "as tolerate, but a segment whose unreadable option (length below 2, past the header) starts with at least badOptionDropBytes of option space left is dropped: the kernel's scan for signature options refuses it before TCP sees it",
      source: "Linux tcp_parse_options(); tcp_inbound_hash() -> tcp_do_parse_auth_options() (-EINVAL while 18 bytes remain, TCPOLEN_MD5SIG, CONFIG_TCP_MD5SIG without TCP_AO); kernel-diff kd-31-0055, kd-31-0192",
    },
  },
  knobs: ["badOptionDropBytes"],
});

/**
 * Whether the badOptions policy drops a segment whose options are malformed (optionError
 * set; the list holds "bad" entries, stack/wire/tcp-options.ts scanTcpOptions).
 */
export function dropsBadOptions(p: Profile, options: readonly TcpOption[]): boolean {
  switch (p.badOptions) {
    case "drop":
      return true;
    case "tolerate":
      return false;
    case "linux":
      // An unreadable option is the last entry; its bytes run to the end of the option space.
      for (const o of options) if (o.kind === "bad" && UNREADABLE.has(o.reason) && o.bytes.length >= p.badOptionDropBytes) return true;
      return false;
  }
}

const UNREADABLE: ReadonlySet<string> = new Set(["tcp option truncated", "tcp option length < 2", "tcp option overrun"]);

export interface HandshakeOptionValues {
  mss: number;
  /** Window-scale shift to offer, or undefined for none. */
  wscale?: number;
  sackOK: boolean;
  ts?: { val: number; ecr: number };
}

/**
 * FreeBSD's tcp_addoptions() padding rules (also used for the `rfc` profile): MSS on a
 * 4-byte boundary, window scale at an odd offset, SACK-permitted at an even offset,
 * timestamps at offset 2 mod 4, then EOL padding to a multiple of 4.
 */
function freebsdLayout(v: HandshakeOptionValues): TcpOption[] {
  const out: TcpOption[] = [];
  let len = 0;
  const pad = (until: () => boolean) => {
    while (!until()) {
      out.push({ kind: "nop" });
      len += 1;
    }
  };
  pad(() => len % 4 === 0);
  out.push({ kind: "mss", value: v.mss });
  len += 4;
  if (v.wscale !== undefined) {
    pad(() => len !== 0 && len % 2 === 1);
    out.push({ kind: "wscale", shift: v.wscale });
    len += 3;
  }
  if (v.sackOK) {
    pad(() => len % 2 === 0);
    out.push({ kind: "sackOK" });
    len += 2;
  }
  if (v.ts) {
    pad(() => len !== 0 && len % 4 === 2);
    out.push({ kind: "ts", val: v.ts.val, ecr: v.ts.ecr });
    len += 10;
  }
  while (len % 4 !== 0) {
    out.push({ kind: "eol" });
    len += 1;
  }
  return out;
}

/** Linux tcp_options_write(): MSS, then SACK-permitted+TS or NOP-padded, then NOP+wscale. */
function linuxLayout(v: HandshakeOptionValues): TcpOption[] {
  const out: TcpOption[] = [{ kind: "mss", value: v.mss }];
  if (v.ts) {
    if (v.sackOK) out.push({ kind: "sackOK" });
    else out.push({ kind: "nop" }, { kind: "nop" });
    out.push({ kind: "ts", val: v.ts.val, ecr: v.ts.ecr });
  } else if (v.sackOK) {
    out.push({ kind: "nop" }, { kind: "nop" }, { kind: "sackOK" });
  }
  if (v.wscale !== undefined) out.push({ kind: "nop" }, { kind: "wscale", shift: v.wscale });
  return out;
}

/** Windows: MSS, NOP+wscale, NOP+NOP+TS, NOP+NOP+SACK-permitted. */
function windowsLayout(v: HandshakeOptionValues): TcpOption[] {
  const out: TcpOption[] = [{ kind: "mss", value: v.mss }];
  if (v.wscale !== undefined) out.push({ kind: "nop" }, { kind: "wscale", shift: v.wscale });
  if (v.ts) out.push({ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: v.ts.val, ecr: v.ts.ecr });
  if (v.sackOK) out.push({ kind: "nop" }, { kind: "nop" }, { kind: "sackOK" });
  return out;
}

/**
 * A Windows SYN-ACK that answers timestamps (passive.ts synAckOptions "windows"): MSS,
 * NOP+wscale, then SACK-permitted and TS unpadded (NOP+NOP before either one alone), as the
 * SYN-ACK of pcaps/tcp-handshake-nano.pcap and p0f's Windows [tcp:response] signatures.
 */
export function windowsSynAckOptions(v: HandshakeOptionValues): TcpOption[] {
  const out: TcpOption[] = [{ kind: "mss", value: v.mss }];
  if (v.wscale !== undefined) out.push({ kind: "nop" }, { kind: "wscale", shift: v.wscale });
  if (v.sackOK && v.ts) out.push({ kind: "sackOK" }, { kind: "ts", val: v.ts.val, ecr: v.ts.ecr });
  else if (v.ts) out.push({ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: v.ts.val, ecr: v.ts.ecr });
  else if (v.sackOK) out.push({ kind: "nop" }, { kind: "nop" }, { kind: "sackOK" });
  return out;
}

/**
 * The last option list built without timestamps, and what it was built from. Without a
 * TSval the options of a SYN depend only on the layout, MSS, window scale and SACK, which
 * are the same for every connect of a stack, so they are built once, not per SYN.
 * The list is shared, so it must only be read (Stack.emit serialises it). It is not frozen:
 * V8 iterates frozen arrays with for-of through the generic, allocating iterator protocol.
 */
let lastPlain: { layout: OptionLayout; mss: number; wscale: number | undefined; sackOK: boolean; options: TcpOption[] } | undefined;

/** The options of a SYN or SYN-ACK in the given layout. */
export function handshakeOptions(layout: OptionLayout, v: HandshakeOptionValues): TcpOption[] {
  if (v.ts !== undefined) return buildHandshakeOptions(layout, v);
  const c = lastPlain;
  if (c !== undefined && c.layout === layout && c.mss === v.mss && c.wscale === v.wscale && c.sackOK === v.sackOK) return c.options;
  const options = buildHandshakeOptions(layout, v);
  lastPlain = { layout, mss: v.mss, wscale: v.wscale, sackOK: v.sackOK, options };
  return options;
}

function buildHandshakeOptions(layout: OptionLayout, v: HandshakeOptionValues): TcpOption[] {
  switch (layout) {
    case "linux":
      return linuxLayout(v);
    case "windows":
      return windowsLayout(v);
    case "freebsd":
    case "rfc":
      return freebsdLayout(v);
  }
}

/** Shared and never written (not frozen, see lastPlain). */
const NO_OPTIONS: TcpOption[] = [];

/** Options of a non-SYN segment: NOP,NOP,TS (all our layouts agree) and SACK blocks. */
export function segmentOptions(ts: { val: number; ecr: number } | undefined, sack?: Array<[number, number]>): TcpOption[] {
  // Most segments carry no option: one shared empty list, not a new one per segment.
  if (ts === undefined && (sack === undefined || sack.length === 0)) return NO_OPTIONS;
  const out: TcpOption[] = [];
  if (ts) out.push({ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: ts.val, ecr: ts.ecr });
  if (sack && sack.length > 0) out.push({ kind: "nop" }, { kind: "nop" }, { kind: "sack", blocks: sack });
  return out;
}
