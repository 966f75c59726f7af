// docs/ntstatus.md is the project's statement of the outcome table and the Winsock/errno
// columns: every row it states is checked against src/wsk/ntstatus.ts, so the page and the
// code cannot drift apart.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Outcome } from "../../stack/tcp/outcome.js";
import { NTSTATUS, hexStatus, outcomeToStatus, statusName, toErrno, toWinsock } from "../../src/wsk/ntstatus.js";

const DOC = readFileSync(new URL("../../docs/ntstatus.md", import.meta.url), "utf8");

function section(title: string): string[] {
  const start = DOC.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`docs/ntstatus.md has no section "${title}"`);
  const end = DOC.indexOf("\n## ", start + 1);
  return DOC.slice(start, end < 0 ? undefined : end)
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| ---") && !/^\|\s*(what happened|NTSTATUS|condition)\s*\|/.test(l));
}

const cells = (row: string) => row.split("|").slice(1, -1).map((c) => c.trim());

function outcomeOf(text: string): Outcome | undefined {
  const m = /^`([a-zA-Z]+)(?:\/([a-z]+))?`$/.exec(text);
  if (!m) return undefined;
  if (m[1] === "unreachable") return { kind: "unreachable", reason: m[2] as "net" | "host" | "protocol" | "port" };
  return { kind: m[1] } as Outcome;
}

describe("docs/ntstatus.md agrees with src/wsk/ntstatus.ts", () => {
  const outcomeRows = section("Outcomes")
    .map(cells)
    .filter((c) => outcomeOf(c[1]) !== undefined);
  it("states a status for every engine outcome", () => {
    const kinds = new Set(outcomeRows.map((c) => outcomeOf(c[1])!.kind));
    expect([...kinds].sort()).toEqual(["aborted", "cancelled", "closed", "established", "finished", "refused", "reset", "timedOut", "unreachable"]);
  });
  it.each(outcomeRows.map((c) => [c[1], c[2], c[3]] as const))("outcome %s -> %s %s", (outcome, statusCell, value) => {
    const status = outcomeToStatus(outcomeOf(outcome)!);
    expect(statusCell.startsWith(`\`${statusName(status)}\``)).toBe(true);
    expect(value).toBe(hexStatus(status));
  });

  const errorRows = section("Winsock and errno").map(cells).filter((c) => /^`STATUS_/.test(c[0]));
  it.each(errorRows.map((c) => [c[0], c[1], c[2]] as const))("%s -> %s / %s", (statusCell, winsock, errno) => {
    const name = statusCell.replace(/`/g, "");
    const status = (NTSTATUS as Record<string, number>)[name];
    expect(status, name).toBeDefined();
    const w = toWinsock(status);
    const e = toErrno(status);
    expect(winsock).toBe(w.value === 0 ? "0" : `\`${w.name}\` ${w.value}`);
    expect(errno).toBe(e.value === 0 ? "0" : `\`${e.name}\` ${e.value}`);
  });
  it("lists the Winsock/errno rows of every status the outcome table uses", () => {
    const listed = new Set(errorRows.map((c) => c[0].replace(/`/g, "")));
    for (const c of outcomeRows) expect(listed.has(statusName(outcomeToStatus(outcomeOf(c[1])!))), c[1]).toBe(true);
  });
});
