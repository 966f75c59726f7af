// Passive OPEN (RFC 9293 §3.10.7.2): Stack.listen answers a SYN with a SYN-ACK and the
// connection goes SYN-RECEIVED -> ESTABLISHED.
import { describe, expect, it } from "vitest";
import { Harness } from "../helpers/vt.js";
import { Listener } from "../../stack/stack.js";
import type { Connection } from "../../stack/tcp/connection.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_RST, TCP_SYN, type TcpOption } from "../../stack/wire/types.js";
import { Pair } from "./pair.js";

function listening(profile: "windows" | "windows7" | "linux" = "windows") {
  const h = new Harness({ profile });
  const accepted: Connection[] = [];
  const l = h.stack.listen({ port: 80, onAccept: (c) => accepted.push(c) });
  if (!(l instanceof Listener)) throw new Error("listen failed");
  const seg = (flags: number, o: { seq?: number; ack?: number; srcPort?: number; options?: TcpOption[]; payload?: Uint8Array; window?: number } = {}) =>
    h.inputBytes(
      buildTcpPacket({ src: "10.0.0.9", dst: "10.0.0.2", srcPort: o.srcPort ?? 40000, dstPort: 80, seq: o.seq ?? 7000, ack: o.ack ?? 0, flags, window: o.window ?? 65535, options: o.options ?? [], payload: o.payload }),
    );
  return { h, l, accepted, seg };
}

describe("Stack.listen (passive open)", () => {
  it("linux: the SYN-ACK's window is 64 KiB rounded down to the MSS less the timestamps option (65160 at MSS 1460 with TS, 64240 without; synWindowRule)", () => {
    // The kernel's SYN-ACKs in a namespace pair (Linux 6.18): win 65160 for mss 1460 with
    // timestamps, 64260 for 1440, 65084 for 1240 (tcp_openreq_init_rwin(): mss - 12).
    const withTs = listening("linux");
    withTs.seg(TCP_SYN, { options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "ts", val: 5, ecr: 0 }, { kind: "nop" }, { kind: "wscale", shift: 7 }] });
    const [sa] = withTs.h.take();
    expect(sa.options).toMatch(/TS val/);
    expect(sa.tcp.window).toBe(65160);
    const noTs = listening("linux");
    noTs.seg(TCP_SYN, { options: [{ kind: "mss", value: 1460 }] });
    expect(noTs.h.take()[0].tcp.window).toBe(64240);
  });
  it("answers a SYN with a SYN-ACK offering only what the SYN offered, and accepts on the final ACK", () => {
    const { h, accepted, seg } = listening("windows");
    seg(TCP_SYN, { options: [{ kind: "mss", value: 1400 }, { kind: "nop" }, { kind: "wscale", shift: 5 }] });
    const [sa] = h.take();
    expect(sa.flags).toBe("S.");
    expect(sa.tcp.ack).toBe(7001);
    expect(sa.tcp.window).toBe(8192); // the windows SYN-ACK window, never scaled (RFC 7323 §2.2)
    expect(sa.options).not.toContain("sackOK");
    expect(sa.tcp.options.some((o) => o.kind === "wscale")).toBe(true);
    expect(accepted.length).toBe(0);
    seg(TCP_ACK, { seq: 7001, ack: (sa.tcp.seq + 1) >>> 0, window: 100, payload: new Uint8Array([1, 2, 3]) });
    expect(accepted.length).toBe(1);
    const c = accepted[0];
    expect(c.state).toBe("ESTABLISHED");
    expect(c.passive).toBe(true);
    expect(c.sndWnd).toBe(100 << 5);
    expect(c.sndMss).toBe(1400);
    // Data on the handshake's final ACK is kept.
    expect(Array.from(c.read())).toEqual([1, 2, 3]);
  });

  it("ignores a RST, answers a stray ACK with RST, and survives a RST in SYN-RECEIVED", () => {
    const { h, l, accepted, seg } = listening();
    seg(TCP_RST, { seq: 1 });
    expect(h.take()).toEqual([]);
    seg(TCP_ACK, { seq: 1, ack: 12345 });
    expect(h.take().map((s) => [s.flags, s.tcp.seq])).toEqual([["R", 12345]]);
    seg(TCP_SYN);
    const [sa] = h.take();
    expect(h.stack.connectionCount).toBe(1);
    seg(TCP_RST, { seq: 7001 });
    expect(h.stack.connectionCount).toBe(0);
    // Back to LISTEN: a new SYN gets a new SYN-ACK.
    seg(TCP_SYN, { seq: 9000, srcPort: 40001 });
    expect(h.take().map((s) => [s.flags, s.tcp.ack])).toEqual([["S.", 9001]]);
    expect(accepted.length).toBe(0);
    void sa;
    l.close();
    seg(TCP_SYN, { seq: 9500, srcPort: 40002 });
    expect(h.take().map((s) => s.flags)).toEqual(["R."]);
  });

  it("retransmits the SYN-ACK and gives up like a SYN", () => {
    const { h, seg } = listening("windows7");
    seg(TCP_SYN);
    h.advance(30_000);
    const sas = h.take().filter((s) => s.flags === "S.");
    expect(sas.map((s) => s.t)).toEqual([0, 3000, 9000]);
    expect(h.stack.connectionCount).toBe(0);
  });

  it("refuses a second listener on the same port", () => {
    const { h } = listening();
    const r = h.stack.listen({ port: 80, onAccept: () => {} });
    expect(r).toMatchObject({ error: "addressInUse" });
  });

  it("two stacks complete the handshake with the exact three segments", () => {
    const p = new Pair({ seed: 3, delayMs: 5 });
    const { client, server } = p.establish();
    expect(p.describe()).toEqual(["client S", "server S.", "client ."]);
    expect(client.tsEnabled && server.tsEnabled).toBe(true);
    expect(client.sackEnabled && server.sackEnabled).toBe(true);
    expect(server.sndWscale).toBe(7);
    expect(client.sndWscale).toBe(7);
  });
});
