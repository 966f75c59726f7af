/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/conformance`: the packetdrill runner (scripts run through the WSK facade in
// virtual time; docs/conformance-runner.md).
export * from "../conformance/runner.js";
export { parseScript } from "../conformance/parse.js";
