// The public Windows captures (../shared/pcaps) replayed under the two Windows profiles:
// what they show of the SYN schedule, the RST retries and the SYN itself, and that
// `synack replay --strict` matches them (docs/replay.md, "Windows captures").
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readCaptureFile } from "../../device/pcap/read.js";
import { replayCapture, type FileReplay } from "../../src/replay/replay.js";
import { replayCommand } from "../../src/replay/cli.js";
import type { ReplayOptions } from "../../src/replay/types.js";

const DIR = join(import.meta.dirname, "../../../shared/pcaps");
const file = (name: string) => join(DIR, name);
const absent = (name: string) => !existsSync(file(name));

function replay(name: string, opts: ReplayOptions = {}): FileReplay {
  const r = readCaptureFile(file(name));
  if (!r.ok) throw new Error(r.reason);
  return replayCapture(r.value, name, { trace: false, ...opts });
}

const one = (fr: FileReplay, client: string) => fr.handshakes.find((h) => h.client === client)!;

describe("gnutella.pcap: an early Windows 10 (SYN window 64240, wscale 8; InitialRto 3 s, MaxSynRetransmissions 2)", () => {
  const name = "gnutella.pcap";
  const early = { initialRtoMs: 3000, synRetries: 2 };

  it.skipIf(absent(name))("the SYN is the windows profile's; its timers are the early ones: under the current defaults the retransmissions differ", () => {
    const h = one(replay(name, { strict: true }), "10.0.2.15:50231");
    expect(h.profile).toBe("windows");
    expect(h.profileSource).toBe("inferred");
    expect(h.match).toBe(false);
    expect(h.diffs.find((d) => !d.explained)).toMatchObject({ field: "time", replayed: "1000.0 ms" });
  });

  it.skipIf(absent(name))("with its overrides: SYNs at 0, 3, 9 s through ICMP host unreachables, STATUS_IO_TIMEOUT at 21 s", () => {
    const h = one(replay(name, { strict: true, overrides: early }), "10.0.2.15:50231");
    expect(h.match).toBe(true);
    expect(h.diffs).toEqual([]);
    expect(h.recorded.outcome).toBe("timeout");
    expect(h.replayed).toMatchObject({ outcome: "timeout", status: "STATUS_IO_TIMEOUT" });
    // The gateway answered the two retransmissions with ICMP host unreachable; ignored.
    expect(h.ladder.recorded.filter((p) => p.kind === "icmp")).toHaveLength(2);
  });

  it.skipIf(absent(name))("with its overrides: the SYN again 503-504 ms after each RST, 3 SYNs, then refused", () => {
    const h = one(replay(name, { strict: true, overrides: early }), "10.0.2.15:50202");
    expect(h.match).toBe(true);
    expect(h.recorded.outcome).toBe("refused");
    expect(h.replayed).toMatchObject({ outcome: "refused", status: "STATUS_CONNECTION_REFUSED" });
    const rec = h.ladder.recorded;
    const gaps = rec.slice(1).flatMap((p, i) => (p.label.startsWith("S ") && rec[i]!.label.startsWith("R") ? [p.t - rec[i]!.t] : []));
    expect(gaps).toHaveLength(2);
    for (const g of gaps) expect(g).toBeGreaterThan(500);
    for (const g of gaps) expect(g).toBeLessThan(530);
  });

  it.skipIf(absent(name))("synack replay --strict --initial-rto 3000 --syn-retries 2: 131 of 137 match, the 6 that differ did before this profile existed", async () => {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
    try {
      const code = await replayCommand([file(name), "--strict", "--summary", "--initial-rto", "3000", "--syn-retries", "2"]);
      expect(code).toBe(1);
    } finally {
      vi.restoreAllMocks();
    }
    expect(out).toMatch(/gnutella\.pcap: 137 active open\(s\), 131 matched, 6 differ/);
    const differing = [...out.matchAll(/DIFF (10\.0\.2\.15:\d+)/g)].map((m) => m[1]);
    // Clients that never ACK a SYN-ACK (50190-50193), a RST 113 s after the last SYN (50245),
    // a RST after the client's FIN (50314): no timer of either profile is involved.
    expect(differing).toEqual(["10.0.2.15:50190", "10.0.2.15:50191", "10.0.2.15:50192", "10.0.2.15:50193", "10.0.2.15:50245", "10.0.2.15:50314"]);
  });
});

describe("the hint when a capture's SYN timers are not its profile's (src/replay/timer-hint.ts)", () => {
  const run = async (args: string[]) => {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
    try {
      await replayCommand(args);
    } finally {
      vi.restoreAllMocks();
    }
    return out;
  };

  it.skipIf(absent("gnutella.pcap"))("gnutella.pcap at the windows defaults: 76 differ, and the hint gives the recording's timers and how many match with them", async () => {
    const out = await run([file("gnutella.pcap"), "--summary"]);
    expect(out).toMatch(/gnutella\.pcap: 137 active open\(s\), 61 matched, 76 differ/);
    const hints = out.split("\n").filter((l) => l.startsWith("  hint: "));
    expect(hints).toEqual([
      "  hint: 70 connection(s) replayed as windows differ first in when a SYN was retransmitted: the recorded client waits 3.0 s before its first retransmission and sends 3 SYNs per attempt, the windows profile 1.0 s and 5 SYNs (its own settings: SIO_TCP_INITIAL_RTO, the registry or an older release); with --initial-rto 3000 --syn-retries 2, 70 of the 76 that differ as windows match",
    ]);
    // The verdicts stay the defaults': the hint applies nothing by itself.
    expect(out).toMatch(/\n61 matched, 76 differ\n?$/);
    const doc = JSON.parse(await run([file("gnutella.pcap"), "--json"])) as { hints: Array<Record<string, unknown>>; passed: number };
    expect(doc.passed).toBe(61);
    expect(doc.hints).toEqual([expect.objectContaining({ profile: "windows", synTimeDiffs: 70, recorded: { initialRtoMs: 3000, syns: 3 }, overrides: { initialRtoMs: 3000, synRetries: 2 }, differ: 76, matchWith: 70 })]);
  });

  it.skipIf(absent("gnutella.pcap"))("no hint once the timers are given", async () => {
    const out = await run([file("gnutella.pcap"), "--summary", "--initial-rto", "3000", "--syn-retries", "2"]);
    expect(out).toMatch(/131 matched, 6 differ/);
    expect(out).not.toMatch(/hint:/);
  });

  it.skipIf(absent("ocs.pcap"))("no hint from one connection alone (ocs.pcap: one late SYN retransmission; timers fitted to it would say nothing)", async () => {
    const out = await run([file("ocs.pcap"), "--summary"]);
    expect(out).toMatch(/ocs\.pcap: 12 active open\(s\), 11 matched, 1 differ/);
    expect(out).toMatch(/first difference at frame \d+: time recorded/);
    expect(out).not.toMatch(/hint:/);
  });
});

describe("Windows 7 captures: SYN window 8192, 3 s initial RTO, the last SYN without the window scale", () => {
  it.skipIf(absent("nowebaccess2.pcapng"))("nowebaccess2.pcapng: inferred windows7; RST -> the SYN again 500 ms later, twice, the third without wscale; refused", () => {
    for (const strict of [false, true]) {
      const h = replay("nowebaccess2.pcapng", { strict }).handshakes[0]!;
      expect(h.profile).toBe("windows7");
      expect(h.inference).toMatch(/SYN window 8192: Windows 7/);
      expect(h.diffs).toEqual([]);
      expect(h.match).toBe(true);
      expect(h.replayed).toMatchObject({ outcome: "refused", status: "STATUS_CONNECTION_REFUSED" });
      expect(h.ladder.replayed.filter((p) => p.dir === "c2s").map((p) => p.label.replace(/ seq .*$/, ""))).toEqual(["S", "S", "S"]);
    }
  });

  it.skipIf(absent("sv.base64-decode-5885_input.pcap"))("sv.base64-decode-5885: all 26 connections match under windows7, with and without --strict", () => {
    for (const strict of [false, true]) {
      const fr = replay("sv.base64-decode-5885_input.pcap", { strict });
      expect(fr.handshakes).toHaveLength(26);
      expect(fr.handshakes.every((h) => h.profile === "windows7")).toBe(true);
      expect(fr.handshakes.filter((h) => !h.match).map((h) => h.client)).toEqual([]);
    }
    // 3 SYNs at 0, 3, 9 s, the third without wscale, STATUS_IO_TIMEOUT at 21 s.
    const h = one(replay("sv.base64-decode-5885_input.pcap", { strict: true }), "192.168.100.67:57505");
    expect(h.recorded.outcome).toBe("timeout");
    expect(h.replayed).toMatchObject({ outcome: "timeout", status: "STATUS_IO_TIMEOUT", detail: expect.stringMatching(/^timedOut at 21000\.0 ms/) });
  });

  it.skipIf(absent("sv.base64-decode-5885_input.pcap"))("without --strict its window scale 8 (not the profile's 2) is configuration, said so", () => {
    const h = one(replay("sv.base64-decode-5885_input.pcap"), "192.168.100.67:57505");
    // The first two SYNs; the third carries no window scale on either side.
    const ws = expect.objectContaining({ field: "options", recorded: "mss 1460,nop,wscale 8,nop,nop,sackOK", replayed: "mss 1460,nop,wscale 2,nop,nop,sackOK", explained: expect.stringMatching(/^explained by configuration: Windows 7 and 8 offer window scale 2 or 8/) });
    expect(h.diffs).toEqual([ws, ws]);
  });

  it.skipIf(absent("sv.base64-decode-5885_input.pcap"))("an ACK the recorded client sent before its TCP took in the last 1.4 ms of data: explained by the capture", () => {
    const h = one(replay("sv.base64-decode-5885_input.pcap", { strict: true }), "192.168.100.67:57647");
    const d = h.diffs.find((x) => x.field === "ack")!;
    expect(d).toMatchObject({ frame: 812, recorded: "128193", replayed: "129452" });
    expect(d.explained).toMatch(/^explained by capture: the server's bytes up to 129452 were captured 1\.4 ms before this segment/);
  });
});

describe("the replay CLI's timer options", () => {
  let err = "";
  beforeEach(() => {
    err = "";
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
  });
  afterEach(() => vi.restoreAllMocks());
  it("a bad --syn-retries or --initial-rto is a one-line usage error (exit 2)", async () => {
    expect(await replayCommand(["x.pcap", "--syn-retries", "-1"])).toBe(2);
    expect(err).toBe("synack replay: --syn-retries must be between 0 and 250, not -1\n");
    err = "";
    expect(await replayCommand(["x.pcap", "--initial-rto", "soon"])).toBe(2);
    expect(err).toBe('synack replay: --initial-rto takes a whole number, not "soon"\n');
  });
});
