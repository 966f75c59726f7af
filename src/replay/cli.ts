// `synack replay CAPTURE... [--profile P] [--strict] [--json]` (docs/cli.md).
// Exit 0 when every active open matches, 1 when one does not, 2 on usage or input errors
// (one line on stderr, never a stack trace).
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { readCaptureFile } from "../../device/pcap/read.js";
import { isProfileName, PROFILE_NAMES, PROFILES, type ProfileName, type ProfileOverrides } from "../../stack/tcp/profiles.js";
import { replayCapture, type FileReplay, type HandshakeResult } from "./replay.js";

const USAGE = "usage: synack replay CAPTURE... [--profile windows|linux|freebsd|rfc] [--strict] [--json]";

/**
 * A fixture's sidecar (`NAME.json` beside `NAME.pcap`, pcaps/record.sh writes them) may
 * carry `overrides`: the knobs the recording set on the kernel client (tcp_syn_retries...).
 * Only known profile knobs with the right type are taken.
 */
export function sidecarOverrides(capturePath: string): { overrides?: ProfileOverrides; path?: string; error?: string } {
  const path = capturePath.replace(/\.(pcapng|pcap|cap)$/i, "") + ".json";
  if (path === capturePath || !existsSync(path)) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    return { path, error: `${path}: not JSON (${(e as Error).message})` };
  }
  const o = (doc as { overrides?: unknown }).overrides;
  if (o === undefined) return { path };
  if (typeof o !== "object" || o === null || Array.isArray(o)) return { path, error: `${path}: "overrides" must be an object` };
  const out: Record<string, unknown> = {};
  const template = PROFILES.linux as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === "name" || !(k in template) || typeof v !== typeof template[k]) return { path, error: `${path}: unknown or mistyped override "${k}"` };
    out[k] = v;
  }
  return { path, overrides: out as ProfileOverrides };
}

export interface ReplayRun {
  files: FileReplay[];
  passed: number;
  failed: number;
}

export interface ReplayRunOptions {
  profile?: ProfileName;
  strict?: boolean;
  /** Read fixture sidecars (default true). */
  sidecars?: boolean;
}

/** Replays the captures; returns an error string for unreadable input (exit 2). */
export function runReplay(paths: string[], o: ReplayRunOptions = {}): ReplayRun | { error: string } {
  const files: FileReplay[] = [];
  let passed = 0;
  let failed = 0;
  for (const path of paths) {
    const r = readCaptureFile(path);
    if (!r.ok) return { error: `${path}: ${r.reason} (offset ${r.offset})` };
    const side = o.sidecars === false ? {} : sidecarOverrides(path);
    if (side.error) return { error: side.error };
    const fr = replayCapture(r.value, path, { profile: o.profile, strict: o.strict, overrides: side.overrides, trace: false });
    if (side.overrides) fr.warnings.push(`overrides from ${side.path}: ${JSON.stringify(side.overrides)}`);
    for (const h of fr.handshakes) (h.match ? passed++ : failed++);
    files.push(fr);
  }
  return { files, passed, failed };
}

/** The `replay --json` document (docs/cli.md). */
export function replayJson(run: ReplayRun): unknown {
  return {
    handshakes: run.files.flatMap((f) =>
      f.handshakes.map((h) => ({
        file: f.file,
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
    passed: run.passed,
    failed: run.failed,
  };
}

function textReport(run: ReplayRun): string {
  const lines: string[] = [];
  for (const f of run.files) {
    lines.push(`${f.file}: ${f.handshakes.length} active open(s)`);
    for (const w of f.warnings) lines.push(`  note: ${w}`);
    if (f.handshakes.length === 0) lines.push("  (no TCP active open found: no SYN without ACK)");
    for (const h of f.handshakes) lines.push(...handshakeText(h));
  }
  lines.push(`${run.passed} matched, ${run.failed} differ`);
  return lines.join("\n");
}

function handshakeText(h: HandshakeResult): string[] {
  const out = [
    `  ${h.match ? "MATCH" : "DIFF "} ${h.client} -> ${h.server} (${h.family}, frames ${h.recorded.frames[0]}-${h.recorded.frames[1]})`,
    `        profile ${h.profile} (${h.profileSource}${h.profileSource === "inferred" ? `: ${h.inference}` : `; the SYN looks like: ${h.inference}`})${h.strict ? ", strict" : ""}`,
    `        recorded: ${h.recorded.outcome} (${h.recorded.detail})`,
    `        replayed: ${h.replayed.outcome} ${h.replayed.status} ${h.replayed.ntstatus} (${h.replayed.detail})`,
  ];
  for (const d of h.diffs) {
    out.push(`        ${d.explained ? "~" : "!"} ${d.frame !== undefined ? `frame ${d.frame} ` : ""}t=${d.t.toFixed(1)}ms ${d.field}: recorded ${d.recorded} / replayed ${d.replayed}${d.explained ? ` [${d.explained}]` : ""}`);
  }
  return out;
}

export async function replayCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        profile: { type: "string" },
        strict: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`synack replay: ${(e as Error).message.split("\n")[0]}\n${USAGE}\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(`synack replay: no capture given\n${USAGE}\n`);
    return 2;
  }
  if (v.profile !== undefined && !isProfileName(v.profile)) {
    process.stderr.write(`synack replay: unknown profile '${v.profile}' (one of ${PROFILE_NAMES.join(", ")})\n`);
    return 2;
  }
  let run: ReplayRun | { error: string };
  try {
    run = runReplay(parsed.positionals, { profile: v.profile as ProfileName | undefined, strict: v.strict });
  } catch (e) {
    // A bug of ours, not bad input: still one line, never a stack trace.
    process.stderr.write(`synack replay: internal error: ${(e as Error).message}\n`);
    return 2;
  }
  if ("error" in run) {
    process.stderr.write(`synack replay: ${run.error}\n`);
    return 2;
  }
  process.stdout.write(v.json ? `${JSON.stringify(replayJson(run), null, 2)}\n` : `${textReport(run)}\n`);
  return run.failed === 0 ? 0 : 1;
}
