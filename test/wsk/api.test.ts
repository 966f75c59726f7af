// The promise API (docs/wsk.md, "The promise API") over the facade, in virtual time.
import { describe, expect, it } from "vitest";
import { WskTest } from "../helpers/wsk.js";
import { WskClient, connect, NtStatusError } from "../../src/api.js";
import { NTSTATUS } from "../../src/wsk/ntstatus.js";
import { buildTcpPacket } from "../../stack/wire/packet.js";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../stack/wire/types.js";

const tick = () => new Promise((r) => setImmediate(r));

function answer(w: WskTest, flags: number, seq: number, ackDelta: number, payload?: Uint8Array) {
  const syn = w.h.sent.filter((x) => x.flags === "S").at(-1)!;
  w.h.inputBytes(buildTcpPacket({ src: syn.pkt.ip.dst, dst: syn.pkt.ip.src, srcPort: syn.tcp.dstPort, dstPort: syn.tcp.srcPort, seq, ack: (syn.tcp.seq + ackDelta) >>> 0, flags, window: 65535, payload }));
}

describe("promise API", () => {
  it("connect resolves with a Connection; write resolves when acknowledged; iteration ends at FIN", async () => {
    const w = new WskTest();
    const client = new WskClient(w.wsk);
    const p = connect(client, "10.0.0.1:80", { profile: "linux" });
    await tick();
    expect(w.h.sent.at(-1)!.options).toMatch(/^mss 1460,sackOK,TS/);
    answer(w, TCP_SYN | TCP_ACK, 100, 1);
    const conn = await p;
    expect(conn.remote).toBe("10.0.0.1:80");
    expect(conn.local).toMatch(/^10\.0\.0\.2:\d+$/);
    const wr = conn.write("hi");
    await tick();
    answer(w, TCP_ACK, 101, 3);
    expect(await wr).toBe(2);
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const c of conn) chunks.push(new TextDecoder().decode(c));
    })();
    await tick();
    answer(w, TCP_ACK, 101, 3, new TextEncoder().encode("hello"));
    await tick();
    answer(w, TCP_ACK | TCP_FIN, 106, 3);
    await reading;
    expect(chunks).toEqual(["hello"]);
    await conn.close();
  });
  it("refused -> rejects with NtStatusError STATUS_CONNECTION_REFUSED", async () => {
    const w = new WskTest();
    const client = new WskClient(w.wsk);
    const p = connect(client, "10.0.0.1:81", { profile: "linux" });
    await tick();
    answer(w, TCP_RST | TCP_ACK, 0, 1);
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(NtStatusError);
    expect(err.status).toBe(NTSTATUS.STATUS_CONNECTION_REFUSED);
    expect(err.message).toMatch(/STATUS_CONNECTION_REFUSED \(0xC0000236\)/);
    expect(w.wsk.openSockets).toBe(0);
  });
  it("AbortSignal cancels the connect IRP -> STATUS_CANCELLED", async () => {
    const w = new WskTest();
    const client = new WskClient(w.wsk);
    const ac = new AbortController();
    const p = connect(client, "10.0.0.1:80", { signal: ac.signal });
    await tick();
    ac.abort();
    const err = await p.catch((e) => e);
    expect(err.statusName).toBe("STATUS_CANCELLED");
  });
  it("a malformed address rejects with STATUS_INVALID_PARAMETER", async () => {
    const w = new WskTest();
    const err = await connect(new WskClient(w.wsk), "10.0.0.1").catch((e) => e);
    expect(err.statusName).toBe("STATUS_INVALID_PARAMETER");
  });
});
