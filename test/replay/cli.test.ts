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
    expect(err).toMatch(/^synack replay: no capture given\n/);
    err = "";
    expect(await replayCommand([join(PCAPS, "v4-refused.pcap"), "--profile", "solaris"])).toBe(2);
    expect(err).toMatch(/unknown profile 'solaris'/);
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
    expect(err.trim().split("\n")).toHaveLength(1);
    err = "";
    expect(await replayCommand([join(tmp, "missing.pcap")])).toBe(2);
    expect(err).toMatch(/cannot read/);
  });
});
