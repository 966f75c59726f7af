#!/usr/bin/env node
// `npm install` step for synack: builds the native TUN addon (binding.gyp) when it can and
// never fails the install when it cannot. Without the addon, everything that needs no TUN
// device still works (replay, conformance, diagram, `connect --sim`, the engine and the WSK
// facade in virtual time); what needs the addon says so in one line when it is used.
//
// node-gyp needs Node's headers. When the running Node ships them (<prefix>/include/node,
// as distribution packages and the official tarballs do) they are used directly, so the
// build needs no download (and works for users whose npm config has no `nodedir`).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const addon = join(root, "build", "Release", "synack_tun.node");
const quiet = process.env.SYNACK_INSTALL_QUIET === "1";

function say(line) {
  if (!quiet) process.stderr.write(`synack: ${line}\n`);
}

if (process.env.SYNACK_SKIP_ADDON === "1") {
  say("SYNACK_SKIP_ADDON=1: the TUN addon was not built (replay, conformance, diagram and --sim work without it)");
  process.exit(0);
}
if (process.platform !== "linux") {
  say(`the TUN addon is Linux-only (this is ${process.platform}): replay, conformance, diagram and --sim work without it`);
  process.exit(0);
}

/** The first of `names` found on PATH, or undefined. */
function which(names) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    for (const n of names) if (existsSync(join(dir, n))) return join(dir, n);
  }
  return undefined;
}

/** Headers of the running Node, when it ships them: node-gyp then needs no download. */
function localNodeDir() {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : undefined;
}

/** How to run node-gyp: npm puts its own on PATH for install scripts and names it in npm_config_node_gyp. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  const local = join(root, "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (existsSync(local)) return [process.execPath, [local]];
  const onPath = which(["node-gyp"]);
  return onPath ? [onPath, []] : undefined;
}

// Installed as a dependency, `npm rebuild synack` re-runs this; in a checkout, `npm install`.
const installed = /[\\/]node_modules[\\/]/.test(root);
const fix = `install g++, make and python3 (Debian/Ubuntu: apt-get install g++ make python3), then run ${installed ? "`npm rebuild synack`" : "`npm install` again"}`;
const missing = [
  which(["c++", "g++", "clang++"]) ? undefined : "a C++ compiler",
  which(["make"]) ? undefined : "make",
  which(["python3", "python"]) ? undefined : "python3",
].filter(Boolean);
const gyp = nodeGyp();
if (missing.length > 0 || !gyp) {
  say(`the TUN addon was not built (missing: ${[...missing, ...(gyp ? [] : ["node-gyp"])].join(", ")}); replay, conformance, diagram and --sim work without it; for TUN devices ${fix}`);
  process.exit(0);
}

const nodedir = process.env.npm_config_nodedir || localNodeDir();
const args = [...gyp[1], "rebuild", ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(gyp[0], args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
if (r.status === 0 && existsSync(addon)) process.exit(0);

// Keep the compiler's output for whoever wants it, and say one line.
const logDir = join(root, "build");
let log = "";
try {
  mkdirSync(logDir, { recursive: true });
  log = join(logDir, "install-addon.log");
  writeFileSync(log, `${gyp[0]} ${args.join(" ")}\n\n${r.stdout ?? ""}\n${r.stderr ?? ""}\n${r.error ? String(r.error) : ""}`);
} catch {
  log = "";
}
const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
const reason = /gyp (ERR|info).*(download|ENOTFOUND|EAI_AGAIN|ECONNREFUSED)/i.test(out)
  ? "node-gyp could not get Node's headers (no network and no local headers; set npm_config_nodedir to a Node source or headers folder)"
  : /not found|No such file/i.test(out) && /(c\+\+|g\+\+|cc1plus|make)/.test(out)
    ? "the C++ toolchain is incomplete"
    : `node-gyp failed (exit ${r.status ?? r.signal ?? r.error?.message})`;
say(`the TUN addon was not built: ${reason}${log ? `, log in ${log}` : ""}; replay, conformance, diagram and --sim work without it; for TUN devices ${fix}`);
process.exit(0);
