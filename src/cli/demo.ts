// `synack demo` (docs/cli.md): in a throwaway namespace, a TUN device, the kernel listening
// on IPv4 and IPv6, and a showcase of connects that succeed (with data), are refused, time
// out, are unreachable or get cancelled, under the relevant profiles. Everything shown is
// real: the kernel answers, routes of type blackhole/unreachable/prohibit make it drop or
// refuse. Without root it runs the same scenarios against the simulated peer and says so.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { diagramForFile } from "../diagram/cli.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import type { Device } from "../../device/types.js";
import { borrowDevice } from "../../device/borrow.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { Lab } from "../lab/lab.js";
import { runConnect, type ConnectResult } from "../lab/session.js";
import { SimDevice, SimPeer } from "../lab/simpeer.js";
import { resultJson, statusLine } from "./connect.js";
import { colorsFor, formatTimeline } from "./timeline.js";

interface Scenario {
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
}

// Short timeouts so the whole demo takes seconds (say so in the output).
const RTO = 200;
const RETRIES = 2;

const SCENARIOS: Scenario[] = [
  { title: "IPv4 connect, send and echo", remote: "10.99.0.1:7", local: "10.99.0.2", profile: "windows", send: "hello from synack over IPv4", expect: "STATUS_SUCCESS" },
  { title: "IPv6 connect, send and echo", remote: "[fd99::1]:7", local: "fd99::2", profile: "linux", send: "hello from synack over IPv6", expect: "STATUS_SUCCESS" },
  { title: "closed port: Windows re-sends the SYN after each RST", remote: "10.99.0.1:9", local: "10.99.0.2", profile: "windows", expect: "STATUS_CONNECTION_REFUSED" },
  { title: "closed port: Linux gives up at the first RST", remote: "10.99.0.1:9", local: "10.99.0.2", profile: "linux", expect: "STATUS_CONNECTION_REFUSED" },
  { title: "black-holed address (blackhole route): no answer", remote: "10.99.1.1:80", local: "10.99.0.2", profile: "windows", initialRtoMs: RTO, synRetries: RETRIES, expect: "STATUS_IO_TIMEOUT" },
  { title: "unreachable route, linux: ICMP host unreachable aborts", remote: "10.99.2.1:80", local: "10.99.0.2", profile: "linux", initialRtoMs: RTO, expect: "STATUS_HOST_UNREACHABLE" },
  { title: "unreachable route, windows: ICMP ignored -> timeout", remote: "10.99.2.1:80", local: "10.99.0.2", profile: "windows", initialRtoMs: RTO, synRetries: RETRIES, expect: "STATUS_IO_TIMEOUT" },
  { title: "unreachable route, windows + TCP_FAIL_CONNECT_ON_ICMP_ERROR", remote: "10.99.2.1:80", local: "10.99.0.2", profile: "windows", initialRtoMs: RTO, synRetries: RETRIES, failOnIcmp: true, expect: "STATUS_HOST_UNREACHABLE" },
  { title: "prohibit route (ICMP admin prohibited), linux", remote: "10.99.3.1:80", local: "10.99.0.2", profile: "linux", initialRtoMs: RTO, expect: "STATUS_HOST_UNREACHABLE" },
  { title: "IPv6 unreachable route (ICMPv6 no route), linux", remote: "[fd99:2::1]:80", local: "fd99::2", profile: "linux", initialRtoMs: RTO, expect: "STATUS_NETWORK_UNREACHABLE" },
  { title: "cancelled connect (IoCancelIrp after 300 ms)", remote: "10.99.1.1:80", local: "10.99.0.2", profile: "windows", cancelAfterMs: 300, expect: "STATUS_CANCELLED" },
];

export function simulatedNetwork(): SimPeer {
  return new SimPeer({
    addresses: ["10.99.0.1", "fd99::1"],
    listen: { 7: "echo" },
    blackhole: ["10.99.1.0/24"],
    unreachable: [
      { dst: "10.99.2.0/24", from: "10.99.0.1", type: 3, code: 1 },
      { dst: "10.99.3.0/24", from: "10.99.0.1", type: 3, code: 13 },
      { dst: "fd99:2::/64", from: "fd99::1", type: 1, code: 0 },
    ],
    latencyMs: 1,
  });
}

export async function demoCommand(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: { json: { type: "boolean", default: false }, pcap: { type: "string", default: "synack-demo.pcapng" }, sim: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    }).values;
  } catch (e) {
    process.stderr.write(`synack demo: ${(e as Error).message.split("\n")[0]}\n`);
    return 2;
  }
  if (v.help) {
    process.stdout.write("usage: synack demo [--json] [--pcap FILE] [--sim]\n  --sim  use the simulated peer even as root\n");
    return 0;
  }
  const c = colorsFor(process.stdout);
  const out = (s: string) => {
    if (!v.json) process.stdout.write(s + "\n");
  };
  const why = v.sim ? "--sim given" : Lab.unavailableReason();
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
  out(c.dim(`short timeouts for the demo: initial RTO ${RTO} ms and ${RETRIES} SYN retransmissions where a timeout is shown (real Windows: 3 s / 21 s)`));
  out("");

  const pcap = new PcapngWriter();
  const results: Array<{ s: Scenario; r: ConnectResult }> = [];
  try {
    for (const [i, s] of SCENARIOS.entries()) {
      const wall0 = BigInt(Date.now()) * 1_000_000n;
      const r = await runConnect({
        device: shared,
        addresses: ["10.99.0.2/24", "fd99::2/64"],
        remote: s.remote,
        local: s.local,
        profile: s.profile,
        send: s.send,
        quietMs: 300,
        initialRtoMs: s.initialRtoMs,
        synRetries: s.synRetries,
        failOnIcmp: s.failOnIcmp,
        cancelAfterMs: s.cancelAfterMs,
        gateway4: "10.99.0.1",
        gateway6: "fd99::1",
      });
      results.push({ s, r });
      const t0 = r.trace[0]?.t ?? 0;
      for (const e of r.trace) {
        if (!e.bytes) continue;
        const comment = [`[${i + 1}] ${s.title}`, e.decision, e.rule].filter(Boolean).join(" | ");
        pcap.write(wall0 + BigInt(Math.round((e.t - t0) * 1e6)), e.bytes, comment, e.kind === "out" ? "out" : "in");
      }
      out(c.bold(`[${i + 1}] ${s.title}`) + c.dim(`  (${s.remote}, profile ${s.profile})`));
      out(formatTimeline(r.segments, c, { local: r.local, remote: r.remote }));
      if (r.received !== undefined) out(`${c.dim("received:")} ${JSON.stringify(r.received)}`);
      out(statusLine(r, c));
      out("");
    }
  } finally {
    if (lab) await lab.close();
    else await realDev?.close();
  }
  pcap.open(v.pcap!);
  pcap.close();

  // Ladder diagram of every connection in the capture (synack diagram).
  let diagramPath: string | undefined = v.pcap!.replace(/\.pcapng$/, "") + ".html";
  const d = diagramForFile(v.pcap!, "html");
  if ("error" in d) diagramPath = undefined;
  else writeFileSync(diagramPath, d.text);

  const mismatches = results.filter(({ s, r }) => s.expect !== r.status);
  if (v.json) {
    process.stdout.write(
      JSON.stringify({
        mode: lab ? "kernel" : "simulated",
        namespace: lab?.ns,
        scenarios: results.map(({ s, r }) => ({ title: s.title, expected: s.expect, match: s.expect === r.status, ...resultJson(r) })),
        pcap: v.pcap,
        diagram: diagramPath,
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
    out(`capture: ${v.pcap} (open with wireshark or tshark -r; each packet's comment is the stack's decision)`);
    out(diagramPath ? `ladder diagram: ${diagramPath} (open in a browser; hover an arrow for the stack's decision)` : c.red("ladder diagram: could not be drawn"));
    if (mismatches.length > 0) out(c.red(`${mismatches.length} scenario(s) did not end as expected: ${mismatches.map(({ s }) => s.title).join("; ")}`));
  }
  return mismatches.length === 0 ? 0 : 1;
}
