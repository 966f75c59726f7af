/// <reference path="../../stack/wire/buffer-layout.d.ts" preserve="true" />
// `synack/diagram`: ladder diagrams (SVG or HTML) of replayed connections.
export * from "../diagram/ladder.js";
