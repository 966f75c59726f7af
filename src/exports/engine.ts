/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/engine`: the pure, deterministic TCP engine (time and randomness passed in) and
// its wire formats. Nothing here does Node I/O, so all of it runs in virtual time.
export * from "../../stack/stack.js";
export { Connection, type ConnectionEvents, type ConnectionHost, type ConnectionInit, type OutSegment } from "../../stack/tcp/connection.js";
export * from "../../stack/tcp/profiles.js";
export * from "../../stack/tcp/outcome.js";
export * from "../../stack/tcp/state.js";
export * from "../../stack/trace.js";
export * from "../../stack/drops.js";
export * from "../../stack/random.js";
export * from "../../stack/wire/index.js";
