// openStack: one call from nothing to a network Node code can use. It builds what a user
// would otherwise wire by hand (a device, the engine Stack with real randomness, the Runtime
// with real time, the WSK provider and a registered client) and hands back a Network whose
// createConnection/connect make net.Socket-compatible streams (socket.ts). One close()
// settles everything: pending connects fail, connections are reset, every pending IRP
// completes exactly once, the device closes, and nothing is left to keep the process alive.
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { Stack, type LocalAddress } from "../../stack/stack.js";
import { isProfileName, PROFILE_NAMES, type ProfileName } from "../../stack/tcp/profiles.js";
import type { TraceEvent } from "../../stack/trace.js";
import type { RandomSource } from "../../stack/random.js";
import { cryptoRandom } from "../../device/random.js";
import { Runtime } from "../../device/runtime.js";
import type { Device } from "../../device/types.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import { labUnavailableReason } from "../../device/netns.js";
import { WskProvider } from "../wsk/provider.js";
import { WskClient } from "../wsk/client.js";
import { STATUS_CANCELLED } from "../wsk/ntstatus.js";
import { SocketError, SynackUsageError } from "./errors.js";
import { SynackSocket, normalizeConnectArgs, type ConnectInput, type ConnectListener, type CreateConnection, type SocketHost, type SynackConnectDefaults } from "./socket.js";
import { SynackServer, type SynackServerOptions } from "./server.js";
import { openLab, openSim, type LabNetwork, type NetworkLabOptions, type NetworkSimOptions, type SimNetwork } from "./peers.js";

export interface OpenStackOptions extends SynackConnectDefaults {
  /** Attach to (or create) the TUN device of this name; `address` is then required. */
  tun?: string;
  /** A raw IP socket on this interface (IPv4; needs the optional raw-socket package). */
  raw?: string;
  /** A throwaway network namespace whose kernel is the peer (root). */
  lab?: boolean | NetworkLabOptions;
  /** The in-process simulated peer (no root, not a real network). */
  sim?: boolean | NetworkSimOptions;
  /** Any Device (an in-memory link end, your own): `address` is then required. */
  device?: Device;
  /** The stack's own address(es), CIDR: "10.0.0.2/24", "fd00::2/64". */
  address?: string | string[];
  /** Next hop(s) for destinations outside the address prefixes (IPv4 and/or IPv6). */
  gateway?: string | string[];
  /** Write every packet the stack receives or sends to this pcapng file, each with the stack's decision as its comment. */
  pcap?: string;
  /** Receives the engine's decision trace (one event per segment, timer, drop...). */
  trace?: (event: TraceEvent) => void;
  /** Randomness for ISNs, ports and timestamps (default: crypto). */
  random?: RandomSource;
  /** Default profile of connections (default `windows`). */
  profile?: ProfileName;
}

const MODES = ["tun", "raw", "lab", "sim", "device"] as const;

function usage(message: string): never {
  throw new SynackUsageError("ERR_INVALID_ARG_VALUE", `openStack: ${message}`);
}

function cidrList(v: string | string[] | undefined, what: string): string[] {
  const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
  for (const a of list) {
    const [ip, len, ...rest] = a.split("/");
    if (rest.length > 0 || !isIP(ip) || (len !== undefined && !/^\d+$/.test(len))) usage(`bad ${what} "${a}" (expected an IP address with a prefix, e.g. "10.0.0.2/24")`);
  }
  return list;
}

/**
 * Opens a synack stack on a device and returns the Network to connect through.
 * Exactly one of `tun`, `raw`, `lab`, `sim`, `device`. Throws SynackUsageError (one line) for
 * bad options, and the device's own one-line error when it cannot be opened (not root, addon
 * not built, ...).
 */
export async function openStack(options: OpenStackOptions): Promise<Network> {
  if (options === null || typeof options !== "object") usage("options must be an object, e.g. { sim: true }");
  const chosen = MODES.filter((m) => options[m] !== undefined && options[m] !== false);
  if (chosen.length === 0) usage("choose where the stack lives: { tun: NAME, address }, { raw: IFNAME, address }, { lab: true }, { sim: true } or { device, address }");
  if (chosen.length > 1) usage(`${chosen.join(" and ")} are mutually exclusive`);
  const mode = chosen[0];
  const profile = options.profile ?? "windows";
  if (!isProfileName(profile)) usage(`unknown profile "${String(profile)}" (${PROFILE_NAMES.join(", ")})`);
  let addresses = cidrList(options.address, "address");
  const gateways = cidrList(options.gateway, "gateway").map((g) => g.split("/")[0]);
  if ((mode === "tun" || mode === "raw" || mode === "device") && addresses.length === 0) usage(`{ ${mode} } needs address: the stack's own address with its prefix, e.g. "10.0.0.2/24"`);
  if (mode === "lab") {
    const why = labUnavailableReason();
    if (why) usage(`{ lab: true } ${why}; { sim: true } runs without root`);
  }

  let device: Device;
  let lab: LabNetwork | undefined;
  let sim: SimNetwork | undefined;
  switch (mode) {
    case "tun": {
      if (typeof options.tun !== "string" || options.tun === "") usage("tun must be an interface name");
      const { TunDevice } = await import("../../device/tun/index.js");
      device = openDevice(`TUN device ${options.tun}`, () => TunDevice.open({ name: options.tun!, up: true }));
      break;
    }
    case "raw": {
      if (typeof options.raw !== "string" || options.raw === "") usage("raw must be an interface name");
      const local = addresses[0].split("/")[0];
      if (local.includes(":")) usage("the raw device is IPv4 only");
      const { RawIpDevice } = await import("../../device/raw.js");
      device = openDevice(`raw socket on ${options.raw}`, () => RawIpDevice.open({ ifname: options.raw!, local, rstFilter: true }));
      break;
    }
    case "lab":
      lab = await openLab(options.lab === true ? {} : (options.lab as NetworkLabOptions));
      device = lab.device;
      if (addresses.length === 0) addresses = lab.stackAddresses;
      break;
    case "sim":
      sim = openSim(options.sim === true ? {} : (options.sim as NetworkSimOptions));
      device = sim.device;
      if (addresses.length === 0) addresses = sim.stackAddresses;
      break;
    default:
      device = options.device!;
  }
  const gw = [...gateways, ...(lab?.gateways ?? []), ...(sim?.gateways ?? [])];
  return new Network({ ...options, profile }, device, addresses, gw, lab, sim);
}

function openDevice(what: string, open: () => Device): Device {
  try {
    return open();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const msg = (err.message ?? String(e)).split("\n")[0];
    if (err.code === "EPERM" || err.code === "EACCES") {
      const need = /CAP_NET_ADMIN/.test(msg) ? "" : " (needs CAP_NET_ADMIN)";
      throw Object.assign(new Error(`openStack: cannot open the ${what}: ${msg}${need}; run as root, or use { sim: true }`), { code: err.code });
    }
    throw Object.assign(new Error(`openStack: cannot open the ${what}: ${msg}`), { code: err.code });
  }
}

/**
 * A synack stack on a device, ready for connections. `createConnection`/`connect` are
 * bound, so they can be handed to `http.request({ createConnection })` or an Agent as they are.
 */
export class Network implements SocketHost {
  readonly stack: Stack;
  readonly runtime: Runtime;
  readonly provider: WskProvider;
  readonly client: WskClient;
  readonly device: Device;
  /** The stack's own addresses ("10.99.0.2/24"). */
  readonly addresses: readonly string[];
  readonly defaults: SynackConnectDefaults;
  /** With `lab`: the namespace and the kernel's addresses. */
  readonly lab: LabNetwork | undefined;
  /** With `sim`: the simulated peer. */
  readonly sim: SimNetwork | undefined;
  private readonly sockets = new Set<SynackSocket>();
  private readonly pcap: PcapngWriter | undefined;
  private closing: Promise<void> | undefined;
  private isClosed = false;

  /** @internal use openStack */
  constructor(options: OpenStackOptions, device: Device, addresses: string[], gateways: string[], lab: LabNetwork | undefined, sim: SimNetwork | undefined) {
    this.device = device;
    this.lab = lab;
    this.sim = sim;
    this.addresses = addresses;
    this.defaults = { profile: options.profile, initialRtoMs: options.initialRtoMs, synRetries: options.synRetries, failOnIcmp: options.failOnIcmp };
    let pcapSink: ((e: TraceEvent) => void) | undefined;
    if (options.pcap) {
      const writer = new PcapngWriter().open(options.pcap);
      this.pcap = writer;
      const wall0 = BigInt(Date.now()) * 1_000_000n;
      let t0: number | undefined;
      pcapSink = (e) => {
        if (!e.bytes) return;
        t0 ??= e.t;
        const comment = [e.decision, e.rule].filter(Boolean).join(" | ");
        writer.write(wall0 + BigInt(Math.round((e.t - t0) * 1e6)), e.bytes, comment || undefined, e.kind === "out" ? "out" : "in");
      };
    }
    const userTrace = options.trace;
    const trace = pcapSink && userTrace ? (e: TraceEvent) => (pcapSink!(e), userTrace(e)) : (pcapSink ?? userTrace);
    const parsed: LocalAddress[] = addresses.map((a) => {
      const [addr, len] = a.split("/");
      return { addr, prefix: len === undefined ? (addr.includes(":") ? 128 : 32) : Number(len) };
    });
    this.stack = new Stack({
      addresses: parsed,
      gateway4: gateways.find((g) => !g.includes(":")),
      gateway6: gateways.find((g) => g.includes(":")),
      mtu: device.mtu,
      profile: options.profile,
      random: options.random ?? cryptoRandom(),
      isnSecret: randomBytes(16),
      trace,
    });
    this.runtime = new Runtime(this.stack, device);
    this.provider = new WskProvider(this.stack, { now: this.runtime.clock, afterCall: () => this.runtime.kick(), profile: options.profile });
    // The device vanishing, or this network closing, completes every pending IRP (docs/node-api.md).
    this.provider.attachTo(this.runtime);
    this.client = new WskClient(this.provider);
  }

  /** True once close() has started. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Open (and opening) sockets of this network. */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** net.createConnection on this stack: a SynackSocket, connecting; errors come as 'error' events. */
  readonly createConnection: CreateConnection = (a: ConnectInput | number | string, b?: string | ConnectListener, c?: ConnectListener): SynackSocket => {
    const [opts, listener] = normalizeConnectArgs(a, b, c);
    const socket = new SynackSocket(this, opts);
    return socket.connect(opts, listener);
  };

  /** Alias of createConnection (as net.connect is of net.createConnection). */
  readonly connect: CreateConnection = this.createConnection;

  /** net.createServer on this stack: `listen()` opens WSK listening sockets; each connection is a SynackSocket (server.ts). */
  createServer(options?: SynackServerOptions | ((socket: SynackSocket) => void), connectionListener?: (socket: SynackSocket) => void): SynackServer {
    if (typeof options === "function") return new SynackServer(this, {}, options);
    return new SynackServer(this, options ?? {}, connectionListener);
  }

  /** @internal SocketHost */
  track(socket: SynackSocket): void {
    this.sockets.add(socket);
  }

  /** @internal SocketHost */
  untrack(socket: SynackSocket): void {
    this.sockets.delete(socket);
  }

  /**
   * Closes the network. Sockets still connecting fail with STATUS_CANCELLED (ECANCELED),
   * open connections are reset (RST) and their streams destroyed, every pending IRP of every
   * WSK socket completes exactly once (STATUS_CANCELLED, as WskCloseSocket completes them),
   * the last packets leave, the device closes (the lab namespace is deleted, the simulated
   * peer stops) and no timer or handle is left: the process can exit. Harmless to repeat.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.isClosed = true;
    for (const s of [...this.sockets]) {
      if (s.connecting) s.destroy(new SocketError(STATUS_CANCELLED, "connect", s.remoteAddress, s.remotePort));
      else s.destroy();
    }
    // Runtime.close runs the provider's shutdown (every other WSK socket closed, every IRP
    // completed), sends what that produced, then closes the device.
    await this.runtime.close();
    this.client.close();
    this.pcap?.close();
    await this.lab?.close();
    await this.sim?.close();
  }
}
