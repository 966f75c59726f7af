// Data transfer between two real stacks in virtual time (RFC 9293 §3.8-3.10, RFC 5681,
// RFC 6298, RFC 6582, RFC 2018, RFC 7323), plus scripted-peer checks of exact segments.
import { describe, expect, it } from "vitest";
import { Pair, patternBytes } from "./pair.js";
import type { Connection } from "../../stack/tcp/connection.js";

/** Sends `data` from `from` to `to` and collects what `to` reads. */
function transfer(p: Pair, from: Connection, to: Connection, data: Uint8Array, limitMs: number): Uint8Array {
  const got: Uint8Array[] = [];
  let n = 0;
  const prev = to.events;
  to.events = {
    ...prev,
    data: (c) => {
      const d = c.read();
      got.push(d);
      n += d.length;
    },
  };
  expect(from.send(data, p.now)).toBe(data.length);
  p.flush();
  p.run(limitMs, () => n >= data.length && from.sendBuffered === 0);
  const out = new Uint8Array(n);
  let off = 0;
  for (const g of got) {
    out.set(g, off);
    off += g.length;
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

describe("bulk transfer over the in-memory link", () => {
  it("10 MB arrive intact and in order under 5% loss, reordering, duplication and delay", () => {
    const p = new Pair({ seed: 42, lossRate: 0.05, reorderRate: 0.02, duplicateRate: 0.01, delayMs: 10, jitterMs: 2, capture: false });
    const { client, server } = p.establish();
    const data = patternBytes(10 * 1024 * 1024);
    const t0 = p.now;
    const got = transfer(p, client, server, data, t0 + 3_600_000);
    expect(got.length).toBe(data.length);
    expect(same(got, data)).toBe(true);
    expect(client.sendBuffered).toBe(0);
    // Loss was recovered by both mechanisms.
    expect(client.sender.fastRetransmits).toBeGreaterThan(0);
    expect(client.sender.retransmits).toBeGreaterThan(0);
    expect(p.link.counters().lost).toBeGreaterThan(300);
    expect(p.link.counters().reordered).toBeGreaterThan(100);
    expect(p.link.counters().duplicated).toBeGreaterThan(50);
    // Both ends end cleanly afterwards.
    client.close(p.now);
    p.run(p.now + 600_000, () => server.state === "CLOSE-WAIT");
    server.close(p.now);
    p.run(p.now + 600_000, () => server.state === "CLOSED" && client.state === "TIME-WAIT");
    expect(p.serverOutcome).toEqual({ kind: "finished" });
    expect(p.clientOutcome).toEqual({ kind: "finished" });
  });

  for (const profile of ["windows", "freebsd", "rfc"] as const) {
    it(`2 MB under 3% loss and reordering, ${profile} profile, server to client`, () => {
      const p = new Pair({ seed: 9, profile, lossRate: 0.03, reorderRate: 0.03, delayMs: 20, capture: false });
      const { client, server } = p.establish();
      const data = patternBytes(2 * 1024 * 1024, 99);
      const got = transfer(p, server, client, data, p.now + 3_600_000);
      expect(same(got, data)).toBe(true);
      expect(server.sender.retransmits).toBeGreaterThan(0);
      expect(client.state).toBe("ESTABLISHED");
    });
  }

  it("a clean link needs no retransmission, and delayed ACKs halve the ACK count", () => {
    const p = new Pair({ seed: 5, delayMs: 10 });
    const { client, server } = p.establish();
    const mark = p.captured.length;
    const data = patternBytes(1024 * 1024, 5);
    const got = transfer(p, client, server, data, p.now + 600_000);
    expect(same(got, data)).toBe(true);
    expect(client.sender.retransmits).toBe(0);
    expect(client.sender.timeouts).toBe(0);
    const seen = p.captured.slice(mark);
    const dataSegs = seen.filter((c) => c.from === "client" && c.len > 0);
    const acks = seen.filter((c) => c.from === "server");
    // Every data segment is full-sized except the last; the receiver ACKs about every second
    // one, after the first profile.quickAcks segments (Linux quick-ACK mode) ACKed one by one.
    expect(dataSegs.slice(0, -1).every((c) => c.len === client.sndMss - 12)).toBe(true);
    const quick = server.profile.quickAcks;
    expect(quick).toBe(16);
    expect(acks.length).toBeLessThanOrEqual(Math.ceil(dataSegs.length / 2) + 2 + quick / 2);
    expect(acks.length).toBeGreaterThanOrEqual(Math.floor(dataSegs.length / 2) - 2);
  });

  it("carries data both ways at once", () => {
    const p = new Pair({ seed: 11, delayMs: 3, lossRate: 0.02 });
    const { client, server } = p.establish();
    const up = patternBytes(300_000, 1);
    const down = patternBytes(200_000, 2);
    const rx = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
    client.events = { ...client.events, data: (c) => rx.client.push(c.read()) };
    server.events = { ...server.events, data: (c) => rx.server.push(c.read()) };
    client.send(up, p.now);
    server.send(down, p.now);
    const total = (a: Uint8Array[]) => a.reduce((n, x) => n + x.length, 0);
    p.run(p.now + 600_000, () => total(rx.client) === down.length && total(rx.server) === up.length);
    expect(same(Buffer.concat(rx.server), up)).toBe(true);
    expect(same(Buffer.concat(rx.client), down)).toBe(true);
  });

  it("a receiver that stops reading closes the window; reading again reopens it (window update)", () => {
    const p = new Pair({ seed: 13, delayMs: 10, serverOverrides: { rcvBufBytes: 16384 } });
    const { client, server } = p.establish();
    const data = patternBytes(100_000, 3);
    client.send(data, p.now);
    p.run(p.now + 30_000);
    // Nobody reads: the buffer fills, the window is zero, the sender probes.
    // (Full up to less than one window-scale unit, 2^7 bytes: the advertised window is 0.)
    expect(server.rcvBuffered).toBeGreaterThan(16384 - 128);
    expect(client.sndWnd).toBe(0);
    expect(client.sender.zeroWindowProbes).toBeGreaterThan(0);
    expect(client.state).toBe("ESTABLISHED");
    const chunks: Uint8Array[] = [server.read()];
    p.server.noteRead(server);
    server.events = { ...server.events, data: (c) => chunks.push(c.read()) };
    p.run(p.now + 60_000, () => chunks.reduce((n, x) => n + x.length, 0) === data.length);
    expect(same(Buffer.concat(chunks), data)).toBe(true);
  });
});
