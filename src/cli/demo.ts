// `synack demo`: in a throwaway namespace, a TUN device, the kernel listening on IPv4 and
// IPv6, and a showcase of connects that succeed (with data), are refused, time out, are
// unreachable or get cancelled, under the relevant profiles. Everything shown is real: the
// kernel answers, routes of type blackhole/unreachable/prohibit make it drop or refuse.
// Without root it runs the same scenarios against the simulated peer and says so.
//
// Each scenario is explained in a short paragraph (--quiet leaves them out). The capture is
// written with a sidecar NAME.json that records each connection's settings (profile,
// shortened timeouts, the ICMP option), so `synack replay` and `synack diagram` replay the
// demo's connections exactly as the demo ran them.
import { closeSync, openSync, unlinkSync, writeFileSync } from "node:fs";
import { diagramForFile } from "../diagram/cli.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import type { Device } from "../../device/types.js";
import { borrowDevice } from "../../device/borrow.js";
import { Stack } from "../../stack/stack.js";
import { Connection } from "../../stack/tcp/connection.js";
import { seededRandom } from "../../stack/random.js";
import { PROFILES, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { Lab } from "../lab/lab.js";
import { runConnect, type ConnectResult, type ConnectRun } from "../lab/session.js";
import { SIM_NET, SimDevice, simulatedNetwork } from "../lab/simpeer.js";
import { resultJson, statusLine, stepLines } from "./connect.js";
import { DEMO } from "./commands.js";
import { parseOrExit } from "./options.js";
import { colorsFor, formatTimeline, type Colors } from "./timeline.js";

export interface Scenario {
  title: string;
  remote: string;
  local: string;
  profile: ProfileName;
  send?: string;
  initialRtoMs?: number;
  synRetries?: number;
  failOnIcmp?: boolean;
  cancelAfterMs?: number;
  expect: string;
  /** What happened on the wire and what a WSK client sees, from this run's result. */
  story: (r: ConnectResult) => string;
}

// Short timeouts so the whole demo takes seconds (the output says so).
const RTO = 200;
const RETRIES = 2;
const HELLO4 = "hello from synack over IPv4";

const seconds = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const synCount = (r: ConnectResult): string => `${r.synsSent} SYN${r.synsSent === 1 ? "" : "s"}`;
const synTimes = (r: ConnectResult): string =>
  r.segments
    .filter((s) => s.kind === "tcp" && s.dir === "out" && s.flags === "S")
    .map((s) => seconds(s.t))
    .join(", ");

/**
 * When a profile's SYNs go out and when it gives up against a host that never answers,
 * worked out by the engine itself in virtual time (so the text follows the profile).
 */
export function silentHostSchedule(profile: ProfileName): { synTimes: number[]; giveUpMs: number } {
  const stack = new Stack({ addresses: ["192.0.2.2/24"], profile, random: seededRandom(1) });
  const c = stack.connect({ remote: { addr: "192.0.2.1", port: 80 }, profile }, 0);
  const times: number[] = [0];
  if (!(c instanceof Connection)) return { synTimes: times, giveUpMs: 0 };
  let giveUp = 0;
  c.events = { closed: () => undefined };
  stack.takeOutput();
  for (let guard = 0; guard < 1000 && c.state !== "CLOSED"; guard++) {
    const d = stack.nextDeadline();
    if (d === undefined) break;
    if (stack.poll(d).length > 0) times.push(d);
    giveUp = d;
  }
  return { synTimes: times, giveUpMs: giveUp };
}

export const SCENARIOS: Scenario[] = [
  {
    title: "IPv4 connect, send and echo",
    remote: "10.99.0.1:7",
    local: "10.99.0.2",
    profile: "windows",
    send: HELLO4,
    expect: "STATUS_SUCCESS",
    story: (r) =>
      `The three-way handshake: our SYN, the kernel's SYN-ACK, our ACK. WskConnect returned STATUS_PENDING at once; its IRP completed with STATUS_SUCCESS when the SYN-ACK arrived (${seconds(r.elapsedMs)}). WskSend's IRP completes once the kernel has acknowledged our ${new TextEncoder().encode(HELLO4).length} bytes; the echo comes back, WskDisconnect sends our FIN, the kernel closes too, and our side waits in TIME-WAIT.`,
  },
  {
    title: "IPv6 connect, send and echo",
    remote: "[fd99::1]:7",
    local: "fd99::2",
    profile: "linux",
    send: "hello from synack over IPv6",
    expect: "STATUS_SUCCESS",
    story: () =>
      "The same over IPv6 with the linux profile: the SYN carries Linux's options in Linux's order (MSS 1440 = 1500 minus 40 bytes of IPv6 and 20 of TCP header, SACK permitted, timestamps, window scale 7), so the capture looks like a Linux client's. Linux acknowledges the echo at once (quick ACKs at the start of a connection), where the windows profile in [1] waited for its delayed-ACK timer.",
  },
  {
    title: "closed port: Windows re-sends the SYN after each RST",
    remote: "10.99.0.1:9",
    local: "10.99.0.2",
    profile: "windows",
    expect: "STATUS_CONNECTION_REFUSED",
    story: (r) =>
      `Nothing listens on port 9, so the kernel answers the SYN with RST. Windows does not believe the first RST: it sends the same SYN again ${PROFILES.windows.rstRetryDelayMs} ms after each RST (a server may be restarting its listener), as many times as it would retransmit a SYN, and only then completes the IRP with STATUS_CONNECTION_REFUSED: here ${synCount(r)}, ${seconds(r.elapsedMs)} after WskConnect. Winsock reports the same as WSAECONNREFUSED.`,
  },
  {
    title: "closed port: Linux gives up at the first RST",
    remote: "10.99.0.1:9",
    local: "10.99.0.2",
    profile: "linux",
    expect: "STATUS_CONNECTION_REFUSED",
    story: (r) => `The same closed port under the linux profile: Linux gives up at the first RST, so the connect fails ${seconds(r.elapsedMs)} after it started, with ${synCount(r)}.`,
  },
  {
    title: "black-holed address (blackhole route): no answer",
    remote: "10.99.1.1:80",
    local: "10.99.0.2",
    profile: "windows",
    initialRtoMs: RTO,
    synRetries: RETRIES,
    expect: "STATUS_IO_TIMEOUT",
    story: (r) => {
      const w = silentHostSchedule("windows");
      const lastSyn = w.synTimes.at(-1) ?? 0;
      const cut = PROFILES.windows.synGiveUpMs > 0 && w.giveUpMs === PROFILES.windows.synGiveUpMs ? `, ${seconds(w.giveUpMs - lastSyn)} after the last SYN: Windows ends the attempt ${seconds(w.giveUpMs)} after the first SYN rather than doubling the last wait` : "";
      return `The blackhole route drops every packet: nothing ever comes back. Each time the retransmission timer expires (T) the stack sends the SYN again and doubles the wait (SYNs at ${synTimes(r)}); when the last wait ends, the IRP completes with STATUS_IO_TIMEOUT after ${seconds(r.elapsedMs)}. The demo shortened the timer with SIO_TCP_INITIAL_RTO; with the windows profile's defaults the SYNs go out at ${w.synTimes.map(seconds).join(", ")} and the connect gives up after ${seconds(w.giveUpMs)}${cut}.`;
    },
  },
  {
    title: "unreachable route, linux: ICMP host unreachable aborts",
    remote: "10.99.2.1:80",
    local: "10.99.0.2",
    profile: "linux",
    initialRtoMs: RTO,
    expect: "STATUS_HOST_UNREACHABLE",
    story: () =>
      "The kernel, acting as a router, has an unreachable route for 10.99.2.0/24 and answers our SYN with an ICMP error (type 3 destination unreachable, code 1 host unreachable). Linux aborts a connect on it at once: STATUS_HOST_UNREACHABLE (Winsock: WSAEHOSTUNREACH).",
  },
  {
    title: "unreachable route, windows: ICMP ignored -> timeout",
    remote: "10.99.2.1:80",
    local: "10.99.0.2",
    profile: "windows",
    initialRtoMs: RTO,
    synRetries: RETRIES,
    expect: "STATUS_IO_TIMEOUT",
    story: (r) =>
      `The same route under the windows profile: Windows ignores ICMP errors while it is connecting (an ICMP error is easy to forge), so every SYN draws an ICMP error and the connect still runs to its timeout: STATUS_IO_TIMEOUT after ${seconds(r.elapsedMs)}, not host unreachable.`,
  },
  {
    title: "unreachable route, windows + TCP_FAIL_CONNECT_ON_ICMP_ERROR",
    remote: "10.99.2.1:80",
    local: "10.99.0.2",
    profile: "windows",
    initialRtoMs: RTO,
    synRetries: RETRIES,
    failOnIcmp: true,
    expect: "STATUS_HOST_UNREACHABLE",
    story: () =>
      "A Windows driver that wants to know sets the socket option TCP_FAIL_CONNECT_ON_ICMP_ERROR before connecting: the first ICMP error then fails the connect at once with STATUS_HOST_UNREACHABLE.",
  },
  {
    title: "prohibit route (ICMP admin prohibited), linux",
    remote: "10.99.3.1:80",
    local: "10.99.0.2",
    profile: "linux",
    initialRtoMs: RTO,
    expect: "STATUS_HOST_UNREACHABLE",
    story: () =>
      "A prohibit route answers like a firewall: ICMP type 3 code 13, communication administratively prohibited. Linux treats it as a hard error too, so the connect fails with STATUS_HOST_UNREACHABLE.",
  },
  {
    title: "IPv6 unreachable route (ICMPv6 no route), linux",
    remote: "[fd99:2::1]:80",
    local: "fd99::2",
    profile: "linux",
    initialRtoMs: RTO,
    expect: "STATUS_NETWORK_UNREACHABLE",
    story: () => "The IPv6 counterpart: ICMPv6 type 1 code 0, no route to destination, which says the network (not just the host) cannot be reached: STATUS_NETWORK_UNREACHABLE (Winsock: WSAENETUNREACH).",
  },
  {
    title: "cancelled connect (IoCancelIrp after 300 ms)",
    remote: "10.99.1.1:80",
    local: "10.99.0.2",
    profile: "windows",
    cancelAfterMs: 300,
    expect: "STATUS_CANCELLED",
    story: (r) =>
      `A driver does not have to wait for the timeout: after 300 ms it calls IoCancelIrp on the connect's IRP. The stack deletes the half-open connection without sending anything (there is nothing to reset before the peer has answered) and the IRP completes with STATUS_CANCELLED after ${seconds(r.elapsedMs)}.`,
  },
];

/** Printed once before the scenarios: the terms the paragraphs use. */
const GLOSSARY = [
  "How to read this. synack plays a Windows kernel driver that opens TCP connections through WSK (Winsock Kernel, the socket interface of Windows drivers). Each request travels in an IRP (I/O request packet): WskConnect returns STATUS_PENDING at once and completes its IRP later with an NTSTATUS, the 32-bit result code of Windows kernel calls (0x00000000 is STATUS_SUCCESS; 0xC... codes are errors). A driver that stops waiting cancels the IRP with IoCancelIrp.",
  "Each row of a timeline is a packet (--> sent by the stack, <-- received), a timer that expired (T), or a call of the application; the stack's notes follow the #. Flags: S SYN, . ACK, P push, F FIN, R RST; seq and ack count from each side's initial sequence number.",
];

/** Wraps a paragraph to `width` columns with an indent. */
export function wrap(text: string, width = 100, indent = "  "): string {
  const out: string[] = [];
  let line = "";
  for (const w of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + w.length > width) {
      out.push(indent + line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(indent + line);
  return out.join("\n");
}

export { simulatedNetwork };

/** How the demo runs a scenario's connect on `device` (the lab's TUN or the simulated peer). */
export function scenarioRun(s: Scenario, device: Device): ConnectRun {
  return {
    device,
    addresses: [...SIM_NET.stackAddresses],
    remote: s.remote,
    local: s.local,
    profile: s.profile,
    send: s.send,
    quietMs: 300,
    initialRtoMs: s.initialRtoMs,
    synRetries: s.synRetries,
    failOnIcmp: s.failOnIcmp,
    cancelAfterMs: s.cancelAfterMs,
    gateway4: SIM_NET.host4,
    gateway6: SIM_NET.host6,
  };
}

/** The profile knobs a scenario set through WSK (SIO_TCP_INITIAL_RTO, the ICMP option). */
export function scenarioOverrides(s: Scenario): ProfileOverrides {
  const o: ProfileOverrides = {};
  if (s.initialRtoMs !== undefined) o.initialRtoMs = s.initialRtoMs;
  if (s.synRetries !== undefined) o.synRetries = s.synRetries;
  if (s.failOnIcmp) o.failConnectOnIcmpError = true;
  return o;
}

/** The files the demo writes beside each other. */
export function demoPaths(pcap: string): { pcap: string; html: string; sidecar: string } {
  const base = pcap.replace(/\.(pcapng|pcap|cap)$/i, "");
  return { pcap, html: `${base}.html`, sidecar: `${base}.json` };
}

/** Fails early (before any scenario runs) when a file cannot be written. */
function checkWritable(path: string): string | undefined {
  let existed = true;
  try {
    closeSync(openSync(path, "r"));
  } catch {
    existed = false;
  }
  try {
    closeSync(openSync(path, "a"));
    if (!existed) unlinkSync(path);
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "its folder does not exist" : err.code === "EACCES" ? "permission denied" : err.code === "EISDIR" ? "it is a folder" : (err.message.split("\n")[0] ?? "");
    return `cannot write ${path}: ${why}`;
  }
}

export async function demoCommand(argv: string[]): Promise<number> {
  const p = parseOrExit(DEMO, argv);
  if (typeof p === "number") return p;
  const json = p.flag("json");
  const quiet = p.flag("quiet");
  const paths = demoPaths(p.string("pcap") ?? "synack-demo.pcapng");
  for (const f of [paths.pcap, paths.html, paths.sidecar]) {
    const bad = checkWritable(f);
    if (bad) {
      process.stderr.write(`synack demo: ${bad}\n`);
      return 2;
    }
  }
  const c = colorsFor(process.stdout);
  const out = (s: string) => {
    if (!json) process.stdout.write(s + "\n");
  };
  const why = p.flag("sim") ? "--sim given" : Lab.unavailableReason();
  let lab: Lab | undefined;
  let shared: Device;
  let realDev: Device | undefined;
  if (why === undefined) {
    try {
      lab = await Lab.create({
        listen: [7],
        routes: [
          ["blackhole", "10.99.1.0/24"],
          ["unreachable", "10.99.2.0/24"],
          ["prohibit", "10.99.3.0/24"],
          ["unreachable", "fd99:2::/64"],
        ],
        delayMs: 1,
      });
    } catch (e) {
      process.stderr.write(`synack demo: cannot set up the lab: ${(e as Error).message.split("\n")[0]}\n`);
      return 2;
    }
    realDev = lab.tun;
    shared = borrowDevice(lab.tun);
    out(c.bold(`synack demo: the real Linux kernel over a TUN device, in namespace ${lab.ns}`));
    out(c.dim(`kernel: 10.99.0.1/24 and fd99::1/64 on syn0, echo listener on port 7; stack: 10.99.0.2 and fd99::2`));
    out(c.dim(`routes in the namespace: blackhole 10.99.1.0/24, unreachable 10.99.2.0/24, prohibit 10.99.3.0/24, unreachable fd99:2::/64`));
  } else {
    const sim = new SimDevice(simulatedNetwork());
    realDev = sim;
    shared = borrowDevice(sim);
    out(c.bold(c.yellow(`synack demo: SIMULATED peer (no real network: ${why})`)));
    out(c.dim("the in-process simulated host answers like the kernel lab would; run as root for the real kernel"));
  }
  const w = silentHostSchedule("windows");
  out(c.dim(`short timeouts where a timeout is shown: initial RTO ${RTO} ms and ${RETRIES} SYN retransmissions (the windows profile's defaults: ${PROFILES.windows.initialRtoMs} ms and ${PROFILES.windows.synRetries}, giving up after ${seconds(w.giveUpMs)})`));
  out("");
  if (!quiet) {
    for (const g of GLOSSARY) out(wrap(g, 100, ""));
    out("");
  }

  const pcap = new PcapngWriter();
  const results: Array<{ s: Scenario; r: ConnectResult }> = [];
  try {
    for (const [i, s] of SCENARIOS.entries()) {
      const wall0 = BigInt(Date.now()) * 1_000_000n;
      const r = await runConnect(scenarioRun(s, shared));
      results.push({ s, r });
      const t0 = r.trace[0]?.t ?? 0;
      for (const e of r.trace) {
        if (!e.bytes) continue;
        const comment = [`[${i + 1}] ${s.title}`, e.decision, e.rule].filter(Boolean).join(" | ");
        pcap.write(wall0 + BigInt(Math.round((e.t - t0) * 1e6)), e.bytes, comment, e.kind === "out" ? "out" : "in");
      }
      out(c.bold(`[${i + 1}] ${s.title}`) + c.dim(`  (${s.remote}, profile ${s.profile})`));
      out(formatTimeline(r.segments, c));
      if (r.received !== undefined) out(`${c.dim("received:")} ${JSON.stringify(r.received)}`);
      out(statusLine(r, c));
      for (const l of stepLines(r, c)) out(l);
      if (!quiet) out(explain(s, r, c));
      out("");
    }
  } finally {
    if (lab) await lab.close();
    else await realDev?.close();
  }
  pcap.open(paths.pcap);
  pcap.close();
  writeFileSync(paths.sidecar, JSON.stringify(sidecar(results, lab ? "kernel" : "simulated"), null, 1) + "\n");

  // Ladder diagram of every connection in the capture (synack diagram), replayed with the
  // settings of the sidecar just written.
  let diagramPath: string | undefined = paths.html;
  const d = diagramForFile(paths.pcap, "html");
  if ("error" in d) diagramPath = undefined;
  else writeFileSync(paths.html, d.text);

  const mismatches = results.filter(({ s, r }) => s.expect !== r.status);
  if (json) {
    process.stdout.write(
      JSON.stringify({
        mode: lab ? "kernel" : "simulated",
        namespace: lab?.ns,
        scenarios: results.map(({ s, r }) => ({ title: s.title, expected: s.expect, match: s.expect === r.status, ...resultJson(r), explanation: s.expect === r.status ? s.story(r) : undefined })),
        pcap: paths.pcap,
        sidecar: paths.sidecar,
        diagram: diagramPath,
        diagramDifferences: "error" in d ? undefined : d.unexplained,
      }) + "\n",
    );
  } else {
    out(c.bold("Summary"));
    out(c.dim(` #  ${"scenario".padEnd(62)} ${"profile".padEnd(8)} ${"NTSTATUS".padEnd(40)} ${"ms".padStart(7)}`));
    for (const [i, { s, r }] of results.entries()) {
      const st = `${r.status} (${r.ntstatus})`;
      const ok = s.expect === r.status;
      out(`${String(i + 1).padStart(2)}  ${s.title.padEnd(62)} ${s.profile.padEnd(8)} ${(ok ? c.green : c.red)(st.padEnd(40))} ${String(r.elapsedMs).padStart(7)}`);
    }
    out("");
    out(`capture: ${paths.pcap} (open with wireshark or tshark -r; each packet's comment is the stack's decision)`);
    out(`settings: ${paths.sidecar} (each connection's profile and options, read by synack replay and synack diagram)`);
    out(diagramPath ? `ladder diagram: ${diagramPath} (open in a browser; click an arrow or a note number for the stack's decisions)` : c.red(`ladder diagram: could not be drawn${"error" in d ? `: ${d.error}` : ""}`));
    if (!("error" in d) && d.unexplained > 0) out(c.red(`the diagram's replay differs from the demo's own run in ${d.unexplained} connection(s): a bug, please report it`));
    if (mismatches.length > 0) out(c.red(`${mismatches.length} scenario(s) did not end as expected: ${mismatches.map(({ s }) => s.title).join("; ")}`));
  }
  return mismatches.length === 0 ? 0 : 1;
}

/** The paragraph under a scenario; a warning instead when the run did not go as designed. */
function explain(s: Scenario, r: ConnectResult, c: Colors): string {
  if (s.expect !== r.status) return c.red(wrap(`expected ${s.expect}, got ${r.status}: the usual explanation of this scenario does not apply to this run.`));
  return wrap(s.story(r));
}

/** The sidecar: per connection, the settings the demo gave the stack (docs/replay.md). */
function sidecar(results: Array<{ s: Scenario; r: ConnectResult }>, mode: string): unknown {
  return {
    description: `synack demo (${mode}): each connection's profile and the knobs the demo set through WSK, for synack replay and synack diagram`,
    connections: results.map(({ s, r }) => ({
      client: r.local,
      server: r.remote,
      title: s.title,
      profile: s.profile,
      overrides: scenarioOverrides(s),
      ...(s.cancelAfterMs !== undefined ? { cancelAfterMs: s.cancelAfterMs } : {}),
      // Recorded in real time: a timer may fire late while the machine is busy.
      timerSlackMs: 100,
    })),
  };
}
