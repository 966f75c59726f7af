// `synack replay` as a command: exit codes, the JSON of docs/cli.md, one-line errors.
import { existsSync } from "node:fs";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { replayCommand } from "../../src/replay/cli.js";

const PCAPS = join(import.meta.dirname, "../../pcaps");
const tmp = mkdtempSync(join(tmpdir(), "synack-replay-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let out = "";
let err = "";
beforeEach(() => {
  out = "";
  err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

describe("synack replay", () => {
  it("--json prints the document of docs/cli.md and exits 0 when everything matches", async () => {
    const code = await replayCommand([join(PCAPS, "v4-refused.pcap"), join(PCAPS, "v6-data-fin.pcap"), "--profile", "linux", "--strict", "--json"]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const doc = JSON.parse(out);
    expect(doc.passed).toBe(2);
    expect(doc.failed).toBe(0);
    expect(doc.handshakes).toHaveLength(2);
    const [a, b] = doc.handshakes;
    expect(a).toMatchObject({ client: expect.stringMatching(/^10\.201\.1\.2:\d+$/), server: "10.201.2.2:81", family: "ipv4", recorded: { outcome: "refused" }, replayed: { outcome: "refused", status: "STATUS_CONNECTION_REFUSED" }, match: true, diffs: [] });
    expect(a.file).toContain("v4-refused.pcap");
    expect(b).toMatchObject({ server: "[fd00:201:2::2]:80", family: "ipv6", replayed: { outcome: "established", status: "STATUS_SUCCESS" }, match: true });
  });

  it("states the inferred profile when none is given", async () => {
    await replayCommand([join(PCAPS, "v4-timeout.pcap")]);
    expect(out).toMatch(/profile linux \(inferred: SYN <mss,sackOK,ts,nop,wscale> win 64240, TTL 64: Linux option order\)/);
    expect(out).toContain("STATUS_IO_TIMEOUT");
  });

  const rae = join(PCAPS, "..", "..", "shared", "pcaps", "rst-inject-rae.pcap");
  it.skipIf(!existsSync(rae))("exits 1 when a replay differs (public capture rst-inject-rae.pcap: the server's RST overtakes the client's data)", async () => {
    const code = await replayCommand([rae]);
    expect(code).toBe(1);
    expect(out).toContain("DIFF");
    expect(out).toMatch(/! frame 8 .*missing/);
  });

  it("usage errors exit 2 with one line and no stack trace", async () => {
    expect(await replayCommand([])).toBe(2);
    expect(err).toMatch(/^synack replay: missing capture \(a pcap or pcapng file\) \(see synack replay --help\)\n$/);
    err = "";
    expect(await replayCommand([join(PCAPS, "v4-refused.pcap"), "--profile", "solaris"])).toBe(2);
    expect(err).toMatch(/unknown profile "solaris"/);
    err = "";
    expect(await replayCommand([join(PCAPS, "v4-refused.pcap"), "--bogus"])).toBe(2);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it("a corrupt capture is a clear error with the offset", async () => {
    const good = readFileSync(join(PCAPS, "v4-refused.pcap"));
    const bad = Buffer.from(good);
    bad.writeUInt32LE(0x7fffffff, 24 + 8); // first record's caplen
    const path = join(tmp, "corrupt.pcap");
    writeFileSync(path, bad);
    expect(await replayCommand([path])).toBe(2);
    expect(err).toMatch(/corrupt\.pcap: .*offset 24/);
    expect(err.match(/offset/g)).toHaveLength(1);
    expect(err.trim().split("\n")).toHaveLength(1);
    err = "";
    expect(await replayCommand([join(tmp, "missing.pcap")])).toBe(2);
    expect(err).toBe(`synack replay: ${join(tmp, "missing.pcap")}: no such file\n`);
  });

  it("a bad capture among good ones: the good ones are replayed and reported, the bad one named once, exit 1", async () => {
    const bad = join(tmp, "notes.txt");
    writeFileSync(bad, "not a capture\n");
    expect(await replayCommand([bad, join(PCAPS, "v4-refused.pcap"), "--profile", "linux"])).toBe(1);
    expect(out).toMatch(/MATCH 10\.201\.1\.2:\d+ -> 10\.201\.2\.2:81/);
    expect(out).toMatch(/error: .*notes\.txt: unknown capture magic/);
    expect(out.trim().split("\n").pop()).toBe("1 matched, 0 differ, 1 capture(s) unreadable");
    expect(err).toMatch(/^synack replay: .*notes\.txt: unknown capture magic .* at offset 0 \(not pcap or pcapng\)\n$/);
  });

  const gnutella = join(PCAPS, "..", "..", "shared", "pcaps", "gnutella.pcap");
  it.skipIf(!existsSync(gnutella))("--summary: one line per capture and per differing connection, its timer hint if any, then the totals", async () => {
    const full = await replayCommand([gnutella]);
    const fullOut = out;
    out = "";
    const code = await replayCommand([gnutella, "--summary"]);
    expect(code).toBe(full);
    const lines = out.trim().split("\n");
    const m = /^.*gnutella\.pcap: (\d+) active open\(s\), (\d+) matched, (\d+) differ$/.exec(lines[0]!)!;
    expect(m).not.toBeNull();
    const differ = Number(m[3]);
    expect(lines.filter((l) => l.startsWith("  DIFF "))).toHaveLength(differ);
    // gnutella's early Windows 10 timers (3 s, 2 retransmissions) are not windows' own: one hint line.
    expect(lines.filter((l) => l.startsWith("  hint: "))).toHaveLength(1);
    expect(fullOut.split("\n").filter((l) => l.startsWith("  hint: "))).toEqual(lines.filter((l) => l.startsWith("  hint: ")));
    expect(lines).toHaveLength(differ + 3);
    expect(lines.at(-1)).toBe(fullOut.trim().split("\n").at(-1));
    expect(fullOut.split("\n").length).toBeGreaterThan(10 * lines.length);
  });

  it("a sidecar may give one connection its own settings; a bad sidecar is one line", async () => {
    const dir = mkdtempSync(join(tmp, "side-"));
    const pcap = join(dir, "t.pcap");
    writeFileSync(pcap, readFileSync(join(PCAPS, "v4-timeout.pcap")));
    await replayCommand([pcap, "--json"]);
    const client = JSON.parse(out).handshakes[0].client;
    // A 3 s initial RTO for this connection: the recorded second SYN (1 s) is missing.
    expect(JSON.parse(out).handshakes[0].match).toBe(true);
    writeFileSync(join(dir, "t.json"), JSON.stringify({ connections: [{ client, title: "slow", overrides: { initialRtoMs: 3000 } }] }));
    out = "";
    expect(await replayCommand([pcap, "--json"])).toBe(1);
    const h = JSON.parse(out).handshakes[0];
    expect(h.title).toBe("slow");
    expect(h.match).toBe(false);
    for (const [doc, re] of [
      [{ connections: {} }, /"connections" must be a list/],
      [{ connections: [{ title: "x" }] }, /connections\[0\] needs "client"/],
      [{ connections: [{ client, profile: "beos" }] }, /connections\[0\]: unknown profile "beos"/],
      [{ connections: [{ client, colour: 1 }] }, /connections\[0\]: unknown key "colour"/],
      [{ connections: [{ client, overrides: { synRetries: "2" } }] }, /unknown or mistyped override "synRetries"/],
      [{ connections: [{ client, fullClose: "yes" }] }, /connections\[0\]: "fullClose" must be true or false/],
      [{ connections: [{ client, appWrites: [{ atMs: 5, bytes: -1 }] }] }, /connections\[0\]: "appWrites" must be a list of/],
    ] as const) {
      writeFileSync(join(dir, "t.json"), JSON.stringify(doc));
      err = "";
      expect(await replayCommand([pcap])).toBe(2);
      expect(err).toMatch(re);
      expect(err.trim().split("\n")).toHaveLength(1);
    }
  });

  it("timerSlackMs explains a recorded retransmission that is a little late, never an early one or a much later one", async () => {
    const dir = mkdtempSync(join(tmp, "slack-"));
    const pcap = join(dir, "t.pcap");
    writeFileSync(pcap, readFileSync(join(PCAPS, "v4-timeout.pcap")));
    out = "";
    await replayCommand([pcap, "--json"]);
    const client = JSON.parse(out).handshakes[0].client;
    const verdict = async (initialRtoMs: number, timerSlackMs: number) => {
      // Without the timer wheel, so that our own timer fires exactly at the RTO.
      writeFileSync(join(dir, "t.json"), JSON.stringify({ connections: [{ client, overrides: { initialRtoMs, timerWheel: "exact" }, timerSlackMs }] }));
      out = "";
      await replayCommand([pcap, "--json"]);
      const h = JSON.parse(out).handshakes[0];
      return { match: h.match, why: h.diffs.map((d: { explained?: string }) => d.explained ?? "unexplained").join("; ") };
    };
    // The recorded second SYN left at 1.02 s: with a 960 ms RTO it is about 60 ms late
    // (beyond the 20 ms + 2 % tolerance).
    const late = await verdict(960, 100);
    expect(late, late.why).toMatchObject({ match: true, why: expect.stringMatching(/timer fired 6\d\.\d ms late/) });
    expect((await verdict(960, 30)).match).toBe(false);
    // Early (a 1 080 ms RTO): never explained by lateness.
    expect((await verdict(1080, 100)).match).toBe(false);
  });
});
