// The device under the stack goes away (docs/decisions.md, "The device going away"): WskProvider.failAll completes every pending
// IRP once with a clear status, sends nothing, leaves no connection or timer, and later calls
// fail cleanly; Runtime.onDeviceError tells the provider. Virtual time, no root needed (the
// real TUN deletion is in test/wsk/load-kernel.test.ts).
import { describe, expect, it } from "vitest";
import { WskTest, AF_INET, AF_INET6, sockaddrIn, sockaddrIn6 } from "../helpers/wsk.js";
import { NTSTATUS } from "../../src/wsk/ntstatus.js";
import { TCP_ACK, TCP_SYN } from "../../stack/wire/types.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_DISCONNECT, WSK_FLAG_ABORTIVE, WskSetOption } from "../../src/wsk/constants.js";
import { IPPROTO_TCP, SOCK_STREAM } from "../../src/wsk/sockaddr.js";
import type { WSK_SOCKET } from "../../src/wsk/provider.js";
import { MemoryLink } from "../../device/memory.js";
import { Runtime } from "../../device/runtime.js";
import { Stack } from "../../stack/stack.js";

const S = NTSTATUS;

function establish(w: WskTest, s: WSK_SOCKET) {
  w.bind(s);
  const c = w.connect(s, sockaddrIn("10.0.0.1", 80));
  const syn = w.h.sent.filter((x) => x.flags === "S").at(-1)!;
  w.h.inputBytes(
    buildTcpPacket({ src: "10.0.0.1", dst: syn.pkt.ip.src, srcPort: 80, dstPort: syn.tcp.srcPort, seq: 1000, ack: syn.tcp.seq + 1, flags: TCP_SYN | TCP_ACK, window: 65535 }),
  );
  expect(c.completions.map((x) => x.status)).toEqual([S.STATUS_SUCCESS]);
}

describe("WskProvider.failAll (the device went away)", () => {
  it("pending connects -> STATUS_NETWORK_UNREACHABLE; IRPs of an established connection -> STATUS_CONNECTION_ABORTED + abortive disconnect event; nothing sent", () => {
    const w = new WskTest();
    const events: number[] = [];
    const est = w.socket(AF_INET, { WskDisconnectEvent: (_c, f) => (events.push(f), S.STATUS_SUCCESS) });
    w.call((irp) => est.Dispatch.WskControlSocket(est, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0, { EventMask: WSK_EVENT_DISCONNECT }, 0, null, null, irp));
    establish(w, est);
    const recv = w.call((irp) => est.Dispatch.WskReceive(est, { Mdl: new Uint8Array(8), Offset: 0, Length: 8 }, 0, irp));
    const send = w.call((irp) => est.Dispatch.WskSend(est, { Mdl: new Uint8Array([1, 2, 3]), Offset: 0, Length: 3 }, 0, irp));
    const pending: ReturnType<WskTest["connect"]>[] = [];
    const socks: WSK_SOCKET[] = [];
    for (let i = 0; i < 3; i++) {
      const s = w.socket(AF_INET);
      w.bind(s);
      pending.push(w.connect(s, sockaddrIn("10.0.0.9", 443)));
      socks.push(s);
    }
    const s6 = w.socket(AF_INET6);
    w.bind(s6, sockaddrIn6("::", 0));
    pending.push(w.connect(s6, sockaddrIn6("fd00::9", 443)));
    expect(pending.every((p) => p.returned === S.STATUS_PENDING)).toBe(true);
    expect(w.h.stack.connectionCount).toBe(5);
    const sentBefore = w.h.sent.length;

    expect(w.wsk.failAll()).toBe(5);
    expect(w.wsk.networkDown).toBe(true);
    for (const p of pending) expect(p.completions.map((x) => x.status)).toEqual([S.STATUS_NETWORK_UNREACHABLE]);
    expect(recv.completions.map((x) => x.status)).toEqual([S.STATUS_CONNECTION_ABORTED]);
    expect(send.completions.map((x) => x.status)).toEqual([S.STATUS_CONNECTION_ABORTED]);
    expect(events).toEqual([WSK_FLAG_ABORTIVE]);
    // No RST: there is no link to send it on.
    w.h.collect();
    expect(w.h.sent.length).toBe(sentBefore);
    expect(w.h.stack.connectionCount).toBe(0);
    expect(w.h.stack.pendingTimers).toBe(0);
    expect(w.h.stack.nextDeadline()).toBeUndefined();

    // Later calls fail cleanly and at once.
    expect(w.call((irp) => est.Dispatch.WskSend(est, { Mdl: new Uint8Array(1), Offset: 0, Length: 1 }, 0, irp)).returned).toBe(S.STATUS_CONNECTION_ABORTED);
    expect(w.call((irp) => est.Dispatch.WskReceive(est, { Mdl: new Uint8Array(1), Offset: 0, Length: 1 }, 0, irp)).returned).toBe(S.STATUS_CONNECTION_ABORTED);
    // The failed sockets are bound again (docs/wsk.md) and may try again: no route now.
    expect(w.connect(socks[0], sockaddrIn("10.0.0.9", 443)).returned).toBe(S.STATUS_NETWORK_UNREACHABLE);
    const fresh = w.socket(AF_INET);
    w.bind(fresh);
    expect(w.connect(fresh, sockaddrIn("10.0.0.1", 80)).returned).toBe(S.STATUS_NETWORK_UNREACHABLE);
    const sc = w.call((irp) =>
      w.npi.Dispatch.WskSocketConnect(w.npi.Client, SOCK_STREAM, IPPROTO_TCP, sockaddrIn("0.0.0.0", 0), sockaddrIn("10.0.0.1", 80), 0, null, null, null, null, null, irp),
    );
    expect(sc.returned).toBe(S.STATUS_NETWORK_UNREACHABLE);
    expect(w.h.stack.connectionCount).toBe(0);
    // Closing every socket frees every port; a second failAll is harmless.
    for (const s of [est, ...socks, s6, fresh]) expect(w.close(s).returned).toBe(S.STATUS_SUCCESS);
    expect(w.wsk.openSockets).toBe(0);
    expect(w.h.stack.boundPorts).toBe(0);
    expect(w.wsk.failAll()).toBe(0);
    w.assertOnce();
  });

  it("a connection the engine holds without a WSK socket is deleted too (outcome aborted)", () => {
    const w = new WskTest();
    const c = w.h.connect("10.0.0.1:80");
    const syn = w.h.sent.at(-1)!;
    w.h.inputBytes(buildTcpPacket({ src: "10.0.0.1", dst: "10.0.0.2", srcPort: 80, dstPort: syn.tcp.srcPort, seq: 1, ack: syn.tcp.seq + 1, flags: TCP_SYN | TCP_ACK, window: 65535 }));
    expect(c.c.state).toBe("ESTABLISHED");
    expect(w.wsk.failAll()).toBe(1);
    expect(c.c.state).toBe("CLOSED");
    expect(c.c.outcome).toEqual({ kind: "aborted" });
    expect(w.h.stack.connectionCount).toBe(0);
  });
});

describe("Runtime.onDeviceError", () => {
  it("tells every listener once, also one added after the failure, and stops sending", async () => {
    const link = new MemoryLink();
    const stack = new Stack({ addresses: ["10.0.0.2/24"], random: { nextUint32: () => 7 } });
    const rt = new Runtime(stack, link.a);
    const seen: string[] = [];
    rt.onDeviceError((e) => seen.push(`first ${e.message}`));
    link.a.fail(new Error("gone"));
    link.a.fail(new Error("again")); // a second report is ignored
    rt.onDeviceError((e) => seen.push(`late ${e.message}`));
    expect(seen).toEqual(["first gone", "late gone"]);
    expect(rt.deviceError?.message).toBe("gone");
    stack.connect({ remote: { addr: "10.0.0.1", port: 80 } }, rt.now());
    rt.flush();
    link.advance(10);
    expect(link.counters().sent).toBe(0);
    await rt.close();
  });
});
