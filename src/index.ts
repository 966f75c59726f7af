/// <reference path="../stack/wire/buffer-layout.d.ts" preserve="true" />
// The `synack` package's root entry: what most users need. The layers have their own
// entries: synack/wsk, synack/engine, synack/device, synack/pcap, synack/replay,
// synack/conformance, synack/diagram, synack/lab (package.json "exports").
export { connect, WskClient, type ApiConnectOptions } from "./api.js";
export { NtStatusError, statusName, hexStatus, toErrno, type NtStatus } from "./wsk/ntstatus.js";
export type { ProfileName } from "../stack/tcp/profiles.js";
