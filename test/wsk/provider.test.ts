// The WSK facade through IRPs, on the engine in virtual time (docs/wsk.md, docs/ntstatus.md).
import { describe, expect, it } from "vitest";
import { WskTest, AF_INET, AF_INET6, sockaddrIn, sockaddrIn6 } from "../helpers/wsk.js";
import { NTSTATUS } from "../../src/wsk/ntstatus.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import {
  SIO_TCP_INITIAL_RTO,
  SO_WSK_EVENT_CALLBACK,
  SOL_SOCKET,
  TCP_FAIL_CONNECT_ON_ICMP_ERROR,
  TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS,
  WSK_EVENT_DISCONNECT,
  WSK_EVENT_RECEIVE,
  WSK_FLAG_ABORTIVE,
  WSK_FLAG_DATAGRAM_SOCKET,
  WSK_FLAG_WAITALL,
  WskIoctl,
  WskSetOption,
} from "../../src/wsk/constants.js";
import { IPPROTO_TCP, SOCK_STREAM } from "../../src/wsk/sockaddr.js";
import { IoCancelIrp } from "../../src/wsk/irp.js";
import { SYNACK_SO_PROFILE, type WSK_SOCKET } from "../../src/wsk/provider.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";

const S = NTSTATUS;

/** The SYN the stack sent for socket `s` (the last one), and a helper to answer it. */
function lastSyn(w: WskTest) {
  const syns = w.h.sent.filter((x) => x.flags === "S");
  return syns[syns.length - 1];
}
function peer(w: WskTest, seg: { flags: number; seq: number; ack: number; payload?: Uint8Array; window?: number }, fam: 4 | 6 = 4) {
  const syn = lastSyn(w);
  w.h.inputBytes(
    buildTcp({
      src: syn.pkt.ip.dst,
      dst: syn.pkt.ip.src,
      srcPort: syn.tcp.dstPort,
      dstPort: syn.tcp.srcPort,
      seq: seg.seq,
      ack: seg.ack,
      flags: seg.flags,
      window: seg.window ?? 65535,
      payload: seg.payload,
    }),
  );
  void fam;
}
import { buildTcpPacket as buildTcp, buildIcmpError } from "../../stack/wire/packet.js";

function establish(w: WskTest, s: WSK_SOCKET, remote = sockaddrIn("10.0.0.1", 80)) {
  w.bind(s, remote.sin_family === AF_INET ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0));
  const c = w.connect(s, remote);
  const syn = lastSyn(w);
  peer(w, { flags: TCP_SYN | TCP_ACK, seq: 1000, ack: syn.tcp.seq + 1 });
  expect(c.completions).toEqual([{ status: S.STATUS_SUCCESS, information: 0, t: w.h.now }]);
  return { syn, iss: syn.tcp.seq, irs: 1000 };
}

describe("registration and WskSocket", () => {
  it("WskSocket completes at once with the socket in Information; the completion routine ran before the return", () => {
    const w = new WskTest();
    const t = w.call((irp) => w.npi.Dispatch.WskSocket(w.npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, 2, null, null, null, null, null, irp));
    expect(t.returned).toBe(S.STATUS_SUCCESS);
    expect(t.completions.length).toBe(1);
    expect(t.completions[0].status).toBe(S.STATUS_SUCCESS);
    expect(typeof (t.completions[0].information as WSK_SOCKET).Dispatch.WskConnect).toBe("function");
  });
  it("wrong family -> STATUS_INVALID_PARAMETER; datagram category -> STATUS_NOT_SUPPORTED", () => {
    const w = new WskTest();
    const a = w.call((irp) => w.npi.Dispatch.WskSocket(w.npi.Client, 99, SOCK_STREAM, IPPROTO_TCP, 2, null, null, null, null, null, irp));
    expect([a.returned, a.completions[0].status]).toEqual([S.STATUS_INVALID_PARAMETER, S.STATUS_INVALID_PARAMETER]);
    const b = w.call((irp) => w.npi.Dispatch.WskSocket(w.npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_DATAGRAM_SOCKET, null, null, null, null, null, irp));
    expect(b.returned).toBe(S.STATUS_NOT_SUPPORTED);
  });
  it("after WskDeregister: capture fails, the client makes no new socket, an open socket works until the client closes it (docs/wsk.md)", () => {
    const w = new WskTest();
    const open = w.socket();
    w.wsk.WskReleaseProviderNPI(w.reg);
    w.wsk.WskDeregister(w.reg);
    expect(w.wsk.WskCaptureProviderNPI(w.reg, 0, {})).toBe(S.STATUS_DEVICE_NOT_READY);
    const t = w.call((irp) => w.npi.Dispatch.WskSocket(w.npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, 2, null, null, null, null, null, irp));
    expect(t.returned).toBe(S.STATUS_INVALID_PARAMETER);
    expect(w.bind(open).returned).toBe(S.STATUS_SUCCESS);
    expect(w.close(open).returned).toBe(S.STATUS_SUCCESS);
    expect(w.wsk.openSockets).toBe(0);
  });
});

describe("WskBind", () => {
  it("binds once; a second bind is STATUS_INVALID_DEVICE_STATE; Flags != 0 is STATUS_INVALID_PARAMETER", () => {
    const w = new WskTest();
    const s = w.socket();
    expect(w.call((irp) => s.Dispatch.WskBind(s, sockaddrIn("0.0.0.0", 0), 1, irp)).returned).toBe(S.STATUS_INVALID_PARAMETER);
    expect(w.bind(s).returned).toBe(S.STATUS_SUCCESS);
    expect(w.bind(s).returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
  });
  it("wrong family -> STATUS_INVALID_PARAMETER; foreign address -> STATUS_INVALID_ADDRESS_COMPONENT", () => {
    const w = new WskTest();
    const s = w.socket();
    expect(w.bind(s, sockaddrIn6("::", 0)).returned).toBe(S.STATUS_INVALID_PARAMETER);
    expect(w.bind(s, sockaddrIn("10.9.9.9", 0)).returned).toBe(S.STATUS_INVALID_ADDRESS_COMPONENT);
    expect(w.bind(s, sockaddrIn("10.0.0.2", 0)).returned).toBe(S.STATUS_SUCCESS);
  });
  it("port in use -> STATUS_ADDRESS_ALREADY_ASSOCIATED (what Windows gives, Wine's netio tests); free again after close", () => {
    const w = new WskTest();
    const a = w.socket();
    const b = w.socket();
    expect(w.bind(a, sockaddrIn("0.0.0.0", 5555)).returned).toBe(S.STATUS_SUCCESS);
    const inUse = w.bind(b, sockaddrIn("10.0.0.2", 5555));
    expect(inUse.returned).toBe(S.STATUS_ADDRESS_ALREADY_ASSOCIATED);
    expect(inUse.completions).toEqual([{ status: S.STATUS_ADDRESS_ALREADY_ASSOCIATED, information: 0, t: 0 }]);
    w.close(a);
    expect(w.bind(b, sockaddrIn("10.0.0.2", 5555)).returned).toBe(S.STATUS_SUCCESS);
  });
  it("no free ephemeral port -> STATUS_TOO_MANY_ADDRESSES", () => {
    const w = new WskTest();
    let last = 0;
    for (let i = 0; i < 65535 - 49152 + 2; i++) {
      const s = w.socket();
      last = w.bind(s).returned!;
      if (last !== S.STATUS_SUCCESS) break;
    }
    expect(last).toBe(S.STATUS_TOO_MANY_ADDRESSES);
    expect(w.h.stack.boundPorts).toBe(65535 - 49152 + 1);
  });
});

describe("WskConnect", () => {
  it("before bind -> STATUS_INVALID_DEVICE_STATE; Flags != 0 -> STATUS_INVALID_PARAMETER; wrong family -> STATUS_INVALID_PARAMETER", () => {
    const w = new WskTest();
    const s = w.socket();
    // As real Windows does (Wine's netio tests): the call returns the status and the IRP is
    // already completed with it, Information 0.
    const early = w.connect(s);
    expect(early.returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
    expect(early.completions).toEqual([{ status: S.STATUS_INVALID_DEVICE_STATE, information: 0, t: 0 }]);
    w.bind(s);
    expect(w.connect(s, sockaddrIn("10.0.0.1", 80), 1).returned).toBe(S.STATUS_INVALID_PARAMETER);
    expect(w.connect(s, sockaddrIn6("fd00::1", 80)).returned).toBe(S.STATUS_INVALID_PARAMETER);
    expect(w.h.sent).toEqual([]);
  });
  it("returns STATUS_PENDING, completes STATUS_SUCCESS when the SYN-ACK arrives; a second connect -> STATUS_CONNECTION_ACTIVE", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    const c = w.connect(s);
    expect(c.returned).toBe(S.STATUS_PENDING);
    expect(c.completions).toEqual([]);
    expect(w.connect(s).returned).toBe(S.STATUS_INVALID_DEVICE_STATE); // connect while pending
    w.h.advance(25);
    peer(w, { flags: TCP_SYN | TCP_ACK, seq: 9, ack: lastSyn(w).tcp.seq + 1 });
    expect(c.completions).toEqual([{ status: S.STATUS_SUCCESS, information: 0, t: 25 }]);
    expect(w.connect(s).returned).toBe(S.STATUS_CONNECTION_ACTIVE);
    const local: Record<string, unknown> = {};
    w.call((irp) => s.Dispatch.WskGetLocalAddress(s, local, irp));
    expect(local).toMatchObject({ sin_family: AF_INET, sin_addr: "10.0.0.2", sin_port: lastSyn(w).tcp.srcPort });
    const remote: Record<string, unknown> = {};
    w.call((irp) => s.Dispatch.WskGetRemoteAddress(s, remote, irp));
    expect(remote).toMatchObject({ sin_addr: "10.0.0.1", sin_port: 80 });
    w.assertOnce(true);
  });
  it("no route -> STATUS_NETWORK_UNREACHABLE at once (the call returns the status it completed with)", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    const c = w.connect(s, sockaddrIn("192.0.2.9", 80));
    expect(c.returned).toBe(S.STATUS_NETWORK_UNREACHABLE);
    expect(c.completions.map((x) => x.status)).toEqual([S.STATUS_NETWORK_UNREACHABLE]);
  });
  it("address queries before bind/connect -> STATUS_INVALID_DEVICE_STATE; after bind the local port is known", () => {
    const w = new WskTest();
    const s = w.socket();
    const a: Record<string, unknown> = {};
    expect(w.call((irp) => s.Dispatch.WskGetLocalAddress(s, a, irp)).returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
    w.bind(s);
    expect(w.call((irp) => s.Dispatch.WskGetLocalAddress(s, a, irp)).returned).toBe(S.STATUS_SUCCESS);
    expect(a).toMatchObject({ sin_addr: "0.0.0.0" });
    expect(a.sin_port as number).toBeGreaterThanOrEqual(49152);
    expect(w.call((irp) => s.Dispatch.WskGetRemoteAddress(s, a, irp)).returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
  });
});

describe("outcomes -> NTSTATUS and completion time, per profile (docs/ntstatus.md)", () => {
  // windows: 4 RST retries 500 ms apart (5 SYNs); windows7: 2 (3 SYNs).
  const refusedAt: Record<ProfileName, number> = { windows: 2000, windows7: 1000, linux: 0, freebsd: 0, rfc: 0 };
  // linux: 131 s plus its timer wheel's lateness (the 32 s and 64 s waits fall in the 2 s
  // level at HZ 250; jiffies offset 0: stack/tcp/timer-wheel.ts).
  const timeoutAt: Record<ProfileName, number> = { windows: 21_000, windows7: 21_000, linux: 135_168, freebsd: 75_000, rfc: 180_000 };
  for (const p of ["windows", "windows7", "linux", "freebsd", "rfc"] as ProfileName[]) {
    it(`${p}: RST -> STATUS_CONNECTION_REFUSED at ${refusedAt[p]} ms`, () => {
      const w = new WskTest({ wskProfile: p });
      const s = w.socket();
      w.bind(s);
      const c = w.connect(s);
      for (let i = 0; i < 5 && c.completions.length === 0; i++) {
        w.h.advanceTo(Math.max(w.h.now, lastSyn(w).t));
        peer(w, { flags: TCP_RST | TCP_ACK, seq: 0, ack: lastSyn(w).tcp.seq + 1 });
        if (c.completions.length === 0) w.h.advance(500);
      }
      expect(c.completions).toEqual([{ status: S.STATUS_CONNECTION_REFUSED, information: 0, t: refusedAt[p] }]);
    });
    it(`${p}: no answer -> STATUS_IO_TIMEOUT at ${timeoutAt[p]} ms`, () => {
      const w = new WskTest({ wskProfile: p });
      const s = w.socket();
      w.bind(s);
      const c = w.connect(s);
      w.h.advanceTo(300_000);
      expect(c.completions).toEqual([{ status: S.STATUS_IO_TIMEOUT, information: 0, t: timeoutAt[p] }]);
    });
  }
  const icmp: Array<[4 | 6, number, number, keyof typeof S]> = [
    [4, 3, 0, "STATUS_NETWORK_UNREACHABLE"],
    [4, 3, 1, "STATUS_HOST_UNREACHABLE"],
    [4, 3, 2, "STATUS_PROTOCOL_UNREACHABLE"],
    [4, 3, 3, "STATUS_PORT_UNREACHABLE"],
    [4, 3, 6, "STATUS_NETWORK_UNREACHABLE"],
    [4, 3, 11, "STATUS_NETWORK_UNREACHABLE"],
    [4, 3, 9, "STATUS_HOST_UNREACHABLE"],
    [4, 3, 10, "STATUS_HOST_UNREACHABLE"],
    [4, 3, 13, "STATUS_HOST_UNREACHABLE"],
    [4, 11, 0, "STATUS_HOST_UNREACHABLE"],
    [4, 12, 0, "STATUS_HOST_UNREACHABLE"],
    [6, 1, 0, "STATUS_NETWORK_UNREACHABLE"],
    [6, 1, 1, "STATUS_HOST_UNREACHABLE"],
    [6, 1, 3, "STATUS_HOST_UNREACHABLE"],
    [6, 1, 4, "STATUS_PORT_UNREACHABLE"],
    [6, 1, 5, "STATUS_HOST_UNREACHABLE"],
    [6, 1, 6, "STATUS_HOST_UNREACHABLE"],
    [6, 3, 0, "STATUS_HOST_UNREACHABLE"],
    [6, 4, 0, "STATUS_HOST_UNREACHABLE"],
    [6, 4, 1, "STATUS_PROTOCOL_UNREACHABLE"],
  ];
  for (const [v, type, code, name] of icmp) {
    it(`linux: ICMPv${v === 4 ? "4" : "6"} ${type}/${code} -> ${name} at once`, () => {
      const w = new WskTest({ wskProfile: "linux" });
      const s = w.socket(v === 4 ? AF_INET : AF_INET6);
      w.bind(s, v === 4 ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0));
      const c = w.connect(s, v === 4 ? sockaddrIn("10.0.0.1", 80) : sockaddrIn6("fd00::1", 80));
      w.h.advance(40);
      const syn = lastSyn(w);
      w.h.inputBytes(buildIcmpError({ src: v === 4 ? "10.0.0.254" : "fd00::fe", dst: syn.pkt.ip.src, type, code, original: syn.bytes }));
      expect(c.completions).toEqual([{ status: S[name], information: 0, t: 40 }]);
    });
  }
  it("windows ignores ICMP; with TCP_FAIL_CONNECT_ON_ICMP_ERROR it fails at once", () => {
    const w = new WskTest();
    const s1 = w.socket();
    w.bind(s1);
    const c1 = w.connect(s1);
    const syn1 = lastSyn(w);
    w.h.inputBytes(buildIcmpError({ src: "10.0.0.1", dst: "10.0.0.2", type: 3, code: 3, original: syn1.bytes }));
    expect(c1.completions).toEqual([]);
    const s2 = w.socket();
    w.bind(s2);
    expect(w.call((irp) => s2.Dispatch.WskControlSocket(s2, WskSetOption, TCP_FAIL_CONNECT_ON_ICMP_ERROR, IPPROTO_TCP, 4, 1, 0, null, null, irp)).returned).toBe(S.STATUS_SUCCESS);
    const c2 = w.connect(s2);
    const syn2 = lastSyn(w);
    w.h.inputBytes(buildIcmpError({ src: "10.0.0.1", dst: "10.0.0.2", type: 3, code: 3, original: syn2.bytes }));
    expect(c2.completions.map((x) => x.status)).toEqual([S.STATUS_PORT_UNREACHABLE]);
  });
  // Each explicit MaxSynRetransmissions on windows, against the measured give-ups
  // (docs/decisions.md, "Windows SYN schedule"): 2 -> 7 s, 4 -> 21 s, 6 -> 123 s, 8 -> over 150 s.
  const sioCases: Array<{ n: number; syns: number[]; failAt: number }> = [
    { n: 2, syns: [0, 1, 3], failAt: 7 },
    { n: 4, syns: [0, 1, 3, 7, 15], failAt: 21 },
    { n: 6, syns: [0, 1, 3, 7, 15, 31, 63], failAt: 123 },
    { n: 8, syns: [0, 1, 3, 7, 15, 31, 63, 123, 183], failAt: 243 },
  ];
  for (const k of sioCases) {
    it(`SIO_TCP_INITIAL_RTO {Rtt 1000, MaxSyn ${k.n}} on windows: SYNs at ${k.syns.join(",")} s, STATUS_IO_TIMEOUT at ${k.failAt} s`, () => {
      const w = new WskTest();
      const s = w.socket();
      w.bind(s);
      const set = w.call((irp) => s.Dispatch.WskControlSocket(s, WskIoctl, SIO_TCP_INITIAL_RTO, 0, 3, { Rtt: 1000, MaxSynRetransmissions: k.n }, 0, null, null, irp));
      expect(set.returned).toBe(S.STATUS_SUCCESS);
      const c = w.connect(s);
      w.h.advanceTo(400_000);
      expect(w.h.sent.filter((x) => x.flags === "S").map((x) => x.t / 1000)).toEqual(k.syns);
      expect(c.completions).toEqual([{ status: S.STATUS_IO_TIMEOUT, information: 0, t: k.failAt * 1000 }]);
    });
  }
  it("SIO_TCP_INITIAL_RTO {MaxSyn 10} on windows: rejected (STATUS_INVALID_PARAMETER), the socket keeps its schedule", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    for (const n of [9, 10, 200]) {
      const r = w.call((irp) => s.Dispatch.WskControlSocket(s, WskIoctl, SIO_TCP_INITIAL_RTO, 0, 3, { Rtt: 1000, MaxSynRetransmissions: n }, 0, null, null, irp));
      expect(r.returned).toBe(S.STATUS_INVALID_PARAMETER);
    }
    const c = w.connect(s);
    w.h.advanceTo(60_000);
    expect(w.h.sent.filter((x) => x.flags === "S").map((x) => x.t / 1000)).toEqual([0, 1, 3, 7, 15]);
    expect(c.completions[0]).toMatchObject({ status: S.STATUS_IO_TIMEOUT, t: 21_000 });
  });
  it("SIO_TCP_INITIAL_RTO NO_SYN_RETRANSMISSIONS on windows: one SYN; no answer -> STATUS_IO_TIMEOUT after one initial RTO", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    w.call((irp) => s.Dispatch.WskControlSocket(s, WskIoctl, SIO_TCP_INITIAL_RTO, 0, 3, { Rtt: 0xffff, MaxSynRetransmissions: TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS }, 0, null, null, irp));
    const c = w.connect(s);
    w.h.advanceTo(60_000);
    expect(w.h.sent.filter((x) => x.flags === "S").map((x) => x.t)).toEqual([0]);
    expect(c.completions).toEqual([{ status: S.STATUS_IO_TIMEOUT, information: 0, t: 1000 }]);
  });
  it("SIO_TCP_INITIAL_RTO NO_SYN_RETRANSMISSIONS on windows: a RST refuses at once", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    w.call((irp) => s.Dispatch.WskControlSocket(s, WskIoctl, SIO_TCP_INITIAL_RTO, 0, 3, { Rtt: 0xffff, MaxSynRetransmissions: TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS }, 0, null, null, irp));
    const c = w.connect(s);
    peer(w, { flags: TCP_RST | TCP_ACK, seq: 0, ack: lastSyn(w).tcp.seq + 1 });
    expect(c.completions[0]).toMatchObject({ status: S.STATUS_CONNECTION_REFUSED, t: 0 });
  });
  it("the synack profile option switches a socket to linux", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    expect(w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_PROFILE, SOL_SOCKET, 0, "linux", 0, null, null, irp)).returned).toBe(S.STATUS_SUCCESS);
    expect(w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_PROFILE, SOL_SOCKET, 0, "bogus", 0, null, null, irp)).returned).toBe(S.STATUS_INVALID_PARAMETER);
    w.connect(s);
    expect(lastSyn(w).options).toMatch(/^mss 1460,sackOK,TS/);
  });
});

describe("cancel, close, reuse", () => {
  it("IoCancelIrp during SYN-SENT -> STATUS_CANCELLED, Information 0, nothing sent; a late SYN-ACK gets RST; the socket connects again", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    const c = w.connect(s);
    const syn = lastSyn(w);
    w.h.take();
    w.h.advance(100);
    expect(IoCancelIrp(c.irp)).toBe(true);
    expect(c.completions).toEqual([{ status: S.STATUS_CANCELLED, information: 0, t: 100 }]);
    expect(w.h.take()).toEqual([]);
    peer(w, { flags: TCP_SYN | TCP_ACK, seq: 1, ack: syn.tcp.seq + 1 });
    const [rst] = w.h.take();
    expect([rst.flags, rst.tcp.seq]).toEqual(["R", (syn.tcp.seq + 1) >>> 0]);
    // Bound again: connect again on the same socket and port.
    const again = w.connect(s);
    expect(again.returned).toBe(S.STATUS_PENDING);
    expect(lastSyn(w).tcp.srcPort).toBe(syn.tcp.srcPort);
    w.h.advance(100_000);
    expect(again.completions.map((x) => x.status)).toEqual([S.STATUS_IO_TIMEOUT]);
    w.assertOnce();
  });
  it("close with a pending connect: connect IRP STATUS_CANCELLED, close STATUS_SUCCESS, later calls STATUS_FILE_FORCED_CLOSED", () => {
    const w = new WskTest();
    const s = w.socket();
    w.bind(s);
    const c = w.connect(s);
    w.h.take();
    const cl = w.close(s);
    expect(cl.returned).toBe(S.STATUS_SUCCESS);
    expect(c.completions.map((x) => [x.status, x.information])).toEqual([[S.STATUS_CANCELLED, 0]]);
    expect(w.h.take()).toEqual([]);
    expect(w.connect(s).returned).toBe(S.STATUS_FILE_FORCED_CLOSED);
    expect(w.bind(s).returned).toBe(S.STATUS_FILE_FORCED_CLOSED);
    expect(w.close(s).returned).toBe(S.STATUS_FILE_FORCED_CLOSED);
    w.h.advance(100_000);
    w.assertOnce();
    expect(w.h.stack.connectionCount).toBe(0);
    expect(w.h.stack.pendingTimers).toBe(0);
    expect(w.h.stack.boundPorts).toBe(0);
  });
  it("reconnect after refusal on the same socket succeeds", () => {
    const w = new WskTest({ wskProfile: "linux" });
    const s = w.socket();
    w.bind(s);
    const c1 = w.connect(s);
    peer(w, { flags: TCP_RST | TCP_ACK, seq: 0, ack: lastSyn(w).tcp.seq + 1 });
    expect(c1.completions[0].status).toBe(S.STATUS_CONNECTION_REFUSED);
    const c2 = w.connect(s);
    peer(w, { flags: TCP_SYN | TCP_ACK, seq: 5, ack: lastSyn(w).tcp.seq + 1 });
    expect(c2.completions[0].status).toBe(S.STATUS_SUCCESS);
  });
  it("WskSocketConnect completes only when the handshake finishes, with the socket in Information", () => {
    const w = new WskTest();
    const t = w.call((irp) => w.npi.Dispatch.WskSocketConnect(w.npi.Client, SOCK_STREAM, IPPROTO_TCP, sockaddrIn("0.0.0.0", 0), sockaddrIn("10.0.0.1", 443), 0, null, null, null, null, null, irp));
    expect(t.returned).toBe(S.STATUS_PENDING);
    w.h.advance(7);
    peer(w, { flags: TCP_SYN | TCP_ACK, seq: 5, ack: lastSyn(w).tcp.seq + 1 });
    expect(t.completions.length).toBe(1);
    expect(t.completions[0].status).toBe(S.STATUS_SUCCESS);
    expect(typeof (t.completions[0].information as WSK_SOCKET).Dispatch.WskSend).toBe("function");
    const failed = w.call((irp) => w.npi.Dispatch.WskSocketConnect(w.npi.Client, SOCK_STREAM, IPPROTO_TCP, sockaddrIn("0.0.0.0", 0), sockaddrIn6("fd00::1", 443), 0, null, null, null, null, null, irp));
    expect(failed.returned).toBe(S.STATUS_INVALID_PARAMETER);
  });
});

describe("connected life through the facade", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it("send/receive before connected -> STATUS_INVALID_DEVICE_STATE", () => {
    const w = new WskTest();
    const s = w.socket();
    const buf = { Mdl: new Uint8Array(10), Offset: 0, Length: 10 };
    expect(w.call((irp) => s.Dispatch.WskSend(s, buf, 0, irp)).returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
    expect(w.call((irp) => s.Dispatch.WskReceive(s, buf, 0, irp)).returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
    expect(w.call((irp) => s.Dispatch.WskDisconnect(s, null, 0, irp)).returned).toBe(S.STATUS_INVALID_DEVICE_STATE);
  });
  it("WskSend completes when the peer acknowledges all its bytes", () => {
    const w = new WskTest();
    const s = w.socket();
    const { iss, irs } = establish(w, s);
    w.h.take();
    const send = w.call((irp) => s.Dispatch.WskSend(s, { Mdl: enc("xxhello"), Offset: 2, Length: 5 }, 0, irp));
    expect(send.returned).toBe(S.STATUS_PENDING);
    const [data] = w.h.take();
    expect(new TextDecoder().decode(data.tcp.payload)).toBe("hello");
    expect(send.completions).toEqual([]);
    peer(w, { flags: TCP_ACK, seq: irs + 1, ack: iss + 6 });
    expect(send.completions.map((x) => [x.status, x.information])).toEqual([[S.STATUS_SUCCESS, 5]]);
  });
  it("WskReceive: pending until data arrives; WAITALL waits for a full buffer; peer FIN completes with 0 bytes", () => {
    const w = new WskTest();
    const s = w.socket();
    const { iss, irs } = establish(w, s);
    const buf = new Uint8Array(8);
    const r1 = w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: buf, Offset: 0, Length: 8 }, 0, irp));
    expect(r1.returned).toBe(S.STATUS_PENDING);
    peer(w, { flags: TCP_ACK, seq: irs + 1, ack: iss + 1, payload: enc("abc") });
    expect(r1.completions.map((x) => [x.status, x.information])).toEqual([[S.STATUS_SUCCESS, 3]]);
    expect(new TextDecoder().decode(buf.subarray(0, 3))).toBe("abc");
    const buf2 = new Uint8Array(6);
    const r2 = w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: buf2, Offset: 0, Length: 6 }, WSK_FLAG_WAITALL, irp));
    peer(w, { flags: TCP_ACK, seq: irs + 4, ack: iss + 1, payload: enc("def") });
    expect(r2.completions).toEqual([]);
    peer(w, { flags: TCP_ACK, seq: irs + 7, ack: iss + 1, payload: enc("ghi") });
    expect(r2.completions.map((x) => [x.status, x.information])).toEqual([[S.STATUS_SUCCESS, 6]]);
    expect(new TextDecoder().decode(buf2)).toBe("defghi");
    const r3 = w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: new Uint8Array(4), Offset: 0, Length: 4 }, 0, irp));
    expect(r3.returned).toBe(S.STATUS_PENDING);
    peer(w, { flags: TCP_ACK | TCP_FIN, seq: irs + 10, ack: iss + 1 });
    expect(r3.completions.map((x) => [x.status, x.information])).toEqual([[S.STATUS_SUCCESS, 0]]);
    // After FIN, a new receive completes at once with 0 bytes.
    const r4 = w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: new Uint8Array(4), Offset: 0, Length: 4 }, 0, irp));
    expect([r4.returned, r4.completions[0].information]).toEqual([S.STATUS_SUCCESS, 0]);
  });
  it("RST after established: pending receive -> STATUS_CONNECTION_RESET and an abortive WskDisconnectEvent", () => {
    const w = new WskTest();
    const events: number[] = [];
    const s = w.socket(AF_INET, { WskDisconnectEvent: (_ctx, flags) => (events.push(flags), S.STATUS_SUCCESS) });
    w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0, { EventMask: WSK_EVENT_DISCONNECT }, 0, null, null, irp));
    const { irs } = establish(w, s);
    const r = w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: new Uint8Array(4), Offset: 0, Length: 4 }, 0, irp));
    peer(w, { flags: TCP_RST, seq: irs + 1, ack: 0 });
    expect(r.completions.map((x) => x.status)).toEqual([S.STATUS_CONNECTION_RESET]);
    expect(events).toEqual([WSK_FLAG_ABORTIVE]);
    expect(w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: new Uint8Array(4), Offset: 0, Length: 4 }, 0, irp)).returned).toBe(S.STATUS_CONNECTION_RESET);
  });
  it("WskReceiveEvent gets the data; WskDisconnectEvent(0) on FIN", () => {
    const w = new WskTest();
    const got: string[] = [];
    const discs: number[] = [];
    const s = w.socket(AF_INET, {
      WskReceiveEvent: (_c, _f, ind) => (got.push(new TextDecoder().decode(ind!.Buffer.Mdl)), S.STATUS_SUCCESS),
      WskDisconnectEvent: (_c, f) => (discs.push(f), S.STATUS_SUCCESS),
    });
    w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0, { EventMask: WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT }, 0, null, null, irp));
    const { iss, irs } = establish(w, s);
    peer(w, { flags: TCP_ACK, seq: irs + 1, ack: iss + 1, payload: enc("ping") });
    peer(w, { flags: TCP_ACK | TCP_FIN, seq: irs + 5, ack: iss + 1 });
    expect(got).toEqual(["ping"]);
    expect(discs).toEqual([0]);
  });
  it("graceful WskDisconnect completes when our FIN is acknowledged; abortive sends RST and completes at once", () => {
    const w = new WskTest();
    const s = w.socket();
    const { iss, irs } = establish(w, s);
    w.h.take();
    const d = w.call((irp) => s.Dispatch.WskDisconnect(s, null, 0, irp));
    expect(d.returned).toBe(S.STATUS_PENDING);
    const [fin] = w.h.take();
    expect(fin.flags).toBe("F.");
    peer(w, { flags: TCP_ACK, seq: irs + 1, ack: iss + 2 });
    expect(d.completions.map((x) => x.status)).toEqual([S.STATUS_SUCCESS]);

    const s2 = w.socket();
    establish(w, s2);
    w.h.take();
    const r = w.call((irp) => s2.Dispatch.WskReceive(s2, { Mdl: new Uint8Array(4), Offset: 0, Length: 4 }, 0, irp));
    const a = w.call((irp) => s2.Dispatch.WskDisconnect(s2, null, WSK_FLAG_ABORTIVE, irp));
    expect(a.returned).toBe(S.STATUS_SUCCESS);
    expect(w.h.take().map((x) => x.flags)).toEqual(["R."]);
    expect(r.completions.map((x) => x.status)).toEqual([S.STATUS_CONNECTION_ABORTED]);
  });
});
