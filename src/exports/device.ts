/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/device`: what connects a Stack to packets and to real time: the Runtime, the TUN
// device (native addon, loaded on first open), the raw IP socket device (optional
// `raw-socket` package, loaded on first open), the in-memory link for virtual-time tests,
// impairments, capture taps and network-namespace helpers.
export type { Device, DeviceStats } from "../../device/types.js";
export { Runtime, type RuntimeOptions } from "../../device/runtime.js";
export * from "../../device/tun/index.js";
export * from "../../device/raw.js";
export * from "../../device/memory.js";
export * from "../../device/impair.js";
export * from "../../device/tap.js";
export { borrowDevice } from "../../device/borrow.js";
export { cryptoRandom } from "../../device/random.js";
export * from "../../device/netns.js";
