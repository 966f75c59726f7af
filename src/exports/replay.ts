/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/replay`: replays the TCP active opens of a capture against the engine in virtual
// time and compares them with what the recorded client did (docs/replay.md).
export * from "../replay/extract.js";
export * from "../replay/replay.js";
export * from "../replay/infer.js";
export { runReplay, replayJson, type ReplayRun, type ReplayRunOptions } from "../replay/cli.js";
