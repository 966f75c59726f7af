/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/lab`: a throwaway network namespace with a TUN and the kernel as the peer (root),
// and the in-process simulated peer (no root).
export { Lab, startKernelEcho, removeStaleLabs, type LabOptions } from "../lab/lab.js";
export { SimPeer, SimDevice, simulatedNetwork, type SimPeerConfig, type SimUnreachable } from "../lab/simpeer.js";
export { runConnect, type ConnectRun, type ConnectResult } from "../lab/session.js";
