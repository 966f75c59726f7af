// Model-based property test (fast-check): random interleavings of socket calls, IoCancelIrp,
// WskCloseSocket, incoming segments and ICMP, and time steps, on connection sockets and on
// listening and stream sockets (WskAccept, WskAcceptEvent accepting or rejecting, conditional
// accept with WskInspectEvent accepting, rejecting or pending and WskInspectComplete, remote
// clients that connect, send, close or reset). Invariants: every IRP completes exactly once
// with a status from docs/ntstatus.md's table; after every socket is closed (accepted ones
// too), no timer, port or connection remains.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WskTest, AF_INET, AF_INET6, sockaddrIn, sockaddrIn6, type TrackedIrp } from "../helpers/wsk.js";
import { NTSTATUS } from "../../src/wsk/ntstatus.js";
import { IoCancelIrp } from "../../src/wsk/irp.js";
import { buildIcmpError, buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { WSK_SOCKET } from "../../src/wsk/provider.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { RemoteClient } from "../helpers/remote-client.js";
import { accept, enableEvents, listenSocket, listenTable, streamSocket, streamTable } from "../helpers/wsk-listen.js";
import {
  SOL_SOCKET,
  SO_CONDITIONAL_ACCEPT,
  WSK_EVENT_ACCEPT,
  WSK_EVENT_DISABLE,
  WSK_EVENT_RECEIVE,
  WskInspectAccept,
  WskInspectPend,
  WskInspectReject,
  WskSetOption,
  type WSK_INSPECT_ACTION,
  type WSK_INSPECT_ID,
} from "../../src/wsk/constants.js";
import { SYNACK_SO_BACKLOG } from "../../src/wsk/provider.js";

/** Every status docs/ntstatus.md allows an IRP of these calls to complete with (plus PENDING never). */
const ALLOWED = new Set<number>([
  NTSTATUS.STATUS_SUCCESS,
  NTSTATUS.STATUS_CONNECTION_REFUSED,
  NTSTATUS.STATUS_IO_TIMEOUT,
  NTSTATUS.STATUS_NETWORK_UNREACHABLE,
  NTSTATUS.STATUS_HOST_UNREACHABLE,
  NTSTATUS.STATUS_PROTOCOL_UNREACHABLE,
  NTSTATUS.STATUS_PORT_UNREACHABLE,
  NTSTATUS.STATUS_CANCELLED,
  NTSTATUS.STATUS_CONNECTION_RESET,
  NTSTATUS.STATUS_CONNECTION_ABORTED,
  NTSTATUS.STATUS_INVALID_PARAMETER,
  NTSTATUS.STATUS_INVALID_DEVICE_STATE,
  NTSTATUS.STATUS_CONNECTION_ACTIVE,
  NTSTATUS.STATUS_ADDRESS_ALREADY_ASSOCIATED,
  NTSTATUS.STATUS_INVALID_ADDRESS_COMPONENT,
  NTSTATUS.STATUS_TOO_MANY_ADDRESSES,
  NTSTATUS.STATUS_FILE_FORCED_CLOSED,
]);

type Op =
  | { op: "socket"; v6: boolean }
  | { op: "bind"; s: number; port: 0 | 5000 | 5001; foreign: boolean }
  | { op: "connect"; s: number; dst: 0 | 1 | 2 }
  | { op: "cancel"; s: number }
  | { op: "close"; s: number }
  | { op: "answer"; s: number; kind: "synack" | "rst" | "badack" | "icmp-port" | "icmp-host" | "fin" | "data" }
  | { op: "send"; s: number }
  | { op: "recv"; s: number }
  | { op: "disconnect"; s: number; abortive: boolean }
  | { op: "time"; ms: number }
  | { op: "listen"; v6: boolean; stream: boolean; port: 6000 | 6001; backlog: boolean; inspect?: WSK_INSPECT_ACTION }
  | { op: "inspectComplete"; l: number; accept: boolean }
  | { op: "accept"; l: number }
  | { op: "cancelAccept"; l: number }
  | { op: "acceptEvent"; l: number; on: boolean; take: boolean }
  | { op: "closeListener"; l: number }
  | { op: "dial"; l: number; complete: boolean }
  | { op: "client"; c: number; kind: "ack" | "data" | "fin" | "rst" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("socket" as const), v6: fc.boolean() }),
  fc.record({ op: fc.constant("bind" as const), s: fc.nat(5), port: fc.constantFrom(0 as const, 5000 as const, 5001 as const), foreign: fc.boolean() }),
  fc.record({ op: fc.constant("connect" as const), s: fc.nat(5), dst: fc.constantFrom(0 as const, 1 as const, 2 as const) }),
  fc.record({ op: fc.constant("cancel" as const), s: fc.nat(5) }),
  fc.record({ op: fc.constant("close" as const), s: fc.nat(5) }),
  fc.record({ op: fc.constant("answer" as const), s: fc.nat(5), kind: fc.constantFrom("synack" as const, "rst" as const, "badack" as const, "icmp-port" as const, "icmp-host" as const, "fin" as const, "data" as const) }),
  fc.record({ op: fc.constant("send" as const), s: fc.nat(5) }),
  fc.record({ op: fc.constant("recv" as const), s: fc.nat(5) }),
  fc.record({ op: fc.constant("disconnect" as const), s: fc.nat(5), abortive: fc.boolean() }),
  fc.record({ op: fc.constant("time" as const), ms: fc.constantFrom(1, 100, 500, 1000, 3000, 30_000) }),
  fc.record({ op: fc.constant("listen" as const), v6: fc.boolean(), stream: fc.boolean(), port: fc.constantFrom(6000 as const, 6001 as const), backlog: fc.boolean() }),
  fc.record({ op: fc.constant("accept" as const), l: fc.nat(3) }),
  fc.record({ op: fc.constant("cancelAccept" as const), l: fc.nat(3) }),
  fc.record({ op: fc.constant("acceptEvent" as const), l: fc.nat(3), on: fc.boolean(), take: fc.boolean() }),
  fc.record({ op: fc.constant("closeListener" as const), l: fc.nat(3) }),
  fc.record({ op: fc.constant("dial" as const), l: fc.nat(3), complete: fc.boolean() }),
  fc.record({ op: fc.constant("client" as const), c: fc.nat(7), kind: fc.constantFrom("ack" as const, "data" as const, "fin" as const, "rst" as const) }),
);

function runModel(profile: ProfileName, ops: Op[]): void {
  const w = new WskTest({ wskProfile: profile });
  const sockets: Array<{ s: WSK_SOCKET; v6: boolean; connect?: TrackedIrp }> = [];
  const pick = (i: number) => (sockets.length === 0 ? undefined : sockets[i % sockets.length]);
  // Listening side: listening (or stream) sockets, their pending accepts, and remote clients.
  const listeners: Array<{ s: WSK_SOCKET; v6: boolean; port: number; accepts: TrackedIrp[]; take: boolean; pended: WSK_INSPECT_ID[] }> = [];
  const pickL = (i: number) => (listeners.length === 0 ? undefined : listeners[i % listeners.length]);
  const clients: RemoteClient[] = [];
  /** Every socket a listener handed out, closed at the end like the others. */
  const accepted = new Set<WSK_SOCKET>();
  const adopt = (sock: WSK_SOCKET, v6: boolean) => {
    accepted.add(sock);
    if (sockets.length < 10) sockets.push({ s: sock, v6 });
  };
  const check = () => {
    for (const t of w.irps) {
      expect(t.completions.length).toBeLessThanOrEqual(1);
      for (const c of t.completions) expect(ALLOWED.has(c.status), `status 0x${c.status.toString(16)}`).toBe(true);
      if (t.returned !== undefined && t.returned !== NTSTATUS.STATUS_PENDING) {
        // A call that did not pend completed its IRP before returning, with the same status.
        expect(t.completions.map((c) => c.status)).toEqual([t.returned]);
      }
    }
  };
  /** Answer as the peer of the socket's newest outgoing segment. */
  const answer = (x: { s: WSK_SOCKET; v6: boolean }, kind: string) => {
    const local = {} as Record<string, unknown>;
    w.call((irp) => x.s.Dispatch.WskGetLocalAddress(x.s, local, irp));
    const port = (local.sin_port ?? local.sin6_port) as number | undefined;
    const seg = [...w.h.sent].reverse().find((s) => s.tcp.srcPort === port);
    if (!seg) return;
    const src = seg.pkt.ip.dst;
    const dst = seg.pkt.ip.src;
    const tcp = (flags: number, seq: number, ack: number, payload?: Uint8Array) =>
      w.h.inputBytes(buildTcpPacket({ src, dst, srcPort: seg.tcp.dstPort, dstPort: seg.tcp.srcPort, seq, ack, flags, window: 65535, payload }));
    const synNext = (seg.tcp.seq + 1) >>> 0;
    switch (kind) {
      case "synack":
        return tcp(TCP_SYN | TCP_ACK, 7000, synNext);
      case "rst":
        return tcp(TCP_RST | TCP_ACK, 0, synNext);
      case "badack":
        return tcp(TCP_SYN | TCP_ACK, 7000, seg.tcp.seq);
      case "fin":
        return tcp(TCP_FIN | TCP_ACK, 7001, seg.tcp.seq);
      case "data":
        return tcp(TCP_ACK, 7001, seg.tcp.seq, new Uint8Array([1, 2, 3]));
      case "icmp-port":
      case "icmp-host": {
        const [type, code] = kind === "icmp-port" ? (x.v6 ? [1, 4] : [3, 3]) : x.v6 ? [1, 3] : [3, 1];
        return w.h.inputBytes(buildIcmpError({ src, dst, type, code, original: seg.bytes }));
      }
    }
  };
  for (const op of ops) {
    switch (op.op) {
      case "socket":
        if (sockets.length < 6) sockets.push({ s: w.socket(op.v6 ? AF_INET6 : AF_INET), v6: op.v6 });
        break;
      case "bind": {
        const x = pick(op.s);
        if (!x) break;
        const addr = op.foreign ? (x.v6 ? "fd00::99" : "10.0.0.99") : x.v6 ? "::" : "0.0.0.0";
        w.bind(x.s, x.v6 ? sockaddrIn6(addr, op.port) : sockaddrIn(addr, op.port));
        break;
      }
      case "connect": {
        const x = pick(op.s);
        if (!x) break;
        const dst = x.v6 ? ["fd00::1", "fd00::7", "2001:db8::1"][op.dst] : ["10.0.0.1", "10.0.0.7", "192.0.2.1"][op.dst];
        x.connect = w.connect(x.s, x.v6 ? sockaddrIn6(dst, 80) : sockaddrIn(dst, 80));
        break;
      }
      case "cancel": {
        const x = pick(op.s);
        if (x?.connect) IoCancelIrp(x.connect.irp);
        break;
      }
      case "close": {
        const x = pick(op.s);
        if (x) w.close(x.s);
        break;
      }
      case "answer": {
        const x = pick(op.s);
        if (x) answer(x, op.kind);
        break;
      }
      case "send": {
        const x = pick(op.s);
        if (x) w.call((irp) => x.s.Dispatch.WskSend(x.s, { Mdl: new Uint8Array(10), Offset: 0, Length: 10 }, 0, irp));
        break;
      }
      case "recv": {
        const x = pick(op.s);
        if (x) w.call((irp) => x.s.Dispatch.WskReceive(x.s, { Mdl: new Uint8Array(10), Offset: 0, Length: 10 }, 0, irp));
        break;
      }
      case "disconnect": {
        const x = pick(op.s);
        if (x) w.call((irp) => x.s.Dispatch.WskDisconnect(x.s, null, op.abortive ? 1 : 0, irp));
        break;
      }
      case "time":
        w.h.advance(op.ms);
        break;
      case "listen": {
        if (listeners.length >= 4) break;
        const x = { s: undefined as unknown as WSK_SOCKET, v6: op.v6, port: op.port, accepts: [] as TrackedIrp[], take: true, pended: [] as WSK_INSPECT_ID[] };
        // The accept event (when enabled) takes or rejects by the listener's current choice.
        const dispatch = {
          WskAcceptEvent: (_ctx: unknown, _f: number, _l: unknown, _r: unknown, sock: WSK_SOCKET | null) => {
            if (!x.take || !sock) return NTSTATUS.STATUS_REQUEST_NOT_ACCEPTED;
            adopt(sock, x.v6);
            return NTSTATUS.STATUS_SUCCESS;
          },
          // Conditional accept (listening sockets with op.inspect): the listener's fixed answer.
          WskInspectEvent: (_ctx: unknown, _l: unknown, _r: unknown, id: WSK_INSPECT_ID | null) => {
            if (op.inspect === WskInspectPend && id) x.pended.push({ ...id });
            return op.inspect ?? WskInspectAccept;
          },
          WskAbortEvent: () => NTSTATUS.STATUS_SUCCESS,
        };
        const family = op.v6 ? AF_INET6 : AF_INET;
        const s = op.stream ? streamSocket(w, { family, dispatch }) : listenSocket(w, { family, dispatch });
        x.s = s;
        listeners.push(x);
        // A small backlog makes overflow resets part of the mix.
        if (op.backlog) w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_BACKLOG, SOL_SOCKET, 4, 1, 0, null, null, irp));
        if (op.inspect !== undefined && !op.stream) w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 4, 1, 0, null, null, irp));
        w.bind(s, op.v6 ? sockaddrIn6("::", op.port) : sockaddrIn("0.0.0.0", op.port));
        if (op.stream) w.call((irp) => streamTable(s).WskListen(s, irp));
        break;
      }
      case "accept": {
        const x = pickL(op.l);
        if (!x) break;
        const a = accept(w, x.s);
        x.accepts.push(a);
        break;
      }
      case "inspectComplete": {
        // The oldest pended request (it may have been aborted or completed since: then the
        // call fails, and that is part of the mix too).
        const x = pickL(op.l);
        const id = x?.pended.shift();
        if (x && id) w.call((irp) => listenTable(x.s).WskInspectComplete(x.s, id, op.accept ? WskInspectAccept : WskInspectReject, irp));
        break;
      }
      case "cancelAccept": {
        const x = pickL(op.l);
        const a = x?.accepts.find((t) => t.completions.length === 0);
        if (a) IoCancelIrp(a.irp);
        break;
      }
      case "acceptEvent": {
        const x = pickL(op.l);
        if (!x) break;
        x.take = op.take;
        enableEvents(w, x.s, op.on ? WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE : WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE);
        break;
      }
      case "closeListener": {
        const x = pickL(op.l);
        if (x) w.close(x.s);
        break;
      }
      case "dial": {
        // A client connects to a listener's port (one that may be closed by now).
        const x = pickL(op.l);
        if (!x || clients.length >= 8) break;
        const c = new RemoteClient(w.h, { v6: x.v6, srcPort: 41000 + clients.length, dstPort: x.port, iss: 1000 * (clients.length + 1) });
        clients.push(c);
        c.syn();
        if (op.complete && c.synAck()) c.ack();
        break;
      }
      case "client": {
        const c = clients.length === 0 ? undefined : clients[op.c % clients.length];
        if (!c || !c.synAck()) break;
        if (op.kind === "ack") c.ack();
        else if (op.kind === "data") c.data("abc");
        else if (op.kind === "fin") c.fin();
        else c.rst();
        break;
      }
    }
    // Sockets handed out through completed WskAccept IRPs join the pool.
    for (const x of listeners) {
      for (const a of x.accepts) {
        const sock = a.completions[0]?.information as WSK_SOCKET | undefined;
        if (a.completions[0]?.status === NTSTATUS.STATUS_SUCCESS && sock && !accepted.has(sock)) adopt(sock, x.v6);
      }
    }
    check();
  }
  // Close everything; let TIME-WAIT and any lingering timer run out.
  for (const x of sockets) w.close(x.s);
  for (const s of accepted) w.close(s);
  for (const x of listeners) w.close(x.s);
  w.h.advance(10 * 60_000);
  check();
  for (const t of w.irps) expect(t.completions.length, "every IRP completes exactly once").toBe(1);
  expect(w.wsk.openSockets).toBe(0);
  expect(w.h.stack.connectionCount).toBe(0);
  expect(w.h.stack.pendingTimers).toBe(0);
  expect(w.h.stack.boundPorts).toBe(0);
}

/** Operations on the listening side, with those that reach the sockets listeners hand out. */
const listenOpArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("dial" as const), l: fc.nat(3), complete: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("client" as const), c: fc.nat(7), kind: fc.constantFrom("ack" as const, "data" as const, "fin" as const, "rst" as const) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("accept" as const), l: fc.nat(3) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("cancelAccept" as const), l: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("acceptEvent" as const), l: fc.nat(3), on: fc.boolean(), take: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("closeListener" as const), l: fc.nat(3) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("listen" as const),
      v6: fc.boolean(),
      stream: fc.boolean(),
      port: fc.constantFrom(6000 as const, 6001 as const),
      backlog: fc.boolean(),
      inspect: fc.option(fc.constantFrom<WSK_INSPECT_ACTION>(WskInspectAccept, WskInspectReject, WskInspectPend), { nil: undefined }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("inspectComplete" as const), l: fc.nat(3), accept: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("send" as const), s: fc.nat(9) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("recv" as const), s: fc.nat(9) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("disconnect" as const), s: fc.nat(9), abortive: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("close" as const), s: fc.nat(9) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("time" as const), ms: fc.constantFrom(1, 100, 500, 1000, 3000, 30_000) }), weight: 2 },
);

/** Two listeners to start with: a listening socket (IPv4) and a stream socket after WskListen (IPv6). */
const START: Op[] = [
  { op: "listen", v6: false, stream: false, port: 6000, backlog: false },
  { op: "listen", v6: true, stream: true, port: 6001, backlog: false },
];
/** The same with the IPv4 listener in conditional accept, pending every request for WskInspectComplete. */
const START_CONDITIONAL: Op[] = [
  { op: "listen", v6: false, stream: false, port: 6000, backlog: false, inspect: WskInspectPend },
  { op: "listen", v6: true, stream: true, port: 6001, backlog: false },
];

describe("model-based: listening and stream sockets (WskAccept, WskAcceptEvent, clients that connect, reset and close)", () => {
  for (const profile of ["windows", "windows7", "linux", "freebsd", "rfc"] as ProfileName[]) {
    it(`${profile}: every IRP completes exactly once; accepted and rejected sockets leak nothing`, () => {
      fc.assert(
        fc.property(fc.array(listenOpArb, { minLength: 5, maxLength: 80, size: "medium" }), (ops) => runModel(profile, [...START, ...ops])),
        { numRuns: 100, seed: 0x1157e + profile.length },
      );
    });
    it(`${profile}, conditional accept (WskInspectEvent pends, WskInspectComplete accepts or rejects, WskAbortEvent): every IRP completes exactly once, nothing leaks`, () => {
      fc.assert(
        fc.property(fc.array(listenOpArb, { minLength: 5, maxLength: 80, size: "medium" }), (ops) => runModel(profile, [...START_CONDITIONAL, ...ops])),
        { numRuns: 60, seed: 0xc0d1 + profile.length },
      );
    });
  }
});

describe("model-based: random interleavings of WSK calls, cancels, closes, segments, ICMP and time", () => {
  for (const profile of ["windows", "windows7", "linux", "freebsd", "rfc"] as ProfileName[]) {
    it(`${profile}: IRPs complete exactly once with documented statuses (docs/ntstatus.md); nothing leaks`, () => {
      fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runModel(profile, ops)), { numRuns: 150, seed: 0x5eed + profile.length });
    });
  }
});
