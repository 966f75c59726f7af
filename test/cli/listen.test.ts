// `synack listen` as a user runs it, without root: usage errors are one line and exit 2,
// --sim serves a simulated client (a second synack stack in-process) and says so.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { fileReply, parseListenArgs } from "../../src/cli/listen.js";

const tmp = mkdtempSync(join(tmpdir(), "synack-listencli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("synack listen: arguments", () => {
  it.each([
    [[], "missing PORT"],
    [["0", "--sim"], "bad port"],
    [["http", "--sim"], "bad port"],
    [["80"], "choose where to listen"],
    [["80", "--lab", "--sim"], "mutually exclusive"],
    [["80", "--dev", "tun0"], "--dev needs --local"],
    [["80", "--sim", "--echo", "--serve", "x"], "--echo and --serve are mutually exclusive"],
    [["80", "--sim", "--profile", "bsd"], 'unknown profile "bsd"'],
    [["80", "--sim", "--count", "0"], "--count must be between 1 and"],
    [["80", "--sim", "--local", "10.0.0.2"], "--local goes with --dev"],
  ])("%j -> %s", (argv, msg) => {
    expect(() => parseListenArgs(argv as string[])).toThrow(msg);
  });

  it("a usage error is one line on stderr and exit 2; --help prints the usage", async () => {
    const r = await runCli(["listen", "80"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("synack listen: choose where to listen: --dev NAME --local ADDR, --lab or --sim\n");
    const h = await runCli(["listen", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: synack listen PORT/);
    const missing = await runCli(["listen", "80", "--sim", "--serve", join(tmp, "nope.html")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`synack listen: cannot read ${join(tmp, "nope.html")}: ENOENT\n`);
  });
});

describe("synack listen --sim", () => {
  it("--echo: prints each connection's timeline, the data, and a graceful close", async () => {
    const r = await runCli(["listen", "7000", "--sim", "--echo", "--count", "2"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/via a simulated client \(a second synack stack in-process, not a real network\)/);
    expect(r.stdout.match(/^connection \d: 10\.99\.0\.1:\d+ -> 10\.99\.0\.2:7000$/gm)?.length).toBe(2);
    expect(r.stdout).toMatch(/<-- S +0 +0 .*# CLOSED -> SYN-RECEIVED/);
    expect(r.stdout).toMatch(/--> S\. +0 +1 .*passive open: send SYN-ACK/);
    expect(r.stdout).toMatch(/received: "hello 1 from the simulated client\\n"/);
    expect(r.stdout.match(/✔ 10\.99\.0\.1:\d+ closed gracefully after [\d.]+ ms: received 34 B, sent 34 B/g)?.length).toBe(2);
    expect(r.stdout).toMatch(/stopped after 2 connections\n$/);
  });

  it("--serve FILE --json: one JSON line per event, an HTTP response with the file", async () => {
    const page = join(tmp, "index.html");
    writeFileSync(page, "<p>hi</p>\n");
    const r = await runCli(["listen", "8080", "--sim", "--serve", page, "--json", "--profile", "freebsd"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ event: "listening", listening: ["10.99.0.2:8080"], profile: "freebsd", serve: "file", via: "sim" });
    expect(lines.length).toBe(3);
    expect(lines[2]).toEqual({ event: "stopped", served: 1, halfOpenDropped: 0, synCookiesSent: 0, synCookiesAccepted: 0, synCookiesFailed: 0 });
    expect(lines[1]).toMatchObject({ event: "connection", local: "10.99.0.2:8080", profile: "freebsd", end: "graceful" });
    expect(lines[1].received).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    expect(lines[1].bytesOut).toBe(fileReply("GET / HTTP/1.1\r\n\r\n", new TextEncoder().encode("<p>hi</p>\n"), "index.html").length);
    expect(lines[1].segments[0]).toMatchObject({ dir: "in", flags: "S" });
  });
});

describe("fileReply", () => {
  const file = new TextEncoder().encode("body");
  it("answers an HTTP request with a 200 and the file, HEAD without the body, anything else with the raw file", () => {
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(dec(fileReply("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", file, "a.txt"))).toBe("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\nServer: synack\r\n\r\nbody");
    expect(dec(fileReply("HEAD / HTTP/1.0\r\n\r\n", file, "a.bin"))).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: application\/octet-stream\r\nContent-Length: 4\r\n.*\r\n\r\n$/s);
    expect(dec(fileReply("hello\n", file, "a.txt"))).toBe("body");
  });
});
