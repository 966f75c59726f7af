// WskConnect's outcomes against the real Linux kernel over a real TUN device, in a lab
// namespace these tests create (docs/devices.md, "Lab"): success (the kernel shows the
// connection ESTABLISHED and echoes), refused, timed out, unreachable and prohibited routes,
// cancelled, each with the NTSTATUS of docs/ntstatus.md; and 1 000 connects at once. Root
// only; skipped with the reason otherwise.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { runConnect } from "../../src/lab/session.js";
import { cryptoRandom } from "../../device/random.js";
import { Stack } from "../../stack/stack.js";
import { Runtime } from "../../device/runtime.js";
import { WskProvider } from "../../src/wsk/provider.js";
import { WskClient, connect } from "../../src/api.js";
import type { Device } from "../../device/types.js";
import { borrowDevice } from "../../device/borrow.js";
import { withLoopLag } from "../helpers/lag.js";

const why = Lab.unavailableReason();

describe.skipIf(why !== undefined)(`WskConnect against the kernel over TUN${why ? ` (skipped: ${why})` : ""}`, () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({
      listen: [7],
      routes: [
        ["blackhole", "10.99.1.0/24"],
        ["unreachable", "10.99.2.0/24"],
        ["prohibit", "10.99.3.0/24"],
        ["unreachable", "fd99:2::/64"],
      ],
    });
  });
  afterAll(async () => {
    await lab?.close();
  });

  const run = (remote: string, profile: "windows" | "windows7" | "linux", extra: Partial<Parameters<typeof runConnect>[0]> = {}) =>
    runConnect({ device: borrowDevice(lab.tun), addresses: ["10.99.0.2/24", "fd99::2/64"], gateway4: "10.99.0.1", gateway6: "fd99::1", remote, profile, ...extra });

  for (const [remote, fam] of [["10.99.0.1:7", "IPv4"], ["[fd99::1]:7", "IPv6"]] as const) {
    it(`${fam} connect to a kernel listener -> STATUS_SUCCESS and the kernel shows it ESTABLISHED`, async () => {
      const stack = new Stack({ addresses: ["10.99.0.2/24", "fd99::2/64"], profile: "windows", random: cryptoRandom() });
      const rt = new Runtime(stack, borrowDevice(lab.tun));
      const client = new WskClient(new WskProvider(stack, { now: rt.clock, afterCall: () => rt.flush() }));
      try {
        const conn = await connect(client, remote, { profile: "linux" });
        const ss = lab.sockets();
        const localPort = conn.local.slice(conn.local.lastIndexOf(":") + 1);
        expect(ss.split("\n").some((l) => l.startsWith("ESTAB") && l.includes(`:${localPort}`))).toBe(true);
        expect(await conn.write("abc")).toBe(3);
        const echoed = await conn.read();
        expect(new TextDecoder().decode(echoed!)).toBe("abc");
        await conn.end();
        conn.destroy();
      } finally {
        client.close();
        await rt.close();
      }
    });
  }

  // Timing tolerances: each bound is the configured time plus a fixed slack plus, for every
  // timer the outcome waited for and every answer it read, the event-loop lag measured
  // meanwhile (test/helpers/lag.ts): a loaded machine fires timers late, never early, so the
  // lower bounds stay exact.
  it("closed port: windows refused after its 4 RST retries (~2 s), windows7 after 2 (~1 s), linux at once", async () => {
    const { result: w, lagMs: lagW } = await withLoopLag(() => run("10.99.0.1:9", "windows"));
    expect(w.status).toBe("STATUS_CONNECTION_REFUSED");
    expect(w.synsSent).toBe(5);
    expect(w.elapsedMs).toBeGreaterThan(1950);
    // 4 waits of 500 ms after a RST, 5 RSTs read.
    expect(w.elapsedMs, `event-loop lag ${lagW} ms`).toBeLessThan(2400 + 9 * lagW);
    const { result: w7, lagMs: lag7 } = await withLoopLag(() => run("10.99.0.1:9", "windows7"));
    expect(w7.status).toBe("STATUS_CONNECTION_REFUSED");
    expect(w7.synsSent).toBe(3);
    expect(w7.elapsedMs).toBeGreaterThan(950);
    expect(w7.elapsedMs, `event-loop lag ${lag7} ms`).toBeLessThan(1300 + 5 * lag7);
    const { result: l, lagMs: lagL } = await withLoopLag(() => run("10.99.0.1:9", "linux"));
    expect(l.status).toBe("STATUS_CONNECTION_REFUSED");
    expect(l.synsSent).toBe(1);
    expect(l.elapsedMs, `event-loop lag ${lagL} ms`).toBeLessThan(100 + lagL);
  });

  it("black-holed: STATUS_IO_TIMEOUT after the configured retries at the configured times (50 ms plus the measured event-loop lag per timer)", async () => {
    const { result: r, lagMs } = await withLoopLag(() => run("10.99.1.1:80", "windows", { initialRtoMs: 200, synRetries: 2 }));
    expect(r.status).toBe("STATUS_IO_TIMEOUT");
    const syns = r.segments.filter((s) => s.flags === "S").map((s) => s.t - r.segments[0].t);
    expect(syns.length).toBe(3);
    // Each retransmission is timed from the one before, so the i-th SYN carries up to i lags.
    [0, 200, 600].forEach((t, i) => {
      expect(syns[i], `SYN ${i}`).toBeGreaterThan(t - 50);
      expect(syns[i], `SYN ${i}, event-loop lag ${lagMs} ms`).toBeLessThan(t + 50 + i * lagMs);
    });
    expect(r.elapsedMs).toBeGreaterThan(1400 - 60);
    expect(r.elapsedMs, `event-loop lag ${lagMs} ms`).toBeLessThan(1400 + 60 + 3 * lagMs);
  });

  it("unreachable and prohibit routes: the documented status (docs/ntstatus.md) under linux, ignored under windows unless --fail-on-icmp", async () => {
    // The kernel limits the ICMP errors its unreachable/prohibit routes send per source
    // address: 5 at once, then 1 per second (ip_error with net.ipv4.route.error_burst and
    // error_cost; icmp_ratelimit=0 does not lift it). The five connects below ask for 4.
    expect((await run("10.99.2.1:80", "linux")).status).toBe("STATUS_HOST_UNREACHABLE");
    expect((await run("10.99.3.1:80", "linux")).status).toBe("STATUS_HOST_UNREACHABLE");
    expect((await run("[fd99:2::1]:80", "linux")).status).toBe("STATUS_NETWORK_UNREACHABLE");
    // One SYN and 500 ms before the timeout: the kernel's answer is read and ignored before
    // then unless the loop stood still for that long (the lag says so if it did).
    const { result: w, lagMs } = await withLoopLag(() => run("10.99.2.1:80", "windows", { initialRtoMs: 500, synRetries: 0 }));
    expect(w.status).toBe("STATUS_IO_TIMEOUT");
    expect(w.synsSent).toBe(1);
    const end = w.trace.find((e) => e.kind === "outcome" && e.outcome)!;
    const icmp = w.trace.filter((e) => e.kind === "icmp" && e.t < end.t);
    expect(icmp.filter((e) => e.packet).length, `ICMP read before the timeout at ${end.t} ms (event-loop lag ${lagMs} ms)`).toBe(1);
    expect(icmp.map((e) => e.decision)).toContain("ignored (TCP_FAIL_CONNECT_ON_ICMP_ERROR off)");
    expect(w.elapsedMs).toBeGreaterThanOrEqual(499);
    expect((await run("10.99.2.1:80", "windows", { failOnIcmp: true })).status).toBe("STATUS_HOST_UNREACHABLE");
  });

  it("cancel: STATUS_CANCELLED, nothing sent; the kernel's late SYN-ACK gets our RST (seen in the capture)", async () => {
    // Hold every packet from the kernel for 200 ms in user space (this kernel has no netem),
    // and cancel after 50 ms: the SYN-ACK arrives after the cancel.
    const dev = borrowDevice(lab.tun);
    const delayed: Device = {
      ...dev,
      onReceive: (h) =>
        dev.onReceive((pkts) => {
          const copies = pkts.map((p) => p.slice());
          setTimeout(() => h(copies), 200);
        }),
    };
    const r = await runConnect({ device: delayed, addresses: ["10.99.0.2/24"], remote: "10.99.0.1:7", profile: "windows", cancelAfterMs: 50, quietMs: 0 });
    expect(r.status).toBe("STATUS_CANCELLED");
    expect(r.synsSent).toBe(1);
    // runConnect waits briefly before closing; give the delayed SYN-ACK time to arrive in a second run's window.
    const outs = r.trace.filter((e) => e.kind === "out");
    const rst = outs.find((e) => e.decision.includes("no connection -> RST"));
    if (!rst) {
      // The SYN-ACK arrived after runConnect returned: replay the check with a stack that stays up.
      const stack = new Stack({ addresses: ["10.99.0.2/24"], profile: "windows", random: cryptoRandom(), trace: (e) => trace.push(e) });
      const trace: import("../../stack/trace.js").TraceEvent[] = [];
      const rt = new Runtime(stack, delayed);
      const client = new WskClient(new WskProvider(stack, { now: rt.clock, afterCall: () => rt.flush() }));
      const ac = new AbortController();
      const p = connect(client, "10.99.0.1:7", { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      const err = await p.catch((e) => e);
      expect(err.statusName).toBe("STATUS_CANCELLED");
      await new Promise((res) => setTimeout(res, 400));
      client.close();
      await rt.close();
      const rst2 = trace.find((e) => e.kind === "out" && e.decision.includes("no connection -> RST"));
      expect(rst2?.packet).toMatch(/ R /);
      const synack = trace.find((e) => e.kind === "in" && e.packet?.includes(" S. "));
      expect(synack).toBeDefined();
      expect(rst2!.t).toBeGreaterThanOrEqual(synack!.t);
      // Between the SYN and that RST the stack sent nothing: the cancel itself is silent.
      const outsBetween = trace.filter((e) => e.kind === "out" && e.t < rst2!.t);
      expect(outsBetween.map((e) => e.decision)).toEqual(["send SYN"]);
    } else {
      expect(rst.packet).toMatch(/ R /);
    }
  });

  it("1 000 concurrent connects to a kernel listener all complete with STATUS_SUCCESS", async () => {
    const stack = new Stack({ addresses: ["10.99.0.2/24"], profile: "linux", random: cryptoRandom() });
    const rt = new Runtime(stack, borrowDevice(lab.tun));
    const client = new WskClient(new WskProvider(stack, { now: rt.clock, afterCall: () => rt.kick() }));
    try {
      const results = await Promise.allSettled(Array.from({ length: 1000 }, () => connect(client, "10.99.0.1:7", { profile: "linux" })));
      const ok = results.filter((r) => r.status === "fulfilled");
      expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect(ok.length).toBe(1000);
      for (const r of ok) (r as PromiseFulfilledResult<{ destroy(): void }>).value.destroy();
    } finally {
      client.close();
      await rt.close();
    }
  });

});
