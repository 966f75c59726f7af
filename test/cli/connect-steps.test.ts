// After a successful connect, `synack connect --send` reports the data and the close on
// their own: a peer that resets during the send, or answers only after our FIN, is not
// hidden behind the connect's STATUS_SUCCESS (simulated peer; the kernel case is in
// test/lab/cli-lab.test.ts).
import { describe, expect, it } from "vitest";
import { connectSucceeded, resultJson, stepLines } from "../../src/cli/connect.js";
import { makeColors } from "../../src/cli/colors.js";
import { runConnect } from "../../src/lab/session.js";
import { SimDevice, SimPeer, type SimListenMode } from "../../src/lab/simpeer.js";
import { NtStatusError, STATUS_IO_TIMEOUT } from "../../src/wsk/ntstatus.js";

function peer(mode: SimListenMode): SimDevice {
  return new SimDevice(new SimPeer({ addresses: ["10.77.0.1"], listen: { 80: mode }, latencyMs: 1 }));
}

async function run(mode: SimListenMode, send = "GET / HTTP/1.0\r\n\r\n") {
  return runConnect({ device: peer(mode), addresses: ["10.77.0.2/24"], gateway4: "10.77.0.1", remote: "10.77.0.1:80", profile: "windows", send, quietMs: 300 });
}

describe("connect --send: the connect, the data and the close each say how they ended", () => {
  it("a peer that resets the connection when the data arrives: the connect succeeded, the send failed", async () => {
    const r = await run("reset");
    expect(r.status).toBe("STATUS_SUCCESS");
    expect(r.send).toMatchObject({ status: "STATUS_CONNECTION_RESET", ok: false });
    expect(r.send!.detail).toMatch(/^18 bytes: the connection was reset by the remote host$/);
    expect(r.receive).toMatchObject({ status: "STATUS_CONNECTION_RESET", ok: false });
    expect(r.close).toMatchObject({ ok: false });
    expect(r.close!.detail).toMatch(/not attempted: the connection had already ended/);
    expect(connectSucceeded(r)).toBe(false);
    const j = resultJson(r);
    expect(j).toMatchObject({ status: "STATUS_SUCCESS", ok: false, send: { status: "STATUS_CONNECTION_RESET" } });
    const lines = stepLines(r, makeColors(false));
    expect(lines[0]).toMatch(/^✘ send    STATUS_CONNECTION_RESET \(0xC000020D\)  18 bytes: the connection was reset/);
  });

  it("a peer that answers only after our FIN: the answer is still read and reported", async () => {
    const r = await run("afterFin", "question");
    expect(r.status).toBe("STATUS_SUCCESS");
    expect(r.received).toBe("question");
    expect(r.receivedBytes).toBe(8);
    expect(r.receive).toMatchObject({ ok: true, detail: "8 bytes, then the peer's FIN" });
    expect(r.close).toMatchObject({ status: "STATUS_SUCCESS", ok: true });
    expect(connectSucceeded(r)).toBe(true);
    // The answer came after our FIN, in the timeline too.
    const fin = r.segments.findIndex((s) => s.kind === "tcp" && s.dir === "out" && s.flags.includes("F"));
    const data = r.segments.findIndex((s) => s.kind === "tcp" && s.dir === "in" && s.len > 0);
    expect(fin).toBeGreaterThan(-1);
    expect(data).toBeGreaterThan(fin);
  });

  it("a peer that never answers the data but closes when we do: nothing received, then its FIN", async () => {
    const r = await run("silent", "x");
    expect(r.send).toMatchObject({ status: "STATUS_SUCCESS", ok: true, detail: "1 byte sent and acknowledged" });
    expect(r.received).toBe("");
    expect(r.receive!.detail).toBe("0 bytes, then the peer's FIN");
    expect(r.close).toMatchObject({ status: "STATUS_SUCCESS", ok: true });
    expect(connectSucceeded(r)).toBe(true);
  });
});

describe("a WskSend that gives up is not described as a connection attempt", () => {
  it("STATUS_IO_TIMEOUT in words, per request", () => {
    expect(new NtStatusError(STATUS_IO_TIMEOUT, "WskSend").message).toBe(
      "STATUS_IO_TIMEOUT (0xC00000B5): the send timed out: the peer acknowledged nothing after all retransmissions, and the connection is gone (WskSend)",
    );
    expect(new NtStatusError(STATUS_IO_TIMEOUT, "WskConnect").message).toMatch(/the connection attempt timed out \(no answer after all SYN retransmissions\)/);
    expect(new NtStatusError(STATUS_IO_TIMEOUT).message).toMatch(/: the operation timed out/);
  });
});
