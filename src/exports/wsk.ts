/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/wsk`: the Winsock Kernel facade (IRPs, NTSTATUS, the provider and its dispatch
// tables, sockaddrs, WSK constants) and the promise API built on it. docs/wsk.md explains it.
export * from "../wsk/irp.js";
export * from "../wsk/ntstatus.js";
export * from "../wsk/constants.js";
export * from "../wsk/sockaddr.js";
export * from "../wsk/provider.js";
export * from "../api.js";
