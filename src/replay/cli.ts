// `synack replay CAPTURE...` (options in src/cli/commands.ts). Exit 0 when every active
// open matches, 1 when one differs or a capture could not be read (the readable ones are
// still replayed and reported), 2 on a usage error or when no capture could be read (one
// line on stderr, never a stack trace).
import { existsSync, readFileSync } from "node:fs";
import { readCaptureFile, type Capture } from "../../device/pcap/read.js";
import { isProfileName, PROFILE_NAMES, PROFILES, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { colorsFor, type Colors } from "../cli/colors.js";
import { REPLAY } from "../cli/commands.js";
import { parseOrExit } from "../cli/options.js";
import { extractActiveOpens, type ActiveOpen } from "./extract.js";
import { replayActiveOpen, type FileReplay, type HandshakeResult, type ReplayOptions } from "./replay.js";
import { timerHint, type TimerHint } from "./timer-hint.js";

/** What a sidecar says about one connection of its capture (the client endpoint names it). */
export interface ConnectionSettings {
  /** "10.99.0.2:61978", "[fd99::2]:53953" */
  client: string;
  server?: string;
  /** A name for the connection (the demo's scenario title). */
  title?: string;
  profile?: ProfileName;
  overrides?: ProfileOverrides;
  /** The application cancelled the connect (IoCancelIrp) after this many ms. */
  cancelAfterMs?: number;
  /**
   * The recording is synack's own run in real time (synack demo): its timers may have fired
   * up to this many ms late while the event loop was busy.
   */
  timerSlackMs?: number;
  /** The application closed with close(), not a half close (ReplayOptions.fullClose). */
  fullClose?: boolean;
  /** The application's writes and their times (ReplayOptions.appWrites). */
  appWrites?: Array<{ atMs: number; bytes: number }>;
}

export interface Sidecar {
  path?: string;
  /** Knobs for every connection of the capture. */
  overrides?: ProfileOverrides;
  connections: ConnectionSettings[];
  error?: string;
}

function checkOverrides(o: unknown, where: string): { overrides?: ProfileOverrides; error?: string } {
  if (o === undefined) return {};
  if (typeof o !== "object" || o === null || Array.isArray(o)) return { error: `${where}: "overrides" must be an object` };
  const out: Record<string, unknown> = {};
  const template = PROFILES.linux as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === "name" || !(k in template) || typeof v !== typeof template[k]) return { error: `${where}: unknown or mistyped override "${k}"` };
    out[k] = v;
  }
  return { overrides: out as ProfileOverrides };
}

/**
 * A capture's sidecar (`NAME.json` beside `NAME.pcap`): `overrides` are the knobs the
 * recording set on the client for every connection (pcaps/record.sh writes them, e.g.
 * tcp_syn_retries); `connections` gives one connection's own settings (synack demo writes
 * them: profile, SIO_TCP_INITIAL_RTO, TCP_FAIL_CONNECT_ON_ICMP_ERROR, a cancel). Only known
 * profile knobs with the right type are taken.
 */
export function readSidecar(capturePath: string): Sidecar {
  const path = capturePath.replace(/\.(pcapng|pcap|cap)$/i, "") + ".json";
  if (path === capturePath || !existsSync(path)) return { connections: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    return { path, connections: [], error: `${path}: not JSON (${(e as Error).message})` };
  }
  const top = checkOverrides((doc as { overrides?: unknown }).overrides, path);
  if (top.error) return { path, connections: [], error: top.error };
  const list = (doc as { connections?: unknown }).connections;
  const connections: ConnectionSettings[] = [];
  if (list !== undefined) {
    if (!Array.isArray(list)) return { path, connections: [], error: `${path}: "connections" must be a list` };
    for (const [i, c] of list.entries()) {
      const where = `${path}: connections[${i}]`;
      if (typeof c !== "object" || c === null || typeof (c as { client?: unknown }).client !== "string") return { path, connections: [], error: `${where} needs "client" ("addr:port")` };
      const e = c as Record<string, unknown>;
      const known = new Set(["client", "server", "title", "profile", "overrides", "cancelAfterMs", "timerSlackMs", "fullClose", "appWrites"]);
      const unknown = Object.keys(e).find((k) => !known.has(k));
      if (unknown) return { path, connections: [], error: `${where}: unknown key "${unknown}"` };
      if (e.profile !== undefined && (typeof e.profile !== "string" || !isProfileName(e.profile))) return { path, connections: [], error: `${where}: unknown profile ${JSON.stringify(e.profile)}` };
      for (const k of ["cancelAfterMs", "timerSlackMs"]) {
        if (e[k] !== undefined && (typeof e[k] !== "number" || !((e[k] as number) >= 0))) return { path, connections: [], error: `${where}: "${k}" must be a number of ms` };
      }
      if (e.fullClose !== undefined && typeof e.fullClose !== "boolean") return { path, connections: [], error: `${where}: "fullClose" must be true or false` };
      const writes = e.appWrites;
      const okWrite = (w: unknown) => typeof w === "object" && w !== null && typeof (w as { atMs?: unknown }).atMs === "number" && (w as { atMs: number }).atMs >= 0 && Number.isInteger((w as { bytes?: unknown }).bytes) && (w as { bytes: number }).bytes > 0;
      if (writes !== undefined && (!Array.isArray(writes) || !writes.every(okWrite))) return { path, connections: [], error: `${where}: "appWrites" must be a list of { "atMs": ms, "bytes": count }` };
      const ov = checkOverrides(e.overrides, where);
      if (ov.error) return { path, connections: [], error: ov.error };
      connections.push({
        client: e.client as string,
        server: typeof e.server === "string" ? e.server : undefined,
        title: typeof e.title === "string" ? e.title : undefined,
        profile: e.profile as ProfileName | undefined,
        overrides: ov.overrides,
        cancelAfterMs: e.cancelAfterMs as number | undefined,
        timerSlackMs: e.timerSlackMs as number | undefined,
        fullClose: e.fullClose as boolean | undefined,
        appWrites: writes as Array<{ atMs: number; bytes: number }> | undefined,
      });
    }
  }
  return { path, overrides: top.overrides, connections };
}

/** The file-wide part of a sidecar (kept for callers that only need that). */
export function sidecarOverrides(capturePath: string): { overrides?: ProfileOverrides; path?: string; error?: string } {
  const s = readSidecar(capturePath);
  return { overrides: s.overrides, path: s.path, error: s.error };
}

/** One line for a capture that cannot be read: the file, then why (its offset once). */
export function captureError(path: string, reason: string, offset: number): string {
  const m = /^cannot read .*?: (E[A-Z]+)\b/.exec(reason);
  if (m) {
    const why: Record<string, string> = { ENOENT: "no such file", EACCES: "permission denied", EISDIR: "is a folder, not a capture file" };
    return `${path}: ${why[m[1]!] ?? reason}`;
  }
  return `${path}: ${reason}${/\boffset\b/.test(reason) ? "" : ` (offset ${offset})`}`;
}

const endpoint = (addr: string, port: number): string => (addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`);

export interface FileReplayWithTitles extends FileReplay {
  /** Titles the sidecar gave, by handshake index. */
  titles: Array<string | undefined>;
  /** The recorded client's SYN timers, when they are not its profile's (timer-hint.ts). */
  hint?: TimerHint;
}

/** Replays one read capture with its sidecar: per connection, the sidecar's settings. */
export function replayWithSidecar(capture: Capture, file: string, side: Sidecar, o: ReplayRunOptions & { trace?: boolean }): FileReplayWithTitles {
  const x = extractActiveOpens(capture);
  const titles: Array<string | undefined> = [];
  const optsOf: ReplayOptions[] = [];
  const handshakes: HandshakeResult[] = x.opens.map((open) => {
    const mine = side.connections.find((c) => c.client === endpoint(open.client.addr, open.client.port));
    titles.push(mine?.title);
    const overrides = side.overrides || mine?.overrides || o.overrides ? { ...(side.overrides ?? {}), ...(mine?.overrides ?? {}), ...(o.overrides ?? {}) } : undefined;
    const opts: ReplayOptions = { profile: o.profile ?? mine?.profile, strict: o.strict, overrides, trace: o.trace ?? false, cancelAfterMs: mine?.cancelAfterMs, fullClose: o.fullClose ?? mine?.fullClose, appWrites: o.appWrites ?? mine?.appWrites };
    optsOf.push(opts);
    const h = replayActiveOpen(open, opts);
    if (mine?.timerSlackMs) allowLateTimers(h, open, mine.timerSlackMs);
    return h;
  });
  // Which SYN timers the recording shows, when they are not the profile's: only for
  // connections whose timers nobody gave (command line or sidecar).
  const ownTimers = handshakes.map((h, i) => (optsOf[i]!.overrides?.initialRtoMs === undefined && optsOf[i]!.overrides?.synRetries === undefined ? h : undefined));
  const hint = timerHint(x.opens, ownTimers, (i, knobs) => replayActiveOpen(x.opens[i]!, { ...optsOf[i]!, trace: false, overrides: { ...(optsOf[i]!.overrides ?? {}), ...knobs } }));
  const warnings = capture.warnings.map((w) => `${w.reason}`);
  if (side.overrides) warnings.push(`overrides from ${side.path}: ${JSON.stringify(side.overrides)}`);
  if (side.connections.length > 0) warnings.push(`per-connection settings from ${side.path} (${side.connections.length} connection(s))`);
  return { file, handshakes, skipped: x.skipped, warnings, titles, ...(hint ? { hint } : {}) };
}

/**
 * A recording made by synack itself in real time (the demo) sends a retransmission when its
 * timer fires, which on a busy machine is later than due. A "time" difference where the
 * recorded segment is late by at most `slackMs`, and by less than a third of the wait
 * since the recorded client's previous segment, is explained by that; anything earlier,
 * later or larger stays a difference.
 */
function allowLateTimers(h: HandshakeResult, open: ActiveOpen, slackMs: number): void {
  const sent = open.events.filter((e) => e.kind === "tcp" && e.dir === "c2s").map((e) => e.t);
  for (const d of h.diffs) {
    if (d.field !== "time" || d.explained) continue;
    // d.t is the recorded segment's exact time (d.recorded is rounded for print).
    const rec = d.t;
    const rep = Number.parseFloat(d.replayed);
    const late = rec - rep;
    const prev = sent.filter((t) => t < rec - 0.001).pop() ?? 0;
    if (late > 0 && late <= slackMs && late < (rec - prev) / 3) {
      d.explained = `explained by capture: recorded by synack in real time, its timer fired ${late.toFixed(1)} ms late (a busy event loop)`;
    }
  }
  h.match = h.diffs.every((d) => d.explained !== undefined);
}

export interface ReplayRun {
  files: FileReplayWithTitles[];
  passed: number;
  failed: number;
  /** Captures that could not be read, one line each. */
  errors: string[];
}

export interface ReplayRunOptions {
  profile?: ProfileName;
  strict?: boolean;
  /** Knobs for every connection, over the sidecar's (--syn-retries, --initial-rto). */
  overrides?: ProfileOverrides;
  /** Read sidecars (default true). */
  sidecars?: boolean;
  /** The recorded applications closed with close(), not a half close (ReplayOptions.fullClose). */
  fullClose?: boolean;
  /** The recorded application's writes and their times (ReplayOptions.appWrites). */
  appWrites?: Array<{ atMs: number; bytes: number }>;
}

/** Reads and replays one capture; an error line for unreadable input. */
export function replayFile(path: string, o: ReplayRunOptions & { trace?: boolean } = {}): FileReplayWithTitles | { error: string } {
  const r = readCaptureFile(path);
  if (!r.ok) return { error: captureError(path, r.reason, r.offset) };
  const side = o.sidecars === false ? { connections: [] } : readSidecar(path);
  if (side.error) return { error: side.error };
  return replayWithSidecar(r.value, path, side, o);
}

/**
 * Replays the captures. A capture that cannot be read is reported in `errors` and the
 * others are still replayed; when none can be read the result is the first error.
 */
export function runReplay(paths: string[], o: ReplayRunOptions = {}): ReplayRun | { error: string } {
  const files: FileReplayWithTitles[] = [];
  const errors: string[] = [];
  let passed = 0;
  let failed = 0;
  for (const path of paths) {
    const fr = replayFile(path, o);
    if ("error" in fr) {
      errors.push(fr.error);
      continue;
    }
    for (const h of fr.handshakes) (h.match ? passed++ : failed++);
    files.push(fr);
  }
  if (files.length === 0 && errors.length > 0) return { error: errors.length === 1 ? errors[0]! : `${errors[0]} (and ${errors.length - 1} more unreadable capture(s))` };
  return { files, passed, failed, errors };
}

/** The JSON document. */
export function replayJson(run: ReplayRun): unknown {
  return {
    handshakes: run.files.flatMap((f) =>
      f.handshakes.map((h, i) => ({
        file: f.file,
        ...(f.titles[i] ? { title: f.titles[i] } : {}),
        client: h.client,
        server: h.server,
        family: h.family,
        profile: h.profile,
        profileSource: h.profileSource,
        inference: h.inference,
        strict: h.strict,
        recorded: { outcome: h.recorded.outcome, detail: h.recorded.detail, frames: h.recorded.frames },
        replayed: { outcome: h.replayed.outcome, status: h.replayed.status, ntstatus: h.replayed.ntstatus, detail: h.replayed.detail },
        match: h.match,
        diffs: h.diffs,
      })),
    ),
    hints: run.files.flatMap((f) => (f.hint ? [{ file: f.file, ...f.hint }] : [])),
    passed: run.passed,
    failed: run.failed,
    errors: run.errors,
  };
}

function totalsLine(run: ReplayRun, c: Colors): string {
  const parts = [c.green(`${run.passed} matched`), run.failed > 0 ? c.red(`${run.failed} differ`) : `${run.failed} differ`];
  if (run.errors.length > 0) parts.push(c.red(`${run.errors.length} capture(s) unreadable`));
  return parts.join(", ");
}

export function textReport(run: ReplayRun, c: Colors): string {
  const lines: string[] = [];
  for (const f of run.files) {
    lines.push(c.bold(`${f.file}: ${f.handshakes.length} active open(s)`));
    for (const w of f.warnings) lines.push(c.dim(`  note: ${w}`));
    if (f.handshakes.length === 0) lines.push("  (no TCP active open found: no SYN without ACK)");
    f.handshakes.forEach((h, i) => lines.push(...handshakeText(h, c, f.titles[i])));
    if (f.hint) lines.push(`  hint: ${f.hint.text}`);
  }
  for (const e of run.errors) lines.push(c.red(`error: ${e}`));
  lines.push(totalsLine(run, c));
  return lines.join("\n");
}

/** --summary: one line per capture and per differing connection, then the totals. */
export function summaryReport(run: ReplayRun, c: Colors): string {
  const lines: string[] = [];
  for (const f of run.files) {
    const m = f.handshakes.filter((h) => h.match).length;
    const d = f.handshakes.length - m;
    lines.push(`${f.file}: ${f.handshakes.length} active open(s), ${c.green(`${m} matched`)}, ${d > 0 ? c.red(`${d} differ`) : "0 differ"}`);
    f.handshakes.forEach((h, i) => {
      if (h.match) return;
      const first = h.diffs.find((x) => !x.explained);
      const why = first ? `; first difference${first.frame !== undefined ? ` at frame ${first.frame}` : ""}: ${first.field} recorded ${first.recorded} / replayed ${first.replayed}` : "";
      lines.push(`  ${c.red("DIFF")} ${h.client} -> ${h.server}${f.titles[i] ? ` (${f.titles[i]})` : ""}: recorded ${h.recorded.outcome}, replayed ${h.replayed.outcome} as ${h.profile}${why}`);
    });
    if (f.hint) lines.push(`  hint: ${f.hint.text}`);
  }
  for (const e of run.errors) lines.push(c.red(`error: ${e}`));
  lines.push(totalsLine(run, c));
  return lines.join("\n");
}

function handshakeText(h: HandshakeResult, c: Colors, title: string | undefined): string[] {
  const out = [
    `  ${h.match ? c.green("MATCH") : c.red("DIFF ")} ${h.client} -> ${h.server} (${h.family}, frames ${h.recorded.frames[0]}-${h.recorded.frames[1]})${title ? ` ${c.dim(title)}` : ""}`,
    c.dim(`        profile ${h.profile} (${h.profileSource}${h.profileSource === "inferred" ? `: ${h.inference}` : `; the SYN looks like: ${h.inference}`})${h.strict ? ", strict" : ""}`),
    `        recorded: ${h.recorded.outcome} (${h.recorded.detail})`,
    `        replayed: ${h.replayed.outcome} ${h.replayed.status} ${h.replayed.ntstatus} (${h.replayed.detail})`,
  ];
  for (const d of h.diffs) {
    const text = `        ${d.explained ? "~" : "!"} ${d.frame !== undefined ? `frame ${d.frame} ` : ""}t=${d.t.toFixed(1)}ms ${d.field}: recorded ${d.recorded} / replayed ${d.replayed}${d.explained ? ` [${d.explained}]` : ""}`;
    out.push(d.explained ? c.dim(text) : c.red(text));
  }
  return out;
}

/**
 * --syn-retries / --initial-rto as profile knobs, as SIO_TCP_INITIAL_RTO sets them on a
 * socket (socket-options.ts): 0 retransmissions also makes a RST refuse at once.
 */
export function timerOverrides(synRetries: number | undefined, initialRtoMs: number | undefined): ProfileOverrides | undefined {
  const o: ProfileOverrides = {};
  if (synRetries !== undefined) {
    o.synRetries = synRetries;
    if (synRetries === 0) o.synSentRst = "refuse";
  }
  if (initialRtoMs !== undefined) o.initialRtoMs = initialRtoMs;
  return Object.keys(o).length > 0 ? o : undefined;
}

export async function replayCommand(argv: string[]): Promise<number> {
  const p = parseOrExit(REPLAY, argv);
  if (typeof p === "number") return p;
  const profile = p.string("profile");
  if (profile !== undefined && !isProfileName(profile)) {
    process.stderr.write(`synack replay: unknown profile "${profile}" (one of ${PROFILE_NAMES.join(", ")})\n`);
    return 2;
  }
  if (p.flag("json") && p.flag("summary")) {
    process.stderr.write("synack replay: --json and --summary exclude each other\n");
    return 2;
  }
  let overrides: ProfileOverrides | undefined;
  try {
    overrides = timerOverrides(p.int("syn-retries", 0, 250), p.int("initial-rto", 1, 65534));
  } catch (e) {
    process.stderr.write(`synack replay: ${(e as Error).message}\n`);
    return 2;
  }
  let run: ReplayRun | { error: string };
  try {
    run = runReplay(p.positionals, { profile: profile as ProfileName | undefined, strict: p.flag("strict"), overrides });
  } catch (e) {
    // A bug of ours, not bad input: still one line, never a stack trace.
    process.stderr.write(`synack replay: internal error: ${(e as Error).message}\n`);
    return 2;
  }
  if ("error" in run) {
    process.stderr.write(`synack replay: ${run.error}\n`);
    return 2;
  }
  const c = colorsFor(process.stdout);
  if (p.flag("json")) process.stdout.write(`${JSON.stringify(replayJson(run), null, 2)}\n`);
  else process.stdout.write(`${p.flag("summary") ? summaryReport(run, c) : textReport(run, c)}\n`);
  // Unreadable captures: also one line each on stderr, where scripts look for errors.
  for (const e of run.errors) process.stderr.write(`synack replay: ${e}\n`);
  return run.failed === 0 && run.errors.length === 0 ? 0 : 1;
}
