// After a successful connect, `synack connect --send` reports the data and the close on
// their own: a peer that resets during the send, or answers only after our FIN, is not
// hidden behind the connect's STATUS_SUCCESS. The simulated peer first; then (root only)
// kernel servers that reset, in a namespace the test creates.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { connectSucceeded, resultJson, stepLines } from "../../src/cli/connect.js";
import { makeColors } from "../../src/cli/colors.js";
import { runConnect } from "../../src/lab/session.js";
import { SimDevice, SimPeer, type SimListenMode } from "../../src/lab/simpeer.js";
import { NtStatusError, STATUS_IO_TIMEOUT } from "../../src/wsk/ntstatus.js";
import { Lab } from "../../src/lab/lab.js";
import { createNetns, deleteNetns, ip, netnsExec } from "../../device/netns.js";
import { runCliInNetns } from "../helpers/cli.js";

const why = Lab.unavailableReason();

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

describe.skipIf(why !== undefined)(`connect --send on the real kernel${why ? ` (skipped: ${why})` : ""}`, () => {
  it("connect --send to kernel servers that reset: STATUS_SUCCESS for the connect, the data's failure reported, exit 1", async () => {
    const ns = `synack-t-rst-${process.pid}`;
    createNetns(ns);
    // A kernel listener that closes with SO_LINGER 0 (a RST) as soon as data arrives.
    const server = spawn("ip", ["netns", "exec", ns, "python3", "-c", RESET_SERVER], { stdio: ["pipe", "pipe", "pipe"] });
    try {
      await new Promise<void>((res, rej) => {
        server.stdout.on("data", (d) => String(d).includes("ready") && res());
        server.on("exit", (c) => rej(new Error(`reset server exited ${c}`)));
      });
      ip(["tuntap", "add", "dev", "tunr0", "mode", "tun"], ns);
      ip(["addr", "add", "10.96.0.1/24", "dev", "tunr0"], ns);
      ip(["link", "set", "tunr0", "up"], ns);
      const run = (args: string[]) => runCliInNetns(ns, args);
      // Port 7 reads the data (the kernel acknowledges it), then resets: the send succeeded,
      // the receiving ends with the reset.
      const j = await run(["connect", "10.96.0.1:7", "--dev", "tunr0", "--local", "10.96.0.2", "--send", "hello\\n", "--json"]);
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout), j.stdout).toMatchObject({ status: "STATUS_SUCCESS", ok: false, send: { ok: true }, receive: { status: "STATUS_CONNECTION_RESET", ok: false }, close: { ok: false } });
      const h = await run(["connect", "10.96.0.1:7", "--dev", "tunr0", "--local", "10.96.0.2", "--send", "hello\\n"]);
      expect(h.code).toBe(1);
      expect(h.stdout).toMatch(/^✔ connect STATUS_SUCCESS/m);
      expect(h.stdout).toMatch(/^✘ receive STATUS_CONNECTION_RESET \(0xC000020D\)  0 bytes, then STATUS_CONNECTION_RESET/m);
      // Port 8: a firewall rule drops our data (segments with PSH), and the server resets
      // 300 ms after it accepts: the data is never acknowledged, the send fails.
      netnsExec(ns, "nft", ["-f", "-"], { input: "table inet t {\n chain in {\n  type filter hook input priority 0;\n  tcp dport 8 tcp flags & psh == psh drop\n }\n}\n" });
      const k = await run(["connect", "10.96.0.1:8", "--dev", "tunr0", "--local", "10.96.0.2", "--send", "hello", "--json"]);
      expect(k.code).toBe(1);
      expect(JSON.parse(k.stdout), k.stdout).toMatchObject({ status: "STATUS_SUCCESS", ok: false, send: { status: "STATUS_CONNECTION_RESET", ok: false } });
    } finally {
      server.kill("SIGTERM");
      deleteNetns(ns);
    }
  });

});

// Port 7: read, then close with SO_LINGER 0 (a RST); port 8: the same 300 ms after accept.
const RESET_SERVER = `
import select, socket, struct, time
ls = []
for port in (7, 8):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(8)
    ls.append(s)
print("ready", flush=True)
while True:
    r, _, _ = select.select(ls, [], [])
    for s in r:
        c, _ = s.accept()
        if s.getsockname()[1] == 7:
            c.recv(100)
        else:
            time.sleep(0.3)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
`;
