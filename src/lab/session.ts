// One connect as a user runs it: a Stack on a device with real time, the WSK facade on
// top, the decision trace recorded, and a result with the NTSTATUS, the segments and
// whatever the server answered. Used by `synack connect` and `synack demo`.
import { randomBytes } from "node:crypto";
import { cryptoRandom } from "../../device/random.js";
import { Stack, type LocalAddress } from "../../stack/stack.js";
import type { TraceEvent } from "../../stack/trace.js";
import type { Outcome } from "../../stack/tcp/outcome.js";
import type { ProfileName } from "../../stack/tcp/profiles.js";
import { Runtime } from "../../device/runtime.js";
import type { Device } from "../../device/types.js";
import { PcapngWriter } from "../../device/pcap/write.js";
import { WskProvider, SYNACK_SO_PROFILE, type WSK_SOCKET } from "../wsk/provider.js";
import { WskClient } from "../wsk/client.js";
import { IoAllocateIrp, IoCancelIrp, irpToPromise, type Irp } from "../wsk/irp.js";
import { STATUS_CANCELLED, STATUS_PENDING, STATUS_SUCCESS, hexStatus, statusName, statusText, type NtStatus } from "../wsk/ntstatus.js";
import {
  SIO_TCP_INITIAL_RTO,
  SOL_SOCKET,
  TCP_FAIL_CONNECT_ON_ICMP_ERROR,
  TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS,
  TCP_INITIAL_RTO_UNSPECIFIED_RTT,
  WSK_FLAG_CONNECTION_SOCKET,
  WskIoctl,
  WskSetOption,
} from "../wsk/constants.js";
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, formatSockaddr, parseSockaddr, sockaddrFamily, sockaddrIn, sockaddrIn6, type SOCKADDR } from "../wsk/sockaddr.js";
import { segmentsFromTrace, type SegmentRecord } from "../cli/timeline.js";


export interface ConnectRun {
  device: Device;
  /** The stack's own addresses ("10.0.0.2/24"). */
  addresses: Array<string | LocalAddress>;
  /** Treat every destination as reachable through the device (TUN / raw links). */
  gateway4?: string;
  gateway6?: string;
  remote: string;
  /** Local address to bind (default: wildcard, chosen by route). */
  local?: string;
  profile: ProfileName;
  synRetries?: number;
  initialRtoMs?: number;
  failOnIcmp?: boolean;
  cancelAfterMs?: number;
  /** Data to send once connected; the answer is collected until `quietMs` of silence or FIN. */
  send?: string | Uint8Array;
  quietMs?: number;
  /** Write a pcapng of the connection, with the decision trace as packet comments. */
  pcap?: string;
  /** Called when the device fails. */
  onDeviceError?: (e: Error) => void;
}

export interface ConnectResult {
  status: string;
  ntstatus: string;
  statusValue: NtStatus;
  outcome: string;
  profile: ProfileName;
  local: string;
  remote: string;
  /** From WskConnect to the completion of its IRP, in ms. */
  elapsedMs: number;
  synsSent: number;
  segments: SegmentRecord[];
  /** What the peer sent (with --send), as text. */
  received?: string;
  receivedBytes?: number;
  /** After a successful connect: the WskSend (with --send), the reading, and the close. */
  send?: StepResult;
  receive?: StepResult;
  close?: StepResult;
  trace: TraceEvent[];
  /** Stack drop counters (for the curious: IPv6 chatter the stack ignored, ...). */
  drops: Record<string, number>;
}

function wsk<T = unknown>(call: (irp: Irp) => NtStatus, onIrp?: (irp: Irp) => void): Promise<{ status: NtStatus; information: T }> {
  const irp = IoAllocateIrp();
  const p = irpToPromise<T>(irp);
  onIrp?.(irp);
  call(irp);
  return p;
}

/**
 * The connect's outcome in one word for users (docs/cli.md), spelled as `replay` and
 * `diagram` spell theirs: the engine's outcome kind (docs/ntstatus.md), except that the
 * engine's `timedOut` is "timeout" and a cancelled connect's `closed` is "cancelled".
 */
function outcomeName(trace: readonly TraceEvent[], status: NtStatus): string {
  const ended = [...trace].reverse().find((e) => e.kind === "outcome" && e.outcome);
  if (status === STATUS_SUCCESS) return "established";
  const o: Outcome | undefined = ended?.outcome;
  if (o) return o.kind === "closed" ? "cancelled" : o.kind === "timedOut" ? "timeout" : o.kind;
  return statusName(status) === "STATUS_CANCELLED" ? "cancelled" : "failed";
}

export async function runConnect(r: ConnectRun): Promise<ConnectResult> {
  const trace: TraceEvent[] = [];
  const stack = new Stack({
    addresses: r.addresses,
    gateway4: r.gateway4,
    gateway6: r.gateway6,
    mtu: r.device.mtu,
    profile: r.profile,
    random: cryptoRandom(),
    isnSecret: randomBytes(16),
    trace: (e) => trace.push(e),
  });
  const runtime = new Runtime(stack, r.device, { onDeviceError: r.onDeviceError });
  const provider = new WskProvider(stack, { now: runtime.clock, afterCall: () => runtime.flush(), profile: r.profile });
  // The device going away completes every pending IRP (docs/decisions.md) instead of hanging.
  runtime.onDeviceError(() => provider.failAll());
  const client = new WskClient(provider);
  const npi = client.npi;
  const ra = parseSockaddr(r.remote);
  if (!ra.ok) throw new Error(`bad remote address "${r.remote}": ${ra.reason}`);
  const family = sockaddrFamily(ra.value);
  const t0 = runtime.now();
  let socket: WSK_SOCKET | undefined;
  let status: NtStatus;
  let ex: Exchange | undefined;
  let close: StepResult | undefined;
  let localText = "";
  let connectDoneAt: number | undefined;
  try {
    const s = await wsk<WSK_SOCKET>((irp) => npi.Dispatch.WskSocket(npi.Client, family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null, null, null, null, irp));
    if (s.status !== STATUS_SUCCESS) throw new Error(`WskSocket failed: ${statusName(s.status)}`);
    socket = s.information;
    const d = socket.Dispatch;
    const ctl = (type: number, code: number, level: number, input: unknown) => wsk((irp) => d.WskControlSocket(socket!, type as 0, code, level, 0, input, 0, null, null, irp));
    await ctl(WskSetOption, SYNACK_SO_PROFILE, SOL_SOCKET, r.profile);
    if (r.initialRtoMs !== undefined || r.synRetries !== undefined) {
      await ctl(WskIoctl, SIO_TCP_INITIAL_RTO, 0, {
        Rtt: r.initialRtoMs ?? TCP_INITIAL_RTO_UNSPECIFIED_RTT,
        MaxSynRetransmissions: r.synRetries === undefined ? TCP_INITIAL_RTO_UNSPECIFIED_MAX_SYN_RETRANSMISSIONS : r.synRetries === 0 ? TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS : r.synRetries,
      });
    }
    if (r.failOnIcmp) await ctl(WskSetOption, TCP_FAIL_CONNECT_ON_ICMP_ERROR, IPPROTO_TCP, 1);
    let local: SOCKADDR = family === AF_INET ? sockaddrIn("0.0.0.0", 0) : sockaddrIn6("::", 0);
    if (r.local) local = family === AF_INET ? sockaddrIn(r.local, 0) : sockaddrIn6(r.local, 0);
    const b = await wsk((irp) => d.WskBind(socket!, local, 0, irp));
    if (b.status !== STATUS_SUCCESS) {
      status = b.status;
    } else {
      let cancelTimer: NodeJS.Timeout | undefined;
      const c = await wsk(
        (irp) => d.WskConnect(socket!, ra.value, 0, irp),
        (irp) => {
          if (r.cancelAfterMs !== undefined) cancelTimer = setTimeout(() => IoCancelIrp(irp), r.cancelAfterMs);
        },
      );
      if (cancelTimer) clearTimeout(cancelTimer);
      status = c.status;
      connectDoneAt = runtime.now();
      const la: Record<string, unknown> = {};
      const q = await wsk((irp) => d.WskGetLocalAddress(socket!, la, irp));
      if (q.status === STATUS_SUCCESS) localText = formatSockaddr(la as unknown as SOCKADDR);
      if (status === STATUS_SUCCESS && r.send !== undefined) {
        ex = await exchange(socket, typeof r.send === "string" ? new TextEncoder().encode(r.send) : r.send, r.quietMs ?? 500);
        close = ex.close;
      }
      // WskCloseSocket on a connected socket is abortive (Microsoft Learn, WskCloseSocket): disconnect
      // gracefully first, as a well-behaved client does, so the peer sees a FIN, not a RST.
      else if (status === STATUS_SUCCESS) close = await gracefulDisconnect(socket, Math.max(r.quietMs ?? 500, ACK_WAIT_MS));
    }
  } finally {
    if (socket) {
      const sk = socket;
      await wsk((irp) => sk.Dispatch.WskCloseSocket(sk, irp));
    }
    // Let the last segments (RST/ACK of a close) leave before the device closes.
    runtime.flush();
    await new Promise((res) => setTimeout(res, 20));
    client.close();
    await runtime.close();
  }
  // After a failed connect the socket is bound to the wildcard again: name the address the
  // SYN actually left from.
  const firstOut = trace.find((e) => e.kind === "out" && e.tuple);
  if (firstOut?.tuple && (localText === "" || /^(0\.0\.0\.0|\[::\]):/.test(localText))) localText = firstOut.tuple.split(">")[0];
  const segments = segmentsFromTrace(trace, t0, localText ? Number(localText.slice(localText.lastIndexOf(":") + 1)) : undefined);
  if (r.pcap) writeCapture(r.pcap, trace);
  // How long the connect took: from WskConnect to the completion of its IRP.
  const elapsedMs = Math.round(((connectDoneAt ?? trace.filter((e) => e.kind !== "user").at(-1)?.t ?? t0) - t0) * 10) / 10;
  return {
    status: statusName(status),
    ntstatus: hexStatus(status),
    statusValue: status,
    outcome: outcomeName(trace, status),
    profile: r.profile,
    local: localText,
    remote: formatSockaddr(ra.value),
    elapsedMs,
    synsSent: segments.filter((s) => s.dir === "out" && s.flags === "S").length,
    segments,
    ...(ex ? { received: new TextDecoder().decode(ex.received), receivedBytes: ex.received.length, send: ex.send, receive: ex.receive } : {}),
    ...(close ? { close } : {}),
    trace,
    drops: { ...stack.stats.drops },
  };
}

/** How one WSK request after the connect ended (WskSend, the receives, WskDisconnect). */
export interface StepResult {
  status: string;
  ntstatus: string;
  /** What happened, in words ("27 bytes sent and acknowledged"). */
  detail: string;
  ok: boolean;
}

function step(status: NtStatus, detail: string, ok = status === STATUS_SUCCESS): StepResult {
  return { status: statusName(status), ntstatus: hexStatus(status), detail, ok };
}

interface Exchange {
  send: StepResult;
  receive: StepResult;
  close: StepResult;
  received: Uint8Array;
}

/** At least this long for the peer to acknowledge our data or our FIN. */
const ACK_WAIT_MS = 2000;

/**
 * Reads until the peer closes (FIN), resets, or stays quiet for `quietMs`; appends to
 * `chunks`. Returns how the reading ended.
 */
async function readUntilQuiet(socket: WSK_SOCKET, chunks: Uint8Array[], quietMs: number): Promise<{ end: "fin" | "quiet" | "error"; status: NtStatus }> {
  const d = socket.Dispatch;
  for (;;) {
    const buf = new Uint8Array(65536);
    let irpRef: Irp | undefined;
    const recv = wsk<number>((irp) => d.WskReceive(socket, { Mdl: buf, Offset: 0, Length: buf.length }, 0, irp), (irp) => (irpRef = irp));
    const timer = setTimeout(() => irpRef && IoCancelIrp(irpRef), quietMs);
    const r = await recv;
    clearTimeout(timer);
    if (r.status === STATUS_CANCELLED) return { end: "quiet", status: r.status };
    if (r.status !== STATUS_SUCCESS) return { end: "error", status: r.status };
    if (r.information === 0) return { end: "fin", status: r.status };
    chunks.push(buf.slice(0, r.information));
  }
}

/**
 * Sends `data`, reads the answer until the peer closes or stays quiet for `quietMs`, closes
 * gracefully (WskDisconnect: FIN after the data) and keeps reading what still arrives after
 * our FIN (a peer may answer only once it has seen the end of the request). Each of the
 * three requests reports its own NTSTATUS: a connect that succeeded says nothing about the
 * data or the close.
 */
async function exchange(socket: WSK_SOCKET, data: Uint8Array, quietMs: number): Promise<Exchange> {
  const d = socket.Dispatch;
  let sendDone: { status: NtStatus; information: unknown } | undefined;
  const sent = wsk((irp) => d.WskSend(socket, { Mdl: data, Offset: 0, Length: data.length }, 0, irp)).then((r) => (sendDone = r));
  const chunks: Uint8Array[] = [];
  let read = await readUntilQuiet(socket, chunks, quietMs);
  if (!sendDone) await Promise.race([sent, sleep(Math.max(quietMs, ACK_WAIT_MS))]);
  const bytes = `${data.length} byte${data.length === 1 ? "" : "s"}`;
  let close: StepResult;
  if (read.end === "error") {
    close = step(read.status, `not attempted: the connection had already ended (${statusName(read.status)})`, false);
  } else {
    close = await gracefulDisconnect(socket, Math.max(quietMs, ACK_WAIT_MS));
    // Whatever the peer sends after our FIN is still ours to read (RFC 9293 §3.10.4:
    // after CLOSE the receive side stays open until the peer's FIN).
    if (read.end === "quiet") {
      const after = await readUntilQuiet(socket, chunks, quietMs);
      if (after.end !== "quiet" || chunks.length > 0) read = after;
    }
  }
  if (!sendDone) await Promise.race([sent, sleep(0)]);
  const send = !sendDone
    ? step(STATUS_PENDING, `${bytes} sent, not acknowledged by the peer`, false)
    : sendDone.status === STATUS_SUCCESS
      ? step(sendDone.status, `${bytes} sent and acknowledged`)
      : step(sendDone.status, `${bytes}: ${sendStatusText(sendDone.status)}`);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const n = `${total} byte${total === 1 ? "" : "s"}`;
  const receive =
    read.end === "fin"
      ? step(STATUS_SUCCESS, `${n}, then the peer's FIN`)
      : read.end === "quiet"
        ? step(STATUS_SUCCESS, `${n}; the peer sent nothing more for ${quietMs} ms and did not close`)
        : step(read.status, `${n}, then ${statusName(read.status)}: ${statusText(read.status, "receive")}`, false);
  return { send, receive, close, received: all };
}

function sendStatusText(status: NtStatus): string {
  return statusText(status, "send");
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/** WskDisconnect (FIN after pending data); gives up waiting for its ACK after `waitMs`. */
async function gracefulDisconnect(socket: WSK_SOCKET, waitMs: number): Promise<StepResult> {
  let discIrp: Irp | undefined;
  const disc = wsk((irp) => socket.Dispatch.WskDisconnect(socket, null, 0, irp), (irp) => (discIrp = irp));
  const t = setTimeout(() => discIrp && IoCancelIrp(discIrp), waitMs);
  const r = await disc;
  clearTimeout(t);
  if (r.status === STATUS_SUCCESS) return step(r.status, "FIN sent and acknowledged (WskDisconnect)");
  if (r.status === STATUS_CANCELLED) return step(r.status, `FIN sent, not acknowledged within ${waitMs} ms (WskDisconnect cancelled)`, false);
  return step(r.status, `WskDisconnect failed: ${statusText(r.status, "disconnect")}`, false);
}

/** pcapng of every packet the stack saw or sent, each with its decision as a comment. */
export function writeCapture(path: string, trace: readonly TraceEvent[]): void {
  const w = new PcapngWriter();
  const wall0 = BigInt(Date.now()) * 1_000_000n;
  const t0 = trace[0]?.t ?? 0;
  for (const e of trace) {
    if (!e.bytes) continue;
    const ns = wall0 + BigInt(Math.round((e.t - t0) * 1e6));
    const comment = [e.decision, e.rule].filter(Boolean).join(" | ");
    w.write(ns, e.bytes, comment || undefined, e.kind === "out" ? "out" : "in");
  }
  w.open(path);
  w.close();
}
