// A SynackSocket over a connection accepted by a WSK listening socket (what servers on the
// stack build on): WskAccept with the socket as AcceptSocketContext and
// SynackSocket.clientDispatch, then attachAccepted. A kernel client in the lab namespace
// connects to the stack, sends, gets its echo, and sees our FIN; a second one is reset and
// the accepted socket reports ECONNRESET. Root only (the lab).
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { openStack, type Network } from "../../src/net/network.js";
import { SynackSocket } from "../../src/net/socket.js";
import { IoAllocateIrp, irpToPromise } from "../../src/wsk/irp.js";
import { STATUS_SUCCESS } from "../../src/wsk/ntstatus.js";
import { WSK_FLAG_LISTEN_SOCKET } from "../../src/wsk/constants.js";
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, sockaddrIn, type SOCKADDR } from "../../src/wsk/sockaddr.js";
import type { WSK_SOCKET } from "../../src/wsk/provider.js";
import { startLabServer } from "./lab-servers.js";

const why = Lab.unavailableReason();

// A kernel client: connects to the stack, sends its argument, prints what comes back and how it ended.
const CLIENT = `
import net from "node:net";
const [host, port, text, mode] = process.argv.slice(2);
console.log(JSON.stringify({ ready: true }));
const s = net.connect({ host, port: Number(port) }, () => s.write(text));
let got = "";
s.on("data", (d) => { got += d; if (mode === "reset" ) s.resetAndDestroy(); });
s.on("end", () => console.log(JSON.stringify({ event: "end", got })));
s.on("error", (e) => console.log(JSON.stringify({ event: "error", code: e.code })));
s.on("close", () => console.log(JSON.stringify({ event: "close", got })));
`;

async function wsk<T>(call: (irp: ReturnType<typeof IoAllocateIrp>) => number): Promise<T> {
  const irp = IoAllocateIrp();
  const done = irpToPromise<T>(irp);
  call(irp);
  const r = await done;
  expect(r.status).toBe(STATUS_SUCCESS);
  return r.information;
}

describe.skipIf(why !== undefined)(`SynackSocket on an accepted connection${why ? ` (skipped: ${why})` : ""}`, () => {
  let net: Network;
  let listener: WSK_SOCKET;
  beforeAll(async () => {
    net = await openStack({ lab: true, profile: "linux" });
    const npi = net.client.npi;
    listener = await wsk<WSK_SOCKET>((irp) => npi.Dispatch.WskSocket(npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, null, null, null, null, null, irp));
    await wsk((irp) => listener.Dispatch.WskBind(listener, sockaddrIn("10.99.0.2", 5000), 0, irp));
  });
  afterAll(async () => {
    await net?.close();
  });

  async function accept(): Promise<SynackSocket> {
    const sock = new SynackSocket(net);
    const local: Record<string, unknown> = {};
    const remote: Record<string, unknown> = {};
    const l = listener as unknown as { Dispatch: { WskAccept: (...a: unknown[]) => number } };
    const accepted = await wsk<WSK_SOCKET>((irp) => l.Dispatch.WskAccept(listener, 0, sock, SynackSocket.clientDispatch, local, remote, irp));
    return sock.attachAccepted(accepted, local as unknown as SOCKADDR, remote as unknown as SOCKADDR);
  }

  it("echoes to a kernel client and closes with a FIN", async () => {
    const accepting = accept();
    const client = await startLabServer(net, CLIENT, ["10.99.0.2", "5000", "hello server"]);
    const sock = await accepting;
    expect(sock.remoteAddress).toBe("10.99.0.1");
    expect(sock.localAddress).toBe("10.99.0.2");
    expect(sock.localPort).toBe(5000);
    const [data] = (await once(sock, "data")) as [Buffer];
    expect(String(data)).toBe("hello server");
    sock.end(data);
    await new Promise((r) => sock.once("close", r));
    const end = await client.next((e) => e.event === "end");
    expect(end.got).toBe("hello server");
  });

  it("reports the kernel client's RST as ECONNRESET", async () => {
    const accepting = accept();
    await startLabServer(net, CLIENT, ["10.99.0.2", "5000", "bye", "reset"]);
    const sock = await accepting;
    sock.on("data", (d: Buffer) => sock.write(d));
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      let e: NodeJS.ErrnoException | undefined;
      sock.on("error", (x) => (e = x));
      sock.on("close", () => resolve(e));
    });
    expect(err).toMatchObject({ code: "ECONNRESET", statusName: "STATUS_CONNECTION_RESET" });
  });
});
