// Listening sockets (WSK_FLAG_LISTEN_SOCKET) and stream sockets (WSK_FLAG_STREAM_SOCKET)
// through IRPs, in virtual time: WskBind starts listening, WskAccept before and after the
// connection arrives, WskAcceptEvent, close and cancel with accepts pending, a client that
// resets, the backlog, conditional accept (WskInspectEvent, WskInspectComplete,
// WskAbortEvent), and the stream-socket rule of the WskConnect and WskListen pages.
import { describe, expect, it } from "vitest";
import { WskTest, AF_INET, AF_INET6, sockaddrIn } from "../helpers/wsk.js";
import { RemoteClient } from "../helpers/remote-client.js";
import { accept, enableEvents, listenSocket, listenTable, listening, streamSocket, streamTable } from "../helpers/wsk-listen.js";
import { IoCancelIrp } from "../../src/wsk/irp.js";
import { NTSTATUS } from "../../src/wsk/ntstatus.js";
import {
  SOL_SOCKET,
  SO_CONDITIONAL_ACCEPT,
  WSK_EVENT_ACCEPT,
  WSK_EVENT_DISABLE,
  WSK_EVENT_DISCONNECT,
  WSK_EVENT_RECEIVE,
  WSK_FLAG_ABORTIVE,
  WskInspectAccept,
  WskInspectPend,
  WskInspectReject,
  type WSK_INSPECT_ACTION,
  type WSK_INSPECT_ID,
  TCP_TIMESTAMPS,
  IPPROTO_TCP,
  WskGetOption,
  WskSetOption,
} from "../../src/wsk/constants.js";
import { SYNACK_SO_BACKLOG, SYNACK_SO_PROFILE, SYNACK_SO_PROFILE_OVERRIDES, type WSK_CLIENT_CONNECTION_DISPATCH, type WSK_SOCKET } from "../../src/wsk/provider.js";
import type { PFN_WSK_ACCEPT_EVENT, WSK_CLIENT_LISTEN_DISPATCH } from "../../src/wsk/provider.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";
import type { Sent } from "../helpers/vt.js";

const {
  STATUS_SUCCESS,
  STATUS_PENDING,
  STATUS_CANCELLED,
  STATUS_INVALID_DEVICE_STATE,
  STATUS_INVALID_PARAMETER,
  STATUS_NOT_SUPPORTED,
  STATUS_FILE_FORCED_CLOSED,
  STATUS_CONNECTION_RESET,
  STATUS_REQUEST_NOT_ACCEPTED,
  STATUS_NETWORK_UNREACHABLE,
  STATUS_ADDRESS_ALREADY_ASSOCIATED,
} = NTSTATUS;

const bytes = (s: string) => new TextEncoder().encode(s);

function recv(w: WskTest, s: WSK_SOCKET, n = 100) {
  const buf = new Uint8Array(n);
  const t = w.call((irp) => s.Dispatch.WskReceive(s, { Mdl: buf, Offset: 0, Length: n }, 0, irp));
  return { t, text: () => new TextDecoder().decode(buf.subarray(0, (t.completions[0]?.information as number) ?? 0)) };
}

function send(w: WskTest, s: WSK_SOCKET, text: string) {
  const b = bytes(text);
  return w.call((irp) => s.Dispatch.WskSend(s, { Mdl: b, Offset: 0, Length: b.length }, 0, irp));
}

describe("listening socket: WskSocket and WskBind", () => {
  it("has the listen dispatch table and starts listening when bound", () => {
    const w = new WskTest();
    const s = listenSocket(w);
    const d = listenTable(s);
    expect(Object.keys(d)).toEqual(["WskControlSocket", "WskCloseSocket", "WskBind", "WskAccept", "WskInspectComplete", "WskGetLocalAddress"]);
    // Not bound yet: the port is closed, a SYN gets RST.
    const early = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    early.syn();
    expect(early.segments().map((x) => x.flags)).toEqual(["R."]);
    expect(w.bind(s, sockaddrIn("0.0.0.0", 5000)).returned).toBe(STATUS_SUCCESS);
    const c = new RemoteClient(w.h, { srcPort: 40001, dstPort: 5000 });
    c.syn();
    expect(c.segments().map((x) => x.flags)).toEqual(["S."]);
    const la: Record<string, unknown> = {};
    expect(w.call((irp) => d.WskGetLocalAddress(s, la, irp)).returned).toBe(STATUS_SUCCESS);
    expect(la).toMatchObject({ sin_family: AF_INET, sin_port: 5000, sin_addr: "0.0.0.0" });
  });

  it("refuses a second listener on the same port and frees the port when closed", () => {
    const w = new WskTest();
    const a = listening(w, 5000);
    const b = listenSocket(w);
    expect(w.bind(b, sockaddrIn("0.0.0.0", 5000)).returned).toBe(STATUS_ADDRESS_ALREADY_ASSOCIATED);
    w.close(a);
    expect(w.bind(b, sockaddrIn("0.0.0.0", 5000)).returned).toBe(STATUS_SUCCESS);
    w.close(b);
    expect(w.wsk.openSockets).toBe(0);
    expect(w.h.stack.boundPorts).toBe(0);
  });

  it("port 0 listens on an ephemeral port that WskGetLocalAddress names", () => {
    const w = new WskTest();
    const s = listening(w, 0);
    const la: Record<string, unknown> = {};
    w.call((irp) => listenTable(s).WskGetLocalAddress(s, la, irp));
    const port = la.sin_port as number;
    expect(port).toBeGreaterThan(0);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: port });
    c.syn();
    expect(c.synAck()).toBeDefined();
  });

  it("an AF_INET listener does not answer IPv6 SYNs, and an AF_INET6 one not IPv4 SYNs", () => {
    const w = new WskTest();
    listening(w, 5000);
    listening(w, 5001, { family: AF_INET6 });
    const v6to4 = new RemoteClient(w.h, { v6: true, srcPort: 40000, dstPort: 5000 });
    v6to4.syn();
    expect(v6to4.segments().map((x) => x.flags)).toEqual(["R."]);
    const v4to6 = new RemoteClient(w.h, { srcPort: 40001, dstPort: 5001 });
    v4to6.syn();
    expect(v4to6.segments().map((x) => x.flags)).toEqual(["R."]);
    const v6 = new RemoteClient(w.h, { v6: true, srcPort: 40002, dstPort: 5001 });
    v6.syn();
    expect(v6.segments().map((x) => x.flags)).toEqual(["S."]);
  });

  it("a listener bound to one address answers only there", () => {
    const w = new WskTest({ addresses: ["10.0.0.2/24", "10.0.0.3/24"] });
    listening(w, 5000, { addr: "10.0.0.3" });
    const other = new RemoteClient(w.h, { dst: "10.0.0.2", srcPort: 40000, dstPort: 5000 });
    other.syn();
    expect(other.segments().map((x) => x.flags)).toEqual(["R."]);
    const mine = new RemoteClient(w.h, { dst: "10.0.0.3", srcPort: 40001, dstPort: 5000 });
    mine.syn();
    expect(mine.segments().map((x) => x.flags)).toEqual(["S."]);
  });
});

describe("WskAccept", () => {
  it("before the connection arrives: STATUS_PENDING, then the socket and both addresses", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const a = accept(w, s, { context: "conn-ctx" });
    expect(a.returned).toBe(STATUS_PENDING);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    expect(a.completions).toEqual([]); // SYN-RECEIVED is not a connection yet
    c.ack();
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]);
    const conn = a.completions[0].information as WSK_SOCKET;
    expect(Object.keys(conn.Dispatch)).toContain("WskSend");
    expect(a.local).toMatchObject({ sin_family: AF_INET, sin_addr: "10.0.0.2", sin_port: 5000 });
    expect(a.remote).toMatchObject({ sin_family: AF_INET, sin_addr: "10.0.0.1", sin_port: 40000 });
    const ra: Record<string, unknown> = {};
    expect(w.call((irp) => conn.Dispatch.WskGetRemoteAddress(conn, ra, irp)).returned).toBe(STATUS_SUCCESS);
    expect(ra).toMatchObject({ sin_addr: "10.0.0.1", sin_port: 40000 });
    const la: Record<string, unknown> = {};
    w.call((irp) => conn.Dispatch.WskGetLocalAddress(conn, la, irp));
    expect(la).toMatchObject({ sin_addr: "10.0.0.2", sin_port: 5000 });
    // The connection carries data both ways.
    const r = recv(w, conn);
    expect(r.t.returned).toBe(STATUS_PENDING);
    c.data("hello");
    expect(r.t.completions[0]).toMatchObject({ status: STATUS_SUCCESS, information: 5 });
    expect(r.text()).toBe("hello");
    const sent = send(w, conn, "world");
    c.ackAll();
    expect(sent.completions[0]).toMatchObject({ status: STATUS_SUCCESS, information: 5 });
    expect(c.received()).toBe("world");
    w.assertOnce(true);
  });

  it("after the connection arrived: completes at once with data that came with the final ACK", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    c.ack(bytes("early"));
    const a = accept(w, s);
    expect(a.returned).toBe(STATUS_SUCCESS);
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]); // completed before WskAccept returned
    const conn = a.completions[0].information as WSK_SOCKET;
    const r = recv(w, conn);
    expect(r.t.returned).toBe(STATUS_SUCCESS);
    expect(r.text()).toBe("early");
  });

  it("hands connections out in arrival order, one per WskAccept", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    for (const port of [40001, 40002, 40003]) new RemoteClient(w.h, { srcPort: port, dstPort: 5000 }).connect();
    const ports = [accept(w, s), accept(w, s), accept(w, s)].map((a) => a.remote.sin_port);
    expect(ports).toEqual([40001, 40002, 40003]);
    expect(accept(w, s).returned).toBe(STATUS_PENDING);
  });

  it("IPv6: the accepted socket has SOCKADDR_IN6 addresses", () => {
    const w = new WskTest();
    const s = listening(w, 5000, { family: AF_INET6 });
    const a = accept(w, s);
    new RemoteClient(w.h, { v6: true, srcPort: 40000, dstPort: 5000 }).connect();
    expect(a.completions[0].status).toBe(STATUS_SUCCESS);
    expect(a.local).toMatchObject({ sin6_family: AF_INET6, sin6_addr: "fd00::2", sin6_port: 5000 });
    expect(a.remote).toMatchObject({ sin6_family: AF_INET6, sin6_addr: "fd00::1", sin6_port: 40000 });
  });

  it("Flags must be zero; a connection socket or an unbound listener has nothing to accept", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    expect(accept(w, s, { flags: 1 }).returned).toBe(STATUS_INVALID_PARAMETER);
    const unbound = listenSocket(w);
    expect(accept(w, unbound).returned).toBe(STATUS_INVALID_DEVICE_STATE);
    const conn = w.socket();
    expect("WskAccept" in conn.Dispatch).toBe(false);
    expect(w.call((irp) => w.wsk.WskAccept(conn, 0, null, null, null, null, irp)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
  });

  it("IoCancelIrp on a pending WskAccept: STATUS_CANCELLED; the next connection waits for the next WskAccept", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const a = accept(w, s);
    expect(IoCancelIrp(a.irp)).toBe(true);
    expect(a.completions).toEqual([{ status: STATUS_CANCELLED, information: 0, t: 0 }]);
    new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 }).connect();
    expect(a.completions.length).toBe(1);
    const b = accept(w, s);
    expect(b.returned).toBe(STATUS_SUCCESS);
    w.assertOnce();
  });

  it("a client that resets after the handshake: WskAccept still hands the socket over, its receive fails with STATUS_CONNECTION_RESET", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.connect();
    c.rst();
    const a = accept(w, s);
    expect(a.returned).toBe(STATUS_SUCCESS);
    const conn = a.completions[0].information as WSK_SOCKET;
    expect(recv(w, conn).t.returned).toBe(STATUS_CONNECTION_RESET);
    w.close(conn);
    w.close(s);
    expect(w.wsk.openSockets).toBe(0);
    expect(w.h.stack.connectionCount).toBe(0);
  });

  it("a client that resets in SYN-RECEIVED leaves nothing to accept", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const a = accept(w, s);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    c.synAck();
    c.rst();
    expect(w.h.stack.connectionCount).toBe(0);
    expect(a.completions).toEqual([]);
    w.close(s);
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_CANCELLED]);
  });
});

describe("WskAcceptEvent", () => {
  function withEvent(result: (args: Parameters<PFN_WSK_ACCEPT_EVENT>) => number) {
    const w = new WskTest();
    const calls: Array<Parameters<PFN_WSK_ACCEPT_EVENT>> = [];
    const dispatch: WSK_CLIENT_LISTEN_DISPATCH = {
      WskAcceptEvent: (...args) => {
        calls.push(args);
        return result(args);
      },
    };
    const s = listening(w, 5000, { dispatch, context: "L" });
    return { w, s, calls };
  }

  it("is called with the listening socket's context, both addresses and the socket; STATUS_SUCCESS takes it", () => {
    const received: string[] = [];
    const connDispatch: WSK_CLIENT_CONNECTION_DISPATCH = {
      WskReceiveEvent: (ctx, _f, ind, n, acc) => {
        received.push(`${ctx}:${new TextDecoder().decode(ind!.Buffer.Mdl.subarray(0, n))}`);
        acc.value = n;
        return STATUS_SUCCESS;
      },
    };
    const { w, s, calls } = withEvent((args) => {
      args[5].value = "C1";
      args[6].value = connDispatch;
      return STATUS_SUCCESS;
    });
    // Receive events enabled on the listening socket start enabled on what it accepts.
    expect(enableEvents(w, s, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE)).toBe(STATUS_SUCCESS);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.connect();
    expect(calls.length).toBe(1);
    const [ctx, flags, local, remote, sock] = calls[0];
    expect([ctx, flags]).toEqual(["L", 0]);
    expect(local).toMatchObject({ sin_addr: "10.0.0.2", sin_port: 5000 });
    expect(remote).toMatchObject({ sin_addr: "10.0.0.1", sin_port: 40000 });
    expect(sock).not.toBeNull();
    c.data("ping");
    expect(received).toEqual(["C1:ping"]);
    expect(w.wsk.openSockets).toBe(2);
  });

  it("STATUS_REQUEST_NOT_ACCEPTED: the provider closes the accepted socket for the application (RST)", () => {
    const { w, s, calls } = withEvent(() => STATUS_REQUEST_NOT_ACCEPTED);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.connect();
    // Not enabled yet: nothing is indicated, the connection waits.
    expect(calls.length).toBe(0);
    expect(w.wsk.openSockets).toBe(2);
    // Enabling the event indicates the waiting connection at once.
    expect(enableEvents(w, s, WSK_EVENT_ACCEPT)).toBe(STATUS_SUCCESS);
    expect(calls.length).toBe(1);
    expect(c.segments().at(-1)!.flags).toMatch(/^R/);
    expect(w.wsk.openSockets).toBe(1);
    expect(w.h.stack.connectionCount).toBe(0);
    // A later WskAccept waits for the next connection: the rejected one is gone.
    expect(accept(w, s).returned).toBe(STATUS_PENDING);
  });

  it("a pending WskAccept takes precedence over the event", () => {
    const { w, s, calls } = withEvent(() => STATUS_SUCCESS);
    enableEvents(w, s, WSK_EVENT_ACCEPT);
    const a = accept(w, s);
    new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 }).connect();
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]);
    expect(calls.length).toBe(0);
    new RemoteClient(w.h, { srcPort: 40001, dstPort: 5000 }).connect();
    expect(calls.length).toBe(1);
    expect(calls[0][3]).toMatchObject({ sin_port: 40001 });
  });

  it("disabled again: connections wait for WskAccept", () => {
    const { w, s, calls } = withEvent(() => STATUS_SUCCESS);
    enableEvents(w, s, WSK_EVENT_ACCEPT);
    enableEvents(w, s, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE);
    new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 }).connect();
    expect(calls.length).toBe(0);
    expect(accept(w, s).returned).toBe(STATUS_SUCCESS);
  });

  it("a FIN before the hand-over reaches an inherited WskDisconnectEvent", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    enableEvents(w, s, WSK_EVENT_DISCONNECT);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.connect();
    c.fin();
    const events: Array<[unknown, number]> = [];
    const a = accept(w, s, { context: "A", dispatch: { WskDisconnectEvent: (ctx, f) => (events.push([ctx, f]), STATUS_SUCCESS) } });
    expect(a.returned).toBe(STATUS_SUCCESS);
    expect(events).toEqual([["A", 0]]);
  });

  it("a connection socket cannot enable WSK_EVENT_ACCEPT", () => {
    const w = new WskTest();
    const conn = w.socket();
    expect(enableEvents(w, conn, WSK_EVENT_ACCEPT)).toBe(STATUS_INVALID_PARAMETER);
  });
});

describe("WskCloseSocket on a listening socket", () => {
  it("completes pending WskAccept IRPs with STATUS_CANCELLED and resets what was not accepted", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const other = listening(w, 5001);
    const pending = accept(w, other);
    // One connection waiting in the queue, one still in SYN-RECEIVED.
    const queued = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    queued.connect();
    const half = new RemoteClient(w.h, { srcPort: 40001, dstPort: 5000 });
    half.syn();
    // An accepted connection lives on after its listener closes.
    const kept = new RemoteClient(w.h, { srcPort: 40002, dstPort: 5001 });
    kept.connect();
    const keptSock = pending.completions[0].information as WSK_SOCKET;
    const p2 = accept(w, other);
    expect(p2.returned).toBe(STATUS_PENDING);
    expect(w.close(s).returned).toBe(STATUS_SUCCESS);
    expect(queued.segments().at(-1)!.flags).toMatch(/^R/);
    expect(half.segments().at(-1)!.flags).toMatch(/^R/);
    expect(w.close(other).returned).toBe(STATUS_SUCCESS);
    expect(p2.completions).toEqual([{ status: STATUS_CANCELLED, information: 0, t: 0 }]);
    expect(kept.segments().some((x) => x.flags.startsWith("R"))).toBe(false);
    expect(send(w, keptSock, "still here").returned).toBe(STATUS_PENDING);
    // After the close every call fails with STATUS_FILE_FORCED_CLOSED.
    expect(accept(w, s).returned).toBe(STATUS_FILE_FORCED_CLOSED);
    w.close(keptSock);
    w.h.advance(600_000);
    w.assertOnce();
    expect(w.wsk.openSockets).toBe(0);
    expect(w.h.stack.connectionCount).toBe(0);
    expect(w.h.stack.boundPorts).toBe(0);
    expect(w.h.stack.pendingTimers).toBe(0);
  });

  it("a SYN after the close gets RST", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    w.close(s);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    expect(c.segments().map((x) => x.flags)).toEqual(["R."]);
  });
});

describe("backlog", () => {
  it("SYNACK_SO_BACKLOG bounds the connections waiting for WskAccept; one more is refused (windows: RST to its SYN)", () => {
    const w = new WskTest();
    const s = listenSocket(w);
    const out: { value?: unknown } = {};
    w.call((irp) => s.Dispatch.WskControlSocket(s, WskGetOption, SYNACK_SO_BACKLOG, SOL_SOCKET, 0, null, 4, out, null, irp));
    expect(out.value).toBe(200); // the windows profile's default
    expect(w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_BACKLOG, SOL_SOCKET, 4, 2, 0, null, null, irp)).returned).toBe(STATUS_SUCCESS);
    w.bind(s, sockaddrIn("0.0.0.0", 5000));
    const cs = [40000, 40001, 40002].map((p) => new RemoteClient(w.h, { srcPort: p, dstPort: 5000 }));
    for (const c of cs.slice(0, 2)) c.connect();
    cs[2].syn();
    expect(cs[2].synAck()).toBeUndefined();
    expect(cs.map((c) => c.segments().some((x) => x.flags.startsWith("R")))).toEqual([false, false, true]);
    expect([accept(w, s).returned, accept(w, s).returned, accept(w, s).returned]).toEqual([STATUS_SUCCESS, STATUS_SUCCESS, STATUS_PENDING]);
  });
});

describe("options of a listening socket", () => {
  it("set before WskBind they apply to every accepted connection; after it they fail", () => {
    const w = new WskTest();
    const s = listenSocket(w);
    const ctl = (code: number, level: number, value: unknown) => w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, code, level, 4, value, 0, null, null, irp)).returned;
    expect(ctl(TCP_TIMESTAMPS, IPPROTO_TCP, 0)).toBe(STATUS_SUCCESS);
    w.bind(s, sockaddrIn("0.0.0.0", 5000));
    expect(ctl(TCP_TIMESTAMPS, IPPROTO_TCP, 1)).toBe(STATUS_INVALID_DEVICE_STATE);
    expect(ctl(SYNACK_SO_PROFILE, SOL_SOCKET, "linux")).toBe(STATUS_INVALID_DEVICE_STATE);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn([{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 1, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 7 }]);
    const sa = c.synAck()!;
    expect(sa.options).not.toContain("TS");
    expect(sa.options).toContain("sackOK");
  });
});

describe("conditional accept (SO_CONDITIONAL_ACCEPT, WskInspectEvent, WskInspectComplete, WskAbortEvent)", () => {
  type Inspect = NonNullable<WSK_CLIENT_LISTEN_DISPATCH["WskInspectEvent"]>;
  function conditional(decide: (...args: Parameters<Inspect>) => WSK_INSPECT_ACTION, overrides?: object) {
    const w = new WskTest();
    const inspected: Array<Parameters<Inspect>> = [];
    const aborted: WSK_INSPECT_ID[] = [];
    const dispatch: WSK_CLIENT_LISTEN_DISPATCH = {
      WskInspectEvent: (...args) => {
        // The ID is valid only during the call: copied, as the WSK_INSPECT_ID page asks.
        inspected.push([args[0], { ...args[1] }, { ...args[2] }, args[3] && { ...args[3] }]);
        return decide(...args);
      },
      WskAbortEvent: (_ctx, id) => {
        aborted.push({ ...id });
        return STATUS_SUCCESS;
      },
    };
    const s = listenSocket(w, { dispatch, context: "L" });
    expect(setConditional(w, s, 1)).toBe(STATUS_SUCCESS);
    if (overrides) expect(w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SYNACK_SO_PROFILE_OVERRIDES as never, SOL_SOCKET, 0, overrides, 0, null, null, irp)).returned).toBe(STATUS_SUCCESS);
    expect(w.bind(s, sockaddrIn("0.0.0.0", 5000)).returned).toBe(STATUS_SUCCESS);
    const complete = (id: WSK_INSPECT_ID, action: number) => w.call((irp) => listenTable(s).WskInspectComplete(s, id, action as WSK_INSPECT_ACTION, irp));
    return { w, s, inspected, aborted, complete };
  }
  const setConditional = (w: WskTest, s: WSK_SOCKET, v: number) => w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 4, v, 0, null, null, irp)).returned;

  it("the option: listening sockets only, set before WskBind, read back; WskInspectComplete on a listener without it fails", () => {
    const w = new WskTest();
    const s = listenSocket(w);
    expect(setConditional(w, s, 1)).toBe(STATUS_SUCCESS);
    const out = { value: undefined as unknown };
    const get = w.call((irp) => s.Dispatch.WskControlSocket(s, WskGetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 0, null, 4, out, null, irp));
    expect(get.returned).toBe(STATUS_SUCCESS);
    expect(out.value).toBe(1);
    w.bind(s, sockaddrIn("0.0.0.0", 5000));
    expect(setConditional(w, s, 0)).toBe(STATUS_INVALID_DEVICE_STATE);
    expect(setConditional(w, w.socket(), 1)).toBe(STATUS_NOT_SUPPORTED);
    expect(setConditional(w, streamSocket(w), 1)).toBe(STATUS_NOT_SUPPORTED);
    const plain = listening(w, 5001);
    expect(w.call((irp) => listenTable(plain).WskInspectComplete(plain, { Key: 0, SerialNumber: 0 }, WskInspectAccept, irp)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
  });

  it("WskInspectAccept: WskInspectEvent sees the request before anything is sent; the SYN-ACK follows, WskAccept hands the connection over", () => {
    let sentBefore = -1;
    const { w, s, inspected } = conditional(() => {
      sentBefore = w.h.sent.length;
      return WskInspectAccept;
    });
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    expect(sentBefore).toBe(0);
    expect(inspected).toHaveLength(1);
    const [ctx, local, remote, id] = inspected[0];
    expect(ctx).toBe("L");
    expect(local).toMatchObject({ sin_addr: "10.0.0.2", sin_port: 5000 });
    expect(remote).toMatchObject({ sin_addr: "10.0.0.1", sin_port: 40000 });
    expect(id).toMatchObject({ Key: expect.any(Number), SerialNumber: expect.any(Number) });
    expect(c.synAck()).toBeDefined();
    c.ack();
    const a = accept(w, s);
    expect(a.returned).toBe(STATUS_SUCCESS);
    expect(a.remote).toMatchObject({ sin_port: 40000 });
  });

  it("WskInspectReject: the SYN is refused with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>; nothing to accept", () => {
    const { w, s } = conditional(() => WskInspectReject);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000, iss: 7000 });
    c.syn();
    const seg = c.segments();
    expect(seg.map((x) => x.flags)).toEqual(["R."]);
    expect([seg[0].tcp.seq, seg[0].tcp.ack]).toEqual([0, 7001]);
    expect(w.h.stack.connectionCount).toBe(0);
    expect(accept(w, s).returned).toBe(STATUS_PENDING);
  });

  it("WskInspectPend: the SYN waits unanswered (its retransmission too) until WskInspectComplete accepts; an ID completes once", () => {
    const { w, s, inspected, complete } = conditional(() => WskInspectPend);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    w.h.advance(1000);
    c.syn(); // the client's SYN retransmission: still deciding, dropped
    expect(c.segments()).toEqual([]);
    expect(inspected).toHaveLength(1);
    expect(w.h.stack.stats.drops["listener: syn held for inspection"]).toBe(1);
    const id = inspected[0][3]!;
    expect(complete(id, WskInspectPend).returned).toBe(STATUS_INVALID_PARAMETER);
    expect(complete({ ...id, Key: id.Key + 1 }, WskInspectAccept).returned).toBe(STATUS_INVALID_PARAMETER);
    const a = accept(w, s);
    expect(a.returned).toBe(STATUS_PENDING);
    const done = complete(id, WskInspectAccept);
    expect(done.returned).toBe(STATUS_SUCCESS);
    expect(done.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]);
    expect(c.synAck()).toBeDefined();
    c.ack();
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]);
    expect(complete(id, WskInspectAccept).returned).toBe(STATUS_INVALID_PARAMETER);
  });

  it("WskInspectPend, then WskInspectComplete rejects: RST,ACK to the held SYN", () => {
    const { w, inspected, complete } = conditional(() => WskInspectPend);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000, iss: 500 });
    c.syn();
    expect(complete(inspected[0][3]!, WskInspectReject).returned).toBe(STATUS_SUCCESS);
    expect(c.segments().map((x) => [x.flags, x.tcp.ack])).toEqual([["R.", 501]]);
  });

  it("WskAbortEvent: a pended request the client resets, and an accepted one whose SYN-ACKs go unanswered; WskInspectComplete then fails", () => {
    let action: WSK_INSPECT_ACTION = WskInspectPend;
    const { w, inspected, aborted, complete } = conditional(() => action);
    const c1 = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c1.syn();
    c1.rst();
    expect(aborted).toEqual([inspected[0][3]]);
    expect(complete(inspected[0][3]!, WskInspectAccept).returned).toBe(STATUS_INVALID_PARAMETER);
    expect(c1.segments()).toEqual([]);
    action = WskInspectAccept;
    const c2 = new RemoteClient(w.h, { srcPort: 40001, dstPort: 5000 });
    c2.syn();
    expect(c2.synAck()).toBeDefined();
    w.h.advance(120_000); // windows: SYN-ACKs at 0, 3, 9 s, then the half-open connection is dropped
    expect(aborted).toEqual([inspected[0][3], inspected[1][3]]);
    expect(w.h.stack.connectionCount).toBe(0);
  });

  it("pended requests count against halfOpenLimit: a newer SYN pushes the oldest out (WskAbortEvent), a SYN flood cannot pile up held SYNs", () => {
    const { w, inspected, aborted, complete } = conditional(() => WskInspectPend, { halfOpenLimit: 2 });
    for (let i = 0; i < 5; i++) new RemoteClient(w.h, { srcPort: 40000 + i, dstPort: 5000 }).syn();
    expect(inspected).toHaveLength(5);
    expect(aborted).toEqual(inspected.slice(0, 3).map((x) => x[3]));
    expect(complete(inspected[0][3]!, WskInspectAccept).returned).toBe(STATUS_INVALID_PARAMETER);
    expect(complete(inspected[4][3]!, WskInspectAccept).returned).toBe(STATUS_SUCCESS);
    expect(w.h.sent.map((x) => [x.flags, x.tcp.dstPort])).toEqual([["S.", 40004]]);
  });

  it("WskCloseSocket with a request pended: the client gets RST,ACK, no WskAbortEvent; the socket's ID is gone", () => {
    const { w, s, inspected, aborted, complete } = conditional(() => WskInspectPend);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.syn();
    expect(w.close(s).returned).toBe(STATUS_SUCCESS);
    expect(c.segments().map((x) => x.flags)).toEqual(["R."]);
    expect(aborted).toEqual([]);
    expect(complete(inspected[0][3]!, WskInspectAccept).returned).toBe(STATUS_FILE_FORCED_CLOSED);
    expect(w.wsk.openSockets).toBe(0);
  });
});

describe("stream sockets (WskListen and the WskConnect page's rule)", () => {
  it("has the stream dispatch table; WskListen needs WskBind first", () => {
    const w = new WskTest();
    const s = streamSocket(w);
    expect(Object.keys(s.Dispatch)).toEqual([
      "WskControlSocket", "WskCloseSocket", "WskBind", "WskAccept", "WskConnect", "WskListen", "WskSend", "WskReceive", "WskDisconnect", "WskRelease", "WskGetLocalAddress", "WskGetRemoteAddress",
    ]);
    const d = streamTable(s);
    expect(w.call((irp) => d.WskListen(s, irp)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
    expect(accept(w, s).returned).toBe(STATUS_INVALID_DEVICE_STATE);
    w.bind(s, sockaddrIn("0.0.0.0", 5000));
    // Bound but not listening: the port answers SYNs with RST.
    const early = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    early.syn();
    expect(early.segments().map((x) => x.flags)).toEqual(["R."]);
    expect(w.call((irp) => d.WskListen(s, irp)).returned).toBe(STATUS_SUCCESS);
    expect(w.call((irp) => d.WskListen(s, irp)).returned).toBe(STATUS_SUCCESS); // again: no-op
    const a = accept(w, s);
    new RemoteClient(w.h, { srcPort: 40001, dstPort: 5000 }).connect();
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]);
  });

  it("once listening it never connects: WskConnect, WskSend and WskReceive fail with STATUS_INVALID_DEVICE_STATE", () => {
    const w = new WskTest();
    const s = streamSocket(w);
    w.bind(s, sockaddrIn("0.0.0.0", 5000));
    w.call((irp) => streamTable(s).WskListen(s, irp));
    const c = w.connect(s, sockaddrIn("10.0.0.1", 80));
    expect(c.returned).toBe(STATUS_INVALID_DEVICE_STATE);
    expect(w.h.sent.filter((x) => x.flags === "S")).toEqual([]); // no SYN left
    expect(send(w, s, "x").returned).toBe(STATUS_INVALID_DEVICE_STATE);
    expect(recv(w, s).t.returned).toBe(STATUS_INVALID_DEVICE_STATE);
  });

  it("after a successful WskConnect it never listens: WskListen fails, during the connect and after it ended", () => {
    const w = new WskTest();
    const s = streamSocket(w);
    w.bind(s);
    const conn = w.connect(s, sockaddrIn("10.0.0.1", 80));
    expect(conn.returned).toBe(STATUS_PENDING);
    expect(w.call((irp) => streamTable(s).WskListen(s, irp)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
    const syn = w.h.sent.find((x) => x.flags === "S")!;
    const server = new RemoteClient(w.h, { srcPort: 80, dstPort: syn.tcp.srcPort, iss: 9000 });
    // Play the server: SYN-ACK to the stack's SYN.
    w.h.inputBytes(buildSynAck(syn, 9000));
    expect(conn.completions.map((x) => x.status)).toEqual([STATUS_SUCCESS]);
    expect(w.call((irp) => streamTable(s).WskListen(s, irp)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
    expect(accept(w, s).returned).toBe(STATUS_INVALID_DEVICE_STATE);
    // The connection ends (RST from the server): still committed to the connection flow.
    server.rst();
    expect(w.call((irp) => streamTable(s).WskListen(s, irp)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
  });

  it("a WskConnect that failed does not commit the socket: it may still listen", () => {
    const w = new WskTest({ wskProfile: "linux" }); // a RST refuses at once
    const s = streamSocket(w);
    w.bind(s, sockaddrIn("0.0.0.0", 5000));
    const conn = w.connect(s, sockaddrIn("10.0.0.1", 80));
    const syn = w.h.sent.find((x) => x.flags === "S")!;
    w.h.inputBytes(buildRstAck(syn));
    expect(conn.completions.map((x) => x.status)).toEqual([NTSTATUS.STATUS_CONNECTION_REFUSED]);
    expect(w.call((irp) => streamTable(s).WskListen(s, irp)).returned).toBe(STATUS_SUCCESS);
  });
});

describe("the network goes away", () => {
  it("failAll completes pending WskAccept IRPs; later ones fail at once", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const a = accept(w, s);
    w.wsk.failAll();
    expect(a.completions.map((x) => x.status)).toEqual([STATUS_NETWORK_UNREACHABLE]);
    expect(accept(w, s).returned).toBe(STATUS_NETWORK_UNREACHABLE);
    w.close(s);
    expect(w.wsk.openSockets).toBe(0);
  });
});

describe("abortive close of an accepted socket", () => {
  it("WskDisconnect(WSK_FLAG_ABORTIVE) resets the client", () => {
    const w = new WskTest();
    const s = listening(w, 5000);
    const c = new RemoteClient(w.h, { srcPort: 40000, dstPort: 5000 });
    c.connect();
    const conn = accept(w, s).completions[0].information as WSK_SOCKET;
    expect(w.call((irp) => conn.Dispatch.WskDisconnect(conn, null, WSK_FLAG_ABORTIVE, irp)).returned).toBe(STATUS_SUCCESS);
    expect(c.segments().at(-1)!.flags).toMatch(/^R/);
    // An accepted socket never connects again.
    expect(w.connect(conn, sockaddrIn("10.0.0.1", 80)).returned).toBe(STATUS_INVALID_DEVICE_STATE);
  });
});

function buildSynAck(syn: Sent, iss: number): Uint8Array {
  return buildTcpPacket({ src: syn.pkt.ip.dst, dst: syn.pkt.ip.src, srcPort: syn.tcp.dstPort, dstPort: syn.tcp.srcPort, seq: iss, ack: (syn.tcp.seq + 1) >>> 0, flags: TCP_SYN | TCP_ACK, window: 65535, options: [{ kind: "mss", value: 1460 }] });
}

function buildRstAck(syn: Sent): Uint8Array {
  return buildTcpPacket({ src: syn.pkt.ip.dst, dst: syn.pkt.ip.src, srcPort: syn.tcp.dstPort, dstPort: syn.tcp.srcPort, seq: 0, ack: (syn.tcp.seq + 1) >>> 0, flags: TCP_RST | TCP_ACK, window: 0 });
}

