/// <reference path="../stack/wire/buffer-layout.d.ts" preserve="true" />
// The `synack` package's root entry: open a stack, connect with net.Socket-compatible
// streams, the errors. The layers have their own entries: synack/wsk, synack/engine,
// synack/device, synack/pcap, synack/replay, synack/conformance, synack/diagram,
// synack/lab (package.json "exports"; docs/node-api.md).
export { openStack, Network, type OpenStackOptions } from "./net/network.js";
export type { LabNetwork, NetworkLabOptions, NetworkSimOptions, SimNetwork } from "./net/peers.js";
export { SynackSocket, type ConnectInput, type ConnectListener, type CreateConnection, type SynackConnectOptions, type SynackConnectDefaults, type SynackSocketOptions, type SocketHost } from "./net/socket.js";
export { SynackServer, type SynackServerOptions, type SynackListenOptions } from "./net/server.js";
export { SocketError, SynackUsageError } from "./net/errors.js";
export { connect, WskConnection, WskClient, type ApiConnectOptions } from "./api.js";
export { NtStatusError, statusName, hexStatus, toErrno, type NtStatus } from "./wsk/ntstatus.js";
export type { ProfileName } from "../stack/tcp/profiles.js";
export type { TraceEvent } from "../stack/trace.js";
