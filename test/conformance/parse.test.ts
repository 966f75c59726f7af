// Suite-wide parser tests over the public packetdrill scripts in ../shared/conformance
// (docs/conformance-runner.md): every script parses, and every parsed event prints back to its own
// source text (whitespace aside) and re-parses to the same tree.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseScript } from "../../src/conformance/parse.js";
import { formatEvent } from "../../src/conformance/format.js";
import { parseShellCommand } from "../../src/conformance/sysctl.js";
import type { Event, Script } from "../../src/conformance/ast.js";
import { CONFORMANCE_DIR, haveSuites, listScripts, stripComments } from "./suite-helpers.js";

/**
 * Scripts that do not parse, each with the reason and the error the parser must give.
 * Only genuine syntax errors belong here (packetdrill itself rejects them).
 */
const KNOWN_UNPARSABLE: Record<string, { reason: string; error: RegExp; line: number }> = {
  "freebsd-tcp-testsuite/fast-open/client/client-handle-cookie-update-of-length-17.pkt": {
    reason:
      "the file starts with a stray 's' before the licence comment ('s//'); packetdrill's grammar " +
      "rejects a WORD where an option or event time must be (the suite marks it .exfail)",
    error: /expected the time of an event .* found 's'/,
    line: 1,
  },
};

const skipReason = `../shared/conformance not found at ${CONFORMANCE_DIR}`;

describe.skipIf(!haveSuites)(`packetdrill suites (${haveSuites ? "present" : skipReason})`, () => {
  const files = haveSuites ? listScripts() : [];
  const parsed = new Map<string, { text: string; script: Script }>();
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const r = parseScript(text, f);
    if (r.ok) parsed.set(f, { text, script: r.script });
  }

  it("finds the 722 scripts of the four suites", () => {
    expect(files.length).toBe(722);
    const bySuite = new Map<string, number>();
    for (const f of files) {
      const suite = relative(CONFORMANCE_DIR, f).split("/")[0]!;
      bySuite.set(suite, (bySuite.get(suite) ?? 0) + 1);
    }
    expect(Object.fromEntries(bySuite)).toEqual({
      "freebsd-tcp-testsuite": 633,
      "google-packetdrill": 46,
      "linux-selftests": 39,
      "nplab-packetdrill": 4,
    });
  });

  it("parses every script except the listed ones, which fail with their specific error", () => {
    const failures: string[] = [];
    for (const f of files) {
      const rel = relative(CONFORMANCE_DIR, f);
      const known = KNOWN_UNPARSABLE[rel];
      const r = parseScript(readFileSync(f, "utf8"), f);
      if (known) {
        expect(r.ok, rel).toBe(false);
        if (!r.ok) {
          expect(r.error, rel).toMatch(known.error);
          expect(r.line, rel).toBe(known.line);
        }
      } else if (!r.ok) {
        failures.push(`${rel}:${r.line}: ${r.error}`);
      }
    }
    expect(failures).toEqual([]);
    console.log(`parsed ${parsed.size} of ${files.length} scripts; ${Object.keys(KNOWN_UNPARSABLE).length} listed as unparsable`);
    expect(parsed.size).toBe(files.length - Object.keys(KNOWN_UNPARSABLE).length);
  });

  // Event text cut from the source: from its line to the line before the next event.
  const TIME = /^(\*|\+?[0-9]*\.?[0-9]+(~\+?[0-9]*\.?[0-9]+)?)(\.\.\.[0-9]*\.?[0-9]+)?/;
  const splitTime = (s: string): [number[], string] => {
    const m = TIME.exec(s);
    if (!m) return [[], s];
    const nums = m[0]
      .split(/\.\.\.|~/)
      .map((x) => Number(x.replace("+", "")));
    return [nums, s.slice(m[0].length)];
  };
  // packetdrill ignores whitespace between tokens; nplab's (tos ..)/(class ..)/(hlim ..)
  // are printed as [tos ..]/[ttl ..].
  const normalise = (s: string) =>
    s
      .replace(/\s+/g, "")
      .replace(/\((tos|ttl|hlim|class|flowlabel)([^)]*)\)/g, "[$1$2]")
      .replace(/\[class/g, "[tos")
      .replace(/\[hlim/g, "[ttl")
      .replace(/0x0+([0-9a-f])/g, "0x$1");

  it("prints every event back to its source text", () => {
    let events = 0;
    const mismatches: string[] = [];
    for (const [f, { text, script }] of parsed) {
      const lines = stripComments(text).split("\n");
      script.events.forEach((ev, k) => {
        const next = script.events[k + 1];
        const endLine = next ? next.line : (script.cleanupCommand?.line ?? lines.length + 1);
        const src = normalise(lines.slice(ev.line - 1, endLine - 1).join("\n"));
        const fmt = normalise(formatEvent(ev));
        const [ts, rs] = splitTime(src);
        const [tf, rf] = splitTime(fmt);
        events++;
        if (rs !== rf || JSON.stringify(ts) !== JSON.stringify(tf)) {
          mismatches.push(`${relative(CONFORMANCE_DIR, f)}:${ev.line}\n  source ${src}\n  parsed ${fmt}`);
        }
      });
    }
    console.log(`${events} events round-tripped`);
    expect(events).toBeGreaterThan(20000);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it("re-parses every printed event to the same tree", () => {
    const strip = (e: Event) => ({ ...e, line: 0 });
    let diffs = 0;
    for (const [f, { script }] of parsed) {
      const opts = Object.entries(script.options)
        .filter(([k]) => k === "ip_version")
        .map(([k, v]) => `--${k}=${v}\n`)
        .join("");
      for (const ev of script.events) {
        const r = parseScript(opts + formatEvent(ev) + "\n", f);
        if (!r.ok || r.script.events.length !== 1) {
          diffs++;
          expect.soft(r.ok ? "more than one event" : r.error, `${f}:${ev.line}`).toBe("one event");
          continue;
        }
        const got = strip(r.script.events[0]!);
        // Names map (class -> tos, hlim -> ttl) are already the same in the tree.
        if (JSON.stringify(got) !== JSON.stringify(strip(ev))) {
          diffs++;
          expect.soft(got, `${f}:${ev.line}`).toEqual(strip(ev));
        }
      }
    }
    expect(diffs).toBe(0);
  });

  it("puts the first line of each event on the event and keeps events in time-column order", () => {
    for (const [f, { text, script }] of parsed) {
      const lines = text.split("\n");
      let prev = 0;
      for (const ev of script.events) {
        expect(ev.line, f).toBeGreaterThan(prev);
        prev = ev.line;
        // The line starts with the event's time column.
        expect(lines[ev.line - 1]!.trimStart(), `${f}:${ev.line}`).toMatch(/^(\*|\+|[0-9.])/);
      }
    }
  });

  it("reads the per-script flags the suites use", () => {
    const get = (rel: string) => parsed.get(`${CONFORMANCE_DIR}/${rel}`)!.script;
    expect(get("freebsd-tcp-testsuite/snd-syn/snd-syn-mss-inherited-from-mtu-72-ipv4.pkt").options).toMatchObject({
      ip_version: "ipv4",
      mtu: "72",
    });
    // Google scripts have no --ip_version: run_all.py passes it (docs/conformance-runner.md, "Model").
    expect(get("google-packetdrill/gtests/net/tcp/blocking/blocking-connect.pkt").options).toEqual({});
    const counts = new Map<string, number>();
    for (const { script } of parsed.values()) {
      for (const k of Object.keys(script.options)) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.get("ip_version")).toBe(517);
    expect([...counts.keys()].sort()).toEqual([
      "ip_version",
      "mtu",
      "non_fatal",
      "send_omit_free",
      "tcp_md5_secret",
      "tcp_ts_ecr_scaled",
      "tolerance_usecs",
      "udp_encapsulation",
    ]);
  });

  it("understands every sysctl the scripts set", () => {
    let sysctls = 0;
    const unknownSysctl: string[] = [];
    for (const [f, { script }] of parsed) {
      const commands = [
        ...(script.initCommand ? [script.initCommand.command] : []),
        ...script.events.flatMap((e) => (e.type === "shell" ? [e.command] : [])),
        ...(script.cleanupCommand ? [script.cleanupCommand.command] : []),
      ];
      for (const c of commands) {
        for (const a of parseShellCommand(c)) {
          if (a.kind === "sysctl") sysctls++;
          if (a.kind === "unknown" && /(^|\s)(sysctl|\S*set_sysctls\.py|\S*defaults\.sh)\s/.test(a.command + " ")) {
            unknownSysctl.push(`${f}: ${a.command}`);
          }
        }
      }
    }
    console.log(`${sysctls} sysctl assignments`);
    expect(unknownSysctl).toEqual([]);
    expect(sysctls).toBeGreaterThan(6000);
  });
});
