// The package as a user gets it: `npm pack`, install the tarball into a fresh project,
// import it by name (root entry and every sub-path), type-check a consumer file against the
// generated .d.ts with the project's tsc, and run `npx synack` from there.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, installInto, packProject, sh, tempDir } from "./helpers.js";

const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const SUBPATHS = ["wsk", "engine", "device", "pcap", "replay", "conformance", "diagram", "lab"];

describe("npm pack, install the tarball, use it by name", () => {
  const tmp = tempDir("synack-pack-");
  let tarball = "";
  let files: string[] = [];
  const app = join(tmp.path, "app");

  beforeAll(async () => {
    ({ tarball } = await packProject(tmp.path));
    const list = await sh("tar", ["-tzf", tarball], { cwd: tmp.path });
    files = list.stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
    const inst = await installInto(app, tarball);
    if (inst.code !== 0) throw new Error(`npm install of the tarball failed (${inst.code}): ${inst.stderr.slice(-3000)}`);
  }, 300_000);
  afterAll(() => tmp.remove());

  it("the tarball holds dist with types, bin, the addon sources and binding.gyp, and no tests or fixtures", () => {
    for (const f of ["package.json", "README.md", "bin/synack.js", "binding.gyp", "device/tun/tun.cc", "src/bench/listener.c", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/cli/main.js", "scripts/install-addon.mjs"]) {
      expect(files, f).toContain(f);
    }
    for (const s of SUBPATHS) {
      expect(files).toContain(`dist/src/exports/${s}.js`);
      expect(files).toContain(`dist/src/exports/${s}.d.ts`);
    }
    const unwanted = files.filter((f) => /^(test|pcaps|\.ci|node_modules|build)\//.test(f) || f.endsWith(".map") || (f.endsWith(".ts") && !f.endsWith(".d.ts")));
    // Every source binding.gyp compiles is in the tarball (the install builds from them).
    const gypSources = [...readFileSync(join(ROOT, "binding.gyp"), "utf8").matchAll(/"sources":\s*\[([^\]]*)\]/g)].flatMap((m) => [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]));
    expect(gypSources.length).toBeGreaterThan(0);
    expect(gypSources.filter((s) => !files.includes(s))).toEqual([]);
    expect(unwanted).toEqual([]);
    // Every compiled module has its declaration next to it.
    const js = files.filter((f) => f.startsWith("dist/") && f.endsWith(".js"));
    expect(js.length).toBeGreaterThan(50);
    expect(js.filter((f) => !files.includes(f.replace(/\.js$/, ".d.ts")))).toEqual([]);
  });

  it("imports by name: the root entry and every sub-path of the exports map", async () => {
    const script = `
      const root = await import("synack");
      const out = { root: Object.keys(root).sort() };
      for (const s of ${JSON.stringify(SUBPATHS)}) out[s] = Object.keys(await import("synack/" + s)).length;
      out.pkg = (await import("synack/package.json", { with: { type: "json" } })).default.name;
      console.log(JSON.stringify(out));`;
    const r = await sh(process.execPath, ["--input-type=module", "-e", script], { cwd: app });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.root).toEqual(expect.arrayContaining(["openStack", "Network", "SynackSocket", "SocketError", "NtStatusError", "connect", "WskClient", "WskConnection"]));
    for (const s of SUBPATHS) expect(out[s], s).toBeGreaterThan(0);
    expect(out.pkg).toBe("synack");
    // Deep imports outside the exports map are refused, as Node does for any package with one.
    const deep = await sh(process.execPath, ["--input-type=module", "-e", `await import("synack/dist/src/api.js")`], { cwd: app });
    expect(deep.code).not.toBe(0);
    expect(deep.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("type-checks a consumer file against the shipped .d.ts (and rejects a wrong one)", async () => {
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: false, types: ["node"], typeRoots: [join(ROOT, "node_modules", "@types")] },
        files: ["consumer.ts"],
      }),
    );
    writeFileSync(
      join(app, "consumer.ts"),
      `import http from "node:http";
import { connect, openStack, NtStatusError, SocketError, WskClient, type ApiConnectOptions, type Network, type SynackSocket } from "synack";
import { WskProvider, STATUS_CONNECTION_REFUSED, statusName } from "synack/wsk";
import { Stack, seededRandom, type Profile } from "synack/engine";
import { MemoryLink, Runtime } from "synack/device";
import { PcapngWriter } from "synack/pcap";
import { replayCapture } from "synack/replay";
import { runScript } from "synack/conformance";
import { renderSvg } from "synack/diagram";
import { SimPeer } from "synack/lab";

const opts: ApiConnectOptions = { profile: "linux", synRetries: 1 };
const link = new MemoryLink();
const stack = new Stack({ addresses: ["10.0.0.2/24"], random: seededRandom(1) });
const rt = new Runtime(stack, link.a);
const client = new WskClient(new WskProvider(stack, { now: rt.clock }));
export async function f(): Promise<string> {
  try {
    const c = await connect(client, "10.0.0.1:80", opts);
    return c.remote;
  } catch (e) {
    if (e instanceof NtStatusError && e.status === STATUS_CONNECTION_REFUSED) return statusName(e.status) + e.code;
    throw e;
  }
}
export const used = [PcapngWriter, replayCapture, runScript, renderSvg, SimPeer];
export async function g(): Promise<number> {
  const net: Network = await openStack({ sim: true, profile: "linux" });
  const s: SynackSocket = net.createConnection({ host: "10.99.0.1", port: 7 }, () => s.end("x"));
  s.on("error", (e: SocketError) => console.log(e.code, e.errno, e.syscall, e.statusName, e.ntstatus));
  http.get({ host: "10.99.0.1", port: 7, createConnection: net.createConnection });
  await net.close();
  return s.bytesRead + (s.localPort ?? 0);
}
export const p: Profile["name"] = "windows";
`,
    );
    const ok = await sh(process.execPath, [TSC, "-p", app], { cwd: app });
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    // The negative control: the same checker must see a wrong use of the types.
    writeFileSync(join(app, "consumer.ts"), `import { NtStatusError } from "synack";\nconst n: number = new NtStatusError(0).statusName;\nexport { n };\n`);
    const bad = await sh(process.execPath, [TSC, "-p", app], { cwd: app });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/consumer\.ts.*TS2322/);
  });

  it("openStack and a socket from the installed package: echo over the simulated peer, then the process exits", async () => {
    const script = `import { openStack } from "synack";
const net = await openStack({ sim: true });
const s = net.createConnection({ host: "10.99.0.1", port: 7 }, () => s.end("from the tarball"));
s.on("data", (d) => process.stdout.write(d));
s.on("close", () => net.close());`;
    const r = await sh(process.execPath, ["--input-type=module", "-e", script], { cwd: app, timeoutMs: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("from the tarball");
  });

  it("npx synack connect --sim runs from the consumer project", async () => {
    const r = await sh("npx", ["synack", "connect", "10.99.0.1:7", "--sim", "--send", "hello", "--json"], { cwd: app, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe("STATUS_SUCCESS");
    expect(j.received).toBe("hello");
  });

  it("the install built the TUN addon where a toolchain exists (this machine has one)", () => {
    const addon = join(app, "node_modules", "synack", "build", "Release", "synack_tun.node");
    expect(existsSync(addon)).toBe(true);
    expect(JSON.parse(readFileSync(join(app, "node_modules", "synack", "package.json"), "utf8")).name).toBe("synack");
  });
});
