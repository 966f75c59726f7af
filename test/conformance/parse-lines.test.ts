// Exact syntax trees for representative packetdrill lines (texts taken from the
// public suites, docs/conformance-runner.md), and the parser's specific errors.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseScript, resolveIcmp } from "../../src/conformance/parse.js";
import { formatEvent } from "../../src/conformance/format.js";
import type { Event, TcpFlagBits } from "../../src/conformance/ast.js";

function one(line: string, header = ""): Event {
  const r = parseScript(header + line + "\n", "t.pkt");
  if (!r.ok) throw new Error(`parse failed: ${r.error} (line ${r.line})`);
  expect(r.script.events).toHaveLength(1);
  return r.script.events[0]!;
}

function err(text: string): { error: string; line: number } {
  const r = parseScript(text, "t.pkt");
  if (r.ok) throw new Error("expected a parse error");
  return { error: r.error, line: r.line };
}

const noFlags: TcpFlagBits = {
  syn: false, ack: false, fin: false, rst: false, psh: false, urg: false, ece: false, cwr: false, ae: false,
};
const bits = (b: Partial<TcpFlagBits>): TcpFlagBits => ({ ...noFlags, ...b });

describe("TCP packet lines", () => {
  it("Linux SYN with option list", () => {
    expect(one("+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>")).toEqual({
      type: "packet",
      line: 1,
      time: { kind: "relative", value: 0, usecs: 0 },
      direction: "out",
      tcp: {
        flags: "S",
        flagBits: bits({ syn: true }),
        seqStart: 0,
        seqEnd: 0,
        payloadLen: 0,
        seqAbsolute: false,
        options: [
          { kind: "mss", value: 1460 },
          { kind: "sackOK" },
          { kind: "ts", val: 100, ecr: 0 },
          { kind: "nop" },
          { kind: "wscale", shift: 8 },
        ],
      },
    });
  });

  it("FreeBSD SYN with win (snd-syn, extra spaces as in the suite)", () => {
    const ev = one("+0.00 > S  0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val  100 ecr 0>");
    expect(ev).toMatchObject({
      type: "packet",
      time: { kind: "relative", value: 0, usecs: 0 },
      direction: "out",
      tcp: {
        flags: "S",
        seqStart: 0,
        win: 65535,
        options: [
          { kind: "mss", value: 1460 },
          { kind: "nop" },
          { kind: "wscale", shift: 6 },
          { kind: "sackOK" },
          { kind: "ts", val: 100, ecr: 0 },
        ],
      },
    });
    expect(ev.type === "packet" && ev.tcp.ack).toBeUndefined();
    expect(ev.type === "packet" && ev.tcp.noOptions).toBeUndefined();
  });

  it("inbound SYN-ACK and bare ACK without options", () => {
    const synack = one("+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,nop,nop,sackOK>");
    expect(synack).toMatchObject({
      direction: "in",
      time: { kind: "relative", value: 0.1, usecs: 100000 },
      tcp: { flags: "S.", flagBits: bits({ syn: true, ack: true }), ack: 1, win: 5792 },
    });
    const ack = one("   +0 > . 1:1(0) ack 1");
    expect(ack).toEqual({
      type: "packet",
      line: 1,
      time: { kind: "relative", value: 0, usecs: 0 },
      direction: "out",
      tcp: {
        flags: ".",
        flagBits: bits({ ack: true }),
        seqStart: 1,
        seqEnd: 1,
        payloadLen: 0,
        seqAbsolute: false,
        ack: 1,
        options: [],
        noOptions: true,
      },
    });
  });

  it("<...> means options are not checked", () => {
    expect(one("+0 > S 0:0(0) <...>")).toMatchObject({ tcp: { options: "any" } });
    expect(one("* > S 0:0(0) win 65535 <...>")).toMatchObject({ time: { kind: "any" }, tcp: { options: "any" } });
  });

  it("RST forms: R with win 0, R. with ack, FreeBSD 'F  .' spacing", () => {
    expect(one("+0.00 > R 0:0(0) win 0")).toMatchObject({
      tcp: { flags: "R", flagBits: bits({ rst: true }), win: 0, noOptions: true },
    });
    expect(one("+.1 < R. 1:1(0) ack 1 win 32767")).toMatchObject({
      tcp: { flags: "R.", flagBits: bits({ rst: true, ack: true }), ack: 1, win: 32767 },
    });
    expect(one("+0.00 < F  . 1:1(0)     ack 101 win 65535")).toMatchObject({
      tcp: { flags: "F.", flagBits: bits({ fin: true, ack: true }), ack: 101 },
    });
    expect(one("+0 < - 1:1(0) win 100")).toMatchObject({ tcp: { flags: "-", flagBits: noFlags } });
  });

  it("nplab absolute sequence numbers (!) and UDP encapsulation", () => {
    expect(one("+0.00 > R. 0:0(0)! ack 1 win 0/udp(9811 > 2)")).toMatchObject({
      tcp: { flags: "R.", seqStart: 0, seqAbsolute: true, ack: 1, win: 0, noOptions: true },
      udpEncap: { srcPort: 9811, dstPort: 2 },
    });
    expect(one("+0 < . 1:1(0) ack 1 win 100 <nop,nop,TS val 5 ecr 7!>")).toMatchObject({
      tcp: { seqAbsolute: false, options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 5, ecr: 7, ecrAbsolute: true }] },
    });
  });

  it("sequence numbers near 2^32 and data ranges", () => {
    expect(one("+0 < P. 4294967290:4294967295(5) ack 1 win 10")).toMatchObject({
      tcp: { seqStart: 4294967290, seqEnd: 4294967295, payloadLen: 5 },
    });
    expect(one("+0 > P. 1:1001(1000) ack 1")).toMatchObject({ tcp: { seqStart: 1, seqEnd: 1001, payloadLen: 1000 } });
  });

  it("ECN / AccECN: IP marks, E W A flags, ACE digits, ECN option", () => {
    expect(one("+.002 > SEWA 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>")).toMatchObject({
      tcp: { flags: "SEWA", flagBits: bits({ syn: true, ece: true, cwr: true, ae: true }) },
    });
    expect(one("+0 > [ect0] P.6 1:1(0) ack 1")).toMatchObject({
      ipInfo: { ecn: "ect0" },
      tcp: { flags: "P.6", flagBits: bits({ psh: true, ack: true }), ace: 6 },
    });
    expect(one("+0 > [ect0] F5. 1001:1001(0) ack 1")).toMatchObject({
      tcp: { flags: "F5.", flagBits: bits({ fin: true, ack: true }), ace: 5 },
    });
    expect(one("+0 < [ect0] .5 1:1(0) ack 1 win 264 <ECN e1b 1 ceb 0 e0b 977,nop,nop,nop,sack 2025:3001>")).toMatchObject({
      tcp: {
        flags: ".5",
        ace: 5,
        options: [
          { kind: "accecn", fields: [{ name: "e1b", value: 1 }, { name: "ceb", value: 0 }, { name: "e0b", value: 977 }] },
          { kind: "nop" },
          { kind: "nop" },
          { kind: "nop" },
          { kind: "sack", blocks: [[2025, 3001]] },
        ],
      },
    });
  });

  it("nplab IP info in parentheses", () => {
    expect(one("+0.00 > (tos 0x20) . 1:1(0) ack 1 win 65535")).toMatchObject({ ipInfo: { tos: 0x20 } });
    expect(one("+0.00 < (hlim 4) S 0:0(0) win 1 <mss 1440,sackOK,eol,eol>")).toMatchObject({
      ipInfo: { ttl: 4 },
      tcp: { options: [{ kind: "mss", value: 1440 }, { kind: "sackOK" }, { kind: "eol" }, { kind: "eol" }] },
    });
  });

  it("TFO and MD5 options are kept and marked unsupported", () => {
    expect(one("+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO abcd1234,nop,nop>")).toMatchObject({
      tcp: { options: [{}, {}, {}, {}, {}, {}, { kind: "fastopen", cookie: "abcd1234", experimental: false, unsupported: true }, {}, {}] },
    });
    expect(one("+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FOEXP>")).toMatchObject({
      tcp: { options: [{}, {}, {}, {}, {}, {}, { kind: "fastopen", cookie: "", experimental: true }] },
    });
    expect(one("+0 < . 1:1(0) ack 1 win 1 <nop,nop,md5 valid>")).toMatchObject({
      tcp: { options: [{ kind: "nop" }, { kind: "nop" }, { kind: "md5", value: "valid", unsupported: true }] },
    });
    const r = parseScript("+0 > S 0:0(0) <mss 1460,FO>\n");
    expect(r.ok && r.script.features).toEqual(["fastopen"]);
  });

  it("unknown options are kept as text", () => {
    expect(one("+0 > S 0:0(0) <mss 1460,exp_thing 7 9>")).toMatchObject({
      tcp: { options: [{ kind: "mss", value: 1460 }, { kind: "unknown", text: "exp_thing 7 9" }] },
    });
  });
});

describe("time column", () => {
  it("absolute, relative and exact microseconds", () => {
    expect(one("0.100 > S 0:0(0) <...>").time).toEqual({ kind: "absolute", value: 0.1, usecs: 100000 });
    expect(one("+ 0.00 close(3) = 0").time).toEqual({ kind: "relative", value: 0, usecs: 0 });
    expect(one("+.3 close(3) = 0").time).toEqual({ kind: "relative", value: 0.3, usecs: 300000 });
    expect(one("2.2 close(3) = 0").time).toEqual({ kind: "absolute", value: 2.2, usecs: 2200000 });
  });

  it("time windows +a~+b and a~b", () => {
    expect(one("+0~+0.040 > . 1:1(0) ack 1").time).toEqual({
      kind: "relative", value: 0, usecs: 0, end: { value: 0.04, usecs: 40000 },
    });
    expect(one("+.02 ~ +1.1 > S 0:0(0) <...>").time).toEqual({
      kind: "relative", value: 0.02, usecs: 20000, end: { value: 1.1, usecs: 1100000 },
    });
    expect(one("0.1~0.2 > S 0:0(0) <...>").time).toEqual({
      kind: "absolute", value: 0.1, usecs: 100000, end: { value: 0.2, usecs: 200000 },
    });
  });

  it("rejects windows and * where packetdrill does", () => {
    expect(err("+0~+1 connect(3, ..., ...) = 0\n")).toEqual({
      error: "event time range can only be used with outbound packets", line: 1,
    });
    expect(err("* < S 0:0(0) win 1\n").error).toBe("event time * can only be used with outbound packets");
    expect(err("+1~+0.5 > S 0:0(0) <...>\n").error).toBe("time range is backwards");
    expect(err("+1~2 > S 0:0(0) <...>\n").error).toMatch(/relative time range must be written \+a~\+b/);
  });
});

describe("syscall lines", () => {
  it("blocking connect with absolute times", () => {
    expect(one("0.100...0.200 connect(3, ..., ...) = 0")).toEqual({
      type: "syscall",
      line: 1,
      time: { kind: "absolute", value: 0.1, usecs: 100000 },
      blockingEnd: { kind: "absolute", value: 0.2, usecs: 200000 },
      name: "connect",
      args: [{ kind: "int", value: 3, text: "3" }, { kind: "ellipsis" }, { kind: "ellipsis" }],
      result: { kind: "int", value: 0, text: "0" },
    });
  });

  it("blocking call: relative start, end on the same anchor; spaces around ...", () => {
    expect(one("+.1...0.200 connect(3, ..., ...) = 0")).toMatchObject({
      time: { kind: "relative", usecs: 100000 },
      blockingEnd: { kind: "relative", usecs: 200000 },
    });
    expect(one("+.002 ... 0.052 connect(4, ..., ...) = 0")).toMatchObject({
      time: { kind: "relative", usecs: 2000 },
      blockingEnd: { kind: "relative", usecs: 52000 },
    });
    expect(one("+0....02 close(4) = 0")).toMatchObject({ blockingEnd: { usecs: 20000 } });
  });

  it("non-blocking connect with errno and note", () => {
    expect(one("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")).toEqual({
      type: "syscall",
      line: 1,
      time: { kind: "relative", value: 0, usecs: 0 },
      name: "connect",
      args: [{ kind: "int", value: 3, text: "3" }, { kind: "ellipsis" }, { kind: "ellipsis" }],
      result: { kind: "int", value: -1, text: "-1" },
      errno: "EINPROGRESS",
      note: "Operation now in progress",
    });
  });

  it("getsockopt SO_ERROR with arrays", () => {
    expect(one("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0")).toMatchObject({
      name: "getsockopt",
      args: [
        { kind: "int", value: 3 },
        { kind: "symbol", name: "SOL_SOCKET" },
        { kind: "symbol", name: "SO_ERROR" },
        { kind: "array", items: [{ kind: "symbol", name: "ECONNREFUSED" }] },
        { kind: "array", items: [{ kind: "int", value: 4, text: "4" }] },
      ],
      result: { kind: "int", value: 0 },
    });
  });

  it("setsockopt TCP_NOOPT, fcntl with | and a hex result with a note", () => {
    expect(one("+0.00 setsockopt(3, IPPROTO_TCP, TCP_NOOPT, [1], 4) = 0")).toMatchObject({
      args: [
        { kind: "int", value: 3 },
        { kind: "symbol", name: "IPPROTO_TCP" },
        { kind: "symbol", name: "TCP_NOOPT" },
        { kind: "array", items: [{ kind: "int", value: 1 }] },
        { kind: "int", value: 4 },
      ],
    });
    expect(one("+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0")).toMatchObject({
      args: [
        { kind: "int", value: 3 },
        { kind: "symbol", name: "F_SETFL" },
        { kind: "or", operands: [{ kind: "symbol", name: "O_RDWR" }, { kind: "symbol", name: "O_NONBLOCK" }] },
      ],
    });
    const getfl = one("+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)");
    expect(getfl).toMatchObject({ result: { kind: "int", value: 2, text: "0x02" }, note: "flags O_RDWR" });
    expect(getfl.type === "syscall" && getfl.errno).toBeUndefined();
  });

  it("structs, fields, calls, strings and multi-line arguments", () => {
    expect(one("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0")).toMatchObject({
      args: [
        {}, {}, {},
        {
          kind: "struct",
          items: [
            { kind: "field", name: "l_onoff", value: { kind: "int", value: 1 } },
            { kind: "field", name: "l_linger", value: { kind: "int", value: 0 } },
          ],
        },
        {},
      ],
    });
    expect(
      one('+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0'),
    ).toMatchObject({
      args: [
        {},
        {
          kind: "struct",
          items: [
            { kind: "field", name: "sa_family", value: { kind: "symbol", name: "AF_INET" } },
            { kind: "field", name: "sin_port", value: { kind: "call", name: "htons", args: [{ kind: "int", value: 8080 }] } },
            { kind: "field", name: "sin_addr", value: { kind: "call", name: "inet_addr", args: [{ kind: "string", value: "192.0.2.1" }] } },
          ],
        },
        {},
      ],
    });
    const poll = one("   +0...0.010 poll([{fd=3,\n\tevents=POLLIN|POLLOUT|POLLERR,\n\trevents=POLLOUT}], 1, 10) = 1");
    expect(poll).toMatchObject({
      line: 1,
      name: "poll",
      args: [
        {
          kind: "array",
          items: [
            {
              kind: "struct",
              items: [
                { kind: "field", name: "fd", value: { kind: "int", value: 3 } },
                { kind: "field", name: "events", value: { kind: "or", operands: [{ name: "POLLIN" }, { name: "POLLOUT" }, { name: "POLLERR" }] } },
                { kind: "field", name: "revents", value: { kind: "symbol", name: "POLLOUT" } },
              ],
            },
          ],
        },
        { kind: "int", value: 1 },
        { kind: "int", value: 10 },
      ],
    });
    expect(one("+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}, 0) = 100")).toMatchObject({
      args: [
        {},
        {
          kind: "struct",
          items: [
            { kind: "field", name: "msg_name", args: [{ kind: "ellipsis" }], value: { kind: "ellipsis" } },
            {
              kind: "field",
              name: "msg_iov",
              args: [{ kind: "int", value: 1 }],
              value: { kind: "array", items: [{ kind: "struct", items: [{ kind: "ellipsis" }, { kind: "int", value: 100 }] }] },
            },
            { kind: "field", name: "msg_flags", value: { kind: "int", value: 0 } },
          ],
        },
        {},
      ],
    });
    expect(one('+0 write(3, "hello"..., 5) = 5')).toMatchObject({
      args: [{}, { kind: "string", value: "hello", truncated: true }, {}],
    });
  });

  it("a syscall without '= result' is an error", () => {
    expect(err("+0 close(3)\n+0 close(4) = 0\n")).toEqual({
      error: "expected '=' after close(...) (every syscall line states its result), found '+'",
      line: 2,
    });
  });
});

describe("ICMP lines", () => {
  it("FreeBSD rcv-icmp port unreachable quoting ISS-1", () => {
    expect(
      one("+0.10 < icmp unreachable port_unreachable [4294967295:4294967295(0)]", "--ip_version=ipv4\n"),
    ).toEqual({
      type: "icmp",
      line: 2,
      time: { kind: "relative", value: 0.1, usecs: 100000 },
      direction: "in",
      icmpType: "unreachable",
      code: "port_unreachable",
      family: 4, // from --ip_version
      quoted: { seqStart: 4294967295, seqEnd: 4294967295, payloadLen: 0 },
    });
  });

  it("family inferred from names only when unique", () => {
    expect(one("+0.10 < icmp time_exceeded ttl_exceeded_in_transit [0:0(0)]")).toMatchObject({ family: 4 });
    expect(one("+0.10 < icmp parameter_problem unknown_next_header [0:0(0)]")).toMatchObject({ family: 6 });
    expect(one("+0.10 < icmp unreachable port_unreachable [0:0(0)]")).not.toHaveProperty("family");
    expect(one("+0.10 < icmp parameter_problem code_1 [0:0(0)]", "--ip_version=ipv4\n")).toMatchObject({
      icmpType: "parameter_problem",
      code: "code_1",
      family: 4,
    });
  });

  it("Google frag_needed / packet_too_big with mtu, with and without a quote", () => {
    expect(one(" +.01 < icmp unreachable frag_needed mtu 800")).toEqual({
      type: "icmp",
      line: 1,
      time: { kind: "relative", value: 0.01, usecs: 10000 },
      direction: "in",
      icmpType: "unreachable",
      code: "frag_needed",
      mtu: 800,
      family: 4,
    });
    expect(one(" +.01 < icmp packet_too_big mtu 1400 [0:1440(1440)]")).toMatchObject({
      icmpType: "packet_too_big",
      mtu: 1400,
      family: 6,
      quoted: { seqStart: 0, seqEnd: 1440, payloadLen: 1440 },
    });
    expect(one("+0.00 < icmp unreachable port_unreachable [0:0(0)/udp(1 > 9811)]")).toMatchObject({
      quoted: { seqStart: 0, udpEncap: { srcPort: 1, dstPort: 9811 } },
    });
  });

  it("resolveIcmp gives the numbers per family", () => {
    expect(resolveIcmp({ icmpType: "unreachable", code: "port_unreachable" }, 4)).toEqual({ ok: true, type: 3, code: 3 });
    expect(resolveIcmp({ icmpType: "unreachable", code: "port_unreachable" }, 6)).toEqual({ ok: true, type: 1, code: 4 });
    expect(resolveIcmp({ icmpType: "unreachable", code: "frag_needed", mtu: 1300 }, 4)).toEqual({ ok: true, type: 3, code: 4 });
    expect(resolveIcmp({ icmpType: "packet_too_big", mtu: 1300 }, 6)).toEqual({ ok: true, type: 2, code: 0 });
    expect(resolveIcmp({ icmpType: "time_exceeded", code: "exceeded_hop_limit" }, 6)).toEqual({ ok: true, type: 3, code: 0 });
    expect(resolveIcmp({ icmpType: "parameter_problem", code: "unknown_next_header" }, 6)).toEqual({ ok: true, type: 4, code: 1 });
    expect(resolveIcmp({ icmpType: "type_42", code: "code_7" }, 4)).toEqual({ ok: true, type: 42, code: 7 });
    expect(resolveIcmp({ icmpType: "packet_too_big" }, 4)).toEqual({ ok: false, reason: "ICMPv4 has no type 'packet_too_big'" });
    expect(resolveIcmp({ icmpType: "unreachable", code: "port_unreachable", mtu: 1 }, 4).ok).toBe(false);
  });

  it("rejects names that do not exist for the script's family", () => {
    expect(err("--ip_version=ipv4\n+0 < icmp packet_too_big mtu 1280 [0:0(0)]\n")).toEqual({
      error: "ICMPv4 has no type 'packet_too_big'",
      line: 2,
    });
    expect(err("+0 < icmp unreachable no_such_code [0:0(0)]\n").error).toBe(
      "ICMPv4 type 'unreachable' has no code 'no_such_code'",
    );
  });
});

describe("script structure", () => {
  it("options, init command, shell, python and cleanup; comments dropped", () => {
    const text = [
      "// comment",
      "--ip_version=ipv6",
      "--tolerance_usecs=25000 // trailing",
      "--tcp_ts_ecr_scaled",
      "`../common/defaults.sh`",
      "/* block",
      "   comment */",
      " 0.00 `sysctl -w net.inet.tcp.rfc1323=0`",
      "+0.00 %{ assert tcpi_state == TCPI_SYN_SENT }%",
      "+0 %{",
      "assert tcpi_snd_mss == 1100",
      "}%",
      "`/tmp/sysctl_restore_${PPID}.sh`",
      "",
    ].join("\n");
    const r = parseScript(text, "x.pkt");
    expect(r).toEqual({
      ok: true,
      script: {
        path: "x.pkt",
        options: { ip_version: "ipv6", tolerance_usecs: "25000", tcp_ts_ecr_scaled: "" },
        initCommand: { line: 5, command: "../common/defaults.sh" },
        cleanupCommand: { line: 13, command: "/tmp/sysctl_restore_${PPID}.sh" },
        features: ["python"],
        events: [
          { type: "shell", line: 8, time: { kind: "absolute", value: 0, usecs: 0 }, command: "sysctl -w net.inet.tcp.rfc1323=0" },
          { type: "python", line: 9, time: { kind: "relative", value: 0, usecs: 0 }, code: "assert tcpi_state == TCPI_SYN_SENT" },
          { type: "python", line: 10, time: { kind: "relative", value: 0, usecs: 0 }, code: "\nassert tcpi_snd_mss == 1100\n" },
        ],
      },
    });
  });

  it("multi-line init command", () => {
    const r = parseScript("`./defaults.sh\nsysctl -q net.ipv4.tcp_ecn=3\n`\n\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n");
    expect(r.ok && r.script.initCommand).toEqual({ line: 1, command: "./defaults.sh\nsysctl -q net.ipv4.tcp_ecn=3\n" });
    expect(r.ok && r.script.events[0]!.line).toBe(5);
  });

  it("features summarise what a runner may need", () => {
    const r = parseScript(
      "+0.1...0.2 connect(3, ..., ...) = 0\n+0~+1 > [ect0] S 0:0(0) <...>\n+0 < icmp unreachable port_unreachable [0:0(0)]\n",
    );
    expect(r.ok && r.script.features).toEqual(["blocking-call", "ecn", "icmp", "time-window"]);
  });

  it("specific errors with line numbers", () => {
    expect(err("+0 > S 0:1(0) <...>\n")).toEqual({ error: "inconsistent TCP sequence numbers and payload size", line: 1 });
    expect(err("\n+0 > S 0:0(0) <mss 70000>\n")).toEqual({ error: "mss value 70000 out of range (0..65535)", line: 2 });
    expect(err("+0 > SX 0:0(0)\n").error).toBe("unknown TCP flag 'X' in 'SX'");
    expect(err("+0 > SS 0:0(0)\n").error).toBe("TCP flag 'S' given twice in 'SS'");
    expect(err("+0 > S 0:0(0) win 1 ack 1\n").error).toBe("'ack' out of order or repeated (order is: ack, win, urg, <options>)");
    expect(err("+0 > S 0:0(0) <mss 1460\n+0 close(3) = 0\n")).toEqual({
      error: "expected ',' or '>' to close TCP options, found '+'",
      line: 2,
    });
    expect(err("+0 < udp (100)\n").error).toBe("unsupported: udp packets (only TCP and ICMP are modelled)");
    expect(err("+0 close(3) = 0\n--mtu=1500\n")).toEqual({
      error: "option --mtu after the first event; options must come first",
      line: 2,
    });
    expect(err("+0 %{ assert 1\n")).toEqual({ error: "unterminated %{ code block (no closing }%)", line: 1 });
    expect(err("// nothing\n")).toEqual({ error: "script has no events", line: 2 });
    expect(err("--ip_version=ipv5\n+0 close(3) = 0\n").error).toBe("unknown --ip_version=ipv5");
  });

  it("formatEvent prints what it parsed", () => {
    const line = "+0.1~+0.2 > [ect0] P.6 1:1001(1000)! ack 1 win 10 <nop,nop,TS val 1 ecr 2,sack 1:2 3:4>/udp(1 > 2)";
    expect(formatEvent(one(line))).toBe(line);
    expect(formatEvent(one('0.1...0.2 connect(3, {a=1, b(2)=[x|y]}, "s"...) = -1 ECONNREFUSED (Connection refused)'))).toBe(
      '0.1...0.2 connect(3, {a=1, b(2)=[x|y]}, "s"...) = -1 ECONNREFUSED (Connection refused)',
    );
  });
});

describe("robustness", () => {
  const pieces = [
    "+0", "0.1", "*", "~", "...", " ", "\n", "<", ">", "S", ".", "S.", "0:0(0)", "1:1(0)!", "ack", "win", "1",
    "<mss 1460,", "nop", ">", "`sysctl -w a=b`", "%{ x }%", "icmp", "unreachable", "[0:0(0)]", "connect(", ")",
    "(", "=", "-1", "EINPROGRESS", "[", "]", "{", "}", ",", "|", "\"s\"", "//c\n", "/*", "*/", "--mtu=72\n", "/udp(1 > 2)",
  ];
  it("returns a value (never throws) for arbitrary token soup", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        const r = parseScript(text);
        if (!r.ok) {
          expect(r.line).toBeGreaterThanOrEqual(1);
          expect(r.line).toBeLessThanOrEqual(text.split("\n").length);
          expect(r.error.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("returns a value for arbitrary text and for deep nesting", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => typeof parseScript(s).ok === "boolean"), { numRuns: 2000 });
    expect(err(`+0 f(${"[".repeat(10000)}) = 0\n`).error).toBe("expression nested more than 64 levels deep");
  });
});
