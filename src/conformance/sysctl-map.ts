// Which profile a script runs under, and what each sysctl line means for it.
//
// The suites set kernel tunables with backquoted commands (docs/conformance-runner.md, "Profiles and sysctls"). The runner
// never executes them: every tunable it knows is mapped onto a profile knob, the ones
// that change nothing on a client's connect path are accepted as no-ops, and anything
// else makes the script a `skip` naming the tunable (a script whose setup we cannot
// mirror proves nothing, pass or fail).
import type { ProfileName, ProfileOverrides } from "../../stack/tcp/profiles.js";

export type Suite = "freebsd" | "google" | "linux-selftests" | "nplab-linux" | "unknown";

/** The suite a script belongs to, from its repository path (docs/conformance-runner.md, "Profiles and sysctls"). */
export function suiteOf(path: string): Suite {
  const p = path.replace(/\\/g, "/");
  if (p.includes("freebsd-tcp-testsuite/")) return "freebsd";
  if (p.includes("linux-selftests/")) return "linux-selftests";
  if (p.includes("nplab-packetdrill/")) return "nplab-linux";
  if (p.includes("google-packetdrill/")) return "google";
  return "unknown";
}

/**
 * The profile each suite's scripts expect: the FreeBSD suite was recorded against FreeBSD
 * (its SYN layout, 1.0 s / 2.2 s retransmissions), the others against Linux
 * (docs/conformance-runner.md, "Profiles and sysctls").
 */
export function suiteProfile(suite: Suite): ProfileName {
  return suite === "freebsd" ? "freebsd" : "linux";
}

/**
 * Settings a suite has before any line of the script runs. The nplab copies of Google's
 * 2013 tests were recorded with the kernel's defaults of the time: a 4 MB tcp_rmem
 * maximum, hence window scale 6 (mss-getsockopt-tcp_maxseg-client.pkt expects it), and no linear SYN timeouts (added in
 * Linux 6.x). The FreeBSD profile already carries FreeBSD's defaults.
 */
export function suiteBaseOverrides(suite: Suite): ProfileOverrides {
  switch (suite) {
    case "nplab-linux":
      return { windowScale: 6, synRetries: 5, synLinearTimeouts: 0 };
    case "google":
    case "linux-selftests":
    case "unknown":
    case "freebsd":
      return {};
  }
}

/**
 * What the suites' `defaults.sh` sets (docs/conformance-runner.md, "Profiles and sysctls": timestamps and SACK on,
 * tcp_syn_retries 5, ECN off, receive buffers giving window scale 8). The scripts predate
 * net.ipv4.tcp_syn_linear_timeouts (the packet-timeout self-test expects the classic 1 s,
 * 2 s doubling), so the linear phase is off.
 */
export const LINUX_DEFAULTS_SH: ProfileOverrides = {
  timestamps: true,
  sack: true,
  windowScaling: true,
  windowScale: 8,
  synRetries: 5,
  synLinearTimeouts: 0,
};

/** Mutable tunables of one script run. */
export interface SysctlState {
  /** Overrides for sockets created from now on. */
  overrides: ProfileOverrides;
  /**
   * Global tunables the kernel reads per segment: the runner applies them to connections
   * that already exist as well (the same knobs are in `overrides` for new sockets).
   */
  live?: ProfileOverrides;
  /** FreeBSD icmp_may_rst (applies to live connections too). */
  icmpMayRst?: boolean;
  /** SO_RCVBUF / SO_SNDBUF a new socket reports. */
  rcvBufBytes?: number;
  sndBufBytes?: number;
  /** Linux tcp_rmem[2] and net.core.rmem_max (window scale source). */
  rmemMax?: number;
  coreRmemMax?: number;
}

export type SysctlResult = { ok: true; changed: boolean } | { ok: false; reason: string };

const unsupported = (name: string, value: string, why: string): SysctlResult => ({
  ok: false,
  reason: `sysctl ${name}=${value} not supported (${why})`,
});

function int(value: string): number | undefined {
  const v = value.trim();
  if (!/^-?[0-9]+$/.test(v)) return undefined;
  return Number(v);
}

/** FreeBSD tcp_connect(): the smallest shift with TCP_MAXWIN << shift >= sb_max (at most 14). */
export function freebsdWscale(sbMax: number): number {
  let ws = 0;
  while (ws < 14 && 65535 * 2 ** ws < sbMax) ws++;
  return ws;
}

/** Linux tcp_select_initial_window(): ilog2(max(tcp_rmem[2], rmem_max)) - 15, clamped to 0..14. */
export function linuxWscale(space: number): number {
  if (space <= 0) return 0;
  return Math.max(0, Math.min(14, Math.floor(Math.log2(space)) - 15));
}

/** Tunables that change nothing on a client's connect path (accepted whatever the value). */
const NO_OP = new Set([
  // FreeBSD
  "net.inet.tcp.hostcache.purgenow", // our stack keeps no host cache between scripts
  "net.inet.tcp.syncookies", // listener only
  "net.inet.tcp.syncookies_only",
  "net.inet.tcp.ecn.maxretries", // only with ECN requested, which we never do
  "net.inet.tcp.udp_tunneling_overhead", // only with UDP tunnelling
  "net.inet.tcp.fastopen.client_enable", // TFO is only used when a script asks for it (skipped)
  "net.inet.tcp.fastopen.server_enable",
  "net.inet.tcp.sendspace", // recorded below for SO_SNDBUF
  // Linux
  "net.ipv4.tcp_ecn_option", // AccECN option: irrelevant while tcp_ecn is off
  "net.ipv4.tcp_ecn_option_beacon",
  "net.ipv4.tcp_fastopen", // as above: TFO scripts are skipped by feature
  "net.ipv4.tcp_fastopen_key",
  "net.ipv4.tcp_fastopen_blackhole_timeout_sec",
  "net.ipv4.tcp_fastopen_cookies",
  "net.ipv4.tcp_min_tso_segs", // no TSO
  "net.ipv4.tcp_no_metrics_save",
  "net.ipv4.tcp_wmem", // send buffer: writes are accepted whole
  "net.core.wmem_max",
  "net.core.default_qdisc",
]);

/**
 * Applies one `name=value` to `st`. Returns `{ok:false, reason}` for a tunable or value the
 * runner cannot mirror; the caller reports the script as skipped with that reason.
 */
export function applySysctl(st: SysctlState, name: string, value: string): SysctlResult {
  const o = st.overrides;
  const n = int(value);
  const bool = n === undefined ? undefined : n !== 0;
  const need = (cond: boolean, why = "expects a number"): SysctlResult | undefined => (cond ? undefined : unsupported(name, value, why));
  if (NO_OP.has(name)) {
    if (name === "net.inet.tcp.sendspace" && n !== undefined) st.sndBufBytes = n;
    return { ok: true, changed: false };
  }
  switch (name) {
    // ---------------------------------------------------------------- FreeBSD
    case "net.inet.tcp.rfc1323": {
      // 0 = none, 1 = both, 2 = window scaling only, 3 = timestamps only (tcp(4)).
      if (n === undefined || n < 0 || n > 3) return unsupported(name, value, "expects 0-3");
      o.windowScaling = n === 1 || n === 2;
      o.timestamps = n === 1 || n === 3;
      return { ok: true, changed: true };
    }
    case "net.inet.tcp.sack.enable":
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.sack = bool;
      return { ok: true, changed: true };
    case "net.inet.tcp.rexmit_initial":
      return need(n !== undefined && n > 0) ?? ((o.initialRtoMs = n!), { ok: true, changed: true });
    case "net.inet.tcp.rexmit_slop":
      return need(n !== undefined && n >= 0) ?? ((o.rexmitSlopMs = n!), { ok: true, changed: true });
    case "net.inet.tcp.rexmit_min":
      return need(n !== undefined && n > 0) ?? ((o.rtoMinMs = n!), { ok: true, changed: true });
    case "net.inet.tcp.delacktime":
      // The delayed-ACK timeout, in ms (FreeBSD converts it to ticks; 40 by default).
      return need(n !== undefined && n > 0) ?? ((o.delayedAckMs = n!), { ok: true, changed: true });
    case "net.inet.tcp.keepinit":
      // TCP_KEEPINIT default, in ms: the limit on the whole connection attempt.
      return need(n !== undefined && n >= 0) ?? ((o.connectTimeoutMs = n!), { ok: true, changed: true });
    case "net.inet.tcp.icmp_may_rst":
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      // 1: hard ICMP errors abort SYN-SENT (tcp_ctlinput); 0: no ICMP error does.
      st.icmpMayRst = bool;
      o.icmpPolicy = bool ? "hardAbort" : "ignore";
      return { ok: true, changed: true };
    case "net.inet.tcp.rexmit_drop_options":
      // tcp_timer_rexmt(): once t_rxtshift reaches 3 in SYN-SENT, stop requesting window
      // scaling, timestamps and SACK: the 4th and later SYNs carry the MSS only.
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.synDropOptionsAfter = bool ? 3 : 0;
      return { ok: true, changed: true };
    case "net.inet.tcp.blackhole":
      return n === 0 ? { ok: true, changed: false } : unsupported(name, value, "blackholing closed ports is not modelled");
    case "net.inet.tcp.ecn.enable":
      // 0 = off, 2 = only answer ECN: a client never requests ECN either way.
      return n === 0 || n === 2 ? { ok: true, changed: false } : unsupported(name, value, "ECN is not implemented");
    case "net.inet.tcp.insecure_rst":
      // 0 = RFC 5961 §3 RST checks (challenge ACK unless SEG.SEQ = RCV.NXT); 1 = any
      // in-window RST resets. Read by tcp_input() per segment: live connections too.
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.rstCheck = bool ? "rfc793" : "rfc5961";
      (st.live ??= {}).rstCheck = o.rstCheck;
      return { ok: true, changed: true };
    case "net.inet.tcp.insecure_syn":
      // 0 = RFC 5961 §4 (challenge ACK for any SYN in a synchronised state); 1 = a SYN in the
      // window resets the connection. Read by tcp_input() per segment: live connections too.
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.synCheck = bool ? "rfc793" : "rfc5961";
      (st.live ??= {}).synCheck = o.synCheck;
      return { ok: true, changed: true };
    case "net.inet.tcp.drop_synfin":
      // tcp_input() drops any segment with SYN and FIN (every state since r316743): live too.
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.synFin = bool ? "drop" : "process";
      (st.live ??= {}).synFin = o.synFin;
      return { ok: true, changed: true };
    case "net.inet.tcp.udp_tunneling_port":
      return n === 0 ? { ok: true, changed: false } : unsupported(name, value, "TCP over UDP encapsulation");
    case "kern.ipc.maxsockbuf":
      if (n === undefined || n <= 0) return unsupported(name, value, "expects a size");
      o.windowScale = freebsdWscale(n);
      return { ok: true, changed: true };
    case "net.inet.tcp.recvspace":
      if (n === undefined || n <= 0) return unsupported(name, value, "expects a size");
      o.rcvBufBytes = n;
      o.synWindow = Math.min(65535, n);
      st.rcvBufBytes = n;
      return { ok: true, changed: true };

    // ---------------------------------------------------------------- Linux
    case "net.ipv4.tcp_timestamps":
      if (n === undefined || n < 0 || n > 2) return unsupported(name, value, "expects 0-2");
      o.timestamps = n !== 0;
      return { ok: true, changed: true };
    case "net.ipv4.tcp_sack":
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.sack = bool;
      return { ok: true, changed: true };
    case "net.ipv4.tcp_window_scaling":
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.windowScaling = bool;
      return { ok: true, changed: true };
    case "net.ipv4.tcp_syn_retries":
      return need(n !== undefined && n >= 1 && n <= 127) ?? ((o.synRetries = n!), { ok: true, changed: true });
    case "net.ipv4.tcp_syn_linear_timeouts":
      return need(n !== undefined && n >= 0 && n <= 10) ?? ((o.synLinearTimeouts = n!), { ok: true, changed: true });
    case "net.ipv4.tcp_ecn":
      // 0 = off, 2 = only answer ECN (server side): our client never requests it.
      return n === 0 || n === 2 ? { ok: true, changed: false } : unsupported(name, value, "ECN / AccECN is not implemented");
    case "net.ipv4.tcp_rmem":
    case "net.core.rmem_max": {
      const parts = value.trim().split(/\s+/).map(Number);
      if (parts.some((x) => !Number.isInteger(x) || x < 0) || (name === "net.ipv4.tcp_rmem" ? parts.length !== 3 : parts.length !== 1)) {
        return unsupported(name, value, name === "net.ipv4.tcp_rmem" ? "expects 'min default max'" : "expects a size");
      }
      if (name === "net.ipv4.tcp_rmem") {
        st.rmemMax = parts[2];
        o.rcvBufBytes = parts[1];
        st.rcvBufBytes = parts[1];
      } else st.coreRmemMax = parts[0];
      o.windowScale = linuxWscale(Math.max(st.rmemMax ?? 0, st.coreRmemMax ?? 0));
      return { ok: true, changed: true };
    }
    case "net.ipv4.tcp_rfc1337":
      // 1 = ignore RSTs in TIME-WAIT (RFC 1337 §3); read per segment: live connections too.
      if (bool === undefined) return unsupported(name, value, "expects 0 or 1");
      o.timeWait = bool ? "rfc1337" : "rfc9293";
      (st.live ??= {}).timeWait = o.timeWait;
      return { ok: true, changed: true };
    case "net.ipv4.tcp_mtu_probing":
    case "net.ipv4.tcp_base_mss":
      return n === 0 || name === "net.ipv4.tcp_base_mss" ? { ok: true, changed: false } : unsupported(name, value, "PLPMTUD is not implemented");
    default:
      return { ok: false, reason: `unknown sysctl ${name}` };
  }
}
