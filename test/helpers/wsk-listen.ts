// Listening and stream sockets for WSK tests (on top of WskTest).
import type { WskTest, TrackedIrp } from "./wsk.js";
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, sockaddrIn, sockaddrIn6, type SOCKADDR } from "../../src/wsk/sockaddr.js";
import { SOL_SOCKET, SO_WSK_EVENT_CALLBACK, WSK_FLAG_LISTEN_SOCKET, WSK_FLAG_STREAM_SOCKET, WskSetOption } from "../../src/wsk/constants.js";
import { STATUS_SUCCESS, type NtStatus } from "../../src/wsk/ntstatus.js";
import type { WSK_SOCKET } from "../../src/wsk/provider.js";
import type { WSK_CLIENT_LISTEN_DISPATCH, WSK_CLIENT_STREAM_DISPATCH, WSK_PROVIDER_LISTEN_DISPATCH, WSK_PROVIDER_STREAM_DISPATCH } from "../../src/wsk/provider.js";
import type { WSK_CLIENT_CONNECTION_DISPATCH } from "../../src/wsk/provider.js";

export const listenTable = (s: WSK_SOCKET) => s.Dispatch as unknown as WSK_PROVIDER_LISTEN_DISPATCH;
export const streamTable = (s: WSK_SOCKET) => s.Dispatch as unknown as WSK_PROVIDER_STREAM_DISPATCH;

function create(w: WskTest, flags: number, family: number, dispatch: unknown, context: unknown): WSK_SOCKET {
  const t = w.call((irp) => w.npi.Dispatch.WskSocket(w.npi.Client, family, SOCK_STREAM, IPPROTO_TCP, flags, context, dispatch as WSK_CLIENT_CONNECTION_DISPATCH, null, null, null, irp));
  if (t.returned !== STATUS_SUCCESS) throw new Error(`WskSocket returned ${t.returned}`);
  return t.completions[0].information as WSK_SOCKET;
}

export function listenSocket(w: WskTest, o: { family?: number; dispatch?: WSK_CLIENT_LISTEN_DISPATCH; context?: unknown } = {}): WSK_SOCKET {
  return create(w, WSK_FLAG_LISTEN_SOCKET, o.family ?? AF_INET, o.dispatch, o.context ?? "listen-ctx");
}

export function streamSocket(w: WskTest, o: { family?: number; dispatch?: WSK_CLIENT_STREAM_DISPATCH; context?: unknown } = {}): WSK_SOCKET {
  return create(w, WSK_FLAG_STREAM_SOCKET, o.family ?? AF_INET, o.dispatch, o.context ?? "stream-ctx");
}

/** A listening socket bound (and so listening) on `port`. */
export function listening(w: WskTest, port: number, o: { family?: number; dispatch?: WSK_CLIENT_LISTEN_DISPATCH; context?: unknown; addr?: string } = {}): WSK_SOCKET {
  const s = listenSocket(w, o);
  const v6 = (o.family ?? AF_INET) !== AF_INET;
  const b = w.bind(s, v6 ? sockaddrIn6(o.addr ?? "::", port) : sockaddrIn(o.addr ?? "0.0.0.0", port));
  if (b.returned !== STATUS_SUCCESS) throw new Error(`WskBind returned 0x${b.returned?.toString(16)}`);
  return s;
}

export interface AcceptCall extends TrackedIrp {
  local: Partial<SOCKADDR> & Record<string, unknown>;
  remote: Partial<SOCKADDR> & Record<string, unknown>;
}

export function accept(w: WskTest, s: WSK_SOCKET, o: { context?: unknown; dispatch?: WSK_CLIENT_CONNECTION_DISPATCH; flags?: number } = {}): AcceptCall {
  const local: Record<string, unknown> = {};
  const remote: Record<string, unknown> = {};
  const t = w.call((irp) => listenTable(s).WskAccept(s, o.flags ?? 0, o.context, o.dispatch, local, remote, irp));
  return Object.assign(t, { local, remote });
}

export function enableEvents(w: WskTest, s: WSK_SOCKET, mask: number): NtStatus {
  return w.call((irp) => s.Dispatch.WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, 0, { EventMask: mask }, 0, null, null, irp)).returned!;
}
