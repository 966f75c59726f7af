// The option table of every subcommand (parsing and --help come from these), kept apart
// from the commands themselves so `synack --help` and `synack X --help` never load a
// subcommand's code. A new subcommand adds its table here and its loader in main.ts.
import type { CommandSpec } from "./options.js";

const PROFILES = "windows|windows7|linux|freebsd|rfc";

const EXIT_CONNECT = "exit codes: 0 the connect, the data and the close all succeeded; 1 one of them failed (the lines above say which); 2 usage or setup error";

export const CONNECT: CommandSpec = {
  name: "connect",
  args: "HOST:PORT",
  synopsis: "(--dev NAME --local ADDR | --raw IFNAME --local ADDR | --lab [--lab-peer KIND] | --sim)",
  summary: "One active open through the WSK facade (WskSocket, WskBind, WskConnect): prints each segment with the stack's decision, then the NTSTATUS the connect's IRP completed with.",
  brief: "One WskConnect: each segment with the stack's decision, then the NTSTATUS",
  positionals: { min: 1, max: 1, what: "HOST:PORT" },
  options: [
    { name: "dev", value: "NAME", help: "attach to (or create) the TUN device NAME; the kernel is the peer" },
    { name: "raw", value: "IFNAME", help: "use a raw IPv4 socket on IFNAME (installs and removes the RST filter; docs/devices.md)" },
    { name: "lab", help: "a throwaway namespace with a TUN and a kernel echo listener at HOST:PORT (root)" },
    { name: "lab-peer", value: "KIND", help: "with --lab, what is at HOST:PORT: echo (default), closed (the kernel, nothing listening), blackhole, unreachable, prohibit (a kernel route)" },
    { name: "sim", help: "the in-process simulated peer (no root, not a real network), listening on PORT; the stack is 10.99.0.2 / fd99::2" },
    { name: "local", value: "ADDR", help: "the stack's own address (needed with --dev and --raw; same family as HOST)" },
    { name: "profile", value: "P", help: `behaviour profile: ${PROFILES} (default windows)` },
    { name: "syn-retries", value: "N", help: "SYN retransmissions before giving up, 0-250 (SIO_TCP_INITIAL_RTO MaxSynRetransmissions; 0 = none; windows and windows7: at most 8)" },
    { name: "initial-rto", value: "MS", help: "initial retransmission timeout in ms, 1-65534 (SIO_TCP_INITIAL_RTO Rtt)" },
    { name: "fail-on-icmp", help: "TCP_FAIL_CONNECT_ON_ICMP_ERROR: an ICMP error fails the connect at once" },
    { name: "cancel-after", value: "MS", help: "cancel the connect's IRP (IoCancelIrp) after MS ms" },
    { name: "send", value: "TEXT", help: "send TEXT once connected (escapes \\r \\n \\t \\0 \\\\ \\xHH), print the answer, then close" },
    { name: "pcap", value: "FILE", help: "write the packets to a pcapng FILE, each with the stack's decision as its comment" },
    { name: "json", help: "print one JSON object instead of the timeline" },
  ],
  notes: [
    "HOST is an IPv4 or IPv6 address (10.0.0.1:80, [fd00::1]:80); names are not resolved.",
    "Without --send a successful connect is closed gracefully (WskDisconnect: FIN).",
    EXIT_CONNECT,
  ],
};

export const LISTEN: CommandSpec = {
  name: "listen",
  args: "PORT",
  synopsis: "(--dev NAME --local ADDR | --lab | --sim)",
  summary: "The stack listens (WskSocket with WSK_FLAG_LISTEN_SOCKET, WskBind, WskAcceptEvent) and the kernel, curl or nc connect to it; each connection is served and its segments printed when it ends.",
  brief: "The stack listens; the kernel, curl or nc connect to it",
  positionals: { min: 1, max: 1, what: "PORT" },
  options: [
    { name: "dev", value: "NAME", help: "listen on the TUN device NAME (created if needed); give its kernel side an address in the same subnet" },
    { name: "lab", help: "a throwaway namespace whose kernel connects to the stack at 10.99.0.2 and fd99::2; prints the command to run (root)" },
    { name: "sim", help: "a simulated client (a second synack stack in-process at 10.99.0.1, not a real network) connects to the stack at 10.99.0.2 --count times (default 1)" },
    { name: "local", value: "ADDR", help: "the stack's own address (needed with --dev)" },
    { name: "profile", value: "P", help: `behaviour profile of the accepted connections: ${PROFILES} (default windows)` },
    { name: "echo", help: "send back what each connection sends" },
    { name: "serve", value: "FILE", help: "answer each connection's first request with FILE (an HTTP request gets HTTP/1.1 200), then close" },
    { name: "count", value: "N", help: "stop after N connections have ended (default: until Ctrl-C)" },
    { name: "json", help: "one JSON object per line: the listening addresses, then one per connection with its segments" },
  ],
  notes: [
    "Without --echo or --serve, what arrives is read and discarded; the stack closes after the client did.",
    "exit codes: 0 after --count connections (or the simulated clients) ended; 1 could not listen (the port is in use); 2 usage or setup error; Ctrl-C: 130",
  ],
};

export const DEMO: CommandSpec = {
  name: "demo",
  args: "",
  summary: "The showcase: connects that succeed, are refused, time out, are unreachable or get cancelled, each explained; as root against the real Linux kernel in a throwaway namespace, otherwise against the simulated peer.",
  brief: "The showcase: connects that succeed, fail in each way or are cancelled, explained",
  positionals: { min: 0, max: 0, what: "arguments" },
  options: [
    { name: "quiet", short: "q", help: "no explanations: only the timelines, the statuses and the summary" },
    { name: "sim", help: "use the simulated peer even as root" },
    { name: "pcap", value: "FILE", help: "where to write the capture (default synack-demo.pcapng; the diagram and settings go beside it)" },
    { name: "json", help: "print one JSON object instead of the text" },
  ],
  notes: ["exit codes: 0 every scenario ended with its expected NTSTATUS; 1 one did not; 2 usage or setup error"],
};

export const REPLAY: CommandSpec = {
  name: "replay",
  args: "CAPTURE...",
  summary: "Replays every TCP active open of pcap/pcapng captures against the stack in virtual time and compares what the stack sends with what the recorded client sent (docs/replay.md).",
  brief: "Replays the active opens of captures against the stack and compares",
  positionals: { min: 1, max: Infinity, what: "capture (a pcap or pcapng file)" },
  options: [
    { name: "profile", value: "P", help: `replay with this profile (${PROFILES}); default: inferred from each recorded SYN` },
    { name: "strict", help: "also use the recorded ISN, SYN options and window, and compare windows, options and timestamps" },
    { name: "syn-retries", value: "N", help: "the recorded client's SYN retransmission count, 0-250 (0 = one SYN, a RST refuses at once), for every connection" },
    { name: "initial-rto", value: "MS", help: "the recorded client's initial retransmission timeout in ms, 1-65534, for every connection" },
    { name: "summary", help: "one line per capture and per differing connection, then the totals" },
    { name: "json", help: "print the result as one JSON document" },
  ],
  notes: [
    "A capture's sidecar NAME.json (beside NAME.pcap) may give overrides for the whole file or per connection (docs/replay.md); --syn-retries and --initial-rto win over it.",
    "exit codes: 0 every connection matched; 1 one differs or a capture could not be read (the others are still replayed); 2 usage error",
  ],
};

export const DIAGRAM: CommandSpec = {
  name: "diagram",
  args: "CAPTURE",
  synopsis: "-o OUT.html|OUT.svg",
  summary: "Ladder diagrams of each TCP active open of a capture: the recorded exchange and the stack's replay side by side, row by row, with the stack's decisions as numbered notes.",
  brief: "Ladder diagrams of a capture's active opens, recorded and replayed side by side",
  positionals: { min: 1, max: 1, what: "capture (a pcap or pcapng file)" },
  options: [
    { name: "output", short: "o", value: "OUT", help: "required: the file to write, OUT.html (a page with notes that expand on click, prints) or OUT.svg" },
    { name: "profile", value: "P", help: `replay with this profile (${PROFILES}); default: inferred from each recorded SYN` },
    { name: "strict", help: "replay with the recorded ISN, SYN options and window (as replay --strict)" },
    { name: "compact", help: "even row spacing instead of time-proportional spacing" },
    { name: "only", value: "N[,N]", help: "draw only these connections (1 = the first active open of the capture)" },
  ],
  notes: ["exit codes: 0 written; 2 usage error or a capture that cannot be read"],
};

export const CONFORMANCE: CommandSpec = {
  name: "conformance",
  args: "PATH...",
  summary: "Runs packetdrill scripts (files or folders of .pkt) through the WSK facade in virtual time (docs/conformance.md).",
  brief: "Runs packetdrill scripts through the WSK facade in virtual time",
  positionals: { min: 1, max: Infinity, what: "script or folder" },
  options: [
    { name: "profile", value: "P", help: `run under this profile (${PROFILES}); default: the one the script's suite models` },
    { name: "ip", value: "4|6|both", help: "which address family to run each script in (default both)" },
    { name: "summary", help: "only the failures, one line each, then the totals" },
    { name: "json", help: "print the report as JSON" },
    { name: "markdown", help: "print the report as a Markdown table (docs/conformance.md is made this way)" },
  ],
  notes: ["exit codes: 0 nothing failed; 1 a script failed; 2 usage error"],
};

export const BENCH: CommandSpec = {
  name: "bench",
  args: "",
  summary: "The benchmarks of BENCHMARKS.md, measured on this machine (progress on stderr, the report on stdout).",
  brief: "The benchmarks of BENCHMARKS.md, measured on this machine",
  positionals: { min: 0, max: 0, what: "arguments" },
  options: [
    { name: "quick", help: "small sizes: a quick check, the numbers are indicative only" },
    { name: "runs", value: "N", help: "runs per benchmark (min / median / max are reported)" },
    { name: "only", value: "NAME[,NAME]", help: "run only these benchmarks (names or section numbers)" },
    { name: "seconds", value: "S", help: "seconds per variant of the connects benchmark (whole seconds, default 3)" },
    { name: "peers", value: "lwip,gvisor|none", help: "peer stacks run beside synack in the connects benchmark (default: those present in ../shared/peers)" },
    { name: "json", help: "print the report as JSON" },
  ],
  notes: ["exit codes: 0 every selected benchmark ran (or was skipped for a missing prerequisite); 1 one failed; 2 usage error"],
};

/** In the order `synack --help` lists them. */
export const COMMAND_SPECS: readonly CommandSpec[] = [DEMO, CONNECT, LISTEN, REPLAY, DIAGRAM, CONFORMANCE, BENCH];
